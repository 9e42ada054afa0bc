"""A classifier for the inbound worker processes that a marked message drives into
catastrophic regular-expression backtracking (CPU-bound, uninterruptible in a thread);
every other message is classified as usual."""

from __future__ import annotations

import re
from collections.abc import Sequence

from consentry.inbound.classify import Options, Verdict, classify

MARK = b"X-Test-Backtrack: yes"
_EVIL = re.compile(r"^(a|aa)+$")


def backtracking_classify(data: bytes, rcpts: Sequence[str], mail_from: str | None,
                          opts: Options) -> Verdict:
    if MARK in data:
        _EVIL.match("a" * 64 + "b")  # 2^64 paths: runs until the worker is killed
    return classify(data, rcpts, mail_from, opts)


CRASH = b"X-Test-Crash: yes"
RAISE = b"X-Test-Raise: yes"


def misbehaving_classify(data: bytes, rcpts: Sequence[str], mail_from: str | None,
                         opts: Options) -> Verdict:
    """Backtracks on MARK, dies on CRASH (as an out-of-memory kill would), raises on
    RAISE; classifies everything else."""
    if CRASH in data:
        import os

        os._exit(3)
    if RAISE in data:
        raise ValueError("classifier bug")
    return backtracking_classify(data, rcpts, mail_from, opts)


def backtracking_limits(data: bytes) -> None:
    """The listener's bomb check, driven into catastrophic backtracking by MARK (as a
    pathological input to a non-linear check would); the real check otherwise."""
    from consentry.inbound.parse import check_limits

    if MARK in data:
        _EVIL.match("a" * 64 + "b")
    check_limits(data)
