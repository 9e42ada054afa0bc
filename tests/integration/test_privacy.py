"""Privacy mode: suppressions stored and looked up under HMAC(secret, address), audit
entries naming the hash; clear-text keys still read (fail safe); `consentry erase` leaves
the address suppressed while its clear text is gone from Redis and from the files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from consentry import audit, cli, logs
from consentry.keys import Keys
from consentry.privacy import hash_key, is_hashed

from ..helpers.client import message, send

SECRET = "correct horse battery staple"  # noqa: S105 - a test HMAC key
PRIVACY = {"hash_suppressions": True, "secret": SECRET}


def test_hash_is_keyed_stable_and_idempotent() -> None:
    h = hash_key(SECRET.encode(), "anna@example.org")
    assert h == hash_key(SECRET.encode(), "anna@example.org") and is_hashed(h)
    assert h != hash_key(b"another secret 123", "anna@example.org")
    assert hash_key(SECRET.encode(), h) == h and "@" not in h
    assert Keys("cs:", SECRET.encode()).suppression("anna@example.org") == f"cs:supp:{h}"


def redis_dump(r: Any) -> str:
    """Every key and value in Redis as one text (to look for clear text)."""
    out: list[str] = []
    for k in r.scan_iter(count=1000):
        t = r.type(k)
        v: Any
        if t == "string":
            v = r.get(k)
        elif t == "hash":
            v = r.hgetall(k)
        elif t == "set":
            v = sorted(r.smembers(k))
        elif t == "zset":
            v = r.zrange(k, 0, -1)
        elif t == "list":
            v = r.lrange(k, 0, -1)
        else:
            v = r.xrange(k)
        out.append(f"{k} {v}")
    return "\n".join(out)


def files_text(*roots: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for root in roots
                     for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file())


async def test_erase_keeps_the_objection_and_removes_the_clear_text(
        make_config: Any, sink: Any, start_app: Any, sync_redis: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config(sink, privacy=PRIVACY, policy={"require_basis": False})
    conf = tmp_path / "cli.yaml"
    conf.write_text(f"server: {{state_dir: '{cfg.server.state_dir}'}}\n"
                    f"redis: {{embedded: false, deadline_ms: 2000, url: '{cfg.redis.url}'}}\n"
                    f"log: {{decision_log: '{tmp_path / 'decisions.jsonl'}'}}\n"
                    f"outbox: {{dir: '{tmp_path / 'outbox'}'}}\n"
                    f"privacy: {{hash_suppressions: true, secret: '{SECRET}'}}\n")

    async def run(*argv: str) -> tuple[int, str, str]:
        rc = await asyncio.to_thread(cli.main, ["-c", str(conf), *argv])
        logs.setup(cfg.log, cfg.base_dir)  # the CLI pointed structlog at capsys's stderr
        out, err = capsys.readouterr()
        return rc, out, err

    running = await start_app(cfg)
    links = tmp_path / "links.jsonl"
    links.write_text("".join(json.dumps({"link": {"person": "p1", "address": a}}) + "\n"
                             for a in ("anna@example.org", "anna@work.example",
                                       "anna@home.example")))
    assert (await run("consent", "import", str(links)))[0] == 0
    assert (await run("suppress", "add", "Anna@Example.org", "--reason", "unsubscribe",
                      "--source", "one-click"))[0] == 0
    h = hash_key(SECRET.encode(), "anna@example.org")
    assert sync_redis.hget(f"cs:supp:{h}", "global") is not None
    assert not sync_redis.exists("cs:supp:anna@example.org")
    assert sync_redis.xrange("cs:audit")[-1][1]["address"] == h
    # A clear-text key written by a tool without the secret still suppresses.
    sync_redis.hset("cs:supp:carol@example.org", "global", json.dumps(
        {"reason": "unsubscribe", "source": "crm", "at": 1.0}))

    code, _, _ = await send(running.port, ["anna+news@example.org", "carol@example.org",
                                           "bob@example.org"],
                            message(msgid="<p-1@sender.example>",
                                    headers={"X-Campaign-Id": "p"}))
    assert code == 250 and sink.delivered_to() == ["bob@example.org"]
    by = {d["key"]: d for d in running.decisions()}
    assert by["anna@example.org"]["rule"] == "objection"
    assert by["carol@example.org"]["rule"] == "objection"
    assert "anna@example.org" in redis_dump(sync_redis)  # send records, consent, ...

    rc, out, _ = await run("erase", "ANNA@example.org", "--reason", "ticket 4711")
    assert rc == 0 and f"now known only as {h}" in out
    # Still suppressed: the hashed objection stays and every lookup hashes.
    rc, out, _ = await run("check", "anna@example.org", "--json")
    assert rc == 1 and json.loads(out)["rule"] == "objection"
    # The clear text is gone from Redis ...
    dump = redis_dump(sync_redis).lower()
    assert "anna@example.org" not in dump and "anna+news@example.org" not in dump
    assert h in dump
    assert "anna@work.example" in dump  # the person's other addresses are not erased
    linked = json.loads(sync_redis.hget("cs:addr:anna@work.example", "linked"))
    assert linked == ["anna@home.example"]
    (sid,) = sync_redis.zrange("cs:sends:camp:p", 0, -1)
    rec = json.loads(sync_redis.get(f"cs:send:{sid}"))
    assert {r["k"] for r in rec["recipients"]} == {h, "carol@example.org", "bob@example.org"}
    # ... and from the files (decision log, audit file, spools, outbox).
    state = Path(cfg.server.state_dir)
    text = files_text(tmp_path / "decisions.jsonl", state, tmp_path / "outbox").lower()
    assert "anna@example.org" not in text and "anna+news@example.org" not in text
    assert "bob@example.org" in text  # others untouched
    for line in (tmp_path / "decisions.jsonl").read_text().splitlines():
        json.loads(line)  # still one valid JSON object per line
    erase_entry = sync_redis.xrange("cs:audit")[-1][1]
    assert (erase_entry["action"], erase_entry["address"], erase_entry["reason"]) == (
        "erase", h, "ticket 4711")
    assert audit.verify_file(state / "audit.jsonl").broken is None
    # The audit history is still there, under the hash.
    rc, out, _ = await run("audit", "show", "anna@example.org", "--json")
    assert [json.loads(x)["action"] for x in out.splitlines()][-2:] == ["suppress", "erase"]


async def test_erase_refused_without_privacy_mode(tmp_path: Path, redis_url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text(f"server: {{state_dir: '{tmp_path}'}}\n"
                    f"redis: {{embedded: false, deadline_ms: 2000, url: '{redis_url}'}}\n")
    rc = await asyncio.to_thread(cli.main, ["-c", str(conf), "erase", "a@example.org"])
    structlog.reset_defaults()
    assert rc == 2 and "privacy mode" in capsys.readouterr().err


async def test_privacy_lift_removes_hashed_and_clear_entries(
        tmp_path: Path, redis_url: str, sync_redis: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    sync_redis.set("cs:epoch", "1")
    conf = tmp_path / "c.yaml"
    conf.write_text(f"server: {{state_dir: '{tmp_path}'}}\n"
                    f"redis: {{embedded: false, deadline_ms: 2000, url: '{redis_url}'}}\n"
                    f"privacy: {{hash_suppressions: true, secret: '{SECRET}'}}\n")
    sync_redis.hset("cs:supp:dora@example.org", "global", json.dumps(
        {"reason": "unsubscribe", "source": "crm", "at": 1.0}))
    rc = await asyncio.to_thread(cli.main, ["-c", str(conf), "suppress", "add",
                                            "dora@example.org", "--reason", "complaint"])
    assert rc == 0
    rc = await asyncio.to_thread(cli.main, ["-c", str(conf), "suppress", "remove",
                                            "dora@example.org", "--reason", "her request"])
    structlog.reset_defaults()
    assert rc == 0 and "removed 2 suppression(s)" in capsys.readouterr().out
    assert not sync_redis.exists("cs:supp:dora@example.org")
    assert not sync_redis.exists(f"cs:supp:{hash_key(SECRET.encode(), 'dora@example.org')}")
