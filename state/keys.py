"""The state key: HMAC record keys for the audit log and encryption of the little gomme must keep.

The key comes from `GOMME_SECRET_KEY`, or a key file created with mode 0600 on first use.
Losing it means audit lookups by record id and resumption of pending changes stop working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENV_VAR = "GOMME_SECRET_KEY"
MIN_SECRET_BYTES = 16


class SecretKeyError(Exception):
    """The secret key is missing, too short or unreadable."""


class Keyring:
    """Derives every key gomme needs from one secret, each for one purpose (HKDF info labels)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise SecretKeyError(f"the secret key must be at least {MIN_SECRET_BYTES} bytes")
        self._hmac_key = _derive(secret, b"gomme audit record key v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"gomme state sealing v1")))

    @classmethod
    def load(cls, key_file: Path, env: Mapping[str, str] = os.environ) -> Keyring:
        """From the environment if set, else from `key_file`, creating it (0600) on first run."""
        if env.get(ENV_VAR):
            return cls(env[ENV_VAR].encode())
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            return cls(key_file.read_text().strip().encode())
        except OSError as exc:
            raise SecretKeyError(f"cannot read the key file {key_file}: {exc.strerror}") from None

    def record_key(self, ref: str) -> str:
        """HMAC-SHA256 of `crm:object:id`: lets auditors look a record up without storing its id."""
        return hmac.new(self._hmac_key, ref.encode(), hashlib.sha256).hexdigest()

    def email_key(self, email: str) -> str:
        """HMAC of a normalised email address, for the suppression list."""
        return hmac.new(self._hmac_key, b"email:" + normalise_email(email).encode(), hashlib.sha256).hexdigest()

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def unseal(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError("state was written with another secret key; restore the original key") from None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
