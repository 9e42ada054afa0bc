"""A busy Redis pool makes messages wait for a connection instead of failing with 451."""

from __future__ import annotations

import asyncio

from ..helpers.client import message, send


async def test_more_concurrent_messages_than_pool_connections_all_relayed(
    make_config, sink, start_app, redis_proc
):
    cfg = make_config(sink, redis={"pool_size": 2, "pool_wait_ms": 8000, "deadline_ms": 2000},
                      policy={"require_basis": False})
    running = await start_app(cfg)
    # Hold Redis for 400 ms so the first two lookups keep both connections busy while
    # the other 28 messages arrive: they must queue for a connection, not fail.
    redis_proc.cli("CLIENT", "PAUSE", "400", "ALL")
    results = await asyncio.gather(*[
        send(running.port, [f"r{i}@example.org"],
             message(msgid=f"<pool-{i}@sender.example>")) for i in range(30)
    ])
    codes = [code for code, _, _ in results]
    assert codes == [250] * 30
    assert sorted(sink.delivered_to()) == sorted(f"r{i}@example.org" for i in range(30))
    assert running.app.store is not None
    assert running.app.store.pool.max_connections == 2


async def test_pool_wait_exhausted_gives_451_not_a_crash(make_config, sink, start_app,
                                                         redis_proc):
    cfg = make_config(sink, redis={"pool_size": 1, "pool_wait_ms": 100, "deadline_ms": 3000},
                      policy={"require_basis": False})
    running = await start_app(cfg)
    # 2.5 s (within the 3 s deadline): long enough that all four lookups meet the pause
    # even when the SMTP dialogues before them are slow on a loaded machine.
    redis_proc.cli("CLIENT", "PAUSE", "2500", "ALL")
    results = await asyncio.gather(*[
        send(running.port, [f"w{i}@example.org"], message(msgid=f"<w-{i}@sender.example>"))
        for i in range(4)
    ])
    codes = sorted(code for code, _, _ in results)
    # One lookup holds the only connection through the pause and succeeds; the others
    # cannot get a connection within 100 ms and are told to retry.
    assert codes[0] == 250 and codes[-1] == 451
    assert 451 in codes
    assert len(sink.received) == codes.count(250)
