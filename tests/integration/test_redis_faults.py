"""Fail closed on Redis (SPEC §3, RELIABILITY §0.6, R1-R4): down, slow and "answers but
lost its data" all give 451 with nothing relayed. Each test uses its own redis-server so
the session one survives the kill/pause/flush."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import redis

from consentry import logs
from consentry.app import App

from ..helpers.client import message, send
from ..helpers.redis_proc import RedisProc
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until


def _cfg(make_config, sink, rp: RedisProc, **kw):
    return make_config(sink, policy=NO_BASIS, redis={"url": rp.url, "deadline_ms": 500}, **kw)


async def test_redis_killed_gives_451_nothing_relayed_and_recovers_when_back(
        make_config, sink, start_app, tmp_path):
    rp = RedisProc(tmp_path / "persistent-redis", persistent=True)
    rp.start()
    try:
        running = await start_app(_cfg(make_config, sink, rp))
        code, _, _ = await send(running.port, ["a@example.org"], message())
        assert code == 250  # sanity: the store works before the fault
        rp.kill()
        code, text, _ = await send(running.port, ["b@example.org"], message())
        assert code == 451, text
        assert text.startswith("4.3.0")
        assert sink.delivered_to() == ["a@example.org"]
        assert running.app.relay is not None
        assert running.app.relay.counters.tempfail_store == 1
        # Back with its data (AOF): the canary is there, mail flows again.
        rp.start()
        code, text, _ = await send(running.port, ["c@example.org"], message())
        assert code == 250, text
        assert sink.delivered_to() == ["a@example.org", "c@example.org"]
    finally:
        rp.stop()


async def test_redis_slow_beyond_deadline_gives_451_within_deadline(make_config, sink,
                                                                   start_app, own_redis):
    running = await start_app(_cfg(make_config, sink, own_redis))
    own_redis.cli("CLIENT", "PAUSE", "3000", "ALL")
    t0 = time.monotonic()
    code, text, _ = await send(running.port, ["a@example.org"], message())
    elapsed = time.monotonic() - t0
    assert code == 451, text
    # deadline_ms is 500; the pause lasts 3 s. Generous bound: answered long before the
    # pause ends, i.e. we did not simply wait for Redis.
    assert elapsed < 2.5, f"451 took {elapsed:.2f}s"
    assert sink.received == []
    own_redis.cli("CLIENT", "UNPAUSE")
    # The connection that timed out mid-command must not hand a stale reply to the next
    # lookup: the next message is decided on fresh data and relayed.
    code, text, _ = await send(running.port, ["b@example.org"], message())
    assert code == 250, text
    assert sink.delivered_to() == ["b@example.org"]


async def test_redis_slow_does_not_leak_a_stale_reply_into_the_next_lookup(
        make_config, sink, start_app, own_redis):
    running = await start_app(_cfg(make_config, sink, own_redis))
    r = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        r.hset("cs:supp:gone@example.org", "global",
               json.dumps({"reason": "unsubscribe", "source": "test", "at": time.time()}))
        for _ in range(3):
            # 3 s, ended by UNPAUSE as soon as the 451 is in: on a loaded machine the
            # SMTP dialogue before the lookup alone could outlast a shorter pause.
            own_redis.cli("CLIENT", "PAUSE", "3000", "ALL")
            code, _, _ = await send(running.port, ["ok@example.org"], message())
            assert code == 451
            own_redis.cli("CLIENT", "UNPAUSE")
            code, text, _ = await send(running.port, ["gone@example.org", "ok@example.org"],
                                       message())
            assert code == 250, text
        # Every message that was relayed went to ok@ only: no lookup ever saw another
        # lookup's (empty) answer for gone@.
        assert set(sink.delivered_to()) == {"ok@example.org"}
    finally:
        r.close()


async def test_canary_missing_after_flushall_gives_451_and_restart_does_not_recreate_it(
        make_config, sink, start_app, own_redis):
    cfg = _cfg(make_config, sink, own_redis)
    running = await start_app(cfg)
    code, _, _ = await send(running.port, ["a@example.org"], message())
    assert code == 250
    assert (cfg.path(cfg.server.state_dir) / "epoch").exists()
    own_redis.cli("FLUSHALL")  # Redis answers, but has lost every suppression
    code, text, _ = await send(running.port, ["b@example.org"], message())
    assert code == 451, text
    assert sink.delivered_to() == ["a@example.org"]
    await running.app.stop(5)

    # Restart with the same state_dir: this host knew an epoch, so an empty store is a
    # store that lost its data, not a fresh install. The canary stays missing: 451.
    logs.setup(cfg.log, cfg.base_dir)
    app2 = App(cfg)
    await app2.start()
    try:
        assert own_redis.cli("EXISTS", "cs:epoch") == "0"
        code, text, _ = await send(app2.ports[0], ["c@example.org"], message())
        assert code == 451, text
        assert sink.delivered_to() == ["a@example.org"]
    finally:
        await app2.stop(5)


async def test_fresh_install_creates_the_canary(make_config, sink, start_app, own_redis):
    running = await start_app(_cfg(make_config, sink, own_redis))
    assert own_redis.cli("EXISTS", "cs:epoch") == "1"
    code, _, _ = await send(running.port, ["a@example.org"], message())
    assert code == 250


async def test_canary_require_mode_never_creates_it(make_config, sink, start_app, own_redis):
    cfg = make_config(sink, policy=NO_BASIS,
                      redis={"url": own_redis.url, "canary": "require"})
    running = await start_app(cfg)
    assert own_redis.cli("EXISTS", "cs:epoch") == "0"
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451, text
    assert sink.received == []


async def test_redis_down_at_first_start_then_up_initialises_and_relays(
        make_config, sink, start_app, own_redis):
    """Fresh install where Redis comes up after consentry (systemd ordering, a slow
    container): 451 while it is down, then the canary is created and mail flows, without
    a restart."""
    own_redis.stop()
    running = await start_app(_cfg(make_config, sink, own_redis))
    code, _, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451
    own_redis.start()
    codes = []
    for _ in range(40):  # bounded: at most ~10 s
        code, _, _ = await send(running.port, ["b@example.org"], message())
        codes.append(code)
        if code == 250:
            break
        await asyncio.sleep(0.25)
    assert codes[-1] == 250, codes
    assert own_redis.cli("EXISTS", "cs:epoch") == "1"
    assert sink.delivered_to() == ["b@example.org"]


async def test_redis_down_at_restart_of_a_known_host_stays_closed(
        make_config, sink, start_app, own_redis):
    """The same late Redis on a host that knew an epoch, now empty: never re-created."""
    cfg = _cfg(make_config, sink, own_redis)
    marker = cfg.path(cfg.server.state_dir) / "epoch"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("1700000000.000000\n")
    own_redis.stop()
    running = await start_app(cfg)
    own_redis.start()  # no persistence: it comes back empty
    await asyncio.sleep(1.5)
    code, _, _ = await send(running.port, ["b@example.org"], message())
    assert code == 451
    assert own_redis.cli("EXISTS", "cs:epoch") == "0"
    assert sink.received == []


async def test_redis_sigstop_hang_gives_451_within_deadline(make_config, sink, start_app,
                                                          own_redis):
    running = await start_app(_cfg(make_config, sink, own_redis))
    code, _, _ = await send(running.port, ["a@example.org"], message())
    assert code == 250
    assert own_redis.proc is not None
    pid = own_redis.proc.pid
    os.kill(pid, signal.SIGSTOP)  # hangs without a reset: the socket just goes quiet
    try:
        t0 = time.monotonic()
        code, text, _ = await send(running.port, ["b@example.org"], message())
        elapsed = time.monotonic() - t0
        assert code == 451, text
        assert elapsed < 2.5, f"451 took {elapsed:.2f}s"
    finally:
        os.kill(pid, signal.SIGCONT)
    code, text, _ = await send(running.port, ["c@example.org"], message())
    assert code == 250, text
    assert sink.delivered_to() == ["a@example.org", "c@example.org"]


async def test_redis_acl_denial_gives_451(make_config, sink, start_app, own_redis):
    own_redis.cli("ACL", "SETUSER", "relay", "on", ">pw", "~*", "+@all", "-hgetall")
    own_redis.cli("SET", "cs:epoch", "1.0")
    url = f"redis://relay:pw@127.0.0.1:{own_redis.port}/0"
    running = await start_app(make_config(sink, policy=NO_BASIS, redis={"url": url}))
    code, text, _ = await send(running.port, ["a@example.org"], message())
    assert code == 451, text
    assert sink.received == []



async def test_refusal_recorded_while_redis_down_is_spooled_and_replayed(
        make_config, sink, start_app, tmp_path):
    """Downstream took the message (so the client must get 250) but 5xx'd one recipient
    while Redis was down: the bounce, the hard_bounce suppression and the DSN we owe are
    spooled to disk, and applied once Redis is back. Nothing promised is lost."""
    rp = RedisProc(tmp_path / "persistent-redis", persistent=True)
    rp.start()
    try:
        running = await start_app(_cfg(make_config, sink, rp))
        sink.control.rcpt_replies["dead@example.org"] = "550 5.1.1 no such user"
        sink.control.on_data = rp.kill  # Redis dies after the lookup, before the record
        code, text, _ = await send(running.port, ["dead@example.org", "ok@example.org"],
                                   message())
        assert code == 250, text
        assert [m.rcpts for m in sink.received] == [["ok@example.org"]]
        spool = tmp_path / "var" / "spool" / "refusals.jsonl"
        assert spool.exists() and spool.read_text().strip()
        sink.control.on_data = None
        rp.start()
        r = redis.Redis.from_url(rp.url, decode_responses=True)
        try:
            await wait_until(lambda: r.exists("cs:supp:dead@example.org") == 1, within=15,
                             what="the spooled hard bounce to be applied")
            assert json.loads(r.hget("cs:supp:dead@example.org", "global"))["reason"] == \
                "hard_bounce"
            assert r.xlen("cs:bounces") == 1
            await wait_until(lambda: any(m.mail_from in ("", "<>") for m in sink.received),
                             within=15, what="the spooled DSN")
            assert not spool.exists() or not spool.read_text().strip()
        finally:
            r.close()
    finally:
        rp.stop()


async def test_a_corrupt_suppression_key_suppresses_that_recipient_only(
        make_config, sink, start_app, sync_redis):
    """Another tool wrote a string where a suppression hash belongs. We cannot read it,
    so that recipient is suppressed (fail safe) — and the other recipients of the message
    are not held hostage with a 451 forever."""
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sync_redis.set("cs:supp:broken@example.org", "unsubscribed!")
    code, text, _ = await send(running.port, ["broken@example.org", "ok@example.org"],
                               message())
    assert code == 250, text
    assert sink.delivered_to() == ["ok@example.org"]
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["broken@example.org"]["verdict"] == "suppress"
    # and the message naming it is no longer a 451 forever: a second one also goes out
    code, _, _ = await send(running.port, ["broken@example.org", "ok2@example.org"],
                            message(msgid="<second@sender.example>"))
    assert code == 250
    assert sink.delivered_to() == ["ok@example.org", "ok2@example.org"]


async def test_a_corrupt_consent_record_suppresses_that_recipient(make_config, sink,
                                                                  start_app, sync_redis):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sync_redis.rpush("cs:addr:broken@example.org", "not", "a", "hash")
    code, text, _ = await send(running.port, ["broken@example.org", "ok@example.org"],
                               message())
    assert code == 250, text
    assert sink.delivered_to() == ["ok@example.org"]
