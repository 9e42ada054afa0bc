"""`consentry consent import|show`, `suppress import|export`, `doi purge` and `check --json`
through the real CLI entry point against a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from consentry import cli, consent
from consentry import store as store_mod
from consentry.errors import ConfigError, StoreUnavailable

from ..helpers.consentload import ago

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
        ) -> Callable[..., tuple[int, str, str]]:
    cfg = tmp_path / "consentry.yaml"
    cfg.write_text(
        f"server: {{state_dir: {tmp_path / 'var'}}}\n"
        f"redis: {{embedded: false, deadline_ms: 2000, url: '{redis_url}'}}\n"
        "policy:\n  similar_categories: {printer: [ink]}\n")
    r = redis.Redis.from_url(redis_url)
    r.set("cs:epoch", "1")
    r.close()

    def run(*argv: str) -> tuple[int, str, str]:
        rc = cli.main(["-c", str(cfg), *argv])
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def jsonl(*rows: Any) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


GOOD_DOI = {"address": "Anna@Example.org", "person": "c1", "type": "doi",
            "signup_at": "2026-01-01T10:00:00Z", "signup_ip": "192.0.2.1",
            "confirmed_at": "2026-01-01T10:05:00+00:00", "confirm_ip": "192.0.2.1",
            "tracking": True, "lists": ["news"], "source": "web"}


def test_consent_import_reports_bad_lines_and_imports_the_good(
        run: Callable[..., tuple[int, str, str]], tmp_path: Path, sync_redis: Any) -> None:
    f = write(tmp_path, "c.jsonl", jsonl(
        GOOD_DOI,                                                        # 1
        "{not json",                                                     # 2
        {"address": "x@example.org", "type": "maybe"},                   # 3
        "",                                                              # (blank)
        {"address": "no-at-sign", "type": "doi"},                        # 5
        {"link": {"person": "c1", "address": "anna.old@example.net"}},   # 6
        {"purchase": {"person": "c1", "address": "anna@example.org",     # 7
                      "at": "2026-02-01T00:00:00Z", "status": "done", "categories": [],
                      "address_collected": True, "objection_notice": True}},
        {"address": "y@example.org", "type": "doi", "signup_at": "2026-01-02",  # 8
         "confirmed_at": "2026-01-01"},
        {"address": "z@example.org", "type": "coi", "tracking": "yes"},  # 9
        {"address": "z@example.org", "type": "coi", "colour": "red"},    # 10
        {"link": {"person": "has space", "address": "q@example.org"}},   # 11
        {"address": "ip@example.org", "type": "doi", "signup_at": "2026-01-01T00:00:00Z",
         "signup_ip": "999.1.1.1"},                                      # 12
        [1, 2],                                                          # 13
        {"purchase": {"person": "c2", "address": "bob@example.org",      # 14
                      "at": "2026-02-01T00:00:00Z", "status": "completed", "kind": "freemium",
                      "categories": ["printer"], "address_collected": True,
                      "objection_notice": True}},
    ))
    rc, out, err = run("consent", "import", f)
    assert rc == 1
    lines = {int(line.split(":")[1]): line for line in err.splitlines()}
    assert sorted(lines) == [2, 3, 5, 7, 8, 9, 10, 11, 12, 13]
    assert "not valid JSON" in lines[2]
    assert "type: must be one of doi, coi, soi" in lines[3]
    assert "invalid address" in lines[5]
    assert "purchase.status" in lines[7]
    assert "earlier than signup_at" in lines[8]
    assert "tracking: must be true or false" in lines[9]
    assert "unknown field(s) colour" in lines[10]
    assert "person" in lines[11]
    assert "signup_ip" in lines[12]
    assert "JSON object" in lines[13]
    assert "3 valid record(s)" in out and "3 written" in out
    # The good ones are in, keyed by the normalised address.
    h = sync_redis.hgetall("cs:addr:anna@example.org")
    assert h["person"] == "c1"
    assert json.loads(h["linked"]) == ["anna.old@example.net"]
    assert json.loads(h["consent"])["type"] == "doi"
    assert sync_redis.smembers("cs:person:{c1}:addrs") == {"anna@example.org",
                                                           "anna.old@example.net"}
    assert json.loads(sync_redis.hget("cs:addr:anna.old@example.net", "linked")) == [
        "anna@example.org"]
    assert sync_redis.hget("cs:addr:bob@example.org", "person") == "c2"

    # Idempotent: the same file again writes (and audits) nothing.
    audit_len = sync_redis.xlen("cs:audit")
    rc, out, _ = run("consent", "import", f)
    assert rc == 1 and "0 written, 3 unchanged" in out
    assert sync_redis.xlen("cs:audit") == audit_len


def test_consent_changes_are_audited(run: Callable[..., tuple[int, str, str]],
                                     tmp_path: Path, sync_redis: Any) -> None:
    f = write(tmp_path, "c.jsonl", jsonl(
        GOOD_DOI,
        {"purchase": {"id": "o-1", "person": "c1", "address": "anna@example.org",
                      "at": "2026-02-01T00:00:00Z", "status": "completed",
                      "categories": ["printer"], "address_collected": True,
                      "objection_notice": True}},
        {"address": "new@example.org", "type": "doi", "signup_at": ago(1)}))
    assert run("consent", "import", f)[0] == 0
    entries = [e for _, e in sync_redis.xrange("cs:audit")]
    actions = sorted(e["action"] for e in entries)
    assert actions == ["consent", "link", "pending", "purchase"]
    c = next(e for e in entries if e["action"] == "consent")
    assert c["address"] == "anna@example.org" and c["actor"] == "cli"
    assert json.loads(c["record"])["confirm_ip"] == "192.0.2.1"
    assert sync_redis.zscore("cs:doi:pending", "new@example.org") is not None


def test_consent_import_csv_all_three_shapes(run: Callable[..., tuple[int, str, str]],
                                             tmp_path: Path, sync_redis: Any) -> None:
    f = write(tmp_path, "c.csv",
              "record,address,person,type,signup_at,confirmed_at,tracking,lists,id,at,status,"
              "categories,address_collected,objection_notice\n"
              "consent,Eva@Example.org,e1,doi,2026-01-01T00:00:00Z,2026-01-01T00:10:00Z,ja,"
              "news;offers,,,,,,\n"
              "link,eva@work.example,e1,,,,,,,,,,,\n"
              "purchase,eva@work.example,e1,,,,,,o-9,2026-03-01T00:00:00Z,completed,"
              "printer|ink,yes,yes\n"
              "purchase,eva@work.example,e1,,,,,,o-10,2026-03-01T00:00:00Z,completed,"
              "printer,maybe,yes\n"
              "consent,bad address,e1,doi,,,,,,,,,,\n"
              "consent,x@example.org,,soi,,,,,,2026-01-01,,,,\n"
              ",\"multi\nline\"@example.org,,soi,,,,,,,,,,\n"
              ",inferred@example.org,,coi,,,,,,,,,,\n")
    rc, out, err = run("consent", "import", f)
    assert rc == 1
    bad = [int(line.split(":")[1]) for line in err.splitlines()]
    assert bad == [5, 6, 7, 8], err
    assert "address_collected" in err.splitlines()[0]
    assert "not used by a consent record" in err.splitlines()[2]
    assert "4 valid record(s)" in out
    c = json.loads(sync_redis.hget("cs:addr:eva@example.org", "consent"))
    assert c["tracking"] is True and c["lists"] == ["news", "offers"]
    p = json.loads(sync_redis.hget("cs:addr:eva@work.example", "purchase:o-9"))
    assert p["categories"] == ["printer", "ink"] and p["address_collected"] is True
    assert json.loads(sync_redis.hget("cs:addr:inferred@example.org", "consent"))["type"] == \
        "coi"


def test_csv_with_an_unknown_column_imports_nothing(
        run: Callable[..., tuple[int, str, str]], tmp_path: Path, sync_redis: Any) -> None:
    f = write(tmp_path, "c.csv", "address,type,colour\na@example.org,doi,red\n")
    rc, _, err = run("consent", "import", f)
    assert rc == 1 and ":1: CSV header: unknown column(s) colour" in err
    assert sync_redis.keys("cs:addr:*") == []


def test_suppress_import_export_round_trip(run: Callable[..., tuple[int, str, str]],
                                           tmp_path: Path, sync_redis: Any) -> None:
    f = write(tmp_path, "s.jsonl", jsonl(
        {"address": "Gone@Example.org", "reason": "unsubscribe", "source": "esp-export",
         "at": "2025-05-01T12:00:00Z"},
        {"address": "news-only@example.org", "reason": "unsubscribe", "scope": "list:news"},
        {"address": "dead@example.org", "reason": "hard_bounce", "at": 1700000000,
         "evidence": "550 5.1.1 user unknown"},
        {"address": "x@example.org", "reason": "unsubscribe", "scope": "lists:news"},
        {"address": "x@example.org"},
        {"address": "x@example.org", "reason": "unsubscribe", "at": "yesterday"},
    ))
    rc, out, err = run("suppress", "import", f)
    assert rc == 1
    assert [int(x.split(":")[1]) for x in err.splitlines()] == [4, 5, 6]
    assert "scope" in err and "missing field(s) reason" in err and "ISO 8601" in err
    assert "3 written" in out
    assert sync_redis.xlen("cs:audit") == 3
    # No `at` given: a re-import keeps the stored time, so nothing changes.
    rc, out, _ = run("suppress", "import", f)
    assert "0 written, 3 unchanged" in out and sync_redis.xlen("cs:audit") == 3

    for fmt in ("jsonl", "csv"):
        rc, exported, _ = run("suppress", "export", "--format", fmt)
        assert rc == 0
        dump = {k: sync_redis.hgetall(k) for k in sync_redis.keys("cs:supp:*")}
        path = write(tmp_path, f"export.{fmt}", exported)
        for k in dump:
            sync_redis.delete(k)
        rc, out, err = run("suppress", "import", path)
        assert (rc, err) == (0, ""), err
        assert snapshot(sync_redis) == snapshot_of(dump)  # equal to the microsecond
        rc, out, _ = run("suppress", "import", path)
        assert "0 written, 3 unchanged" in out
    rows = [json.loads(x) for x in run("suppress", "export")[1].splitlines()]
    dead = next(r for r in rows if r["address"] == "dead@example.org")
    assert dead["evidence"] == "550 5.1.1 user unknown"
    assert dead["at"] == "2023-11-14T22:13:20Z"


def snapshot_of(dump: dict[str, dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, h in dump.items():
        for scope, raw in h.items():
            d = json.loads(raw)
            d["at"] = round(d["at"], 6)
            out[f"{k} {scope}"] = d
    return out


def snapshot(r: Any) -> dict[str, Any]:
    return snapshot_of({k: r.hgetall(k) for k in r.keys("cs:supp:*")})


def test_check_json_explains_a_linked_objection(run: Callable[..., tuple[int, str, str]],
                                                tmp_path: Path) -> None:
    f = write(tmp_path, "c.jsonl", jsonl(
        {"address": "kim@work.example", "person": "k", "type": "doi",
         "signup_at": "2025-01-01T00:00:00Z", "confirmed_at": "2025-01-01T00:01:00Z"},
        {"link": {"person": "k", "address": "kim@home.example"}}))
    assert run("consent", "import", f)[0] == 0
    assert run("check", "kim@work.example", "--json")[0] == 0
    assert run("suppress", "add", "kim+x@HOME.example", "--reason", "objection",
               "--source", "reply", "--at", "2025-06-01T00:00:00Z")[0] == 0
    rc, out, _ = run("check", "kim@work.example", "--category", "ink", "--list", "news",
                     "--at", "2025-07-01T00:00:00Z", "--json")
    assert rc == 1
    d = json.loads(out)
    assert (d["verdict"], d["rule"], d["tracking"]) == ("suppress", "objection", False)
    assert d["facts"]["suppression"]["address"] == "kim@home.example"
    assert d["facts"]["suppression"]["linked"] is True
    assert d["facts"]["person"] == "k"
    assert d["facts"]["consent"]["type"] == "doi"
    assert any("linked address kim@home.example" in r for r in d["reasons"])
    rc, out, _ = run("check", "kim@work.example", "--category", "ink")
    assert "fact suppression:" in out and "rule:    objection" in out


def test_consent_show(run: Callable[..., tuple[int, str, str]], tmp_path: Path) -> None:
    assert run("consent", "show", "nobody@example.org")[0] == 1
    f = write(tmp_path, "c.jsonl", jsonl(
        GOOD_DOI, {"link": {"person": "c1", "address": "anna.old@example.net"}}))
    run("consent", "import", f)
    run("suppress", "add", "anna.old@example.net", "--reason", "complaint")
    rc, out, _ = run("consent", "show", "ANNA+x@example.org", "--json")
    assert rc == 0
    d = json.loads(out)
    assert d["key"] == "anna@example.org" and d["person"] == "c1"
    assert d["consent"]["confirmed_at"] == "2026-01-01T10:05:00Z"
    assert d["linked"][0]["address"] == "anna.old@example.net"
    assert d["linked"][0]["suppressions"][0]["reason"] == "complaint"
    rc, out, _ = run("consent", "show", "anna@example.org")
    assert "person c1" in out and "linked:      anna.old@example.net" in out


def test_doi_purge(run: Callable[..., tuple[int, str, str]], tmp_path: Path,
                   sync_redis: Any) -> None:
    f = write(tmp_path, "c.jsonl", jsonl(
        {"address": "old@example.org", "type": "doi", "signup_at": ago(30)},
        {"address": "fresh@example.org", "type": "doi", "signup_at": ago(-200)},
        {"address": "confirmed@example.org", "type": "doi", "signup_at": ago(30)},
        {"address": "confirmed@example.org", "type": "doi", "signup_at": ago(30),
         "confirmed_at": ago(29)}))
    run("consent", "import", f)
    # The confirmation took confirmed@ out of the pending index.
    assert sync_redis.zcard("cs:doi:pending") == 2
    rc, out, _ = run("doi", "purge", "--at", ago(0))
    assert rc == 0 and "purged 1" in out and "1 still pending" in out
    assert sync_redis.hget("cs:addr:old@example.org", "pending") is None
    assert sync_redis.hget("cs:addr:fresh@example.org", "pending") is not None
    assert sync_redis.hget("cs:addr:confirmed@example.org", "consent") is not None
    purge = [e for _, e in sync_redis.xrange("cs:audit") if e["action"] == "doi_purge"]
    assert [e["address"] for e in purge] == ["old@example.org"]
    assert run("doi", "purge", "--at", ago(0))[1].startswith("purged 0")


def test_example_file_imports_and_newcomer_is_allowed(
        run: Callable[..., tuple[int, str, str]]) -> None:
    rc, out, err = run("consent", "import", str(ROOT / "examples" / "consent.jsonl"))
    assert (rc, err) == (0, "")
    rc, out, _ = run("check", "newcomer@example.org", "--json")
    d = json.loads(out)
    assert (rc, d["verdict"], d["rule"], d["tracking"]) == (0, "allow", "consent_basis", True)
    assert d["facts"]["consent"]["signup_at"] and d["facts"]["consent"]["confirmed_at"]


def test_missing_file(run: Callable[..., tuple[int, str, str]]) -> None:
    rc, _, err = run("consent", "import", "/nonexistent/file.jsonl")
    assert rc == 2 and "No such file" in err


# -- atomicity and concurrency of batches ----------------------------------------------


def _records(n: int) -> str:
    rows: list[dict[str, Any]] = []
    for i in range(n):
        rows.append({"address": f"u{i}@example.org", "person": f"q{i}", "type": "doi",
                     "signup_at": "2026-01-01T00:00:00Z",
                     "confirmed_at": "2026-01-01T00:01:00Z"})
    return jsonl(*rows)


def test_a_failed_batch_leaves_nothing_half_written(
        run: Callable[..., tuple[int, str, str]], tmp_path: Path, sync_redis: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path, "c.jsonl", _records(6))
    calls = {"n": 0}
    real = store_mod.Store._queue_plan

    def flaky(self: store_mod.Store, tx: Any, plan: consent.WritePlan) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            # Queue half the batch, then die before EXEC (a crash, a lost connection).
            tx.hset("cs:addr:u2@example.org", "consent", "{}")
            raise StoreUnavailable("simulated crash in the middle of a batch")
        real(self, tx, plan)

    monkeypatch.setattr(store_mod.Store, "_queue_plan", flaky)
    rc, _, err = run("consent", "import", "--batch", "2", f)
    assert rc == 3 and "simulated crash" in err
    # Batch 1 complete (consent + person link), batch 2 and 3 not there at all.
    for i in (0, 1):
        h = sync_redis.hgetall(f"cs:addr:u{i}@example.org")
        assert set(h) == {"consent", "person", "linked"}
    for i in (2, 3, 4, 5):
        assert sync_redis.exists(f"cs:addr:u{i}@example.org") == 0
        assert sync_redis.exists(f"cs:person:{{q{i}}}:addrs") == 0
    monkeypatch.setattr(store_mod.Store, "_queue_plan", real)
    rc, out, _ = run("consent", "import", "--batch", "2", f)
    assert rc == 0 and "4 written, 2 unchanged" in out


def test_a_concurrent_link_makes_the_batch_start_over(
        run: Callable[..., tuple[int, str, str]], tmp_path: Path, sync_redis: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    f = write(tmp_path, "c.jsonl", jsonl({"link": {"person": "fam", "address": "a@x.example"}}))
    calls = {"n": 0}
    real = store_mod.plan_consent_batch

    def racing(*args: Any, **kw: Any) -> consent.WritePlan:
        calls["n"] += 1
        if calls["n"] == 1:
            # Another writer links b@ to the same person between our read and our write.
            sync_redis.sadd("cs:person:{fam}:addrs", "b@x.example")
            sync_redis.hset("cs:addr:b@x.example", mapping={"person": "fam", "linked": "[]"})
        return real(*args, **kw)

    monkeypatch.setattr(store_mod, "plan_consent_batch", racing)
    rc, _, _ = run("consent", "import", f)
    assert rc == 0 and calls["n"] == 2
    assert json.loads(sync_redis.hget("cs:addr:a@x.example", "linked")) == ["b@x.example"]
    assert json.loads(sync_redis.hget("cs:addr:b@x.example", "linked")) == ["a@x.example"]


def test_relinking_an_address_moves_it_between_persons(
        run: Callable[..., tuple[int, str, str]], tmp_path: Path, sync_redis: Any) -> None:
    run("consent", "import", write(tmp_path, "a.jsonl", jsonl(
        {"link": {"person": "old", "address": "a@x.example"}},
        {"link": {"person": "old", "address": "b@x.example"}},
        {"link": {"person": "old", "address": "c@x.example"}})))
    run("consent", "import", write(tmp_path, "b.jsonl", jsonl(
        {"link": {"person": "new", "address": "b@x.example"}})))
    assert sync_redis.smembers("cs:person:{old}:addrs") == {"a@x.example", "c@x.example"}
    assert sync_redis.smembers("cs:person:{new}:addrs") == {"b@x.example"}
    assert json.loads(sync_redis.hget("cs:addr:a@x.example", "linked")) == ["c@x.example"]
    assert json.loads(sync_redis.hget("cs:addr:b@x.example", "linked")) == []
    assert sync_redis.hget("cs:addr:b@x.example", "person") == "new"


# -- config ----------------------------------------------------------------------------


def test_policy_config_errors_name_the_key(make_config: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match=r"policy\.accept_doi: unknown key"):
        make_config(policy={"accept_doi": True})
    with pytest.raises(ConfigError, match=r"policy\.similar_categories\.printer: must be a list"):
        make_config(policy={"similar_categories": {"printer": "ink"}})
    with pytest.raises(ConfigError, match=r"policy\.doi_pending_days: must be positive"):
        make_config(policy={"doi_pending_days": 0})
    with pytest.raises(ConfigError, match=r"policy\.role_accounts\[1\]"):
        make_config(policy={"role_accounts": ["info", "x@y"]})


def test_example_config_documents_every_policy_key() -> None:
    text = (ROOT / "config.example.yaml").read_text()
    from consentry.config import PolicyConfig, load

    for name in PolicyConfig.__dataclass_fields__:
        assert f"  {name}:" in text, name
    assert load(ROOT / "config.example.yaml").policy == PolicyConfig()
    assert time.time() > 0
