"""The inbound listener for the bounce/reply domain (SPEC §4, RELIABILITY §0.2).

Accepts only what is ours: ``bounces+TOKEN@<inbound.domain>`` (VERP),
``unsubscribe+TOKEN@<mailto domain>`` and the configured campaign reply addresses;
everything else is refused at RCPT. A message gets ``250`` only after it is written to
the spool and fsync'd (file and directory); a spool failure answers ``451``. Processing
runs after the reply, from the spool, so a Redis or downstream outage delays it but
loses nothing: each spooled message is classified (in a worker process, under
inbound.parse_timeout: a worker that misses it is killed and replaced, the message goes
to review as unknown), its suppressions written, and human replies and anything
unclassifiable are forwarded to the review mailbox with ``X-Consentry-*`` headers saying
what we concluded. Only then is the spool file removed. Files left by a crash are
processed at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from aiosmtpd.smtp import SMTP, Envelope, Session

from . import logs, rawmsg, replies
from .address import parse as parse_address
from .config import Config, parse_hostport
from .delivery import Deliverer
from .delivery import Envelope as OutEnvelope
from .errors import (
    ConfigError,
    InvalidAddress,
    MalformedMessage,
    StoreUnavailable,
    UpstreamPermanent,
    UpstreamTemporary,
)
from .inbound.classify import Verdict
from .inbound.parse import ParseLimitExceeded
from .inbound_apply import InboundActions, Outcome
from .inbound_cli import options
from .inbound_pool import ClassifyPool, LimitsUnchecked
from .smtp_server import LISTEN_BACKLOG, ConnectionLimits, DrainableSMTP, LeanDir, Sessions
from .store import Store
from .tokens import TokenCodec, TokenError, find_token

REFUSED = "550 5.1.1 No such recipient here"
SPOOL_FAILED = "451 4.3.0 Temporary local problem, please try again later"
ACCEPTED = "250 2.0.0 Ok: accepted as {id}"
TOO_MANY = "452 4.5.3 Too many recipients"
REFUSED_STRUCTURE = "554 5.6.0 Message structure exceeds limits: {reason}"
UNCHECKED = "451 4.3.0 Message structure could not be checked now, please try again later"
BUSY = "421 4.7.0 Too many connections, try again later"
_HEADER_UNSAFE = re.compile(r"[^\x20-\x7e]")
VERDICT_HEADERS = frozenset({"x-consentry-verdict", "x-consentry-recipients",
                             "x-consentry-evidence", "x-consentry-actions",
                             "x-consentry-envelope-from", "x-consentry-envelope-to",
                             "x-consentry-note"})
FORWARD_KINDS = frozenset({"reply", "unsubscribe", "unknown"})


class Spool:
    """One message = ``ID.json`` (envelope) + ``ID.eml`` (bytes), both fsync'd, then the
    directory; ``ID.eml`` appears last (rename), so a crash never leaves half a message."""

    def __init__(self, directory: Path, fsync: bool = True) -> None:
        self.dir = directory
        self.kept = directory / "kept"
        self.fsync = fsync
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kept.mkdir(parents=True, exist_ok=True)

    def _write(self, final: Path, data: bytes) -> None:
        tmp = final.with_name(f".{final.name}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            if self.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, final)

    def _sync_dir(self, d: Path) -> None:
        if self.fsync:
            fd = os.open(d, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def put(self, meta: dict[str, Any], content: bytes) -> str:
        mid = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:16]}"
        meta = {**meta, "id": mid}
        self._write(self.dir / f"{mid}.json", json.dumps(meta).encode())
        self._write(self.dir / f"{mid}.eml", content)
        self._sync_dir(self.dir)
        return mid

    def load(self, mid: str) -> tuple[dict[str, Any], bytes]:
        meta = json.loads((self.dir / f"{mid}.json").read_text())
        return meta, (self.dir / f"{mid}.eml").read_bytes()

    def mark_applied(self, mid: str) -> None:
        (self.dir / f"{mid}.applied").write_text("1")

    def applied(self, mid: str) -> bool:
        return (self.dir / f"{mid}.applied").exists()

    def remove(self, mid: str) -> None:
        for suffix in (".eml", ".json", ".applied"):
            with contextlib.suppress(FileNotFoundError):
                (self.dir / f"{mid}{suffix}").unlink()
        self._sync_dir(self.dir)

    def keep(self, mid: str) -> None:
        """Move a message that cannot be forwarded aside; it is never deleted."""
        for suffix in (".eml", ".json"):
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.dir / f"{mid}{suffix}", self.kept / f"{mid}{suffix}")
        with contextlib.suppress(FileNotFoundError):
            (self.dir / f"{mid}.applied").unlink()
        self._sync_dir(self.kept)
        self._sync_dir(self.dir)

    def pending(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.eml")
                      if (self.dir / f"{p.stem}.json").exists())


def _clean(value: str, limit: int = 900) -> str:
    return _HEADER_UNSAFE.sub("?", value)[:limit]


def forward_copy(content: bytes, v: Verdict, outcome: Outcome | None,
                 meta: dict[str, Any]) -> bytes:
    """The message as the review mailbox gets it: our verdict headers first; any
    X-Consentry-* fields the sender put in are removed (they could forge a verdict)."""
    conf = "" if v.intent_confidence is None else f"; confidence={v.intent_confidence:.2f}"
    fields = [
        rawmsg.make_field("X-Consentry-Verdict", _clean(
            f"kind={v.kind}{conf}; review={'yes' if v.review else 'no'}; "
            f"suppress={'yes' if v.suppress else 'no'}")),
        rawmsg.make_field("X-Consentry-Envelope-From", _clean(str(meta.get("mail_from", "")))),
        rawmsg.make_field("X-Consentry-Envelope-To",
                          _clean(", ".join(meta.get("rcpts", [])))),
    ]
    if v.recipients:
        fields.append(rawmsg.make_field("X-Consentry-Recipients", _clean(", ".join(
            f"{r.get('address')} {r.get('class') or ''} {r.get('reason') or ''}".strip()
            for r in v.recipients[:20]))))
    for ev in v.evidence[-3:]:
        fields.append(rawmsg.make_field("X-Consentry-Evidence", _clean(ev, 300)))
    if outcome is not None:
        fields.append(rawmsg.make_field("X-Consentry-Actions", _clean(
            f"suppressed={len(outcome.suppressed)}; soft_counted={len(outcome.soft_counted)}"
            f"; unresolved={len(outcome.unresolved)}")))
    data = rawmsg.normalize_newlines(content)
    try:
        msg = rawmsg.parse(data)
    except MalformedMessage:
        note = rawmsg.make_field("X-Consentry-Note", "original header section malformed")
        return b"".join(f.raw for f in [*fields, note]) + data
    return msg.without(VERDICT_HEADERS).with_prepended(fields).to_bytes()


class InboundProcessor:
    """Classify, apply and forward spooled messages; retry what failed."""

    def __init__(self, cfg: Config, store: Store, deliverer: Deliverer, spool: Spool,
                 codec: TokenCodec | None) -> None:
        self.cfg = cfg
        self.store = store
        self.deliverer = deliverer
        self.spool = spool
        self.codec = codec
        self.actions = InboundActions(cfg, store)
        ib = cfg.inbound
        self.pool = ClassifyPool(ib.parse_workers, ib.classify_timeout or ib.parse_timeout)
        self.active = 0  # messages being processed right now
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.queued: set[str] = set()
        self.log = logs.get("consentry.inbound")
        self.idle = asyncio.Event()
        self.idle.set()
        self.counters: dict[str, int] = {}
        self.attempts: dict[str, int] = {}
        self.retry_handles: dict[str, asyncio.TimerHandle] = {}

    def submit(self, mid: str) -> None:
        self.retry_handles.pop(mid, None)
        if mid not in self.queued:
            self.queued.add(mid)
            self.idle.clear()
            self.queue.put_nowait(mid)

    def _count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1

    async def run(self, retry_interval: float = 30.0) -> None:
        """As many messages at a time as there are classifier workers, so one slow
        message does not hold up the others."""
        slots = asyncio.Semaphore(self.pool.size)
        inflight: set[asyncio.Task[None]] = set()
        try:
            while True:
                await slots.acquire()
                try:
                    mid = await asyncio.wait_for(self.queue.get(), timeout=retry_interval)
                except TimeoutError:
                    slots.release()
                    for left in self.spool.pending():
                        self.submit(left)
                    continue
                self.active += 1
                task = asyncio.create_task(self._one(mid, retry_interval, slots))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
        finally:
            for task in list(inflight):
                task.cancel()
            for task in list(inflight):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _one(self, mid: str, retry_interval: float, slots: asyncio.Semaphore) -> None:
        done = False
        try:
            done = await self.process(mid)
        except Exception as exc:  # one bad message never stops the loop
            self.log.error("inbound_process_crashed", id=mid, error=repr(exc)[:300])
        finally:
            self.active -= 1
            slots.release()
            self.queued.discard(mid)
            if done:
                self.attempts.pop(mid, None)
            else:
                # Redis or downstream trouble: back off, the spool keeps the message.
                n = self.attempts[mid] = self.attempts.get(mid, 0) + 1
                delay = min(retry_interval, 0.5 * 2 ** min(n, 10))
                self.retry_handles[mid] = asyncio.get_running_loop().call_later(
                    delay, self.submit, mid)
            # `queued` holds every submitted message until it finished: one the queue
            # has handed to the run loop, not yet started, is neither queued nor active.
            if not self.queued:
                self.idle.set()

    async def _classify(self, content: bytes, meta: dict[str, Any]) -> Verdict:
        # In a worker process under inbound.parse_timeout (inbound_pool): a message that
        # needs longer is handed to a human as unknown rather than guessed at, and
        # neither the listener nor the other workers wait for it.
        opts = options(self.cfg, self.codec)
        return await self.pool.classify(content, meta.get("rcpts", []),
                                        meta.get("mail_from"), opts)

    async def process(self, mid: str) -> bool:
        """True when the message is finished (removed or kept), False to retry later."""
        try:
            meta, content = self.spool.load(mid)
        except (OSError, ValueError) as exc:
            self.log.error("inbound_spool_unreadable", id=mid, error=str(exc))
            return False
        t0 = time.monotonic()
        v = await self._classify(content, meta)
        outcome: Outcome | None = None
        try:
            if not self.spool.applied(mid):
                # received_at as the time: a retry re-writes the same records and the
                # same soft-bounce member, so nothing is counted twice.
                outcome = await self.actions.apply(v, now=float(meta["received_at"]))
                self.spool.mark_applied(mid)
        except StoreUnavailable as exc:
            self._count("deferred_store")
            self.log.warning("inbound_deferred", id=mid, kind=v.kind, reason=str(exc))
            return False
        forward = self._forward_wanted(v)
        if forward:
            if not self.cfg.inbound.review_mailbox:
                self.spool.keep(mid)
                self._log(mid, meta, v, outcome, "kept (no review_mailbox)", t0)
                return True
            env = OutEnvelope("", (self.cfg.inbound.review_mailbox,),
                              forward_copy(content, v, outcome, meta), smtputf8=False,
                              eightbit=True)
            try:
                await self.deliverer.deliver(env)
            except UpstreamTemporary as exc:
                self._count("deferred_forward")
                self.log.warning("inbound_forward_deferred", id=mid, reason=str(exc))
                return False
            except UpstreamPermanent as exc:
                self.spool.keep(mid)
                self._log(mid, meta, v, outcome, f"kept (review mailbox refused: {exc})", t0)
                return True
        await self._record(mid, meta, v, outcome)
        self.spool.remove(mid)
        self._log(mid, meta, v, outcome, "forwarded" if forward else "done", t0)
        return True

    def _forward_wanted(self, v: Verdict) -> bool:
        if self.cfg.inbound.forward_all:
            return True
        return v.kind in FORWARD_KINDS or v.review

    async def _record(self, mid: str, meta: dict[str, Any], v: Verdict,
                      outcome: Outcome | None) -> None:
        row = {"id": mid, "kind": v.kind, "message_id": v.message_id or "",
               "sender": v.sender or "", "at": f"{float(meta['received_at']):.6f}",
               "recipients": json.dumps(v.recipients)[:4000],
               "actions": json.dumps(outcome.as_dict() if outcome else {})[:4000]}
        with contextlib.suppress(StoreUnavailable):
            await self.store.record_inbound(row)

    def _log(self, mid: str, meta: dict[str, Any], v: Verdict, outcome: Outcome | None,
             result: str, t0: float) -> None:
        self._count(v.kind)
        self.log.info("inbound", id=mid, kind=v.kind, result=result, message_id=v.message_id,
                      sender=v.sender, rcpts=meta.get("rcpts"),
                      recipients=[f"{r.get('address')} {r.get('class')}" for r in v.recipients],
                      intent_confidence=v.intent_confidence, review=v.review,
                      suppressed=outcome.suppressed if outcome else [],
                      soft_counted=outcome.soft_counted if outcome else [],
                      unresolved=outcome.unresolved if outcome else [],
                      evidence=list(v.evidence[-3:]),
                      ms=round((time.monotonic() - t0) * 1000, 1))


class InboundHandler(LeanDir):
    def __init__(self, cfg: Config, spool: Spool, processor: InboundProcessor,
                 codec: TokenCodec | None) -> None:
        self.cfg = cfg
        self.spool = spool
        self.processor = processor
        self.codec = codec
        ib = cfg.inbound
        self.verp_domain = (ib.domain or "").lower()
        self.mailto_domain = (cfg.unsubscribe.mailto_domain or ib.domain or "").lower()
        self.reply_keys = {self._canon(a) for a in ib.reply_addresses}
        # The bomb check's own workers: a classification stuck until its deadline must
        # not hold up the reply to the next sender.
        self.checks = ClassifyPool(ib.parse_workers, ib.classify_timeout or ib.parse_timeout,
                                   name="limits")
        self.log = logs.get("consentry.inbound")

    @staticmethod
    def _canon(a: str) -> str:
        try:
            return parse_address(a, fold_case=True, plus_separators="").canonical
        except InvalidAddress:
            return a.lower()

    def accepts(self, address: str) -> bool:
        try:
            a = parse_address(address, fold_case=True, plus_separators="")
        except InvalidAddress:
            return False
        if a.canonical in self.reply_keys:
            return True
        local, domain = a.local, a.domain
        for prefix, dom in ((self.cfg.inbound.verp_local, self.verp_domain),
                            (self.cfg.unsubscribe.mailto_local, self.mailto_domain)):
            if not dom or domain != dom:
                continue
            tok = find_token(local, prefix)
            if tok is None:
                continue
            if self.codec is None:
                return True
            try:
                self.codec.verify(tok, time.time(), purpose=None)
            except TokenError as exc:
                # An expired token still names one of our recipients: a late bounce is
                # better read than refused. Forged or unknown-key tokens are refused.
                return exc.reason == "expired"
            return True
        return False

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        # Bounces come from the null sender; any syntactically usable sender is fine.
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if not self.accepts(address):
            return REFUSED
        if len(envelope.rcpt_tos) >= self.cfg.inbound.max_recipients:
            return TOO_MANY
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Recipient ok"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        peer = session.peer
        meta = {"mail_from": envelope.mail_from or "", "rcpts": list(envelope.rcpt_tos),
                "peer": f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
                "received_at": time.time(), "size": len(content)}
        # The SIGTERM drain lets a session that is being spooled get its final reply.
        if isinstance(server, DrainableSMTP):
            server.relaying = True
        try:
            # Bombs (RELIABILITY H9) are refused before we take responsibility: the
            # sender keeps it, and no review mailbox receives 10 000 nested parts. The
            # check runs in a worker process of the listener's own pool under
            # inbound.parse_timeout, never in a thread of the daemon.
            await self.checks.check(content)
        except ParseLimitExceeded as exc:
            self.log.warning("inbound_refused", reason=str(exc), peer=meta["peer"])
            return REFUSED_STRUCTURE.format(reason=str(exc)[:100])
        except LimitsUnchecked as exc:
            # Not checked in time (an overloaded host): the sender keeps the message and
            # retries; nothing unchecked is accepted.
            self.log.warning("inbound_check_failed", reason=str(exc), peer=meta["peer"])
            return UNCHECKED
        else:
            try:
                mid = await asyncio.shield(asyncio.to_thread(self.spool.put, meta, content))
            except OSError as exc:
                self.log.error("inbound_spool_failed", error=str(exc), peer=meta["peer"])
                return SPOOL_FAILED
            self.processor.submit(mid)
            return ACCEPTED.format(id=mid)
        finally:
            if isinstance(server, DrainableSMTP):
                server.relaying = False


class InboundService:
    def __init__(self, cfg: Config, store: Store, deliverer: Deliverer,
                 codec: TokenCodec | None, draining: Callable[[], bool]) -> None:
        self.cfg = cfg
        self.spool = Spool(cfg.path(cfg.inbound.spool_dir), cfg.inbound.fsync)
        self.processor = InboundProcessor(cfg, store, deliverer, self.spool, codec)
        self.handler = InboundHandler(cfg, self.spool, self.processor, codec)
        self.limits = ConnectionLimits(cfg.inbound.max_connections,
                                       cfg.inbound.max_connections_per_ip)
        from .tlsctx import server_context

        # STARTTLS (inbound.tls); SIGHUP loads new certificates into it in place
        self.tls_context = server_context(cfg, cfg.inbound.tls, "inbound.tls")
        self.draining = draining
        self.sessions = Sessions()  # open inbound sessions, for the SIGTERM drain
        self.servers: list[asyncio.Server] = []
        self.task: asyncio.Task[None] | None = None
        self.log = logs.get("consentry.inbound")

    @property
    def ports(self) -> list[int]:
        return [int(sock.getsockname()[1]) for s in self.servers for sock in s.sockets]

    def _factory(self) -> asyncio.Protocol:
        cfg = self.cfg
        service = self

        class _Gate(asyncio.Protocol):
            def __init__(self) -> None:
                self.inner: asyncio.Protocol | None = None
                self.ip = ""

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                peer = transport.get_extra_info("peername")
                self.ip = str(peer[0]) if isinstance(peer, tuple) else "unix"
                draining = service.draining()
                if draining or not service.limits.admit(self.ip):
                    w = cast(asyncio.WriteTransport, transport)  # uvloop's: no subclass
                    line = replies.SHUTTING_DOWN if draining else BUSY
                    w.write(line.encode() + b"\r\n")
                    w.close()
                    self.ip = ""
                    return
                smtp = _InboundSMTP(service.handler, data_timeout=cfg.inbound.data_timeout,
                                    sessions=service.sessions,
                                    data_size_limit=cfg.inbound.max_message_size,
                                    enable_SMTPUTF8=True, decode_data=False,
                                    hostname=cfg.server.hostname, ident="consentry inbound",
                                    timeout=cfg.inbound.command_timeout,
                                    session_timeout=cfg.inbound.session_timeout,
                                    command_call_limit={"NOOP": 20, "VRFY": 5, "HELP": 5,
                                                        "*": 2_000},
                                    tls_context=service.tls_context,
                                    require_starttls=(service.tls_context is not None
                                                      and cfg.inbound.tls.require_starttls))
                self.inner = smtp
                smtp.connection_made(transport)

            def data_received(self, data: bytes) -> None:
                if self.inner is not None:
                    self.inner.data_received(data)

            def eof_received(self) -> bool | None:
                return self.inner.eof_received() if self.inner is not None else None

            def connection_lost(self, exc: Exception | None) -> None:
                if self.ip:
                    service.limits.release(self.ip)
                    self.ip = ""
                if self.inner is not None:
                    self.inner.connection_lost(exc)

        return _Gate()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for i, hp in enumerate(self.cfg.inbound.listen):
            host, port = parse_hostport(hp, f"inbound.listen[{i}]")
            try:
                server = await loop.create_server(
                    self._factory, host, port, reuse_address=True, backlog=LISTEN_BACKLOG,
                    reuse_port=self.cfg.submission.reuse_port)  # one process per core
            except OSError as exc:
                raise ConfigError(f"inbound.listen[{i}]",
                                  f"cannot listen on {hp}: {exc.strerror}") from None
            self.servers.append(server)
        if not self.cfg.inbound.review_mailbox:
            self.log.warning("inbound_no_review_mailbox",
                             hint="human replies are kept in the spool's kept/ directory")
        await asyncio.gather(self.processor.pool.start(), self.handler.checks.start())
        left = self.spool.pending()
        for mid in left:
            self.processor.submit(mid)
        self.task = loop.create_task(self.processor.run())
        self.log.info("inbound_started", listen=self.ports, recovered=len(left),
                      domain=self.cfg.inbound.domain)

    def close_listeners(self) -> None:
        """SIGTERM: stop accepting at once (a connection racing the close gets 421)."""
        for s in self.servers:
            s.close()

    async def drain(self, grace: float) -> int:
        """SIGTERM drain, as on the submission listener: idle sessions get 421 at once, a
        transaction under way may finish within `grace` (its 250 only after the spool
        fsync), then 421 to every command; returns the sessions cut at the timeout."""
        self.close_listeners()
        left = await self.sessions.drain(grace)
        if left:
            self.log.warning("inbound_drain_timeout", sessions_cut=left, timeout=grace)
        # a message being spooled right now still gets its reply (bounded: one fsync)
        await self.sessions.wait_replied(5.0)
        self.sessions.close_all()
        return left

    async def stop(self, grace: float = 10.0) -> None:
        """After the drain: what was spooled is processed (applied, forwarded) within
        `grace`; anything left stays in the spool and is processed at the next start."""
        self.close_listeners()
        self.sessions.close_all()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.processor.idle.wait(), timeout=grace)
        for h in self.processor.retry_handles.values():
            h.cancel()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.processor.pool.close()
        await self.handler.checks.close()
        self.log.info("inbound_stopped", left_in_spool=len(self.spool.pending()),
                      **self.processor.counters)


class _InboundSMTP(DrainableSMTP):
    """DATA gets its own (longer) deadline and the SIGTERM drain gate, as on the
    submission listener."""
