"""Policies as TOML data: packs, `extends`, per-id overrides, validation that reports every error at once."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from gomme.model.records import PersonRecord
from gomme.policies.decision import Finding
from gomme.policies.facts import RecordFacts
from gomme.policies.rules import RULE_KINDS, RuleBase

PACKS_PACKAGE = "gomme.policies.packs"
_TOP_LEVEL_KEYS = ("extends", "rules")


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in a policy, at a TOML-ish path such as `rules[2].after`."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class PolicyError(ValueError):
    """A policy that cannot be used; `issues` lists every problem found, not just the first."""

    def __init__(self, issues: Sequence[PolicyIssue], source: str = "") -> None:
        self.issues = tuple(issues)
        self.source = source
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{source or 'policy'}: {len(self.issues)} problem(s):\n{lines}")


@dataclass(frozen=True, slots=True)
class Policy:
    """The effective rules (sorted by id) and the sha256 of their canonical form, stored with every audit entry."""

    rules: tuple[RuleBase, ...]
    source: str
    hash: str = field(init=False)
    rule_ids: tuple[str, ...] = field(init=False, repr=False)
    # The rules' bound `evaluate` methods, looked up once rather than per record (the engine's hot loop).
    checks: tuple[Callable[[PersonRecord, dt.datetime, RecordFacts], Finding | None], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.rules, key=lambda r: r.id))
        if len({rule.id for rule in ordered}) != len(ordered):
            raise ValueError("rule ids must be unique within a policy")
        object.__setattr__(self, "rules", ordered)
        object.__setattr__(self, "rule_ids", tuple(rule.id for rule in ordered))
        object.__setattr__(self, "checks", tuple(rule.evaluate for rule in ordered))
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        object.__setattr__(self, "hash", hashlib.sha256(text.encode("utf-8")).hexdigest())

    def prepare(self) -> Policy:
        """Each rule's `prepare`: what a daemon does at start, so its first run is not its slowest."""
        for rule in self.rules:
            rule.prepare()
        return self

    def canonical(self) -> dict[str, Any]:
        """Every effective param of every rule, defaults filled in: the same policy gives the same dict."""
        return {"rules": [rule.model_dump(mode="json") for rule in self.rules]}


@dataclass(frozen=True, slots=True)
class _Entry:
    params: dict[str, Any]
    path: str  # where the rule was last defined or overridden, for error messages


def load_policy(data: Mapping[str, Any], *, source: str) -> Policy:
    """Build a policy from a parsed TOML table (a policy file or the config's `[policy]` table)."""
    issues: list[PolicyIssue] = []
    entries = _merged(data, issues, chain=(), prefix="")
    rules = [rule for entry in entries.values() if (rule := _validated(entry, issues)) is not None]
    if issues:
        raise PolicyError(sorted(issues, key=_reading_order), source)
    return Policy(tuple(rules), source)


def load_policy_file(path: str | Path) -> Policy:
    """Read and load a policy TOML file; TOML syntax errors become a PolicyError too."""
    try:
        with Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([PolicyIssue("", f"invalid TOML: {exc}")], str(path)) from None
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyIssue("", f"not UTF-8 text (byte {exc.start}); TOML files must be UTF-8")],
                          str(path)) from None
    return load_policy(data, source=str(path))


def available_packs() -> tuple[str, ...]:
    """Names of the packs shipped in `gomme.policies.packs`."""
    files = resources.files(PACKS_PACKAGE).iterdir()
    return tuple(sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml")))


def load_pack(name: str) -> Policy:
    """Load a shipped pack by name, e.g. `cnil`."""
    data = _pack_data(name)
    if data is None:
        raise PolicyError([_unknown_pack("", name)], f"pack {name!r}")
    return load_policy(data, source=f"pack:{name}")


def _pack_data(name: str) -> dict[str, Any] | None:
    if name not in available_packs():  # also keeps a name like '../x' from reaching the file system
        return None
    return tomllib.loads(resources.files(PACKS_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8"))


def _unknown_pack(path: str, name: object) -> PolicyIssue:
    return PolicyIssue(path, f"unknown pack {name!r} (available: {', '.join(available_packs())})")


def _merged(
    data: Mapping[str, Any], issues: list[PolicyIssue], *, chain: tuple[str, ...], prefix: str
) -> dict[str, _Entry]:
    """The effective rule tables by id: the extended pack's, then this table's overrides and additions."""
    for key in sorted(set(data) - set(_TOP_LEVEL_KEYS)):
        issues.append(PolicyIssue(f"{prefix}{key}", f"unknown key (allowed: {', '.join(_TOP_LEVEL_KEYS)})"))
    entries = _inherited(data.get("extends"), issues, chain=chain, prefix=prefix)
    inherited_ids = ", ".join(entries) or "none"
    tables = data.get("rules", [])
    if not isinstance(tables, list):
        issues.append(PolicyIssue(f"{prefix}rules", "must be an array of tables ([[rules]])"))
        tables = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        path = f"{prefix}rules[{index}]"
        if not isinstance(table, Mapping):
            issues.append(PolicyIssue(path, "must be a table ([[rules]])"))
            continue
        rule_id, enabled = table.get("id"), table.get("enabled", True)
        if not isinstance(rule_id, str) or not rule_id:
            issues.append(PolicyIssue(f"{path}.id", "required: a non-empty string"))
            continue
        if rule_id in seen:
            issues.append(PolicyIssue(f"{path}.id", f"duplicate rule id {rule_id!r}"))
            continue
        seen.add(rule_id)
        if not isinstance(enabled, bool):
            issues.append(PolicyIssue(f"{path}.enabled", "must be true or false"))
            continue
        params = {k: v for k, v in table.items() if k != "enabled"}
        inherited = entries.pop(rule_id, None)
        if inherited is None:
            if not enabled and "kind" not in params:
                message = f"no inherited rule {rule_id!r} to disable (inherited: {inherited_ids})"
                issues.append(PolicyIssue(f"{path}.id", message))
            elif enabled:
                entries[rule_id] = _Entry(params, path)
            continue
        old_kind = inherited.params.get("kind")
        if params.get("kind", old_kind) != old_kind:
            message = f"cannot change the kind of inherited rule {rule_id!r} ({old_kind}); use a new id"
            issues.append(PolicyIssue(f"{path}.kind", message))
        elif enabled:
            entries[rule_id] = _Entry({**inherited.params, **params}, path)
    return entries


def _inherited(name: object, issues: list[PolicyIssue], *, chain: tuple[str, ...], prefix: str) -> dict[str, _Entry]:
    """The effective rules of the pack named by `extends`, or none."""
    if name is None:
        return {}
    path = f"{prefix}extends"
    if not isinstance(name, str):
        issues.append(PolicyIssue(path, "must be a pack name (a string)"))
        return {}
    if name in chain:
        issues.append(PolicyIssue(path, f"pack {name!r} extends itself ({' -> '.join((*chain, name))})"))
        return {}
    data = _pack_data(name)
    if data is None:
        issues.append(_unknown_pack(path, name))
        return {}
    return _merged(data, issues, chain=(*chain, name), prefix=f"{name}.toml:")


def _validated(entry: _Entry, issues: list[PolicyIssue]) -> RuleBase | None:
    """The rule built from one effective table, or None after recording every problem in it."""
    kind = entry.params.get("kind")
    known = ", ".join(sorted(RULE_KINDS))
    if kind is None:
        issues.append(PolicyIssue(f"{entry.path}.kind", f"required (one of: {known})"))
        return None
    rule_class = RULE_KINDS.get(kind) if isinstance(kind, str) else None
    if rule_class is None:
        issues.append(PolicyIssue(f"{entry.path}.kind", f"unknown rule kind {kind!r} (one of: {known})"))
        return None
    try:
        return rule_class.model_validate(entry.params)
    except ValidationError as exc:
        issues.extend(_issue(entry.path, error, rule_class) for error in exc.errors())
        return None


def _reading_order(issue: PolicyIssue) -> tuple[str, int]:
    """Sort key: by pack, then top-level keys, then rules by index (rules[2] before rules[10]); stable."""
    source, _, local = issue.path.rpartition(":")
    index = re.match(r"rules\[(\d+)\]", local)
    return (source, int(index.group(1)) if index else -1)


def _issue(path: str, error: ErrorDetails, rule_class: type[RuleBase]) -> PolicyIssue:
    """A pydantic error as a one-line issue at `rules[i].param`."""
    location = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted({"enabled", *rule_class.model_fields}))
        message = f"unknown parameter (allowed: {allowed})"
    elif kind == "missing":
        message = "required"
    elif kind == "value_error" and "error" in error.get("ctx", {}):
        message = str(error["ctx"]["error"])
    else:
        message = error["msg"]
    return PolicyIssue(f"{path}{location}", message)
