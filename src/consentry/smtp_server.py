"""The only module that imports aiosmtpd: the submission listener.

aiosmtpd keeps the protocol state machine; policy lives in small hooks. Connection caps
are enforced in the protocol factory (a refused connection never reaches aiosmtpd).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import re
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from types import MethodType
from typing import Any, cast

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, _AuthMechAttr, syntax

from . import auth, logs, replies
from .address import Address, is_relay_hack, parse
from .config import Config
from .errors import InvalidAddress
from .outbound import Relay, Submission
from .smtp_data import DataReader, DataState

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# The SMTP listeners' accept queue (asyncio's default is 100): a burst of more new
# connections than that before the loop accepts them had its SYNs dropped, and each
# dropped client waited for its 1 s SYN retransmit. The kernel caps it at somaxconn;
# connections over the caps still get 421 from the factory.
LISTEN_BACKLOG = 1024
MAX_ALLOWED_HOSTS = 4096  # client_allowed memo entries (distinct client addresses)
_READ_ALL = 1 << 30  # StreamReader.read(n): whatever is buffered (the buffer is bounded)


class _Refuse(asyncio.Protocol):
    """Answers one line and closes: used over the connection caps and while draining."""

    def __init__(self, line: str) -> None:
        self.line = line

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (cast, not isinstance: uvloop's transports are not asyncio.Transport subclasses)
        w = cast(asyncio.WriteTransport, transport)
        w.write(self.line.encode() + b"\r\n")
        w.close()


class ConnectionLimits:
    def __init__(self, total: int, per_ip: int) -> None:
        self.total = total
        self.per_ip = per_ip
        self.active = 0
        self.by_ip: Counter[str] = Counter()

    def admit(self, ip: str) -> bool:
        if self.active >= self.total or self.by_ip[ip] >= self.per_ip:
            return False
        self.active += 1
        self.by_ip[ip] += 1
        return True

    def release(self, ip: str) -> None:
        self.active -= 1
        self.by_ip[ip] -= 1
        if self.by_ip[ip] <= 0:
            del self.by_ip[ip]


class Sessions:
    """The open SMTP sessions of one listener kind, for the SIGTERM drain (RELIABILITY S1).

    While draining, a session in the middle of a transaction (MAIL given, DATA not yet
    answered) may finish it; any other command gets 421 and the session is closed. After
    the drain timeout (`hard`) every command gets 421, and the sessions still open are
    closed with an unsolicited 421 (RFC 5321 §3.8) - except one whose message is being
    relayed (or spooled) right now: it gets its final reply first.
    """

    def __init__(self) -> None:
        self.open: set[DrainableSMTP] = set()
        self.draining = False
        self.hard = False

    def busy(self) -> list[DrainableSMTP]:
        return [s for s in self.open if s.in_transaction or s.relaying]

    async def drain(self, grace: float, interval: float = 0.05) -> int:
        """Stop new transactions and wait (bounded) until none is open; returns how many
        were still open at the deadline. Idle sessions are told 421 at once."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while True:
            self.close_idle()
            if not self.busy() or loop.time() >= deadline:
                break
            await asyncio.sleep(interval)
        left = len(self.busy())
        self.hard = True
        self.close_idle()
        return left

    async def wait_replied(self, grace: float, interval: float = 0.05) -> int:
        """After the drain: wait (bounded) for the sessions whose message is still being
        relayed or spooled to get their final reply; returns how many did not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while True:
            left = sum(1 for s in self.open if s.relaying)
            if not left or loop.time() >= deadline:
                return left
            await asyncio.sleep(interval)

    def close_idle(self) -> None:
        for s in list(self.open):
            if s.relaying or (s.in_transaction and not self.hard):
                continue
            s.refuse_and_close()

    def close_all(self) -> None:
        for s in list(self.open):
            s.refuse_and_close()


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# <dot-atom@dot-atom-domain>, then the end or whitespace before parameters (no comments)
_PLAIN_ANGLE = re.compile(
    rf"<({_ATOM}(?:\.{_ATOM})*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?=$|[ \t][^(]*$)")


_AIOSMTPD_PREFIXES = ("smtp_", "auth_", "handle_")
LEAN_DIR = True  # (a test turns it off to compare aiosmtpd's tables with and without)


class LeanDir:
    """aiosmtpd's SMTP.__init__ builds its command, hook and AUTH tables from dir() and
    inspect.getmembers() of the session and of the handler, on every connection: sorted
    member lists, a getattr of each name and an inspect.signature of handle_EHLO, most
    of a session's set-up CPU. While that runs (DrainableSMTP.__init__ sets `building`),
    dir() of these objects is empty, so aiosmtpd's tables come out empty; the session
    then builds the same tables itself (`_lean_tables`) from the aiosmtpd-prefixed names
    of each class, listed once per class. At any other time dir() is the ordinary one."""

    building = False
    _names: dict[type, list[str]] = {}  # noqa: RUF012 - one cache for every subclass

    def __dir__(self) -> list[str]:
        if LeanDir.building:
            return []
        return list(super().__dir__())

    def _aiosmtpd_names(self) -> list[str]:
        """The smtp_/auth_/handle_ names dir() lists for this object (once per class),
        in dir()'s sorted order, as aiosmtpd's own walk would find them."""
        names = LeanDir._names.get(type(self))
        if names is None:
            names = LeanDir._names[type(self)] = [
                n for n in super().__dir__() if n.startswith(_AIOSMTPD_PREFIXES)]
            names.sort()
        return names


def _names_of(obj: object) -> list[str]:
    if isinstance(obj, LeanDir):
        return obj._aiosmtpd_names()
    return sorted(n for n in dir(obj) if n.startswith(_AIOSMTPD_PREFIXES))


def _mechanism(name: str, method: Any) -> str:
    """An auth_* method's AUTH mechanism, named as aiosmtpd names it."""
    return str(getattr(method, "__auth_mechanism_name__",
                       name.replace("auth_", "").replace("__", "-")))


_EHLO_FORM: dict[Any, str] = {}  # handle_EHLO function -> aiosmtpd's "old" | "new"


def _ehlo_form(hook: Any) -> str:
    """aiosmtpd's test of a handle_EHLO hook's form (4 or 5 parameters), once per
    function rather than by inspect.signature on every connection."""
    key = getattr(hook, "__func__", hook)
    form = _EHLO_FORM.get(key)
    if form is None:
        n = len(inspect.signature(hook).parameters)
        if n not in (4, 5):
            raise RuntimeError("Unsupported EHLO Hook")
        form = _EHLO_FORM[key] = "old" if n == 4 else "new"
    return form


_GATED: dict[Any, Any] = {}  # smtp_* function -> its drain-gated form (one per function)


def _drain_gated(f: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """`f` (an smtp_* function) behind the drain gate: while the listener drains, a
    command outside a transaction (or any, on a hard drain) is answered 421 and the
    session closed. One wrapper per function, bound to each session like `f` itself."""
    gated = _GATED.get(f)
    if gated is not None:
        return gated  # type: ignore[no-any-return]

    async def gate(self: DrainableSMTP, arg: str | None) -> None:
        sessions = self._sessions
        if sessions.draining and (sessions.hard or not self.in_transaction):
            self.refuse_and_close()
            return
        await f(self, arg)

    # What aiosmtpd reads off a command method (@syntax's __smtp_syntax__ and co.,
    # for HELP).
    gate.__dict__.update(f.__dict__)
    gate.__wrapped__ = f  # type: ignore[attr-defined]
    gate.__name__ = f.__name__
    _GATED[f] = gate
    return gate


class DrainableSMTP(LeanDir, SMTP):
    """aiosmtpd's SMTP with a separate (longer) deadline while a DATA transaction runs,
    registered in a `Sessions` whose drain gate every command but QUIT passes first.
    The submission and the inbound listener both use it."""

    def __init__(self, *args: Any, data_timeout: float, sessions: Sessions | None = None,
                 session_timeout: float | None = None, **kw: Any) -> None:
        if "loop" not in kw:
            # aiosmtpd would look for one with get_event_loop() under catch_warnings
            with contextlib.suppress(RuntimeError):
                kw["loop"] = asyncio.get_running_loop()
        LeanDir.building = LEAN_DIR
        try:
            super().__init__(*args, **kw)
        finally:
            LeanDir.building = False
        if LEAN_DIR:
            self._lean_tables(kw.get("auth_exclude_mechanism"))
        self._data_timeout = data_timeout
        self._session_timeout = session_timeout
        self._session_handle: asyncio.TimerHandle | None = None
        self._idle_deadline = 0.0
        self._in_data = False
        self._sessions = sessions if sessions is not None else Sessions()
        self._sessions.open.add(self)
        self.relaying = False  # set by the handler while this session's message is handled
        self._holding = False  # a MAIL or RCPT is being answered (push may hold it)
        self._held: list[bytes] = []
        if not LEAN_DIR:
            for name, method in list(self._smtp_methods.items()):
                if name != "QUIT":
                    self._smtp_methods[name] = MethodType(_drain_gated(method.__func__), self)

    def _lean_tables(self, exclude: Any) -> None:
        """aiosmtpd's tables, as SMTP.__init__ builds them, from names listed once per
        class: commands (each but QUIT behind the drain gate), AUTH mechanisms (the
        session's built-in ones, then the handler's, which win), handler hooks and the
        handle_EHLO form. A test holds them equal to aiosmtpd's own."""
        cls = type(self)
        handler = self.event_handler
        smtp: dict[str, Any] = {}
        auth_methods: dict[str, _AuthMechAttr] = {}
        for n in self._aiosmtpd_names():
            if n.startswith("smtp_"):
                f = getattr(cls, n)
                smtp[n.replace("smtp_", "")] = MethodType(
                    f if n == "smtp_QUIT" else _drain_gated(f), self)
            elif n.startswith("auth_"):
                m = getattr(self, n)
                auth_methods[_mechanism(n, m)] = _AuthMechAttr(m, True)
        hooks: dict[str, Any] = {}
        for n in _names_of(handler):
            if n.startswith("auth_"):
                m = getattr(handler, n)
                auth_methods[_mechanism(n, m)] = _AuthMechAttr(m, False)
            elif n.startswith("handle_"):
                hooks[n.replace("handle_", "")] = getattr(handler, n)
        for m in exclude or ():
            auth_methods.pop(m, None)
        self._smtp_methods = smtp
        self._auth_methods = auth_methods
        self._handle_hooks = hooks
        ehlo = hooks.get("EHLO")
        self._ehlo_hook_ver = None if ehlo is None else _ehlo_form(ehlo)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd cancels and re-creates its idle timer for every command (four or
        five per message, a few per cent of the relay's CPU in timer-heap work). Here the
        deadline moves instead, and a timer that fires before it re-arms itself for the
        rest; a deadline earlier than the pending timer (a shorter budget after DATA)
        re-arms at once. The client is cut off at the same moment as with aiosmtpd's."""
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._idle_deadline = deadline
        h = self._timeout_handle
        if h is not None and not h.cancelled() and h.when() <= deadline:
            return
        if h is not None:
            h.cancel()
        self._timeout_handle = self.loop.call_at(deadline, self._timeout_cb)

    def _timeout_cb(self) -> None:
        deadline = self._idle_deadline
        if deadline > self.loop.time():
            self._timeout_handle = self.loop.call_at(deadline, self._timeout_cb)
            return
        super()._timeout_cb()  # type: ignore[no-untyped-call]

    async def push(self, status: str | bytes) -> None:
        """aiosmtpd's push, except that the reply to a MAIL or RCPT is held while the
        client's next command is already waiting in the input buffer, and goes out in
        one write with the replies after it: RFC 2920 §3.2 lets a server answer a
        pipelined group together, and without that a client's MAIL, ten RCPTs and DATA
        got thirteen writes and thirteen wake-ups. Any other reply (DATA's 354, the
        final reply, an error, QUIT's 221) writes what is held first, and a command
        that is not already waiting cannot be held for: a client that waits for each
        reply gets each at once. A held reply that never goes out (the connection
        closed under it) answered a MAIL or RCPT: the transaction was not finished."""
        response = status.encode("utf-8" if self.enable_SMTPUTF8 else "ascii") \
            if isinstance(status, str) else status
        if self._holding and self._command_waiting():
            self._held.append(response + b"\r\n")
            return
        data = response + b"\r\n"
        if self._held:
            data = b"".join(self._held) + data
            self._held.clear()
        self._writer.write(data)
        await self._writer.drain()

    def _command_waiting(self) -> bool:
        buffer = getattr(self._reader, "_buffer", None)  # asyncio.StreamReader's
        return buffer is not None and b"\n" in buffer

    async def _holding_replies(self, command: Callable[[str | None], Awaitable[None]],
                               arg: str | None) -> None:
        self._holding = True
        try:
            await command(arg)
        finally:
            self._holding = False

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        await self._holding_replies(super().smtp_MAIL, arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        await self._holding_replies(super().smtp_RCPT, arg)

    @property
    def in_transaction(self) -> bool:
        return self.envelope is not None and self.envelope.mail_from is not None

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd parses every MAIL/RCPT address with the e-mail header parser (a
        tenth of a relay's CPU). The common form -- `<dot-atom@plain.domain>`, then
        nothing or ESMTP parameters -- is answered here with exactly aiosmtpd's result
        (a property test holds the two equal); anything else goes to aiosmtpd."""
        m = _PLAIN_ANGLE.match(arg)
        if m is not None:
            local = m.group(1)
            if self.local_part_limit and len(local) > self.local_part_limit:
                return None, None
            return f"{local}@{m.group(2)}", arg[m.end():].lstrip(" \t")
        try:
            return super()._getaddr(arg)
        except (IndexError, ValueError):
            # The stdlib header parser crashes on some malformed paths ("9@": nothing
            # after the @); aiosmtpd passes that on, and it became a 451 for ever. It is
            # a malformed address: None makes aiosmtpd answer 553 5.1.3 as for any other.
            return None, None

    def refuse_and_close(self, line: str = replies.SHUTTING_DOWN) -> None:
        self._sessions.open.discard(self)
        transport = self.transport
        if transport is not None and not transport.is_closing():
            w = cast(asyncio.WriteTransport, transport)  # uvloop's: no asyncio subclass
            w.write(b"".join(self._held) + line.encode() + b"\r\n")
            self._held.clear()
            w.close()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # aiosmtpd resets its timer only per command, so upload and our downstream
        # transaction share one budget: give DATA the longer one (RELIABILITY §0.5).
        self._reset_timeout(self._data_timeout)
        self._in_data = True
        try:
            await self._data(arg)
        finally:
            self._in_data = False
            # The transaction is over: the command timeout applies again from here, not
            # what is left of DATA's longer budget.
            t = self.transport
            if t is not None and not t.is_closing():
                self._reset_timeout()

    async def _data(self, arg: str) -> None:
        """aiosmtpd 1.4.6's smtp_DATA with the content read by smtp_data.DataReader in
        whole chunks instead of line by line; the checks before the 354, the replies and
        the handler call are aiosmtpd's, step for step."""
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        reader = self._reader
        data = DataReader(self.data_size_limit, self.line_length_limit)
        while True:
            chunk = await reader.read(_READ_ALL)
            if not chunk:  # EOF (eof_received cancels this coroutine too)
                self._writer.close()
                return
            rest = data.feed(chunk)
            if rest is not None:
                break
        if rest and not reader.at_eof():
            # Pipelined commands after the end of data: `read` took the whole buffer and
            # nothing ran since, so feeding them back keeps their order.
            reader.feed_data(rest)
        if data.state is DataState.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
            self._post_data()
            return
        if data.state is DataState.TOO_MUCH:
            await self.push("552 Error: Too much mail data")
            self._post_data()
            return
        original_content = data.content()
        content: str | bytes = original_content
        if self._decode_data:
            if self.enable_SMTPUTF8:
                content = original_content.decode("utf-8", errors="surrogateescape")
            else:
                try:
                    content = original_content.decode("ascii", errors="strict")
                except UnicodeDecodeError:
                    await self.push("500 Error: strict ASCII mode")
                    return
        self.envelope.content = content
        self.envelope.original_content = original_content
        status = await self._call_handler_hook("DATA")
        self._post_data()
        await self.push("250 OK" if status is MISSING else status)

    def _post_data(self) -> None:
        self._set_post_data_state()  # type: ignore[no-untyped-call]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # again after STARTTLS: one timer per session
        if self._session_timeout is not None and self._session_handle is None:
            self._session_handle = self.loop.call_later(self._session_timeout,
                                                        self._session_expired)

    def _session_expired(self) -> None:
        """The timeout restarts with every command, so only this ends a session that keeps
        sending NOOP/RSET/EHLO just often enough (RELIABILITY §5: per-session deadline). A
        message in DATA (upload, relay, spool) is finished and answered first."""
        if self._in_data or self.relaying:
            self._session_handle = self.loop.call_later(1.0, self._session_expired)
            return
        self._session_handle = None
        self.refuse_and_close(replies.SESSION_EXPIRED)

    def eof_received(self) -> bool | None:
        """The client closed its side: aiosmtpd cancels the session's handler, and a
        handler in its command loop closes the connection on the way out. One cancelled
        before it got there - the client gave up before the greeting (a start-up probe,
        a port scanner), on uvloop, which can see the EOF before the handler's first
        step - closed nothing: the connection stayed half-open, holding its slot under
        the connection caps, until the command timeout. Nothing is read or answered
        after EOF anyway, so the transport closes now in every case."""
        super().eof_received()
        return False

    def connection_lost(self, error: Exception | None) -> None:
        if self._session_handle is not None:
            self._session_handle.cancel()
            self._session_handle = None
        self._sessions.open.discard(self)
        super().connection_lost(error)


class SubmissionSMTP(DrainableSMTP):
    """The submission listener's session: connection caps, source routes, AUTH limits."""

    def __init__(self, *args: Any, data_timeout: float, limits: ConnectionLimits,
                 peer_ip: str, line_length_limit: int = 1001,
                 sessions: Sessions | None = None, refuse_bare_lf: bool = True,
                 session_timeout: float | None = None, **kw: Any) -> None:
        # Must be set before SMTP.__init__: it sizes the StreamReader's line limit from
        # it, and a later assignment would leave the reader at aiosmtpd's 1001.
        self.line_length_limit = line_length_limit
        super().__init__(*args, data_timeout=data_timeout, sessions=sessions,
                         session_timeout=session_timeout, **kw)
        self._limits = limits
        self._peer_ip = peer_ip
        self._released = False
        self._refuse_bare_lf = refuse_bare_lf

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        reader: Any = self._reader  # an instance attribute shadows the method
        if self._refuse_bare_lf and not getattr(reader, "_consentry_lf_guard", False):
            reader.readuntil = self._guard_commands(reader.readuntil)
            reader._consentry_lf_guard = True

    def _guard_commands(self, readuntil: Callable[..., Awaitable[bytes]]
                        ) -> Callable[..., Awaitable[bytes]]:
        """aiosmtpd reads commands up to a bare LF (StreamReader.readuntil's default), so
        an address string carrying LF - from a web form, through a sending tool that does
        not check it - splits into several commands: ``RCPT TO:<x@y>\\nRSET\\nMAIL
        FROM:<ceo@bank>\\nRCPT TO:<victim@z>`` runs four. Refusing only the LF-ended
        pieces would still run the last, CRLF-ended one, so the session ends at the first
        bare LF (as chasquid does); `bare_newlines: normalize` keeps the tolerant reading.
        DATA content is read by smtp_data.DataReader (reader.read), not through this."""

        # The tail of an over-long line: aiosmtpd discards its head with reader.read and
        # reads the rest with readuntil; `cr` is whether the discarded part ended in CR
        # (then a tail of just LF completes a CRLF). A tail ending in a bare LF ends the
        # session too: aiosmtpd answers the long line 500, and the next read is our QUIT.
        discarding = False
        cr = False
        quit_next = False
        reader: Any = self._reader
        read = reader.read

        async def tracked_read(n: int = -1) -> bytes:
            nonlocal cr
            data: bytes = await read(n)
            if discarding and data:
                cr = data.endswith(b"\r")
            return data

        reader.read = tracked_read

        async def guarded(separator: bytes = b"\n") -> bytes:
            nonlocal discarding, quit_next
            if quit_next:
                await self.push(replies.BARE_LF_COMMAND)
                return b"QUIT\r\n"
            try:
                line = await readuntil(separator)
            except asyncio.LimitOverrunError:
                discarding = True
                raise
            bare = (separator == b"\n" and line.endswith(b"\n")
                    and not line.endswith(b"\r\n"))
            if discarding:
                discarding = False
                if bare and not (line == b"\n" and cr):
                    quit_next = True
                return line
            if bare:
                await self.push(replies.BARE_LF_COMMAND)
                return b"QUIT\r\n"  # aiosmtpd answers 221 and closes: nothing else runs
            return line

        return guarded

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        # aiosmtpd strips a source route (<@relay:user@host>, RFC 5321 obs-route) before
        # the handler sees the address, so the open-relay probe would pass as a plain
        # recipient: refuse it here, on the raw argument (RELIABILITY §2, H11).
        if arg is not None and self.envelope is not None and self.envelope.mail_from:
            rest = arg.strip()
            if rest[:3].upper() == "TO:" and rest[3:].lstrip().startswith("<@"):
                await self.push(replies.RELAY_HACK)
                return
        await super().smtp_RCPT(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        # Failed-auth rate limit per client IP (consentry.auth.AuthGuard): a blocked IP
        # gets 421 and is closed; each failure costs the session failure_delay seconds.
        guard: auth.AuthGuard | None = getattr(self.event_handler, "guard", None)
        if guard is None:
            await super().smtp_AUTH(arg)
            return
        if guard.blocked(self._peer_ip):
            self.refuse_and_close(replies.AUTH_BLOCKED)
            return
        before = guard.failures(self._peer_ip)
        await super().smtp_AUTH(arg)
        if guard.failures(self._peer_ip) > before:
            await asyncio.sleep(guard.delay)
            if guard.blocked(self._peer_ip):
                self.refuse_and_close(replies.AUTH_BLOCKED)

    def connection_lost(self, error: Exception | None) -> None:
        if not self._released:
            self._released = True
            self._limits.release(self._peer_ip)
        super().connection_lost(error)


class SubmissionHandler(LeanDir):
    def __init__(self, cfg: Config, relay: Relay) -> None:
        self.relay = relay
        self.log = logs.get("consentry.smtp")
        # The live server context for STARTTLS and implicit TLS (tlsctx; SIGHUP loads new
        # certificates into it in place). None: no TLS offered.
        self.tls_context: ssl.SSLContext | None = None
        a = cfg.submission.auth
        self.guard = auth.AuthGuard(a.max_failures, a.failure_window, a.failure_delay)
        self.authenticator = auth.Authenticator({}, self.guard)
        self.reconfigure(cfg)

    def reconfigure(self, cfg: Config) -> None:
        """SIGHUP: open sessions keep this handler, so their next command and message
        see the new client networks, recipient cap and address rules."""
        self.networks: list[IPNetwork] = [
            ipaddress.ip_network(n, strict=False) for n in cfg.submission.client_networks
        ]
        self._allowed_hosts: dict[str, bool] = {}  # client_allowed's answers, per host
        users = auth.load_users(cfg)  # ConfigError: App.reload checked it first
        a = cfg.submission.auth
        self.guard.max_failures, self.guard.window = a.max_failures, a.failure_window
        self.guard.delay = a.failure_delay
        self.authenticator.users = users
        self.cfg = cfg

    def client_allowed(self, session: Session) -> bool:
        """Whether the session's peer address lies in submission.client_networks. Asked
        at every RCPT: the answer is kept per host (until a reload changes the networks;
        at most MAX_ALLOWED_HOSTS, then the memo starts again)."""
        peer = session.peer
        host = peer[0] if isinstance(peer, tuple) else None
        if host is None:
            return False
        memo = self._allowed_hosts
        known = memo.get(host)
        if known is None:
            if len(memo) >= MAX_ALLOWED_HOSTS:
                memo.clear()
            known = memo[host] = self._in_networks(host)
        return known

    def _in_networks(self, host: str) -> bool:
        try:
            ip = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in n for n in self.networks)

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope,
                          hostname: str, responses: list[str]) -> list[str]:
        # SPEC §3: PIPELINING is spoken (aiosmtpd reads pipelined commands in order) but
        # aiosmtpd does not advertise it. With this hook aiosmtpd leaves host_name to us.
        session.host_name = hostname
        if not self.authenticator.users:  # no users: AUTH is not offered at all
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_exception(self, error: Exception) -> str:
        # aiosmtpd would answer "500 Error: (ExcType) details": a permanent failure that
        # makes the client drop the message, with internals shown to a stranger. An
        # unexpected error is our problem: log it, answer 451 so the client retries.
        self.log.error("smtp_handler_error", reason=f"{type(error).__name__}: {error}")
        return replies.TEMP_LOCAL

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, mail_options: list[str]) -> str:
        # aiosmtpd hands the null reverse-path (RFC 5321 §4.5.5) over as "<>" and needs a
        # truthy mail_from for its RCPT state check; handle_DATA turns it into "".
        if address and address != "<>":
            try:
                parse(address, fold_case=False, plus_separators="")
            except InvalidAddress as exc:
                return replies.BAD_SENDER.format(reason=exc)
            if not address.isascii() and not getattr(envelope, "smtp_utf8", False):
                return replies.NEEDS_SMTPUTF8
        user = session.auth_data if session.authenticated else None
        if isinstance(user, auth.User) and not user.may_send_as(
                "" if address == "<>" else address):
            return replies.SENDER_NOT_OWNED
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        envelope.consentry_rcpts = []  # type: ignore[attr-defined]
        envelope.consentry_keys = set()  # type: ignore[attr-defined]
        return "250 2.1.0 Sender ok"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        # AUTH lets a client relay from anywhere; otherwise only client_networks may
        if not (session.authenticated or self.client_allowed(session)):
            return replies.RELAY_DENIED
        if is_relay_hack(address):
            return replies.RELAY_HACK
        if not address.isascii() and not getattr(envelope, "smtp_utf8", False):
            # Accepting it would fail later at the downstream RCPT (aiosmtplib cannot
            # send it without SMTPUTF8) and be recorded as a bogus downstream refusal.
            return replies.NEEDS_SMTPUTF8
        try:
            a = parse(address, fold_case=self.cfg.addresses.fold_case,
                      plus_separators=self.cfg.addresses.plus_separators)
        except InvalidAddress as exc:
            return replies.BAD_ADDRESS.format(reason=exc)
        rcpts: list[Address] = envelope.consentry_rcpts  # type: ignore[attr-defined]
        seen: set[str] = envelope.consentry_keys  # type: ignore[attr-defined]
        if a.canonical in seen:
            return replies.DUP_RCPT
        if len(rcpts) >= self.cfg.submission.max_recipients:
            return replies.TOO_MANY_RCPTS
        seen.add(a.canonical)
        rcpts.append(a)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return replies.RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        opts = [o.upper() for o in envelope.mail_options]
        peer = session.peer
        mail_from = envelope.mail_from or ""
        sub = Submission(
            # "" is the null sender: no DSN is ever owed to it, aiosmtplib sends <>.
            mail_from="" if mail_from == "<>" else mail_from,
            recipients=list(envelope.consentry_rcpts),  # type: ignore[attr-defined]
            content=content,
            client=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
            smtputf8="SMTPUTF8" in opts,
            eightbit="BODY=8BITMIME" in opts,
        )
        task = self.relay.submit(sub)
        # shield: if the client vanishes, aiosmtpd cancels this coroutine, but the
        # downstream transaction runs to its end and logs its outcome.
        if isinstance(server, SubmissionSMTP):
            server.relaying = True
        try:
            return await asyncio.shield(task)
        finally:
            if isinstance(server, SubmissionSMTP):
                server.relaying = False


def make_factory(
    cfg: Config, handler: SubmissionHandler, limits: ConnectionLimits,
    draining: Callable[[], bool], smtputf8: bool, sessions: Sessions | None = None,
    implicit_tls: bool = False,
) -> Callable[[], asyncio.Protocol]:
    """A protocol factory for loop.create_server that enforces the connection caps."""

    class _Factory:
        def __call__(self) -> asyncio.Protocol:
            return _Gate(self)

    class _Gate(asyncio.Protocol):
        # Peer address is only known in connection_made, so a thin gate decides there
        # and then hands the transport to a real SubmissionSMTP.
        def __init__(self, _f: Any) -> None:
            self.inner: asyncio.Protocol | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            peer = transport.get_extra_info("peername")
            ip = str(peer[0]) if isinstance(peer, tuple) else "unix"
            cfg = handler.cfg  # the config in force now (SIGHUP swaps it)
            if draining():
                self.inner = _Refuse(replies.SHUTTING_DOWN)
            elif not limits.admit(ip):
                self.inner = _Refuse(replies.TOO_MANY_CONNECTIONS)
            else:
                smtp = SubmissionSMTP(
                    handler,
                    data_timeout=cfg.submission.data_timeout,
                    limits=limits,
                    peer_ip=ip,
                    data_size_limit=cfg.submission.max_message_size,
                    enable_SMTPUTF8=smtputf8,
                    decode_data=False,
                    hostname=cfg.server.hostname,
                    ident="consentry ESMTP",
                    timeout=cfg.submission.command_timeout,
                    # AUTH: 3 per connection (RELIABILITY §5), then 421 + close; the
                    # per-IP AuthGuard covers attempts spread over connections
                    command_call_limit={"NOOP": 20, "VRFY": 5, "HELP": 5, "AUTH": 3,
                                        "*": 10_000},
                    line_length_limit=cfg.submission.line_length_limit,
                    sessions=sessions,
                    refuse_bare_lf=cfg.submission.bare_newlines == "reject",
                    session_timeout=cfg.submission.session_timeout,
                    # on an implicit-TLS listener the transport is TLS already
                    tls_context=None if implicit_tls else handler.tls_context,
                    require_starttls=(not implicit_tls and handler.tls_context is not None
                                      and cfg.submission.tls.require_starttls),
                    authenticator=handler.authenticator,
                    # implicit TLS: the transport is encrypted from the first byte
                    auth_require_tls=not implicit_tls,
                )
                self.inner = smtp
            self.inner.connection_made(transport)

        def data_received(self, data: bytes) -> None:
            assert self.inner is not None
            self.inner.data_received(data)

        def eof_received(self) -> bool | None:
            assert self.inner is not None
            return self.inner.eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            if self.inner is not None:
                self.inner.connection_lost(exc)

        def pause_writing(self) -> None:
            if self.inner is not None:
                self.inner.pause_writing()

        def resume_writing(self) -> None:
            if self.inner is not None:
                self.inner.resume_writing()

    return _Factory()
