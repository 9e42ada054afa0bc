"""The token codec (consentry.tokens): decode(encode(t)) == t for any reference, key,
time and purpose; a token changed in any character (beyond case) never verifies; any
string at all raises only TokenError; stored reference records of any shape parse or
raise ValueError, and a damaged scope falls back to "global" (fail safe)."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from consentry.tokens import (
    TOKEN_LENGTH,
    TOKEN_RE,
    TokenCodec,
    TokenError,
    TokenKey,
    TokenRef,
    find_token,
)

from .strategies import bounded, fuzz_settings

NOW = 1_800_000_000.0
key = st.builds(TokenKey, st.integers(1, 255), st.binary(min_size=16, max_size=64))
keys = st.lists(key, min_size=1, max_size=4, unique_by=lambda k: k.id)
ref_bytes = st.binary(min_size=12, max_size=12)
purpose = st.sampled_from(["unsubscribe", "bounce"])
B32 = "abcdefghijklmnopqrstuvwxyz234567"


def _ref(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


@fuzz_settings(scale=2)
@given(keys, ref_bytes, st.integers(0, 2**32 - 1), purpose)
def test_round_trip(ks: list[TokenKey], raw: bytes, issued: int, p: str) -> None:
    codec = TokenCodec(ks, max_age=2**33, clock_skew=0)
    tok = codec.issue(_ref(raw), issued, purpose=p)  # type: ignore[arg-type]
    assert TOKEN_RE.match(tok) and len(tok) == TOKEN_LENGTH
    c = bounded(codec.verify, tok, float(issued), purpose=p)
    assert (c.ref, c.issued_at, c.purpose, c.key_id) == (_ref(raw), issued, p, ks[0].id)
    assert codec.verify(tok.upper(), float(issued), purpose=None).ref == _ref(raw)
    # a codec holding the signing key among others (rotation) verifies it too
    assert TokenCodec([*ks[1:], ks[0]], max_age=2**33).verify(
        tok, float(issued), purpose=None).ref == _ref(raw)


@fuzz_settings(scale=2)
@given(keys, ref_bytes, st.data())
def test_any_change_never_verifies(ks: list[TokenKey], raw: bytes, data: st.DataObject) -> None:
    codec = TokenCodec(ks)
    tok = codec.issue(_ref(raw), NOW)
    pos = data.draw(st.integers(0, TOKEN_LENGTH - 1))
    ch = data.draw(st.sampled_from(B32).filter(lambda c: c != tok[pos]))
    bad = tok[:pos] + ch + tok[pos + 1:]
    try:
        codec.verify(bad, NOW, purpose=None)
    except TokenError:
        return
    raise AssertionError(f"tampered token verified: {bad}")


@fuzz_settings(scale=2)
@given(keys, keys, ref_bytes)
def test_other_secrets_never_verify(signer: list[TokenKey], verifier: list[TokenKey],
                                    raw: bytes) -> None:
    vkeys = {k.id: k.secret for k in verifier}
    if vkeys.get(signer[0].id) == signer[0].secret:
        return
    tok = TokenCodec(signer).issue(_ref(raw), NOW)
    try:
        TokenCodec(verifier).verify(tok, NOW, purpose=None)
    except TokenError:
        return
    raise AssertionError("a token signed with another secret verified")


@fuzz_settings(scale=2)
@given(st.one_of(st.text(max_size=100), st.text(alphabet=B32 + B32.upper() + "018=",
                                                 min_size=47, max_size=49)))
def test_any_string_raises_only_token_error(s: str) -> None:
    codec = TokenCodec([TokenKey(1, b"k" * 32)])
    try:
        bounded(codec.verify, s, NOW, purpose=None)
    except TokenError:
        return
    raise AssertionError(f"random string verified: {s!r}")


@fuzz_settings()
@given(st.text(max_size=200))
def test_find_token_returns_none_or_a_token_shape(local: str) -> None:
    for prefix in ("unsubscribe", "bounces"):
        t = find_token(local, prefix)
        assert t is None or TOKEN_RE.match(t)


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=5), kids,
                                                             max_size=4),
    max_leaves=12)


@fuzz_settings(scale=2)
@given(st.one_of(st.text(max_size=200), json_value.map(__import__("json").dumps),
                 st.fixed_dictionaries({"r": st.text(max_size=20)},
                                       optional={"s": json_value, "c": json_value}
                                       ).map(__import__("json").dumps)))
def test_reference_records_of_any_shape(raw: str) -> None:
    try:
        ref = TokenRef.from_json("a" * 20, raw)
    except ValueError:
        return
    assert ref.scope == "global" or ref.scope.startswith("list:")
    assert ref.campaign is None or isinstance(ref.campaign, str)
