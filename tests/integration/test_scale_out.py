"""One process per core: two `consentry serve` on ONE address with submission.reuse_port
(SO_REUSEPORT) and server.event_loop: uvloop; the kernel spreads the connections, every
message is relayed exactly once, both stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path

from ..helpers.client import message, send
from ..helpers.daemon import Daemon, base_config, greets
from ..helpers.redis_proc import free_port
from ..helpers.sink import Sink
from ..helpers.waits import wait_until


async def test_two_processes_share_one_port_with_reuse_port_on_uvloop(
        tmp_path: Path, redis_url: str, sink: Sink) -> None:
    port = free_port()
    daemons: list[Daemon] = []
    try:
        for name in ("a", "b"):
            d_tmp = tmp_path / name
            d_tmp.mkdir()
            d = Daemon(d_tmp, base_config(d_tmp, redis_url, sink.port,
                                          server={"event_loop": "uvloop"},
                                          submission={"reuse_port": True}), port=port)
            daemons.append(d)
            await asyncio.to_thread(d.start)
        for d in daemons:
            # the second process's start() returns once the first one greets on the
            # shared port: wait for its own start as long as start() would (30 s)
            await wait_until(lambda d=d: d.events("started"), within=30, what="started")
            (started,) = d.events("started")
            assert started["event_loop"] == "uvloop", started
        n = 40
        results = await asyncio.gather(*(
            send(port, [f"r{i}@example.org"], message(msgid=f"<ro-{i}@sender.example>"))
            for i in range(n)))
        assert [code for code, _, _ in results] == [250] * n
        assert sorted(r for m in sink.received for r in m.rcpts) == sorted(
            f"r{i}@example.org" for i in range(n))
        per_process = [len(d.events("decision")) for d in daemons]
        assert sum(per_process) == n and all(k > 0 for k in per_process), per_process
        for d in daemons:
            d.signal(signal.SIGTERM)
        for d in daemons:
            assert await asyncio.to_thread(d.wait, 15) == 0, d.log_text()
    finally:
        for d in daemons:
            d.stop()


async def test_uvloop_refusals_and_drain_close_connections_cleanly(
        tmp_path: Path, redis_url: str, sink: Sink) -> None:
    """On uvloop (whose transports are no asyncio.Transport subclasses) the paths that
    answer and close a connection themselves still work: one over the connection cap
    gets 421, and SIGTERM answers an idle session 421 and exits 0. Clients that close
    before their greeting (uvloop sees their EOF before the session's first step) free
    their slot at once, not after the command timeout (30 s): once held it until then,
    so a start-up probe that gave up made every later connection 421."""
    from ..helpers.rawsmtp import RawSMTP

    d = Daemon(tmp_path, base_config(tmp_path, redis_url, sink.port,
                                     server={"event_loop": "uvloop"},
                                     submission={"max_connections": 1}))
    try:
        await asyncio.to_thread(d.start)
        for _ in range(5):
            socket.create_connection(("127.0.0.1", d.port), timeout=5).close()
        await wait_until(lambda: greets(d.port), within=10, what="a free slot again")
        async with RawSMTP(d.port) as idle:
            assert idle.greeting is not None and idle.greeting.code == 220
            assert (await idle.cmd("EHLO client.test")).code == 250
            over = RawSMTP(d.port)
            await over.connect(read_greeting=False)
            assert (await over.reply()).code == 421
            await over.close()
            d.signal(signal.SIGTERM)
            assert (await idle.reply(within=10)).code == 421
        assert await asyncio.to_thread(d.wait, 15) == 0, d.log_text()
    finally:
        d.stop()
