"""Durable retry queue for per-recipient copies (Redis, fsync'd local spool as fallback).

A copy lands here only when another copy of the same message was already accepted
downstream: answering 4xx then would make the client resend the delivered copies too.
So we keep the promise ourselves (RFC 5321 §6.1): the job is written before the client's
250, retried with exponential backoff by a background worker, and either delivered once,
refused permanently (recorded, DSN to the sender), or given up after `retry.max_age`
(also a DSN): never silently dropped.

Once delivered, a job gets a `done` marker before it is removed, and a worker re-checks
the marker under its lease, so a job is not delivered twice by two relays or after a
restart. The one window left is RFC 1047's: downstream took the final dot and the
worker died before the marker was written.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import logs, spoolfile
from .config import NotifyConfig, RetryConfig
from .delivery import Deliverer, Envelope
from .errors import StoreUnavailable, UpstreamPermanent, UpstreamTemporary
from .store import Store


@dataclass(frozen=True, slots=True)
class RetryJob:
    id: str
    mail_from: str
    rcpt: str
    content: bytes
    smtputf8: bool
    eightbit: bool
    message_id: str | None
    created: float
    attempts: int = 0
    last_error: str = ""
    # The client's envelope sender when mail_from is a VERP address (inbound.verp): our
    # own DSNs go there, never to the VERP address. None = mail_from is the sender.
    sender: str | None = None

    @property
    def dsn_to(self) -> str:
        return self.mail_from if self.sender is None else self.sender

    def to_json(self) -> str:
        d: dict[str, Any] = {
            "id": self.id, "mail_from": self.mail_from, "rcpt": self.rcpt,
            "content": base64.b64encode(self.content).decode("ascii"),
            "smtputf8": self.smtputf8, "eightbit": self.eightbit,
            "message_id": self.message_id, "created": self.created,
            "attempts": self.attempts, "last_error": self.last_error[:300],
        }
        if self.sender is not None:
            d["sender"] = self.sender
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> RetryJob:
        d = json.loads(raw)
        return cls(str(d["id"]), str(d["mail_from"]), str(d["rcpt"]),
                   base64.b64decode(d["content"]), bool(d.get("smtputf8")),
                   bool(d.get("eightbit")), d.get("message_id"), float(d["created"]),
                   int(d.get("attempts", 0)), str(d.get("last_error", "")),
                   str(d["sender"]) if isinstance(d.get("sender"), str) else None)

    @classmethod
    def new(cls, mail_from: str, rcpt: str, content: bytes, smtputf8: bool, eightbit: bool,
            message_id: str | None, error: str, now: float,
            sender: str | None = None) -> RetryJob:
        return cls(uuid.uuid4().hex, mail_from, rcpt, content, smtputf8, eightbit,
                   message_id, now, 1, error, None if sender == mail_from else sender)


def backoff(cfg: RetryConfig, attempts: int) -> float:
    return float(min(cfg.max_delay, cfg.initial_delay * 2 ** max(0, attempts - 1)))


class RetryQueue:
    """Enqueue side, used by the relay before it answers 250."""

    def __init__(self, store: Store, cfg: RetryConfig, spool: Path) -> None:
        self.store = store
        self.cfg = cfg
        self.spool = spool
        self.log = logs.get("consentry.retry")

    async def put(self, jobs: list[RetryJob]) -> None:
        if not jobs:
            return
        now = time.time()
        rows = [(j.id, j.to_json(), now + backoff(self.cfg, j.attempts)) for j in jobs]
        try:
            await self.store.enqueue_retries(rows)
        except StoreUnavailable as exc:
            self.log.error("retry_spooled", reason=str(exc), count=len(rows))
            await asyncio.to_thread(spoolfile.append, self.spool, [r[1] for r in rows])


class RetryWorker:
    def __init__(self, store: Store, deliverer: Deliverer, cfg: RetryConfig,
                 notify: NotifyConfig, spool: Path) -> None:
        self.store = store
        self.deliverer = deliverer
        self.cfg = cfg
        self.notify = notify
        self.spool = spool
        self.owner = uuid.uuid4().hex[:12]
        self.log = logs.get("consentry.retry")
        self.delivered = 0
        self.failed = 0
        self.backlog = 0

    async def drain_spool(self) -> int:
        """Move jobs spooled while Redis was down into Redis (then drop the file). The
        spool is claimed by a rename first, so jobs spooled meanwhile are kept for the
        next round; a failed round leaves the claimed file to be drained first."""
        work = await asyncio.to_thread(spoolfile.claim, self.spool,
                                       self.spool.with_name(self.spool.name + ".draining"))
        if work is None:
            return 0
        lines = [ln for ln in work.read_text(encoding="utf-8").splitlines() if ln]
        rows: list[tuple[str, str, float]] = []
        for ln in lines:
            try:
                rows.append((RetryJob.from_json(ln).id, ln, time.time()))
            except (ValueError, KeyError, TypeError):
                self.log.error("retry_spool_line_invalid")
        await self.store.enqueue_retries(rows)
        work.unlink()
        return len(rows)

    async def run_once(self, now: float | None = None) -> int:
        """Work through the jobs due now; returns how many were attempted."""
        now = time.time() if now is None else now
        with contextlib.suppress(StoreUnavailable, OSError):
            await self.drain_spool()
        n = 0
        self.backlog = await self.store.retry_backlog()
        for job_id in await self.store.due_retries(now):
            got, raw, done = await self.store.lease_retry(job_id, self.owner, self.cfg.lease)
            if not got:
                continue  # another worker has it; its lease TTL frees it if that one died
            if done or raw is None:  # delivered already, or an entry without its job
                await self.store.finish_retry(job_id, delivered=done)
                continue
            n += 1
            await self._attempt(RetryJob.from_json(raw), now)
        return n

    async def _attempt(self, job: RetryJob, now: float) -> None:
        env = Envelope(job.mail_from, (job.rcpt,), job.content, job.smtputf8, job.eightbit)
        try:
            result = await self.deliverer.deliver(env)
        except UpstreamPermanent as exc:
            await self._give_up(job, f"{exc.code} {exc}", exc.code)
            return
        except Exception as exc:  # anything else: keep the job, try again later
            err = str(exc) if isinstance(exc, UpstreamTemporary) else type(exc).__name__
            if now - job.created > self.cfg.max_age:
                await self._give_up(job, f"451 retry time exceeded: {err}", 451)
                return
            nxt = RetryJob(job.id, job.mail_from, job.rcpt, job.content, job.smtputf8,
                           job.eightbit, job.message_id, job.created, job.attempts + 1, err,
                           job.sender)
            await self.store.reschedule_retry(job.id, nxt.to_json(),
                                              now + backoff(self.cfg, nxt.attempts))
            self.log.warning("retry_deferred", job=job.id, rcpt=job.rcpt,
                             attempts=nxt.attempts, reason=err)
            return
        if result.refused:
            r = result.refused[0]
            await self._give_up(job, f"{r.code} {r.message}", r.code)
            return
        await self.store.finish_retry(job.id, delivered=True)
        self.delivered += 1
        self.log.info("retry_delivered", job=job.id, rcpt=job.rcpt, attempts=job.attempts,
                      message_id=job.message_id, downstream=f"{result.code} {result.text}")

    async def _give_up(self, job: RetryJob, reason: str, code: int) -> None:
        self.failed += 1
        self.log.error("retry_failed", job=job.id, rcpt=job.rcpt, reason=reason)
        rows: list[dict[str, Any]] = [{"address": job.rcpt, "code": code, "text": reason,
                                       "at": f"{time.time():.6f}", "source": "retry-queue",
                                       "message_id": job.message_id or ""}]
        dsn: dict[str, Any] | None = None
        if job.dsn_to and self.notify.dsn_on_downstream_refusal:
            dsn = {"id": uuid.uuid4().hex, "to": job.dsn_to, "at": time.time(),
                   "message_id": job.message_id,
                   "refused": [{"recipient": job.rcpt, "code": code, "text": reason}]}
        await self.store.record_refusals(rows, dsn, [])
        await self.store.finish_retry(job.id, delivered=False)

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except (StoreUnavailable, OSError, ValueError) as exc:
                self.log.warning("retry_worker_paused", reason=str(exc))
            except Exception as exc:  # the worker must outlive any one bad job
                self.log.error("retry_worker_error", reason=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.cfg.poll_interval)
