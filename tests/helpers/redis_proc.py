"""A real redis-server on a free loopback port, started and stopped by PID."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


class _Ports:
    """Ports for listeners a test starts itself, and restarts on the same port (a killed
    redis-server, daemon or sink coming back). They come from below the kernel's
    ephemeral range, which bind(("127.0.0.1", 0)) and every outgoing connection draw
    from: while such a listener is down, no other listener on port 0 and no client
    socket can take its port. Under pytest-xdist each worker has a slice of its own, so
    workers never hand out the same port; within a process a port is handed out once."""

    LOW = 10_000

    def __init__(self) -> None:
        self.given: set[int] = set()
        high = _ephemeral_low()
        self.range: range | None = None
        if high - self.LOW >= 2_000:
            count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
            worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
            index = int(worker[2:]) if worker[2:].isdigit() else 0
            width = (high - self.LOW) // count
            lo = self.LOW + (index % count) * width
            self.range = range(lo, lo + width)
        # another run on this machine (another checkout's suite) has slices of the same
        # shape: start somewhere else in the slice
        self.next = random.randrange(len(self.range)) if self.range else 0  # noqa: S311

    def take(self) -> int:
        if self.range is None:  # no room below the ephemeral range: the kernel picks
            return self._kernel()
        for _ in range(len(self.range)):
            port = self.range[self.next % len(self.range)]
            self.next += 1
            if port not in self.given and _bindable(port):
                self.given.add(port)
                return port
        return self._kernel()

    @staticmethod
    def _kernel() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def _bindable(port: int) -> bool:
    # without SO_REUSEADDR: a port with connections left in TIME_WAIT is skipped too
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_PORTS = _Ports()


def free_port() -> int:
    """A loopback port nobody listens on, for a listener the test (re)starts itself."""
    return _PORTS.take()


def ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisProc:
    def __init__(self, workdir: Path, port: int | None = None, persistent: bool = False) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server must be installed (make test installs it)"
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.workdir), "--daemonize", "no", "--loglevel", "warning",
                "--enable-debug-command", "local"]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        else:
            args += ["--appendonly", "no", "--save", ""]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if ping(self.port):
                return
            assert self.proc.poll() is None, "redis-server exited at start"
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def cli(self, *args: str) -> str:
        import redis

        r = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                        socket_timeout=5)
        try:
            return str(r.execute_command(*args))
        finally:
            r.close()
