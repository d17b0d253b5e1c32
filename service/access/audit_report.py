"""Who looked at a patient's data: the audit log of one patient, found by CPR number.

The CPR is turned into its keyed look-up hash and so into the patient's pseudonymous id;
the number itself is never stored, logged or printed. Reading the audit log is audited
too (`audit.read`), with the operator at the command line as the one who asked.
"""

from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.access import audit
from service.access.vault import CprVault, load_vault
from service.domain.cpr import normalize_cpr
from service.kit.clock import LOCAL_TZ, Clock
from service.kit.db import standalone_session
from service.kit.settings import Settings
from service.models import AuditEvent, Patient

READ_ACTION = "audit.read"


class UnknownPatient(Exception):
    """No patient is stored with this CPR number (the message does not contain it)."""


@dataclass(frozen=True)
class Access:
    """One audit row about the patient."""

    at: datetime
    client_id: uuid.UUID | None
    client_name: str | None
    role: str | None
    org_code: str | None
    action: str
    object_type: str
    object_id: str | None
    request_id: str | None
    detail: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        """The row for `--json`: instants in ISO 8601, ids as text."""
        return {
            "at": self.at.isoformat(),
            "client_id": str(self.client_id) if self.client_id else None,
            "client_name": self.client_name,
            "role": self.role,
            "org_code": self.org_code,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "request_id": self.request_id,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PatientAudit:
    """The patient's pseudonymous id and every audit row about them, oldest first."""

    patient_id: uuid.UUID
    accesses: list[Access]

    def as_json(self) -> dict[str, Any]:
        """The report for `--json`."""
        return {
            "patient_id": str(self.patient_id),
            "accesses": [a.as_json() for a in self.accesses],
        }


def operator() -> str | None:
    """Who runs the command, as the operating system knows them (if it does)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


async def patient_audit(
    session: AsyncSession, vault: CprVault, cpr: str, at: datetime, by: str | None
) -> PatientAudit:
    """Every audit row about the patient, oldest first; then the `audit.read` row of this
    reading. Raises InvalidCpr for a malformed number, UnknownPatient for an unknown one
    (the attempt is audited all the same, by the number's keyed hash)."""
    cpr_hash = vault.lookup_hash(normalize_cpr(cpr))
    patient_id = await session.scalar(select(Patient.id).where(Patient.cpr_hash == cpr_hash))
    if patient_id is None:
        await audit.record(
            session, None, at, READ_ACTION, "patient",
            detail={"operator": by, "found": False, "cpr_hash": cpr_hash},
        )  # fmt: skip
        raise UnknownPatient("no patient with this CPR number is stored")
    rows = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == patient_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    ).all()
    await audit.record(
        session, None, at, READ_ACTION, "patient", patient_id, patient_id,
        detail={"operator": by, "rows": len(rows)},
    )  # fmt: skip
    names = [f.name for f in fields(Access)]
    accesses = [Access(**{name: getattr(e, name) for name in names}) for e in rows]
    return PatientAudit(patient_id, accesses)


async def run(settings: Settings, cpr: str) -> PatientAudit:
    """The report, committed with its own `audit.read` row (also when the patient is unknown)."""
    async with standalone_session(settings) as session:
        try:
            return await patient_audit(
                session, load_vault(settings), cpr, Clock(settings.now).now(), operator()
            )
        finally:
            # The reading is recorded whether or not the patient was found.
            await session.commit()


def _who(access: Access) -> str:
    if access.client_name is not None:
        return access.client_name
    operator_name = (access.detail or {}).get("operator")
    return f"command line ({operator_name})" if operator_name else "command line"


def _what(access: Access) -> str:
    detail = access.detail or {}
    if access.action == audit.DENIED:
        return f"{access.action} {detail.get('status')} {detail.get('code')}"
    return f"{access.action} (CPR shown)" if detail.get("cpr_shown") else access.action


def render_table(report: PatientAudit) -> str:
    """A readable table, times in Danish local time."""
    header = ("time", "client", "role", "org", "action", "object", "request id")
    rows = [
        (
            a.at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S"),
            _who(a),
            a.role or "-",
            a.org_code or "-",
            _what(a),
            f"{a.object_type} {a.object_id}" if a.object_id else a.object_type,
            a.request_id or "-",
        )
        for a in report.accesses
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"patient {report.patient_id}: {len(rows)} audit event(s)"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
              for row in [header, *rows]]  # fmt: skip
    return "\n".join(lines)
