"""Pure HMAC token codec for unsubscribe links, mailto unsubscribes and VERP addresses.

A token is 30 bytes, written as 48 characters of lower-case RFC 4648 base32 without
padding (alphabet ``a-z2-7``): safe in a URL path and in an e-mail local part, also on
servers that change the case of local parts (decoding is case-insensitive), and short
enough that ``unsubscribe+TOKEN@`` (60 octets) stays within RFC 5321's 64-octet limit.

    byte  0      version (high nibble, 1) | purpose (low nibble: 1 unsubscribe, 2 bounce)
    byte  1      key id (1..255) of the key that signed it
    bytes 2..5   issue time, unix seconds, big-endian
    bytes 6..17  reference: 96 bits, a keyed hash of (recipient, scope, campaign)
    bytes 18..29 HMAC-SHA256 over bytes 0..17, truncated to 96 bits

Why a reference and not the address: a signed-but-readable payload (base64 of the
address) puts the address in clear text into every URL that proxies, scanners and
browser histories see; an encrypted one with the address inside is too long for a local
part. So the token only carries an opaque reference, and the relay stores
``reference -> {recipient key, scope, campaign}`` in Redis (store.save_token_refs) when
it issues the token. The reference is derived with a secret key, so it can neither be
guessed from an address nor reversed by a dictionary of addresses; it is deterministic,
so re-sending to the same recipient, list and campaign reuses one record.

Rotation: the first configured key signs, every configured key verifies, so a previous
key keeps old links working until it is removed. Every refusal raises a TokenError
subclass; the HTTP layer answers them all the same way (RELIABILITY U1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

Purpose = Literal["unsubscribe", "bounce"]
_PURPOSE_CODE: dict[str, int] = {"unsubscribe": 1, "bounce": 2}
_CODE_PURPOSE: dict[int, Purpose] = {1: "unsubscribe", 2: "bounce"}

VERSION = 1
TOKEN_BYTES = 30
TOKEN_LENGTH = 48  # base32 characters, no padding (30 bytes = 240 bits = 48 x 5)
REF_BYTES = 12
MAC_BYTES = 12
MIN_SECRET_BYTES = 16
DEFAULT_MAX_AGE = 180 * 86400.0  # links must work >= 30 days (CAN-SPAM); mail is read late
DEFAULT_CLOCK_SKEW = 300.0  # several relays share the keys; their clocks differ a little

TOKEN_RE = re.compile(r"^[a-z2-7]{48}$")
_MAC_LABEL = b"consentry/token/mac/v1\x00"
_REF_LABEL = b"consentry/token/ref/v1\x00"
_SCOPE_RE = re.compile(r"^(global|list:[A-Za-z0-9._:@+\-/]{1,128})$")


class TokenError(ValueError):
    """Base of every refusal. `reason` is for the log only, never for the client."""

    reason = "invalid"


class TokenMalformed(TokenError):
    reason = "malformed"


class TokenUnknownKey(TokenError):
    reason = "unknown key"


class TokenBadSignature(TokenError):
    reason = "bad signature"


class TokenExpired(TokenError):
    reason = "expired"


class TokenFromFuture(TokenError):
    reason = "issued in the future"


class TokenWrongPurpose(TokenError):
    reason = "wrong purpose"


@dataclass(frozen=True, slots=True)
class TokenKey:
    id: int
    secret: bytes

    def __post_init__(self) -> None:
        if not 1 <= self.id <= 255:
            raise ValueError("token key id must be 1..255")
        if len(self.secret) < MIN_SECRET_BYTES:
            raise ValueError(f"token key secret must be at least {MIN_SECRET_BYTES} bytes")


@dataclass(frozen=True, slots=True)
class TokenRef:
    """What a reference stands for: stored in Redis, never put in a URL."""

    ref: str  # 20 base32 characters
    recipient: str  # the suppression key (address.Address.key)
    scope: str  # "global" or "list:NAME"
    campaign: str | None = None
    # The reference's bytes when this process made it (`reference`): `issue` then needs
    # no base32 round trip. Not part of the stored record or of equality.
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        d = {"r": self.recipient, "s": self.scope}
        if self.campaign is not None:
            d["c"] = self.campaign
        return json.dumps(d, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, ref: str, raw: str) -> TokenRef:
        d = json.loads(raw)
        if not isinstance(d, dict) or not isinstance(d.get("r"), str):
            raise ValueError("token reference record is not an object with 'r'")
        scope = d.get("s", "global")
        if not isinstance(scope, str) or not _SCOPE_RE.match(scope):
            scope = "global"  # a damaged record unsubscribes from everything (fail safe)
        campaign = d.get("c")
        return cls(ref, d["r"], scope, campaign if isinstance(campaign, str) else None)


@dataclass(frozen=True, slots=True)
class TokenClaims:
    purpose: Purpose
    key_id: int
    issued_at: int
    ref: str  # resolve with store.resolve_token_ref(ref) -> TokenRef


_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B32_PAIRS = [a + b for a in _B32 for b in _B32]  # every 10 bits as two characters


def _b32(data: bytes) -> str:
    """RFC 4648 base32, lower case, no padding: base64.b32encode's characters (a
    property test holds them equal) in a fraction of its time (it loops in Python per
    5-byte group; a token costs three of these per copy of every marketing message)."""
    pad = -len(data) % 5
    v = int.from_bytes(data + bytes(pad), "big")
    pairs = (len(data) + pad) * 8 // 10
    text = "".join([_B32_PAIRS[(v >> (10 * (pairs - 1 - i))) & 0x3FF] for i in range(pairs)])
    return text[:(len(data) * 8 + 4) // 5]


def scope_for(list_name: str | None) -> str:
    return f"list:{list_name}" if list_name else "global"


class KeyedSha256:
    """HMAC-SHA256 (RFC 2104) under one fixed key, with the keyed inner and outer hash
    states computed once: a MAC is then two state copies and two short hashes, ~1.9 us
    against ~5 us for hmac.digest(), which has OpenSSL set up the key on every call.
    Three of these per marketing copy (reference, token, bounce token)."""

    __slots__ = ("_inner", "_key", "_outer")

    def __init__(self, key: bytes) -> None:
        self._key = key
        if len(key) > 64:  # SHA-256's block size
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __reduce__(self) -> tuple[type[KeyedSha256], tuple[bytes]]:
        # hash states do not pickle; the codec goes to the inbound worker processes
        return (KeyedSha256, (self._key,))

    def digest(self, msg: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(msg)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class TokenCodec:
    def __init__(self, keys: Sequence[TokenKey], max_age: float = DEFAULT_MAX_AGE,
                 clock_skew: float = DEFAULT_CLOCK_SKEW) -> None:
        if not keys:
            raise ValueError("at least one token key is needed")
        ids = [k.id for k in keys]
        if len(set(ids)) != len(ids):
            raise ValueError("token key ids must be unique")
        self.current = keys[0]
        self.max_age = max_age
        self.clock_skew = clock_skew
        self._mac_keys = {k.id: hmac.new(k.secret, _MAC_LABEL, hashlib.sha256).digest()
                          for k in keys}
        self._ref_key = hmac.new(self.current.secret, _REF_LABEL, hashlib.sha256).digest()
        self._ref_mac = KeyedSha256(self._ref_key)
        self._issue_mac = KeyedSha256(self._mac_keys[self.current.id])
        # Unknown key ids are checked against this so every refusal costs one HMAC.
        self._dummy = hashlib.sha256(b"consentry/dummy" + self._ref_key).digest()

    def reference(self, recipient: str, scope: str, campaign: str | None) -> TokenRef:
        """The opaque reference for (recipient, scope, campaign); store it before use."""
        if not _SCOPE_RE.match(scope):
            raise ValueError(f"invalid scope {scope!r}")
        msg = "\x00".join((recipient, scope, campaign or "")).encode("utf-8", "surrogatepass")
        raw = self._ref_mac.digest(msg)[:REF_BYTES]
        return TokenRef(_b32(raw), recipient, scope, campaign, raw=raw)

    def issue(self, ref: TokenRef | str, now: float, purpose: Purpose = "unsubscribe") -> str:
        if isinstance(ref, TokenRef) and ref.raw is not None:
            raw_ref = ref.raw
        else:
            ref_id = ref.ref if isinstance(ref, TokenRef) else ref
            try:
                raw_ref = base64.b32decode(ref_id.upper() + "=" * (-len(ref_id) % 8))
            except binascii.Error:
                raise ValueError("reference is not base32") from None
            if len(raw_ref) != REF_BYTES or _b32(raw_ref) != ref_id:
                raise ValueError("reference has the wrong length")
        issued = int(now)
        if not 0 <= issued < 2**32:
            raise ValueError("issue time out of range")
        body = struct.pack(">BBI", (VERSION << 4) | _PURPOSE_CODE[purpose],
                           self.current.id, issued) + raw_ref
        mac = self._issue_mac.digest(body)
        return _b32(body + mac[:MAC_BYTES])

    def verify(self, token: str, now: float, purpose: Purpose | None = "unsubscribe"
               ) -> TokenClaims:
        """Return the claims of a genuine, unexpired token or raise a TokenError."""
        if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
            raise TokenMalformed()
        t = token.lower()
        if not TOKEN_RE.match(t):
            raise TokenMalformed()
        try:
            raw = base64.b32decode(t.upper())
        except binascii.Error:
            raise TokenMalformed() from None
        if len(raw) != TOKEN_BYTES:  # pragma: no cover - 48 base32 chars are 30 bytes
            raise TokenMalformed()
        body, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        vp, kid, issued = struct.unpack(">BBI", body[:6])
        key = self._mac_keys.get(kid)
        expected = hmac.new(key if key is not None else self._dummy, body,
                            hashlib.sha256).digest()[:MAC_BYTES]
        good = hmac.compare_digest(expected, mac)
        if key is None:
            raise TokenUnknownKey()
        if not good:
            raise TokenBadSignature()
        if vp >> 4 != VERSION or (vp & 0x0F) not in _CODE_PURPOSE:
            raise TokenMalformed()  # signed by us, so only a future version gets here
        got: Purpose = _CODE_PURPOSE[vp & 0x0F]
        if purpose is not None and got != purpose:
            raise TokenWrongPurpose()
        if issued > now + self.clock_skew:
            raise TokenFromFuture()
        if now - issued > self.max_age:
            raise TokenExpired()
        return TokenClaims(got, kid, issued, _b32(body[6:]))


def find_token(local_part: str, prefix: str) -> str | None:
    """The token in a ``prefix+TOKEN`` local part (``unsubscribe+…``, ``bounces+…``),
    case-insensitively, or None. Callers still verify() it."""
    head, sep, tail = local_part.partition("+")
    if not sep or head.lower() != prefix.lower():
        return None
    tail = tail.lower()
    return tail if TOKEN_RE.match(tail) else None
