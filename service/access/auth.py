"""API keys and the principal behind a request.

A key is 32 random bytes (URL-safe text with a short prefix to recognise it); only its
SHA-256 is stored. A plain hash suffices because keys are random, not chosen by people.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

Role = Literal["hospital", "municipality", "region", "admin"]
ROLES: tuple[Role, ...] = ("hospital", "municipality", "region", "admin")
KEY_PREFIX = "ivs_"


@dataclass(frozen=True)
class Principal:
    client_id: uuid.UUID
    name: str
    role: Role
    org_code: str | None

    def is_(self, *roles: Role) -> bool:
        return self.role in roles


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
