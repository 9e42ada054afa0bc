"""The invariant checker every fault scenario ends with.

It is given what the load client saw (every attempt of every message: the reply code and
stage, or a lost connection) and what the sink received, and counts:

- accepted: messages that got 250 from consentry (at the final dot);
- delivered: (message, recipient) pairs at the sink, by the message's X-Fault-Id;
- duplicated: deliveries beyond the first of the same pair that no RFC 1047 window
  explains (a window: an attempt whose final dot was sent and whose reply was lost or
  was 451 4.4.2, "downstream reply unknown");
- unchecked: deliveries to a recipient consentry must have suppressed;
- unaccepted_delivered: deliveries of messages the client was never told 250 for
  (again, outside an RFC 1047 window);
- refused: every non-250 reply the client got, by code; permanent: the 5xx among them;
- lost: attempts that ended without any reply (only allowed while consentry is down);
- in_retry_queue: per-recipient copies still in the durable queue (cs:retry:due and the
  local spool) when the counts were taken; retried: copies the queue delivered;
- bounced: recipients of accepted messages the downstream refused for good after another
  copy was accepted (recorded in cs:bounces, a DSN owed to the sender: SPEC §3);
  dsns: DSNs (null sender) the sink received; dsn_refused: recipients whose DSN the
  downstream itself refused for good (logged dsn_undeliverable: a bounce is not bounced,
  RFC 3461); dsn_missing: refused recipients of accepted messages named by neither (the
  DSN queue drained first).

`check` asserts the issue's invariants: every accepted message delivered exactly once to
each of its allowed recipients (the retry queue drained first; a permanent downstream
refusal recorded as a bounce counts only where the scenario refuses permanently), zero
duplicates, zero unchecked deliveries, and a 4xx for everything not accepted (5xx only
where the scenario says the downstream refused permanently). Each scenario's counts are
appended as one JSON line to $CONSENTRY_FAULT_COUNTS when set (`make torture` prints them
as a table).
"""

from __future__ import annotations

import email.parser
import email.policy
import fcntl
import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..helpers.sink import Received

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)
_FINAL_RCPT = re.compile(rb"^Final-Recipient: *(?:rfc822|utf-8) *; *(\S+?)\r?$", re.M | re.I)


@dataclass
class Attempt:
    code: int  # 0 = no reply (connection refused, reset or closed)
    text: str
    stage: str  # connect, ehlo, mail, rcpt, data, dot
    dot_sent: bool = False

    @property
    def window(self) -> bool:
        """RFC 1047: the downstream may have the message though the client has no 250."""
        return self.dot_sent and (self.code == 0 or self.text.startswith("4.4.2"))


@dataclass
class Msg:
    id: str
    allowed: list[str]
    suppressed: list[str]
    # Recipients the downstream refuses for good (550 5.1.1): consentry relays them until
    # the refusal it records makes them hard_bounce suppressions.
    dead: list[str] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def recipients(self) -> list[str]:
        return [*self.allowed, *self.dead, *self.suppressed]

    @property
    def accepted(self) -> bool:
        return any(a.code == 250 for a in self.attempts)

    @property
    def permanent(self) -> bool:
        return any(500 <= a.code < 600 for a in self.attempts)

    @property
    def window(self) -> bool:
        return any(a.window for a in self.attempts)


def fault_id(content: bytes) -> str | None:
    value = _HEADER_PARSER.parsebytes(content).get("X-Fault-Id")
    return None if value is None else str(value).strip()


@dataclass
class Counts:
    scenario: str
    messages: int = 0
    attempts: int = 0
    accepted: int = 0
    delivered: int = 0
    expected_deliveries: int = 0
    missing: int = 0
    duplicated: int = 0
    window_duplicates: int = 0
    unchecked: int = 0
    unaccepted_delivered: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    permanent: int = 0
    permanent_expected: int = 0
    dead_unrecorded: int = 0
    lost: int = 0
    gave_up: int = 0
    in_retry_queue: int = 0
    retried: int = 0
    bounced: int = 0
    dsns: int = 0
    dsn_refused: int = 0
    dsn_missing: int = 0
    torture: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class Settled:
    """The daemon's side once the stream is over: what the retry queue still holds, what
    it delivered, and the (fault id, recipient) pairs recorded in cs:bounces."""

    in_retry_queue: int = 0
    retried: int = 0
    bounced: set[tuple[str, str]] = field(default_factory=set)
    dead_keys: set[str] = field(default_factory=set)  # addresses now hard_bounce-suppressed
    # recipients named in DSNs the downstream refused for good (dsn_undeliverable events)
    dsn_refused: Counter[str] = field(default_factory=Counter)


def count(scenario: str, msgs: list[Msg], received: list[Received],
          settled: Settled | None = None) -> Counts:
    settled = settled or Settled()
    c = Counts(scenario, messages=len(msgs), torture=bool(os.environ.get("CONSENTRY_TORTURE")))
    by_id = {m.id: m for m in msgs}
    pairs: Counter[tuple[str, str]] = Counter()
    dsn_rcpts: Counter[str] = Counter()
    for r in received:
        fid = fault_id(r.content)
        if fid is None:
            if r.mail_from in ("", "<>"):  # the null sender, as aiosmtpd reports it
                c.dsns += 1
                dsn_rcpts.update(m.decode().lower() for m in _FINAL_RCPT.findall(r.content))
            continue
        for rcpt in r.rcpts:
            pairs[(fid, rcpt)] += 1
    refused: Counter[str] = Counter()
    for m in msgs:
        c.attempts += len(m.attempts)
        for a in m.attempts:
            if a.code == 0:
                c.lost += 1
            elif a.code != 250:
                refused[str(a.code)] += 1
        if m.accepted:
            c.accepted += 1
            c.expected_deliveries += len(m.allowed)
        elif m.permanent:
            c.permanent += 1
            if not m.allowed and m.dead:
                c.permanent_expected += 1  # its only live recipients do not exist
            else:
                a = next(a for a in m.attempts if 500 <= a.code < 600)
                c.details.setdefault("5xx", []).append([m.id, a.stage, a.code, a.text])
        else:
            c.gave_up += 1
    c.refused = dict(sorted(refused.items()))
    for (fid, rcpt), n in pairs.items():
        c.delivered += n
        m = by_id.get(fid)
        if m is None:
            c.details.setdefault("foreign", []).append(fid)
            continue
        if rcpt not in m.allowed and rcpt not in m.dead:
            c.unchecked += n
            c.details.setdefault("unchecked", []).append([fid, rcpt])
            continue
        if not m.accepted and not m.window:
            c.unaccepted_delivered += n
            c.details.setdefault("unaccepted_delivered", []).append([fid, rcpt])
        if n > 1:
            if m.window:
                c.window_duplicates += n - 1
            else:
                c.duplicated += n - 1
                c.details.setdefault("duplicated", []).append([fid, rcpt, n])
    for m in msgs:
        # A dead recipient of an accepted message: its refusal recorded for this message,
        # or it was a hard_bounce suppression already (then consentry dropped it).
        for rcpt in m.dead if m.accepted else ():
            if (m.id, rcpt) not in settled.bounced and rcpt not in settled.dead_keys:
                c.dead_unrecorded += 1
                c.details.setdefault("dead_unrecorded", []).append([m.id, rcpt])
        if m.accepted:
            for rcpt in m.allowed:
                if pairs[(m.id, rcpt)] == 0 and (m.id, rcpt) in settled.bounced:
                    c.bounced += 1
                elif pairs[(m.id, rcpt)] == 0:
                    c.missing += 1
                    last = m.attempts[-1]
                    c.details.setdefault("missing", []).append(
                        [m.id, rcpt, f"{last.code} {last.text}"])
    owed: Counter[str] = Counter(rcpt.lower() for fid, rcpt in settled.bounced
                                 if fid in by_id and by_id[fid].accepted)
    for rcpt, n in owed.items():
        named = dsn_rcpts[rcpt] + settled.dsn_refused[rcpt.lower()]
        c.dsn_refused += min(n, settled.dsn_refused[rcpt.lower()])
        if named < n:
            c.dsn_missing += n - named
            c.details.setdefault("dsn_missing", []).append(rcpt)
    c.in_retry_queue = settled.in_retry_queue
    c.retried = settled.retried
    return c


def record(c: Counts) -> None:
    out = os.environ.get("CONSENTRY_FAULT_COUNTS")
    if out:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        # pytest-xdist workers append to the same file: one locked write per line, so
        # lines never interleave (a buffered write of a long line could be split)
        data = (c.line() + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)  # releases the lock


def check(c: Counts, *, permanent_ok: bool = False, lost_ok: bool = False,
          windows_ok: bool = False) -> None:
    """The invariants. `permanent_ok`: the scenario's downstream refuses permanently, so
    5xx is the right answer; `lost_ok`: consentry itself was down for a while;
    `windows_ok`: the scenario can open RFC 1047 windows (consentry killed after the
    downstream took the final dot), whose duplicates are counted apart."""
    record(c)
    summary = c.line()
    assert c.messages > 0 and c.attempts >= c.messages, summary
    assert c.in_retry_queue == 0, f"retry queue not drained: {summary}"
    assert c.missing == 0, f"accepted but not delivered: {summary}"
    assert c.duplicated == 0, f"duplicates: {summary}"
    assert c.unchecked == 0, f"delivered to suppressed recipients: {summary}"
    assert c.unaccepted_delivered == 0, f"delivered without a 250: {summary}"
    assert c.gave_up == 0, f"messages never accepted nor refused for good: {summary}"
    assert c.dead_unrecorded == 0, f"downstream refusals not recorded: {summary}"
    assert c.dsn_missing == 0, f"refusals after a 250 without their DSN: {summary}"
    if not permanent_ok:
        assert c.permanent == c.permanent_expected, f"5xx for a transient fault: {summary}"
        assert c.bounced == 0, f"recipients refused for good by a transient fault: {summary}"
        if not c.permanent_expected:
            assert all(code.startswith("4") for code in c.refused), summary
    if not lost_ok:
        assert c.lost == 0, f"attempts without any reply: {summary}"
    if not windows_ok:
        assert c.window_duplicates == 0, summary
