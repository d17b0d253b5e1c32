"""Patient data: CPR never in logs, error messages or responses of roles that may not see
it; the audit log records reads, searches, writes, exports and refused attempts, cannot be
changed, fails the request when it cannot be written, and answers "who looked at this
patient" (`ivsettle audit --patient`)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from typer.testing import CliRunner, Result

from service.access import audit as service_audit
from service.access import audit_report
from service.cli import app as cli_app
from service.kit.settings import get_settings
from service.main import create_app
from service.models import ApiClient, AuditEvent, DeniedAttempt, Patient
from tests.support.api import MakeApi, new_api
from tests.support.config import NOW, service_env, settings_for
from tests.support.cpr_guard import CPR_GUARD, CprGuard
from tests.support.databases import migrated_sqlite, owner_sessions
from tests.support.factories import (
    CPR_A,
    CPR_B,
    make_course,
    make_referral,
    referral_payload,
    visit,
)


async def test_cpr_never_reaches_the_logs(
    api: MakeApi, caplog: pytest.LogCaptureFixture, app: FastAPI
) -> None:
    caplog.set_level(logging.DEBUG)
    app.state.engine.echo = True  # SQL echo too: parameters must stay hidden
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    await hospital.post(
        "/api/v1/referrals", json=referral_payload(patient_cpr="3213501234")
    )  # invalid
    await hospital.post("/api/v1/referrals", json=referral_payload())  # active course: 409
    await gentofte.post(
        f"/api/v1/courses/{course['id']}/visits", json=visit("2024-03-28T08:00:00+01:00")
    )
    await gentofte.get(f"/api/v1/courses/{course['id']}")
    assert caplog.records, "the SQL echo should have logged something"
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert CPR_A not in logged
    assert "3213501234" not in logged


async def test_cpr_is_encrypted_at_rest(api: MakeApi, app: FastAPI) -> None:
    await make_course(await api("hospital", "HGH"), await api("municipality", "157"))
    async with app.state.sessionmaker() as session:
        (patient,) = (await session.scalars(select(Patient))).all()
        assert CPR_A.encode() not in patient.cpr_encrypted
        assert CPR_A not in patient.cpr_hash
        assert app.state.vault.decrypt(patient.cpr_encrypted) == CPR_A
        rows = []
        for table in ("referrals", "courses", "audit_events"):
            rows += (await session.execute(text(f"SELECT * FROM {table}"))).all()
        dumped = " ".join(str(row) for row in rows)
        assert CPR_A not in dumped


async def test_reads_and_writes_are_audited(api: MakeApi, app: FastAPI) -> None:
    hospital = await api("hospital", "HGH")
    gentofte = await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    await gentofte.get(f"/api/v1/courses/{course['id']}", headers={"X-Request-ID": "req-audit-1"})
    await gentofte.post(
        f"/api/v1/courses/{course['id']}/visits", json=visit("2024-03-28T08:00:00+01:00")
    )
    async with app.state.sessionmaker() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all()
    actions = [e.action for e in events]
    for expected in (
        "referral.create",
        "referral.accept",
        "course.create",
        "course.read",
        "visit.record",
    ):
        assert expected in actions
    read = next(e for e in events if e.request_id == "req-audit-1")
    assert read.action == "course.read"
    assert read.object_id == course["id"]
    assert read.client_id == gentofte.client_id
    assert read.role == "municipality" and read.org_code == "157"
    assert read.patient_id == uuid.UUID(course["patient_id"])
    assert all(e.at is not None for e in events)


async def test_the_audit_log_is_append_only_in_the_database(api: MakeApi, app: FastAPI) -> None:
    await make_course(await api("hospital", "HGH"), await api("municipality", "157"))
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        async with owner_sessions(app) as sessions, sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))
            await session.rollback()
    async with app.state.sessionmaker() as session:
        assert (await session.scalar(select(AuditEvent.id).limit(1))) is not None


async def test_a_failed_audit_write_fails_the_request(api: MakeApi, app: FastAPI) -> None:
    hospital = await api("hospital", "HGH")
    postgres = app.state.engine.dialect.name == "postgresql"
    # Make every audit insert fail (a CHECK that no row passes), then undo it.
    refuse = (
        "ALTER TABLE audit_events ADD CONSTRAINT refuse_all CHECK (false) NOT VALID"
        if postgres
        else "CREATE TRIGGER refuse_all BEFORE INSERT ON audit_events "
        "BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    undo = (
        "ALTER TABLE audit_events DROP CONSTRAINT refuse_all"
        if postgres
        else "DROP TRIGGER refuse_all"
    )
    async with owner_sessions(app) as sessions:
        async with sessions() as session:
            await session.execute(text(refuse))
            await session.commit()
        try:
            r = await hospital.post("/api/v1/referrals", json=referral_payload())
        finally:
            async with sessions() as session:
                await session.execute(text(undo))
                await session.commit()
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert "Traceback" not in r.text and CPR_A not in r.text
    async with app.state.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM referrals"))).scalar() == 0


# --- the CPR guard of the whole run (tests/support/cpr_guard.py) ---------------------------


def test_the_cpr_guard_finds_a_leak_and_names_where_without_the_number() -> None:
    guard = CprGuard()
    guard.test = "tests/x.py::test_y"
    sent = httpx.Request("POST", "http://t/api/v1/referrals", json={"patient_cpr": "120782-1235"})
    guard.register_request(sent)
    assert guard.cprs == {CPR_B}

    def response(status: int, body: dict[str, object]) -> httpx.Response:
        return httpx.Response(status, json=body, request=sent)

    guard.check_response("hospital", response(201, {"patient_cpr": CPR_B}))  # its own: fine
    assert guard.problems() == []
    guard.check_response("hospital", response(409, {"detail": f"clash with {CPR_B}"}))
    guard.check_response("region", response(200, {"patient_cpr": "1207821235"}))
    handler = guard.log_handler()
    logger = logging.getLogger("tests.cpr_guard_demo")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("looked up %s", "120782-1235")
        logger.error("no args here", extra={"cpr": CPR_B})
        logger.info("an unrelated number 0101501234 is not a registered one")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    problems = guard.problems()
    text = "\n".join(problems)
    assert "hospital POST /api/v1/referrals -> 409" in text
    assert "region POST /api/v1/referrals -> 200" in text
    assert "field 'patient_cpr' set in body of region" in text
    assert "log tests.cpr_guard_demo WARNING" in text and "log tests.cpr_guard_demo ERROR" in text
    assert "1207******" in text
    assert CPR_B not in text and "120782-1235" not in text
    assert "0101" not in text  # seen, but never given to the service: not a leak


def test_the_cpr_guard_of_this_run_is_live(cpr_guard: CprGuard) -> None:
    """The guard is installed for the whole run: the root logger passes DEBUG to it."""
    before = cpr_guard.scanned
    logging.getLogger("tests.cpr_guard_live").debug("a debug record")
    assert cpr_guard.scanned == before + 1


def test_the_sqlite_driver_never_traces_parameters(tmp_path: Path) -> None:
    """With the root logger at DEBUG (as the guard sets it), an app on SQLite must not let
    aiosqlite log its statements with their parameters."""
    create_app(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'trace.db'}", tmp_path))
    assert logging.getLogger().isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)


# --- what the service says back: never a CPR -----------------------------------------------

CPR_HYPHEN = "120782-1235"
UNSEEN_CPR = "3112999999"  # valid, and given to the service by no test


@pytest.mark.parametrize(
    "change",
    [
        {"patient_cpr": 1207821235},  # a number, not a string
        {"patient_cpr": [CPR_B]},
        {"patient_cpr": {"cpr": CPR_B}},
        {"patient_cpr": CPR_B + "0"},
        {"municipality_code": CPR_B},
        {"hospital_code": CPR_HYPHEN + "-too-long"},
        {"planned_days": CPR_B},
        {"visits_per_day": CPR_HYPHEN},
        {"expected_start_date": CPR_HYPHEN},
        {"administration_times": [CPR_HYPHEN]},
        {"treatment_type": CPR_B * 5},
        {"external_ref": f"{CPR_HYPHEN} with spaces"},
        {CPR_B: "an unknown field named by a CPR"},
        {f"cpr_{CPR_HYPHEN}": "an unknown field with a CPR in its name"},
        {"first_dose_given_in_hospital": CPR_B},
    ],
)
async def test_validation_errors_never_echo_a_cpr(api: MakeApi, change: dict[str, object]) -> None:
    CPR_GUARD.register(CPR_B)  # the run's guard checks these answers too
    hospital = await api("hospital", "HGH")
    r = await hospital.post("/api/v1/referrals", json=referral_payload(**change))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_request"
    assert r.json()["violations"]
    shown = r.text + str(r.headers)
    assert CPR_B not in shown and CPR_HYPHEN not in shown


async def test_a_cpr_in_the_url_or_headers_is_not_repeated(api: MakeApi, app: FastAPI) -> None:
    CPR_GUARD.register(CPR_B)
    hospital = await api("hospital", "HGH")
    region = await api("region")
    answers = [
        await hospital.get(f"/api/v1/referrals/{CPR_B}"),  # 422: not a UUID
        await hospital.get(f"/api/v1/no-such-route/{CPR_HYPHEN}"),  # 404
        await hospital.get("/api/v1/referrals", params={"status": CPR_B}),  # 422
        await hospital.get("/api/v1/referrals", headers={"X-Request-ID": f"req-{CPR_B}"}),
        await region.get(f"/api/v1/settlements/2024-03/statements/{CPR_B}"),  # 404
        await region.get(f"/api/v1/settlements/{CPR_HYPHEN}"),  # 422: not a period
    ]
    for r in answers:
        shown = r.text + str(r.headers)
        assert CPR_B not in shown and CPR_HYPHEN not in shown, (r.request.url.path, r.text)
    assert answers[0].json()["instance"] == "/api/v1/referrals/*"
    async with app.state.sessionmaker() as session:
        dumped = " ".join(str(row) for row in (await session.execute(select(AuditEvent))).all())
    assert CPR_B not in dumped and CPR_HYPHEN not in dumped


async def test_database_errors_never_carry_their_parameters(app: FastAPI) -> None:
    """Engines run with hide_parameters=True: a failed statement's message has no values."""
    async with app.state.sessionmaker() as session:
        row = {"id": uuid.uuid4(), "cpr_hash": UNSEEN_CPR, "cpr_encrypted": b"x", "created_at": NOW}
        await session.execute(insert(Patient), [row])
        with pytest.raises(IntegrityError) as caught:
            await session.execute(insert(Patient), [row | {"id": uuid.uuid4()}])
        await session.rollback()
    assert UNSEEN_CPR not in str(caught.value)
    assert "hide_parameters=True" in str(caught.value)


# --- the audit log: searches, denials, and a failed audit write ----------------------------


async def _audit_rows(app: FastAPI) -> list[AuditEvent]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_searches_are_audited_with_their_criteria_pseudonymised(
    api: MakeApi, app: FastAPI
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    region = await api("region")
    await make_course(hospital, gentofte)
    await region.get(
        "/api/v1/referrals",
        params={"status": "accepted", "municipality_code": "157"},
        headers={"X-Request-ID": "search-plain"},
    )
    r = await region.get(
        "/api/v1/referrals",
        params={"municipality_code": CPR_HYPHEN},  # a CPR typed into a filter
        headers={"X-Request-ID": "search-cpr"},
    )
    assert r.status_code == 200 and r.json() == []
    await gentofte.get(
        "/api/v1/courses",
        params={"status": "active", "started_from": "2024-03-01"},
        headers={"X-Request-ID": "search-courses"},
    )
    rows = {e.request_id: e for e in await _audit_rows(app) if e.action.endswith(".search")}
    assert rows["search-plain"].detail == {
        "status": "accepted",
        "municipality_code": "157",
        "count": 1,
    }
    assert rows["search-plain"].role == "region" and rows["search-plain"].patient_id is None
    assert rows["search-cpr"].detail == {
        "status": None,
        "municipality_code": {"cpr_hash": app.state.vault.lookup_hash(CPR_B)},
        "count": 0,
    }
    assert rows["search-courses"].action == "course.search"
    assert rows["search-courses"].detail == {
        "municipality_code": None,
        "status": "active",
        "started_from": "2024-03-01",
        "started_to": None,
        "number": None,
        "count": 1,
    }
    dumped = " ".join(str(vars(e)) for e in await _audit_rows(app))
    assert CPR_B not in dumped and CPR_HYPHEN not in dumped


async def test_denied_attempts_are_audited_in_their_own_transaction(
    api: MakeApi, app: FastAPI
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    copenhagen, region = await api("municipality", "101"), await api("region")
    course = await make_course(hospital, gentofte)
    patient_id = uuid.UUID(course["patient_id"])
    nobody = await api("region", key="ivs_not-a-key")
    revoked = await api("hospital", "HGH")
    async with app.state.sessionmaker() as session:
        client = await session.get(ApiClient, revoked.client_id)
        assert client is not None
        client.revoked_at = NOW
        await session.commit()

    def rid(name: str) -> dict[str, str]:
        return {"X-Request-ID": name}

    answers = {
        "no-key": await nobody.client.get(
            "/api/v1/courses", headers={"Authorization": "", **rid("no-key")}
        ),
        "bad-key": await nobody.get(f"/api/v1/courses/{course['id']}", headers=rid("bad-key")),
        "revoked": await revoked.post(
            "/api/v1/referrals", json=referral_payload(), headers=rid("revoked")
        ),
        "role": await region.post(
            f"/api/v1/referrals/{course['referral_id']}/accept",
            json={"start_date": "2024-03-28", "setting": "home", "note": CPR_B},
            headers=rid("role"),
        ),
        "foreign": await copenhagen.get(f"/api/v1/courses/{course['id']}", headers=rid("foreign")),
        "statement": await copenhagen.get(
            "/api/v1/settlements/2024-03/statements/157", headers=rid("statement")
        ),
    }
    assert {k: r.status_code for k, r in answers.items()} == {
        "no-key": 401,
        "bad-key": 401,
        "revoked": 401,
        "role": 403,
        "foreign": 404,
        "statement": 404,
    }
    denied = {e.request_id: e for e in await _audit_rows(app) if e.action == "access.denied"}
    # Without a known client (no key, an unknown one) a refusal is only counted, per address
    # and minute: an outsider must not grow the append-only log (tests/test_edge.py).
    assert set(denied) == set(answers) - {"no-key", "bad-key"}
    async with app.state.sessionmaker() as session:
        counted = {
            (row.address, row.code, row.status): row.count
            for row in (await session.scalars(select(DeniedAttempt))).all()
        }
    assert counted == {
        ("127.0.0.1", "missing_api_key", 401): 1,
        ("127.0.0.1", "invalid_api_key", 401): 1,
    }
    gone = denied["revoked"]
    assert gone.client_id == revoked.client_id and gone.detail is not None
    assert gone.detail["key"] == "revoked" and gone.detail["path"] == "/api/v1/referrals"
    role = denied["role"]
    assert (role.client_id, role.role, role.org_code) == (region.client_id, "region", None)
    assert role.detail is not None
    assert role.detail["path"] == "/api/v1/referrals/{referral_id}/accept"
    assert (role.detail["status"], role.detail["code"]) == (403, "role_not_allowed")
    assert (role.object_type, role.patient_id) == ("referral", patient_id)
    foreign = denied["foreign"]
    assert (foreign.client_id, foreign.org_code) == (copenhagen.client_id, "101")
    assert foreign.detail is not None and foreign.detail["code"] == "course_not_found"
    assert (foreign.object_id, foreign.patient_id) == (course["id"], patient_id)
    statement = denied["statement"]
    assert statement.detail is not None
    assert statement.detail["params"] == {"period": "2024-03", "municipality_code": "157"}
    # Never the body: the refused payloads held CPR numbers.
    dumped = " ".join(str(vars(e)) for e in denied.values())
    assert CPR_A not in dumped and CPR_B not in dumped


async def test_a_failed_audit_write_fails_reads_writes_and_denials(
    api: MakeApi, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    course = await make_course(hospital, gentofte)
    referral = await make_referral(hospital, patient_cpr=CPR_B)
    nobody = await api("municipality", "101")  # knows no course of Gentofte's: 404

    async def refuse(*args: object, **kwargs: object) -> None:
        raise OperationalError("INSERT INTO audit_events", None, Exception("disk I/O error"))

    monkeypatch.setattr(service_audit, "record_many", refuse)
    answers = [
        await gentofte.post(
            f"/api/v1/courses/{course['id']}/visits", json=visit("2024-03-28T08:00:00+01:00")
        ),
        await gentofte.post(
            f"/api/v1/referrals/{referral['id']}/accept",
            json={"start_date": "2024-03-28", "setting": "home"},
        ),
        await gentofte.post(
            f"/api/v1/courses/{course['id']}/complete",
            json={"end_date": "2024-04-05", "reason": "completed"},
        ),
        await gentofte.get(f"/api/v1/courses/{course['id']}"),
        # A denial of a known client is an audit row too (an outsider's is only counted).
        await nobody.get(f"/api/v1/courses/{uuid.uuid4()}"),
    ]
    monkeypatch.undo()
    for r in answers:
        assert r.status_code == 500, r.text
        assert r.json()["code"] == "internal_error"
        assert CPR_A not in r.text and CPR_B not in r.text
    # None of the work was stored.
    assert (await gentofte.get(f"/api/v1/courses/{course['id']}/visits")).json() == []
    assert (await hospital.get(f"/api/v1/referrals/{referral['id']}")).json()["status"] == "pending"
    assert (await gentofte.get(f"/api/v1/courses/{course['id']}")).json()["status"] == "active"


# --- `ivsettle audit --patient CPR` --------------------------------------------------------


async def test_the_patient_audit_lists_who_looked_and_is_itself_audited(
    api: MakeApi, app: FastAPI
) -> None:
    hospital, gentofte = await api("hospital", "HGH"), await api("municipality", "157")
    copenhagen, region = await api("municipality", "101"), await api("region")
    course = await make_course(hospital, gentofte)
    await make_course(hospital, gentofte, patient_cpr=CPR_B)  # another patient
    await region.get(f"/api/v1/courses/{course['id']}", headers={"X-Request-ID": "region-read"})
    await copenhagen.get(f"/api/v1/courses/{course['id']}", headers={"X-Request-ID": "peek"})

    async with app.state.sessionmaker() as session:
        report = await audit_report.patient_audit(
            session, app.state.vault, "010150-1234", NOW, "operator-olsen"
        )
        await session.commit()
    assert report.patient_id == uuid.UUID(course["patient_id"])
    seen = [(a.client_name, a.role, a.org_code, a.action) for a in report.accesses]
    assert seen[0] == ("test hospital HGH", "hospital", "HGH", "referral.create")
    assert ("test municipality 157", "municipality", "157", "referral.accept") in seen
    assert ("test region", "region", None, "course.read") in seen
    peek = next(a for a in report.accesses if a.request_id == "peek")
    assert (peek.action, peek.org_code, peek.object_id) == ("access.denied", "101", course["id"])
    assert [a.action for a in report.accesses].count("referral.create") == 1  # not the other
    table = audit_report.render_table(report)
    assert "access.denied 404 course_not_found" in table
    (region_line,) = [line for line in table.splitlines() if "region-read" in line]
    assert "course.read" in region_line and "CPR shown" not in region_line
    assert "course.read (CPR shown)" in table  # the municipality's read
    assert CPR_A not in table and CPR_A not in json.dumps(report.as_json())

    read = (await _audit_rows(app))[-1]
    assert (read.action, read.client_id, read.patient_id) == (
        "audit.read",
        None,
        report.patient_id,
    )
    assert read.detail == {"operator": "operator-olsen", "rows": len(report.accesses)}

    async with app.state.sessionmaker() as session:
        with pytest.raises(audit_report.UnknownPatient) as unknown:
            await audit_report.patient_audit(session, app.state.vault, "2902004000", NOW, None)
        await session.commit()
    assert "2902004000" not in str(unknown.value)
    miss = (await _audit_rows(app))[-1]
    assert (miss.action, miss.patient_id) == ("audit.read", None)
    assert miss.detail == {
        "operator": None,
        "found": False,
        "cpr_hash": app.state.vault.lookup_hash("2902004000"),
    }


@pytest.fixture
def audited_database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A SQLite file with one patient's course, read by the region; the CLI's environment."""
    settings = migrated_sqlite(tmp_path / "audit.db")

    async def fill() -> None:
        app = create_app(settings)
        parties = [
            await new_api(app, f"cli {role}", role, org, NOW, event_hooks=CPR_GUARD.hooks(role))
            for role, org in (("hospital", "HGH"), ("municipality", "157"), ("region", None))
        ]
        hospital, gentofte, region = parties
        course = await make_course(hospital, gentofte)
        await region.get(
            f"/api/v1/courses/{course['id']}", headers={"X-Request-ID": "region-looked"}
        )
        for party in parties:
            await party.client.aclose()
        await app.state.engine.dispose()

    asyncio.run(fill())
    get_settings.cache_clear()
    key_file = str(tmp_path / "unused-keys.json")
    yield service_env(settings.database_url, IVSETTLE_KEY_FILE=key_file)
    get_settings.cache_clear()


def _cli(env: dict[str, str], *args: str) -> Result:
    get_settings.cache_clear()  # the CLI reads its settings from this environment
    try:
        return CliRunner().invoke(cli_app, list(args), env=env)
    finally:
        get_settings.cache_clear()


def test_ivsettle_audit_patient_prints_a_table_or_json(audited_database: dict[str, str]) -> None:
    table = _cli(audited_database, "audit", "--patient", "010150-1234")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].startswith("patient ") and "audit event(s)" in lines[0]
    assert lines[1].split() == [
        "time",
        "client",
        "role",
        "org",
        "action",
        "object",
        "request",
        "id",
    ]
    assert any("cli region" in line and "region-looked" in line for line in lines)
    assert any("cli hospital" in line and "referral.create" in line for line in lines)
    assert CPR_A not in table.output and "010150-1234" not in table.output

    as_json = _cli(audited_database, "audit", "--patient", CPR_A, "--json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    actions = [a["action"] for a in report["accesses"]]
    assert {"referral.create", "referral.accept", "course.read"} <= set(actions)
    assert "audit.read" in actions  # the table above was read, and that was audited
    looked = next(a for a in report["accesses"] if a["request_id"] == "region-looked")
    assert (looked["client_name"], looked["role"], looked["action"]) == (
        "cli region",
        "region",
        "course.read",
    )
    assert CPR_A not in as_json.output


def test_ivsettle_audit_refuses_an_unknown_or_malformed_patient(
    audited_database: dict[str, str],
) -> None:
    unknown = _cli(audited_database, "audit", "--patient", CPR_B)
    assert unknown.exit_code == 1
    assert "unknown_patient" in unknown.stderr
    assert CPR_B not in unknown.output
    malformed = _cli(audited_database, "audit", "--patient", "3213501234")
    assert malformed.exit_code == 2
    assert "3213501234" not in malformed.output


def test_the_access_log_masks_a_cpr_in_a_url() -> None:
    """uvicorn's access log writes each request's URL (client input) through this filter."""
    from service.kit.requestctx import CprScrubbingFilter

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/referrals?q=0101501234", "1.1", 200), None,
    )  # fmt: skip
    assert CprScrubbingFilter().filter(record)
    assert "0101501234" not in record.getMessage()
    assert "/api/v1/referrals?q=**********" in record.getMessage()


async def test_api_answers_are_never_stored_by_a_cache(api: MakeApi) -> None:
    # An answer with a CPR number (to the treating municipality), a problem, a list and a
    # download: none may be kept by a proxy or a browser (issue 12, item 11).
    hospital, municipality = await api("hospital", "HGH"), await api("municipality", "157")
    course = await make_course(hospital, municipality)
    shown = await municipality.get(f"/api/v1/courses/{course['id']}")
    assert shown.json()["patient_cpr"] is not None
    answers = [
        shown,
        await municipality.get("/api/v1/courses"),
        await municipality.get("/api/v1/courses/00000000-0000-0000-0000-000000000000"),
        await municipality.get("/api/v1/settlements/2024-03/statements/157.csv"),
        await hospital.post("/api/v1/referrals", content=b"x" * 3_000_000),
    ]
    assert [r.headers.get("cache-control") for r in answers] == ["no-store"] * len(answers)
    assert [r.status_code for r in answers] == [200, 200, 404, 200, 413]
