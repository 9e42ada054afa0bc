"""The outgoing stages, in order:

    check bytes → parse → classify → gather state (1 Redis round trip) → decide
    → rewrite → deliver (shielded) → record refusals → log → reply

Pure work is delegated to classify/policy/rawmsg; I/O to store/delivery. This module
only orchestrates and maps the failure model to replies.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import logs, rawmsg, replies, spoolfile
from .address import Address
from .classify import CONTROL_HEADERS, classify
from .config import Config
from .copies import CopySender, envelope_sender
from .delivery import Deliverer, DeliveryResult, Envelope, RcptResult
from .errors import MalformedMessage, StoreUnavailable, UpstreamPermanent, UpstreamTemporary
from .metrics import METRICS
from .model import Decision, MessageFacts
from .policy import evaluate
from .retryq import RetryQueue
from .rewrite import (
    Prepared,
    Rewriter,
    RewriteRefused,
    RewriteTemporary,
    TrackingUncheckable,
)
from .sends import SendRecorder
from .store import Store, SuppressionRecord
from .tokens import TokenRef

# Downstream 5xx RCPT codes that mean the mailbox does not exist. Policy refusals
# (5.7.x: blocklisted IP, spam content) say nothing about the address: never suppress.
_DEAD_MAILBOX = ("5.1.1", "5.1.2", "5.1.10", "5.2.1")


@dataclass(slots=True)
class Submission:
    mail_from: str
    recipients: Sequence[Address]
    content: bytes
    client: str
    smtputf8: bool = False
    eightbit: bool = False
    received_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Counters:
    messages: int = 0
    relayed: int = 0
    all_suppressed: int = 0
    tempfail_store: int = 0
    tempfail_downstream: int = 0
    ambiguous: int = 0
    permfail: int = 0
    malformed: int = 0
    decisions_allow: int = 0
    decisions_suppress: int = 0
    copies: int = 0
    copies_queued: int = 0
    tracking_stripped: int = 0
    footer_missing: int = 0
    dkim_signed: int = 0
    rewrite_failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


OFFLOOP_REWRITES = 2  # concurrent rewrites in worker threads (see Relay._offloop)
# Unsigned copies are made on the loop up to this many (~40 us a 5 KB copy: ~1.3 ms of loop
# at most); more go to a worker thread. Under the GIL a thread saves no CPU, it only
# keeps a long rewrite from holding the loop, and each hand-off costs a thread switch.
INLINE_COPIES = 32
# Signed copies rewritten on the loop. A worker thread signs in parallel only while
# OpenSSL runs (cryptography releases the GIL for the RSA step); the rest is Python that
# contends with the loop for the GIL: off the loop, one or two signed copies cost ~19 %
# more CPU a message and got slower (209 against 229 msgs/s, 1 rcpt, c=10, on 2 cores).
INLINE_SIGNED_COPIES = 2


class Relay:
    def __init__(self, cfg: Config, store: Store, deliverer: Deliverer,
                 rewriter: Rewriter | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.deliverer = deliverer
        if rewriter is None:
            from .keyfiles import rewriter as make_rewriter

            rewriter = make_rewriter(cfg, cfg.http.base_url)
        self.rewriter = rewriter
        self.retry_queue = RetryQueue(
            store, cfg.retry, cfg.path(cfg.server.state_dir) / "spool" / "retry.jsonl")
        self.copy_sender = CopySender(deliverer, self.retry_queue,
                                      cfg.downstream.max_recipients)
        self.log = logs.get("consentry.decision")
        self.events = logs.get("consentry.relay")
        self.counters = Counters()
        self.inflight: set[asyncio.Task[str]] = set()
        # Rewrites (DKIM signing, many copies) run in worker threads, at most this many
        # at once: each holds the GIL for its canonicalisation, and under a burst (c=200,
        # 10 copies each) a full thread pool of them starved the event loop until Redis
        # lookups of other sessions missed their deadline (451). Waiting here costs the
        # signing message latency; the loop keeps its time.
        self._offloop = asyncio.Semaphore(OFFLOOP_REWRITES)
        self.fallback_spool = cfg.path(cfg.server.state_dir) / "spool" / "refusals.jsonl"
        self.sends = SendRecorder(cfg, store,
                                  cfg.path(cfg.server.state_dir) / "spool" / "sends.jsonl")

    def submit(self, sub: Submission) -> asyncio.Task[str]:
        """Run one message as its own task so a vanished client cannot cancel it halfway."""
        task = asyncio.get_running_loop().create_task(self.process(sub))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)
        return task

    async def process(self, sub: Submission) -> str:
        self.counters.messages += 1
        t0 = sub.received_at
        content = sub.content
        try:
            bare = rawmsg.find_bare_newlines(content)
            if bare:
                if self.cfg.submission.bare_newlines == "reject":
                    self.counters.malformed += 1
                    self._event("rejected", sub, reason="bare CR/LF", count=bare)
                    return replies.BARE_NEWLINE
                # Normalise before anything hashes or signs the bytes.
                content = rawmsg.normalize_newlines(content)
            msg = rawmsg.parse(content)
        except MalformedMessage as exc:
            self.counters.malformed += 1
            self._event("rejected", sub, reason=str(exc))
            return replies.for_error(exc)

        facts = classify(msg, sub.mail_from, self.cfg.classification)
        if facts.message_id is None:
            facts = _with_message_id(facts, f"<consentry.{uuid.uuid4().hex}@local>")
        ahead = self.rewriter.refs_ahead(facts, sub.recipients)
        try:
            states = await self.store.recipient_states(
                sub.recipients, [(r.ref, r.to_json()) for r in ahead], self._token_ttl())
        except StoreUnavailable as exc:
            self.counters.tempfail_store += 1
            self._event("tempfail", sub, facts, reason=str(exc))
            return replies.for_error(exc)
        now = time.time()
        decisions = [evaluate(s, facts, self.cfg.policy, now) for s in states]
        allowed = [d.recipient for d in decisions if d.allowed]
        out = msg.without(CONTROL_HEADERS).to_bytes()
        sha = hashlib.sha256(out).hexdigest()

        if not allowed:
            self.counters.all_suppressed += 1
            await self._notify_suppressed(sub, facts, decisions)
            await self._record_send(sub, facts, decisions, sha, "suppressed", None)
            self._log_decisions(sub, facts, decisions, None, t0, sha)
            return replies.ALL_SUPPRESSED.format(n=len(decisions))

        try:
            prepared = await self._rewrite(sub, facts, decisions, msg, now, ahead)
        except (RewriteRefused, RewriteTemporary, StoreUnavailable) as exc:
            self.counters.rewrite_failed += 1
            self._log_decisions(sub, facts, decisions, f"not relayed: {exc}", t0, sha)
            if isinstance(exc, TrackingUncheckable):
                return replies.TRACKING_UNCHECKABLE
            if isinstance(exc, RewriteRefused):
                return replies.FOOTER_MISSING
            return replies.TEMP_LOCAL
        try:
            result = await self._deliver(sub, facts, prepared)
        except UpstreamTemporary as exc:
            if exc.ambiguous:
                self.counters.ambiguous += 1
            self.counters.tempfail_downstream += 1
            self._log_decisions(sub, facts, decisions, f"tempfail: {exc}", t0, sha)
            return replies.for_error(exc)
        except UpstreamPermanent as exc:
            self.counters.permfail += 1
            refused: list[RcptResult] = getattr(exc, "refused", [])
            if refused:
                await self._record_refusals(sub, facts, refused, owe_dsn=False)
            await self._record_send(sub, facts, decisions, sha, "refused", f"refused: {exc}",
                                    {r.recipient: r for r in refused})
            self._log_decisions(sub, facts, decisions, f"refused: {exc}", t0, sha,
                                refused={r.recipient: r for r in refused})
            return replies.for_error(exc)

        if result.refused:
            await self._record_refusals(sub, facts, result.refused, owe_dsn=True)
        if len(allowed) < len(decisions):
            await self._notify_suppressed(sub, facts, decisions)
        self.counters.relayed += 1
        reply = f"{result.code} {result.text}".strip()
        await self._record_send(sub, facts, decisions, sha, "relayed", reply,
                                {r.recipient: r for r in result.refused}, result.accepted)
        self._log_decisions(sub, facts, decisions, reply, t0, sha,
                            refused={r.recipient: r for r in result.refused})
        return replies.DELIVERED.format(
            relayed=len(result.accepted), n=len(decisions),
            qid=result.queue_id or "(no id)",
        )

    async def _record_refusals(
        self, sub: Submission, facts: MessageFacts, refused: list[RcptResult], owe_dsn: bool
    ) -> None:
        now = time.time()
        rows: list[dict[str, Any]] = [
            {"address": r.recipient, "code": r.code, "text": r.message, "at": f"{now:.6f}",
             "source": "downstream-rcpt", "message_id": facts.message_id or ""}
            for r in refused
        ]
        by_raw = {a.raw: a for a in sub.recipients}
        supps: list[SuppressionRecord] = []
        if self.cfg.notify.record_downstream_5xx_as_bounce:
            for r in refused:
                a = by_raw.get(r.recipient)
                if a is not None and any(r.message.startswith(c) for c in _DEAD_MAILBOX):
                    supps.append(SuppressionRecord(a.key, "global", "hard_bounce",
                                                   "downstream-rcpt", now,
                                                   evidence=f"{r.code} {r.message}"[:200]))
        dsn: dict[str, Any] | None = None
        if owe_dsn and sub.mail_from and self.cfg.notify.dsn_on_downstream_refusal:
            dsn = {"id": uuid.uuid4().hex, "to": sub.mail_from, "at": now,
                   "message_id": facts.message_id, "refused": [
                       {"recipient": r.recipient, "code": r.code, "text": r.message}
                       for r in refused]}
        try:
            await self.store.record_refusals(rows, dsn, supps)
        except StoreUnavailable as exc:
            # The downstream already accepted the other recipients: answering 4xx now
            # would duplicate them on retry. Keep the obligation in a local fsync'd spool.
            self.events.error("refusal_spooled", reason=str(exc), count=len(rows))
            await asyncio.to_thread(self._spool, {"rows": rows, "dsn": dsn,
                                                  "suppressions": [s.to_json() for s in supps],
                                                  "keys": [s.address_key for s in supps]})

    async def _notify_suppressed(self, sub: Submission, facts: MessageFacts,
                                 decisions: list[Decision]) -> None:
        """Optional notice to the envelope sender for recipients dropped by policy."""
        if not (self.cfg.notify.dsn_on_suppression and sub.mail_from):
            return
        dsn = {"id": uuid.uuid4().hex, "kind": "suppressed", "to": sub.mail_from,
               "at": time.time(), "message_id": facts.message_id, "refused": [
                   {"recipient": d.recipient, "code": 550,
                    "text": f"5.7.1 not sent: suppressed by consent policy (rule {d.rule})"}
                   for d in decisions if not d.allowed]}
        try:
            await self.store.record_refusals([], dsn, [])
        except StoreUnavailable as exc:
            self.events.error("notice_spooled", reason=str(exc))
            await asyncio.to_thread(self._spool, {"rows": [], "dsn": dsn})

    async def _record_send(self, sub: Submission, facts: MessageFacts,
                           decisions: list[Decision], sha: str, outcome: str,
                           downstream: str | None, refused: dict[str, RcptResult] | None = None,
                           accepted: Sequence[str] = ()) -> None:
        """The send record (sends.py): one round trip, after the downstream answered;
        a failure is logged and spooled, never turned into a 4xx."""
        prep = _PREPARED.get()
        copy_sha = prep.shas() if prep is not None else {}
        answers: dict[str, str] = {}
        for d in decisions:
            if d.allowed:
                rr = (refused or {}).get(d.recipient)
                ans = f"{rr.code} {rr.message}" if rr else downstream
                if rr is None and prep is not None:
                    ans = prep.replies.get(d.recipient, ans)
                if ans:
                    answers[d.recipient] = ans
        await self.sends.record(self.sends.plan(
            facts, decisions, sha, copy_sha, answers, outcome, sub.mail_from, sub.client,
            list(accepted), time.time()))

    def _spool(self, entry: dict[str, Any]) -> None:
        spoolfile.append(self.fallback_spool, [json.dumps(entry)])

    def _event(self, event: str, sub: Submission, facts: MessageFacts | None = None,
               **kw: Any) -> None:
        self.events.warning(
            event, client=sub.client, mail_from=sub.mail_from,
            message_id=facts.message_id if facts else None,
            recipients=len(sub.recipients), **kw,
        )

    def _log_decisions(
        self,
        sub: Submission,
        facts: MessageFacts,
        decisions: list[Decision],
        downstream: str | None,
        t0: float,
        sha: str,
        refused: dict[str, RcptResult] | None = None,
    ) -> None:
        latency = round((time.monotonic() - t0) * 1000, 2)
        prep = _PREPARED.get()
        shas = prep.shas() if prep is not None else {}
        rewrite_log = (prep.log or None) if prep is not None else None
        rows: list[dict[str, Any]] = []
        for d in decisions:
            reply = None
            if d.allowed:
                self.counters.decisions_allow += 1
                r = (refused or {}).get(d.recipient)
                reply = f"{r.code} {r.message}" if r else downstream
                if r is None and prep is not None:
                    reply = prep.replies.get(d.recipient, reply)
            else:
                self.counters.decisions_suppress += 1
            rows.append({
                "message_id": facts.message_id,
                "campaign": facts.campaign,
                "message_class": facts.message_class,
                "classified_by": facts.classified_by,
                "list": facts.list_name,
                "category": facts.category,
                "recipient": d.recipient,
                "key": d.facts.get("key"),
                "verdict": d.verdict,
                "rule": d.rule,
                "reasons": list(d.reasons),
                "tracking": d.tracking,
                "facts": {k: v for k, v in d.facts.items() if k != "key"} or None,
                "client": sub.client,
                "mail_from": sub.mail_from,
                "downstream": reply,
                "sha256": shas.get(d.recipient) or sha,
                "rewrite": rewrite_log if d.allowed else None,
                "latency_ms": latency,
            })
        # One write for the message's lines (JSON output), else line by line through
        # structlog (console output, other levels): the same lines either way.
        if not logs.write_info_lines("decision", rows):
            log = self.log.bind()  # bound once per message, not once per line
            for row in rows:
                log.info("decision", **row)
        METRICS.message(_outcome(downstream), latency / 1000.0, downstream,
                        [(d.verdict, d.rule, facts.message_class) for d in decisions])

    async def _rewrite(self, sub: Submission, facts: MessageFacts, decisions: list[Decision],
                       msg: rawmsg.RawMessage, now: float, saved: Sequence[TokenRef] = ()
                       ) -> Prepared:
        """Copies with their headers, tracking stripped and signed; token references
        stored before any of them can leave: normally already by the lookup (`saved`),
        any other in one round trip here."""
        base = msg.without(CONTROL_HEADERS)
        allowed = [d for d in decisions if d.allowed]
        args = (base, facts, allowed, {a.raw: a for a in sub.recipients}, now,
                {r.recipient: r for r in saved})
        if len(allowed) > (INLINE_COPIES if self.rewriter.signer is None
                           else INLINE_SIGNED_COPIES):
            # Many copies, or more than a couple of signed ones (~2.5 ms a 5 KB copy with
            # the self-check): off the loop, so other sessions' Redis deadlines and SMTP
            # timers keep ticking.
            async with self._offloop:
                prepared = await asyncio.to_thread(self.rewriter.prepare, *args)
        else:
            prepared = self.rewriter.prepare(*args)
        _PREPARED.set(prepared)
        if prepared.log.get("tracking_removed"):
            self.counters.tracking_stripped += 1
        if prepared.log.get("footer") == "missing":
            self.counters.footer_missing += 1
            self._event("footer_missing", sub, facts)
        if prepared.log.get("dkim") == "signed":
            self.counters.dkim_signed += len(prepared.copies)
        stored = {r.ref for r in saved}
        await self.store.save_token_refs(
            [(r.ref, r.to_json()) for r in prepared.refs if r.ref not in stored],
            self._token_ttl())
        return prepared

    def _token_ttl(self) -> int:
        """How long a token reference is kept: the links' lifetime plus a week."""
        return int(self.cfg.tokens.max_age_days * 86400) + 7 * 86400

    async def _deliver(self, sub: Submission, facts: MessageFacts, prepared: Prepared
                       ) -> DeliveryResult:
        if len(prepared.copies) == 1 and (
                len(prepared.copies[0].recipients) <= self.cfg.downstream.max_recipients):
            c = prepared.copies[0]
            return await self.deliverer.deliver(
                Envelope(envelope_sender(c, sub.mail_from), c.recipients, c.content,
                         sub.smtputf8, sub.eightbit, c.payload))
        self.counters.copies += len(prepared.copies)
        outcome = await self.copy_sender.send(sub.mail_from, prepared.copies, sub.smtputf8,
                                              sub.eightbit, facts.message_id)
        prepared.replies.update(outcome.replies)
        self.counters.copies_queued += len(outcome.queued)
        self.counters.ambiguous += outcome.ambiguous
        return outcome.result

    async def drain(self, grace: float) -> int:
        """Wait for in-flight messages; return how many were still running at the deadline."""
        if not self.inflight:
            return 0
        _done, pending = await asyncio.wait(set(self.inflight), timeout=grace)
        return len(pending)


# The rewrite of the message being processed, for its decision log lines (each message
# runs in its own task, so this never leaks between messages).
_PREPARED: contextvars.ContextVar[Prepared | None] = contextvars.ContextVar(
    "consentry_prepared", default=None)


def _outcome(downstream: str | None) -> str:
    if downstream is None:
        return "suppressed"
    for prefix, name in (("tempfail:", "tempfail"), ("refused:", "refused"),
                         ("not relayed:", "not_relayed")):
        if downstream.startswith(prefix):
            return name
    return "relayed"


def _with_message_id(facts: MessageFacts, mid: str) -> MessageFacts:
    from dataclasses import replace

    return replace(facts, message_id=mid)


__all__ = ["DeliveryResult", "Path", "Relay", "Submission"]
