"""Signed webhooks: every audited change (the ``cs:audit`` stream) POSTed to the systems
that own the master data, so a CRM learns of every objection (docs/webhooks.md).

Each endpoint reads the stream through its own Redis Streams consumer group
(``webhook:<name>``): several consentry processes share one group, Redis hands each entry
to one of them, and an entry is acknowledged (XACK) only after the endpoint answered 2xx
or the event was dead-lettered. A process that dies holding entries leaves them pending;
another takes them over after `claim_after` seconds (XAUTOCLAIM). Delivery is therefore
at least once; the ``Idempotency-Key`` header (the stream id) lets the receiver drop a
repeat. The body is signed like Stripe's: ``X-Consentry-Signature: t=<unix>,v1=<hex
HMAC-SHA256(secret, "<t>." + body)>``.

Failures: 5xx, 408, 429, timeouts and connection errors are retried with exponential
back-off and jitter (Retry-After honoured on 429/503), up to `max_attempts` and `max_age`
after the change; any other answer (4xx, 3xx) is dead-lettered at once. Dead letters go to
the ``cs:webhook:dead`` stream with the event body, in the same MULTI as the XACK.

The payload is exactly what the stream holds: in privacy mode the address hash, never the
clear text.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fnmatch
import hashlib
import hmac
import ipaddress
import json
import os
import random
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from . import logs
from .config import (
    WEBHOOK_EVENTS,
    WEBHOOK_MIN_SECRET,
    Config,
    WebhookConfig,
    redact_url,
    webhook_name,
)
from .errors import ConfigError, StoreUnavailable
from .metrics import METRICS
from .store import Store

# The event names and the URL/name helpers live in config.py (validation stays pure).
ACTIONS = WEBHOOK_EVENTS
MIN_SECRET_BYTES = WEBHOOK_MIN_SECRET
redact = redact_url
endpoint_name = webhook_name
SIGNATURE_HEADER = "X-Consentry-Signature"
READ_COUNT = 10
BLOCK_MS = 250  # short: a stop waits for the blocked read (4 reads/s when idle)
BACKLOG_EVERY = 5.0  # seconds between backlog gauge refreshes
PRUNE_IDLE = 3600.0  # seconds a consumer holding nothing stays listed in the group
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504}) | frozenset(range(505, 600))


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: bytes, header: str, body: bytes, now: float | None = None,
           tolerance: float = 300.0) -> bool:
    """The receiver's check (docs/webhooks.md has the same recipe for other languages)."""
    parts = dict(p.strip().partition("=")[::2] for p in header.split(","))
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    want = hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want.encode(), parts.get("v1", "").encode())


def load_secret(cfg: Config, i: int) -> bytes:
    w = cfg.webhooks[i]
    if w.secret is not None:
        return w.secret.encode()
    assert w.secret_file is not None
    p = cfg.path(w.secret_file)
    try:
        data = p.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"webhooks[{i}].secret_file", f"cannot read {p}: {exc.strerror}"
                          ) from None
    if len(data) < MIN_SECRET_BYTES:
        raise ConfigError(f"webhooks[{i}].secret_file",
                          f"{p}: the secret must be at least {MIN_SECRET_BYTES} bytes")
    return data


@dataclass(frozen=True)
class Endpoint:
    name: str
    cfg: WebhookConfig
    secret: bytes = field(repr=False)

    @property
    def group(self) -> str:
        return f"webhook:{self.name}"

    def wants(self, entry: dict[str, str]) -> bool:
        action = entry.get("action", "")
        return any(fnmatch.fnmatchcase(action, p) for p in self.cfg.events)


def endpoints(cfg: Config) -> list[Endpoint]:
    """The configured endpoints with their secrets read (ConfigError naming the key)."""
    return [Endpoint(endpoint_name(w), w, load_secret(cfg, i))
            for i, w in enumerate(cfg.webhooks)]


def event_body(sid: str, entry: dict[str, str]) -> bytes:
    ms = int(sid.partition("-")[0])
    return json.dumps({"id": sid, "type": entry.get("action", "?"), "created": ms / 1000.0,
                       "data": entry}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    v = value.strip()
    if v.isdigit():
        return float(v)
    try:
        return max(0.0, parsedate_to_datetime(v).timestamp() - now)
    except (TypeError, ValueError):
        return None


def backoff(w: WebhookConfig, attempt: int, rng: random.Random) -> float:
    """Exponential back-off with 'equal jitter': half fixed, half random, so retries of
    many processes spread out but never collapse to zero."""
    d: float = min(w.max_backoff, w.initial_backoff * 2.0 ** (attempt - 1))
    return d / 2 + rng.uniform(0, d / 2)


@dataclass
class Attempt:
    status: int | None  # None: no HTTP answer (timeout, connection error)
    reason: str
    retry_after: float | None = None


async def post(http: aiohttp.ClientSession, ep: Endpoint, sid: str, action: str,
               body: bytes, attempt: int) -> Attempt:
    """One signed attempt (signed now: a retry hours later still passes the receiver's
    timestamp check)."""
    headers = {"Content-Type": "application/json",
               "User-Agent": "consentry-webhooks/1",
               "Idempotency-Key": sid, "X-Consentry-Event-Id": sid,
               "X-Consentry-Event": action, "X-Consentry-Attempt": str(attempt),
               SIGNATURE_HEADER: sign(ep.secret, int(time.time()), body)}
    try:
        async with http.post(ep.cfg.url, data=body, headers=headers, allow_redirects=False,
                             timeout=aiohttp.ClientTimeout(total=ep.cfg.timeout)) as resp:
            await resp.read()
            ra = (retry_after(resp.headers.get("Retry-After"), time.time())
                  if resp.status in (429, 503) else None)
            return Attempt(resp.status, f"HTTP {resp.status}", ra)
    except TimeoutError:
        return Attempt(None, f"no answer within {ep.cfg.timeout:g} s")
    except (aiohttp.ClientError, OSError) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:300])


class Worker:
    """One endpoint in one process: read, deliver, acknowledge."""

    def __init__(self, store: Store, ep: Endpoint, http: aiohttp.ClientSession,
                 consumer: str, stopping: Callable[[], bool]) -> None:
        self.store = store
        self.ep = ep
        self.http = http
        self.consumer = consumer
        self.stopping = stopping
        self.log = logs.get("consentry.webhooks").bind(endpoint=ep.name)
        self.rng = random.Random()  # noqa: S311 - jitter, not a secret
        self.held: list[str] = []  # read, not yet acknowledged
        self.delivered = 0
        self.dead = 0
        self.wake = asyncio.Event()  # set by stop(): ends a back-off sleep early
        self._backlog_at = 0.0
        self._claim_at = 0.0

    async def run(self) -> None:
        """Until stopping: Redis trouble only pauses (entries stay in the stream)."""
        while not self.stopping():
            try:
                await self.store.webhook_group(self.ep.group)
                break
            except StoreUnavailable as exc:
                self.log.warning("webhook_redis_unavailable", reason=str(exc))
                await self._pause(1.0)
        while not self.stopping():
            try:
                await self._round()
            except StoreUnavailable as exc:
                self.log.warning("webhook_redis_unavailable", reason=str(exc))
                await self._pause(1.0)
            except Exception as exc:  # never let one bad event end the endpoint's worker
                self.log.error("webhook_worker_error", reason=f"{type(exc).__name__}: {exc}")
                await self._pause(1.0)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), seconds)

    async def _round(self) -> None:
        now = time.monotonic()
        if now >= self._backlog_at:
            self._backlog_at = now + BACKLOG_EVERY
            METRICS.webhook_backlog[self.ep.name] = float(
                await self.store.webhook_backlog(self.ep.group))
        rows: list[tuple[str, dict[str, str]]] = []
        if now >= self._claim_at:
            # Entries of a consumer that died (or was released at its stop).
            self._claim_at = now + min(self.ep.cfg.claim_after / 2, 30.0)
            rows = await self.store.webhook_claim(
                self.ep.group, self.consumer, int(self.ep.cfg.claim_after * 1000),
                max(READ_COUNT, 2 * self.ep.cfg.concurrency))
            if rows:
                self._claim_at = now  # maybe more: look again next round
            else:
                await self.store.webhook_prune(self.ep.group, self.consumer,
                                               int(PRUNE_IDLE * 1000))
        if not rows:
            rows = await self.store.webhook_read(self.ep.group, self.consumer,
                                                 max(READ_COUNT, 2 * self.ep.cfg.concurrency),
                                                 BLOCK_MS)
        wanted = [(sid, e) for sid, e in rows if self.ep.wants(e)]
        skipped = [sid for sid, e in rows if not self.ep.wants(e)]
        self.held = [sid for sid, _e in wanted]
        if skipped:
            await self.store.webhook_ack(self.ep.group, skipped)
            for _ in skipped:
                METRICS.webhook(self.ep.name, "filtered")
        await self._deliver_all(wanted)
        if self.held:
            # Stopping with entries read but not started: make them claimable at once.
            await self.store.webhook_touch(self.ep.group, self.consumer, self.held,
                                           idle_ms=int(self.ep.cfg.claim_after * 1000) + 1)
            self.held = []

    async def _deliver_all(self, wanted: list[tuple[str, dict[str, str]]]) -> None:
        n = self.ep.cfg.concurrency
        if n == 1:  # one at a time: the endpoint sees the stream's order
            for sid, entry in wanted:
                if self.stopping():
                    return
                if await self._deliver(sid, entry):
                    self.held.remove(sid)
            return
        slots = asyncio.Semaphore(n)

        async def one(sid: str, entry: dict[str, str]) -> None:
            async with slots:
                if not self.stopping() and await self._deliver(sid, entry):
                    self.held.remove(sid)

        results = await asyncio.gather(*(one(sid, e) for sid, e in wanted),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r

    async def _deliver(self, sid: str, entry: dict[str, str]) -> bool:
        """True when the event is done with (delivered or dead-lettered); False when
        stopping interrupted its retries (it stays pending)."""
        w = self.ep.cfg
        body = event_body(sid, entry)
        created = int(sid.partition("-")[0]) / 1000.0
        attempt, touched = 0, time.monotonic()
        while True:
            attempt += 1
            res = await self._post(sid, entry, body, attempt)
            if res.status is not None and 200 <= res.status < 300:
                await self.store.webhook_ack(self.ep.group, [sid])
                self.delivered += 1
                METRICS.webhook(self.ep.name, "delivered")
                self.log.info("webhook_delivered", event_id=sid, action=entry.get("action"),
                              status=res.status, attempts=attempt)
                return True
            retryable = res.status is None or res.status in RETRY_STATUSES
            now = time.time()
            delay = backoff(w, attempt, self.rng)
            if res.retry_after is not None:
                delay = max(delay, res.retry_after)
            why = None
            if not retryable:
                why = f"HTTP {res.status}: not retried (only 5xx, 408, 429 and no answer are)"
            elif attempt >= w.max_attempts:
                why = f"{attempt} attempts failed, last: {res.reason}"
            elif now + delay > created + w.max_age:
                why = (f"older than max_age {w.max_age:g} s before the next attempt, last: "
                       f"{res.reason}")
            if why is not None:
                await self._dead(sid, body, res, attempt, why)
                return True
            METRICS.webhook(self.ep.name, "retried")
            self.log.warning("webhook_retry", event_id=sid, status=res.status,
                             reason=res.reason, attempt=attempt, delay=round(delay, 3))
            deadline = time.monotonic() + delay
            while (left := deadline - time.monotonic()) > 0:
                if self.stopping():
                    return False  # still pending: another process (or this one) takes it
                if time.monotonic() - touched > w.claim_after / 3:
                    await self.store.webhook_touch(self.ep.group, self.consumer, [sid])
                    touched = time.monotonic()
                await self._pause(min(left, w.claim_after / 3))
            if self.stopping():
                return False

    async def _post(self, sid: str, entry: dict[str, str], body: bytes, attempt: int
                    ) -> Attempt:
        return await post(self.http, self.ep, sid, entry.get("action", "?"), body, attempt)

    async def _dead(self, sid: str, body: bytes, res: Attempt, attempts: int, why: str
                    ) -> None:
        await self.store.webhook_dead(self.ep.group, sid, {
            "endpoint": self.ep.name, "url": redact(self.ep.cfg.url), "event": sid,
            "status": str(res.status or ""), "reason": why, "attempts": str(attempts),
            "at": f"{time.time():.6f}", "body": body.decode()})
        self.dead += 1
        METRICS.webhook(self.ep.name, "dead_lettered")
        self.log.error("webhook_dead_lettered", event_id=sid, status=res.status, reason=why,
                       attempts=attempts, dead_letters=self.store.keys.webhook_dead)


class Publisher:
    """Every endpoint of one config, in one process. `stop` lets an attempt in flight
    finish (bounded by the endpoint's timeout), ends back-off sleeps, and releases what
    this process read but did not deliver, so another process takes it over at once."""

    def __init__(self, cfg: Config, store: Store, eps: Sequence[Endpoint] | None = None
                 ) -> None:
        self.cfg = cfg
        self.store = store
        self.endpoints = list(eps) if eps is not None else endpoints(cfg)
        self.consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.workers: list[Worker] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.http: aiohttp.ClientSession | None = None
        self._stopping = False
        self.log = logs.get("consentry.webhooks")

    async def start(self) -> None:
        if not self.endpoints:
            return
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=sum(e.cfg.concurrency + 1 for e in self.endpoints)))
        loop = asyncio.get_running_loop()
        for ep in self.endpoints:
            wk = Worker(self.store, ep, self.http, self.consumer, lambda: self._stopping)
            self.workers.append(wk)
            self.tasks.append(loop.create_task(wk.run(), name=f"webhook:{ep.name}"))
        self.log.info("webhooks_started", consumer=self.consumer,
                      endpoints=[f"{e.name} {redact(e.cfg.url)}" for e in self.endpoints])

    async def stop(self, drain: float = 15.0) -> None:
        self._stopping = True
        for wk in self.workers:
            wk.wake.set()
        if self.tasks:
            _done, pending = await asyncio.wait(self.tasks, timeout=drain)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
            for t in self.tasks:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    self.log.error("webhook_worker_failed", task=t.get_name(),
                                   reason=repr(t.exception()))
        for ep in self.endpoints:
            with contextlib.suppress(StoreUnavailable):
                await self.store.webhook_leave(ep.group, self.consumer)
        if self.http is not None:
            await self.http.close()
        self.tasks = []


def insecure(w: WebhookConfig) -> bool:
    """Plain http:// to a host that is not loopback: the body crosses the network in
    clear (the signature protects integrity, not confidentiality)."""
    u = urlsplit(w.url)
    if u.scheme == "https":
        return False
    try:
        return not ipaddress.ip_address(u.hostname or "").is_loopback
    except ValueError:
        return u.hostname != "localhost"


def store_config(cfg: Config) -> Any:
    """The webhook pool: blocking XREADGROUP needs a connection per endpoint and socket
    timeouts longer than the block."""
    return dataclasses.replace(cfg.redis, pool_size=2 * len(cfg.webhooks) + 1,
                               deadline_ms=max(cfg.redis.deadline_ms, 2000))
