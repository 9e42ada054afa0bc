"""consentry against Redis Sentinel (Debian's redis-server: one primary, one replica, one
sentinel, small timeouts; the data nodes and the sentinel each require a password). The
primary is SIGKILLed during a stream of messages: while no primary is reachable the relay
answers 451, after the failover it relays again; a suppressed recipient never reaches the
sink, and every message either reached the sink (250) or got a 4xx (counted). A promoted
primary without the canary gets 451 too."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consentry.store import SuppressionRecord

from ..helpers.client import message, send
from ..helpers.redis_ha import LocalSentinel
from ..helpers.sink import Sink

MARKETING = {"X-Consent-Class": "marketing"}
BLOCKED = "blocked@example.org"
DATA_PW, SENTINEL_PW = secrets.token_hex(8), secrets.token_hex(8)


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[LocalSentinel]:
    s = LocalSentinel(tmp_path / "sentinel", data_password=DATA_PW,
                      sentinel_password=SENTINEL_PW)
    yield s
    s.stop()


async def test_primary_killed_during_a_stream_451_then_resumes_nothing_unchecked_or_lost(
        sentinel: LocalSentinel, sink: Sink, make_config: Any, start_app: Any) -> None:
    cfg = make_config(sink, policy={"require_basis": False}, redis={
        "sentinel": {"master": sentinel.master, "nodes": sentinel.addresses,
                     "password": SENTINEL_PW},
        "password": DATA_PW, "deadline_ms": 500})
    running = await start_app(cfg)
    store = running.app.store
    assert await store.add_suppression(SuppressionRecord(
        BLOCKED, "global", "unsubscribe", "admin", time.time()), "test")
    # Replication is asynchronous: the kill below must not race the suppression's copy.
    replica = sentinel.replica.client()
    try:
        deadline = time.monotonic() + 10
        while not (replica.exists(f"cs:supp:{BLOCKED}") and replica.exists("cs:epoch")):
            assert time.monotonic() < deadline, "replica did not receive the suppression"
            await asyncio.sleep(0.02)
    finally:
        replica.close()
    old_port = sentinel.primary.port

    codes: dict[str, int] = {}  # allowed recipient of message i -> the client's reply code
    kill_after = 5
    seen_451 = False
    ok_after_451 = 0
    deadline = time.monotonic() + 40
    i = 0
    while time.monotonic() < deadline and ok_after_451 < 5:
        rcpt = f"ok{i}@example.org"
        code, text, _ = await send(running.port, [BLOCKED, rcpt],
                                   message(headers=MARKETING, msgid=f"<s-{i}@sender.example>"))
        assert code in (250, 451), (i, code, text)
        codes[rcpt] = code
        i += 1
        if i == kill_after:
            sentinel.primary.kill()  # SIGKILL by PID, mid-stream
        elif i > kill_after:
            seen_451 = seen_451 or code == 451
            ok_after_451 += 1 if seen_451 and code == 250 else 0
    after = list(codes.values())[kill_after:]
    assert seen_451, f"no 451 while the primary was down: {after}"
    assert ok_after_451 >= 5, f"relaying did not resume within the bound: {after}"
    assert sentinel.current_primary_port() == sentinel.replica.port != old_port

    delivered = [r for m in sink.received for r in m.rcpts]
    assert BLOCKED not in delivered  # never relayed unchecked
    accepted = sorted(r for r, c in codes.items() if c == 250)
    tempfailed = sorted(r for r, c in codes.items() if c == 451)
    # none lost: each 250 reached the sink exactly once, each 451 sent nothing on
    assert sorted(delivered) == accepted, (delivered, accepted)
    assert len(accepted) + len(tempfailed) == len(codes) == i
    assert len(accepted) >= 10 and tempfailed

    # The promoted primary then loses its data (FLUSHALL): no canary, 451, nothing sent.
    new = sentinel.replica.client()
    try:
        new.flushall()
    finally:
        new.close()
    code, text, _ = await send(running.port, ["late@example.org"], message(headers=MARKETING))
    assert code == 451, text
    assert "late@example.org" not in [r for m in sink.received for r in m.rcpts]
    logged = running.log_path.read_text()
    started = [json.loads(line) for line in logged.splitlines()
               if '"started"' in line]
    assert [e["redis"] for e in started if e.get("event") == "started"] == [
        f"sentinel {sentinel.master} via {','.join(sentinel.addresses)}"]
    assert DATA_PW not in logged and SENTINEL_PW not in logged  # passwords never logged
