"""The audit chain: every change reaches the Redis stream and the hash-chained file;
`audit verify` names the first edited, deleted or reordered line; `audit show` answers
for a person; a full disk makes the change unacknowledged and the file is back-filled."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from structlog.testing import capture_logs

from consentry import audit, cli
from consentry import config as config_mod
from consentry.audit import AuditFile, Auditor
from consentry.errors import AuditIncomplete
from consentry.store import Store, SuppressionRecord

Run = Callable[..., tuple[int, str, str]]


def _config(tmp_path: Path, redis_url: str, name: str = "c.yaml", extra: str = "") -> Path:
    cfg = tmp_path / name
    cfg.write_text(f"server: {{state_dir: '{tmp_path / 'var'}'}}\n"
                   f"redis: {{embedded: false, deadline_ms: 2000, url: '{redis_url}'}}\n{extra}")
    return cfg


@pytest.fixture
def run(tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]) -> Run:
    cfg = _config(tmp_path, redis_url)
    r = redis.Redis.from_url(redis_url)
    r.set("cs:epoch", "1")
    r.close()

    def run(*argv: str, config: Path = cfg) -> tuple[int, str, str]:
        rc = cli.main(["-c", str(config), *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def audit_file(tmp_path: Path) -> Path:
    return tmp_path / "var" / "audit.jsonl"


def lines(p: Path) -> list[str]:
    return p.read_text().splitlines(keepends=True)


def three_changes(run: Run) -> None:
    assert run("suppress", "add", "a@example.org", "--reason", "unsubscribe")[0] == 0
    assert run("suppress", "add", "b@example.org", "--reason", "complaint",
               "--list", "news")[0] == 0
    assert run("suppress", "remove", "a@example.org", "--reason", "asked by phone")[0] == 0
    assert run("suppress", "add", "c@example.org", "--reason", "objection")[0] == 0


def test_every_cli_change_is_in_stream_and_file_in_the_same_order(
        run: Run, tmp_path: Path, sync_redis: Any) -> None:
    three_changes(run)
    stream = sync_redis.xrange("cs:audit")
    rows = [json.loads(x) for x in lines(audit_file(tmp_path))]
    assert [r["sid"] for r in rows] == [sid for sid, _ in stream]
    assert [r["entry"] for r in rows] == [fields for _, fields in stream]
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["prev"] == audit.GENESIS
    assert all(rows[i]["prev"] == rows[i - 1]["hash"] for i in range(1, 4))
    removal = rows[2]["entry"]
    assert removal["action"] == "unsuppress" and removal["reason"] == "asked by phone"
    assert json.loads(removal["record"])["reason"] == "unsubscribe"  # what was lifted
    rc, out, _ = run("audit", "verify")
    assert rc == 0 and "OK, 4 entries" in out and "4 entries match the stream" in out


def test_removal_without_a_reason_is_refused(run: Run, sync_redis: Any) -> None:
    run("suppress", "add", "a@example.org", "--reason", "unsubscribe")
    rc, _, err = run("suppress", "remove", "a@example.org", "--reason", "  ")
    assert rc == 2 and "why" in err
    assert sync_redis.hgetall("cs:supp:a@example.org")


def _edit_keep_hash(text: str) -> str:
    return text.replace('"list:news"', '"list:other"')


def _edit_rehash(text: str) -> str:
    d = json.loads(text)
    d["entry"]["reason"] = "admin"
    line, _h = audit.make_line(d["seq"], d["sid"], d["prev"], d["entry"])
    return line.decode()


@pytest.mark.parametrize(("tamper", "line", "kind", "words"), [
    ("edit", 2, "edited", "its content does not match its own SHA-256"),
    ("edit+rehash", 2, "edited", "its hash was recomputed"),
    ("delete", 2, "deleted", "entry 2 is missing"),
    ("swap", 2, "reordered", "entry 2 belongs here but is at line 3"),
    ("delete-first", 1, "deleted", "entry 1 is missing"),
    ("truncate-line", 3, "edited", "not a well-formed entry"),
])
def test_verify_names_the_first_broken_entry(run: Run, tmp_path: Path, tamper: str,
                                             line: int, kind: str, words: str) -> None:
    three_changes(run)
    p = audit_file(tmp_path)
    rows = lines(p)
    if tamper == "edit":
        rows[1] = _edit_keep_hash(rows[1])
    elif tamper == "edit+rehash":
        rows[1] = _edit_rehash(rows[1])
    elif tamper == "delete":
        del rows[1]
    elif tamper == "swap":
        rows[1], rows[2] = rows[2], rows[1]
    elif tamper == "delete-first":
        del rows[0]
    else:
        rows[2] = rows[2][:40] + "\n"
    p.write_text("".join(rows))
    rc, out, _ = run("audit", "verify", "--offline")
    assert rc == 1
    assert f"BROKEN at line {line}" in out and f"{kind}: {words}" in out, out
    rc, out, _ = run("audit", "verify", "--json", "--offline")
    assert rc == 1 and json.loads(out)["broken"]["line"] == line


def test_edit_with_every_hash_recomputed_is_caught_by_the_stream(
        run: Run, tmp_path: Path) -> None:
    three_changes(run)
    p = audit_file(tmp_path)
    rows = [json.loads(x) for x in lines(p)]
    rows[3]["entry"]["reason"] = "admin"  # the last line: no later line chains to it
    prev = rows[2]["hash"]
    line, _ = audit.make_line(rows[3]["seq"], rows[3]["sid"], prev, rows[3]["entry"])
    p.write_text("".join(lines(p)[:3]) + line.decode())
    # Offline, the head recorded beside the file knows the last entry's hash.
    rc, out, _ = run("audit", "verify", "--offline")
    assert rc == 1 and ("line 4 (entry 4): edited: differs from the head audit.jsonl.head "
                        "records") in out, out
    rc, out, _ = run("audit", "verify")
    assert rc == 1 and "line 4 (entry 4): edited: differs from the stream" in out
    audit.head_path(p).unlink()
    assert run("audit", "verify", "--offline")[0] == 0  # the file alone cannot tell


@pytest.mark.parametrize("n", [1, 3])
def test_deleted_tail_is_detected_offline_naming_the_missing_entries(
        run: Run, tmp_path: Path, sync_redis: Any, n: int) -> None:
    """No daemon runs: the last N lines deleted are named by the `.head` file (offline),
    and by the Redis head when the head file went too; `audit sync` restores them."""
    three_changes(run)
    p = audit_file(tmp_path)
    rows = lines(p)
    sids = [json.loads(x)["sid"] for x in rows]
    p.write_text("".join(rows[:4 - n]))
    gone = "entry 4 is" if n == 1 else f"entries {5 - n}..4 are"
    rc, out, _ = run("audit", "verify", "--offline")
    assert rc == 1, out
    assert f"BROKEN at line {5 - n} (entry {5 - n}): deleted: the tail is missing: {gone} " \
           "gone from the end of the file (audit.jsonl.head records entry 4, stream id " \
           f"{sids[3]}" in out, out
    assert f"after stream id {sids[3 - n]} up to {sids[3]}" in out
    rc, out, _ = run("audit", "verify", "--offline", "--json")
    assert rc == 1 and json.loads(out)["broken"]["kind"] == "deleted"
    # The head file deleted too: the Redis head still knows (online check).
    audit.head_path(p).unlink()
    assert run("audit", "verify", "--offline")[0] == 0  # the file alone cannot tell
    rc, out, _ = run("audit", "verify")
    assert rc == 1 and f"deleted: the tail is missing: {gone} gone" in out, out
    assert "the Redis head (cs:audit:head) records entry 4" in out
    # The stream still holds them: sync appends them again, byte for byte.
    assert run("audit", "sync")[0] == 0
    assert lines(p) == rows
    rc, out, _ = run("audit", "verify")
    assert rc == 0 and "head: the Redis head (cs:audit:head): entry 4 matches" in out, out
    rc, out, _ = run("audit", "verify", "--offline")
    assert rc == 0 and "head: audit.jsonl.head: entry 4 matches" in out, out


def test_audit_file_deleted_as_a_whole_is_named_by_its_head(
        run: Run, tmp_path: Path) -> None:
    three_changes(run)
    audit_file(tmp_path).unlink()
    rc, out, _ = run("audit", "verify", "--offline")
    assert rc == 1 and "entries 1..4 are gone" in out, out


def test_audit_show_lists_the_persons_history(run: Run, tmp_path: Path) -> None:
    f = tmp_path / "links.jsonl"
    f.write_text(json.dumps({"link": {"person": "p7", "address": "anna@example.org"}}) + "\n"
                 + json.dumps({"link": {"person": "p7", "address": "anna@work.example"}})
                 + "\n")
    assert run("consent", "import", str(f))[0] == 0
    assert run("suppress", "add", "anna@work.example", "--reason", "objection",
               "--source", "reply")[0] == 0
    run("suppress", "add", "other@example.org", "--reason", "unsubscribe")
    rc, out, _ = run("audit", "show", "Anna@Example.org")
    assert rc == 0
    assert "person p7" in out and "anna@work.example" in out
    assert out.count(" link ") == 2 and "objection" in out and "other@" not in out
    rc, out, _ = run("audit", "show", "anna@example.org", "--json")
    actions = [json.loads(x)["action"] for x in out.splitlines()]
    assert actions == ["link", "link", "suppress"]


def test_full_disk_change_stands_but_is_not_acknowledged_then_back_filled(
        run: Run, tmp_path: Path, redis_url: str, sync_redis: Any) -> None:
    run("suppress", "add", "a@example.org", "--reason", "unsubscribe")
    full = _config(tmp_path, redis_url, "full.yaml", "audit: {file: /dev/full}\n")
    rc, _, err = run("suppress", "add", "gone@example.org", "--reason", "objection",
                     config=full)
    assert rc == 4 and "No space left on device" in err and "not acknowledged" in err
    # The objection took effect at once and its stream entry exists ...
    assert sync_redis.hget("cs:supp:gone@example.org", "global")
    assert sync_redis.xrange("cs:audit")[-1][1]["address"] == "gone@example.org"
    # ... the file has nothing partial, and the next append back-fills it from the stream.
    assert len(lines(audit_file(tmp_path))) == 1
    rc, out, _ = run("audit", "sync")
    assert rc == 0 and "appended 1 entry" in out
    assert json.loads(lines(audit_file(tmp_path))[1])["entry"]["address"] == "gone@example.org"
    assert run("audit", "verify")[0] == 0


async def test_concurrent_writers_in_one_process_keep_one_chain(
        tmp_path: Path, redis_url: str, sync_redis: Any) -> None:
    cfg = config_mod.from_mapping({"redis": {"embedded": False, "url": redis_url,
                                              "deadline_ms": 2000}})
    store = Store(cfg.redis, redis_url)
    f = AuditFile(tmp_path / "audit.jsonl")
    audit.attach(store, Auditor(store, f))
    try:
        await asyncio.gather(*(store.add_suppression(
            SuppressionRecord(f"u{i}@example.org", "global", "unsubscribe", "one-click",
                              1.0 + i), actor="test") for i in range(60)))
    finally:
        await store.close()
    out = audit.verify_file(f.path)
    assert out.broken is None and out.entries == 60
    rows = [json.loads(x) for x in lines(f.path)]
    assert [r["sid"] for r in rows] == [sid for sid, _ in sync_redis.xrange("cs:audit")]


WRITER = textwrap.dedent("""
    import asyncio, sys
    from consentry import audit, config
    from consentry.store import Store, SuppressionRecord
    url, path, tag = sys.argv[1:4]
    async def main():
        cfg = config.from_mapping({"redis": {"embedded": False, "url": url, "deadline_ms": 2000}})
        store = Store(cfg.redis, url)
        audit.attach(store, audit.Auditor(store, audit.AuditFile(audit.Path(path))))
        for i in range(25):
            await store.add_suppression(SuppressionRecord(
                f"{tag}{i}@example.org", "global", "unsubscribe", "admin", 1.0), "t")
        await store.close()
    asyncio.run(main())
""")


def test_several_processes_on_one_host_share_the_file(
        tmp_path: Path, redis_url: str, sync_redis: Any) -> None:
    path = tmp_path / "audit.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, redis_url, str(path), tag])
             for tag in ("p", "q", "r")]
    for p in procs:
        assert p.wait(timeout=60) == 0
    out = audit.verify_file(path)
    assert out.broken is None and out.entries == 75
    rows = [json.loads(x) for x in lines(path)]
    assert [r["sid"] for r in rows] == [sid for sid, _ in sync_redis.xrange("cs:audit")]


async def test_strict_sync_failure_raises_audit_incomplete(
        tmp_path: Path, redis_url: str) -> None:
    cfg = config_mod.from_mapping({"redis": {"embedded": False, "url": redis_url,
                                              "deadline_ms": 2000}})
    store = Store(cfg.redis, redis_url)
    audit.attach(store, Auditor(store, AuditFile(Path("/dev/full"))))
    try:
        with capture_logs() as logged, pytest.raises(AuditIncomplete):
            await store.add_suppression(SuppressionRecord(
                "x@example.org", "global", "unsubscribe", "one-click", 1.0), actor="t")
        assert logged[0]["event"] == "audit_append_failed"
        # Relay refusals (after the downstream accepted) never raise: logged only.
        with capture_logs() as logged:
            await store.record_refusals([], None, [SuppressionRecord(
                "y@example.org", "global", "hard_bounce", "downstream-rcpt", 1.0)])
        assert [e["event"] for e in logged] == ["audit_append_failed"]
    finally:
        await store.close()


async def test_expired_suppressions_are_removed_and_audited(
        tmp_path: Path, redis_url: str, sync_redis: Any) -> None:
    cfg = config_mod.from_mapping({"redis": {"embedded": False, "url": redis_url,
                                              "deadline_ms": 2000}})
    store = Store(cfg.redis, redis_url)
    f = AuditFile(tmp_path / "audit.jsonl")
    audit.attach(store, Auditor(store, f))
    try:
        await store.add_suppression(SuppressionRecord(
            "soft@example.org", "global", "soft_bounce", "bounce", 10.0, expires_at=100.0),
            actor="inbound")
        await store.add_suppression(SuppressionRecord(
            "later@example.org", "global", "soft_bounce", "bounce", 10.0, expires_at=900.0),
            actor="inbound")
        # An objection arriving meanwhile moves the pause beside it (field global|soft_…)
        await store.add_suppression(SuppressionRecord(
            "soft@example.org", "global", "unsubscribe", "one-click", 50.0), actor="http")
        assert await store.expire_due(now=500.0) == 1
        h = sync_redis.hgetall("cs:supp:soft@example.org")
        assert list(h) == ["global"] and json.loads(h["global"])["reason"] == "unsubscribe"
        assert sync_redis.hget("cs:supp:later@example.org", "global")  # not due yet
        assert sync_redis.zcard("cs:suppexp") == 1
        assert await store.expire_due(now=500.0) == 0  # idempotent
    finally:
        await store.close()
    last = json.loads(lines(f.path)[-1])["entry"]
    assert (last["action"], last["address"], last["reason"], last["actor"]) == (
        "expire", "soft@example.org", "soft_bounce", "expiry-job")
    assert audit.verify_file(f.path).broken is None


def test_an_empty_head_file_vouches_for_nothing_the_redis_head_still_does(
        run: Run, tmp_path: Path) -> None:
    """The head file is not fsync'd: after a power loss it may be empty. That is noted,
    never a broken chain; a deleted tail is then still named by the Redis head."""
    three_changes(run)
    p = audit_file(tmp_path)
    audit.head_path(p).write_text("")
    rc, out, _ = run("audit", "verify", "--offline")
    assert rc == 0 and "head: audit.jsonl.head: unreadable, not used" in out, out
    p.write_text("".join(lines(p)[:3]))
    rc, out, _ = run("audit", "verify")
    assert rc == 1 and "deleted: the tail is missing: entry 4 is gone" in out, out
