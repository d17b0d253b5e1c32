"""Patient data: CPR never in logs or in responses of roles that may not see it; the audit
log records reads and writes and cannot be changed."""

from __future__ import annotations

import logging
import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from service.models import AuditEvent, Patient
from tests.conftest import MakeApi
from tests.factories import CPR_A, make_course, referral_payload, visit


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
        async with app.state.sessionmaker() as session:
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
    async with app.state.sessionmaker() as session:
        await session.execute(text(refuse))
        await session.commit()
    try:
        r = await hospital.post("/api/v1/referrals", json=referral_payload())
    finally:
        async with app.state.sessionmaker() as session:
            await session.execute(text(undo))
            await session.commit()
    assert r.status_code == 500
    assert r.json()["code"] == "internal_error"
    assert "Traceback" not in r.text and CPR_A not in r.text
    async with app.state.sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM referrals"))).scalar() == 0
