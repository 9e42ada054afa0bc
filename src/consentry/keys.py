"""Every Redis key consentry reads or writes, in one place (documented in README §Key schema).

All keys start with the configured prefix (default ``cs:``). Address keys use the
canonical suppression key from `address.parse` (lower-case, IDNA, plus-tag folded).

Redis Cluster (``tagged``, set by the store when ``redis.cluster`` is configured): every
key carries a hash tag ``{...}`` so the keys one operation must change together share a
slot. Per address: ``cs:supp:{a@x}``, ``cs:addr:{a@x}``, ``cs:softb:{a@x}``,
``cs:sends:rcpt:{a@x}``; per domain ``cs:suppd:{x}``; per person ``cs:person:{p}:addrs``
(tagged in every mode); and everything shared (streams, queues, indexes, counters) under
the one tag ``{g}``: ``cs:{g}:audit``, ``cs:{g}:retry:due``, ``cs:{g}:dsn:queue``, ...
A single node or Sentinel keeps the untagged names (no migration for existing stores).
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass, field

from .privacy import hash_key


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "cs:"
    # Privacy mode (privacy.py): suppressions and their audit entries are keyed by
    # HMAC(secret, address key) instead of the address.
    secret: bytes | None = field(default=None, repr=False)
    # Redis Cluster layout: hash tags on every key (see the module docstring).
    tagged: bool = False

    def _t(self, part: str) -> str:
        """`part` as the key's hash tag in cluster layout."""
        return f"{{{part}}}" if self.tagged else part

    @property
    def _g(self) -> str:
        """The prefix of shared keys: one slot in cluster layout."""
        return f"{self.prefix}{{g}}:" if self.tagged else self.prefix

    def untag(self, part: str) -> str:
        """The name inside a key's tag (what a SCAN finds after the key's fixed part)."""
        if self.tagged and part.startswith("{") and part.endswith("}"):
            return part[1:-1]
        return part

    def slot_canary(self, slot: int) -> str:
        """Cluster layout: the canary of one hash slot (`cs:epoch:{TAG}`, TAG chosen so
        the key lies in `slot`). Every slot has one, so a master that comes back empty
        is detected by the lookups that read its slots, not only by the one holding
        `cs:epoch`."""
        return f"{self.prefix}epoch:{{{slot_tags()[slot]}}}"

    def ident(self, address_key: str) -> str:
        """What a suppression of `address_key` is stored and audited under: the address
        key, or in privacy mode its keyed hash ``h:<hex>`` (a hash maps to itself)."""
        if self.secret is None:
            return address_key
        return hash_key(self.secret, address_key)

    @property
    def epoch(self) -> str:
        # The canary: written once when the store is initialised. A Redis that answers
        # but lacks it has lost its data (restart without persistence, FLUSHALL, stale
        # replica): consentry then fails closed with 451.
        return f"{self.prefix}epoch"

    def suppression(self, address_key: str) -> str:
        # HASH field=scope ("global" | "list:NAME") value=JSON
        # {"reason","source","at","expires_at"?,"evidence"?}. Privacy mode: the key is
        # cs:supp:h:<HMAC hex> (`ident`).
        return f"{self.prefix}supp:{self._t(self.ident(address_key))}"

    def suppression_clear(self, address_key: str) -> str:
        # The clear-text key, also read in privacy mode (written before it was switched
        # on, or by a tool without the secret: fail safe) and removed by `consentry erase`.
        return f"{self.prefix}supp:{self._t(address_key)}"

    def domain_suppression(self, domain: str) -> str:
        # HASH like `suppression`, for every address at `domain` (`*@domain` in the CLI).
        # Read in the same round trip as the address's own suppressions.
        return f"{self.prefix}suppd:{self._t(domain)}"

    @property
    def domain_suppression_pattern(self) -> str:
        return f"{self.prefix}suppd:*"

    @property
    def expiring(self) -> str:
        # ZSET member = "<ident>\t<scope>\t<reason>" of a suppression with expires_at,
        # score = expires_at: what the expiry job removes (and audits) when it is due.
        return f"{self._g}suppexp"

    @property
    def allow(self) -> str:
        # SET of address keys never suppressed by bounces (seed and test addresses).
        return f"{self._g}allow"

    @property
    def suppression_pattern(self) -> str:
        return f"{self.prefix}supp:*"

    def address(self, address_key: str) -> str:
        # HASH: everything consent-related about one address, read with ONE HGETALL per
        # recipient in the decision's first round trip (docs/consent.md):
        #   person            person id this address belongs to (absent: none)
        #   linked            JSON list of the person's OTHER address keys (denormalised
        #                     from person_addresses on every link change, so the second
        #                     round trip can read their suppressions directly)
        #   consent           JSON {"type","signup_at"?,"signup_ip"?,"confirmed_at"?,
        #                     "confirm_ip"?,"tracking","lists","source"} (times: unix)
        #   pending           JSON unconfirmed DOI sign-up {"signup_at","signup_ip"?,
        #                     "tracking","lists","source"}; also indexed in doi_pending
        #   purchase:<id>     JSON {"person","at","status","kind","categories",
        #                     "address_collected","objection_notice","source"}
        return f"{self.prefix}addr:{self._t(address_key)}"

    @property
    def address_pattern(self) -> str:
        return f"{self.prefix}addr:*"

    def person_addresses(self, person: str) -> str:
        # SET of the address keys linked to one person. The {person} hash tag keeps
        # every key of a person in one Redis Cluster slot.
        return f"{self.prefix}person:{{{person}}}:addrs"

    @property
    def doi_pending(self) -> str:
        # ZSET member = address key, score = sign-up time of its pending DOI: the index
        # `consentry doi purge` and the periodic purge job walk.
        return f"{self._g}doi:pending"

    @property
    def audit_stream(self) -> str:
        # STREAM of every suppression/consent change: action, address, scope, reason,
        # source, at, actor. Capped approximately at AUDIT_STREAM_MAXLEN. The ordering
        # source of the hash-chained audit file (audit.py).
        return f"{self._g}audit"

    # -- send records (sends.py), all with TTL sends.retention_days ----------------------

    def send(self, send_id: str) -> str:
        # STRING JSON {"id","at","message_id","campaign","list","category","class",
        # "mail_from","client","sha256","recipients":[{"r","k","v","rule","sha256"?,
        # "reply"?}]}
        return f"{self.prefix}send:{send_id}"

    def sends_by_campaign(self, campaign: str) -> str:
        # ZSET member = send id, score = time (trimmed to the retention on every write)
        return f"{self._g}sends:camp:{campaign}"

    def sends_by_recipient(self, address_key: str) -> str:
        return f"{self.prefix}sends:rcpt:{self._t(address_key)}"

    def sends_by_message_id(self, message_id: str) -> str:
        # Keyed by the SHA-256 of the normalised Message-ID (no <>, no blanks): IDs are
        # long and sender-chosen.
        digest = hashlib.sha256(normalise_message_id(message_id).encode()).hexdigest()[:32]
        return f"{self._g}sends:mid:{digest}"

    # -- counters (stats.py) -------------------------------------------------------------

    def stats_hour(self, bucket: str) -> str:
        # HASH of counters for one UTC hour (bucket YYYYMMDDHH): msg, rcpt, v:<verdict>,
        # r:<rule>, c:<class>, sent, hard_bounce, complaint, objection, in:<kind>
        return f"{self._g}stats:h:{bucket}"

    def stats_campaign(self, campaign: str) -> str:
        # HASH sent, complaint, hard_bounce for one campaign (TTL stats.retention_days)
        return f"{self._g}stats:camp:{campaign}"

    @property
    def stats_campaigns(self) -> str:
        # ZSET member = campaign, score = last send time
        return f"{self._g}stats:camps"

    @property
    def soft_bounce_index(self) -> str:
        # ZSET member = address key, score = its last soft bounce: the backlog of
        # addresses counting soft bounces (trimmed to the counting window)
        return f"{self._g}softbidx"

    @property
    def dsn_queue(self) -> str:
        # LIST of JSON DSN jobs (RPUSH by the relay before its 250, LMOVE by the notifier).
        return f"{self._g}dsn:queue"

    @property
    def dsn_processing(self) -> str:
        return f"{self._g}dsn:processing"

    def token_ref(self, ref: str) -> str:
        # STRING JSON {"r": suppression key, "s": scope, "c"?: campaign}: what an
        # unsubscribe/VERP token's opaque reference stands for (tokens.py). Written by the
        # relay before the mail carrying it leaves; TTL = tokens.max_age_days + 7 days,
        # refreshed on every send.
        return f"{self.prefix}tok:{ref}"

    @property
    def retry_due(self) -> str:
        # ZSET member = retry job id, score = unix time it is due: per-recipient copies
        # that failed after another copy of the same message was accepted (retryq.py).
        return f"{self._g}retry:due"

    def retry_job(self, job_id: str) -> str:
        # STRING JSON {"id","mail_from","rcpt","content" (base64),"smtputf8","eightbit",
        # "message_id","created","attempts","last_error"}
        return f"{self._g}retry:job:{job_id}"

    def retry_lease(self, job_id: str) -> str:
        # STRING owner, SET NX with TTL retry.lease: one worker (of all relays) per job.
        return f"{self._g}retry:lease:{job_id}"

    def retry_done(self, job_id: str) -> str:
        # STRING "1", TTL RETRY_DONE_TTL: the job was delivered; never send it again.
        return f"{self._g}retry:done:{job_id}"

    @property
    def bounce_stream(self) -> str:
        # STREAM of downstream refusals and inbound bounces: address, code, text, at.
        return f"{self._g}bounces"

    def soft_bounces(self, address_key: str) -> str:
        # ZSET of one address's recent soft bounces: member "<at>:<inbound message id>",
        # score = unix time. Trimmed to the counting window on every write; TTL window+1d.
        return f"{self.prefix}softb:{self._t(address_key)}"

    @property
    def inbound_stream(self) -> str:
        # STREAM of every classified inbound message: kind, recipients (JSON), message id,
        # spool file, actions taken. Capped approximately at INBOUND_STREAM_MAXLEN.
        return f"{self._g}inbound"

    @property
    def webhook_dead(self) -> str:
        # STREAM of webhook deliveries given up (4xx, attempts or age exhausted): endpoint,
        # event id, status, reason, attempts, the event body. Capped at WEBHOOK_DEAD_MAXLEN.
        # Each endpoint reads cs:audit through its own consumer group "webhook:<name>".
        return f"{self._g}webhook:dead"

    @property
    def audit_head(self) -> str:
        # HASH field = "<host name>:<audit file path>", value = JSON {"seq","hash","sid",
        # "at"}: the last line each host's hash-chained audit file got (audit.py), written
        # after every append; `audit verify` checks the file's tail against it, so lines
        # deleted from the end of the file show (beside the file's own `.head`).
        return f"{self._g}audit:head"


def key_slot(key: str) -> int:
    """The Redis Cluster hash slot of `key` (CRC16/XMODEM of its tag, or of the whole key
    without one), as redis-server computes it."""
    raw = key.encode()
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1:end]
    return binascii.crc_hqx(raw, 0) % CLUSTER_SLOTS


CLUSTER_SLOTS = 16384
_SLOT_TAGS: list[str] = []


def slot_tags() -> list[str]:
    """For every hash slot, a short tag that hashes to it (computed once, ~0.1 s)."""
    if not _SLOT_TAGS:
        tags: list[str | None] = [None] * CLUSTER_SLOTS
        left, i = CLUSTER_SLOTS, 0
        while left:
            t = f"s{i}"
            s = binascii.crc_hqx(t.encode(), 0) % CLUSTER_SLOTS
            if tags[s] is None:
                tags[s] = t
                left -= 1
            i += 1
        _SLOT_TAGS.extend(t for t in tags if t is not None)
    return _SLOT_TAGS


def normalise_message_id(message_id: str) -> str:
    return message_id.strip().strip("<>").strip()


RETRY_DONE_TTL = 7 * 86400
AUDIT_STREAM_MAXLEN = 10_000_000
BOUNCE_STREAM_MAXLEN = 1_000_000
INBOUND_STREAM_MAXLEN = 1_000_000
WEBHOOK_DEAD_MAXLEN = 100_000
