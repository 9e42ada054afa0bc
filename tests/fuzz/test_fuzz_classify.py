"""The message classifier (consentry.classify) and the raw header reader it runs on
(consentry.rawmsg): arbitrary bytes either parse or raise MalformedMessage, a parsed
message serialises back to exactly its bytes, and classification of any header section
returns a known class, names how it decided, keeps control values to safe short tokens,
fails safe (conflicting or unknown declarations are marketing) and is deterministic."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from consentry import rawmsg
from consentry.classify import MAX_TOKEN, classify
from consentry.config import MESSAGE_CLASSES, ClassificationConfig, ClassificationRule
from consentry.errors import MalformedMessage

from .strategies import CORPUS, bounded, fuzz_settings, mutated

SAFE = re.compile(r"^[A-Za-z0-9._:@+\-/]{1,128}$")
CFGS = [
    ClassificationConfig(),
    ClassificationConfig(default="transactional", rules=[
        ClassificationRule("marketing", header="List-Id"),
        ClassificationRule("marketing", header="Precedence", matches=r"bulk|list"),
        ClassificationRule("transactional", mail_from="*@shop.example"),
        ClassificationRule("service", mail_from="noreply@*", header="X-Service",
                           matches=r"^(yes|1)$"),
    ]),
]
names = st.sampled_from(["X-Consent-Class", "x-consent-class", "X-CONSENT-CLASS",
                         "X-Consent-Category", "X-Consent-List", "X-Campaign-Id", "List-Id",
                         "Precedence", "X-Service", "Message-ID", "Subject", "From"])
values = st.one_of(st.sampled_from([*MESSAGE_CLASSES, "MARKETING", " service ", "bulk",
                                    "yes", "news", "unknown-class", ""]),
                   st.text(max_size=80))


def _field(name: str, value: str) -> bytes:
    v = re.sub(r"[\r\n\x00]+", " ", value)
    return f"{name}: {v}\r\n".encode("utf-8", "surrogateescape")


@st.composite
def header_sections(draw: st.DrawFn) -> bytes:
    fields = draw(st.lists(st.tuples(names, values), min_size=1, max_size=12))
    body = draw(st.binary(max_size=200)).translate(None, b"\r\x00").replace(b"\n", b"\r\n")
    return b"".join(_field(n, v) for n, v in fields) + b"\r\n" + body


def _check(msg: rawmsg.RawMessage, mail_from: str) -> None:
    for cfg in CFGS:
        f = bounded(classify, msg, mail_from, cfg)
        assert f.message_class in MESSAGE_CLASSES
        assert f.classified_by
        for v in (f.category, f.list_name, f.campaign):
            assert v is None or (SAFE.match(v) and len(v) <= MAX_TOKEN), v
        assert f.message_id is None or len(f.message_id) <= 256
        assert classify(msg, mail_from, cfg) == f  # deterministic
        declared = {fl.value().strip().lower() for fl in msg.fields
                    if fl.lname == "x-consent-class"}
        if len(declared) > 1:
            assert (f.message_class, f.classified_by) == ("marketing", "header-conflict")
        elif len(declared) == 1:
            (d,) = declared
            assert f.message_class == (d if d in MESSAGE_CLASSES else "marketing")
        # untrusted control headers are ignored: only rules and the default decide
        u = classify(msg, mail_from, cfg, control_headers_trusted=False)
        assert u.classified_by == "default" or u.classified_by.startswith("rule[")
        assert u.campaign is None and u.list_name is None


@fuzz_settings(scale=3)
@given(header_sections(), st.sampled_from(["news@shop.example", "noreply@x.example", "",
                                           "a@b"]))
def test_classify_structured(data: bytes, mail_from: str) -> None:
    msg = bounded(rawmsg.parse, data)
    assert msg.to_bytes() == data
    _check(msg, mail_from)


@fuzz_settings(scale=2)
@given(st.one_of(st.binary(max_size=2000), mutated(CORPUS)))
def test_raw_parse_and_classify_arbitrary_bytes(data: bytes) -> None:
    # the relay parses only after bare CR/LF were refused or normalised (rawmsg's contract)
    # and DATA content always ends in CRLF (the line before the final dot)
    data = rawmsg.normalize_newlines(data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    try:
        msg = bounded(rawmsg.parse, data)
    except MalformedMessage:
        return
    assert msg.to_bytes() == data  # every byte kept: hashes and signatures see the same
    _check(msg, "news@shop.example")


@fuzz_settings()
@given(st.binary(max_size=3000))
def test_bare_newline_normalisation_is_idempotent_and_complete(data: bytes) -> None:
    once = bounded(rawmsg.normalize_newlines, data)
    assert rawmsg.find_bare_newlines(once) == 0
    assert rawmsg.normalize_newlines(once) == once
    if rawmsg.find_bare_newlines(data) == 0:
        assert once == data
