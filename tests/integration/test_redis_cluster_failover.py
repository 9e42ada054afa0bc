"""A Redis Cluster master SIGKILLed under a stream of messages (3 masters with a replica
each, cluster-node-timeout 2 s): while its slots have no master the relay answers 451,
after the cluster promoted the replica it relays again; the suppressed recipient (in
that master's slots) never reaches the sink, and every message either reached the sink
(250) or got a 4xx (counted)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from consentry import config as config_mod
from consentry.keys import key_slot
from consentry.store import SuppressionRecord

from ..helpers.client import message, send
from ..helpers.redis_ha import LocalCluster
from ..helpers.sink import Sink
from .test_redis_cluster import KEYS, MARKETING, write_config


async def test_master_killed_replica_promoted_nothing_unchecked_or_lost(
        tmp_path: Path, sink: Sink, start_app: Any) -> None:
    cluster = await asyncio.to_thread(LocalCluster, tmp_path / "cluster", 3, 1)
    try:
        victim = "victim@example.org"
        owner = cluster.slot_owners()
        master = owner(key_slot(KEYS.address(victim)))
        # Allowed recipients whose keys lie on the same master.
        oks = [a for a in (f"ok{i}@example.org" for i in range(20000))
               if owner(key_slot(KEYS.address(a))) is master][:400]
        path = write_config(tmp_path, cluster, sink)
        running = await start_app(config_mod.load(path))
        assert await running.app.store.add_suppression(SuppressionRecord(
            victim, "global", "unsubscribe", "admin", time.time()), "test")
        c = master.client()
        try:  # the suppression (and the canaries) reached the replica before the kill
            assert int(c.execute_command("WAIT", 1, 5000)) == 1
        finally:
            c.close()

        codes: dict[str, int] = {}
        kill_after, seen_451, ok_after_451 = 3, False, 0
        deadline = time.monotonic() + 40
        for rcpt in oks:
            if time.monotonic() > deadline or ok_after_451 >= 5:
                break
            code, text, _ = await send(running.port, [victim, rcpt],
                                       message(headers=MARKETING))
            assert code in (250, 451), (rcpt, code, text)
            codes[rcpt] = code
            if len(codes) == kill_after:
                master.kill()  # SIGKILL by PID
            elif len(codes) > kill_after:
                seen_451 = seen_451 or code == 451
                ok_after_451 += 1 if seen_451 and code == 250 else 0
                if code == 451:
                    await asyncio.sleep(0.05)  # bounded pace while there is no master
        after = list(codes.values())[kill_after:]
        assert seen_451, f"no 451 while the slots had no master: {after}"
        assert ok_after_451 >= 5, f"relaying did not resume within the bound: {after}"
        delivered = [r for m in sink.received for r in m.rcpts]
        assert victim not in delivered
        accepted = sorted(r for r, code in codes.items() if code == 250)
        assert sorted(delivered) == accepted  # each 250 reached the sink exactly once
        assert len(accepted) + sum(1 for v in codes.values() if v == 451) == len(codes)
    finally:
        cluster.stop()
