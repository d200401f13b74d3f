"""Writing a batch's related edits to the contacts' engagements, before the contacts' own writes.

A delete removes the contact's associations, after which nothing finds its engagements: they are written first.
DELETE → objects batch archive (100 a call; HubSpot moves them to its recycling bin); SCRUB and REDACT → objects
batch update (100 a call; an emptied field is written as "", which clears a HubSpot property). Two changes of one
batch that edit the same engagement (one shared by two erased contacts) are merged into one write from its current
text, so neither undoes the other; when they touch the same words differently, the first erasing edit is written
and the others are refused (CONFLICT), which their outcomes report. A refused edit carries HubSpot's error category.

What HubSpot keeps after a write is reported as remaining (docs/related-records.md, "HubSpot"): an archived
engagement stays in the recycling bin, and an updated one keeps its replaced text in its property history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from gomme.connectors.hubspot.client import Endpoint, HubSpotApiError, Transport
from gomme.connectors.hubspot.engagements import OBJECT_BATCH, chunks, read_objects
from gomme.model.changes import PlannedChange
from gomme.model.related import RelatedEdit, RelatedOp, RelatedOutcome

CONFLICT = "CONFLICT"
_GONE = "OBJECT_NOT_FOUND"  # an engagement deleted meanwhile: nothing of the person is left in it
_MERGE_LIMIT = 200_000  # characters: longer texts are not merged (the first edit is written, the others refused)
# Short: the audit entry keeps 300 characters of the whole summary.
_REMAINS = {
    RelatedOp.DELETE: "{} in the recycling bin",  # archived through the API: restorable, never purged by gomme
    RelatedOp.SCRUB: "{} property history",  # the replaced text stays in the engagement's history
    RelatedOp.REDACT: "{} property history",
}


@dataclass(slots=True)
class _Target:
    """One engagement to write: the edits of the batch's changes that aim at it, and what is written."""

    kind: str
    id: str
    edits: list[tuple[str, RelatedEdit]] = field(default_factory=list)  # (change id, edit)
    values: dict[str, str] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)  # index in `edits` → code
    code: str | None = None  # the write's own failure, for every edit not already refused

    @property
    def delete(self) -> bool:
        return any(edit.op is RelatedOp.DELETE for _, edit in self.edits)


def write_related(transport: Transport, changes: Sequence[PlannedChange]) -> dict[str, RelatedOutcome]:
    """Writes every change's related edits; the outcome of each change that had some, by change id."""
    targets: dict[tuple[str, str], _Target] = {}
    for change in changes:
        for edit in change.related:
            target = targets.setdefault((edit.object_type, edit.id), _Target(edit.object_type, edit.id))
            target.edits.append((change.change_id, edit))
    deletes = [target for target in targets.values() if target.delete]
    updates = [target for target in targets.values() if not target.delete]
    _merge(transport, [target for target in updates if len(target.edits) > 1])
    for target in updates:
        if len(target.edits) == 1:
            target.values = _written(target.edits[0][1].values)
    _archive(transport, deletes)
    _update(transport, [target for target in updates if target.values and target.code is None])
    return _outcomes(changes, list(targets.values()))


def merge_texts(base: str, versions: Sequence[str]) -> str | None:
    """`base` with every version's changes to it, or None when two versions change the same span differently."""
    if len(base) > _MERGE_LIMIT:
        return None if len(set(versions)) > 1 else versions[0]
    spans: set[tuple[int, int, str]] = set()
    for version in dict.fromkeys(versions):
        matcher = SequenceMatcher(None, base, version, autojunk=False)
        spans.update((i1, i2, version[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal")
    pieces: list[str] = []
    position, previous = 0, (-1, -1)
    for start, end, text in sorted(spans):
        if start < position or (start == previous[0] and (start == previous[1] or start == end)):
            return None  # overlapping, or two changes at one point whose order is unknown
        pieces += [base[position:start], text]
        position, previous = end, (start, end)
    pieces.append(base[position:])
    return "".join(pieces)


def _merge(transport: Transport, targets: list[_Target]) -> None:
    """Several edits of one engagement: one set of values merged from its current text (read now, 100 a call)."""
    by_kind: dict[str, list[_Target]] = {}
    for target in targets:
        by_kind.setdefault(target.kind, []).append(target)
    for kind, group in by_kind.items():
        names = sorted({name for target in group for _, edit in target.edits for name in edit.values})
        try:
            current = read_objects(transport, kind, [target.id for target in group], names)
        except HubSpotApiError as error:
            for target in group:
                target.code = error.code
            continue
        for target in group:
            if target.id in current:
                _merge_one(target, current[target.id])
            # else: deleted meanwhile, nothing to write; every edit counts as done


def _merge_one(target: _Target, current: Mapping[str, Any]) -> None:
    values: dict[str, str] = {}
    for name in dict.fromkeys(name for _, edit in target.edits for name in edit.values):
        versions = [edit.values[name] for _, edit in target.edits if name in edit.values]
        if any(version is None for version in versions):
            values[name] = ""  # a field emptied by one erasure is emptied
            continue
        merged = merge_texts(str(current.get(name) or ""), [str(version) for version in versions])
        if merged is None:
            _keep_first_erasure(target)
            return
        values[name] = merged
    target.values = values


def _keep_first_erasure(target: _Target) -> None:
    """Conflicting edits: the first scrub (an erasure) is written as it is, the others refused."""
    first = next((i for i, (_, edit) in enumerate(target.edits) if edit.op is RelatedOp.SCRUB), 0)
    target.values = _written(target.edits[first][1].values)
    target.refused = {i: CONFLICT for i in range(len(target.edits)) if i != first}


def _archive(transport: Transport, targets: list[_Target]) -> None:
    """`POST /crm/v3/objects/{kind}/batch/archive`, 100 a call; archiving a missing id is accepted too."""
    by_kind: dict[str, list[_Target]] = {}
    for target in targets:
        by_kind.setdefault(target.kind, []).append(target)
    for kind, group in by_kind.items():
        for chunk in chunks(group, OBJECT_BATCH):
            try:
                _archive_page(transport, kind, {"inputs": [{"id": target.id} for target in chunk]})
            except HubSpotApiError as error:
                for target in chunk:
                    target.code = error.code


def _archive_page(transport: Transport, kind: str, body: Mapping[str, Any]) -> None:
    transport.call(Endpoint.OBJECTS_ARCHIVE, lambda apis, o: apis.objects.archive(kind, body, **o))


def _update(transport: Transport, targets: list[_Target]) -> None:
    by_kind: dict[str, list[_Target]] = {}
    for target in targets:
        by_kind.setdefault(target.kind, []).append(target)
    for kind, group in by_kind.items():
        for chunk in chunks(group, OBJECT_BATCH):
            codes = _batch_update(transport, kind, list(chunk))
            for target in chunk:
                code = codes.get(target.id)
                target.code = None if code == _GONE else code


def _batch_update(transport: Transport, kind: str, targets: list[_Target]) -> dict[str, str | None]:
    """Engagement id → HubSpot's error category (None: saved); a whole-batch 400/409 is split to find the culprits."""
    body = {"inputs": [{"id": target.id, "properties": target.values} for target in targets]}
    try:
        response = transport.call(Endpoint.OBJECTS_UPDATE, lambda apis, o: apis.objects.update(kind, body, **o))
    except HubSpotApiError as error:
        if error.status not in (400, 409) or len(targets) == 1:
            return {target.id: error.code for target in targets}
        middle = len(targets) // 2
        return {**_batch_update(transport, kind, targets[:middle]), **_batch_update(transport, kind, targets[middle:])}
    return _per_id(response.body, [target.id for target in targets])


def _per_id(body: Mapping[str, Any] | None, ids: list[str]) -> dict[str, str | None]:
    """A 200/207 batch answer as id → error category: ids in `errors[].context.ids` failed."""
    failed: dict[str, str] = {}
    for error in _list((body or {}).get("errors")):
        context = error.get("context")
        named = context.get("ids") if isinstance(context, Mapping) else None
        for record_id in named if isinstance(named, list) else ():
            failed[str(record_id)] = str(error.get("category") or "ERROR")
    saved = {str(result.get("id")) for result in _list((body or {}).get("results"))}
    return {record_id: failed.get(record_id) or (None if record_id in saved else "NO_RESULT") for record_id in ids}


def _outcomes(changes: Sequence[PlannedChange], targets: Sequence[_Target]) -> dict[str, RelatedOutcome]:
    written: dict[str, list[RelatedEdit]] = {}
    refused: dict[str, list[tuple[RelatedEdit, str]]] = {}
    for target in targets:
        for index, (change_id, edit) in enumerate(target.edits):
            code = target.refused.get(index) or target.code
            if code is None:
                written.setdefault(change_id, []).append(edit)
            else:
                refused.setdefault(change_id, []).append((edit, code))
    outcomes = {}
    for change in changes:
        if not change.related:
            continue
        done = written.get(change.change_id, [])
        remains = tuple(sorted({_REMAINS[edit.op].format(edit.object_type) for edit in done}))
        outcomes[change.change_id] = RelatedOutcome.of(done, refused.get(change.change_id, []), remains)
    return outcomes


def _written(values: Mapping[str, str | None]) -> dict[str, str]:
    return {name: "" if value is None else value for name, value in values.items()}


def _list(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
