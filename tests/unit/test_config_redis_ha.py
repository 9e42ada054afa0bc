"""redis.sentinel and redis.cluster: accepted when complete, refused naming the key
otherwise; the key schema's cluster layout puts what changes together in one slot."""

from __future__ import annotations

from typing import Any

import pytest

from consentry import config as config_mod
from consentry.errors import ConfigError
from consentry.keys import CLUSTER_SLOTS, Keys, key_slot, slot_tags

SENTINEL = {"master": "cs-primary", "nodes": ["127.0.0.1:26379", "[::1]:26380"]}
CLUSTER = {"nodes": ["127.0.0.1:7000", "127.0.0.1:7001"]}


def error_for(redis: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        config_mod.from_mapping({"redis": redis})
    return ei.value


def test_sentinel_and_cluster_configs_are_read() -> None:
    cfg = config_mod.from_mapping({"redis": {"embedded": False, "sentinel": {
        **SENTINEL, "password": "s3cret"}, "password": "data-pw"}})
    assert cfg.redis.sentinel is not None and cfg.redis.cluster is None
    assert cfg.redis.sentinel.master == "cs-primary"
    assert cfg.redis.sentinel.nodes == SENTINEL["nodes"]
    assert (cfg.redis.sentinel.password, cfg.redis.password) == ("s3cret", "data-pw")
    cfg = config_mod.from_mapping({"redis": {"embedded": False, "cluster": CLUSTER}})
    assert cfg.redis.cluster is not None and cfg.redis.cluster.nodes == CLUSTER["nodes"]


@pytest.mark.parametrize("redis,key", [
    ({"embedded": False, "sentinel": SENTINEL, "cluster": CLUSTER}, "redis.cluster"),
    ({"embedded": True, "sentinel": SENTINEL}, "redis.embedded"),
    ({"cluster": CLUSTER}, "redis.embedded"),  # embedded is the default
    ({"embedded": False, "sentinel": {"master": "m", "nodes": []}}, "redis.sentinel.nodes"),
    ({"embedded": False, "sentinel": {"master": " ", "nodes": ["h:1"]}},
     "redis.sentinel.master"),
    ({"embedded": False, "sentinel": {"master": "m", "nodes": ["h:1", "nohost"]}},
     "redis.sentinel.nodes[1]"),
    ({"embedded": False, "cluster": {"nodes": ["127.0.0.1:x"]}}, "redis.cluster.nodes[0]"),
    ({"embedded": False, "cluster": {}}, "redis.cluster.nodes"),
    ({"embedded": False, "cluster": CLUSTER, "key_prefix": "{cs}:"}, "redis.key_prefix"),
    ({"embedded": False, "sentinel": {**SENTINEL, "port": 1}}, "redis.sentinel.port"),
])
def test_incomplete_or_conflicting_ha_config_names_the_key(redis: dict[str, Any],
                                                           key: str) -> None:
    assert error_for(redis).key == key


def test_cluster_layout_keeps_an_address_and_the_shared_keys_each_in_one_slot() -> None:
    k = Keys(tagged=True)
    a = "max@example.org"
    per_address = {k.suppression(a), k.address(a), k.soft_bounces(a), k.sends_by_recipient(a)}
    assert {key_slot(x) for x in per_address} == {key_slot("{max@example.org}")}
    shared = {k.audit_stream, k.expiring, k.allow, k.doi_pending, k.bounce_stream,
              k.dsn_queue, k.dsn_processing, k.retry_due, k.retry_job("j1"),
              k.retry_lease("j1"), k.retry_done("j1"), k.soft_bounce_index, k.inbound_stream,
              k.stats_hour("2026120108"), k.stats_campaign("c"), k.stats_campaigns,
              k.sends_by_campaign("c"), k.sends_by_message_id("<m@x>"), k.webhook_dead,
              k.audit_head}
    assert len({key_slot(x) for x in shared}) == 1
    assert k.person_addresses("p1") == "cs:person:{p1}:addrs"
    # The untagged (single node, Sentinel) layout is the one existing stores have.
    plain = Keys()
    assert (plain.suppression(a), plain.audit_stream, plain.retry_due) == (
        "cs:supp:max@example.org", "cs:audit", "cs:retry:due")


def test_slot_canaries_cover_every_slot_once() -> None:
    k = Keys(tagged=True)
    assert len(slot_tags()) == CLUSTER_SLOTS
    assert [key_slot(k.slot_canary(s)) for s in range(CLUSTER_SLOTS)] == list(
        range(CLUSTER_SLOTS))


def test_key_slot_is_redis_clusters_slot() -> None:
    from redis.crc import key_slot as reference  # redis-py's, used to route commands

    assert key_slot("foo") == 12182  # CLUSTER KEYSLOT foo
    for key in ("foo", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "{}", "a{b",
                "cs:supp:{a{b}@x.org}", "cs:supp:{bücher@xn--bcher-kva.de}", "x}y{z}"):
        assert key_slot(key) == reference(key.encode()), key
