"""Review holds (issue 13): a course a named rule flags is held out of the issue, shown
apart, and owed in the first issue after the region releases it, never twice; a correction
is judged again. Through HTTP on both databases, with holds on (as by default); the clock
stands early in April 2024, so the courses of March are registered on time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from service.kit.settings import Settings
from tests.support.api import Api, MakeApi
from tests.support.config import settings_for
from tests.support.factories import CPR_A, CPR_B, at, issue, make_course, visit


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, tmp_path, review_holds=True)


@pytest.fixture
async def parties(app: FastAPI, api: MakeApi) -> tuple[Api, Api, Api]:
    at(app, "2024-04-02T10:00:00+02:00")
    return await api("hospital", "HGH"), await api("municipality", "157"), await api("region")


def code_of(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["code"])


def lines_of(statement: dict[str, Any], course: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [
        (line["period"], line["amount"], line["adjustment"])
        for line in statement["lines"]
        if line["course_id"] == course["id"]
    ]


async def statement(who: Api, period: str) -> dict[str, Any]:
    r = await who.get(f"/api/v1/settlements/{period}/statements/157")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_a_held_course_is_left_out_and_owed_once_after_its_release(
    app: FastAPI, parties: tuple[Api, Api, Api], api: MakeApi
) -> None:
    hospital, gentofte, region = parties
    # Completed with no dose given: held. The other course (a dose on each day) is not.
    held = await make_course(
        hospital,
        gentofte,
        start_date="2024-03-01",
        treatment_type="fluids",
        patient_cpr=CPR_A,
        expected_start_date="2024-03-01",
    )
    r = await gentofte.post(
        f"/api/v1/courses/{held['id']}/complete",
        json={"end_date": "2024-03-05", "reason": "completed"},
    )
    assert r.status_code == 200, r.text
    given = await make_course(hospital, gentofte, start_date="2024-03-26", patient_cpr=CPR_B)
    for day in ("26", "27", "28"):
        r = await gentofte.post(
            f"/api/v1/courses/{given['id']}/visits", json=visit(f"2024-03-{day}T09:00:00+01:00")
        )
        assert r.status_code == 201, r.text

    summary = (await region.get("/api/v1/settlements/2024-03")).json()
    assert [(h["course_id"], [r["rule"] for r in h["rules"]]) for h in summary["holds"]] == [
        (held["id"], ["completed_without_dose"])
    ]
    assert (
        "uden at der er registreret en givet dosis"
        in summary["holds"][0]["rules"][0]["explanation"]
    )
    mine = await gentofte.get("/api/v1/settlements/2024-03/holds")
    assert [h["course_id"] for h in mine.json()] == [held["id"]]
    copenhagen = await api("municipality", "101")
    assert (await copenhagen.get("/api/v1/settlements/2024-03/holds")).json() == []
    march = await statement(gentofte, "2024-03")
    assert lines_of(march, held) == [] and lines_of(march, given)  # holds block no one else

    await issue(region, "2024-03")
    assert lines_of(await statement(gentofte, "2024-03"), held) == []
    april = (await region.get("/api/v1/settlements/2024-04")).json()
    assert [h["course_id"] for h in april["holds"]] == [held["id"]]  # still held

    # Only the region releases, with a note; then April owes March's course fee, once.
    note = {"note": "Doser givet på hospitalet; kommunen har bekræftet"}
    r = await gentofte.post(f"/api/v1/courses/{held['id']}/hold-release", json=note)
    assert r.status_code == 403
    released = await region.post(f"/api/v1/courses/{held['id']}/hold-release", json=note)
    assert released.status_code == 200, released.text
    assert released.json()["rules"] == ["completed_without_dose"]
    again = await region.post(f"/api/v1/courses/{held['id']}/hold-release", json=note)
    assert again.status_code == 409 and code_of(again) == "course_not_held"
    assert (await region.get("/api/v1/settlements/2024-04")).json()["holds"] == []
    at(app, "2024-05-02T10:00:00+02:00")
    await issue(region, "2024-04")
    # March's course fee and day fees (fluids), as adjustments for March, in April.
    assert sorted(lines_of(await statement(gentofte, "2024-04"), held)) == [
        ("2024-03", "1343.00", True),
        ("2024-03", "682.00", True),
    ]
    at(app, "2024-06-02T10:00:00+02:00")
    await issue(region, "2024-05")
    assert lines_of(await statement(gentofte, "2024-05"), held) == []


async def test_a_correction_is_judged_again(parties: tuple[Api, Api, Api]) -> None:
    hospital, gentofte, region = parties
    course = await make_course(
        hospital, gentofte, start_date="2024-03-10", patient_cpr=CPR_A,
        expected_start_date="2024-03-10",
    )  # fmt: skip
    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/visits", json=visit("2024-03-10T09:00:00+01:00")
    )
    assert r.status_code == 201, r.text
    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/complete",
        json={"end_date": "2024-03-13", "reason": "completed"},
    )
    assert r.status_code == 200, r.text
    holds = (await region.get("/api/v1/settlements/2024-03")).json()["holds"]
    assert [[r["rule"] for r in h["rules"]] for h in holds] == [["end_after_last_dose"]]
    assert holds[0]["course_number"] == course["number"]
    # An approval records what it saw held; after the correction the draft is another one.
    approved = await region.post("/api/v1/settlements/2024-03/approval")
    assert approved.status_code == 201, approved.text
    assert approved.json()["held"] == [
        {"course_id": course["id"], "rules": ["end_after_last_dose"]}
    ]
    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/corrections",
        json={"end_date": "2024-03-12", "reason": "sidste dosis 10. marts, slut 12. marts"},
    )
    assert r.status_code == 200, r.text
    summary = (await region.get("/api/v1/settlements/2024-03")).json()
    assert summary["holds"] == [] and summary["approval"]["matches_draft"] is False
    assert lines_of(await statement(gentofte, "2024-03"), course)


@pytest.mark.parametrize(("start", "held"), [("2024-03-14", False), ("2024-03-13", True)])
async def test_a_start_far_from_the_expected_one_is_held_beyond_14_days(
    parties: tuple[Api, Api, Api], start: str, held: bool
) -> None:
    """The referral expects 2024-03-28; 14 days before is within the rule, 15 is not."""
    hospital, gentofte, region = parties
    await make_course(hospital, gentofte, start_date=start, patient_cpr=CPR_A)
    holds = (await region.get("/api/v1/settlements/2024-03")).json()["holds"]
    fired = [r["rule"] for h in holds for r in h["rules"]]
    assert ("far_from_expected_start" in fired) is held, fired


async def test_the_region_releases_a_hold_on_the_period_page(
    app: FastAPI, parties: tuple[Api, Api, Api]
) -> None:
    hospital, gentofte, region = parties
    course = await make_course(
        hospital, gentofte, start_date="2024-03-20", patient_cpr=CPR_A,
        expected_start_date="2024-03-20",
    )  # fmt: skip
    r = await gentofte.post(
        f"/api/v1/courses/{course['id']}/complete",
        json={"end_date": "2024-03-22", "reason": "completed"},
    )
    assert r.status_code == 200, r.text
    key = str(region.client.headers["Authorization"]).removeprefix("Bearer ")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ivsettle.test") as web:
        assert (await web.post("/log-ind", data={"api_key": key})).status_code == 303
        page = await web.get("/perioder/2024-03")
        assert "Til kontrol (1 forløb)" in page.text and course["id"] in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        form = {"csrf": token[1], "course_id": course["id"], "note": "Doser givet"}
        r = await web.post("/perioder/2024-03/frigiv", data=form)
        assert r.status_code == 303 and r.headers["location"] == "/perioder/2024-03?frigivet=ja"
        page = await web.get(r.headers["location"])
        assert "Forløbet er frigivet" in page.text and "Til kontrol" not in page.text
        again = await web.post("/perioder/2024-03/frigiv", data=form)
        assert again.status_code == 409 and "blev ikke frigivet" in again.text
