"""The state key: HMAC record keys for the audit log and encryption of the little gomme must keep.

The key comes from `GOMME_SECRET_KEY`, or a key file created with mode 0600 when the state is new. The state
keeps the key's fingerprint (a derived value that reveals nothing of the key), so a lost or replaced key stops
every command instead of silently starting a new one: with another key, audit lookups by record id, sealed
ids of pending changes and the suppression list (erased people re-imported) would all stop matching.

`gomme key rotate` (`rotate_state`) changes the key on purpose: sealed values are re-sealed, while what cannot be
recomputed without the clear value (record and email HMACs) or must not change (past audit MACs) stays bound to
the old key. The old key's lookup and MAC keys are therefore kept as *retired keys*, sealed under the new key
in `state_fact`, each with the last audit entry it authenticated: lookups try every key, a MAC or an anchor
is accepted only under the key in force at its entry. The old secret itself is not kept, nor its sealing key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gomme.state.models import AuditEvent, BreachCase, Change, Request, StateFact, Suppression

ENV_VAR = "GOMME_SECRET_KEY"
NEW_ENV_VAR = "GOMME_NEW_SECRET_KEY"  # the new key, for `gomme key rotate` when the key comes from ENV_VAR
MIN_SECRET_BYTES = 16
KEY_FACT = "key_fingerprint"
RETIRED_FACT = "retired_key:"  # + the retired key's fingerprint; the value is sealed under the current key
ROTATED_ACTION = "key rotated"  # the audit entry `gomme key rotate` writes
# A retired key, sealed: fingerprint (16 bytes), record/email HMAC key, audit MAC key, last entry it authenticated.
_RETIRED = struct.Struct(">16s32s32sQ")


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
        self.retired: tuple[RetiredKey, ...] = ()  # oldest first, as loaded by `open_keyring`

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
        return _record_hmac(self._hmac_key, ref)

    def record_keys(self, ref: str) -> tuple[str, ...]:
        """The record's HMAC under the current key and every retired one: what lookups must search for."""
        return (self.record_key(ref), *(key.record_key(ref) for key in reversed(self.retired)))

    def audit_mac(self, text: str) -> str:
        """HMAC-SHA256 authenticating an audit chain hash or an anchor: only the key's holder can make one."""
        return _mac(self._audit_key, text)

    def email_key(self, email: str) -> str:
        """HMAC of a normalised email address, for the suppression list."""
        return _email_hmac(self._hmac_key, email)

    def email_keys(self, email: str) -> tuple[str, ...]:
        """The email's HMAC under the current key and every retired one (suppression lookups)."""
        return (self.email_key(email), *(key.email_key(email) for key in reversed(self.retired)))

    @property
    def current_from(self) -> int:
        """The first audit entry the current key authenticates (1 unless the key was rotated)."""
        return self.retired[-1].last_seq + 1 if self.retired else 1

    def key_at(self, seq: int) -> tuple[str, Callable[[str], str]]:
        """(fingerprint, MAC function) of the key in force at audit entry `seq`: MACs and anchors of an entry are
        valid under that key only, so a retired key cannot vouch for anything written after its retirement."""
        first = 1
        for key in self.retired:
            if first <= seq <= key.last_seq:
                return key.fingerprint, key.audit_mac
            first = key.last_seq + 1
        return self.fingerprint, self.audit_mac

    def mac_valid(self, text: str, mac: str, seq: int) -> bool:
        """Whether `mac` authenticates `text` (an entry's hash, an anchor) under the key in force at entry `seq`."""
        return hmac.compare_digest(mac, self.key_at(seq)[1](text))

    def retired_by_mac(self, text: str, mac: str) -> RetiredKey | None:
        """The retired key that made `mac`, if any (to say so when it was used after its retirement)."""
        return next((key for key in self.retired if hmac.compare_digest(mac, key.audit_mac(text))), None)

    def retired_at(self, seq: int) -> RetiredKey | None:
        """The key retired just before audit entry `seq` (which then must record the rotation), if any."""
        return next((key for key in self.retired if key.last_seq + 1 == seq), None)

    def retire(self, last_seq: int, now: str) -> RetiredKey:
        """This key's lookup and MAC keys (never the secret nor the sealing key), valid up to entry `last_seq`."""
        return RetiredKey(self.fingerprint, last_seq, now, self._hmac_key, self._audit_key)

    def seal_retired(self, key: RetiredKey) -> str:
        blob = _RETIRED.pack(bytes.fromhex(key.fingerprint), key.hmac_key, key.mac_key, key.last_seq)
        return self._fernet.encrypt(blob).decode()

    def unseal_retired(self, fact: StateFact) -> RetiredKey:
        fingerprint = fact.name.removeprefix(RETIRED_FACT)
        try:
            raw, hmac_key, mac_key, last_seq = _RETIRED.unpack(self._fernet.decrypt(fact.value.encode()))
        except (InvalidToken, struct.error):
            raw, hmac_key, mac_key, last_seq = b"", b"", b"", 0
        if raw.hex() != fingerprint:
            raise SecretKeyError(
                f"the retired key {fingerprint[:12]} kept in the state cannot be read with {self.source}: the state "
                "was altered (or restored in part from a backup). Nothing was done. Without it, erased people "
                "would not be recognised and the audit log before the key rotation could not be verified: restore "
                "the state from a backup taken after the rotation"
            )
        return RetiredKey(fingerprint, last_seq, fact.set_at, hmac_key, mac_key)

    def resealer(self, old: Keyring) -> Callable[[str], str]:
        """Re-seals a value sealed under `old` (or already under this key) under this key."""
        both = MultiFernet([self._fernet, old._fernet])

        def reseal(token: str) -> str:
            return both.rotate(token.encode()).decode()

        return reseal

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def unseal(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError("state was written with another secret key; restore the original key") from None


@dataclass(frozen=True, slots=True)
class RetiredKey:
    """A key replaced by `gomme key rotate`: its lookup HMAC key and audit MAC key, never its secret."""

    fingerprint: str
    last_seq: int  # the last audit entry (and anchor) it authenticated; later ones must use a newer key
    retired_at: str
    hmac_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)

    def record_key(self, ref: str) -> str:
        return _record_hmac(self.hmac_key, ref)

    def email_key(self, email: str) -> str:
        return _email_hmac(self.hmac_key, email)

    def audit_mac(self, text: str) -> str:
        return _mac(self.mac_key, text)


def rotation_statement(seq: int, prev_hash: str, new_fingerprint: str) -> str:
    """What the retired key signs in the rotation entry: at this place in the chain, this key takes over."""
    return f"key rotated:{seq}:{prev_hash}:{new_fingerprint}"


def open_keyring(engine: Engine, key_file: Path, env: Mapping[str, str] = os.environ, *, now: str) -> Keyring:
    """The state's key, checked against the fingerprint the state keeps (recorded on first use).

    A key is only ever created for a state that holds nothing yet. A missing key, or another key than the one
    the state was written with, raises `SecretKeyError` before anything is read or written; except that a key
    rotation interrupted after its commit (the new key still beside the key file) is finished here.
    The returned keyring holds the state's retired keys.
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
    if not hmac.compare_digest(keyring.fingerprint, expected) and not env.get(ENV_VAR):
        try:
            keyring = finish_install(key_file, expected, now=now) or keyring
        except OSError as exc:
            raise SecretKeyError(
                f"a key rotation left the new key in {pending_key_file(key_file)}, which the state expects, but it "
                f"cannot replace {key_file} ({exc.strerror}). Nothing was done. Keep a copy of {key_file}, then move "
                "the new key in its place"
            ) from None
    if not hmac.compare_digest(keyring.fingerprint, expected):
        with Session(engine) as db:
            retired = db.get(StateFact, RETIRED_FACT + keyring.fingerprint)
        if retired is not None:
            raise SecretKeyError(
                f"{keyring.source} was retired by `gomme key rotate` on {retired.set_at[:19].replace('T', ' ')} UTC; "
                f"the state now uses the key with fingerprint {expected[:12]}. Nothing was done. Use the new key "
                f"(the rotated key file, or set {ENV_VAR} to the new key)"
            )
        raise SecretKeyError(
            f"{keyring.source} is not the key this state was written with (fingerprint {keyring.fingerprint[:12]}, "
            f"the state expects {expected[:12]}). Nothing was done. Restore the original key (from your backup, or "
            f"{ENV_VAR}); with another key the audit log cannot be searched by record, pending changes cannot be "
            "resumed and erased people would not be recognised again"
        )
    with Session(engine) as db:
        facts = db.exec(select(StateFact).where(col(StateFact.name).startswith(RETIRED_FACT, autoescape=True)))
        retired_keys = [keyring.unseal_retired(fact) for fact in facts]
    keyring.retired = tuple(sorted(retired_keys, key=lambda key: key.last_seq))
    return keyring


def pending_key_file(key_file: Path) -> Path:
    """Where `gomme key rotate` writes the new key before the state commits to it."""
    return key_file.with_name(key_file.name + ".new")


def write_pending_key(key_file: Path, secret: bytes) -> Path:
    """Write the new key beside the key file (0600, synced): the state's commit comes next, then `finish_install`."""
    pending = pending_key_file(key_file)
    pending.unlink(missing_ok=True)  # a rotation interrupted before its commit: that key never took effect
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return pending


def finish_install(key_file: Path, expected: str, *, now: str) -> Keyring | None:
    """Put the pending new key in place of the key file if the state already expects it (`expected`).

    The old key file is kept as `<file>.retired-<time>` (a hard link: same 0600 file), then the new one replaces
    it atomically: at every moment the key file holds the old key or the new one. None if nothing is pending.
    """
    pending = pending_key_file(key_file)
    try:
        keyring = Keyring(pending.read_bytes().strip())
    except (OSError, SecretKeyError):
        return None
    if not hmac.compare_digest(keyring.fingerprint, expected):
        return None
    if key_file.exists():
        moment = dt.datetime.fromisoformat(now).strftime("%Y%m%dT%H%M%SZ")
        retired = key_file.with_name(f"{key_file.name}.retired-{moment}")
        number = 1
        while retired.exists():
            number += 1
            retired = key_file.with_name(f"{key_file.name}.retired-{moment}-{number}")
        os.link(key_file, retired)
    pending.replace(key_file)
    directory = os.open(key_file.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    keyring.source = f"the key file {key_file}"
    return keyring


@dataclass(frozen=True, slots=True)
class Rotation:
    """What `rotate_state` did: the key it retired after which entry, the rotation entry, values re-sealed."""

    retired: RetiredKey
    entry_seq: int
    resealed: int


_SEALED: tuple[tuple[str, type[Change] | type[Request] | type[BreachCase], tuple[str, ...]], ...] = (
    ("change", Change, ("record_id_sealed",)), ("request", Request, ("identity_sealed", "details_sealed")),
    ("breach_case", BreachCase, ("scope_sealed", "note_sealed", "close_sealed")),
)
_PAGE = 1000


def rotate_state(
    engine: Engine, old: Keyring, new: Keyring, *, now: str, actor: str, policy_hash: str
) -> tuple[Keyring, Rotation]:
    """Move the state from `old` to `new`, in one transaction; returns `new`, now holding its retired keys.

    The stored fingerprint becomes `new`'s (only if it still is `old`'s: two rotations cannot both win); every
    sealed value is re-sealed; `old`'s lookup and MAC keys join the retired keys (all sealed under `new`), valid
    up to the current head; then a `key rotated` entry is appended, MAC'd under `new` and endorsed in its
    evidence by `old`. Record and email HMACs and past MACs are not rewritten. Nothing of it holds a person's data.
    """
    from gomme.state import audit  # audit imports this module

    with Session(engine) as db:
        swapped = db.execute(
            update(StateFact).where(col(StateFact.name) == KEY_FACT, col(StateFact.value) == old.fingerprint)
            .values(value=new.fingerprint, set_at=now)
        )
        if swapped.rowcount != 1:  # type: ignore[attr-defined]
            raise SecretKeyError("the state's key changed while rotating (another `gomme key rotate`?). Nothing was "
                                 "done; run the command again")
        last_seq, prev_hash = audit.lock_head(db)
        resealed = _reseal(db, new.resealer(old))
        retired = old.retire(last_seq, now)
        all_retired = (*old.retired, retired)
        for key in all_retired:
            fact = db.get(StateFact, RETIRED_FACT + key.fingerprint)
            if fact is None:
                fact = StateFact(name=RETIRED_FACT + key.fingerprint, value="", set_at=key.retired_at)
            fact.value = new.seal_retired(key)
            db.add(fact)
        db.flush()
        seq = last_seq + 1
        endorsement = old.audit_mac(rotation_statement(seq, prev_hash, new.fingerprint))
        entry = audit.AuditEntry(
            crm="gomme", object_type="state", record_key=new.fingerprint, action=ROTATED_ACTION,
            rule_id="key-rotation", legal_basis="GDPR Art 32: security of processing", policy_hash=policy_hash,
            outcome="applied", actor=actor,
            evidence=f"key {old.fingerprint[:12]} retired after entry #{last_seq}; {resealed} sealed value(s) "
                     f"re-sealed; endorsed by the retired key: {endorsement}",
        )
        audit.append_all(db, [entry], now, new)
        db.commit()
    new.retired = all_retired
    return new, Rotation(retired, seq, resealed)


def _reseal(db: Session, reseal: Callable[[str], str]) -> int:
    """Re-seal every sealed column, a page of rows at a time (by primary key); the count of values re-sealed."""
    count = 0
    for table, model, columns in _SEALED:
        key = col(model.id)
        last = ""
        while True:
            rows = db.execute(select(key, *(getattr(model, name) for name in columns))
                              .where(key > last).order_by(key).limit(_PAGE)).all()
            if not rows:
                break
            for row in rows:
                values = {}
                for name, token in zip(columns, row[1:], strict=True):
                    if token is None:
                        continue
                    try:
                        values[name] = reseal(token)
                    except InvalidToken:
                        raise SecretKeyError(
                            f"{table} {row[0]}: its {name} was sealed with neither the current key "
                            "nor the new one. Nothing was done"
                        ) from None
                if values:
                    db.execute(update(model).where(key == row[0]).values(**values))
                    count += len(values)
            last = rows[-1][0]
    return count


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _record_hmac(key: bytes, ref: str) -> str:
    return hmac.new(key, ref.encode(), hashlib.sha256).hexdigest()


def _email_hmac(key: bytes, email: str) -> str:
    return hmac.new(key, b"email:" + normalise_email(email).encode(), hashlib.sha256).hexdigest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
