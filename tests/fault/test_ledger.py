"""The invariant checker itself: each invariant it guards fails on a ledger that breaks
it (a checker that cannot fail would make every fault scenario pass)."""

from __future__ import annotations

from collections import Counter

import pytest

from ..helpers.client import message
from ..helpers.sink import Received
from . import ledger
from .ledger import Attempt, Msg, Settled

pytestmark = pytest.mark.fault


@pytest.fixture(autouse=True)
def _no_counts_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONSENTRY_FAULT_COUNTS", raising=False)  # not a scenario's counts

OK = Attempt(250, "2.0.0 Ok: 1 of 1 recipient(s) relayed", "dot", True)
TEMP = Attempt(451, "4.4.1 downstream unavailable", "dot", True)
LOST_AFTER_DOT = Attempt(0, "EOFError", "dot", True)


def _got(fid: str, *rcpts: str) -> Received:
    return Received("news@sender.example", list(rcpts),
                    message(headers={"X-Fault-Id": fid}, msgid=f"<{fid}@sender.example>"))


def _dsn(*rcpts: str) -> Received:
    status = "".join(f"Final-Recipient: rfc822; {r}\r\nAction: failed\r\n\r\n"
                     for r in rcpts)
    return Received("", ["news@sender.example"],
                    f"From: MAILER-DAEMON@c.test\r\n\r\n{status}".encode())


def _msg(fid: str, *attempts: Attempt, allowed: tuple[str, ...] = ("a@x.example",),
         suppressed: tuple[str, ...] = ()) -> Msg:
    return Msg(fid, list(allowed), list(suppressed), attempts=list(attempts))


def test_clean_run_passes_and_counts() -> None:
    m = _msg("m1", TEMP, OK, allowed=("a@x.example", "b@x.example"))
    c = ledger.count("t", [m], [_got("m1", "a@x.example"), _got("m1", "b@x.example"),
                                Received("", ["news@sender.example"], b"DSN\r\n\r\n")])
    ledger.check(c)
    assert (c.accepted, c.delivered, c.refused, c.dsns) == (1, 2, {"451": 1}, 1)


@pytest.mark.parametrize(("msgs", "received", "settled", "broken"), [
    ([_msg("m", OK)], [_got("m", "a@x.example")] * 2, None, "duplicates"),
    ([_msg("m", OK, suppressed=("s@x.example",))],
     [_got("m", "a@x.example"), _got("m", "s@x.example")], None, "suppressed"),
    ([_msg("m", OK)], [], None, "not delivered"),
    ([_msg("m", TEMP), _msg("n", OK)], [_got("m", "a@x.example"), _got("n", "a@x.example")],
     None, "without a 250"),
    ([_msg("m", Attempt(554, "5.0.0 no", "dot", True))], [], None, "5xx"),
    ([_msg("m", OK)], [], Settled(in_retry_queue=1), "retry queue"),
    ([_msg("m", TEMP)], [], None, "never accepted"),
    ([_msg("m", Attempt(0, "ConnectionRefusedError", "connect"), OK)],
     [_got("m", "a@x.example")], None, "without any reply"),
    ([_msg("m", OK)], [_dsn("a@x.example")], Settled(bounced={("m", "a@x.example")}),
     "refused for good"),
    ([Msg("m", ["a@x.example"], [], ["dead@x.example"], [OK])], [_got("m", "a@x.example")],
     Settled(bounced={("m", "dead@x.example")}), "without their DSN"),
    ([Msg("m", [], [], ["dead@x.example"], [OK])], [], None, "refusals not recorded"),
])
def test_each_broken_invariant_fails_the_check(msgs: list[Msg], received: list[Received],
                                               settled: Settled | None, broken: str) -> None:
    c = ledger.count("t", msgs, received, settled)
    with pytest.raises(AssertionError, match=broken):
        ledger.check(c)


def test_rfc1047_window_duplicate_is_counted_apart_and_allowed_only_when_said() -> None:
    m = _msg("m", LOST_AFTER_DOT, OK)
    c = ledger.count("t", [m], [_got("m", "a@x.example")] * 2)
    assert (c.duplicated, c.window_duplicates, c.lost) == (0, 1, 1)
    ledger.check(c, lost_ok=True, windows_ok=True)
    with pytest.raises(AssertionError):
        ledger.check(c, lost_ok=True)


def test_dead_mailbox_refusal_recorded_passes() -> None:
    m = Msg("m", ["a@x.example"], [], ["dead@x.example"], [OK])
    c = ledger.count("t", [m], [_got("m", "a@x.example"), _dsn("dead@x.example")],
                     Settled(bounced={("m", "dead@x.example")}))
    ledger.check(c)
    assert (c.dead_unrecorded, c.delivered, c.dsns, c.dsn_missing) == (0, 1, 1, 0)


def test_dsn_the_downstream_refused_for_good_is_accounted() -> None:
    m = Msg("m", ["a@x.example"], [], ["dead@x.example"], [OK])
    c = ledger.count("t", [m], [_got("m", "a@x.example")],
                     Settled(bounced={("m", "dead@x.example")},
                             dsn_refused=Counter({"dead@x.example": 1})))
    ledger.check(c)
    assert (c.dsns, c.dsn_refused, c.dsn_missing) == (0, 1, 0)
