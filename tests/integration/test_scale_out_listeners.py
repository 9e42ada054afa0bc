"""One process per core with every listener: two `consentry serve` with
submission.reuse_port share the submission, the inbound and the http port (SO_REUSEPORT
on each); the kernel spreads inbound connections over both, every reply is spooled and
forwarded once, /healthz answers on the shared port, both stop cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from pathlib import Path

from ..helpers.client import message, send
from ..helpers.daemon import Daemon, base_config, greets
from ..helpers.redis_proc import free_port
from ..helpers.sink import Sink
from ..helpers.waits import wait_until


def _healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        return int(r.status)


async def test_two_processes_share_inbound_and_http_ports(
        tmp_path: Path, redis_url: str, sink: Sink) -> None:
    port, inbound_port, http_port = free_port(), free_port(), free_port()
    daemons: list[Daemon] = []
    try:
        for name in ("a", "b"):
            d_tmp = tmp_path / name
            d_tmp.mkdir()
            d = Daemon(d_tmp, base_config(
                d_tmp, redis_url, sink.port, submission={"reuse_port": True},
                inbound={"enabled": True, "listen": [f"127.0.0.1:{inbound_port}"],
                         "domain": "bounce.shop.test",
                         "reply_addresses": ["antwort@shop.test"],
                         "review_mailbox": "review@shop.test"},
                http={"enabled": True, "listen": [f"127.0.0.1:{http_port}"],
                      "base_url": "https://shop.test"}), port=port)
            daemons.append(d)
            await asyncio.to_thread(d.start)
            # as long as Daemon.start waits for the greeting (30 s): the second process's
            # start() returns once the first one greets on the shared port
            await wait_until(lambda d=d: d.events("inbound_started"), within=30,
                             what=f"{name}: inbound listener")
        await wait_until(lambda: greets(inbound_port), within=30, what="inbound")
        assert all(d.proc is not None and d.proc.poll() is None for d in daemons)
        assert [await asyncio.to_thread(_healthz, http_port) for _ in range(4)] == [200] * 4

        n = 24
        results = await asyncio.gather(*(
            send(inbound_port, ["antwort@shop.test"],
                 message(subject=f"Re: {i}", msgid=f"<reply-{i}@kunde.example>"),
                 mail_from="kunde@kunde.example")
            for i in range(n)))
        assert [code for code, _, _ in results] == [250] * n, results
        await wait_until(lambda: len(sink.received) == n, within=30, what="forwards")
        assert all(m.rcpts == ["review@shop.test"] for m in sink.received)
        # each process logs its "inbound" line after the forward: wait for all of them
        await wait_until(lambda: sum(len(d.events("inbound")) for d in daemons) >= n,
                         within=10, what="inbound log lines")
        per_process = [len(d.events("inbound")) for d in daemons]
        assert sum(per_process) == n and all(k > 0 for k in per_process), per_process
        for d in daemons:
            d.signal(signal.SIGTERM)
        for d in daemons:
            assert await asyncio.to_thread(d.wait, 15) == 0, d.log_text()
    finally:
        for d in daemons:
            d.stop()
