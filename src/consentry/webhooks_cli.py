"""`consentry webhooks status|dead|replay`: the admin's view of the signed webhooks
(webhooks.py, docs/webhooks.md).

`status` shows each configured endpoint's consumer group: events not yet acknowledged,
the consumers (one per running process) and the dead letters. `dead` lists dead letters;
`replay` sends them again — one signed attempt each with the endpoint's current URL and
secret — and removes those the endpoint accepted (2xx) from `cs:webhook:dead`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .config import Config
from .store import Store

PAGE = 1000
MAX_PAGES = 10_000  # bounded walk over the dead-letter stream (capped at 100 000)


async def _dead_letters(store: Store, endpoint: str | None, ids: set[str] | None
                        ) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    after = "0-0"
    for _ in range(MAX_PAGES):
        page = await store.stream_page(store.keys.webhook_dead, after, PAGE)
        out.extend((sid, f) for sid, f in page
                   if (endpoint is None or f.get("endpoint") == endpoint)
                   and (ids is None or sid in ids or f.get("event") in ids))
        if len(page) < PAGE:
            break
        after = page[-1][0]
    return out


def cmd_webhooks(cfg: Config, args: argparse.Namespace) -> int:
    import aiohttp  # here, not at the top: every other command's start stays lean

    from . import webhooks
    from .cli import _with_store

    eps = webhooks.endpoints(cfg)

    async def status(store: Store) -> int:
        dead = await _dead_letters(store, None, None)
        rows: list[dict[str, Any]] = []
        for ep in eps:
            st = await store.webhook_status(ep.group)
            rows.append({"endpoint": ep.name, "url": webhooks.redact(ep.cfg.url),
                         "group": ep.group, "status": st,
                         "dead_letters": sum(1 for _s, f in dead
                                             if f.get("endpoint") == ep.name)})
        if args.json:
            for r in rows:
                print(json.dumps(r, ensure_ascii=False))
            return 0
        if not rows:
            print("no webhooks configured (webhooks: in the config)")
        for r in rows:
            st = r["status"]
            print(f"{r['endpoint']}  {r['url']}")
            if st is None:
                print("  group not created yet (the daemon creates it at start)")
            else:
                print(f"  backlog {st['pending'] + st['unread']} (pending {st['pending']}, "
                      f"unread {st['unread']}), last delivered to a consumer "
                      f"{st['last_delivered']}")
                for c in st["consumers"]:
                    print(f"  consumer {c['name']}: {c['pending']} held, idle "
                          f"{c['idle_s']:.0f} s")
            print(f"  dead letters {r['dead_letters']}")
        return 0

    async def dead(store: Store) -> int:
        rows = await _dead_letters(store, args.endpoint, None)
        rows = rows[-args.limit:] if args.limit else rows
        for sid, f in rows:
            if args.json:
                print(json.dumps({"dead_letter_id": sid, **f}, ensure_ascii=False))
            else:
                ev = json.loads(f.get("body") or "{}")
                print(f"{sid}  {f.get('endpoint', '?'):<12} event {f.get('event', '?')} "
                      f"{ev.get('type', '?'):<12} status {f.get('status') or '-':<4} "
                      f"attempts {f.get('attempts', '?')}: {f.get('reason', '')}")
        if not args.json:
            print(f"{len(rows)} dead letter(s)", file=sys.stderr)
        return 0

    async def replay(store: Store) -> int:
        by_name = {ep.name: ep for ep in eps}
        rows = await _dead_letters(store, args.endpoint, set(args.id) if args.id else None)
        done: list[str] = []
        failed = 0
        async with aiohttp.ClientSession() as http:
            for sid, f in rows:
                ep = by_name.get(f.get("endpoint", ""))
                if ep is None:
                    print(f"{sid}: endpoint {f.get('endpoint')!r} is not configured: kept",
                          file=sys.stderr)
                    failed += 1
                    continue
                body = (f.get("body") or "").encode()
                res = await webhooks.post(http, ep, f.get("event", sid),
                                          json.loads(body or b"{}").get("type", "?"), body,
                                          int(f.get("attempts") or 0) + 1)
                if res.status is not None and 200 <= res.status < 300:
                    done.append(sid)
                    print(f"{sid}: event {f.get('event')} delivered to {ep.name} "
                          f"(HTTP {res.status})")
                else:
                    failed += 1
                    print(f"{sid}: event {f.get('event')} to {ep.name}: {res.reason}: kept",
                          file=sys.stderr)
        await store.webhook_dead_delete(done)
        print(f"{len(done)} replayed, {failed} kept", file=sys.stderr)
        return 0 if failed == 0 else 1

    fn = {"status": status, "dead": dead, "replay": replay}[args.action]
    rc: int = _with_store(cfg, fn)
    return rc


def add_parser(sub: Any) -> None:
    wh = sub.add_parser("webhooks", help="signed webhooks: status, dead letters, replay"
                        ).add_subparsers(dest="action", required=True)
    s = wh.add_parser("status", help="per endpoint: backlog, consumers, dead letters")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_webhooks)
    s = wh.add_parser("dead", help="list dead letters (oldest first)")
    s.add_argument("--endpoint", help="only this endpoint's (its name)")
    s.add_argument("--limit", type=int, default=0, help="only the last N")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_webhooks)
    s = wh.add_parser("replay", help="send dead letters again (one attempt each); "
                                     "delivered ones are removed")
    s.add_argument("--endpoint", help="only this endpoint's")
    s.add_argument("--id", action="append", help="a dead letter id or event id (repeat)")
    s.set_defaults(fn=cmd_webhooks)
