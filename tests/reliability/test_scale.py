"""The scale benchmarks, run small: each sweeps its CRM end to end and must stay under 300 MB peak RSS.

Each benchmark script checks its own result (every due record changed, nothing failed, the peak RSS of
the `gomme` process under the limit) and exits 1 otherwise; here they run at GOMME_SCALE_PEOPLE records
(2,000 by default). The long variant is the same command: GOMME_SCALE_PEOPLE=1000000 (see README,
"Performance"). Peak RSS is measured on the gomme process alone, not on the fake CRM serving it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PEOPLE = os.environ.get("GOMME_SCALE_PEOPLE", "2000")
BENCH = Path(__file__).resolve().parents[2] / "bench"
COMMANDS = {
    "local": ["scale_local.py", "--people", PEOPLE],
    "salesforce": ["salesforce_sweep.py", "--people", PEOPLE],
    "hubspot": ["hubspot_sweep.py", "--contacts", PEOPLE, "--tier", "limit-increase"],
}


@pytest.mark.parametrize("crm", list(COMMANDS))
def test_a_sweep_at_scale_changes_every_due_record_within_300_mb(crm: str) -> None:
    script, *args = COMMANDS[crm]
    result = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                            timeout=3600, check=False)  # fmt: skip
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    peaks = [float(mb) for mb in re.findall(r"peak RSS\s+(\d+) MB", result.stdout)]
    assert peaks and max(peaks) < 300
    assert re.search(r"records/s", result.stdout)
