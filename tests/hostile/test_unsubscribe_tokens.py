"""Forged, tampered, replayed and expired unsubscribe tokens at the daemon's own HTTP
listener (RELIABILITY U1/U3, docs/unsubscribe.md): every refusal is the same 400 page and
writes nothing; a replayed one-click POST is idempotent (one suppression, one audit entry,
the first objection's time kept); a token works for at least 30 days and is refused
after `tokens.max_age_days`, as is one issued in the future."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import struct
import time
from typing import Any

import aiohttp
import pytest

from consentry.keyfiles import token_codec
from consentry.tokens import TokenCodec, TokenKey

from ..helpers.state import NO_BASIS
from .conftest import issue_token

DAY = 86400.0


@pytest.fixture
async def daemon(make_config: Any, sink: Any, start_app: Any) -> Any:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          tokens={"max_age_days": 60},
                                          http={"listen": ["127.0.0.1:0"],
                                                "rate_limit_burst": 10_000}))
    running.base = f"http://127.0.0.1:{running.app.http.ports[0]}"
    return running


def _supp_and_audit(r: Any) -> tuple[dict[str, Any], list[dict[str, str]]]:
    supp = {k: r.hgetall(k) for k in r.keys("cs:supp:*")}
    audit = [fields for _, fields in r.xrange("cs:audit")]
    return supp, audit


async def _post(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.post(url, data={"List-Unsubscribe": "One-Click"},
                         allow_redirects=False) as resp:
        return resp.status, await resp.text()


def _forge(codec_keys: list[TokenKey], ref: str, issued: int, kid: int, purpose: int = 1,
           version: int = 1) -> str:
    """A token built by hand, signed with whatever key the attacker has."""
    raw_ref = base64.b32decode(ref.upper() + "=" * (-len(ref) % 8))
    body = struct.pack(">BBI", (version << 4) | purpose, kid, issued) + raw_ref
    key = next(k for k in codec_keys if k.id == kid)
    mac_key = hmac.new(key.secret, b"consentry/token/mac/v1\x00", hashlib.sha256).digest()
    mac = hmac.new(mac_key, body, hashlib.sha256).digest()[:12]
    return base64.b32encode(body + mac).decode().rstrip("=").lower()


async def test_forged_and_tampered_tokens_are_refused_alike(daemon: Any,
                                                            sync_redis: Any) -> None:
    good = await issue_token(daemon, "a@example.org")
    codec = token_codec(daemon.app.cfg)
    claims = codec.verify(good, time.time())
    attacker_key = TokenKey(claims.key_id, secrets.token_bytes(32))  # same id, other secret
    other_id = TokenKey((claims.key_id % 255) + 1, secrets.token_bytes(32))
    forged = [
        _forge([attacker_key], claims.ref, int(time.time()), claims.key_id),
        _forge([other_id], claims.ref, int(time.time()), other_id.id),
        # a genuine-looking token for a reference the relay never issued
        TokenCodec([attacker_key]).issue(TokenCodec([attacker_key]).reference(
            "b@example.org", "global", None), time.time()),
        good[:-1] + ("a" if good[-1] != "a" else "b"),
        good[:20] + ("q" if good[20] != "q" else "r") + good[21:],
        good.upper()[:-1] + "A" if good[-1] != "a" else good.upper()[:-1] + "B",
        good[:-4],
        good + "aaaa",
        secrets.token_hex(24)[:48],
        "a" * 48,
    ]
    before = _supp_and_audit(sync_redis)
    bodies = set()
    async with aiohttp.ClientSession() as http:
        for tok in forged:
            for method in ("GET", "POST"):
                async with http.request(method, f"{daemon.base}/u/{tok}",
                                        data={"List-Unsubscribe": "One-Click"}) as resp:
                    assert resp.status == 400, (tok, method)
                    bodies.add(await resp.text())
    assert len(bodies) == 1  # one page whatever the reason: the answer tells nothing
    assert _supp_and_audit(sync_redis) == before
    assert not sync_redis.keys("cs:supp:*")


async def test_bounce_token_is_no_unsubscribe_token(daemon: Any, sync_redis: Any) -> None:
    """A VERP bounce token (other purpose) found in a bounce must not unsubscribe."""
    tok = await issue_token(daemon, "a@example.org", purpose="bounce")
    async with aiohttp.ClientSession() as http:
        status, _ = await _post(http, f"{daemon.base}/u/{tok}")
    assert status == 400
    assert not sync_redis.keys("cs:supp:*")


async def test_replayed_one_click_is_idempotent_with_one_audit_entry(daemon: Any,
                                                                     sync_redis: Any) -> None:
    tok = await issue_token(daemon, "a@example.org", scope="list:news")
    url = f"{daemon.base}/u/{tok}"
    async with aiohttp.ClientSession() as http:
        first = await _post(http, url)
        supp1, audit1 = _supp_and_audit(sync_redis)
        replays = [await _post(http, url) for _ in range(5)]
        # the confirm page's button is the same objection again
        async with http.post(url, data={"List-Unsubscribe": "One-Click", "via": "page"}) as r:
            replays.append((r.status, await r.text()))
    assert first[0] == 200 and all(s == 200 for s, _ in replays)
    supp, audit = _supp_and_audit(sync_redis)
    assert list(supp) == ["cs:supp:a@example.org"]
    assert list(supp["cs:supp:a@example.org"]) == ["list:news"]
    # the first objection's record (and time) is kept, not overwritten by a replay
    assert supp == supp1
    assert json.loads(supp["cs:supp:a@example.org"]["list:news"])["source"] == "one-click"
    suppress_entries = [e for e in audit if e.get("action") == "suppress"]
    assert len(suppress_entries) == 1, audit
    assert audit == audit1


async def test_token_works_after_thirty_days_and_expires_after_max_age(
        daemon: Any, sync_redis: Any) -> None:
    now = time.time()
    month_old = await issue_token(daemon, "old@example.org", issued_at=now - 31 * DAY)
    too_old = await issue_token(daemon, "older@example.org", campaign="c2",
                                issued_at=now - 61 * DAY)
    future = await issue_token(daemon, "future@example.org", campaign="c3",
                               issued_at=now + 3600)
    async with aiohttp.ClientSession() as http:
        assert (await _post(http, f"{daemon.base}/u/{month_old}"))[0] == 200
        for tok in (too_old, future):
            status, body = await _post(http, f"{daemon.base}/u/{tok}")
            assert status == 400 and "Traceback" not in body
            async with http.get(f"{daemon.base}/u/{tok}") as resp:
                assert resp.status == 400
    assert sorted(sync_redis.keys("cs:supp:*")) == ["cs:supp:old@example.org"]


async def test_valid_signature_whose_reference_expired_is_refused(daemon: Any,
                                                                  sync_redis: Any) -> None:
    tok = await issue_token(daemon, "a@example.org")
    for k in sync_redis.keys("cs:tok:*"):
        sync_redis.delete(k)  # the reference record's TTL ran out
    async with aiohttp.ClientSession() as http:
        status, _ = await _post(http, f"{daemon.base}/u/{tok}")
    assert status == 400
    assert not sync_redis.keys("cs:supp:*")
