"""One config tree, validated once at start.

`load(path)` returns a frozen dataclass tree. Unknown keys, wrong types and bad values
raise ConfigError naming the dotted key path (``submission.max_recipients``), so an
operator sees exactly what to fix. Reload builds a new tree; nothing mutates one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
import types
import typing
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from .errors import ConfigError

MessageClass = Literal["marketing", "transactional", "doi-confirmation", "service"]
MESSAGE_CLASSES: tuple[str, ...] = typing.get_args(MessageClass)


@dataclass(frozen=True)
class ServerConfig:
    hostname: str = "consentry.localhost"
    state_dir: str = "./var"
    # SIGTERM: how long sessions in the middle of a transaction may take to finish it
    # before every session gets 421 and the process exits (RELIABILITY S1).
    drain_timeout: float = 30.0
    # uvloop (the default): libuv event loop, less CPU per message; asyncio: the stdlib one
    event_loop: Literal["asyncio", "uvloop"] = "uvloop"


@dataclass(frozen=True)
class ListenerTlsConfig:
    """STARTTLS (and implicit TLS on tls_listen) for a listener; off while cert is unset."""

    cert: str | None = None  # PEM certificate chain
    key: str | None = None  # PEM private key
    min_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"
    client_ca: str | None = None  # PEM CA bundle: clients must present a cert it signed
    require_starttls: bool = False  # 530 to every command but EHLO/NOOP/QUIT before TLS

    @property
    def enabled(self) -> bool:
        return self.cert is not None


@dataclass(frozen=True)
class AuthConfig:
    """SMTP AUTH PLAIN/LOGIN on the submission listener, only after TLS (consentry.auth)."""

    users_file: str | None = None  # JSON of scrypt hashes, `consentry user add` writes it
    max_failures: int = 5  # failed attempts per client IP within failure_window -> 421
    failure_window: float = 300.0
    failure_delay: float = 1.0  # seconds each failed attempt costs its session


@dataclass(frozen=True)
class SubmissionConfig:
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1:2525"])
    client_networks: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    max_message_size: int = 26_214_400
    max_recipients: int = 500
    line_length_limit: int = 1001
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    # a whole session's limit: command_timeout restarts with every command, so a client
    # sending RSET every 299 s would hold its connection slot for ever
    session_timeout: float = 1800.0
    max_connections: int = 200
    max_connections_per_ip: int = 50
    smtputf8: bool = True
    bare_newlines: Literal["reject", "normalize"] = "reject"
    tls: ListenerTlsConfig = field(default_factory=ListenerTlsConfig)
    tls_listen: list[str] = field(default_factory=list)  # implicit TLS (port 465 style)
    # SO_REUSEPORT on every listener: several `consentry serve` processes (one per core)
    # bind the same address and the kernel spreads connections over them
    reuse_port: bool = False
    auth: AuthConfig = field(default_factory=AuthConfig)


@dataclass(frozen=True)
class RedisSentinelConfig:
    master: str = ""  # the master (service) name the sentinels monitor
    nodes: list[str] = field(default_factory=list)  # sentinels, HOST:PORT
    password: str | None = None  # the sentinels' own requirepass, if any
    username: str | None = None


@dataclass(frozen=True)
class RedisClusterConfig:
    nodes: list[str] = field(default_factory=list)  # startup nodes, HOST:PORT


@dataclass(frozen=True)
class RedisConfig:
    embedded: bool = True
    url: str = "redis://127.0.0.1:6379/0"
    # Alternatives to `url` (both need embedded: false): a Sentinel-monitored primary,
    # or a Redis Cluster (keys hash-tagged, see keys.py). Credentials of the data nodes
    # then come from `username`/`password` (in url mode they are part of the URL).
    sentinel: RedisSentinelConfig | None = None
    cluster: RedisClusterConfig | None = None
    username: str | None = None
    password: str | None = None
    embedded_binary: str = "redis-server"
    embedded_appendfsync: Literal["always", "everysec"] = "always"
    deadline_ms: int = 250
    pool_size: int = 64
    pool_wait_ms: int = 1000
    key_prefix: str = "cs:"
    canary: Literal["require", "create-if-fresh"] = "create-if-fresh"
    # Auto-pipelining of the per-message round trips (redis_mux.py); not with cluster.
    auto_pipeline: bool = True


@dataclass(frozen=True)
class DownstreamConfig:
    host: str | None = None
    port: int = 25
    # required-verified: STARTTLS and a certificate that verifies (against ca_file, else
    # the system store) for the host name, or 451 and nothing sent; required is an alias
    # that honours validate_certs; opportunistic: TLS when offered, unverified if needed
    starttls: Literal["none", "opportunistic", "required", "required-verified"] = "none"
    validate_certs: bool = True
    ca_file: str | None = None  # PEM CA bundle the downstream's certificate must chain to
    username: str | None = None
    password: str | None = None
    helo_name: str | None = None
    pool_size: int = 16
    # Recipients per downstream transaction; more go out as further transactions of the
    # same content. 100: what RFC 5321 §4.5.3.1.8 obliges every server to accept.
    max_recipients: int = 100
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    data_timeout: float = 300.0
    idle_timeout: float = 30.0


@dataclass(frozen=True)
class OutboxConfig:
    dir: str = "./var/outbox"
    fsync: bool = True


@dataclass(frozen=True)
class ClassificationRule:
    message_class: MessageClass
    mail_from: str | None = None
    header: str | None = None
    matches: str | None = None


@dataclass(frozen=True)
class ClassificationConfig:
    default: MessageClass = "marketing"
    rules: list[ClassificationRule] = field(default_factory=list)


@dataclass(frozen=True)
class AddressConfig:
    fold_case: bool = True
    plus_separators: str = "+"


DEFAULT_ROLE_ACCOUNTS: tuple[str, ...] = (
    "abuse", "admin", "billing", "buchhaltung", "contact", "office", "hello", "hostmaster",
    "info", "jobs", "kontakt", "mail", "marketing", "noreply", "no-reply", "postmaster",
    "presse", "press", "sales", "service", "support", "team", "vertrieb", "webmaster",
)


@dataclass(frozen=True)
class PolicyConfig:
    # false = "objection-only mode": marketing without an objection is allowed even without
    # a recorded basis (for senders whose own tools manage consent).
    require_basis: bool = True
    accept_coi: bool = False
    accept_soi: bool = False
    doi_pending_days: float = 7.0
    active_customer_months: int = 24
    similar_categories: dict[str, list[str]] = field(default_factory=dict)
    role_accounts: list[str] = field(default_factory=lambda: list(DEFAULT_ROLE_ACCOUNTS))
    new_doi_lifts_objection: bool = True
    doi_purge_interval: float = 3600.0


@dataclass(frozen=True)
class NotifyConfig:
    dsn_on_downstream_refusal: bool = True
    dsn_on_suppression: bool = False
    record_downstream_5xx_as_bounce: bool = True


@dataclass(frozen=True)
class LogConfig:
    decision_log: str = "-"
    format: Literal["auto", "json", "console"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


DEFAULT_DKIM_HEADERS: tuple[str, ...] = (
    "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "In-Reply-To",
    "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "List-Id",
    "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID", "CFBL-Address",
    "CFBL-Feedback-ID",
)


@dataclass(frozen=True)
class TokenKeyConfig:
    id: int
    secret: str | None = None
    secret_file: str | None = None


@dataclass(frozen=True)
class TokensConfig:
    keys: list[TokenKeyConfig] = field(default_factory=list)
    max_age_days: float = 180.0


@dataclass(frozen=True)
class UnsubscribeConfig:
    enabled: bool = True
    classes: list[str] = field(default_factory=lambda: ["marketing"])
    mailto_domain: str | None = None
    mailto_local: str = "unsubscribe"
    existing: Literal["replace", "keep", "merge"] = "replace"
    trace_header: bool = True
    feedback_id: str | None = None
    cfbl_address: str | None = None
    footer_check: Literal["off", "warn", "refuse"] = "off"
    footer_pattern: str = (r"(?i)(unsubscribe|abmelden|abbestellen|austragen|opt[- ]?out"
                           r"|se d[ée]sinscrire|darse de baja|cancella iscrizione)")


@dataclass(frozen=True)
class RetryConfig:
    initial_delay: float = 30.0
    max_delay: float = 3600.0
    max_age: float = 432000.0
    poll_interval: float = 1.0
    lease: float = 600.0


@dataclass(frozen=True)
class DkimKeyConfig:
    domain: str
    selector: str
    private_key_file: str


@dataclass(frozen=True)
class DkimConfig:
    enabled: bool = False
    keys: list[DkimKeyConfig] = field(default_factory=list)
    headers: list[str] = field(default_factory=lambda: list(DEFAULT_DKIM_HEADERS))
    oversign: list[str] = field(
        default_factory=lambda: ["From", "List-Unsubscribe", "List-Unsubscribe-Post"])
    canonicalization: Literal["relaxed/relaxed", "relaxed/simple", "simple/simple"] = (
        "relaxed/relaxed")
    self_check: bool = True
    unsigned: Literal["send", "tempfail"] = "send"


@dataclass(frozen=True)
class TrackingConfig:
    enabled: bool = True
    classes: list[str] = field(default_factory=lambda: ["marketing"])
    hosts: list[str] = field(default_factory=list)
    redirect_params: list[str] = field(
        default_factory=lambda: ["url", "u", "redirect", "redirect_url", "target", "dest",
                                 "destination", "link", "r"])
    redirect_patterns: list[str] = field(default_factory=list)
    strip_tiny_images: bool = True


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool = True
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1:8025"])
    base_url: str | None = None
    language: Literal["auto", "de", "en"] = "auto"
    default_language: Literal["de", "en"] = "en"
    organisation: str = ""
    list_names: dict[str, str] = field(default_factory=dict)
    rate_limit_per_minute: int = 60
    rate_limit_burst: int = 20
    max_body_bytes: int = 8192
    trusted_proxies: list[str] = field(default_factory=list)
    request_timeout: float = 10.0
    metrics: bool = True


@dataclass(frozen=True)
class InboundConfig:
    """The inbound listener for the bounce/reply domain (SPEC §4)."""

    enabled: bool = False
    listen: list[str] = field(default_factory=lambda: ["127.0.0.1:2526"])
    domain: str | None = None  # VERP domain: bounces+TOKEN@domain
    verp_local: str = "bounces"
    # Outgoing VERP: each per-recipient marketing copy leaves with MAIL FROM
    # verp_local+TOKEN@domain (a signed bounce token naming its recipient)
    verp: bool = False
    reply_addresses: list[str] = field(default_factory=list)  # campaign Reply-To addresses
    review_mailbox: str | None = None  # human replies and unknowns, via the downstream
    forward_all: bool = False  # also forward bounces, complaints and auto-replies
    spool_dir: str = "./var/inbound"
    fsync: bool = True
    max_message_size: int = 10_485_760
    max_recipients: int = 50
    max_connections: int = 100
    max_connections_per_ip: int = 20
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    session_timeout: float = 1800.0  # a whole session, however busy (then 421)
    tls: ListenerTlsConfig = field(default_factory=ListenerTlsConfig)
    # Classification runs in worker processes (inbound_pool): a message that takes longer
    # than parse_timeout seconds has its worker killed and replaced and goes to review
    parse_timeout: float = 10.0
    parse_workers: int = 2
    classify_timeout: float | None = None  # the older name of parse_timeout (wins when set)
    intent_threshold: float = 0.8
    soft_bounce_limit: int = 3
    soft_bounce_window_days: float = 14.0
    soft_bounce_suppress_days: float = 30.0


@dataclass(frozen=True)
class AuditConfig:
    """The hash-chained audit file beside the Redis audit stream (docs/audit.md)."""

    file: str = "audit.jsonl"  # relative to server.state_dir; "" = stream only
    fsync: bool = True
    sync_interval: float = 5.0  # the daemon mirrors other writers' entries this often


@dataclass(frozen=True)
class SendsConfig:
    """Per-message send records (docs/audit.md)."""

    enabled: bool = True
    retention_days: float = 365.0


@dataclass(frozen=True)
class StatsConfig:
    enabled: bool = True
    retention_days: float = 40.0  # hourly counter buckets
    refresh_interval: float = 15.0  # /metrics gauges read from Redis this often


@dataclass(frozen=True)
class PrivacyConfig:
    """Suppressions keyed by an HMAC of the address instead of the address (GDPR Art. 17)."""

    hash_suppressions: bool = False
    secret: str | None = None
    secret_file: str | None = None


@dataclass(frozen=True)
class WebhookConfig:
    """One endpoint that gets every audited change as a signed POST (docs/webhooks.md)."""

    url: str
    name: str | None = None  # the consumer group on the audit stream; default from url
    secret: str | None = field(default=None, repr=False)  # key of X-Consentry-Signature
    secret_file: str | None = None
    events: list[str] = field(default_factory=lambda: ["*"])  # globs on the action
    timeout: float = 10.0  # per attempt
    max_attempts: int = 12
    max_age: float = 86400.0  # seconds after the change; then dead-lettered
    initial_backoff: float = 1.0
    max_backoff: float = 600.0
    claim_after: float = 300.0  # a silent consumer's pending events are taken over
    concurrency: int = 1  # POSTs in flight per process; 1 keeps the stream's order


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    submission: SubmissionConfig = field(default_factory=SubmissionConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    downstream: DownstreamConfig = field(default_factory=DownstreamConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    classification: ClassificationConfig = field(default_factory=ClassificationConfig)
    addresses: AddressConfig = field(default_factory=AddressConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    log: LogConfig = field(default_factory=LogConfig)
    tokens: TokensConfig = field(default_factory=TokensConfig)
    unsubscribe: UnsubscribeConfig = field(default_factory=UnsubscribeConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    dkim: DkimConfig = field(default_factory=DkimConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    inbound: InboundConfig = field(default_factory=InboundConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    sends: SendsConfig = field(default_factory=SendsConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    webhooks: list[WebhookConfig] = field(default_factory=list)
    base_dir: str = "."

    def path(self, p: str) -> Path:
        """Resolve a path from the config relative to the config file's directory."""
        q = Path(p)
        return q if q.is_absolute() else Path(self.base_dir) / q


# YAML spells some keys differently from Python attribute names.
_ALIASES: dict[str, str] = {"class": "message_class"}
_REVERSE_ALIASES = {v: k for k, v in _ALIASES.items()}


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(inner[0], value, key)
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(key, f"must be one of {allowed}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, f"must be a list, got {type(value).__name__}")
        return [_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"must be a mapping, got {type(value).__name__}")
        return {
            _convert(args[0], k, f"{key}.{k}"): _convert(args[1], v, f"{key}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _build(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {value!r}")
        return value
    raise ConfigError(key, f"unsupported type {tp!r}")  # pragma: no cover - programming error


def _build(cls: type[Any], data: Any, prefix: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(prefix or "<root>", f"must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for raw_key, value in data.items():
        name = _ALIASES.get(str(raw_key), str(raw_key))
        key = f"{prefix}.{raw_key}" if prefix else str(raw_key)
        if name not in names or name == "base_dir":
            known = ", ".join(sorted(_REVERSE_ALIASES.get(n, n) for n in names - {"base_dir"}))
            raise ConfigError(key, f"unknown key (known here: {known})")
        kwargs[name] = _convert(hints[name], value, key)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.init
        and f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        name = _REVERSE_ALIASES.get(missing[0], missing[0])
        raise ConfigError(f"{prefix}.{name}" if prefix else name, "is required")
    return cls(**kwargs)


def _validate(cfg: Config) -> None:
    for i, hostport in enumerate(cfg.submission.listen):
        parse_hostport(hostport, f"submission.listen[{i}]")
    for i, hostport in enumerate(cfg.submission.tls_listen):
        parse_hostport(hostport, f"submission.tls_listen[{i}]")
    for where, tls in (("submission.tls", cfg.submission.tls), ("inbound.tls", cfg.inbound.tls)):
        if (tls.cert is None) != (tls.key is None):
            raise ConfigError(f"{where}.key" if tls.key is None else f"{where}.cert",
                              "cert and key must be given together")
        if not tls.enabled and (tls.require_starttls or tls.client_ca):
            raise ConfigError(f"{where}.cert", "needed for require_starttls/client_ca")
    if cfg.submission.tls_listen and not cfg.submission.tls.enabled:
        raise ConfigError("submission.tls_listen", "needs submission.tls.cert and key")
    if cfg.downstream.starttls == "required-verified" and not cfg.downstream.validate_certs:
        raise ConfigError("downstream.validate_certs",
                          "must be true with starttls: required-verified")
    for i, net in enumerate(cfg.submission.client_networks):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError as exc:
            raise ConfigError(f"submission.client_networks[{i}]", str(exc)) from None
    positive = {
        "submission.max_message_size": cfg.submission.max_message_size,
        "submission.max_recipients": cfg.submission.max_recipients,
        "submission.max_connections": cfg.submission.max_connections,
        "submission.max_connections_per_ip": cfg.submission.max_connections_per_ip,
        "submission.session_timeout": cfg.submission.session_timeout,
        "inbound.session_timeout": cfg.inbound.session_timeout,
        "redis.deadline_ms": cfg.redis.deadline_ms,
        "redis.pool_size": cfg.redis.pool_size,
        "downstream.pool_size": cfg.downstream.pool_size,
        "downstream.max_recipients": cfg.downstream.max_recipients,
        "server.drain_timeout": cfg.server.drain_timeout,
        "submission.auth.max_failures": cfg.submission.auth.max_failures,
        "submission.auth.failure_window": cfg.submission.auth.failure_window,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(key, f"must be positive, got {value}")
    if cfg.submission.line_length_limit < 1001:
        raise ConfigError("submission.line_length_limit", "must be at least 1001 (RFC 5321)")
    if cfg.submission.data_timeout <= cfg.downstream.data_timeout:
        raise ConfigError(
            "submission.data_timeout",
            "must exceed downstream.data_timeout so a slow downstream answers the client "
            "before the client's session times out",
        )
    for i, rule in enumerate(cfg.classification.rules):
        key = f"classification.rules[{i}]"
        if rule.mail_from is None and rule.header is None:
            raise ConfigError(key, "needs mail_from or header")
        if rule.matches is not None:
            try:
                re.compile(rule.matches)
            except re.error as exc:
                raise ConfigError(f"{key}.matches", f"invalid regex: {exc}") from None
    if cfg.policy.doi_pending_days <= 0:
        raise ConfigError("policy.doi_pending_days", "must be positive (SPEC: 2 to 7 days)")
    if cfg.policy.active_customer_months < 0:
        raise ConfigError("policy.active_customer_months", "must be 0 or more")
    if cfg.policy.doi_purge_interval < 0:
        raise ConfigError("policy.doi_purge_interval", "must be 0 (off) or more seconds")
    for i, role in enumerate(cfg.policy.role_accounts):
        if not role or "@" in role or role != role.strip():
            raise ConfigError(f"policy.role_accounts[{i}]", f"must be a local part, got {role!r}")
    _validate_unsubscribe(cfg)
    _validate_inbound(cfg)
    _validate_evidence(cfg)
    _validate_webhooks(cfg)
    if not cfg.redis.key_prefix or any(c in cfg.redis.key_prefix for c in " *?[]"):
        raise ConfigError("redis.key_prefix", "must be non-empty without spaces or glob chars")
    if not cfg.redis.embedded and not cfg.redis.url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("redis.url", "must start with redis://, rediss:// or unix://")
    _validate_redis_ha(cfg.redis)


def _validate_redis_ha(rc: RedisConfig) -> None:
    if rc.sentinel is not None and rc.cluster is not None:
        raise ConfigError("redis.cluster", "give either redis.sentinel or redis.cluster")
    mode = "sentinel" if rc.sentinel is not None else "cluster" if rc.cluster else None
    if mode is None:
        return
    if rc.embedded:
        raise ConfigError("redis.embedded", f"must be false with redis.{mode}")
    nodes = rc.sentinel.nodes if rc.sentinel is not None else rc.cluster.nodes if rc.cluster else []
    if not nodes:
        raise ConfigError(f"redis.{mode}.nodes", "needs at least one HOST:PORT")
    for i, node in enumerate(nodes):
        parse_hostport(node, f"redis.{mode}.nodes[{i}]")
    if rc.sentinel is not None and not rc.sentinel.master.strip():
        raise ConfigError("redis.sentinel.master", "is required (the monitored master name)")
    if rc.cluster is not None and any(c in rc.key_prefix for c in "{}"):
        raise ConfigError("redis.key_prefix", "must not contain { or } with redis.cluster "
                          "(hash tags are consentry's)")


_URL_SAFE = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~\-/]*)?$")
_DOMAIN_SAFE = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)*"
                          r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?$")
_LOCAL_SAFE = re.compile(r"^[a-z0-9][a-z0-9.\-_]{0,30}$")
_HEADER_SAFE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,200}$")


def _validate_evidence(cfg: Config) -> None:
    for key, value in (("audit.sync_interval", cfg.audit.sync_interval),
                       ("sends.retention_days", cfg.sends.retention_days),
                       ("stats.retention_days", cfg.stats.retention_days),
                       ("stats.refresh_interval", cfg.stats.refresh_interval)):
        if value <= 0:
            raise ConfigError(key, f"must be positive, got {value}")
    pv = cfg.privacy
    if pv.secret is not None and pv.secret_file is not None:
        raise ConfigError("privacy", "give secret or secret_file, not both")
    if pv.hash_suppressions and pv.secret is None and pv.secret_file is None:
        raise ConfigError("privacy.secret", "hash_suppressions needs a secret or secret_file")
    if pv.secret is not None and len(pv.secret.encode()) < 16:
        raise ConfigError("privacy.secret", "must be at least 16 bytes")


# Every action the audit stream carries (docs/audit.md); webhooks[].events globs must
# match one of them.
WEBHOOK_EVENTS = ("suppress", "unsuppress", "suppress_domain", "unsuppress_domain", "allow",
                  "disallow", "expire", "expire_domain", "erase", "consent", "pending",
                  "pending_confirmed", "purchase", "link", "doi_purge")
WEBHOOK_MIN_SECRET = 16
_WEBHOOK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


def webhook_name(w: WebhookConfig) -> str:
    """The endpoint's name (its consumer group): configured, or derived from the URL."""
    return w.name or "u" + hashlib.sha256(w.url.encode()).hexdigest()[:12]


def redact_url(url: str) -> str:
    """A URL as logged or shown in errors: no userinfo, no query (either may carry a
    credential)."""
    u = urlsplit(url)
    host = u.hostname or ""
    try:
        port = f":{u.port}" if u.port else ""
    except ValueError:
        port = ""
    return f"{u.scheme}://{host}{port}{u.path}"


def _validate_webhooks(cfg: Config) -> None:
    names: set[str] = set()
    for i, w in enumerate(cfg.webhooks):
        key = f"webhooks[{i}]"
        u = urlsplit(w.url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ConfigError(f"{key}.url", f"must be an http:// or https:// URL, got "
                              f"{redact_url(w.url)!r}")
        if any(c in w.url for c in " \r\n\t"):
            raise ConfigError(f"{key}.url", "must not contain spaces or line breaks")
        try:
            u.port  # noqa: B018 - parsing it is the check
        except ValueError:
            raise ConfigError(f"{key}.url", f"bad port in {redact_url(w.url)!r}") from None
        name = webhook_name(w)
        if not _WEBHOOK_NAME.match(name):
            raise ConfigError(f"{key}.name", "must be 1-40 of a-z 0-9 _ . - (it names the "
                              "consumer group)")
        if name in names:
            raise ConfigError(f"{key}.name", f"{name!r} is used twice (give each endpoint "
                              "its own name)")
        names.add(name)
        if (w.secret is None) == (w.secret_file is None):
            raise ConfigError(f"{key}.secret", "give exactly one of secret, secret_file")
        if w.secret is not None and len(w.secret.encode()) < WEBHOOK_MIN_SECRET:
            raise ConfigError(f"{key}.secret", f"must be at least {WEBHOOK_MIN_SECRET} bytes")
        if not w.events:
            raise ConfigError(f"{key}.events", "must name at least one event (or \"*\")")
        for j, pat in enumerate(w.events):
            if not any(fnmatchcase(a, pat) for a in WEBHOOK_EVENTS):
                raise ConfigError(f"{key}.events[{j}]", f"{pat!r} matches no event (known: "
                                  f"{', '.join(WEBHOOK_EVENTS)})")
        for k, v in (("timeout", w.timeout), ("max_age", w.max_age),
                     ("initial_backoff", w.initial_backoff), ("claim_after", w.claim_after)):
            if v <= 0:
                raise ConfigError(f"{key}.{k}", f"must be positive, got {v}")
        if not 1 <= w.concurrency <= 64:
            raise ConfigError(f"{key}.concurrency", f"must be 1..64, got {w.concurrency}")
        if w.max_attempts < 1:
            raise ConfigError(f"{key}.max_attempts", f"must be at least 1, got "
                              f"{w.max_attempts}")
        if w.max_backoff < w.initial_backoff:
            raise ConfigError(f"{key}.max_backoff", "must be at least initial_backoff")
        if w.claim_after <= w.timeout:
            raise ConfigError(f"{key}.claim_after", "must exceed timeout (an attempt in "
                              "flight must not be taken over)")


def _validate_inbound(cfg: Config) -> None:
    ib = cfg.inbound
    for i, hostport in enumerate(ib.listen):
        parse_hostport(hostport, f"inbound.listen[{i}]")
    if ib.domain is not None and not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", ib.domain):
        raise ConfigError("inbound.domain", f"not a domain: {ib.domain!r}")
    if not re.fullmatch(r"[a-z0-9._-]{1,16}", ib.verp_local):
        raise ConfigError("inbound.verp_local", "must be a short lower-case local part")
    for i, a in enumerate(ib.reply_addresses):
        if a.count("@") != 1 or any(c in a for c in " <>,;\r\n"):
            raise ConfigError(f"inbound.reply_addresses[{i}]", f"not an address: {a!r}")
    if ib.review_mailbox is not None and ib.review_mailbox.count("@") != 1:
        raise ConfigError("inbound.review_mailbox", f"not an address: {ib.review_mailbox!r}")
    if ib.verp and ib.domain is None:
        raise ConfigError("inbound.verp", "needs inbound.domain (the VERP addresses are "
                          "verp_local+TOKEN@domain)")
    if ib.verp and len(ib.verp_local) > 15:
        raise ConfigError("inbound.verp_local", "at most 15 characters with verp: true "
                          "(verp_local+TOKEN must fit RFC 5321's 64-octet local part)")
    if ib.enabled and ib.domain is None and not ib.reply_addresses:
        raise ConfigError("inbound.domain", "the inbound listener needs a domain (VERP) "
                          "or reply_addresses to accept mail for")
    for key, value in (("inbound.max_message_size", ib.max_message_size),
                       ("inbound.max_recipients", ib.max_recipients),
                       ("inbound.max_connections", ib.max_connections),
                       ("inbound.max_connections_per_ip", ib.max_connections_per_ip),
                       ("inbound.soft_bounce_limit", ib.soft_bounce_limit),
                       ("inbound.parse_workers", ib.parse_workers)):
        if value <= 0:
            raise ConfigError(key, f"must be positive, got {value}")
    if not 0.0 < ib.intent_threshold <= 1.0:
        raise ConfigError("inbound.intent_threshold", "must be in (0, 1]")
    for key, fvalue in (("inbound.soft_bounce_window_days", ib.soft_bounce_window_days),
                        ("inbound.soft_bounce_suppress_days", ib.soft_bounce_suppress_days),
                        ("inbound.parse_timeout", ib.parse_timeout),
                        ("inbound.classify_timeout", ib.classify_timeout or 1.0)):
        if fvalue <= 0:
            raise ConfigError(key, f"must be positive, got {fvalue}")
    if ib.data_timeout <= cfg.downstream.data_timeout:
        raise ConfigError("inbound.data_timeout", "must exceed downstream.data_timeout (the "
                          "forward to the review mailbox runs inside the client's DATA)")


def _validate_unsubscribe(cfg: Config) -> None:
    """Everything here ends up in header fields and URLs: refuse CR/LF, spaces, <>, and
    commas up front (RELIABILITY H4), so header building never has to escape."""
    u = cfg.unsubscribe
    for i, cls in enumerate(u.classes):
        if cls not in MESSAGE_CLASSES:
            raise ConfigError(f"unsubscribe.classes[{i}]", f"unknown class {cls!r}")
    for i, cls in enumerate(cfg.tracking.classes):
        if cls not in MESSAGE_CLASSES:
            raise ConfigError(f"tracking.classes[{i}]", f"unknown class {cls!r}")
    if u.mailto_domain is not None and not _DOMAIN_SAFE.match(u.mailto_domain):
        raise ConfigError("unsubscribe.mailto_domain", f"not a domain: {u.mailto_domain!r}")
    if not _LOCAL_SAFE.match(u.mailto_local):
        raise ConfigError("unsubscribe.mailto_local", "must be a short lower-case local part")
    for key, value in (("unsubscribe.feedback_id", u.feedback_id),
                       ("unsubscribe.cfbl_address", u.cfbl_address)):
        if value is not None and (not _HEADER_SAFE.match(value) or any(c in value for c in "<>")):
            raise ConfigError(key, "must be printable ASCII without < or >")
    try:
        re.compile(u.footer_pattern)
    except re.error as exc:
        raise ConfigError("unsubscribe.footer_pattern", f"invalid regex: {exc}") from None
    if cfg.http.base_url is not None and not _URL_SAFE.match(cfg.http.base_url):
        raise ConfigError("http.base_url", "must be http(s)://host[:port][/path] with no "
                          "query, spaces or special characters")
    for i, hp in enumerate(cfg.http.listen):
        parse_hostport(hp, f"http.listen[{i}]")
    for i, net in enumerate(cfg.http.trusted_proxies):
        try:
            ipaddress.ip_network(net, strict=False)
        except ValueError as exc:
            raise ConfigError(f"http.trusted_proxies[{i}]", str(exc)) from None
    for key, num in (("http.rate_limit_per_minute", cfg.http.rate_limit_per_minute),
                     ("http.rate_limit_burst", cfg.http.rate_limit_burst),
                     ("http.max_body_bytes", cfg.http.max_body_bytes)):
        if num <= 0:
            raise ConfigError(key, f"must be positive, got {num}")
    if cfg.tokens.max_age_days < 30:
        raise ConfigError("tokens.max_age_days", "must be at least 30 (links must keep "
                          "working for 30 days after sending, CAN-SPAM)")
    ids = [k.id for k in cfg.tokens.keys]
    for i, k in enumerate(cfg.tokens.keys):
        if not 1 <= k.id <= 255:
            raise ConfigError(f"tokens.keys[{i}].id", "must be 1..255")
        if (k.secret is None) == (k.secret_file is None):
            raise ConfigError(f"tokens.keys[{i}]", "needs exactly one of secret, secret_file")
        if k.secret is not None and len(k.secret.encode()) < 16:
            raise ConfigError(f"tokens.keys[{i}].secret", "must be at least 16 bytes")
    if len(set(ids)) != len(ids):
        raise ConfigError("tokens.keys", "key ids must be unique")
    for i, pat in enumerate(cfg.tracking.redirect_patterns):
        try:
            rx = re.compile(pat)
        except re.error as exc:
            raise ConfigError(f"tracking.redirect_patterns[{i}]", f"invalid regex: {exc}"
                              ) from None
        if "target" not in rx.groupindex:
            raise ConfigError(f"tracking.redirect_patterns[{i}]",
                              "needs a named group (?P<target>...)")
    if cfg.dkim.enabled and not cfg.dkim.keys:
        raise ConfigError("dkim.keys", "dkim.enabled needs at least one key")
    for i, dk in enumerate(cfg.dkim.keys):
        if not _DOMAIN_SAFE.match(dk.domain) or not _DOMAIN_SAFE.match(dk.selector):
            raise ConfigError(f"dkim.keys[{i}]", "domain and selector must be DNS names")
    if cfg.retry.initial_delay <= 0 or cfg.retry.max_delay < cfg.retry.initial_delay:
        raise ConfigError("retry.max_delay", "needs 0 < initial_delay <= max_delay")


def parse_hostport(value: str, key: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(key, f"must be HOST:PORT, got {value!r}")
    host = host.strip("[]")
    if not 0 <= int(port) <= 65535:
        raise ConfigError(key, f"port out of range in {value!r}")
    return host, int(port)


def from_mapping(data: Any, base_dir: str = ".") -> Config:
    cfg: Config = _build(Config, data, "")
    cfg = dataclasses.replace(cfg, base_dir=base_dir)
    _validate(cfg)
    return cfg


def load(path: str | Path) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("<file>", f"cannot read {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", f"{p} is not valid YAML: {exc}") from None
    return from_mapping(data, base_dir=str(p.resolve().parent))
