"""Hash chains that make history tamper-evident (pure: no I/O).

Two chains, each link SHA-256 over the canonical JSON (RFC 8785) of a link's content and
the hash of the link before it (GENESIS for the first):

- the issue chain: one link per settlement issue, covering its period and each
  statement's number and content hash (`issue_link`);
- the audit chain: one link per audit row, covering every column but its counter id
  (`audit_link`), in the order of its `chain_seq`.

A changed, removed or inserted link breaks every hash after it, so anyone holding a later
hash (every municipality holds one: it is printed on their statements) can show that
nothing before it changed (`ivsettle verify --expect-head`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

GENESIS = "0" * 64
"""The hash a chain's first link extends."""


def link(previous: str, content: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the JCS form of {"previous": previous, "content": content}."""
    return hashlib.sha256(rfc8785.dumps({"previous": previous, "content": content})).hexdigest()


def issue_link(
    previous: str,
    period: str,
    statements: Iterable[tuple[str, int, int, str]],
    audit_head: tuple[int, str] | None,
) -> str:
    """An issue's chain hash: its period, its statements as (municipality code, number
    year, number, content hash) in municipality order, and the audit chain's head (seq,
    hash) when it was made (None for issues chained by the migration), after `previous`.
    So the issue chain that municipalities hold anchors the audit chain too."""
    return link(
        previous,
        {
            "period": period,
            "audit_head": None if audit_head is None else list(audit_head),
            "statements": [
                {"municipality_code": code, "number_year": year, "number": number, "hash": sha}
                for code, year, number, sha in sorted(statements)
            ],
        },
    )


AUDIT_FIELDS = (
    "at",
    "client_id",
    "client_name",
    "role",
    "org_code",
    "action",
    "object_type",
    "object_id",
    "patient_id",
    "request_id",
    "detail",
)
"""The audit row's columns a link covers (not its id: a counter the database draws)."""


def audit_link(previous: str, seq: int, row: Mapping[str, Any]) -> str:
    """An audit row's chain hash, its place `seq` and AUDIT_FIELDS of `row` after `previous`."""
    content: dict[str, Any] = {"seq": seq}
    for name in AUDIT_FIELDS:
        content[name] = _canonical(row.get(name))
    return link(previous, content)


def _canonical(value: Any) -> Any:
    """A column's value as JSON: an instant as UTC to the microsecond, a UUID as text,
    a document as it reads back from its JSON column."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict | list | tuple):
        return json.loads(json.dumps(value))  # as a JSON column gives it back
    return value


def draft_digest(period: str, statements: Mapping[str, str]) -> str:
    """One hash for a period's draft as approved: SHA-256 of the JCS form of its period and
    each municipality's statement hash (code → hash). Two drafts with one digest have the
    same content, statement for statement."""
    return hashlib.sha256(
        rfc8785.dumps({"period": period, "statements": dict(sorted(statements.items()))})
    ).hexdigest()
