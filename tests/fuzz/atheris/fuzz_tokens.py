"""atheris: the token verifier and reference records. Arbitrary strings raise only
TokenError; nothing but a genuine token verifies; a genuine token round-trips and any
one-character change to it is refused."""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["consentry"]):
    from consentry.tokens import TokenCodec, TokenError, TokenKey, TokenRef, find_token

from _common import run

CODEC = TokenCodec([TokenKey(7, b"k" * 32), TokenKey(3, b"o" * 32)])
NOW = 1_800_000_000.0
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    mode = fdp.ConsumeIntInRange(0, 3)
    if mode == 0:
        s = fdp.ConsumeUnicodeNoSurrogates(64)
        try:
            CODEC.verify(s, NOW, purpose=None)
        except TokenError:
            return
        raise AssertionError(f"verified a string the codec never issued: {s!r}")
    if mode == 1:
        ref = CODEC.reference(fdp.ConsumeUnicodeNoSurrogates(40), "global", None)
        issued = fdp.ConsumeIntInRange(0, int(NOW))
        tok = CODEC.issue(ref, issued)
        c = CODEC.verify(tok, float(issued))
        if c.ref != ref.ref or c.issued_at != issued:
            raise AssertionError("round trip changed the claims")
        pos = fdp.ConsumeIntInRange(0, len(tok) - 1)
        ch = ALPHABET[fdp.ConsumeIntInRange(0, 31)]
        if ch == tok[pos]:
            return
        try:
            CODEC.verify(tok[:pos] + ch + tok[pos + 1:], float(issued), purpose=None)
        except TokenError:
            return
        raise AssertionError("a tampered token verified")
    if mode == 2:
        raw = fdp.ConsumeUnicodeNoSurrogates(200)
        try:
            ref = TokenRef.from_json("a" * 20, raw)
        except ValueError:
            return
        if not (ref.scope == "global" or ref.scope.startswith("list:")):
            raise AssertionError(f"scope {ref.scope!r} from {raw!r}")
        return
    find_token(fdp.ConsumeUnicodeNoSurrogates(100), "unsubscribe")


if __name__ == "__main__":
    run(target)
