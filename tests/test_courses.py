"""Courses through HTTP: list, detail, complete, cancel and corrections (DESIGN "Courses and
visits", "Data protection and access"; API.md "Courses"). Clock pinned at 2024-06-15 10:00 local."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.api import Api, MakeApi
from tests.support.factories import CPR_A, CPR_B, make_course, visit

COURSES = "/api/v1/courses"


def cpr(day: int) -> str:
    """A valid CPR number (DD01 50-1234, born 1950) distinct per day of January."""
    return f"{day:02d}01501234"


async def setup(api: MakeApi, municipality: str = "157") -> tuple[Api, Api, dict[str, Any]]:
    hospital = await api("hospital", "HGH")
    kommune = await api("municipality", municipality)
    course = await make_course(hospital, kommune)
    return hospital, kommune, course


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["code"])


def violation_codes(response: httpx.Response) -> list[str]:
    return [v["code"] for v in response.json()["violations"]]


async def complete(
    kommune: Api, course_id: str, end_date: str = "2024-04-05", reason: str = "completed"
) -> httpx.Response:
    return await kommune.post(
        f"{COURSES}/{course_id}/complete", json={"end_date": end_date, "reason": reason}
    )


async def correct(kommune: Api, course_id: str, **fields: Any) -> httpx.Response:
    return await kommune.post(
        f"{COURSES}/{course_id}/corrections", json={"reason": "registreret forkert", **fields}
    )


# --- list -------------------------------------------------------------------------------


async def test_list_municipality_sees_only_its_own(api: MakeApi) -> None:
    hospital, gentofte, own = await setup(api)
    kbh = await api("municipality", "101")
    foreign = await make_course(hospital, kbh, patient_cpr=CPR_B)

    r = await gentofte.get(COURSES)
    assert r.status_code == 200, r.text
    assert [c["id"] for c in r.json()] == [own["id"]]

    # Asking for another municipality's courses does not widen what a municipality sees.
    r = await gentofte.get(COURSES, params={"municipality_code": "101"})
    assert r.status_code == 200, r.text
    assert r.json() == []

    r = await kbh.get(COURSES)
    assert [c["id"] for c in r.json()] == [foreign["id"]]


async def test_list_region_sees_all_and_filters_by_municipality(api: MakeApi) -> None:
    hospital, _, own = await setup(api)
    kbh = await api("municipality", "101")
    foreign = await make_course(hospital, kbh, patient_cpr=CPR_B)
    region = await api("region")

    r = await region.get(COURSES)
    assert r.status_code == 200, r.text
    assert {c["id"] for c in r.json()} == {own["id"], foreign["id"]}
    assert all(c["patient_cpr"] is None for c in r.json())

    r = await region.get(COURSES, params={"municipality_code": "101"})
    assert [c["id"] for c in r.json()] == [foreign["id"]]
    r = await region.get(COURSES, params={"municipality_code": "157"})
    assert [c["id"] for c in r.json()] == [own["id"]]


async def test_list_filters_by_status(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    active = await make_course(hospital, gentofte, patient_cpr=cpr(1))
    completed = await make_course(hospital, gentofte, patient_cpr=cpr(2))
    cancelled = await make_course(hospital, gentofte, patient_cpr=cpr(3))
    assert (await complete(gentofte, completed["id"])).status_code == 200
    assert (
        await gentofte.post(
            f"{COURSES}/{cancelled['id']}/cancel", json={"reason": "aldrig startet"}
        )
    ).status_code == 200

    for status, expected in (
        ("active", active),
        ("completed", completed),
        ("cancelled", cancelled),
    ):
        r = await gentofte.get(COURSES, params={"status": status})
        assert r.status_code == 200, r.text
        assert [c["id"] for c in r.json()] == [expected["id"]], status
        assert r.json()[0]["status"] == status

    r = await gentofte.get(COURSES, params={"status": "paused"})
    assert r.status_code == 422
    assert problem_code(r) == "invalid_request"


async def test_list_filters_by_start_date_inclusive(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    march = await make_course(hospital, gentofte, start_date="2024-03-28", patient_cpr=cpr(1))
    april = await make_course(hospital, gentofte, start_date="2024-04-10", patient_cpr=cpr(2))
    may = await make_course(hospital, gentofte, start_date="2024-05-02", patient_cpr=cpr(3))

    async def ids(**params: str) -> list[str]:
        r = await gentofte.get(COURSES, params=params)
        assert r.status_code == 200, r.text
        return [c["id"] for c in r.json()]

    assert await ids() == [march["id"], april["id"], may["id"]]  # ordered by start date
    assert await ids(started_from="2024-04-10") == [april["id"], may["id"]]
    assert await ids(started_to="2024-04-10") == [march["id"], april["id"]]
    assert await ids(started_from="2024-04-01", started_to="2024-04-30") == [april["id"]]
    assert await ids(started_from="2024-05-03") == []


async def test_hospital_may_not_read_courses(api: MakeApi) -> None:
    hospital, _, course = await setup(api)
    for url in (COURSES, f"{COURSES}/{course['id']}", f"{COURSES}/{course['id']}/visits"):
        r = await hospital.get(url)
        assert r.status_code == 403, url
        assert problem_code(r) == "role_not_allowed"


async def test_region_may_not_write_courses(api: MakeApi) -> None:
    _, _, course = await setup(api)
    region = await api("region")
    assert (await complete(region, course["id"])).status_code == 403
    assert (
        await region.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "x"})
    ).status_code == 403
    assert (await correct(region, course["id"], start_date="2024-03-27")).status_code == 403


# --- detail -----------------------------------------------------------------------------


async def test_detail_with_day_count_and_visit_counts(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    url = f"{COURSES}/{course['id']}"
    r = await gentofte.get(url)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["patient_cpr"] == CPR_A  # the treating municipality sees the CPR
    assert body["status"] == "active"
    # Active: 2024-03-28 through today 2024-06-15 inclusive = 4 + 30 + 31 + 15 days.
    assert body["day_count"] == 80
    assert (
        body["visit_count"],
        body["administered_visit_count"],
        body["last_administered_date"],
    ) == (0, 0, None)
    assert body["corrections"] == []

    for v in (
        visit("2024-03-28T08:00:00+01:00"),
        visit("2024-03-29T08:00:00+01:00"),
        visit("2024-03-30T08:00:00+01:00", administered=False),  # a later visit without the dose
    ):
        assert (await gentofte.post(f"{url}/visits", json=v)).status_code == 201
    body = (await gentofte.get(url)).json()
    assert body["visit_count"] == 3
    assert body["administered_visit_count"] == 2
    assert body["last_administered_date"] == "2024-03-29"

    assert (await complete(gentofte, course["id"], end_date="2024-04-05")).status_code == 200
    assert (await gentofte.get(url)).json()["day_count"] == 9  # start..end inclusive


async def test_last_administered_date_is_local(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    # 22:30 UTC on 2 April is 00:30 on 3 April in Copenhagen (CEST).
    r = await gentofte.post(
        f"{COURSES}/{course['id']}/visits", json=visit("2024-04-02T22:30:00+00:00")
    )
    assert r.status_code == 201, r.text
    body = (await gentofte.get(f"{COURSES}/{course['id']}")).json()
    assert body["last_administered_date"] == "2024-04-03"


async def test_detail_for_region_hides_cpr(api: MakeApi) -> None:
    _, _, course = await setup(api)
    region = await api("region")
    r = await region.get(f"{COURSES}/{course['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["patient_cpr"] is None
    assert r.json()["id"] == course["id"]


async def test_unknown_course_is_404(api: MakeApi) -> None:
    gentofte = await api("municipality", "157")
    r = await gentofte.get(f"{COURSES}/{uuid.uuid4()}")
    assert r.status_code == 404
    assert problem_code(r) == "course_not_found"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("post", "/complete", {"end_date": "2024-04-05", "reason": "completed"}),
        ("post", "/cancel", {"reason": "fejlregistrering"}),
        ("post", "/corrections", {"start_date": "2024-03-27", "reason": "forkert dato"}),
        ("get", "/visits", None),
        ("post", "/visits", visit("2024-03-28T08:00:00+01:00")),
    ],
)
async def test_foreign_course_is_404(
    api: MakeApi, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    _, gentofte, course = await setup(api)
    kbh = await api("municipality", "101")
    url = f"{COURSES}/{course['id']}{suffix}"
    r = await (kbh.get(url) if method == "get" else kbh.post(url, json=body))
    assert r.status_code == 404, r.text
    assert problem_code(r) == "course_not_found"
    # Nothing changed for the owner.
    own = (await gentofte.get(f"{COURSES}/{course['id']}")).json()
    assert own["status"] == "active"
    assert own["start_date"] == "2024-03-28"
    assert own["visit_count"] == 0
    assert own["corrections"] == []


# --- complete ---------------------------------------------------------------------------


async def test_complete(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(
        f"{COURSES}/{course['id']}/complete",
        json={"end_date": "2024-04-05", "reason": "switched_to_oral", "note": "peroral behandling"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "completed"
    assert body["end_date"] == "2024-04-05"
    assert body["end_reason"] == "switched_to_oral"
    assert body["end_note"] == "peroral behandling"
    assert body["day_count"] == 9


async def test_complete_retry_with_same_values_is_200(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    first = await complete(gentofte, course["id"])
    again = await complete(gentofte, course["id"])
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["end_date"] == "2024-04-05"
    assert again.json()["updated_at"] == first.json()["updated_at"]


@pytest.mark.parametrize(
    ("end_date", "reason"), [("2024-04-06", "completed"), ("2024-04-05", "readmitted")]
)
async def test_complete_again_with_other_values_is_409(
    api: MakeApi, end_date: str, reason: str
) -> None:
    _, gentofte, course = await setup(api)
    assert (await complete(gentofte, course["id"])).status_code == 200
    r = await complete(gentofte, course["id"], end_date=end_date, reason=reason)
    assert r.status_code == 409
    assert problem_code(r) == "course_not_active"
    assert r.json()["status"] == 409  # the problem's own status is not overwritten
    assert r.json()["course_status"] == "completed"
    body = (await gentofte.get(f"{COURSES}/{course['id']}")).json()
    assert (body["end_date"], body["end_reason"]) == ("2024-04-05", "completed")


async def test_complete_cancelled_course_is_409(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (
        await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "x"})
    ).status_code == 200
    r = await complete(gentofte, course["id"])
    assert r.status_code == 409
    assert problem_code(r) == "course_not_active"


async def test_complete_end_before_start_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await complete(gentofte, course["id"], end_date="2024-03-27")
    assert r.status_code == 422
    assert problem_code(r) == "end_before_start"
    assert violation_codes(r) == ["end_before_start"]
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["status"] == "active"


async def test_complete_on_start_day_is_one_day(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await complete(gentofte, course["id"], end_date="2024-03-28", reason="readmitted")
    assert r.status_code == 200, r.text
    assert r.json()["day_count"] == 1


async def test_complete_end_in_future_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await complete(gentofte, course["id"], end_date="2024-06-16")
    assert r.status_code == 422
    assert problem_code(r) == "end_date_in_future"
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["status"] == "active"
    # Today (local) is allowed.
    r = await complete(gentofte, course["id"], end_date="2024-06-15")
    assert r.status_code == 200, r.text


async def test_complete_unknown_reason_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await complete(gentofte, course["id"], reason="bored")
    assert r.status_code == 422
    assert problem_code(r) == "invalid_request"


# --- cancel -----------------------------------------------------------------------------


async def test_cancel_is_idempotent(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    url = f"{COURSES}/{course['id']}/cancel"
    first = await gentofte.post(url, json={"reason": "aldrig startet"})
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "cancelled"
    assert first.json()["cancel_reason"] == "aldrig startet"
    again = await gentofte.post(url, json={"reason": "aldrig startet"})
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "cancelled"
    assert again.json()["cancel_reason"] == "aldrig startet"
    assert again.json()["updated_at"] == first.json()["updated_at"]


async def test_cancel_a_completed_course(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (await complete(gentofte, course["id"])).status_code == 200
    r = await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "fejlregistrering"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"


async def test_cancel_keeps_visits_and_refuses_new_ones(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    visits_url = f"{COURSES}/{course['id']}/visits"
    stored = visit("2024-03-28T08:00:00+01:00")
    assert (await gentofte.post(visits_url, json=stored)).status_code == 201

    r = await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "fejlregistrering"})
    assert r.status_code == 200, r.text
    assert r.json()["visit_count"] == 1

    r = await gentofte.get(visits_url)
    assert r.status_code == 200
    assert [v["id"] for v in r.json()] == [stored["id"]]

    r = await gentofte.post(visits_url, json=visit("2024-03-29T08:00:00+01:00"))
    assert r.status_code == 409
    assert problem_code(r) == "course_cancelled"
    assert len((await gentofte.get(visits_url)).json()) == 1


async def test_cancel_needs_a_reason(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={})
    assert r.status_code == 422
    r = await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={"reason": ""})
    assert r.status_code == 422
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["status"] == "active"


# --- corrections ------------------------------------------------------------------------


async def test_correct_start_date_keeps_previous_value(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(
        f"{COURSES}/{course['id']}/corrections",
        json={"start_date": "2024-03-27", "reason": "første dag var dagen før"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["start_date"] == "2024-03-27"
    assert body["day_count"] == 81
    (correction,) = body["corrections"]
    assert correction["reason"] == "første dag var dagen før"
    assert correction["previous"] == {"start_date": "2024-03-28"}
    assert correction["corrected"] == {"start_date": "2024-03-27"}
    assert correction["corrected_by"] == str(gentofte.client_id)

    # Kept on the course, readable later, and a second correction is appended.
    r = await correct(gentofte, course["id"], start_date="2024-03-29")
    assert r.status_code == 200, r.text
    history = (await gentofte.get(f"{COURSES}/{course['id']}")).json()["corrections"]
    # Order between corrections is by corrected_at; with the clock pinned both share it, so
    # only the contents are compared here.
    assert sorted((c["previous"]["start_date"], c["corrected"]["start_date"]) for c in history) == [
        ("2024-03-27", "2024-03-29"),
        ("2024-03-28", "2024-03-27"),
    ]


async def test_correct_end_date_of_completed_course(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (await complete(gentofte, course["id"], end_date="2024-04-05")).status_code == 200
    r = await correct(gentofte, course["id"], end_date="2024-04-08")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["end_date"] == "2024-04-08"
    assert body["status"] == "completed"
    assert body["day_count"] == 12
    assert body["corrections"][0]["previous"] == {"end_date": "2024-04-05"}
    assert body["corrections"][0]["corrected"] == {"end_date": "2024-04-08"}


async def test_correct_several_fields_at_once(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (await complete(gentofte, course["id"], end_date="2024-04-05")).status_code == 200
    r = await correct(
        gentofte,
        course["id"],
        start_date="2024-03-27",
        end_date="2024-04-04",
        treatment_type="pump",
    )
    assert r.status_code == 200, r.text
    (correction,) = r.json()["corrections"]
    assert correction["previous"] == {
        "start_date": "2024-03-28",
        "end_date": "2024-04-05",
        "treatment_type": "antibiotics",
    }
    assert correction["corrected"] == {
        "start_date": "2024-03-27",
        "end_date": "2024-04-04",
        "treatment_type": "pump",
    }


async def test_correct_treatment_type(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await correct(gentofte, course["id"], treatment_type="fluids")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["treatment_type"] == "fluids"
    assert body["corrections"][0]["previous"] == {"treatment_type": "antibiotics"}
    assert body["corrections"][0]["corrected"] == {"treatment_type": "fluids"}


async def test_correct_end_date_of_active_course_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await correct(gentofte, course["id"], end_date="2024-04-05")
    assert r.status_code == 422
    assert problem_code(r) == "course_not_completed"
    body = (await gentofte.get(f"{COURSES}/{course['id']}")).json()
    assert (body["end_date"], body["status"], body["corrections"]) == (None, "active", [])


async def test_correct_end_before_start_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (await complete(gentofte, course["id"], end_date="2024-04-05")).status_code == 200
    r = await correct(gentofte, course["id"], start_date="2024-04-06")
    assert r.status_code == 422
    assert problem_code(r) == "end_before_start"


async def test_correct_end_date_into_future_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (await complete(gentofte, course["id"], end_date="2024-04-05")).status_code == 200
    r = await correct(gentofte, course["id"], end_date="2024-06-16")
    assert r.status_code == 422
    assert problem_code(r) == "end_date_in_future"


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"start_date": "2024-03-28"},
        {"treatment_type": "antibiotics", "municipality_code": "157"},
    ],
    ids=["reason-only", "same-start", "same-type-and-municipality"],
)
async def test_correction_that_changes_nothing_is_422(api: MakeApi, fields: dict[str, str]) -> None:
    _, gentofte, course = await setup(api)
    r = await correct(gentofte, course["id"], **fields)
    assert r.status_code == 422
    assert problem_code(r) == "nothing_to_correct"
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["corrections"] == []


async def test_correction_needs_a_reason(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(
        f"{COURSES}/{course['id']}/corrections", json={"start_date": "2024-03-27"}
    )
    assert r.status_code == 422
    assert problem_code(r) == "invalid_request"


async def test_correct_to_unknown_municipality_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await correct(gentofte, course["id"], municipality_code="999")  # not one of the 29
    assert r.status_code == 422
    assert problem_code(r) == "unknown_municipality"
    assert [v["field"] for v in r.json()["violations"]] == ["municipality_code"]
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["municipality_code"] == "157"


async def test_correct_start_before_agreement_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await correct(gentofte, course["id"], start_date="2021-10-03")
    assert r.status_code == 422
    assert problem_code(r) == "before_agreement"
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["start_date"] == "2024-03-28"
    # The agreement's first day itself is covered.
    r = await correct(gentofte, course["id"], start_date="2021-10-04")
    assert r.status_code == 200, r.text


async def test_correct_cancelled_course_is_409(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (
        await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "x"})
    ).status_code == 200
    r = await correct(gentofte, course["id"], start_date="2024-03-27")
    assert r.status_code == 409
    assert problem_code(r) == "course_cancelled"


async def move(sender: Api, receiver: Api, course_id: str) -> dict[str, Any]:
    """The course proposed to `receiver`'s municipality, and accepted there."""
    r = await sender.post(
        f"{COURSES}/{course_id}/transfers",
        json={"municipality_code": receiver.org, "reason": "borgeren er flyttet"},
    )
    assert r.status_code == 201, r.text
    r = await receiver.post(f"/api/v1/transfers/{r.json()['id']}/accept")
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_move_course_to_another_municipality(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    kbh = await api("municipality", "101")
    region = await api("region")
    assert (await kbh.get(f"{COURSES}/{course['id']}")).status_code == 404

    # A correction does not move it: Copenhagen must accept the course first (issue 12).
    r = await correct(gentofte, course["id"], municipality_code="101")
    assert r.status_code == 422, r.text
    assert problem_code(r) == "transfer_required"
    assert (await kbh.get(f"{COURSES}/{course['id']}")).status_code == 404
    transfer = await move(gentofte, kbh, course["id"])
    assert transfer["status"] == "accepted"

    assert (await gentofte.get(f"{COURSES}/{course['id']}")).status_code == 404
    assert (await gentofte.get(COURSES)).json() == []
    r = await kbh.get(f"{COURSES}/{course['id']}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["municipality_code"] == "101"
    assert body["patient_cpr"] == CPR_A  # the new treating municipality sees the patient
    assert body["corrections"][0]["previous"] == {"municipality_code": "157"}
    assert body["corrections"][0]["corrected"] == {"municipality_code": "101"}
    assert [c["id"] for c in (await kbh.get(COURSES)).json()] == [course["id"]]
    r = await region.get(COURSES, params={"municipality_code": "101"})
    assert [c["id"] for c in r.json()] == [course["id"]]
    # The old municipality can no longer write to it either.
    r = await gentofte.post(
        f"{COURSES}/{course['id']}/visits", json=visit("2024-03-28T08:00:00+01:00")
    )
    assert r.status_code == 404


async def test_correction_leaving_visits_outside_flags_them(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    visits_url = f"{COURSES}/{course['id']}/visits"
    early = visit("2024-03-28T08:00:00+01:00")
    middle = visit("2024-04-02T08:00:00+02:00")
    late = visit("2024-04-05T08:00:00+02:00")
    for v in (early, middle, late):
        assert (await gentofte.post(visits_url, json=v)).status_code == 201
    assert (await complete(gentofte, course["id"], end_date="2024-04-05")).status_code == 200

    r = await correct(gentofte, course["id"], start_date="2024-03-30", end_date="2024-04-03")
    assert r.status_code == 200, r.text
    assert r.json()["visit_count"] == 3  # kept

    r = await gentofte.get(visits_url)
    assert r.status_code == 200
    flags = {v["id"]: v["deviations"] for v in r.json()}
    assert flags == {
        early["id"]: ["outside_course_dates"],
        middle["id"]: [],
        late["id"]: ["outside_course_dates"],
    }

    # Correcting the dates back clears the flags (they are derived, not stored).
    r = await correct(gentofte, course["id"], start_date="2024-03-28", end_date="2024-04-05")
    assert r.status_code == 200, r.text
    assert all(v["deviations"] == [] for v in (await gentofte.get(visits_url)).json())


async def test_correcting_type_into_an_active_course_is_409(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    antibiotics = await make_course(hospital, gentofte, treatment_type="antibiotics")
    fluids = await make_course(hospital, gentofte, treatment_type="fluids")

    r = await correct(gentofte, fluids["id"], treatment_type="antibiotics")
    assert r.status_code == 409, r.text
    assert problem_code(r) == "active_course_exists"
    body = (await gentofte.get(f"{COURSES}/{fluids['id']}")).json()
    assert body["treatment_type"] == "fluids"
    assert body["corrections"] == []

    # Once the other course is completed, the same correction goes through.
    assert (await complete(gentofte, antibiotics["id"])).status_code == 200
    r = await correct(gentofte, fluids["id"], treatment_type="antibiotics")
    assert r.status_code == 200, r.text
    assert r.json()["treatment_type"] == "antibiotics"


async def test_moving_into_municipality_with_active_course_is_409(api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    kbh = await api("municipality", "101")
    await make_course(hospital, kbh)
    ours = await make_course(hospital, gentofte)

    r = await gentofte.post(
        f"{COURSES}/{ours['id']}/transfers", json={"municipality_code": "101", "reason": "flyttet"}
    )
    assert r.status_code == 201, r.text
    r = await kbh.post(f"/api/v1/transfers/{r.json()['id']}/accept")
    assert r.status_code == 409, r.text
    assert problem_code(r) == "active_course_exists"
    assert (await gentofte.get(f"{COURSES}/{ours['id']}")).json()["municipality_code"] == "157"
