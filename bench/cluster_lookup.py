"""The per-message lookup on one redis-server and on a local 3-master Redis Cluster:
mean latency per lookup (client and servers on this host) and, for the cluster, how many
connections (= round trips: one packed write each) every master got per lookup; and the
latency of one audited suppression write (one MULTI/EXEC, or two steps of per-slot ones).

    .venv/bin/python bench/cluster_lookup.py [--lookups 500]

Starts its own redis-server processes on free loopback ports and stops them by PID.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redis.asyncio.cluster import ClusterNode
from tests.helpers.redis_ha import LocalCluster
from tests.helpers.redis_proc import RedisProc

from consentry import config as config_mod
from consentry.address import parse
from consentry.store import Store, SuppressionRecord

SIZES = (1, 10, 50)


async def measure(store: Store, lookups: int, counts: Counter[str] | None) -> list[str]:
    await store.init_epoch()
    out = []
    for n in SIZES:
        addrs = [parse(f"user{i}@example{i % 7}.org") for i in range(n)]
        await store.recipient_states(addrs)  # warm: connections, slot map
        if counts is not None:
            counts.clear()
        t0 = time.perf_counter()
        for _ in range(lookups):
            await store.recipient_states(addrs)
        ms = (time.perf_counter() - t0) / lookups * 1000
        per = ("" if counts is None else "  round trips per lookup per master: "
               + ", ".join(f"{v / lookups:.2f}" for _k, v in sorted(counts.items())))
        out.append(f"{n:>3} recipients: {ms:6.2f} ms per lookup{per}")
    t0 = time.perf_counter()
    for i in range(lookups):
        await store.add_suppression(SuppressionRecord(
            f"w{i}@example{i % 7}.org", "global", "unsubscribe", "bench", time.time()),
            "bench")
    ms = (time.perf_counter() - t0) / lookups * 1000
    out.append(f"suppression write (with its audit entry): {ms:6.2f} ms")
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lookups", type=int, default=500)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cs-cluster-bench-"))
    single = RedisProc(work / "single")
    single.start()
    cluster = LocalCluster(work / "cluster")
    try:
        cfg = config_mod.from_mapping({"redis": {"embedded": False, "url": single.url,
                                                 "deadline_ms": 5000}})
        st = Store(cfg.redis, single.url)
        print("single redis-server:")
        for line in await measure(st, args.lookups, None):
            print("  " + line)
        await st.close()

        counts: Counter[str] = Counter()
        orig = ClusterNode.acquire_connection

        def counted(self: ClusterNode) -> Any:
            counts[self.name] += 1
            return orig(self)

        ClusterNode.acquire_connection = counted  # type: ignore[method-assign]
        cfg = config_mod.from_mapping({"redis": {"embedded": False, "cluster": {
            "nodes": cluster.addresses}, "deadline_ms": 5000}})
        st = Store(cfg.redis, "")
        print("3-master cluster:")
        for line in await measure(st, args.lookups, counts):
            print("  " + line)
        await st.close()
    finally:
        cluster.stop()
        single.stop()


if __name__ == "__main__":
    asyncio.run(main())
