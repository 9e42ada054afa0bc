"""A suppression never erases a stronger one under the same scope: an expiring soft
bounce written after an unsubscribe must not end the objection when it expires."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from consentry import address
from consentry.config import Config
from consentry.model import MessageFacts
from consentry.policy import evaluate
from consentry.store import Store, SuppressionRecord


async def decide(store: Store, cfg: Config, rcpt: str, cls: str, now: float) -> tuple[str, str]:
    (state,) = await store.recipient_states([address.parse(rcpt)])
    d = evaluate(state, MessageFacts(cls, "test"), cfg.policy, now)
    return d.verdict, d.rule


async def test_bounces_never_replace_an_objection(make_config: Callable[..., Config],
                                                  redis_url: str, sync_redis: Any) -> None:
    cfg = make_config(policy={"require_basis": False})
    store = Store(cfg.redis, redis_url)
    await store.init_epoch()
    now = time.time()
    k = "x@example.org"
    try:
        await store.add_suppression(SuppressionRecord(k, "global", "unsubscribe", "one-click",
                                                      now - 100), actor="test")
        await store.add_suppression(SuppressionRecord(k, "global", "soft_bounce", "bounce",
                                                      now - 50, expires_at=now + 10),
                                    actor="test")
        h = sync_redis.hgetall(f"cs:supp:{k}")
        assert json.loads(h["global"])["reason"] == "unsubscribe"
        assert json.loads(h["global|soft_bounce"])["reason"] == "soft_bounce"
        # After the soft bounce pause expires the objection still stands.
        assert await decide(store, cfg, k, "marketing", now + 3600) == ("suppress", "objection")
        # A hard bounce goes beside it too, and stops transactional mail.
        await store.add_suppression(SuppressionRecord(k, "global", "hard_bounce", "bounce",
                                                      now), actor="test")
        assert await decide(store, cfg, k, "transactional", now) == ("suppress", "hard_bounce")
        assert json.loads(sync_redis.hget(f"cs:supp:{k}", "global"))["reason"] == "unsubscribe"

        # An objection arriving on a bounced address moves the bounce aside, keeps both.
        k2 = "y@example.org"
        await store.add_suppression(SuppressionRecord(k2, "global", "hard_bounce", "bounce",
                                                      now - 10), actor="test")
        await store.add_suppression(SuppressionRecord(k2, "global", "complaint", "fbl", now),
                                    actor="test")
        h2 = sync_redis.hgetall(f"cs:supp:{k2}")
        assert json.loads(h2["global"])["reason"] == "complaint"
        assert json.loads(h2["global|hard_bounce"])["reason"] == "hard_bounce"
        assert await decide(store, cfg, k2, "transactional", now) == ("suppress", "hard_bounce")
        scopes = sorted([(s.scope, s.reason) async for s in store.iter_suppressions()
                         if s.address == k2])
        assert scopes == [("global", "complaint"), ("global", "hard_bounce")]

        # Removing the global scope (admin) lifts both records of that scope.
        assert await store.remove_suppression(k2, "global", "test", actor="test") == 2
        assert sync_redis.exists(f"cs:supp:{k2}") == 0
    finally:
        await store.close()
