"""Concurrency: many requests at once against one app (httpx + ASGITransport, so each
request has its own session and its own pooled connection), and what must hold afterwards.

The API tests run on both backends (SQLite serialises writers with BEGIN IMMEDIATE, so
there they check the same contract cheaply); the ones about PostgreSQL's own errors
(serialization failures, deadlocks) run on PostgreSQL only. The retry middleware is also
tested on its own with fake downstream apps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sqlite3
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message, Receive, Scope, Send

from service.access import audit
from service.deps import Session
from service.kit.retry import TransactionRetryMiddleware, is_retryable, sqlstate_of
from service.models import AuditEvent, Course, Patient, Referral, SettlementIssue, Statement, Visit
from tests.support.api import Api, MakeApi
from tests.support.databases import BACKENDS
from tests.support.factories import (
    CPR_A,
    CPR_B,
    at,
    completed_course,
    make_course,
    make_referral,
    referral_payload,
    visit,
)

ON_PG = (
    ["postgresql"]
    if "postgresql" in BACKENDS
    else [pytest.param("postgresql", marks=pytest.mark.skip(reason="PostgreSQL not reachable"))]
)
pg_only = pytest.mark.parametrize("database_url", ON_PG, indirect=True)

INCLUDED_DAYS = {"antibiotics": 6, "fluids": 3, "pump": 6}


def cpr(n: int) -> str:
    """A distinct valid CPR number per n (1..28): born 1980-03-nn."""
    return f"{n:02d}0380{1000 + n}"


async def count(app: FastAPI, stmt: Any) -> int:
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(stmt) or 0)


async def audits(app: FastAPI, action: str) -> int:
    return await count(
        app, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def no_server_errors(responses: list[httpx.Response]) -> None:
    bad = [(r.status_code, r.text[:300]) for r in responses if r.status_code >= 500]
    assert not bad, bad


# --- referrals -----------------------------------------------------------------------------


async def test_50_identical_referrals_at_once_store_one(app: FastAPI, api: MakeApi) -> None:
    hospital = await api("hospital", "HGH")
    payload = referral_payload(hospital_code="HGH")
    responses = await asyncio.gather(
        *(hospital.post("/api/v1/referrals", json=payload) for _ in range(50))
    )
    no_server_errors(responses)
    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    stored = select(func.count()).select_from(Referral)
    assert await count(app, stored.where(Referral.external_ref == payload["external_ref"])) == 1
    assert await count(app, select(func.count()).select_from(Patient)) == 1
    assert await audits(app, "referral.create") == 1


async def test_one_external_ref_with_two_payloads_at_once(app: FastAPI, api: MakeApi) -> None:
    """The first insert wins; the same payload again is a retry (200), the other a 409."""
    hospital = await api("hospital", "HGH")
    first = referral_payload(hospital_code="HGH")
    second = first | {"planned_days": 10}
    bodies = [first, second] * 15
    responses = await asyncio.gather(
        *(hospital.post("/api/v1/referrals", json=body) for body in bodies)
    )
    no_server_errors(responses)
    (winner,) = [r.json() for r in responses if r.status_code == 201]
    for body, r in zip(bodies, responses, strict=True):
        if body["planned_days"] == winner["planned_days"]:
            assert r.status_code in (200, 201) and r.json()["id"] == winner["id"]
        else:
            assert r.status_code == 409 and r.json()["code"] == "referral_conflict"
            assert r.json()["referral_id"] == winner["id"]
    assert await count(app, select(func.count()).select_from(Referral)) == 1


async def test_referrals_for_one_new_patient_at_once_find_one_patient(
    app: FastAPI, api: MakeApi
) -> None:
    hospital = await api("hospital", "HGH")
    responses = await asyncio.gather(
        *(
            hospital.post("/api/v1/referrals", json=referral_payload(hospital_code="HGH"))
            for _ in range(20)
        )
    )
    assert [r.status_code for r in responses] == [201] * 20
    assert len({r.json()["patient_id"] for r in responses}) == 1
    assert await count(app, select(func.count()).select_from(Patient)) == 1


async def test_20_identical_accepts_at_once_start_one_course(app: FastAPI, api: MakeApi) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    referral = await make_referral(hospital)
    decision = {"start_date": "2024-03-28", "setting": "home"}
    responses = await asyncio.gather(
        *(
            gentofte.post(f"/api/v1/referrals/{referral['id']}/accept", json=decision)
            for _ in range(20)
        )
    )
    no_server_errors(responses)
    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await count(app, select(func.count()).select_from(Course)) == 1
    assert await audits(app, "referral.accept") == 1


async def test_accept_reject_and_withdraw_at_once_one_decision_wins(
    app: FastAPI, api: MakeApi
) -> None:
    """The row lock makes the decisions queue: the first one decides, every later one
    either repeats it (200) or is turned away with 409 naming the referral's status."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    referral = await make_referral(hospital)
    path = f"/api/v1/referrals/{referral['id']}"
    calls: list[tuple[str, Awaitable[httpx.Response]]] = []
    for _ in range(8):
        calls.append(
            (
                "accept",
                gentofte.post(
                    f"{path}/accept", json={"start_date": "2024-03-28", "setting": "home"}
                ),
            )
        )
        calls.append(("reject", gentofte.post(f"{path}/reject", json={"reason": "capacity"})))
        calls.append(("withdraw", hospital.post(f"{path}/withdraw")))
    random.Random(5).shuffle(calls)
    responses = await asyncio.gather(*(call for _, call in calls))
    no_server_errors(responses)
    status = (await hospital.get(path)).json()["status"]
    winning_action = {"accepted": "accept", "rejected": "reject", "withdrawn": "withdraw"}[status]
    for (action, _), r in zip(calls, responses, strict=True):
        if action == winning_action:
            assert r.status_code in (200, 201), r.text
        else:
            assert r.status_code == 409, r.text
            assert r.json()["code"] == "referral_not_pending"
    decisions = [await audits(app, f"referral.{a}") for a in ("accept", "reject", "withdraw")]
    assert sorted(decisions) == [0, 0, 1]
    courses = await count(app, select(func.count()).select_from(Course))
    assert courses == (1 if status == "accepted" else 0)


async def test_two_referrals_of_one_patient_accepted_at_once_start_one_course(
    app: FastAPI, api: MakeApi
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    referrals = [await make_referral(hospital) for _ in range(2)]
    responses = await asyncio.gather(
        *(
            gentofte.post(
                f"/api/v1/referrals/{r['id']}/accept",
                json={"start_date": "2024-03-28", "setting": "home"},
            )
            for r in referrals
        )
    )
    no_server_errors(responses)
    assert sorted(r.status_code for r in responses) == [201, 409]
    (loser,) = [r for r in responses if r.status_code == 409]
    assert loser.json()["code"] == "active_course_exists"
    assert await count(app, select(func.count()).select_from(Course)) == 1


async def test_complete_and_cancel_at_once_leave_one_consistent_course(
    app: FastAPI, api: MakeApi
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    path = f"/api/v1/courses/{course['id']}"
    calls: list[tuple[str, Awaitable[httpx.Response]]] = []
    for _ in range(10):
        calls.append(
            (
                "complete",
                gentofte.post(
                    f"{path}/complete", json={"end_date": "2024-04-05", "reason": "completed"}
                ),
            )
        )
        calls.append(("cancel", gentofte.post(f"{path}/cancel", json={"reason": "in error"})))
    random.Random(7).shuffle(calls)
    responses = await asyncio.gather(*(call for _, call in calls))
    no_server_errors(responses)
    final = (await gentofte.get(path)).json()
    assert final["status"] == "cancelled"  # a cancel always succeeds, whatever came first
    for (action, _), r in zip(calls, responses, strict=True):
        if action == "cancel":
            assert r.status_code == 200, r.text
        else:  # before the cancel: completed (or its retry); after it: turned away
            assert r.status_code in (200, 409), r.text
            if r.status_code == 409:
                assert r.json()["code"] == "course_not_active"
    assert await audits(app, "course.cancel") == 1
    assert await audits(app, "course.complete") <= 1


# --- visits --------------------------------------------------------------------------------


async def three_courses(hospital: Api, municipality: Api) -> list[dict[str, Any]]:
    return [
        await make_course(hospital, municipality, start_date="2024-06-01", patient_cpr=p)
        for p in (CPR_A, CPR_B, cpr(3))
    ]


def twenty_visits(courses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        visit(f"2024-06-{1 + n // 3:02d}T{8 + 5 * (n % 3):02d}:00:00+02:00")
        | {"course_id": courses[n % len(courses)]["id"]}
        for n in range(20)
    ]


async def assert_each_visit_created_once(
    app: FastAPI, batch: list[dict[str, Any]], responses: list[httpx.Response]
) -> None:
    no_server_errors(responses)
    assert {r.status_code for r in responses} == {200}
    statuses: dict[str, Counter[str]] = defaultdict(Counter)
    for r in responses:
        body = r.json()
        assert body["rejected"] == 0
        for result in body["results"]:
            statuses[result["id"]][result["status"]] += 1
    ids = {v["id"] for v in batch}
    assert set(statuses) == ids
    for counts in statuses.values():
        assert counts["created"] == 1, counts
        assert set(counts) <= {"created", "unchanged"}
    assert sum(r.json()["created"] for r in responses) == len(ids)
    stored = select(func.count()).select_from(Visit)
    assert await count(app, stored.where(Visit.id.in_([uuid.UUID(i) for i in ids]))) == 20
    assert await count(app, stored) == 20


async def test_50_resyncs_of_one_batch_at_once_store_each_visit_once(
    app: FastAPI, api: MakeApi
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    batch = twenty_visits(await three_courses(hospital, gentofte))
    responses = await asyncio.gather(
        *(gentofte.post("/api/v1/visits/batch", json={"visits": batch}) for _ in range(50))
    )
    await assert_each_visit_created_once(app, batch, responses)


async def test_resyncs_in_different_orders_and_subsets_at_once(app: FastAPI, api: MakeApi) -> None:
    """Re-syncs of overlapping batches in different orders: rows taken in opposite orders
    are how two transactions deadlock; none may fail or duplicate a visit."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    batch = twenty_visits(await three_courses(hospital, gentofte))
    rng = random.Random(11)
    bodies = []
    for n in range(30):
        items = batch if n % 2 else rng.sample(batch, 12)
        bodies.append(rng.sample(items, len(items)))
    responses = await asyncio.gather(
        *(gentofte.post("/api/v1/visits/batch", json={"visits": b}) for b in bodies)
    )
    await assert_each_visit_created_once(app, batch, responses)


class _RetryCount(logging.Handler):
    """Counts the retry middleware's "transaction aborted" warnings: each one is a request
    PostgreSQL aborted (40001, 40P01) that the client never saw."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.sqlstates: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("transaction aborted"):
            self.sqlstates[str(record.args[0] if record.args else "?")] += 1


@pytest.fixture
def retries() -> Iterator[_RetryCount]:
    """The aborted transactions the retry layer ran again, by SQLSTATE, during the test."""
    handler = _RetryCount()
    logger = logging.getLogger("ivsettle")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_50_clients_resyncing_overlapping_courses_with_corrections_never_deadlock(
    app: FastAPI, api: MakeApi, retries: _RetryCount
) -> None:
    """50 clients at once, each re-syncing the visits of its own set of courses (sets that
    overlap, sent in different orders), some of them also correcting or completing one of
    those courses: every visit is stored once, nobody gets a 503, and no transaction is a
    deadlock victim at all (the course rows are always locked in one order, so the retry
    layer has nothing to run again)."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    courses = [
        await make_course(hospital, gentofte, start_date="2024-06-01", patient_cpr=cpr(n))
        for n in range(1, 13)
    ]
    # Eight visits per course, 1-8 June; completions end on 14 June, after all of them.
    visits = {
        c["id"]: [
            visit(f"2024-06-{1 + d:02d}T{8 + (n + d) % 12:02d}:15:00+02:00")
            | {"course_id": c["id"]}
            for d in range(8)
        ]
        for n, c in enumerate(courses)
    }
    rng = random.Random(20261207)
    calls: list[tuple[str, Awaitable[httpx.Response]]] = []
    for n in range(50):
        chosen = rng.sample(courses, rng.randint(4, 10))
        items = [v for c in chosen for v in visits[c["id"]] if rng.random() < 0.8]
        rng.shuffle(items)
        calls.append(("batch", gentofte.post("/api/v1/visits/batch", json={"visits": items})))
        if n % 5 == 1:
            path = f"/api/v1/courses/{rng.choice(chosen)['id']}"
            correction = {"start_date": rng.choice(["2024-05-31", "2024-06-01"]), "reason": "typo"}
            calls.append(("correct", gentofte.post(f"{path}/corrections", json=correction)))
        elif n % 5 == 3:
            done = {"end_date": "2024-06-14", "reason": "completed"}
            path = f"/api/v1/courses/{rng.choice(chosen)['id']}/complete"
            calls.append(("complete", gentofte.post(path, json=done)))
    responses = await asyncio.gather(*(call for _, call in calls))

    no_server_errors(responses)
    created: Counter[str] = Counter()
    for (kind, _), r in zip(calls, responses, strict=True):
        if kind == "batch":
            assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
            created.update(x["id"] for x in r.json()["results"] if x["status"] == "created")
        elif kind == "correct":  # a start date it already has changes nothing: 422
            assert r.status_code == 200 or r.json()["code"] == "nothing_to_correct", r.text
        else:
            assert r.status_code == 200, r.text
    sent = {v["id"] for vs in visits.values() for v in vs}
    assert set(created) <= sent and set(created.values()) <= {1}
    stored = await _scalars(app, select(Visit.id))
    assert len(stored) == len(set(stored)) == len(created)
    assert {str(i) for i in stored} == set(created)
    assert retries.sqlstates == Counter(), retries.sqlstates


# --- issuing -------------------------------------------------------------------------------


async def test_16_issues_of_one_period_at_once_make_one_issue(app: FastAPI, api: MakeApi) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    regions = [await api("region") for _ in range(4)]
    await completed_course(hospital, gentofte, "2024-05-02", "2024-05-20", "antibiotics", CPR_A)
    await completed_course(hospital, gentofte, "2024-05-10", "2024-05-12", "fluids", CPR_B)
    responses = await asyncio.gather(
        *(regions[n % 4].post("/api/v1/settlements/2024-05/issue") for n in range(16))
    )
    no_server_errors(responses)
    codes = Counter(r.status_code for r in responses)
    print(f"issue answers: {dict(codes)}")
    assert codes[201] == 1 and set(codes) <= {200, 201, 409}, codes
    for r in responses:
        if r.status_code == 409:
            assert r.headers["content-type"].startswith("application/problem+json")
            assert r.json()["code"] == "issue_in_progress", r.text
    issued = [r.json() for r in responses if r.status_code in (200, 201)]
    assert all(summary == issued[0] for summary in issued)
    assert [m["number"] for m in issued[0]["municipalities"]] == list(range(1, 30))
    assert await count(app, select(func.count()).select_from(SettlementIssue)) == 1
    numbers = await _scalars(app, select(Statement.number).order_by(Statement.number))
    assert numbers == list(range(1, 30))
    # Whoever lost can simply ask again and gets the one issue.
    again = await regions[0].post("/api/v1/settlements/2024-05/issue")
    assert again.status_code == 200 and again.json() == issued[0]


async def _scalars(app: FastAPI, stmt: Any) -> list[Any]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(stmt)).all())


def _owed(
    course: dict[str, Any], last_given: date | None, through: str
) -> Counter[tuple[str, str]]:
    """(kind, period) → quantity a course owes for all periods up to `through`, by the
    rules of DESIGN "Monthly settlement", from its final state (independent of the code)."""
    owed: Counter[tuple[str, str]] = Counter()
    start = date.fromisoformat(course["start_date"])
    end = date.fromisoformat(course["end_date"]) if course["end_date"] else None
    if course["status"] == "cancelled":
        return owed
    last = end if course["status"] == "completed" else last_given
    if last is not None and end is not None:
        last = min(last, end)
    if last is None or last < start:
        return owed
    if f"{start:%Y-%m}" <= through:
        owed["course_fee", f"{start:%Y-%m}"] += 1
    day = start + timedelta(days=INCLUDED_DAYS[course["treatment_type"]])
    while day <= last:
        if f"{day:%Y-%m}" <= through:
            owed["day_fee", f"{day:%Y-%m}"] += 1
        day += timedelta(days=1)
    return owed


async def test_writes_during_an_issue_land_once_in_it_or_in_the_next(
    app: FastAPI, api: MakeApi
) -> None:
    """Visits and end-date corrections written while May is being issued: each is billed
    in May's statement or, as an adjustment, in June's - never lost, never twice."""
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    region = await api("region")
    active = [
        await make_course(hospital, gentofte, start_date=f"2024-05-{2 + n:02d}",
                          patient_cpr=cpr(n + 1))
        for n in range(4)
    ]  # fmt: skip
    done = [
        await completed_course(
            hospital, gentofte, f"2024-05-{3 + n:02d}", "2024-05-20",
            ("antibiotics", "fluids", "pump")[n % 3], cpr(n + 10),
        )
        for n in range(4)
    ]  # fmt: skip
    for course in active:  # one given dose each before the issue starts
        r = await gentofte.post(
            "/api/v1/visits/batch",
            json={"visits": [visit("2024-05-08T09:00:00+02:00") | {"course_id": course["id"]}]},
        )
        assert r.status_code == 200 and r.json()["created"] == 1, r.text

    rng = random.Random(3)
    end_dates = [f"2024-05-{d:02d}" for d in range(15, 32)] + [
        f"2024-06-{d:02d}" for d in range(1, 15)
    ]

    def small_write() -> Awaitable[httpx.Response]:
        if rng.random() < 0.6:
            course = rng.choice(active)
            day = date(2024, 5, 8) + timedelta(days=rng.randrange(0, 37))  # 8 May - 13 June
            items = [
                visit(f"{day}T{hour:02d}:00:00+02:00", administered=rng.random() < 0.8)
                | {"course_id": course["id"]}
                for hour in rng.sample(range(8, 22), 2)
            ]
            return gentofte.post("/api/v1/visits/batch", json={"visits": items})
        course = rng.choice(done)
        return gentofte.post(
            f"/api/v1/courses/{course['id']}/corrections",
            json={"end_date": rng.choice(end_dates), "reason": "the end date was wrong"},
        )

    issue_task = asyncio.ensure_future(region.post("/api/v1/settlements/2024-05/issue"))

    async def writer() -> list[httpx.Response]:
        """Writes one after another for as long as the issue runs (at most 20)."""
        done_writes = [await small_write()]
        while not issue_task.done() and len(done_writes) < 20:
            done_writes.append(await small_write())
        return done_writes

    writers = await asyncio.gather(*(writer() for _ in range(6)))
    issued_may = await issue_task
    assert issued_may.status_code == 201, issued_may.text
    writes = [r for batch in writers for r in batch]
    writes += await asyncio.gather(*(small_write() for _ in range(6)))  # after the issue
    no_server_errors(writes)
    for r in writes:  # a correction to the end date it already has is refused, nothing else
        assert r.status_code == 200 or r.json()["code"] == "nothing_to_correct", r.text

    at(app, "2024-07-15T10:00:00+02:00")
    june = await region.post("/api/v1/settlements/2024-06/issue")
    assert june.status_code == 201, june.text

    billed: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    for period in ("2024-05", "2024-06"):
        statement = (await region.get(f"/api/v1/settlements/{period}/statements/157")).json()
        assert statement["state"] == "issued"
        for line in statement["lines"]:
            billed[line["course_id"]][line["kind"], line["period"]] += line["quantity"]
    for course in active + done:
        final = (await region.get(f"/api/v1/courses/{course['id']}")).json()
        visits = (await region.get(f"/api/v1/courses/{course['id']}/visits")).json()
        given = [date.fromisoformat(v["local_date"]) for v in visits if v["administered"]]
        owed = _owed(final, max(given, default=None), "2024-06")
        assert +billed[course["id"]] == +owed, (final["status"], final["end_date"])
    draft = (await region.get("/api/v1/settlements/2024-07/statements/157")).json()
    assert draft["state"] == "draft"
    assert [line for line in draft["lines"] if line["adjustment"]] == []
    assert draft["lines"] == []  # nothing dated July: nothing is owed for it


# --- the retry middleware on its own ------------------------------------------------------


class _PgError(Exception):
    """Stands in for asyncpg's adapted error: it carries the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("could not serialize access")
        self.sqlstate = sqlstate


def _db_error(sqlstate: str) -> DBAPIError:
    return DBAPIError("UPDATE patients SET cpr = '0101501234'", None, _PgError(sqlstate))


async def _call(
    app: Callable[[Scope, Receive, Send], Awaitable[None]], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Drive an ASGI app with a body sent in two chunks; return status, headers, body."""
    chunks = [body[: len(body) // 2], body[len(body) // 2 :]]
    sent: list[Message] = []

    async def receive() -> Message:
        if chunks:
            part = chunks.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(chunks)}
        await asyncio.sleep(3600)  # the client stays connected
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/x", "headers": []}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    return start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def _downstream(failures: list[BaseException | None]) -> tuple[Any, list[bytes]]:
    """An app that reads the whole body, then raises the next failure (None: answers 200)."""
    bodies: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        bodies.append(body)
        failure = failures.pop(0) if failures else None
        if failure is not None:
            raise failure
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app, bodies


async def test_a_serialization_failure_is_retried_with_the_same_body() -> None:
    app, bodies = _downstream([_db_error("40001"), _db_error("40P01")])
    body = json.dumps({"visits": [{"id": str(uuid.uuid4())}] * 50}).encode()
    status, _, answer = await _call(TransactionRetryMiddleware(app, base_delay=0.001), body)
    assert (status, answer) == (200, b"ok")
    assert bodies == [body, body, body]


async def test_retries_give_up_with_503_and_no_sql() -> None:
    app, bodies = _downstream([_db_error("40001")] * 10)
    status, headers, answer = await _call(
        TransactionRetryMiddleware(app, attempts=3, base_delay=0.001), b"{}"
    )
    assert status == 503 and len(bodies) == 3
    assert headers["retry-after"] == "1"
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(answer)
    assert problem["code"] == "retry_exhausted" and problem["status"] == 503
    assert "0101501234" not in answer.decode() and "UPDATE" not in answer.decode()


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")),
        _db_error("23505"),  # a unique violation is an answer, not a race to run again
        _db_error("55P03"),  # lock_not_available: a NOWAIT refusal is an answer, not a race
        ValueError("not a database error"),
    ],
)
async def test_other_errors_are_not_retried(error: BaseException) -> None:
    app, bodies = _downstream([error, None])
    with pytest.raises(type(error)):
        await _call(TransactionRetryMiddleware(app, base_delay=0.001), b"{}")
    assert len(bodies) == 1
    assert not is_retryable(error)


async def test_no_retry_once_the_response_has_started() -> None:
    attempts = 0

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal attempts
        attempts += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise _db_error("40001")

    with pytest.raises(DBAPIError):
        await _call(TransactionRetryMiddleware(app, base_delay=0.001), b"{}")
    assert attempts == 1


# --- real PostgreSQL errors ----------------------------------------------------------------


@pg_only
async def test_real_serialization_failure_and_deadlock_are_recognised(app: FastAPI) -> None:
    """Raised by PostgreSQL through asyncpg and SQLAlchemy, not constructed by hand."""
    engine = app.state.engine
    row = "UPDATE municipalities SET name = name WHERE code = :code"

    # 40001: two REPEATABLE READ transactions update the row the other one read.
    async with engine.connect() as a, engine.connect() as b:
        await a.execution_options(isolation_level="REPEATABLE READ")
        await b.execution_options(isolation_level="REPEATABLE READ")
        await a.begin()
        await b.begin()
        await a.execute(text("SELECT 1 FROM municipalities"))
        await b.execute(text("SELECT 1 FROM municipalities"))
        await a.execute(text(row), {"code": "157"})
        waiting = asyncio.ensure_future(b.execute(text(row), {"code": "157"}))
        await asyncio.sleep(0.2)
        await a.commit()
        with pytest.raises(DBAPIError) as serialization:
            await waiting
        await b.rollback()
    assert sqlstate_of(serialization.value) == "40001"
    assert is_retryable(serialization.value)

    # 40P01: two transactions take two rows in opposite orders.
    async with engine.connect() as a, engine.connect() as b:
        await a.begin()
        await b.begin()
        await a.execute(text(row), {"code": "157"})
        await b.execute(text(row), {"code": "101"})
        outcomes = await asyncio.gather(
            a.execute(text(row), {"code": "101"}),
            b.execute(text(row), {"code": "157"}),
            return_exceptions=True,
        )
        await a.rollback()
        await b.rollback()
    (deadlock,) = [o for o in outcomes if isinstance(o, BaseException)]
    assert isinstance(deadlock, DBAPIError)
    assert sqlstate_of(deadlock) == "40P01" and is_retryable(deadlock)


@pg_only
async def test_a_deadlocked_request_is_run_again_through_the_app(
    app: FastAPI, api: MakeApi
) -> None:
    """Two requests lock two rows in opposite orders; PostgreSQL aborts one, the middleware
    runs it again, and both answer 200 with their work stored exactly once."""
    attempts: list[str] = []
    holding = asyncio.Event()
    held = 0

    @app.post("/test/lock-both/{first}/{second}")
    async def lock_both(first: str, second: str, session: Session) -> dict[str, int]:
        nonlocal held
        attempts.append(first)
        await _touch(session, first)
        held += 1
        if held >= 2:
            holding.set()
        await asyncio.wait_for(holding.wait(), 5)  # both hold their first row
        await _touch(session, second)
        await audit.record(session, None, app.state.clock.now(), "test.lock", "municipality")
        return {"attempt": len(attempts)}

    client = await api("region")
    responses = await asyncio.gather(
        client.post("/test/lock-both/157/101"), client.post("/test/lock-both/101/157")
    )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert len(attempts) == 3  # the deadlock victim ran twice
    assert await audits(app, "test.lock") == 2


async def _touch(session: AsyncSession, code: str) -> None:
    await session.execute(
        text("UPDATE municipalities SET name = name WHERE code = :code"), {"code": code}
    )
