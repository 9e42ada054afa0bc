"""Replay of the relay's fallback spool (``state_dir/spool/refusals.jsonl``).

When the downstream has accepted some recipients and 5xx'd others, the client must get
its 250 (a 4xx would duplicate the accepted copies on retry), so the bounce rows, the
hard-bounce suppressions and the DSN we owe are recorded in Redis first. If Redis is
down at that moment the relay appends them to the spool instead (fsync'd). This module
applies the spooled entries once Redis answers again, so nothing promised after a 250 is
lost (RFC 5321 §6.1, RELIABILITY §0.1).

At least once: the file is renamed before processing (new entries go to a fresh file),
entries are applied in order, and after a failure only the entries not yet applied are
written back. A crash between applying an entry and rewriting the file can apply that
one entry twice (a duplicate bounce row or DSN), never zero times.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from . import spoolfile
from .errors import StoreUnavailable
from .store import Store, SuppressionRecord


def _suppressions(entry: dict[str, Any]) -> list[SuppressionRecord]:
    out: list[SuppressionRecord] = []
    for key, raw in zip(entry.get("keys") or [], entry.get("suppressions") or [],
                        strict=False):
        d = json.loads(raw) if isinstance(raw, str) else dict(raw)
        out.append(SuppressionRecord(
            address_key=str(key), scope=str(d.get("scope", "global")),
            reason=str(d.get("reason", "hard_bounce")), source=str(d.get("source", "spool")),
            at=float(d.get("at", 0.0)),
            expires_at=float(d["expires_at"]) if d.get("expires_at") is not None else None,
            evidence=d.get("evidence")))
    return out


def _write_atomically(path: Path, lines: list[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


async def replay_refusals(store: Store, path: Path, log: Any) -> int:
    """Apply every spooled entry; returns how many were applied. Raises StoreUnavailable
    (after saving what is left) when Redis fails again."""
    work = await asyncio.to_thread(spoolfile.claim, path,
                                   path.with_name(path.name + ".replaying"))
    if work is None:
        return 0
    lines = (await asyncio.to_thread(work.read_text, encoding="utf-8")).splitlines()
    applied = 0
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            rows = list(entry.get("rows") or [])
            dsn = entry.get("dsn")
            supps = _suppressions(entry)
        except (ValueError, TypeError, AttributeError) as exc:
            log.error("spool_entry_unreadable", reason=str(exc), line=line[:2000])
            continue
        try:
            await store.record_refusals(rows, dsn, supps)
        except StoreUnavailable:
            await asyncio.to_thread(_write_atomically, work, lines[i:])
            raise
        applied += 1
    await asyncio.to_thread(work.unlink)
    if applied:
        log.info("spool_replayed", entries=applied)
    return applied
