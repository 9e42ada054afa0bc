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
from pathlib import Path
from typing import Any

import structlog

from . import address as address_mod
from . import config as config_mod
from . import embedded_redis, importer
from .config import MESSAGE_CLASSES, Config
from .consent import decode_address_hash
from .errors import AuditIncomplete, ConfigError, InvalidAddress, StoreUnavailable
from .model import MessageFacts, iso
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


def _parse_expiry(value: str) -> float:
    """`--expires`: an ISO 8601 time, or a duration from now (`30d`, `12h`, `90m`)."""
    units = {"d": 86400, "h": 3600, "m": 60}
    v = value.strip()
    if len(v) > 1 and v[-1] in units and v[:-1].isdigit():
        return time.time() + int(v[:-1]) * units[v[-1]]
    try:
        return _parse_time(v)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time or a duration like 30d/12h/90m: {value!r}") from None


def _scope(list_name: str | None) -> str:
    return f"list:{list_name}" if list_name else "global"


@contextlib.contextmanager
def _redis_url(cfg: Config) -> Iterator[str]:
    if cfg.redis.embedded:
        with embedded_redis.ensure_running(cfg) as url:
            yield url
    else:
        yield cfg.redis.url


def make_store(cfg: Config, url: str) -> Store:
    """An admin command's Store: the config's key schema (privacy secret) and an Auditor,
    so its changes reach the audit file before the command reports success."""
    from . import audit
    from .keyfiles import store_keys

    store = Store(cfg.redis, url, store_keys(cfg))
    return audit.attach(store, audit.auditor_for(cfg, store))


def _with_store(cfg: Config, fn: Callable[[Store], Awaitable[int]]) -> int:
    with _redis_url(cfg) as url:
        async def run() -> int:
            store = make_store(cfg, url)
            try:
                if cfg.redis.embedded:
                    # The embedded store and its epoch marker share state_dir, so this
                    # host can tell a fresh install (create the canary, as `serve` would)
                    # from a store that lost its data (leave it missing: `check` then
                    # fails closed). An external Redis needs `consentry init`.
                    from .app import check_canary

                    await check_canary(cfg, store)
                return await fn(store)
            finally:
                await store.close()

        return asyncio.run(run())


def _addr(cfg: Config, raw: str) -> address_mod.Address:
    return address_mod.parse(raw, fold_case=cfg.addresses.fold_case,
                             plus_separators=cfg.addresses.plus_separators)


def cmd_serve(cfg: Config, args: argparse.Namespace) -> int:
    # the daemon's modules (SMTP server, delivery, HTTP listener) only for `serve`: the
    # admin commands start ~0.2 s of CPU faster without them
    from .app import serve

    if cfg.server.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ConfigError("server.event_loop", "uvloop is not installed (it is a "
                              "dependency of consentry; reinstall, or choose asyncio)"
                              ) from None
        return uvloop.run(serve(cfg, args.config))
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
            for k, v in d.facts.items():
                if k != "key":
                    print(f"  fact {k}: {json.dumps(v, ensure_ascii=False, sort_keys=True)}")
        return 0 if d.allowed else 1

    return _with_store(cfg, run)


def _domain(raw: str) -> str | None:
    """`*@example.com` names a whole domain (canonical: IDNA, lower case)."""
    if not raw.startswith("*@"):
        return None
    try:
        return address_mod.canonical_domain(raw[2:])
    except InvalidAddress as exc:
        raise InvalidAddress(f"{raw}: {exc}") from None


def cmd_suppress_add(cfg: Config, args: argparse.Namespace) -> int:
    domain = _domain(args.address)
    a = _addr(cfg, f"x@{domain}" if domain else args.address)
    rec = SuppressionRecord(a.key, _scope(args.list), args.reason, args.source,
                            args.at if args.at is not None else time.time(),
                            expires_at=args.expires, evidence=args.evidence)
    until = "" if rec.expires_at is None else f", until {iso(rec.expires_at)}"
    if rec.expires_at is not None and rec.expires_at <= rec.at:
        print("consentry: --expires must be later than the suppression's time",
              file=sys.stderr)
        return 2

    async def run(store: Store) -> int:
        if domain is not None:
            new = await store.add_domain_suppression(domain, rec, actor="cli")
            print(f"{'suppressed' if new else 'updated'} *@{domain} ({rec.scope}, "
                  f"{rec.reason}{until}): every address at the domain")
            return 0
        new = await store.add_suppression(rec, actor="cli")
        if not new and rec.reason in ("hard_bounce", "soft_bounce") and \
                await store.allowed([a.key]):
            print(f"{a.key} is on the allow-list: a {rec.reason} is never recorded for it",
                  file=sys.stderr)
            return 1
        print(f"{'suppressed' if new else 'updated'} {a.key} ({rec.scope}, {rec.reason}"
              f"{until})")
        return 0

    return _with_store(cfg, run)


def cmd_suppress_remove(cfg: Config, args: argparse.Namespace) -> int:
    domain = _domain(args.address)
    a = _addr(cfg, f"x@{domain}" if domain else args.address)
    if not args.reason.strip():
        print("consentry: --reason must say why the suppression is lifted (it is audited)",
              file=sys.stderr)
        return 2

    async def run(store: Store) -> int:
        scope = _scope(args.list) if (args.list or not args.all_scopes) else None
        if domain is not None:
            n = await store.remove_domain_suppression(domain, scope, args.reason, "cli")
            print(f"removed {n} suppression(s) for *@{domain}" if n else
                  f"no suppression for *@{domain}", file=sys.stdout if n else sys.stderr)
            return 0 if n else 1
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

        def show(s: Any) -> None:
            nonlocal n
            if args.reason and s.reason != args.reason:
                return
            if args.match and args.match.lower() not in s.address:
                return
            n += 1
            if args.json:
                print(json.dumps(s.as_fact(), ensure_ascii=False))
            else:
                when = datetime.fromtimestamp(s.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
                print(f"{s.address:<40} {s.scope:<16} {s.reason:<14} {s.source:<12} {when}")

        async for s in store.iter_domain_suppressions():
            show(s)
        async for s in store.iter_suppressions():
            show(s)
        if not args.json:
            print(f"{n} suppression(s)", file=sys.stderr)
        return 0

    return _with_store(cfg, run)


def _report_import(path: str, report: importer.ImportReport) -> int:
    for bad in report.bad:
        print(f"{path}:{bad.line}: {bad.message}", file=sys.stderr)
    print(report.summary())
    return 1 if report.bad else 0


def cmd_consent_import(cfg: Config, args: argparse.Namespace) -> int:
    fmt = importer.detect_format(args.file, args.format)

    async def run(store: Store) -> int:
        with importer.open_text(args.file) as fh:
            records = importer.consent_records(fh, fmt, lambda r: _addr(cfg, r))
            report = await importer.import_consent(store, records, actor="cli",
                                                   batch=args.batch)
        return _report_import(args.file, report)

    return _with_store(cfg, run)


def cmd_consent_show(cfg: Config, args: argparse.Namespace) -> int:
    a = _addr(cfg, args.address)

    async def run(store: Store) -> int:
        info = decode_address_hash(a.key, await store.address_hash(a.key))
        members = await store.person_members(info.person) if info.person else []
        linked = sorted(set(members) - {a.key}) or list(info.linked)
        supps = await store.suppressions_of([a.key, *linked])
        out: dict[str, Any] = {
            "address": a.raw, "key": a.key, "person": info.person,
            "consent": info.consent.as_fact() if info.consent else None,
            "pending": info.pending.as_fact() if info.pending else None,
            "purchases": [p.as_fact() for p in info.purchases],
            "suppressions": [s.as_fact() for s in supps[a.key]],
            "linked": [{"address": k, "suppressions": [s.as_fact() for s in supps[k]]}
                       for k in linked],
        }
        if info.problems:
            out["problems"] = list(info.problems)
        if args.json:
            print(json.dumps(out, ensure_ascii=False, indent=2))
        else:
            print(f"{a.key}" + (f"  (person {info.person})" if info.person else
                                "  (no person)"))
            for k in ("consent", "pending"):
                print(f"  {k + ':':<13}{json.dumps(out[k], ensure_ascii=False)}")
            for p in out["purchases"]:
                print(f"  purchase:    {json.dumps(p, ensure_ascii=False)}")
            for s in out["suppressions"]:
                print(f"  suppressed:  {json.dumps(s, ensure_ascii=False)}")
            for row in out["linked"]:
                print(f"  linked:      {row['address']}")
                for s in row["suppressions"]:
                    print(f"    suppressed: {json.dumps(s, ensure_ascii=False)}")
            for prob in info.problems:
                print(f"  PROBLEM:     {prob}")
        found = info.consent or info.pending or info.purchases or info.person or supps[a.key]
        return 0 if found else 1

    return _with_store(cfg, run)


def cmd_suppress_import(cfg: Config, args: argparse.Namespace) -> int:
    from . import esp_import

    fmt = args.format or importer.detect_format(args.file, None)

    async def run(store: Store) -> int:
        p, _resumed = await esp_import.import_file(
            store, args.file, fmt, lambda r: _addr(cfg, r), cfg.path(cfg.server.state_dir),
            kind=args.kind, scope=_scope(args.list) if args.list else None,
            batch=args.batch, restart=args.restart, progress=True if args.progress else None,
            checkpoint=Path(args.checkpoint) if args.checkpoint else None)
        print(esp_import.summary(p))
        return 1 if p.bad else 0

    return _with_store(cfg, run)


def cmd_suppress_export(cfg: Config, args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        out = sys.stdout if args.output in (None, "-") else stack.enter_context(
            open(args.output, "w", encoding="utf-8", newline=""))

        async def run(store: Store) -> int:
            n = await importer.export_suppressions(store, out, args.format)
            print(f"{n} suppression(s) exported", file=sys.stderr)
            return 0

        return _with_store(cfg, run)


def cmd_doi_purge(cfg: Config, args: argparse.Namespace) -> int:
    now = args.at if args.at is not None else time.time()
    cutoff = now - cfg.policy.doi_pending_days * 86400

    async def run(store: Store) -> int:
        n = await store.purge_pending(cutoff, actor="cli")
        left = await store.pending_count()
        print(f"purged {n} pending DOI sign-up(s) older than "
              f"{cfg.policy.doi_pending_days:g} days; {left} still pending")
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
        from .app import check_canary

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
    s.add_argument("--expires", type=_parse_expiry, metavar="TIME|30d",
                   help="lifted (and audited as expired) at this ISO 8601 time, or after "
                        "this long (d/h/m); default: never")
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

    s = supp.add_parser("import", help="import suppressions: consentry's JSONL/CSV or an "
                                       "ESP's export (docs/import.md); resumable")
    s.add_argument("file", help="path, or - for stdin (not resumable)")
    s.add_argument("--format", choices=("csv", "jsonl", "sendgrid", "mailgun", "mailchimp",
                                        "brevo", "ses"),
                   help="default: csv or jsonl by file extension")
    s.add_argument("--kind", help="which ESP list the file is when its columns do not say: "
                   "sendgrid bounces|blocks|spam_reports|invalid_emails|unsubscribes|"
                   "group_unsubscribes, mailgun bounces|unsubscribes|complaints, mailchimp "
                   "unsubscribed|cleaned")
    s.add_argument("--list", help="import into this list's scope instead of global")
    s.add_argument("--batch", type=int, default=importer.BATCH, help="records per MULTI")
    s.add_argument("--checkpoint", help="checkpoint file (default: state_dir/imports/)")
    s.add_argument("--restart", action="store_true", help="ignore a checkpoint, start over")
    s.add_argument("--progress", action="store_true",
                   help="progress lines on stderr even when it is not a terminal")
    s.set_defaults(fn=cmd_suppress_import)
    s = supp.add_parser("export", help="export every suppression (re-importable)")
    s.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    s.add_argument("--output", "-o", help="file (default: stdout)")
    s.set_defaults(fn=cmd_suppress_export)

    cons = sub.add_parser("consent", help="consent records, persons, purchases"
                          ).add_subparsers(dest="action", required=True)
    s = cons.add_parser("import", help="import consent/purchase/link records (JSONL or CSV)")
    s.add_argument("file", help="path, or - for stdin")
    s.add_argument("--format", choices=("jsonl", "csv"), help="default: by file extension")
    s.add_argument("--batch", type=int, default=importer.BATCH, help="records per MULTI")
    s.set_defaults(fn=cmd_consent_import)
    s = cons.add_parser("show", help="everything stored about one address and its person")
    s.add_argument("address")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_consent_show)

    doi = sub.add_parser("doi", help="double opt-in sign-ups").add_subparsers(
        dest="action", required=True)
    s = doi.add_parser("purge", help="delete pending sign-ups older than "
                                     "policy.doi_pending_days")
    s.add_argument("--at", type=_parse_time, help="purge as if it were this ISO 8601 time")
    s.set_defaults(fn=cmd_doi_purge)

    s = sub.add_parser("init", help="initialise the store canary")
    s.add_argument("--force", action="store_true")
    s.set_defaults(fn=cmd_init)

    s = sub.add_parser("rules", help="print the decision chain in order")
    s.set_defaults(fn=cmd_rules)

    from .inbound_cli import add_parser as add_inbound_parser

    add_inbound_parser(sub)
    from .audit_cli import add_parser as add_audit_parser

    add_audit_parser(sub)
    from .sends_cli import add_parser as add_sends_parser

    add_sends_parser(sub)
    from .tail import add_parser as add_tail_parser

    add_tail_parser(sub)
    from .stats import add_parser as add_stats_parser

    add_stats_parser(sub)
    from .erase import add_parser as add_erase_parser

    add_erase_parser(sub)
    from .allow_cli import add_parser as add_allow_parser

    add_allow_parser(sub)
    from .webhooks_cli import add_parser as add_webhooks_parser

    add_webhooks_parser(sub)
    from .auth import add_parser as add_user_parser

    add_user_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "config_optional", False) and not Path(args.config).exists():
            cfg = config_mod.from_mapping({})  # offline commands run without a config file
        else:
            cfg = config_mod.load(args.config)
        if args.fn is not cmd_serve:
            # Admin commands answer on stdout (scripts parse it, --json): their log lines
            # (store_initialised, embedded redis notices) go to stderr.
            structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
        rc: int = args.fn(cfg, args)
        return rc
    except ConfigError as exc:
        print(f"consentry: {exc}", file=sys.stderr)
        return 2
    except InvalidAddress as exc:
        print(f"consentry: invalid address: {exc}", file=sys.stderr)
        return 2
    except AuditIncomplete as exc:
        print(f"consentry: not acknowledged: {exc}", file=sys.stderr)
        return 4
    except StoreUnavailable as exc:
        print(f"consentry: store unavailable: {exc}", file=sys.stderr)
        return 3
    except FileNotFoundError as exc:
        print(f"consentry: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
