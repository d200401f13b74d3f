"""Policy-test plumbing: a thorough Hypothesis profile, and the scanner's corpus figures in the test summary."""

from __future__ import annotations

import pytest
from hypothesis import settings
from policy_testkit import CORPUS_FIGURES

# `pytest --hypothesis-profile=thorough tests/policies` explores far more records than the quick default.
settings.register_profile("thorough", max_examples=3000, deadline=None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    figures = config.stash.get(CORPUS_FIGURES, None)
    if figures:
        terminalreporter.section("sensitive-note scanner on the labelled corpus")
        for line in figures:
            terminalreporter.write_line(line)
