"""The Redis deadline is Redis's, not the event loop's: a lookup whose reply is late
only because this process's loop was busy (a burst of sessions) moves its deadline on
once, and a Redis that does not answer still fails closed (StoreUnavailable: 451)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest

from consentry import address, config
from consentry import store as store_mod
from consentry.store import Store, StoreUnavailable

from ..helpers.redis_proc import RedisProc

DEADLINE_MS = 500
BUSY = 0.8  # seconds the loop is blocked: longer than the deadline, shorter than two


async def _store(url: str) -> Store:
    cfg = config.from_mapping({"redis": {"embedded": False, "url": url,
                                         "deadline_ms": DEADLINE_MS}})
    s = Store(cfg.redis, url)
    await s.init_epoch()
    return s


@pytest.fixture
async def own_store(own_redis: RedisProc) -> AsyncIterator[Store]:
    s = await _store(own_redis.url)
    yield s
    await s.close()


async def _lookup_while_the_loop_is_busy(s: Store) -> asyncio.Task[object]:
    """Start a lookup and block the loop before its request is even flushed: the
    deadline passes while the loop cannot read anything."""
    loop = asyncio.get_running_loop()
    task = loop.create_task(s.recipient_states([address.parse("busy@example.org")]))
    loop.call_soon(time.sleep, BUSY)  # runs right after the lookup's first step
    await asyncio.wait({task}, timeout=10)
    assert task.done()
    return task  # type: ignore[return-value]


async def test_a_busy_loop_does_not_turn_a_healthy_redis_into_451(own_store: Store) -> None:
    task = await _lookup_while_the_loop_is_busy(own_store)
    states = task.result()
    assert isinstance(states, list) and len(states) == 1
    assert not states[0].suppressions
    assert own_store.lag_extensions == 1


async def test_without_the_extension_the_same_lookup_fails(
        own_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same scene with extensions switched off: this is the 451 the burst saw.
    monkeypatch.setattr(store_mod, "LAG_SHARE", 1e9)
    task = await _lookup_while_the_loop_is_busy(own_store)
    with pytest.raises(StoreUnavailable, match="deadline exceeded"):
        task.result()
    assert own_store.lag_extensions == 0


async def test_a_stopped_redis_still_fails_closed_on_a_busy_loop(
        own_store: Store, own_redis: RedisProc) -> None:
    assert own_redis.proc is not None
    await own_store.recipient_states([address.parse("warm@example.org")])
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        task = await _lookup_while_the_loop_is_busy(own_store)
        with pytest.raises(StoreUnavailable, match="deadline exceeded"):
            task.result()
        assert own_store.lag_extensions == 1  # moved on once, then failed closed
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)


async def test_an_idle_loop_never_extends(own_store: Store, own_redis: RedisProc) -> None:
    for i in range(50):
        await own_store.recipient_states([address.parse(f"u{i}@example.org")])
    assert own_redis.proc is not None
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        with pytest.raises(StoreUnavailable, match="deadline exceeded"):
            await own_store.recipient_states([address.parse("stopped@example.org")])
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    assert own_store.lag_extensions == 0
