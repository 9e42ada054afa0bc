"""A lean asyncio SMTP load client for the relay benchmark.

Keeps C persistent SMTP sessions open and pushes N messages through them in lockstep
(no PIPELINING: one command, one reply, like an ordinary submission client). For every
message it records the latency from sending MAIL to reading the reply to the final dot,
and the final reply code. The client is deliberately thin (raw streams, pre-built
message bytes) so that on a small machine it costs less CPU than the servers it drives.

Usable as a module (`run_load`) or on its own:

    .venv/bin/python bench/loadgen.py --port 2525 --messages 2000 --concurrency 10 --rcpts 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
from collections import Counter
from dataclasses import dataclass, field

SUPPRESSED_DOMAIN = "supp.bench.example"
CLEAN_DOMAIN = "ok.bench.example"
CONSENT_DOMAIN = "doi.bench.example"


def suppressed_address(i: int) -> str:
    """The i-th address of the suppressed set (also what the loader writes to Redis)."""
    return f"s{i}@{SUPPRESSED_DOMAIN}"


def consented_address(i: int) -> str:
    """The i-th address with a recorded DOI consent (bench/suite.py loads these)."""
    return f"c{i}@{CONSENT_DOMAIN}"


@dataclass(frozen=True, slots=True)
class Workload:
    messages: int
    rcpts: int
    size: int = 5 * 1024
    suppressed_fraction: float = 0.2
    suppressions: int = 1_000_000
    seed: int = 1
    # > 0: the recipients that are not suppressed are drawn from the first `consented`
    # addresses with a DOI record (consented_address) instead of fresh unknown ones.
    consented: int = 0


@dataclass(slots=True)
class LoadResult:
    messages: int
    elapsed: float
    latencies_ms: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    suppressed_rcpts: int = 0
    total_rcpts: int = 0

    @property
    def rate(self) -> float:
        return self.messages / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the recorded latencies, in ms."""
        if not self.latencies_ms:
            return float("nan")
        xs = sorted(self.latencies_ms)
        # nearest rank: the smallest value with at least q % of the samples at or below it
        k = max(0, min(len(xs) - 1, math.ceil(q / 100 * len(xs) - 1e-9) - 1))
        return xs[k]

    def to_json(self) -> dict[str, object]:
        return {
            "messages": self.messages, "elapsed": self.elapsed, "rate": self.rate,
            "p50_ms": self.percentile(50), "p99_ms": self.percentile(99),
            "codes": dict(self.codes), "errors": self.errors[:10],
            "suppressed_rcpts": self.suppressed_rcpts, "total_rcpts": self.total_rcpts,
        }


def _body(size: int) -> bytes:
    """CRLF text of exactly `size` bytes (no line starts with a dot)."""
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tem\r\n"
    n, rest = divmod(max(size, 2), len(line))
    return line * n + (b"x" * (rest - 2) + b"\r\n" if rest >= 2 else b"")


def _personal(body: bytes, tag: str, i: int) -> bytes:
    """The body with a first line of its own, same size: campaigns greet each reader by
    name and carry per-reader links, so no two bodies are the same (a relay that caches
    work per body must not be measured on one body repeated)."""
    line = f"Dear reader {tag}.{i},\r\n".encode("ascii")
    return line + body[len(line):] if len(line) < len(body) else body


def build_messages(w: Workload, tag: str) -> list[tuple[bytes, list[bytes], bytes]]:
    """Pre-build (MAIL line, RCPT lines, DATA payload incl. final dot) for every message.

    Suppressed recipients are spread evenly (error diffusion) so that exactly the
    configured fraction of all recipients is suppressed, e.g. 2 of 10 in every message,
    or every 5th single-recipient message.
    """
    rng = random.Random(w.seed)  # noqa: S311 - reproducible workload, not crypto
    body = _body(w.size - 290)  # the header section below is about 290 bytes
    out: list[tuple[bytes, list[bytes], bytes]] = []
    carry = 0.0
    for i in range(w.messages):
        carry += w.suppressed_fraction * w.rcpts
        n_supp = min(w.rcpts, int(carry + 1e-9))
        carry -= n_supp
        rcpts: list[str] = []
        for j in range(w.rcpts):
            if j < n_supp:
                rcpts.append(suppressed_address(rng.randrange(w.suppressions)))
            elif w.consented > 0:
                rcpts.append(consented_address(rng.randrange(w.consented)))
            else:
                rcpts.append(f"u{tag}.{i}.{j}@{CLEAN_DOMAIN}")
        rng.shuffle(rcpts)
        head = (
            f"From: Bench Sender <sender@bench.example>\r\n"
            f"To: undisclosed-recipients:;\r\n"
            f"Subject: consentry bench message {i}\r\n"
            f"Message-ID: <bench.{tag}.{i}@bench.example>\r\n"
            f"Date: Mon, 01 Dec 2025 05:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n"
            f"\r\n"
        ).encode("ascii")
        out.append((
            b"MAIL FROM:<sender@bench.example>\r\n",
            [f"RCPT TO:<{r}>\r\n".encode("ascii") for r in rcpts],
            head + _personal(body, tag, i) + b".\r\n",
        ))
    return out


class _Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def reply(self) -> tuple[int, bytes]:
        while True:
            line = await self.reader.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if line[3:4] != b"-":
                return int(line[:3]), line

    async def cmd(self, data: bytes) -> tuple[int, bytes]:
        self.writer.write(data)
        return await self.reply()


async def _open(host: str, port: int, limit_s: float) -> _Session:
    async with asyncio.timeout(limit_s):
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 16)
        s = _Session(reader, writer)
        code, line = await s.reply()
        if code != 220:
            raise ConnectionError(f"greeting {line!r}")
        code, line = await s.cmd(b"EHLO loadgen.bench.example\r\n")
        if code != 250:
            raise ConnectionError(f"EHLO {line!r}")
        return s


async def run_load(
    host: str, port: int, w: Workload, concurrency: int, *,
    tag: str = "0", run_limit_s: float = 300.0, command_timeout: float = 30.0,
    rate: float = 0.0,
) -> LoadResult:
    """Drive w.messages messages through `concurrency` persistent sessions.

    rate > 0: open loop. Message i is due at start + i / rate and is sent by the next
    free session once due; its latency counts from when it was due, not from when a
    session got to it, so a server that falls behind shows as latency (no coordinated
    omission). rate 0: closed loop, every session sends its next message at once.
    Bounded: each transaction has command_timeout, the whole run run_limit_s.
    """
    msgs = build_messages(w, tag)
    result = LoadResult(messages=0, elapsed=0.0)
    result.total_rcpts = w.messages * w.rcpts
    result.suppressed_rcpts = sum(
        1 for _m, rcpts, _d in msgs for r in rcpts if SUPPRESSED_DOMAIN.encode() in r
    )
    sessions = await asyncio.gather(
        *(_open(host, port, command_timeout) for _ in range(concurrency))
    )
    next_i = 0
    lat = result.latencies_ms
    codes = result.codes

    async def worker(s: _Session) -> None:
        nonlocal next_i
        while next_i < len(msgs):
            mail, rcpts, data = msgs[next_i]
            due = t_start + next_i / rate if rate > 0 else 0.0
            next_i += 1
            t0 = time.perf_counter()
            if due > t0:
                await asyncio.sleep(due - t0)
            if rate > 0:
                t0 = due
            try:
                async with asyncio.timeout(command_timeout):
                    code, _ = await s.cmd(mail)
                    if code != 250:
                        codes[f"mail:{code}"] += 1
                        await s.cmd(b"RSET\r\n")
                        continue
                    ok = 0
                    for r in rcpts:
                        code, _ = await s.cmd(r)
                        if code == 250:
                            ok += 1
                        else:
                            codes[f"rcpt:{code}"] += 1
                    if not ok:
                        await s.cmd(b"RSET\r\n")
                        continue
                    code, _ = await s.cmd(b"DATA\r\n")
                    if code != 354:
                        codes[f"data:{code}"] += 1
                        continue
                    code, _ = await s.cmd(data)
            except (TimeoutError, ConnectionError, ValueError) as exc:
                result.errors.append(f"{type(exc).__name__}: {exc}")
                return
            lat.append((time.perf_counter() - t0) * 1000.0)
            codes[str(code)] += 1

    t_start = time.perf_counter()
    try:
        async with asyncio.timeout(run_limit_s):
            await asyncio.gather(*(worker(s) for s in sessions))
    except TimeoutError:
        result.errors.append(f"run exceeded {run_limit_s:.0f}s")
    result.elapsed = time.perf_counter() - t_start
    result.messages = len(lat)
    for s in sessions:
        s.writer.write(b"QUIT\r\n")
    for s in sessions:
        try:
            async with asyncio.timeout(2):
                await s.reply()
        except (TimeoutError, ConnectionError, ValueError):
            pass
        s.writer.close()
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--rcpts", type=int, default=1)
    p.add_argument("--size", type=int, default=5 * 1024)
    p.add_argument("--suppressed-fraction", type=float, default=0.2)
    p.add_argument("--suppressions", type=int, default=1_000_000)
    p.add_argument("--rate", type=float, default=0.0,
                   help="open loop: messages per second offered (default 0: closed loop)")
    a = p.parse_args()
    w = Workload(a.messages, a.rcpts, a.size, a.suppressed_fraction, a.suppressions)
    r = asyncio.run(run_load(a.host, a.port, w, a.concurrency, rate=a.rate))
    print(json.dumps(r.to_json(), indent=2))


if __name__ == "__main__":
    main()
