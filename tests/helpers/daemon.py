"""`consentry serve` as a real subprocess: started with a YAML config written to tmp,
found and stopped by its own PID (never by name), its stderr kept for assertions."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .redis_proc import free_port
from .waits import wait_until_sync

_SCRIPT = Path(sys.executable).with_name("consentry")
CONSENTRY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "consentry.cli"]


def greets(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3) as s:
            return s.recv(4).startswith(b"220")
    except OSError:
        return False


class Daemon:
    """One `consentry serve`; `port` is its submission listener."""

    def __init__(self, tmp: Path, data: dict[str, Any], port: int | None = None) -> None:
        self.tmp = tmp
        self.port = port or free_port()
        self.data = data
        self.data.setdefault("submission", {})["listen"] = [f"127.0.0.1:{self.port}"]
        self.config_path = tmp / "consentry.yaml"
        self.err_path = tmp / "serve.err"
        self.proc: subprocess.Popen[bytes] | None = None
        self.write_config(self.data)

    def write_config(self, data: dict[str, Any]) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(data))
        os.replace(tmp, self.config_path)  # a reload never reads half a file

    def start(self, within: float = 30.0, env: dict[str, str] | None = None) -> Daemon:
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*CONSENTRY, "-c", str(self.config_path), "serve"], cwd=self.tmp,
                stdout=err, stderr=err, stdin=subprocess.DEVNULL,
                env={**os.environ, **env} if env else None)
        wait_until_sync(lambda: self.proc is None or self.proc.poll() is not None
                        or greets(self.port), within=within, what="consentry serve")
        assert self.proc.poll() is None, self.log_text()
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, within: float) -> int:
        assert self.proc is not None
        return self.proc.wait(within)

    def log_text(self) -> str:
        """stderr and the log file (log.decision_log carries the daemon's events too)."""
        paths = [self.err_path]
        dl = self.data.get("log", {}).get("decision_log")
        if dl and dl != "-":
            paths.append(Path(dl))
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())

    def events(self, name: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in self.log_text().splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if isinstance(row, dict) and row.get("event") == name:
                    out.append(row)
        return out

    def stop(self) -> None:
        """Always called (fixture teardown): SIGKILL by PID if it is still running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def base_config(tmp: Path, redis_url: str, sink_port: int, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "server": {"hostname": "consentry.test", "state_dir": str(tmp / "var")},
        "submission": {"command_timeout": 30},
        "redis": {"embedded": False, "url": redis_url, "deadline_ms": 500},
        "downstream": {"host": "127.0.0.1", "port": sink_port, "connect_timeout": 3,
                       "command_timeout": 5, "data_timeout": 5},
        "http": {"enabled": False},
        "policy": {"require_basis": False},
        "log": {"decision_log": str(tmp / "decisions.jsonl"), "format": "json"},
    }
    for k, v in extra.items():
        data[k] = {**data.get(k, {}), **v}
    return data
