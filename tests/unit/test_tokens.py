"""tokens.py: genuine tokens verify; forged, tampered, truncated, swapped, wrong-key and
over-age ones never do (RELIABILITY U1)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consentry import tokens
from consentry.tokens import (
    KeyedSha256,
    TokenBadSignature,
    TokenCodec,
    TokenError,
    TokenExpired,
    TokenFromFuture,
    TokenKey,
    TokenMalformed,
    TokenRef,
    TokenUnknownKey,
    TokenWrongPurpose,
)

NOW = 1_800_000_000.0
K1 = TokenKey(1, b"k1-secret-0123456789abcdef")
K2 = TokenKey(2, b"k2-secret-0123456789abcdef")
CODEC = TokenCodec([K1])


def _token(rcpt: str = "max@example.org", scope: str = "global",
           campaign: str | None = "c1", at: float = NOW) -> tuple[str, TokenRef]:
    ref = CODEC.reference(rcpt, scope, campaign)
    return CODEC.issue(ref, at), ref


def test_roundtrip_and_alphabet() -> None:
    tok, ref = _token()
    assert len(tok) == tokens.TOKEN_LENGTH == 48
    assert tokens.TOKEN_RE.match(tok)
    claims = CODEC.verify(tok, NOW + 10)
    assert (claims.ref, claims.key_id, claims.issued_at, claims.purpose) == (
        ref.ref, 1, int(NOW), "unsubscribe")
    # Case-insensitive mail servers may upper-case a local part.
    assert CODEC.verify(tok.upper(), NOW).ref == ref.ref
    assert len(f"unsubscribe+{tok}") <= 64  # RFC 5321 local-part limit


def test_no_address_in_token() -> None:
    tok, ref = _token("very.secret.person@example.org")
    for form in (tok, ref.ref):
        raw = base64.b32decode(form.upper() + "=" * (-len(form) % 8))
        assert b"secret" not in raw and b"example" not in raw
        assert "secret" not in form


def test_reference_is_deterministic_and_separates_fields() -> None:
    a = CODEC.reference("a@x.org", "global", "c")
    assert a == CODEC.reference("a@x.org", "global", "c")
    others = {CODEC.reference("b@x.org", "global", "c").ref,
              CODEC.reference("a@x.org", "list:news", "c").ref,
              CODEC.reference("a@x.org", "global", None).ref,
              CODEC.reference("a@x.org", "global", "d").ref}
    assert a.ref not in others and len(others) == 4
    assert TokenCodec([K2]).reference("a@x.org", "global", "c").ref != a.ref


def test_ref_record_roundtrip_and_damaged_scope_fails_safe() -> None:
    ref = CODEC.reference("a@x.org", "list:news", "c9")
    assert TokenRef.from_json(ref.ref, ref.to_json()) == ref
    bad = TokenRef.from_json(ref.ref, '{"r":"a@x.org","s":"list:a b\\r\\n"}')
    assert bad.scope == "global"
    with pytest.raises(ValueError):
        TokenRef.from_json(ref.ref, "[1]")


def test_rotation_previous_key_still_accepted_then_removed() -> None:
    tok, _ = _token()
    rotated = TokenCodec([K2, K1])
    assert rotated.verify(tok, NOW).key_id == 1
    new = rotated.issue(rotated.reference("max@example.org", "global", "c1"), NOW)
    assert rotated.verify(new, NOW).key_id == 2
    with pytest.raises(TokenUnknownKey):
        TokenCodec([K2]).verify(tok, NOW)


def test_age_limits() -> None:
    tok, _ = _token()
    assert CODEC.verify(tok, NOW + 30 * 86400)  # still works after 30 days
    assert CODEC.verify(tok, NOW + 179 * 86400)
    with pytest.raises(TokenExpired):
        CODEC.verify(tok, NOW + 181 * 86400)
    with pytest.raises(TokenFromFuture):
        CODEC.verify(tok, NOW - 3600)
    assert CODEC.verify(tok, NOW - 60)  # small clock skew between relays


def test_purpose_separation() -> None:
    ref = CODEC.reference("a@x.org", "global", None)
    bounce = CODEC.issue(ref, NOW, purpose="bounce")
    with pytest.raises(TokenWrongPurpose):
        CODEC.verify(bounce, NOW)
    assert CODEC.verify(bounce, NOW, purpose="bounce").purpose == "bounce"
    assert CODEC.verify(bounce, NOW, purpose=None).purpose == "bounce"


def test_same_key_id_other_secret_refused() -> None:
    tok, _ = _token()
    with pytest.raises(TokenBadSignature):
        TokenCodec([TokenKey(1, b"another-secret-0123456789")]).verify(tok, NOW)


def test_find_token() -> None:
    tok, _ = _token()
    assert tokens.find_token(f"unsubscribe+{tok}", "unsubscribe") == tok
    assert tokens.find_token(f"Unsubscribe+{tok.upper()}", "unsubscribe") == tok
    assert tokens.find_token(f"bounces+{tok}", "unsubscribe") is None
    assert tokens.find_token("unsubscribe+abc", "unsubscribe") is None
    assert tokens.find_token("unsubscribe", "unsubscribe") is None


def test_bad_keys_refused() -> None:
    with pytest.raises(ValueError):
        TokenKey(0, b"x" * 32)
    with pytest.raises(ValueError):
        TokenKey(1, b"short")
    with pytest.raises(ValueError):
        TokenCodec([])
    with pytest.raises(ValueError):
        TokenCodec([K1, TokenKey(1, b"y" * 32)])


# -- property tests: 0 accepted --------------------------------------------------------

GOOD, GOOD_REF = _token()
RAW = base64.b32decode(GOOD.upper())


def _enc(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def _refused(token: str) -> bool:
    try:
        claims = CODEC.verify(token, NOW)
    except TokenError:
        return True
    # Only the genuine token (in any letter case) may pass; callers never pass it here.
    assert token.lower() == GOOD and claims.ref == GOOD_REF.ref
    return False


@settings(max_examples=400, deadline=None)
@given(st.integers(min_value=0, max_value=len(RAW) * 8 - 1))
def test_any_single_bit_flip_refused(bit: int) -> None:
    b = bytearray(RAW)
    b[bit // 8] ^= 1 << (bit % 8)
    assert _refused(_enc(bytes(b)))


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 47), st.sampled_from("abcdefghijklmnopqrstuvwxyz234567"))
def test_any_character_change_refused(pos: int, ch: str) -> None:
    t = GOOD[:pos] + ch + GOOD[pos + 1:]
    if t == GOOD:
        return
    assert _refused(t)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 47))
def test_truncated_or_extended_refused(n: int) -> None:
    with pytest.raises(TokenMalformed):
        CODEC.verify(GOOD[:n], NOW)
    with pytest.raises(TokenMalformed):
        CODEC.verify(GOOD + GOOD[:n + 1], NOW)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_random_strings_refused(s: str) -> None:
    assert _refused(s)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=30, max_size=30))
def test_random_well_formed_tokens_refused(raw: bytes) -> None:
    assert _refused(_enc(raw))


@settings(max_examples=100, deadline=None)
@given(st.emails(), st.emails())
def test_field_swaps_refused(a: str, b: str) -> None:
    """Splicing the reference of another recipient (or list) into a signed token, or
    re-signing the header under another key id, never yields a valid token."""
    ta = CODEC.issue(CODEC.reference(a, "global", None), NOW)
    rb = CODEC.reference(b, "list:news", None)
    raw = bytearray(base64.b32decode(ta.upper()))
    raw[6:18] = base64.b32decode(rb.ref.upper() + "====")
    spliced = _enc(bytes(raw))
    if rb.ref != CODEC.reference(a, "global", None).ref:
        with pytest.raises(TokenBadSignature):
            CODEC.verify(spliced, NOW)
    raw2 = bytearray(base64.b32decode(ta.upper()))
    raw2[1] = 2
    with pytest.raises(TokenUnknownKey):
        CODEC.verify(_enc(bytes(raw2)), NOW)
    with pytest.raises(TokenBadSignature):
        TokenCodec([TokenKey(2, K1.secret), K1]).verify(_enc(bytes(raw2)), NOW)


@settings(max_examples=500)
@given(st.binary(max_size=64))
def test_base32_is_rfc4648_lower_case_unpadded(data: bytes) -> None:
    from consentry.tokens import _b32

    assert _b32(data) == base64.b32encode(data).decode("ascii").rstrip("=").lower()


def test_a_reference_made_here_and_one_read_back_issue_the_same_token() -> None:
    ref = CODEC.reference("a@x.org", "global", "c")
    assert ref.raw is not None
    back = TokenRef.from_json(ref.ref, ref.to_json())
    assert back.raw is None and back == ref
    assert CODEC.issue(ref, 1_700_000_000) == CODEC.issue(back, 1_700_000_000)
    assert CODEC.issue(ref.ref, 1_700_000_000) == CODEC.issue(ref, 1_700_000_000)


@given(key=st.binary(min_size=0, max_size=200), msg=st.binary(max_size=300))
@settings(max_examples=300)
def test_keyed_sha256_is_hmac_sha256(key: bytes, msg: bytes) -> None:
    """The precomputed-pads MAC under every kind of key: empty, shorter than, equal to
    and longer than the 64-byte block (RFC 2104 hashes those first)."""
    assert KeyedSha256(key).digest(msg) == hmac.digest(key, msg, "sha256")


def test_tokens_still_verify_and_references_are_stable_hmacs() -> None:
    codec = TokenCodec([TokenKey(7, b"s" * 32)])
    ref = codec.reference("a@example.org", "global", "c1")
    want = hmac.digest(hmac.new(b"s" * 32, b"consentry/token/ref/v1\x00",
                                hashlib.sha256).digest(),
                       b"a@example.org\x00global\x00c1", "sha256")[:len(ref.raw or b"")]
    assert ref.raw == want
    token = codec.issue(ref, 1_000_000.0)
    assert codec.verify(token, 1_000_100.0).ref == ref.ref


def test_a_codec_survives_pickling_for_the_worker_processes() -> None:
    """The inbound listener hands the codec to its worker processes (pickle)."""
    import pickle

    codec = TokenCodec([TokenKey(3, b"k" * 40), TokenKey(2, b"old" * 20)])
    copy = pickle.loads(pickle.dumps(codec))  # noqa: S301 - our own bytes
    ref = codec.reference("a@example.org", "global", None)
    assert copy.reference("a@example.org", "global", None).raw == ref.raw
    assert copy.verify(codec.issue(ref, 5_000.0), 5_010.0).ref == ref.ref
