"""The only module that imports redis. Every call is bounded by the configured deadline;
any Redis trouble surfaces as StoreUnavailable, which the relay turns into 451."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .address import Address
from .config import RedisConfig
from .errors import StoreUnavailable
from .keys import AUDIT_STREAM_MAXLEN, BOUNCE_STREAM_MAXLEN, Keys
from .model import RecipientState, Suppression


@dataclass(frozen=True, slots=True)
class SuppressionRecord:
    address_key: str
    scope: str
    reason: str
    source: str
    at: float
    expires_at: float | None = None
    evidence: str | None = None

    def to_json(self) -> str:
        d: dict[str, Any] = {"reason": self.reason, "source": self.source, "at": self.at}
        if self.expires_at is not None:
            d["expires_at"] = self.expires_at
        if self.evidence is not None:
            d["evidence"] = self.evidence
        return json.dumps(d, separators=(",", ":"), sort_keys=True)


def _decode_suppression(address_key: str, scope: str, raw: str) -> Suppression:
    try:
        d = json.loads(raw)
        return Suppression(
            address=address_key,
            scope=scope,
            reason=str(d.get("reason", "unknown")),
            source=str(d.get("source", "unknown")),
            at=float(d.get("at", 0.0)),
            expires_at=float(d["expires_at"]) if d.get("expires_at") is not None else None,
            evidence=d.get("evidence"),
        )
    except (ValueError, TypeError, AttributeError):
        # A value another tool wrote badly still suppresses (fail safe).
        return Suppression(address=address_key, scope=scope, reason="unparseable",
                           source="unknown", at=0.0)


class Store:
    def __init__(self, cfg: RedisConfig, url: str, keys: Keys | None = None) -> None:
        self.cfg = cfg
        self.keys = keys or Keys(cfg.key_prefix)
        self.deadline = cfg.deadline_ms / 1000.0
        # BlockingConnectionPool waits (up to pool_wait_ms) for a free connection instead
        # of raising at once when all are busy, so a burst queues rather than 451s.
        self.pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=cfg.pool_size,
            timeout=cfg.pool_wait_ms / 1000.0,
            socket_timeout=max(self.deadline, 0.05),
            socket_connect_timeout=max(self.deadline, 0.05),
            decode_responses=True,
            health_check_interval=0,
        )
        self.redis: aioredis.Redis = aioredis.Redis(connection_pool=self.pool)
        self.pool_wait = cfg.pool_wait_ms / 1000.0
        # At most pool_size round trips in flight, so the pool below always has a free
        # connection and the deadline measures Redis, not the queue in front of it.
        self._slots = asyncio.Semaphore(cfg.pool_size)
        self.round_trips = 0

    async def close(self) -> None:
        await self.redis.aclose()
        await self.pool.disconnect()

    async def _bounded(self, aw: Awaitable[Any], what: str, deadline: float | None = None) -> Any:
        """Run one Redis round trip: first wait (up to pool_wait_ms) for a free connection
        slot, so a burst queues instead of failing; then the deadline covers Redis alone."""
        self.round_trips += 1
        try:
            async with asyncio.timeout(self.pool_wait):
                await self._slots.acquire()
        except TimeoutError:
            close = getattr(aw, "close", None)
            if close is not None:
                close()  # never-started coroutine: avoid a "never awaited" warning
            raise StoreUnavailable(f"redis {what}: no free connection within pool_wait_ms"
                                   ) from None
        try:
            async with asyncio.timeout(deadline if deadline is not None else self.deadline):
                return await aw
        except TimeoutError:
            raise StoreUnavailable(f"redis {what}: deadline exceeded") from None
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis {what}: {type(exc).__name__}: {exc}") from None
        finally:
            self._slots.release()

    # -- canary -----------------------------------------------------------------------

    async def epoch(self) -> str | None:
        value: str | None = await self._bounded(self.redis.get(self.keys.epoch), "epoch")
        return value

    async def init_epoch(self) -> str:
        value = f"{time.time():.6f}"
        created = await self._bounded(
            self.redis.set(self.keys.epoch, value, nx=True), "init epoch", deadline=5.0
        )
        if created:
            return value
        existing = await self.epoch()
        assert existing is not None
        return existing

    async def ping(self) -> None:
        await self._bounded(self.redis.ping(), "ping")

    # -- suppressions -------------------------------------------------------------------

    async def recipient_states(self, addresses: Iterable[Address]) -> list[RecipientState]:
        """Canary check plus every recipient's suppressions in ONE round trip."""
        addrs = list(addresses)
        lookups: list[list[str]] = []
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.epoch)
            for a in addrs:
                # Look up the folded key and, when it differs, the exact canonical form
                # too, in case another tool wrote the unfolded address.
                ks = [a.key] if a.key == a.canonical else [a.key, a.canonical]
                lookups.append(ks)
                for k in ks:
                    pipe.hgetall(self.keys.suppression(k))
            results: list[Any] = await self._bounded(pipe.execute(), "lookup")
        if results[0] is None:
            raise StoreUnavailable("redis canary key missing: store lost its data")
        states: list[RecipientState] = []
        i = 1
        for a, ks in zip(addrs, lookups, strict=True):
            supps: list[Suppression] = []
            for k in ks:
                h: dict[str, str] = results[i]
                i += 1
                supps.extend(_decode_suppression(k, scope, v) for scope, v in sorted(h.items()))
            states.append(RecipientState(address=a, suppressions=tuple(supps)))
        return states

    async def add_suppression(self, rec: SuppressionRecord, actor: str) -> bool:
        """Write a suppression and its audit entry atomically. Returns True if new."""
        key = self.keys.suppression(rec.address_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, rec.scope, rec.to_json())
            pipe.xadd(
                self.keys.audit_stream,
                {
                    "action": "suppress",
                    "address": rec.address_key,
                    "scope": rec.scope,
                    "reason": rec.reason,
                    "source": rec.source,
                    "at": f"{rec.at:.6f}",
                    "actor": actor,
                },
                maxlen=AUDIT_STREAM_MAXLEN,
                approximate=True,
            )
            res: list[Any] = await self._bounded(pipe.execute(), "suppress", deadline=5.0)
        return bool(res[0])

    async def remove_suppression(
        self, address_key: str, scope: str | None, reason: str, actor: str
    ) -> int:
        key = self.keys.suppression(address_key)
        existing: dict[str, str] = await self._bounded(self.redis.hgetall(key), "read")
        scopes = [s for s in existing if scope is None or s == scope]
        if not scopes:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(key, *scopes)
            for s in scopes:
                pipe.xadd(
                    self.keys.audit_stream,
                    {
                        "action": "unsuppress",
                        "address": address_key,
                        "scope": s,
                        "reason": reason,
                        "source": "admin",
                        "at": f"{time.time():.6f}",
                        "actor": actor,
                    },
                    maxlen=AUDIT_STREAM_MAXLEN,
                    approximate=True,
                )
            await self._bounded(pipe.execute(), "unsuppress", deadline=5.0)
        return len(scopes)

    async def iter_suppressions(self, count: int = 1000) -> AsyncIterator[Suppression]:
        prefix_len = len(self.keys.suppression(""))
        cursor: int = 0
        while True:
            cursor, batch = await self._bounded(
                self.redis.scan(cursor, match=self.keys.suppression_pattern, count=count),
                "scan",
                deadline=10.0,
            )
            if batch:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for k in batch:
                        pipe.hgetall(k)
                    rows: list[dict[str, str]] = await self._bounded(
                        pipe.execute(), "scan read", deadline=10.0
                    )
                for k, h in zip(batch, rows, strict=True):
                    for scope, v in sorted(h.items()):
                        yield _decode_suppression(str(k)[prefix_len:], str(scope), str(v))
            if cursor == 0:
                return

    # -- bounces and notifications ----------------------------------------------------

    async def record_refusals(
        self,
        refusals: list[dict[str, Any]],
        dsn_job: dict[str, Any] | None,
        suppressions: list[SuppressionRecord],
    ) -> None:
        """Durably record downstream refusals (and the DSN we owe) before the client's 250."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for r in refusals:
                pipe.xadd(
                    self.keys.bounce_stream,
                    {k: str(v) for k, v in r.items()},
                    maxlen=BOUNCE_STREAM_MAXLEN,
                    approximate=True,
                )
            if dsn_job is not None:
                pipe.rpush(self.keys.dsn_queue, json.dumps(dsn_job))
            for rec in suppressions:
                pipe.hset(self.keys.suppression(rec.address_key), rec.scope, rec.to_json())
                pipe.xadd(
                    self.keys.audit_stream,
                    {
                        "action": "suppress",
                        "address": rec.address_key,
                        "scope": rec.scope,
                        "reason": rec.reason,
                        "source": rec.source,
                        "at": f"{rec.at:.6f}",
                        "actor": "relay",
                    },
                    maxlen=AUDIT_STREAM_MAXLEN,
                    approximate=True,
                )
            await self._bounded(pipe.execute(), "record refusals", deadline=5.0)

    async def claim_dsn(self) -> str | None:
        value: str | None = await self._bounded(
            self.redis.lmove(self.keys.dsn_queue, self.keys.dsn_processing, "LEFT", "RIGHT"),
            "claim dsn",
        )
        return value

    async def finish_dsn(self, raw: str) -> None:
        await self._bounded(self.redis.lrem(self.keys.dsn_processing, 1, raw), "finish dsn")

    async def requeue_stale_dsns(self) -> int:
        """At start: jobs a crashed process had claimed go back to the queue."""
        n = 0
        for _ in range(100_000):
            moved = await self._bounded(
                self.redis.lmove(self.keys.dsn_processing, self.keys.dsn_queue, "RIGHT", "LEFT"),
                "requeue dsn",
            )
            if moved is None:
                break
            n += 1
        return n

    async def retry_dsn(self, raw: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self.keys.dsn_processing, 1, raw)
            pipe.rpush(self.keys.dsn_queue, raw)
            await self._bounded(pipe.execute(), "retry dsn")
