"""The web pages' sign-in session: the API key, sealed in a cookie.

Why a sealed cookie (AES-256-GCM) and not a signed one or a server-side session:
- signing would leave the raw API key readable in the browser's cookie store, and a key is
  a bearer credential for the whole API for as long as it lives; sealed, the cookie is
  only good for these pages, and only until it expires (`MAX_AGE_SECONDS`);
- a server-side session would need a table and would make the pages stateful, while the
  API is stateless (any worker, any machine, one database).
The sealing key is derived (HKDF-SHA256, its own label) from the CPR look-up key every
worker already shares, so sessions survive restarts and work across workers without a
new secret to manage; rotating that key signs everybody out, which is what it should do.

The key inside is looked up on every request exactly as an API call's (service.deps), so a
revoked key is refused at once, whatever the cookie says.

Signing out revokes the session on the server too: each session has a random id (sealed
with the key), and sign-out stores it in `signed_out_sessions` until the cookie would have
expired anyway (then the row is pruned), so a copy of the cookie taken before sign-out is
refused after it. That is the one piece of state the pages keep, and it is small: one row
per session signed out in the last `MAX_AGE_SECONDS`.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends
it, the first guard against CSRF) and Secure when the page is served over https. Over plain
http (`./scripts/serve` on http://localhost, the tests on http://127.0.0.1) it is sent
without Secure, or the browser would drop it there; in production serve over https (behind
a TLS proxy, uvicorn takes the scheme from X-Forwarded-Proto), and the flag is set.
Chromium treats http://127.0.0.1 as a secure context, but httpx and other browsers on a
LAN address do not, so the flag follows the scheme rather than the host.

CSRF: each session carries a random token (sealed with the key); every form that changes
something (issue, sign-out) sends it back in a hidden field, checked in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from starlette.requests import Request
from starlette.responses import Response

COOKIE_NAME = "ivsettle_session"
MAX_AGE_SECONDS = 12 * 60 * 60
"""A working day: after it, sign in again (the browser drops the cookie when it closes)."""
_VERSION = b"\x02"  # 2: with a session id (cookies of version 1 sign in again)
_AAD = b"ivsettle web session v2"
CLOCK_SKEW_SECONDS = 60
"""Between workers: a cookie is honoured this much past its age limit."""


@dataclass(frozen=True)
class WebSession:
    api_key: str
    csrf_token: str
    issued_at: int  # Unix seconds, wall clock (not the service's business clock)
    session_id: str
    """Random; what sign-out revokes on the server (service.access.throttle.sign_out)."""

    def csrf_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf_token.encode())

    def expires_at(self, max_age: int = MAX_AGE_SECONDS) -> datetime:
        """When the cookie is refused by its own age (wall clock, UTC)."""
        return datetime.fromtimestamp(self.issued_at + max_age + CLOCK_SKEW_SECONDS, UTC)


def derive_cookie_key(secret: bytes) -> bytes:
    """The cookie's AES-256 key from a shared secret, by HKDF with its own label."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"ivsettle web session cookie v1"
    ).derive(secret)


class SessionSealer:
    """Seals and opens session cookies; `open` answers None for anything not sealed by this
    key, tampered with, malformed or too old."""

    def __init__(self, key: bytes, max_age: int = MAX_AGE_SECONDS) -> None:
        self._aead = AESGCM(key)
        self.max_age = max_age

    def new(self, api_key: str, now: float | None = None) -> WebSession:
        issued = int(time.time() if now is None else now)
        return WebSession(api_key, secrets.token_urlsafe(32), issued, secrets.token_urlsafe(24))

    def seal(self, session: WebSession) -> str:
        nonce = os.urandom(12)
        payload = json.dumps(
            {
                "k": session.api_key,
                "c": session.csrf_token,
                "t": session.issued_at,
                "i": session.session_id,
            },
            separators=(",", ":"),
        ).encode()
        blob = _VERSION + nonce + self._aead.encrypt(nonce, payload, _AAD)
        return base64.urlsafe_b64encode(blob).decode().rstrip("=")

    def open(self, value: str | None, now: float | None = None) -> WebSession | None:
        if not value:
            return None
        try:
            blob = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            if blob[:1] != _VERSION or len(blob) < 1 + 12 + 16:
                return None
            data = json.loads(self._aead.decrypt(blob[1:13], blob[13:], _AAD))
            session = WebSession(str(data["k"]), str(data["c"]), int(data["t"]), str(data["i"]))
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
            return None
        age = (time.time() if now is None else now) - session.issued_at
        if not 0 <= age <= self.max_age + CLOCK_SKEW_SECONDS:
            return None
        return session


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, sealed: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        sealed,
        path="/",  # no Max-Age: a browser-session cookie; the seal's age limits it too
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE_NAME, path="/", secure=is_https(request), httponly=True, samesite="strict"
    )
