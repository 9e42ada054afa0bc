"""Real peers for every test: redis-server on a free loopback port, an aiosmtpd sink, and
consentry's own App on port 0 in the test's event loop."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import structlog
from hypothesis import settings

from consentry import config as config_mod
from consentry import logs
from consentry.app import App
from consentry.config import Config

from .helpers.redis_proc import RedisProc
from .helpers.sink import Sink

# `make test` (and CI) draw the same hypothesis examples on every run, so a run's result
# depends on the code alone; `make torture` (CONSENTRY_TORTURE=1) explores with fresh
# random examples and far larger counts, and is where new counterexamples are found.
settings.register_profile("consentry-ci", derandomize=True)
if os.environ.get("CONSENTRY_TORTURE") != "1":
    settings.load_profile("consentry-ci")


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    # CLI tests configure structlog onto capsys's stderr, which is closed after the test:
    # without a reset, a later test's first log line raises "I/O operation on closed file".
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def redis_proc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProc]:
    rp = RedisProc(tmp_path_factory.mktemp("redis"))
    rp.start()
    yield rp
    rp.stop()


@pytest.fixture
def redis_url(redis_proc: RedisProc) -> str:
    if redis_proc.proc is None:  # a test killed it
        redis_proc.start()
    r = redis.Redis.from_url(redis_proc.url)
    r.flushall()
    r.close()
    return redis_proc.url


@pytest.fixture
def sync_redis(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    yield r
    r.close()


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


@pytest.fixture
def make_config(tmp_path: Path, redis_url: str) -> Callable[..., Config]:
    def make(sink: Sink | None = None, **overrides: Any) -> Config:
        data: dict[str, Any] = {
            "server": {"hostname": "consentry.test", "state_dir": str(tmp_path / "var")},
            "submission": {"listen": ["127.0.0.1:0"], "command_timeout": 30},
            "redis": {"embedded": False, "url": redis_url, "deadline_ms": 500},
            "http": {"listen": ["127.0.0.1:0"]},
            "outbox": {"dir": str(tmp_path / "outbox")},
            "log": {"decision_log": str(tmp_path / "decisions.jsonl"), "format": "json"},
        }
        if sink is not None:
            data["downstream"] = {"host": "127.0.0.1", "port": sink.port,
                                  "connect_timeout": 3, "command_timeout": 5,
                                  "data_timeout": 5}
        data = deep_merge(data, overrides)
        return config_mod.from_mapping(data, base_dir=str(tmp_path))

    return make


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    s = Sink()
    await s.start()
    yield s
    await s.stop()


class Running:
    def __init__(self, app: App, log_path: Path) -> None:
        self.app = app
        self.log_path = log_path

    @property
    def port(self) -> int:
        return self.app.ports[0]

    def decisions(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        rows = [json.loads(line) for line in self.log_path.read_text().splitlines() if line]
        return [r for r in rows if r.get("event") == "decision"]


@pytest.fixture
async def start_app(tmp_path: Path) -> AsyncIterator[Callable[[Config], Any]]:
    apps: list[App] = []

    async def start(cfg: Config) -> Running:
        logs.setup(cfg.log, cfg.base_dir)
        app = App(cfg)
        await app.start()
        apps.append(app)
        return Running(app, cfg.path(cfg.log.decision_log))

    yield start
    for app in apps:
        await app.stop(5)
