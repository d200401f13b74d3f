"""The blast-radius guard: refuse to apply a plan that changes more records than the admin allowed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BeforeValidator

_LIMIT = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<percent>%?)")


@dataclass(frozen=True, slots=True)
class ChangeLimitValue:
    """At most `count` changes, or at most `percent` % of the records the CRM holds.

    The base of a percentage is the CRM's size, not the records pulled: pushdown pulls only
    candidates, of which 100% may rightly change.
    """

    count: int | None = None
    percent: float | None = None

    @classmethod
    def parse(cls, text: str | int) -> ChangeLimitValue:
        if isinstance(text, int) and not isinstance(text, bool):
            if text < 0:
                raise ValueError("must be zero or more")
            return cls(count=text)
        match = _LIMIT.fullmatch(str(text).strip())
        if not match:
            raise ValueError(f"'{text}' is neither a number of changes (500) nor a percentage (5%)")
        if match["percent"]:
            percent = float(match["number"])
            if percent > 100:
                raise ValueError("a percentage must be between 0% and 100%")
            return cls(percent=percent)
        if "." in match["number"]:
            raise ValueError("a number of changes must be a whole number")
        return cls(count=int(match["number"]))

    def allows(self, planned: int, base: int) -> bool:
        if self.count is not None:
            return planned <= self.count
        assert self.percent is not None
        return planned <= base * self.percent / 100

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


def _coerce(value: object) -> ChangeLimitValue:
    if isinstance(value, ChangeLimitValue):
        return value
    if isinstance(value, int | str):
        return ChangeLimitValue.parse(value)
    raise ValueError("expected a number of changes (500) or a percentage ('5%')")


ChangeLimit = Annotated[ChangeLimitValue, BeforeValidator(_coerce)]
