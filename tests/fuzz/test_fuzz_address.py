"""The address normaliser (consentry.address) under arbitrary and structured input: only
InvalidAddress is ever raised, the canonical form and the key are fixed points
(canonicalise(canonicalise(x)) == canonicalise(x)), relay-hack detection never raises,
and accepted addresses carry no character that could split a command or a log line."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from consentry.address import is_relay_hack, parse
from consentry.errors import InvalidAddress

from .strategies import bounded, fuzz_settings

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
unicode_label = st.text(alphabet=st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF,
                                               exclude_categories=("Cs",)),
                        min_size=1, max_size=6)
domain = st.one_of(
    st.lists(st.one_of(label, unicode_label), min_size=1, max_size=4).map(".".join),
    st.lists(label, min_size=1, max_size=4).map(lambda xs: ".".join(xs) + "."),
    st.ip_addresses(v=4).map(lambda ip: f"[{ip}]"),
    st.ip_addresses(v=6).map(lambda ip: f"[IPv6:{ip}]"),
)
dot_atom = st.lists(st.text(alphabet=ATEXT, min_size=1, max_size=10), min_size=1,
                    max_size=3).map(".".join)
quoted = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF,
                                        exclude_categories=("Cs",)), max_size=20).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"')
local = st.one_of(dot_atom, quoted, st.text(max_size=20))
route = st.one_of(st.just(""), st.lists(label.map(lambda x: "@" + x + ".example"),
                                        min_size=1, max_size=2).map(lambda r: ",".join(r) + ":"))
structured = st.builds(lambda r, lp, d, br: (f"<{r}{lp}@{d}>" if br else f"{r}{lp}@{d}"),
                       route, local, domain, st.booleans())
anything = st.one_of(structured, st.text(max_size=300))


def _parse(raw: str, fold: bool = True, plus: str = "+") -> object:
    try:
        return bounded(parse, raw, fold_case=fold, plus_separators=plus)
    except InvalidAddress:
        return None


@fuzz_settings(scale=4)
@given(anything, st.booleans(), st.sampled_from(["+", "", "+-"]))
def test_only_invalid_address_and_fixed_points(raw: str, fold: bool, plus: str) -> None:
    a = _parse(raw, fold, plus)
    if a is None:
        return
    assert not _UNSAFE.search(a.canonical) and not _UNSAFE.search(a.key)  # type: ignore[attr-defined]
    again = parse(a.canonical, fold_case=fold, plus_separators=plus)  # type: ignore[attr-defined]
    assert again.canonical == a.canonical  # type: ignore[attr-defined]
    assert again.key == a.key  # type: ignore[attr-defined]
    # the key is an identifier, not an address (a quoted local part stays unquoted in it):
    # it is only ever derived through parse(), which the fixed point above pins down
    assert "@" in a.key and len(a.key.encode()) <= 256 + 2  # type: ignore[attr-defined]


@fuzz_settings(scale=2)
@given(anything)
def test_relay_hack_detection_never_raises(raw: str) -> None:
    assert isinstance(bounded(is_relay_hack, raw), bool)


@fuzz_settings()
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decoded_as_aiosmtpd_does(data: bytes) -> None:
    # aiosmtpd hands SMTPUTF8 arguments over decoded with surrogateescape
    _parse(data.decode("utf-8", "surrogateescape"))


@fuzz_settings()
@given(dot_atom, domain)
def test_case_and_plus_spellings_share_one_key(lp: str, d: str) -> None:
    a = _parse(f"{lp}@{d}")
    if a is None:
        return
    # upper case of ASCII letters only: "ı".upper() is "I", another domain in DNS
    up = "".join(c.upper() if c.isascii() else c for c in d)
    for spelling in (f"{lp.upper()}@{up}", f"{lp}+tag@{d}", f"<{lp}@{d}>",
                     f"@relay.example:{lp}@{d}"):
        b = _parse(spelling)
        if b is not None and "+" not in lp:
            assert b.key == a.key, (spelling, b, a)  # type: ignore[attr-defined]
