"""The relay's wire fast paths give exactly the libraries' answers: the submission
listener's MAIL/RCPT address parser (aiosmtpd's) and the pipelined DATA payload
(aiosmtplib's)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from consentry import auth, smtp_server
from consentry.smtp_server import SubmissionSMTP

ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
atom = st.text(ATEXT, min_size=1, max_size=8)
dot_atom = st.lists(atom, min_size=1, max_size=3).map(".".join)
label = st.text("abz09-", min_size=1, max_size=6)
domain = st.lists(label, min_size=1, max_size=3).map(".".join)
noise = st.text(" \t<>()\"@.,;:\\[]aZ9=-é\x01", max_size=6)
params = st.lists(st.sampled_from(["SIZE=100", "BODY=8BITMIME", "SMTPUTF8", "X=(y)",
                                   "(comment)", ""]), max_size=3).map(" ".join)


@st.composite
def args(draw: st.DrawFn) -> str:
    local, dom = draw(dot_atom), draw(domain)
    core = draw(st.sampled_from([
        f"<{local}@{dom}>", f"<{local}@{dom}", f"{local}@{dom}", f'<"{local} x"@{dom}>',
        f"<@relay.example:{local}@{dom}>", f"<{local}..x@{dom}>", f"<.{local}@{dom}>",
        f"<{local}@[127.0.0.1]>", f"<{local}@{dom}.>", "<>", ""]))
    sep = draw(st.sampled_from(["", " ", "  ", "\t", "x"]))
    return draw(noise) * draw(st.integers(0, 1)) + core + sep + draw(params)


def parsers(limit: int) -> tuple[SubmissionSMTP, SMTP]:
    ours = object.__new__(SubmissionSMTP)
    theirs = object.__new__(SMTP)
    ours.local_part_limit = theirs.local_part_limit = limit
    return ours, theirs


@settings(max_examples=300, deadline=None)
@given(args(), st.sampled_from([0, 8, 64]))
@example("<anna@example.org>", 64)
@example("<anna@example.org> SIZE=512 BODY=8BITMIME", 64)
@example("<a.b.c.d.e.f.g.h.i@example.org>", 8)  # local part over the limit
@example("<anna@example.org>(comment)", 64)
def test_fast_path_answers_exactly_like_aiosmtpd(arg: str, limit: int) -> None:
    """Equal for every argument, except where aiosmtpd's parser crashes: there ours
    answers (None, None), aiosmtpd's "syntax error"."""
    ours, theirs = parsers(limit)
    try:
        want = theirs._getaddr(arg)
    except (IndexError, ValueError):
        want = (None, None)
    assert ours._getaddr(arg) == want


def test_a_path_that_crashes_the_header_parser_is_a_syntax_error() -> None:
    ours, theirs = parsers(64)
    with pytest.raises(IndexError):
        theirs._getaddr("9@")  # aiosmtpd 1.4.6 with Python 3.11's email parser
    assert ours._getaddr("9@") == (None, None)


def test_fast_path_is_taken_for_the_common_form(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: SMTP, arg: str) -> None:
        raise AssertionError(f"header parser used for {arg!r}")

    ours, _ = parsers(64)
    monkeypatch.setattr(SMTP, "_getaddr", refuse)
    assert ours._getaddr("<Anna.B+news@Example.org> SIZE=9") == (
        "Anna.B+news@Example.org", "SIZE=9")
    with pytest.raises(AssertionError):
        ours._getaddr('<"quoted local"@example.org>')


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60) | st.lists(st.sampled_from(
    [b"a", b".", b"\r", b"\n", b"\r\n", b"..", b"\r\n.", b"x\r\n"]), max_size=20).map(b"".join))
def test_data_payload_is_byte_for_byte_what_aiosmtplib_sends(content: bytes) -> None:
    from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

    from consentry.rawmsg import data_payload as _data_payload

    expected = PERIOD_REGEX.sub(b"..", normalize_message_line_endings(content)) + b".\r\n"
    assert _data_payload(content) == expected
    from consentry.rawmsg import data_payload_parts
    parts = data_payload_parts(content)
    if content.endswith(b"\r\n") and not content.startswith(b".") and b"\n." not in content \
            and content.count(b"\r") == content.count(b"\n") == content.count(b"\r\n"):
        assert parts[0] is content  # clean: no second copy of the content


def test_client_networks_answer_is_kept_per_host_and_a_reload_replaces_it(
        tmp_path: Path) -> None:
    """client_allowed is asked at every RCPT, so its answer is kept per client host; a
    reload that takes the client's network away must be heard at the next RCPT."""
    from aiosmtpd.smtp import Session

    from consentry import config
    from consentry.smtp_server import SubmissionHandler

    def cfg(networks: list[str]) -> config.Config:
        return config.from_mapping({"submission": {"client_networks": networks}},
                                   base_dir=str(tmp_path))

    h = object.__new__(SubmissionHandler)  # no relay: only the network check is used
    h.guard = auth.AuthGuard(5, 60.0, 1.0)
    h.authenticator = auth.Authenticator({}, h.guard)
    h.reconfigure(cfg(["10.0.0.0/8", "::ffff:192.0.2.0/120"]))
    inside, mapped, outside = Session(None), Session(None), Session(None)  # type: ignore[arg-type]
    inside.peer, mapped.peer, outside.peer = (
        ("10.1.2.3", 2525), ("::ffff:10.9.9.9", 2525, 0, 0), ("192.0.2.7", 2525))
    assert h.client_allowed(inside) and h.client_allowed(mapped)
    assert not h.client_allowed(outside)
    assert h.client_allowed(inside)  # asked again: the same answer
    h.reconfigure(cfg(["192.0.2.0/24"]))
    assert not h.client_allowed(inside) and not h.client_allowed(mapped)
    assert h.client_allowed(outside)
    # a full memo starts again instead of growing without bound
    for i in range(smtp_server.MAX_ALLOWED_HOSTS + 10):
        s = Session(None)  # type: ignore[arg-type]
        s.peer = (f"192.0.{2 + (i >> 8) % 200}.{i & 255}", 1)
        h.client_allowed(s)
    assert len(h._allowed_hosts) <= smtp_server.MAX_ALLOWED_HOSTS
    assert h.client_allowed(outside) and not h.client_allowed(inside)


async def test_sessions_built_with_lean_dir_get_aiosmtpd_s_own_tables(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """aiosmtpd builds its command, hook and AUTH tables from dir() of the session and
    the handler on every connection; ours build them from names listed once per class
    (LeanDir, `_lean_tables`). The tables must come out as aiosmtpd's own: the same
    commands bound to the same session, each but QUIT behind the same drain gate, with
    what HELP reads off each; the same AUTH mechanisms (built-in or the handler's) and
    hooks; the same EHLO form. dir() must be the ordinary one at any other time."""
    from consentry import config
    from consentry.smtp_server import ConnectionLimits, SubmissionHandler

    cfg = config.from_mapping({}, base_dir=str(tmp_path))
    handler = SubmissionHandler(cfg, None)  # type: ignore[arg-type]  # no message is sent

    def build(**kw: object) -> SubmissionSMTP:
        return SubmissionSMTP(handler, data_timeout=5.0, limits=ConnectionLimits(9, 9),
                              peer_ip="127.0.0.1", decode_data=False,
                              authenticator=handler.authenticator,
                              command_call_limit={"NOOP": 20, "*": 100}, **kw)

    lean = build()
    lean2 = build(auth_exclude_mechanism=["LOGIN"])
    monkeypatch.setattr(smtp_server, "LEAN_DIR", False)
    full = build()
    full2 = build(auth_exclude_mechanism=["LOGIN"])
    assert list(lean._smtp_methods) == list(full._smtp_methods)
    assert {"MAIL", "RCPT", "DATA", "EHLO", "HELP", "AUTH", "QUIT"} <= lean._smtp_methods.keys()
    for name, m in lean._smtp_methods.items():
        f = full._smtp_methods[name]
        assert m.__self__ is lean and f.__self__ is full
        assert m.__func__ is f.__func__, name  # the same gate (or QUIT itself)
        inner = getattr(m.__func__, "__wrapped__", m.__func__)
        assert inner is getattr(SubmissionSMTP, "smtp_" + name)
        assert (inner is m.__func__) == (name == "QUIT")
        for attr in ("__smtp_syntax__", "__smtp_syntax_extended__", "__smtp_syntax_when__"):
            assert getattr(m, attr, None) == getattr(f, attr, None), (name, attr)
    assert list(lean._handle_hooks) == list(full._handle_hooks)
    assert lean._handle_hooks == full._handle_hooks  # bound methods of the one handler
    assert {"RCPT", "DATA", "EHLO", "MAIL"} <= lean._handle_hooks.keys()
    assert lean._auth_methods.keys() == full._auth_methods.keys() >= {"LOGIN", "PLAIN"}
    for mech, a in lean._auth_methods.items():
        b = full._auth_methods[mech]
        assert a.is_builtin == b.is_builtin
        assert a.method.__func__ is b.method.__func__
        assert (a.method.__self__ is lean) == (b.method.__self__ is full) == a.is_builtin
    assert lean2._auth_methods.keys() == full2._auth_methods.keys()
    assert "LOGIN" not in lean2._auth_methods and "PLAIN" in lean2._auth_methods
    assert lean._ehlo_hook_ver == full._ehlo_hook_ver == "new"
    # outside construction, dir() is the ordinary one
    assert {"connection_made", "push", "smtp_RCPT"} <= set(dir(lean))
    assert {"reconfigure", "client_allowed", "handle_RCPT"} <= set(dir(handler))


class _CountingSMTP(SubmissionSMTP):
    """A submission session that counts its writes to the client."""

    writes: list[bytes]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.writes = []
        write = transport.write  # type: ignore[attr-defined]

        def counting(data: bytes) -> None:
            self.writes.append(bytes(data))
            write(data)

        transport.write = counting  # type: ignore[attr-defined]
        super().connection_made(transport)


async def _session(tmp_path: Path) -> tuple[asyncio.Server, list[_CountingSMTP], int]:
    from consentry import config
    from consentry.smtp_server import ConnectionLimits, SubmissionHandler

    cfg = config.from_mapping({}, base_dir=str(tmp_path))
    handler = SubmissionHandler(cfg, None)  # type: ignore[arg-type]  # no DATA is sent
    made: list[_CountingSMTP] = []

    def factory() -> _CountingSMTP:
        s = _CountingSMTP(handler, data_timeout=5.0, limits=ConnectionLimits(9, 9),
                          peer_ip="127.0.0.1", decode_data=False,
                          authenticator=handler.authenticator)
        made.append(s)
        return s

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    return server, made, server.sockets[0].getsockname()[1]


async def _replies(reader: asyncio.StreamReader, n: int) -> list[bytes]:
    return [await asyncio.wait_for(reader.readline(), 10) for _ in range(n)]


async def test_a_pipelined_group_is_answered_in_one_write(tmp_path: Path) -> None:
    server, made, port = await _session(tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _replies(reader, 1)  # greeting
        writer.write(b"EHLO client.test\r\n")
        ehlo = [await asyncio.wait_for(reader.readline(), 10)]
        while ehlo[-1][3:4] == b"-":
            ehlo.append(await asyncio.wait_for(reader.readline(), 10))
        assert any(b"PIPELINING" in line for line in ehlo)
        before = len(made[0].writes)
        group = (b"MAIL FROM:<sender@example.com>\r\n"
                 + b"".join(b"RCPT TO:<r%d@example.net>\r\n" % i for i in range(10))
                 + b"RCPT TO:<bad address>\r\n"  # a refusal is held like an acceptance
                 + b"NOOP\r\n")
        writer.write(group)
        got = await _replies(reader, 13)
        assert [g[:3] for g in got] == [b"250"] * 11 + [b"553", b"250"]
        assert len(made[0].writes) == before + 1  # MAIL, 11 RCPTs and NOOP: one write
        # A client that waits for every reply gets every reply at once (nothing waits in
        # the buffer, so nothing is held): a lone RCPT is answered by itself.
        writer.write(b"RCPT TO:<r99@example.net>\r\n")
        assert (await _replies(reader, 1))[0][:3] == b"250"
        writer.write(b"RSET\r\nMAIL FROM:<s@example.com>\r\n")
        assert [g[:3] for g in await _replies(reader, 2)] == [b"250", b"250"]
    finally:
        writer.close()
        server.close()
        await server.wait_closed()


async def test_held_replies_go_out_before_the_session_is_refused(tmp_path: Path) -> None:
    server, made, port = await _session(tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await _replies(reader, 1)
        writer.write(b"EHLO client.test\r\n")
        line = await asyncio.wait_for(reader.readline(), 10)
        while line[3:4] == b"-":
            line = await asyncio.wait_for(reader.readline(), 10)
        s = made[0]
        s._held.append(b"250 held\r\n")  # as if a MAIL reply were held
        s.refuse_and_close()
        assert await _replies(reader, 2) == [b"250 held\r\n",
                                             smtp_server.replies.SHUTTING_DOWN.encode()
                                             + b"\r\n"]
    finally:
        writer.close()
        server.close()
        await server.wait_closed()
