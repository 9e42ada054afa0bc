"""`consentry inbound classify PATH… [--json] [--apply] [--parse-timeout S]`: classify
stored messages.

Files are read as given; directories recursively (``*.eml`` and ``*.mbox``); an mbox
file yields one result per message (with its ``index``). Nothing is written anywhere
unless ``--apply`` is given; then each verdict goes through inbound_apply exactly as the
listener would do it.

Each message is classified in the listener's worker processes (inbound_pool) under the
listener's deadline, ``inbound.parse_timeout`` (``--parse-timeout`` overrides it; 0 runs
the classifier in this process, without a deadline): a message that needs longer is
printed as ``unknown`` with evidence naming the deadline, and the rest go on. Output
keeps the order of the input.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import keyfiles, logs
from .config import Config
from .inbound.classify import Options, Verdict, classify
from .inbound.parse import split_mbox
from .inbound_pool import ClassifyPool, Target
from .tokens import TokenCodec

MAX_FILE_BYTES = 64 * 1024 * 1024


def options(cfg: Config, codec: TokenCodec | None, now: float | None = None) -> Options:
    domains = [d for d in (cfg.inbound.domain, cfg.unsubscribe.mailto_domain) if d]
    domains += [a.rpartition("@")[2] for a in cfg.inbound.reply_addresses]
    return Options(verp_prefix=cfg.inbound.verp_local,
                   unsubscribe_prefix=cfg.unsubscribe.mailto_local,
                   domains=tuple(dict.fromkeys(d.lower() for d in domains)),
                   intent_threshold=cfg.inbound.intent_threshold,
                   codec=codec, now=now if now is not None else time.time())


def offline_codec(cfg: Config) -> TokenCodec | None:
    """The token codec when keys exist; never creates a key file (offline mode writes
    nothing)."""
    generated = cfg.path(cfg.server.state_dir) / keyfiles.GENERATED_KEY_FILE
    if cfg.tokens.keys or generated.exists():
        return keyfiles.token_codec(cfg)
    return None


def iter_files(paths: list[str]) -> Iterator[Path]:
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for q in sorted(p.rglob("*")):
                if q.is_file() and q.suffix.lower() in (".eml", ".mbox", ".msg"):
                    yield q
        else:
            yield p


def _line(path: Path, index: int | None, v: Verdict) -> str:
    who = ", ".join(f"{r['address']} {r.get('class') or ''} {r.get('reason') or ''}".strip()
                    for r in v.recipients[:5]) or (v.sender or "-")
    conf = "" if v.intent_confidence is None else f" intent={v.intent_confidence:.2f}"
    flag = " REVIEW" if v.review else ""
    idx = f"#{index}" if index is not None else ""
    ev = v.evidence[-1] if v.evidence else ""
    return f"{v.kind:<12} {path}{idx}  [{who}]{conf}{flag}  ({ev[:100]})"


def cmd_inbound_classify(cfg: Config, args: argparse.Namespace,
                         target: Target = classify) -> int:
    codec = offline_codec(cfg)
    opts = options(cfg, codec)
    results: list[tuple[Path, int | None, Verdict]] = []
    deadline = args.parse_timeout if args.parse_timeout is not None else (
        cfg.inbound.classify_timeout or cfg.inbound.parse_timeout)
    if deadline < 0:
        print("consentry: --parse-timeout: must be >= 0", file=sys.stderr)
        return 2
    logs.to_stderr("warning")  # stdout carries the results
    rc = asyncio.run(_classify_all(cfg, args, opts, deadline, target, results))
    if args.apply:
        rc = max(rc, _apply(cfg, results, args.json))
    return rc


def _messages(paths: list[str]) -> Iterator[tuple[Path, int | None, bytes] | Path]:
    """(path, index, message) for every message; a bare Path for an unreadable file."""
    for path in iter_files(paths):
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            print(f"consentry: {path}: {exc.strerror}", file=sys.stderr)
            yield path
            continue
        messages = split_mbox(data[:MAX_FILE_BYTES])
        for i, m in enumerate(messages):
            yield path, (i if len(messages) > 1 else None), m


async def _classify_all(cfg: Config, args: argparse.Namespace, opts: Options,
                        deadline: float, target: Target,
                        results: list[tuple[Path, int | None, Verdict]]) -> int:
    pool = ClassifyPool(cfg.inbound.parse_workers, deadline, target=target,
                        then="") if deadline > 0 else None
    rc = 0
    # In input order, with as many messages in flight as there are workers (twice that,
    # so a worker never waits for the next job).
    window: deque[tuple[Path, int | None, asyncio.Task[Verdict]]] = deque()

    async def run(m: bytes) -> Verdict:
        if pool is None:
            return target(m, (), None, opts)
        return await pool.classify(m, (), None, opts)

    def emit(path: Path, index: int | None, v: Verdict) -> None:
        results.append((path, index, v))
        if args.json:
            out: dict[str, Any] = {"file": str(path)}
            if index is not None:
                out["index"] = index
            out.update(v.as_dict())
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            print(_line(path, index, v), flush=True)
        if v.kind == "unknown" and v.evidence and "parse_timeout" in v.evidence[0]:
            print(f"consentry: {path}{'' if index is None else f'#{index}'}: {v.evidence[0]}",
                  file=sys.stderr)

    try:
        for item in _messages(args.paths):
            if isinstance(item, Path):
                rc = 1
                continue
            path, index, m = item
            window.append((path, index, asyncio.create_task(run(m))))
            while len(window) > (pool.size * 2 if pool else 0):
                p, i, task = window.popleft()
                emit(p, i, await task)
        while window:
            p, i, task = window.popleft()
            emit(p, i, await task)
    finally:
        for _, _, task in window:
            task.cancel()
        if pool is not None:
            await pool.close()
    return rc


def _apply(cfg: Config, results: list[tuple[Path, int | None, Verdict]], as_json: bool) -> int:
    from .cli import _redis_url, make_store
    from .inbound_apply import InboundActions

    with _redis_url(cfg) as url:
        async def run() -> int:
            store = make_store(cfg, url)
            try:
                actions = InboundActions(cfg, store, actor="cli")
                for path, index, v in results:
                    outcome = await actions.apply(v)
                    row = {"file": str(path), "index": index, "kind": v.kind,
                           "applied": outcome.as_dict()}
                    print(json.dumps(row, ensure_ascii=False) if as_json else
                          f"applied      {path}{'' if index is None else f'#{index}'}: "
                          f"{outcome.as_dict()}", file=sys.stderr)
            finally:
                with contextlib.suppress(Exception):
                    await store.close()
            return 0

        return asyncio.run(run())


def add_parser(sub: Any) -> None:
    """Register `inbound classify` on the top-level subparsers."""
    inbound = sub.add_parser("inbound", help="inbound mail (bounces, complaints, replies)")
    isub = inbound.add_subparsers(dest="inbound_action", required=True)
    s = isub.add_parser("classify", help="classify .eml files or directories (offline)")
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--json", action="store_true", help="one JSON object per message")
    s.add_argument("--apply", action="store_true",
                   help="also write the resulting suppressions/counters to Redis")
    s.add_argument("--parse-timeout", type=float, default=None, metavar="SECONDS",
                   help="per-message deadline (default inbound.parse_timeout); a message "
                        "that misses it is printed as unknown; 0: no worker, no deadline")
    s.set_defaults(fn=cmd_inbound_classify, config_optional=True)
