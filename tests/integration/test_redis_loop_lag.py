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


async def _until(cond: object, limit: float = 10.0) -> bool:
    """Poll (bounded) until cond() is true; the bound only stops a broken build."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while loop.time() < end:
        if cond():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return False


async def test_the_heartbeat_stops_on_an_idle_loop_and_starts_with_the_next_lookup(
        own_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod.LoopLag, "TICK", 0.01)
    lag = store_mod.LoopLag.of(asyncio.get_running_loop())
    await own_store.recipient_states([address.parse("one@example.org")])
    assert lag.running and lag.in_flight == 0
    assert await _until(lambda: not lag.running)  # nothing asked of Redis: no wake-ups
    await own_store.recipient_states([address.parse("two@example.org")])
    assert lag.running and lag.recent == 0.0  # a clean reading, not the stale one


async def test_the_heartbeat_keeps_beating_while_a_round_trip_is_in_flight(
        own_store: Store, own_redis: RedisProc, monkeypatch: pytest.MonkeyPatch) -> None:
    # A lookup that outlasts the idle span (a stopped Redis, a long deadline) keeps the
    # heartbeat going, so its lateness reading is current when the deadline comes.
    monkeypatch.setattr(store_mod.LoopLag, "TICK", 0.005)
    lag = store_mod.LoopLag.of(asyncio.get_running_loop())
    await own_store.recipient_states([address.parse("warm@example.org")])
    assert own_redis.proc is not None
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    try:
        task = asyncio.ensure_future(
            own_store.recipient_states([address.parse("held@example.org")]))
        # the idle span is 20 ticks = 0.1 s; the deadline is 0.5 s
        await asyncio.sleep(0.3)
        assert lag.in_flight == 1 and lag.running
        with pytest.raises(StoreUnavailable, match="deadline exceeded"):
            await task
    finally:
        os.kill(own_redis.proc.pid, signal.SIGCONT)
    assert lag.in_flight == 0


async def test_stores_on_one_loop_share_one_heartbeat(own_redis: RedisProc) -> None:
    a, b = await _store(own_redis.url), await _store(own_redis.url)
    try:
        await a.recipient_states([address.parse("a@example.org")])
        await b.recipient_states([address.parse("b@example.org")])
        loop = asyncio.get_running_loop()
        assert store_mod.LoopLag.of(loop) is store_mod.LoopLag.of(loop)
        handles = [h for h in loop._scheduled  # type: ignore[attr-defined]
                   if getattr(h._callback, "__self__", None).__class__ is store_mod.LoopLag
                   and not h.cancelled()]
        assert len(handles) == 1
    finally:
        await a.close()
        await b.close()


async def test_a_late_loop_during_redis_py_s_own_read_does_not_turn_into_451(
        own_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Round trips outside the auto-pipeline (here a token reference read, through
    # redis-py's pool) are read by redis-py under its own socket timeout. Were that the
    # deadline itself, it would expire in the same late loop turn as the deadline and
    # the one extension could never help: the loop is blocked right as the read waits.
    from redis.asyncio.connection import AbstractConnection

    orig = AbstractConnection.read_response
    blocked: list[bool] = []

    async def read_response(self: AbstractConnection, *a: object, **kw: object) -> object:
        if not blocked:
            blocked.append(True)
            asyncio.get_running_loop().call_soon(time.sleep, BUSY)
        return await orig(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(AbstractConnection, "read_response", read_response)
    assert await own_store.resolve_token_ref("a" * 20) is None
    assert blocked and own_store.lag_extensions == 1
