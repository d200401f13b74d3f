"""What every job needs to run against one connector: the pieces, wired once by the composition root."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from gomme.connectors.base import Connector
from gomme.policies.policy import Policy
from gomme.state.clock import utc_now
from gomme.state.keys import Keyring


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class RunContext:
    """`now` is the decision time (fixed for a run); `clock` stamps writes and audit entries.

    `should_stop` is polled between batches: a signal handler sets it, the loop finishes its batch.
    """

    connector: Connector
    policy: Policy
    engine: Engine
    keyring: Keyring
    now: dt.datetime
    actor: str
    batch_size: int = 200
    should_stop: Callable[[], bool] = _never
    clock: Callable[[], dt.datetime] = field(default=utc_now)
