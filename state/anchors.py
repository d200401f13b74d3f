"""Anchors: the audit chain's head, written after each run to a file outside the state database.

An anchor is one JSON line — `{"seq", "hash", "ts", "mac"}` — appended (O_APPEND) to a file the auditor holds:
on another disk, a WORM mount, a file shipped to syslog or an object store with retention. `verify_anchors`
then proves that the chain still holds every anchored entry with the anchored hash: entries removed from the
end, or a chain rebuilt from scratch, no longer match. The MAC (state key) shows gomme wrote the line.

After `gomme key rotate`, an anchor's MAC must be made with the key in force at its entry (state/keys.py): the
old key for anchors up to its retirement, the new one after.

What an anchor cannot prove: entries written after the newest anchor (at most the current run's) can be
removed without a trace; and whoever can rewrite the anchor file *and* holds the state key can rewrite history.
Hence the file's place: out of reach of the state database's owners.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from gomme.state.audit import ChainReport
from gomme.state.keys import Keyring
from gomme.state.models import AuditEvent


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    ts: str
    mac: str

    def signed_text(self) -> str:
        return f"anchor:{self.seq}:{self.hash}:{self.ts}"


@dataclass(frozen=True, slots=True)
class AnchorReport:
    """What the anchors prove: how many hold, the newest that holds, every problem (line numbers, never content)."""

    checked: int
    newest: Anchor | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def write_anchor(engine: Engine, keyring: Keyring, path: Path, *, now: str) -> Anchor | None:
    """Append the chain's current head to `path` (created 0640 if missing); None when the chain is empty."""
    with Session(engine) as db:
        head = db.exec(select(AuditEvent).order_by(col(AuditEvent.seq).desc()).limit(1)).first()
    if head is None:
        return None
    unsigned = Anchor(head.seq, head.hash, now, "")
    anchor = Anchor(head.seq, head.hash, now, keyring.audit_mac(unsigned.signed_text()))
    line = json.dumps({"seq": anchor.seq, "hash": anchor.hash, "ts": anchor.ts, "mac": anchor.mac}) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, line.encode())  # one write of one short line: appends never interleave
        os.fsync(fd)
    finally:
        os.close(fd)
    return anchor


def read_anchors(path: Path) -> Iterator[tuple[int, Anchor | None]]:
    """(line number, anchor) for each non-empty line; None for a line that is not an anchor."""
    with path.open(encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, start=1):
            if line.strip():
                yield number, _parse(line)


def _parse(line: str) -> Anchor | None:
    try:
        data = json.loads(line)
        anchor = Anchor(int(data["seq"]), str(data["hash"]), str(data["ts"]), str(data["mac"]))
    except (ValueError, KeyError, TypeError):
        return None
    return anchor if anchor.seq >= 1 else None


def verify_anchors(engine: Engine, keyring: Keyring, chain: ChainReport, path: Path) -> AnchorReport:
    """Check every anchor of `path` against the chain `verify` just checked (its head is `chain.head_seq`)."""
    problems: list[str] = []
    checked, newest = 0, None
    with Session(engine) as db:
        for number, anchor in read_anchors(path):
            if anchor is None:
                problems.append(f"line {number} of {path} is not an anchor")
                continue
            if not keyring.mac_valid(anchor.signed_text(), anchor.mac, anchor.seq):
                retired = keyring.retired_by_mac(anchor.signed_text(), anchor.mac)
                problems.append(
                    f"line {number} of {path} was signed with the key {retired.fingerprint[:12]} after it was retired "
                    f"(after entry #{retired.last_seq})" if retired is not None
                    else f"line {number} of {path} was not written by gomme with this key"
                )
                continue
            if anchor.seq > chain.head_seq:
                problems.append(
                    f"the log ends at entry #{chain.head_seq}, but entry #{anchor.seq} was anchored at {anchor.ts} "
                    f"(line {number}): entries were removed"
                )
                continue
            event = db.get(AuditEvent, anchor.seq)
            if event is None or event.hash != anchor.hash:
                problems.append(
                    f"entry #{anchor.seq} no longer has the hash anchored at {anchor.ts} (line {number}): the log "
                    "was rewritten up to it"
                )
                continue
            if event.mac is None or not keyring.mac_valid(event.hash, event.mac, event.seq):
                problems.append(f"entry #{anchor.seq}, anchored at {anchor.ts} (line {number}), lost its MAC")
                continue
            checked += 1
            if newest is None or anchor.seq >= newest.seq:
                newest = anchor
    return AnchorReport(checked, newest, tuple(problems))
