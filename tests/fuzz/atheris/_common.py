"""Shared by the atheris harnesses: run one target under libFuzzer with consentry's
modules instrumented; the documented exceptions are caught by each target, anything else
is a crash (libFuzzer stops, writes the input, exits non-zero)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import atheris


def run(target: Callable[[bytes], None]) -> None:
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
