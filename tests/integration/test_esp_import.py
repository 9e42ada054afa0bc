"""`consentry suppress import --format F`: each ESP's export (tests/data/esp/, shaped like
the real exports; columns in docs/import.md) maps to the right reason, source, scope and
time, bad lines are named by line number, the export of the result re-imports unchanged,
and an interrupted import resumes from its checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from consentry import cli
from consentry import store as store_mod
from consentry.errors import StoreUnavailable

DATA = Path(__file__).resolve().parent.parent / "data" / "esp"
T = 1700000000.0  # 2023-11-14T22:13:20Z, the time in every sample

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(tmp_path: Path, redis_url: str, sync_redis: Any,
        capsys: pytest.CaptureFixture[str]) -> Run:
    sync_redis.set("cs:epoch", "1")
    conf = tmp_path / "c.yaml"
    conf.write_text(f"server: {{state_dir: '{tmp_path / 'var'}'}}\n"
                    f"redis: {{embedded: false, deadline_ms: 2000, url: '{redis_url}'}}\n")

    def run(*argv: str) -> tuple[int, str, str]:
        rc = cli.main(["-c", str(conf), *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def stored(sync_redis: Any) -> dict[tuple[str, str], dict[str, Any]]:
    out = {}
    for k in sync_redis.scan_iter("cs:supp:*"):
        for scope, v in sync_redis.hgetall(k).items():
            out[(k[len("cs:supp:"):], scope)] = json.loads(v)
    return out


CASES = [
    ("sendgrid_bounces.csv", "sendgrid", None, [
        ("bounce1@example.org", "global", "hard_bounce", T),
        ("bounce2@example.org", "global", "soft_bounce", T + 100)], [4]),
    ("sendgrid_spam_reports.csv", "sendgrid", None, [
        ("spam1@example.org", "global", "complaint", T + 300)], []),
    ("sendgrid_unsubscribes.csv", "sendgrid", None, [
        ("unsub1@example.org", "global", "unsubscribe", T)], []),
    ("sendgrid_group_unsubscribes.csv", "sendgrid", None, [
        ("group1@example.org", "list:Weekly-Digest", "unsubscribe", T + 400)], []),
    ("sendgrid_blocks.csv", "sendgrid", "blocks", [
        ("block1@example.org", "global", "soft_bounce", T + 500)], []),
    ("mailgun_bounces.csv", "mailgun", None, [
        ("mg-bounce@example.org", "global", "hard_bounce", T)], []),
    ("mailgun_unsubscribes.csv", "mailgun", None, [
        ("mg-all@example.org", "global", "unsubscribe", T),
        ("mg-news@example.org", "list:newsletter", "unsubscribe", T)], []),
    ("mailgun_complaints.csv", "mailgun", None, [
        ("mg-spam@example.org", "global", "complaint", T)], []),
    ("mailchimp_unsubscribed.csv", "mailchimp", None, [
        ("mc-unsub@example.org", "global", "unsubscribe", T)], [3]),
    ("mailchimp_cleaned.csv", "mailchimp", None, [
        ("mc-clean@example.org", "global", "hard_bounce", T)], []),
    ("brevo_blocklisted.csv", "brevo", None, [
        ("br-hard@example.org", "global", "hard_bounce", T),
        ("br-spam@example.org", "global", "complaint", T),
        ("br-unsub@example.org", "global", "unsubscribe", T),
        ("br-admin@example.org", "global", "admin", T)], []),
    ("ses_suppressed.jsonl", "ses", None, [
        ("ses-bounce@example.org", "global", "hard_bounce", T),
        ("ses-complaint@example.org", "global", "complaint", T)], [3]),
    ("ses_bulk.csv", "ses", None, [("ses-bulk@example.org", "global", "hard_bounce", None)],
     []),
    ("generic.csv", "csv", None, [("gen-csv@example.org", "list:news", "unsubscribe", T)], []),
    ("generic.jsonl", "jsonl", None, [("gen-jsonl@example.org", "global", "objection", T)],
     []),
]


@pytest.mark.parametrize(("name", "fmt", "kind", "expected", "bad"), CASES,
                         ids=[c[0] for c in CASES])
def test_esp_export_round_trips(run: Run, sync_redis: Any, tmp_path: Path, name: str,
                                fmt: str, kind: str | None,
                                expected: list[tuple[str, str, str, float | None]],
                                bad: list[int]) -> None:
    argv = ["suppress", "import", str(DATA / name), "--format", fmt]
    if kind:
        argv += ["--kind", kind]
    rc, out, err = run(*argv)
    assert rc == (1 if bad else 0), err
    assert [int(x.split(":")[1]) for x in err.splitlines()] == bad  # FILE:LINE: why
    got = stored(sync_redis)
    assert sorted(got) == sorted((a, s) for a, s, _, _ in expected)
    source = "import" if fmt in ("csv", "jsonl") else fmt
    for address, scope, reason, at in expected:
        rec = got[(address, scope)]
        assert rec["reason"] == reason
        assert rec["source"] == (source if fmt not in ("csv", "jsonl") else rec["source"])
        if at is not None:
            assert rec["at"] == pytest.approx(at)
    assert f"{len(expected)} written" in out
    # Round trip: the export imports back unchanged, and nothing is audited twice.
    audited = sync_redis.xlen("cs:audit")
    assert audited == len(expected)
    export = tmp_path / "export.jsonl"
    rc, _, _ = run("suppress", "export", "--format", "jsonl", "-o", str(export))
    assert rc == 0
    rc, out, _ = run("suppress", "import", str(export))
    assert rc == 0 and f"0 written, {len(expected)} unchanged" in out
    assert sync_redis.xlen("cs:audit") == audited
    # Importing the ESP file again changes nothing either.
    rc, out, _ = run(*argv)
    assert "0 written" in out


def test_interrupted_import_resumes_from_its_checkpoint(
        run: Run, sync_redis: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "unsubs.csv"
    f.write_text("email,created\n" + "".join(f"u{i}@example.org,{int(T) + i}\n"
                                              for i in range(95)) + "broken\n")
    real = store_mod.Store.write_suppression_batch
    calls = {"n": 0}

    async def flaky(self: Any, records: Any, actor: str, now: Any = None) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise StoreUnavailable("redis import write: deadline exceeded")
        return await real(self, records, actor, now)

    monkeypatch.setattr(store_mod.Store, "write_suppression_batch", flaky)
    rc, _, err = run("suppress", "import", str(f), "--format", "sendgrid", "--batch", "10")
    assert rc == 3 and "deadline exceeded" in err
    assert len(stored(sync_redis)) == 30  # three whole batches, nothing half-written
    (ck,) = (tmp_path / "var" / "imports").iterdir()
    assert json.loads(ck.read_text())["progress"]["line"] == 31  # header + 30 rows
    monkeypatch.setattr(store_mod.Store, "write_suppression_batch", real)
    rc, out, err = run("suppress", "import", str(f), "--format", "sendgrid", "--batch", "10")
    assert "resuming after line 31" in err and "97: 1 cells, header has 2" in err.replace(
        f"{f}:", "")
    assert rc == 1 and "95 valid record(s)" in out and "95 written, 0 unchanged" in out
    assert len(stored(sync_redis)) == 95 and sync_redis.xlen("cs:audit") == 95
    assert not list((tmp_path / "var" / "imports").iterdir())  # done: checkpoint gone
