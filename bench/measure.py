"""Run one `gomme` command as its own process and measure it: wall time, CPU time and its own peak RSS.

Peak RSS is read from the child's /proc/<pid>/status (VmHWM, the high-water mark of its own address
space) while it runs. `ru_maxrss` from wait4() is not used: a child spawned by a large process (a
benchmark holding a million-record fake CRM) inherits the parent's high-water mark at exec, so it would
report the fake's size, not gomme's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str


def gomme(config: Path, *args: str, env: dict[str, str] | None = None) -> Measured:
    """`python -m gomme --config CONFIG ARGS...`, measured."""
    return measure([sys.executable, "-m", "gomme", "--config", str(config), *args], env=env)


def measure(command: list[str], *, env: dict[str, str] | None = None) -> Measured:
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env={**os.environ, **(env or {})})
        peak = _Peak(process.pid)
        peak.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        peak.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(process.returncode, wall, usage.ru_utime + usage.ru_stime, peak.kb / 1024, out.read(),
                        err.read())  # fmt: skip


class _Peak(threading.Thread):
    """Polls VmHWM every 10 ms; a high-water mark, so only growth in the last poll interval can be missed."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.status = Path(f"/proc/{pid}/status")
        self.kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self._read()
            self._done.wait(0.01)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def _read(self) -> None:
        try:
            text = self.status.read_text()
        except OSError:  # exited, or not yet readable
            return
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                self.kb = max(self.kb, int(line.split()[1]))
