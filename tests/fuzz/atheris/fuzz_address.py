"""atheris: the envelope address normaliser. Only InvalidAddress; canonical form and key
are fixed points; relay-hack detection never raises."""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["consentry"]):
    from consentry.address import is_relay_hack, parse
    from consentry.errors import InvalidAddress

from _common import run


def target(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    fold = fdp.ConsumeBool()
    raw = data[1:].decode("utf-8", "surrogateescape")
    is_relay_hack(raw)
    try:
        a = parse(raw, fold_case=fold)
    except InvalidAddress:
        return
    b = parse(a.canonical, fold_case=fold)
    if b.canonical != a.canonical or b.key != a.key:
        raise AssertionError(f"not a fixed point: {raw!r} -> {a} -> {b}")


if __name__ == "__main__":
    run(target)
