"""Orchestration: sweeps, the apply loop, data-subject requests and the daemon."""
