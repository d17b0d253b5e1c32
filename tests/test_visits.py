"""Visits through HTTP: single and batch, idempotency by the client's id, the course dates,
deviations from the agreement's limits, and local (Europe/Copenhagen) dates.
The service's clock is pinned at 2024-06-15T10:00+02:00."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.api import Api, MakeApi
from tests.support.factories import CPR_B, make_course, visit

COURSES = "/api/v1/courses"
BATCH = "/api/v1/visits/batch"


async def setup(
    api: MakeApi, municipality: str = "157", **overrides: Any
) -> tuple[Api, Api, dict[str, Any]]:
    hospital = await api("hospital", "HGH")
    kommune = await api("municipality", municipality)
    course = await make_course(hospital, kommune, **overrides)
    return hospital, kommune, course


def visits_url(course: dict[str, Any]) -> str:
    return f"{COURSES}/{course['id']}/visits"


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["code"])


def item(course: dict[str, Any], started_at: str, **kw: Any) -> dict[str, Any]:
    return {"course_id": course["id"], **visit(started_at, **kw)}


async def stored(kommune: Api, course: dict[str, Any]) -> list[dict[str, Any]]:
    r = await kommune.get(visits_url(course))
    assert r.status_code == 200, r.text
    return list(r.json())


async def deviations_of(kommune: Api, course: dict[str, Any]) -> dict[str, list[str]]:
    return {v["id"]: v["deviations"] for v in await stored(kommune, course)}


# --- single visit -----------------------------------------------------------------------


async def test_record_visit(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    v = visit("2024-03-28T08:05:00+01:00", minutes=45, setting="clinic", administered=False)
    r = await gentofte.post(visits_url(course), json=v)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] == v["id"]
    assert body["course_id"] == course["id"]
    assert datetime.fromisoformat(body["started_at"]) == datetime.fromisoformat(
        "2024-03-28T07:05:00+00:00"
    )
    assert body["local_date"] == "2024-03-28"
    assert (body["duration_minutes"], body["setting"], body["administered"]) == (
        45,
        "clinic",
        False,
    )
    assert body["deviations"] == []
    assert [x["id"] for x in await stored(gentofte, course)] == [v["id"]]


async def test_same_visit_again_is_200_without_duplicate(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    v = visit("2024-03-28T08:05:00+01:00")
    first = await gentofte.post(visits_url(course), json=v)
    again = await gentofte.post(visits_url(course), json=v)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    # The same instant written with another offset is the same content.
    same_instant = {**v, "started_at": "2024-03-28T07:05:00Z"}
    r = await gentofte.post(visits_url(course), json=same_instant)
    assert r.status_code == 200, r.text
    assert len(await stored(gentofte, course)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"started_at": "2024-03-28T08:06:00+01:00"},
        {"duration_minutes": 31},
        {"setting": "clinic"},
        {"administered": False},
    ],
    ids=["started_at", "duration", "setting", "administered"],
)
async def test_same_id_other_content_is_409(api: MakeApi, change: dict[str, Any]) -> None:
    _, gentofte, course = await setup(api)
    v = visit("2024-03-28T08:05:00+01:00")
    assert (await gentofte.post(visits_url(course), json=v)).status_code == 201
    r = await gentofte.post(visits_url(course), json={**v, **change})
    assert r.status_code == 409, r.text
    assert problem_code(r) == "visit_conflict"
    (kept,) = await stored(gentofte, course)
    assert (kept["duration_minutes"], kept["setting"], kept["administered"]) == (30, "home", True)


async def test_same_id_on_another_course_is_409(api: MakeApi) -> None:
    hospital, gentofte, course = await setup(api)
    other = await make_course(hospital, gentofte, patient_cpr=CPR_B)
    v = visit("2024-03-28T08:05:00+01:00")
    assert (await gentofte.post(visits_url(course), json=v)).status_code == 201
    r = await gentofte.post(visits_url(other), json=v)
    assert r.status_code == 409
    assert problem_code(r) == "visit_conflict"
    assert await stored(gentofte, other) == []


async def test_visit_before_course_start_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api, start_date="2024-03-28")
    r = await gentofte.post(visits_url(course), json=visit("2024-03-27T22:59:00+01:00"))
    assert r.status_code == 422
    assert problem_code(r) == "visit_outside_course"
    # 23:30 UTC on 27 March is 00:30 on 28 March in Copenhagen: inside the course.
    r = await gentofte.post(visits_url(course), json=visit("2024-03-27T23:30:00+00:00"))
    assert r.status_code == 201, r.text
    assert r.json()["local_date"] == "2024-03-28"
    assert len(await stored(gentofte, course)) == 1


async def test_visit_after_course_end_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(
        f"{COURSES}/{course['id']}/complete", json={"end_date": "2024-04-05", "reason": "completed"}
    )
    assert r.status_code == 200, r.text
    # The end date is inclusive: its last minute is still inside.
    r = await gentofte.post(visits_url(course), json=visit("2024-04-05T22:59:00+02:00"))
    assert r.status_code == 201, r.text
    for late in (
        "2024-04-06T08:00:00+02:00",
        "2024-04-05T22:30:00+00:00",
    ):  # the latter: 00:30 on 6 April locally
        r = await gentofte.post(visits_url(course), json=visit(late))
        assert r.status_code == 422, late
        assert problem_code(r) == "visit_outside_course"
    assert len(await stored(gentofte, course)) == 1


@pytest.mark.parametrize("started_at", ["2024-03-28T08:05:00", "2024-03-28"])
async def test_visit_without_offset_is_422(api: MakeApi, started_at: str) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(visits_url(course), json=visit(started_at))
    assert r.status_code == 422
    assert problem_code(r) == "invalid_request"
    assert [v["field"] for v in r.json()["violations"]] == ["body.started_at"]
    assert await stored(gentofte, course) == []


@pytest.mark.parametrize(
    ("body_change", "field"),
    [
        ({"duration_minutes": -1}, "body.duration_minutes"),
        ({"setting": "hospital"}, "body.setting"),
        ({"id": "not-a-uuid"}, "body.id"),
        ({"nurse": "Anne"}, "body.nurse"),
    ],
)
async def test_visit_against_contract_is_422(
    api: MakeApi, body_change: dict[str, Any], field: str
) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(
        visits_url(course), json={**visit("2024-03-28T08:05:00+01:00"), **body_change}
    )
    assert r.status_code == 422
    assert field in [v["field"] for v in r.json()["violations"]]


async def test_visit_in_future_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    # Now is 2024-06-15T10:00+02:00; five minutes of clock drift are tolerated.
    r = await gentofte.post(visits_url(course), json=visit("2024-06-15T10:06:00+02:00"))
    assert r.status_code == 422
    assert problem_code(r) == "visit_in_future"
    r = await gentofte.post(visits_url(course), json=visit("2024-06-16T08:00:00+02:00"))
    assert r.status_code == 422
    assert problem_code(r) == "visit_in_future"
    r = await gentofte.post(visits_url(course), json=visit("2024-06-15T10:05:00+02:00"))
    assert r.status_code == 201, r.text
    assert len(await stored(gentofte, course)) == 1


async def test_visit_on_foreign_or_unknown_course_is_404(api: MakeApi) -> None:
    _, _, course = await setup(api)
    kbh = await api("municipality", "101")
    for url in (visits_url(course), f"{COURSES}/{uuid.uuid4()}/visits"):
        r = await kbh.post(url, json=visit("2024-03-28T08:05:00+01:00"))
        assert r.status_code == 404
        assert problem_code(r) == "course_not_found"


async def test_visit_on_cancelled_course_is_409(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(f"{COURSES}/{course['id']}/cancel", json={"reason": "fejlregistrering"})
    assert r.status_code == 200
    r = await gentofte.post(visits_url(course), json=visit("2024-03-28T08:05:00+01:00"))
    assert r.status_code == 409
    assert problem_code(r) == "course_cancelled"


@pytest.mark.parametrize(("role", "org"), [("hospital", "HGH"), ("region", None)])
async def test_only_municipalities_post_visits(api: MakeApi, role: str, org: str | None) -> None:
    _, gentofte, course = await setup(api)
    other = await api(role, org)
    r = await other.post(visits_url(course), json=visit("2024-03-28T08:05:00+01:00"))
    assert r.status_code == 403
    assert problem_code(r) == "role_not_allowed"
    r = await other.post(BATCH, json={"visits": [item(course, "2024-03-28T08:05:00+01:00")]})
    assert r.status_code == 403
    assert problem_code(r) == "role_not_allowed"
    assert await stored(gentofte, course) == []


# --- reading ----------------------------------------------------------------------------


async def test_region_reads_visits(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    later = visit("2024-03-29T08:00:00+01:00")
    earlier = visit("2024-03-28T08:00:00+01:00", minutes=75)
    for v in (later, earlier):
        assert (await gentofte.post(visits_url(course), json=v)).status_code == 201
    region = await api("region")
    r = await region.get(visits_url(course))
    assert r.status_code == 200, r.text
    assert [v["id"] for v in r.json()] == [earlier["id"], later["id"]]  # by start time
    assert r.json()[0]["deviations"] == ["over_60_minutes"]


async def test_foreign_municipality_cannot_read_visits(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    assert (
        await gentofte.post(visits_url(course), json=visit("2024-03-28T08:00:00+01:00"))
    ).status_code == 201
    kbh = await api("municipality", "101")
    r = await kbh.get(visits_url(course))
    assert r.status_code == 404
    assert problem_code(r) == "course_not_found"


# --- deviations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("started_at", "expected"),
    [
        ("2024-04-02T06:30:00+02:00", ["outside_hours"]),
        ("2024-04-02T23:30:00+02:00", ["outside_hours"]),
        ("2024-04-02T06:59:00+02:00", ["outside_hours"]),
        ("2024-04-02T07:00:00+02:00", []),
        ("2024-04-02T23:00:00+02:00", []),
        ("2024-04-02T21:30:00+00:00", ["outside_hours"]),  # 23:30 local (CEST)
        ("2024-04-02T05:30:00+00:00", []),  # 07:30 local
    ],
)
async def test_outside_hours_is_flagged_in_local_time(
    api: MakeApi, started_at: str, expected: list[str]
) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(visits_url(course), json=visit(started_at))
    assert r.status_code == 201, r.text  # stored all the same
    assert r.json()["deviations"] == expected
    assert (await deviations_of(gentofte, course)) == {r.json()["id"]: expected}


@pytest.mark.parametrize(
    ("minutes", "expected"), [(60, []), (61, ["over_60_minutes"]), (240, ["over_60_minutes"])]
)
async def test_over_60_minutes_is_flagged(api: MakeApi, minutes: int, expected: list[str]) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(
        visits_url(course), json=visit("2024-04-02T08:00:00+02:00", minutes=minutes)
    )
    assert r.status_code == 201, r.text
    assert r.json()["deviations"] == expected


async def test_several_deviations_on_one_visit(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(visits_url(course), json=visit("2024-04-02T23:15:00+02:00", minutes=90))
    assert r.status_code == 201, r.text
    assert sorted(r.json()["deviations"]) == ["outside_hours", "over_60_minutes"]


async def test_fifth_visit_of_a_day_by_start_time_is_flagged(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    # Sent out of order: the 5th by start time is 21:00, though it is sent second.
    times = ["18:00", "21:00", "08:00", "12:00", "15:00"]
    sent = [visit(f"2024-04-02T{t}:00+02:00") for t in times]
    next_day = visit("2024-04-03T08:00:00+02:00")
    for v in [*sent, next_day]:
        assert (await gentofte.post(visits_url(course), json=v)).status_code == 201
    flags = await deviations_of(gentofte, course)
    fifth = sent[times.index("21:00")]
    assert flags[fifth["id"]] == ["over_4_visits_per_day"]
    assert all(flags[v["id"]] == [] for v in sent if v is not fifth)
    assert flags[next_day["id"]] == []


async def test_sixth_visit_is_flagged_too(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    sent = [visit(f"2024-04-02T{h:02d}:00:00+02:00") for h in (8, 10, 12, 14, 16, 18)]
    r = await gentofte.post(
        BATCH, json={"visits": [{"course_id": course["id"], **v} for v in sent]}
    )
    assert r.status_code == 200, r.text
    assert [x["visit"]["deviations"] for x in r.json()["results"]] == [[]] * 4 + [
        ["over_4_visits_per_day"]
    ] * 2


async def test_visits_per_day_counted_by_local_date(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    # 2024-03-30T23:30Z is 00:30 on 31 March in Copenhagen (CET, before the switch to summer time).
    r = await gentofte.post(visits_url(course), json=visit("2024-03-30T23:30:00+00:00"))
    assert r.status_code == 201, r.text
    assert r.json()["local_date"] == "2024-03-31"
    assert r.json()["deviations"] == ["outside_hours"]
    midnight_visit = r.json()["id"]

    # Four more on local 31 March (summer time from 02:00): the last of them is the 5th of that day.
    day = [visit(f"2024-03-31T{h:02d}:00:00+02:00") for h in (8, 12, 16, 20)]
    # And four on local 30 March, one of them late in the evening (UTC date also the 30th).
    before = [visit(f"2024-03-30T{h:02d}:00:00+01:00") for h in (8, 12, 16, 22)]
    for v in [*day, *before]:
        assert (await gentofte.post(visits_url(course), json=v)).status_code == 201
    flags = await deviations_of(gentofte, course)
    assert flags[midnight_visit] == ["outside_hours"]
    assert [flags[v["id"]] for v in day] == [[], [], [], ["over_4_visits_per_day"]]
    assert all(flags[v["id"]] == [] for v in before)
    local_dates = {v["id"]: v["local_date"] for v in await stored(gentofte, course)}
    assert local_dates[midnight_visit] == "2024-03-31"
    assert {local_dates[v["id"]] for v in day} == {"2024-03-31"}


async def test_course_detail_counts_deviating_visits(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    r = await gentofte.post(visits_url(course), json=visit("2024-04-02T23:30:00+02:00", minutes=90))
    assert r.status_code == 201
    body = (await gentofte.get(f"{COURSES}/{course['id']}")).json()
    assert body["visit_count"] == 1
    assert body["last_administered_date"] == "2024-04-02"


# --- batch ------------------------------------------------------------------------------


async def test_batch_mixed_results_in_order(api: MakeApi) -> None:
    hospital, gentofte, course = await setup(api)
    kbh = await api("municipality", "101")
    foreign = await make_course(hospital, kbh, patient_cpr=CPR_B)
    already = visit("2024-03-28T08:00:00+01:00")
    assert (await gentofte.post(visits_url(course), json=already)).status_code == 201

    items = [
        item(course, "2024-03-29T08:00:00+01:00"),  # created
        {"course_id": course["id"], **already},  # unchanged
        item(foreign, "2024-03-29T09:00:00+01:00"),  # another municipality's
        item({"id": str(uuid.uuid4())}, "2024-03-29T09:00:00+01:00"),  # unknown course
        item(course, "2024-03-27T08:00:00+01:00"),  # before the start
        {"course_id": course["id"], **already, "duration_minutes": 45},  # stored with other content
        item(course, "2024-06-15T12:00:00+02:00"),  # in the future
        item(course, "2024-03-29T12:00:00+01:00", minutes=90),  # created, flagged
    ]
    r = await gentofte.post(BATCH, json={"visits": items})
    assert r.status_code == 200, r.text
    body = r.json()
    results = body["results"]
    assert [x["index"] for x in results] == list(range(len(items)))
    assert [x["id"] for x in results] == [i["id"] for i in items]
    assert [(x["status"], x["http_status"], x["code"]) for x in results] == [
        ("created", 201, None),
        ("unchanged", 200, None),
        ("rejected", 404, "course_not_found"),
        ("rejected", 404, "course_not_found"),
        ("rejected", 422, "visit_outside_course"),
        ("rejected", 409, "visit_conflict"),
        ("rejected", 422, "visit_in_future"),
        ("created", 201, None),
    ]
    assert all(x["visit"] is None for x in results if x["status"] == "rejected")
    assert results[0]["visit"]["id"] == items[0]["id"]
    assert results[7]["visit"]["deviations"] == ["over_60_minutes"]
    assert (body["created"], body["unchanged"], body["rejected"]) == (2, 1, 5)

    assert {v["id"] for v in await stored(gentofte, course)} == {
        already["id"],
        items[0]["id"],
        items[7]["id"],
    }
    assert await stored(kbh, foreign) == []


async def test_batch_resent_is_unchanged_without_duplicates(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    items = [
        item(course, f"2024-04-{d:02d}T{h:02d}:00:00+02:00") for d in (2, 3) for h in (8, 12, 16)
    ]
    first = await gentofte.post(BATCH, json={"visits": items})
    assert first.status_code == 200, first.text
    assert (first.json()["created"], first.json()["unchanged"], first.json()["rejected"]) == (
        6,
        0,
        0,
    )

    again = await gentofte.post(BATCH, json={"visits": items})
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["created"], body["unchanged"], body["rejected"]) == (0, 6, 0)
    assert {x["status"] for x in body["results"]} == {"unchanged"}
    assert {x["http_status"] for x in body["results"]} == {200}
    assert [x["visit"] for x in body["results"]] == [x["visit"] for x in first.json()["results"]]

    assert len(await stored(gentofte, course)) == 6
    assert (await gentofte.get(f"{COURSES}/{course['id']}")).json()["visit_count"] == 6


async def test_batch_with_the_same_id_twice(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    v = item(course, "2024-04-02T08:00:00+02:00")
    r = await gentofte.post(BATCH, json={"visits": [v, v]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(x["index"], x["status"], x["http_status"]) for x in body["results"]] == [
        (0, "created", 201),
        (1, "unchanged", 200),
    ]
    assert (body["created"], body["unchanged"], body["rejected"]) == (1, 1, 0)
    assert len(await stored(gentofte, course)) == 1


async def test_batch_with_the_same_id_twice_other_content(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    v = item(course, "2024-04-02T08:00:00+02:00")
    r = await gentofte.post(BATCH, json={"visits": [v, {**v, "duration_minutes": 50}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(x["status"], x["http_status"], x["code"]) for x in body["results"]] == [
        ("created", 201, None),
        ("rejected", 409, "visit_conflict"),
    ]
    assert (body["created"], body["unchanged"], body["rejected"]) == (1, 0, 1)
    (kept,) = await stored(gentofte, course)
    assert kept["duration_minutes"] == 30


async def test_batch_same_id_rejected_first_then_valid(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    bad = item(course, "2024-03-27T08:00:00+01:00")  # before the start
    good = {**bad, "started_at": "2024-03-28T08:00:00+01:00"}
    r = await gentofte.post(BATCH, json={"visits": [bad, good]})
    assert r.status_code == 200, r.text
    assert [(x["status"], x["http_status"]) for x in r.json()["results"]] == [
        ("rejected", 422),
        ("created", 201),
    ]
    assert len(await stored(gentofte, course)) == 1


async def test_batch_across_courses(api: MakeApi) -> None:
    hospital, gentofte, course = await setup(api)
    other = await make_course(hospital, gentofte, patient_cpr=CPR_B, start_date="2024-04-01")
    items = [item(course, "2024-04-02T08:00:00+02:00"), item(other, "2024-04-02T08:00:00+02:00")]
    r = await gentofte.post(BATCH, json={"visits": items})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    assert [v["id"] for v in await stored(gentofte, course)] == [items[0]["id"]]
    assert [v["id"] for v in await stored(gentofte, other)] == [items[1]["id"]]


async def test_batch_of_1000_is_accepted(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    start = datetime.fromisoformat("2024-04-01T08:00:00+02:00")
    items = [item(course, (start + timedelta(minutes=5 * n)).isoformat()) for n in range(1000)]
    r = await gentofte.post(BATCH, json={"visits": items})
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["rejected"]) == (1000, 0)
    assert len(await stored(gentofte, course)) == 1000


async def test_batch_over_1000_is_422(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    start = datetime.fromisoformat("2024-04-01T08:00:00+02:00")
    items = [item(course, (start + timedelta(minutes=5 * n)).isoformat()) for n in range(1001)]
    r = await gentofte.post(BATCH, json={"visits": items})
    assert r.status_code == 422
    assert problem_code(r) == "invalid_request"
    assert [v["field"] for v in r.json()["violations"]] == ["body.visits"]
    assert await stored(gentofte, course) == []


async def test_empty_batch_is_422(api: MakeApi) -> None:
    gentofte = await api("municipality", "157")
    r = await gentofte.post(BATCH, json={"visits": []})
    assert r.status_code == 422
    assert problem_code(r) == "invalid_request"
    assert [v["field"] for v in r.json()["violations"]] == ["body.visits"]


async def test_batch_item_against_contract_fails_whole_batch(api: MakeApi) -> None:
    _, gentofte, course = await setup(api)
    items = [
        item(course, "2024-04-02T08:00:00+02:00"),
        item(course, "2024-04-02T12:00:00"),
    ]  # naive
    r = await gentofte.post(BATCH, json={"visits": items})
    assert r.status_code == 422
    assert [v["field"] for v in r.json()["violations"]] == ["body.visits.1.started_at"]
    assert await stored(gentofte, course) == []
