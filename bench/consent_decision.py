"""The decision path with and without consent records for 1,000,000 addresses.

    .venv/bin/python bench/consent_decision.py [--addresses 1000000] [--messages 3000]

Starts a private redis-server (persistence off) on a free loopback port and runs the
relay's decision path — `Store.recipient_states` (the Redis round trips) plus the pure
`evaluate` for every recipient — for the same message shapes against two stores:

  suppression-only  N suppressions (`cs:supp:`), recipients otherwise unknown, policy
                    objection-only (require_basis false): what bench/relay.py measures;
  consent           the same N suppressions plus N addresses with a DOI consent record,
                    every one of them in a person with a second address (so every
                    message needs the second round trip), 30% with a purchase; policy
                    require_basis true, recipients allowed by consent_basis.

20% of the recipients are suppressed in both. Data is written in the documented key schema
through `redis-cli --pipe`. Reports messages/s, decision CPU µs per message (this
process) and Redis CPU per message, and writes bench/results/consent-decision-<ts>.md.
redis-server is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from consentry import address, config
from consentry.model import MessageFacts
from consentry.policy import evaluate
from consentry.store import Store

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def pipe_load(port: int, commands: Any) -> float:
    t0 = time.monotonic()
    cli = shutil.which("redis-cli")
    assert cli, "redis-cli is needed (Debian: redis-tools)"
    proc = subprocess.Popen([cli, "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert proc.stdin is not None
    batch: list[bytes] = []
    for c in commands:
        batch.append(c)
        if len(batch) >= 20_000:
            proc.stdin.write(b"".join(batch))
            batch = []
    proc.stdin.write(b"".join(batch))
    proc.stdin.close()
    proc.wait()
    return time.monotonic() - t0


def supp_addr(i: int) -> str:
    return f"s{i}@supp.example"


def consent_addr(i: int) -> str:
    return f"c{i}@consent.example"


def suppression_commands(n: int) -> Any:
    v = json.dumps({"at": time.time() - 86400, "reason": "unsubscribe", "source": "bench"},
                   separators=(",", ":"), sort_keys=True).encode()
    for i in range(n):
        yield resp(b"HSET", b"cs:supp:" + supp_addr(i).encode(), b"global", v)


def consent_commands(n: int) -> Any:
    now = time.time()
    doi = json.dumps({"type": "doi", "signup_at": now - 90 * 86400,
                      "signup_ip": "198.51.100.7", "confirmed_at": now - 90 * 86400 + 60,
                      "confirm_ip": "198.51.100.7", "tracking": True, "lists": [],
                      "source": "bench"}, separators=(",", ":"), sort_keys=True).encode()
    purchase = json.dumps({"person": "x", "at": now - 200 * 86400, "status": "completed",
                           "kind": "paid", "categories": ["printer"],
                           "address_collected": True, "objection_notice": True,
                           "source": "bench"}, separators=(",", ":"), sort_keys=True).encode()
    for i in range(n):
        a = consent_addr(i).encode()
        partner = consent_addr(i ^ 1).encode()  # persons of two: c0+c1, c2+c3, ...
        person = b"p%d" % (i // 2)
        fields = [b"person", person, b"linked", b'["' + partner + b'"]', b"consent", doi]
        if i % 10 < 3:
            fields += [b"purchase:o%d" % i, purchase]
        yield resp(b"HSET", b"cs:addr:" + a, *fields)
        if i % 2 == 0:
            yield resp(b"SADD", b"cs:person:{" + person + b"}:addrs", a, partner)


def messages(kind: str, count: int, rcpts: int, n: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible workload
    out: list[list[str]] = []
    carry = 0.0
    for m in range(count):
        carry += 0.2 * rcpts
        k = min(rcpts, int(carry + 1e-9))
        carry -= k
        rs = [supp_addr(rng.randrange(n)) for _ in range(k)]
        for j in range(rcpts - k):
            rs.append(consent_addr(rng.randrange(n)) if kind == "consent"
                      else f"u{m}.{j}@clean.example")
        out.append(rs)
    return out


async def run_cell(url: str, cfg: config.Config, msgs: list[list[str]], conc: int
                   ) -> dict[str, float]:
    store = Store(cfg.redis, url)
    parsed = [[address.parse(r) for r in m] for m in msgs]
    facts = MessageFacts("marketing", "bench", category="ink")
    verdicts: dict[str, int] = {}
    queue = list(range(len(parsed)))
    await store.recipient_states(parsed[0])  # connections up

    async def worker() -> None:
        while queue:
            i = queue.pop()
            states = await store.recipient_states(parsed[i])
            now = time.time()
            for s in states:
                d = evaluate(s, facts, cfg.policy, now)
                verdicts[d.rule] = verdicts.get(d.rule, 0) + 1

    rt0 = store.round_trips
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(conc)])
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rts = store.round_trips - rt0
    await store.close()
    return {"msgs_s": len(parsed) / wall, "cpu_us": cpu / len(parsed) * 1e6,
            "rt_per_msg": rts / len(parsed), **{f"rule:{k}": v for k, v in verdicts.items()}}


def redis_cpu(r: redis.Redis) -> float:
    info = r.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--addresses", type=int, default=1_000_000)
    p.add_argument("--messages", type=int, default=3000)
    p.add_argument("--rcpts", default="1,10,50")
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    n = args.addresses
    rcpt_counts = [int(x) for x in args.rcpts.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="consent-bench-"))
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp)], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    rows: list[str] = []
    try:
        r = redis.Redis(port=port)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        r.set("cs:epoch", "bench")
        t_supp = pipe_load(port, suppression_commands(n))
        mem_supp = r.info("memory")["used_memory_human"]
        results: dict[tuple[str, int], list[dict[str, float]]] = {}
        redis_cpu_per: dict[tuple[str, int], list[float]] = {}
        cfgs = {
            "suppression-only": config.from_mapping(
                {"redis": {"embedded": False, "url": url, "deadline_ms": 5000},
                 "policy": {"require_basis": False}}),
            "consent": config.from_mapping(
                {"redis": {"embedded": False, "url": url, "deadline_ms": 5000},
                 "policy": {"similar_categories": {"printer": ["ink"]}}}),
        }
        t_consent = pipe_load(port, consent_commands(n))
        mem_all = r.info("memory")["used_memory_human"]
        # Both kinds run against the fully loaded Redis (the consent keys do not change
        # a suppression-only lookup), interleaved and repeated.
        for _rep in range(args.repeats):
            for rc in rcpt_counts:
                for kind in ("suppression-only", "consent"):
                    msgs = messages(kind, args.messages, rc, n, seed=_rep)
                    c0 = redis_cpu(r)
                    res = asyncio.run(run_cell(url, cfgs[kind], msgs, args.concurrency))
                    redis_cpu_per.setdefault((kind, rc), []).append(
                        (redis_cpu(r) - c0) / len(msgs) * 1e6)
                    results.setdefault((kind, rc), []).append(res)
        head = ("| store | rcpts/msg | msgs/s (median) | vs suppression-only | decision CPU "
                "µs/msg | Redis CPU µs/msg | round trips/msg | deciding rules |")
        rows += [head, "|---|---|---|---|---|---|---|---|"]
        for rc in rcpt_counts:
            base = statistics.median(x["msgs_s"] for x in results[("suppression-only", rc)])
            for kind in ("suppression-only", "consent"):
                cell = results[(kind, rc)]
                med = statistics.median(x["msgs_s"] for x in cell)
                cpu = statistics.median(x["cpu_us"] for x in cell)
                rcpu = statistics.median(redis_cpu_per[(kind, rc)])
                rules = {k[5:]: int(v) for k, v in cell[0].items() if k.startswith("rule:")}
                rows.append(f"| {kind} | {rc} | {med:.0f} | {med / base:.2f} | {cpu:.0f} | "
                            f"{rcpu:.0f} | {cell[0]['rt_per_msg']:.2f} | "
                            f"{', '.join(f'{k} {v}' for k, v in sorted(rules.items()))} |")
        ru = resource.getrusage(resource.RUSAGE_SELF)
        lines = [
            f"# consent decision-path benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')} UTC",
            "",
            f"- machine: {platform.platform()}, Python {platform.python_version()}, "
            f"{r.info('server')['redis_version']} redis",
            f"- {n} suppressions loaded in {t_supp:.1f}s (used_memory {mem_supp}); "
            f"{n} consent records + {n // 2} persons + {n * 3 // 10} purchases in "
            f"{t_consent:.1f}s (used_memory {mem_all})",
            f"- {args.messages} messages per cell, concurrency {args.concurrency}, "
            f"{args.repeats} repeats, 20% of recipients suppressed; max RSS "
            f"{ru.ru_maxrss // 1024} MB",
            "",
            *rows,
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        out = ROOT / "bench" / "results" / f"consent-decision-{time.strftime('%Y%m%d-%H%M%S')}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"written to {out}", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
