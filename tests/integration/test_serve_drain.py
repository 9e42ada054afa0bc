"""SIGTERM drain of a real `consentry serve` under concurrent load (RELIABILITY S1):
listeners close at once (late connection: refused or 421), every transaction already
under way completes exactly once, a session between transactions gets 421, a session
stuck mid-transaction past server.drain_timeout gets 421, and the process exits 0.
(tests/integration/test_shutdown.py covers the in-process App.stop with one message.)"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers.client import message
from ..helpers.daemon import Daemon, base_config
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.sink import Sink
from ..helpers.waits import wait_until


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.stop()


async def _open_tx(port: int, i: int, rcpt: bool = True) -> RawSMTP:
    c = await RawSMTP(port).connect()
    assert (await c.cmd("EHLO client.test")).code == 250
    assert (await c.cmd("MAIL FROM:<news@sender.example>")).code == 250
    if rcpt:
        assert (await c.cmd(f"RCPT TO:<r{i}@example.org>")).code == 250
    return c


def _msg(i: int) -> bytes:
    return dot_terminated(message(subject=f"drain {i}", msgid=f"<drain-{i}@sender.example>"))


async def _late_connection(port: int) -> bytes:
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return b"refused"
    try:
        async with asyncio.timeout(5):
            return await r.readline()
    finally:
        w.close()


async def test_sigterm_under_load_completes_every_accepted_transaction(
        tmp_path: Path, redis_url: str, sink: Sink, daemons: list[Daemon]) -> None:
    sink.control.data_delay = 0.8
    d = Daemon(tmp_path, base_config(tmp_path, redis_url, sink.port,
                                     server={"drain_timeout": 15}))
    daemons.append(d)
    await asyncio.to_thread(d.start)
    dots = 0

    def on_data() -> None:
        nonlocal dots
        dots += 1

    sink.control.on_data = on_data
    # 1-3: the final dot sent, the downstream is slow: in the relay when SIGTERM lands
    in_data = [await _open_tx(d.port, i) for i in (1, 2, 3)]
    for i, c in enumerate(in_data, 1):
        assert (await c.cmd("DATA")).code == 354
        await c.write(_msg(i))
    # 4-6: RCPT accepted, DATA not yet sent; 7: MAIL accepted, no RCPT yet
    before_data = [await _open_tx(d.port, i) for i in (4, 5, 6)]
    after_mail = await _open_tx(d.port, 7, rcpt=False)
    # 8: between transactions (EHLO only)
    idle = await RawSMTP(d.port).connect()
    assert (await idle.cmd("EHLO idle.test")).code == 250
    await wait_until(lambda: dots == 3, within=10, what="three messages at the sink")

    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    # the idle session is told 421 (unsolicited, RFC 5321 §3.8) and closed as the drain
    # starts; then the listener is closed: a late connection is refused or gets 421
    r = await idle.reply(10)
    assert r.code == 421, r
    assert await idle.closed_by_server(5)
    late = await _late_connection(d.port)
    assert late == b"refused" or late.startswith(b"421"), late

    # the transactions under way finish: final replies for 1-3, DATA for 4-7
    for c in in_data:
        r = await c.reply(10)
        assert r.code == 250, r
    sink.control.data_delay = 0.1
    for i, c in enumerate(before_data, 4):
        assert (await c.cmd("DATA")).code == 354
        r = await c.cmd(_msg(i).removesuffix(b"\r\n"), within=10)
        assert r.code == 250, r
    assert (await after_mail.cmd("RCPT TO:<r7@example.org>")).code == 250
    assert (await after_mail.cmd("DATA")).code == 354
    r = await after_mail.cmd(_msg(7).removesuffix(b"\r\n"), within=10)
    assert r.code == 250, r
    # a transaction done: a new one on the same session is not started
    r = await before_data[0].cmd("MAIL FROM:<news@sender.example>")
    assert r.code == 421, r

    rc = await asyncio.to_thread(d.wait, 15)
    elapsed = time.monotonic() - t0
    for c in [*in_data, *before_data, after_mail, idle]:
        await c.close()
    assert rc == 0, d.log_text()
    assert elapsed < 15, elapsed  # it did not wait for the drain timeout
    ids = sorted(m.content.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0]
                 for m in sink.received)
    assert ids == sorted(f"<drain-{i}@sender.example>".encode() for i in range(1, 8))
    assert d.events("stopped") and d.events("stopped")[0]["unfinished"] == 0


async def test_sigterm_drain_timeout_cuts_a_stuck_transaction_with_421(
        tmp_path: Path, redis_url: str, sink: Sink, daemons: list[Daemon]) -> None:
    d = Daemon(tmp_path, base_config(tmp_path, redis_url, sink.port,
                                     server={"drain_timeout": 1.5}))
    daemons.append(d)
    await asyncio.to_thread(d.start)
    stuck = await _open_tx(d.port, 1)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    assert (await stuck.cmd("RCPT TO:<more@example.org>")).code == 250  # still in its transaction
    rc = await asyncio.to_thread(d.wait, 15)
    elapsed = time.monotonic() - t0
    # the drain timeout passed: the session was told 421 and closed
    r = await stuck.reply(5)
    assert r.code == 421, r
    assert await stuck.closed_by_server(5)
    await stuck.close()
    assert rc == 0, d.log_text()
    assert 1.4 < elapsed < 10, elapsed
    assert sink.received == []
    assert d.events("drain_timeout"), d.log_text()
