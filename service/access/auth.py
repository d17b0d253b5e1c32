"""API keys and the principal behind a request.

A key is 32 random bytes (URL-safe text with a short prefix to recognise it); only its
SHA-256 is stored. A plain hash suffices because keys are random, not chosen by people.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal, get_args

Role = Literal["hospital", "municipality", "region", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
KEY_PREFIX = "ivs_"


@dataclass(frozen=True)
class Principal:
    """The API client behind a request: its role, and the organisation (hospital or
    municipality code) whose objects it may see; None for the region and admin."""

    client_id: uuid.UUID
    name: str
    role: Role
    org_code: str | None


def new_api_key() -> str:
    """A fresh key, shown once to whoever creates the client."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    """What is stored of a key, and looked up on every request."""
    return hashlib.sha256(key.encode()).hexdigest()
