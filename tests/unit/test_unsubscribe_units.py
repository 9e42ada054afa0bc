"""Small pure pieces of the unsubscribe path: config validation names the key, the rate
limiter, address masking, retry backoff, and the purity of the pure modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from consentry import config
from consentry.errors import ConfigError
from consentry.http import RateLimiter, mask
from consentry.retryq import RetryJob, backoff

SRC = Path(__file__).resolve().parents[2] / "src" / "consentry"
PURE = ["tokens.py", "headers.py", "tracking.py", "mimewalk.py", "rewrite.py", "dkim.py"]
IO_LIBS = {"redis", "aiosmtplib", "aiosmtpd", "aiohttp"}


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_import_no_io_library(name: str) -> None:
    tree = ast.parse((SRC / name).read_text(), name)
    for node in ast.walk(tree):
        mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for m in mods:
            assert m.split(".")[0] not in IO_LIBS, f"{name} imports {m}"
            assert m not in ("store", "delivery", "smtp_server", "http"), f"{name}: {m}"


@pytest.mark.parametrize(("data", "key"), [
    ({"http": {"base_url": "https://x.example/\r\nBcc: y"}}, "http.base_url"),
    ({"http": {"base_url": "https://x.example/a?b=1"}}, "http.base_url"),
    ({"http": {"listen": ["nope"]}}, "http.listen[0]"),
    ({"http": {"unknown": 1}}, "http.unknown"),
    ({"unsubscribe": {"mailto_domain": "a b.example"}}, "unsubscribe.mailto_domain"),
    ({"unsubscribe": {"classes": ["newsletter"]}}, "unsubscribe.classes[0]"),
    ({"unsubscribe": {"feedback_id": "a\nb"}}, "unsubscribe.feedback_id"),
    ({"unsubscribe": {"existing": "append"}}, "unsubscribe.existing"),
    ({"tokens": {"max_age_days": 7}}, "tokens.max_age_days"),
    ({"tokens": {"keys": [{"id": 1}]}}, "tokens.keys[0]"),
    ({"tokens": {"keys": [{"id": 1, "secret": "short"}]}}, "tokens.keys[0].secret"),
    ({"tokens": {"keys": [{"id": 1, "secret": "x" * 20}, {"id": 1, "secret": "y" * 20}]}},
     "tokens.keys"),
    ({"tracking": {"redirect_patterns": ["^https://r/(.+)$"]}},
     "tracking.redirect_patterns[0]"),
    ({"dkim": {"enabled": True}}, "dkim.keys"),
])
def test_config_errors_name_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        config.from_mapping(data)
    assert exc.value.key == key


def test_rate_limiter_refills_and_stays_bounded() -> None:
    rl = RateLimiter(per_minute=60, burst=2)
    assert [rl.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert rl.allow("b", 0.0)  # per client
    assert rl.allow("a", 1.01)  # one token per second
    rl.MAX_CLIENTS = 10
    for i in range(100):
        rl.allow(f"c{i}", 100.0 + i * 10)
    assert len(rl.buckets) <= 11


def test_mask() -> None:
    assert mask("max.mustermann@example.org") == "m***@example.org"
    assert mask("nolocal") == "***"


def test_backoff_and_job_roundtrip() -> None:
    cfg = config.RetryConfig(initial_delay=30, max_delay=3600)
    assert [backoff(cfg, n) for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]
    job = RetryJob.new("s@x.example", "r@y.example", b"\x00\xffbody\r\n", True, False,
                       "<m@x>", "451 busy", 1.0)
    assert RetryJob.from_json(job.to_json()) == job


class _FlakyStore:
    """Just the two calls the queue makes; down until told otherwise."""

    def __init__(self) -> None:
        self.down = True
        self.rows: list[tuple[str, str, float]] = []

    async def enqueue_retries(self, rows: list[tuple[str, str, float]]) -> None:
        from consentry.errors import StoreUnavailable

        if self.down:
            raise StoreUnavailable("down")
        self.rows.extend(rows)


async def test_retry_jobs_spooled_while_redis_is_down_reach_redis_later(tmp_path: Path) -> None:
    from typing import Any

    from consentry.retryq import RetryQueue, RetryWorker

    store: Any = _FlakyStore()
    spool = tmp_path / "spool" / "retry.jsonl"
    q = RetryQueue(store, config.RetryConfig(), spool)
    job = RetryJob.new("s@x.example", "r@y.example", b"body\r\n", False, False, None, "451",
                       1.0)
    with capture_logs() as logged:
        await q.put([job])
    assert [e["event"] for e in logged] == ["retry_spooled"]
    assert spool.exists() and store.rows == []  # fsync'd locally, not lost
    w = RetryWorker(store, None, config.RetryConfig(), config.NotifyConfig(),  # type: ignore[arg-type]
                    spool)
    store.down = False
    assert await w.drain_spool() == 1
    assert [r[0] for r in store.rows] == [job.id] and not spool.exists()
