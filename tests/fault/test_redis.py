"""Redis faults under a stream of messages: killed and restarted mid-stream, and made
slow (a delaying proxy on loopback) first beyond redis.deadline_ms, then within it.
While Redis cannot answer in time every message gets 451 and nothing leaves; the client's
retries go through once it is back, each delivered once, none to a suppressed recipient."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope

from ..helpers.burstproxy import BurstProxy
from ..helpers.daemon import Daemon
from ..helpers.redis_proc import RedisProc
from ..helpers.sink import Sink
from ..helpers.waits import wait_until
from . import ledger
from .conftest import fault_config, retried, settle
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


class _KillRedisAtASecondCopy:
    """Sink hook: at the first copy of a message whose other copy was already accepted,
    kill Redis and refuse the copy with 451."""

    def __init__(self, rp: RedisProc) -> None:
        self.rp = rp
        self.seen: set[str] = set()
        self.fired = False

    def __call__(self, env: Envelope) -> str | None:
        fid = ledger.fault_id(env.original_content or b"")
        if fid is None or self.fired:
            return None
        if fid in self.seen:
            self.fired = True
            self.rp.kill()
            return "451 4.3.0 try again"
        self.seen.add(fid)
        return None


async def test_redis_killed_while_a_later_copy_fails_spools_the_retry_job(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    """Redis dies just as a later per-recipient copy is refused with 451: the client
    already owns a delivered copy, so the relay must answer 250 and keep the failed copy
    in its local fsync'd spool; once Redis is back the worker moves it into the queue
    and delivers it, once."""
    d = await start_daemon(fault_config(tmp_path, fault_redis.url, sink))
    for rep in range(scaled(1, 3)):
        trap = _KillRedisAtASecondCopy(fault_redis)
        msgs = plan(f"redis-kill-spool-r{rep}", scaled(16, 150))
        before = retried(d)
        spooled_before = len(d.events("retry_spooled"))
        stream = Stream(d.port, msgs, concurrency=4)
        task = asyncio.create_task(stream.run())
        try:
            await stream.wait_finished(len(msgs) // 4)
            sink.control.on_message = trap
            await wait_until(lambda t=trap: t.fired, within=20, what="a later copy at the sink")
            await asyncio.sleep(0.8)
            fault_redis.start()
        finally:
            sink.control.on_message = None
            await task
        settled = await settle(fault_redis, d, before)
        c = ledger.count("redis-kill-spool", msgs, sink.received, settled)
        ledger.check(c)
        assert len(d.events("retry_spooled")) > spooled_before, "the copy was not spooled"
        assert c.retried >= 1, c.line()
        sink.received.clear()
