"""The HTTP listener (aiohttp, same event loop): RFC 8058 one-click unsubscribe, the
confirmation page, /healthz, /readyz and /metrics.

    POST /u/TOKEN  body List-Unsubscribe=One-Click (urlencoded or multipart) → the
                   suppression is written (Redis MULTI/EXEC; AOF fsync'd with the default
                   `appendfsync always`) *before* the 200. Idempotent. No cookie, no
                   login, no redirect (RFC 8058 §3.1).
    GET  /u/TOKEN  a small confirmation page naming the list, with a button that POSTs.
                   GET and HEAD never write: link scanners and prefetchers follow GETs
                   (RFC 8058 abstract; GitLab #466167).

Every token refusal — malformed, forged, wrong key, expired, unknown reference — gets the
same 400 page, so the answer tells an attacker nothing (RELIABILITY U1). Bodies are capped
(413), slow bodies time out (408), clients are rate-limited per address (429).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from . import logs
from .config import Config, HttpConfig, parse_hostport
from .delivery import Deliverer
from .errors import ConsentryError, StoreUnavailable
from .metrics import Collector as MetricsCollector
from .store import Store, SuppressionRecord
from .tokens import TokenCodec, TokenError, TokenRef

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CSS = """
:root{color-scheme:light dark}
body{font:1.05rem/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f5f7;color:#1b1d21}
main{max-width:34rem;margin:10vh auto;background:#fff;padding:2rem 2.25rem;border-radius:12px;
box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.45rem;margin:0 0 1rem}
p{margin:.6rem 0}
.who{font-weight:600}
button{font:inherit;font-weight:600;margin-top:1.2rem;padding:.75rem 1.6rem;border:0;
border-radius:8px;background:#b3261e;color:#fff;cursor:pointer}
button:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}
.small{font-size:.9rem;color:#555}
@media (prefers-color-scheme:dark){body{background:#15171a;color:#e8eaed}
main{background:#202327}.small{color:#aab}}
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "interest-cohort=()",
}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Unsubscribe",
        "ask": "Unsubscribe from {list}?",
        "ask_body": "You will then no longer get these e-mails{org} at {who}.",
        "button": "Unsubscribe",
        "hint": "Nothing changes until you press the button.",
        "done_title": "You are unsubscribed",
        "done_body": "You will get no more of these e-mails{org} at {who}. "
                     "This takes effect immediately.",
        "bad_title": "This link is not valid",
        "bad_body": "The unsubscribe link is damaged or too old. To unsubscribe, reply to the "
                    "e-mail with the word \u201cunsubscribe\u201d.",
        "busy_title": "Please try again shortly",
        "busy_body": "We could not process the request right now. Nothing was changed; please "
                     "try again in a few minutes.",
        "slow_title": "Too many requests",
        "slow_body": "Please wait a minute and try again.",
        "all": "all marketing e-mails",
        "newsletter": "the mailing list \u201c{name}\u201d",
        "from": " from {org}",
    },
    "de": {
        "title": "Abmelden",
        "ask": "{list_cap} abbestellen?",
        "ask_body": "Sie erhalten diese E-Mails{org} dann nicht mehr an {who}.",
        "button": "Abmelden",
        "hint": "Erst der Klick auf die Schaltfl\u00e4che meldet Sie ab.",
        "done_title": "Sie sind abgemeldet",
        "done_body": "Sie erhalten diese E-Mails{org} nicht mehr an {who}. "
                     "Die Abmeldung gilt ab sofort.",
        "bad_title": "Dieser Link ist ung\u00fcltig",
        "bad_body": "Der Abmeldelink ist besch\u00e4digt oder zu alt. Um sich abzumelden, "
                    "antworten Sie bitte auf die E-Mail mit dem Wort \u201eabmelden\u201c.",
        "busy_title": "Bitte versuchen Sie es gleich noch einmal",
        "busy_body": "Die Anfrage konnte gerade nicht bearbeitet werden. Es wurde nichts "
                     "ge\u00e4ndert; bitte versuchen Sie es in einigen Minuten erneut.",
        "slow_title": "Zu viele Anfragen",
        "slow_body": "Bitte warten Sie eine Minute und versuchen Sie es erneut.",
        "all": "alle Werbe-E-Mails",
        "newsletter": "den Verteiler \u201e{name}\u201c",
        "from": " von {org}",
    },
}


def mask(address: str) -> str:
    """m***@example.org: enough for the owner to recognise, little for a forwardee."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def page(lang: str, title: str, body: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body><main>{body}</main></body></html>")


class RateLimiter:
    """Token bucket per client address, bounded in memory."""

    MAX_CLIENTS = 50_000

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        tokens, last = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self.buckets) >= self.MAX_CLIENTS and client not in self.buckets:
            # Forget buckets that have refilled: they carry no state worth keeping.
            full = [k for k, (t, ts) in self.buckets.items()
                    if t + (now - ts) * self.rate >= self.burst]
            for k in full[: len(full) // 2 + 1]:
                del self.buckets[k]
        if tokens < 1.0:
            self.buckets[client] = (tokens, now)
            return False
        self.buckets[client] = (tokens - 1.0, now)
        return True


@dataclass(slots=True)
class HttpCounters:
    unsubscribed: int = 0
    already: int = 0
    confirm_pages: int = 0
    invalid_tokens: int = 0
    rate_limited: int = 0
    store_unavailable: int = 0


class _Collector:
    def __init__(self, sources: Callable[[], Iterable[tuple[str, str, dict[str, int]]]],
                 gauges: Callable[[], dict[str, float]]) -> None:
        self.sources = sources
        self.gauges = gauges

    def collect(self) -> Iterable[Metric]:
        for prefix, doc, values in self.sources():
            for name, value in values.items():
                yield CounterMetricFamily(f"consentry_{prefix}_{name}", f"{doc}: {name}",
                                          value=value)
        for gname, gvalue in self.gauges().items():
            yield GaugeMetricFamily(f"consentry_{gname}", gname.replace("_", " "), value=gvalue)


class HttpService:
    def __init__(self, cfg: Config, store: Store, codec: TokenCodec,
                 deliverer: Callable[[], Deliverer | None],
                 counters: Callable[[], dict[str, int]],
                 gauges: Callable[[], dict[str, float]] = dict) -> None:
        self.cfg = cfg
        self.hc: HttpConfig = cfg.http
        self.store = store
        self.codec = codec
        self.deliverer = deliverer
        self.relay_counters = counters
        self.counters = HttpCounters()
        self.limiter = RateLimiter(self.hc.rate_limit_per_minute, self.hc.rate_limit_burst)
        self.proxies = [ipaddress.ip_network(n, strict=False) for n in self.hc.trusted_proxies]
        self.log = logs.get("consentry.http")
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self._metric_sources, gauges))
        # Labelled counters, histograms and the Redis-derived gauges (metrics.py).
        self.registry.register(MetricsCollector())
        self.runner: web.AppRunner | None = None
        self.ports: list[int] = []
        self._ready_cache: tuple[float, int, dict[str, str]] | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=self.hc.max_body_bytes,
                              middlewares=[self._middleware])
        app.router.add_get("/u/{token}", self.confirm_page)
        app.router.add_post("/u/{token}", self.unsubscribe)
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        if self.hc.metrics:
            app.router.add_get("/metrics", self.metrics)
        return app

    async def start(self) -> None:
        self.runner = web.AppRunner(self.make_app(), access_log=None,
                                    handler_cancellation=True)
        await self.runner.setup()
        for i, hp in enumerate(self.hc.listen):
            host, port = parse_hostport(hp, f"http.listen[{i}]")
            site = web.TCPSite(self.runner, host, port, reuse_address=True,
                               reuse_port=self.cfg.submission.reuse_port)
            try:
                await site.start()
            except OSError as exc:
                from .errors import ConfigError

                raise ConfigError(f"http.listen[{i}]",
                                  f"cannot listen on {hp}: {exc.strerror}") from None
        self.ports = [int(a[1]) for a in self.runner.addresses]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def base_url(self) -> str:
        if self.hc.base_url:
            return self.hc.base_url
        host, _ = parse_hostport(self.hc.listen[0], "http.listen[0]")
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.ports[0]}"

    # -- plumbing -----------------------------------------------------------------------

    def client_ip(self, request: web.Request) -> str:
        remote = request.remote or "?"
        try:
            ip = ipaddress.ip_address(remote)
        except ValueError:
            return remote
        if self.proxies and any(ip in n for n in self.proxies):
            hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
            for hop in reversed([h for h in hops if h]):
                try:
                    hip = ipaddress.ip_address(hop)
                except ValueError:
                    break
                if not any(hip in n for n in self.proxies):
                    return hop
        return remote

    def lang(self, request: web.Request) -> str:
        forced = request.query.get("lang")
        if forced in TEXT:
            return forced
        if self.hc.language != "auto":
            return self.hc.language
        best: str = self.hc.default_language
        best_q = 0.0
        for item in request.headers.get("Accept-Language", "").split(",")[:20]:
            tag, _, params = item.strip().partition(";")
            base = tag.strip().lower().split("-", 1)[0]
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    q = 0.0
            if base in TEXT and q > best_q:
                best, best_q = base, q
        return best

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except web.HTTPException as exc:  # 404, 405, 413, 408: aiohttp's own answers
            for k, v in SECURITY_HEADERS.items():
                exc.headers.setdefault(k, v)
            raise
        except Exception as exc:  # never a stack trace to the client
            self.log.error("http_error", path=request.path[:100],
                           reason=f"{type(exc).__name__}: {exc}")
            resp = self._html(request, 500, "busy_title", "busy_body")
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    def _html(self, request: web.Request, status: int, title: str, body: str,
              **values: str) -> web.Response:
        lang = self.lang(request)
        t = TEXT[lang]
        content = (f"<h1>{html.escape(t[title].format(**values))}</h1>"
                   f"<p>{html.escape(t[body].format(**values))}</p>")
        return web.Response(status=status, text=page(lang, t[title], content),
                            content_type="text/html", charset="utf-8")

    def _describe(self, lang: str, ref: TokenRef) -> dict[str, str]:
        t = TEXT[lang]
        if ref.scope.startswith("list:"):
            name = ref.scope[5:]
            lst = t["newsletter"].format(name=self.hc.list_names.get(name, name))
        else:
            lst = t["all"]
        org = t["from"].format(org=self.hc.organisation) if self.hc.organisation else ""
        return {"list": lst, "list_cap": lst[:1].upper() + lst[1:], "org": org,
                "who": mask(ref.recipient)}

    async def _resolve(self, request: web.Request) -> TokenRef | web.Response:
        """The token's reference record, or the response to send instead."""
        if not self.limiter.allow(self.client_ip(request)):
            self.counters.rate_limited += 1
            resp = self._html(request, 429, "slow_title", "slow_body")
            resp.headers["Retry-After"] = "60"
            return resp
        token = request.match_info.get("token", "")
        try:
            claims = self.codec.verify(token, time.time())
        except TokenError as exc:
            self.counters.invalid_tokens += 1
            self.log.info("token_refused", reason=exc.reason, method=request.method,
                          client=self.client_ip(request))
            return self._html(request, 400, "bad_title", "bad_body")
        try:
            raw = await self.store.resolve_token_ref(claims.ref)
        except StoreUnavailable as exc:
            self.counters.store_unavailable += 1
            self.log.error("token_store_unavailable", reason=str(exc))
            return self._html(request, 503, "busy_title", "busy_body")
        ref: TokenRef | None = None
        if raw is not None:
            try:
                ref = TokenRef.from_json(claims.ref, raw)
            except ValueError:
                ref = None
        if ref is None:
            self.counters.invalid_tokens += 1
            self.log.warning("token_ref_unknown", ref=claims.ref, key_id=claims.key_id,
                             issued_at=claims.issued_at)
            return self._html(request, 400, "bad_title", "bad_body")
        return ref

    # -- handlers -----------------------------------------------------------------------

    async def confirm_page(self, request: web.Request) -> web.StreamResponse:
        """GET/HEAD: read only. Never writes, whatever headers a prefetcher sends."""
        ref = await self._resolve(request)
        if isinstance(ref, web.Response):
            return ref
        self.counters.confirm_pages += 1
        lang = self.lang(request)
        t = TEXT[lang]
        v = self._describe(lang, ref)
        token = html.escape(request.match_info["token"], quote=True)
        body = (f"<h1>{html.escape(t['ask'].format(**v))}</h1>"
                f"<p>{html.escape(t['ask_body'].format(**v))}</p>"
                f'<form method="post" action="/u/{token}?lang={lang}">'
                '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
                '<input type="hidden" name="via" value="page">'
                f'<button type="submit">{html.escape(t["button"])}</button></form>'
                f'<p class="small">{html.escape(t["hint"])}</p>')
        return web.Response(text=page(lang, t["title"], body), content_type="text/html",
                            charset="utf-8")

    async def unsubscribe(self, request: web.Request) -> web.StreamResponse:
        try:
            async with asyncio.timeout(self.hc.request_timeout):
                form = await request.post()
        except TimeoutError:
            raise web.HTTPRequestTimeout(text="request body too slow") from None
        except ValueError:
            return self._html(request, 400, "bad_title", "bad_body")
        ref = await self._resolve(request)
        if isinstance(ref, web.Response):
            return ref
        if form.get("List-Unsubscribe") != "One-Click":
            # RFC 8058 §3.1: the POST body must carry List-Unsubscribe=One-Click.
            return self._html(request, 400, "bad_title", "bad_body")
        via = "confirm-page" if form.get("via") == "page" else "one-click"
        now = time.time()
        evidence = f"token ref {ref.ref}" + (f" campaign {ref.campaign}" if ref.campaign
                                             else "")
        rec = SuppressionRecord(ref.recipient, ref.scope, "unsubscribe", via, now,
                                evidence=evidence[:200])
        try:
            new = (not await self._already_unsubscribed(ref, now)
                   and await self.store.add_suppression(
                       rec, actor=f"http:{self.client_ip(request)}"))
        except StoreUnavailable as exc:
            self.counters.store_unavailable += 1
            self.log.error("unsubscribe_not_recorded", reason=str(exc), ref=ref.ref)
            return self._html(request, 503, "busy_title", "busy_body")
        if new:
            self.counters.unsubscribed += 1
        else:
            self.counters.already += 1
        self.log.info("unsubscribed", key=ref.recipient, scope=ref.scope, source=via,
                      campaign=ref.campaign, new=new)
        lang = self.lang(request)
        return self._html(request, 200, "done_title", "done_body",
                          **self._describe(lang, ref))

    async def _already_unsubscribed(self, ref: TokenRef, now: float) -> bool:
        """A replayed POST (a client retrying, a scanner, the confirm page after the
        one-click) is the same objection: answered 200 again, but the first record and its
        time stay and no second audit entry is written. (Two POSTs racing each other
        may both write: harmless, the record is the same.)"""
        held = await self.store.suppressions_of([ref.recipient])
        return any(s.scope == ref.scope and s.reason == "unsubscribe" and s.active(now)
                   for s in held.get(ref.recipient, []))

    async def healthz(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    async def readyz(self, request: web.Request) -> web.StreamResponse:
        now = time.monotonic()
        if self._ready_cache is not None and now - self._ready_cache[0] < 2.0:
            _, cached_status, cached = self._ready_cache
            return web.json_response(cached, status=cached_status)
        checks: dict[str, str] = {}
        try:
            await self.store.check_ready()
            checks["redis"] = "ok"
        except StoreUnavailable as exc:
            checks["redis"] = f"unavailable: {exc}"[:200]
        d = self.deliverer()
        try:
            if d is None:
                raise ConsentryError("not started")
            await d.probe()
            checks["downstream"] = "ok"
        except ConsentryError as exc:
            checks["downstream"] = f"unavailable: {exc}"[:200]
        status = 200 if all(v == "ok" for v in checks.values()) else 503
        self._ready_cache = (now, status, checks)
        return web.json_response(checks, status=status)

    def _metric_sources(self) -> list[tuple[str, str, dict[str, int]]]:
        return [("relay", "messages and decisions of the submission listener",
                 self.relay_counters()),
                ("http", "unsubscribe endpoint outcomes",
                 {k: getattr(self.counters, k) for k in self.counters.__slots__})]

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={
            "Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
