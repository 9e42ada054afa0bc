"""Bounded polling: every wait in the suite has a deadline and says what it waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(pred: Callable[[], object], within: float = 10.0,
                     interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pred():
            return
        await asyncio.sleep(interval)
    if pred():
        return
    raise AssertionError(f"timed out after {within}s waiting for {what}")


def wait_until_sync(pred: Callable[[], object], within: float = 10.0,
                    interval: float = 0.05, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(interval)
    if pred():
        return
    raise AssertionError(f"timed out after {within}s waiting for {what}")
