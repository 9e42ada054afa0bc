"""A real `consentry serve` keeps no descriptor of a finished session: after clients that
quit, vanish before the greeting or mid-command, reset the connection or stop mid-DATA,
and after relayed messages, its open file descriptors come back to what they were once
idle (Redis and downstream pool connections are capped by their own settings)."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers.client import message, send
from ..helpers.daemon import Daemon, base_config
from ..helpers.rawsmtp import RawSMTP
from ..helpers.sink import Sink
from ..helpers.waits import wait_until


@pytest.fixture
def daemon(tmp_path: Path, redis_url: str, sink: Sink) -> Iterator[Daemon]:
    d = Daemon(tmp_path, base_config(tmp_path, redis_url, sink.port,
                                     submission={"command_timeout": 30}))
    d.start()
    yield d
    d.stop()


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _probe(port: int) -> None:
    """Connects and closes before the greeting (a start-up probe, a port scanner)."""
    socket.create_connection(("127.0.0.1", port), timeout=5).close()


def _reset(port: int) -> None:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.recv(512)  # the greeting
    s.sendall(b"EHLO x\r\nMAIL FROM:<a@sender.example>\r\n")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()  # RST


async def _rounds(port: int, n: int) -> None:
    for i in range(n):
        code, text, _ = await send(port, [f"fd{i}@example.org"],
                                   message(subject=f"fd {i}", msgid=f"<fd{i}@sender.example>"))
        assert code == 250, text
        async with RawSMTP(port) as c:  # vanishes mid-command
            await c.write(b"EHLO client.test\r\nMAIL FROM:<news@sender.exa")
        async with RawSMTP(port) as c:  # stops mid-DATA
            assert (await c.cmd("EHLO client.test")).code == 250
            assert (await c.cmd("MAIL FROM:<news@sender.example>")).code == 250
            assert (await c.cmd(f"RCPT TO:<cut{i}@example.org>")).code == 250
            assert (await c.cmd("DATA")).code == 354
            await c.write(b"Subject: cut\r\n\r\nhalf a bo")
        await asyncio.to_thread(_reset, port)
        await asyncio.to_thread(_probe, port)
        async with RawSMTP(port) as c:  # a polite one
            assert (await c.cmd("QUIT")).code == 221


async def test_finished_sessions_leave_no_descriptor_behind(daemon: Daemon,
                                                            sink: Sink) -> None:
    assert daemon.proc is not None
    pid = daemon.proc.pid
    await _rounds(daemon.port, 3)  # warm: pools and lazily opened files exist now
    await wait_until(lambda: len(sink.received) >= 3, within=10, what="warm-up relayed")
    await asyncio.sleep(0.5)
    baseline = _fds(pid)
    await _rounds(daemon.port, 25)
    await wait_until(lambda: len(sink.received) >= 28, within=20, what="all relayed")
    # Sessions are torn down asynchronously: wait (bounded) for the count to settle.
    await wait_until(lambda: _fds(pid) <= baseline, within=15,
                     what=f"fds back to {baseline} (now {_fds(pid)})")
    assert daemon.proc.poll() is None
