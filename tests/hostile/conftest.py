"""Shared pieces of the hostile-input suite: the daemon (App on port 0) with its inbound
listener, bounded pipelined sessions, and a well-behaved client that must keep being
served while an attacker does its worst."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest

from consentry.keyfiles import token_codec

from ..helpers.client import message, send
from ..helpers.rawsmtp import RawSMTP
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until

TORTURE = os.environ.get("CONSENTRY_TORTURE") == "1"  # `make torture`: bigger numbers
INBOUND = {"enabled": True, "listen": ["127.0.0.1:0"], "domain": "bounce.shop.test",
           "reply_addresses": ["antwort@shop.test"], "review_mailbox": "review@shop.test"}


async def pipelined(port: int, data: bytes, max_replies: int = 60,
                    within: float = 10.0) -> list[int]:
    """Send a whole session in one write (as an attacker pipelines it) and return the code
    of every reply until QUIT's 221 or the server closes. Bounded in replies and time."""
    c = await RawSMTP(port).connect(read_greeting=False)
    codes: list[int] = []
    try:
        await c.write(data)
        for _ in range(max_replies):
            try:
                codes.append((await c.reply(within=within)).code)
            except EOFError:
                break
            if codes[-1] == 221:
                break
    finally:
        await c.close()
    return codes


async def well_behaved(port: int, rcpt: str = "ok@example.org",
                       msgid: str = "<good@sender.example>") -> tuple[int, float]:
    """One ordinary message; returns (final code, seconds it took)."""
    t0 = time.monotonic()
    async with asyncio.timeout(30):
        code, _, _ = await send(port, [rcpt], message(msgid=msgid))
    return code, time.monotonic() - t0


@pytest.fixture
async def inbound_daemon(make_config: Any, sink: Any, start_app: Any) -> Any:
    cfg = make_config(sink, inbound=INBOUND, policy=NO_BASIS,
                      unsubscribe={"mailto_domain": "shop.test"})
    running = await start_app(cfg)
    running.inbound_port = running.app.inbound.ports[0]
    return running


async def inbound_idle(running: Any) -> None:
    """Every accepted message settled: nothing queued or in flight, and no retry due.
    A message deferred once (a Redis deadline or the review-mailbox forward missed on a
    loaded machine) is retried from the spool a second later, as in production; the
    processor is `idle` meanwhile. One that never settles (stuck retrying) still fails
    here, at the deadline."""
    proc = running.app.inbound.processor
    await wait_until(lambda: proc.idle.is_set() and proc.queue.empty()
                     and not proc.retry_handles, within=40, what="inbound processing")


def spooled(running: Any) -> list[Path]:
    return list(Path(running.app.inbound.spool.dir).glob("*.eml"))


async def issue_token(running: Any, recipient: str, purpose: str = "unsubscribe",
                      scope: str = "global", campaign: str | None = "c1",
                      issued_at: float | None = None) -> str:
    """A genuine token as the relay issues it (reference record stored first)."""
    codec = token_codec(running.app.cfg)
    ref = codec.reference(recipient, scope, campaign)
    await running.app.store.save_token_refs([(ref.ref, ref.to_json())], ttl=86400 * 400)
    return codec.issue(ref, time.time() if issued_at is None else issued_at,
                       purpose=purpose)  # type: ignore[arg-type]
