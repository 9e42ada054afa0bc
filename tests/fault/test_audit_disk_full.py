"""The audit file on a full disk (its path a symlink to /dev/full: every write ENOSPC)
under a stream whose recipients include dead mailboxes the downstream refuses with
550 5.1.1, so the relay keeps making audited changes (hard_bounce suppressions).

What the daemon must do (SPEC §1.3 and §6, docs/audit.md): the audit file is the
tamper-evident mirror of the cs:audit stream; Redis and the stream are what decide. So
relaying goes on (no 4xx because of the file), each refusal is recorded and suppresses
the address at once with its stream entry, the failed append is logged; a one-click
unsubscribe meanwhile takes effect at once but is not acknowledged (503: its evidence is
not in the file yet), and the next messages to that address are not delivered; once the
disk has room again the daemon's periodic sync back-fills the file from the stream, after
which `consentry audit verify` passes."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import redis

from consentry import headers

from ..helpers.daemon import CONSENTRY, Daemon
from ..helpers.redis_proc import RedisProc, free_port
from ..helpers.sink import Sink
from ..helpers.waits import wait_until
from . import ledger
from .conftest import fault_config, settle
from .load import Stream, dead_address, plan, scaled

pytestmark = pytest.mark.fault

DEAD = 6


def _stream_entries(rp: RedisProc) -> list[dict[str, str]]:
    r = redis.Redis.from_url(rp.url, decode_responses=True)
    try:
        return [fields for _id, fields in r.xrange("cs:audit")]
    finally:
        r.close()


async def test_audit_file_on_a_full_disk_relaying_goes_on_and_file_back_fills(
        tmp_path: Path, fault_redis: RedisProc, sink: Sink,
        start_daemon: Callable[..., Awaitable[Daemon]]) -> None:
    link = tmp_path / "audit.jsonl"
    link.symlink_to("/dev/full")
    for k in range(DEAD):
        sink.control.rcpt_replies[dead_address(k)] = "550 5.1.1 no such user"
    http_port = free_port()
    d = await start_daemon(fault_config(
        tmp_path, fault_redis.url, sink, audit={"file": str(link), "sync_interval": 0.3},
        http={"enabled": True, "listen": [f"127.0.0.1:{http_port}"]}))
    msgs = plan("audit-disk-full", scaled(24, 200), dead=DEAD)
    await Stream(d.port, msgs, concurrency=4, pace=0.02).run()
    settled = await settle(fault_redis, d)
    c = ledger.count("audit-disk-full", msgs, sink.received, settled)
    ledger.check(c)
    assert not any(code.startswith("4") for code in c.refused), c.line()
    assert d.events("audit_append_failed"), "the failed append was not reported"

    # Every refusal took effect at once: a hard_bounce suppression with its stream entry.
    refused = {rcpt for _mid, rcpt in settled.bounced}
    assert refused and refused <= settled.dead_keys, (refused, settled.dead_keys)
    assert refused <= {e.get("address") for e in _stream_entries(fault_redis)}

    # A recipient unsubscribes (RFC 8058 one-click) while the disk is still full.
    copy = next(r for r in sink.received if ledger.fault_id(r.content)
                and r.rcpts[0].startswith("ok"))
    gone = copy.rcpts[0]
    parsed = email.message_from_bytes(copy.content, policy=email.policy.compat32)
    url = headers.parse_uris(" ".join(parsed.get_all("List-Unsubscribe") or []))[0]
    assert url.startswith(f"http://127.0.0.1:{http_port}/u/"), url
    async with aiohttp.ClientSession() as http, http.post(
            url, data={"List-Unsubscribe": "One-Click"}, allow_redirects=False) as resp:
        assert resp.status == 503, await resp.text()  # not acknowledged: not in the file
    r = redis.Redis.from_url(fault_redis.url, decode_responses=True)
    try:
        assert r.hgetall(f"cs:supp:{gone}"), "the objection did not take effect at once"
    finally:
        r.close()
    # ... yet it took effect at once: the next messages to that address leave without it.
    more = plan("audit-disk-full-unsubscribed", scaled(12, 100), dead=DEAD)
    for m in more[::2]:
        m.suppressed.append(gone)
    sink.received.clear()
    await Stream(d.port, more, concurrency=4, pace=0.02).run()
    c = ledger.count("audit-disk-full-unsubscribed", more, sink.received,
                     await settle(fault_redis, d))
    ledger.check(c)
    assert not any(code.startswith("4") for code in c.refused), c.line()
    entries = _stream_entries(fault_redis)
    assert gone in {e.get("address") for e in entries}

    # Room on the disk again: the periodic sync writes the whole stream into the file.
    real = tmp_path / "audit-real.jsonl"
    fresh = tmp_path / "audit.new"
    fresh.symlink_to(real)
    os.replace(fresh, link)
    await wait_until(lambda: real.exists() and
                     len(real.read_text().splitlines()) >= len(entries),
                     within=15, what="audit file back-filled from the stream")
    rows = [json.loads(x)["entry"] for x in real.read_text().splitlines()]
    assert refused | {gone} <= {r.get("address") for r in rows}
    out = await asyncio.to_thread(
        subprocess.run, [*CONSENTRY, "-c", str(d.config_path), "audit", "verify"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
