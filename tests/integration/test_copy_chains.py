"""Per-recipient copies chained on pooled connections (RFC 2920: each copy's content in
one write with the next copy's MAIL, RCPT and DATA), against a downstream that speaks
PIPELINING and one that does not: failures in the middle of a chain touch only their
own copy (refused, or kept in the retry queue), copies behind a lost connection are
kept too, and in the end every recipient has exactly one copy."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ..helpers.burstproxy import BurstProxy
from ..helpers.client import message, send
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until

MARKETING = {"X-Consent-Class": "marketing", "X-Consent-List": "news"}
SENDER = "news@sender.example"


@pytest.fixture(params=["pipelining", "step-by-step"])
def mode(request: Any, sink: Any) -> str:
    sink.control.pipelining = request.param == "pipelining"
    return str(request.param)


async def test_failures_mid_chain_stay_with_their_copy_and_all_arrive_once(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any, mode: str) -> None:
    rcpts = [f"r{i}@example.org" for i in range(9)]
    # r0 goes first on its own; r1..r8 over four connections: (r1 r5) (r2 r6) (r3 r7)
    # (r4 r8). r2 tempfails at its final dot, r3 is refused there, the connection
    # carrying r4 is dropped at its final dot (so r8 behind it is never sent).
    sink.control.data_reply_for.update({"r2@example.org": "451 4.3.0 busy, try later",
                                        "r3@example.org": "554 5.7.1 content rejected",
                                        "r4@example.org": "drop"})
    running = await start_app(make_config(
        sink, policy=NO_BASIS,
        retry={"initial_delay": 1.0, "max_delay": 1.0, "poll_interval": 0.1}))
    code, text, _ = await send(running.port, rcpts, message(headers=MARKETING))
    assert code == 250, text
    first = Counter(r for m in sink.received for r in m.rcpts)
    delivered = {"r0@example.org", "r1@example.org", "r5@example.org", "r6@example.org",
                 "r7@example.org"}
    # r2 (451) and r4 (no reply: ambiguous) are kept; r8 too when it was chained behind
    # r4 (never sent). Step by step, r8 is a transaction of its own on a new connection.
    kept = {"r2@example.org", "r4@example.org"}
    (kept if mode == "pipelining" else delivered).add("r8@example.org")
    assert set(first) == delivered and set(first.values()) == {1}
    assert sync_redis.zcard("cs:retry:due") == len(kept)
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["r3@example.org"]["downstream"].startswith("554"), rows["r3@example.org"]
    for r in kept:
        assert rows[r]["downstream"].startswith("queued for retry"), rows[r]
    sink.control.data_reply_for.clear()
    await wait_until(lambda: sync_redis.zcard("cs:retry:due") == 0, within=15,
                     what="the retry queue to drain")
    got = Counter(r for m in sink.received for r in m.rcpts if r != SENDER)
    assert got == Counter({r: 1 for r in rcpts if r != "r3@example.org"})


async def test_ten_copies_cost_one_write_each_plus_one_per_connection(
        make_config: Any, sink: Any, start_app: Any, mode: str) -> None:
    proxy = BurstProxy(sink.port)
    await proxy.start()
    try:
        running = await start_app(make_config(
            None, policy=NO_BASIS, downstream={"host": "127.0.0.1", "port": proxy.port}))
        rcpts = [f"c{i}@example.org" for i in range(10)]
        code, _, _ = await send(running.port, rcpts, message(headers=MARKETING))  # warm
        assert code == 250
        before = len(proxy.bursts)
        code, text, _ = await send(running.port, rcpts, message(headers=MARKETING))
        assert code == 250, text
        n = len(proxy.bursts) - before
    finally:
        await proxy.stop()
    assert Counter(r for m in sink.received for r in m.rcpts) == Counter(
        {r: 2 for r in rcpts})
    if mode == "pipelining":
        # recipient check 1, first copy 2, nine chained copies 9 + 1 per connection (4)
        assert n == 1 + 2 + 9 + 4, n
    else:
        assert n >= 12 + 10 * 4, n  # one write per command


async def test_copy_refused_at_rcpt_in_a_chain_is_reset_and_the_next_one_goes(
        make_config: Any, sink: Any, start_app: Any, monkeypatch: Any, mode: str) -> None:
    """r1 passes the recipient check but is refused when its own copy asks (the mailbox
    went away in between): RCPT 550, DATA 503. The chain resets and r5, behind it on the
    same connection, is delivered; r1 is refused, nothing is queued."""
    from ..helpers.sink import SinkHandler

    orig = SinkHandler.handle_RCPT
    asked: Counter[str] = Counter()

    async def handle_RCPT(self: Any, server: Any, session: Any, envelope: Any,
                          address: str, options: list[str]) -> str:
        asked[address] += 1
        if address == "r1@example.org" and asked[address] > 1:
            return "550 5.1.1 mailbox gone"
        return await orig(self, server, session, envelope, address, options)

    monkeypatch.setattr(SinkHandler, "handle_RCPT", handle_RCPT)
    running = await start_app(make_config(sink, policy=NO_BASIS))
    rcpts = [f"r{i}@example.org" for i in range(9)]
    code, text, _ = await send(running.port, rcpts, message(headers=MARKETING))
    assert code == 250, text
    assert "9 of 9" not in text
    got = Counter(r for m in sink.received for r in m.rcpts if r != SENDER)
    assert got == Counter({r: 1 for r in rcpts if r != "r1@example.org"})
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["r1@example.org"]["downstream"].startswith("550"), rows["r1@example.org"]
    assert running.app.relay.counters.copies_queued == 0
