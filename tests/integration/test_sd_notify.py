"""sd_notify(3) as systemd sees it: a real `consentry serve` with NOTIFY_SOCKET pointing
at our datagram socket and WATCHDOG_USEC set: READY=1 once listening, WATCHDOG=1 pings
with STATUS= lines, STATUS on reload, STOPPING=1 on SIGTERM, exit 0."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers.daemon import Daemon, base_config
from ..helpers.sink import Sink


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.setblocking(False)
    yield s, path
    s.close()


def _drain(s: socket.socket) -> list[str]:
    out: list[str] = []
    while True:
        try:
            out.append(s.recv(4096).decode())
        except BlockingIOError:
            return out


async def _collect(s: socket.socket, until: str, within: float) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got += _drain(s)
        if any(until in m for m in got):
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {until!r} within {within}s: {got}")


async def test_ready_watchdog_status_and_stopping(
        tmp_path: Path, redis_url: str, sink: Sink,
        notify_socket: tuple[socket.socket, str]) -> None:
    s, path = notify_socket
    d = Daemon(tmp_path, base_config(tmp_path, redis_url, sink.port))
    try:
        await asyncio.to_thread(d.start, 30.0, {"NOTIFY_SOCKET": path,
                                                "WATCHDOG_USEC": "200000"})
        msgs = await _collect(s, "READY=1", 10)
        assert any(f"STATUS=listening on {d.port}" in m for m in msgs), msgs
        t0 = time.monotonic()
        msgs = await _collect(s, "WATCHDOG=1", 5)
        pings = [m for m in msgs if m.startswith("WATCHDOG=1")]
        while len(pings) < 3 and time.monotonic() - t0 < 5:  # polled, not a fixed 0.6 s
            await asyncio.sleep(0.05)
            msgs += _drain(s)
            pings = [m for m in msgs if m.startswith("WATCHDOG=1")]
        assert len(pings) >= 3, msgs  # every 0.1 s (half of WatchdogSec)
        assert time.monotonic() - t0 < 5
        assert "messages" in pings[-1] and "sessions open" in pings[-1], pings[-1]
        d.signal(signal.SIGHUP)
        await _collect(s, "STATUS=reloaded", 5)
        d.signal(signal.SIGTERM)
        msgs = await _collect(s, "STOPPING=1", 10)
        assert any("STATUS=draining" in m for m in msgs), msgs
        assert await asyncio.to_thread(d.wait, 15) == 0, d.log_text()
    finally:
        d.stop()


async def test_no_watchdog_pings_for_another_pid(
        tmp_path: Path, redis_url: str, sink: Sink,
        notify_socket: tuple[socket.socket, str]) -> None:
    s, path = notify_socket
    d = Daemon(tmp_path, base_config(tmp_path, redis_url, sink.port))
    try:
        await asyncio.to_thread(d.start, 30.0, {"NOTIFY_SOCKET": path,
                                                "WATCHDOG_USEC": "200000",
                                                "WATCHDOG_PID": "1"})
        await _collect(s, "READY=1", 10)
        await asyncio.sleep(0.5)
        assert not any(m.startswith("WATCHDOG=1") for m in _drain(s))
        d.signal(signal.SIGTERM)
        assert await asyncio.to_thread(d.wait, 15) == 0, d.log_text()
    finally:
        d.stop()
