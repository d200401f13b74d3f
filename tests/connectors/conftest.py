"""Fixtures for the connector tests: `sf`, a fake Salesforce org behind `responses` (see salesforce_testkit)."""

from salesforce_testkit import sf

__all__ = ["sf"]
