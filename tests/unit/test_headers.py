"""headers.py: https first, one-click only with https, never duplicated, idempotent in
every mode, and no way for an address or a sender's header to inject CR/LF (RELIABILITY H4)."""

from __future__ import annotations

import email
import email.policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry import headers, rawmsg
from consentry.tokens import TokenCodec, TokenKey

CODEC = TokenCodec([TokenKey(1, b"0123456789abcdef0123")])
BASE = "https://unsub.example.com"
OWN = (f"{BASE}/u/", "mailto:unsubscribe+")
MSG = (b"From: News <news@sender.example>\r\nTo: x@example.org\r\nSubject: hi\r\n"
       b"Message-ID: <1@sender.example>\r\n\r\nbody\r\n")
SENDER_LU = (b"List-Unsubscribe: <https://esp.example/unsub?id=1>,\r\n"
             b"  <mailto:leave@esp.example>\r\n"
             b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")


def links(rcpt: str = "a@example.org") -> headers.UnsubscribeLinks:
    tok = CODEC.issue(CODEC.reference(rcpt, "global", None), 1_800_000_000)
    return headers.make_links(tok, BASE, "unsubscribe", "bounce.example.com")


def with_sender(msg: bytes = MSG) -> rawmsg.RawMessage:
    return rawmsg.parse(SENDER_LU + msg)


def parsed(m: rawmsg.RawMessage) -> email.message.EmailMessage:
    return email.message_from_bytes(m.to_bytes(), policy=email.policy.default)  # type: ignore[return-value]


def test_both_uris_https_first_and_one_click() -> None:
    lk = links()
    out = headers.apply_list_unsubscribe(rawmsg.parse(MSG), lk, "replace", OWN)
    em = parsed(out)
    uris = headers.parse_uris(str(em["List-Unsubscribe"]))
    assert uris == [lk.https, lk.mailto]
    assert uris[0].startswith(f"{BASE}/u/") and uris[1].startswith("mailto:unsubscribe+")
    assert uris[1].endswith("@bounce.example.com?subject=unsubscribe")
    assert em["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert out.to_bytes().endswith(b"\r\n\r\nbody\r\n")


def test_no_one_click_without_https() -> None:
    tok = CODEC.issue(CODEC.reference("a@x.org", "global", None), 1_800_000_000)
    lk = headers.make_links(tok, None, "unsubscribe", "bounce.example.com")
    out = headers.apply_list_unsubscribe(with_sender(), lk, "replace", OWN)
    assert out.get("List-Unsubscribe-Post") is None
    assert headers.parse_uris(out.get("List-Unsubscribe") or "") == [lk.mailto]
    empty = headers.make_links(tok, None, "unsubscribe", None)
    assert headers.apply_list_unsubscribe(with_sender(), empty, "replace", OWN) == with_sender()


@pytest.mark.parametrize("mode", ["replace", "keep", "merge"])
def test_idempotent_and_never_duplicated(mode: headers.ExistingMode) -> None:
    lk = links()
    for start in (rawmsg.parse(MSG), with_sender()):
        once = headers.apply_list_unsubscribe(start, lk, mode, OWN)
        twice = headers.apply_list_unsubscribe(once, lk, mode, OWN)
        assert once == twice
        names = [f.lname for f in once.fields]
        assert names.count("list-unsubscribe") == 1
        assert names.count("list-unsubscribe-post") <= 1


def test_modes_with_a_sender_header() -> None:
    lk = links()
    rep = headers.apply_list_unsubscribe(with_sender(), lk, "replace", OWN)
    assert headers.parse_uris(rep.get("List-Unsubscribe") or "") == lk.uris
    keep = headers.apply_list_unsubscribe(with_sender(), lk, "keep", OWN)
    assert keep == with_sender()
    merged = headers.apply_list_unsubscribe(with_sender(), lk, "merge", OWN)
    assert headers.parse_uris(merged.get("List-Unsubscribe") or "") == [
        *lk.uris, "https://esp.example/unsub?id=1", "mailto:leave@esp.example"]
    # A re-merge with another recipient's links replaces our old URIs, keeps the sender's.
    lk2 = links("b@example.org")
    again = headers.apply_list_unsubscribe(merged, lk2, "merge", OWN)
    assert headers.parse_uris(again.get("List-Unsubscribe") or "") == [
        *lk2.uris, "https://esp.example/unsub?id=1", "mailto:leave@esp.example"]


def test_merge_drops_hostile_sender_uris() -> None:
    hostile = (b'List-Unsubscribe: <https://ok.example/x>, <javascript:alert(1)>,'
               b' <https://a b.example/>, <https://x.example/"q>\r\n')
    lk = links()
    out = headers.apply_list_unsubscribe(rawmsg.parse(hostile + MSG), lk, "merge", OWN)
    assert headers.parse_uris(out.get("List-Unsubscribe") or "") == [
        *lk.uris, "https://ok.example/x"]


def test_unsafe_configuration_refused_even_past_config() -> None:
    for base in ("https://evil.example/\r\nBcc: x", "https://e.example/a>,<https://x"):
        with pytest.raises(ValueError):
            headers.make_links("a" * 48, base, "unsubscribe", None)
    with pytest.raises(ValueError):
        headers.make_links("a" * 48, None, "unsubscribe", "x.example\r\nBcc: y")
    with pytest.raises(ValueError):
        headers.list_unsubscribe_field(["https://x.example/\r\n"])


CRAFTED = ['"a>,<https://evil"@example.org', "a%0d%0aBcc:x@example.org",
           '"a\\r\\nX: y"@example.org', "ünï@exämple.org", "<>@example.org",
           '"a,b"@example.org', "x@[127.0.0.1]"]


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.sampled_from(CRAFTED), st.text(min_size=1, max_size=80)))
def test_crafted_recipients_cannot_inject(rcpt: str) -> None:
    """H4: whatever the recipient, the header parses back to exactly our two URIs."""
    lk = links(rcpt)
    out = headers.apply_list_unsubscribe(rawmsg.parse(MSG), lk, "replace", OWN)
    head = out.to_bytes().split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b"")
    em = parsed(out)
    uris = headers.parse_uris(str(em["List-Unsubscribe"]))
    assert uris == [lk.https, lk.mailto]
    assert len(em.get_all("List-Unsubscribe") or []) == 1
    assert em.get_all("Bcc") is None and em.get_all("X") is None


def test_feedback_id_and_set_fields() -> None:
    fid = headers.feedback_id("{campaign}:{list}:{class}:acme", "spring:sale", None,
                              "marketing")
    assert fid == "spring-sale:none:marketing:acme"
    m = headers.set_fields(rawmsg.parse(MSG), [("Feedback-ID", fid)])
    assert headers.set_fields(m, [("Feedback-ID", fid)]) == m
    with pytest.raises(ValueError):
        headers.set_fields(m, [("Feedback-ID", "x\r\nBcc: y")])
