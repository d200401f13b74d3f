"""gomme against a Salesforce org and a HubSpot portal set up the way admins set them up (tests/orgs).

Each CRM is seeded independently of gomme's mapping code (docs/real-orgs.md, docs/law.md, the `cnil` pack), every person
labelled with what the law requires. The config is the one an admin writes from the README. The test runs
`gomme sweep` (dry run: nothing may change), `gomme sweep --apply` and `gomme audit verify`, then requires 100% of
the due actions and 0 collateral changes: a record labelled "keep" must be byte-for-byte unchanged (timestamps
aside). On failure it prints the per-category table and the misses by id and category (never a name or address).

The same runs, printed for both CRMs: `.venv/bin/python bench/real_orgs.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from orgs.hubspot_portal import run_hubspot
from orgs.labels import Run
from orgs.salesforce_org import run_salesforce


def _check(run: Run) -> None:
    if not run.ok:
        pytest.fail(f"\n{run.report(outputs=True)}\n-- config written:\n{run.config}", pytrace=False)


def test_salesforce_org_set_up_by_an_admin(tmp_path: Path) -> None:
    _check(run_salesforce(tmp_path))


def test_hubspot_portal_set_up_by_an_admin(tmp_path: Path) -> None:
    _check(run_hubspot(tmp_path))
