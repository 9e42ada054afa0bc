"""Connection set-up cost: one SMTP session per message, as many sending tools open.

    .venv/bin/python bench/sessions.py [--sessions 3000] [--concurrency 10]
        [--repeats 5] [--compare-bin BIN] [--mode ehlo,message]

Starts a bench Redis, Postfix's smtp-sink and consentry (and, with --compare-bin, a
second consentry from another build: the A/B), all on loopback and stopped by PID, then
drives each with C clients that open a fresh connection for every session:

  ehlo     connect, greeting, EHLO, QUIT: the session's own set-up and tear-down;
  message  the same around one 5 KB message to one recipient (MAIL, RCPT, DATA).

Targets are interleaved and repeated; medians are printed: sessions/s and the server's
CPU per session (user + system, from /proc), beside smtp-sink's (the C baseline).
Results go to bench/results/sessions-<ts>.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay import (
    ROOT,
    VENV_BIN,
    Procs,
    consentry_config,
    cpu_seconds,
    free_port,
    git_rev,
    load_suppressions,
    start_redis,
    wait_smtp,
)

# about 5 KB: headers, then 64 lines of 80 octets
BODY = (b"From: Bench <news@bench.example>\r\nTo: r@ok.bench.example\r\n"
        b"Subject: session bench\r\nX-Consent-Class: transactional\r\n\r\n"
        + (b"y" * 78 + b"\r\n") * 64)


async def _reply(reader: asyncio.StreamReader) -> bytes:
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line[3:4] != b"-":
            return line


async def _session(port: int, mode: str, i: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _reply(reader)
        writer.write(b"EHLO client.bench.example\r\n")
        await _reply(reader)
        if mode == "message":
            for cmd in (b"MAIL FROM:<news@bench.example>\r\n",
                        f"RCPT TO:<r{i}@ok.bench.example>\r\n".encode(), b"DATA\r\n"):
                writer.write(cmd)
                await _reply(reader)
            writer.write(BODY + b".\r\n")
            final = await _reply(reader)
            if not final.startswith(b"250"):
                raise RuntimeError(f"message refused: {final!r}")
        writer.write(b"QUIT\r\n")
        await _reply(reader)
    finally:
        writer.close()


async def _run(port: int, mode: str, n: int, conc: int) -> float:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await _session(port, mode, i)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="SMTP session set-up cost (see module doc)")
    p.add_argument("--sessions", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--mode", default="ehlo,message")
    p.add_argument("--consentry-bin", type=Path, default=VENV_BIN / "consentry")
    p.add_argument("--compare-bin", type=Path, default=None)
    p.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    args = p.parse_args(argv)
    modes = [m for m in args.mode.split(",") if m]
    if any(m not in ("ehlo", "message") for m in modes) or min(
            args.sessions, args.concurrency, args.repeats) <= 0:
        p.error("--mode is ehlo and/or message; counts must be positive")
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.access(sink_bin, os.X_OK):
        print("smtp-sink not found: install postfix (make deps-test does)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="consentry-sessions-"))
    procs = Procs()
    try:
        redis_port, r = start_redis(procs, tmp)
        load_suppressions(redis_port, r, 10_000, tmp)  # and the epoch canary
        sink_port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        sp = procs.start("sink", [sink_bin, *user, "-m", "1000", f"127.0.0.1:{sink_port}",
                                  "1000"], tmp / "sink.log")
        wait_smtp(sink_port, sp, "smtp-sink", tmp / "sink.log")
        ports = {"sink": sink_port}
        builds = {"consentry": args.consentry_bin}
        if args.compare_bin is not None:
            builds["consentry-b"] = args.compare_bin
        for name, binary in builds.items():
            d = tmp / name
            d.mkdir()
            port = free_port()
            cfg = consentry_config(d, port, redis_port, sink_port, free_port(), [
                ("submission.max_connections", 2000),
                ("submission.max_connections_per_ip", 2000),
                ("log.decision_log", str(d / "decisions.jsonl"))])
            cp = procs.start(name, [str(binary), "-c", str(cfg), "serve"], d / "out.log")
            wait_smtp(port, cp, name, d / "out.log")
            ports[name] = port
        pids = {n: pr.pid for n, pr in procs.procs.items()}
        targets = [*builds, "sink"]
        rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for mode in modes:
            for t in targets:  # warm-up
                asyncio.run(_run(ports[t], mode, min(300, args.sessions), args.concurrency))
            for _rep in range(args.repeats):
                for t in targets:
                    c0 = cpu_seconds(pids[t])
                    wall = asyncio.run(_run(ports[t], mode, args.sessions, args.concurrency))
                    cpu = cpu_seconds(pids[t]) - c0
                    rows.setdefault((mode, t), []).append(
                        (args.sessions / wall, cpu / args.sessions * 1e6))
                    print(f"bench: {mode} {t}: {args.sessions / wall:.0f} sessions/s, "
                          f"{cpu / args.sessions * 1e6:.0f} CPU us/session", flush=True)
        lines = [
            "# consentry: SMTP session set-up cost",
            "",
            f"- when: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}, git {git_rev()}",
            f"- command: python bench/sessions.py {' '.join(argv or sys.argv[1:])}",
            f"- {args.sessions} sessions per run, {args.concurrency} clients, a new "
            f"connection per session, {args.repeats} interleaved repeats (medians); "
            f"10,000 suppressions in Redis; "
            f"{os.cpu_count()} CPUs",
            "- consentry: " + str(args.consentry_bin)
            + (f"; consentry-b: {args.compare_bin}" if args.compare_bin else ""),
            "",
            "| mode | target | sessions/s | range | server CPU µs/session |",
            "|---|---|---|---|---|",
        ]
        for (mode, t), vals in rows.items():
            rates = [v[0] for v in vals]
            cpus = [v[1] for v in vals]
            lines.append(f"| {mode} | {t} | {statistics.median(rates):.0f} | "
                         f"{min(rates):.0f}-{max(rates):.0f} | {statistics.median(cpus):.0f} |")
        text = "\n".join(lines) + "\n"
        print(text)
        args.results_dir.mkdir(parents=True, exist_ok=True)
        out = args.results_dir / f"sessions-{time.strftime('%Y%m%d-%H%M%S')}.md"
        out.write_text(text)
        print(f"bench: wrote {out}")
        return 0
    finally:
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
