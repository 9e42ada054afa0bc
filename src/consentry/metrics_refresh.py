"""The Redis-derived gauges of /metrics, refreshed in the background (never per scrape):
queue depths and backlogs, audit stream length, per-campaign complaint and hard-bounce
counts, and the 24-hour hard-bounce and complaint rates from the hourly counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from . import logs
from .config import Config
from .errors import StoreUnavailable
from .metrics import MAX_CAMPAIGNS, METRICS
from .stats import hour_buckets, rates, sum_hours
from .store import Store


async def refresh(cfg: Config, store: Store) -> None:
    now = time.time()
    depths = await store.depths(now - cfg.inbound.soft_bounce_window_days * 86400)
    names = {"retry_queue": "queue_retry", "dsn_queue": "queue_dsn",
             "dsn_processing": "queue_dsn_processing"}
    METRICS.gauges.update({names.get(k, k): float(v) for k, v in depths.items()})
    camps = await store.campaign_stats(MAX_CAMPAIGNS)
    METRICS.campaigns = {
        name: (float(h.get("sent", 0)), float(h.get("complaint", 0)),
               float(h.get("hard_bounce", 0))) for name, h in camps.items()}
    day = sum_hours(await store.stats_hours(hour_buckets(now, 24)))
    r = rates(day)
    METRICS.rates = {"hard_bounce_rate_24h": r["hard_bounce_rate"] or 0.0,
                     "complaint_rate_24h": r["complaint_rate"] or 0.0,
                     "relayed_recipients_24h": float(day["relayed"])}


async def run(cfg: Config, store: Store, draining: Callable[[], bool]) -> None:
    log = logs.get("consentry.metrics")
    # First refresh one interval after start: nothing to report before, and the start
    # (canary, queues, the first messages) has the background pool to itself.
    await asyncio.sleep(cfg.stats.refresh_interval)
    while not draining():
        try:
            await refresh(cfg, store)
        except StoreUnavailable as exc:
            log.warning("metrics_refresh_failed", reason=str(exc))
        await asyncio.sleep(cfg.stats.refresh_interval)
