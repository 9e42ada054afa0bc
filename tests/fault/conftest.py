"""Fixtures of the fault suite: a redis-server of the test's own with AOF (killed and
restarted on the same port without losing the canary or a suppression), `consentry serve`
as a subprocess (SIGKILL-able), and the step that waits for the durable retry queue to
drain before the ledger counts."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from ..helpers.daemon import Daemon, base_config
from ..helpers.redis_proc import RedisProc
from ..helpers.sink import Sink
from ..helpers.state import suppress
from ..helpers.waits import wait_until
from . import ledger
from .load import SUPPRESSED, suppressed_address


@pytest.fixture
def fault_redis(tmp_path: Path) -> Iterator[RedisProc]:
    rp = RedisProc(tmp_path / "redis", persistent=True)
    rp.start()
    r = redis.Redis.from_url(rp.url)
    try:
        for i in range(SUPPRESSED):
            suppress(r, suppressed_address(i))
    finally:
        r.close()
    yield rp
    rp.stop()


def fault_config(tmp: Path, redis_url: str, sink: Sink, **extra: Any) -> dict[str, Any]:
    """base_config with List-Unsubscribe on (marketing leaves as one copy per recipient,
    so a copy can fail after another was accepted and land in the retry queue) and a
    retry queue that works at test speed: first retry after 0.2 s, a job claimed by a
    killed process free again after 3 s."""
    extra.setdefault("unsubscribe", {"mailto_domain": "unsub.example"})
    data = base_config(tmp, redis_url, sink.port, **extra)
    data["retry"] = {"initial_delay": 0.2, "max_delay": 1, "poll_interval": 0.2,
                     "lease": 3, **data.get("retry", {})}
    return data


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[..., Awaitable[Daemon]]]:
    """Starts `consentry serve` off the event loop: the sink lives on this loop and must
    answer the daemon's downstream probe while the test waits for the greeting."""
    started: list[Daemon] = []

    async def start(data: dict[str, Any], port: int | None = None) -> Daemon:
        d = Daemon(tmp_path, data, port=port)
        started.append(d)
        return await asyncio.to_thread(d.start)

    yield start
    for d in started:
        d.stop()


def retry_backlog(rp: RedisProc, d: Daemon) -> int:
    """Copies still owed: jobs in cs:retry:due plus lines in the local fallback spool
    (retry.jsonl, and retry.jsonl.draining while the worker moves it into Redis)."""
    spool_dir = Path(d.data["server"]["state_dir"]) / "spool"
    spooled = sum(len(p.read_text().splitlines()) for p in spool_dir.glob("retry.jsonl*"))
    return int(rp.cli("ZCARD", "cs:retry:due")) + spooled


def dsn_backlog(rp: RedisProc) -> int:
    """DSNs owed and not yet handed to the downstream."""
    return int(rp.cli("LLEN", "cs:dsn:queue")) + int(rp.cli("LLEN", "cs:dsn:processing"))


def bounced(rp: RedisProc) -> tuple[set[tuple[str, str]], set[str]]:
    """(fault id, recipient) of every downstream refusal recorded in cs:bounces, and the
    dead addresses (dead*@example.org) that are hard_bounce suppressions now."""
    r = redis.Redis.from_url(rp.url, decode_responses=True)
    try:
        rows = [fields for _id, fields in r.xrange("cs:bounces")]
        dead = set()
        for key in r.scan_iter("cs:supp:dead*", count=1000):
            if any(json.loads(v).get("reason") == "hard_bounce"
                   for v in r.hgetall(key).values()):
                dead.add(key.removeprefix("cs:supp:"))
    finally:
        r.close()
    pairs = set()
    for row in rows:
        mid = row.get("message_id", "").strip("<>").removesuffix("@sender.example")
        pairs.add((mid, row.get("address", "")))
    return pairs, dead


def retried(d: Daemon) -> int:
    """Copies the retry queue delivered (the daemon's retry_delivered events so far)."""
    return len(d.events("retry_delivered"))


async def settle(rp: RedisProc, d: Daemon, retried_before: int = 0,
                 within: float = 20.0) -> ledger.Settled:
    """Wait (bounded) until the retry queue is empty, then read what the daemon holds."""
    # On timeout the ledger reports what is left, and its check fails the test.
    with contextlib.suppress(AssertionError):
        await wait_until(lambda: retry_backlog(rp, d) == 0 and dsn_backlog(rp) == 0,
                         within=within, what="retry and DSN queues drained")
    pairs, dead = bounced(rp)
    return ledger.Settled(retry_backlog(rp, d), retried(d) - retried_before, pairs, dead,
                          dsn_refused(d))


def dsn_refused(d: Daemon) -> Counter[str]:
    """Recipients named in DSNs the downstream refused for good (the daemon logs the job
    with dsn_undeliverable and drops it)."""
    out: Counter[str] = Counter()
    for ev in d.events("dsn_undeliverable"):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            for r in json.loads(ev["job"])["refused"]:
                out[str(r["recipient"]).lower()] += 1
    return out
