"""A 10-million-line suppression import, measured: lines/s, peak RSS, resume after kill -9.

    .venv/bin/python bench/import_10m.py [--lines 10000000] [--kill-at 0.5] [--keep]

Generates a SendGrid bounces export (email,created,status,reason; one bad line in a
thousand) in a temporary directory, starts a private redis-server (no persistence) and
runs `consentry suppress import FILE --format sendgrid --progress` as a child process
with the audit file on (the default). At `--kill-at` of the file the child is killed
with SIGKILL; a second run resumes from the checkpoint and finishes. Measured per run
with wait4(): wall time, lines/s, peak RSS (ru_maxrss); at the end the suppression count,
the audit stream length and the audit file's line count are checked against the input.
Writes bench/results/import-10m-<time>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin" / "consentry"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generate(path: Path, n: int) -> int:
    """The export file; returns how many lines are bad (unparseable addresses)."""
    bad = 0
    t0 = 1_700_000_000
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as fh:
        fh.write("email,created,status,reason\n")
        for i in range(n):
            if i % 1000 == 999:
                fh.write(f"not-an-address-{i},{t0 + i},5.1.1,550 5.1.1 unknown\n")
                bad += 1
            else:
                status = "5.1.1" if i % 7 else "4.2.2"
                fh.write(f"user{i}@d{i % 5000}.example,{t0 + i},{status},"
                         f"\"{status[0]}50 {status} mailbox unavailable, user {i}\"\n")
    return bad


def run_import(cfg: Path, src: Path, kill_at: float | None, ckpt_dir: Path,
               total_lines: int) -> dict[str, float | int | bool]:
    cmd = [str(BIN), "-c", str(cfg), "suppress", "import", str(src), "--format", "sendgrid",
           "--progress"]
    t0 = time.monotonic()
    # Files, not pipes: a child blocked writing to a full pipe nobody reads would stall.
    log = ckpt_dir.parent.parent / f"import-{int(t0)}.log"
    out_f = open(log.with_suffix(".out"), "w+")  # noqa: SIM115 - closed below
    err_f = open(log, "w+")  # noqa: SIM115 - closed below
    p = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True)
    killed = False
    if kill_at is not None:
        target = int(total_lines * kill_at)
        while p.poll() is None:
            time.sleep(0.5)
            for ck in ckpt_dir.glob("*.json"):
                try:
                    line = json.loads(ck.read_text())["progress"]["line"]
                except (ValueError, KeyError, OSError):
                    continue
                if line >= target:
                    p.send_signal(signal.SIGKILL)
                    killed = True
            if killed:
                break
    _pid, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - t0
    out_f.seek(0)
    err_f.seek(0, os.SEEK_END)
    err_f.seek(max(0, err_f.tell() - 2000))
    out, err = out_f.read(), err_f.read()
    out_f.close()
    err_f.close()
    return {"wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024, "rc": p.returncode,
            "killed": killed, "stdout": out.strip()[-400:], "stderr_tail": err.strip()[-600:]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--kill-at", type=float, default=0.5)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="consentry-import-"))
    port = free_port()
    rd = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                          stdout=subprocess.DEVNULL)
    try:
        r = redis.Redis(port=port, decode_responses=True)
        for _ in range(100):
            try:
                r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        r.set("cs:epoch", "bench")
        src = tmp / "sendgrid_bounces.csv"
        t = time.monotonic()
        bad = generate(src, args.lines)
        gen_s = time.monotonic() - t
        size_mb = src.stat().st_size / 1e6
        print(f"generated {args.lines:,} lines ({size_mb:,.0f} MB) in {gen_s:.0f} s",
              file=sys.stderr)
        cfg = tmp / "c.yaml"
        cfg.write_text(f"server: {{state_dir: '{tmp / 'var'}'}}\n"
                       f"redis: {{embedded: false, url: 'redis://127.0.0.1:{port}/0'}}\n")
        ckpt_dir = tmp / "var" / "imports"
        first = run_import(cfg, src, args.kill_at, ckpt_dir, args.lines)
        ck = next(iter(ckpt_dir.glob("*.json")), None)
        resumed_at = json.loads(ck.read_text())["progress"]["line"] if ck else 0
        print(f"first run: {first}", file=sys.stderr)
        second = run_import(cfg, src, None, ckpt_dir, args.lines)
        print(f"second run: {second}", file=sys.stderr)
        good = args.lines - bad
        supp = sum(1 for _ in r.scan_iter("cs:supp:*", count=10_000))
        xlen = r.xlen("cs:audit")
        with open(tmp / "var" / "audit.jsonl", "rb") as fh:
            audit_lines = sum(1 for _ in fh)
        used_mb = int(r.info("memory")["used_memory"]) / 1e6
        rate1 = resumed_at / float(first["wall_s"]) if first["killed"] else 0.0
        rate2 = (args.lines + 1 - resumed_at) / float(second["wall_s"])
        total = args.lines / (float(first["wall_s"]) + float(second["wall_s"]))
        ok = supp == good and xlen == good and audit_lines == good and second["rc"] == 1
        lines = [
            f"# suppression import, {args.lines:,} lines ({time.strftime('%Y-%m-%d %H:%M')})",
            "",
            f"SendGrid bounces CSV, {size_mb:,.0f} MB, {bad:,} bad lines (every 1000th); "
            "audit file on (fsync per batch), batch 2000, private redis-server without "
            f"persistence; host: {os.cpu_count()} CPUs.",
            "",
            "| run | lines | wall s | lines/s | peak RSS MB | exit |",
            "|---|---|---|---|---|---|",
            f"| 1 (SIGKILL at {args.kill_at:.0%}) | {resumed_at:,} committed | "
            f"{first['wall_s']:.0f} | {rate1:,.0f} | {first['peak_rss_mb']:.0f} | killed |",
            f"| 2 (resumed after line {resumed_at:,}) | {args.lines + 1 - resumed_at:,} | "
            f"{second['wall_s']:.0f} | {rate2:,.0f} | {second['peak_rss_mb']:.0f} | "
            f"{second['rc']} |",
            f"| total | {args.lines:,} | {float(first['wall_s']) + float(second['wall_s']):.0f}"
            f" | {total:,.0f} | max {max(first['peak_rss_mb'], second['peak_rss_mb']):.0f} | |",
            "",
            f"Checks: {supp:,} suppression keys, {xlen:,} audit stream entries, "
            f"{audit_lines:,} audit file lines; expected {good:,} each: "
            f"{'OK' if ok else 'MISMATCH'}. Redis used_memory {used_mb:,.0f} MB.",
            "",
            f"Second run's summary: `{second['stdout']}`",
        ]
        report = "\n".join(lines) + "\n"
        print(report)
        out = ROOT / "bench" / "results" / f"import-10m-{time.strftime('%Y%m%d-%H%M%S')}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
        return 0 if ok else 1
    finally:
        rd.send_signal(signal.SIGTERM)
        rd.wait(timeout=60)
        if not args.keep:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)
        else:
            print(f"kept {tmp}", file=sys.stderr)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.exit(main())
