"""SIGTERM drain of the inbound listener on a real `consentry serve` (RELIABILITY S1), the
same contract as the submission listener: listeners close at once (late connection:
refused or 421), an idle session gets 421, a bounce whose DATA is on the wire when the
signal lands gets its 250 (after the spool fsync) and its hard bounce is applied, a reply
mid-transaction finishes and is forwarded to the review mailbox, a session stuck past
server.drain_timeout is cut with 421, and the process exits 0 with an empty spool."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from consentry import config
from consentry.keyfiles import token_codec
from consentry.keys import Keys

from ..helpers.client import message
from ..helpers.daemon import Daemon, base_config, greets
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.redis_proc import free_port
from ..helpers.sink import Sink
from ..helpers.waits import wait_until

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.stop()


def _config(tmp: Path, redis_url: str, sink_port: int, inbound_port: int,
            drain_timeout: float) -> dict[str, Any]:
    return base_config(
        tmp, redis_url, sink_port, server={"drain_timeout": drain_timeout},
        inbound={"enabled": True, "listen": [f"127.0.0.1:{inbound_port}"],
                 "domain": "bounce.shop.test", "reply_addresses": ["antwort@shop.test"],
                 "review_mailbox": "review@shop.test"},
        unsubscribe={"mailto_domain": "shop.test"})


async def _start(d: Daemon, inbound_port: int) -> None:
    await asyncio.to_thread(d.start)
    await wait_until(lambda: greets(inbound_port), within=10, what="inbound listener")


def _verp_token(d: Daemon, r: redis.Redis, recipient: str) -> str:
    """A bounce token the daemon accepts: its own generated key (state_dir/token.key),
    the reference stored in Redis as the relay stores it."""
    cfg = config.load(str(d.config_path))
    codec = token_codec(cfg)
    ref = codec.reference(recipient, "global", "c1")
    r.set(Keys().token_ref(ref.ref), ref.to_json(), ex=86400)
    return codec.issue(ref, time.time(), purpose="bounce")


async def _late_connection(port: int) -> bytes:
    try:
        rd, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return b"refused"
    try:
        async with asyncio.timeout(5):
            return await rd.readline()
    finally:
        w.close()


async def test_sigterm_drains_the_inbound_listener(
        tmp_path: Path, redis_url: str, sync_redis: redis.Redis, sink: Sink,
        daemons: list[Daemon]) -> None:
    inbound_port = free_port()
    d = Daemon(tmp_path, _config(tmp_path, redis_url, sink.port, inbound_port, 15))
    daemons.append(d)
    await _start(d, inbound_port)
    tok = _verp_token(d, sync_redis, "kijitora@2jo.example.jp")
    dsn = (DATA / "bounces/lhost-postfix/lhost-postfix-14.eml").read_bytes()
    dsn_wire = dot_terminated(dsn.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    half = len(dsn_wire) // 2

    # a bounce half uploaded when the signal lands
    bounce = await RawSMTP(inbound_port).connect()
    assert (await bounce.cmd("EHLO mx.isp.example")).code == 250
    assert (await bounce.cmd("MAIL FROM:<>")).code == 250
    assert (await bounce.cmd(f"RCPT TO:<bounces+{tok}@bounce.shop.test>")).code == 250
    assert (await bounce.cmd("DATA")).code == 354
    await bounce.write(dsn_wire[:half])
    # a human reply: recipient accepted, DATA not sent yet
    reply = await RawSMTP(inbound_port).connect()
    assert (await reply.cmd("EHLO mail.kunde.example")).code == 250
    assert (await reply.cmd("MAIL FROM:<kunde@kunde.example>")).code == 250
    assert (await reply.cmd("RCPT TO:<antwort@shop.test>")).code == 250
    # between transactions
    idle = await RawSMTP(inbound_port).connect()
    assert (await idle.cmd("EHLO idle.example")).code == 250

    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    r = await idle.reply(10)
    assert r.code == 421, r
    assert await idle.closed_by_server(5)
    late = await _late_connection(inbound_port)
    assert late == b"refused" or late.startswith(b"421"), late

    # the transactions under way finish with 250
    await bounce.write(dsn_wire[half:])
    r = await bounce.reply(10)
    assert r.code == 250, r
    assert (await reply.cmd("DATA")).code == 354
    body = message(subject="Re: Ihr Angebot", msgid="<reply-during-drain@kunde.example>",
                   headers={"In-Reply-To": "<campaign-1@shop.test>"},
                   body="Danke, ich melde mich nächste Woche wegen des Termins.\r\n")
    r = await reply.cmd(dot_terminated(body).removesuffix(b"\r\n"), within=10)
    assert r.code == 250, r
    # a transaction done: a new one on the same session is not started
    r = await reply.cmd("MAIL FROM:<kunde@kunde.example>")
    assert r.code == 421, r

    rc = await asyncio.to_thread(d.wait, 15)
    elapsed = time.monotonic() - t0
    for c in (bounce, reply, idle):
        await c.close()
    assert rc == 0, d.log_text()
    assert elapsed < 15, elapsed  # it did not wait for the drain timeout
    # applied before the exit: the hard bounce is a suppression
    raw = sync_redis.hget("cs:supp:kijitora@2jo.example.jp", "global")
    assert raw is not None and json.loads(raw)["reason"] == "hard_bounce", raw
    # forwarded before the exit: the reply is at the review mailbox, with our verdict
    forwarded = [m for m in sink.received if m.rcpts == ["review@shop.test"]]
    assert [b"<reply-during-drain@kunde.example>" in m.content for m in forwarded] == [True]
    assert b"X-Consentry-Verdict: kind=reply" in forwarded[0].content
    (stopped,) = d.events("inbound_stopped")
    assert stopped["left_in_spool"] == 0, stopped
    assert not list((tmp_path / "var").rglob("*.eml")), "spool not empty"
    assert not d.events("inbound_drain_timeout")


async def test_inbound_drain_timeout_cuts_a_stuck_transaction_with_421(
        tmp_path: Path, redis_url: str, sink: Sink, daemons: list[Daemon]) -> None:
    inbound_port = free_port()
    d = Daemon(tmp_path, _config(tmp_path, redis_url, sink.port, inbound_port, 1.5))
    daemons.append(d)
    await _start(d, inbound_port)
    stuck = await RawSMTP(inbound_port).connect()
    assert (await stuck.cmd("EHLO mx.isp.example")).code == 250
    assert (await stuck.cmd("MAIL FROM:<>")).code == 250
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    # still in its transaction while the drain lasts
    assert (await stuck.cmd("RCPT TO:<antwort@shop.test>")).code == 250
    rc = await asyncio.to_thread(d.wait, 15)
    elapsed = time.monotonic() - t0
    r = await stuck.reply(5)
    assert r.code == 421, r
    assert await stuck.closed_by_server(5)
    await stuck.close()
    assert rc == 0, d.log_text()
    assert 1.4 < elapsed < 10, elapsed
    (cut,) = d.events("inbound_drain_timeout")
    assert cut["sessions_cut"] == 1, cut
    assert sink.received == []
