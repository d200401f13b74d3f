"""SIGHUP reloads the configuration: a valid one replaces the jobs, an invalid one is refused and logged."""

from __future__ import annotations

import signal
from pathlib import Path

from daemon_testkit import DaemonProcess, local_crm, poll, utc_now, write_config

from gomme.connectors.synthetic import demo_people


def _sweep(job: str) -> bool:
    return job.startswith("sweep ")


def _schedule(every: str) -> str:
    return f'[[schedules]]\njob = "sweep"\nevery = "{every}"\n'


def test_sighup_keeps_the_running_config_when_the_new_one_is_invalid_and_switches_to_a_valid_one(
    tmp_path: Path,
) -> None:
    local_crm(tmp_path / "crm.db", demo_people(utc_now()))
    state_url = f"sqlite:///{tmp_path}/state.db"
    config = write_config(tmp_path / "config.toml", state_url=state_url, schedules=_schedule("1s"))
    daemon = DaemonProcess(config)
    try:
        daemon.wait_for("job_finished", lambda e: e["job"] == "sweep @ every 1s")

        write_config(config, state_url=state_url, schedules=_schedule("soon"))
        daemon.send(signal.SIGHUP)
        rejected = daemon.wait_for("config_reload_rejected")
        assert any("schedules[0].every: 'soon' is not an interval" in issue for issue in rejected["issues"])
        # The built-in "requests @ every 5m" fires on the wall clock's five minutes: only sweeps are counted.
        before = sum(_sweep(e["job"]) for e in daemon.events("job_finished"))
        poll(
            lambda: sum(_sweep(e["job"]) for e in daemon.events("job_finished")) > before,
            what="the old schedule still running",
        )
        assert {e["job"] for e in daemon.events("job_finished") if _sweep(e["job"])} == {"sweep @ every 1s"}

        write_config(config, state_url=state_url, schedules=_schedule("2s"))
        daemon.send(signal.SIGHUP)
        reloaded = daemon.wait_for("config_reloaded")
        assert reloaded["jobs"] == ["sweep @ every 2s", "requests @ every 5m"]
        daemon.wait_for("job_finished", lambda e: e["job"] == "sweep @ every 2s")
        started = [e["job"] for e in daemon.events("job_started") if _sweep(e["job"])]
        assert set(started[started.index("sweep @ every 2s"):]) == {"sweep @ every 2s"}

        assert daemon.stop() == 0
    finally:
        daemon.kill()
