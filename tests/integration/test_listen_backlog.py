"""The SMTP listeners' accept queue is LISTEN_BACKLOG long, not asyncio's 100 (a burst of
new connections beyond it has SYNs dropped and each such client waits a second)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from consentry.smtp_server import LISTEN_BACKLOG

from ..helpers.state import NO_BASIS


def _backlog(port: int) -> int:
    # `ss -ltn`: for a listening socket Send-Q is the backlog it was given
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                         text=True, check=True, timeout=10).stdout.split()
    return int(out[2])


def _somaxconn() -> int:
    return int(Path("/proc/sys/net/core/somaxconn").read_text())


async def test_submission_listener_backlog(make_config, sink, start_app):
    running = await start_app(make_config(sink, policy=NO_BASIS))
    assert _backlog(running.port) == min(LISTEN_BACKLOG, _somaxconn()) > 100
