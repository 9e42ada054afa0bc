"""Relaying one message as one copy per recipient, all-or-nothing as far as SMTP allows.

1. Every recipient's RCPT is asked downstream first, in one transaction that is then
   reset (deliverer.check_recipients): any 4xx → UpstreamTemporary → the client gets
   451 and nothing was sent (RELIABILITY §0.3). 5xx recipients are refused as usual.
2. Copies are sent until the first is accepted; a failure before that is the whole
   message's failure (451/5xx, nothing delivered, the client's retry cannot duplicate).
3. After the first acceptance the client will get 250, so every remaining copy is
   either accepted, refused (recorded, DSN), or put in the durable retry queue before
   the reply — never dropped, never resent to a recipient that has it. The remaining
   copies go over PARALLEL connections, chained on each where the downstream speaks
   PIPELINING (deliverer.deliver_many: one write per copy).

A copy may carry several recipients: a message for more recipients than
`downstream.max_recipients` goes out as several transactions of the same content
(RFC 5321 §4.5.3.1.8 obliges a server to take 100 recipients, not more), and the check
of step 1 is made in transactions of that size too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from . import logs
from .delivery import Deliverer, DeliveryResult, Envelope, RcptResult
from .errors import UpstreamPermanent, UpstreamTemporary
from .retryq import RetryJob, RetryQueue
from .rewrite import Copy

PARALLEL = 4  # concurrent copy transactions per message (each holds a pool slot)
RCPT_LIMIT = 100  # recipients per downstream transaction (downstream.max_recipients)

ManyDeliverer = Callable[[Sequence[Envelope]], Awaitable[
    Sequence[DeliveryResult | UpstreamTemporary | UpstreamPermanent]]]


@dataclass(slots=True)
class CopiesOutcome:
    result: DeliveryResult
    replies: dict[str, str] = field(default_factory=dict)  # recipient -> what happened
    queued: list[str] = field(default_factory=list)
    ambiguous: int = 0


def _refusal(exc: UpstreamPermanent, rcpts: Sequence[str]) -> list[RcptResult]:
    refused: list[RcptResult] | None = getattr(exc, "refused", None)
    code = exc.code if 500 <= exc.code < 600 else 554
    return refused or [RcptResult(r, code, str(exc)[:200]) for r in rcpts]


def split(copies: Sequence[Copy], limit: int) -> list[Copy]:
    """Copies of at most `limit` recipients each (same content, same sender)."""
    out: list[Copy] = []
    for c in copies:
        if len(c.recipients) <= limit:
            out.append(c)
            continue
        out.extend(replace(c, recipients=c.recipients[i:i + limit])
                   for i in range(0, len(c.recipients), limit))
    return out


def envelope_sender(c: Copy, mail_from: str) -> str:
    """The MAIL FROM a copy leaves with: its VERP address (inbound.verp), unless the
    client sent with the null reverse-path, which must stay null (RFC 5321 §4.5.5)."""
    return c.mail_from if c.mail_from and mail_from else mail_from


class CopySender:
    def __init__(self, deliverer: Deliverer, queue: RetryQueue,
                 max_recipients: int = RCPT_LIMIT) -> None:
        self.deliverer = deliverer
        self.queue = queue
        self.max_recipients = max_recipients
        self.log = logs.get("consentry.copies")

    async def send(self, mail_from: str, copies: list[Copy], smtputf8: bool, eightbit: bool,
                   message_id: str | None) -> CopiesOutcome:
        def env(c: Copy) -> Envelope:
            return Envelope(envelope_sender(c, mail_from), c.recipients, c.content,
                            smtputf8, eightbit, c.payload)

        refused: list[RcptResult] = []
        todo = split(copies, self.max_recipients)
        check = getattr(self.deliverer, "check_recipients", None)
        if check is not None:
            rcpts = tuple(r for c in todo for r in c.recipients)
            ok: set[str] = set()
            for i in range(0, len(rcpts), self.max_recipients):
                accepted, no = await check(Envelope(
                    mail_from, rcpts[i:i + self.max_recipients], b"", smtputf8, eightbit))
                ok.update(accepted)
                refused.extend(no)
            todo = [c if all(r in ok for r in c.recipients)
                    else replace(c, recipients=tuple(r for r in c.recipients if r in ok))
                    for c in todo if any(r in ok for r in c.recipients)]
        out = CopiesOutcome(DeliveryResult(accepted=[], refused=refused))
        for r in refused:
            out.replies[r.recipient] = f"{r.code} {r.message}"

        # Until one copy is accepted, a failure is the whole message's (nothing sent yet).
        while todo and not out.result.accepted:
            c = todo.pop(0)
            try:
                res = await self.deliverer.deliver(env(c))
            except UpstreamPermanent as exc:
                if getattr(exc, "refused", None):  # these recipients only (RCPT 5xx)
                    self._refused(out, _refusal(exc, c.recipients))
                    continue
                raise
            self._refused(out, res.refused)
            self._accepted(out, res)
        if not out.result.accepted:
            err = UpstreamPermanent("downstream refused every copy", 550)
            if out.result.refused:
                err.code = out.result.refused[0].code
            err.refused = out.result.refused  # type: ignore[attr-defined]
            raise err

        sem = asyncio.Semaphore(PARALLEL)
        jobs: list[RetryJob] = []

        def settle(c: Copy, res: DeliveryResult | BaseException) -> None:
            if isinstance(res, UpstreamPermanent):
                self._refused(out, _refusal(res, c.recipients))
            elif isinstance(res, BaseException):  # temporary, ambiguous or unexpected
                reason = str(res) if isinstance(res, UpstreamTemporary) else (
                    type(res).__name__)
                if isinstance(res, UpstreamTemporary) and res.ambiguous:
                    out.ambiguous += 1
                for rcpt in c.recipients:  # a retry job is one recipient's
                    # The job keeps the copy's VERP sender; its DSN goes to mail_from.
                    jobs.append(RetryJob.new(envelope_sender(c, mail_from), rcpt, c.content,
                                             smtputf8, eightbit, message_id, reason,
                                             time.time(), sender=mail_from))
                    out.queued.append(rcpt)
                    out.replies[rcpt] = f"queued for retry: {reason}"[:200]
            else:
                self._refused(out, res.refused)
                self._accepted(out, res)

        async def one(c: Copy) -> None:
            async with sem:
                try:
                    res: DeliveryResult | BaseException = await self.deliverer.deliver(env(c))
                except Exception as exc:
                    res = exc
            settle(c, res)

        async def chain(cs: list[Copy], many: ManyDeliverer) -> None:
            # One outcome per copy, never an exception for one of them.
            for c, res in zip(cs, await many([env(c) for c in cs]), strict=True):
                settle(c, res)

        many: ManyDeliverer | None = getattr(self.deliverer, "deliver_many", None)
        if many is not None:
            # PARALLEL connections, each chaining its share of the copies.
            await asyncio.gather(*(chain(todo[k::PARALLEL], many)
                                   for k in range(min(PARALLEL, len(todo)))))
        else:
            await asyncio.gather(*(one(c) for c in todo))
        await self.queue.put(jobs)  # durable (Redis or fsync'd spool) before the 250
        out.result.accepted.extend(out.queued)  # ours to deliver now: counted as relayed
        if out.queued:
            self.log.warning("copies_queued", message_id=message_id, count=len(out.queued))
        return out

    @staticmethod
    def _accepted(out: CopiesOutcome, res: DeliveryResult) -> None:
        if not res.accepted:
            return
        out.result.accepted.extend(res.accepted)
        if out.result.queue_id is None:
            out.result.queue_id = res.queue_id
            out.result.code, out.result.text = res.code, res.text
        for r in res.accepted:
            out.replies[r] = f"{res.code} {res.text}".strip()

    @staticmethod
    def _refused(out: CopiesOutcome, refused: list[RcptResult]) -> None:
        out.result.refused.extend(refused)
        for r in refused:
            out.replies[r.recipient] = f"{r.code} {r.message}"
