"""`consentry allow add|remove|list`: seed and test addresses that bounces never suppress.

Seed lists (inbox-placement probes, test accounts at big mailbox providers) bounce and
defer on purpose or by quota; a bounce suppression would silently take them out of every
send. Allow-listed addresses still get objections, complaints and unsubscribes recorded:
only hard and soft bounces (inbound reports, downstream 5.1.1 refusals, imported ESP
bounce lists) are skipped. Every change is audited (actions allow / disallow).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .config import Config
from .store import Store


def cmd_allow(cfg: Config, args: argparse.Namespace) -> int:
    from .cli import _addr, _with_store

    async def run(store: Store) -> int:
        if args.action == "list":
            members = await store.allow_members()
            for m in members:
                print(json.dumps({"address": m}) if args.json else m)
            return 0
        a = _addr(cfg, args.address)
        changed = await store.allow_change(a.key, args.action == "add", args.reason, "cli")
        verb = "allow-listed" if args.action == "add" else "removed from the allow-list"
        print(f"{verb}: {a.key}" if changed else f"unchanged: {a.key}")
        return 0

    rc: int = _with_store(cfg, run)
    return rc


def add_parser(sub: Any) -> None:
    al = sub.add_parser("allow", help="seed/test addresses never suppressed by bounces"
                        ).add_subparsers(dest="action", required=True)
    for name in ("add", "remove"):
        s = al.add_parser(name)
        s.add_argument("address")
        s.add_argument("--reason", required=True, help="why (audited)")
        s.set_defaults(fn=cmd_allow)
    s = al.add_parser("list")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_allow)
