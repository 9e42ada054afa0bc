"""Fixtures for destructive fault tests: a redis-server of the test's own (killed,
paused or flushed without touching the session one), stopped by PID afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers.redis_proc import RedisProc


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProc]:
    rp = RedisProc(tmp_path / "own-redis")
    rp.start()
    yield rp
    rp.stop()
