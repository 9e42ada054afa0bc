"""Signed webhooks against a real aiohttp receiver on loopback and the real redis-server:
the documented signature recipe verifies, 5xx is retried until delivered once, 4xx is
dead-lettered at once, two publishers in one consumer group deliver each event once, an
abandoned event is taken over, and a one-click unsubscribe at the running daemon reaches
the receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from consentry import webhooks
from consentry.errors import ConfigError
from consentry.metrics import METRICS
from consentry.store import Store, SuppressionRecord

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS
from ..helpers.waits import wait_until

SECRET = "whsec-0123456789abcdef"  # noqa: S105 - a test key for the loopback receiver


class Receiver:
    """An HTTP endpoint that records every request and answers from a script
    (status, headers) before falling back to 200."""

    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self.delay = delay
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.delays: list[float] = []  # per request, before `delay`

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append({"headers": dict(request.headers), "body": body,
                              "at": time.monotonic(), "path": request.path})
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        extra = self.delays.pop(0) if self.delays else 0.0
        if self.delay or extra:
            await asyncio.sleep(self.delay + extra)
        self.in_flight -= 1
        status, headers = self.script.pop(0) if self.script else (200, {})
        return web.Response(status=status, headers=headers, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/consentry"

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


def hook(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": "crm", "url": url, "secret": SECRET, "initial_backoff": 0.05,
            "max_backoff": 0.2, "timeout": 2.0, "claim_after": 3.0, **extra}


class Running:
    def __init__(self, store: Store, pub: webhooks.Publisher) -> None:
        self.store, self.pub = store, pub


@pytest.fixture
async def publisher(make_config: Any, sync_redis: Any) -> AsyncIterator[Any]:
    started: list[Running] = []

    async def start(*hooks: dict[str, Any]) -> Running:
        cfg = make_config(webhooks=list(hooks))
        store = Store(webhooks.store_config(cfg), cfg.redis.url)
        pub = webhooks.Publisher(cfg, store)
        await pub.start()
        # The group exists (created at the stream's end) before the test writes events.
        await wait_until(lambda: any(g["name"] == "webhook:crm" for g in
                                     _groups(sync_redis)), what="consumer group")
        run = Running(store, pub)
        started.append(run)
        return run

    yield start
    for run in started:
        await run.pub.stop(2.0)
        await run.store.close()


def _groups(r: Any) -> list[dict[str, Any]]:
    try:
        return list(r.xinfo_groups("cs:audit"))
    except Exception:  # the stream does not exist yet
        return []


async def suppress(store: Store, addr: str, source: str = "admin") -> None:
    await store.add_suppression(SuppressionRecord(addr, "global", "unsubscribe", source,
                                                  time.time()), actor="test")


def recipe_verify(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """docs/webhooks.md's verification recipe, written out independently of consentry."""
    fields = {}
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    t = int(fields["t"])
    if abs(time.time() - t) > tolerance:
        return False
    signed = f"{t}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


async def test_event_is_signed_and_verifies_with_the_documented_recipe(
        publisher: Any, receiver: Receiver, sync_redis: Any) -> None:
    run = await publisher(hook(receiver.url))
    await suppress(run.store, "anna@example.org", source="one-click")
    await wait_until(lambda: receiver.requests, what="the webhook POST")
    req = receiver.requests[0]
    h = req["headers"]
    assert h["Content-Type"] == "application/json"
    assert recipe_verify(SECRET, h["X-Consentry-Signature"], req["body"])
    assert webhooks.verify(SECRET.encode(), h["X-Consentry-Signature"], req["body"])
    # A changed body or another secret does not verify.
    assert not recipe_verify(SECRET, h["X-Consentry-Signature"], req["body"] + b" ")
    assert not recipe_verify("another-secret-0123", h["X-Consentry-Signature"], req["body"])
    sid, fields = sync_redis.xrange("cs:audit")[-1]
    ev = json.loads(req["body"])
    assert ev["id"] == sid == h["Idempotency-Key"] == h["X-Consentry-Event-Id"]
    assert ev["type"] == "suppress" and ev["data"] == fields  # exactly the stream entry
    assert ev["data"]["address"] == "anna@example.org"
    assert ev["data"]["source"] == "one-click"
    await wait_until(lambda: not sync_redis.xpending("cs:audit", "webhook:crm")["pending"],
                     what="the event acknowledged")


async def test_503_twice_then_200_is_delivered_once_after_retries(
        publisher: Any, receiver: Receiver, sync_redis: Any) -> None:
    receiver.script = [(503, {}), (503, {})]
    before = METRICS.webhooks.get(("crm", "retried"), 0)
    run = await publisher(hook(receiver.url))
    await suppress(run.store, "bert@example.org")
    await wait_until(lambda: len(receiver.requests) >= 3, what="three attempts")
    await wait_until(lambda: run.pub.workers[0].delivered == 1, what="delivered")
    await asyncio.sleep(0.3)  # nothing more arrives
    assert len(receiver.requests) == 3
    keys = {r["headers"]["Idempotency-Key"] for r in receiver.requests}
    assert len(keys) == 1  # one event, three attempts under one key
    assert [r["headers"]["X-Consentry-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert METRICS.webhooks.get(("crm", "retried"), 0) - before == 2
    assert sync_redis.xpending("cs:audit", "webhook:crm")["pending"] == 0
    assert sync_redis.exists("cs:webhook:dead") == 0


async def test_retry_after_on_429_is_honoured(
        publisher: Any, receiver: Receiver) -> None:
    receiver.script = [(429, {"Retry-After": "1"})]
    run = await publisher(hook(receiver.url))
    await suppress(run.store, "cara@example.org")
    await wait_until(lambda: len(receiver.requests) >= 2, what="the second attempt")
    gap = receiver.requests[1]["at"] - receiver.requests[0]["at"]
    assert gap >= 0.9  # the back-off alone would be 0.05 s


async def test_400_is_dead_lettered_at_once_and_later_events_still_flow(
        publisher: Any, receiver: Receiver, sync_redis: Any) -> None:
    receiver.script = [(400, {})]
    before = METRICS.webhooks.get(("crm", "dead_lettered"), 0)
    run = await publisher(hook(receiver.url))
    await suppress(run.store, "dora@example.org")
    await wait_until(lambda: sync_redis.exists("cs:webhook:dead"), what="a dead letter")
    dead = sync_redis.xrange("cs:webhook:dead")
    assert len(dead) == 1
    d = dead[0][1]
    assert (d["endpoint"], d["status"], d["attempts"]) == ("crm", "400", "1")
    assert json.loads(d["body"])["data"]["address"] == "dora@example.org"
    assert SECRET not in json.dumps(d)
    await wait_until(lambda: METRICS.webhooks.get(("crm", "dead_lettered"), 0) - before == 1,
                     what="the dead letter counted")
    await suppress(run.store, "emil@example.org")
    await wait_until(lambda: len(receiver.requests) == 2, what="the next event")
    assert receiver.events()[1]["data"]["address"] == "emil@example.org"
    await wait_until(lambda: run.pub.workers[0].delivered == 1, what="acknowledged")
    assert sync_redis.xpending("cs:audit", "webhook:crm")["pending"] == 0


async def test_attempts_exhausted_on_connection_errors_go_to_dead_letters(
        publisher: Any, sync_redis: Any) -> None:
    from ..helpers.redis_proc import free_port

    run = await publisher(hook(f"http://127.0.0.1:{free_port()}/nobody", max_attempts=3))
    await suppress(run.store, "fritz@example.org")
    await wait_until(lambda: sync_redis.exists("cs:webhook:dead"), what="a dead letter")
    d = sync_redis.xrange("cs:webhook:dead")[0][1]
    assert d["attempts"] == "3" and d["status"] == ""
    assert "3 attempts failed" in d["reason"]


async def test_two_publishers_in_one_group_deliver_each_event_exactly_once(
        publisher: Any, sync_redis: Any, make_config: Any) -> None:
    slow = Receiver(delay=0.05)  # while one publisher waits, the other takes the next
    await slow.start()
    try:
        a = await publisher(hook(slow.url))
        b = await publisher(hook(slow.url))
        writer = Store(make_config().redis, make_config().redis.url)
        try:
            for i in range(30):
                await suppress(writer, f"p{i}@example.org")
        finally:
            await writer.close()
        await wait_until(lambda: a.pub.workers[0].delivered + b.pub.workers[0].delivered
                         == 30, within=20, what="30 deliveries")
        await asyncio.sleep(0.3)
        ids = [e["id"] for e in slow.events()]
        assert len(ids) == 30 and len(set(ids)) == 30
        addrs = {e["data"]["address"] for e in slow.events()}
        assert addrs == {f"p{i}@example.org" for i in range(30)}
        assert a.pub.workers[0].delivered > 0 and b.pub.workers[0].delivered > 0
        assert sync_redis.xpending("cs:audit", "webhook:crm")["pending"] == 0
    finally:
        await slow.stop()


async def test_an_event_read_by_a_consumer_that_died_is_taken_over(
        publisher: Any, receiver: Receiver, sync_redis: Any, make_config: Any) -> None:
    run = await publisher(hook(receiver.url, timeout=0.5, claim_after=1.0))
    await run.pub.stop(2.0)  # group exists; nobody reads now
    writer = Store(make_config().redis, make_config().redis.url)
    try:
        await suppress(writer, "gina@example.org")
    finally:
        await writer.close()
    # A consumer reads the event and vanishes without acknowledging it.
    got = sync_redis.xreadgroup("webhook:crm", "crashed", {"cs:audit": ">"}, count=10)
    assert len(got[0][1]) == 1
    again = await publisher(hook(receiver.url, timeout=0.5, claim_after=1.0))
    await wait_until(lambda: receiver.requests, within=15, what="the takeover")
    assert receiver.events()[0]["data"]["address"] == "gina@example.org"
    await wait_until(lambda: again.pub.workers[0].delivered == 1, what="acknowledged")
    assert sync_redis.xpending("cs:audit", "webhook:crm")["pending"] == 0


async def test_events_filter_acknowledges_other_actions_without_sending(
        publisher: Any, receiver: Receiver, sync_redis: Any) -> None:
    run = await publisher(hook(receiver.url, events=["unsuppress"]))
    await suppress(run.store, "hans@example.org")
    await run.store.remove_suppression("hans@example.org", None, "asked by phone", "test")
    await wait_until(lambda: receiver.requests, what="the unsuppress event")
    await asyncio.sleep(0.3)
    assert [e["type"] for e in receiver.events()] == ["unsuppress"]
    assert receiver.events()[0]["data"]["reason"] == "asked by phone"
    await wait_until(lambda: not sync_redis.xpending("cs:audit", "webhook:crm")["pending"],
                     what="both events acknowledged")


@pytest.mark.parametrize(("hooks", "key"), [
    ([{"url": "ftp://x.example/", "secret": SECRET}], "webhooks[0].url"),
    ([{"url": "https://x.example/"}], "webhooks[0].secret"),
    ([{"url": "https://x.example/", "secret": "short"}], "webhooks[0].secret"),
    ([{"url": "https://x.example/", "secret": SECRET, "events": ["supress"]}],
     "webhooks[0].events[0]"),
    ([{"url": "https://x.example/", "secret": SECRET, "timeout": 0}], "webhooks[0].timeout"),
    ([{"url": "https://x.example/", "secret": SECRET, "name": "a"},
      {"url": "https://y.example/", "secret": SECRET, "name": "a"}], "webhooks[1].name"),
    ([{"url": "https://x.example/", "secret": SECRET, "retries": 3}], "webhooks[0].retries"),
])
def test_config_errors_name_the_key(make_config: Any, hooks: list[dict[str, Any]],
                                    key: str) -> None:
    with pytest.raises(ConfigError) as ei:
        make_config(webhooks=hooks)
    assert ei.value.key == key, str(ei.value)


def test_unreadable_secret_file_is_named_and_never_printed(make_config: Any,
                                                           tmp_path: Path) -> None:
    cfg = make_config(webhooks=[{"url": "https://x.example/?token=abc",
                                 "secret_file": str(tmp_path / "missing")}])
    with pytest.raises(ConfigError) as ei:
        webhooks.endpoints(cfg)
    assert ei.value.key == "webhooks[0].secret_file"
    (tmp_path / "s").write_text(SECRET + "\n")
    cfg = make_config(webhooks=[{"url": "https://x.example/?token=abc",
                                 "secret_file": str(tmp_path / "s")}])
    ep = webhooks.endpoints(cfg)[0]
    assert ep.secret == SECRET.encode() and SECRET not in repr(ep)
    inline = make_config(webhooks=[{"url": "https://x.example/", "secret": SECRET}])
    assert SECRET not in repr(inline) and SECRET not in repr(webhooks.endpoints(inline))
    # A forged header never raises (non-ASCII, missing parts), it just fails.
    assert not webhooks.verify(SECRET.encode(), "t=1,v1=\u00e9", b"{}", now=1)
    assert not webhooks.verify(SECRET.encode(), "garbage", b"{}")
    assert webhooks.redact(ep.cfg.url) == "https://x.example/"


async def test_one_click_unsubscribe_at_the_daemon_reaches_the_receiver(
        make_config: Any, sink: Any, start_app: Any, receiver: Receiver,
        sync_redis: Any) -> None:
    cfg = make_config(sink, policy=NO_BASIS, webhooks=[hook(receiver.url)],
                      unsubscribe={"mailto_domain": "bounce.sender.example"})
    running = await start_app(cfg)
    await wait_until(lambda: any(g["name"] == "webhook:crm" for g in _groups(sync_redis)),
                     what="consumer group")
    code, text, _ = await send(running.port, ["ivo@example.org"], message(headers={
        "X-Consent-Class": "marketing", "X-Consent-List": "news"}))
    assert code == 250, text
    content = sink.received[0].content.decode()
    url = next(u for u in content.split("<") if u.startswith("http://127.0.0.1"))
    url = url.split(">", 1)[0]
    async with aiohttp.ClientSession() as http, http.post(
            url, data={"List-Unsubscribe": "One-Click"}) as resp:
        assert resp.status == 200
    await wait_until(lambda: receiver.requests, what="the webhook of the unsubscribe")
    ev = receiver.events()[0]
    assert ev["type"] == "suppress"
    assert (ev["data"]["address"], ev["data"]["source"], ev["data"]["scope"]) == (
        "ivo@example.org", "one-click", "list:news")
    h = receiver.requests[0]["headers"]
    assert recipe_verify(SECRET, h["X-Consentry-Signature"], receiver.requests[0]["body"])
    # /metrics of the daemon: the delivery counted, the backlog exposed.
    from prometheus_client.parser import text_string_to_metric_families

    await wait_until(lambda: running.app.webhooks.workers[0].delivered == 1, what="acked")
    async with aiohttp.ClientSession() as http, http.get(
            f"http://127.0.0.1:{running.app.http.ports[0]}/metrics") as resp:
        text = await resp.text()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in text_string_to_metric_families(text) for s in fam.samples}
    key = ("consentry_webhook_deliveries_total", (("endpoint", "crm"),
                                                   ("outcome", "delivered")))
    assert samples[key] >= 1
    assert ("consentry_webhook_backlog", (("endpoint", "crm"),)) in samples


async def test_stop_finishes_the_attempt_in_flight_and_hands_the_rest_over_at_once(
        publisher: Any, sync_redis: Any, make_config: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM's drain: the POST in flight completes and is acknowledged; events this
    process read but had not sent are released, so the next publisher takes them at
    once instead of after claim_after (30 s here)."""
    slow = Receiver(delay=0.5)
    await slow.start()
    try:
        # The group exists and holds 5 events before the publisher's first read (count
        # 10): it reads all of them at once.
        sync_redis.xgroup_create("cs:audit", "webhook:crm", id="$", mkstream=True)
        writer = Store(make_config().redis, make_config().redis.url)
        try:
            for i in range(5):
                await suppress(writer, f"d{i}@example.org")
        finally:
            await writer.close()
        a = await publisher(hook(slow.url, claim_after=30.0))
        await wait_until(lambda: slow.requests, what="the first POST in flight")
        assert sync_redis.xpending("cs:audit", "webhook:crm")["pending"] == 5
        t0 = time.monotonic()
        await a.pub.stop(5.0)
        assert a.pub.workers[0].delivered == 1  # finished, not cut
        assert sync_redis.xpending("cs:audit", "webhook:crm")["pending"] == 4
        b = await publisher(hook(slow.url, claim_after=30.0))
        await wait_until(lambda: b.pub.workers[0].delivered == 4, within=10,
                         what="the released events delivered by the next publisher")
        assert time.monotonic() - t0 < 15  # well before claim_after would release them
        ids = [e["id"] for e in slow.events()]
        assert len(ids) == 5 == len(set(ids))
        assert sync_redis.xpending("cs:audit", "webhook:crm")["pending"] == 0
        # The stopped consumer holds nothing now; once silent long enough (PRUNE_IDLE,
        # an hour; shortened here) the next claim pass removes it from the group.
        held = {c["name"]: c["pending"] for c in
                sync_redis.xinfo_consumers("cs:audit", "webhook:crm")}
        assert held[a.pub.consumer] == 0
        monkeypatch.setattr(webhooks, "PRUNE_IDLE", 0.2)
        b.pub.workers[0]._claim_at = 0.0  # the next round runs the claim pass
        await wait_until(lambda: a.pub.consumer not in {
            c["name"] for c in sync_redis.xinfo_consumers("cs:audit", "webhook:crm")},
            what="the stopped consumer pruned")
        assert b.pub.consumer in {c["name"] for c in
                                  sync_redis.xinfo_consumers("cs:audit", "webhook:crm")}
    finally:
        await slow.stop()


async def test_sighup_reload_restarts_the_publisher_with_the_new_endpoint(
        tmp_path: Path, redis_url: str, sink: Any, receiver: Receiver,
        sync_redis: Any) -> None:
    import yaml

    from consentry import config as config_mod
    from consentry import logs
    from consentry.app import App

    from ..helpers.daemon import base_config

    second = Receiver()
    await second.start()
    data = base_config(tmp_path, redis_url, sink.port, submission={"listen": ["127.0.0.1:0"]})
    data["webhooks"] = [hook(receiver.url)]
    path = tmp_path / "consentry.yaml"
    path.write_text(yaml.safe_dump(data))
    cfg = config_mod.load(path)
    logs.setup(cfg.log, cfg.base_dir)
    app = App(cfg, str(path))
    await app.start()
    try:
        writer = Store(cfg.redis, cfg.redis.url)
        await wait_until(lambda: any(g["name"] == "webhook:crm" for g in
                                     _groups(sync_redis)), what="consumer group")
        await suppress(writer, "jan@example.org")
        await wait_until(lambda: receiver.requests, what="first endpoint")
        # An invalid file is refused: the running publisher stays.
        bad = dict(data, webhooks=[{**hook(second.url), "secret": "short"}])
        path.write_text(yaml.safe_dump(bad))
        app.reload()
        assert app.cfg.webhooks[0].url == receiver.url
        data["webhooks"] = [hook(second.url)]  # same group, new URL and secret
        data["webhooks"][0]["secret"] = SECRET + "-rotated"
        path.write_text(yaml.safe_dump(data))
        app.reload()
        await wait_until(lambda: app.webhooks is not None and app.webhooks.endpoints[0]
                         .cfg.url == second.url, what="publisher restarted")
        await suppress(writer, "kim@example.org")
        await wait_until(lambda: second.requests, what="second endpoint")
        ev = second.events()[0]
        assert ev["data"]["address"] == "kim@example.org"
        assert recipe_verify(SECRET + "-rotated", second.requests[0]["headers"][
            "X-Consentry-Signature"], second.requests[0]["body"])
        assert [e["data"]["address"] for e in receiver.events()] == ["jan@example.org"]
        await writer.close()
    finally:
        await app.stop(5)
        await second.stop()


async def test_privacy_mode_events_carry_the_hash_not_the_address(
        publisher: Any, receiver: Receiver, make_config: Any) -> None:
    from consentry.keyfiles import store_keys

    secret = "privacy-secret-0123456789"  # noqa: S105 - a test HMAC key
    pcfg = make_config(privacy={"hash_suppressions": True, "secret": secret})
    await publisher(hook(receiver.url))
    writer = Store(pcfg.redis, pcfg.redis.url, store_keys(pcfg))
    try:
        await suppress(writer, "lea@example.org")
    finally:
        await writer.close()
    await wait_until(lambda: receiver.requests, what="the event")
    body = receiver.requests[0]["body"]
    assert b"lea@example.org" not in body
    assert json.loads(body)["data"]["address"] == writer.keys.ident("lea@example.org")
    assert json.loads(body)["data"]["address"].startswith("h:")


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_concurrency_bounds_the_posts_in_flight_and_1_keeps_the_order(
        publisher: Any, sync_redis: Any, make_config: Any, concurrency: int) -> None:
    slow = Receiver(delay=0.2)
    await slow.start()
    try:
        sync_redis.xgroup_create("cs:audit", "webhook:crm", id="$", mkstream=True)
        writer = Store(make_config().redis, make_config().redis.url)
        try:
            for i in range(8):
                await suppress(writer, f"c{i}@example.org")
        finally:
            await writer.close()
        run = await publisher(hook(slow.url, concurrency=concurrency))
        await wait_until(lambda: run.pub.workers[0].delivered == 8, within=15,
                         what="8 deliveries")
        ids = [e["id"] for e in slow.events()]
        assert len(set(ids)) == 8 == len(ids)
        assert slow.max_in_flight == concurrency
        if concurrency == 1:
            assert ids == [sid for sid, _ in sync_redis.xrange("cs:audit")]
    finally:
        await slow.stop()


async def test_cli_status_dead_and_replay_of_a_dead_letter(
        publisher: Any, receiver: Receiver, sync_redis: Any, tmp_path: Path,
        redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import structlog
    import yaml

    from consentry import cli

    receiver.script = [(410, {})]
    run = await publisher(hook(receiver.url))
    await suppress(run.store, "mona@example.org")
    await wait_until(lambda: sync_redis.exists("cs:webhook:dead"), what="a dead letter")
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({
        "server": {"state_dir": str(tmp_path / "var")},
        "redis": {"embedded": False, "url": redis_url, "deadline_ms": 2000},
        "webhooks": [hook(receiver.url)]}))

    async def cmd(*argv: str) -> tuple[int, str, str]:
        rc = await asyncio.to_thread(cli.main, ["-c", str(conf), "webhooks", *argv])
        structlog.reset_defaults()
        out, err = capsys.readouterr()
        return rc, out, err

    rc, out, _ = await cmd("status")
    assert rc == 0 and "crm  http://127.0.0.1:" in out and "dead letters 1" in out, out
    assert f"consumer {run.pub.consumer}: 0 held" in out
    rc, out, _ = await cmd("dead", "--json")
    dead = [json.loads(x) for x in out.splitlines()]
    assert rc == 0 and len(dead) == 1 and dead[0]["status"] == "410"
    event_id = dead[0]["event"]
    receiver.script = [(500, {})]
    rc, out, err = await cmd("replay")
    assert rc == 1 and "HTTP 500: kept" in err and sync_redis.xlen("cs:webhook:dead") == 1
    rc, out, err = await cmd("replay", "--id", event_id)  # the receiver answers 200 now
    assert rc == 0 and f"event {event_id} delivered to crm (HTTP 200)" in out, (out, err)
    assert sync_redis.xlen("cs:webhook:dead") == 0
    assert len(receiver.requests) == 3
    again = receiver.requests[2]
    assert again["headers"]["Idempotency-Key"] == event_id
    assert again["body"] == receiver.requests[0]["body"]
    assert recipe_verify(SECRET, again["headers"]["X-Consentry-Signature"], again["body"])
    rc, out, _ = await cmd("status")
    assert "dead letters 0" in out


async def test_a_timeout_is_retried_and_then_delivered(
        publisher: Any, receiver: Receiver) -> None:
    receiver.delays = [0.8]  # the first answer comes after the 0.3 s timeout
    before = METRICS.webhooks.get(("crm", "retried"), 0)
    run = await publisher(hook(receiver.url, timeout=0.3, claim_after=2.0))
    await suppress(run.store, "nina@example.org")
    await wait_until(lambda: run.pub.workers[0].delivered == 1, what="delivered")
    assert len(receiver.requests) == 2
    assert [r["headers"]["X-Consentry-Attempt"] for r in receiver.requests] == ["1", "2"]
    assert METRICS.webhooks.get(("crm", "retried"), 0) - before == 1


async def test_redis_outage_before_the_ack_redelivers_under_the_same_idempotency_key(
        tmp_path: Path, make_config: Any, receiver: Receiver) -> None:
    """At least once: the endpoint accepted the event but Redis was down for the XACK;
    the event stays pending, is taken over after claim_after once Redis is back, and is
    sent again under the same Idempotency-Key, then acknowledged."""
    import redis as redis_mod

    from consentry.errors import StoreUnavailable

    from ..helpers.redis_proc import RedisProc

    rp = RedisProc(tmp_path / "redis", persistent=True)  # the group survives a restart
    rp.start()
    try:
        url = rp.url
        cfg = make_config(redis={"url": url}, webhooks=[hook(receiver.url)])
        store = Store(webhooks.store_config(cfg), url)
        pub = webhooks.Publisher(cfg, store)
        await pub.start()
        writer = Store(cfg.redis, url)
        direct = redis_mod.Redis.from_url(url, decode_responses=True)
        try:
            await wait_until(lambda: any(g["name"] == "webhook:crm"
                                         for g in _groups(direct)), what="consumer group")
            receiver.delays = [1.0]  # Redis goes away while the endpoint takes its time
            await suppress(writer, "olga@example.org")
            await wait_until(lambda: receiver.requests, what="the POST in flight")
            rp.stop()  # the 200 comes back to a publisher that cannot XACK
            await asyncio.sleep(1.5)
            rp.start()
            await wait_until(lambda: len(receiver.requests) == 2, within=15,
                             what="the redelivery after claim_after")
            keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests]
            assert keys[0] == keys[1]
            await wait_until(lambda: direct.xpending("cs:audit", "webhook:crm")[
                "pending"] == 0, what="acknowledged")
            # And it goes on: a new event after the restart.
            for _ in range(3):  # the writer's pooled connection died with the server
                try:
                    await suppress(writer, "paul@example.org")
                    break
                except StoreUnavailable:
                    await asyncio.sleep(0.2)
            await wait_until(lambda: len(receiver.requests) == 3, what="the next event")
            assert receiver.events()[2]["data"]["address"] == "paul@example.org"
        finally:
            await pub.stop(2.0)
            await store.close()
            await writer.close()
            direct.close()
    finally:
        rp.stop()
