"""The retry queue's local spool (copies owed after a 250, written while Redis was down)
must not lose a job appended while the worker is moving the spool into Redis: the relay
can spool a new job (its Redis write timed out) during the drain's own Redis round trip."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis

from consentry import config
from consentry.retryq import RetryJob, RetryWorker
from consentry.spoolfile import append as _append_spool
from consentry.store import Store

from ..helpers.redis_proc import RedisProc


def _spooled_ids(spool: Path) -> set[str]:
    out: set[str] = set()
    for p in spool.parent.glob(spool.name + "*"):
        out |= {json.loads(line)["id"] for line in p.read_text().splitlines() if line}
    return out


async def test_job_spooled_during_a_drain_is_kept(tmp_path: Path, own_redis: RedisProc) -> None:
    cfg = config.from_mapping({"redis": {"embedded": False, "url": own_redis.url,
                                         "deadline_ms": 2000}})
    store = Store(cfg.redis, own_redis.url)
    spool = tmp_path / "spool" / "retry.jsonl"
    first, second = (RetryJob.new("s@x.example", f"r{i}@y.example", b"body\r\n", False,
                                  False, None, "451", 1.0) for i in range(2))
    _append_spool(spool, [first.to_json()])
    worker = RetryWorker(store, None, cfg.retry, cfg.notify, spool)  # type: ignore[arg-type]
    try:
        own_redis.cli("CLIENT", "PAUSE", "600", "WRITE")  # the drain's write waits ...
        drain = asyncio.create_task(worker.drain_spool())
        await asyncio.sleep(0.2)
        # ... while the relay spools another job (its own Redis write timed out).
        await asyncio.to_thread(_append_spool, spool, [second.to_json()])
        assert await drain == 1
        r = redis.Redis.from_url(own_redis.url, decode_responses=True)
        try:
            in_redis = set(r.zrange("cs:retry:due", 0, -1))
        finally:
            r.close()
        assert first.id in in_redis
        assert second.id in in_redis | _spooled_ids(spool), "a spooled retry job was lost"
        # The next round moves it too; nothing is left behind.
        assert await worker.drain_spool() == 1
        assert _spooled_ids(spool) == set()
    finally:
        await store.close()
