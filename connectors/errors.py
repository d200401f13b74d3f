"""The three kinds of connector error, by what the caller should do about them."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class; messages must never contain personal data."""


class RetryableError(ConnectorError):
    """Transient: rate limit, 5xx, timeout, lock. Retry with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecordError(ConnectorError):
    """One record is bad: record it, skip it, go on."""

    def __init__(self, message: str, *, record_id: str, code: str) -> None:
        super().__init__(message)
        self.record_id = record_id
        self.code = code


class FatalError(ConnectorError):
    """Auth or configuration problem: stop the run and show the message."""


class MappingMismatch(FatalError):
    """The CRM lacks or locks fields the configuration names; `notices` are the defaults it skips besides."""

    def __init__(self, crm: str, problems: list[str], notices: list[str]) -> None:
        super().__init__(
            f"the {crm} does not match the configuration (nothing was read or written):\n  "
            + "\n  ".join(problems)
            + "\n  run `gomme config check --online` for the full picture"
        )
        self.problems, self.notices = problems, notices
