"""The local spools' two file operations: an fsync'd append and the claim of a spool for
replay (a rename to its work file), serialised by one lock.

Three spools keep what Redis could not take at the moment it had to be written: retry
jobs (retryq), send records (sends) and refusal rows owed after a 250 (outbound,
spool_replay). Appends run in worker threads while a replay claims the file; without the
lock an append that opened the spool just before the rename could write its line after
the replay had read the renamed file, and the line went when the replay deleted it.
With it, a line lands either in the claimed file before it is read or in a fresh spool
left for the next round. A work file left by a failed round or a crash is claimed first.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

_LOCK = threading.Lock()


def append(path: Path, lines: Sequence[str]) -> None:
    """Append lines (without their newlines) and fsync before returning."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())


def claim(path: Path, work: Path) -> Path | None:
    """The spool renamed to `work` for replay, `work` itself when a previous round left
    it, or None when there is nothing to replay."""
    with _LOCK:
        if work.exists():
            return work
        try:
            if path.stat().st_size == 0:
                return None
        except FileNotFoundError:
            return None
        os.replace(path, work)
        return work
