"""consentry relay benchmark: one command, every peer started and stopped by itself.

    make bench                       # or: .venv/bin/python bench/relay.py [--quick]

What it does, in one invocation:
  1. starts a private redis-server on a free loopback port (persistence OFF: no AOF, no
     RDB; so the relay's per-message writes, token refs and send records, pay no fsync
     here, unlike the embedded default with appendfsync always) and loads
     --suppressions entries in the real key schema (`cs:supp:<address>` HASH, field
     `global` -> JSON {"at","reason","source"}) through `redis-cli --pipe`, plus the
     canary key `cs:epoch`;
  2. starts Postfix's `smtp-sink` on loopback as the downstream (the raw limit);
  3. starts consentry (`.venv/bin/consentry -c <generated yaml> serve`) against that
     Redis and sink, decision log to a file, and the bare baseline bench/passthrough.py
     (aiosmtpd -> aiosmtplib, same connection pool size and reuse);
  4. drives the identical load (bench/loadgen.py: C persistent sessions, 5 KB messages,
     1 and 10 recipients, a fraction of them from the suppressed set) against the sink
     directly, the passthrough and consentry; cells are interleaved and repeated
     --repeats times, and medians are reported;
  5. prints a table and writes it as Markdown to bench/results/relay-<timestamp>.md.
Every child is stopped by PID in a finally block; the temp dir is removed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LoadResult, Workload, run_load, suppressed_address

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
TARGETS = ("sink", "passthrough", "consentry")
ALL_TARGETS = (*TARGETS, "consentry-b")  # consentry-b: only with --compare-bin
GOAL_RATIO = 0.80
GOAL_ADDED_P99_MS = 10.0
REASONS = ("unsubscribe", "complaint", "objection", "hard_bounce")


# -- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Procs:
    """Every child we start, stopped by its PID (never by name)."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], log: Path,
              stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        fh = open(log, "wb")  # noqa: SIM115 - closed with the process
        try:
            proc = subprocess.Popen(argv, stdin=stdin, stdout=fh, stderr=subprocess.STDOUT,
                                    cwd=ROOT)
        finally:
            fh.close()
        self.procs[name] = proc
        return proc

    def stop(self, name: str, timeout: float = 10.0) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)


def wait_smtp(port: int, proc: subprocess.Popen[bytes], what: str, log: Path,
              timeout: float = 30.0) -> None:
    """Wait (bounded) until the port answers with a 220 greeting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.settimeout(2)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not answer on port {port} within {timeout:.0f}s")


def start_redis(procs: Procs, tmp: Path) -> tuple[int, redis.Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found (make deps-test installs it)")
    port = free_port()
    data = tmp / "redis"
    data.mkdir()
    proc = procs.start("redis", [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
        "--protected-mode", "yes",
    ], tmp / "redis.log")
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=10)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("bench redis-server exited at start")
        with contextlib.suppress(redis.RedisError):
            if r.ping():
                return port, r
        time.sleep(0.05)
    raise RuntimeError("bench redis-server did not start")


def _resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def load_suppressions(port: int, r: redis.Redis, n: int, tmp: Path) -> float:
    """Load n suppressions with `redis-cli --pipe`; returns the seconds it took."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("redis-cli not found (Debian's redis-tools, pulled by redis-server)")
    t0 = time.monotonic()
    at = time.time() - 86_400
    values = [
        json.dumps({"reason": reason, "source": "bench-import", "at": at},
                   separators=(",", ":"), sort_keys=True).encode()
        for reason in REASONS
    ]
    with open(tmp / "redis-cli.log", "wb") as log:
        proc = subprocess.Popen([cli, "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT)
        assert proc.stdin is not None
        try:
            batch: list[bytes] = []
            for i in range(n):
                key = b"cs:supp:" + suppressed_address(i).encode()
                batch.append(_resp(b"HSET", key, b"global", values[i % len(values)]))
                if len(batch) >= 20_000:
                    proc.stdin.write(b"".join(batch))
                    batch.clear()
            proc.stdin.write(b"".join(batch))
            proc.stdin.close()
            rc = proc.wait(300)
        except BaseException:
            proc.kill()
            proc.wait(5)
            raise
    if rc != 0:
        raise RuntimeError(f"redis-cli --pipe failed: {(tmp / 'redis-cli.log').read_text()}")
    r.set("cs:epoch", f"{time.time():.6f}")
    size = int(r.dbsize())
    if size != n + 1:
        raise RuntimeError(f"expected {n + 1} keys after loading, found {size}")
    return time.monotonic() - t0


def consentry_config(tmp: Path, port: int, redis_port: int, sink_port: int, http_port: int,
                     overrides: list[tuple[str, Any]]) -> Path:
    """The generated config: shipped defaults except where the bench must differ, then
    the --set / --compare-set overrides (dotted keys)."""
    cfg: dict[str, Any] = {
        "server": {"hostname": "consentry.bench", "state_dir": str(tmp / "var")},
        "submission": {
            "listen": [f"127.0.0.1:{port}"],
            # the load client opens up to --concurrency sessions, all from 127.0.0.1
            "max_connections": 1000, "max_connections_per_ip": 1000,
        },
        "redis": {"embedded": False, "url": f"redis://127.0.0.1:{redis_port}/0",
                  "canary": "require"},
        "downstream": {"host": "127.0.0.1", "port": sink_port},
        "policy": {"require_basis": False},
        # a free port: the shipped 127.0.0.1:8025 may be taken (a second instance, a dev)
        "http": {"listen": [f"127.0.0.1:{http_port}"]},
        "log": {"decision_log": str(tmp / "decisions.jsonl"), "format": "json",
                "level": "info"},
    }
    for key, value in overrides:
        node = cfg
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path = tmp / "consentry.yaml"
    path.write_text("# generated by bench/relay.py\n" + yaml.safe_dump(cfg, sort_keys=False))
    return path


def parse_set(v: str) -> tuple[str, Any]:
    key, sep, value = v.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (dotted key), got {v!r}")
    return key, yaml.safe_load(value)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_status(pid: int) -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS in KiB from /proc."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


# -- redis accounting -------------------------------------------------------------------


@dataclass
class RedisSnap:
    commands: int
    reads: int
    by_cmd: dict[str, int]

    @staticmethod
    def take(r: redis.Redis) -> RedisSnap:
        info: dict[str, Any] = r.info("everything")
        by_cmd = {k[len("cmdstat_"):]: int(v["calls"]) for k, v in info.items()
                  if k.startswith("cmdstat_")}
        return RedisSnap(int(info["total_commands_processed"]),
                         int(info["total_reads_processed"]), by_cmd)

    def delta(self, later: RedisSnap) -> RedisSnap:
        keys = set(self.by_cmd) | set(later.by_cmd)
        by = {k: later.by_cmd.get(k, 0) - self.by_cmd.get(k, 0) for k in keys}
        return RedisSnap(later.commands - self.commands, later.reads - self.reads,
                         {k: v for k, v in by.items() if v})


@dataclass
class Background:
    """Redis traffic of consentry's background workers (DSN queue, retry queue, DOI
    purge, ...) per second, measured while no load runs, so it can be taken out."""

    seconds: float = 0.0
    commands: float = 0.0
    reads: float = 0.0
    by_cmd: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def measure(r: redis.Redis, seconds: float) -> Background:
        t0, a = time.monotonic(), RedisSnap.take(r)
        time.sleep(seconds)
        d = a.delta(RedisSnap.take(r))
        dt = time.monotonic() - t0
        own = d.by_cmd.pop("info", 0)  # our own probe
        return Background(dt, (d.commands - own) / dt, (d.reads - own) / dt,
                          {k: v / dt for k, v in d.by_cmd.items()})


@dataclass
class RedisCost:
    """Redis work of consentry's relay path: deltas of the bench Redis's counters over the
    runs, less our own INFO probes and less the background rate times the run time."""

    commands: float = 0.0
    round_trips: float = 0.0
    messages: int = 0
    by_cmd: dict[str, float] = field(default_factory=dict)

    def add(self, d: RedisSnap, messages: int, seconds: float, bg: Background) -> None:
        own = d.by_cmd.get("info", 0)
        self.commands += d.commands - own - bg.commands * seconds
        self.round_trips += d.reads - own - bg.reads * seconds
        self.messages += messages
        for k, v in d.by_cmd.items():
            if k != "info":
                self.by_cmd[k] = (self.by_cmd.get(k, 0.0) + v
                                  - bg.by_cmd.get(k, 0.0) * seconds)


# -- the run ----------------------------------------------------------------------------


@dataclass
class Cell:
    target: str
    rcpts: int
    concurrency: int
    runs: list[LoadResult] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # target process, CPU µs per message
    redis_cpu_us: list[float] = field(default_factory=list)

    def med(self, what: str) -> float:
        if what == "rate":
            vals = [r.rate for r in self.runs]
        elif what == "cpu":
            vals = self.cpu_us
        elif what == "redis_cpu":
            vals = self.redis_cpu_us
        elif what == "p50":
            vals = [r.percentile(50) for r in self.runs]
        else:
            vals = [r.percentile(99) for r in self.runs]
        return statistics.median(vals) if vals else float("nan")

    @property
    def codes(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for r in self.runs:
            c.update(r.codes)
        return c

    @property
    def errors(self) -> list[str]:
        return [e for r in self.runs for e in r.errors]


def parse_ints(v: str) -> list[int]:
    try:
        out = [int(x) for x in v.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {v!r}") from None
    if not out or any(x <= 0 for x in out):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {v!r}")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="consentry relay benchmark (see module doc)")
    p.add_argument("--messages", type=int, default=None,
                   help="messages per cell and repeat (default 2000; --quick 200)")
    p.add_argument("--concurrency", type=parse_ints, default=[10],
                   help="client sessions, comma-separated (e.g. 1,10,50)")
    p.add_argument("--rcpts", type=parse_ints, default=[1, 10],
                   help="recipients per message, comma-separated")
    p.add_argument("--repeats", type=int, default=None,
                   help="runs per cell, medians reported (default 3; --quick 1)")
    p.add_argument("--suppressions", type=int, default=None,
                   help="suppression entries loaded into Redis (default 1000000; --quick 20000)")
    p.add_argument("--suppressed-fraction", type=float, default=0.2,
                   help="fraction of recipients drawn from the suppressed set")
    p.add_argument("--size", type=int, default=5 * 1024, help="message size in bytes")
    p.add_argument("--warmup", type=int, default=None,
                   help="unmeasured messages per target before measuring (default 200; "
                        "--quick 50)")
    p.add_argument("--targets", default=None,
                   help="comma-separated subset of " + ",".join(ALL_TARGETS) + " (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: small defaults (explicit flags still win)")
    p.add_argument("--consentry-bin", type=Path, default=VENV_BIN / "consentry",
                   help="the consentry executable to benchmark (default: the venv's)")
    p.add_argument("--compare-bin", type=Path, default=None,
                   help="A/B: the executable of the second instance, target consentry-b, "
                        "interleaved with the others (default: the same as consentry)")
    p.add_argument("--no-compare", action="store_true",
                   help="no consentry-b (by default it runs with unsubscribe.enabled=false: "
                        "the relay core without per-recipient List-Unsubscribe copies)")
    p.add_argument("--set", dest="overrides", type=parse_set, action="append", default=[],
                   metavar="KEY=VALUE",
                   help="override a consentry config key (dotted, YAML value), e.g. "
                        "unsubscribe.enabled=false; repeatable")
    p.add_argument("--compare-set", dest="compare_overrides", type=parse_set,
                   action="append", default=[], metavar="KEY=VALUE",
                   help="like --set, for consentry-b only (default, when neither this nor "
                        "--compare-bin is given: unsubscribe.enabled=false)")
    p.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs) for debugging")
    p.add_argument("--passthrough-loop", choices=("asyncio", "uvloop"), default="asyncio",
                   help="the passthrough's event loop; compare like with like when "
                        "consentry runs with server.event_loop=uvloop")
    p.add_argument("--hold", type=float, default=0.0, metavar="SECONDS",
                   help="after start-up, print PIDs and wait this long (attach a profiler)")
    return p


def fmt_ms(v: float) -> str:
    return f"{v:.2f}"


def render(cells: dict[tuple[str, int, int], Cell],
           redis_cost: dict[tuple[str, int, int], RedisCost],
           rss: dict[str, dict[str, int]], meta: dict[str, Any], decisions: Counter[str],
           legend: list[str]) -> tuple[str, str, list[str]]:
    """(console table, markdown document, goal verdict lines)."""
    head = ["target", "rcpts/msg", "conc", "msgs/s", "msgs/s range", "p50 ms", "p99 ms",
            "added p99 vs passthrough ms", "throughput vs passthrough", "server CPU µs/msg",
            "final codes"]
    rows: list[list[str]] = []
    goal: list[str] = []
    for (target, rc, c), cell in sorted(cells.items(),
                                        key=lambda kv: (kv[0][1], kv[0][2],
                                                        ALL_TARGETS.index(kv[0][0]))):
        base = cells.get(("passthrough", rc, c))
        rates = [r.rate for r in cell.runs]
        added = ratio = "-"
        if base is not None and target != "passthrough" and base.runs:
            added = f"{cell.med('p99') - base.med('p99'):+.2f}"
            ratio = f"{cell.med('rate') / base.med('rate'):.2f}"
        codes = ", ".join(f"{k}×{v}" for k, v in sorted(cell.codes.items()))
        if cell.errors:
            codes += f" ({len(cell.errors)} client errors)"
        cpu = f"{cell.med('cpu'):.0f}" if cell.cpu_us else "-"
        if cell.redis_cpu_us:
            cpu += f" (+redis {cell.med('redis_cpu'):.0f})"
        rows.append([target, str(rc), str(c), f"{cell.med('rate'):.0f}",
                     f"{min(rates):.0f}-{max(rates):.0f}", fmt_ms(cell.med("p50")),
                     fmt_ms(cell.med("p99")), added, ratio, cpu, codes])
        if target.startswith("consentry") and base is not None and c == 10:
            r_ = cell.med("rate") / base.med("rate")
            a_ = cell.med("p99") - base.med("p99")
            ok = r_ >= GOAL_RATIO and a_ < GOAL_ADDED_P99_MS
            goal.append(f"{'met' if ok else 'MISSED'}: {target}, c=10, {rc} rcpt(s): throughput "
                        f"{r_:.0%} of passthrough (goal >= {GOAL_RATIO:.0%}), added p99 "
                        f"{a_:+.2f} ms (goal < {GOAL_ADDED_P99_MS:.0f} ms)")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    console = [line, "-" * len(line)]
    console += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]

    rt_lines: list[str] = []
    for (target, rc, c), cost in sorted(redis_cost.items()):
        if not cost.messages:
            continue
        per = ", ".join(f"{k} {v / cost.messages:.2f}"
                        for k, v in sorted(cost.by_cmd.items(), key=lambda kv: -kv[1])
                        if v / cost.messages >= 0.005)
        rt_lines.append(f"{target}, rcpts {rc}, c={c}: "
                        f"{cost.round_trips / cost.messages:.2f} round trips/msg, "
                        f"{cost.commands / cost.messages:.2f} commands/msg ({per})")
    mem_lines = [f"{name}: peak RSS (VmHWM) {v.get('VmHWM', 0) / 1024:.1f} MiB, "
                 f"RSS at end {v.get('VmRSS', 0) / 1024:.1f} MiB" for name, v in rss.items()]
    dec = (f"consentry decision log: {sum(decisions.values())} decision lines "
           f"({', '.join(f'{k} {v}' for k, v in sorted(decisions.items()))})")
    text = "\n".join([*console, *legend, "", *goal, "", "Redis per message:", *rt_lines,
                      "", *mem_lines, dec])

    md = [f"# consentry relay benchmark, {meta['started']}", ""]
    md += ["```", f"$ {meta['command']}", "```", ""]
    md += [f"- {k}: {v}" for k, v in meta.items() if k not in ("started", "command")]
    md += ["", "Medians of the repeats; `msgs/s range` is min-max over the repeats. Latency "
           "is per message, MAIL to the reply to the final dot, at the load client. `server "
           "CPU µs/msg` is the target process's user+system CPU (/proc/PID/stat) over the run "
           "divided by messages: less noisy than throughput on a shared machine.", ""]
    md += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", *legend]
    md += ["", "## Goal (relay-core issue)", ""] + [f"- {g}" for g in goal]
    md += ["", "## Redis round trips per message", ""]
    md += ["Round trips = read events on the bench Redis (`total_reads_processed`), commands "
           "= `total_commands_processed`, both net of the benchmark's own INFO calls and of "
           "the background workers' polls (rate measured idle for 3 s before the load, times "
           "the run time).", ""] + [f"- {x}" for x in rt_lines]
    md += ["", "## Memory", ""] + [f"- {x}" for x in mem_lines]
    md += ["", f"- {dec}", ""]
    return text, "\n".join(md), goal


Cells = dict[tuple[str, int, int], Cell]
Costs = dict[tuple[str, int, int], RedisCost]


async def drive(args: argparse.Namespace, ports: dict[str, int], pids: dict[str, int],
                r: redis.Redis, targets: list[str], bg: Background) -> tuple[Cells, Costs]:
    cells: dict[tuple[str, int, int], Cell] = {}
    cost: Costs = {}
    run_timeout = max(120.0, args.messages / 20)
    if args.warmup:
        for t in targets:
            w = Workload(args.warmup, max(args.rcpts), args.size, args.suppressed_fraction,
                         args.suppressions, seed=99)
            res = await run_load("127.0.0.1", ports[t], w, max(args.concurrency),
                                 tag=f"warm-{t}", run_limit_s=run_timeout)
            if res.errors:
                raise RuntimeError(f"warm-up against {t} failed: {res.errors[:3]}")
    n = 0
    total = args.repeats * len(args.rcpts) * len(args.concurrency) * len(targets)
    for rep in range(args.repeats):
        for rc in args.rcpts:
            for c in args.concurrency:
                # Interleave targets inside each repeat so slow drift on a noisy machine
                # hits all three alike.
                for t in targets:
                    n += 1
                    w = Workload(args.messages, rc, args.size, args.suppressed_fraction,
                                 args.suppressions, seed=1000 * rep + 10 * rc + c)
                    t_before = time.monotonic()
                    before = RedisSnap.take(r) if t.startswith("consentry") else None
                    cpu0, rcpu0 = cpu_seconds(pids[t]), cpu_seconds(pids["redis"])
                    res = await run_load("127.0.0.1", ports[t], w, c,
                                         tag=f"{t}-{rep}-{rc}-{c}", run_limit_s=run_timeout)
                    cpu1, rcpu1 = cpu_seconds(pids[t]), cpu_seconds(pids["redis"])
                    if before is not None:
                        cost.setdefault((t, rc, c), RedisCost()).add(
                            before.delta(RedisSnap.take(r)), res.messages,
                            time.monotonic() - t_before, bg)
                    cell = cells.setdefault((t, rc, c), Cell(t, rc, c))
                    cell.runs.append(res)
                    if res.messages:
                        cell.cpu_us.append((cpu1 - cpu0) / res.messages * 1e6)
                        if before is not None:
                            cell.redis_cpu_us.append((rcpu1 - rcpu0) / res.messages * 1e6)
                    print(f"  [{n}/{total}] {t:<11} rcpts={rc:<3} c={c:<3} "
                          f"{res.rate:7.0f} msg/s  p50 {res.percentile(50):6.2f} ms  "
                          f"p99 {res.percentile(99):7.2f} ms  "
                          f"cpu {cell.cpu_us[-1] if cell.cpu_us else 0:5.0f} µs/msg  "
                          f"{dict(res.codes)}"
                          + (f"  errors: {res.errors[:2]}" if res.errors else ""), flush=True)
    return cells, cost


def tally_decisions(path: Path) -> Counter[str]:
    c: Counter[str] = Counter()
    if not path.exists():
        return c
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if '"decision"' not in line:
                continue
            with contextlib.suppress(ValueError):
                d = json.loads(line)
                if d.get("event") == "decision":
                    c[str(d.get("verdict"))] += 1
    return c


def git_rev() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, timeout=10,
                             capture_output=True, text=True, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=ROOT,
                               timeout=10, capture_output=True, text=True, check=False)
        return out.stdout.strip() + (" (src has uncommitted changes)" if dirty.stdout else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


@contextlib.contextmanager
def terminate_on_signal() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind through the finally blocks like Ctrl-C does."""

    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    defaults = ({"messages": 200, "suppressions": 20_000, "repeats": 1, "warmup": 50}
                if args.quick else
                {"messages": 2000, "suppressions": 1_000_000, "repeats": 3, "warmup": 200})
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if min(args.messages, args.suppressions, args.repeats) <= 0 or args.warmup < 0:
        print("--messages, --suppressions, --repeats must be positive", file=sys.stderr)
        return 2
    explicit = args.compare_bin is not None or bool(args.compare_overrides)
    targets = [t for t in (args.targets or ",".join(ALL_TARGETS)).split(",") if t]
    if args.no_compare or ("consentry-b" not in targets and not explicit):
        args.compare_bin = None
        targets = [t for t in targets if t != "consentry-b"]
    else:
        if not explicit:
            args.compare_overrides = [("unsubscribe.enabled", False)]
        args.compare_bin = args.compare_bin or args.consentry_bin
        if "consentry-b" not in targets:
            targets.append("consentry-b")
    if not targets or any(t not in ALL_TARGETS for t in targets):
        print(f"--targets must be a subset of {','.join(ALL_TARGETS)}", file=sys.stderr)
        return 2
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.access(sink_bin, os.X_OK):
        print("smtp-sink not found: install postfix (make deps-test does)", file=sys.stderr)
        return 2
    consentry_bin: Path = args.consentry_bin
    if not consentry_bin.exists():
        print(f"{consentry_bin} missing: run `make bench` (it installs the venv)",
              file=sys.stderr)
        return 2

    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    procs = Procs()
    r: redis.Redis | None = None
    try:
        with terminate_on_signal():
            print(f"bench: temp dir {tmp}", flush=True)
            redis_port, r = start_redis(procs, tmp)
            load_s = load_suppressions(redis_port, r, args.suppressions, tmp)
            mem = r.info("memory").get("used_memory_human", "?")
            print(f"bench: redis on :{redis_port}, {args.suppressions} suppressions loaded in "
                  f"{load_s:.1f}s ({mem})", flush=True)

            ports = {t: free_port() for t in ALL_TARGETS}
            sink_log = tmp / "sink.log"
            # smtp-sink refuses to run as root without -u (it drops to that user).
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            p = procs.start("sink", [sink_bin, *user, "-m", "1000",
                                     f"127.0.0.1:{ports['sink']}", "1000"], sink_log)
            wait_smtp(ports["sink"], p, "smtp-sink", sink_log)

            relays = ["consentry", *(["consentry-b"] if args.compare_bin else [])]
            for name in relays:
                d = tmp / name
                d.mkdir()
                extra = args.compare_overrides if name == "consentry-b" else []
                cfg = consentry_config(d, ports[name], redis_port, ports["sink"], free_port(),
                                       [*args.overrides, *extra])
                binary = args.compare_bin if name == "consentry-b" else consentry_bin
                clog = d / "consentry.out"
                p = procs.start(name, [str(binary), "-c", str(cfg), "serve"], clog)
                wait_smtp(ports[name], p, name, clog)

            plog = tmp / "passthrough.log"
            p = procs.start("passthrough", [
                sys.executable, str(ROOT / "bench" / "passthrough.py"),
                "--listen", f"127.0.0.1:{ports['passthrough']}",
                "--downstream", f"127.0.0.1:{ports['sink']}", "--pool-size", "16",
                "--loop", args.passthrough_loop,
            ], plog)
            wait_smtp(ports["passthrough"], p, "passthrough", plog)
            pids = {n: pr.pid for n, pr in procs.procs.items()}
            print(f"bench: sink :{ports['sink']}, passthrough :{ports['passthrough']}, "
                  f"consentry :{ports['consentry']}; pids {pids}", flush=True)
            if args.hold > 0:
                print(f"bench: holding {args.hold:.0f}s before the load", flush=True)
                time.sleep(args.hold)

            bg = Background.measure(r, 3.0)
            print(f"bench: background Redis traffic {bg.commands:.1f} commands/s "
                  f"({', '.join(f'{k} {v:.1f}' for k, v in bg.by_cmd.items()) or 'none'})",
                  flush=True)
            t0 = time.monotonic()
            cells, cost = asyncio.run(drive(args, ports, pids, r, targets, bg))
            wall = time.monotonic() - t0
            rss = {n: vm_status(procs.procs[n].pid) for n in (*relays, "passthrough")}
            for name in (*relays, "passthrough"):
                proc = procs.procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} died during the run (rc {proc.returncode})")
            procs.stop("consentry")  # flushes and closes the decision log
            decisions = tally_decisions(tmp / "consentry" / "decisions.jsonl")

            meta = {
                "started": started,
                "command": " ".join(["python", "bench/relay.py", *(argv or sys.argv[1:])]),
                "git": git_rev(),
                "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python "
                           f"{platform.python_version()}, "
                           f"{subprocess.run(['redis-server', '--version'], capture_output=True, text=True, timeout=10, check=False).stdout.split(' sha')[0].strip()}",  # noqa: E501
                "workload": f"{args.messages} msgs/cell, {args.size} B messages, rcpts "
                            f"{args.rcpts}, concurrency {args.concurrency}, {args.repeats} "
                            f"repeats, {args.warmup} warm-up msgs/target, "
                            f"{args.suppressed_fraction:.0%} of recipients suppressed",
                "suppressions": f"{args.suppressions} loaded with redis-cli --pipe in "
                                f"{load_s:.1f}s; Redis used_memory {mem}",
                "redis": "private redis-server on loopback TCP, persistence off "
                         "(--save '' --appendonly no): the per-message writes (token refs, "
                         "send records) pay no AOF fsync, unlike the embedded default",
                "downstream": "Postfix smtp-sink on loopback (discards mail)",
                "consentry": "shipped defaults (so marketing mail gets per-recipient "
                             "List-Unsubscribe copies, tracking on, DKIM off) except: "
                             "redis.embedded false, policy.require_basis false, decision log "
                             "to a file (JSON), http on a free port; pools redis 64, "
                             "downstream 16"
                             + (f"; --set {args.overrides}" if args.overrides else ""),
                **({"consentry-b": f"{args.compare_bin}"
                    + (f"; --compare-set {args.compare_overrides}"
                       if args.compare_overrides else "")}
                   if args.compare_bin else {}),
                "passthrough": "bench/passthrough.py: aiosmtpd -> aiosmtplib, pool 16, "
                               f"{args.passthrough_loop} event loop",
                "wall time of the load": f"{wall:.0f}s",
            }
            main_sets = ", ".join(f"{k}={json.dumps(v)}" for k, v in args.overrides)
            legend = ["", "sink = Postfix smtp-sink (the raw limit); passthrough = "
                      "bench/passthrough.py; consentry = "
                      + (f"shipped defaults with {main_sets}" if main_sets else
                         "shipped defaults (marketing mail: one copy per recipient with its "
                         "own List-Unsubscribe token)")]
            if args.compare_bin is not None:
                sets = ", ".join(f"{k}={json.dumps(v)}" for k, v in args.compare_overrides)
                legend.append(f"consentry-b = {args.compare_bin.name}"
                              + (f" with {sets}" if sets else "")
                              + (" (the relay core: one downstream transaction per message)"
                                 if ("unsubscribe.enabled", False) in args.compare_overrides
                                 else ""))
            text, md, _goal = render(cells, cost, rss, meta, decisions, legend)
            print()
            print(text)
            args.results_dir.mkdir(parents=True, exist_ok=True)
            out = args.results_dir / f"relay-{stamp}.md"
            out.write_text(md, encoding="utf-8")
            print(f"\nbench: wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
        return 0
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if r is not None:
            with contextlib.suppress(Exception):
                r.close()
        procs.stop_all()
        if args.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
