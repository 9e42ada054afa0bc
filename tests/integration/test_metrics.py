"""/metrics, scraped from the running daemon and parsed with prometheus-client's own
parser: decisions by verdict/rule/class, relay latency, downstream replies by code, Redis
round trips and errors, queue depths, audit chain length, objection-to-effect time,
complaint rate per campaign and the 24 h hard-bounce rate."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from consentry import address, metrics_refresh
from consentry.store import SuppressionRecord

from ..helpers.client import message, send

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int) -> tuple[Samples, set[str]]:
    async with aiohttp.ClientSession() as http, \
            http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    samples: Samples = {}
    families: set[str] = set()
    for fam in text_string_to_metric_families(text):
        families.add(fam.name)
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, families


def get(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_scraped_and_parsed(make_config: Any, sink: Any, start_app: Any,
                                          sync_redis: Any) -> None:
    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    app = running.app
    port = app.http.ports[0]
    before, _ = await scrape(port)
    sync_redis.hset("cs:supp:gone@example.org", "global", json.dumps(
        {"reason": "unsubscribe", "source": "one-click", "at": 1.0}))
    code, _, _ = await send(running.port, ["a@example.org", "gone@example.org"],
                            message(msgid="<m-1@x>", headers={"X-Campaign-Id": "m1"}))
    assert code == 250
    code, _, _ = await send(running.port, ["b@example.org"], message(
        msgid="<m-2@x>", headers={"X-Consent-Class": "transactional"}))
    assert code == 250
    # A one-click objection that arrived 2 s before it was written, a live hard bounce,
    # and a complaint against campaign m1.
    await app.store.add_suppression(SuppressionRecord(
        "c@example.org", "global", "unsubscribe", "one-click", time.time() - 2.0), "t")
    await app.store.add_suppression(SuppressionRecord(
        "d@example.org", "global", "hard_bounce", "bounce", time.time()), "t")
    await app.bg_store.campaign_event("m1", "complaint", 86400)
    await metrics_refresh.refresh(cfg, app.bg_store)
    # A lookup whose reply waits on this process's busy loop, not on Redis: its deadline
    # moves on once, and the scrape counts it.
    loop = asyncio.get_running_loop()
    lookup = loop.create_task(app.store.recipient_states([address.parse("late@example.org")]))
    loop.call_soon(time.sleep, app.store.deadline * 1.6)
    await asyncio.wait_for(lookup, 10)
    after, families = await scrape(port)

    def delta(name: str, **labels: str) -> float:
        return get(after, name, **labels) - get(before, name, **labels)

    assert delta("consentry_decisions_total", verdict="suppress", rule="objection",
                 **{"class": "marketing"}) == 1
    assert delta("consentry_decisions_total", verdict="allow", rule="non_advertising",
                 **{"class": "transactional"}) == 1
    assert delta("consentry_messages_total", outcome="relayed") == 2
    assert delta("consentry_relay_latency_seconds_count") == 2
    assert delta("consentry_relay_latency_seconds_bucket", le="+Inf") == 2
    assert delta("consentry_downstream_replies_total", code="250") == 2
    assert delta("consentry_redis_round_trip_seconds_count") >= 4
    assert ("consentry_redis_errors_total", ()) in after
    assert delta("consentry_redis_deadline_extensions_total") == 1
    assert delta("consentry_objection_to_effect_seconds_count") == 1
    assert delta("consentry_objection_to_effect_seconds_sum") >= 2.0
    assert delta("consentry_objection_to_effect_seconds_bucket", le="1.0") == 0
    assert delta("consentry_objection_to_effect_seconds_bucket", le="5.0") == 1
    assert delta("consentry_audit_entries_total", action="suppress", source="one-click") == 1
    assert get(after, "consentry_audit_chain_length") >= 2
    assert get(after, "consentry_audit_stream_length") >= 2
    assert get(after, "consentry_campaign_sent", campaign="m1") == 1
    assert get(after, "consentry_campaign_complaints", campaign="m1") == 1
    assert get(after, "consentry_campaign_complaint_rate", campaign="m1") == 1.0
    assert get(after, "consentry_complaint_rate_threshold", level="max") == 0.003
    assert get(after, "consentry_hard_bounce_rate_24h") == 1 / 2  # 1 of 2 relayed
    for g in ("consentry_queue_retry", "consentry_queue_dsn", "consentry_soft_bounce_backlog",
              "consentry_doi_pending"):
        assert (g, ()) in after
    assert {"consentry_inbound_messages", "consentry_send_record_failures",
            "consentry_relay_messages", "consentry_http_unsubscribed"} <= families
