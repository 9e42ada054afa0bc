"""SIGHUP on a real `consentry serve` under load: every open session stays alive, the new
policy and submission rules apply to the next message (open sessions included), an invalid
config is refused with a log line naming the key and the old one stays in force."""

from __future__ import annotations

import asyncio
import copy
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers.client import message, send
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


async def _ehlo(port: int) -> RawSMTP:
    c = await RawSMTP(port).connect()
    assert (await c.cmd("EHLO client.test")).code == 250
    return c


async def _load(port: int, stop: asyncio.Event, codes: list[int]) -> None:
    """New connections, one message each, until told to stop (bounded by the caller)."""
    i = 0
    while not stop.is_set() and i < 200:
        i += 1
        code, _text, _ = await send(port, [f"load{i}@example.org"],
                                   message(msgid=f"<load-{i}@sender.example>"))
        codes.append(code)


async def test_sighup_under_load_keeps_sessions_and_applies_new_policy(
        tmp_path: Path, redis_url: str, sink: Sink, daemons: list[Daemon]) -> None:
    data = base_config(tmp_path, redis_url, sink.port,
                       submission={"max_recipients": 5})
    d = Daemon(tmp_path, data)
    daemons.append(d)
    await asyncio.to_thread(d.start)
    idle = [await _ehlo(d.port) for _ in range(3)]
    mid = await _ehlo(d.port)
    assert (await mid.cmd("MAIL FROM:<news@sender.example>")).code == 250
    assert (await mid.cmd("RCPT TO:<mid1@example.org>")).code == 250
    stop, codes = asyncio.Event(), []
    load = asyncio.get_running_loop().create_task(_load(d.port, stop, codes))
    await wait_until(lambda: len(codes) >= 3, within=10, what="load running")

    # new policy: a basis is required (none recorded: marketing is suppressed), and one
    # recipient per message
    new = copy.deepcopy(data)
    new["policy"]["require_basis"] = True
    new["submission"]["max_recipients"] = 1
    d.write_config(new)
    d.signal(signal.SIGHUP)
    await wait_until(lambda: d.events("reloaded"), within=10, what="reloaded")
    n_at_reload = len(codes)
    await wait_until(lambda: len(codes) >= n_at_reload + 3, within=10, what="load after")

    # the session mid-transaction is alive and finishes its message
    assert (await mid.cmd("DATA")).code == 354
    r = await mid.cmd(dot_terminated(message(msgid="<mid@sender.example>"))
                      .removesuffix(b"\r\n"))
    assert r.code == 250, r
    # sessions opened before the reload: alive, and their next message gets the new rules
    for i, c in enumerate(idle):
        assert (await c.cmd("MAIL FROM:<news@sender.example>")).code == 250
        assert (await c.cmd(f"RCPT TO:<a{i}@example.org>")).code == 250
        r = await c.cmd(f"RCPT TO:<b{i}@example.org>")
        assert r.code == 452, r  # max_recipients is 1 now
        assert (await c.cmd("DATA")).code == 354
        r = await c.cmd(dot_terminated(message(msgid=f"<idle-{i}@sender.example>"))
                        .removesuffix(b"\r\n"))
        assert r.code == 250 and "0 of 1" in r.text, r  # require_basis: suppressed

    # an invalid config is refused, named by its key path; the last good one stays
    bad = copy.deepcopy(new)
    bad["submission"]["client_networks"] = ["not-a-network"]
    d.write_config(bad)
    d.signal(signal.SIGHUP)
    await wait_until(lambda: d.events("reload_refused"), within=10, what="reload_refused")
    (refused,) = d.events("reload_refused")
    assert "submission.client_networks[0]" in refused["reason"], refused
    c = idle[0]
    assert (await c.cmd("MAIL FROM:<news@sender.example>")).code == 250
    assert (await c.cmd("RCPT TO:<c@example.org>")).code == 250  # networks unchanged
    assert (await c.cmd("RCPT TO:<d@example.org>")).code == 452  # still the new cap
    assert (await c.cmd("RSET")).code == 250

    stop.set()
    await asyncio.wait_for(load, 30)
    for c in [*idle, mid]:
        assert (await c.cmd("NOOP")).code == 250  # nobody was dropped
        await c.close()
    assert codes and all(code == 250 for code in codes), codes
    d.signal(signal.SIGTERM)
    assert await asyncio.to_thread(d.wait, 15) == 0, d.log_text()
    # before the reload load went out; after it, require_basis suppressed it
    relayed = {m.content.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0] for m in sink.received}
    assert b"<load-1@sender.example>" in relayed
    assert not any(x.startswith(b"<idle-") for x in relayed)
    assert len(d.events("reloaded")) == 1
