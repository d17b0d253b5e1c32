"""Course rules that close holes found by an attack (issue 12): hard date bounds (item 2),
the active-course conflict that told any hospital another hospital's patient was in
treatment (item 4), and a change of municipality that the receiving municipality must
accept (item 11). Through HTTP, on both databases; the clock is pinned at 2024-06-15 10:00
local (Europe/Copenhagen)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from service.models import AuditEvent
from tests.support.api import Api, MakeApi
from tests.support.factories import (
    CPR_A,
    completed_course,
    issue,
    make_course,
    make_referral,
    referral_payload,
)

COURSES = "/api/v1/courses"
TRANSFERS = "/api/v1/transfers"


def code_of(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return str(r.json()["code"])


async def audit_rows(app: FastAPI, action: str) -> list[AuditEvent]:
    async with app.state.sessionmaker() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list((await session.scalars(stmt)).all())


# --- item 2: no start date past today plus the margin, none before the agreement --------


@pytest.mark.parametrize("start", ["9999-12-31", "2100-01-01", "2024-06-23"])
async def test_accept_refuses_a_start_date_past_today_plus_the_margin(
    api: MakeApi, start: str
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    referral = await make_referral(hospital)
    r = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/accept", json={"start_date": start, "setting": "home"}
    )
    assert r.status_code == 422, r.text
    assert code_of(r) == "start_date_in_future"
    body = r.json()
    assert body["latest_date"] == "2024-06-22"  # 2024-06-15 + 7 days (the default margin)
    assert [(v["code"], v["field"]) for v in body["violations"]] == [
        ("start_date_in_future", "start_date")
    ]
    assert "2024-06-22" in body["violations"][0]["message"]
    r = await hospital.get(f"/api/v1/referrals/{referral['id']}")
    assert r.json()["status"] == "pending"  # nothing was stored


async def test_accept_takes_a_start_date_up_to_the_margin_and_not_before_the_agreement(
    api: MakeApi,
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    course = await make_course(hospital, gentofte, start_date="2024-06-22")  # today + 7
    assert course["start_date"] == "2024-06-22"
    referral = await make_referral(hospital, patient_cpr="0202024000")
    r = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/accept",
        json={"start_date": "2021-10-03", "setting": "home"},  # the day before the agreement
    )
    assert r.status_code == 422, r.text
    assert code_of(r) == "before_agreement"


async def test_the_margin_is_configurable(app: FastAPI, api: MakeApi) -> None:
    app.state.settings.future_date_margin_days = 0
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    referral = await make_referral(hospital)
    r = await gentofte.post(
        f"/api/v1/referrals/{referral['id']}/accept",
        json={"start_date": "2024-06-16", "setting": "home"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["latest_date"] == "2024-06-15"
    await make_course(hospital, gentofte, start_date="2024-06-15", patient_cpr="0202024000")


async def test_correction_refuses_a_start_date_past_today_plus_the_margin(api: MakeApi) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    for start in ("9999-12-31", "2100-01-01", "2024-06-23"):
        r = await gentofte.post(
            f"{COURSES}/{course['id']}/corrections",
            json={"start_date": start, "reason": "forkert dato"},
        )
        assert r.status_code == 422, r.text
        assert code_of(r) == "start_date_in_future"
        assert r.json()["violations"][0]["field"] == "start_date"
    r = await gentofte.get(f"{COURSES}/{course['id']}")
    assert r.json()["start_date"] == "2024-03-28"
    assert r.json()["corrections"] == []


async def test_end_dates_stay_bounded_by_today(api: MakeApi) -> None:
    """Completion and correction keep their stricter rule: an end date is never in the future."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    url = f"{COURSES}/{course['id']}"
    r = await gentofte.post(
        f"{url}/complete", json={"end_date": "2100-01-01", "reason": "completed"}
    )
    assert (r.status_code, code_of(r)) == (422, "end_date_in_future")
    r = await gentofte.post(
        f"{url}/complete", json={"end_date": "2024-04-05", "reason": "completed"}
    )
    assert r.status_code == 200, r.text
    r = await gentofte.post(f"{url}/corrections", json={"end_date": "9999-12-31", "reason": "x"})
    assert (r.status_code, code_of(r)) == (422, "end_date_in_future")


@pytest.mark.parametrize("period", ["2024-07", "2025-01", "9999-12"])
async def test_no_draft_of_a_period_that_has_not_begun(api: MakeApi, period: str) -> None:
    """A draft of a period months ahead billed the active courses through it (the demo's
    9999-12 showed 7,304 kr.): from now on there is none before the period's first day less
    the start-date margin (2024-06-24 for July, with the clock at 2024-06-15)."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    region = await api("region")
    await make_course(hospital, gentofte, start_date="2024-06-01")  # active: it would bill
    for who, path in (
        (region, f"/api/v1/settlements/{period}"),
        (region, f"/api/v1/settlements/{period}.xlsx"),
        (gentofte, f"/api/v1/settlements/{period}/statements/157"),
        (gentofte, f"/api/v1/settlements/{period}/statements/157.pdf"),
    ):
        r = await who.get(path)
        assert r.status_code == 409, (path, r.text)
        assert code_of(r) == "period_not_begun"
    detail = (await region.get(f"/api/v1/settlements/{period}")).json()["detail"]
    if period == "2024-07":
        assert detail == "2024-07 has not begun: its draft can be seen from 2024-06-24"
    assert (await gentofte.get("/api/v1/settlements/2024-06/statements/157")).status_code == 200


# --- item 4: the active-course conflict reveals nothing to another hospital, and is audited


async def test_another_hospital_is_not_told_which_course_and_the_answer_is_audited(
    app: FastAPI, api: MakeApi
) -> None:
    hgh, rh = await api("hospital", "HGH"), await api("hospital", "RH")
    gentofte = await api("municipality", "157")
    course = await make_course(hgh, gentofte, patient_cpr=CPR_A)

    r = await rh.post("/api/v1/referrals", json=referral_payload(hospital_code="RH"))
    assert r.status_code == 409, r.text
    assert code_of(r) == "active_course_exists"
    body = r.json()
    assert "course_id" not in body and "course" not in body
    assert course["id"] not in r.text

    rows = await audit_rows(app, "course.conflict")
    assert len(rows) == 1
    (row,) = rows
    assert (row.object_type, row.object_id, row.org_code) == ("course", course["id"], "RH")
    assert str(row.patient_id) == course["patient_id"]
    assert row.detail == {"code": "active_course_exists", "course_shown": False}


async def test_the_hospital_that_referred_sees_its_course_and_that_is_audited(
    app: FastAPI, api: MakeApi
) -> None:
    hgh, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    course = await make_course(hgh, gentofte, patient_cpr=CPR_A)
    r = await hgh.post("/api/v1/referrals", json=referral_payload())
    assert r.status_code == 409, r.text
    assert r.json()["course_id"] == course["id"]
    assert r.json()["course"] == f"/api/v1/courses/{course['id']}"
    (row,) = await audit_rows(app, "course.conflict")
    assert (row.org_code, row.detail["course_shown"]) == ("HGH", True)
    assert str(row.patient_id) == course["patient_id"]


# --- item 11: a change of municipality waits for the receiving municipality --------------


async def propose(
    sender: Api, course_id: str, to: str = "101", reason: str = "flyttet"
) -> httpx.Response:
    return await sender.post(
        f"{COURSES}/{course_id}/transfers", json={"municipality_code": to, "reason": reason}
    )


async def parties(api: MakeApi) -> tuple[Api, Api, Api, Api]:
    return (
        await api("hospital", "HGH"),
        await api("municipality", "157"),
        await api("municipality", "101"),
        await api("region"),
    )


async def test_a_correction_no_longer_moves_a_course(api: MakeApi) -> None:
    hospital, gentofte, kbh, _ = await parties(api)
    course = await make_course(hospital, gentofte)
    r = await gentofte.post(
        f"{COURSES}/{course['id']}/corrections",
        json={"municipality_code": "101", "reason": "flyttet"},
    )
    assert r.status_code == 422, r.text
    assert code_of(r) == "transfer_required"
    assert r.json()["violations"][0]["field"] == "municipality_code"
    assert (await kbh.get(f"{COURSES}/{course['id']}")).status_code == 404
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["municipality_code"] == "157"


async def test_a_proposed_transfer_takes_effect_only_when_accepted(
    app: FastAPI, api: MakeApi
) -> None:
    hospital, gentofte, kbh, region = await parties(api)
    course = await make_course(hospital, gentofte, patient_cpr=CPR_A)
    url = f"{COURSES}/{course['id']}"

    r = await propose(gentofte, course["id"])
    assert r.status_code == 201, r.text
    transfer = r.json()
    assert transfer["status"] == "proposed"
    assert (transfer["from_municipality_code"], transfer["to_municipality_code"]) == ("157", "101")
    assert (await propose(gentofte, course["id"])).status_code == 200  # a retry
    r = await propose(gentofte, course["id"], reason="en anden grund")
    assert (r.status_code, code_of(r)) == (409, "transfer_pending")
    assert r.json()["transfer_id"] == transfer["id"]

    # Until accepted: the course and its patient stay with the sending municipality.
    assert (await kbh.get(url)).status_code == 404
    assert course["id"] not in {c["id"] for c in (await kbh.get(COURSES)).json()}
    assert (await gentofte.get(url)).json()["municipality_code"] == "157"
    r = await kbh.get(TRANSFERS, params={"status": "proposed"})
    assert [t["id"] for t in r.json()] == [transfer["id"]]
    assert CPR_A not in r.text and "patient_cpr" not in r.json()[0]
    assert r.json()[0]["treatment_type"] == "antibiotics"

    # Only the receiving municipality answers; only the sending one withdraws.
    r = await gentofte.post(f"{TRANSFERS}/{transfer['id']}/accept")
    assert (r.status_code, code_of(r)) == (403, "not_receiving_municipality")
    r = await kbh.post(f"{TRANSFERS}/{transfer['id']}/withdraw")
    assert (r.status_code, code_of(r)) == (403, "not_sending_municipality")
    other = await api("municipality", "147")
    r = await other.post(f"{TRANSFERS}/{transfer['id']}/accept")
    assert (r.status_code, code_of(r)) == (404, "transfer_not_found")
    assert (await other.get(TRANSFERS)).json() == []

    r = await kbh.post(f"{TRANSFERS}/{transfer['id']}/accept")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    assert (await kbh.post(f"{TRANSFERS}/{transfer['id']}/accept")).status_code == 200  # retry
    r = await kbh.post(f"{TRANSFERS}/{transfer['id']}/decline", json={})
    assert (r.status_code, code_of(r)) == (409, "transfer_not_pending")

    r = await kbh.get(url)
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["municipality_code"] == "101"
    assert moved["patient_cpr"] == CPR_A
    assert moved["corrections"][0]["previous"] == {"municipality_code": "157"}
    assert moved["corrections"][0]["corrected"] == {"municipality_code": "101"}
    assert (await gentofte.get(url)).status_code == 404
    r = await gentofte.post(
        f"{url}/complete", json={"end_date": "2024-04-05", "reason": "completed"}
    )
    assert r.status_code == 404
    r = await region.get(COURSES, params={"municipality_code": "101"})
    assert [c["id"] for c in r.json()] == [course["id"]]

    for action, org in (
        ("course.transfer.propose", "157"),
        ("course.transfer.accept", "101"),
        ("course.transfer.accepted", "101"),
    ):
        rows = await audit_rows(app, action)
        assert [(r.org_code, r.object_id, str(r.patient_id)) for r in rows] == [
            (org, course["id"], course["patient_id"])
        ], action


async def test_a_declined_or_withdrawn_transfer_leaves_the_course_where_it_was(
    app: FastAPI, api: MakeApi
) -> None:
    hospital, gentofte, kbh, _ = await parties(api)
    course = await make_course(hospital, gentofte)
    first = (await propose(gentofte, course["id"])).json()
    r = await kbh.post(f"{TRANSFERS}/{first['id']}/decline", json={"note": "ikke vores borger"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["decision_note"]) == ("declined", "ikke vores borger")
    r = await kbh.post(f"{TRANSFERS}/{first['id']}/accept")
    assert (r.status_code, code_of(r)) == (409, "transfer_not_pending")
    assert r.json()["transfer_status"] == "declined"

    second = (await propose(gentofte, course["id"])).json()
    r = await gentofte.post(f"{TRANSFERS}/{second['id']}/withdraw")
    assert (r.status_code, r.json()["status"]) == (200, "withdrawn")
    r = await kbh.post(f"{TRANSFERS}/{second['id']}/accept")
    assert (r.status_code, code_of(r)) == (409, "transfer_not_pending")

    assert (await kbh.get(f"{COURSES}/{course['id']}")).status_code == 404
    r = await gentofte.get(f"{COURSES}/{course['id']}")
    assert (r.json()["municipality_code"], r.json()["corrections"]) == ("157", [])
    assert len(await audit_rows(app, "course.transfer.decline")) == 1
    assert len(await audit_rows(app, "course.transfer.withdraw")) == 1


async def test_the_regions_transfer_takes_effect_at_once(app: FastAPI, api: MakeApi) -> None:
    hospital, gentofte, kbh, region = await parties(api)
    course = await make_course(hospital, gentofte)
    r = await propose(region, course["id"])
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "accepted"
    assert (await kbh.get(f"{COURSES}/{course['id']}")).json()["municipality_code"] == "101"
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).status_code == 404
    assert len(await audit_rows(app, "course.transfer.region")) == 1


async def test_transfer_refusals(api: MakeApi) -> None:
    hospital, gentofte, kbh, _ = await parties(api)
    course = await make_course(hospital, gentofte)
    r = await propose(gentofte, course["id"], to="157")
    assert (r.status_code, code_of(r)) == (422, "same_municipality")
    r = await propose(gentofte, course["id"], to="999")
    assert (r.status_code, code_of(r)) == (422, "unknown_municipality")
    r = await propose(kbh, course["id"])
    assert (r.status_code, code_of(r)) == (404, "course_not_found")

    # The receiving municipality already treats the patient with a course of this type.
    await make_course(hospital, kbh)
    transfer = (await propose(gentofte, course["id"])).json()
    r = await kbh.post(f"{TRANSFERS}/{transfer['id']}/accept")
    assert (r.status_code, code_of(r)) == (409, "active_course_exists")
    r = await gentofte.get(f"{COURSES}/{course['id']}")
    assert r.json()["municipality_code"] == "157"

    # A course cancelled while its transfer waits is not moved.
    assert (
        await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "fejl"})
    ).is_success
    r = await kbh.post(f"{TRANSFERS}/{transfer['id']}/accept")
    assert (r.status_code, code_of(r)) == (409, "course_cancelled")


def lines_for(statement: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return sorted((line["period"], line["kind"], line["adjustment"]) for line in statement["lines"])


async def test_settlement_bills_the_municipality_that_has_the_course(api: MakeApi) -> None:
    """A waiting proposal changes no bill; an accepted one is settled as a correction of the
    municipality was: the issued lines credited to the sending municipality and billed to
    the receiving one in the next statement."""
    hospital, gentofte, kbh, region = await parties(api)
    course = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )
    # (No visits: the course's fee and day fees are billed from its dates.)
    await issue(region, "2024-03")
    transfer = (await propose(gentofte, course["id"])).json()
    await issue(region, "2024-04")

    async def statement(period: str, code: str) -> dict[str, Any]:
        r = await region.get(f"/api/v1/settlements/{period}/statements/{code}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert lines_for(await statement("2024-04", "101")) == []
    april = lines_for(await statement("2024-04", "157"))
    assert april and all(period == "2024-04" and not adj for period, _, adj in april)

    assert (await kbh.post(f"{TRANSFERS}/{transfer['id']}/accept")).status_code == 200
    await issue(region, "2024-05")
    credited = (await statement("2024-05", "157"))["lines"]
    billed = (await statement("2024-05", "101"))["lines"]
    assert credited and all(line["adjustment"] for line in credited)
    assert all(line["amount"].startswith("-") for line in credited)
    assert {line["period"] for line in billed} == {"2024-03", "2024-04"}
    assert sorted(line["amount"] for line in billed) == sorted(
        line["amount"].removeprefix("-") for line in credited
    )
