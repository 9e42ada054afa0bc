"""`consentry sends --campaign C | --recipient ADDRESS | --message-id ID`: send records."""

from __future__ import annotations

import argparse
import json
from typing import Any

from . import sends
from .config import Config
from .model import iso
from .store import Store


def _line(rec: dict[str, Any], only_key: str | None) -> list[str]:
    rcpts = [r for r in rec.get("recipients", []) if isinstance(r, dict)]
    allowed = sum(1 for r in rcpts if r.get("v") == "allow")
    head = (f"{iso(float(rec.get('at', 0))) or '?':<27} {rec.get('outcome', '?'):<10} "
            f"{rec.get('message_id') or '(no Message-ID)'}")
    parts = [f"{k} {rec[k]}" for k in ("campaign", "list", "category", "class")
             if rec.get(k)]
    out = [head, f"    {'  '.join(parts)}  sha256 {str(rec.get('sha256', ''))[:16]}…  "
                 f"{allowed} of {len(rcpts)} allowed  from {rec.get('mail_from') or '<>'}"]
    for r in rcpts:
        if only_key is not None and r.get("k") != only_key:
            continue
        extra = f"  sha256 {r['sha256'][:16]}…" if r.get("sha256") else ""
        out.append(f"    {r.get('v', '?'):<9}{r.get('rule', '?'):<20}{r.get('r', '?'):<36}"
                   f"{r.get('reply', '')}{extra}")
    return out


def cmd_sends(cfg: Config, args: argparse.Namespace) -> int:
    from .cli import _addr, _with_store

    only_key: str | None = None
    if args.recipient:
        only_key = _addr(cfg, args.recipient).key

    async def run(store: Store) -> int:
        if args.message_id:
            records = await sends.by_message_ids(store, [args.message_id], args.limit)
        elif only_key is not None:
            records = await sends.by_index(store, store.keys.sends_by_recipient(only_key),
                                           args.limit, args.since, args.until)
        else:
            records = await sends.by_index(store, store.keys.sends_by_campaign(args.campaign),
                                           args.limit, args.since, args.until)
        if args.json:
            for rec in records:
                print(json.dumps(rec, ensure_ascii=False, sort_keys=True))
        else:
            for rec in records:
                print("\n".join(_line(rec, only_key)))
            what = (f"Message-ID {args.message_id}" if args.message_id else
                    f"recipient {only_key}" if only_key else f"campaign {args.campaign}")
            print(f"{len(records)} send record(s) for {what}"
                  + (f" (newest {args.limit} shown)" if len(records) >= args.limit else ""))
        return 0 if records else 1

    rc: int = _with_store(cfg, run)
    return rc


def add_parser(sub: Any) -> None:
    from .cli import _parse_time

    s = sub.add_parser("sends", help="send records: what went to whom, why, and its hash")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--campaign")
    g.add_argument("--recipient", metavar="ADDRESS")
    g.add_argument("--message-id", metavar="ID")
    s.add_argument("--since", type=_parse_time, help="ISO 8601 (campaign/recipient)")
    s.add_argument("--until", type=_parse_time, help="ISO 8601 (campaign/recipient)")
    s.add_argument("--limit", type=int, default=100, help="newest N (default 100)")
    s.add_argument("--json", action="store_true", help="one stored record per line")
    s.set_defaults(fn=cmd_sends)
