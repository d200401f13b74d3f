"""`gomme key rotate`: replace the state key, re-sealing what it must (docs/audit-trail.md, "The key").

The order makes a crash at any point leave one working key, never none:

1. key file: the new key is written beside the key file (`<file>.new`, 0600, synced) — the old key still works;
2. the state moves to the new key in one transaction (`rotate_state`): until it commits the old key works, after
   it the new one, and a command finding the state ahead of the key file finishes step 3 itself (`open_keyring`);
3. key file: the old file is kept as `<file>.retired-<time>`, then `<file>.new` replaces it (atomic rename);
4. an anchor of the new head (the rotation entry) under the new key.

With the key in `GOMME_SECRET_KEY`, gomme cannot change the variable: the new key comes from
`GOMME_NEW_SECRET_KEY` (or `--new-key-file`), and the operator switches `GOMME_SECRET_KEY` to it afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

from gomme.commands import UsageError
from gomme.state.anchors import write_anchor
from gomme.state.clock import stamp, utc_now
from gomme.state.keys import (
    ENV_VAR,
    NEW_ENV_VAR,
    Keyring,
    SecretKeyError,
    finish_install,
    rotate_state,
    write_pending_key,
)
from gomme.wiring import App, default_actor


def rotate_key(app: App, new_key_file: Path | None, console: Console, env: Mapping[str, str] = os.environ) -> int:
    engine, old = app.engine(), app.keyring()  # the current key, checked against the state's fingerprint
    from_env = bool(env.get(ENV_VAR))
    secret = _new_secret(new_key_file, env, from_env=from_env)
    new = Keyring(secret)
    if new.fingerprint == old.fingerprint:
        raise UsageError("the new key is the current key: nothing to rotate. Give another key, or none (file mode)")
    if any(key.fingerprint == new.fingerprint for key in old.retired):
        raise UsageError("the new key was retired by an earlier rotation: a retired key must not come back. "
                         "Give a fresh key")
    key_file = app.config.key_file()
    if not from_env:
        write_pending_key(key_file, secret)
    now = stamp(utc_now())
    keyring, rotation = rotate_state(engine, old, new, now=now, actor=default_actor(),
                                     policy_hash=app.config.policy.hash)
    console.print(f"state key rotated: {old.fingerprint[:12]} → {new.fingerprint[:12]}; {rotation.resealed} sealed "
                  f"value(s) re-sealed; entries up to #{rotation.retired.last_seq} stay authenticated by the retired "
                  f"key, #{rotation.entry_seq} (the rotation) and later by the new one", soft_wrap=True, markup=False)
    if not from_env:
        try:
            installed = finish_install(key_file, new.fingerprint, now=now)
        except OSError as exc:
            installed, problem = None, exc.strerror
        else:
            problem = "it is gone"
        if installed is None:
            raise SecretKeyError(
                f"the state now uses the new key, kept in {key_file.name}.new beside {key_file}, but it could not "
                f"replace the key file ({problem}). Keep a copy of the old file, then move the new one in its place"
            )
        retired = sorted(key_file.parent.glob(f"{key_file.name}.retired-*"))[-1:]
        console.print(f"the new key is in {key_file}; the old one was kept as {retired[0] if retired else '-'} "
                      "(0600): it can read backups of the state taken before now, and nothing written after. Back "
                      "up the new key", soft_wrap=True, markup=False)
    path = app.config.anchor_file()
    if path is not None:
        write_anchor(engine, keyring, path, now=stamp(utc_now()))
    if from_env:
        console.print(f"now set {ENV_VAR} to the new key (the value of {NEW_ENV_VAR} or of the file given) wherever "
                      f"gomme runs, and unset {NEW_ENV_VAR}: until then every command stops with exit 2",
                      soft_wrap=True, markup=False)
    return 0


def _new_secret(new_key_file: Path | None, env: Mapping[str, str], *, from_env: bool) -> bytes:
    """The new key: from `--new-key-file`, else `GOMME_NEW_SECRET_KEY`, else (key file mode only) a fresh one."""
    if new_key_file is not None:
        try:
            secret = new_key_file.read_bytes().strip()
        except OSError as exc:
            raise UsageError(f"--new-key-file: cannot read {new_key_file}: {exc.strerror}") from None
        source = f"--new-key-file {new_key_file}"
    elif env.get(NEW_ENV_VAR):
        secret, source = env[NEW_ENV_VAR].encode(), NEW_ENV_VAR
    elif from_env:
        raise UsageError(
            f"the state key comes from {ENV_VAR}, which gomme cannot change: set {NEW_ENV_VAR} to the new key (at "
            f"least 32 random characters, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`) "
            "or pass --new-key-file, then rotate again. Nothing was done"
        )
    else:
        return secrets.token_urlsafe(32).encode()
    try:
        Keyring(secret)
    except SecretKeyError as exc:
        raise UsageError(f"{source}: {exc}. Nothing was done") from None
    return secret
