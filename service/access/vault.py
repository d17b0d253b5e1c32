"""CPR at rest: AES-256-GCM encryption, and an HMAC-SHA256 look-up hash with its own key.

Keys come from settings (base64, 32 bytes each). For the embedded default a local key file
is created on first start; losing it makes the stored CPR numbers unreadable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.kit.settings import Settings

log = logging.getLogger("ivsettle")

_KEY_VERSION = b"\x01"


@dataclass(frozen=True)
class CprVault:
    encryption_key: bytes
    hash_key: bytes

    def encrypt(self, cpr: str) -> bytes:
        nonce = os.urandom(12)
        return _KEY_VERSION + nonce + AESGCM(self.encryption_key).encrypt(nonce, cpr.encode(), None)

    def decrypt(self, blob: bytes) -> str:
        if blob[:1] != _KEY_VERSION:
            raise ValueError("unknown CPR key version")
        nonce, ciphertext = blob[1:13], blob[13:]
        return AESGCM(self.encryption_key).decrypt(nonce, ciphertext, None).decode()

    def lookup_hash(self, cpr: str) -> str:
        return hmac.new(self.hash_key, cpr.encode(), hashlib.sha256).hexdigest()

    def keyed_hash(self, data: bytes) -> str:
        """A keyed hash of any bytes (payloads that contain a CPR number)."""
        return hmac.new(self.hash_key, data, hashlib.sha256).hexdigest()


def _decode_key(text: str, name: str) -> bytes:
    key = base64.b64decode(text)
    if len(key) != 32:
        raise ValueError(f"{name} must be 32 bytes, base64-encoded")
    return key


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def load_vault(settings: Settings) -> CprVault:
    """The keys from settings, else from the key file (created on first start, and said so)."""
    if settings.cpr_key and settings.cpr_hash_key:
        return CprVault(
            _decode_key(settings.cpr_key, "IVSETTLE_CPR_KEY"),
            _decode_key(settings.cpr_hash_key, "IVSETTLE_CPR_HASH_KEY"),
        )
    path = settings.key_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"cpr_key": new_key_text(), "cpr_hash_key": new_key_text()}, handle)
        log.warning(
            "created a new local key file for CPR encryption at %s; back it up with the "
            "database (without it the stored CPR numbers cannot be read). In production set "
            "IVSETTLE_CPR_KEY and IVSETTLE_CPR_HASH_KEY instead.",
            path,
        )
    keys = json.loads(path.read_text())
    return CprVault(
        _decode_key(keys["cpr_key"], "cpr_key"), _decode_key(keys["cpr_hash_key"], "cpr_hash_key")
    )
