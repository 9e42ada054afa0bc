"""`consentry tail`: filters (verdict, rule, recipient substring or normalised address,
campaign, class, time), JSON lines when piped (the logged lines unchanged), aligned
coloured columns on a real pseudo terminal with control bytes stripped, follow with
rotation, and the summary line on Ctrl-C and at the end of the file."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from consentry import cli
from consentry.tail import POLL, Filter, Tailer

from ..helpers.client import message, send
from ..helpers.waits import wait_until_sync

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def decision(ts: str, rcpt: str, verdict: str, rule: str, cls: str = "marketing",
             campaign: str | None = "spring", key: str | None = None) -> dict[str, Any]:
    return {"event": "decision", "timestamp": ts, "level": "info", "recipient": rcpt,
            "key": key or rcpt.lower(), "verdict": verdict, "rule": rule,
            "message_class": cls, "campaign": campaign, "message_id": "<m1@sender.example>",
            "reasons": [f"because {rule}"]}


ROWS = [
    decision("2026-03-01T10:00:00Z", "anna+news@example.org", "allow", "consent_basis",
             key="anna@example.org"),
    decision("2026-03-01T10:05:00Z", "gone@example.org", "suppress", "objection"),
    {"event": "tempfail", "timestamp": "2026-03-01T10:06:00Z", "level": "warning",
     "reason": "redis down"},
    decision("2026-03-01T11:00:00Z", "bob@example.net", "allow", "non_advertising",
             cls="transactional", campaign=None),
    decision("2026-03-02T09:00:00Z", "evil\x1b[31m\x07@example.org", "suppress",
             "no_basis", campaign="autumn"),
]


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    p = tmp_path / "decisions.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in ROWS) + "{not json\n")
    return p


def tail(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    rc = cli.main(["-c", "/nonexistent.yaml", "tail", "--no-follow", *argv])
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err


def recipients(lines: list[str]) -> list[str]:
    return [json.loads(x)["recipient"] for x in lines]


@pytest.mark.parametrize(("args", "expected"), [
    ((), ["anna+news@example.org", "gone@example.org", "bob@example.net",
          "evil\x1b[31m\x07@example.org"]),
    (("--verdict", "suppress"), ["gone@example.org", "evil\x1b[31m\x07@example.org"]),
    (("--rule", "objection,non_advertising"), ["gone@example.org", "bob@example.net"]),
    (("--recipient", "example.net"), ["bob@example.net"]),
    (("--recipient", "ANNA@Example.ORG"), ["anna+news@example.org"]),  # normalised
    (("--campaign", "autumn"), ["evil\x1b[31m\x07@example.org"]),
    (("--class", "transactional"), ["bob@example.net"]),
    (("--since", "2026-03-01T10:01:00Z", "--until", "2026-03-01T12:00"),
     ["gone@example.org", "bob@example.net"]),
])
def test_filters_when_piped_print_the_logged_lines(capsys: pytest.CaptureFixture[str],
                                                    log_file: Path, args: tuple[str, ...],
                                                    expected: list[str]) -> None:
    rc, lines, err = tail(capsys, "--file", str(log_file), *args)
    assert rc == 0 and recipients(lines) == expected
    original = log_file.read_text().splitlines()
    assert all(line in original for line in lines)  # byte for byte as logged
    n = len(expected)
    assert err.strip().startswith(f"{n} decision(s)")


def test_summary_counts_per_verdict_and_rule(capsys: pytest.CaptureFixture[str],
                                             log_file: Path) -> None:
    _, _, err = tail(capsys, "--file", str(log_file), "--all-events")
    assert err.strip() == ("4 decision(s): allow 2, suppress 2 | rules: consent_basis 1, "
                           "objection 1, non_advertising 1, no_basis 1 | 1 other event(s) | "
                           "1 unreadable line(s)")


def test_columns_are_aligned_without_colour_when_forced(capsys: pytest.CaptureFixture[str],
                                                       log_file: Path) -> None:
    rc, lines, err = tail(capsys, "--file", str(log_file), "--format", "columns")
    assert rc == 0 and not err
    header, *rows, summary = lines
    assert header.startswith("TIME") and "\x1b" not in "".join(lines)
    starts = {r.index("consent_basis") for r in rows if "consent_basis" in r}
    assert starts == {header.index("RULE")}
    assert {r.index("suppress") for r in rows if " suppress " in r} == {header.index("VERDICT")}
    assert "evil?[31m?@example.org" in rows[3]  # ESC and BEL stripped
    assert summary.startswith("4 decision(s)")


def _read_pty(fd: int, until: Any, within: float = 20.0) -> str:
    buf = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and not until(buf.decode(errors="replace")):
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
    return buf.decode(errors="replace")


def test_coloured_columns_on_a_real_terminal_follow_and_ctrl_c(
        log_file: Path, tmp_path: Path) -> None:
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "170", "LINES": "40"}
    env.pop("NO_COLOR", None)
    p = subprocess.Popen([sys.executable, "-m", "consentry.cli", "-c", "/nonexistent.yaml",
                          "tail", "--file", str(log_file)],
                         stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    # The slave stays open here too until the end: once the last slave fd closes (tail
    # exits right after its summary) a read of the master may fail with EIO before the
    # summary was read.
    try:
        out = _read_pty(master, lambda s: "no_basis" in s)
        assert "\x1b[32m" in out and "\x1b[31m" in out  # allow green, suppress red
        plain = ANSI.sub("", out.replace("\r\n", "\n"))
        assert "evil?[31m?@example.org" in plain  # the recipient's ESC/BEL never reach the tty
        assert "\x07" not in out and "evil\x1b" not in out
        header = next(x for x in plain.splitlines() if x.startswith("TIME"))
        rows = [x for x in plain.splitlines() if x.startswith("2026-")]
        assert len(rows) == 4 and {r.index("spring") for r in rows if "spring" in r} == {
            header.index("CAMPAIGN")}
        with open(log_file, "a") as fh:  # followed: a new line shows up
            fh.write(json.dumps(decision("2026-03-03T08:00:00Z", "late@example.org",
                                         "allow", "consent_basis")) + "\n")
        out = _read_pty(master, lambda s: "late@example.org" in s)
        assert "late@example.org" in out
        p.send_signal(signal.SIGINT)
        out = _read_pty(master, lambda s: "decision(s)" in s)
        assert "5 decision(s): allow 3, suppress 2" in ANSI.sub("", out)
        assert p.wait(timeout=10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        os.close(slave)
        os.close(master)


def test_follow_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n")
    out = io.StringIO()
    t = Tailer(Filter(), out, io.StringIO(), pretty=False, colour=False, width=100)
    stop = threading.Event()
    th = threading.Thread(target=t.run_file, args=(path, True, 20, True, stop.is_set))
    th.start()
    try:
        wait_until_sync(lambda: "anna" in out.getvalue(), what="first line")
        path.rename(tmp_path / "d.jsonl.1")  # logrotate: move, then a new file
        path.write_text(json.dumps(ROWS[1]) + "\n")
        wait_until_sync(lambda: "gone@" in out.getvalue(), what="line in the new file")
        path.write_text("")  # truncation (copytruncate) ...
        time.sleep(4 * POLL)  # ... noticed (size < position) before the file grows again
        with open(path, "a") as fh:
            fh.write(json.dumps(ROWS[3]) + "\n")
        wait_until_sync(lambda: "bob@" in out.getvalue(), what="line after truncation")
    finally:
        stop.set()
        th.join(timeout=10)
    assert not th.is_alive()
    assert t.summary.verdicts == {"allow": 2, "suppress": 1}


async def test_tail_reads_the_daemons_own_decision_log(
        make_config: Any, sink: Any, start_app: Any, tmp_path: Path) -> None:
    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    code, _, _ = await send(running.port, ["x@example.org", "y@example.org"],
                            message(headers={"X-Campaign-Id": "c9"}))
    assert code == 250
    out = io.StringIO()
    t = Tailer(Filter(campaigns=frozenset({"c9"})), out, io.StringIO(), pretty=True,
               colour=False, width=200)
    t.run_file(running.log_path, follow=False, last=0, from_start=True)
    rows = out.getvalue().splitlines()[1:]
    assert len(rows) == 2 and all(" allow " in r and " c9 " in r for r in rows)
