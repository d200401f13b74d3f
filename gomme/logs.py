"""structlog set-up: console on a terminal, JSON lines otherwise, and no personal data in any line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO, cast

import structlog

# Keys whose values are personal data by definition: dropped whatever they hold.
PII_KEYS = frozenset({
    "email", "first_name", "last_name", "name", "phone", "mobile", "birthdate", "note", "notes", "text",
    "address", "firstname", "lastname", "mobilephone", "date_of_birth", "description",
})  # fmt: skip
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d .()-]{7,}\d(?!\w)")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")  # four dotted groups: an address, not a phone (10+ digits in FR/EN/DE)
REDACTED = "[redacted]"


def drop_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop PII-named keys and mask email- or phone-shaped text in every other value."""
    for key in list(event_dict):
        if key.lower() in PII_KEYS:
            event_dict[key] = REDACTED
        elif isinstance(event_dict[key], str):
            event_dict[key] = mask(event_dict[key])
    return event_dict


def mask(text: str) -> str:
    return _PHONE.sub(_phone_masked, _EMAIL.sub(REDACTED, text))


def _phone_masked(found: re.Match[str]) -> str:
    return found[0] if _IPV4.fullmatch(found[0]) else REDACTED


class _CurrentStderr:
    """Whatever `sys.stderr` is at write time (it may be swapped after logging is set up, e.g. by tests)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_as_json = False


def json_logs() -> bool:
    """Whether the last `configure_logging` chose JSON lines (then progress goes to the logs, not to bars)."""
    return _as_json


def configure_logging(
    fmt: Literal["auto", "console", "json"] = "auto", level: str = "info", stream: Any = None
) -> None:
    """Log to stderr (stdout carries plans and reports): JSON for machines, console for people."""
    global _as_json
    as_json = _as_json = fmt == "json" or (fmt == "auto" and not (stream or sys.stderr).isatty())
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            drop_personal_data,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        # WriteLogger writes each line and its newline in one write() (then flush(); _CurrentStderr has both):
        # print() writes them apart, so a signal arriving in between (the daemon's second SIGTERM, whose
        # handler writes its own line and exits) glued two JSON lines together.
        logger_factory=structlog.WriteLoggerFactory(stream or cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
