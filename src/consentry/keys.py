"""Every Redis key consentry reads or writes, in one place (documented in README §Key schema).

All keys start with the configured prefix (default ``cs:``). Address keys use the
canonical suppression key from `address.parse` (lower-case, IDNA, plus-tag folded).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "cs:"

    @property
    def epoch(self) -> str:
        # The canary: written once when the store is initialised. A Redis that answers
        # but lacks it has lost its data (restart without persistence, FLUSHALL, stale
        # replica): consentry then fails closed with 451.
        return f"{self.prefix}epoch"

    def suppression(self, address_key: str) -> str:
        # HASH field=scope ("global" | "list:NAME") value=JSON
        # {"reason","source","at","expires_at"?,"evidence"?}
        return f"{self.prefix}supp:{address_key}"

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
        return f"{self.prefix}addr:{address_key}"

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
        return f"{self.prefix}doi:pending"

    @property
    def audit_stream(self) -> str:
        # STREAM of every suppression/consent change: action, address, scope, reason,
        # source, at, actor. Capped approximately at AUDIT_STREAM_MAXLEN.
        return f"{self.prefix}audit"

    @property
    def dsn_queue(self) -> str:
        # LIST of JSON DSN jobs (RPUSH by the relay before its 250, LMOVE by the notifier).
        return f"{self.prefix}dsn:queue"

    @property
    def dsn_processing(self) -> str:
        return f"{self.prefix}dsn:processing"

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
        return f"{self.prefix}retry:due"

    def retry_job(self, job_id: str) -> str:
        # STRING JSON {"id","mail_from","rcpt","content" (base64),"smtputf8","eightbit",
        # "message_id","created","attempts","last_error"}
        return f"{self.prefix}retry:job:{job_id}"

    def retry_lease(self, job_id: str) -> str:
        # STRING owner, SET NX with TTL retry.lease: one worker (of all relays) per job.
        return f"{self.prefix}retry:lease:{job_id}"

    def retry_done(self, job_id: str) -> str:
        # STRING "1", TTL RETRY_DONE_TTL: the job was delivered; never send it again.
        return f"{self.prefix}retry:done:{job_id}"

    @property
    def bounce_stream(self) -> str:
        # STREAM of downstream refusals and inbound bounces: address, code, text, at.
        return f"{self.prefix}bounces"

    def soft_bounces(self, address_key: str) -> str:
        # ZSET of one address's recent soft bounces: member "<at>:<inbound message id>",
        # score = unix time. Trimmed to the counting window on every write; TTL window+1d.
        return f"{self.prefix}softb:{address_key}"

    @property
    def inbound_stream(self) -> str:
        # STREAM of every classified inbound message: kind, recipients (JSON), message id,
        # spool file, actions taken. Capped approximately at INBOUND_STREAM_MAXLEN.
        return f"{self.prefix}inbound"


RETRY_DONE_TTL = 7 * 86400
AUDIT_STREAM_MAXLEN = 10_000_000
BOUNCE_STREAM_MAXLEN = 1_000_000
INBOUND_STREAM_MAXLEN = 1_000_000
