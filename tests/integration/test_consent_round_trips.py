"""The decision for a message takes a fixed number of Redis round trips (at most two),
whatever the recipient count — measured on the wire by a counting TCP proxy, and by
`Store.round_trips`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from consentry import address
from consentry.config import Config, PolicyConfig
from consentry.model import MessageFacts
from consentry.policy import evaluate
from consentry.store import Store

from ..helpers.consentload import NOW, doi, link, load, purchase, supp
from ..helpers.redis_proc import RedisProc
from ..helpers.rtproxy import RoundTripProxy


@pytest.fixture
async def proxy(redis_proc: RedisProc, redis_url: str) -> AsyncIterator[RoundTripProxy]:
    p = RoundTripProxy(redis_proc.port)
    await p.start()
    yield p
    await p.stop()


def population(n: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """n recipients, each a person with two more linked addresses; every third person
    objected on a linked address; all have a DOI, some a purchase."""
    records: list[dict[str, Any]] = []
    supps: list[dict[str, Any]] = []
    rcpts: list[str] = []
    for i in range(n):
        person = f"p{i}"
        main, old, work = f"r{i}@example.org", f"r{i}.old@example.net", f"r{i}@work.example"
        records += [link(main, person), link(old, person), link(work, person),
                    doi(main, signed=100, tracking=True)]
        if i % 2:
            records.append(purchase(main, person))
        if i % 3 == 0:
            supps.append(supp(old if i % 2 else work, days=5))
        rcpts.append(main)
    return records, supps, rcpts


async def decide(store: Store, rcpts: list[str], policy: PolicyConfig) -> list[str]:
    states = await store.recipient_states([address.parse(r) for r in rcpts])
    facts = MessageFacts("marketing", "test", category="printer")
    return [evaluate(s, facts, policy, NOW).verdict for s in states]


@pytest.mark.parametrize("n", [1, 10, 50, 200])
async def test_decision_takes_two_round_trips_whatever_the_count(
        n: int, proxy: RoundTripProxy, make_config: Callable[..., Config],
        redis_url: str) -> None:
    cfg = make_config()
    loader = Store(cfg.redis, redis_url)
    await loader.init_epoch()
    records, supps, rcpts = population(n)
    await load(loader, cfg, records, supps)
    await loader.close()

    store = Store(cfg.redis, proxy.url)
    try:
        await store.recipient_states([address.parse("warm-up@example.org")])  # handshake
        before_wire, before_store = proxy.round_trips, store.round_trips
        verdicts = await decide(store, rcpts, cfg.policy)
        wire = proxy.round_trips - before_wire
        counted = store.round_trips - before_store
    finally:
        await store.close()
    assert wire == 2, f"{n} recipients took {wire} round trips on the wire"
    assert counted == 2
    expected = ["suppress" if i % 3 == 0 else "allow" for i in range(n)]
    assert verdicts == expected


async def test_recipients_without_persons_take_one_round_trip(
        proxy: RoundTripProxy, make_config: Callable[..., Config], redis_url: str) -> None:
    cfg = make_config()
    loader = Store(cfg.redis, redis_url)
    await loader.init_epoch()
    rcpts = [f"solo{i}@example.org" for i in range(50)]
    await load(loader, cfg, [doi(r) for r in rcpts], [supp(rcpts[7])])
    await loader.close()
    store = Store(cfg.redis, proxy.url)
    try:
        await store.recipient_states([address.parse("warm-up@example.org")])
        before = proxy.round_trips
        states = await store.recipient_states([address.parse(r) for r in rcpts])
        assert proxy.round_trips - before == 1
    finally:
        await store.close()
    verdicts = [evaluate(s, MessageFacts("marketing", "t"), cfg.policy, NOW).verdict
                for s in states]
    assert verdicts.count("suppress") == 1 and verdicts[7] == "suppress"
