#!/usr/bin/env bash
# The long variants of the reliability tests (CI runs the short ones): crash-safety with more SIGKILLs
# per CRM and the sweeps at a million records on each CRM. Override either through the environment.
#   bench/long_variants.sh                     # 100 kills per CRM, then 1,000,000 records per CRM
#   GOMME_CRASH_ITERATIONS=500 GOMME_SCALE_PEOPLE=200000 bench/long_variants.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export GOMME_CRASH_ITERATIONS="${GOMME_CRASH_ITERATIONS:-100}"
export GOMME_SCALE_PEOPLE="${GOMME_SCALE_PEOPLE:-1000000}"
exec .venv/bin/pytest -p no:cacheprovider -s tests/reliability/test_crash_safety.py tests/reliability/test_scale.py "$@"
