"""Send records: what each message was, who it went to and why (SPEC §3, §1.9).

One record per message that reached a final outcome — ``relayed`` (the downstream
accepted it for at least one recipient), ``suppressed`` (every recipient was suppressed:
nothing left, the client got 250) or ``refused`` (the downstream refused it
permanently) — with time, Message-ID, campaign, list, category, class, envelope sender,
client, the SHA-256 of the content as relayed (per recipient when per-recipient copies
differ), and every recipient with verdict, rule and the downstream's answer. Temporary
failures are not recorded: the client retries and that attempt is recorded.

Stored in ONE pipelined round trip after the downstream answered (no per-recipient
round trip; the hourly decision counters of `consentry stats` ride in the same pipeline;
records of messages finishing while a write is in flight share the next one: group
commit), with TTL `sends.retention_days` on the record and on its indexes by
campaign, recipient and Message-ID (the inbound path matches In-Reply-To/References
against the last). A failure to write after the downstream accepted never becomes a 4xx
(the client's retry would duplicate the mail): the record is logged and appended to an
fsync'd spool, replayed after the next successful write.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import logs, spoolfile
from .config import MESSAGE_CLASSES, Config
from .errors import StoreUnavailable
from .keys import normalise_message_id
from .model import Decision, MessageFacts
from .store import Store

DAY = 86400.0
SPOOL_REPLAY_BATCH = 500
GROUP_COMMIT_MAX = 256  # send records per MULTI round trip at most


def new_send_id(at: float) -> str:
    # Time-ordered (sorts by time as a string), unique across hosts.
    return f"{int(at * 1000):013d}-{uuid.uuid4().hex[:10]}"


def hour_bucket(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d%H")


@dataclass(frozen=True, slots=True)
class SendWrite:
    """Everything one message's record writes, as plain values for Store.write_send."""

    key_id: str
    raw: str
    at: float
    ttl: int
    campaign: str | None
    message_id: str | None
    recipient_keys: tuple[str, ...]
    counters: dict[str, int] = field(default_factory=dict)  # hourly stats fields
    campaign_sent: int = 0
    stats_ttl: int = 0


def build_record(facts: MessageFacts, decisions: Sequence[Decision], sha256: str,
                 copy_sha: Mapping[str, str], replies: Mapping[str, str], outcome: str,
                 mail_from: str, client: str, at: float) -> dict[str, Any]:
    rcpts: list[dict[str, Any]] = []
    for d in decisions:
        r: dict[str, Any] = {"r": d.recipient, "k": d.facts.get("key", d.recipient),
                             "v": d.verdict, "rule": d.rule}
        s = copy_sha.get(d.recipient)
        if s is not None and s != sha256:
            r["sha256"] = s
        reply = replies.get(d.recipient)
        if reply:
            r["reply"] = reply[:200]
        rcpts.append(r)
    rec: dict[str, Any] = {"at": at, "outcome": outcome, "message_id": facts.message_id,
                           "campaign": facts.campaign, "list": facts.list_name,
                           "category": facts.category, "class": facts.message_class,
                           "classified_by": facts.classified_by, "mail_from": mail_from,
                           "client": client, "sha256": sha256, "recipients": rcpts}
    return {k: v for k, v in rec.items() if v is not None}


def stats_fields(facts: MessageFacts, decisions: Sequence[Decision], relayed: Sequence[str]
                 ) -> dict[str, int]:
    """The hourly counters one message adds: one HINCRBY per distinct field."""
    cls = facts.message_class if facts.message_class in MESSAGE_CLASSES else "unknown"
    out: dict[str, int] = {"msg": 1, "rcpt": len(decisions)}
    for d in decisions:
        for f in (f"v:{d.verdict}", f"r:{d.rule}", f"c:{cls}", f"cv:{cls}:{d.verdict}"):
            out[f] = out.get(f, 0) + 1
    if relayed:
        out["sent"] = len(relayed)
    return out


class SendRecorder:
    def __init__(self, cfg: Config, store: Store, spool: Path) -> None:
        self.cfg = cfg
        self.store = store
        self.spool = spool
        self._work = spool.with_suffix(".replaying")  # the spool claimed by a replay
        # Whether the spool (or a work file a crash left) may hold records: looked up
        # once here, then set by every append and by each replay, so a relayed message
        # pays no stat() to find out.
        self._dirty = spool.exists() or self._work.exists()
        self.log = logs.get("consentry.sends")
        self._replay_lock = asyncio.Lock()
        self._replay_task: asyncio.Task[None] | None = None
        self._pending: list[tuple[SendWrite, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.failures = 0

    def plan(self, facts: MessageFacts, decisions: Sequence[Decision], sha256: str,
             copy_sha: Mapping[str, str], replies: Mapping[str, str], outcome: str,
             mail_from: str, client: str, relayed: Sequence[str], at: float
             ) -> SendWrite | None:
        if not (self.cfg.sends.enabled or self.cfg.stats.enabled):
            return None
        rec = build_record(facts, decisions, sha256, copy_sha, replies, outcome, mail_from,
                           client, at)
        sid = new_send_id(at)
        rec["id"] = sid
        keys = tuple(dict.fromkeys(str(d.facts.get("key", d.recipient)) for d in decisions))
        return SendWrite(
            key_id=sid if self.cfg.sends.enabled else "",
            raw=json.dumps(rec, separators=(",", ":"), ensure_ascii=False),
            at=at, ttl=int(self.cfg.sends.retention_days * DAY),
            campaign=facts.campaign, message_id=facts.message_id, recipient_keys=keys,
            counters=stats_fields(facts, decisions, relayed) if self.cfg.stats.enabled
            else {},
            campaign_sent=len(relayed) if facts.campaign else 0,
            stats_ttl=int(self.cfg.stats.retention_days * DAY))

    async def record(self, w: SendWrite | None) -> bool:
        """Write one message's record; on Redis trouble spool it (never raises)."""
        if w is None:
            return True
        try:
            await self._commit(w)
        except StoreUnavailable as exc:
            self.failures += 1
            from .metrics import METRICS

            METRICS.send_record_failures += 1
            self.log.error("send_record_spooled", reason=str(exc), send_id=w.key_id,
                           message_id=w.message_id)
            try:
                await asyncio.to_thread(self._spool_append, w)
                self._dirty = True
            except OSError as err:
                self.log.error("send_record_lost", reason=str(err), send_id=w.key_id,
                               record=w.raw[:2000])
            return False
        if self._dirty and self._replay_task is None:
            task = asyncio.get_running_loop().create_task(self._replay_once())
            self._replay_task = task
        return True

    async def _commit(self, w: SendWrite) -> None:
        """Group commit: the first record goes out at once; records that arrive while a
        write is in flight wait for it and then go together in the next one (one MULTI
        round trip for all of them; no timer, so an idle relay adds no latency). Each
        caller returns only once its own record is written, or raises StoreUnavailable
        when its batch was refused."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((w, fut))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_batches())
        await asyncio.shield(fut)

    async def _write_batches(self) -> None:
        try:
            while self._pending:
                batch = self._pending[:GROUP_COMMIT_MAX]
                del self._pending[:GROUP_COMMIT_MAX]
                try:
                    await self.store.write_sends([(w, hour_bucket(w.at)) for w, _ in batch])
                except StoreUnavailable as exc:
                    for _, f in batch:
                        _fail(f, StoreUnavailable(str(exc)))
                except BaseException as exc:  # a bug or cancellation: nobody may hang
                    for _, f in batch:
                        _fail(f, StoreUnavailable(f"send record: {exc!r}"))
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                else:
                    for _, f in batch:
                        if not f.done():
                            f.set_result(None)
        finally:
            self._writer = None

    async def _replay_once(self) -> None:
        try:
            await self.replay()
        except (OSError, StoreUnavailable) as exc:
            self.log.error("send_spool_replay_failed", reason=str(exc))
        finally:
            self._replay_task = None

    def _spool_append(self, w: SendWrite) -> None:
        row = {"key_id": w.key_id, "raw": w.raw, "at": w.at, "ttl": w.ttl,
               "campaign": w.campaign, "message_id": w.message_id,
               "recipient_keys": list(w.recipient_keys), "counters": w.counters,
               "campaign_sent": w.campaign_sent, "stats_ttl": w.stats_ttl}
        spoolfile.append(self.spool, [json.dumps(row, ensure_ascii=False)])

    def _take_spool(self, work: Path) -> str:
        # New failures start a fresh spool; the claim and the appends share a lock.
        claimed = spoolfile.claim(self.spool, work)
        return claimed.read_text(encoding="utf-8") if claimed is not None else ""

    def _put_back(self, left: list[str], work: Path) -> None:
        if left:
            spoolfile.append(self.spool, left)
        with contextlib.suppress(FileNotFoundError):
            work.unlink()

    async def replay(self) -> int:
        """Write spooled records (oldest first); keep what still fails. Returns written."""
        async with self._replay_lock:
            work = self._work
            text = await asyncio.to_thread(self._take_spool, work)
            done = 0
            left: list[str] = []
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    w = SendWrite(d["key_id"], d["raw"], float(d["at"]), int(d["ttl"]),
                                  d.get("campaign"), d.get("message_id"),
                                  tuple(d["recipient_keys"]), dict(d.get("counters", {})),
                                  int(d.get("campaign_sent", 0)), int(d.get("stats_ttl", 0)))
                except (ValueError, KeyError, TypeError):
                    self.log.error("send_spool_line_unreadable", line=line[:200])
                    continue
                if left:
                    left.append(line)
                    continue
                try:
                    await self.store.write_send(w, hour_bucket(w.at))
                    done += 1
                except StoreUnavailable:
                    left.append(line)
            await asyncio.to_thread(self._put_back, left, work)
            # An append that finished meanwhile left the spool behind (and set the flag
            # itself after this, or is seen here); nothing else can refill it.
            self._dirty = bool(left) or self.spool.exists()
            if done:
                self.log.info("send_records_replayed", count=done, left=len(left))
            return done


def _fail(f: asyncio.Future[None], exc: BaseException) -> None:
    if not f.done():
        f.set_exception(exc)
        f.exception()  # retrieved here too: a caller that was cancelled never awaits it


# -- lookups (the CLI, and the inbound path matching In-Reply-To/References) --------------


def decode(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        d = json.loads(raw)
    except ValueError:
        return None
    return d if isinstance(d, dict) else None


async def by_message_ids(store: Store, message_ids: Sequence[str], limit: int = 20
                         ) -> list[dict[str, Any]]:
    """Send records of these Message-IDs (a reply's In-Reply-To and References), newest
    first; records past their retention are gone."""
    ids = [m for m in dict.fromkeys(normalise_message_id(x) for x in message_ids) if m]
    if not ids:
        return []
    keys = [store.keys.sends_by_message_id(m) for m in ids[:50]]
    send_ids = await store.send_ids_multi(keys, limit)
    return [r for r in (decode(x) for x in await store.get_sends(send_ids)) if r]


async def by_index(store: Store, index_key: str, limit: int, since: float | None = None,
                   until: float | None = None) -> list[dict[str, Any]]:
    send_ids = await store.send_ids(index_key, limit, since, until)
    return [r for r in (decode(x) for x in await store.get_sends(send_ids)) if r]


def recipients_of(records: Sequence[Mapping[str, Any]], verdict: str = "allow") -> list[str]:
    """Address keys the records' messages went to (verdict allow by default)."""
    out: list[str] = []
    for rec in records:
        for r in rec.get("recipients", []):
            if isinstance(r, dict) and r.get("v") == verdict and isinstance(r.get("k"), str):
                out.append(r["k"])
    return list(dict.fromkeys(out))
