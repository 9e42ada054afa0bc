"""bench/suite.py's pure parts: INFO/commandstats parsing, per-message Redis accounting,
the records it loads (decoded by consentry's own codec), and the result tables.
No benchmark runs here."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import suite
from consentry.consent import decode_address_hash

INFO = """# Stats
total_connections_received:12
total_commands_processed:1234
total_reads_processed:900

# Commandstats
cmdstat_hgetall:calls=300,usec=900,usec_per_call=3.00,rejected_calls=0,failed_calls=0
cmdstat_multi:calls=100,usec=10,usec_per_call=0.10,rejected_calls=0,failed_calls=0
cmdstat_exec:calls=100,usec=2000,usec_per_call=20.00,rejected_calls=0,failed_calls=0
cmdstat_evalsha:calls=50,usec=500,usec_per_call=10.00,rejected_calls=0,failed_calls=0
cmdstat_info:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0
cmdstat_client|setname:calls=4,usec=4,usec_per_call=1.00,rejected_calls=0,failed_calls=0
"""


def test_parse_info_and_commandstats() -> None:
    info = suite.parse_info(INFO)
    assert info["total_reads_processed"] == "900"
    assert "# Stats" not in info
    calls = suite.commandstats(info)
    assert calls == {"hgetall": 300, "multi": 100, "exec": 100, "evalsha": 50, "info": 7,
                     "client|setname": 4}


def test_snap_delta_and_per_message_net_of_probe_and_background() -> None:
    before = suite.Snap.parse(INFO)
    after = suite.Snap({"hgetall": 500, "multi": 200, "exec": 200, "evalsha": 50,
                        "info": 9, "client|setname": 4, "zadd": 10}, 1210)
    d = after.minus(before)
    assert d.calls == {"hgetall": 200, "multi": 100, "exec": 100, "info": 2, "zadd": 10}
    assert d.reads == 310
    # 100 messages in 2 s; the idle daemons do 5 zadd/s and 5 reads/s; our probe made 2
    # INFO calls (one read each)
    per = suite.per_message(d, 100, 2.0, suite.Rate({"zadd": 5.0}, 5.0), own_info=2)
    assert "info" not in per and "zadd" not in per
    assert per["hgetall"] == pytest.approx(2.0)
    assert per["multi"] == pytest.approx(1.0)
    assert per["_commands"] == pytest.approx(4.0)
    assert per["_round_trips"] == pytest.approx((310 - 2 - 10) / 100)
    assert suite.per_message(d, 0, 2.0, suite.Rate(), 0) == {}


def test_loaded_consent_records_are_a_doi_basis_for_consentry() -> None:
    now = 1_770_000_000.0
    for i in (0, 1, 2, 999_999):
        raw = suite.consent_value(i, now)
        info = decode_address_hash(suite.consented_address(i), {"consent": raw})
        assert info.problems == ()
        c = info.consent
        assert c is not None and c.type == "doi" and c.doi_evidence
        assert c.signup_at is not None and c.confirmed_at is not None
        assert c.confirmed_at > c.signup_at and c.confirmed_at < now
        assert c.tracking == (i % 3 != 0)


def test_fast_consent_encoding_is_byte_identical_to_consentrys() -> None:
    now = 1_770_000_000.123
    for i in (0, 1, 2, 3, 249, 250, 99_999, 100_000, 999_999):
        assert suite.consent_value_fast(i, now) == suite.consent_value(i, now)


def test_smtp_source_counter_parsing() -> None:
    assert suite.source_count(b"1\r2\r3\r10\r11\r\n") == 11
    assert suite.source_count(b"") == 0
    assert suite.source_count(b"1\r2\r") == 2


def test_loader_commands_are_resp_in_the_key_schema() -> None:
    suite.check_key_schema()
    cmds = list(suite.suppression_commands(0, 3))
    assert cmds[0].startswith(b"*4\r\n$4\r\nHSET\r\n")
    assert b"cs:supp:s0@supp.bench.example" in cmds[0]
    # the fixed smtp-source recipients standing for the suppressed 20 %
    assert len(cmds) == 3 + len(suite.SOURCE_SUPPRESSED)
    assert b"cs:supp:3src@doi.bench.example" in b"".join(cmds)
    assert next(iter(suite.suppression_commands(3, 5))).count(b"s3@supp") == 1
    keys = [a for a, _ in suite.consent_addresses(2)]
    assert keys[:2] == ["c0@doi.bench.example", "c1@doi.bench.example"]
    assert "10src@doi.bench.example" in keys and len(keys) == 2 + 11


def _run(target: str, rate: float, conc: int = 10, rcpts: int = 1, client: str = "loadgen",
         lat: list[float] | None = None, phase: str = "matrix") -> suite.Run:
    r = suite.Run(phase, target, client, 5120, rcpts, conc, messages=int(rate * 2),
                  elapsed=2.0, latencies_ms=lat or [1.0, 2.0, 3.0], cpu_s=0.5)
    r.codes = Counter({"250": r.messages})
    if target.startswith("consentry"):
        r.redis = {"_commands": 20.0, "_round_trips": 2.0, "multi": 1.0, "evalsha": 0.0}
    return r


def test_matrix_rows_ratios_against_sink_and_the_better_haraka() -> None:
    runs = [_run("sink", 4000), _run("haraka", 20), _run("haraka-nodelay", 200),
            _run("consentry", 300, lat=[5.0] * 99 + [50.0]), _run("consentry-dkim", 150)]
    aggs = suite.aggregate(runs)
    rows = {r[4]: r for r in suite.matrix_rows(aggs)}
    h = suite.MATRIX_HEAD
    c = rows["consentry"]
    assert c[h.index("msgs/s")] == "300"
    assert c[h.index("vs sink")] == "0.07"
    assert c[h.index("vs Haraka best")] == "1.50"  # against haraka-nodelay, not stock
    assert c[h.index("p99 ms")] == "5.00" and c[h.index("p999 ms")] == "50.00"
    assert c[h.index("round trips/msg")] == "2.00" and c[h.index("MULTI/msg")] == "1.00"
    assert c[h.index("CPU s/1k msgs")].startswith("0.83")
    assert rows["haraka-nodelay"][h.index("notes")] == "best Haraka"
    assert rows["sink"][h.index("vs sink")] == "-"
    md = suite.md_table(h, suite.matrix_rows(aggs))
    assert md[0].startswith("| client |") and len(md) == 2 + 5


def test_goals_name_each_verdict() -> None:
    runs = [_run("sink", 4000), _run("haraka", 20), _run("haraka-nodelay", 200),
            _run("consentry", 310), _run("consentry-dkim", 150),
            _run("consentry-supponly", 100, phase="consent"),
            _run("consentry", 95, phase="consent"),
            _run("consentry", 100, conc=50, phase="procs"),
            _run("consentry-2p", 150, conc=50, phase="procs")]
    g = suite.goals(suite.aggregate(runs), ["loadgen"])
    assert any(x.startswith("met: consentry loadgen 5K rcpts=1 c=10: 1.55×") for x in g)
    assert any(x.startswith("MISSED: consentry-dkim loadgen 5K rcpts=1 c=10: 0.75×")
               for x in g)
    assert any(x.startswith("met: consent records") and "0.95" in x for x in g)
    # both ran 0.5 s of CPU: consent (190 msgs) costs 100/95 of suppression-only (200)
    (line,) = [x for x in g if x.startswith("met: consent records")]
    assert line.endswith("server CPU 2.63 vs 2.50 s/1k msgs = 0.95"), line
    assert any(x.startswith("MISSED: two processes") and "1.50×" in x for x in g)
    assert any(x.startswith("met: added p99 latency") for x in g)


def test_nearest_rank_percentiles() -> None:
    lat = [float(i) for i in range(1, 101)]  # 1..100 ms
    r = suite.LoadResult(100, 1.0, lat)
    assert (r.percentile(50), r.percentile(99), r.percentile(99.9)) == (50.0, 99.0, 100.0)
    r = suite.LoadResult(1000, 1.0, [float(i) for i in range(1, 1001)])
    assert (r.percentile(99), r.percentile(99.9)) == (990.0, 999.0)


def test_tree_cpu_counts_this_process() -> None:
    import os

    assert suite.tree_cpu([os.getpid()]) > 0
    assert suite.tree_cpu([2**22 + 12345]) == 0.0  # no such process


def test_latency_phase_goal_line_compares_with_the_sink_at_the_same_rate() -> None:
    runs = []
    for target, p99 in (("sink", 3.0), ("haraka", 60.0), ("haraka-nodelay", 15.0),
                        ("consentry", 9.0)):
        r = suite.Run("latency", target, "loadgen", 5120, 1, 10, "50/s", messages=400,
                      elapsed=8.0, latencies_ms=[1.0] * 98 + [p99] * 2, cpu_s=1.0)
        r.codes = Counter({"250": 400})
        runs.append(r)
    g = suite.goals(suite.aggregate(runs), ["loadgen"])
    line = next(x for x in g if "below saturation" in x)
    assert line.startswith("met (below saturation): added p99 latency vs sink, c=10 "
                           "offered 50/s, 5K, rcpts=1: +6.00 ms")
    assert line.endswith("best Haraka +12.00 ms")
    rows = suite.phase_rows(suite.aggregate(runs))
    assert [r[1] for r in rows] == ["sink", "haraka", "haraka-nodelay", "consentry"]


async def test_open_loop_latency_counts_from_when_each_message_was_due() -> None:
    """A server slower than the offered rate: the open loop's latency grows with the
    backlog (measured from when each message was due), the closed loop's does not; at a
    rate the server keeps up with, no message is sent before it is due. Only bounds that
    the server's own delays imply are absolute; the rest compares one run with another."""
    import loadgen

    from ..helpers.sink import Sink

    w = loadgen.Workload(12, 1, 2048, 0.0, 10)
    loop = asyncio.get_running_loop()

    async def drive(delay: float, sessions: int, rate: float) -> tuple[Any, float]:
        sink = Sink()
        sink.control.data_delay = delay
        await sink.start()
        try:
            t0 = loop.time()
            res = await loadgen.run_load("127.0.0.1", sink.port, w, sessions,
                                         run_limit_s=30, rate=rate)
            return res, loop.time() - t0
        finally:
            await sink.stop()

    closed, _ = await drive(0.1, 1, 0.0)  # at most 10 msgs/s on one session
    opened, took = await drive(0.1, 1, 40.0)
    paced, took_paced = await drive(0.0, 2, 20.0)
    assert closed.codes["250"] == opened.codes["250"] == paced.codes["250"] == 12
    # the 12th message was due after 0.275 s and finished after twelve 0.1 s replies
    assert opened.latencies_ms[-1] > 900 and took >= 1.2
    assert opened.latencies_ms == sorted(opened.latencies_ms)
    assert max(closed.latencies_ms) < opened.latencies_ms[-1] / 2
    # paced: the last message was due at 11/20 s, so the run cannot end before
    assert took_paced >= 11 / 20
    assert max(paced.latencies_ms) < opened.latencies_ms[-1] / 2


def test_scale_goal_line_gives_the_cpu_spread_beside_the_rate_spread() -> None:
    def scale(n: str, messages: int, cpu_s: float) -> suite.Run:
        r = suite.Run("scale", "consentry-scale", "loadgen", 5120, 1, 10, extra=n,
                      messages=messages, elapsed=1.0, latencies_ms=[1.0], cpu_s=cpu_s)
        r.codes = Counter({"250": messages})
        return r

    # 1e4 ran slowest (500 msgs/s) though at the least CPU per message: the host, not
    # the set size; 1e7 cost the most per message
    g = suite.goals(suite.aggregate([scale("1e+04", 500, 0.5), scale("1e+05", 600, 0.66),
                                     scale("1e+07", 625, 0.75)]), ["loadgen"])
    (line,) = [x for x in g if "suppressions" in x]
    assert line.startswith("MISSED: suppressions 1e+04..1e+07: slowest 500 vs fastest 625")
    assert "least 1.00 s/1k msgs at 1e+04, most 1.20 at 1e+07 (= 0.83" in line, line


def test_phase_targets_alternate_their_order_between_repeats() -> None:
    assert suite.alternating(["a", "b"], 0) == ["a", "b"]
    assert suite.alternating(["a", "b"], 1) == ["b", "a"]
    assert suite.alternating([1, 2, 3], 2) == [1, 2, 3]
    assert suite.alternating([1, 2, 3], 3) == [3, 2, 1]


def test_load_messages_have_the_size_asked_and_bodies_of_their_own() -> None:
    import loadgen

    msgs = loadgen.build_messages(loadgen.Workload(50, 2, size=5120), "t")
    payloads = [data for _mail, _rcpts, data in msgs]
    sizes = {len(p) for p in payloads}
    assert max(sizes) - min(sizes) <= 4 and abs(min(sizes) - 5120) < 120, sizes
    bodies = [p.split(b"\r\n\r\n", 1)[1] for p in payloads]
    assert len(set(bodies)) == len(bodies)  # no body repeated
    assert not any(line.startswith(b".") for b in bodies for line in b.split(b"\r\n")[:-2])
