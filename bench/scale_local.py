"""Scale benchmark on the local connector: seed N synthetic people, then time `gomme sweep --apply`.

Prints wall time, records pulled, changes, records/s and peak RSS of the sweep process (the whole
process, from the OS). Usage: .venv/bin/python bench/scale_local.py [--people 1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import measure

from gomme.connectors.local import LocalConnector
from gomme.connectors.synthetic import synthetic_people

RSS_LIMIT_MB = 300  # issue #10: streaming end to end, whatever the CRM's size


def seed(directory: Path, people: int) -> float:
    started = time.perf_counter()
    with LocalConnector("crm", directory / "crm.db") as crm:
        crm.add(synthetic_people(people, seed=42, now=dt.datetime.now(dt.UTC)))
    return time.perf_counter() - started


def sweep(config: Path, *extra: str) -> dict[str, float]:
    run = measure.gomme(config, "--log-format", "json", "sweep", *extra, "--format", "json", "--output", os.devnull)
    if run.returncode != 0:
        sys.exit(f"sweep failed ({run.returncode}): {run.stderr[-2000:]}")
    finished = [json.loads(line) for line in run.stderr.splitlines() if '"sweep_finished"' in line]
    return {"wall_s": run.wall_s, "cpu_s": run.cpu_s, "peak_rss_mb": run.peak_rss_mb,
            **{k: finished[-1][k] for k in ("pulled", "planned", "applied")}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="gomme-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("GOMME_SECRET_KEY", "benchmark-secret-key-not-for-production")
    config = directory / "config.toml"
    config.write_text(
        '[state]\nurl = "sqlite:///state.db"\n[sweep]\nbatch_size = 500\n'
        '[connectors.crm]\ntype = "local"\npath = "crm.db"\n'
    )
    print(f"seeding {args.people:,} people in {directory} ...", flush=True)
    print(f"  seeded in {seed(directory, args.people):.1f} s", flush=True)
    runs = {}
    for label, extra in (("dry run", ()), ("apply", ("--apply",)), ("second sweep, nothing due", ("--apply",))):
        runs[label] = figures = sweep(config, *extra)
        rate = figures["pulled"] / figures["wall_s"] if figures["wall_s"] else 0.0
        print(
            f"{label:28} wall {figures['wall_s']:7.1f} s  cpu {figures['cpu_s']:7.1f} s  "
            f"pulled {figures['pulled']:>9,}  planned {figures['planned']:>8,}  applied {figures['applied']:>8,}  "
            f"{rate:10,.0f} records/s  peak RSS {figures['peak_rss_mb']:6.0f} MB",
            flush=True,
        )
    peak = max(figures["peak_rss_mb"] for figures in runs.values())
    applied, planned = runs["apply"]["applied"], runs["dry run"]["planned"]
    print(f"applied {applied:,} of the {planned:,} planned by the dry run; peak RSS of gomme {peak:.0f} MB "
          f"(limit {RSS_LIMIT_MB} MB)")  # fmt: skip
    done = applied == planned and runs["second sweep, nothing due"]["applied"] == 0
    raise SystemExit(0 if done and peak < RSS_LIMIT_MB else 1)


if __name__ == "__main__":
    main()
