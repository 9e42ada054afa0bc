"""A real aiosmtpd SMTP sink on loopback that records every message and can be told to
fail at any stage (the Mailman 3 test pattern)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session, syntax

from .redis_proc import free_port


@dataclass
class Received:
    mail_from: str
    rcpts: list[str]
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class SinkControl:
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address -> "550 5.1.1 ..."
    rcpt_reply: str | None = None  # the reply to every RCPT (unless rcpt_replies names it)
    mail_reply: str | None = None
    data_cmd_reply: str | None = None  # the reply to the DATA command itself (before 354)
    data_reply: str | None = None  # e.g. "451 4.3.0 try later"
    data_delay: float = 0.0
    drop_after_dot: bool = False  # close the connection instead of answering the final dot
    # Per recipient: the reply to the final dot of a transaction that includes it, or
    # "drop" to close the connection instead (one copy of many failing mid-chain).
    data_reply_for: dict[str, str] = field(default_factory=dict)
    greeting_421: bool = False
    on_data: Callable[[], None] | None = None  # called when a final dot arrives (fault hooks)
    # called with the envelope when a final dot arrives; a reply it returns is sent instead
    # of accepting (a fault timed to one particular message or copy)
    on_message: Callable[[Envelope], str | None] | None = None
    # Announce PIPELINING in EHLO as real MTAs do (aiosmtpd itself reads pipelined
    # commands in order but does not say so); off: the relay's step-by-step path.
    pipelining: bool = True
    # Recipients one transaction takes; RCPTs beyond get `too_many_reply` (a downstream
    # with a recipient limit, like Postfix's smtpd_recipient_limit).
    max_rcpts: int | None = None
    too_many_reply: str = "452 4.5.3 Error: too many recipients"


class SinkHandler:
    def __init__(self, control: SinkControl) -> None:
        self.control = control
        self.received: list[Received] = []
        self.sessions = 0
        self.rsets = 0

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if self.control.mail_reply:
            return self.control.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        reply = self.control.rcpt_replies.get(address) or self.control.rcpt_reply
        if reply:
            return reply
        limit = self.control.max_rcpts
        if limit is not None and len(envelope.rcpt_tos) >= limit:
            return self.control.too_many_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        if not self.control.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RSET(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.rsets += 1
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.control.on_data is not None:
            self.control.on_data()
        if self.control.data_delay:
            await asyncio.sleep(self.control.data_delay)
        if self.control.on_message is not None:
            reply = self.control.on_message(envelope)
            if reply:
                return reply
        special = next((self.control.data_reply_for[r] for r in envelope.rcpt_tos
                        if r in self.control.data_reply_for), None)
        if self.control.drop_after_dot or special == "drop":
            assert server.transport is not None
            server.transport.abort()
            return "421 dropped"  # never reaches the client
        if special is not None:
            return special
        if self.control.data_reply:
            return self.control.data_reply
        self.received.append(Received(envelope.mail_from or "", list(envelope.rcpt_tos),
                                      envelope.original_content or b""))
        return f"250 2.0.0 Ok: queued as Q{len(self.received):05d}"


class _SinkSMTP(SMTP):
    """aiosmtpd's server plus the two faults its hooks cannot express: a refusal of the
    DATA command itself, and a 421 that closes the connection (RFC 5321 §3.8)."""

    def __init__(self, handler: SinkHandler, **kw: Any) -> None:
        super().__init__(handler, **kw)
        self.sink_control = handler.control

    async def push(self, status: str) -> None:
        await super().push(status)
        if status.startswith("421") and self.transport is not None:
            self.transport.close()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        reply = self.sink_control.data_cmd_reply
        if reply and self.envelope is not None and self.envelope.rcpt_tos:
            await self.push(reply)
            return
        await super().smtp_DATA(arg)


class Sink:
    def __init__(self) -> None:
        self.control = SinkControl()
        self.handler = SinkHandler(self.control)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.protocols: list[asyncio.BaseProtocol] = []

    async def start(self, port: int = 0) -> None:
        """Listen on a free port, or on `port` again after `kill` (a restarted MTA). The
        free port is one of free_port()'s, outside the kernel's ephemeral range, so no
        other listener or client socket takes it while the sink is down."""
        loop = asyncio.get_running_loop()
        handler = self.handler
        control = self.control
        protocols = self.protocols

        def factory() -> Any:
            if control.greeting_421:
                return _Greet421()
            handler.sessions += 1
            proto = _SinkSMTP(handler, enable_SMTPUTF8=True, decode_data=False,
                              hostname="sink.test")
            protocols[:] = [p for p in protocols if getattr(p, "transport", None)]
            protocols.append(proto)
            return proto

        self.server = await loop.create_server(factory, "127.0.0.1", port or free_port())
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def kill(self) -> None:
        """A crashed MTA: the listener gone and every open connection reset, mid-reply or
        not (start(self.port) brings it back on the same port)."""
        if self.server is not None:
            self.server.close()
        for proto in self.protocols:
            transport = getattr(proto, "transport", None)
            if transport is not None:
                transport.abort()
        self.protocols.clear()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def delivered_to(self) -> list[str]:
        return [r for m in self.received for r in m.rcpts]


class _Greet421(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.3.2 sink says go away\r\n")
        transport.close()
