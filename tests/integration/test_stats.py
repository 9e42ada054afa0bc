"""`consentry stats`: decisions per verdict/rule/class from the hourly counters the relay
keeps, suppression changes per reason/source from the audit stream, backlogs, inbound
kinds, complaint and hard-bounce rates."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from consentry import cli
from consentry.store import Store, SuppressionRecord

from ..helpers.client import message, send


async def test_stats_over_a_window(make_config: Any, sink: Any, start_app: Any,
                                   sync_redis: Any, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(sink, policy={"require_basis": False})
    running = await start_app(cfg)
    store = Store(cfg.redis, cfg.redis.url)
    try:
        await store.add_suppression(SuppressionRecord(
            "gone@example.org", "global", "unsubscribe", "one-click", 1.0), actor="t")
        await store.add_suppression(SuppressionRecord(
            "dead@example.org", "global", "hard_bounce", "bounce", 1.0), actor="t")
        for i in range(2):
            code, _, _ = await send(running.port, ["a@example.org", "gone@example.org",
                                                   "dead@example.org"],
                                    message(msgid=f"<s{i}@x>",
                                            headers={"X-Campaign-Id": "spring"}))
            assert code == 250
        code, _, _ = await send(running.port, ["dead@example.org", "b@example.org"],
                                message(msgid="<t@x>", headers={
                                    "X-Consent-Class": "transactional"}))
        assert code == 250
        await store.count_soft_bounce("soft@example.org", 1e10, 14 * 86400, "<b1@x>")
        await store.record_inbound({"kind": "bounce", "message_id": "<b1@x>"})
        await store.record_inbound({"kind": "autoreply", "message_id": "<b2@x>"})
        await store.record_inbound({"kind": "bounce", "message_id": "<b3@x>"})
        await store.campaign_event("spring", "complaint", 86400)
    finally:
        await store.close()
    conf = tmp_path / "cli.yaml"
    conf.write_text(f"server: {{state_dir: '{cfg.server.state_dir}'}}\n"
                    f"redis: {{embedded: false, deadline_ms: 2000, url: '{cfg.redis.url}'}}\n")
    rc = await asyncio.to_thread(cli.main, ["-c", str(conf), "stats", "--json", "--totals"])
    out = capsys.readouterr().out
    structlog.reset_defaults()
    assert rc == 0
    s = json.loads(out)
    d = s["decisions"]
    assert (d["messages"], d["recipients"], d["relayed"]) == (3, 8, 3)
    assert d["by_verdict"] == {"suppress": 5, "allow": 3}
    assert d["by_rule"]["hard_bounce"] == 3 and d["by_rule"]["objection"] == 2
    assert d["by_class"] == {"marketing": 6, "transactional": 2}
    assert d["by_class_verdict"]["transactional"] == {"suppress": 1, "allow": 1}
    c = s["suppression_changes"]
    assert c["by_reason"] == {"suppress:unsubscribe": 1, "suppress:hard_bounce": 1}
    assert c["by_source"] == {"suppress:one-click": 1, "suppress:bounce": 1}
    assert s["suppressions_stored"]["by_reason"] == {"unsubscribe": 1, "hard_bounce": 1}
    assert s["inbound"]["by_kind"] == {"bounce": 2, "autoreply": 1}
    assert s["backlog"]["soft_bounce_backlog"] == 1 and s["backlog"]["retry_queue"] == 0
    spring = s["campaigns"]["spring"]
    assert (spring["sent"], spring["complaints"]) == (2, 1)
    assert spring["complaint_rate"] == 0.5 and spring["status"] == "over 0.3 %"
    assert s["rates"]["hard_bounce_rate"] == pytest.approx(1 / 3)

    rc = await asyncio.to_thread(cli.main, ["-c", str(conf), "stats", "--window", "6h"])
    text = capsys.readouterr().out
    structlog.reset_defaults()
    assert rc == 0 and "last 6 h" in text and "messages 3   recipients 8" in text
    assert "campaign spring" in text and "over 0.3 %" in text
