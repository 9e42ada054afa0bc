"""What an inbound verdict does to the store (the I/O half of inbound/classify.py).

  bounce     hard + failed        -> suppression hard_bounce (source bounce)
             soft + failed        -> counted; N within M days -> soft_bounce, expiring
             delayed              -> recorded only
  complaint  suppressing type     -> suppression complaint (source complaint), with every
                                     address linked to the same person
  unsubscribe                     -> suppression objection (source reply, or mailto for
                                     unsubscribe+TOKEN@), with every linked address
  autoreply, reply, delivered, unknown -> recorded only
The evidence on every suppression is the inbound Message-ID. Who: a verified VERP or
unsubscribe token first (it names the exact recipient and scope), else the addresses
the report names, else (replies) the sender's address.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from . import address as address_mod
from . import logs
from .config import Config
from .errors import InvalidAddress
from .inbound.classify import Verdict
from .inbound.textutil import norm
from .metrics import METRICS
from .store import BOUNCE_REASONS, Store, SuppressionRecord
from .tokens import TokenRef

DAY = 86400.0


@dataclass(slots=True)
class Outcome:
    suppressed: list[str] = field(default_factory=list)  # "key reason scope"
    soft_counted: list[str] = field(default_factory=list)  # "key n/limit"
    unresolved: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"suppressed": self.suppressed, "soft_counted": self.soft_counted,
                "unresolved": self.unresolved, "notes": self.notes}


class InboundActions:
    def __init__(self, cfg: Config, store: Store, actor: str = "inbound") -> None:
        self.cfg = cfg
        self.store = store
        self.actor = actor
        self.log = logs.get("consentry.inbound")

    def _key(self, raw: str) -> str | None:
        try:
            return address_mod.parse(raw, fold_case=self.cfg.addresses.fold_case,
                                     plus_separators=self.cfg.addresses.plus_separators).key
        except InvalidAddress:
            return None

    async def _token_refs(self, v: Verdict, purpose: str) -> list[TokenRef]:
        out: list[TokenRef] = []
        for t in v.tokens:
            if t.purpose != purpose or t.ref is None:
                continue
            raw = await self.store.resolve_token_ref(t.ref)
            if raw is None:
                continue
            try:
                out.append(TokenRef.from_json(t.ref, raw))
            except ValueError:
                continue
        return out

    async def _count_campaigns(self, refs: list[TokenRef], what: str) -> None:
        """Complaint and hard-bounce counts per campaign (the token names it), for the
        complaint-rate figures mailbox providers judge senders by (stats, /metrics)."""
        ttl = int(self.cfg.stats.retention_days * DAY)
        for camp in dict.fromkeys(r.campaign for r in refs if r.campaign):
            assert camp is not None
            await self.store.campaign_event(camp, what, ttl)

    async def _replied_to(self, v: Verdict) -> list[str]:
        """The address keys the message(s) named in In-Reply-To/References went to."""
        if not v.reply_to_ids:
            return []
        from . import sends

        return sends.recipients_of(await sends.by_message_ids(self.store, v.reply_to_ids))

    async def _linked(self, key: str) -> list[str]:
        h = await self.store.address_hash(key)
        try:
            linked = json.loads(h.get("linked", "[]"))
        except ValueError:
            return []
        return [str(k) for k in linked if isinstance(k, str)] if isinstance(linked, list) else []

    async def _suppress(self, out: Outcome, key: str, reason: str, source: str, scope: str,
                        evidence: str, now: float, expires_at: float | None = None,
                        with_linked: bool = False) -> None:
        keys = [key]
        if with_linked:
            keys += [k for k in await self._linked(key) if k != key]
        seeds = await self.store.allowed(keys) if reason in BOUNCE_REASONS else set()
        for k in keys:
            if k in seeds:
                out.notes.append(f"{k}: on the allow-list (seed/test address): {reason} "
                                 "not recorded")
                continue
            rec = SuppressionRecord(k, scope, reason, source, now, expires_at=expires_at,
                                    evidence=evidence[:300])
            await self.store.add_suppression(rec, actor=self.actor)
            out.suppressed.append(f"{k} {reason} {scope}")

    async def apply(self, v: Verdict, now: float | None = None) -> Outcome:
        t = time.time() if now is None else now
        out = Outcome()
        evidence = v.message_id or "(no Message-ID)"
        if v.kind == "bounce":
            await self._bounce(v, out, evidence, t)
        elif v.kind == "complaint" and v.suppress:
            keys = [k for k in (self._key(r["address"]) for r in v.recipients) if k]
            refs = [*await self._token_refs(v, "bounce"),
                    *await self._token_refs(v, "unsubscribe")]
            keys += [r.recipient for r in refs]
            if not keys:
                out.unresolved.append("complaint without a recipient (redacted, no token)")
            for k in dict.fromkeys(keys):
                await self._suppress(out, k, "complaint", "complaint", "global", evidence, t,
                                     with_linked=True)
            await self._count_campaigns(refs, "complaint")
        elif v.kind == "unsubscribe":
            refs = await self._token_refs(v, "unsubscribe")
            if refs:
                for r in refs:
                    await self._suppress(out, r.recipient, "objection", "mailto", r.scope,
                                         evidence, t, with_linked=r.scope == "global")
            else:
                named = str(v.recipients[0].get("address", "")) if v.recipients else ""
                on_behalf = bool(named) and (not v.sender or norm(named) != norm(v.sender))
                whom = named if on_behalf else v.sender
                key = self._key(whom) if whom else None
                sent_to = await self._replied_to(v)
                how = ("recipient named in the objection and on the quoted newsletter"
                       if on_behalf else "recipient matched by the reply's sender address")
                if not on_behalf and len(sent_to) == 1 and key not in sent_to:
                    # A reply from another address (an alias, a forward) to a message that
                    # went to exactly one recipient: that recipient objected.
                    key = sent_to[0]
                    how = "recipient matched by In-Reply-To/References against the send record"
                if key is None:
                    out.unresolved.append("objection without a usable sender address")
                else:
                    # An objection covers all advertising and every address of the person
                    # (SPEC §1.3, LG Hagen 1 S 38/13).
                    await self._suppress(out, key, "objection", "reply", "global", evidence,
                                         t, with_linked=True)
                    out.notes.append(how)
        elif v.kind == "reply" and v.recipients and v.recipients[0].get(
                "reason") == "objection_named":
            # An objection naming one address not the sender's ("please remove Hannah,
            # hannah@…, she has left"), in reply to a message the send record says went to
            # exactly that address: the mailbox's reader objects for it.
            key = self._key(str(v.recipients[0].get("address", "")))
            if key is not None and await self._replied_to(v) == [key]:
                await self._suppress(out, key, "objection", "reply", "global", evidence, t,
                                     with_linked=True)
                out.notes.append("recipient named in the objection and matched by "
                                 "In-Reply-To/References against the send record")
            else:
                out.notes.append("objection names another address: left to a human")
        METRICS.inbound_kind(v.kind)
        return out

    async def _bounce(self, v: Verdict, out: Outcome, evidence: str, t: float) -> None:
        ib = self.cfg.inbound
        targets: list[tuple[str, str, str]] = []  # key, class, action
        for r in v.recipients:
            key = self._key(str(r.get("address", "")))
            if key is not None:
                targets.append((key, str(r.get("class", "soft")), str(r.get("action", ""))))
        verp = await self._token_refs(v, "bounce")
        if verp:
            verp_keys = {r.recipient for r in verp}
            found = {k for k, _, _ in targets}
            if not targets:
                # Unreadable report to a VERP address: the token names the recipient, the
                # report's words the class (hard only on clear permanent indications).
                cls = str((v.unaddressed or {}).get("class", "soft"))
                targets = [(k, "hard" if cls == "hard" else "soft", "failed")
                           for k in sorted(verp_keys)]
                out.notes.append(f"recipient from the VERP token ({targets[0][1]})")
            elif not found & verp_keys and len(verp_keys) == 1:
                # The report names a forwarding target; the token names whom we sent to.
                cls = "hard" if any(c == "hard" for _, c, a in targets if a == "failed") else "soft"
                targets = [(next(iter(verp_keys)), cls, "failed")]
                out.notes.append("report address differs from the VERP recipient: token wins")
        for key, cls, action in targets:
            if action != "failed":
                out.notes.append(f"{key}: {action or 'no action'}, recorded only")
                continue
            if cls == "hard":
                await self._suppress(out, key, "hard_bounce", "bounce", "global", evidence, t)
                await self._count_campaigns([r for r in verp if r.recipient == key],
                                            "hard_bounce")
                continue
            n = await self.store.count_soft_bounce(key, t, ib.soft_bounce_window_days * DAY,
                                                   evidence)
            out.soft_counted.append(f"{key} {n}/{ib.soft_bounce_limit}")
            if n >= ib.soft_bounce_limit:
                await self._suppress(out, key, "soft_bounce", "bounce", "global", evidence, t,
                                     expires_at=t + ib.soft_bounce_suppress_days * DAY)
