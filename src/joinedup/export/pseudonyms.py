"""Pseudonyms for people: keyed HMAC-SHA-256 of the Patient id.

Stable under one key (the same person gets the same pseudonym in every snapshot, so analysts
can follow people across snapshots), unlinkable across keys, and reversible only by the key
holder, who can recompute the pseudonym of every id in the record (RFC 2104 HMAC; NIST
SP 800-107 section 5.3.4 for truncating an HMAC to 128 bits, which still leaves collisions
negligible for any population).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from joinedup.config import Settings, get_settings

#: Hex digits kept: 128 bits.
PSEUDONYM_LENGTH = 32
#: Shortest key accepted: HMAC-SHA-256 keys shorter than the hash output weaken it (RFC 2104 §3).
MIN_KEY_BYTES = 32
DEMO_KEY_FILE = "pseudonym.key"


class MissingPseudonymKey(RuntimeError):
    """No (or a too short) pseudonymisation key is configured."""


class Pseudonymiser:
    """Turns Patient ids into pseudonyms under one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise MissingPseudonymKey(
                f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes; generate one with "
                '`python -c "import secrets; print(secrets.token_hex(32))"` and set '
                "JOINEDUP_PSEUDONYM_KEY"
            )
        self._key = key
        self.patient = lru_cache(maxsize=65_536)(self._patient)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Pseudonymiser:
        """The configured key; refuses to run without one (there is no built-in default)."""
        secret = (settings or get_settings()).pseudonym_key
        if secret is None or not secret.get_secret_value():
            raise MissingPseudonymKey(
                "de-identified output needs a secret pseudonym key: set JOINEDUP_PSEUDONYM_KEY "
                "(64 hex digits, e.g. from "
                '`python -c "import secrets; print(secrets.token_hex(32))"`) '
                "and keep it out of the analysts' reach"
            )
        return cls(secret.get_secret_value().encode())

    @classmethod
    def for_demo(cls, data_dir: Path) -> Pseudonymiser:
        """The documented development default: a random key generated once and kept in
        ``data_dir/pseudonym.key`` (owner-only), for ``joinedup demo`` on synthetic data.
        Never used unless a caller chooses it explicitly."""
        path = data_dir / DEMO_KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as key_file:
                key_file.write(secrets.token_hex(MIN_KEY_BYTES))
        return cls(path.read_text().strip().encode())

    def _patient(self, patient_id: str) -> str:
        digest = hmac.new(self._key, f"Patient/{patient_id}".encode(), hashlib.sha256)
        return digest.hexdigest()[:PSEUDONYM_LENGTH]

    def fingerprint(self) -> str:
        """Names the key in a manifest (so two snapshots can be seen to share a key) without
        revealing it or any pseudonym."""
        return hmac.new(self._key, b"joinedup key fingerprint", hashlib.sha256).hexdigest()[:16]
