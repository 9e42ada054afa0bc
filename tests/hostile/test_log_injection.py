"""Log injection (CWE-117, RELIABILITY H15): attacker-chosen strings - ESC sequences, BEL,
OSC titles, C1 controls, CR/LF, Unicode line separators and bidi overrides - in EHLO,
envelope addresses, Message-ID, Subject and control headers. The JSON decision log stays
one valid JSON object per line (also for readers that split on Unicode line breaks, as
Python's str.splitlines and pre-2019 JavaScript do), and `consentry tail` on a terminal,
with colours, shows no control byte but its own colour codes."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.state import NO_BASIS

CONSENTRY = str(Path(sys.executable).with_name("consentry"))
NASTY = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u2028\u2029\u0085\u202eevil"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # tail's own colour codes


async def _hostile_session(port: int) -> list[int]:
    mid = f"<{NASTY}@x>"
    content = (f"Subject: {NASTY}\r\nMessage-ID: {mid}\r\nX-Consent-Class: marketing\r\n"
               f"X-Campaign-Id: c{NASTY}\r\nX-Consent-List: l\x1b[5m\r\n\r\nbody\r\n"
               ).encode()
    codes = []
    async with RawSMTP(port) as c:
        codes.append((await c.cmd("EHLO " + "\x1b[2J\x1b]0;x\x07evil")).code)
        codes.append((await c.cmd("EHLO client.test")).code)
        codes.append((await c.cmd('MAIL FROM:<"\x1b[2Jx"@sender.example>')).code)
        codes.append((await c.cmd("MAIL FROM:<news@sender.example> SMTPUTF8")).code)
        for rcpt in ["a\u2028b@example.org", "c\u202ed@example.org", "e\x9bf@example.org",
                     "g\u0085h@example.org", "\x1b[31mred@example.org", "ok@example.org"]:
            codes.append((await c.cmd(f"RCPT TO:<{rcpt}>")).code)
        assert (await c.cmd("DATA")).code == 354
        await c.write(dot_terminated(content))
        codes.append((await c.reply()).code)
    return codes


def _check_json_lines(raw: bytes) -> list[dict[str, Any]]:
    for bad in (b"\x1b", b"\x07", b"\r", "\x9b".encode(), "\u2028".encode(),
                "\u2029".encode(), "\u0085".encode()):
        assert bad not in raw, bad
    text = raw.decode("utf-8")
    lines = text.split("\n")
    assert lines[-1] == ""
    # the same records whichever line-splitting rule a reader uses
    assert text.splitlines() == lines[:-1]
    return [json.loads(line) for line in lines[:-1]]


async def test_json_log_stays_one_object_per_line(make_config: Any, sink: Any,
                                                  start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS))
    codes = await _hostile_session(running.port)
    # EHLO, EHLO, bad MAIL, MAIL, then the six RCPTs, then the final reply
    assert codes[2] == 553  # C0 controls in the sender
    # C1 controls, line separators, bidi overrides and ESC are no mailbox: refused
    assert [c // 100 for c in codes[4:9]] == [5, 5, 5, 5, 5], codes
    assert codes[9] == 250 and codes[-1] == 250
    rows = _check_json_lines(running.log_path.read_bytes())
    decisions = [r for r in rows if r.get("event") == "decision"]
    assert decisions, rows
    # the values survive (escaped), they are evidence
    assert [d["recipient"] for d in decisions] == ["ok@example.org"]
    assert any("\u2028" in (d.get("message_id") or "") for d in decisions)
    for d in decisions:
        assert "\x1b" not in (d.get("campaign") or "")  # control headers are cleaned
    assert sink.delivered_to()  # the session really relayed


def _tail_on_a_terminal(log: Path) -> str:
    """Run `consentry tail --no-follow` with stdout on a pseudo-terminal (colours on)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 300, 0, 0))
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen([CONSENTRY, "-c", "/nonexistent.yaml", "tail", "--file",
                             str(log), "--no-follow"], stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == 0, out
    return out.decode("utf-8", "replace")


async def test_tail_colour_mode_shows_no_raw_control_characters(make_config: Any, sink: Any,
                                                                start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS))
    await _hostile_session(running.port)
    out = await asyncio.to_thread(_tail_on_a_terminal, running.log_path)
    assert SGR.search(out), out  # colours are on: this is the terminal mode
    visible = SGR.sub("", out)
    for ch in "\x1b\x07\x9b\u0085\u2028\u2029\u202e":
        assert ch not in visible, (repr(ch), visible)
    assert "\r" not in visible.replace("\r\n", "\n")
    assert "ok@example.org" in visible
