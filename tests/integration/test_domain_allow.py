"""Domain entries (`*@domain`) checked in the same lookup round trip as the address, and
the allow-list of seed/test addresses that bounces never suppress; both audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from consentry import cli
from consentry.address import parse
from consentry.inbound.classify import Verdict
from consentry.inbound_apply import InboundActions
from consentry.model import MessageFacts
from consentry.policy import evaluate
from consentry.store import Store, SuppressionRecord

from ..helpers.client import message, send


@pytest.fixture
def run(tmp_path: Path, redis_url: str, sync_redis: Any,
        capsys: pytest.CaptureFixture[str]) -> Any:
    sync_redis.set("cs:epoch", "1")
    conf = tmp_path / "c.yaml"
    conf.write_text(f"server: {{state_dir: '{tmp_path / 'var'}'}}\n"
                    f"redis: {{embedded: false, deadline_ms: 2000, url: '{redis_url}'}}\n")

    async def run(*argv: str) -> tuple[int, str, str]:
        rc = await asyncio.to_thread(cli.main, ["-c", str(conf), *argv])
        structlog.reset_defaults()
        out, err = capsys.readouterr()
        return rc, out, err

    return run


async def test_domain_entry_suppresses_advertising_to_every_address(
        run: Any, make_config: Any, sync_redis: Any) -> None:
    rc, out, _ = await run("suppress", "add", "*@Competitor.EXAMPLE", "--reason",
                           "competitor")
    assert rc == 0 and "*@competitor.example" in out
    assert sync_redis.hget("cs:suppd:competitor.example", "global")
    entry = sync_redis.xrange("cs:audit")[-1][1]
    assert (entry["action"], entry["domain"]) == ("suppress_domain", "competitor.example")
    cfg = make_config(policy={"require_basis": False})
    store = Store(cfg.redis, cfg.redis.url)
    try:
        before = store.round_trips
        states = await store.recipient_states([parse("a@competitor.example"),
                                               parse("b+x@competitor.example"),
                                               parse("c@elsewhere.example")])
        assert store.round_trips - before == 1  # the domain rides in the lookup
    finally:
        await store.close()
    now = 2e9
    ads = MessageFacts("marketing", "header")
    verdicts = [evaluate(s, ads, cfg.policy, now) for s in states]
    assert [(d.verdict, d.rule) for d in verdicts] == [
        ("suppress", "domain"), ("suppress", "domain"), ("allow", "no_basis")]
    assert verdicts[0].facts["domain_suppression"]["address"] == "*@competitor.example"
    tx = evaluate(states[0], MessageFacts("transactional", "header"), cfg.policy, now)
    assert tx.allowed  # an order confirmation still reaches a competitor's buyer
    rc, out, _ = await run("suppress", "list")
    assert "*@competitor.example" in out
    rc, out, _ = await run("suppress", "remove", "*@competitor.example", "--reason", "merger")
    assert rc == 0 and not sync_redis.exists("cs:suppd:competitor.example")
    assert sync_redis.xrange("cs:audit")[-1][1]["action"] == "unsuppress_domain"


async def test_dead_domain_stops_every_class(run: Any, make_config: Any, sink: Any,
                                             start_app: Any) -> None:
    assert (await run("suppress", "add", "*@gone.example", "--reason", "hard_bounce",
                      "--source", "admin"))[0] == 0
    running = await start_app(make_config(sink, policy={"require_basis": False}))
    code, _, _ = await send(running.port, ["x@gone.example", "y@ok.example"],
                            message(headers={"X-Consent-Class": "transactional"}))
    assert code == 250 and sink.delivered_to() == ["y@ok.example"]
    assert {d["recipient"]: d["rule"] for d in running.decisions()}["x@gone.example"] == (
        "domain_bounce")


async def test_allow_listed_seed_is_never_suppressed_by_bounces(
        run: Any, make_config: Any, sync_redis: Any, tmp_path: Path) -> None:
    rc, out, _ = await run("allow", "add", "Seed@Example.org", "--reason", "inbox probe")
    assert rc == 0 and "allow-listed: seed@example.org" in out
    assert sync_redis.xrange("cs:audit")[-1][1]["action"] == "allow"
    cfg = make_config()
    store = Store(cfg.redis, cfg.redis.url)
    try:
        act = InboundActions(cfg, store)
        out_b = await act.apply(Verdict("bounce", recipients=(
            {"address": "seed@example.org", "class": "hard", "action": "failed"},
            {"address": "other@example.org", "class": "hard", "action": "failed"}),
            message_id="<dsn-1@mx>"))
        assert out_b.suppressed == ["other@example.org hard_bounce global"]
        assert any("allow-list" in n for n in out_b.notes)
        await store.record_refusals([], None, [SuppressionRecord(
            "seed@example.org", "global", "hard_bounce", "downstream-rcpt", 1.0)])
        assert not sync_redis.exists("cs:supp:seed@example.org")
        # An objection from the seed's owner still counts.
        await store.add_suppression(SuppressionRecord(
            "seed@example.org", "global", "unsubscribe", "one-click", 2.0), actor="t")
        assert json.loads(sync_redis.hget("cs:supp:seed@example.org", "global"))[
            "reason"] == "unsubscribe"
    finally:
        await store.close()
    f = tmp_path / "b.jsonl"
    f.write_text(json.dumps({"address": "seed@example.org", "reason": "soft_bounce"}) + "\n"
                 + json.dumps({"address": "dead@example.org", "reason": "hard_bounce"}) + "\n")
    rc, out, _ = await run("suppress", "import", str(f))
    assert rc == 0 and "1 written, 1 unchanged" in out
    assert "global|soft_bounce" not in sync_redis.hgetall("cs:supp:seed@example.org")
    rc, out, _ = await run("allow", "list")
    assert out.split() == ["seed@example.org"]
    assert (await run("allow", "remove", "seed@example.org", "--reason", "probe ended"))[0] == 0
    assert sync_redis.smembers("cs:allow") == set()
    assert sync_redis.xrange("cs:audit")[-1][1]["action"] == "disallow"


async def test_domain_entry_expires_is_exported_and_imports_back(
        run: Any, make_config: Any, sync_redis: Any, tmp_path: Path) -> None:
    """`*@domain --expires`: indexed for the expiry job, suppresses until then (not after),
    removed and audited (expire_domain) when due; `suppress export` carries domain
    entries with their expiry, and the export imports back as domain entries."""
    rc, out, err = await run("suppress", "add", "*@Pause.example", "--reason", "admin",
                             "--list", "news", "--at", "2026-01-01T00:00:00",
                             "--expires", "2026-03-01T00:00:00")
    assert rc == 0 and "until 2026-03-01T00:00:00" in out, err
    rc, _, _ = await run("suppress", "add", "*@forever.example", "--reason", "competitor")
    assert rc == 0
    rc, _, err = await run("suppress", "add", "*@x.example", "--reason", "admin",
                           "--at", "2026-02-01T00:00:00", "--expires", "2026-01-01T00:00:00")
    assert rc == 2 and "--expires" in err
    t_exp = 1772323200.0  # 2026-03-01T00:00:00Z
    rec = json.loads(sync_redis.hget("cs:suppd:pause.example", "list:news"))
    assert rec["expires_at"] == t_exp
    assert sync_redis.zrange("cs:suppexp", 0, -1, withscores=True) == [
        ("*@pause.example\tlist:news\tadmin", t_exp)]
    entry = sync_redis.xrange("cs:audit")[0][1]
    assert (entry["action"], entry["domain"], entry["expires_at"]) == (
        "suppress_domain", "pause.example", f"{t_exp:.6f}")
    # Suppresses before expiry, not after (the policy reads expires_at).
    rc, out, _ = await run("check", "a@pause.example", "--list", "news", "--json", "--at",
                           "2026-02-01T00:00:00")
    assert rc == 1 and json.loads(out)["rule"] == "domain"
    rc, out, _ = await run("check", "a@pause.example", "--list", "news", "--json", "--at",
                           "2026-03-02T00:00:00")
    assert json.loads(out)["rule"] != "domain"  # past expires_at: no longer suppressing

    # Export: both domain entries, with the expiry, beside the address entries.
    assert (await run("suppress", "add", "anna@example.org", "--reason", "unsubscribe"))[0] == 0
    export = tmp_path / "export.jsonl"
    rc, _, _ = await run("suppress", "export", "-o", str(export))
    assert rc == 0
    rows = {r["address"]: r for r in map(json.loads, export.read_text().splitlines())}
    assert set(rows) == {"*@pause.example", "*@forever.example", "anna@example.org"}
    assert rows["*@pause.example"]["expires_at"].startswith("2026-03-01T00:00:00")
    assert rows["*@pause.example"]["scope"] == "list:news"
    csv_export = tmp_path / "export.csv"
    rc, _, _ = await run("suppress", "export", "--format", "csv", "-o", str(csv_export))
    assert rc == 0 and "*@pause.example,list:news,admin" in csv_export.read_text()
    # Re-import over the same data: nothing changes, nothing is audited twice.
    audited = sync_redis.xlen("cs:audit")
    rc, out, _ = await run("suppress", "import", str(export))
    assert rc == 0 and "0 written, 3 unchanged" in out, out
    assert sync_redis.xlen("cs:audit") == audited
    # Into an empty store: the domain entries come back as domain entries, audited so.
    for k in ("cs:suppd:pause.example", "cs:suppd:forever.example", "cs:supp:anna@example.org",
              "cs:suppexp"):
        sync_redis.delete(k)
    rc, out, _ = await run("suppress", "import", str(csv_export))
    assert rc == 0 and "3 written" in out, out
    assert json.loads(sync_redis.hget("cs:suppd:pause.example", "list:news")) == rec
    assert sync_redis.hget("cs:suppd:forever.example", "global")
    assert not sync_redis.keys("cs:supp:\\**")  # never a literal "*@domain" address key
    assert sync_redis.zrange("cs:suppexp", 0, -1) == ["*@pause.example\tlist:news\tadmin"]
    imported = [e for _sid, e in sync_redis.xrange("cs:audit")][audited:]
    assert sorted((e["action"], e.get("domain", e.get("address"))) for e in imported) == [
        ("suppress", "anna@example.org"), ("suppress_domain", "forever.example"),
        ("suppress_domain", "pause.example")]

    # Due: the expiry job removes it and audits expire_domain; the other entry stays.
    cfg = make_config()
    store = Store(cfg.redis, cfg.redis.url)
    try:
        assert await store.expire_due(t_exp - 1) == 0
        assert await store.expire_due(t_exp + 1) == 1
    finally:
        await store.close()
    assert not sync_redis.exists("cs:suppd:pause.example")
    assert sync_redis.hget("cs:suppd:forever.example", "global")
    assert sync_redis.zcard("cs:suppexp") == 0
    last = sync_redis.xrange("cs:audit")[-1][1]
    assert (last["action"], last["domain"], last["scope"], last["reason"]) == (
        "expire_domain", "pause.example", "list:news", "admin")
    assert json.loads(last["record"])["expires_at"] == t_exp
    assert "address" not in last
