"""Shared inputs for the fuzz suite: profiles, a per-call time bound, corpus samples and
byte-level mutations of them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import settings
from hypothesis import strategies as st

T = TypeVar("T")
TORTURE = os.environ.get("CONSENTRY_TORTURE") == "1"
DATA = Path(__file__).resolve().parent.parent / "data"
# A pathological case (a regex gone quadratic, a loop that does not end) takes far longer
# than this on any machine; ordinary inputs take milliseconds. Not a performance figure.
BOUND_S = 5.0


def fuzz_settings(scale: float = 1.0) -> settings:
    base = settings.get_profile("consentry-fuzz-torture" if TORTURE else "consentry-fuzz")
    return settings(base, max_examples=max(10, int(base.max_examples * scale)))


def bounded(fn: Callable[..., T], *args: Any, **kw: Any) -> T:
    t0 = time.monotonic()
    try:
        return fn(*args, **kw)
    finally:
        took = time.monotonic() - t0
        assert took < BOUND_S, f"{getattr(fn, '__name__', fn)} took {took:.1f} s"


def _corpus(limit: int = 200) -> list[bytes]:
    """Real DSN/ARF/reply samples, plus CPython's malformed-but-real email test messages."""
    files = sorted(p for p in DATA.rglob("*.eml") if p.stat().st_size < 200_000)
    step = max(1, len(files) // limit)
    cpython = sorted((DATA / "cpython-email").glob("msg_*.txt"))
    return [p.read_bytes() for p in files[::step]][:limit] + [p.read_bytes() for p in cpython]


CORPUS = _corpus()


@st.composite
def mutated(draw: st.DrawFn, samples: list[bytes] = CORPUS) -> bytes:
    """A real message with a few byte-level edits: flips, inserts, deletes, cuts, and
    splices of MIME/SMTP-significant tokens (boundaries, CR/LF, dots, headers)."""
    data = bytearray(draw(st.sampled_from(samples)))
    tokens = [b"\r\n", b"\n", b"\r", b"\r\n.\r\n", b"--", b"\r\n\r\n", b":", b"=?utf-8?b?",
              b"Content-Type: multipart/mixed; boundary=x\r\n", b"Content-Type: message/rfc822\r\n",
              b"Content-Transfer-Encoding: base64\r\n", b"=\r\n", b"\x00", b"\xff\xfe",
              b"Status: 5.1.1\r\n", b"Final-Recipient: rfc822; ", b"<>", b"@", b"\t"]
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut", "token", "dup"]))
        if op == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif op == "cut":
            del data[pos:]
        elif op == "token":
            data[pos:pos] = draw(st.sampled_from(tokens))
        else:
            n = draw(st.integers(1, 256))
            data[pos:pos] = data[pos : pos + n] * draw(st.integers(2, 20))
    return bytes(data)
