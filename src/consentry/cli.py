"""The `consentry` command. Admin commands talk to the same Redis as the daemon (for the
embedded default: its unix socket, or a temporary redis-server on the same data)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from . import address as address_mod
from . import config as config_mod
from . import embedded_redis
from .app import check_canary, serve
from .config import MESSAGE_CLASSES, Config
from .errors import ConfigError, InvalidAddress, StoreUnavailable
from .model import MessageFacts
from .policy import CHAIN, evaluate
from .store import Store, SuppressionRecord

DEFAULT_CONFIG = "config.example.yaml"


def _parse_time(value: str) -> float:
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _scope(list_name: str | None) -> str:
    return f"list:{list_name}" if list_name else "global"


@contextlib.contextmanager
def _redis_url(cfg: Config) -> Iterator[str]:
    if cfg.redis.embedded:
        with embedded_redis.ensure_running(cfg) as url:
            yield url
    else:
        yield cfg.redis.url


def _with_store(cfg: Config, fn: Callable[[Store], Awaitable[int]]) -> int:
    with _redis_url(cfg) as url:
        async def run() -> int:
            store = Store(cfg.redis, url)
            try:
                return await fn(store)
            finally:
                await store.close()

        return asyncio.run(run())


def _addr(cfg: Config, raw: str) -> address_mod.Address:
    return address_mod.parse(raw, fold_case=cfg.addresses.fold_case,
                             plus_separators=cfg.addresses.plus_separators)


def cmd_serve(cfg: Config, args: argparse.Namespace) -> int:
    return asyncio.run(serve(cfg, args.config))


def cmd_check(cfg: Config, args: argparse.Namespace) -> int:
    a = _addr(cfg, args.address)
    facts = MessageFacts(message_class=args.message_class, classified_by="cli",
                         category=args.category, list_name=args.list)
    now = args.at if args.at is not None else time.time()

    async def run(store: Store) -> int:
        (state,) = await store.recipient_states([a])
        d = evaluate(state, facts, cfg.policy, now)
        out: dict[str, Any] = {
            "address": a.raw, "key": a.key, "class": facts.message_class,
            "category": facts.category, "list": facts.list_name,
            "at": datetime.fromtimestamp(now, UTC).isoformat(),
            "verdict": d.verdict, "rule": d.rule, "reasons": list(d.reasons),
            "tracking": d.tracking, "facts": d.facts, "rules_passed": list(d.misses),
        }
        if args.json:
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            print(f"{d.verdict.upper()}  {a.raw}  (key {a.key})")
            print(f"  rule:    {d.rule}")
            for r in d.reasons:
                print(f"  reason:  {r}")
            print(f"  tracking: {'yes' if d.tracking else 'no'}")
            if d.misses:
                print(f"  passed:  {', '.join(d.misses)}")
        return 0 if d.allowed else 1

    return _with_store(cfg, run)


def cmd_suppress_add(cfg: Config, args: argparse.Namespace) -> int:
    a = _addr(cfg, args.address)
    rec = SuppressionRecord(a.key, _scope(args.list), args.reason, args.source,
                            args.at if args.at is not None else time.time(),
                            evidence=args.evidence)

    async def run(store: Store) -> int:
        new = await store.add_suppression(rec, actor="cli")
        print(f"{'suppressed' if new else 'updated'} {a.key} ({rec.scope}, {rec.reason})")
        return 0

    return _with_store(cfg, run)


def cmd_suppress_remove(cfg: Config, args: argparse.Namespace) -> int:
    a = _addr(cfg, args.address)

    async def run(store: Store) -> int:
        scope = _scope(args.list) if (args.list or not args.all_scopes) else None
        n = await store.remove_suppression(a.key, scope, args.reason, actor="cli")
        if n == 0:
            print(f"no suppression for {a.key}" + (f" in {scope}" if scope else ""),
                  file=sys.stderr)
            return 1
        print(f"removed {n} suppression(s) for {a.key}")
        return 0

    return _with_store(cfg, run)


def cmd_suppress_list(cfg: Config, args: argparse.Namespace) -> int:
    async def run(store: Store) -> int:
        n = 0
        async for s in store.iter_suppressions():
            if args.reason and s.reason != args.reason:
                continue
            if args.match and args.match.lower() not in s.address:
                continue
            n += 1
            if args.json:
                print(json.dumps(s.as_fact(), ensure_ascii=False))
            else:
                when = datetime.fromtimestamp(s.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
                print(f"{s.address:<40} {s.scope:<16} {s.reason:<14} {s.source:<12} {when}")
        if not args.json:
            print(f"{n} suppression(s)", file=sys.stderr)
        return 0

    return _with_store(cfg, run)


def cmd_init(cfg: Config, args: argparse.Namespace) -> int:
    async def run(store: Store) -> int:
        marker = cfg.path(cfg.server.state_dir) / "epoch"
        if args.force and marker.exists():
            marker.unlink()
        epoch = await store.epoch()
        if epoch is None and not args.force and marker.exists():
            print("store canary missing but this host knew an epoch: the store lost its "
                  "data. Restore it, or run `consentry init --force`.", file=sys.stderr)
            return 1
        if epoch is None:
            epoch = await store.init_epoch()
        await check_canary(cfg, store)
        print(f"store epoch {epoch}")
        return 0

    return _with_store(cfg, run)


def cmd_rules(cfg: Config, args: argparse.Namespace) -> int:
    for i, rule in enumerate(CHAIN, 1):
        print(f"{i:>2}. {rule.name:<18} {rule.summary}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="consentry", description="consent-enforcing SMTP relay")
    p.add_argument("-c", "--config", default=DEFAULT_CONFIG, help="config file (YAML)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the daemon")
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("check", help="explain the verdict for one address")
    s.add_argument("address")
    s.add_argument("--class", dest="message_class", default="marketing", choices=MESSAGE_CLASSES)
    s.add_argument("--category")
    s.add_argument("--list")
    s.add_argument("--at", type=_parse_time, help="evaluate at this ISO 8601 time")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_check)

    supp = sub.add_parser("suppress", help="manage suppressions").add_subparsers(
        dest="action", required=True)
    s = supp.add_parser("add")
    s.add_argument("address")
    s.add_argument("--reason", required=True)
    s.add_argument("--list")
    s.add_argument("--source", default="admin")
    s.add_argument("--evidence")
    s.add_argument("--at", type=_parse_time)
    s.set_defaults(fn=cmd_suppress_add)
    s = supp.add_parser("remove")
    s.add_argument("address")
    s.add_argument("--reason", required=True, help="why it is lifted (audited)")
    s.add_argument("--list")
    s.add_argument("--all-scopes", action="store_true")
    s.set_defaults(fn=cmd_suppress_remove)
    s = supp.add_parser("list")
    s.add_argument("--reason")
    s.add_argument("--match", help="substring of the address")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_suppress_list)

    s = sub.add_parser("init", help="initialise the store canary")
    s.add_argument("--force", action="store_true")
    s.set_defaults(fn=cmd_init)

    s = sub.add_parser("rules", help="print the decision chain in order")
    s.set_defaults(fn=cmd_rules)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
        rc: int = args.fn(cfg, args)
        return rc
    except ConfigError as exc:
        print(f"consentry: {exc}", file=sys.stderr)
        return 2
    except InvalidAddress as exc:
        print(f"consentry: invalid address: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        print(f"consentry: store unavailable: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
