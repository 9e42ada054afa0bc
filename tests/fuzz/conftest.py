"""Hypothesis profiles of the fuzz suite: short in `make test`, long under
CONSENTRY_TORTURE=1 (`make torture`). Registered here; each fuzz test takes its settings
from `fuzz_settings()` so other suites' hypothesis tests keep their own."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

TORTURE = os.environ.get("CONSENTRY_TORTURE") == "1"

settings.register_profile(
    "consentry-fuzz",
    max_examples=80,
    derandomize=True,  # the same examples every `make test` run (tests/conftest.py)
    deadline=None,  # wall time per example is asserted with a generous bound instead
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "consentry-fuzz-torture",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
