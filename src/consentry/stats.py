"""`consentry stats [--window 24h] [--json] [--totals]`: what happened over a window.

Sources, chosen to keep the hot path cheap:
  decisions     the hourly counter hashes `cs:stats:h:<YYYYMMDDHH>` the relay increments
                in the same MULTI as each message's send record (one HINCRBY per distinct
                verdict/rule/class field, no extra round trip); shared by every host,
                so the figures cover the whole cluster. Windows are whole UTC hours.
  suppressions  the audit stream `cs:audit` over the window (stream ids are times): the
                changes per action, reason and source. `--totals` also SCANs every
                stored suppression for the stock per reason/source (O(stored keys)).
  backlog       soft-bounce index, retry and DSN queues, pending DOI sign-ups.
  inbound       the inbound stream `cs:inbound` over the window, per kind.
  rates         hard bounces / recipients relayed; complaints / relayed per campaign
                against the 0.1 % / 0.3 % thresholds of the big mailbox providers.
Stream scans are capped at STREAM_CAP entries per stream (reported as truncated).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from .config import Config
from .metrics import COMPLAINT_RATE_MAX, COMPLAINT_RATE_WARN
from .store import Store

HOUR = 3600
STREAM_CAP = 2_000_000
PAGE = 5000
_WINDOW = re.compile(r"^(\d+)([hdw])$")


def parse_window(value: str) -> int:
    m = _WINDOW.match(value.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"window must be like 6h, 24h, 7d, 2w: {value!r}")
    n = int(m.group(1)) * {"h": 1, "d": 24, "w": 168}[m.group(2)]
    if not 1 <= n <= 24 * 400:
        raise argparse.ArgumentTypeError("window must be between 1h and 400d")
    return n


def hour_buckets(now: float, hours: int) -> list[str]:
    start = int(now // HOUR) - hours + 1
    return [datetime.fromtimestamp((start + i) * HOUR, UTC).strftime("%Y%m%d%H")
            for i in range(hours)]


def sum_hours(rows: list[dict[str, str]]) -> dict[str, Any]:
    total: Counter[str] = Counter()
    for h in rows:
        for k, v in h.items():
            try:
                total[k] += int(v)
            except ValueError:
                continue

    def pick(prefix: str) -> dict[str, int]:
        return dict(sorted(((k[len(prefix):], v) for k, v in total.items()
                            if k.startswith(prefix)), key=lambda kv: -kv[1]))

    by_class: dict[str, dict[str, int]] = {}
    for name, n in total.items():
        if name.startswith("cv:"):
            cls, _, verdict = name[3:].rpartition(":")
            by_class.setdefault(cls, {})[verdict] = n
    return {"messages": total.get("msg", 0), "recipients": total.get("rcpt", 0),
            "relayed": total.get("sent", 0), "by_verdict": pick("v:"),
            "by_rule": pick("r:"), "by_class": pick("c:"), "by_class_verdict": by_class,
            "live_suppressions": pick("s:")}


async def _scan_stream(store: Store, stream: str, since: float, fold: Any) -> tuple[int, bool]:
    after = f"{int(since * 1000)}-0"
    n = 0
    while n < STREAM_CAP:
        page = await store.stream_page(stream, after, PAGE)
        for _sid, fields in page:
            fold(fields)
        n += len(page)
        if len(page) < PAGE:
            return n, False
        after = page[-1][0]
    return n, True


async def gather(cfg: Config, store: Store, hours: int, totals: bool,
                 now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    since = (int(now // HOUR) - hours + 1) * HOUR
    out: dict[str, Any] = {
        "window": {"hours": hours, "from": datetime.fromtimestamp(since, UTC).isoformat(),
                   "to": datetime.fromtimestamp(now, UTC).isoformat()}}
    out["decisions"] = sum_hours(await store.stats_hours(hour_buckets(now, hours)))

    changes: dict[str, Counter[str]] = {"reason": Counter(), "source": Counter(),
                                        "action": Counter()}

    def audit_fold(e: dict[str, str]) -> None:
        action = e.get("action", "?")
        changes["action"][action] += 1
        if action in ("suppress", "unsuppress", "suppress_domain", "erase"):
            changes["reason"][f"{action}:{e.get('reason', '?')}"] += 1
            changes["source"][f"{action}:{e.get('source', '?')}"] += 1

    scanned, cut = await _scan_stream(store, store.keys.audit_stream, since, audit_fold)
    out["suppression_changes"] = {
        "by_action": dict(changes["action"].most_common()),
        "by_reason": dict(changes["reason"].most_common()),
        "by_source": dict(changes["source"].most_common()),
        "scanned": scanned, "truncated": cut}
    kinds: Counter[str] = Counter()
    scanned, cut = await _scan_stream(store, store.keys.inbound_stream, since,
                                      lambda e: kinds.update([e.get("kind", "?")]))
    out["inbound"] = {"by_kind": dict(kinds.most_common()), "scanned": scanned,
                      "truncated": cut}
    soft_window = cfg.inbound.soft_bounce_window_days * 86400
    out["backlog"] = await store.depths(now - soft_window)
    out["rates"] = rates(out["decisions"])
    camps: dict[str, Any] = {}
    for name, h in (await store.campaign_stats(50)).items():
        sent = int(h.get("sent", 0))
        compl = int(h.get("complaint", 0))
        rate = compl / sent if sent else None
        camps[name] = {"sent": sent, "complaints": compl,
                       "hard_bounces": int(h.get("hard_bounce", 0)), "complaint_rate": rate,
                       "status": ("over 0.3 %" if rate is not None and rate >= COMPLAINT_RATE_MAX
                                  else "over 0.1 %" if rate is not None
                                  and rate >= COMPLAINT_RATE_WARN else "ok")}
    out["campaigns"] = camps
    if totals:
        reasons: Counter[str] = Counter()
        sources: Counter[str] = Counter()
        n = 0
        async for s in store.iter_suppressions():
            reasons[s.reason] += 1
            sources[s.source] += 1
            n += 1
        out["suppressions_stored"] = {"total": n, "by_reason": dict(reasons.most_common()),
                                      "by_source": dict(sources.most_common())}
    return out


def rates(decisions: dict[str, Any]) -> dict[str, float | None]:
    """Hard bounces and complaints recorded live in the window (every host, counted in
    the same MULTI as each suppression) per recipient relayed."""
    relayed = decisions["relayed"]
    live = decisions["live_suppressions"]
    return {"hard_bounce_rate": live.get("hard_bounce", 0) / relayed if relayed else None,
            "complaint_rate": live.get("complaint", 0) / relayed if relayed else None}


def _pct(part: int, whole: int) -> str:
    return f" ({part / whole:.1%})" if whole else ""


def _counts(d: dict[str, int], whole: int | None = None) -> str:
    if not d:
        return "-"
    return "  ".join(f"{k} {v}{_pct(v, whole) if whole else ''}" for k, v in d.items())


def render(s: dict[str, Any]) -> str:
    d = s["decisions"]
    w = s["window"]
    lines = [f"consentry stats, last {w['hours']} h ({w['from'][:16]}Z .. {w['to'][:16]}Z, "
             "whole UTC hours)",
             f"  messages {d['messages']}   recipients {d['recipients']}   relayed "
             f"{d['relayed']}",
             f"  by verdict   {_counts(d['by_verdict'], d['recipients'])}",
             f"  by rule      {_counts(d['by_rule'])}",
             f"  by class     {_counts(d['by_class'])}"]
    for cls, vs in sorted(d["by_class_verdict"].items()):
        lines.append(f"    {cls:<18} {_counts(vs)}")
    c = s["suppression_changes"]
    lines += ["suppression and consent changes (audit stream)"
              + (" [truncated]" if c["truncated"] else ""),
              f"  by action    {_counts(c['by_action'])}",
              f"  by reason    {_counts(c['by_reason'])}",
              f"  by source    {_counts(c['by_source'])}"]
    if "suppressions_stored" in s:
        t = s["suppressions_stored"]
        lines += [f"suppressions stored: {t['total']}",
                  f"  by reason    {_counts(t['by_reason'])}",
                  f"  by source    {_counts(t['by_source'])}"]
    b = s["backlog"]
    lines.append(f"backlog: soft-bounce {b['soft_bounce_backlog']} address(es) counting, "
                 f"retry queue {b['retry_queue']}, DSN queue {b['dsn_queue']} "
                 f"(+{b['dsn_processing']} in progress), pending DOI {b['doi_pending']}")
    i = s["inbound"]
    lines.append(f"inbound: {_counts(i['by_kind'])}" + (" [truncated]" if i["truncated"]
                                                        else ""))
    r = s["rates"]

    def rate(x: float | None) -> str:
        return "-" if x is None else f"{x:.3%}"

    lines.append(f"rates: hard bounces {rate(r['hard_bounce_rate'])} of relayed, "
                 f"complaints {rate(r['complaint_rate'])} (limits 0.1 % / 0.3 %)")
    for name, cs in s["campaigns"].items():
        lines.append(f"  campaign {name:<24} sent {cs['sent']:<8} complaints "
                     f"{cs['complaints']:<5} {rate(cs['complaint_rate']):<8} {cs['status']}"
                     f"   hard bounces {cs['hard_bounces']}")
    return "\n".join(lines)


def cmd_stats(cfg: Config, args: argparse.Namespace) -> int:
    from .cli import _with_store

    async def run(store: Store) -> int:
        s = await gather(cfg, store, args.window, args.totals)
        print(json.dumps(s, indent=2, ensure_ascii=False) if args.json else render(s))
        return 0

    rc: int = _with_store(cfg, run)
    return rc


def add_parser(sub: Any) -> None:
    s = sub.add_parser("stats", help="decisions, suppressions, backlog, inbound over a window")
    s.add_argument("--window", type=parse_window, default=24, help="e.g. 6h, 24h, 7d")
    s.add_argument("--totals", action="store_true",
                   help="also count every stored suppression (a full SCAN)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_stats)
