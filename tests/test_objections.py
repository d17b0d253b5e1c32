"""Objections (indsigelser, issue 13): a municipality objects to a billed line or a course;
the region answers; an accepted objection's fix (a correction) lands once, as an
adjustment, in the next statement, and the issued statement never changes. Through HTTP
on both databases; the clock stands at 2024-06-15."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.support.api import Api, MakeApi
from tests.support.factories import CPR_A, completed_course, issue, make_course

OBJECTIONS = "/api/v1/objections"


def code_of(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["code"])


@pytest.fixture
async def billed(api: MakeApi) -> tuple[Api, Api, Api, dict[str, str]]:
    """The README's example: Gentofte's course 28 March to 5 April 2024, March (course fee)
    and April (day fees 3 × 1,485.00) issued."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    region = await api("region")
    course = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )
    await issue(region, "2024-03")
    await issue(region, "2024-04")
    return hospital, gentofte, region, course


def _objection(course: dict[str, str], **extra: str) -> dict[str, str]:
    return {
        "course_id": course["id"],
        "period": "2024-04",
        "line_kind": "day_fee",
        "line_period": "2024-04",
        "reason": "dates_wrong",
        "text": "Behandlingen sluttede 3. april ifølge vores journal",
        **extra,
    }


async def test_an_accepted_objection_is_fixed_once_in_the_next_statement(
    billed: tuple[Api, Api, Api, dict[str, str]], api: MakeApi
) -> None:
    _, gentofte, region, course = billed
    april = (await gentofte.get("/api/v1/settlements/2024-04/statements/157")).json()
    raised = await gentofte.post(OBJECTIONS, json=_objection(course))
    assert raised.status_code == 201, raised.text
    objection = raised.json()
    assert objection["status"] == "open" and objection["municipality_code"] == "157"
    again = await gentofte.post(OBJECTIONS, json=_objection(course))  # a retry
    assert again.status_code == 200 and again.json()["id"] == objection["id"]

    # The region sees it open, per period, and in the period's summary.
    listed = await region.get(OBJECTIONS, params={"period": "2024-04", "status": "open"})
    assert [o["id"] for o in listed.json()] == [objection["id"]]
    assert (await region.get("/api/v1/settlements/2024-04")).json()["open_objections"] == 1
    # Another municipality sees nothing of it.
    copenhagen = await api("municipality", "101")
    assert (await copenhagen.get(f"{OBJECTIONS}/{objection['id']}")).status_code == 404
    assert (await copenhagen.get(OBJECTIONS)).json() == []

    answer = {"decision": "accepted", "note": "Enig: slutdato rettes til 3. april"}
    answered = await region.post(f"{OBJECTIONS}/{objection['id']}/answer", json=answer)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "accepted" and answered.json()["answered_at"]
    retry = await region.post(f"{OBJECTIONS}/{objection['id']}/answer", json=answer)
    assert retry.status_code == 200
    other = await region.post(
        f"{OBJECTIONS}/{objection['id']}/answer", json={"decision": "rejected", "note": "nej"}
    )
    assert other.status_code == 409 and code_of(other) == "objection_already_answered"
    assert other.json()["objection_status"] == "accepted"
    assert (await region.get("/api/v1/settlements/2024-04")).json()["open_objections"] == 0

    # The fix is a correction; May settles it as an adjustment for April, once.
    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/corrections",
        json={"end_date": "2024-04-03", "reason": "indsigelse imødekommet"},
    )
    assert r.status_code == 200, r.text
    may = await issue(region, "2024-05")
    assert may["state"] == "issued"
    may_157 = (await gentofte.get("/api/v1/settlements/2024-05/statements/157")).json()
    fixes = [line for line in may_157["lines"] if line["course_id"] == course["id"]]
    assert [(f["period"], f["amount"], f["reason"]) for f in fixes] == [
        ("2024-04", "-2970.00", "correction")
    ]
    june = (await gentofte.get("/api/v1/settlements/2024-06/statements/157")).json()
    assert [line for line in june["lines"] if line["course_id"] == course["id"]] == []
    # April as issued never changed.
    assert (await gentofte.get("/api/v1/settlements/2024-04/statements/157")).json() == april


async def test_what_an_objection_may_name(
    billed: tuple[Api, Api, Api, dict[str, str]], api: MakeApi
) -> None:
    hospital, gentofte, region, course = billed
    for wrong in (
        {"period": "2024-05"},  # not issued
        {"line_kind": "course_fee"},  # April has no course fee of it
        {"line_period": "2024-03"},
    ):
        r = await gentofte.post(OBJECTIONS, json=_objection(course, **wrong))
        assert r.status_code == 422 and code_of(r) == "line_not_on_statement", wrong
    r = await gentofte.post(
        OBJECTIONS, json={"course_id": course["id"], "line_kind": "day_fee", "reason": "other",
                          "text": "x"},
    )  # fmt: skip
    assert r.status_code == 422 and code_of(r) == "line_not_on_statement"
    # A CPR number typed into the text is refused, naming the field, not the value.
    r = await gentofte.post(OBJECTIONS, json=_objection(course, text="borger 0101501234"))
    assert r.status_code == 422 and "0101501234" not in r.text
    assert r.json()["violations"][0]["field"] == "body.text"

    # The course itself (no period): any of its own courses; another's is not found.
    whole = await gentofte.post(
        OBJECTIONS, json={"course_id": course["id"], "reason": "duplicate", "text": "dublet"}
    )
    assert whole.status_code == 201 and whole.json()["period"] is None
    theirs = await make_course(hospital, await api("municipality", "101"))
    r = await gentofte.post(
        OBJECTIONS, json={"course_id": theirs["id"], "reason": "other", "text": "x"}
    )
    assert r.status_code == 404 and code_of(r) == "course_not_found"
    assert (await hospital.post(OBJECTIONS, json=_objection(course))).status_code == 403
    answer = {"decision": "rejected", "note": "nej"}
    r = await gentofte.post(f"{OBJECTIONS}/{whole.json()['id']}/answer", json=answer)
    assert r.status_code == 403
    rejected = await region.post(f"{OBJECTIONS}/{whole.json()['id']}/answer", json=answer)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


async def test_the_statement_page_lists_its_objections(
    app: FastAPI, billed: tuple[Api, Api, Api, dict[str, str]]
) -> None:
    _, gentofte, region, course = billed
    raised = await gentofte.post(OBJECTIONS, json=_objection(course))
    await region.post(
        f"{OBJECTIONS}/{raised.json()['id']}/answer",
        json={"decision": "rejected", "note": "Journalen viser besøg 5. april"},
    )
    for who in (gentofte, region):
        key = str(who.client.headers["Authorization"]).removeprefix("Bearer ")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ivsettle.test") as web:
            assert (await web.post("/log-ind", data={"api_key": key})).status_code == 303
            page = await web.get("/perioder/2024-04/kommuner/157")
            assert page.status_code == 200
            assert "Behandlingen sluttede 3. april" in page.text
            assert "Afvist" in page.text and "Journalen viser besøg 5. april" in page.text
    march = (await region.get("/api/v1/settlements/2024-03")).json()
    assert march["open_objections"] == 0
