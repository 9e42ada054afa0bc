"""Redis memory per suppression, consent record, person link and purchase, measured.

    .venv/bin/python bench/memory.py [--n 100000,1000000] [--redis-set KEY=VALUE ...]

For each N: starts a private redis-server (persistence off, maxmemory-policy noeviction)
on a free loopback port and loads, through consentry's own import path (the JSONL
records of `consentry suppress import` / `consentry consent import`, parsed by
`importer.suppression_records` / `importer.consent_records` and written by
`Store.write_suppression_batch` / `Store.write_consent_batch`, exactly as the CLI does):

  suppressions  N addresses, global scope, reason unsubscribe, source esp, a time
  consent       N other addresses, confirmed DOI: signup_at/signup_ip, confirmed_at/
                confirm_ip, tracking, lists ["news"], source
  links         the same N addresses linked in persons of two ({"link": ...})
  purchases     one purchase per consent address (order id, person, time, status,
                kind, two categories, address_collected, objection_notice, source)

`--via direct` writes the same keys and values without the import machinery (one
pipelined stream of HSET/SADD built from the same parsed records with consentry's own
encoders: `SuppressionRecord.to_json`, `consent.encode_consent`, `encode_purchase`, the
`linked` JSON of `plan_consent_batch`, the `Keys` names), about ten times faster for
N = 1,000,000. Before it measures, it loads 2,000 of each both ways into two servers and
checks that every key (type and content, audit stream aside) is identical.

After each step used_memory is read (MEMORY STATS total.allocated less client buffers and
script caches), then the audit stream (cs:audit, one entry
per change) is deleted and used_memory read again, so every step reports its own keys
and its audit entries separately. Prints a table (bytes per item, MiB per million) and
writes bench/results/memory-<ts>.md. redis-server is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, cast

import redis

from consentry import address, config, importer
from consentry.consent import (
    PURCHASE_FIELD_PREFIX,
    ConsentLine,
    LinkLine,
    PurchaseLine,
    SuppressionLine,
    encode_consent,
    encode_purchase,
)
from consentry.keys import Keys
from consentry.store import Store, SuppressionRecord

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.helpers.redis_proc import free_port, ping  # noqa: E402

T0 = 1_700_000_000  # fixed times: the same bytes on every run


def supp_lines(n: int) -> Iterator[str]:
    for i in range(n):
        yield (f'{{"address":"s{i}@supp{i % 1000}.example","reason":"unsubscribe",'
               f'"source":"esp","at":{T0 + i}}}\n')


def consent_lines(n: int) -> Iterator[str]:
    for i in range(n):
        yield (f'{{"address":"c{i}@shop{i % 1000}.example","type":"doi",'
               f'"signup_at":{T0 + i},"signup_ip":"198.51.{i % 256}.{i % 254 + 1}",'
               f'"confirmed_at":{T0 + i + 95},"confirm_ip":"203.0.{i % 256}.{i % 250 + 1}",'
               f'"tracking":true,"lists":["news"],"source":"web-form"}}\n')


def link_lines(n: int) -> Iterator[str]:
    for i in range(n):  # persons of two: c0+c1 -> p0, c2+c3 -> p1, ...
        yield f'{{"link":{{"person":"p{i // 2}","address":"c{i}@shop{i % 1000}.example"}}}}\n'


def purchase_lines(n: int) -> Iterator[str]:
    for i in range(n):
        yield (f'{{"purchase":{{"id":"o{i}","person":"p{i // 2}",'
               f'"address":"c{i}@shop{i % 1000}.example","at":{T0 + 86400 + i},'
               f'"status":"completed","kind":"paid","categories":["printer","ink"],'
               f'"address_collected":true,"objection_notice":true,"source":"shop"}}}}\n')


STEPS = [
    ("suppression", "suppress", supp_lines),
    ("consent record (DOI)", "consent", consent_lines),
    ("person link", "consent", link_lines),
    ("purchase", "consent", purchase_lines),
]


def start_redis(workdir: Path, extra: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workdir), "--maxmemory-policy", "noeviction",
            *extra]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not ping(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.02)
    return proc, port


def used(r: redis.Redis) -> int:
    """used_memory without what belongs to no key: client buffers (the import path's
    pool holds several connections, the direct writer one) and script caches."""
    time.sleep(1.0)  # let serverCron finish an incremental rehash (both tables allocated)
    st = r.memory_stats()
    return int(st["total.allocated"]) - sum(
        int(st.get(k, 0)) for k in ("clients.normal", "lua.caches", "functions.caches"))


async def load(store: Store, kind: str, lines: Iterator[str], parse: Any) -> int:
    fh = cast("IO[str]", lines)  # the importer only iterates over lines
    if kind == "suppress":
        report = await importer.import_suppressions(
            store, importer.suppression_records(fh, "jsonl", parse), actor="bench")
    else:
        report = await importer.import_consent(
            store, importer.consent_records(fh, "jsonl", parse), actor="bench")
    assert not report.bad, report.bad[:3]
    return report.written


def resp(*parts: str) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        b = p.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def direct_commands(kind: str, lines: Iterator[str], parse: Any) -> Iterator[bytes]:
    """The keys and values the import writes, from the same parsed records."""
    keys = Keys()
    fh = cast("IO[str]", lines)
    recs: Iterator[Any] = (importer.suppression_records(fh, "jsonl", parse)
                           if kind == "suppress"
                           else importer.consent_records(fh, "jsonl", parse))
    pending_link: LinkLine | None = None
    for r in recs:
        if isinstance(r, SuppressionLine):
            assert r.at is not None
            v = SuppressionRecord(r.address.key, r.scope, r.reason, r.source, r.at,
                                  r.expires_at, r.evidence).to_json()
            yield resp("HSET", keys.suppression(r.address.key), r.scope, v)
        elif isinstance(r, ConsentLine):
            assert r.consent is not None and r.person is None
            yield resp("HSET", keys.address(r.address.key), "consent",
                       encode_consent(r.consent))
        elif isinstance(r, PurchaseLine):
            p = r.purchase
            yield resp("HSET", keys.address(r.address.key), PURCHASE_FIELD_PREFIX + p.id,
                       encode_purchase(p))
        elif isinstance(r, LinkLine):
            # persons of two, consecutive lines: the pair's set and each one's `linked`
            if pending_link is None:
                pending_link = r
                continue
            a, b = pending_link.address.key, r.address.key
            assert pending_link.person == r.person
            pending_link = None
            for m, other in ((a, b), (b, a)):
                yield resp("HSET", keys.address(m), "person", r.person,
                           "linked", json.dumps([other], ensure_ascii=False))
            yield resp("SADD", keys.person_addresses(r.person), a, b)
        else:
            raise AssertionError(f"bad line: {r}")
    assert pending_link is None


def pipe(port: int, commands: Iterator[bytes], chunk: int = 5000) -> int:
    """Send commands pipelined over one connection, reading replies per chunk."""
    n = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        rd = sock.makefile("rb")
        batch: list[bytes] = []

        def flush() -> None:
            sock.sendall(b"".join(batch))
            for _ in batch:
                line = rd.readline()
                assert line[:1] in (b":", b"+"), line
            batch.clear()

        for c in commands:
            batch.append(c)
            n += 1
            if len(batch) >= chunk:
                flush()
        if batch:
            flush()
    return n


def snapshot(r: redis.Redis) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in r.scan_iter(count=1000):
        if k == Keys().audit_stream:
            continue
        t = r.type(k)
        out[k] = (t, r.hgetall(k) if t == "hash" else sorted(r.smembers(k))
                  if t == "set" else r.zrange(k, 0, -1, withscores=True) if t == "zset"
                  else r.get(k))
    return out


async def check_direct(extra: list[str], n: int = 2000) -> int:
    """Load n of each both ways; every key must be identical (audit stream aside)."""
    snaps = []
    for via in ("import", "direct"):
        tmp = Path(tempfile.mkdtemp(prefix="memory-check-"))
        proc, port = start_redis(tmp, extra)
        try:
            await load_all(port, n, via, measure=None)
            r = redis.Redis(port=port, decode_responses=True)
            snaps.append(snapshot(r))
            r.close()
        finally:
            proc.terminate()
            proc.wait(10)
    imported, direct = snaps
    assert imported.keys() == direct.keys(), sorted(imported.keys() ^ direct.keys())[:5]
    diff = [k for k in imported if imported[k] != direct[k]]
    assert not diff, [(k, imported[k], direct[k]) for k in diff[:3]]
    return len(imported)


async def load_all(port: int, n: int, via: str, measure: Any) -> None:
    url = f"redis://127.0.0.1:{port}/0"
    cfg = config.from_mapping({"redis": {"embedded": False, "url": url,
                                         "deadline_ms": 10_000}})
    store = Store(cfg.redis, url, Keys(cfg.redis.key_prefix))

    def parse(raw: str) -> address.Address:
        return address.parse(raw, fold_case=cfg.addresses.fold_case,
                             plus_separators=cfg.addresses.plus_separators)

    r = redis.Redis(port=port, decode_responses=True)
    r.set(Keys().epoch, "bench")
    try:
        for name, kind, gen in STEPS:
            ctx = measure(name, r) if measure is not None else None
            if ctx is not None:
                ctx.__enter__()
            if via == "import":
                await load(store, kind, gen(n), parse)
            else:
                pipe(port, direct_commands(kind, gen(n), parse))
            if ctx is not None:
                ctx.__exit__(None, None, None)
    finally:
        await store.close()
        r.close()


async def run_n(n: int, extra: list[str], via: str) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    proc, port = start_redis(tmp, extra)
    rows: list[dict[str, Any]] = []
    audit_key = Keys().audit_stream

    class Measure:
        def __init__(self, name: str, r: redis.Redis) -> None:
            self.name, self.r = name, r

        def __enter__(self) -> None:
            self.before, self.keys0 = used(self.r), int(self.r.dbsize())
            self.t0 = time.monotonic()

        def __exit__(self, *exc: object) -> None:
            secs = time.monotonic() - self.t0
            with_audit = used(self.r)
            audit_len = int(self.r.xlen(audit_key))
            self.r.delete(audit_key)
            after = used(self.r)
            row = {"n": n, "step": self.name, "secs": secs, "via": via,
                   "keys": int(self.r.dbsize()) - self.keys0,
                   "bytes": (after - self.before) / n, "audit_entries": audit_len,
                   "audit_bytes": (with_audit - after) / audit_len if audit_len else None}
            rows.append(row)
            audit = (f"audit {row['audit_bytes']:6.1f} B/entry" if audit_len
                     else "no audit (direct)")
            print(f"N={n:>9,} {via:<6} {self.name:<22} {row['bytes']:7.1f} B/item  "
                  f"{audit}  {secs:6.1f} s", flush=True)

    try:
        await load_all(port, n, via, Measure)
        r = redis.Redis(port=port, decode_responses=True)
        enc = {k: r.object("encoding", k) for k in (
            "cs:supp:s0@supp0.example", "cs:addr:c0@shop0.example", "cs:person:{p0}:addrs")}
        rows.append({"n": n, "step": "_encodings", "via": via, **enc,
                     "total": used(r), "dbsize": int(r.dbsize())})
        r.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return rows


def table(all_rows: list[dict[str, Any]], extra: list[str], checked: int | None) -> str:
    cols = sorted({(row["n"], row["via"]) for row in all_rows},
                  key=lambda c: (c[1] != "import", c[0]))
    steps = [s[0] for s in STEPS]
    by = {(row["n"], row["via"], row["step"]): row for row in all_rows}
    big = cols[-1]
    imp = [c for c in cols if c[1] == "import"]
    head = ("| item | " + " | ".join(f"B/item, N={n:,} ({via})" for n, via in cols) +
            f" | MiB per million (N={big[0]:,}) |" + (" audit entry, B |" if imp else ""))
    out = [head, "|---|" + "---|" * (len(cols) + 1 + (1 if imp else 0))]
    for st in steps:
        vals = [by[(*c, st)]["bytes"] for c in cols]
        line = (f"| {st} | " + " | ".join(f"{v:.0f}" for v in vals) +
                f" | {by[(*big, st)]['bytes'] * 1e6 / 2**20:.0f} |")
        if imp:
            line += f" {by[(*imp[-1], st)]['audit_bytes']:.0f} |"
        out.append(line)
    enc = by[(*big, "_encodings")]
    notes = [
        "",
        f"Encodings at N={big[0]:,}: suppression hash "
        f"`{enc['cs:supp:s0@supp0.example']}`, address hash "
        f"`{enc['cs:addr:c0@shop0.example']}`, person set `{enc['cs:person:{p0}:addrs']}`;"
        f" {enc['dbsize']:,} keys, used_memory {enc['total'] / 2**20:.0f} MiB without the "
        "audit stream.",
        "Load time (this host): " + "; ".join(
            f"N={n:,} {via}: " + ", ".join(f"{by[(n, via, st)]['secs']:.0f} s" for st in steps)
            for n, via in cols) + ".",
    ]
    if checked is not None:
        notes.append(f"direct = import checked: {checked:,} keys identical (type and "
                     "content) after loading 2,000 of each both ways.")
    notes.append(f"redis-server {redis_version()}, extra settings: {' '.join(extra) or 'none'}"
                 f"; {platform.machine()}, Python {platform.python_version()}.")
    return "\n".join(out + notes)


def redis_version() -> str:
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    return out.stdout.split("v=", 1)[-1].split()[0] if "v=" in out.stdout else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--n", default="100000",
                    help="comma-separated item counts for the import path (default 100000)")
    ap.add_argument("--direct-n", default="100000,1000000",
                    help="comma-separated item counts for --via direct (default "
                    "100000,1000000; empty: none)")
    ap.add_argument("--redis-set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra redis-server setting, e.g. hash-max-listpack-value=512")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results")
    args = ap.parse_args()
    extra: list[str] = []
    for kv in args.redis_set:
        k, _, v = kv.partition("=")
        extra += [f"--{k}", v]
    rows: list[dict[str, Any]] = []
    for n in (int(x) for x in args.n.split(",") if x):
        rows += asyncio.run(run_n(n, extra, "import"))
    checked = None
    direct = [int(x) for x in args.direct_n.split(",") if x]
    if direct:
        checked = asyncio.run(check_direct(extra))
        print(f"direct writer checked against the import path: {checked:,} keys identical")
    for n in direct:
        rows += asyncio.run(run_n(n, extra, "direct"))
    md = table(rows, extra, checked)
    print()
    print(md)
    if not args.no_write:
        out = ROOT / "bench" / "results" / f"memory-{time.strftime('%Y%m%d-%H%M%S')}.md"
        out.write_text(f"# bench/memory.py {' '.join(sys.argv[1:])}\n\n{md}\n")
        print(f"\nwritten to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
