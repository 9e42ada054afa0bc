"""`consentry audit verify|show|sync`: the audit chain for admins (audit.py)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import audit
from .config import Config
from .consent import decode_address_hash
from .errors import StoreUnavailable
from .model import iso
from .store import Store


def _with_store(cfg: Config, fn: Any) -> int:
    from .cli import _with_store as with_store

    rc: int = with_store(cfg, fn)
    return rc


def cmd_verify(cfg: Config, args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file else audit.audit_path(cfg)
    if path is None:
        print("consentry: audit.file is empty (stream only): nothing to verify",
              file=sys.stderr)
        return 2
    head_file = audit.read_head_file(path)
    if not path.exists() and head_file is None:
        print(f"consentry: {path}: no such file", file=sys.stderr)
        return 2
    # A file deleted as a whole: nothing to read, everything its head names is missing.
    out = audit.verify_file(path) if path.exists() else audit.Verified()
    if out.broken is None and not args.offline:
        async def cross(store: Store) -> int:
            # The stream first (it names an edited entry exactly), then the Redis head
            # (it knows how far this file once reached: a deleted tail).
            if path.exists():
                await audit.verify_against_stream(store, path, out)
            head = audit.read_head(await store.audit_head(audit.file_identity(path)))
            if head is not None:
                audit.check_head(path, out, head, f"the Redis head ({store.keys.audit_head})")
            return 0

        try:
            _with_store(cfg, cross)
        except StoreUnavailable as exc:
            out.stream = f"not checked against the stream: {exc}"
    if head_file is not None:
        audit.check_head(path, out, head_file, audit.head_path(path).name)
    last = out.last
    if args.json:
        print(json.dumps({
            "file": str(path), "ok": out.broken is None, "entries": out.entries,
            "last_seq": last["seq"] if last else 0, "head": last["hash"] if last else None,
            "last_stream_id": last["sid"] if last else None,
            "broken": None if out.broken is None else {
                "line": out.broken.line, "entry": out.broken.seq, "kind": out.broken.kind,
                "detail": out.broken.detail},
            "stream": out.stream, "heads": out.heads}, ensure_ascii=False, indent=2))
    elif out.broken is not None:
        print(f"{path}: BROKEN at {out.broken.describe()}")
        print(f"  {out.broken.line - 1} entries before it are intact")
    else:
        head = f", head {last['hash'][:16]}…, last stream id {last['sid']}" if last else ""
        print(f"{path}: OK, {out.entries} entries{head}")
        for note in out.heads or ["no recorded head (a deleted tail shows only against "
                                  "the stream)"]:
            print(f"  head: {note}")
        if out.stream:
            print(f"  stream: {out.stream}")
    return 0 if out.broken is None else 1


def _scan_file(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                d = json.loads(raw)
                yield str(d["sid"]), d["entry"]
            except (ValueError, KeyError, TypeError):
                continue


def cmd_show(cfg: Config, args: argparse.Namespace) -> int:
    from .cli import _addr

    a = _addr(cfg, args.address)

    async def run(store: Store) -> int:
        info = decode_address_hash(a.key, await store.address_hash(a.key))
        members = await store.person_members(info.person) if info.person else []
        keys = sorted({a.key, *members, *info.linked})
        wanted = {k for key in keys for k in (key, store.keys.ident(key))}
        sink = store.audit_sink
        path = audit.audit_path(cfg)
        rows: list[tuple[str, dict[str, str]]] = []

        def match(e: dict[str, str]) -> bool:
            return e.get("address") in wanted or (
                info.person is not None and e.get("person") == info.person)

        if path is not None and isinstance(sink, audit.Auditor):
            await sink.sync("+", strict=False)
        if path is not None and path.exists():
            rows = [(sid, e) for sid, e in _scan_file(path) if match(e)]
            where = str(path)
        else:
            after = "0-0"
            for _ in range(audit.MAX_ROUNDS):
                page = await store.audit_range(after, "+", audit.BATCH)
                rows.extend((sid, e) for sid, e in page if match(e))
                if len(page) < audit.BATCH:
                    break
                after = page[-1][0]
            where = "the cs:audit stream"
        if args.json:
            for sid, e in rows:
                print(json.dumps({"stream_id": sid, **e}, ensure_ascii=False))
            return 0 if rows else 1
        who = a.key + (f" (person {info.person}: {', '.join(keys)})" if info.person
                       else "")
        print(f"history of {who} from {where}: {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}")
        for sid, e in rows:
            try:
                when = iso(float(e.get("at", "")))
            except ValueError:
                when = e.get("at", "?")
            detail = " ".join(f"{k}={e[k]}" for k in ("scope", "reason", "type", "person",
                                                       "evidence", "count") if e.get(k))
            print(f"  {when or '?':<27} {e.get('action', '?'):<18} "
                  f"{e.get('address', '-'):<32} {e.get('source', '-'):<13} "
                  f"{e.get('actor', '-'):<16} {detail}  [{sid}]")
        return 0 if rows else 1

    return _with_store(cfg, run)


def cmd_sync(cfg: Config, args: argparse.Namespace) -> int:
    async def run(store: Store) -> int:
        sink = store.audit_sink
        if not isinstance(sink, audit.Auditor) or sink.file is None:
            print("consentry: audit.file is empty (stream only): nothing to sync",
                  file=sys.stderr)
            return 2
        n = await sink.sync("+", strict=True)
        print(f"appended {n} entr{'y' if n == 1 else 'ies'} to {sink.file.path} "
              f"(chain length {sink.chain_length})")
        return 0

    return _with_store(cfg, run)


def add_parser(sub: Any) -> None:
    aud = sub.add_parser("audit", help="the hash-chained audit log").add_subparsers(
        dest="action", required=True)
    s = aud.add_parser("verify", help="check the audit file's hash chain; names the first "
                                      "broken entry (exit 1)")
    s.add_argument("file", nargs="?", help="default: state_dir/audit.file")
    s.add_argument("--offline", action="store_true",
                   help="do not compare with the Redis stream")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_verify)
    s = aud.add_parser("show", help="an address's and its person's history")
    s.add_argument("address")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_show)
    s = aud.add_parser("sync", help="append what the stream has and the file lacks")
    s.set_defaults(fn=cmd_sync)
