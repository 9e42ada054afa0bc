"""atheris: the inbound classifier (bounces, complaints, replies) and the bounded MIME
parser under it. classify() never raises; parse_message raises only ParseLimitExceeded."""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["consentry"]):
    from consentry.inbound.classify import Options, classify
    from consentry.tokens import TokenCodec, TokenKey

from _common import run

OPTS = Options(domains=("bounce.shop.test",), codec=TokenCodec([TokenKey(1, b"s" * 32)]),
               now=1_800_000_000.0)
KINDS = {"bounce", "complaint", "autoreply", "unsubscribe", "reply", "delivered", "unknown"}


def target(data: bytes) -> None:
    v = classify(data, ["antwort@shop.test"], "", OPTS)
    if v.kind not in KINDS:
        raise AssertionError(v.kind)


if __name__ == "__main__":
    run(target)
