"""Process-wide Prometheus metrics beyond the plain counters (served by http.py /metrics).

In-process counters and histograms are updated on the hot path with dict increments
only; the Redis-derived gauges (queue depths, complaint and hard-bounce rates) are
refreshed by `Refresher` every `stats.refresh_interval` seconds, never per scrape. Label
values are bounded: rules and verdicts are code, unknown classes count as "unknown",
campaigns are the most recent `MAX_CAMPAIGNS`, reply codes are three digits or "none".
"""

from __future__ import annotations

import bisect
import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from .config import MESSAGE_CLASSES

MAX_CAMPAIGNS = 50
# Mailbox providers' published complaint-rate limits (Google/Yahoo 2024 sender rules):
# keep below 0.1 %, never reach 0.3 %.
COMPLAINT_RATE_WARN = 0.001
COMPLAINT_RATE_MAX = 0.003
_CODE = re.compile(r"^\s*([2-5]\d\d)\b")
OBJECTION_REASONS = frozenset({"unsubscribe", "objection", "complaint"})
# Sources whose suppressions are live objections: their `at` is when the objection
# arrived, so commit time minus `at` is the objection-to-effect time.
LIVE_SOURCES = frozenset({"one-click", "confirm-page", "mailto", "reply", "complaint"})


@dataclass(slots=True)
class Histogram:
    bounds: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value
        self.n += 1

    def family(self, name: str, doc: str, labels: Mapping[str, str] | None = None
               ) -> HistogramMetricFamily:
        cum = 0
        buckets: list[tuple[str, float]] = []
        for b, c in zip(self.bounds, self.counts, strict=False):
            cum += c
            buckets.append((repr(float(b)), cum))
        buckets.append(("+Inf", self.n))
        fam = HistogramMetricFamily(name, doc, labels=list(labels or {}))
        fam.add_metric(list((labels or {}).values()), buckets, self.total)
        return fam


def reply_code(reply: str | None) -> str:
    if not reply:
        return "none"
    m = _CODE.match(reply)
    return m.group(1) if m else "other"


class Metrics:
    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str, str], int] = {}
        self.messages: dict[str, int] = {}
        self.latency = Histogram((0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                  1.0, 2.5, 5.0, 10.0, 30.0))
        self.replies: dict[str, int] = {}
        self.inbound: dict[str, int] = {}
        self.classifier_failures: dict[str, int] = {}  # timeout | died | error
        self.audit: dict[tuple[str, str], int] = {}
        self.effect = Histogram((0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0,
                                 86400.0, 172800.0))
        self.send_record_failures = 0
        self.redis = Histogram((0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                0.5, 1.0, 5.0))
        self.redis_errors: Any = lambda: 0  # set by the app: sum over its Stores
        self.redis_extensions: Any = lambda: 0  # set by the app: sum over its Stores
        self.audit_chain: Any = lambda: 0  # set by the app: the Auditor's file length
        self.gauges: dict[str, float] = {}
        self.campaigns: dict[str, tuple[float, float, float]] = {}  # sent, compl., hard
        self.rates: dict[str, float] = {}
        self.webhooks: dict[tuple[str, str], int] = {}  # (endpoint, outcome) -> count
        self.webhook_backlog: dict[str, float] = {}  # endpoint -> events not yet acked

    # -- hot path -----------------------------------------------------------------------

    def message(self, outcome: str, latency_s: float, reply: str | None,
                decisions: Iterable[tuple[str, str, str]]) -> None:
        self.messages[outcome] = self.messages.get(outcome, 0) + 1
        self.latency.observe(latency_s)
        code = reply_code(reply)
        self.replies[code] = self.replies.get(code, 0) + 1
        for verdict, rule, cls in decisions:
            k = (verdict, rule, cls if cls in MESSAGE_CLASSES else "unknown")
            self.decisions[k] = self.decisions.get(k, 0) + 1

    def webhook(self, endpoint: str, outcome: str) -> None:
        k = (endpoint, outcome)
        self.webhooks[k] = self.webhooks.get(k, 0) + 1

    def inbound_kind(self, kind: str) -> None:
        self.inbound[kind] = self.inbound.get(kind, 0) + 1

    def classifier_failure(self, what: str) -> None:
        self.classifier_failures[what] = self.classifier_failures.get(what, 0) + 1

    def audit_entry(self, entry: Mapping[str, str], now: float) -> None:
        action, source = entry.get("action", "?"), entry.get("source", "?")
        self.audit[(action, source)] = self.audit.get((action, source), 0) + 1
        if (action == "suppress" and source in LIVE_SOURCES
                and entry.get("reason") in OBJECTION_REASONS):
            with contextlib.suppress(ValueError):
                self.effect.observe(max(0.0, now - float(entry.get("at", now))))

    # -- exposition ---------------------------------------------------------------------

    def collect(self, extra_gauges: Mapping[str, float] | None = None) -> Iterable[Metric]:
        fam = CounterMetricFamily("consentry_decisions", "recipient decisions",
                                  labels=["verdict", "rule", "class"])
        for (v, r, c), n in sorted(self.decisions.items()):
            fam.add_metric([v, r, c], n)
        yield fam
        fam = CounterMetricFamily("consentry_messages", "messages by outcome",
                                  labels=["outcome"])
        for k, n in sorted(self.messages.items()):
            fam.add_metric([k], n)
        yield fam
        yield self.latency.family("consentry_relay_latency_seconds",
                                  "time from end of DATA to the reply")
        fam = CounterMetricFamily("consentry_downstream_replies",
                                  "downstream replies per message by code", labels=["code"])
        for k, n in sorted(self.replies.items()):
            fam.add_metric([k], n)
        yield fam
        fam = CounterMetricFamily("consentry_inbound_messages", "inbound messages by kind",
                                  labels=["kind"])
        for k, n in sorted(self.inbound.items()):
            fam.add_metric([k], n)
        yield fam
        fam = CounterMetricFamily("consentry_inbound_classifier_failures",
                                  "inbound messages whose classification failed (worker "
                                  "timeout and restart, worker death, classifier error): "
                                  "sent to review as unknown", labels=["failure"])
        for k, n in sorted(self.classifier_failures.items()):
            fam.add_metric([k], n)
        yield fam
        fam = CounterMetricFamily("consentry_audit_entries",
                                  "audited changes written by this process",
                                  labels=["action", "source"])
        for (a, s), n in sorted(self.audit.items()):
            fam.add_metric([a, s], n)
        yield fam
        yield self.effect.family(
            "consentry_objection_to_effect_seconds",
            "time from an objection's arrival (click, mailto, reply, complaint) to the "
            "suppression being written")
        yield self.redis.family("consentry_redis_round_trip_seconds",
                                "Redis round trips (lookups, writes, reads), this process")
        yield CounterMetricFamily("consentry_redis_errors",
                                  "Redis round trips that failed (timeout, error, lost data)",
                                  value=self.redis_errors())
        yield CounterMetricFamily("consentry_redis_deadline_extensions",
                                  "Redis deadlines moved on once because this process's "
                                  "event loop ran late (a burst), not Redis",
                                  value=self.redis_extensions())
        yield GaugeMetricFamily("consentry_audit_chain_length",
                                "entries in this host's hash-chained audit file",
                                value=self.audit_chain())
        yield CounterMetricFamily("consentry_send_record_failures",
                                  "send records spooled because Redis refused them",
                                  value=self.send_record_failures)
        for name, value in sorted({**self.gauges, **(extra_gauges or {})}.items()):
            yield GaugeMetricFamily(f"consentry_{name}", name.replace("_", " "), value=value)
        for name, doc in (("sent", "recipients relayed"), ("complaints", "complaints"),
                          ("hard_bounces", "hard bounces")):
            g = GaugeMetricFamily(f"consentry_campaign_{name}",
                                  f"{doc} per campaign (stats.retention_days)",
                                  labels=["campaign"])
            idx = {"sent": 0, "complaints": 1, "hard_bounces": 2}[name]
            for camp, vals in sorted(self.campaigns.items()):
                g.add_metric([camp], vals[idx])
            yield g
        g = GaugeMetricFamily("consentry_campaign_complaint_rate",
                              "complaints / recipients relayed per campaign",
                              labels=["campaign"])
        for camp, (sent, compl, _hard) in sorted(self.campaigns.items()):
            g.add_metric([camp], compl / sent if sent else 0.0)
        yield g
        g = GaugeMetricFamily("consentry_complaint_rate_threshold",
                              "mailbox providers' complaint-rate limits", labels=["level"])
        g.add_metric(["warn"], COMPLAINT_RATE_WARN)
        g.add_metric(["max"], COMPLAINT_RATE_MAX)
        yield g
        for name, value in sorted(self.rates.items()):
            yield GaugeMetricFamily(f"consentry_{name}", name.replace("_", " "), value=value)
        fam = CounterMetricFamily("consentry_webhook_deliveries",
                                  "webhook events by outcome: delivered, retried (one failed "
                                  "attempt), dead_lettered, filtered", labels=["endpoint",
                                                                               "outcome"])
        for (e, o), n in sorted(self.webhooks.items()):
            fam.add_metric([e, o], n)
        yield fam
        g = GaugeMetricFamily("consentry_webhook_backlog",
                              "audit events an endpoint's consumer group has not "
                              "acknowledged yet (pending + unread)", labels=["endpoint"])
        for ep, depth in sorted(self.webhook_backlog.items()):
            g.add_metric([ep], depth)
        yield g


METRICS = Metrics()


class Collector:
    """Registered in http.py's registry: yields METRICS plus caller-supplied gauges."""

    def __init__(self, gauges: Any = None) -> None:
        self.gauges = gauges

    def collect(self) -> Iterable[Metric]:
        extra = self.gauges() if self.gauges is not None else None
        yield from METRICS.collect(extra)
