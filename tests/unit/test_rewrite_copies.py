"""rewrite.Rewriter.prepare builds each marketing copy from the parts its copies share
(the message without the fields the copies set, worked out once) and the copy's own
fields. These tests hold every copy byte for byte to the composition it replaces:
headers.apply_list_unsubscribe, then headers.set_fields, on the message (or its
tracking-stripped form), with the recipient's tokens issued by the codec; and its DATA
payload to rawmsg.data_payload of its content."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry import address, config, headers, keyfiles, rawmsg, tracking
from consentry.model import Decision, MessageFacts
from consentry.rewrite import Copy, Rewriter
from consentry.tokens import scope_for

BASE_URL = "https://u.example.test"
NOW = 1_796_000_000.0

PIXEL = (b'<html><body><p>hello</p><img src="https://px.tracker.example/o.gif?u=1" '
         b'width="1" height="1"></body></html>\r\n')


def make_rewriter(tmp: Path, *, existing: str = "replace", trace: bool = True,
                  cfbl: bool = False, feedback: bool = False, verp: bool = False,
                  mailto: bool = True, https: bool = True,
                  dkim_pem: Path | None = None) -> Rewriter:
    data: dict[str, Any] = {
        "server": {"hostname": "relay.example.test", "state_dir": str(tmp)},
        "redis": {"embedded": False},
        "policy": {"require_basis": False},
        "unsubscribe": {"existing": existing, "trace_header": trace,
                        "mailto_domain": "u.example.test" if mailto else None},
        "tracking": {"enabled": True, "hosts": ["px.tracker.example"]},
    }
    if cfbl:
        data["unsubscribe"]["cfbl_address"] = "fbl@relay.example.test"
    if feedback:
        data["unsubscribe"]["feedback_id"] = "{campaign}:{list}:{class}:consentry"
    if verp:
        data["inbound"] = {"verp": True, "domain": "bounce.example.test"}
    if dkim_pem is not None:
        data["dkim"] = {"enabled": True, "keys": [
            {"domain": "sender.example", "selector": "s1",
             "private_key_file": str(dkim_pem)}]}
    cfg = config.from_mapping(data)
    return keyfiles.rewriter(cfg, BASE_URL if https else None)


def expected_copy(rw: Rewriter, msg: rawmsg.RawMessage, facts: MessageFacts,
                  d: Decision, stripped: bool) -> tuple[bytes, str | None]:
    """The copy as the header functions compose it, with the codec's own tokens."""
    u = rw.cfg.unsubscribe
    key = address.parse(d.recipient).key
    ref = rw.codec.reference(key, scope_for(facts.list_name), facts.campaign)
    token = rw.codec.issue(ref, NOW)
    trace = rw.codec.issue(ref, NOW, purpose="bounce")
    base = tracking.strip(msg, rw.rules).message if stripped else msg
    links = headers.make_links(token, rw.base_url, u.mailto_local, u.mailto_domain)
    m = headers.apply_list_unsubscribe(base, links, u.existing, rw.own_prefixes)
    extra: list[tuple[str, str]] = []
    if u.feedback_id is not None:
        extra.append(("Feedback-ID", headers.feedback_id(
            u.feedback_id, facts.campaign, facts.list_name, facts.message_class)))
    if u.cfbl_address is not None:
        extra.append(("CFBL-Address", u.cfbl_address))
    if u.trace_header:
        extra.append((headers.TRACE_HEADER, trace))
    if u.cfbl_address is not None:
        extra.append(("CFBL-Feedback-ID", trace))
    verp = f"{rw.verp_local}+{trace}{rw.verp_at}" if rw.verp_at else None
    return headers.set_fields(m, extra).to_bytes(), verp


def check(rw: Rewriter, raw: bytes, tracking_consent: list[bool]) -> list[Copy]:
    msg = rawmsg.parse(raw)
    facts = MessageFacts("marketing", "header", campaign="spring", list_name="news")
    rcpts = [f"user{i}@example.net" for i in range(len(tracking_consent))]
    allowed = [Decision(r, "allow", "test", ("ok",), tracking=t)
               for r, t in zip(rcpts, tracking_consent, strict=True)]
    addrs = {r: address.parse(r) for r in rcpts}
    prepared = rw.prepare(msg, facts, allowed, addrs, NOW)
    assert [c.recipients for c in prepared.copies] == [(r,) for r in rcpts]
    for c, d in zip(prepared.copies, allowed, strict=True):
        content, verp = expected_copy(rw, msg, facts, d, stripped=not d.tracking)
        if rw.signer is None:
            assert c.content == content
        else:
            assert c.content.startswith(b"DKIM-Signature:") and c.content.endswith(content)
            assert c.payload is None
        assert c.mail_from == verp
        if c.payload is not None:
            assert b"".join(c.payload) == rawmsg.data_payload(c.content)
    return prepared.copies


HEADERS = [
    b"From: News <news@sender.example>\r\n",
    b"To: list@sender.example\r\n",
    b"Subject: spring sale\r\n",
    b"List-Unsubscribe: <https://esp.example/u/1>,\r\n <mailto:off@esp.example>\r\n",
    b"List-Unsubscribe: <https://esp.example/u/2>\r\n",
    b"List-Unsubscribe: <https://u.example.test/u/stale>\r\n",
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
    b"X-Consentry-Trace: forged\r\n",
    b"Feedback-ID: forged:forged\r\n",
    b"CFBL-Feedback-ID: forged\r\n",
    b".Dotted-Name: a field whose line starts with a dot\r\n",
    b"X-Folded: one\r\n\t.two\r\n",
    b"MIME-Version: 1.0\r\n",
]
BODIES = [
    b"", b"plain body\r\n", b".leading dot\r\n..two\r\n.\r\nend\r\n",
    b"no final newline", b"line\r\n.\r\n",
]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rewrite")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8),
       body=st.sampled_from(BODIES),
       html=st.booleans(),
       consent=st.lists(st.booleans(), min_size=1, max_size=5),
       existing=st.sampled_from(["replace", "keep", "merge"]),
       trace=st.booleans(), cfbl=st.booleans(), feedback=st.booleans(),
       verp=st.booleans(), links=st.sampled_from([(True, True), (True, False),
                                                  (False, True)]))
def test_every_copy_is_the_composition_of_the_header_functions(
        state: Path, fields: list[bytes], body: bytes, html: bool, consent: list[bool],
        existing: str, trace: bool, cfbl: bool, feedback: bool, verp: bool,
        links: tuple[bool, bool]) -> None:
    rw = make_rewriter(state, existing=existing, trace=trace, cfbl=cfbl,
                       feedback=feedback, verp=verp, https=links[0], mailto=links[1])
    head = b"".join(fields)
    if html:
        head += b"Content-Type: text/html; charset=utf-8\r\n"
        body = PIXEL + body
    raw = head + (b"\r\n" + body if body or html else b"")
    check(rw, raw, consent)


def test_copies_share_nothing_but_what_they_must(state: Path) -> None:
    rw = make_rewriter(state, existing="merge", cfbl=True, verp=True)
    raw = b"".join(HEADERS[:5]) + b"Content-Type: text/html\r\n\r\n" + PIXEL
    copies = check(rw, raw, [True, False, True])
    tokens = {c.token for c in copies}
    assert len(tokens) == 3
    for c in copies:  # each copy names its own token only
        others = tokens - {c.token}
        assert c.token is not None and c.token.encode() in c.content
        assert not any(t is not None and t.encode() in c.content for t in others)
    assert b"px.tracker.example" in copies[0].content
    assert b"px.tracker.example" not in copies[1].content  # no tracking consent
    assert all(c.payload is not None for c in copies)
    # One payload of the rest per base message (stripped or not), shared by its copies;
    # clean content needs no second copy of it: the piece is the rest itself.
    shared = {id(c.payload[1]) for c in copies if c.payload is not None}
    assert len(shared) == 2
    for c in copies:
        assert c.payload is not None and c.content.endswith(c.payload[1])
        assert len(c.content) == len(c.payload[0]) + len(c.payload[1])


def test_a_message_of_only_our_fields_gets_its_payload_from_delivery(state: Path) -> None:
    # Nothing is left once the copy's fields are removed: prefix + data_payload(b"")
    # would add a CRLF the content does not have, so the payload is left to delivery.
    rw = make_rewriter(state)
    copies = check(rw, b"List-Unsubscribe: <https://esp.example/u/1>\r\n", [True])
    assert copies[0].payload is None


@pytest.fixture(scope="module")
def dkim_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p: Path = tmp_path_factory.mktemp("dkim") / "k.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(p), "2048"], check=True,
                   capture_output=True)
    return p


@pytest.mark.parametrize("existing", ["replace", "keep", "merge"])
def test_signed_copies_sign_the_same_content(state: Path, dkim_pem: Path,
                                             existing: str) -> None:
    rw = make_rewriter(state, existing=existing, dkim_pem=dkim_pem)
    assert rw.signer is not None
    raw = b"".join(HEADERS[:4]) + b"\r\nbody\r\n"
    for c in check(rw, raw, [True, True]):
        assert rw.signer.verify(c.content)
