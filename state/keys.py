"""The state key: HMAC record keys for the audit log and encryption of the little gomme must keep.

The key comes from `GOMME_SECRET_KEY`, or a key file created with mode 0600 when the state is new. The state
keeps the key's fingerprint (a derived value that reveals nothing of the key), so a lost or replaced key stops
every command instead of silently starting a new one: with another key, audit lookups by record id, sealed
ids of pending changes and the suppression list (erased people re-imported) would all stop matching.
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
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from gomme.state.models import AuditEvent, Change, Request, StateFact, Suppression

ENV_VAR = "GOMME_SECRET_KEY"
MIN_SECRET_BYTES = 16
KEY_FACT = "key_fingerprint"


class SecretKeyError(Exception):
    """The secret key is missing, too short or unreadable."""


class Keyring:
    """Derives every key gomme needs from one secret, each for one purpose (HKDF info labels)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise SecretKeyError(f"the secret key must be at least {MIN_SECRET_BYTES} bytes")
        self._hmac_key = _derive(secret, b"gomme audit record key v1")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"gomme state sealing v1")))
        self.fingerprint = _derive(secret, b"gomme key fingerprint v1").hex()[:32]
        self._audit_key = _derive(secret, b"gomme audit chain mac v1")
        self.source = "the key"

    @classmethod
    def load(cls, key_file: Path, env: Mapping[str, str] = os.environ, *, create: bool = True) -> Keyring:
        """From the environment if set, else from `key_file`, creating it (0600) if missing and `create`."""
        if env.get(ENV_VAR):
            keyring = cls(env[ENV_VAR].encode())
            keyring.source = f"the key in {ENV_VAR}"
            return keyring
        if not key_file.exists():
            if not create:
                raise SecretKeyError(
                    f"no secret key: {ENV_VAR} is not set and the key file {key_file} does not exist, but the state "
                    "was written with a key. Nothing was done. Restore the key file from your backup (or set "
                    f"{ENV_VAR}); a new key would leave the audit log unsearchable by record and the suppression "
                    "list blind to erased people"
                )
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it a moment ago: use that one
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            keyring = cls(key_file.read_text().strip().encode())
        except OSError as exc:
            raise SecretKeyError(f"cannot read the key file {key_file}: {exc.strerror}") from None
        keyring.source = f"the key file {key_file}"
        return keyring

    def record_key(self, ref: str) -> str:
        """HMAC-SHA256 of `crm:object:id`: lets auditors look a record up without storing its id."""
        return hmac.new(self._hmac_key, ref.encode(), hashlib.sha256).hexdigest()

    def audit_mac(self, text: str) -> str:
        """HMAC-SHA256 authenticating an audit chain hash or an anchor: only the key's holder can make one."""
        return hmac.new(self._audit_key, text.encode(), hashlib.sha256).hexdigest()

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


def open_keyring(engine: Engine, key_file: Path, env: Mapping[str, str] = os.environ, *, now: str) -> Keyring:
    """The state's key, checked against the fingerprint the state keeps (recorded on first use).

    A key is only ever created for a state that holds nothing yet. A missing key, or another key than the one
    the state was written with, raises `SecretKeyError` before anything is read or written.
    """
    with Session(engine) as db:
        fact = db.get(StateFact, KEY_FACT)
        expected = fact.value if fact is not None else None
        tables = (AuditEvent, Change, Request, Suppression)
        empty = expected is None and not any(db.exec(select(func.count()).select_from(t)).one() for t in tables)
    keyring = Keyring.load(key_file, env, create=empty)
    if expected is None:
        try:
            with Session(engine) as db:
                db.add(StateFact(name=KEY_FACT, value=keyring.fingerprint, set_at=now))
                db.commit()
            return keyring
        except IntegrityError:  # another process recorded its key first: this one must be the same
            with Session(engine) as db:
                expected = db.get_one(StateFact, KEY_FACT).value
    if not hmac.compare_digest(keyring.fingerprint, expected):
        raise SecretKeyError(
            f"{keyring.source} is not the key this state was written with (fingerprint {keyring.fingerprint[:12]}, "
            f"the state expects {expected[:12]}). Nothing was done. Restore the original key (from your backup, or "
            f"{ENV_VAR}); with another key the audit log cannot be searched by record, pending changes cannot be "
            "resumed and erased people would not be recognised again"
        )
    return keyring


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
