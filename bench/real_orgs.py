"""gomme on the admin-configured Salesforce org and HubSpot portal of tests/orgs: the per-category table.

    .venv/bin/python bench/real_orgs.py [--crm salesforce|hubspot] [--outputs] [--config]

Runs what tests/test_real_orgs.py runs (dry run, apply, audit verify on freshly seeded CRMs, in a temporary
directory with its own state key) and prints, per CRM, the table of categories (category, expected, n, ok, wrong),
then the misses by id and category. Never prints a name, an email or a phone. Exit 1 on any miss, any collateral
change, a dry run that wrote, or a non-zero exit code of gomme.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from orgs.hubspot_portal import run_hubspot
from orgs.salesforce_org import run_salesforce

RUNNERS = {"salesforce": run_salesforce, "hubspot": run_hubspot}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crm", choices=sorted(RUNNERS), action="append", help="one CRM (default: both)")
    parser.add_argument("--outputs", action="store_true", help="also print gomme's output tails (scrubbed)")
    parser.add_argument("--config", action="store_true", help="also print the config written for each CRM")
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="gomme-real-orgs-") as tmp:
        os.environ.setdefault("GOMME_SECRET_KEY", "bench-real-orgs-key-not-for-production")
        os.environ["XDG_STATE_HOME"] = str(Path(tmp) / "state-home")  # never the user's own state
        os.environ.pop("GOMME_CONFIG", None)
        for crm in args.crm or ["salesforce", "hubspot"]:
            workdir = Path(tmp) / crm
            workdir.mkdir()
            run = RUNNERS[crm](workdir)
            ok &= run.ok
            print(run.report(outputs=args.outputs or run.apply_code != 0))
            if args.config:
                print(f"-- config:\n{run.config}")
            print()
    print("OK: every due action done, no collateral change" if ok else "FAILED: see the tables above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
