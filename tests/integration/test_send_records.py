"""Send records: one per message with every recipient's verdict and rule and the content
hash as relayed, indexed by campaign, recipient and Message-ID with the retention TTL;
queryable with `consentry sends`; a write failure after the downstream accepted is
spooled (the client still gets 250) and replayed; replies match them by In-Reply-To."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from consentry import cli
from consentry.config import Config
from consentry.inbound.classify import Verdict
from consentry.inbound_apply import InboundActions
from consentry.keys import Keys
from consentry.store import Store

from ..helpers.client import message, send
from ..helpers.waits import wait_until


def cli_config(tmp_path: Path, cfg: Config) -> Path:
    p = tmp_path / "cli.yaml"
    p.write_text(f"server: {{state_dir: '{cfg.server.state_dir}'}}\n"
                 f"redis: {{embedded: false, deadline_ms: 2000, url: '{cfg.redis.url}'}}\n")
    return p


async def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    rc = await asyncio.to_thread(cli.main, list(argv))
    # The CLI points structlog at capsys's stderr; the app in this test logs on after.
    structlog.reset_defaults()
    return rc, capsys.readouterr().out


def objection(sync_redis: Any, key: str) -> None:
    sync_redis.hset(f"cs:supp:{key}", "global", json.dumps(
        {"reason": "unsubscribe", "source": "one-click", "at": 1.0}))


async def test_one_record_per_message_with_every_recipient(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(sink, policy={"require_basis": False}, sends={"retention_days": 30})
    running = await start_app(cfg)
    objection(sync_redis, "gone@example.org")
    code, _, _ = await send(running.port, ["Anna@Example.org", "gone@example.org",
                                           "bob@example.org"],
                            message(msgid="<spring-1@sender.example>", headers={
                                "X-Campaign-Id": "spring", "X-Consent-List": "news",
                                "X-Consent-Category": "shoes"}))
    assert code == 250
    (sid,) = sync_redis.zrange("cs:sends:camp:spring", 0, -1)
    rec = json.loads(sync_redis.get(f"cs:send:{sid}"))
    assert (rec["outcome"], rec["campaign"], rec["list"], rec["category"], rec["class"]) == (
        "relayed", "spring", "news", "shoes", "marketing")
    assert rec["message_id"] == "<spring-1@sender.example>"
    by = {r["k"]: r for r in rec["recipients"]}
    assert (by["anna@example.org"]["v"], by["gone@example.org"]["v"]) == ("allow", "suppress")
    assert by["gone@example.org"]["rule"] == "objection"
    assert by["bob@example.org"]["reply"].startswith("250")
    # Marketing leaves as one copy per recipient (own List-Unsubscribe): each copy's hash
    # is the hash of the bytes the sink received for that recipient.
    got = {m.rcpts[0]: m.sha256 for m in sink.received}
    assert by["anna@example.org"]["sha256"] == got["Anna@Example.org"]
    assert by["bob@example.org"]["sha256"] == got["bob@example.org"]
    assert "sha256" not in by["gone@example.org"] and len(rec["sha256"]) == 64
    ttl = sync_redis.ttl(f"cs:send:{sid}")
    assert 29 * 86400 < ttl <= 30 * 86400
    mid_key = Keys().sends_by_message_id("<spring-1@sender.example>")
    for key in ("cs:sends:camp:spring", "cs:sends:rcpt:anna@example.org",
                "cs:sends:rcpt:gone@example.org", mid_key):
        assert sync_redis.zscore(key, sid) is not None and sync_redis.ttl(key) > 29 * 86400
    # The same round trip counted the decisions for `consentry stats`.
    (hour,) = sync_redis.keys("cs:stats:h:*")
    h = sync_redis.hgetall(hour)
    assert (h["msg"], h["rcpt"], h["v:allow"], h["v:suppress"], h["r:objection"]) == (
        "1", "3", "2", "1", "1")
    assert sync_redis.hget("cs:stats:camp:spring", "sent") == "2"

    conf = str(cli_config(tmp_path, cfg))
    rc, out = await run_cli(capsys, "-c", conf, "sends", "--campaign", "spring")
    assert rc == 0 and "relayed" in out and "<spring-1@sender.example>" in out
    assert "suppress objection" in " ".join(out.split()) and "1 send record(s)" in out
    rc, out = await run_cli(capsys, "-c", conf, "sends", "--recipient", "GONE@example.org")
    assert rc == 0 and "gone@example.org" in out and "bob@example.org" not in out
    rc, out = await run_cli(capsys, "-c", conf, "sends", "--message-id",
                            "spring-1@sender.example", "--json")
    assert rc == 0 and json.loads(out)["id"] == sid
    rc, out = await run_cli(capsys, "-c", conf, "sends", "--campaign", "autumn")
    assert rc == 1 and "0 send record(s)" in out


async def test_all_suppressed_message_is_recorded_too(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    running = await start_app(make_config(sink, policy={"require_basis": False}))
    objection(sync_redis, "gone@example.org")
    code, _, _ = await send(running.port, ["gone@example.org"],
                            message(headers={"X-Campaign-Id": "c2"}))
    assert code == 250 and not sink.received
    (sid,) = sync_redis.zrange("cs:sends:camp:c2", 0, -1)
    rec = json.loads(sync_redis.get(f"cs:send:{sid}"))
    assert rec["outcome"] == "suppressed" and rec["recipients"][0]["v"] == "suppress"
    assert sync_redis.hget("cs:stats:camp:c2", "sent") is None


async def test_record_write_failure_after_acceptance_is_spooled_not_4xx(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    # Only the send record's SET is refused (ACL): the lookup and delivery work.
    sync_redis.execute_command("ACL", "SETUSER", "default", "-set")
    try:
        code, _, _ = await send(running.port, ["a@example.org"], message(headers={
            "X-Consent-Class": "transactional", "X-Campaign-Id": "c3"}))
    finally:
        sync_redis.execute_command("ACL", "SETUSER", "default", "+set")
    assert code == 250 and sink.delivered_to() == ["a@example.org"]
    spool = Path(cfg.server.state_dir) / "spool" / "sends.jsonl"
    assert json.loads(spool.read_text())["campaign"] == "c3"
    assert not sync_redis.exists("cs:sends:camp:c3")  # all or nothing: no half record
    # The next successful write replays the spool.
    code, _, _ = await send(running.port, ["b@example.org"], message(
        msgid="<t-2@sender.example>", headers={"X-Consent-Class": "transactional",
                                               "X-Campaign-Id": "c3"}))
    assert code == 250
    await wait_until(lambda: sync_redis.zcard("cs:sends:camp:c3") == 2,
                     what="spooled send record replayed")
    assert not spool.exists()
    assert sync_redis.hget("cs:stats:camp:c3", "sent") == "2"  # counted once each


async def test_reply_from_another_address_matched_by_in_reply_to(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    code, _, _ = await send(running.port, ["anna@example.org"],
                            message(msgid="<news-9@sender.example>"))
    assert code == 250
    store = Store(cfg.redis, cfg.redis.url)
    try:
        v = Verdict("unsubscribe", sender="anna.private@elsewhere.example",
                    message_id="<reply-1@elsewhere.example>",
                    reply_to_ids=("<older@sender.example>", "<news-9@sender.example>"))
        out = await InboundActions(cfg, store).apply(v)
    finally:
        await store.close()
    assert out.suppressed == ["anna@example.org objection global"]
    assert "In-Reply-To" in out.notes[0]
    assert not sync_redis.exists("cs:supp:anna.private@elsewhere.example")


async def test_an_objection_naming_the_address_replied_to_suppresses_that_address(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    """Hannah's mailbox forwards to a colleague, who replies to our newsletter (In-Reply-To
    names it) asking to remove hannah@: the send record confirms the newsletter went to
    her, so her address is suppressed and the colleague's is not; naming an address the
    message did not go to suppresses nobody."""
    from consentry.inbound.classify import classify

    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    code, _, _ = await send(running.port, ["hannah@brightpath.example"],
                            message(msgid="<news-10@sender.example>"))
    assert code == 250

    def reply(named: str) -> bytes:
        return ("From: Marcus <support@brightpath.example>\r\nTo: news@sender.example\r\n"
                "Subject: Re: News\r\nMessage-ID: <r-10@brightpath.example>\r\n"
                "In-Reply-To: <news-10@sender.example>\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                f"Hannah has left us. Please remove {named} from your mailing list.\r\n"
                "\r\nOn Tue, 3 Feb 2026, News <news@sender.example> wrote:\r\n> Hi.\r\n"
                ).encode()

    store = Store(cfg.redis, cfg.redis.url)
    try:
        acts = InboundActions(cfg, store)
        other = classify(reply("h.old@brightpath.example"))
        assert other.kind == "reply" and other.review and not other.suppress
        none = await acts.apply(other)
        v = classify(reply("hannah@brightpath.example"))
        assert v.kind == "reply" and v.review and not v.suppress, v.evidence
        out = await acts.apply(v)
    finally:
        await store.close()
    assert none.suppressed == [] and "left to a human" in none.notes[0]
    assert out.suppressed == ["hannah@brightpath.example objection global"]
    assert "In-Reply-To" in out.notes[0]
    assert not sync_redis.exists("cs:supp:support@brightpath.example")
    assert not sync_redis.exists("cs:supp:h.old@brightpath.example")


def _write(i: int, campaign: str) -> Any:
    from consentry.sends import SendWrite, new_send_id

    at = 1_800_000_000.0 + i
    return SendWrite(key_id=new_send_id(at), raw=json.dumps({"i": i}), at=at, ttl=86400,
                     campaign=campaign, message_id=f"<m{i}@sender.example>",
                     recipient_keys=(f"r{i}@example.org", "shared@example.org"),
                     counters={"msg": 1, "rcpt": 2, "v:allow": 2}, campaign_sent=2,
                     stats_ttl=86400)


async def test_records_finishing_together_share_one_multi_and_all_land(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    """Group commit: 50 records handed over at once go out in one MULTI/EXEC (the first
    at once, the rest together behind it, or all together), every record, index entry
    and counter lands exactly once, and every caller returns only after its write."""
    running = await start_app(make_config(sink, policy={"require_basis": False}))
    rec = running.app.relay.sends
    writes = [_write(i, "gc") for i in range(50)]

    def multis() -> int:
        st = sync_redis.info("commandstats").get("cmdstat_multi", {})
        return int(st.get("calls", 0))

    before = multis()
    results = await asyncio.gather(*(rec.record(w) for w in writes))
    assert results == [True] * 50
    assert multis() - before <= 2
    assert sync_redis.zcard("cs:sends:camp:gc") == 50
    assert sync_redis.zcard("cs:sends:rcpt:shared@example.org") == 50
    assert all(sync_redis.get(f"cs:send:{w.key_id}") == w.raw for w in writes)
    (hour,) = sync_redis.keys("cs:stats:h:*")
    assert sync_redis.hgetall(hour) == {"msg": "50", "rcpt": "100", "v:allow": "100"}
    assert sync_redis.hget("cs:stats:camp:gc", "sent") == "100"
    assert 0 < sync_redis.ttl("cs:sends:rcpt:r7@example.org") <= 86400


async def test_a_refused_batch_spools_every_record_of_it_and_replays_each_once(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    rec = running.app.relay.sends
    sync_redis.execute_command("ACL", "SETUSER", "default", "-set")
    try:
        results = await asyncio.gather(*(rec.record(_write(i, "gc2")) for i in range(20)))
    finally:
        sync_redis.execute_command("ACL", "SETUSER", "default", "+set")
    assert results == [False] * 20
    assert not sync_redis.exists("cs:sends:camp:gc2")  # all or nothing
    spool = Path(cfg.server.state_dir) / "spool" / "sends.jsonl"
    assert len(spool.read_text().splitlines()) == 20
    assert await rec.replay() == 20
    assert sync_redis.zcard("cs:sends:camp:gc2") == 20
    assert sync_redis.hget("cs:stats:camp:gc2", "sent") == "40"  # counted once each


async def test_records_a_crashed_replay_had_claimed_are_written_by_the_next_one(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any) -> None:
    """A replay claims the spool by renaming it to its work file; a crash before it
    finished leaves only that file. The next message's successful write replays it."""
    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    rec = running.app.relay.sends
    sync_redis.execute_command("ACL", "SETUSER", "default", "-set")
    try:
        assert await rec.record(_write(1, "gc3")) is False
    finally:
        sync_redis.execute_command("ACL", "SETUSER", "default", "+set")
    spool = Path(cfg.server.state_dir) / "spool" / "sends.jsonl"
    work = spool.with_suffix(".replaying")
    spool.replace(work)  # claimed, then the process died
    assert await rec.record(_write(2, "gc4")) is True
    await wait_until(lambda: sync_redis.zcard("cs:sends:camp:gc3") == 1, within=10,
                     what="the claimed record replayed")
    assert not work.exists() and not spool.exists()
