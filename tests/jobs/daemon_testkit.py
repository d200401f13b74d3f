"""Running `gomme daemon` as a real process in tests: config files, a local CRM, logs, polling state.

Nothing here sleeps for a fixed time: `poll` re-checks a condition until it holds or a timeout passes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from gomme.connectors.local import LocalConnector
from gomme.model.records import PersonRecord

T = TypeVar("T")
TIMEOUT = 30.0


def poll(check: Callable[[], T | None], *, timeout: float = TIMEOUT, what: str = "condition") -> T:
    """Call `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OperationalError, ProgrammingError):  # the daemon has not created the tables yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def local_crm(path: Path, people: Iterable[PersonRecord]) -> Path:
    with LocalConnector("crm", path) as connector:
        connector.add(people)
    return path


def write_config(path: Path, *, state_url: str, schedules: str, batch_size: int = 200) -> Path:
    path.write_text(
        f'[state]\nurl = "{state_url}"\n\n[sweep]\nbatch_size = {batch_size}\n\n'
        f'[daemon]\naddress = "127.0.0.1:0"\n\n[connectors.crm]\ntype = "local"\npath = "crm.db"\n\n{schedules}\n'
    )
    return path


class DaemonProcess:
    """`python -m gomme --config CONFIG daemon [...]`, its JSON log lines read from a file."""

    def __init__(self, config: Path, *args: str) -> None:
        self.log_path = config.with_name(f"daemon-{time.monotonic_ns()}.log")
        self._log = self.log_path.open("wb")
        env = {key: value for key, value in os.environ.items() if key != "GOMME_ACTOR"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gomme", "--config", str(config), "daemon", *args],
            stdout=subprocess.DEVNULL, stderr=self._log, env=env, cwd=config.parent,
        )

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        parsed = [json.loads(line) for line in lines if line.startswith("{") and line.endswith("}")]
        return [event for event in parsed if name is None or event.get("event") == name]

    def wait_for(self, name: str, check: Callable[[dict[str, Any]], bool] = lambda _: True) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            self._assert_alive()
            return next((event for event in self.events(name) if check(event)), None)

        return poll(found, what=f"log event {name}")

    def port(self) -> int:
        return int(self.wait_for("http_listening")["port"])

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.wait()

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=TIMEOUT)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def _assert_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(f"daemon exited with {self.process.returncode}:\n{self.log_path.read_text()}")


def run_once(config: Path) -> tuple[int, str]:
    env = {key: value for key, value in os.environ.items() if key != "GOMME_ACTOR"}
    done = subprocess.run(
        [sys.executable, "-m", "gomme", "--config", str(config), "daemon", "--once"],
        capture_output=True, text=True, env=env, cwd=config.parent, timeout=TIMEOUT, check=False,
    )
    return done.returncode, done.stderr


def count(engine: Engine, statement: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(statement).scalar_one())


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
