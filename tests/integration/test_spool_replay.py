"""spool_replay against a real Redis: entries survive a failed round and are applied once
Redis answers; unreadable lines are logged and skipped, never block the rest."""

from __future__ import annotations

import json

import pytest
import redis

from consentry import logs
from consentry.config import RedisConfig
from consentry.errors import StoreUnavailable
from consentry.spool_replay import replay_refusals
from consentry.store import Store, SuppressionRecord

from ..helpers.redis_proc import RedisProc


def entry(addr: str, with_supp: bool) -> str:
    supp = SuppressionRecord(addr, "global", "hard_bounce", "downstream-rcpt", 1.0,
                             evidence="550 5.1.1 no such user")
    return json.dumps({
        "rows": [{"address": addr, "code": 550, "text": "5.1.1 no such user", "at": "1.0",
                  "source": "downstream-rcpt", "message_id": "<m@x>"}],
        "dsn": {"id": "d-" + addr, "to": "news@sender.example", "at": 1.0,
                "message_id": "<m@x>",
                "refused": [{"recipient": addr, "code": 550, "text": "5.1.1 no such user"}]},
        "suppressions": [supp.to_json()] if with_supp else [],
        "keys": [addr] if with_supp else []})


async def test_spool_survives_a_failed_round_and_is_applied_later(own_redis: RedisProc,
                                                                  tmp_path) -> None:
    spool = tmp_path / "spool" / "refusals.jsonl"
    spool.parent.mkdir()
    spool.write_text(entry("a@example.org", True) + "\n{broken json\n"
                     + entry("b@example.org", False) + "\n")
    log = logs.get("test.spool")
    store = Store(RedisConfig(embedded=False, url=own_redis.url, deadline_ms=300),
                  own_redis.url)
    try:
        own_redis.kill()
        with pytest.raises(StoreUnavailable):
            await replay_refusals(store, spool, log)
        work = spool.with_name("refusals.jsonl.replaying")
        assert work.exists() and "a@example.org" in work.read_text()
        # meanwhile the relay spools a new entry into a fresh file
        spool.write_text(entry("c@example.org", False) + "\n")
        own_redis.start()
        assert await replay_refusals(store, spool, log) == 2  # the claimed file first
        assert await replay_refusals(store, spool, log) == 1  # then the new one
        assert await replay_refusals(store, spool, log) == 0
        assert not work.exists() and not spool.exists()
        r = redis.Redis.from_url(own_redis.url, decode_responses=True)
        try:
            assert sorted(f["address"] for _i, f in r.xrange("cs:bounces")) == [
                "a@example.org", "b@example.org", "c@example.org"]
            assert json.loads(r.hget("cs:supp:a@example.org", "global"))["reason"] == \
                "hard_bounce"
            assert r.exists("cs:supp:b@example.org") == 0
            assert r.llen("cs:dsn:queue") == 3
        finally:
            r.close()
    finally:
        await store.close()
