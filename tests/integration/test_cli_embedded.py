"""The admin CLI against the EMBEDDED store (redis.embedded: true, state under tmp_path):
with no daemon running each command starts a temporary redis-server on the unix socket,
and stops it again. Real subprocesses, real redis-server, nothing left running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from consentry import config as config_mod
from consentry import embedded_redis

from ..helpers.procs import pids_with_cwd

_SCRIPT = Path(sys.executable).with_name("consentry")  # the installed console script
CONSENTRY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "consentry.cli"]


@pytest.fixture
def cli_config(tmp_path: Path) -> Path:
    p = tmp_path / "consentry.yaml"
    p.write_text(yaml.safe_dump({
        "server": {"state_dir": str(tmp_path / "var")},
        "redis": {"embedded": True},
        "policy": {"require_basis": False},
        "log": {"decision_log": str(tmp_path / "log.jsonl"), "format": "json"},
    }))
    yield p
    # Whatever happened: no redis-server may survive in this test's data directory.
    data_dir, sock = embedded_redis.paths(config_mod.load(p))
    left = pids_with_cwd(data_dir)
    assert not left, f"redis-server left running: {left}"
    assert not embedded_redis.socket_alive(sock)


def consentry(cfg: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CONSENTRY, "-c", str(cfg), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def test_suppress_check_list_remove_round_trip(cli_config: Path) -> None:
    cfg = config_mod.load(cli_config)
    data_dir, sock = embedded_redis.paths(cfg)

    # No daemon: each command starts a temporary redis-server on the socket and stops it.
    r = consentry(cli_config, "suppress", "add", "Max+News@Example.ORG",
                  "--reason", "unsubscribe", "--evidence", "reply of 2026-11-20")
    assert r.returncode == 0, r.stderr
    assert "max@example.org" in r.stdout
    assert pids_with_cwd(data_dir) == []  # the temporary redis-server is gone again
    assert not embedded_redis.socket_alive(sock)
    r = consentry(cli_config, "check", "max@example.org")
    assert r.returncode == 1, r.stdout + r.stderr  # persisted across the two servers
    assert r.stdout.startswith("SUPPRESS")

    # A daemon's embedded redis-server is running: the commands share its socket.
    proc = embedded_redis.start_blocking(cfg)
    try:
        r = consentry(cli_config, "check", "other@example.org")
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("ALLOW")

        r = consentry(cli_config, "check", "MAX@example.org", "--json")
        assert r.returncode == 1
        out = json.loads(r.stdout)
        assert out["verdict"] == "suppress"
        assert out["key"] == "max@example.org"
        assert out["rule"] in ("objection_global", "objection")
        assert out["reasons"]

        r = consentry(cli_config, "suppress", "list")
        assert r.returncode == 0, r.stderr
        assert "max@example.org" in r.stdout and "unsubscribe" in r.stdout
        r = consentry(cli_config, "suppress", "list", "--json")
        rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        assert [(x["address"], x["scope"], x["reason"]) for x in rows] == [
            ("max@example.org", "global", "unsubscribe")]

        r = consentry(cli_config, "suppress", "remove", "max@example.org")
        assert r.returncode != 0  # --reason is required: lifting an objection is audited
        r = consentry(cli_config, "suppress", "remove", "max@example.org",
                      "--reason", "customer re-subscribed by DOI (ticket 4711)")
        assert r.returncode == 0, r.stderr
        r = consentry(cli_config, "check", "max@example.org")
        assert r.returncode == 0, r.stdout + r.stderr
        assert pids_with_cwd(data_dir) == [proc.pid]  # no second server was started
    finally:
        embedded_redis.stop_blocking(proc)
    assert any(data_dir.iterdir())  # persistent data (AOF/RDB) stays behind, no process


def test_invalid_address_exits_2_without_traceback(cli_config: Path) -> None:
    r = consentry(cli_config, "suppress", "add", "not-an-address", "--reason", "x")
    assert r.returncode == 2
    assert "invalid address" in r.stderr
    assert "Traceback" not in r.stderr
