"""The policy the end-to-end tests' oracles are written for: erasure, 3-year retention, legal hold.

Pinned here rather than taken from the `cnil` pack, so the pack can grow without rewriting the
oracles; the pack itself is tested in tests/policies.
"""

from __future__ import annotations

from gomme.policies.policy import Policy, load_policy

RETENTION_POLICY_TOML = """
[[policy.rules]]
id = "erasure-request"
kind = "erasure_request"
action = "anonymise"

[[policy.rules]]
id = "retention-prospect"
kind = "retention"
lifecycle = "prospect"
clock = "last_activity"
after = "P3Y"
action = "anonymise"

[[policy.rules]]
id = "retention-former-customer"
kind = "retention"
lifecycle = "former_customer"
clock = "contract_end"
after = "P3Y"
action = "anonymise"

[[policy.rules]]
id = "legal-hold"
kind = "legal_hold"
"""


def retention_policy() -> Policy:
    import tomllib

    return load_policy(tomllib.loads(RETENTION_POLICY_TOML)["policy"], source="tests")
