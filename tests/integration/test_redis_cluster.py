"""consentry against a real 3-master Redis Cluster (Debian's redis-server, started here):
hash-tagged keys spread over the masters, suppressions and person-wide objections decide
as on one node, the audit stream and the retry queue work, and a master that comes back
empty fails closed (451) for the recipients in its slots only."""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import hashlib
import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
import yaml
from redis.cluster import ClusterNode, RedisCluster

from consentry import config as config_mod
from consentry import headers
from consentry.errors import StoreUnavailable
from consentry.keys import Keys, key_slot
from consentry.privacy import hash_key
from consentry.store import Store, SuppressionRecord

from ..helpers.client import message, send
from ..helpers.daemon import CONSENTRY
from ..helpers.redis_ha import LocalCluster
from ..helpers.sink import Sink, SinkHandler
from ..helpers.waits import wait_until

MARKETING = {"X-Consent-Class": "marketing", "X-Consent-List": "news"}
KEYS = Keys(tagged=True)

# One worker runs the whole module under `pytest -n N --dist loadgroup` (make test), so
# the module's cluster (three redis-servers, ~2 s to form) is started once, not per worker.
pytestmark = pytest.mark.xdist_group("redis-cluster")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = LocalCluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()


@pytest.fixture
def rc(cluster: LocalCluster) -> Iterator[RedisCluster]:
    host, port = cluster.addresses[0].split(":")
    client = RedisCluster(startup_nodes=[ClusterNode(host, int(port))], decode_responses=True)
    for n in cluster.nodes:  # every test starts from an empty cluster
        if n.alive:
            c = n.client()
            c.flushall()
            c.close()
    yield client
    client.close()


def write_config(tmp: Path, cluster: LocalCluster, sink: Sink, **extra: Any) -> Path:
    data: dict[str, Any] = {
        "server": {"hostname": "consentry.test", "state_dir": str(tmp / "var")},
        "submission": {"listen": ["127.0.0.1:0"], "command_timeout": 30},
        "redis": {"embedded": False, "cluster": {"nodes": cluster.addresses},
                  "deadline_ms": 2000},
        "http": {"listen": ["127.0.0.1:0"]},
        "downstream": {"host": "127.0.0.1", "port": sink.port, "connect_timeout": 3,
                       "command_timeout": 5, "data_timeout": 5},
        "policy": {"require_basis": False},
        "log": {"decision_log": str(tmp / "decisions.jsonl"), "format": "json"},
        **extra,
    }
    path = tmp / "consentry.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(path: Path, *args: str) -> str:
    out = subprocess.run([*CONSENTRY, "-c", str(path), *args], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_relay_suppression_linked_objection_and_audit_on_a_cluster(
        tmp_path: Path, cluster: LocalCluster, rc: RedisCluster, sink: Sink,
        start_app: Any) -> None:
    path = write_config(tmp_path, cluster, sink)
    running = await start_app(config_mod.load(path))
    # The daemon created the canary on the fresh store: cs:epoch and one per slot.
    assert rc.get("cs:epoch") is not None
    assert running.app.store.cluster and running.app.store.keys.tagged
    # Every master is asked; the test servers never evict.
    assert await running.app.store.memory_policy() == (0, "noeviction")

    await asyncio.to_thread(cli, path, "suppress", "add", "gone@example.org",
                            "--reason", "unsubscribe", "--source", "admin")
    records = tmp_path / "consent.jsonl"
    records.write_text(
        '{"link": {"person": "cust-1", "address": "maria@work.example"}}\n'
        '{"link": {"person": "cust-1", "address": "maria.private@example.de"}}\n')
    await asyncio.to_thread(cli, path, "consent", "import", str(records))
    await asyncio.to_thread(cli, path, "suppress", "add", "maria.private@example.de",
                            "--reason", "objection", "--source", "reply")

    # The keys are tagged and lie in their addresses' slots, over more than one master.
    gone = KEYS.suppression("gone@example.org")
    assert gone == "cs:supp:{gone@example.org}" and rc.exists(gone)
    assert rc.hget(KEYS.address("maria@work.example"), "person") == "cust-1"
    assert set(rc.smembers(KEYS.person_addresses("cust-1"))) == {
        "maria@work.example", "maria.private@example.de"}
    owners = {cluster.node_for_slot(key_slot(k)).port for k in (
        gone, KEYS.suppression("maria.private@example.de"),
        KEYS.address("maria@work.example"), KEYS.address("maria.private@example.de"),
        KEYS.audit_stream)}
    assert len(owners) >= 2, owners

    rcpts = ["gone@example.org", "ok@example.org", "maria@work.example", "x@example.net"]
    code, text, _ = await send(running.port, rcpts, message(headers=MARKETING))
    assert code == 250, text
    assert sorted(sink.delivered_to()) == ["ok@example.org", "x@example.net"]
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["gone@example.org"]["rule"] == "objection"
    assert rows["maria@work.example"]["rule"] == "objection"  # via the linked address
    assert rows["ok@example.org"]["verdict"] == "allow"

    # Audit stream on its tagged key: both suppressions and both links, in order.
    entries = [f for _id, f in rc.xrange(KEYS.audit_stream)]
    assert KEYS.audit_stream == "cs:{g}:audit"
    assert [(e["action"], e.get("address")) for e in entries
            if e["action"] in ("suppress", "link")] == [
        ("suppress", "gone@example.org"), ("link", "maria@work.example"),
        ("link", "maria.private@example.de"), ("suppress", "maria.private@example.de")]
    # Send records and their per-recipient index (records in many slots: MGET per node).
    out = await asyncio.to_thread(cli, path, "sends", "--recipient", "ok@example.org",
                                  "--json")
    (record,) = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert {r["r"]: r["v"] for r in record["recipients"]} == {
        "gone@example.org": "suppress", "ok@example.org": "allow",
        "maria@work.example": "suppress", "x@example.net": "allow"}, record
    # RFC 8058 one-click from the delivered copy: its token reference (written in the
    # lookup round trip, in its own slot) resolves, the objection lands in ok's slot.
    copy = next(m.content for m in sink.received if m.rcpts == ["ok@example.org"])
    parsed = email.message_from_bytes(copy, policy=email.policy.compat32)
    url = headers.parse_uris(" ".join(parsed.get_all("List-Unsubscribe") or []))[0]
    async with aiohttp.ClientSession() as http, http.post(
            url, data={"List-Unsubscribe": "One-Click"}, allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
    assert list(rc.hgetall(KEYS.suppression("ok@example.org"))) == ["list:news"]
    # Lifting goes through the same per-slot path and is audited.
    await asyncio.to_thread(cli, path, "suppress", "remove", "gone@example.org",
                            "--reason", "asked again")
    assert not rc.exists(gone)
    assert rc.xrevrange(KEYS.audit_stream, count=1)[0][1]["action"] == "unsuppress"
    listed = await asyncio.to_thread(cli, path, "suppress", "list", "--json")
    assert "maria.private@example.de" in listed and "gone@example.org" not in listed


async def test_retry_queue_on_a_cluster(tmp_path: Path, cluster: LocalCluster,
                                        rc: RedisCluster, sink: Sink, start_app: Any,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    orig = SinkHandler.handle_DATA
    pending = ["451 4.3.0 busy, try later"]

    async def handle_DATA(self: SinkHandler, server: Any, session: Any, envelope: Any) -> str:
        if envelope.rcpt_tos == ["b@example.org"] and pending:
            return pending.pop(0)
        return await orig(self, server, session, envelope)

    monkeypatch.setattr(SinkHandler, "handle_DATA", handle_DATA)
    path = write_config(tmp_path, cluster, sink, retry={
        "initial_delay": 0.5, "max_delay": 0.5, "poll_interval": 0.1})
    running = await start_app(config_mod.load(path))
    rcpts = ["a@example.org", "b@example.org", "c@example.org"]
    code, text, _ = await send(running.port, rcpts, message(headers=MARKETING))
    assert code == 250, text
    assert sorted(sink.delivered_to()) == ["a@example.org", "c@example.org"]
    await wait_until(lambda: "b@example.org" in sink.delivered_to(), within=15,
                     what="retry of b's copy")
    await wait_until(lambda: rc.zcard(KEYS.retry_due) == 0, within=5, what="job finished")
    assert sorted(sink.delivered_to()) == rcpts  # each exactly once
    assert KEYS.retry_due == "cs:{g}:retry:due"


async def test_master_back_empty_fails_closed_for_its_slots_only(
        tmp_path: Path, cluster: LocalCluster, rc: RedisCluster, sink: Sink,
        start_app: Any) -> None:
    path = write_config(tmp_path, cluster, sink)
    running = await start_app(config_mod.load(path))
    # Two recipients whose keys lie on different masters.
    by_node: dict[int, str] = {}
    for i in range(200):
        a = f"user{i}@example.org"
        by_node.setdefault(cluster.node_for_slot(key_slot(KEYS.address(a))).port, a)
    victim_port, victim = next(iter(by_node.items()))
    other = next(a for p, a in by_node.items() if p != victim_port)
    assert await running.app.store.add_suppression(SuppressionRecord(
        victim, "global", "unsubscribe", "admin", time.time()), "test")
    node = next(n for n in cluster.nodes if n.port == victim_port)
    c: redis.Redis = node.client()
    try:
        c.flushall()  # that master lost its data (e.g. restarted without persistence)
    finally:
        c.close()
    code, text, _ = await send(running.port, [victim], message(headers=MARKETING))
    assert code == 451, text  # its slot's canary is gone: the objection may be too
    code, text, _ = await send(running.port, [other], message(headers=MARKETING))
    assert code == 250, text  # a healthy master's recipients still flow
    assert sink.delivered_to() == [other]
    # `consentry init --force` (after restoring the data) re-creates the missing canaries.
    await asyncio.to_thread(cli, path, "init", "--force")
    assert await running.app.store.missing_slot_canaries() == 0


async def test_slot_moved_under_a_running_relay_is_followed(
        tmp_path: Path, cluster: LocalCluster, rc: RedisCluster, sink: Sink,
        start_app: Any) -> None:
    path = write_config(tmp_path, cluster, sink)
    running = await start_app(config_mod.load(path))
    victim = "moved@example.org"
    assert await running.app.store.add_suppression(SuppressionRecord(
        victim, "global", "unsubscribe", "admin", time.time()), "test")
    code, _, _ = await send(running.port, [victim, "a@example.org"], message(headers=MARKETING))
    assert code == 250 and sink.delivered_to() == ["a@example.org"]
    # Reshard the victim's slot (its suppression and its slot canary go with it) while
    # the relay still holds the old slot map: MOVED, map refreshed, same decision.
    slot = key_slot(KEYS.suppression(victim))
    before = cluster.node_for_slot(slot)
    target = next(n for n in cluster.nodes if n is not before)
    await asyncio.to_thread(cluster.move_slot, slot, target)
    assert cluster.node_for_slot(slot) is target
    c = target.client()
    try:
        assert c.exists(KEYS.suppression(victim)) and c.exists(KEYS.slot_canary(slot))
    finally:
        c.close()
    for i in range(3):
        code, text, _ = await send(running.port, [victim, f"b{i}@example.org"],
                                   message(headers=MARKETING))
        assert code == 250, text
    assert sorted(sink.delivered_to()) == ["a@example.org", "b0@example.org",
                                           "b1@example.org", "b2@example.org"]
    assert victim not in sink.delivered_to()


async def test_suppression_import_on_a_cluster_is_per_slot_atomic_and_idempotent(
        tmp_path: Path, cluster: LocalCluster, rc: RedisCluster, sink: Sink,
        start_app: Any) -> None:
    path = write_config(tmp_path, cluster, sink)
    running = await start_app(config_mod.load(path))
    names = [hashlib.sha256(str(i).encode()).hexdigest()[:10] for i in range(30)]
    lines = [{"address": f"{n}@example.org", "reason": "unsubscribe", "source": "esp"}
             for n in names]
    lines += [{"address": "dead@example.com", "reason": "hard_bounce"},
              {"address": "*@blocked.example", "reason": "objection"}]
    src = tmp_path / "supp.jsonl"
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    await asyncio.to_thread(cli, path, "suppress", "import", str(src), "--format", "jsonl")
    slots = {cluster.node_for_slot(key_slot(KEYS.suppression(x["address"]))).port
             for x in lines[:30]}
    assert len(slots) == 3  # the batch's MULTIs ran on every master
    entries = rc.xlen(KEYS.audit_stream)
    assert entries == len(lines)
    # Again: nothing changes, no second audit entry.
    await asyncio.to_thread(cli, path, "suppress", "import", str(src), "--format", "jsonl")
    assert rc.xlen(KEYS.audit_stream) == entries
    # The export walks every master (SCAN per primary), domain entry included.
    exported = [json.loads(line) for line in (await asyncio.to_thread(
        cli, path, "suppress", "export")).splitlines() if line.strip()]
    assert sorted(x["address"] for x in exported) == sorted(x["address"] for x in lines)
    rcpts = [f"{names[7]}@example.org", "dead@example.com", "x@blocked.example", "fine@example.org"]
    code, text, _ = await send(running.port, rcpts, message(headers=MARKETING))
    assert code == 250, text
    assert sink.delivered_to() == ["fine@example.org"]


async def test_privacy_mode_and_erase_on_a_cluster(
        tmp_path: Path, cluster: LocalCluster, rc: RedisCluster, sink: Sink,
        start_app: Any) -> None:
    secret = secrets.token_hex(16)
    path = write_config(tmp_path, cluster, sink,
                        privacy={"hash_suppressions": True, "secret": secret})
    running = await start_app(config_mod.load(path))
    links = tmp_path / "links.jsonl"
    links.write_text("".join(json.dumps({"link": {"person": "p1", "address": a}}) + "\n"
                             for a in ("anna@example.org", "anna@work.example",
                                       "anna@home.example")))
    await asyncio.to_thread(cli, path, "consent", "import", str(links))
    assert await running.app.store.add_suppression(SuppressionRecord(
        "anna@example.org", "global", "unsubscribe", "admin", time.time()), "test")
    h = hash_key(secret.encode(), "anna@example.org")
    hashed = Keys(secret=secret.encode(), tagged=True).suppression("anna@example.org")
    assert hashed == f"cs:supp:{{{h}}}" and rc.exists(hashed)
    assert not rc.exists(KEYS.suppression_clear("anna@example.org"))
    code, _, _ = await send(running.port, ["anna+news@example.org", "bob@example.org"],
                            message(headers={**MARKETING, "X-Campaign-Id": "p"}))
    assert code == 250 and sink.delivered_to() == ["bob@example.org"]

    out = await asyncio.to_thread(cli, path, "erase", "anna@example.org", "--reason", "t1")
    assert f"now known only as {h}" in out
    # The clear text gone from its slots (still suppressed under the hash: below).
    assert not rc.exists(KEYS.address("anna@example.org"))
    assert not rc.exists(KEYS.sends_by_recipient("anna@example.org"))
    assert json.loads(rc.hget(KEYS.address("anna@work.example"), "linked")) == [
        "anna@home.example"]
    assert set(rc.smembers(KEYS.person_addresses("p1"))) == {
        "anna@work.example", "anna@home.example"}
    (sid,) = rc.zrange(KEYS.sends_by_campaign("p"), 0, -1)
    record = json.loads(rc.get(f"cs:send:{sid}"))
    assert {r["k"] for r in record["recipients"]} == {h, "bob@example.org"}
    last = rc.xrevrange(KEYS.audit_stream, count=1)[0][1]
    assert (last["action"], last["address"]) == ("erase", h)
    code, text, _ = await send(running.port, ["anna@example.org"], message(headers=MARKETING))
    assert code == 250 and "0 of 1" in text


async def test_per_slot_parts_run_in_the_documented_order(
        tmp_path: Path, cluster: LocalCluster, rc: RedisCluster, sink: Sink) -> None:
    """A user that may not write the shared {g} slot (Redis ACL on every master) makes
    the audit part of each write fail: an addition's change was already committed (the
    caller gets the error and retries), a removal's change was never run (its audit part
    goes first), so nothing is ever lifted unaudited."""
    password = secrets.token_hex(8)
    for n in cluster.nodes:
        c = n.client()
        try:
            c.execute_command("ACL", "SETUSER", "noaudit", "on", f">{password}",
                              "~cs:supp:*", "~cs:epoch*", "+@all")
        finally:
            c.close()
    cfg = config_mod.load(write_config(tmp_path, cluster, sink))
    admin = Store(cfg.redis, "")
    limited = Store(dataclasses.replace(cfg.redis, username="noaudit", password=password), "")
    try:
        await admin.init_epoch()
        assert await admin.add_suppression(SuppressionRecord(
            "kept@example.org", "global", "unsubscribe", "admin", time.time()), "test")
        audit_len = rc.xlen(KEYS.audit_stream)
        with pytest.raises(StoreUnavailable):
            await limited.add_suppression(SuppressionRecord(
                "new@example.org", "global", "unsubscribe", "admin", time.time()), "test")
        assert rc.hget(KEYS.suppression("new@example.org"), "global") is not None
        with pytest.raises(StoreUnavailable):
            await limited.remove_suppression("kept@example.org", None, "asked", "test")
        assert rc.hget(KEYS.suppression("kept@example.org"), "global") is not None
        assert rc.xlen(KEYS.audit_stream) == audit_len  # neither part on {g} ran
    finally:
        await admin.close()
        await limited.close()
        for n in cluster.nodes:
            c = n.client()
            try:
                c.execute_command("ACL", "DELUSER", "noaudit")
            finally:
                c.close()
