"""Webhook publisher throughput: audit events delivered per second to a loopback receiver.

    .venv/bin/python bench/webhooks.py [--events 500] [--publishers 1,2] [--delay-ms 0]

Starts a private redis-server (no persistence) and an in-process aiohttp receiver that
answers 200 after --delay-ms; writes N suppressions (each with its audit entry) before
the publishers start, then starts P publishers in one consumer group and times until the
receiver has every event once. Reports events/s and the age of each event on arrival
(stream id time to receipt). The child is stopped by PID; the temp dir is removed.
Markdown goes to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from consentry import config as config_mod
from consentry import webhooks
from consentry.store import Store, SuppressionRecord

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret-0123456789"  # noqa: S105 - a throwaway key for a loopback receiver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_once(url: str, events: int, publishers: int, delay: float, concurrency: int
                   ) -> dict[str, Any]:
    got: dict[str, float] = {}
    dupes = 0
    done = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        nonlocal dupes
        body = json.loads(await request.read())
        if body["id"] in got:
            dupes += 1
        got[body["id"]] = time.time()
        if len(got) >= events:
            done.set()
        if delay:
            await asyncio.sleep(delay)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    cfg = config_mod.from_mapping({
        "redis": {"embedded": False, "url": url, "deadline_ms": 2000},
        "webhooks": [{"name": "bench", "url": f"http://127.0.0.1:{port}/hook",
                      "secret": SECRET, "concurrency": concurrency}]})
    writer = Store(cfg.redis, url)
    await writer.redis.flushall()
    await writer.webhook_group("webhook:bench")
    for i in range(events):
        await writer.add_suppression(SuppressionRecord(
            f"user{i}@example.org", "global", "unsubscribe", "bench", time.time()), "bench")
    stores = [Store(webhooks.store_config(cfg), url) for _ in range(publishers)]
    pubs = [webhooks.Publisher(cfg, st) for st in stores]
    t0 = time.perf_counter()
    for p in pubs:
        await p.start()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - t0
    for p in pubs:
        await p.stop(5)
    for st in [*stores, writer]:
        await st.close()
    await runner.cleanup()
    ages = sorted(at - int(sid.partition("-")[0]) / 1000 for sid, at in got.items())
    return {"publishers": publishers, "concurrency": concurrency, "events": len(got),
            "dupes": dupes, "seconds": elapsed, "rate": len(got) / elapsed,
            "age_p50": statistics.median(ages) if ages else 0.0}


async def main_async(args: argparse.Namespace, url: str) -> list[dict[str, Any]]:
    return [await run_once(url, args.events, int(p), args.delay_ms / 1000, int(c))
            for p in args.publishers.split(",") for c in args.concurrency.split(",")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--publishers", default="1,2")
    ap.add_argument("--concurrency", default="1,8", help="webhooks[].concurrency values")
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="receiver's answer time (a real CRM: tens of ms)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cs-bench-wh-"))
    port = free_port()
    redis = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port",
                              str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(tmp)],
                             stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.02)
        rows = asyncio.run(main_async(args, f"redis://127.0.0.1:{port}/0"))
    finally:
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [f"# webhooks: {args.events} events, receiver answer {args.delay_ms:g} ms",
             "", "| publishers | concurrency | delivered | duplicates | seconds | events/s | "
             "median age at receipt (s, from the change) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['publishers']} | {r['concurrency']} | {r['events']} | "
                     f"{r['dupes']} | "
                     f"{r['seconds']:.2f} | {r['rate']:.0f} | {r['age_p50']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "bench" / "results" / time.strftime("webhooks-%Y%m%d-%H%M%S.md")
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
