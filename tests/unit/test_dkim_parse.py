"""consentry.dkim replaces dkimpy's rfc822_parse (used by signing and by the self-check)
with one that does not split and re-join the body: it must return exactly what dkimpy's
returns, and raise what it raises, for any bytes."""

from __future__ import annotations

import os

import dkim as dkimpy
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry import dkim as ours

TORTURE = bool(os.environ.get("CONSENTRY_TORTURE"))

PIECES = [b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\n", b"\r\n\r\n", b"\n\r\n", b" ", b"\t",
          b"Subject: hi", b"X-A:", b"From ", b"From: a@b", b"body line", b":", b"a", b".",
          b"\x00", b"\xff", b"Received: x\r\n\tfolded", b"no colon here"]


def _outcome(fn: object, message: bytes) -> object:
    try:
        return ("ok", fn(message))  # type: ignore[operator]
    except Exception as exc:  # the same exception, same text
        return ("raised", type(exc), str(exc))


@given(st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join))
@settings(max_examples=20000 if TORTURE else 1500, deadline=None)
def test_parse_is_dkimpys_for_any_bytes(message: bytes) -> None:
    assert _outcome(ours._rfc822_parse, message) == _outcome(
        ours._DKIMPY_RFC822_PARSE, message)


def test_parse_is_dkimpys_on_real_shapes() -> None:
    body = b"Lorem ipsum\r\n.dot\r\n\r\nend\r\n" * 50
    for message in (
        b"From: a@b\r\nSubject: s\r\n\r\n" + body,
        b"From: a@b\nSubject: s\n\nbare\nLF\nbody\n",
        b"From: a@b\r\nSubject: s\r\n",  # headers only
        b"From: a@b\r\nSubject: s",  # no final line break
        b"\r\nbody only",
        b"From MAILER-DAEMON Mon\r\nFrom: a@b\r\n\r\nx",
        b"From: a@b\r\n\tcontinued\r\n  again\r\n\r\n\r\n\r\n",
        b"",
    ):
        assert _outcome(ours._rfc822_parse, message) == _outcome(
            ours._DKIMPY_RFC822_PARSE, message), message


def test_dkimpy_uses_ours() -> None:
    assert dkimpy.rfc822_parse is ours._rfc822_parse


HEADER_PIECES = [b"\r\n", b"\n", b"\r", b" ", b"  ", b"\t", b" \t ", b"\r\n\t", b"\r\n ",
                 b"a", b"B", b"x y", b":", b"\x00", b"\xff", b"\x0b", b"\x0c", b"=?utf-8?q?"]
_field = st.lists(st.sampled_from(HEADER_PIECES), max_size=12).map(b"".join)


@given(st.lists(st.tuples(_field, _field), max_size=8))
@settings(max_examples=20000 if TORTURE else 1500, deadline=None)
def test_relaxed_header_canonicalisation_is_dkimpys(headers: list[tuple[bytes, bytes]]
                                                    ) -> None:
    assert ours._relaxed_headers(headers) == [
        tuple(x) for x in ours._DKIMPY_RELAXED_HEADERS(headers)]


def test_relaxed_headers_are_installed_and_signatures_still_verify() -> None:
    import dkim.canonicalization as canon

    assert canon.Relaxed.canonicalize_headers is ours._relaxed_headers
    real = [(b"Subject", b" Hello\r\n\t world  again \r\n"), (b"FROM ", b"a@b\r\n")]
    assert ours._relaxed_headers(real) == [(b"subject", b"Hello world again\r\n"),
                                           (b"from", b"a@b\r\n")]


BODY_PIECES = [b"\r\n", b"\n", b"\r", b" ", b"  ", b"\t", b" \t ", b"\t\t", b" \r\n",
               b"\t\r\n", b"\r\n\r\n", b"a", b"B", b"x y", b".", b"\x00", b"\xff", b"\x0b",
               b"\x0c", b"\xa0"]


@given(st.lists(st.sampled_from(BODY_PIECES), max_size=60).map(b"".join))
@settings(max_examples=20000 if TORTURE else 3000, deadline=None)
def test_relaxed_body_canonicalisation_is_dkimpys(body: bytes) -> None:
    assert ours._relaxed_body(body) == ours._DKIMPY_RELAXED_BODY(body)


def test_relaxed_body_is_installed() -> None:
    import dkim.canonicalization as canon

    real = b"Hello  world \r\n\tindented\t text\r\nplain line\r\n\r\n\r\n"
    assert canon.Relaxed.canonicalize_body(real) == (
        b"Hello world\r\n indented text\r\nplain line\r\n")
    assert ours._relaxed_body(b"no change here\r\n") == b"no change here\r\n"
    assert ours._relaxed_body(b"\r\n") == b""
