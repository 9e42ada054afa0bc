"""Unsubscribe that always works, end to end: the real daemon on loopback relays marketing
mail to an aiosmtpd sink with per-recipient List-Unsubscribe/-Post under a DKIM signature;
the token POSTed to the daemon's own HTTP listener suppresses exactly that recipient and
scope; GET/HEAD never write; forged tokens are refused (RELIABILITY U1-U4)."""

from __future__ import annotations

import email
import email.policy
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import dkim as dkimpy
import pytest

from consentry import dkim, headers

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until

MARKETING = {"X-Consent-Class": "marketing", "X-Consent-List": "news",
             "X-Campaign-Id": "spring26"}


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("dkim") / "sender.example.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(p), "2048"], check=True,
                   capture_output=True)
    return p


def unsub_config(make_config: Any, sink: Any, dkim_key: Path | None = None,
                 **extra: Any) -> Any:
    over: dict[str, Any] = {
        "policy": NO_BASIS,
        "unsubscribe": {"mailto_domain": "bounce.sender.example",
                        "feedback_id": "{campaign}:{list}:{class}:acme"},
        "http": {"listen": ["127.0.0.1:0"], "organisation": "Acme Shop",
                 "list_names": {"news": "Acme News"}},
        "retry": {"initial_delay": 0.2, "max_delay": 0.5, "poll_interval": 0.1},
    }
    if dkim_key is not None:
        over["dkim"] = {"enabled": True, "keys": [{"domain": "sender.example",
                                                   "selector": "s2026",
                                                   "private_key_file": str(dkim_key)}]}
    for k, v in extra.items():
        over[k] = {**over.get(k, {}), **v}
    return make_config(sink, **over)


def lu_uris(content: bytes) -> list[str]:
    m = email.message_from_bytes(content, policy=email.policy.compat32)
    return headers.parse_uris(" ".join(m.get_all("List-Unsubscribe") or []))


def token_of(content: bytes) -> str:
    https = lu_uris(content)[0]
    return https.rsplit("/u/", 1)[1]


def http_base(running: Any) -> str:
    return f"http://127.0.0.1:{running.app.http.ports[0]}"


def snapshot(r: Any) -> dict[str, Any]:
    """Every key and value in Redis (the suite's Redis is flushed per test: small)."""
    out: dict[str, Any] = {}
    for k in sorted(r.keys("*")):
        t = r.type(k)
        out[k] = (t, r.hgetall(k) if t == "hash" else r.xlen(k) if t == "stream"
                  else r.get(k) if t == "string" else r.zrange(k, 0, -1) if t == "zset"
                  else r.lrange(k, 0, -1) if t == "list" else None)
    return out


async def test_marketing_copies_carry_headers_dkim_and_a_token_that_suppresses_exactly_it(
        make_config, sink, start_app, sync_redis, dkim_key):
    running = await start_app(unsub_config(make_config, sink, dkim_key))
    code, text, _ = await send(running.port, ["a@example.org", "b@example.org"],
                               message(headers=MARKETING))
    assert code == 250, text
    assert "2 of 2" in text
    # One copy per recipient, each with its own token.
    assert sorted(m.rcpts[0] for m in sink.received) == ["a@example.org", "b@example.org"]
    by_rcpt = {m.rcpts[0]: m.content for m in sink.received}
    assert all(len(m.rcpts) == 1 for m in sink.received)
    txt = dkim.public_key_record(dkim_key.read_bytes())

    def dns(name: bytes, timeout: float = 5) -> bytes | None:
        return txt if name.lower().rstrip(b".") == b"s2026._domainkey.sender.example" else None

    for rcpt, content in by_rcpt.items():
        m = email.message_from_bytes(content, policy=email.policy.compat32)
        uris = lu_uris(content)
        assert len(uris) == 2 and uris[0].startswith(http_base(running) + "/u/")
        assert uris[1].startswith("mailto:unsubscribe+") and uris[1].endswith(
            "@bounce.sender.example?subject=unsubscribe")
        assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert m["Feedback-ID"] == "spring26:news:marketing:acme"
        assert m["X-Consentry-Trace"] and m["X-Consentry-Trace"] != token_of(content)
        assert rcpt not in " ".join(uris)  # no address in clear text
        assert m["X-Consent-Class"] is None and m["X-Campaign-Id"] is None
        # A valid DKIM signature over both headers, checked by dkimpy itself.
        assert dkimpy.verify(content, dnsfunc=dns), rcpt
        sig = m["DKIM-Signature"].replace("\r\n", "").replace(" ", "").replace("\t", "")
        signed = sig.split("h=", 1)[1].split(";", 1)[0].split(":")
        assert "list-unsubscribe" in signed and "list-unsubscribe-post" in signed
    assert token_of(by_rcpt["a@example.org"]) != token_of(by_rcpt["b@example.org"])
    rows = {d["recipient"]: d for d in running.decisions()}
    assert rows["a@example.org"]["rewrite"]["dkim"] == "signed"
    assert rows["a@example.org"]["sha256"] != rows["b@example.org"]["sha256"]

    # RFC 8058 one-click POST (what Gmail/Yahoo send): suppressed before the 200.
    url = lu_uris(by_rcpt["a@example.org"])[0]
    async with aiohttp.ClientSession() as http, http.post(
            url, data={"List-Unsubscribe": "One-Click"}, allow_redirects=False) as resp:
        assert resp.status == 200
        assert "set-cookie" not in {k.lower() for k in resp.headers}
        body = await resp.text()
    assert "unsubscribed" in body
    supp = sync_redis.hgetall("cs:supp:a@example.org")
    assert list(supp) == ["list:news"]  # exactly that scope
    assert '"source":"one-click"' in supp["list:news"]
    assert sync_redis.hgetall("cs:supp:b@example.org") == {}

    # The next message of that list reaches b only; another list still reaches a.
    sink.received.clear()
    code, text, _ = await send(running.port, ["a@example.org", "b@example.org"],
                               message(headers=MARKETING, msgid="<two@sender.example>"))
    assert code == 250 and [m.rcpts for m in sink.received] == [["b@example.org"]]
    other = {**MARKETING, "X-Consent-List": "offers"}
    code, _, _ = await send(running.port, ["a@example.org"],
                            message(headers=other, msgid="<three@sender.example>"))
    assert code == 250 and sink.received[-1].rcpts == ["a@example.org"]


async def test_get_head_and_prefetch_never_write(make_config, sink, start_app, sync_redis):
    running = await start_app(unsub_config(make_config, sink))
    await send(running.port, ["a@example.org"], message(headers=MARKETING))
    url = lu_uris(sink.received[0].content)[0]
    before = snapshot(sync_redis)
    async with aiohttp.ClientSession() as http:
        for hdrs in ({}, {"Purpose": "prefetch"}, {"Sec-Purpose": "prefetch"},
                     {"Accept-Language": "de-DE,de;q=0.9"}):
            async with http.get(url, headers=hdrs, allow_redirects=False) as resp:
                assert resp.status == 200
                page = await resp.text()
                assert resp.headers["Referrer-Policy"] == "no-referrer"
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
                assert "set-cookie" not in {k.lower() for k in resp.headers}
        assert '<form method="post"' in page and 'name="List-Unsubscribe"' in page
        assert "Acme News" in page and "a***@example.org" in page
        assert 'lang="de"' in page and "abbestellen" in page
        for _ in range(5):
            async with http.head(url) as resp:
                assert resp.status == 200
        async with http.options(url) as resp:
            assert resp.status == 405
    assert snapshot(sync_redis) == before


async def test_multipart_post_idempotent(make_config, sink, start_app, sync_redis):
    running = await start_app(unsub_config(make_config, sink))
    await send(running.port, ["a@example.org"], message(headers=MARKETING))
    url = lu_uris(sink.received[0].content)[0]
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            form = aiohttp.FormData()
            form.add_field("List-Unsubscribe", "One-Click")
            form._is_multipart = True  # force multipart/form-data like some providers send
            async with http.post(url, data=form, allow_redirects=False) as resp:
                assert resp.status == 200, await resp.text()
                assert resp.request_info.headers.get("Content-Type", "").startswith(
                    "multipart/form-data")
    assert list(sync_redis.hgetall("cs:supp:a@example.org")) == ["list:news"]


async def test_tampered_forged_and_incomplete_requests_refused(make_config, sink, start_app,
                                                               sync_redis):
    running = await start_app(unsub_config(make_config, sink,
                                           http={"rate_limit_burst": 1000}))
    await send(running.port, ["a@example.org"], message(headers=MARKETING))
    url = lu_uris(sink.received[0].content)[0]
    base, tok = url.rsplit("/", 1)
    flip = {"a": "b", "b": "a"}
    variants = [
        tok[:-1] + ("a" if tok[-1] != "a" else "b"),  # last character changed
        tok[:10] + flip.get(tok[10], "a") + tok[11:],
        tok[:-2],  # truncated
        tok + "aa",
        "a" * 48,
        "0" * 48,  # not in the alphabet
        "../../etc/passwd",
    ]
    before = snapshot(sync_redis)
    async with aiohttp.ClientSession() as http:
        statuses = set()
        for v in variants:
            for method in ("GET", "POST"):
                async with http.request(method, f"{base}/{v}",
                                        data={"List-Unsubscribe": "One-Click"}) as resp:
                    body = await resp.text()
                    statuses.add(resp.status if "/" not in v else 400)
                    if "/" not in v:
                        assert "not valid" in body and "Traceback" not in body
        assert statuses == {400}
        # A genuine token without the one-click body: refused, nothing written.
        async with http.post(url, data={"List-Unsubscribe": "yes"}) as resp:
            assert resp.status == 400
        async with http.post(url) as resp:
            assert resp.status == 400
        # Oversized body: 413 before anything is read into memory.
        async with http.post(url, data=b"x" * 100_000,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}
                             ) as resp:
            assert resp.status == 413
    after = snapshot(sync_redis)
    assert not [k for k in after if k.startswith("cs:supp:")]
    assert after == before


async def test_rate_limit_per_client(make_config, sink, start_app):
    running = await start_app(unsub_config(make_config, sink,
                                           http={"rate_limit_burst": 3,
                                                 "rate_limit_per_minute": 1}))
    async with aiohttp.ClientSession() as http:
        codes = []
        for _ in range(5):
            async with http.get(f"{http_base(running)}/u/{'a' * 48}") as resp:
                codes.append(resp.status)
                if resp.status == 429:
                    assert resp.headers["Retry-After"] == "60"
    assert codes == [400, 400, 400, 429, 429]


async def test_health_ready_and_metrics(make_config, sink, start_app):
    running = await start_app(unsub_config(make_config, sink))
    await send(running.port, ["a@example.org"], message(headers=MARKETING))
    base = http_base(running)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
        async with http.get(f"{base}/readyz") as resp:
            assert resp.status == 200, await resp.text()
            assert await resp.json() == {"redis": "ok", "downstream": "ok"}
        async with http.get(f"{base}/metrics") as resp:
            text = await resp.text()
            assert resp.status == 200
        assert "consentry_relay_messages_total 1.0" in text
        assert "consentry_relay_decisions_allow_total 1.0" in text
        assert "consentry_http_unsubscribed_total 0.0" in text
        assert "consentry_retry_backlog" in text
        await sink.stop()
        running.app.http._ready_cache = None
        async with http.get(f"{base}/readyz") as resp:
            assert resp.status == 503
            assert (await resp.json())["downstream"].startswith("unavailable")
        async with http.get(f"{base}/nothing-here") as resp:
            assert resp.status == 404
            assert resp.headers["X-Frame-Options"] == "DENY"


async def test_footer_check_refuses_marketing_without_optout(make_config, sink, start_app):
    running = await start_app(unsub_config(make_config, sink,
                                           unsubscribe={"footer_check": "refuse"}))
    code, text, _ = await send(running.port, ["a@example.org"],
                               message(headers=MARKETING, body="Buy now!\n"))
    assert code == 554, text
    assert sink.received == []
    code, text, _ = await send(running.port, ["a@example.org"],
                               message(headers=MARKETING, body="Buy! Abmelden: https://x\n",
                                       msgid="<f2@sender.example>"))
    assert code == 250, text


async def test_mailto_unsubscribe_through_the_inbound_listener(make_config, sink, start_app,
                                                               sync_redis):
    cfg = unsub_config(make_config, sink,
                       inbound={"enabled": True, "listen": ["127.0.0.1:0"],
                                "domain": "bounce.sender.example"})
    running = await start_app(cfg)
    await send(running.port, ["a@example.org"], message(headers=MARKETING))
    mailto = lu_uris(sink.received[0].content)[1]
    addr = mailto.removeprefix("mailto:").split("?", 1)[0]
    code, text, _ = await send(running.app.inbound.ports[0], [addr],
                               message(subject="unsubscribe", body="unsubscribe\n",
                                       msgid="<u1@example.org>"),
                               mail_from="a@example.org")
    assert code == 250, text
    await wait_until(lambda: sync_redis.hgetall("cs:supp:a@example.org"), within=10,
                     what="mailto unsubscribe suppression")
    assert list(sync_redis.hgetall("cs:supp:a@example.org")) == ["list:news"]


async def test_reload_rotates_token_keys_and_old_links_keep_working(
        make_config, sink, start_app, sync_redis, tmp_path):
    import yaml

    k1 = {"id": 1, "secret": "first-secret-0123456789"}
    k2 = {"id": 2, "secret": "second-secret-0123456789"}
    cfg = unsub_config(make_config, sink, tokens={"keys": [k1]})
    running = await start_app(cfg)
    await send(running.port, ["a@example.org"], message(headers=MARKETING))
    old_url = lu_uris(sink.received[0].content)[0]
    # Same config with the new key first, as an operator would rotate.
    import dataclasses

    def plain(o: Any) -> Any:
        return dataclasses.asdict(o) if dataclasses.is_dataclass(o) else o

    data = {f.name: plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)
            if f.name != "base_dir"}
    data["tokens"]["keys"] = [k2, k1]
    for rule in data["classification"]["rules"]:
        rule["class"] = rule.pop("message_class")
    path = tmp_path / "rotated.yaml"
    path.write_text(yaml.safe_dump(data))
    running.app.config_path = str(path)
    running.app.reload()
    assert running.app.relay.rewriter.codec.current.id == 2
    await send(running.port, ["b@example.org"], message(headers=MARKETING,
                                                        msgid="<rot@sender.example>"))
    new_url = lu_uris(sink.received[-1].content)[0]
    async with aiohttp.ClientSession() as http:
        for url in (old_url, new_url):
            async with http.post(url, data={"List-Unsubscribe": "One-Click"}) as resp:
                assert resp.status == 200, url
    assert sync_redis.hgetall("cs:supp:a@example.org") and sync_redis.hgetall(
        "cs:supp:b@example.org")


async def test_a_sender_signature_our_rewrite_breaks_is_reported(make_config, sink,
                                                                start_app):
    running = await start_app(unsub_config(make_config, sink))
    sig = {"DKIM-Signature": "v=1; a=rsa-sha256; d=esp.example; s=x; "
                             "h=from:subject:list-unsubscribe; bh=AAAA; b=BBBB"}
    code, _, _ = await send(running.port, ["a@example.org"],
                            message(headers={**MARKETING, **sig}))
    assert code == 250
    (row,) = running.decisions()
    assert "d=esp.example" in row["rewrite"]["sender_dkim"]
    assert b"DKIM-Signature: v=1; a=rsa-sha256; d=esp.example" in sink.received[0].content
