"""All recipients of a message are decided from ONE Redis round trip (the canary and every
recipient's state pipelined), measured on the wire by a proxy that records request bursts,
and cross-checked with Redis's own command counters (INFO commandstats)."""

from __future__ import annotations

import json
import re
import time

import pytest
import redis

from ..helpers.burstproxy import BurstProxy
from ..helpers.client import message, send
from ..helpers.redis_proc import RedisProc
from ..helpers.state import NO_BASIS, suppress


@pytest.fixture
async def proxy(own_redis: RedisProc):
    p = BurstProxy(own_redis.port)
    await p.start()
    yield p
    await p.stop()


def hgetall_calls(rp: RedisProc) -> int:
    info = rp.cli("INFO", "commandstats")
    m = re.search(r"'cmdstat_hgetall': \{'calls': (\d+)", info)
    return int(m.group(1)) if m else 0


async def test_fifty_recipients_cost_one_round_trip_for_the_lookup(
        make_config, sink, start_app, own_redis, proxy):
    r = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        for i in range(0, 50, 5):
            suppress(r, f"r{i}@example.org")
    finally:
        r.close()
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          redis={"url": proxy.url, "deadline_ms": 2000}))
    rcpts = [f"r{i}@example.org" for i in range(50)]
    before_bursts = len(proxy.bursts)
    before_calls = hgetall_calls(own_redis)
    code, text, _ = await send(running.port, rcpts,
                               message(headers={"X-Consent-Class": "marketing"}))
    assert code == 250, text
    assert "40 of 50" in text

    new = proxy.bursts[before_bursts:]
    lookups = [b for b in new if b"cs:supp:r" in b]
    # exactly one burst carried suppression lookups: the canary and all 50 recipients
    assert len(lookups) == 1, [b[:200] for b in lookups]
    (burst,) = lookups
    assert b"cs:epoch" in burst
    assert sorted(set(re.findall(rb"cs:supp:(r\d+)@example\.org", burst))) == sorted(
        f"r{i}".encode() for i in range(50))
    # Redis agrees: it ran one HGETALL per recipient suppression hash (plus the per-address
    # consent hash the lookup reads in the same burst), not one burst per recipient
    calls = hgetall_calls(own_redis) - before_calls
    assert calls == burst.count(b"HGETALL") >= 50
    assert sorted(sink.delivered_to()) == sorted(
        f"r{i}@example.org" for i in range(50) if i % 5)


async def test_marketing_message_costs_lookup_plus_send_record_round_trips_only(
        make_config, sink, start_app, own_redis, proxy):
    """The unsubscribe token references of a marketing message ride in the lookup's
    burst (SETs after the reads): between the lookup and the send record there is no
    Redis round trip of its own, and every copy's token resolves."""
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          redis={"url": proxy.url, "deadline_ms": 2000}))
    rcpts = [f"t{i}@example.org" for i in range(5)]
    before = len(proxy.bursts)
    code, text, _ = await send(running.port, rcpts,
                               message(headers={"X-Consent-Class": "marketing",
                                                "X-Campaign-Id": "rt"}))
    assert code == 250, text
    new = [bytes(b) for b in proxy.bursts[before:]]
    (lookup,) = [b for b in new if b"cs:supp:t" in b]
    assert lookup.count(b"cs:tok:") == 5 and lookup.count(b"\r\nSET\r\n") == 5
    assert [b for b in new if b"cs:tok:" in b] == [lookup]
    assert sum(b"cs:send:" in b for b in new) == 1
    assert len(sink.received) == 5
    codec = running.app.relay.rewriter.codec
    r = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        owners = set()
        for m in sink.received:
            found = re.search(rb"List-Unsubscribe: <https?://[^>]*?([a-z2-7]{48})>",
                              m.content)
            assert found is not None, m.content[:600]
            claims = codec.verify(found.group(1).decode(), time.time())
            rec = json.loads(r.get(f"cs:tok:{claims.ref}"))
            owners.add(rec["r"])
            assert rec["r"] == m.rcpts[0] and rec["c"] == "rt"
    finally:
        r.close()
    assert owners == set(rcpts)
