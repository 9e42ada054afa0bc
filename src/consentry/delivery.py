"""The only module that imports aiosmtplib: one downstream transaction per message.

Semantics (SPEC §3, RELIABILITY §1.7): all recipients are given to downstream before
DATA; a 4xx on any allowed RCPT resets the transaction and tempfails the whole message
(nothing was sent, so the client's retry cannot duplicate); 5xx RCPTs are refused
individually; a lost reply after the final dot is *ambiguous* (RFC 1047).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast

import aiosmtplib
from aiosmtplib.email import quote_address

from .config import DownstreamConfig, OutboxConfig
from .errors import UpstreamPermanent, UpstreamTemporary
from .rawmsg import data_payload_parts

_QUEUED_AS = re.compile(r"queued as ([A-Za-z0-9._\-]+)", re.IGNORECASE)
_UNSAFE = re.compile(r"[^\x20-\x7e]")
# An address that needs no parsing to sit between <> on a command line; anything else
# goes through aiosmtplib's quote_address, which refuses what could inject parameters.
_PLAIN_ADDRESS = re.compile(r"[^\x00-\x20\x7f<>()\[\]\\,;:\"]+@[^\x00-\x20\x7f<>()\\,;:\"@]+")
MAX_REPLY_BYTES = 32 * 1024  # aiosmtplib's own limit for one reply


def sanitize(text: str, limit: int = 200) -> str:
    return _UNSAFE.sub("?", text)[:limit]


@dataclass(frozen=True, slots=True)
class RcptResult:
    recipient: str
    code: int
    message: str


@dataclass(slots=True)
class DeliveryResult:
    accepted: list[str]
    refused: list[RcptResult] = field(default_factory=list)
    code: int = 250
    text: str = ""
    queue_id: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    mail_from: str
    recipients: tuple[str, ...]
    content: bytes
    smtputf8: bool = False
    eightbit: bool = False
    # data_payload(content) in pieces, when the rewrite built it from parts its copies
    # share (rewrite.Copy.payload); None: computed here from content
    payload: tuple[bytes, ...] | None = None


class Deliverer(Protocol):
    async def deliver(self, env: Envelope) -> DeliveryResult: ...

    async def probe(self) -> None: ...

    async def close(self) -> None: ...

    @property
    def supports_smtputf8(self) -> bool: ...


class OutboxDeliverer:
    """The embedded default: one .eml per delivered message and recipient set."""

    def __init__(self, cfg: OutboxConfig, directory: Path) -> None:
        self.cfg = cfg
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    @property
    def supports_smtputf8(self) -> bool:
        return True

    async def probe(self) -> None:
        if not os.access(self.dir, os.W_OK):
            raise UpstreamTemporary(f"outbox {self.dir} not writable")

    async def close(self) -> None:
        return None

    async def deliver(self, env: Envelope) -> DeliveryResult:
        queue_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        head = (
            f"X-Outbox-Mail-From: <{env.mail_from}>\r\n"
            + "".join(f"X-Outbox-Rcpt-To: <{r}>\r\n" for r in env.recipients)
        ).encode("utf-8", "surrogateescape")
        data = head + env.content
        try:
            await asyncio.to_thread(self._write, queue_id, data)
        except OSError as exc:
            raise UpstreamTemporary(f"outbox write failed: {exc.strerror}") from None
        return DeliveryResult(
            accepted=list(env.recipients), text=f"2.0.0 Ok: queued as {queue_id}",
            queue_id=queue_id,
        )

    async def check_recipients(self, env: Envelope) -> tuple[list[str], list[RcptResult]]:
        return list(env.recipients), []

    def _write(self, queue_id: str, data: bytes) -> None:
        tmp = self.dir / f".{queue_id}.tmp"
        final = self.dir / f"{queue_id}.eml"
        with open(tmp, "wb") as fh:
            fh.write(data)
            if self.cfg.fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, final)
        if self.cfg.fsync:
            fd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


@dataclass(slots=True)
class _Conn:
    smtp: aiosmtplib.SMTP
    last_used: float


class SMTPDeliverer:
    """aiosmtplib to the downstream MTA with a bounded pool of reusable connections."""

    def __init__(self, cfg: DownstreamConfig, local_hostname: str,
                 ca_path: str | None = None) -> None:
        assert cfg.host is not None
        self.cfg = cfg
        self.ca_path = ca_path  # downstream.ca_file resolved against the config's dir
        self.host = cfg.host
        self.local_hostname = cfg.helo_name or local_hostname
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(cfg.pool_size)
        self._smtputf8 = False
        self._eightbit = True
        self._pipelining = True  # until a connection says otherwise

    @property
    def supports_smtputf8(self) -> bool:
        return self._smtputf8

    def _tls_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.ca_path)
        if not self.cfg.validate_certs and self.cfg.starttls != "required-verified":
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.cfg.port,
            local_hostname=self.local_hostname,
            timeout=self.cfg.command_timeout,
            start_tls=False,
            tls_context=self._tls_context() if self.cfg.starttls != "none" else None,
        )
        try:
            async with asyncio.timeout(self.cfg.connect_timeout):
                await smtp.connect()
                await smtp.ehlo()
                if self.cfg.starttls != "none":
                    if smtp.supports_extension("starttls"):
                        await smtp.starttls()
                    elif self.cfg.starttls in ("required", "required-verified"):
                        smtp.close()
                        raise UpstreamTemporary("downstream does not offer STARTTLS")
                if self.cfg.username is not None and self.cfg.password is not None:
                    await smtp.login(self.cfg.username, self.cfg.password)
        except TimeoutError:
            smtp.close()
            raise UpstreamTemporary("downstream connect timed out", 451) from None
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            if 500 <= exc.code < 600:
                raise UpstreamPermanent(f"downstream refused session: {exc.code}", 554) from None
            raise UpstreamTemporary(f"downstream refused session: {exc.code}", 451) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise UpstreamTemporary(f"downstream unreachable: {type(exc).__name__}") from None
        self._smtputf8 = smtp.supports_extension("smtputf8")
        self._eightbit = smtp.supports_extension("8bitmime")
        self._pipelining = smtp.supports_extension("pipelining")
        return smtp

    async def probe(self) -> None:
        smtp = await self._connect()
        self._idle.append(_Conn(smtp, time.monotonic()))

    async def close(self) -> None:
        while self._idle:
            c = self._idle.pop()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await c.smtp.quit()
            c.smtp.close()

    def _take_idle(self) -> aiosmtplib.SMTP | None:
        now = time.monotonic()
        while self._idle:
            c = self._idle.pop()
            if now - c.last_used < self.cfg.idle_timeout and c.smtp.is_connected:
                return c.smtp
            c.smtp.close()
        return None

    async def deliver(self, env: Envelope) -> DeliveryResult:
        async with self._slots:
            smtp = self._take_idle()
            reused = smtp is not None
            if smtp is None:
                smtp = await self._connect()
            ok = False
            try:
                try:
                    result = await self._transaction(smtp, env)
                except _StaleConnection:
                    if not reused:
                        raise UpstreamTemporary("downstream closed the connection") from None
                    # A pooled connection the server had already closed: nothing was sent,
                    # so one retry on a fresh connection is safe.
                    smtp.close()
                    smtp = await self._connect()
                    try:
                        result = await self._transaction(smtp, env)
                    except _StaleConnection:
                        raise UpstreamTemporary("downstream closed the connection") from None
                ok = True
                return result
            finally:
                if ok and smtp.is_connected:
                    self._idle.append(_Conn(smtp, time.monotonic()))
                elif not ok:
                    smtp.close()

    @staticmethod
    def _options(smtp: aiosmtplib.SMTP, env: Envelope) -> tuple[list[str], str]:
        """MAIL parameters and the command encoding for this envelope on this hop."""
        options: list[str] = []
        encoding = "ascii"
        _require_extensions(smtp, env)
        if env.smtputf8:
            options.append("SMTPUTF8")
            encoding = "utf-8"
        if env.eightbit and smtp.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        if smtp.supports_extension("size"):
            options.append(f"SIZE={len(env.content)}")
        return options, encoding

    async def _transaction(self, smtp: aiosmtplib.SMTP, env: Envelope) -> DeliveryResult:
        options, encoding = self._options(smtp, env)
        if smtp.supports_extension("pipelining"):
            return await self._pipelined(smtp, env, options, encoding)
        await self._mail(smtp, env, options, encoding)
        try:
            accepted, refused, temp = await _rcpts(smtp, env, encoding)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                ConnectionError):
            raise UpstreamTemporary("downstream lost during RCPT") from None
        if temp:
            await self._rset(smtp)
            first = temp[0]
            raise UpstreamTemporary(
                f"downstream RCPT {first.code} for {len(temp)} recipient(s): {first.message}",
                _temp_code(first.code),
            )
        if not accepted:
            await self._rset(smtp)
            first = refused[0]
            err = UpstreamPermanent(
                f"downstream refused every recipient: {first.code} {first.message}", first.code
            )
            err.refused = refused  # type: ignore[attr-defined]
            raise err
        try:
            async with asyncio.timeout(self.cfg.data_timeout):
                resp = await smtp.data(env.content)
        except aiosmtplib.SMTPDataError as exc:
            await self._rset(smtp)
            if 500 <= exc.code < 600:
                raise UpstreamPermanent(f"downstream DATA: {exc.code} {sanitize(exc.message)}",
                                        exc.code) from None
            raise UpstreamTemporary(f"downstream DATA: {exc.code} {sanitize(exc.message)}",
                                    _temp_code(exc.code)) from None
        except (TimeoutError, aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                ConnectionError):
            smtp.close()
            raise UpstreamTemporary(
                "downstream gave no reply to the final dot", 451, ambiguous=True
            ) from None
        text = sanitize(resp.message)
        m = _QUEUED_AS.search(resp.message)
        return DeliveryResult(
            accepted=accepted, refused=refused, code=resp.code, text=text,
            queue_id=m.group(1) if m else None,
        )

    async def _pipelined(self, smtp: aiosmtplib.SMTP, env: Envelope, options: list[str],
                         encoding: str) -> DeliveryResult:
        """The same transaction as the step-by-step path, for a server that announced
        PIPELINING: MAIL, every RCPT and DATA in one write, then the content once 354
        came and every allowed recipient was accepted. Two round trips, whatever the
        recipient count. When a RCPT was answered 4xx (or none was accepted) but DATA
        got 354 anyway, the connection is dropped before any content: the server
        delivers nothing, and the message is tempfailed or refused as before."""
        accepted, refused, temp, mail, data = await self._envelope_group(
            smtp, env, options, encoding, b"DATA")
        ex, reply = data
        err = _group_error(accepted, refused, temp, mail, reply)
        if err is not None:
            self._after(ex, reply)
            if smtp.is_connected:
                await self._rset(smtp)
            raise err
        try:
            ex.write(_wire(env))
            resp = await ex.read(self.cfg.data_timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                aiosmtplib.SMTPResponseException, ConnectionError):
            ex.abort()
            raise UpstreamTemporary(
                "downstream gave no reply to the final dot", 451, ambiguous=True
            ) from None
        if not ex.release():
            smtp.close()
        outcome = _final(accepted, refused, resp)
        if not isinstance(outcome, DeliveryResult):
            if smtp.is_connected:
                await self._rset(smtp)
            raise outcome
        return outcome

    @staticmethod
    def _after(ex: _Exchange, last: aiosmtplib.SMTPResponse) -> None:
        """End a group whose content will not be sent: a server left at 354 is dropped."""
        if last.code == 354:
            ex.abort()
        else:
            ex.release()

    async def _envelope_group(
        self, smtp: aiosmtplib.SMTP, env: Envelope, options: list[str], encoding: str,
        last: bytes,
    ) -> tuple[list[str], list[RcptResult], list[RcptResult], aiosmtplib.SMTPResponse,
               tuple[_Exchange, aiosmtplib.SMTPResponse]]:
        """MAIL, the RCPTs and `last` (DATA or RSET) in one write; every reply read in
        order. Returns (accepted, refused, temp, MAIL reply, (exchange, last reply)); the
        exchange still holds the transport. A connection found dead before the MAIL reply
        is _StaleConnection (nothing was accepted: safe to retry once)."""
        payload, sent, refused = _group(env, options, encoding, last)
        ex = _Exchange(smtp)
        timeout = self.cfg.command_timeout
        try:
            ex.write(payload)
            mail = await ex.read(timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                aiosmtplib.SMTPResponseException, ConnectionError) as exc:
            ex.abort()
            raise _StaleConnection() from exc
        try:
            rcpt_replies = [await ex.read(timeout) for _ in sent]
            final = await ex.read(timeout)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                aiosmtplib.SMTPResponseException, ConnectionError):
            ex.abort()
            raise UpstreamTemporary("downstream lost during RCPT") from None
        accepted, refused, temp = _judge(sent, refused, mail, rcpt_replies)
        return accepted, refused, temp, mail, (ex, final)

    async def deliver_many(self, envs: Sequence[Envelope]
                           ) -> list[DeliveryResult | UpstreamTemporary | UpstreamPermanent]:
        """Several independent transactions (per-recipient copies) on one pooled
        connection, one outcome per envelope in order; never raises for a single
        envelope. With PIPELINING they are chained: each copy's content goes in one write
        with the next copy's MAIL, RCPT and DATA (RFC 2920 §3.1 lets message content
        open a command group), so n copies cost n + 1 writes and round trips instead of
        2n. A copy refused at RCPT or DATA is that copy's outcome and the chain goes on
        (after RSET); when the connection is lost or has to be dropped (a 354 nobody may
        use), every copy not yet sent is UpstreamTemporary -- nothing of it was sent --
        and the copy waiting for its final reply is ambiguous."""
        if not envs:
            return []
        if not self._pipelining:
            return [await self._outcome(e) for e in envs]
        async with self._slots:
            for attempt in (0, 1):
                smtp = self._take_idle() if attempt == 0 else None
                reused = smtp is not None
                if smtp is None:
                    try:
                        smtp = await self._connect()
                    except (UpstreamTemporary, UpstreamPermanent) as exc:
                        return [exc for _ in envs]
                try:
                    results = await self._chain(smtp, envs)
                except _StaleConnection:
                    smtp.close()
                    if reused:
                        continue  # the server had closed it; nothing was sent: once more
                    err = UpstreamTemporary("downstream closed the connection")
                    return [err for _ in envs]
                except BaseException:
                    smtp.close()
                    raise
                if smtp.is_connected:
                    self._idle.append(_Conn(smtp, time.monotonic()))
                return results
        err = UpstreamTemporary("downstream closed the connection")  # pragma: no cover
        return [err for _ in envs]  # pragma: no cover

    async def _outcome(self, env: Envelope
                       ) -> DeliveryResult | UpstreamTemporary | UpstreamPermanent:
        try:
            return await self.deliver(env)
        except (UpstreamTemporary, UpstreamPermanent) as exc:
            return exc

    async def _chain(self, smtp: aiosmtplib.SMTP, envs: Sequence[Envelope]
                     ) -> list[DeliveryResult | UpstreamTemporary | UpstreamPermanent]:
        if not smtp.supports_extension("pipelining"):
            out: list[DeliveryResult | UpstreamTemporary | UpstreamPermanent] = []
            for e in envs:
                if not smtp.is_connected:
                    out.append(UpstreamTemporary("downstream connection lost"))
                    continue
                try:
                    out.append(await self._transaction(smtp, e))
                except (UpstreamTemporary, UpstreamPermanent) as exc:
                    out.append(exc)
                except _StaleConnection:
                    if not out:
                        raise  # nothing sent yet: the caller may retry on a new one
                    smtp.close()
                    out.append(UpstreamTemporary("downstream closed the connection"))
            return out
        results: list[DeliveryResult | UpstreamTemporary | UpstreamPermanent | None] = [
            None] * len(envs)
        groups: dict[int, tuple[bytes, list[str], list[RcptResult]]] = {}
        for i, e in enumerate(envs):
            try:
                options, encoding = self._options(smtp, e)
                groups[i] = _group(e, options, encoding, b"DATA")
            except UpstreamPermanent as exc:
                results[i] = exc
        order = sorted(groups)
        timeout = self.cfg.command_timeout

        def rest(after: int, why: str) -> list[DeliveryResult | UpstreamTemporary
                                               | UpstreamPermanent]:
            for j in order:
                if j > after and results[j] is None:
                    results[j] = UpstreamTemporary(why)
            return [r if r is not None else UpstreamTemporary(why) for r in results]

        if not order:
            return rest(-1, "nothing to send")
        ex = _Exchange(smtp)
        rset_first = False
        try:
            ex.write(groups[order[0]][0])
        except aiosmtplib.SMTPServerDisconnected as exc:
            ex.abort()
            raise _StaleConnection() from exc
        for pos, i in enumerate(order):
            nxt = groups[order[pos + 1]][0] if pos + 1 < len(order) else b""
            _payload, sent, refused = groups[i]
            try:
                if rset_first:
                    rset = await ex.read(timeout)
                    if rset.code >= 300:
                        ex.abort()
                        return rest(i - 1, f"downstream RSET: {rset.code}")
                mail = await ex.read(timeout)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                    aiosmtplib.SMTPResponseException, ConnectionError) as exc:
                ex.abort()
                if pos == 0:
                    raise _StaleConnection() from exc
                return rest(i - 1, "downstream lost before this copy was sent")
            rset_first = False
            try:
                rcpt_replies = [await ex.read(timeout) for _ in sent]
                data = await ex.read(timeout)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                    aiosmtplib.SMTPResponseException, ConnectionError):
                ex.abort()
                return rest(i - 1, "downstream lost during RCPT")
            accepted, refused_all, temp = _judge(sent, refused, mail, rcpt_replies)
            err = _group_error(accepted, refused_all, temp, mail, data)
            if err is not None:
                results[i] = err
                if data.code == 354:
                    ex.abort()  # no final dot: that transaction delivers nothing
                    return rest(i, "downstream connection dropped after a refused copy")
                if nxt:
                    rset_first = True
                    ex.write(b"RSET\r\n" + nxt)
                    continue
                # The last copy: close its transaction before the connection goes back
                # to the pool, or the next MAIL on it is a "503 nested MAIL command".
                try:
                    ex.write(b"RSET\r\n")
                    rset = await ex.read(timeout)
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                        aiosmtplib.SMTPResponseException, ConnectionError):
                    ex.abort()
                    return rest(i, "downstream lost after a refused copy")
                if rset.code >= 300:
                    ex.abort()
                    return rest(i, f"downstream RSET: {rset.code}")
                continue
            try:
                ex.write(_wire(envs[i], nxt))
                final = await ex.read(self.cfg.data_timeout)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                    aiosmtplib.SMTPResponseException, ConnectionError):
                ex.abort()
                results[i] = UpstreamTemporary(
                    "downstream gave no reply to the final dot", 451, ambiguous=True)
                return rest(i, "downstream lost before this copy was sent")
            results[i] = _final(accepted, refused_all, final)
        ex.release()
        return rest(len(envs), "not sent")

    async def check_recipients(self, env: Envelope) -> tuple[list[str], list[RcptResult]]:
        """MAIL + every RCPT, then RSET: nothing is sent. Per-recipient copies ask this
        first, so every downstream RCPT is known accepted before any copy's DATA.
        A 4xx for any recipient raises UpstreamTemporary (the caller answers 451)."""
        async with self._slots:
            for attempt in (0, 1):
                smtp = self._take_idle() if attempt == 0 else None
                reused = smtp is not None
                if smtp is None:
                    smtp = await self._connect()
                try:
                    accepted, refused, temp = await self._check(smtp, env)
                except _StaleConnection:
                    smtp.close()
                    if reused:
                        continue  # a pooled connection the server had closed: retry once
                    raise UpstreamTemporary("downstream lost during recipient check"
                                            ) from None
                except BaseException:
                    smtp.close()
                    raise
                if smtp.is_connected:
                    self._idle.append(_Conn(smtp, time.monotonic()))
                break
            else:  # pragma: no cover - the loop always breaks or raises
                raise UpstreamTemporary("downstream lost during recipient check")
        if temp:
            first = temp[0]
            raise UpstreamTemporary(
                f"downstream RCPT {first.code} for {len(temp)} recipient(s): {first.message}",
                _temp_code(first.code))
        return accepted, refused

    async def _check(self, smtp: aiosmtplib.SMTP, env: Envelope
                     ) -> tuple[list[str], list[RcptResult], list[RcptResult]]:
        encoding = "utf-8" if env.smtputf8 else "ascii"
        options = ["SMTPUTF8"] if env.smtputf8 else []
        _require_extensions(smtp, env)
        if smtp.supports_extension("pipelining"):
            accepted, refused, temp, mail, (ex, reply) = await self._envelope_group(
                smtp, env, options, encoding, b"RSET")
            self._after(ex, reply)
            if mail.code >= 300:
                raise _mail_error(mail)
            if reply.code >= 300:
                smtp.close()  # RSET refused: the session's state is unknown
            return accepted, refused, temp
        await self._mail(smtp, env, options, encoding)
        try:
            accepted, refused, temp = await _rcpts(smtp, env, encoding)
            await smtp.rset()
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                aiosmtplib.SMTPResponseException, ConnectionError):
            raise UpstreamTemporary("downstream lost during recipient check") from None
        return accepted, refused, temp

    async def _mail(self, smtp: aiosmtplib.SMTP, env: Envelope, options: list[str],
                    encoding: str) -> None:
        """MAIL FROM; a refusal resets and maps to the failure model; a dead pooled
        connection surfaces as _StaleConnection (nothing sent, safe to retry once)."""
        try:
            await smtp.mail(env.mail_from, options=options, encoding=encoding)
        except aiosmtplib.SMTPSenderRefused as exc:
            await self._rset(smtp)
            raise _mail_error(aiosmtplib.SMTPResponse(exc.code, exc.message)) from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError,
                ConnectionError) as exc:
            raise _StaleConnection() from exc

    async def _rset(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            await smtp.rset()
        except Exception:  # the connection is then not reusable; close it
            smtp.close()


class _StaleConnection(Exception):
    pass


def _group(env: Envelope, options: list[str], encoding: str, last: bytes
           ) -> tuple[bytes, list[str], list[RcptResult]]:
    """(MAIL + RCPTs + `last` as one write, recipients sent, recipients refused here
    because they cannot sit on a command line). UpstreamPermanent when none can."""
    refused: list[RcptResult] = []
    sent: list[str] = []
    lines = [b" ".join([b"MAIL FROM:" + _quote(env.mail_from, encoding),
                        *(o.encode("ascii") for o in options)])]
    for rcpt in env.recipients:
        try:
            lines.append(b"RCPT TO:" + _quote(rcpt, encoding))
            sent.append(rcpt)
        except ValueError as exc:
            refused.append(RcptResult(rcpt, 553, f"5.1.3 invalid address: {exc}"))
    if not sent:
        first = refused[0]
        err = UpstreamPermanent(
            f"downstream refused every recipient: {first.code} {first.message}", first.code)
        err.refused = refused  # type: ignore[attr-defined]
        raise err
    lines.append(last)
    return b"\r\n".join(lines) + b"\r\n", sent, refused


def _judge(sent: list[str], refused: list[RcptResult], mail: aiosmtplib.SMTPResponse,
           rcpt_replies: list[aiosmtplib.SMTPResponse]
           ) -> tuple[list[str], list[RcptResult], list[RcptResult]]:
    """(accepted, permanently refused, temporarily refused) from the RCPT replies."""
    accepted: list[str] = []
    refused = list(refused)
    temp: list[RcptResult] = []
    if mail.code < 300:
        for rcpt, r in zip(sent, rcpt_replies, strict=True):
            if r.code in (250, 251):
                accepted.append(rcpt)
            elif _rcpt_permanent(r.code, r.message):
                refused.append(RcptResult(rcpt, r.code, sanitize(r.message)))
            else:
                temp.append(RcptResult(rcpt, r.code, sanitize(r.message)))
    return accepted, refused, temp


_TOO_MANY = re.compile(r"^\s*5\.5\.3\b|too many recipients", re.IGNORECASE)


def _rcpt_permanent(code: int, message: str) -> bool:
    """A RCPT refusal that is final for its recipient. RFC 821 gave "too many
    recipients" 552; RFC 5321 §4.5.3.1.10 made it 452 and says a client SHOULD take a
    552 in that case as temporary: the recipient is fine, this transaction is full."""
    if not 500 <= code < 600:
        return False
    return not (code == 552 and _TOO_MANY.search(message) is not None)


def _group_error(accepted: list[str], refused: list[RcptResult], temp: list[RcptResult],
                 mail: aiosmtplib.SMTPResponse, data: aiosmtplib.SMTPResponse
                 ) -> UpstreamTemporary | UpstreamPermanent | None:
    """Why this transaction's content must not be sent, or None: the failure model of
    the step-by-step path (module doc)."""
    if mail.code >= 300:
        return _mail_error(mail)
    if temp:
        first = temp[0]
        return UpstreamTemporary(
            f"downstream RCPT {first.code} for {len(temp)} recipient(s): {first.message}",
            _temp_code(first.code))
    if not accepted:
        first = refused[0]
        err = UpstreamPermanent(
            f"downstream refused every recipient: {first.code} {first.message}", first.code)
        err.refused = refused  # type: ignore[attr-defined]
        return err
    if data.code != 354:
        text = f"downstream DATA: {data.code} {sanitize(data.message)}"
        if 500 <= data.code < 600:
            return UpstreamPermanent(text, data.code)
        return UpstreamTemporary(text, _temp_code(data.code))
    return None


def _final(accepted: list[str], refused: list[RcptResult], resp: aiosmtplib.SMTPResponse
           ) -> DeliveryResult | UpstreamTemporary | UpstreamPermanent:
    """The outcome a reply to the final dot gives."""
    if resp.code != 250:
        text = f"downstream DATA: {resp.code} {sanitize(resp.message)}"
        if 500 <= resp.code < 600:
            return UpstreamPermanent(text, resp.code)
        return UpstreamTemporary(text, _temp_code(resp.code))
    m = _QUEUED_AS.search(resp.message)
    return DeliveryResult(accepted=accepted, refused=refused, code=resp.code,
                          text=sanitize(resp.message), queue_id=m.group(1) if m else None)


def _mail_error(mail: aiosmtplib.SMTPResponse) -> UpstreamPermanent | UpstreamTemporary:
    text = f"downstream MAIL: {mail.code} {sanitize(mail.message)}"
    if 500 <= mail.code < 600:
        return UpstreamPermanent(text, mail.code)
    return UpstreamTemporary(text, _temp_code(mail.code))


async def _rcpts(smtp: aiosmtplib.SMTP, env: Envelope, encoding: str
                 ) -> tuple[list[str], list[RcptResult], list[RcptResult]]:
    """Every RCPT, sorted into accepted, permanently refused and temporarily refused.
    Connection loss propagates to the caller, which decides what it means."""
    accepted: list[str] = []
    refused: list[RcptResult] = []
    temp: list[RcptResult] = []
    for rcpt in env.recipients:
        try:
            await smtp.rcpt(rcpt, encoding=encoding)
            accepted.append(rcpt)
        except aiosmtplib.SMTPRecipientRefused as exc:
            r = RcptResult(rcpt, exc.code, sanitize(exc.message))
            (refused if _rcpt_permanent(exc.code, exc.message) else temp).append(r)
        except ValueError as exc:  # aiosmtplib refuses control chars in addresses
            refused.append(RcptResult(rcpt, 553, f"5.1.3 invalid address: {exc}"))
    return accepted, refused, temp


def _require_extensions(smtp: aiosmtplib.SMTP, env: Envelope) -> None:
    """Refuse, before anything is sent, what this hop cannot take unchanged."""
    if env.smtputf8 and not smtp.supports_extension("smtputf8"):
        # RFC 6531 §3.5: no downgrade of internationalised addresses
        raise UpstreamPermanent("downstream lacks SMTPUTF8", 553, "5.6.7")
    if not smtp.supports_extension("8bitmime") and not env.content.isascii():
        # RFC 6152 §3: 8-bit content only to a hop that announced 8BITMIME (we do not
        # convert: that would change the bytes we hashed and signed)
        raise UpstreamPermanent("downstream lacks 8BITMIME for 8-bit content", 554, "5.6.3")


def _temp_code(code: int) -> int:
    # 421 from downstream means "closing": tell our client 451 (we stay open).
    return 451 if code in (421,) or not 400 <= code < 500 else code


def _quote(address: str, encoding: str) -> bytes:
    """`<address>` for MAIL/RCPT; raises ValueError for what must not reach a command line."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>".encode(encoding)
    return quote_address(address).encode(encoding)


def _wire(env: Envelope, after: bytes = b"") -> bytes:
    """The copy's DATA payload, then `after` (the next copy's commands), for one write."""
    parts = env.payload if env.payload is not None else data_payload_parts(env.content)
    return b"".join((*parts, after))


class _Exchange(asyncio.Protocol):
    """One RFC 2920 pipelined exchange on a connection aiosmtplib opened (and did EHLO,
    STARTTLS and AUTH on): aiosmtplib reads one reply per command it wrote, so for a
    group of commands sent in one write this protocol takes the transport over, queues
    every complete reply in order, and hands the transport back afterwards. Connection
    loss is passed on to aiosmtplib's protocol, so its SMTP object sees it as usual."""

    def __init__(self, smtp: aiosmtplib.SMTP) -> None:
        inner, transport = smtp.protocol, smtp.transport
        if inner is None or transport is None or transport.is_closing():
            raise _StaleConnection()
        self.smtp = smtp
        self.inner = inner
        # (uvloop's transports are not asyncio.Transport subclasses, so no isinstance)
        self.transport = cast(asyncio.Transport, transport)
        self.buf = bytearray()
        self.replies: list[aiosmtplib.SMTPResponse] = []
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[bool] | None = None  # True: woken, False: timed out
        self.loop = asyncio.get_running_loop()
        transport.set_protocol(self)

    # -- asyncio.Protocol ---------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            reply = self._parse_one()
            if reply is None:
                break
            self.replies.append(reply)
        if len(self.buf) > MAX_REPLY_BYTES:
            self._fail(aiosmtplib.SMTPResponseException(500, "Response too long"))
        self._wake()

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected("Connection lost"))
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # -- use --------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        self.transport.write(data)

    async def read(self, timeout: float | None) -> aiosmtplib.SMTPResponse:  # noqa: ASYNC109
        """The next reply, waiting at most `timeout` seconds for it. (A plain timer on
        the waiter: asyncio.timeout's context manager cost more than the rest of a
        read, and there are n + 2 reads per copy.)"""
        while not self.replies:
            if self.error is not None:
                raise self.error
            waiter = self.waiter = self.loop.create_future()
            timer = (self.loop.call_later(timeout, _expire, waiter)
                     if timeout is not None else None)
            try:
                woken = await waiter
            finally:
                self.waiter = None
                if timer is not None:
                    timer.cancel()
            if not woken:
                raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
        return self.replies.pop(0)

    def release(self) -> bool:
        """Give the transport back to aiosmtplib; False (and closed) when the connection
        is not fit for reuse: an error, or bytes nobody asked for."""
        if self.transport.is_closing():
            return False
        self.transport.set_protocol(self.inner)
        if self.error is not None or self.buf or self.replies:
            self.smtp.close()
            return False
        return True

    def abort(self) -> None:
        """Drop the connection: a transaction left at 354 is abandoned without the final
        dot, so the server delivers nothing (RFC 5321 §4.1.1.4)."""
        self.transport.set_protocol(self.inner)
        self.smtp.close()

    def _parse_one(self) -> aiosmtplib.SMTPResponse | None:
        offset = 0
        lines: list[bytes] = []
        while True:
            end = self.buf.find(b"\n", offset)
            if end == -1:
                return None
            line = bytes(self.buf[offset:end + 1])
            offset = end + 1
            try:
                code = int(line[:3])
            except ValueError:
                self._fail(aiosmtplib.SMTPResponseException(
                    500, f"Malformed SMTP response line: {sanitize(line.decode('latin-1'))}"))
                del self.buf[:]
                return None
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                del self.buf[:offset]
                return aiosmtplib.SMTPResponse(
                    code, b"\n".join(lines).decode("utf-8", "surrogateescape"))

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)
