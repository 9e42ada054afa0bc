"""consentry itself SIGKILLed mid-stream and started again on the same port and state.

What was accepted before the kill was accepted only after the downstream took it (or its
copy was in the durable retry queue first): all of it is delivered, once. Transactions in
flight got no 250 (their connections died), so the client retries them after the
restart. The one duplicate this can make is RFC 1047's: the downstream took the final dot
and consentry died before its 250 left; those are counted apart (window_duplicates)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ..helpers.daemon import Daemon
from ..helpers.redis_proc import RedisProc
from ..helpers.sink import Sink
from . import ledger
from .conftest import fault_config, retried, settle
from .load import Stream, plan, scaled

pytestmark = pytest.mark.fault


async def test_consentry_sigkilled_mid_stream_and_restarted(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    d = await start_daemon(fault_config(tmp_path, fault_redis.url, sink))
    lost = 0
    for rep in range(scaled(1, 3)):
        msgs = plan(f"consentry-sigkill-r{rep}", scaled(16, 150))
        before = retried(d)
        # Slow final replies keep transactions in flight at the moment of the kill.
        sink.control.data_delay = 0.05
        stream = Stream(d.port, msgs, concurrency=6)
        task = asyncio.create_task(stream.run())
        try:
            await stream.wait_finished(len(msgs) // 3)
            assert d.proc is not None
            d.proc.kill()
            assert await asyncio.to_thread(d.proc.wait, 10) == -9
            await asyncio.sleep(0.5)  # connections refused meanwhile: the client retries
            await asyncio.to_thread(d.start)
        finally:
            await task
        sink.control.data_delay = 0.0
        settled = await settle(fault_redis, d, before)
        c = ledger.count("consentry-sigkill", msgs, sink.received, settled)
        ledger.check(c, lost_ok=True, windows_ok=True)
        assert c.accepted == c.messages, c.line()
        lost += c.lost
        sink.received.clear()
    # The kill was felt: attempts died without a reply (in flight, or refused while down).
    assert lost > 0
