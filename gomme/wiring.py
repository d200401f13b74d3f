"""Turns a validated Config into live objects: state engine, key, connectors, run contexts."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from gomme.config import Config, SystemNotice
from gomme.connectors.base import Connector
from gomme.connectors.registry import connector_type
from gomme.jobs.access_bundle import ProcessingNotice, Recipient
from gomme.jobs.context import RunContext
from gomme.jobs.requests import RequestDesk
from gomme.state.anchors import write_anchor
from gomme.state.clock import stamp, utc_now
from gomme.state.db import make_engine, upgrade
from gomme.state.keys import Keyring, open_keyring


class App:
    """The wired application for one command invocation (or one daemon configuration)."""

    def __init__(self, config: Config, *, engine: Engine | None = None) -> None:
        """`engine`: a state engine already open on `config`'s state URL (the daemon's, kept across reloads)."""
        self.config = config
        self._engine: Engine | None = engine
        self._owns_engine = engine is None
        self._keyring: Keyring | None = None

    def engine(self) -> Engine:
        """The state engine, migrated to the current schema on first use (migrations run on start, once)."""
        if self._engine is None:
            self._engine = engine = make_engine(self.config.state_url())
            try:
                upgrade(engine)
                self.keyring()  # a lost or replaced key stops every command that opens the state, before anything
            except BaseException:
                self.close()
                raise
        return self._engine

    def close(self) -> None:
        """Close the state engine's pooled connections, if this App opened them (a server's slots are finite)."""
        if self._engine is not None and self._owns_engine:
            self._engine.dispose()
            self._engine = None
            self._keyring = None

    def keyring(self) -> Keyring:
        """The state key, checked against the state's fingerprint (state/keys.py)."""
        if self._keyring is None:
            self._keyring = open_keyring(self.engine(), self.config.key_file(), now=stamp(utc_now()))
        return self._keyring

    def anchor(self) -> None:
        """Append the audit chain's head to the configured anchor file, if any (state/anchors.py)."""
        path = self.config.anchor_file()
        if path is not None:
            write_anchor(self.engine(), self.keyring(), path, now=stamp(utc_now()))

    def connector_names(self, wanted: list[str] | None = None) -> list[str]:
        names = list(self.config.connectors)
        unknown = sorted(set(wanted or ()) - set(names))
        if unknown:
            raise LookupError(
                f"no connector named {', '.join(unknown)} in {self.config.source}; configured: {', '.join(names)}"
            )
        return list(wanted) if wanted else names

    @contextmanager
    def connector(self, name: str) -> Iterator[Connector]:
        settings = self.config.connectors[name]
        kind = connector_type(str(getattr(settings, "type")))  # noqa: B009  (every Settings model has `type`)
        connector = kind.from_settings(name, settings, base_dir=self.config.base_dir)
        try:
            yield connector
        finally:
            connector.close()

    def context(
        self, connector: Connector, engine: Engine, keyring: Keyring, *, now: dt.datetime, actor: str,
        should_stop: Callable[[], bool] | None = None,
    ) -> RunContext:
        return RunContext(
            connector=connector, policy=self.config.policy, engine=engine, keyring=keyring, now=now,
            actor=actor, batch_size=self.config.sweep.batch_size, should_stop=should_stop or _never,
        )


    def request_desk(self, engine: Engine, keyring: Keyring, *, now: dt.datetime, actor: str) -> RequestDesk:
        register = self.config.register
        recipients = tuple(
            Recipient(name, str(getattr(settings, "type", "crm")), **_given(register.systems.get(name)))
            for name, settings in self.config.connectors.items()
        )
        default = ProcessingNotice()
        notice = ProcessingNotice(
            controller=register.controller or default.controller, dpo_contact=register.dpo_contact,
            purposes=tuple(register.purposes) or default.purposes,
            data_categories=tuple(register.data_categories) or default.data_categories,
            source=register.source or default.source, recipients=recipients,
        )
        return RequestDesk(
            connectors=tuple(self.config.connectors), open_connector=self.connector, engine=engine, keyring=keyring,
            policy=self.config.policy, now=now, actor=actor, export_dir=self.config.export_dir(), notice=notice,
            context=lambda connector: self.context(connector, engine, keyring, now=now, actor=actor),
        )


def _given(system: SystemNotice | None) -> dict[str, str]:
    """The hosting facts the config states; the others keep their 'not stated' defaults."""
    if system is None:
        return {}
    return {key: value for key, value in system.model_dump().items() if value}


def default_actor() -> str:
    """Who ran it, for the audit log: `GOMME_ACTOR`, else the OS user (an operator id, not a data subject)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return os.environ.get("GOMME_ACTOR") or f"{user}@cli"


def _never() -> bool:
    return False
