"""The embedded default: a supervised `redis-server` child with its data under state_dir.

Persistence is on (AOF, fsync policy from config, plus RDB snapshots), it listens only on
a unix socket under state_dir (no TCP port to collide with or expose), and admin commands
(`consentry suppress …`) reach the same socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from . import logs
from .config import Config
from .errors import ConfigError, StoreUnavailable


def paths(cfg: Config) -> tuple[Path, Path]:
    base = cfg.path(cfg.server.state_dir).resolve()
    return base / "redis", base / "redis.sock"


def url(cfg: Config) -> str:
    return f"unix://{paths(cfg)[1]}"


def socket_alive(sock_path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.connect(str(sock_path))
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False
    finally:
        s.close()


def _argv(cfg: Config) -> list[str]:
    data_dir, sock = paths(cfg)
    binary = shutil.which(cfg.redis.embedded_binary)
    if binary is None:
        raise ConfigError("redis.embedded_binary",
                          f"{cfg.redis.embedded_binary!r} not found on PATH "
                          "(install Debian's redis-server, or set redis.embedded: false)")
    return [
        binary,
        "--port", "0",
        "--unixsocket", str(sock),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--appendonly", "yes",
        "--appendfsync", cfg.redis.embedded_appendfsync,
        "--save", "3600 1 300 100 60 10000",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--loglevel", "warning",
        "--logfile", str(data_dir / "redis.log"),
        "--pidfile", str(data_dir / "redis.pid"),
    ]


def start_blocking(cfg: Config, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    data_dir, sock = paths(cfg)
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not socket_alive(sock):
            sock.unlink()
    proc = subprocess.Popen(_argv(cfg), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StoreUnavailable(
                f"embedded redis-server exited with {proc.returncode}; see {data_dir}/redis.log")
        if socket_alive(sock):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise StoreUnavailable("embedded redis-server did not come up in time")


def stop_blocking(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # redis saves and fsyncs on SIGTERM
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class Supervisor:
    """Keeps the child alive: restarts it (with backoff) if it dies while we run."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.log = logs.get("consentry.redis")

    async def start(self) -> None:
        _, sock = paths(self.cfg)
        if socket_alive(sock):
            # Another consentry (or an admin's temporary one) already runs it.
            self.log.info("embedded_redis_shared", socket=str(sock))
        else:
            self.proc = await asyncio.to_thread(start_blocking, self.cfg)
            self.log.info("embedded_redis_started", pid=self.proc.pid, socket=str(sock))
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        backoff = 0.5
        while not self._stopping:
            await asyncio.sleep(1.0)
            if self.proc is not None and self.proc.poll() is not None and not self._stopping:
                self.log.error("embedded_redis_died", returncode=self.proc.returncode)
                try:
                    self.proc = await asyncio.to_thread(start_blocking, self.cfg)
                    self.log.info("embedded_redis_restarted", pid=self.proc.pid)
                    backoff = 0.5
                except StoreUnavailable as exc:
                    self.log.error("embedded_redis_restart_failed", reason=str(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.proc is not None:
            await asyncio.to_thread(stop_blocking, self.proc)
            self.log.info("embedded_redis_stopped", pid=self.proc.pid)


@contextlib.contextmanager
def ensure_running(cfg: Config) -> Iterator[str]:
    """For admin commands: use the daemon's embedded Redis, or start it for the command."""
    _, sock = paths(cfg)
    if socket_alive(sock):
        yield url(cfg)
        return
    proc = start_blocking(cfg)
    try:
        yield url(cfg)
    finally:
        stop_blocking(proc)
