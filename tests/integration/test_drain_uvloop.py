"""Under both event loops -- uvloop (the default, whose transports are not
asyncio.WriteTransport subclasses) and asyncio -- every one-line refusal works on a real
`consentry serve`: a connection
over the per-IP cap gets 421 on both listeners, and SIGTERM tells the idle submission and
inbound sessions 421, closes them and exits 0 (an isinstance assert once crashed the
drain with exit 1)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers.daemon import Daemon, base_config, greets
from ..helpers.rawsmtp import RawSMTP
from ..helpers.redis_proc import free_port
from ..helpers.sink import Sink
from ..helpers.waits import wait_until


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.stop()


async def _first_line(port: int, source: str) -> bytes:
    rd, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        async with asyncio.timeout(5):
            return await rd.readline()
    finally:
        w.close()


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_refusals_and_drain_under_each_event_loop(
        loop: str, tmp_path: Path, redis_url: str, sink: Sink, daemons: list[Daemon]) -> None:
    inbound_port = free_port()
    d = Daemon(tmp_path, base_config(
        tmp_path, redis_url, sink.port,
        server={"event_loop": loop, "drain_timeout": 10},
        submission={"max_connections_per_ip": 2},
        inbound={"enabled": True, "listen": [f"127.0.0.1:{inbound_port}"],
                 "domain": "bounce.shop.test", "max_connections_per_ip": 1}))
    daemons.append(d)
    await asyncio.to_thread(d.start)
    await wait_until(lambda: greets(inbound_port), within=10, what="inbound")
    await wait_until(lambda: d.events("started"), within=10, what="started")
    (started,) = d.events("started")
    assert started["event_loop"] == loop, started

    # the caps are per IP: sources of their own, apart from the start-up probes
    idle = [await RawSMTP(d.port, source="127.0.0.2").connect() for _ in range(2)]
    for c in idle:
        assert c.greeting is not None and c.greeting.code == 220, c.greeting
        assert (await c.cmd("EHLO client.test")).code == 250
    over_cap = await _first_line(d.port, "127.0.0.2")
    assert over_cap.startswith(b"421"), over_cap
    inbound = await RawSMTP(inbound_port, source="127.0.0.3").connect()
    assert inbound.greeting is not None and inbound.greeting.code == 220, inbound.greeting
    assert (await inbound.cmd("EHLO mx.isp.example")).code == 250
    over_cap = await _first_line(inbound_port, "127.0.0.3")
    assert over_cap.startswith(b"421"), over_cap

    d.signal(signal.SIGTERM)
    for c in [*idle, inbound]:
        r = await c.reply(10)
        assert r.code == 421, r
        assert await c.closed_by_server(5)
        await c.close()
    assert await asyncio.to_thread(d.wait, 15) == 0, d.log_text()
    assert d.events("stopped"), d.log_text()
    assert "Traceback" not in d.log_text()
