"""Relay throughput with List-Unsubscribe injection and DKIM, beside the plain relay.

    .venv/bin/python bench/unsubscribe.py [--messages 300] [--concurrency 8]

Starts a private redis-server (no persistence), an in-process aiosmtpd sink, and for each
variant a fresh `consentry serve` subprocess on loopback; drives C persistent SMTP
sessions with 5 KB marketing messages (1 and 5 recipients) and reports messages/s,
copies/s and latency. Variants:
    plain         unsubscribe.enabled false (the relay as before this feature)
    headers       per-recipient List-Unsubscribe/-Post (one copy per recipient)
    headers+dkim  the same, every copy DKIM-signed (rsa-2048) and self-checked
Every child is stopped by PID; the temp dir is removed. Markdown goes to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosmtplib
import yaml
from aiosmtpd.smtp import SMTP

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL)


def run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CountingSink:
    def __init__(self) -> None:
        self.messages = 0
        self.rcpts = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.rcpts += len(envelope.rcpt_tos)
        return "250 2.0.0 Ok: queued"


def body(i: int) -> bytes:
    text = "\r\n".join(["Liebe Kundin, lieber Kunde, hier ist unser neues Angebot."] * 85)
    return (f"From: News <news@sender.example>\r\nTo: list@example.org\r\n"
            f"Subject: Angebot {i}\r\nMessage-ID: <b{i}@sender.example>\r\n"
            "X-Consent-Class: marketing\r\nX-Consent-List: news\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{text}\r\nAbmelden: siehe Kopfzeile\r\n").encode()


async def wait_port(port: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


async def load(port: int, messages: int, conc: int, rcpts: int) -> dict[str, float]:
    lat: list[float] = []
    codes: dict[int, int] = {}
    per = messages // conc

    async def session(n: int) -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60)
        await smtp.connect()
        try:
            for j in range(per):
                i = n * per + j
                t0 = time.perf_counter()
                to = [f"r{i}-{k}@example.org" for k in range(rcpts)]
                try:
                    resp = await smtp.sendmail("news@sender.example", to, body(i))
                    code = 250 if resp[1].startswith("2") else 0
                except aiosmtplib.SMTPException as exc:
                    code = getattr(exc, "code", 1)
                    if os.environ.get("BENCH_DEBUG"):
                        print("send failed:", exc, file=sys.stderr)
                codes[code] = codes.get(code, 0) + 1
                lat.append((time.perf_counter() - t0) * 1000)
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException):
                await smtp.quit()

    t0 = time.perf_counter()
    await asyncio.gather(*(session(n) for n in range(conc)))
    wall = time.perf_counter() - t0
    lat.sort()
    return {"msgs_s": len(lat) / wall, "copies_s": len(lat) * rcpts / wall,
            "p50": statistics.median(lat), "p99": lat[int(len(lat) * 0.99) - 1],
            "ok": codes.get(250, 0), "n": len(lat)}


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="consentry-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    sink_server: asyncio.Server | None = None
    try:
        rport = free_port()
        redis = spawn(["redis-server", "--port", str(rport), "--save", "",
                       "--appendonly", "no", "--dir", str(tmp)])
        procs.append(redis)
        key = tmp / "dkim.pem"
        run(["openssl", "genrsa", "-out", str(key), "2048"])
        sink = CountingSink()
        loop = asyncio.get_running_loop()
        sink_server = await loop.create_server(
            lambda: SMTP(sink, decode_data=False, hostname="sink.bench"), "127.0.0.1", 0)
        sport = sink_server.sockets[0].getsockname()[1]
        await wait_port(rport)
        variants: dict[str, dict[str, Any]] = {
            "plain": {"unsubscribe": {"enabled": False}},
            "headers": {},
            "headers+dkim": {"dkim": {"enabled": True, "keys": [
                {"domain": "sender.example", "selector": "b",
                 "private_key_file": str(key)}]}},
        }
        rows = []
        for rcpts in (1, 5):
            for name, extra in variants.items():
                port, hport = free_port(), free_port()
                vdir = tmp / f"{name}-{rcpts}".replace("+", "_")
                cfg = {"server": {"state_dir": str(vdir)},
                       "submission": {"listen": [f"127.0.0.1:{port}"]},
                       "redis": {"embedded": False, "url": f"redis://127.0.0.1:{rport}/0",
                                 "deadline_ms": 1000},
                       "downstream": {"host": "127.0.0.1", "port": sport},
                       "log": {"decision_log": str(vdir / "decisions.jsonl"),
                               "format": "json"},
                       "policy": {"require_basis": False},
                       "http": {"listen": [f"127.0.0.1:{hport}"]}, **extra}
                vdir.mkdir()
                (vdir / "c.yaml").write_text(yaml.safe_dump(cfg))
                run(["redis-cli", "-p", str(rport), "flushall"])
                p = spawn([str(BIN / "consentry"), "-c", str(vdir / "c.yaml"), "serve"])
                procs.append(p)
                await wait_port(port)
                await load(port, 40, 4, rcpts)  # warm-up
                before = sink.rcpts
                r = await load(port, args.messages, args.concurrency, rcpts)
                r["delivered"] = sink.rcpts - before
                rows.append((name, rcpts, r))
                p.terminate()
                await asyncio.to_thread(p.wait, 60)  # the sink lives on this loop
                procs.remove(p)
                print(f"{name:13} rcpts={rcpts}  {r['msgs_s']:7.1f} msg/s "
                      f"{r['copies_s']:7.1f} copies/s  p50 {r['p50']:6.1f} ms  "
                      f"p99 {r['p99']:6.1f} ms  ok {r['ok']}/{r['n']}", flush=True)
        base = {rc: r["msgs_s"] for n, rc, r in rows if n == "plain"}
        lines = ["| variant | rcpts/msg | msg/s | copies/s | vs plain | p50 ms | p99 ms |"
                 " 250s | delivered |", "|---|---|---|---|---|---|---|---|---|"]
        for n, rc, r in rows:
            lines.append(f"| {n} | {rc} | {r['msgs_s']:.1f} | {r['copies_s']:.1f} | "
                         f"{r['msgs_s'] / base[rc]:.0%} | {r['p50']:.1f} | {r['p99']:.1f} |"
                         f" {r['ok']}/{r['n']} | {r['delivered']} |")
        out = ROOT / "bench" / "results" / f"unsubscribe-{time.strftime('%Y%m%d-%H%M%S')}.md"
        out.parent.mkdir(exist_ok=True)
        load1 = os.getloadavg()[0]
        out.write_text(f"# Relay with List-Unsubscribe and DKIM\n\n{args.messages} messages, "
                       f"{args.concurrency} sessions, 5 KB, {os.cpu_count()} CPUs, load "
                       f"average {load1:.1f} at the end (compare rows of one run only)\n\n"
                       + "\n".join(lines) + "\n")
        print("\n".join(lines))
        print(f"written to {out.relative_to(ROOT)}")
        return 0
    finally:
        if sink_server is not None:
            sink_server.close()
        for p in procs:
            p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
