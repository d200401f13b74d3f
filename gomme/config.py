"""Loading and validating `config.toml`: every error at once, each with its TOML path."""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import make_url

from gomme.connectors.registry import UnknownConnectorType, connector_type
from gomme.jobs.guard import ChangeLimit
from gomme.jobs.schedules import Interval, parse_interval
from gomme.policies.policy import Policy, PolicyError, load_policy, load_policy_file

CONFIG_ENV = "GOMME_CONFIG"


def state_home(env: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_STATE_HOME/gomme`, by default `~/.local/state/gomme`."""
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gomme"


def demo_home(env: Mapping[str, str] = os.environ) -> Path:
    """Where `gomme demo` works by default."""
    return state_home(env) / "demo"


EMBEDDED_CONFIG = """\
# The configuration of `gomme demo` (written into the demo's folder; no other command ever uses it).
[state]
url = "sqlite:///state.db"     # relative to this file
key_file = "secret.key"        # created with mode 0600; GOMME_SECRET_KEY wins when set

[audit]
anchor_file = "anchors.jsonl"  # the audit chain's signed heads; in real use, where the state's owners cannot write

[policy]
extends = "cnil"               # the CNIL retention and erasure rules shipped with gomme

[connectors.demo]
type = "local"                 # a CRM in a SQLite file
path = "crm.db"
"""


LOCAL_NAMES = ("gomme.toml", "config.toml")


def config_home(env: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CONFIG_HOME/gomme`, by default `~/.config/gomme`."""
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "gomme"


def config_candidates(cwd: Path, env: Mapping[str, str] = os.environ) -> tuple[Path, ...]:
    """Where gomme looks for a configuration when neither --config nor GOMME_CONFIG names one, in order."""
    return (*(cwd / name for name in LOCAL_NAMES), config_home(env) / "config.toml")


def find_config(cwd: Path, env: Mapping[str, str] = os.environ) -> Path | None:
    """The first configuration file found (`config_candidates`), or None: never the demo's."""
    return next((path for path in config_candidates(cwd, env) if path.is_file()), None)


class NoConfigError(Exception):
    """No --config, no GOMME_CONFIG and no configuration file where gomme looks."""

    def __init__(self, cwd: Path, env: Mapping[str, str] = os.environ) -> None:
        looked = ", ".join(str(path) for path in config_candidates(cwd, env))
        super().__init__(
            f"no configuration: pass --config FILE or set {CONFIG_ENV}, or create one of {looked} (every option is "
            "in config.example.toml). Nothing was done. To try gomme on synthetic data: gomme demo"
        )


class StateSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite file in the state home by default")
    key_file: Path | None = None


class LoggingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["auto", "console", "json"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class SweepSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=200, ge=1, le=2000)
    max_changes: ChangeLimit | None = None


class RequestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    export_dir: Path | None = Field(default=None, description="Where access bundles go; state home by default")


class SystemNotice(BaseModel):
    """Per connector: where the CRM hosts the data and on what basis it leaves the EU (Art 15(2), 30(1)(e))."""

    model_config = ConfigDict(extra="forbid")

    hosting: str | None = None
    transfer_basis: str | None = None


class RegisterSettings(BaseModel):
    """What the controller declares about the processing: the Art 30 record, and what Art 15 tells people."""

    model_config = ConfigDict(extra="forbid")

    controller: str | None = None
    dpo_contact: str | None = None
    purposes: list[str] = Field(default_factory=list)
    data_subjects: list[str] = Field(default_factory=list)
    data_categories: list[str] = Field(default_factory=list)
    source: str | None = None
    security_measures: list[str] = Field(default_factory=list)
    systems: dict[str, SystemNotice] = Field(default_factory=dict)


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job: Literal["sweep", "requests"]
    connectors: list[str] = Field(default_factory=list)
    cron: str | None = None
    every: str | None = None
    apply: bool = False
    max_changes: ChangeLimit | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"invalid cron expression: {exc}") from None
        return value

    @field_validator("every")
    @classmethod
    def _valid_every(cls, value: str | None) -> str | None:
        if value is not None:
            parse_interval(value)
        return value


class DaemonSettings(BaseModel):
    """`[daemon]`: the health/metrics address, how late a missed run may still start, request processing."""

    model_config = ConfigDict(extra="forbid")

    address: str = "127.0.0.1:9464"
    misfire_grace: Interval = parse_interval("5m")
    requests_every: Interval = parse_interval("5m")  # unless a [[schedules]] job = "requests" replaces it
    timezone: str = "UTC"  # of cron expressions

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        from gomme.jobs.health import parse_address

        parse_address(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (an IANA name such as UTC or Europe/Paris)") from None
        return value


class AuditSettings(BaseModel):
    """Where the audit chain's anchors go: a file the auditor holds, outside the state (docs/audit-trail.md)."""

    model_config = ConfigDict(extra="forbid")

    anchor_file: Path | None = Field(
        default=None, description="Append-only file (or a mount of WORM storage) that receives a signed head per run"
    )


class FileSettings(BaseModel):
    """The shape of config.toml, except the per-type connector blocks and the policy (validated apart)."""

    model_config = ConfigDict(extra="forbid")

    state: StateSettings = Field(default_factory=StateSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    sweep: SweepSettings = Field(default_factory=SweepSettings)
    policy: dict[str, Any] = Field(default_factory=lambda: {"extends": "cnil"})
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schedules: list[Schedule] = Field(default_factory=list)
    requests: RequestSettings = Field(default_factory=RequestSettings)
    daemon: DaemonSettings = Field(default_factory=DaemonSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    # `register` would shadow ABCMeta.register on the model class: stored under another name.
    register_settings: RegisterSettings = Field(default_factory=RegisterSettings, alias="register")


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The configuration is invalid; `issues` lists every problem found."""

    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        super().__init__(f"{source}: {len(issues)} problem(s)")
        self.source = source
        self.issues = list(issues)


@dataclass(frozen=True, slots=True)
class Config:
    """A validated configuration, ready for wiring."""

    source: str
    base_dir: Path
    state: StateSettings
    logging: LoggingSettings
    sweep: SweepSettings
    policy: Policy
    connectors: Mapping[str, BaseModel]
    schedules: tuple[Schedule, ...]
    requests: RequestSettings
    register: RegisterSettings
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)

    def anchor_file(self) -> Path | None:
        """The anchor file, relative paths from the config file's directory; None when not configured."""
        if self.audit.anchor_file is None:
            return None
        return self.base_dir / self.audit.anchor_file.expanduser()

    def state_url(self) -> str:
        """The state URL; a relative SQLite path is taken from the config file's directory."""
        if self.state.url is None:
            return f"sqlite:///{state_home() / 'gomme.db'}"
        url = make_url(self.state.url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            database = Path(url.database).expanduser()
            return url.set(database=str(self.base_dir / database)).render_as_string(hide_password=False)
        return self.state.url

    def export_dir(self) -> Path:
        if self.requests.export_dir is None:
            return state_home() / "exports"
        return self.base_dir / self.requests.export_dir.expanduser()

    def key_file(self) -> Path:
        if self.state.key_file is None:
            return state_home() / "secret.key"
        return self.base_dir / self.state.key_file.expanduser()


def load_config_file(path: Path) -> Config:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue("", f"cannot read the file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        issue = ConfigIssue("", f"not UTF-8 text (byte {exc.start}); TOML files must be UTF-8")
        raise ConfigError(str(path), [issue]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [ConfigIssue("", f"not valid TOML: {exc}")]) from None
    return parse_config(data, source=str(path), base_dir=path.resolve().parent)


def parse_config(data: Mapping[str, Any], *, source: str, base_dir: Path) -> Config:
    """Validate everything and raise one ConfigError listing every issue with its TOML path."""
    issues: list[ConfigIssue] = []
    try:
        settings = FileSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _issues(exc, model=FileSettings) + _deep_issues(data, base_dir)) from None
    connectors = _connectors(settings.connectors, issues)
    policy = _policy(settings.policy, base_dir, issues)
    for index, schedule in enumerate(settings.schedules):
        issues.extend(_schedule_issues(index, schedule, connectors))
    for name in settings.register_settings.systems:
        if name not in connectors:
            issues.append(ConfigIssue(f"register.systems.{name}", "no connector of that name in [connectors]"))
    if issues or policy is None:
        raise ConfigError(source, issues)
    return Config(
        source=source, base_dir=base_dir, state=settings.state, logging=settings.logging, sweep=settings.sweep,
        policy=policy, connectors=connectors, schedules=tuple(settings.schedules), requests=settings.requests,
        register=settings.register_settings, daemon=settings.daemon, audit=settings.audit,
    )


def _deep_issues(data: Mapping[str, Any], base_dir: Path) -> list[ConfigIssue]:
    """Connector and policy problems, reported even when the top level is broken too."""
    issues: list[ConfigIssue] = []
    raw_connectors = data.get("connectors")
    if isinstance(raw_connectors, dict) and all(isinstance(v, dict) for v in raw_connectors.values()):
        _connectors(raw_connectors, issues)
    raw_policy = data.get("policy", {"extends": "cnil"})
    if isinstance(raw_policy, dict):
        _policy(raw_policy, base_dir, issues)
    return issues


def _connectors(blocks: Mapping[str, Mapping[str, Any]], issues: list[ConfigIssue]) -> dict[str, BaseModel]:
    validated: dict[str, BaseModel] = {}
    for name, block in blocks.items():
        path = f"connectors.{name}"
        type_name = block.get("type")
        if not isinstance(type_name, str):
            issues.append(ConfigIssue(f"{path}.type", "missing (one of local, salesforce, hubspot)"))
            continue
        try:
            settings_model = connector_type(type_name).Settings
        except UnknownConnectorType as exc:
            issues.append(ConfigIssue(f"{path}.type", str(exc)))
            continue
        try:
            validated[name] = settings_model.model_validate(block)
        except ValidationError as exc:
            issues.extend(_issues(exc, prefix=path, model=settings_model))
    return validated


def _policy(table: Mapping[str, Any], base_dir: Path, issues: list[ConfigIssue]) -> Policy | None:
    try:
        if "file" in table:
            extra = sorted(set(table) - {"file"})
            if extra:
                issues.append(ConfigIssue("policy", f"`file` excludes other keys ({', '.join(extra)})"))
                return None
            return load_policy_file(base_dir / str(table["file"]))
        return load_policy(table, source="config [policy]")
    except PolicyError as exc:
        issues.extend(ConfigIssue(f"policy.{issue.path}".rstrip("."), issue.message) for issue in exc.issues)
        return None


def _schedule_issues(index: int, schedule: Schedule, connectors: Mapping[str, BaseModel]) -> list[ConfigIssue]:
    path = f"schedules[{index}]"
    issues = []
    if (schedule.cron is None) == (schedule.every is None):
        issues.append(ConfigIssue(path, "give exactly one of `cron` or `every`"))
    for name in schedule.connectors:
        if name not in connectors:
            issues.append(ConfigIssue(f"{path}.connectors", f"no connector named '{name}' in [connectors]"))
    return issues


def _issues(exc: ValidationError, prefix: str = "", *, model: type[BaseModel]) -> list[ConfigIssue]:
    found = []
    for error in exc.errors():
        path = prefix
        for part in error["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif not part.startswith("function-"):
                path = f"{path}.{part}" if path else part
        if error["type"] == "missing":
            message = "missing"
        elif error["type"] == "extra_forbidden":
            message = _unknown_key(model, error["loc"])
        else:
            message = error["msg"].removeprefix("Value error, ")
        found.append(ConfigIssue(path, message))
    return found


def _unknown_key(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """"unknown key", with the closest allowed key and the list of allowed ones where the model says them."""
    allowed = _keys_at(model, loc[:-1])
    if not allowed:
        return "unknown key (config.example.toml lists every key)"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close:
        return f"unknown key; did you mean `{close[0]}`? (config.example.toml documents every key)"
    return f"unknown key; allowed here: {', '.join(allowed)} (config.example.toml documents each)"


def _keys_at(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys the table at `loc` accepts (list indexes and dict keys pass through to the item's model)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        fields = {info.alias or name: info for name, info in current.model_fields.items()}
        info = fields.get(part)
        if info is None:  # a dict key (e.g. a system's name): the item's model is the dict's value type
            continue
        current = _model_in(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(info.alias or name for name, info in current.model_fields.items())
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel an annotation holds (itself, or inside Optional, list or dict), or None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in reversed(get_args(annotation)):  # dict[str, M]: the value type is last
        found = _model_in(argument)
        if found is not None:
            return found
    return None
