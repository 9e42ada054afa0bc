"""The DSN worker: a bad job never stops it, a temporary refusal is retried, a permanent
refusal of the DSN itself is dropped (logged) instead of looping forever."""

from __future__ import annotations

import json

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until

SENDER = "news@sender.example"


def dsns(sink) -> list:
    return [m for m in sink.received if m.mail_from in ("", "<>")]


async def _refuse_one(running, sink) -> None:
    sink.control.rcpt_replies["dead@example.org"] = "550 5.1.1 no such user"
    code, text, _ = await send(running.port, ["dead@example.org", "ok@example.org"],
                               message())
    assert code == 250, text


async def test_poison_jobs_do_not_stop_the_worker(make_config, sink, start_app, sync_redis):
    sync_redis.rpush("cs:dsn:queue", "{not json", json.dumps({"no": "fields"}),
                     json.dumps({"to": "x@y.example", "refused": "not-a-list"}))
    running = await start_app(make_config(sink, policy=NO_BASIS))
    await _refuse_one(running, sink)
    await wait_until(lambda: len(dsns(sink)) == 1, within=10, what="the real DSN")
    await wait_until(lambda: sync_redis.llen("cs:dsn:queue") == 0
                     and sync_redis.llen("cs:dsn:processing") == 0, within=5,
                     what="queue drained")
    assert dsns(sink)[0].rcpts == [SENDER]


async def test_temporary_refusal_of_the_dsn_is_retried(make_config, sink, start_app,
                                                       sync_redis):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.rcpt_replies[SENDER] = "451 4.3.0 try again later"
    await _refuse_one(running, sink)
    await wait_until(lambda: sink.handler.rsets >= 1 and sync_redis.llen("cs:dsn:queue") == 1,
                     within=10, what="the DSN attempt to be deferred")
    assert dsns(sink) == []
    del sink.control.rcpt_replies[SENDER]
    await wait_until(lambda: len(dsns(sink)) == 1, within=15, what="the retried DSN")
    await wait_until(lambda: sync_redis.llen("cs:dsn:processing") == 0
                     and sync_redis.llen("cs:dsn:queue") == 0, within=5, what="job done")


async def test_permanent_refusal_of_the_dsn_is_dropped_not_looped(make_config, sink,
                                                                  start_app, sync_redis):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    sink.control.rcpt_replies[SENDER] = "550 5.1.1 sender mailbox unknown"
    await _refuse_one(running, sink)
    await wait_until(lambda: sync_redis.llen("cs:dsn:queue") == 0
                     and sync_redis.llen("cs:dsn:processing") == 0, within=10,
                     what="the undeliverable DSN to be dropped")
    assert dsns(sink) == []
    logged = [json.loads(line) for line in running.log_path.read_text().splitlines()]
    assert any(r.get("event") == "dsn_undeliverable" for r in logged)
