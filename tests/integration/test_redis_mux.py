"""The auto-pipelining multiplexer (redis_mux.py) against a real redis-server: lookups and
MULTI batches through it are right, concurrent callers each get their own replies (FIFO
dispatch), a caller cancelled by its deadline never hands its late reply to the next
one, a killed Redis fails every pending call (StoreUnavailable) and is reconnected when
back, a stopped Redis gives 451 within the deadline without pending calls piling up, and
a Sentinel failover moves the multiplexed connections to the promoted primary."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from consentry import address
from consentry.config import Config
from consentry.errors import StoreUnavailable
from consentry.redis_mux import Mux
from consentry.sends import SendWrite
from consentry.store import Store

from ..helpers.burstproxy import BurstProxy
from ..helpers.client import message, send
from ..helpers.redis_ha import LocalSentinel
from ..helpers.redis_proc import RedisProc
from ..helpers.sink import Sink

DATA_PW = secrets.token_hex(8)


def _supp(source: str) -> str:
    return json.dumps({"reason": "unsubscribe", "source": source, "at": 1.0})


def _sources(state: Any) -> list[str]:
    return [s.source for s in state.suppressions]


@pytest.fixture
async def proxy(redis_proc: RedisProc, redis_url: str) -> AsyncIterator[BurstProxy]:
    p = BurstProxy(redis_proc.port)
    await p.start()
    yield p
    await p.stop()


def _mux(store: Store) -> Mux:
    assert store._lookup_mux is not None
    return store._lookup_mux


async def test_lookups_token_refs_and_multi_batches_through_the_mux(
        make_config: Callable[..., Config], redis_url: str, sync_redis: redis.Redis) -> None:
    cfg = make_config()
    store = Store(cfg.redis, redis_url)
    try:
        await store.init_epoch()
        sync_redis.hset("cs:supp:gone@example.org", "global", _supp("t-gone"))
        sync_redis.set("cs:addr:weird@example.org", "not a hash")  # WRONGTYPE: fail safe
        states = await store.recipient_states(
            [address.parse(a) for a in ("gone@example.org", "ok@example.org",
                                        "weird@example.org")],
            token_refs=[("ref1", '{"r":1}')], token_ttl=60)
        assert _sources(states[0]) == ["t-gone"]
        assert states[1].suppressions == ()
        assert [s.reason for s in states[2].suppressions] == ["unparseable"]
        assert sync_redis.get(store.keys.token_ref("ref1")) == '{"r":1}'
        assert 0 < sync_redis.ttl(store.keys.token_ref("ref1")) <= 60
        await store.save_token_refs([("ref2", "x")], 30)
        assert sync_redis.get(store.keys.token_ref("ref2")) == "x"

        # The send records' MULTI/EXEC on the write connection, applied as one.
        w = SendWrite(key_id="m1", raw='{"id":"m1"}', at=1000.0, ttl=3600, campaign="c1",
                      message_id=None, recipient_keys=("ok@example.org",),
                      counters={"relayed": 1}, campaign_sent=1, stats_ttl=7200)
        await store.write_sends([(w, "2026120111")])
        assert sync_redis.get(store.keys.send("m1")) == '{"id":"m1"}'
        assert sync_redis.hget(store.keys.stats_hour("2026120111"), "relayed") == "1"
        # A command refused while queueing aborts the whole MULTI (EXECABORT): nothing
        # applied, StoreUnavailable, and the connection stays in step for the next call.
        with pytest.raises(StoreUnavailable, match="ExecAbortError"):
            await store._bounded(store._raw([("SET", "cs:x", "1"), ("SET", "cs:y")],
                                            transaction=True, mux=store._write_mux), "t")
        assert not sync_redis.exists("cs:x")
        # An error inside EXEC (WRONGTYPE at run time) is raised as before.
        with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
            await store._bounded(store._raw([("HSET", "cs:addr:weird@example.org", "a", "b")],
                                            transaction=True, mux=store._write_mux), "t")
        states = await store.recipient_states([address.parse("gone@example.org")])
        assert _sources(states[0]) == ["t-gone"]
        # An error reply (not WRONGTYPE) in a lookup is StoreUnavailable, as before.
        sync_redis.execute_command("ACL", "SETUSER", "default", "-get")
        try:
            with pytest.raises(StoreUnavailable, match="NoPermissionError"):
                await store.recipient_states([address.parse("ok@example.org")])
        finally:
            sync_redis.execute_command("ACL", "SETUSER", "default", "+@all")
        assert (await store.recipient_states([address.parse("ok@example.org")]))[0]
        assert _mux(store).connects == 1 and store._write_mux is not None
        assert store._write_mux.connects == 1 and _mux(store).pending == 0
    finally:
        await store.close()


async def test_concurrent_callers_coalesce_into_few_writes_and_each_gets_its_own_state(
        make_config: Callable[..., Config], proxy: BurstProxy,
        sync_redis: redis.Redis) -> None:
    n = 400
    for i in range(0, n, 2):  # even: suppressed with an own source; odd: nothing stored
        sync_redis.hset(f"cs:supp:u{i}@example.org", "global", _supp(f"s{i}"))
    cfg = make_config(redis={"url": proxy.url, "pool_size": 1000, "deadline_ms": 5000})
    store = Store(cfg.redis, proxy.url)
    rng = random.Random(7)  # noqa: S311 - a reproducible test order
    try:
        await store.init_epoch()
        before = len(proxy.bursts)

        async def one(idxs: list[int]) -> None:
            await asyncio.sleep(rng.random() * 0.02)
            states = await store.recipient_states(
                [address.parse(f"u{i}@example.org") for i in idxs])
            for i, st in zip(idxs, states, strict=True):
                assert _sources(st) == ([f"s{i}"] if i % 2 == 0 else []), (i, st)

        # Callers of 1..6 recipients (replies per request differ), in a shuffled order.
        jobs = [[rng.randrange(n) for _ in range(rng.randint(1, 6))] for _ in range(n)]
        await asyncio.gather(*(one(j) for j in jobs))
        lookups = len(proxy.bursts_with(b"HGETALL"))
        assert len(proxy.bursts) - before < n / 4, "requests were not coalesced"
        assert lookups < n / 4
        assert _mux(store).connects == 1 and _mux(store).pending == 0
    finally:
        await store.close()


async def test_a_caller_cancelled_by_its_deadline_never_hands_its_reply_to_the_next(
        make_config: Callable[..., Config], proxy: BurstProxy,
        sync_redis: redis.Redis) -> None:
    """The two lookups have the same shape (GET canary + two HGETALL): a reply handed to
    the wrong caller would go unnoticed by any parser, and decide one message on the
    other's suppression state. The deadline (300 ms) lies below the proxy's delay
    (450 ms), which lies below the stall bound (600 ms): the late reply does arrive on the
    same connection, and must be dropped."""
    sync_redis.hset("cs:supp:gone@example.org", "global", _supp("t-gone"))
    cfg = make_config(redis={"url": proxy.url, "deadline_ms": 300})
    store = Store(cfg.redis, proxy.url)
    try:
        await store.init_epoch()
        await store.recipient_states([address.parse("warm@example.org")])
        for first, second in (("gone", "ok"), ("ok", "gone"), ("gone", "gone2")):
            proxy.delay = 0.45
            with pytest.raises(StoreUnavailable, match="deadline"):
                await store.recipient_states([address.parse(f"{first}@example.org")])
            proxy.delay = 0.0
            assert _mux(store).pending == 1  # its slot is kept: the reply is still due
            st = (await store.recipient_states([address.parse(f"{second}@example.org")]))[0]
            assert _sources(st) == (["t-gone"] if second == "gone" else []), (first, second)
            assert _mux(store).pending == 0
        assert _mux(store).connects == 1 and _mux(store).stalls == 0  # one connection
    finally:
        await store.close()


async def test_random_cancellations_among_many_callers_never_cross_replies(
        make_config: Callable[..., Config], proxy: BurstProxy,
        sync_redis: redis.Redis) -> None:
    sync_redis.mset({f"k{i}": f"v{i}" for i in range(300)})
    cfg = make_config(redis={"url": proxy.url, "deadline_ms": 5000})
    store = Store(cfg.redis, proxy.url)
    mux = _mux(store)
    rng = random.Random(11)  # noqa: S311 - a reproducible test order
    proxy.delay = 0.02
    try:
        got: dict[int, list[Any]] = {}

        async def one(i: int) -> None:
            await asyncio.sleep(rng.random() * 0.1)
            cmds: list[tuple[Any, ...]] = [("GET", f"k{j}") for j in range(i, i + 1 + i % 4)]
            got[i] = await mux.request(cmds)

        tasks = [asyncio.get_running_loop().create_task(one(i)) for i in range(200)]
        for t in rng.sample(tasks, 100):  # half cancelled, at random moments
            asyncio.get_running_loop().call_later(rng.random() * 0.15, t.cancel)
        await asyncio.gather(*tasks, return_exceptions=True)
        cancelled = sum(t.cancelled() for t in tasks)
        assert cancelled > 0 and got
        for i, replies in got.items():
            assert replies == [f"v{j}" for j in range(i, i + 1 + i % 4)], i
        await asyncio.sleep(0.3)
        assert mux.pending == 0 and mux.connects == 1
        assert await mux.request([("GET", "k5")]) == ["v5"]
    finally:
        await store.close()


async def test_redis_killed_mid_stream_fails_every_pending_call_then_reconnects(
        make_config: Callable[..., Config], tmp_path: Path) -> None:
    rp = RedisProc(tmp_path / "r", persistent=True)
    rp.start()
    cfg = make_config(redis={"url": rp.url, "deadline_ms": 3000})
    store = Store(cfg.redis, rp.url)
    try:
        await store.init_epoch()
        ok, errors = [0], []
        stop = asyncio.Event()

        async def worker(i: int) -> None:
            while not stop.is_set():
                t0 = time.monotonic()
                try:
                    await store.recipient_states([address.parse(f"w{i}@example.org")])
                    ok[0] += 1
                except StoreUnavailable as exc:
                    errors.append((time.monotonic() - t0, str(exc)))
                    await asyncio.sleep(0.01)

        workers = [asyncio.get_running_loop().create_task(worker(i)) for i in range(20)]
        await asyncio.sleep(0.3)
        assert ok[0] > 0 and not errors
        rp.kill()
        await asyncio.sleep(0.5)
        assert errors, "no call failed while Redis was down"
        # Every in-flight call failed at once (the connection's loss, not a deadline of
        # 3 s); nothing is left pending.
        assert all(dt < 1.0 and "deadline" not in msg for dt, msg in errors), errors[:3]
        assert _mux(store).pending == 0
        rp.start()  # back with its data (AOF): the next calls reconnect
        ok_before = ok[0]
        t0 = time.monotonic()
        while ok[0] < ok_before + 50:
            assert time.monotonic() - t0 < 5, "no recovery after Redis came back"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.gather(*workers)
        assert _mux(store).connects >= 2
    finally:
        await store.close()
        rp.stop()


async def test_redis_stopped_451_within_the_deadline_and_pending_calls_stay_bounded(
        make_config: Callable[..., Config], sink: Sink, start_app: Any,
        own_redis: RedisProc) -> None:
    cfg = make_config(sink, policy={"require_basis": False},
                      redis={"url": own_redis.url, "deadline_ms": 300})
    running = await start_app(cfg)
    store: Store = running.app.store
    mux = _mux(store)
    code, text, _ = await send(running.port, ["before@example.org"], message())
    assert code == 250, text
    assert own_redis.proc is not None
    pid = own_redis.proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        oldest, outcomes = 0.0, []

        async def load() -> None:  # lookups keep coming while Redis does not answer
            for _ in range(40):
                outcomes.extend(await asyncio.gather(*(
                    store.recipient_states([address.parse(f"l{i}@example.org")])
                    for i in range(20)), return_exceptions=True))
                await asyncio.sleep(0.05)

        async def watch() -> None:
            nonlocal oldest
            while True:
                oldest = max(oldest, mux.oldest_age())
                await asyncio.sleep(0.01)

        watcher = asyncio.get_running_loop().create_task(watch())
        loader = asyncio.get_running_loop().create_task(load())
        for i in range(5):
            t0 = time.monotonic()
            code, text, _ = await send(running.port, [f"s{i}@example.org"], message())
            elapsed = time.monotonic() - t0
            assert code == 451, text
            assert elapsed < 0.3 + 0.7, f"451 took {elapsed:.2f}s"
        await loader
        watcher.cancel()
        assert outcomes and all(isinstance(o, StoreUnavailable) for o in outcomes)
        # The connection was reset when its oldest call waited past the stall bound
        # (2 x deadline), checked every quarter of it: no call waits longer.
        assert mux.stall_after == pytest.approx(0.6)
        assert mux.stalls >= 1
        assert oldest < mux.stall_after * 1.25 + 0.3, oldest
    finally:
        os.kill(pid, signal.SIGCONT)
    t0 = time.monotonic()
    while True:  # after SIGCONT: relayed again, on fresh data
        code, text, _ = await send(running.port, ["after@example.org"], message())
        if code == 250:
            break
        assert time.monotonic() - t0 < 5, text
        await asyncio.sleep(0.1)
    assert "after@example.org" in sink.delivered_to()
    assert not {f"s{i}@example.org" for i in range(5)} & set(sink.delivered_to())


async def test_auto_pipeline_false_keeps_the_pool_path(
        make_config: Callable[..., Config], sink: Sink, start_app: Any) -> None:
    cfg = make_config(sink, policy={"require_basis": False},
                      redis={"auto_pipeline": False})
    running = await start_app(cfg)
    store: Store = running.app.store
    assert store._lookup_mux is None and store._write_mux is None
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 250, text
    assert sink.delivered_to() == ["a@example.org"]


def test_cluster_layout_has_no_mux(make_config: Callable[..., Config]) -> None:
    cfg = make_config(redis={"cluster": {"nodes": ["127.0.0.1:1"]}})
    store = Store(cfg.redis, cfg.redis.url)
    assert store.cluster and store._lookup_mux is None and store._write_mux is None


# -- Sentinel ----------------------------------------------------------------------------

@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[LocalSentinel]:
    s = LocalSentinel(tmp_path / "sentinel", data_password=DATA_PW)
    yield s
    s.stop()


async def test_sentinel_failover_moves_the_mux_to_the_promoted_primary(
        sentinel: LocalSentinel, make_config: Callable[..., Config]) -> None:
    """A graceful failover (SENTINEL FAILOVER): the old primary is demoted, not killed.
    The multiplexed connections then ask the sentinels again (redis-py's
    SentinelManagedConnection) and write to the promoted one."""
    cfg = make_config(redis={"sentinel": {"master": sentinel.master,
                                          "nodes": sentinel.addresses},
                             "password": DATA_PW, "deadline_ms": 500})
    store = Store(cfg.redis, cfg.redis.url)
    try:
        await store.init_epoch()
        await store.recipient_states([address.parse("a@example.org")],
                                     token_refs=[("before", "1")], token_ttl=60)
        old = sentinel.primary.port
        replica = sentinel.replica.client()
        try:
            t0 = time.monotonic()
            while not replica.exists("cs:epoch"):
                assert time.monotonic() - t0 < 10
                await asyncio.sleep(0.02)
        finally:
            replica.close()
        c = sentinel.sentinels[0].client()
        try:
            t0 = time.monotonic()
            while True:
                try:  # NOGOODSLAVE until the sentinel has seen the replica recently
                    c.execute_command("SENTINEL", "FAILOVER", sentinel.master)
                    break
                except redis.ResponseError:
                    assert time.monotonic() - t0 < 15, "the sentinel refused the failover"
                    await asyncio.sleep(0.2)
        finally:
            c.close()
        t0 = time.monotonic()
        while sentinel.current_primary_port() == old:
            assert time.monotonic() - t0 < 15, "no failover"
            await asyncio.sleep(0.1)
        # Until the sentinel has also demoted the old primary it still takes writes (a
        # Sentinel property, the same with pooled connections): wait for that first.
        demoted = sentinel.primary.client()
        try:
            while demoted.info("replication").get("role") != "slave":
                assert time.monotonic() - t0 < 20, "old primary not demoted"
                await asyncio.sleep(0.1)
        finally:
            demoted.close()
        written = None
        t0 = time.monotonic()
        i = 0
        while written is None:
            assert time.monotonic() - t0 < 15, "the mux did not reach the new primary"
            i += 1
            try:  # the token ref is a write: only the promoted primary takes it
                await store.recipient_states([address.parse("a@example.org")],
                                             token_refs=[(f"after{i}", "1")], token_ttl=60)
                written = f"after{i}"
            except StoreUnavailable:
                await asyncio.sleep(0.1)
        new = sentinel.replica.client()
        try:
            assert new.get(store.keys.token_ref(written)) == "1"
        finally:
            new.close()
        w = SendWrite(key_id="f1", raw="{}", at=1.0, ttl=60, campaign=None,
                      message_id=None, recipient_keys=())
        for _ in range(50):
            try:
                await store.write_sends([(w, "2026120111")])
                break
            except StoreUnavailable:
                await asyncio.sleep(0.1)
        new = sentinel.replica.client()
        try:
            assert new.get(store.keys.send("f1")) == "{}"
        finally:
            new.close()
        assert _mux(store).connects >= 2
    finally:
        await store.close()


async def test_a_stalled_event_loop_is_no_stalled_redis(
        make_config: Callable[..., Config], redis_url: str, sync_redis: redis.Redis) -> None:
    """The loop itself blocked past the stall bound (a long CPU burst) while Redis did
    answer: the reply that is already there is delivered, the connection is kept."""
    sync_redis.set("k", "v")
    cfg = make_config(redis={"deadline_ms": 100})
    store = Store(cfg.redis, redis_url)
    mux = _mux(store)
    try:
        assert await mux.request([("GET", "k")]) == ["v"]
        task = asyncio.get_running_loop().create_task(mux.request([("GET", "k")]))
        await asyncio.sleep(0)  # the request is queued; its flush comes next
        await asyncio.sleep(0)
        time.sleep(mux.stall_after * 2)  # noqa: ASYNC251 - blocking the loop on purpose
        assert await task == ["v"]
        assert mux.stalls == 0 and mux.connects == 1
    finally:
        await store.close()


async def test_readonly_means_demoted_only_on_a_sentinel_master_connection(
        redis_proc: RedisProc, redis_url: str, own_redis: RedisProc) -> None:
    """On a Sentinel master connection (the flag the mux sets for a SentinelConnectionPool
    with is_master) a READONLY reply means the node was demoted: like redis-py's
    SentinelManagedConnection, every pending request fails with ConnectionError and the
    connection is dropped (the next one asks the sentinels again). Elsewhere READONLY is
    an ordinary error reply, handed to the caller (StoreUnavailable in store.py)."""
    own_redis.cli("REPLICAOF", "127.0.0.1", str(redis_proc.port))
    pool = redis.asyncio.ConnectionPool.from_url(own_redis.url, decode_responses=True)
    plain, demoting = Mux(pool, 5.0), Mux(pool, 5.0)
    demoting._demotion = True
    try:
        got = await plain.request([("SET", "k", "v")])
        assert isinstance(got[0], redis.exceptions.ReadOnlyError)
        assert await plain.request([("PING",)]) == ["PONG"] and plain.connects == 1
        assert await demoting.request([("PING",)]) == ["PONG"]
        results = await asyncio.gather(demoting.request([("SET", "k", "v")]),
                                       demoting.request([("GET", "k")]),
                                       return_exceptions=True)
        assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results), results
        assert "now a slave" in str(results[0])
        assert demoting.pending == 0
        assert await demoting.request([("PING",)]) == ["PONG"] and demoting.connects == 2
    finally:
        await plain.close()
        await demoting.close()
        await pool.disconnect()
        own_redis.cli("REPLICAOF", "NO", "ONE")


async def test_a_closed_store_refuses_every_call_and_opens_no_connection(
        make_config: Callable[..., Config], redis_url: str, sync_redis: redis.Redis) -> None:
    """A session or task that outlives the shutdown must not open a fresh connection
    after close() (nobody would ever close it): it gets StoreUnavailable (451)."""
    store = Store(make_config().redis, redis_url)
    await store.init_epoch()
    assert (await store.recipient_states([address.parse("a@example.org")]))[0]
    await store.save_token_refs([("r1", "x")], 30)
    await store.close()
    mux = _mux(store)
    name = "consentry-closed-store-probe"

    def clients() -> int:
        return sum(1 for c in sync_redis.client_list() if c.get("name") != name)

    sync_redis.client_setname(name)
    before = clients()
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.recipient_states([address.parse("a@example.org")])
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.save_token_refs([("r2", "x")], 30)
    with pytest.raises(redis.exceptions.ConnectionError, match="closed"):
        await mux.request([("PING",)])
    assert mux.connects == 1 and clients() == before
    assert sync_redis.get(store.keys.token_ref("r2")) is None
