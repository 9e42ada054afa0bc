"""The newcomer's first ten minutes, as the README tells it: the shipped example config
(only state_dir, listen ports and require_basis changed), `consentry serve` with the
embedded Redis and the outbox, `consentry suppress add`, a swaks message to a suppressed
and an unsuppressed recipient, then SIGTERM. Real processes throughout."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ..helpers.procs import pids_with_cwd
from ..helpers.redis_proc import free_port
from ..helpers.waits import wait_until_sync

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).with_name("consentry")  # the installed console script
CONSENTRY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "consentry.cli"]


def adapted_example(tmp_path: Path, port: int) -> Path:
    text = (ROOT / "config.example.yaml").read_text(encoding="utf-8")

    def sub(pattern: str, repl: str, count: int | None = 1) -> None:
        nonlocal text
        text, n = re.subn(pattern, repl, text, flags=re.M)
        assert n == count if count is not None else n >= 1, pattern

    sub(r"^(\s*state_dir:\s*)\./var\b", rf"\g<1>{tmp_path / 'var'}")
    sub(r'^(submission:.*\n(?:.*\n)*?\s*listen:\s*)\["127\.0\.0\.1:2525"\]',
        rf'\g<1>["127.0.0.1:{port}"]')
    # every other listener the example enables: any free port (no clash with a parallel run)
    sub(r'^(\s*listen:\s*)\["127\.0\.0\.1:(?!' + str(port) + r')\d+"\]',
        r'\g<1>["127.0.0.1:0"]', count=None)
    sub(r"^(\s*require_basis:\s*)(true|false)\b", r"\g<1>false")
    p = tmp_path / "config.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as s:
            return s.recv(4).startswith(b"220")
    except OSError:
        return False


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_newcomer_flow_serve_suppress_send_sigterm(tmp_path: Path) -> None:
    port = free_port()
    cfg = adapted_example(tmp_path, port)
    redis_dir = tmp_path / "var" / "redis"  # the embedded redis-server's --dir (its cwd)
    out_path, err_path = tmp_path / "serve.out", tmp_path / "serve.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        daemon = subprocess.Popen([*CONSENTRY, "-c", str(cfg), "serve"], cwd=tmp_path,
                                  stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    try:
        wait_until_sync(lambda: daemon.poll() is not None or port_open(port), within=30,
                        what="the submission listener")
        assert daemon.poll() is None, err_path.read_text() + out_path.read_text()
        redis_pids = pids_with_cwd(redis_dir)
        assert len(redis_pids) == 1, redis_pids  # the embedded redis-server child

        r = subprocess.run([*CONSENTRY, "-c", str(cfg), "suppress", "add", "gone@example.org",
                            "--reason", "unsubscribe"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, check=False)
        assert r.returncode == 0, r.stderr
        assert pids_with_cwd(redis_dir) == redis_pids  # it used the daemon's redis

        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}",
                            "--from", "news@sender.example",
                            "--to", "gone@example.org,ok@example.org",
                            "--header", "Subject: first campaign",
                            "--header", "Message-Id: <newcomer-1@sender.example>",
                            "--timeout", "20"],
                           capture_output=True, text=True, timeout=60, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r"<-  250 .*1 of 2", r.stdout), r.stdout

        outbox = tmp_path / "var" / "outbox"
        emls = sorted(outbox.glob("*.eml"))
        assert len(emls) == 1, emls
        data = emls[0].read_bytes()
        rcpt_lines = [ln for ln in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                      if ln.startswith(b"X-Outbox-Rcpt-To:")]
        assert rcpt_lines == [b"X-Outbox-Rcpt-To: <ok@example.org>"]

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0, err_path.read_text()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
        for pid in pids_with_cwd(redis_dir):  # only this test's redis-server, by PID
            os.kill(pid, signal.SIGKILL)

    assert pids_with_cwd(redis_dir) == []  # the redis-server child is gone too
    rows = [json.loads(line) for line in out_path.read_text().splitlines()
            if line.startswith("{")]
    decisions = {d["recipient"]: d for d in rows if d.get("event") == "decision"}
    assert decisions["gone@example.org"]["verdict"] == "suppress"
    assert decisions["ok@example.org"]["verdict"] == "allow"
    assert decisions["ok@example.org"]["downstream"].startswith("250")
    assert any(r.get("event") == "stopped" for r in rows)
