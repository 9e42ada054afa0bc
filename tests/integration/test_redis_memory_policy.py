"""Redis must not evict (an evicted suppression would let mail through unchecked): a real
`consentry serve` against a redis-server of the test's own refuses to start when that
server has a maxmemory limit with any policy but noeviction (exit 2, a log line naming
the policy), warns without a limit, and is silent under noeviction. An ACL user that may
not run INFO gets a warning and the daemon runs."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from ..helpers.client import message, send
from ..helpers.daemon import CONSENTRY, Daemon, base_config
from ..helpers.redis_proc import RedisProc
from ..helpers.sink import Sink

WARNINGS = ("redis_evicts_keys", "redis_eviction_policy", "redis_memory_policy_unknown")


def _serve_until_exit(d: Daemon, within: float = 30.0) -> int:
    """Run `consentry serve` expecting it to give up at start; killed by PID if not."""
    with open(d.err_path, "wb") as err:
        d.proc = subprocess.Popen([*CONSENTRY, "-c", str(d.config_path), "serve"],
                                  cwd=d.tmp, stdout=err, stderr=err,
                                  stdin=subprocess.DEVNULL)
    try:
        return d.proc.wait(within)
    finally:
        d.stop()


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
async def test_start_refused_when_redis_evicts(tmp_path: Path, own_redis: RedisProc,
                                               sink: Sink, policy: str) -> None:
    own_redis.cli("CONFIG", "SET", "maxmemory", "64mb")
    own_redis.cli("CONFIG", "SET", "maxmemory-policy", policy)
    d = Daemon(tmp_path, base_config(tmp_path, own_redis.url, sink.port))
    rc = await asyncio.to_thread(_serve_until_exit, d)
    assert rc == 2, d.log_text()
    (ev,) = d.events("redis_evicts_keys")
    assert ev["maxmemory_policy"] == policy and ev["maxmemory"] == 64 * 1024 * 1024, ev
    (failed,) = d.events("start_failed")
    assert f"maxmemory-policy {policy}" in failed["reason"], failed
    assert "noeviction" in failed["reason"], failed
    assert sink.received == []


async def test_eviction_policy_without_limit_warns_and_runs(
        tmp_path: Path, own_redis: RedisProc, sink: Sink) -> None:
    own_redis.cli("CONFIG", "SET", "maxmemory", "0")
    own_redis.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    d = Daemon(tmp_path, base_config(tmp_path, own_redis.url, sink.port))
    try:
        await asyncio.to_thread(d.start)
        code, text, _ = await send(d.port, ["a@example.org"], message())
        assert code == 250, text
    finally:
        d.stop()
    (ev,) = d.events("redis_eviction_policy")
    assert ev["maxmemory_policy"] == "allkeys-lru", ev
    assert not d.events("redis_evicts_keys")


async def test_noeviction_is_silent(tmp_path: Path, own_redis: RedisProc,
                                    sink: Sink) -> None:
    own_redis.cli("CONFIG", "SET", "maxmemory", "64mb")
    own_redis.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
    d = Daemon(tmp_path, base_config(tmp_path, own_redis.url, sink.port))
    try:
        await asyncio.to_thread(d.start)
        code, text, _ = await send(d.port, ["a@example.org"], message())
        assert code == 250, text
    finally:
        d.stop()
    assert d.events("started"), d.log_text()
    assert not any(d.events(w) for w in WARNINGS), d.log_text()


async def test_info_denied_to_the_acl_user_warns_and_runs(
        tmp_path: Path, own_redis: RedisProc, sink: Sink) -> None:
    own_redis.cli("ACL", "SETUSER", "relay", "on", ">s3cret-pw", "~cs:*", "+@all", "-info")
    url = f"redis://relay:s3cret-pw@127.0.0.1:{own_redis.port}/0"
    d = Daemon(tmp_path, base_config(tmp_path, url, sink.port))
    try:
        await asyncio.to_thread(d.start)
        code, text, _ = await send(d.port, ["a@example.org"], message())
        assert code == 250, text
    finally:
        d.stop()
    assert d.events("redis_memory_policy_unknown"), d.log_text()
    assert not d.events("redis_evicts_keys")
