"""Wiring on ONE event loop: Redis (embedded or external), the downstream, the submission
listener, the DSN worker; SIGTERM drains, SIGHUP reloads."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import signal
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config as config_mod
from . import embedded_redis, logs, sdnotify
from .config import Config, parse_hostport
from .delivery import Deliverer, OutboxDeliverer, SMTPDeliverer
from .errors import ConfigError, ConsentryError, StoreUnavailable
from .notify import DsnWorker
from .outbound import Relay
from .smtp_server import (
    LISTEN_BACKLOG,
    ConnectionLimits,
    Sessions,
    SubmissionHandler,
    make_factory,
)
from .store import Store


def redis_url(cfg: Config) -> str:
    return embedded_redis.url(cfg) if cfg.redis.embedded else cfg.redis.url


def make_deliverer(cfg: Config) -> Deliverer:
    if cfg.downstream.host is None:
        return OutboxDeliverer(cfg.outbox, cfg.path(cfg.outbox.dir))
    ca = cfg.downstream.ca_file
    return SMTPDeliverer(cfg.downstream, cfg.server.hostname,
                         str(cfg.path(ca)) if ca is not None else None)


async def check_canary(cfg: Config, store: Store) -> str | None:
    """Create the canary on a fresh install; never re-create it on a store that lost it."""
    marker = cfg.path(cfg.server.state_dir) / "epoch"
    epoch = await store.epoch()
    log = logs.get("consentry.store")
    if epoch is None:
        if cfg.redis.canary == "create-if-fresh" and not marker.exists():
            epoch = await store.init_epoch()
            log.info("store_initialised", epoch=epoch)
        else:
            log.error(
                "store_canary_missing",
                hint="Redis answers but has lost consentry's data (restart without "
                "persistence, FLUSHALL, stale replica). Every message gets 451 until an "
                "admin restores the data or runs `consentry init --force`.",
            )
            return None
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(epoch + "\n")
    return epoch


async def check_memory_policy(store: Store, at_start: bool = True) -> None:
    """Redis must never evict: an evicted suppression lets advertising through to someone
    who objected, an evicted token reference breaks an unsubscribe link, an evicted retry
    marker sends a copy twice. With a `maxmemory` limit and any policy but `noeviction`
    the daemon refuses to start (ConfigError: exit 2); without a limit it warns, since
    eviction would begin as soon as one is set. Full memory under `noeviction` makes
    writes fail, which consentry answers with 451 like any other Redis error."""
    log = logs.get("consentry.store")
    got = await store.memory_policy()
    if got is None:
        log.warning("redis_memory_policy_unknown",
                    hint="INFO memory is not allowed or says nothing: make sure the Redis "
                    "server runs with maxmemory-policy noeviction")
        return
    maxmemory, policy = got
    if policy == "noeviction":
        return
    hint = ("Redis would silently delete keys (suppressions, consent records, token "
            "references) when memory runs out: set maxmemory-policy noeviction")
    if maxmemory > 0:
        log.error("redis_evicts_keys", maxmemory=maxmemory, maxmemory_policy=policy,
                  hint=hint)
        if at_start:
            raise ConfigError("redis", f"the Redis server evicts keys (maxmemory-policy "
                              f"{policy}, maxmemory {maxmemory}); set maxmemory-policy "
                              "noeviction")
        return
    log.warning("redis_eviction_policy", maxmemory=0, maxmemory_policy=policy,
                hint=hint + " (no maxmemory is set, so nothing is evicted yet)")


@dataclass
class App:
    cfg: Config
    config_path: str | None = None
    store: Store | None = None
    bg_store: Store | None = None
    deliverer: Deliverer | None = None
    relay: Relay | None = None
    servers: list[asyncio.Server] = field(default_factory=list)
    supervisor: embedded_redis.Supervisor | None = None
    draining: bool = False
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    http: Any = None  # http.HttpService when http.enabled
    retry_worker: Any = None  # retryq.RetryWorker
    log: Any = None
    inbound: Any = None  # inbound_server.InboundService when inbound.enabled
    inbound_store: Store | None = None
    auditor: Any = None  # audit.Auditor, shared by every Store of the process
    sessions: Sessions = field(default_factory=Sessions)  # open submission sessions
    handler: SubmissionHandler | None = None
    stopping: bool = False  # SIGTERM received (serve); draining follows in stop()
    limits: ConnectionLimits | None = None
    webhooks: Any = None  # webhooks.Publisher when webhooks are configured
    webhook_store: Store | None = None

    @property
    def ports(self) -> list[int]:
        out: list[int] = []
        for s in self.servers:
            for sock in s.sockets:
                out.append(sock.getsockname()[1])
        return out

    async def start(self) -> None:
        cfg = self.cfg
        self.log = logs.get("consentry")
        cfg.path(cfg.server.state_dir).mkdir(parents=True, exist_ok=True)
        if cfg.redis.embedded:
            self.supervisor = embedded_redis.Supervisor(cfg)
            await self.supervisor.start()
        from . import audit
        from .keyfiles import store_keys

        keys = store_keys(cfg)
        self.store = Store(cfg.redis, redis_url(cfg), keys)
        self.auditor = audit.auditor_for(cfg, self.store)
        audit.attach(self.store, self.auditor)
        try:
            await check_memory_policy(self.store)
            await check_canary(cfg, self.store)
            await self.store.requeue_stale_dsns()
        except StoreUnavailable as exc:
            # Start anyway: every message gets 451 until Redis is back (fail closed), and
            # keep trying, so a fresh install whose Redis comes up late is initialised
            # then (create-if-fresh still never re-creates a canary this host knew).
            self.log.error("store_unavailable_at_start", reason=str(exc))
            self.tasks.append(asyncio.get_running_loop().create_task(
                self._init_store_when_reachable()))
        self.deliverer = make_deliverer(cfg)
        try:
            await self.deliverer.probe()
        except ConsentryError as exc:
            self.log.error("downstream_unavailable_at_start", reason=str(exc))
        smtputf8 = cfg.submission.smtputf8 and self.deliverer.supports_smtputf8
        base_url = cfg.http.base_url
        if cfg.http.enabled:
            # Before the relay: with port 0 the unsubscribe URL needs the real port.
            from .http import HttpService
            from .keyfiles import token_codec

            self.http = HttpService(
                cfg, self.store, token_codec(cfg), lambda: self.deliverer,
                lambda: self.relay.counters.as_dict() if self.relay else {},
                lambda: {"retry_backlog": float(getattr(self.retry_worker, "backlog", 0))})
            await self.http.start()
            base_url = self.http.base_url()
        from .keyfiles import rewriter

        self.relay = Relay(cfg, self.store, self.deliverer, rewriter=rewriter(cfg, base_url))
        if cfg.unsubscribe.enabled and not self.relay.rewriter.has_links:
            self.log.warning("unsubscribe_links_unavailable",
                             hint="marketing mail leaves WITHOUT List-Unsubscribe: enable "
                             "http (or set http.base_url) or unsubscribe.mailto_domain")
        self.handler = handler = SubmissionHandler(cfg, self.relay)
        self.limits = limits = ConnectionLimits(cfg.submission.max_connections,
                                                cfg.submission.max_connections_per_ip)
        from .tlsctx import server_context

        handler.tls_context = server_context(cfg, cfg.submission.tls, "submission.tls")
        factory = make_factory(cfg, handler, limits, lambda: self.draining, smtputf8,
                               self.sessions)
        loop = asyncio.get_running_loop()
        for i, hp in enumerate(cfg.submission.listen):
            host, port = parse_hostport(hp, f"submission.listen[{i}]")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                server = await loop.create_server(factory, host, port, family=family,
                                                  reuse_address=True, backlog=LISTEN_BACKLOG,
                                                  reuse_port=cfg.submission.reuse_port)
            except OSError as exc:
                raise ConfigError(f"submission.listen[{i}]",
                                  f"cannot listen on {hp}: {exc.strerror}") from None
            self.servers.append(server)
        for hp in cfg.submission.listen:
            host = parse_hostport(hp, "submission.listen")[0]
            if not handler.tls_context and not _loopback(host):
                self.log.warning("submission_without_tls", listen=hp,
                                 hint="set submission.tls (STARTTLS): AUTH is offered only "
                                 "after TLS, and mail crosses the network in clear")
        tls_factory = make_factory(cfg, handler, limits, lambda: self.draining, smtputf8,
                                   self.sessions, implicit_tls=True)
        for i, hp in enumerate(cfg.submission.tls_listen):
            host, port = parse_hostport(hp, f"submission.tls_listen[{i}]")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                server = await loop.create_server(tls_factory, host, port, family=family,
                                                  reuse_address=True, backlog=LISTEN_BACKLOG,
                                                  reuse_port=cfg.submission.reuse_port,
                                                  ssl=handler.tls_context)
            except OSError as exc:
                raise ConfigError(f"submission.tls_listen[{i}]",
                                  f"cannot listen on {hp}: {exc.strerror}") from None
            self.servers.append(server)
        # Background jobs get their own small pool so they never take the relay's slots.
        self.bg_store = audit.attach(
            Store(dataclasses.replace(cfg.redis, pool_size=2), redis_url(cfg), keys),
            self.auditor)
        # The audit mirror reads the stream through the background pool, never taking
        # the relay's connections.
        self.auditor.store = self.bg_store
        self.tasks.append(loop.create_task(audit.run_sync_loop(
            self.auditor, cfg.audit.sync_interval, lambda: self.draining)))
        from . import metrics_refresh
        from .metrics import METRICS

        self.tasks.append(loop.create_task(metrics_refresh.run(
            cfg, self.bg_store, lambda: self.draining)))
        METRICS.redis_errors = lambda: sum(
            st.errors for st in (self.store, self.bg_store, self.inbound_store) if st)
        METRICS.redis_extensions = lambda: sum(
            st.lag_extensions for st in (self.store, self.bg_store, self.inbound_store)
            if st)
        METRICS.audit_chain = lambda: self.auditor.chain_length
        await self._start_webhooks(cfg)
        worker = DsnWorker(self.bg_store, self.deliverer, cfg.server.hostname)
        self.tasks.append(loop.create_task(worker.run()))
        self.tasks.append(loop.create_task(self._replay_spool_loop()))
        from .retryq import RetryWorker

        self.retry_worker = RetryWorker(self.bg_store, self.deliverer, cfg.retry, cfg.notify,
                                        cfg.path(cfg.server.state_dir) / "spool" / "retry.jsonl")
        self.tasks.append(loop.create_task(self.retry_worker.run()))
        self.tasks.append(loop.create_task(self._doi_purge_loop()))
        if cfg.inbound.enabled:
            from .inbound_server import InboundService
            from .keyfiles import token_codec

            # Its own small pool: a burst of bounces never takes the relay's slots.
            self.inbound_store = audit.attach(
                Store(dataclasses.replace(cfg.redis, pool_size=4), redis_url(cfg), keys),
                self.auditor)
            self.inbound = InboundService(cfg, self.inbound_store, self.deliverer,
                                          token_codec(cfg), lambda: self.draining)
            await self.inbound.start()
        self.log.info(
            "started",
            listen=[f"{hp}->{p}" for hp, p in zip(
                [*cfg.submission.listen, *(f"tls:{x}" for x in cfg.submission.tls_listen)],
                self.ports, strict=False)],
            downstream=(f"{cfg.downstream.host}:{cfg.downstream.port}"
                        if cfg.downstream.host else f"outbox {cfg.path(cfg.outbox.dir)}"),
            redis=redis_description(cfg),
            smtputf8=smtputf8,
            event_loop=type(loop).__module__.split(".")[0],
        )

    async def _start_webhooks(self, cfg: Config, eps: Any = None) -> None:
        """Signed webhooks of the audit stream (webhooks.py), with their own pool: the
        blocking stream reads never hold the relay's connections."""
        from . import webhooks

        if not cfg.webhooks:
            return
        eps = webhooks.endpoints(cfg) if eps is None else eps  # ConfigError: secret files
        for w in cfg.webhooks:
            if webhooks.insecure(w):
                self.log.warning("webhook_without_tls", url=webhooks.redact(w.url),
                                 hint="use https://: events name addresses")
        from .keyfiles import store_keys

        self.webhook_store = Store(webhooks.store_config(cfg), redis_url(cfg),
                                   store_keys(cfg))
        self.webhooks = webhooks.Publisher(cfg, self.webhook_store, eps)
        await self.webhooks.start()

    async def _stop_webhooks(self, drain: float) -> None:
        if self.webhooks is not None:
            await self.webhooks.stop(drain)
            self.webhooks = None
        if self.webhook_store is not None:
            await self.webhook_store.close()
            self.webhook_store = None

    async def _restart_webhooks(self, cfg: Config, eps: Any) -> None:
        await self._stop_webhooks(self.cfg.server.drain_timeout)
        if not self.draining:
            await self._start_webhooks(cfg, eps)
            self.log.info("webhooks_reloaded", endpoints=len(cfg.webhooks))

    async def _init_store_when_reachable(self, interval: float = 0.5) -> None:
        assert self.store is not None
        while not self.draining:
            await asyncio.sleep(interval)
            try:
                await check_memory_policy(self.store, at_start=False)
                epoch = await check_canary(self.cfg, self.store)
                await self.store.requeue_stale_dsns()
            except StoreUnavailable:
                continue
            self.log.info("store_reachable", canary="ok" if epoch else "missing")
            return

    async def _replay_spool_loop(self, interval: float = 1.0) -> None:
        """Apply refusals spooled while Redis was down (spool_replay), at start and then
        every `interval` seconds until draining."""
        from .spool_replay import replay_refusals

        assert self.relay is not None and self.store is not None
        log = logs.get("consentry.spool")
        while not self.draining:
            try:
                await replay_refusals(self.store, self.relay.fallback_spool, log)
            except StoreUnavailable:
                pass
            except Exception as exc:  # never let a bad file end the loop
                log.error("spool_replay_failed", reason=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(interval)

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Drain (RELIABILITY S1): listeners closed at once (a late connection gets 421),
        transactions in flight may finish within `drain_timeout` (server.drain_timeout),
        every other command gets 421; a message already handed to the relay still gets
        its final reply (bounded by the downstream timeouts). The inbound listener drains
        the same way, at the same time; what it spooled is then processed (bounded)."""
        if drain_timeout is None:
            drain_timeout = self.cfg.server.drain_timeout
        self.draining = True
        for s in self.servers:
            s.close()
        loop = asyncio.get_running_loop()
        inbound_drain = None
        if self.inbound is not None:
            self.inbound.close_listeners()
            inbound_drain = loop.create_task(self.inbound.drain(drain_timeout),
                                             name="inbound-drain")
        t0 = loop.time()
        open_tx = await self.sessions.drain(drain_timeout)
        if open_tx and self.log is not None:
            self.log.warning("drain_timeout", sessions_cut=open_tx, timeout=drain_timeout)
        pending = (await self.relay.drain(max(drain_timeout - (loop.time() - t0), 5.0))
                   if self.relay else 0)
        self.sessions.close_all()
        if inbound_drain is not None:
            await inbound_drain
        if self.http is not None:
            await self.http.stop()
        if self.inbound is not None:
            await self.inbound.stop(min(drain_timeout, 10.0))
        # Webhooks: an attempt in flight finishes; what is left stays in the consumer
        # group for the next process (at least once).
        await self._stop_webhooks(min(drain_timeout, 15.0))
        await cancel_and_wait(self.tasks, self.log)
        if self.deliverer is not None:
            await self.deliverer.close()
        for st in (self.store, self.bg_store, self.inbound_store):
            if st is not None:
                await st.close()
        if self.supervisor is not None:
            await self.supervisor.stop()
        counters = self.relay.counters.as_dict() if self.relay else {}
        self.log.info("stopped", unfinished=pending, **counters)

    async def _doi_purge_loop(self) -> None:
        """Pending (unconfirmed) DOI sign-ups are deleted after policy.doi_pending_days
        (SPEC §1.5), every policy.doi_purge_interval seconds (0 = off; reload applies)."""
        log = logs.get("consentry.doi")
        # A first pass shortly after start, then every interval. `draining` ends the loop
        # even if a cancel was swallowed inside a Redis call (redis-py#2028).
        await asyncio.sleep(1.0)
        while not self.draining:
            policy = self.cfg.policy
            if policy.doi_purge_interval > 0 and self.bg_store is not None:
                try:
                    n = await self.bg_store.purge_pending(
                        time.time() - policy.doi_pending_days * 86400, actor="purge-job")
                    if n:
                        log.info("doi_pending_purged", count=n,
                                 older_than_days=policy.doi_pending_days)
                    # Expired suppressions (soft-bounce pauses) go too, each audited.
                    n = await self.bg_store.expire_due(time.time())
                    if n:
                        log.info("suppressions_expired", count=n)
                except StoreUnavailable as exc:
                    log.warning("doi_purge_failed", reason=str(exc))
            await asyncio.sleep(policy.doi_purge_interval or 60.0)

    def reload(self) -> None:
        if self.config_path is None or self.relay is None:
            return
        try:
            new = config_mod.load(self.config_path)
        except ConfigError as exc:
            self.log.error("reload_refused", reason=str(exc))
            return
        # Policy, classification and address rules take effect for the next message;
        # listeners, Redis and downstream settings need a restart.
        from .keyfiles import rewriter

        try:
            # Unsubscribe, tracking, DKIM and token keys (rotation) too; the http
            # listener keeps its address, so the links keep its base URL.
            new_rewriter = rewriter(new, self.http.base_url() if self.http is not None
                                    else new.http.base_url)
            # Certificates: checked on a scratch context, then loaded into the live one
            # (new handshakes use them); TLS cannot be switched on or off by a reload.
            from .auth import load_users
            from .tlsctx import reload_into

            load_users(new)  # a broken credentials file is refused, the old users stay
            from . import webhooks

            new_eps = webhooks.endpoints(new)  # unreadable secret files are refused
            tls_swaps = []
            for where, live, tls in (
                ("submission.tls", self.handler.tls_context if self.handler else None,
                 new.submission.tls),
                ("inbound.tls", getattr(self.inbound, "tls_context", None), new.inbound.tls),
            ):
                if live is not None and tls.enabled:
                    reload_into(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER), new, tls, where)
                    tls_swaps.append((live, tls, where))
        except ConfigError as exc:
            self.log.error("reload_refused", reason=str(exc))
            return
        for live, tls, where in tls_swaps:
            reload_into(live, new, tls, where)
        old = self.cfg
        self.cfg = new
        self.relay.cfg = new
        self.relay.rewriter = new_rewriter
        if self.handler is not None:
            # open sessions share the handler: their next command sees the new rules
            self.handler.reconfigure(new)
        if self.limits is not None:
            self.limits.total = new.submission.max_connections
            self.limits.per_ip = new.submission.max_connections_per_ip
        if self.http is not None:
            self.http.codec = new_rewriter.codec  # rotated keys verify at once
        if new.webhooks != old.webhooks or [e.secret for e in new_eps] != [
                e.secret for e in getattr(self.webhooks, "endpoints", [])]:
            # Restarted with the new endpoints: in-flight attempts finish first.
            self.tasks.append(asyncio.get_running_loop().create_task(
                self._restart_webhooks(new, new_eps), name="webhooks-reload"))
        restart = [k for k, a, b in (
            ("submission.listen", old.submission.listen, new.submission.listen),
            ("redis", old.redis, new.redis),
            ("downstream", old.downstream, new.downstream),
            ("http.listen", old.http.listen, new.http.listen),
            ("inbound", old.inbound, new.inbound),
        ) if a != b]
        if restart:
            self.log.warning("reload_needs_restart", keys=restart,
                             hint="these settings keep their old values until a restart")
        self.log.info("reloaded", config=self.config_path)
        sdnotify.notify(f"STATUS=reloaded {self.config_path}; listening on "
                        f"{', '.join(map(str, self.ports))}")


async def cancel_and_wait(tasks: list[asyncio.Task[Any]], log: Any, rounds: int = 20) -> None:
    """Cancel background tasks and wait for them, bounded.

    One cancel() is not enough: redis-py's asyncio client can swallow a CancelledError
    that lands at the wrong moment (redis/redis-py#2028, #2551), and a worker loop then
    runs on forever, so SIGTERM never finished. Cancel again until done; give up (and
    say so) after `rounds` x 0.25 s. Task errors are logged, not raised into stop().
    """
    pending = {t for t in tasks if not t.done()}
    for _ in range(rounds):
        if not pending:
            break
        for t in pending:
            t.cancel()
        _done, pending = await asyncio.wait(pending, timeout=0.25)
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception() is not None:
            exc = t.exception()
            log.error("background_task_failed", task=t.get_name(),
                      reason=f"{type(exc).__name__}: {exc}")
    if pending:
        log.error("background_tasks_not_stopped", tasks=[t.get_name() for t in pending])


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def redis_description(cfg: Config) -> str:
    """Where the store is, for the 'started' line (never a password)."""
    rc = cfg.redis
    if rc.embedded:
        return "embedded"
    if rc.sentinel is not None:
        return f"sentinel {rc.sentinel.master} via {','.join(rc.sentinel.nodes)}"
    if rc.cluster is not None:
        return f"cluster {','.join(rc.cluster.nodes)}"
    return _redact(rc.url)


def _redact(url: str) -> str:
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url


async def _watchdog(app: App, interval: float) -> None:
    """WATCHDOG=1 from the event loop itself (WatchdogSec): a loop that stalls stops the
    pings and systemd restarts us. Each ping carries a STATUS= line with the counters."""
    while True:
        c = app.relay.counters.as_dict() if app.relay is not None else {}
        state = ("draining" if app.stopping
                 else f"listening on {', '.join(map(str, app.ports))}")
        sdnotify.notify(f"WATCHDOG=1\nSTATUS={state}; {c.get('messages', 0)} messages, "
                        f"{c.get('relayed', 0)} relayed, {len(app.sessions.open)} sessions open")
        await asyncio.sleep(interval)


async def serve(cfg: Config, config_path: str | None = None) -> int:
    logs.setup(cfg.log, cfg.base_dir)
    app = App(cfg, config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, app.reload)
    try:
        await app.start()
    except (ConfigError, StoreUnavailable) as exc:
        logs.get("consentry").error("start_failed", reason=str(exc))
        await app.stop(0)
        return 2
    # What start built (modules, config, compiled rules, pools) lives as long as the
    # process: move it out of the cyclic collector's reach, whose full passes otherwise
    # walk all of it and stall every session at once (bench/relay.py: 100+ ms pauses).
    gc.freeze()
    sdnotify.notify(f"READY=1\nSTATUS=listening on {', '.join(map(str, app.ports))}")
    interval = sdnotify.watchdog_interval()
    watchdog = (loop.create_task(_watchdog(app, interval), name="watchdog")
                if interval is not None else None)
    await stop.wait()
    app.stopping = True  # the watchdog keeps pinging through the drain, saying so
    sdnotify.notify(f"STOPPING=1\nSTATUS=draining (up to {cfg.server.drain_timeout:g} s)")
    await app.stop()
    if watchdog is not None:
        watchdog.cancel()
    return 0


__all__ = ["App", "Path", "serve"]
