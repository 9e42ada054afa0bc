"""The only module that imports redis. Every call is bounded by the configured deadline;
any Redis trouble surfaces as StoreUnavailable, which the relay turns into 451."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import (
    AskError,
    ClusterDownError,
    MovedError,
    RedisError,
    ResponseError,
    TryAgainError,
    WatchError,
)
from redis.utils import HIREDIS_AVAILABLE

from .address import Address
from .config import RedisConfig, parse_hostport
from .consent import (
    AddressInfo,
    ConsentImport,
    SuppressionLine,
    WritePlan,
    decode_address_hash,
    persons_in,
    plan_consent_batch,
)
from .errors import StoreUnavailable
from .keys import AUDIT_STREAM_MAXLEN, BOUNCE_STREAM_MAXLEN, CLUSTER_SLOTS, Keys, key_slot
from .metrics import METRICS
from .model import RecipientState, Suppression
from .redis_mux import Mux


@dataclass(frozen=True, slots=True)
class SuppressionRecord:
    address_key: str
    scope: str
    reason: str
    source: str
    at: float
    expires_at: float | None = None
    evidence: str | None = None

    def to_json(self) -> str:
        d: dict[str, Any] = {"reason": self.reason, "source": self.source, "at": self.at}
        if self.expires_at is not None:
            d["expires_at"] = self.expires_at
        if self.evidence is not None:
            d["evidence"] = self.evidence
        return json.dumps(d, separators=(",", ":"), sort_keys=True)


# Suppressions the allow-list (seed and test addresses) never lets through.
BOUNCE_REASONS = frozenset({"hard_bounce", "soft_bounce"})
WATCH_RETRIES = 8
BATCH_DEADLINE = 30.0


class AuditSink(Protocol):
    """Told after every committed change that wrote audit stream entries (audit.py
    appends them to the hash-chained file). `last_id` is the stream id of the change's
    last entry ("+" when unknown). With `strict` a failure raises AuditIncomplete: the
    change is in Redis and the stream, but must not be acknowledged as done."""

    async def committed(self, last_id: str, entries: Sequence[dict[str, str]],
                        strict: bool) -> None: ...

# Deletes expired pending DOI sign-ups atomically. KEYS: pending index, audit stream,
# then one address hash per due member; ARGV: cutoff, now, actor, audit maxlen, members,
# then each member's audit identity (Keys.ident) in the same order.
_PURGE_LUA = """
local n = 0
for i = 3, #KEYS do
  local member = ARGV[i + 2]
  local raw = redis.call('HGET', KEYS[i], 'pending')
  local keep = nil
  if raw then
    local ok, rec = pcall(cjson.decode, raw)
    if ok and type(rec) == 'table' then
      local at = tonumber(rec['signup_at'])
      if at and at > tonumber(ARGV[1]) then keep = at end
    end
  end
  if keep then
    redis.call('ZADD', KEYS[1], keep, member)
  else
    if raw then
      redis.call('HDEL', KEYS[i], 'pending')
      redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'action', 'doi_purge',
                 'address', ARGV[#KEYS + i], 'reason', 'pending DOI sign-up expired',
                 'source', 'doi-purge', 'at', ARGV[2], 'actor', ARGV[3], 'record', raw)
      n = n + 1
    end
    redis.call('ZREM', KEYS[1], member)
  end
end
return n
"""


# Writes one suppression without ever losing a stronger one stored under the same scope:
# an objection (any reason but the two bounces) outranks hard_bounce outranks soft_bounce.
# The strongest stays in the field named by the scope; a weaker one of another kind goes
# beside it in field "<scope>|<reason>" (an expiring soft bounce must never replace, and
# so erase, a permanent unsubscribe). Readers take the scope from the field up to "|".
# KEYS[1] = suppression hash; ARGV = scope, reason, JSON value. Returns 1 if new.
_MERGE_LUA = """
local function rank(reason)
  if reason == 'soft_bounce' then return 1 elseif reason == 'hard_bounce' then return 2 end
  return 3
end
local scope, reason, value = ARGV[1], ARGV[2], ARGV[3]
local cur = redis.call('HGET', KEYS[1], scope)
if cur then
  local ok, d = pcall(cjson.decode, cur)
  local old = 'unparseable'
  if ok and type(d) == 'table' and type(d['reason']) == 'string' then old = d['reason'] end
  if rank(old) > rank(reason) then
    return redis.call('HSET', KEYS[1], scope .. '|' .. reason, value)
  elseif rank(old) < rank(reason) then
    redis.call('HSET', KEYS[1], scope .. '|' .. old, cur)
    redis.call('HSET', KEYS[1], scope, value)
    return 1
  end
end
return redis.call('HSET', KEYS[1], scope, value)
"""


def suppress_entry(rec: SuppressionRecord, actor: str) -> dict[str, str]:
    """The audit entry of one suppression write (one shape for every writer)."""
    entry = {"action": "suppress", "address": rec.address_key, "scope": rec.scope,
             "reason": rec.reason, "source": rec.source, "at": f"{rec.at:.6f}",
             "actor": actor}
    if rec.expires_at is not None:
        entry["expires_at"] = f"{rec.expires_at:.6f}"
    if rec.evidence is not None:
        entry["evidence"] = rec.evidence
    return entry


def merge_suppression(pipe: Any, key: str, rec: SuppressionRecord) -> None:
    """Queue the precedence-keeping write of `rec` (see _MERGE_LUA) on a pipeline."""
    pipe.eval(_MERGE_LUA, 1, key, rec.scope, rec.reason, rec.to_json())


STATS_TTL = 40 * 86400  # hourly counters written beside an audit entry (stats.py)


_STREAM_ID = re.compile(r"^\d+-\d+$")


def _expiring_member(entry: dict[str, str]) -> str:
    # A domain entry's ident is "*@<domain>" (its hash is cs:suppd:<domain>).
    ident = entry["address"] if "address" in entry else f"*@{entry['domain']}"
    return f"{ident}\t{entry.get('scope', 'global')}\t{entry.get('reason', '?')}"


# Removes due expiring suppressions, each with an audit entry. KEYS: expiring index,
# audit stream, then one suppression hash per due member; ARGV: now, audit maxlen, actor,
# then the due members. A member's field may have been replaced meanwhile (a stronger or
# a later suppression): only a record that has itself expired is removed. An ident
# "*@<domain>" is a domain entry: audited as expire_domain with the domain in clear.
_EXPIRE_LUA = """
local n = 0
for i = 3, #KEYS do
  local member = ARGV[i + 1]
  local a, b = string.find(member, '\t', 1, true)
  local ident = string.sub(member, 1, a - 1)
  local rest = string.sub(member, b + 1)
  local c, d = string.find(rest, '\t', 1, true)
  local scope, reason = string.sub(rest, 1, c - 1), string.sub(rest, d + 1)
  local action, who_field, who = 'expire', 'address', ident
  if string.sub(ident, 1, 2) == '*@' then
    action, who_field, who = 'expire_domain', 'domain', string.sub(ident, 3)
  end
  for _, field in ipairs({scope, scope .. '|' .. reason}) do
    local raw = redis.call('HGET', KEYS[i], field)
    if raw then
      local ok, rec = pcall(cjson.decode, raw)
      if ok and type(rec) == 'table' and rec['reason'] == reason and rec['expires_at']
          and tonumber(rec['expires_at']) <= tonumber(ARGV[1]) then
        redis.call('HDEL', KEYS[i], field)
        redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'action', action,
                   who_field, who, 'scope', scope, 'reason', reason,
                   'source', tostring(rec['source'] or '?'), 'at', ARGV[1],
                   'actor', ARGV[3], 'record', raw)
        n = n + 1
      end
    end
  end
  redis.call('ZREM', KEYS[1], member)
end
return n
"""


# Deletes hash field ARGV[1] of KEYS[1] only while it still holds ARGV[2]. Returns 1 if so.
_HDEL_IF_LUA = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def _last_id(replies: Sequence[Any]) -> str | None:
    """The stream id of the last XADD in a MULTI's replies (the audit entries' last)."""
    for r in reversed(replies):
        if isinstance(r, str) and _STREAM_ID.match(r):
            return r
    return None


def _pairs(flat: Any) -> dict[str, str]:
    """A raw HGETALL reply (flat [field, value, ...]) as a dict."""
    if isinstance(flat, dict):
        return flat
    it = iter(flat or ())
    return dict(zip(it, it, strict=False))


def _rank(reason: str) -> int:
    return {"soft_bounce": 1, "hard_bounce": 2}.get(reason, 3)


def _merge_local(h: dict[str, str], scope: str, reason: str, value: str) -> None:
    """What _MERGE_LUA does, on a hash in memory (several lines of one import batch)."""
    cur = h.get(scope)
    if cur is not None:
        old = _decode_suppression("", scope, cur).reason
        if _rank(old) > _rank(reason):
            h[f"{scope}|{reason}"] = value
            return
        if _rank(old) < _rank(reason):
            h[f"{scope}|{old}"] = cur
    h[scope] = value


def _same_kind(h: dict[str, str], scope: str, reason: str) -> str | None:
    """The stored value a new suppression of `reason` at `scope` would replace."""
    cur = h.get(scope)
    if cur is not None and _rank(_decode_suppression("", scope, cur).reason) == _rank(reason):
        return cur
    return h.get(f"{scope}|{reason}")


def _decode_suppression(address_key: str, scope: str, raw: str) -> Suppression:
    scope = scope.partition("|")[0]  # "global|soft_bounce" sits beside a stronger "global"
    try:
        d = json.loads(raw)
        return Suppression(
            address=address_key,
            scope=scope,
            reason=str(d.get("reason", "unknown")),
            source=str(d.get("source", "unknown")),
            at=float(d.get("at", 0.0)),
            expires_at=float(d["expires_at"]) if d.get("expires_at") is not None else None,
            evidence=d.get("evidence"),
        )
    except (ValueError, TypeError, AttributeError):
        # A value another tool wrote badly still suppresses (fail safe).
        return Suppression(address=address_key, scope=scope, reason="unparseable",
                           source="unknown", at=0.0)


# A key of the wrong type where a lookup expects a hash (WRONGTYPE): another tool wrote
# something we cannot read. That recipient is suppressed (fail safe, like an unparseable
# value) instead of 451-ing every message that names it, forever. Any other error reply
# (NOPERM, LOADING, MISCONF, ...) means the store is unusable: StoreUnavailable, 451.
_CORRUPT: dict[str, str] = {"global": "<not a hash: WRONGTYPE>"}


def _checked(results: list[Any]) -> list[Any]:
    out: list[Any] = []
    for r in results:
        if isinstance(r, Exception):
            if isinstance(r, ResponseError) and str(r).startswith("WRONGTYPE"):
                out.append(_CORRUPT)
                continue
            raise StoreUnavailable(f"redis lookup: {type(r).__name__}: {r}")
        out.append(r)
    return out


def _unreadable(address_key: str) -> Suppression:
    return Suppression(address=address_key, scope="global", reason="unparseable",
                       source="unknown", at=0.0)


class _LeanPipeline:
    """The per-message pipelines (GET/HGETALL lookups, SET of token refs), lean on CPU.

    On the wire it is redis-py's non-transactional Pipeline: one packed write, every reply
    read before an error is raised, the connection's retry policy on connection errors,
    the connection dropped if anything is left unread (deadline cancel). It skips the
    Pipeline's per-call machinery and a timer per reply: reads need no socket timer
    because Store._bounded puts the (never longer) deadline around the whole round trip.
    At 10 recipients that cut a lookup's client CPU by about 40% (bench/relay.py).
    With a `mux` (redis_mux.py, single node and Sentinel) the commands instead join the
    other requests of this event-loop iteration on the multiplexed connection; the
    replies are interpreted the same way (_interpret)."""

    __slots__ = ("_cmds", "_mux", "_redis")

    def __init__(self, redis: Any, mux: Mux | None = None) -> None:
        self._redis = redis
        self._mux = mux
        self._cmds: list[tuple[str, ...]] = []

    async def __aenter__(self) -> _LeanPipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cmds = []

    def get(self, key: str) -> None:
        self._cmds.append(("GET", key))

    def hgetall(self, key: str) -> None:
        self._cmds.append(("HGETALL", key))

    def set(self, key: str, value: str, ex: int) -> None:
        self._cmds.append(("SET", key, value, "EX", str(ex)))

    def set_nx(self, key: str, value: str) -> None:
        self._cmds.append(("SET", key, value, "NX"))

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        cmds = self._cmds
        if self._mux is not None:  # never in a cluster
            return self._interpret(await self._mux.request(cmds), raise_on_error)
        if isinstance(self._redis, RedisCluster):
            return await self._execute_cluster(raise_on_error)
        pool = self._redis.connection_pool
        conn = await pool.get_connection()

        async def attempt() -> list[Any]:
            await conn.send_packed_command(conn.pack_commands(cmds))
            replies: list[Any] = []
            for _ in cmds:
                try:
                    replies.append(await conn.read_response(timeout=math.inf))
                except ResponseError as exc:
                    replies.append(exc)
            return self._interpret(replies, raise_on_error)

        async def fail(_error: Exception) -> None:
            await conn.disconnect()

        try:
            result: list[Any] = await conn.retry.call_with_retry(attempt, fail)
            return result
        finally:
            await pool.release(conn)

    def _interpret(self, raw: list[Any], raise_on_error: bool) -> list[Any]:
        """Raw replies as redis-py's pipeline returns them: each through the client's
        response callback; the first error reply raised (with raise_on_error) only after
        every reply was read."""
        callbacks = self._redis.response_callbacks
        replies: list[Any] = []
        error: ResponseError | None = None
        for cmd, reply in zip(self._cmds, raw, strict=True):
            if isinstance(reply, ResponseError):
                error = error or reply
                replies.append(reply)
                continue
            cb = callbacks.get(cmd[0])
            replies.append(cb(reply) if cb is not None else reply)
        if error is not None and raise_on_error:
            raise error
        return replies

    async def _execute_cluster(self, raise_on_error: bool) -> list[Any]:
        """Redis Cluster: each master gets its commands in one packed write, all masters
        at once (one round trip per node, in parallel), read as in `execute` above. Any
        redirect (MOVED/ASK: slots moved), cluster-down or connection error falls back to
        redis-py's cluster pipeline, which refreshes the slot map and resends."""
        rc: RedisCluster = self._redis
        cmds = self._cmds
        replies: list[Any] = [None] * len(cmds)
        redirected = False

        async def one(node: Any, idxs: list[int]) -> None:
            nonlocal redirected
            conn = node.acquire_connection()
            clean = False
            try:
                await conn.send_packed_command(conn.pack_commands([cmds[i] for i in idxs]))
                for i in idxs:
                    try:
                        reply = await conn.read_response(timeout=math.inf)
                    except ResponseError as exc:
                        redirected = redirected or isinstance(exc, _REDIRECTS)
                        replies[i] = exc
                        continue
                    cb = node.response_callbacks.get(cmds[i][0])
                    replies[i] = cb(reply) if cb is not None else reply
                clean = True
            finally:
                if not clean:
                    await conn.disconnect()  # replies left unread: never reuse it
                node.release(conn)

        try:
            await rc.initialize()
            by_node: dict[str, tuple[Any, list[int]]] = {}
            for i, cmd in enumerate(cmds):
                node = rc.nodes_manager.get_node_from_slot(key_slot(cmd[1]))
                by_node.setdefault(node.name, (node, []))[1].append(i)
            await asyncio.gather(*(one(n, ix) for n, ix in by_node.values()))
        except (RedisError, OSError):
            redirected = True
        if redirected:
            async with rc.pipeline() as cp:
                for cmd in cmds:
                    cp.execute_command(*cmd)
                res: list[Any] = await cp.execute(raise_on_error=raise_on_error)
                return res
        if raise_on_error:
            for r in replies:
                if isinstance(r, ResponseError):
                    raise r
        return replies


# Replies that mean the cluster's slot map changed under a request.
_REDIRECTS = (MovedError, AskError, TryAgainError, ClusterDownError)


def _call_key(name: str, args: tuple[Any, ...]) -> str:
    """The key a queued pipeline call works on (the slot its MULTI must run in)."""
    if name == "execute_command":
        return str(args[3] if str(args[0]).upper() in ("EVAL", "EVALSHA") else args[1])
    return str(args[2] if name in ("eval", "evalsha") else args[0])


class _SlotTx:
    """MULTI/EXEC of the queued calls (the subset of redis-py's pipeline API the writers
    use). On a single node or Sentinel: ONE transaction, all or nothing, exactly like
    `pipeline(transaction=True)`. In cluster layout a transaction cannot span slots, so
    there is one MULTI/EXEC per hash slot, each atomic. The part holding the LAST queued
    call (writers queue their audit entries last, on the shared `{g}` slot) runs after all
    other parts committed (`audit_first=False`: additions, whose retry re-writes the
    idempotent change and its audit entry), or before them (`audit_first=True`: removals
    and consent plans, so a change is never left without its record; a retry may repeat
    an entry). Replies come back in the order the calls were queued."""

    __slots__ = ("_audit_first", "_calls", "_final_key", "_store")

    def __init__(self, store: Store, audit_first: bool = False,
                 final_key: str | None = None) -> None:
        self._store = store
        self._audit_first = audit_first
        self._final_key = final_key  # the part of this key's slot is the "last" one
        self._calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def __aenter__(self) -> _SlotTx:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._calls = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def queue(*args: Any, **kwargs: Any) -> None:
            self._calls.append((name, args, kwargs))
        return queue

    async def _run(self, idxs: list[int]) -> list[tuple[int, Any]]:
        if not idxs:
            return []
        if self._store.cluster:
            done = await self._run_raw(idxs)
            if done is not None:
                return done
        async with self._store.redis.pipeline(transaction=True) as p:
            for i in idxs:
                name, args, kwargs = self._calls[i]
                getattr(p, name)(*args, **kwargs)
            res: list[Any] = await p.execute()
        return list(zip(idxs, res, strict=True))

    async def _run_raw(self, idxs: list[int]) -> list[tuple[int, Any]] | None:
        """One slot's MULTI/EXEC sent as one packed write on a connection of the slot's
        master (redis-py's cluster transaction pipeline costs several times the client
        CPU). Replies are raw, as from `_raw`. None: a redirect (MOVED/ASK: slot moved,
        nothing applied) or a connection error, for the cluster pipeline to handle."""
        store = self._store
        rc: RedisCluster = store.redis
        enc = store.encoder().pipeline(transaction=True)
        for i in idxs:
            name, args, kwargs = self._calls[i]
            getattr(enc, name)(*args, **kwargs)
        seq = [("MULTI",), *(a for a, _o in enc.command_stack), ("EXEC",)]
        try:
            await rc.initialize()
            name, args, _kw = self._calls[idxs[0]]
            node = rc.nodes_manager.get_node_from_slot(key_slot(_call_key(name, args)))
            conn = node.acquire_connection()
        except (RedisError, OSError):
            return None
        clean = False
        replies: list[Any] = []
        try:
            await conn.send_packed_command(conn.pack_commands(seq))
            for _ in seq:
                try:
                    replies.append(await conn.read_response(timeout=math.inf))
                except ResponseError as exc:
                    replies.append(exc)
            clean = True
        except (RedisError, OSError):
            return None
        finally:
            if not clean:
                await conn.disconnect()  # replies left unread: never reuse it
            node.release(conn)
        if any(isinstance(r, _REDIRECTS) for r in replies):
            return None
        result = replies[-1]
        if isinstance(result, Exception):
            raise result  # EXECABORT: a command was refused while queueing, none ran
        for r in result:
            if isinstance(r, Exception):
                raise r
        return list(zip(idxs, result, strict=True))

    async def execute(self) -> list[Any]:
        calls = self._calls
        if not calls:
            return []
        if not self._store.cluster:
            return [r for _i, r in await self._run(list(range(len(calls))))]
        groups: dict[int, list[int]] = {}
        for i, (name, args, _kw) in enumerate(calls):
            groups.setdefault(key_slot(_call_key(name, args)), []).append(i)
        last = self._final_key or _call_key(calls[-1][0], calls[-1][1])
        final = groups.pop(key_slot(last), [])
        out: list[Any] = [None] * len(calls)
        if self._audit_first:
            for i, r in await self._run(final):
                out[i] = r
        parts = await asyncio.gather(*(self._run(ix) for ix in groups.values()),
                                     return_exceptions=True)
        for part in parts:
            if isinstance(part, BaseException):
                raise part
            for i, r in part:
                out[i] = r
        if not self._audit_first:
            for i, r in await self._run(final):
                out[i] = r
        return out


def _hostport(node: str) -> tuple[str, int]:
    return parse_hostport(node, "redis node")


def _discard(aw: Awaitable[Any]) -> None:
    """Close a round trip's coroutine that will never run (no "never awaited" warning)."""
    close = getattr(aw, "close", None)
    if close is not None:
        close()


LAG_SHARE = 0.25  # loop lag (share of the Redis deadline) that earns one extension


class LoopLag:
    """How late an event loop has been running its timers lately: a 50 ms heartbeat
    records its own lateness, and `recent` keeps the worst of about the last second.
    One per event loop, shared by every Store on it (`LoopLag.of`). It beats only while
    Redis is being asked: once no round trip has been in flight for IDLE_TICKS ticks
    (about a second), it stops, so an idle daemon is not woken 20 times a second; the
    next round trip starts it again with a clean reading."""

    TICK = 0.05
    IDLE_TICKS = 20

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> LoopLag:
        lag = _LAGS.get(loop)
        if lag is None:
            lag = _LAGS[loop] = cls(loop)
        return lag

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # weak: the registry must not keep a loop alive
        self.recent = 0.0
        self.in_flight = 0
        self._idle = 0
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        assert loop is not None  # only used from a callback or task of that loop
        return loop

    @property
    def running(self) -> bool:
        return self._handle is not None

    def enter(self) -> None:
        """A round trip starts: the heartbeat runs until a second after the last ends."""
        self.in_flight += 1
        self._idle = 0
        if self._handle is None:
            self.recent = 0.0
            self._due = self.loop.time() + self.TICK
            self._handle = self.loop.call_at(self._due, self._tick)

    def leave(self) -> None:
        self.in_flight -= 1
        self._idle = 0

    def _tick(self) -> None:
        now = self.loop.time()
        self.recent = max(now - self._due, self.recent * 0.8)  # 0.8 ** 20: a second
        if self.in_flight <= 0:
            self._idle += 1
            if self._idle > self.IDLE_TICKS:
                self._handle = None
                return
        self._due = now + self.TICK
        self._handle = self.loop.call_at(self._due, self._tick)


_LAGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLag] = (
    weakref.WeakKeyDictionary())


class Store:
    def __init__(self, cfg: RedisConfig, url: str, keys: Keys | None = None) -> None:
        self.cfg = cfg
        self.lag_extensions = 0  # Redis deadlines moved on once for a late event loop
        self.keys = keys or Keys(cfg.key_prefix)
        self.deadline = cfg.deadline_ms / 1000.0
        # redis-py's own socket timeouts (connect, and reads outside the auto-pipeline)
        # are twice the deadline: the deadline around every round trip (_bounded), with
        # its one extension on a late loop, is what decides. At the deadline itself they
        # would expire in the same late loop turn and the extension could never help a
        # round trip that reads through redis-py or opens a connection.
        timeout = 2 * max(self.deadline, 0.05)
        self.cluster = cfg.cluster is not None
        self._encoder: aioredis.Redis | None = None
        self.sentinel: Sentinel | None = None
        self.pool: Any = None
        # Any: redis-py's Redis (url, Sentinel) or RedisCluster; the commands used are
        # the same, the cluster paths are chosen by `self.cluster`.
        self.redis: Any
        if cfg.cluster is not None:
            # Keys carry hash tags (keys.py); a node's connections are redis-py's own.
            self.keys = dataclasses.replace(self.keys, tagged=True)
            self.redis = RedisCluster(
                startup_nodes=[ClusterNode(*_hostport(n)) for n in cfg.cluster.nodes],
                username=cfg.username, password=cfg.password, decode_responses=True,
                max_connections=cfg.pool_size, socket_timeout=timeout,
                socket_connect_timeout=timeout, health_check_interval=0)
        elif cfg.sentinel is not None:
            # The master's address comes from the sentinels on every new connection; after
            # a failover the old connections fail (451) and new ones reach the promoted
            # replica. Its canary check still applies: an empty promoted replica is no
            # healthy store.
            sc = cfg.sentinel
            self.sentinel = Sentinel(  # type: ignore[no-untyped-call]
                [_hostport(n) for n in sc.nodes],
                sentinel_kwargs={"password": sc.password, "username": sc.username,
                                 "socket_timeout": timeout,
                                 "socket_connect_timeout": timeout},
                socket_timeout=timeout, socket_connect_timeout=timeout,
                username=cfg.username, password=cfg.password, decode_responses=True,
                health_check_interval=0)
            self.redis = self.sentinel.master_for(sc.master, max_connections=cfg.pool_size)
            self.pool = self.redis.connection_pool
        else:
            # BlockingConnectionPool waits (up to pool_wait_ms) for a free connection
            # instead of raising at once when all are busy, so a burst queues, not 451s.
            self.pool = aioredis.BlockingConnectionPool.from_url(
                url,
                max_connections=cfg.pool_size,
                timeout=cfg.pool_wait_ms / 1000.0,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=True,
                health_check_interval=0,
            )
            self.redis = aioredis.Redis(connection_pool=self.pool)
        self.pool_wait = cfg.pool_wait_ms / 1000.0
        # At most pool_size round trips in flight, so the pool below always has a free
        # connection and the deadline measures Redis, not the queue in front of it.
        self._slots = asyncio.Semaphore(cfg.pool_size)
        # Auto-pipelining (redis_mux.py) of the per-message round trips, each on its own
        # dedicated connection beside the pool: the lookups (and token refs), and the send
        # records (so a large group commit never queues lookups behind it). A stall bound
        # of twice the callers' deadline. Cluster keeps its per-node paths.
        self._lookup_mux: Mux | None = None
        self._write_mux: Mux | None = None
        if cfg.auto_pipeline and not self.cluster and HIREDIS_AVAILABLE:
            self._lookup_mux = Mux(self.pool, 2 * self.deadline)
            self._write_mux = Mux(self.pool, 2 * max(self.deadline, 1.0))
        self.round_trips = 0
        self.errors = 0  # round trips that ended in StoreUnavailable (metrics)
        self._closed = False
        self.audit_sink: AuditSink | None = None

    async def close(self) -> None:
        """Close every connection. A closed store opens none again: a call still coming
        (a session or task outliving the shutdown) gets StoreUnavailable, never a fresh
        connection that nobody would close."""
        self._closed = True
        for mux in (self._lookup_mux, self._write_mux):
            if mux is not None:
                await mux.close()
        await self.redis.aclose()
        if self.pool is not None:
            await self.pool.disconnect()
        if self.sentinel is not None:
            for sr in self.sentinel.sentinels:
                await sr.aclose()

    def encoder(self) -> aioredis.Redis:
        """A client that never connects: its pipelines turn redis-py calls into command
        arguments (for the cluster's packed MULTI/EXEC)."""
        if self._encoder is None:
            self._encoder = aioredis.Redis()
        return self._encoder

    def _tx(self, audit_first: bool = False, final_key: str | None = None) -> _SlotTx:
        """A write transaction (see _SlotTx: one MULTI/EXEC, per slot in a cluster)."""
        return _SlotTx(self, audit_first, final_key)

    def _canaries(self, keys: Iterable[str]) -> list[str]:
        """The canary keys a round trip over `keys` must also read: `cs:epoch`, or in a
        cluster the canary of every slot the keys lie in."""
        if not self.cluster:
            return [self.keys.epoch]
        return [self.keys.slot_canary(s) for s in sorted({key_slot(k) for k in keys})]

    async def _scan(self, match: str, count: int) -> AsyncIterator[list[str]]:
        """SCAN batches of keys matching `match` (every primary of a cluster)."""
        nodes: list[Any] = [None]
        if self.cluster:
            await self._bounded(self.redis.initialize(), "cluster nodes", deadline=10.0)
            nodes = self.redis.get_primaries()
        for node in nodes:
            cursor: int = 0
            while True:
                kw: dict[str, Any] = {"target_nodes": node} if node is not None else {}
                reply, batch = await self._bounded(self.redis.scan(
                    cursor, match=match, count=count, **kw), "scan", deadline=10.0)
                # a cluster answers {node name: cursor}
                cursor = int(reply[node.name] if node is not None else reply)
                if batch:
                    yield [str(k) for k in batch]
                if cursor == 0:
                    break

    async def _mget(self, keys: Sequence[str], what: str) -> list[str | None]:
        """MGET (per slot in a cluster: redis-py splits it, one round trip per node)."""
        if self.cluster:
            rows: list[str | None] = await self._bounded(
                self.redis.mget_nonatomic(list(keys)), what)
        else:
            rows = await self._bounded(self.redis.mget(list(keys)), what)
        return rows

    def _lag_check(self, cm: asyncio.Timeout, d: float
                   ) -> tuple[asyncio.TimerHandle, LoopLag]:
        """Just before the deadline: when this event loop itself runs late (timers fire
        LAG_SHARE of the deadline or more behind time, now or within the last second),
        the deadline moves on once by its own length. A burst of sessions (200 clients
        sending 50 KB to 10 recipients at once) kept the loop busier than the deadline:
        Redis had answered, but the reply had not been read yet, and the message got
        451 for Redis trouble it did not have. A Redis that does not answer still gets
        451, at once on an idle loop and within twice the deadline on a busy one."""
        loop = asyncio.get_running_loop()
        lag = LoopLag.of(loop)
        when = cm.when()
        assert when is not None
        at = when - min(0.005, d / 10)
        return loop.call_at(at, self._maybe_extend, cm, d, at, lag), lag

    def _maybe_extend(self, cm: asyncio.Timeout, d: float, at: float, lag: LoopLag) -> None:
        late = lag.loop.time() - at
        if max(late, lag.recent) >= LAG_SHARE * d:
            when = cm.when()
            if when is not None and not cm.expired():
                cm.reschedule(when + d)
                self.lag_extensions += 1

    async def _bounded(self, aw: Awaitable[Any], what: str, deadline: float | None = None) -> Any:
        """Run one Redis round trip: first wait (up to pool_wait_ms) for a free connection
        slot, so a burst queues instead of failing; then the deadline covers Redis alone."""
        self.round_trips += 1
        if self._closed:
            _discard(aw)
            raise StoreUnavailable(f"redis {what}: the store is closed (shutting down)")
        try:
            if self._slots.locked():
                async with asyncio.timeout(self.pool_wait):
                    await self._slots.acquire()
            else:  # a free slot: taken at once, no timer needed
                await self._slots.acquire()
        except BaseException as exc:  # timeout, or the caller was cancelled while waiting
            _discard(aw)
            if isinstance(exc, TimeoutError):
                raise StoreUnavailable(f"redis {what}: no free connection within pool_wait_ms"
                                       ) from None
            raise
        t0 = time.perf_counter()
        d = deadline if deadline is not None else self.deadline
        try:
            async with asyncio.timeout(d) as cm:
                check, lag = self._lag_check(cm, d)
                lag.enter()
                try:
                    return await aw
                finally:
                    lag.leave()
                    check.cancel()
        except TimeoutError:
            self.errors += 1
            raise StoreUnavailable(f"redis {what}: deadline exceeded") from None
        except (RedisError, OSError) as exc:
            self.errors += 1
            raise StoreUnavailable(f"redis {what}: {type(exc).__name__}: {exc}") from None
        finally:
            self._slots.release()
            METRICS.redis.observe(time.perf_counter() - t0)

    # -- the audit stream (every change goes through _xadd_audit, then _audited) ---------

    def _audit_fields(self, entry: dict[str, str]) -> dict[str, str]:
        """The address as its stored identity (`Keys.ident`: the hash in privacy mode,
        never the clear text)."""
        if "address" in entry:
            return {**entry, "address": self.keys.ident(entry["address"])}
        return entry

    def _xadd_audit(self, pipe: Any, entry: dict[str, str]) -> dict[str, str]:
        """Queue one audit entry in the change's own MULTI. A live suppression (not an
        import) is also counted in the hour's stats bucket, same MULTI: hard-bounce and
        complaint rates for stats and /metrics, from every writer of every host."""
        entry = self._audit_fields(entry)
        pipe.xadd(self.keys.audit_stream, dict(entry), maxlen=AUDIT_STREAM_MAXLEN,
                  approximate=True)
        if entry.get("action") == "suppress" and entry.get("source") != "import":
            h = self.keys.stats_hour(datetime.now(UTC).strftime("%Y%m%d%H"))
            pipe.hincrby(h, f"s:{entry.get('reason', '?')}", 1)
            pipe.expire(h, STATS_TTL)
        if entry.get("action") in ("suppress", "suppress_domain") and entry.get("expires_at"):
            pipe.zadd(self.keys.expiring, {_expiring_member(entry): float(entry["expires_at"])})
        return entry

    async def _audited(self, last_id: Any, entries: Sequence[dict[str, str]],
                       strict: bool = True) -> None:
        if self.audit_sink is not None and entries:
            await self.audit_sink.committed(str(last_id) if last_id else "+", entries,
                                            strict)

    async def audit_range(self, after: str, upto: str = "+", count: int = 1000,
                          inclusive: bool = False) -> list[tuple[str, dict[str, str]]]:
        """Audit stream entries with ids after `after` ("0-0": from the start; with
        `inclusive`, from `after` itself) up to `upto`, oldest first."""
        rows: list[tuple[str, dict[str, str]]] = await self._bounded(
            self.redis.xrange(self.keys.audit_stream, min=after if inclusive else f"({after}",
                              max=upto, count=count), "audit read", deadline=BATCH_DEADLINE)
        return rows

    async def audit_bounds(self) -> tuple[int, str | None, str | None]:
        """(length, first id, last id) of the audit stream."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(self.keys.audit_stream)
            pipe.xrange(self.keys.audit_stream, count=1)
            pipe.xrevrange(self.keys.audit_stream, count=1)
            n, first, last = await self._bounded(pipe.execute(), "audit bounds",
                                                 deadline=BATCH_DEADLINE)
        return (int(n), first[0][0] if first else None, last[0][0] if last else None)

    async def set_audit_head(self, file_id: str, head: str) -> None:
        await self._bounded(self.redis.hset(self.keys.audit_head, file_id, head),
                            "audit head")

    async def audit_head(self, file_id: str) -> str | None:
        raw: str | None = await self._bounded(
            self.redis.hget(self.keys.audit_head, file_id), "audit head")
        return raw

    # -- canary -----------------------------------------------------------------------

    async def epoch(self) -> str | None:
        """The canary's value; None when it is missing (in a cluster: also when any slot's
        canary is, i.e. some master lost its data)."""
        value: str | None = await self._bounded(self.redis.get(self.keys.epoch), "epoch")
        if value is not None and self.cluster and await self.missing_slot_canaries():
            return None
        return value

    async def missing_slot_canaries(self) -> int:
        """Cluster layout: how many of the 16384 slot canaries are missing."""
        async with _LeanPipeline(self.redis) as pipe:
            for slot in range(CLUSTER_SLOTS):
                pipe.get(self.keys.slot_canary(slot))
            rows: list[Any] = await self._bounded(pipe.execute(raise_on_error=True),
                                                  "canary check", deadline=10.0)
        return sum(1 for r in rows if r is None)

    async def init_epoch(self) -> str:
        """Create the canary (kept if present); in a cluster also every missing slot
        canary, with the same value."""
        value = f"{time.time():.6f}"
        created = await self._bounded(
            self.redis.set(self.keys.epoch, value, nx=True), "init epoch", deadline=5.0
        )
        if not created:
            existing: str | None = await self._bounded(self.redis.get(self.keys.epoch),
                                                       "epoch")
            assert existing is not None
            value = existing
        if self.cluster:
            async with _LeanPipeline(self.redis) as pipe:
                for slot in range(CLUSTER_SLOTS):
                    pipe.set_nx(self.keys.slot_canary(slot), value)
                await self._bounded(pipe.execute(), "init epoch", deadline=30.0)
        return value

    async def ping(self) -> None:
        await self._bounded(self.redis.ping(), "ping")

    # -- suppressions -------------------------------------------------------------------

    async def recipient_states(self, addresses: Iterable[Address],
                               token_refs: Sequence[tuple[str, str]] = (),
                               token_ttl: int = 0) -> list[RecipientState]:
        """Everything the policy needs for every recipient in at most TWO round trips,
        whatever the recipient count (docs/consent.md):
          1. canary + per recipient its suppression hash(es) and its `cs:addr:` hash
             (consent, pending DOI, purchases, person, linked addresses); the message's
             unsubscribe token references (reference, record JSON) ride along as SETs
             (see save_token_refs), so they are stored before anything can leave;
          2. only if some recipient belongs to a person with other addresses: the
             suppression hashes of those linked addresses (objections cover the person)."""
        addrs = list(addresses)
        lookups = [self._supp_keys(a.key, a.canonical) for a in addrs]
        # Whole-domain entries (`*@domain`), once per distinct domain of the message.
        domains = sorted({a.domain for a in addrs})
        reads = [*(rk for a, ks in zip(addrs, lookups, strict=True)
                   for rk in (*(rk for _label, rk in ks), self.keys.address(a.key))),
                 *(self.keys.domain_suppression(dom) for dom in domains)]
        canaries = self._canaries(reads)
        async with _LeanPipeline(self.redis, self._lookup_mux) as pipe:
            for ck in canaries:
                pipe.get(ck)
            for rk in reads:
                pipe.hgetall(rk)
            for ref, raw in token_refs:
                pipe.set(self.keys.token_ref(ref), raw, ex=token_ttl)
            results: list[Any] = _checked(await self._bounded(
                pipe.execute(raise_on_error=False), "lookup"))
            if token_refs:
                del results[len(results) - len(token_refs):]
        if any(r is None or r is _CORRUPT for r in results[:len(canaries)]):
            raise StoreUnavailable("redis canary key missing: store lost its data")
        own: list[list[Suppression]] = []
        infos: list[AddressInfo] = []
        by_key: dict[str, list[Suppression]] = {}
        i = len(canaries)
        for a, ks in zip(addrs, lookups, strict=True):
            supps: list[Suppression] = []
            for k, _rk in ks:
                h: dict[str, str] = results[i]
                i += 1
                supps.extend(_decode_suppression(k, scope, v) for scope, v in sorted(h.items()))
            if results[i] is _CORRUPT:  # unreadable consent data: fail safe, suppress
                supps.append(_unreadable(a.key))
                info = decode_address_hash(a.key, {})
            else:
                info = decode_address_hash(a.key, results[i])
            i += 1
            own.append(supps)
            infos.append(info)
            by_key[a.key] = supps
        by_domain = {dom: tuple(_decode_suppression(f"*@{dom}", scope, v)
                                for scope, v in sorted(h.items()))
                     for dom, h in zip(domains, results[i:], strict=True)}
        need = sorted({k for info in infos for k in info.linked} - by_key.keys())
        need_keys = [(k, rk) for k in need for _label, rk in self._supp_keys(k)]
        if need:
            # In a cluster the linked addresses lie in other slots: their canaries too.
            more = self._canaries(rk for _k, rk in need_keys) if self.cluster else []
            async with _LeanPipeline(self.redis, self._lookup_mux) as pipe:
                for ck in more:
                    pipe.get(ck)
                for _k, rk in need_keys:
                    pipe.hgetall(rk)
                linked_rows: list[Any] = _checked(await self._bounded(
                    pipe.execute(raise_on_error=False), "linked lookup"))
            if any(r is None or r is _CORRUPT for r in linked_rows[:len(more)]):
                raise StoreUnavailable("redis canary key missing: store lost its data")
            linked_rows = linked_rows[len(more):]
            for (k, _rk), h in zip(need_keys, linked_rows, strict=True):
                by_key.setdefault(k, []).extend(
                    _decode_suppression(k, scope, v) for scope, v in sorted(h.items()))
        states: list[RecipientState] = []
        for a, supps, info in zip(addrs, own, infos, strict=True):
            linked_supps = tuple(s for k in info.linked for s in by_key.get(k, ()))
            states.append(RecipientState(
                address=a, suppressions=tuple(supps), person=info.person, linked=info.linked,
                linked_suppressions=linked_supps, consent=info.consent, pending=info.pending,
                purchases=info.purchases, problems=info.problems,
                domain_suppressions=by_domain.get(a.domain, ())))
        return states

    def _supp_keys(self, key: str, canonical: str | None = None) -> list[tuple[str, str]]:
        """(address label, Redis key) of every suppression hash that speaks for an
        address: its folded key and, when it differs, the exact canonical form (another
        tool may have written the unfolded address). In privacy mode the folded key's
        hash, plus the clear-text keys (written before the switch or by a tool without
        the secret: read, fail safe; `consentry erase` folds them into the hash)."""
        names = [key] if canonical is None or canonical == key else [key, canonical]
        if self.keys.secret is None:
            return [(n, self.keys.suppression(n)) for n in names]
        return [(key, self.keys.suppression(key)),
                *((n, self.keys.suppression_clear(n)) for n in names)]

    async def add_suppression(self, rec: SuppressionRecord, actor: str) -> bool:
        """Write a suppression and its audit entry atomically. Returns True if new. A
        bounce of an allow-listed (seed/test) address is not written: False."""
        if rec.reason in BOUNCE_REASONS and await self.allowed([rec.address_key]):
            return False
        key = self.keys.suppression(rec.address_key)
        async with self._tx() as pipe:
            merge_suppression(pipe, key, rec)
            entry = self._xadd_audit(pipe, suppress_entry(rec, actor))
            res: list[Any] = await self._bounded(pipe.execute(), "suppress", deadline=5.0)
        await self._audited(_last_id(res), [entry])
        return bool(res[0])

    # -- domain entries and the allow-list ------------------------------------------------

    async def add_domain_suppression(self, domain: str, rec: SuppressionRecord, actor: str
                                     ) -> bool:
        """Suppress every address at `domain` (rec.address_key is ignored)."""
        async with self._tx() as pipe:
            merge_suppression(pipe, self.keys.domain_suppression(domain), rec)
            entry = suppress_entry(rec, actor)
            del entry["address"]  # a domain is no person: named in clear in every mode
            entry = self._xadd_audit(pipe, {**entry, "action": "suppress_domain",
                                            "domain": domain})
            res: list[Any] = await self._bounded(pipe.execute(), "suppress", deadline=5.0)
        await self._audited(_last_id(res), [entry])
        return bool(res[0])

    async def remove_domain_suppression(self, domain: str, scope: str | None, reason: str,
                                        actor: str) -> int:
        if not reason.strip():
            raise ValueError("lifting a suppression needs a reason (it is audited)")
        key = self.keys.domain_suppression(domain)
        existing: dict[str, str] = await self._bounded(self.redis.hgetall(key), "read")
        fs = [f for f in existing if scope is None or f.partition("|")[0] == scope]
        if not fs:
            return 0
        async with self._tx(audit_first=True) as pipe:
            pipe.hdel(key, *fs)
            entries = [self._xadd_audit(pipe, {
                "action": "unsuppress_domain", "domain": domain, "scope": f,
                "reason": reason, "source": "admin", "at": f"{time.time():.6f}",
                "actor": actor, "record": existing[f]}) for f in fs]
            res: list[Any] = await self._bounded(pipe.execute(), "unsuppress", deadline=5.0)
        await self._audited(_last_id(res), entries)
        return len(fs)

    async def iter_domain_suppressions(self) -> AsyncIterator[Suppression]:
        prefix_len = len(self.keys.domain_suppression_pattern) - 1
        async for batch in self._scan(self.keys.domain_suppression_pattern, 1000):
            for k in batch:
                h: dict[str, str] = await self._bounded(self.redis.hgetall(k), "scan read")
                dom = self.keys.untag(k[prefix_len:])
                for scope, v in sorted(h.items()):
                    yield _decode_suppression(f"*@{dom}", scope, v)

    async def allow_change(self, address_key: str, add: bool, reason: str, actor: str
                           ) -> bool:
        """Put a seed/test address on the allow-list (never suppressed by bounces) or take
        it off, audited. Returns whether anything changed."""
        if not reason.strip():
            raise ValueError("an allow-list change needs a reason (it is audited)")
        async with self._tx(audit_first=not add) as pipe:
            if add:
                pipe.sadd(self.keys.allow, address_key)
            else:
                pipe.srem(self.keys.allow, address_key)
            entry = self._xadd_audit(pipe, {
                "action": "allow" if add else "disallow", "address": address_key,
                "reason": reason, "source": "admin", "at": f"{time.time():.6f}",
                "actor": actor})
            res: list[Any] = await self._bounded(pipe.execute(), "allow", deadline=5.0)
        await self._audited(_last_id(res), [entry])  # the request is audited even if a no-op
        return bool(res[0])

    async def allow_members(self) -> list[str]:
        m: set[str] = await self._bounded(self.redis.smembers(self.keys.allow), "read")
        return sorted(m)

    async def allowed(self, address_keys: Sequence[str]) -> set[str]:
        """Which of these are on the allow-list (one round trip; none: no round trip)."""
        keys = list(dict.fromkeys(address_keys))
        if not keys:
            return set()
        flags: list[int] = await self._bounded(
            self.redis.smismember(self.keys.allow, keys), "allow read")
        return {k for k, f in zip(keys, flags, strict=True) if f}

    async def remove_suppression(
        self, address_key: str, scope: str | None, reason: str, actor: str
    ) -> int:
        if not reason.strip():
            raise ValueError("lifting a suppression needs a reason (it is audited)")
        # Every key that speaks for the address (in privacy mode: the hash and any
        # clear-text leftovers), so a lifted suppression is really gone.
        rkeys = [rk for _label, rk in self._supp_keys(address_key)]
        async with self.redis.pipeline(transaction=False) as rd:
            for rk in rkeys:
                rd.hgetall(rk)
            found: list[dict[str, str]] = await self._bounded(rd.execute(), "read")
        drop = [(rk, [f for f in h if scope is None or f.partition("|")[0] == scope], h)
                for rk, h in zip(rkeys, found, strict=True)]
        drop = [(rk, fs, h) for rk, fs, h in drop if fs]
        if not drop:
            return 0
        entries: list[dict[str, str]] = []
        async with self._tx(audit_first=True) as pipe:
            for rk, fs, existing in drop:
                pipe.hdel(rk, *fs)
                entries += self._unsuppress_entries(pipe, address_key, fs, existing, reason,
                                                    actor)
            res: list[Any] = await self._bounded(pipe.execute(), "unsuppress", deadline=5.0)
        await self._audited(_last_id(res), entries)
        return sum(len(fs) for _rk, fs, _h in drop)

    def _unsuppress_entries(self, pipe: Any, address_key: str, scopes: list[str],
                            existing: dict[str, str], reason: str, actor: str
                            ) -> list[dict[str, str]]:
        # The lifted record goes into the entry: what was removed stays provable.
        return [self._xadd_audit(pipe, {
            "action": "unsuppress", "address": address_key, "scope": s, "reason": reason,
            "source": "admin", "at": f"{time.time():.6f}", "actor": actor,
            "record": existing[s]}) for s in scopes]

    async def iter_suppressions(self, count: int = 1000) -> AsyncIterator[Suppression]:
        prefix_len = len(self.keys.suppression_pattern) - 1
        async for batch in self._scan(self.keys.suppression_pattern, count):
            async with self.redis.pipeline(transaction=False) as pipe:
                for k in batch:
                    pipe.hgetall(k)
                rows: list[dict[str, str]] = await self._bounded(
                    pipe.execute(), "scan read", deadline=10.0
                )
            for k, h in zip(batch, rows, strict=True):
                ident = self.keys.untag(k[prefix_len:])
                for scope, v in sorted(h.items()):
                    yield _decode_suppression(ident, str(scope), str(v))

    # -- consent, persons, purchases, pending DOI sign-ups (docs/consent.md) -------------

    async def _exec_watched(self, tx: Any) -> list[Any] | None:
        try:
            res: list[Any] = await tx.execute()
        except WatchError:
            return None
        return res

    async def write_consent_batch(self, records: Sequence[ConsentImport], actor: str,
                                  now: float | None = None) -> tuple[int, int]:
        """Apply consent/purchase/link records in ONE MULTI/EXEC (all or nothing), with
        optimistic locking (WATCH) on every key read to plan it: an address re-linked by
        a concurrent writer makes the batch start over. Returns (written, unchanged)."""
        now = time.time() if now is None else now
        addr_keys = sorted({r.address.key for r in records})
        persons = sorted(persons_in(records))
        if self.cluster:
            return await self._write_consent_batch_slotted(records, actor, now, addr_keys,
                                                           persons)
        for _attempt in range(WATCH_RETRIES):
            async with self.redis.pipeline(transaction=True) as tx:
                await self._bounded(
                    tx.watch(*[self.keys.address(k) for k in addr_keys],
                             *[self.keys.person_addresses(p) for p in persons]),
                    "import watch", deadline=BATCH_DEADLINE)
                async with self.redis.pipeline(transaction=False) as rd:
                    for k in addr_keys:
                        rd.hgetall(self.keys.address(k))
                    for p in persons:
                        rd.smembers(self.keys.person_addresses(p))
                    res: list[Any] = await self._bounded(rd.execute(), "import read",
                                                         deadline=BATCH_DEADLINE)
                current: dict[str, dict[str, str]] = dict(zip(addr_keys, res, strict=False))
                members = {p: set(m) for p, m in zip(persons, res[len(addr_keys):],
                                                     strict=True)}
                olds = sorted({h["person"] for h in current.values() if h.get("person")}
                              - set(persons))
                if olds:
                    # Addresses leaving another person: that person's set changes too.
                    await self._bounded(
                        tx.watch(*[self.keys.person_addresses(p) for p in olds]),
                        "import watch", deadline=BATCH_DEADLINE)
                    async with self.redis.pipeline(transaction=False) as rd:
                        for p in olds:
                            rd.smembers(self.keys.person_addresses(p))
                        more: list[Any] = await self._bounded(rd.execute(), "import read",
                                                              deadline=BATCH_DEADLINE)
                    members.update({p: set(m) for p, m in zip(olds, more, strict=True)})
                plan = plan_consent_batch(records, current, members, now, actor)
                tx.multi()
                entries = self._queue_plan(tx, plan)
                done = await self._bounded(self._exec_watched(tx), "import write",
                                           deadline=BATCH_DEADLINE)
                if done is not None:
                    await self._audited(_last_id(done), entries)
                    return plan.written, plan.unchanged
        raise StoreUnavailable("import: records kept changing under concurrent writers")

    async def _write_consent_batch_slotted(self, records: Sequence[ConsentImport], actor: str,
                                           now: float, addr_keys: list[str],
                                           persons: list[str]) -> tuple[int, int]:
        """write_consent_batch in a cluster: a batch's addresses and persons lie in many
        slots, which one WATCH/MULTI cannot span. The plan is read and written per slot
        (each slot's part one MULTI/EXEC), the audit entries first (_SlotTx audit_first):
        a failure part-way leaves entries for changes that a re-run of the same batch then
        completes (the plan is computed from the stored state, so a re-run is
        idempotent). Concurrent writers re-linking the same addresses are not serialised
        as by WATCH on a single node."""
        async with self.redis.pipeline() as rd:
            for k in addr_keys:
                rd.hgetall(self.keys.address(k))
            for p in persons:
                rd.smembers(self.keys.person_addresses(p))
            res: list[Any] = await self._bounded(rd.execute(), "import read",
                                                 deadline=BATCH_DEADLINE)
        current: dict[str, dict[str, str]] = dict(zip(addr_keys, res, strict=False))
        members = {p: set(m) for p, m in zip(persons, res[len(addr_keys):], strict=True)}
        olds = sorted({h["person"] for h in current.values() if h.get("person")}
                      - set(persons))
        if olds:
            async with self.redis.pipeline() as rd:
                for p in olds:
                    rd.smembers(self.keys.person_addresses(p))
                more: list[Any] = await self._bounded(rd.execute(), "import read",
                                                      deadline=BATCH_DEADLINE)
            members.update({p: set(m) for p, m in zip(olds, more, strict=True)})
        plan = plan_consent_batch(records, current, members, now, actor)
        tx = self._tx(audit_first=True)
        entries = self._queue_plan(tx, plan)
        done = await self._bounded(tx.execute(), "import write", deadline=BATCH_DEADLINE)
        await self._audited(_last_id(done), entries)
        return plan.written, plan.unchanged

    def _queue_plan(self, tx: Any, plan: WritePlan) -> list[dict[str, str]]:
        for k, fields in plan.hset.items():
            tx.hset(self.keys.address(k), mapping=fields)
        for k, gone in plan.hdel.items():
            tx.hdel(self.keys.address(k), *sorted(gone))
        for p, ks in plan.sadd.items():
            tx.sadd(self.keys.person_addresses(p), *sorted(ks))
        for p, ks in plan.srem.items():
            tx.srem(self.keys.person_addresses(p), *sorted(ks))
        if plan.zadd:
            tx.zadd(self.keys.doi_pending, plan.zadd)
        if plan.zrem:
            tx.zrem(self.keys.doi_pending, *sorted(plan.zrem))
        # The audit entries last: the EXEC reply's last element is the last entry's id.
        return [self._xadd_audit(tx, entry) for entry in plan.audit]

    def _entry_key(self, key: str, clear: bool = False) -> str:
        """The hash of an address key, or of a whole domain for "*@<domain>" (imports,
        exports and the expiry index name domain entries that way)."""
        if key.startswith("*@"):
            return self.keys.domain_suppression(key[2:])
        return self.keys.suppression_clear(key) if clear else self.keys.suppression(key)

    async def write_suppression_batch(self, records: Sequence[SuppressionLine], actor: str,
                                      now: float | None = None) -> tuple[int, int]:
        """Import suppressions in ONE MULTI/EXEC, each with its audit entry. A line without
        `at` keeps the time of an identical stored suppression (so a re-import changes
        nothing). Returns (written, unchanged)."""
        now = time.time() if now is None else now
        keys = sorted({r.address.key for r in records})
        rows = await self._bounded(self._raw(
            [*(("HGETALL", self._entry_key(k)) for k in keys),
             ("SMISMEMBER", self.keys.allow, *keys)]), "import read", deadline=BATCH_DEADLINE)
        current = {k: _pairs(h) for k, h in zip(keys, rows, strict=False)}
        seeds = {k for k, f in zip(keys, rows[-1], strict=True) if f}
        skipped = 0
        if seeds:  # seed/test addresses are never suppressed by (imported) bounces
            kept = [r for r in records
                    if r.address.key not in seeds or r.reason not in BOUNCE_REASONS]
            skipped, records = len(records) - len(kept), kept
        written, unchanged = 0, skipped
        entries: list[dict[str, str]] = []
        cmds: list[tuple[Any, ...]] = []
        for r in records:
            k = r.address.key
            old_raw = _same_kind(current[k], r.scope, r.reason)
            at, expires = r.at, r.expires_at
            if at is None:
                at = now
            if old_raw is not None:
                # Keep the stored times when the line means the same (no time given,
                # or the same time through an ISO 8601 export's rounding).
                old = _decode_suppression(k, r.scope, old_raw)
                if (old.reason, old.source) == (r.reason, r.source):
                    if r.at is None or abs(old.at - at) < 0.001:
                        at = old.at
                    if (expires is not None and old.expires_at is not None
                            and abs(old.expires_at - expires) < 0.001):
                        expires = old.expires_at
            rec = SuppressionRecord(k, r.scope, r.reason, r.source, at, expires,
                                    r.evidence)
            v = rec.to_json()
            if v == old_raw:
                unchanged += 1
                continue
            _merge_local(current[k], r.scope, r.reason, v)
            written += 1
            cmds.append(("EVAL", _MERGE_LUA, 1, self._entry_key(k), rec.scope,
                         rec.reason, v))
            entry = self._audit_fields(suppress_entry(rec, actor))
            if k.startswith("*@"):  # a whole domain: audited like `suppress add '*@d'`
                del entry["address"]
                entry = {**entry, "action": "suppress_domain", "domain": k[2:]}
            cmds.append(("XADD", self.keys.audit_stream, "MAXLEN", "~",
                         AUDIT_STREAM_MAXLEN, "*", *(x for kv in entry.items() for x in kv)))
            if expires is not None:
                cmds.append(("ZADD", self.keys.expiring, expires, _expiring_member(entry)))
            entries.append(entry)
        if written:
            res = await self._bounded(self._raw(cmds, transaction=True), "import write",
                                      deadline=BATCH_DEADLINE)
            await self._audited(_last_id(res), entries)
        return written, unchanged

    async def _raw(self, cmds: list[tuple[Any, ...]], transaction: bool = False,
                   mux: Mux | None = None) -> list[Any]:
        """One round trip of many commands without redis-py's per-command machinery and
        per-reply timers (the caller's deadline bounds the whole): for imports, several
        times less client CPU than a Pipeline of thousands of commands. Replies are raw
        (HGETALL: a flat list, see _pairs). With `transaction` the commands run inside
        MULTI/EXEC and the EXEC array is returned; a command refused while queueing
        aborts the whole transaction (EXECABORT), so nothing half-applies. With `mux`
        (redis_mux.py) the whole sequence goes out as one contiguous request there."""
        if self.cluster:
            return await self._raw_cluster(cmds, transaction)
        seq = [("MULTI",), *cmds, ("EXEC",)] if transaction else cmds
        replies: list[Any]
        if mux is not None:
            replies = await mux.request(seq)
        else:
            replies = await self._raw_pooled(seq)
        if transaction:
            replies = replies[-1] if isinstance(replies[-1], list) else [replies[-1]]
        for r in replies:
            if isinstance(r, Exception):
                raise r
        return replies

    async def _raw_pooled(self, seq: list[tuple[Any, ...]]) -> list[Any]:
        pool = self.redis.connection_pool
        conn = await pool.get_connection()
        clean = False
        try:
            await conn.send_packed_command(conn.pack_commands(seq))
            replies: list[Any] = []
            for _ in seq:
                try:
                    replies.append(await conn.read_response(timeout=math.inf))
                except ResponseError as exc:
                    replies.append(exc)
            clean = True
        finally:
            if not clean:
                await conn.disconnect()  # replies left unread: never reuse this connection
            await pool.release(conn)
        return replies

    async def _raw_cluster(self, cmds: list[tuple[Any, ...]], transaction: bool) -> list[Any]:
        """_raw in a cluster: one pipeline per node (in parallel), or with `transaction`
        one MULTI/EXEC per slot, the audit entries' slot last (_SlotTx)."""
        if transaction:
            tx = self._tx()
            for cmd in cmds:
                tx.execute_command(*cmd)
            return await tx.execute()
        async with self.redis.pipeline() as cp:
            for cmd in cmds:
                cp.execute_command(*cmd)
            replies: list[Any] = await cp.execute(raise_on_error=True)
        return replies

    async def address_hash(self, address_key: str) -> dict[str, str]:
        h: dict[str, str] = await self._bounded(
            self.redis.hgetall(self.keys.address(address_key)), "read")
        return h

    async def person_members(self, person: str) -> list[str]:
        m: set[str] = await self._bounded(
            self.redis.smembers(self.keys.person_addresses(person)), "read")
        return sorted(m)

    async def suppressions_of(self, address_keys: Sequence[str]) -> dict[str, list[Suppression]]:
        pairs = [(k, rk) for k in address_keys for _label, rk in self._supp_keys(k)]
        async with self.redis.pipeline(transaction=False) as rd:
            for _k, rk in pairs:
                rd.hgetall(rk)
            rows: list[dict[str, str]] = await self._bounded(rd.execute(), "read")
        out: dict[str, list[Suppression]] = {k: [] for k in address_keys}
        for (k, _rk), h in zip(pairs, rows, strict=True):
            out[k].extend(_decode_suppression(k, s, v) for s, v in sorted(h.items()))
        return out

    async def pending_count(self) -> int:
        n: int = await self._bounded(self.redis.zcard(self.keys.doi_pending), "read")
        return n

    async def purge_pending(self, cutoff: float, actor: str, batch: int = 500) -> int:
        """Delete pending DOI sign-ups made before `cutoff`, each with an audit entry. A
        sign-up renewed meanwhile (newer signup_at) is kept: the script re-checks the
        stored record atomically. Safe to run from several processes at once."""
        script = self.redis.register_script(_PURGE_LUA)
        total = 0
        while True:
            due: list[str] = await self._bounded(
                self.redis.zrangebyscore(self.keys.doi_pending, "-inf", cutoff, start=0,
                                         num=batch), "purge scan", deadline=BATCH_DEADLINE)
            if not due:
                return total
            if self.cluster:
                n = await self._purge_slotted(due, cutoff, actor)
            else:
                n = await self._bounded(
                script(keys=[self.keys.doi_pending, self.keys.audit_stream,
                             *[self.keys.address(k) for k in due]],
                       args=[repr(cutoff), f"{time.time():.6f}", actor, AUDIT_STREAM_MAXLEN,
                             *due, *[self.keys.ident(k) for k in due]]),
                "purge", deadline=BATCH_DEADLINE)
            total += int(n)
            if n:
                # The script's entries are in the stream; mirror up to the newest.
                await self._audited("+", [{"action": "doi_purge", "count": str(n)}])
            if len(due) < batch:
                return total

    # In a cluster a record, its index and the audit stream lie in different slots, which
    # one script cannot span. Per due member, in order: the audit entry ({g} slot), the
    # removal if the record is still the one audited (its own slot, _HDEL_IF_LUA), the
    # index member. A failure part-way leaves the member indexed: the next run re-checks
    # it (and may repeat the entry), so nothing is removed unaudited.

    async def _purge_slotted(self, due: list[str], cutoff: float, actor: str) -> int:
        n = 0
        for k in due:
            akey = self.keys.address(k)
            raw: str | None = await self._bounded(self.redis.hget(akey, "pending"), "purge")
            keep: float | None = None
            if raw is not None:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    at = float(json.loads(raw)["signup_at"])
                    keep = at if at > cutoff else None
            if keep is not None:
                await self._bounded(self.redis.zadd(self.keys.doi_pending, {k: keep}), "purge")
                continue
            if raw is not None:
                await self._bounded(self.redis.xadd(self.keys.audit_stream, {
                    "action": "doi_purge", "address": self.keys.ident(k),
                    "reason": "pending DOI sign-up expired", "source": "doi-purge",
                    "at": f"{time.time():.6f}", "actor": actor, "record": raw},
                    maxlen=AUDIT_STREAM_MAXLEN, approximate=True), "purge")
                gone = await self._bounded(self.redis.eval(_HDEL_IF_LUA, 1, akey, "pending",
                                                           raw), "purge")
                if not gone:
                    continue  # renewed meanwhile: its own write re-indexed it
                n += 1
            await self._bounded(self.redis.zrem(self.keys.doi_pending, k), "purge")
        return n

    async def _expire_slotted(self, due: list[str], keys: list[str], now: float,
                              actor: str) -> int:
        n = 0
        for member, key in zip(due, keys, strict=True):
            ident, scope, reason = [*member.split("\t", 2), "", ""][:3]
            fields = [scope, f"{scope}|{reason}"]
            raws: list[str | None] = await self._bounded(self.redis.hmget(key, fields),
                                                         "expiry")
            for fname, raw in zip(fields, raws, strict=True):
                if raw is None:
                    continue
                rec = _decode_suppression(ident, fname, raw)
                if (rec.reason != reason or rec.expires_at is None
                        or rec.expires_at > now):
                    continue
                source = "?"
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    source = str(json.loads(raw).get("source") or "?")
                await self._bounded(self.redis.xadd(self.keys.audit_stream, {
                    "action": "expire", "address": ident, "scope": scope, "reason": reason,
                    "source": source, "at": f"{now:.6f}", "actor": actor, "record": raw},
                    maxlen=AUDIT_STREAM_MAXLEN, approximate=True), "expiry")
                if await self._bounded(self.redis.eval(_HDEL_IF_LUA, 1, key, fname, raw),
                                       "expiry"):
                    n += 1
            await self._bounded(self.redis.zrem(self.keys.expiring, member), "expiry")
        return n

    # -- send records and counters (sends.py, stats.py) ----------------------------------

    async def write_send(self, w: Any, bucket: str) -> None:
        """One message's send record (w: sends.SendWrite); see write_sends."""
        await self.write_sends([(w, bucket)])

    async def write_sends(self, batch: Sequence[tuple[Any, str]]) -> None:
        """Send records, their indexes and their hourly counters for a batch of messages
        ((sends.SendWrite, hour bucket) pairs) in ONE MULTI/EXEC round trip: all or
        nothing, so a refused batch (spooled, replayed) never leaves counters applied
        twice. The commands are merged across the batch: one HINCRBY per counter field
        and bucket, one EXPIRE per key. Every index expires with the retention after its
        last write; the campaign indexes are trimmed to the retention on every batch, a
        recipient's index on about one write in eight (so it holds the retention's
        entries plus a few), a Message-ID index never (its entries are as old as it)."""
        k = self.keys
        expires: dict[str, int] = {}
        trims: dict[str, float] = {}
        counters: dict[tuple[str, str], int] = {}
        campaign_sent: dict[str, int] = {}
        campaign_at: dict[str, float] = {}
        ops: list[tuple[str, ...]] = []
        for w, bucket in batch:
            if w.key_id:
                ops.append(("SET", k.send(w.key_id), w.raw, "EX", str(w.ttl)))
                old = w.at - w.ttl
                at = repr(w.at)
                sample = w.key_id[-1] in "08"
                for r in w.recipient_keys:
                    key = k.sends_by_recipient(r)
                    ops.append(("ZADD", key, at, w.key_id))
                    expires[key] = w.ttl
                    if sample:
                        trims[key] = old
                if w.campaign:
                    key = k.sends_by_campaign(w.campaign)
                    ops.append(("ZADD", key, at, w.key_id))
                    expires[key] = w.ttl
                    trims[key] = max(old, trims.get(key, old))
                if w.message_id:
                    key = k.sends_by_message_id(w.message_id)
                    ops.append(("ZADD", key, at, w.key_id))
                    expires[key] = w.ttl
            if w.counters:
                for f, n in w.counters.items():
                    counters[(bucket, f)] = counters.get((bucket, f), 0) + n
                expires[k.stats_hour(bucket)] = w.stats_ttl
            if w.campaign and w.campaign_sent:
                campaign_sent[w.campaign] = campaign_sent.get(w.campaign, 0) + w.campaign_sent
                campaign_at[w.campaign] = max(w.at, campaign_at.get(w.campaign, 0.0))
                expires[k.stats_campaign(w.campaign)] = w.stats_ttl
        for key, old in trims.items():
            ops.append(("ZREMRANGEBYSCORE", key, "-inf", f"({old!r}"))
        for (bucket, f), n in counters.items():
            ops.append(("HINCRBY", k.stats_hour(bucket), f, str(n)))
        for c, n in campaign_sent.items():
            ops.append(("HINCRBY", k.stats_campaign(c), "sent", str(n)))
        if campaign_at:
            ops.append(("ZADD", k.stats_campaigns,
                        *(x for c, at_ in campaign_at.items() for x in (repr(at_), c))))
        for key, ttl in expires.items():
            ops.append(("EXPIRE", key, str(ttl)))
        deadline = max(self.deadline, 1.0)
        if not self.cluster:
            # One packed MULTI/EXEC without redis-py's pipeline machinery (_raw): this is
            # the one write every relayed message pays.
            await self._bounded(self._raw(ops, transaction=True, mux=self._write_mux),
                                "send record", deadline=deadline)
            return
        # In a cluster the counters' slot ({g}) commits last (see _SlotTx).
        async with self._tx(final_key=k.stats_campaigns) as pipe:
            for op in ops:
                pipe.execute_command(*op)
            await self._bounded(pipe.execute(), "send record", deadline=deadline)

    async def send_ids(self, index_key: str, limit: int, since: float | None = None,
                       until: float | None = None) -> list[str]:
        ids: list[str] = await self._bounded(self.redis.zrevrangebyscore(
            index_key, until if until is not None else "+inf",
            since if since is not None else "-inf", start=0, num=limit), "sends read")
        return ids

    async def send_ids_multi(self, index_keys: Sequence[str], limit: int) -> list[str]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in index_keys:
                pipe.zrevrange(key, 0, limit - 1)
            rows: list[list[str]] = await self._bounded(pipe.execute(), "sends read")
        return sorted({i for r in rows for i in r}, reverse=True)[:limit]

    async def get_sends(self, send_ids: Sequence[str]) -> list[str | None]:
        if not send_ids:
            return []
        return await self._mget([self.keys.send(i) for i in send_ids], "sends read")

    async def stats_hours(self, buckets: Sequence[str]) -> list[dict[str, str]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for b in buckets:
                pipe.hgetall(self.keys.stats_hour(b))
            rows: list[dict[str, str]] = await self._bounded(pipe.execute(), "stats read",
                                                             deadline=BATCH_DEADLINE)
        return rows

    async def stream_page(self, stream: str, after: str, count: int
                          ) -> list[tuple[str, dict[str, str]]]:
        """Entries of any of our streams with ids after `after`, oldest first."""
        rows: list[tuple[str, dict[str, str]]] = await self._bounded(
            self.redis.xrange(stream, min=f"({after}", max="+", count=count), "stream read",
            deadline=BATCH_DEADLINE)
        return rows

    async def depths(self, soft_since: float) -> dict[str, int]:
        """Queue depths and backlogs for stats and /metrics, one round trip."""
        k = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(k.retry_due)
            pipe.llen(k.dsn_queue)
            pipe.llen(k.dsn_processing)
            pipe.zcount(k.soft_bounce_index, soft_since, "+inf")
            pipe.zcard(k.doi_pending)
            pipe.xlen(k.audit_stream)
            res: list[Any] = await self._bounded(pipe.execute(), "depths",
                                                 deadline=BATCH_DEADLINE)
        names = ("retry_queue", "dsn_queue", "dsn_processing", "soft_bounce_backlog",
                 "doi_pending", "audit_stream_length")
        return {n: int(v) for n, v in zip(names, res, strict=True)}

    async def campaign_stats(self, limit: int) -> dict[str, dict[str, str]]:
        names: list[str] = await self._bounded(
            self.redis.zrevrange(self.keys.stats_campaigns, 0, limit - 1), "stats read")
        async with self.redis.pipeline(transaction=False) as pipe:
            for n in names:
                pipe.hgetall(self.keys.stats_campaign(n))
            rows: list[dict[str, str]] = await self._bounded(pipe.execute(), "stats read")
        return dict(zip(names, rows, strict=True))

    async def campaign_event(self, campaign: str, field: str, ttl: int) -> None:
        """Count a complaint or hard bounce against the campaign that caused it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(self.keys.stats_campaign(campaign), field, 1)
            pipe.expire(self.keys.stats_campaign(campaign), ttl)
            await self._bounded(pipe.execute(), "campaign stats", deadline=5.0)

    # -- erasure (erase.py, privacy mode) -------------------------------------------------

    async def erase_address(self, key: str, spellings: Sequence[str], actor: str,
                            reason: str, keep: bool, now: float) -> dict[str, Any]:
        """Remove an address's personal data from the keyed records in ONE MULTI/EXEC
        and keep (only) its hashed suppression: clear-text suppression keys are folded
        into the hash, the consent record and person link removed (the person's other
        addresses re-linked without it), soft-bounce counters, allow-list entry and the
        recipient index dropped, send records naming it rewritten with the hash. The
        audit entry names the hash. Streams and token references: `erase_scan_*`."""
        k = self.keys
        ident = k.ident(key)
        clear = [k.suppression_clear(n) for n in dict.fromkeys([key, *spellings])]
        async with self.redis.pipeline(transaction=False) as rd:
            for ck in clear:
                rd.hgetall(ck)
            rd.hgetall(k.suppression(key))
            rd.hgetall(k.address(key))
            rd.zrange(k.sends_by_recipient(key), 0, -1)
            res: list[Any] = await self._bounded(rd.execute(), "erase read",
                                                 deadline=BATCH_DEADLINE)
        clear_rows: list[dict[str, str]] = res[:len(clear)]
        hashed: dict[str, str] = res[len(clear)]
        addr: dict[str, str] = res[len(clear) + 1]
        send_ids: list[str] = res[len(clear) + 2]
        person = addr.get("person") or None
        members = await self.person_members(person) if person else []
        raws = await self.get_sends(send_ids)
        redacted: list[tuple[str, str]] = []
        for sid, raw in zip(send_ids, raws, strict=True):
            if raw is None:
                continue
            try:
                d = json.loads(raw)
                for r in d.get("recipients", []):
                    if r.get("k") == key:
                        r["r"] = r["k"] = ident
                redacted.append((sid, json.dumps(d, separators=(",", ":"),
                                                 ensure_ascii=False)))
            except (ValueError, AttributeError, TypeError):
                redacted.append((sid, json.dumps({"id": sid, "erased": True})))
        folded = 0
        async with self._tx(audit_first=True) as tx:
            for ck, h in zip(clear, clear_rows, strict=True):
                for fname, v in sorted(h.items()):
                    sup = _decode_suppression(key, fname, v)
                    merge_suppression(tx, k.suppression(key), SuppressionRecord(
                        key, sup.scope, sup.reason, sup.source, sup.at, sup.expires_at,
                        sup.evidence))
                    folded += 1
                if h:
                    tx.delete(ck)
            added = keep and not hashed and not folded
            if added:
                # No objection on record: the erasure itself stops advertising (else a
                # later CRM re-import could mail an address that asked to be forgotten).
                merge_suppression(tx, k.suppression(key), SuppressionRecord(
                    key, "global", "erased", "admin", now, evidence=reason[:200]))
            tx.delete(k.address(key))
            if person:
                tx.srem(k.person_addresses(person), key)
                rest = sorted(set(members) - {key})
                for m in rest:
                    tx.hset(k.address(m), "linked",
                            json.dumps(sorted(set(rest) - {m}), ensure_ascii=False))
            tx.delete(k.soft_bounces(key))
            tx.zrem(k.soft_bounce_index, key)
            tx.srem(k.allow, key)
            tx.delete(k.sends_by_recipient(key))
            for sid, raw in redacted:
                tx.set(k.send(sid), raw, keepttl=True)
            entry = self._xadd_audit(tx, {
                "action": "erase", "address": key, "reason": reason, "source": "admin",
                "at": f"{now:.6f}", "actor": actor,
                "record": json.dumps({"folded": folded, "sends": len(redacted),
                                      "person_unlinked": bool(person),
                                      "suppression_added": added})})
            done: list[Any] = await self._bounded(tx.execute(), "erase", deadline=BATCH_DEADLINE)
        await self._audited(_last_id(done), [entry])
        return {"ident": ident, "folded": folded, "suppression_added": added,
                "had_suppression": bool(hashed) or bool(folded), "person": person,
                "relinked": max(0, len(members) - 1) if person else 0,
                "sends_redacted": len(redacted), "stream_id": str(done[-1])}

    async def erase_scan_stream(self, stream: str, mentions: Any, delete: bool = True,
                                cap: int = 5_000_000) -> int:
        """Delete (or, with delete false, count) the entries of `stream` for which
        `mentions(fields)` is true."""
        after, n, hits = "-", 0, []
        while n < cap:
            rows: list[tuple[str, dict[str, str]]] = await self._bounded(
                self.redis.xrange(stream, min=after if after == "-" else f"({after}",
                                  max="+", count=5000), "erase scan", deadline=BATCH_DEADLINE)
            hits += [sid for sid, f in rows if mentions(f)]
            n += len(rows)
            if len(rows) < 5000:
                break
            after = rows[-1][0]
        if delete:
            for i in range(0, len(hits), 1000):
                await self._bounded(self.redis.xdel(stream, *hits[i:i + 1000]), "erase",
                                    deadline=BATCH_DEADLINE)
        return len(hits)

    async def erase_token_refs(self, key: str) -> int:
        """Delete the unsubscribe/VERP token references that name `key` (a SCAN: erasure
        is rare, references are many; a deleted one makes its link answer 400)."""
        n = 0
        pattern = f"{self.keys.prefix}tok:*"
        async for batch in self._scan(pattern, 1000):
            raws = await self._mget(batch, "erase scan")
            gone = []
            for name, raw in zip(batch, raws, strict=True):
                try:
                    if raw is not None and json.loads(raw).get("r") == key:
                        gone.append(name)
                except (ValueError, AttributeError):
                    continue
            if gone:
                await self._bounded(self.redis.delete(*gone), "erase")
                n += len(gone)
        return n

    async def expire_due(self, now: float, actor: str = "expiry-job", batch: int = 500
                         ) -> int:
        """Remove (and audit) the suppressions whose expires_at has passed (soft-bounce
        pauses, SendGrid blocks). Safe from several processes: atomic, re-checked."""
        script = self.redis.register_script(_EXPIRE_LUA)
        total = 0
        while True:
            due: list[str] = await self._bounded(self.redis.zrangebyscore(
                self.keys.expiring, "-inf", now, start=0, num=batch), "expiry scan",
                deadline=BATCH_DEADLINE)
            if not due:
                return total
            keys = [self._entry_key(m.partition("\t")[0], clear=True) for m in due]
            if self.cluster:
                n = await self._expire_slotted(due, keys, now, actor)
            else:
                n = int(await self._bounded(script(
                    keys=[self.keys.expiring, self.keys.audit_stream, *keys],
                    args=[f"{now:.6f}", AUDIT_STREAM_MAXLEN, actor, *due]), "expiry",
                    deadline=BATCH_DEADLINE))
            total += n
            if n:
                await self._audited("+", [{"action": "expire", "count": str(n)}])
            if len(due) < batch:
                return total

    # -- bounces and notifications ----------------------------------------------------

    async def record_refusals(
        self,
        refusals: list[dict[str, Any]],
        dsn_job: dict[str, Any] | None,
        suppressions: list[SuppressionRecord],
    ) -> None:
        """Durably record downstream refusals (and the DSN we owe) before the client's 250."""
        if suppressions:
            seeds = await self.allowed([r.address_key for r in suppressions
                                        if r.reason in BOUNCE_REASONS])
            suppressions = [r for r in suppressions if r.address_key not in seeds
                            or r.reason not in BOUNCE_REASONS]
        async with self._tx() as pipe:
            for r in refusals:
                pipe.xadd(
                    self.keys.bounce_stream,
                    {k: str(v) for k, v in r.items()},
                    maxlen=BOUNCE_STREAM_MAXLEN,
                    approximate=True,
                )
            if dsn_job is not None:
                pipe.rpush(self.keys.dsn_queue, json.dumps(dsn_job))
            entries = []
            for rec in suppressions:
                merge_suppression(pipe, self.keys.suppression(rec.address_key), rec)
                entries.append(self._xadd_audit(pipe, suppress_entry(rec, "relay")))
            res: list[Any] = await self._bounded(pipe.execute(), "record refusals",
                                                 deadline=5.0)
        # The downstream already accepted the rest: an audit file problem is logged by
        # the sink (and back-filled from the stream), never turned into a 4xx.
        await self._audited(_last_id(res), entries, strict=False)

    async def claim_dsn(self) -> str | None:
        value: str | None = await self._bounded(
            self.redis.lmove(self.keys.dsn_queue, self.keys.dsn_processing, "LEFT", "RIGHT"),
            "claim dsn",
        )
        return value

    async def finish_dsn(self, raw: str) -> None:
        await self._bounded(self.redis.lrem(self.keys.dsn_processing, 1, raw), "finish dsn")

    async def requeue_stale_dsns(self) -> int:
        """At start: jobs a crashed process had claimed go back to the queue."""
        n = 0
        for _ in range(100_000):
            moved = await self._bounded(
                self.redis.lmove(self.keys.dsn_processing, self.keys.dsn_queue, "RIGHT", "LEFT"),
                "requeue dsn",
            )
            if moved is None:
                break
            n += 1
        return n

    async def retry_dsn(self, raw: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lrem(self.keys.dsn_processing, 1, raw)
            pipe.rpush(self.keys.dsn_queue, raw)
            await self._bounded(pipe.execute(), "retry dsn")

    # -- unsubscribe token references (tokens.py) ---------------------------------------

    async def save_token_refs(self, refs: list[tuple[str, str]], ttl: int) -> None:
        """Write (reference, record JSON) pairs in one round trip, before the mail that
        carries their tokens leaves (a token must never point at nothing)."""
        if not refs:
            return
        async with _LeanPipeline(self.redis, self._lookup_mux) as pipe:
            for ref, raw in refs:
                pipe.set(self.keys.token_ref(ref), raw, ex=ttl)
            await self._bounded(pipe.execute(), "token refs")

    async def resolve_token_ref(self, ref: str) -> str | None:
        """The record JSON of a reference; StoreUnavailable when the canary is missing."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._canaries([self.keys.token_ref(ref)])[0])
            pipe.get(self.keys.token_ref(ref))
            epoch, raw = await self._bounded(pipe.execute(), "token ref")
        if epoch is None:
            raise StoreUnavailable("redis canary key missing: store lost its data")
        return str(raw) if raw is not None else None

    async def check_ready(self) -> None:
        """/readyz: Redis answers within the deadline and still has its canary."""
        if await self.epoch() is None:
            raise StoreUnavailable("redis canary key missing: store lost its data")

    async def memory_policy(self) -> tuple[int, str] | None:
        """(maxmemory in bytes, maxmemory-policy) from INFO memory; None when this Redis
        does not say (INFO denied to the ACL user, or a proxy without the fields)."""
        async def info() -> dict[str, Any] | None:
            try:
                if self.cluster:
                    # Every primary must be safe: report the worst one.
                    per: dict[str, Any] = await self.redis.info(
                        "memory", target_nodes=RedisCluster.PRIMARIES)
                    rows = [v for v in per.values() if isinstance(v, dict)]
                    bad = [r for r in rows if r.get("maxmemory_policy") != "noeviction"]
                    bad.sort(key=lambda r: -int(r.get("maxmemory", 0) or 0))
                    worst = bad or rows
                    return worst[0] if worst else None
                d: dict[str, Any] = await self.redis.info("memory")
            except ResponseError:  # NOPERM and the like: a refusal, not an outage
                return None
            return d

        got: dict[str, Any] | None = await self._bounded(info(), "info memory",
                                                         deadline=5.0)
        policy = got.get("maxmemory_policy") if got is not None else None
        if got is None or policy is None:
            return None
        return int(got.get("maxmemory", 0)), str(policy)

    # -- per-recipient copy retry queue (retryq.py) -------------------------------------

    async def enqueue_retries(self, jobs: list[tuple[str, str, float]]) -> None:
        """(job id, job JSON, due time) atomically, before the client's 250."""
        if not jobs:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for job_id, raw, due in jobs:
                pipe.set(self.keys.retry_job(job_id), raw)
                pipe.zadd(self.keys.retry_due, {job_id: due})
            await self._bounded(pipe.execute(), "enqueue retries", deadline=5.0)

    async def due_retries(self, now: float, limit: int = 20) -> list[str]:
        ids: list[str] = await self._bounded(
            self.redis.zrangebyscore(self.keys.retry_due, "-inf", now, start=0, num=limit),
            "due retries")
        return ids

    async def lease_retry(self, job_id: str, owner: str, lease: float
                          ) -> tuple[bool, str | None, bool]:
        """(lease acquired, job JSON, already delivered)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.retry_lease(job_id), owner, nx=True, ex=max(1, int(lease)))
            pipe.get(self.keys.retry_job(job_id))
            pipe.exists(self.keys.retry_done(job_id))
            got, raw, done = await self._bounded(pipe.execute(), "lease retry")
        return bool(got), (str(raw) if raw is not None else None), bool(done)

    async def finish_retry(self, job_id: str, delivered: bool) -> None:
        from .keys import RETRY_DONE_TTL

        async with self.redis.pipeline(transaction=True) as pipe:
            if delivered:
                pipe.set(self.keys.retry_done(job_id), "1", ex=RETRY_DONE_TTL)
            pipe.delete(self.keys.retry_job(job_id))
            pipe.zrem(self.keys.retry_due, job_id)
            pipe.delete(self.keys.retry_lease(job_id))
            await self._bounded(pipe.execute(), "finish retry", deadline=5.0)

    async def reschedule_retry(self, job_id: str, raw: str, due: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.keys.retry_job(job_id), raw)
            pipe.zadd(self.keys.retry_due, {job_id: due})
            pipe.delete(self.keys.retry_lease(job_id))
            await self._bounded(pipe.execute(), "reschedule retry", deadline=5.0)

    async def retry_backlog(self) -> int:
        n: int = await self._bounded(self.redis.zcard(self.keys.retry_due), "retry backlog")
        return n

    # -- inbound (inbound_apply.py) -----------------------------------------------------

    async def count_soft_bounce(self, address_key: str, at: float, window: float,
                                member: str) -> int:
        """Record one soft bounce and return how many this address had within `window`
        seconds, this one included (one round trip, atomic)."""
        key = self.keys.soft_bounces(address_key)
        async with self._tx() as pipe:
            pipe.zadd(key, {f"{at:.6f}:{member[:200]}": at})
            pipe.zremrangebyscore(key, "-inf", f"({at - window:.6f}")
            pipe.zcard(key)
            pipe.expire(key, int(window) + 86400)
            # The backlog index of `consentry stats` (addresses counting soft bounces).
            pipe.zadd(self.keys.soft_bounce_index, {address_key: at})
            pipe.zremrangebyscore(self.keys.soft_bounce_index, "-inf", f"({at - window:.6f}")
            res: list[Any] = await self._bounded(pipe.execute(), "soft bounce", deadline=5.0)
        return int(res[2])

    async def record_inbound(self, fields: dict[str, str]) -> None:
        from .keys import INBOUND_STREAM_MAXLEN

        row: dict[Any, Any] = dict(fields)
        await self._bounded(self.redis.xadd(self.keys.inbound_stream, row,
                                            maxlen=INBOUND_STREAM_MAXLEN, approximate=True),
                            "inbound record", deadline=5.0)

    # -- webhooks (webhooks.py): cs:audit read through one consumer group per endpoint ---

    async def webhook_group(self, group: str) -> None:
        """Create the endpoint's consumer group at the stream's end (events from now on);
        an existing group keeps its position."""
        try:
            await self._bounded(self.redis.xgroup_create(
                self.keys.audit_stream, group, id="$", mkstream=True), "webhook group")
        except StoreUnavailable as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def webhook_read(self, group: str, consumer: str, count: int, block_ms: int
                           ) -> list[tuple[str, dict[str, str]]]:
        """New entries for this consumer (blocking up to `block_ms`)."""
        res: Any = await self._bounded(self.redis.xreadgroup(
            group, consumer, {self.keys.audit_stream: ">"}, count=count, block=block_ms),
            "webhook read", deadline=block_ms / 1000.0 + self.deadline + 1.0)
        return [(sid, fields) for _stream, rows in (res or []) for sid, fields in rows]

    async def webhook_claim(self, group: str, consumer: str, min_idle_ms: int, count: int
                            ) -> list[tuple[str, dict[str, str]]]:
        """Entries another consumer read but did not acknowledge within `min_idle_ms`
        (its process died, or released them at stop). Entries deleted from the stream
        meanwhile are dropped from the pending list by Redis and not returned."""
        res: Any = await self._bounded(self.redis.xautoclaim(
            self.keys.audit_stream, group, consumer, min_idle_ms, start_id="0-0",
            count=count), "webhook claim")
        return [(sid, fields) for sid, fields in res[1] if fields]

    async def webhook_touch(self, group: str, consumer: str, ids: Sequence[str],
                            idle_ms: int = 0) -> None:
        """Reset (or, at stop, raise) the idle time of entries this consumer holds, so
        nobody claims an entry still being retried, and released ones are taken at once."""
        if ids:
            await self._bounded(self.redis.xclaim(
                self.keys.audit_stream, group, consumer, 0, list(ids), idle=idle_ms,
                justid=True), "webhook touch")

    async def webhook_ack(self, group: str, ids: Sequence[str]) -> None:
        if ids:
            await self._bounded(self.redis.xack(self.keys.audit_stream, group, *ids),
                                "webhook ack")

    async def webhook_dead(self, group: str, sid: str, fields: dict[str, str]) -> None:
        """Dead-letter one event and acknowledge it, atomically."""
        from .keys import WEBHOOK_DEAD_MAXLEN

        row: dict[Any, Any] = dict(fields)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.keys.webhook_dead, row, maxlen=WEBHOOK_DEAD_MAXLEN,
                      approximate=True)
            pipe.xack(self.keys.audit_stream, group, sid)
            await self._bounded(pipe.execute(), "webhook dead letter")

    async def webhook_backlog(self, group: str) -> int:
        """Events of the group not yet acknowledged: pending plus not yet read (lag)."""
        groups: list[dict[str, Any]] = await self._bounded(
            self.redis.xinfo_groups(self.keys.audit_stream), "webhook backlog")
        for g in groups:
            if g.get("name") == group:
                return int(g.get("pending") or 0) + int(g.get("lag") or 0)
        return 0

    async def webhook_leave(self, group: str, consumer: str) -> None:
        """Remove this consumer from the group if it holds nothing (a clean stop)."""
        rows: list[dict[str, Any]] = await self._bounded(
            self.redis.xinfo_consumers(self.keys.audit_stream, group), "webhook consumers")
        for c in rows:
            if c.get("name") == consumer and not int(c.get("pending") or 0):
                await self._bounded(self.redis.xgroup_delconsumer(
                    self.keys.audit_stream, group, consumer), "webhook leave")

    async def webhook_status(self, group: str) -> dict[str, Any] | None:
        """The group's pending and unread counts and its consumers (None: no group yet)."""
        try:
            groups: list[dict[str, Any]] = await self._bounded(
                self.redis.xinfo_groups(self.keys.audit_stream), "webhook status")
        except StoreUnavailable as exc:
            if "no such key" in str(exc).lower():
                return None
            raise
        for g in groups:
            if g.get("name") == group:
                rows: list[dict[str, Any]] = await self._bounded(self.redis.xinfo_consumers(
                    self.keys.audit_stream, group), "webhook consumers")
                return {"pending": int(g.get("pending") or 0),
                        "unread": int(g.get("lag") or 0),
                        "last_delivered": str(g.get("last-delivered-id") or ""),
                        "consumers": [{"name": str(c["name"]),
                                       "pending": int(c.get("pending") or 0),
                                       "idle_s": int(c.get("idle") or 0) / 1000}
                                      for c in rows]}
        return None

    async def webhook_dead_delete(self, ids: Sequence[str]) -> int:
        if not ids:
            return 0
        n: int = await self._bounded(self.redis.xdel(self.keys.webhook_dead, *ids),
                                     "webhook dead delete")
        return n

    async def webhook_prune(self, group: str, keep: str, min_idle_ms: int) -> int:
        """Remove consumers of stopped or dead processes once others took over what they
        held (nothing pending, silent for `min_idle_ms`). Returns how many."""
        rows: list[dict[str, Any]] = await self._bounded(
            self.redis.xinfo_consumers(self.keys.audit_stream, group), "webhook consumers")
        gone = [str(c["name"]) for c in rows if c.get("name") != keep
                and not int(c.get("pending") or 0) and int(c.get("idle") or 0) >= min_idle_ms]
        for name in gone:
            await self._bounded(self.redis.xgroup_delconsumer(
                self.keys.audit_stream, group, name), "webhook prune")
        return len(gone)
