"""Redis faults under a stream of messages: killed and restarted mid-stream, and made
slow (a delaying proxy on loopback) first beyond redis.deadline_ms, then within it.
While Redis cannot answer in time every message gets 451 and nothing leaves; the client's
retries go through once it is back, each delivered once, none to a suppressed recipient."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ..helpers.burstproxy import BurstProxy
from ..helpers.daemon import Daemon
from ..helpers.redis_proc import RedisProc
from ..helpers.sink import Sink
from . import ledger
from .conftest import fault_config, settle
from .load import Stream, plan, scaled

pytestmark = pytest.mark.fault


async def test_redis_killed_and_restarted_mid_stream(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    d = await start_daemon(fault_config(tmp_path, fault_redis.url, sink))
    for rep in range(scaled(1, 3)):
        msgs = plan(f"redis-kill-r{rep}", scaled(16, 150))
        stream = Stream(d.port, msgs, concurrency=4)
        task = asyncio.create_task(stream.run())
        await stream.wait_finished(len(msgs) // 4)
        fault_redis.kill()
        await asyncio.sleep(0.8)  # the stream keeps coming: 451s meanwhile
        fault_redis.start()  # same port, same AOF: canary and suppressions are back
        await task
        settled = await settle(fault_redis, d)
        c = ledger.count("redis-kill", msgs, sink.received, settled)
        ledger.check(c)
        # The fault was felt: some attempts met the dead Redis and were refused with 451.
        assert c.refused.get("451", 0) > 0, c.line()
        sink.received.clear()


async def test_redis_slow_beyond_and_within_the_deadline(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    proxy = BurstProxy(fault_redis.port)
    await proxy.start()
    try:
        d = await start_daemon(fault_config(tmp_path, proxy.url, sink))
        for rep in range(scaled(1, 3)):
            msgs = plan(f"redis-slow-r{rep}", scaled(16, 150))
            stream = Stream(d.port, msgs, concurrency=4)
            task = asyncio.create_task(stream.run())
            await stream.wait_finished(len(msgs) // 4)
            proxy.delay = 0.8  # beyond deadline_ms (500): fail closed, 451
            await asyncio.sleep(1.5)
            proxy.delay = 0.05  # slow but within the deadline: relayed
            await stream.wait_finished(len(msgs) // 2)
            proxy.delay = 0.0
            await task
            settled = await settle(fault_redis, d)
            c = ledger.count("redis-slow", msgs, sink.received, settled)
            ledger.check(c)
            assert c.refused.get("451", 0) > 0, c.line()
            sink.received.clear()
    finally:
        await proxy.stop()
