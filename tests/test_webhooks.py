"""Events for finance systems (issue 14): the outbox, signed webhooks and the pull API.

A real receiver on 127.0.0.1 (tests/support/webhooks.py) verifies every webhook with its own
`standardwebhooks` check and dedups by `webhook-id`. In process, the test drives the app's
delivery worker round by round and moves the service's clock instead of sleeping; the
last test kills a real `ivsettle serve` while its webhook is out and starts another.
SQLite and PostgreSQL throughout; the clock stands at 2024-06-15.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from service.access.clients import create_client
from service.events.repository import EVENT_ORDER_LOCK_KEY
from service.kit.settings import Settings
from service.main import delivery_worker
from tests.support.api import Api, MakeApi
from tests.support.config import NOW, settings_for
from tests.support.factories import CPR_A, CPR_B, at, completed_course, issue, make_course
from tests.support.webhooks import Receiver
from tests.test_crashes import IVSETTLE, Server, client_on, poll, server_env

EVENTS = "/api/v1/events"
WEBHOOKS = "/api/v1/webhooks"
ALL_TYPES = ["period.issued", "statement.issued", "objection.raised", "objection.answered"]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """A short attempt timeout: a test's receiver answers at once or not at all."""
    return settings_for(database_url, tmp_path).model_copy(update={"webhook_timeout_seconds": 3.0})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


async def register(
    admin: Api, receiver: Receiver, types: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An endpoint for `receiver` (all event types unless told), its secret given to it."""
    body = {"url": receiver.url, "event_types": types or ALL_TYPES, **extra}
    r = await admin.post(WEBHOOKS, json=body)
    assert r.status_code == 201, r.text
    endpoint = dict(r.json())
    assert endpoint["secret"].startswith("whsec_")
    receiver.secret = endpoint["secret"]
    return endpoint


async def deliver_all(app: FastAPI) -> int:
    """Worker rounds until nothing is due now; how many deliveries were attempted."""
    attempted = 0
    async with delivery_worker(app) as worker:
        while taken := await worker.run_once():
            attempted += taken
    return attempted


async def deliveries(admin: Api, endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    r = await admin.get(f"{WEBHOOKS}/{endpoint['id']}/deliveries")
    assert r.status_code == 200, r.text
    return list(r.json())


async def pull_all(client: Api, limit: int = 1000) -> list[dict[str, Any]]:
    """Every event the client may pull, page by page."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        r = await client.get(EVENTS, params={"after": after, "limit": limit})
        assert r.status_code == 200, r.text
        page = r.json()
        events += page["events"]
        if not page["events"]:
            assert page["next_after"] == after
            return events
        assert page["next_after"] == page["events"][-1]["seq"]
        after = page["next_after"]


async def objection_to(municipality: Api, course: dict[str, Any]) -> dict[str, Any]:
    r = await municipality.post(
        "/api/v1/objections",
        json={"course_id": course["id"], "reason": "not_treated", "text": "ingen besøg"},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture
async def parties(api: MakeApi) -> tuple[Api, Api, Api, Api]:
    """Hospital, Gentofte (157), the region and the admin."""
    return (
        await api("hospital", "HGH"),
        await api("municipality", "157"),
        await api("region"),
        await api("admin"),
    )


async def test_an_issue_is_delivered_signed_and_verified_once_per_event(
    app: FastAPI, parties: tuple[Api, Api, Api, Api], receiver: Receiver
) -> None:
    hospital, gentofte, region, admin = parties
    endpoint = await register(admin, receiver, ["period.issued", "statement.issued"])
    assert "secret" not in (await admin.get(WEBHOOKS)).json()[0]  # shown once
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    await issue(region, "2024-03")

    assert await deliver_all(app) == 30  # period.issued and 29 × statement.issued
    assert all(r.verified for r in receiver.received), receiver.received[0].error
    ids = receiver.ids()
    assert sorted(ids) == sorted(f"evt_{n}" for n in range(1, 31))
    assert receiver.processed.keys() == set(ids)
    payloads = {p["id"]: p for p in receiver.payloads()}
    assert payloads["evt_1"]["type"] == "period.issued"
    assert payloads["evt_1"]["data"]["statements"] == 29
    assert payloads["evt_1"]["data"]["total"] == "6915.00"

    # Gentofte's statement as the event tells it, and as the API serves it.
    (gentofte_event,) = [
        p for p in payloads.values() if p["data"].get("municipality_code") == "157"
    ]
    statement = (await region.get(gentofte_event["data"]["links"]["statement"])).json()
    data = gentofte_event["data"]
    assert gentofte_event["type"] == "statement.issued"
    assert (data["total"], data["number"], data["number_year"]) == (
        statement["total"], statement["number"], 2024,
    )  # fmt: skip
    assert (data["hash"], data["chain_sha256"]) == (statement["hash"], statement["chain"]["issue"])
    pdf = await region.get(data["links"]["pdf"])
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"

    # A webhook's body is, byte for byte, the pull API's item.
    pulled = {e["id"]: e for e in await pull_all(region)}
    for received in receiver.received:
        assert json.loads(received.body) == pulled[received.webhook_id]
    listed = await deliveries(admin, endpoint)
    assert {d["status"] for d in listed} == {"delivered"} and len(listed) == 30
    assert {d["attempts"] for d in listed} == {1}
    assert await deliver_all(app) == 0  # nothing sent twice


async def test_a_receiver_down_for_a_while_gets_it_once_it_is_back(
    app: FastAPI, parties: tuple[Api, Api, Api, Api]
) -> None:
    """The port is closed: the attempts fail 5 s and 10 s apart (the service's clock moved,
    not slept); the receiver starts, and the next attempt delivers it."""
    hospital, gentofte, _, admin = parties
    down = Receiver()  # not started: connections to its port are refused
    endpoint = await register(admin, down, ["objection.raised"])
    course = await make_course(hospital, gentofte)
    await objection_to(gentofte, course)
    try:
        assert await deliver_all(app) == 1
        (pending,) = await deliveries(admin, endpoint)
        assert pending["status"] == "pending" and pending["attempts"] == 1
        assert "ConnectError" in pending["last_error"]
        assert datetime.fromisoformat(pending["next_attempt_at"]) == NOW + timedelta(seconds=5)
        assert await deliver_all(app) == 0  # not due yet

        at(app, (NOW + timedelta(seconds=5)).isoformat())
        assert await deliver_all(app) == 1
        (pending,) = await deliveries(admin, endpoint)
        assert pending["attempts"] == 2
        assert datetime.fromisoformat(pending["next_attempt_at"]) == NOW + timedelta(seconds=15)

        down.start()
        at(app, (NOW + timedelta(seconds=15)).isoformat())
        assert await deliver_all(app) == 1
        (delivered,) = await deliveries(admin, endpoint)
        assert delivered["status"] == "delivered" and delivered["attempts"] == 3
        assert delivered["next_attempt_at"] is None
        assert down.ids() == ["evt_1"] and down.received[0].verified
    finally:
        down.stop()


async def test_a_delivery_failing_for_a_day_is_dead_and_stays_pullable(
    app: FastAPI, parties: tuple[Api, Api, Api, Api], receiver: Receiver
) -> None:
    """Every attempt answered 500: waits of 5 s doubling to 1 h, the last attempt on the
    24 h mark, then dead; every attempt carried the same webhook-id."""
    hospital, gentofte, region, admin = parties
    receiver.mode = "fail"
    endpoint = await register(admin, receiver, ["objection.raised"])
    await objection_to(gentofte, await make_course(hospital, gentofte))
    attempts_at = []
    moment = NOW
    while True:
        at(app, moment.isoformat())
        assert await deliver_all(app) == 1
        attempts_at.append(moment)
        (delivery,) = await deliveries(admin, endpoint)
        if delivery["status"] == "dead":
            break
        assert delivery["last_error"] == "HTTP 500"
        moment = datetime.fromisoformat(delivery["next_attempt_at"])
    waits = [int((b - a).total_seconds()) for a, b in itertools.pairwise(attempts_at)]
    assert waits[:11] == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert set(waits[11:-1]) == {3600} and waits[-1] <= 3600
    assert attempts_at[-1] - attempts_at[0] == timedelta(hours=24)
    assert delivery["attempts"] == len(attempts_at) and delivery["last_error"] == "HTTP 500"
    assert set(receiver.ids()) == {"evt_1"} and len(receiver.ids()) == len(attempts_at)
    at(app, (moment + timedelta(days=2)).isoformat())
    assert await deliver_all(app) == 0  # dead: never again
    assert [e["id"] for e in await pull_all(region)] == ["evt_1"]


class FailAfterEvents:
    """Fails the transaction that wrote events, after the insert: at its next statement, or
    at its COMMIT (the engine's events, so whatever connection the use case writes on)."""

    def __init__(self, app: FastAPI, at: str) -> None:
        self.engine = app.state.engine.sync_engine
        self.at = at
        self.wrote: set[int] = set()
        self.fired: str | None = None

    def __enter__(self) -> FailAfterEvents:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    def _statement(self, conn: Connection, _c: Any, sql: str, *_: Any) -> None:
        if self.fired is None and id(conn) in self.wrote and self.at == "statement":
            self._fire(f"statement {' '.join(sql.split())[:60]}")
        if sql.lstrip().upper().startswith("INSERT INTO EVENTS"):
            self.wrote.add(id(conn))

    def _commit(self, conn: Connection) -> None:
        if self.fired is None and id(conn) in self.wrote:
            self._fire("COMMIT")

    def _fire(self, what: str) -> None:
        self.fired = what
        raise RuntimeError(f"injected failure at {what}")


async def _issue_march(region: Api) -> httpx.Response:
    return await region.post("/api/v1/settlements/2024-03/issue")


@pytest.mark.parametrize("fail_at", ["statement", "commit"])
@pytest.mark.parametrize("use_case", ["issue", "objection"])
async def test_a_transaction_that_rolls_back_emits_nothing(
    app: FastAPI,
    parties: tuple[Api, Api, Api, Api],
    receiver: Receiver,
    use_case: str,
    fail_at: str,
) -> None:
    """The issue, or the objection, fails after its events were inserted (the next SQL
    statement of its transaction, or its COMMIT, fails): a 5xx, no event, no delivery,
    nothing sent. Made again, it announces itself once."""
    hospital, gentofte, region, admin = parties
    await register(admin, receiver)
    course = await completed_course(
        hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A
    )

    async def attempt() -> httpx.Response:
        if use_case == "issue":
            return await _issue_march(region)
        return await gentofte.post(
            "/api/v1/objections",
            json={"course_id": course["id"], "reason": "not_treated", "text": "ingen besøg"},
        )

    with FailAfterEvents(app, fail_at) as failure:
        r = await attempt()
    assert failure.fired is not None, "the use case wrote no event"
    assert r.status_code >= 500, r.text
    async with app.state.sessionmaker() as session:
        for table in ("events", "webhook_deliveries"):
            assert await session.scalar(text(f"SELECT count(*) FROM {table}")) == 0, table
    assert await deliver_all(app) == 0
    assert receiver.received == []
    assert (await pull_all(region)) == []

    r = await attempt()
    assert r.status_code == 201, r.text
    expected = 30 if use_case == "issue" else 1
    assert await deliver_all(app) == expected
    pulled = await pull_all(region)
    assert len(pulled) == expected and sorted(receiver.ids()) == sorted(e["id"] for e in pulled)
    seqs = [e["seq"] for e in pulled]
    assert seqs == sorted(set(seqs)) and all(e["id"] == f"evt_{e['seq']}" for e in pulled)
    if app.state.settings.is_sqlite:  # PostgreSQL's sequence keeps the failed ids as a gap
        assert seqs == list(range(1, expected + 1))


async def test_the_pull_api_pages_by_cursor_and_a_municipality_pulls_its_own(
    parties: tuple[Api, Api, Api, Api], api: MakeApi
) -> None:
    hospital, gentofte, region, admin = parties
    copenhagen = await api("municipality", "101")
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    await completed_course(hospital, copenhagen, "2024-03-10", "2024-03-12", "fluids", CPR_B)
    await issue(region, "2024-03")
    course = await make_course(hospital, gentofte, start_date="2024-04-02")
    objection = await objection_to(gentofte, course)
    r = await region.post(
        f"/api/v1/objections/{objection['id']}/answer",
        json={"decision": "rejected", "note": "besøgene er registreret"},
    )
    assert r.status_code == 200, r.text

    everything = await pull_all(region)
    assert [e["seq"] for e in everything] == list(range(1, 33))
    assert [e["id"] for e in everything] == [f"evt_{n}" for n in range(1, 33)]
    assert await pull_all(region, limit=7) == everything  # pages of 7, nothing skipped or twice
    assert await pull_all(admin, limit=5) == everything
    assert [e["type"] for e in everything[-2:]] == ["objection.raised", "objection.answered"]
    answered = everything[-1]["data"]
    assert answered["status"] == "rejected" and answered["objection_id"] == objection["id"]
    assert answered["course_number"] == course["number"]
    assert "text" not in answered and "note" not in answered  # free text is fetched, audited
    r = await region.get(EVENTS, params={"after": 30, "limit": 1})
    assert [e["seq"] for e in r.json()["events"]] == [31] and r.json()["next_after"] == 31
    # A misspelt cursor is refused, not read as "from the start".
    r = await region.get(EVENTS, params={"afer": 30})
    assert r.status_code == 422 and r.json()["code"] == "invalid_request", r.text

    # A municipality pulls its own statement's and objections' events, strictly by its code.
    own = await pull_all(gentofte, limit=2)
    assert [e["type"] for e in own] == ["statement.issued", "objection.raised",
                                        "objection.answered"]  # fmt: skip
    assert {e["data"]["municipality_code"] for e in own} == {"157"}
    theirs = await pull_all(copenhagen)
    assert [(e["type"], e["data"]["municipality_code"]) for e in theirs] == [
        ("statement.issued", "101")
    ]
    assert (await hospital.get(EVENTS)).status_code == 403


async def test_registering_checks_the_url_once_per_url_and_deactivating_stops_sending(
    app: FastAPI, parties: tuple[Api, Api, Api, Api], receiver: Receiver
) -> None:
    hospital, gentofte, _, admin = parties
    for url in (
        "ftp://oekonomi.example.dk/hooks",
        "https://user:pw@oekonomi.example.dk/hooks",
        "oekonomi.example.dk/hooks",
        "https:///hooks",
        "https://oekonomi.example.dk/hooks#here",
        "https://økonomi.example.dk/hooks",
    ):
        r = await admin.post(WEBHOOKS, json={"url": url, "event_types": ["period.issued"]})
        assert r.status_code == 422 and r.json()["code"] == "invalid_webhook_url", (url, r.text)
        assert r.json()["violations"][0]["field"] == "url"
        assert url not in r.text  # never echoed
    r = await admin.post(
        WEBHOOKS, json={"url": receiver.url, "event_types": ALL_TYPES, "municipality_code": "999"}
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_municipality", r.text

    # Bound to Copenhagen: Gentofte's objection is not for it.
    copenhagen_hook = await register(admin, receiver, municipality_code="101")
    again = await admin.post(WEBHOOKS, json={"url": receiver.url, "event_types": ALL_TYPES})
    assert again.status_code == 409 and again.json()["code"] == "webhook_exists"
    assert again.json()["webhook_id"] == copenhagen_hook["id"]
    await objection_to(gentofte, await make_course(hospital, gentofte))
    assert await deliveries(admin, copenhagen_hook) == []

    # Deactivated: a pending delivery is not sent; registering the URL again is allowed.
    r = await admin.client.delete(f"{WEBHOOKS}/{copenhagen_hook['id']}")
    assert r.status_code == 200 and r.json()["active"] is False, r.text
    assert (await admin.client.delete(f"{WEBHOOKS}/{copenhagen_hook['id']}")).status_code == 200
    second = await register(admin, receiver)
    assert second["secret"] != copenhagen_hook["secret"]
    await objection_to(gentofte, await make_course(hospital, gentofte, patient_cpr=CPR_B))
    r = await admin.client.delete(f"{WEBHOOKS}/{second['id']}")
    assert r.status_code == 200
    assert await deliver_all(app) == 0 and receiver.received == []
    (waiting,) = await deliveries(admin, second)
    assert waiting["status"] == "pending" and waiting["attempts"] == 0
    assert [h["active"] for h in (await admin.get(WEBHOOKS)).json()] == [False, False]
    missing = await admin.client.delete(f"{WEBHOOKS}/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == "webhook_not_found"
    r = await admin.get(f"{WEBHOOKS}/{uuid.uuid4()}/deliveries")
    assert r.status_code == 404 and r.json()["code"] == "webhook_not_found"


async def test_two_workers_at_once_send_each_delivery_once(
    app: FastAPI, parties: tuple[Api, Api, Api, Api], receiver: Receiver
) -> None:
    """A second worker (process) skips what the first has taken (PostgreSQL: FOR UPDATE
    SKIP LOCKED, then the lease; SQLite: one writer)."""
    hospital, gentofte, region, admin = parties
    await register(admin, receiver)
    await completed_course(hospital, gentofte, "2024-03-28", "2024-04-05", "antibiotics", CPR_A)
    await issue(region, "2024-03")
    async with delivery_worker(app) as first, delivery_worker(app) as second:
        taken = await asyncio.gather(first.run_once(), second.run_once())
        while more := await first.run_once():
            taken.append(more)
    assert sum(taken) == 30
    assert sorted(receiver.ids()) == sorted(f"evt_{n}" for n in range(1, 31))


async def test_events_commit_in_the_order_of_their_ids(
    app: FastAPI, parties: tuple[Api, Api, Api, Api], settings: Settings
) -> None:
    """PostgreSQL hands out serial ids at the insert: without the outbox's lock a later id
    could commit first and a puller past it would skip the earlier one for good. With it,
    a second writer of events waits until the first has committed."""
    if settings.is_sqlite:
        pytest.skip("SQLite has one writer at a time: commits follow the ids already")
    hospital, gentofte, region, _ = parties
    course = await make_course(hospital, gentofte)
    async with app.state.engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": EVENT_ORDER_LOCK_KEY})
        raised = asyncio.create_task(objection_to(gentofte, course))
        await asyncio.sleep(0.5)
        assert not raised.done(), "an event was written past the outbox's lock"
        await holder.rollback()
    await asyncio.wait_for(raised, 10)
    assert [e["type"] for e in await pull_all(region)] == ["objection.raised"]


# --- a real server killed mid-delivery -----------------------------------------------------


@pytest.fixture
async def hanging_receiver() -> AsyncIterator[Receiver]:
    started = Receiver(mode="hang").start()
    yield started
    started.stop()


async def test_a_server_killed_mid_delivery_delivers_it_after_a_restart_under_the_same_id(
    settings: Settings, app: FastAPI, tmp_path: Path, hanging_receiver: Receiver
) -> None:
    """`ivsettle serve` sends a webhook; the receiver processes it and hangs before its
    answer; the server is killed (SIGKILL). A new server, started once the lease has run
    out (its clock an hour on), sends it again with the same webhook-id; the receiver
    dedups it, and the delivery is delivered."""
    receiver = hanging_receiver
    keys = {
        name: await create_client(settings, f"webhook test {name}", role, org)
        for name, role, org in (
            ("admin", "admin", None),
            ("hospital", "hospital", "HGH"),
            ("gentofte", "municipality", "157"),
        )
    }
    fast = {"IVSETTLE_WEBHOOK_POLL_SECONDS": "0.1", "IVSETTLE_WEBHOOKS": "true"}
    first = Server(server_env(settings, tmp_path, **fast), tmp_path, tmp_path / "1.log", IVSETTLE)
    later = (NOW + timedelta(hours=1)).isoformat()
    second = Server(
        server_env(settings, tmp_path, **fast, IVSETTLE_NOW=later),
        tmp_path, tmp_path / "2.log", IVSETTLE,
    )  # fmt: skip
    clients: list[httpx.AsyncClient] = []

    def client_for(server: Server, name: str, role: str, org: str | None) -> Api:
        return client_on(server, keys[name], role, org, clients)

    try:
        await first.start(keys["admin"])
        admin = client_for(first, "admin", "admin", None)
        endpoint = await register(admin, receiver, ["objection.raised"])
        gentofte = client_for(first, "gentofte", "municipality", "157")
        course = await make_course(client_for(first, "hospital", "hospital", "HGH"), gentofte)
        await objection_to(gentofte, course)
        await poll("the webhook to reach the receiver", 20, lambda: _received(receiver, 1))
        await first.kill()
        assert receiver.ids() == ["evt_1"] and "evt_1" in receiver.processed

        async with app.state.sessionmaker() as session:
            row = (
                await session.execute(text("SELECT status, attempts FROM webhook_deliveries"))
            ).one()
        assert tuple(row) == ("pending", 1)  # sent, never answered: leased, still owed

        receiver.mode = "ok"
        await second.start(keys["admin"])
        await poll("the webhook to be sent again", 20, lambda: _received(receiver, 2))
        admin = client_for(second, "admin", "admin", None)

        async def settled() -> list[dict[str, Any]] | None:
            found = await deliveries(admin, endpoint)
            return found if found[0]["status"] == "delivered" else None

        (delivered,) = await poll("the delivery to be recorded", 10, settled)
        assert delivered["attempts"] == 2
        assert receiver.ids() == ["evt_1", "evt_1"]  # the same webhook-id both times
        assert all(r.verified for r in receiver.received)
        assert list(receiver.processed) == ["evt_1"]  # deduplicated: processed once
        assert receiver.received[0].body == receiver.received[1].body
    finally:
        for client in clients:
            await client.aclose()
        await first.kill()
        await second.kill()


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.ids()) >= count
