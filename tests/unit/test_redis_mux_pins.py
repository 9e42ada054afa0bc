"""The redis-py internals redis_mux.py relies on, pinned: a redis-py or hiredis upgrade
that changes any of them fails here first (against the session's real redis-server)."""

from __future__ import annotations

import importlib.metadata

import hiredis
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.connection import Connection
from redis.asyncio.sentinel import SentinelConnectionPool, SentinelManagedConnection
from redis.exceptions import DataError, ReadOnlyError, ResponseError
from redis.utils import HIREDIS_AVAILABLE

from consentry.redis_mux import Mux

from ..helpers.redis_proc import RedisProc


def test_versions_the_pins_were_checked_against() -> None:
    assert importlib.metadata.version("redis") == "8.1.0"
    assert importlib.metadata.version("hiredis") == "3.5.0"
    assert HIREDIS_AVAILABLE


async def test_a_pool_connection_exposes_what_the_mux_uses(redis_proc: RedisProc) -> None:
    pool = aioredis.BlockingConnectionPool.from_url(redis_proc.url, decode_responses=True,
                                                    max_connections=2)
    conn = pool.make_connection()  # a Connection of the pool's class and kwargs, unpooled
    assert isinstance(conn, Connection)
    assert conn._reader is None and conn._writer is None
    await conn.connect()
    try:
        assert isinstance(conn._parser, _AsyncHiredisParser)
        hreader = conn._parser._reader
        assert isinstance(hreader, hiredis.Reader)
        assert conn._reader is not None and conn._writer is not None
        # gets() answers NOT_ENOUGH_DATA for an incomplete reply, decodes like
        # decode_responses, and returns (does not raise) redis-py's error classes.
        hreader.feed(b"$5\r\nhel")
        assert hreader.gets() is NOT_ENOUGH_DATA
        hreader.feed(b"lo\r\n-READONLY You can't write\r\n-ERR x\r\n*2\r\n:1\r\n-ERR y\r\n")
        assert hreader.gets() == "hello"
        assert isinstance(hreader.gets(), ReadOnlyError)
        err = hreader.gets()
        assert type(err) is ResponseError and str(err) == "x"
        nested = hreader.gets()
        assert nested[0] == 1 and isinstance(nested[1], ResponseError)
        assert hreader.gets() is NOT_ENOUGH_DATA
        assert (conn.encoder.encoding, conn.encoder.encoding_errors) == ("utf-8", "strict")
    finally:
        await conn.disconnect()
        await pool.disconnect()
    assert conn._reader is None and conn._writer is None


async def test_packing_is_byte_for_byte_redis_pys(redis_proc: RedisProc) -> None:
    pool = aioredis.ConnectionPool.from_url(redis_proc.url, decode_responses=True)
    mux = Mux(pool, 1.0)
    try:
        cmds: list[tuple[object, ...]] = [
            ("GET", "cs:epoch"), ("SET", "k", "v", "EX", "60"), ("MULTI",),
            ("ZADD", "z", 1.5, "m"), ("XADD", "s", "MAXLEN", "~", 100000, "*", "f", "ü€"),
            ("SET", "b", b"\x00\xff" * 40000), ("EXEC",)]
        assert await mux.request([("PING",)]) == ["PONG"]
        assert mux._pack(cmds) == b"".join(mux._conn.pack_commands(cmds))
        assert await mux.request([("ECHO", "ü€")]) == ["ü€"]
        # What redis-py's Encoder refuses is refused as it does (the C packer's
        # TypeError falls back to the loop, which raises redis-py's DataError); what
        # only the C packer refuses (a list, a bytearray) is packed as redis-py does.
        for bad in (True, None, "\udcff"):
            with pytest.raises((DataError, UnicodeEncodeError)) as caught:
                mux._conn.pack_commands([("SET", "k", bad)])
            with pytest.raises(caught.type):
                mux._pack([("GET", "a"), ("SET", "k", bad)])
        as_list = [["SET", "k", 1, 2.5, b"\xff", memoryview(b"mv"), bytearray(b"ba")]]
        assert mux._pack(as_list) == b"".join(  # type: ignore[arg-type]
            mux._conn.pack_commands(as_list))
    finally:
        await mux.close()
        await pool.disconnect()


_ARGS = st.one_of(st.text(max_size=40), st.binary(max_size=40),
                  st.integers(min_value=-2**70, max_value=2**70),
                  st.floats(allow_nan=False), st.floats())


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cmds=st.lists(st.tuples(st.sampled_from(["SET", "ZADD", "HSET", "EXPIRE"]),
                               st.lists(_ARGS, max_size=6)).map(lambda t: (t[0], *t[1])),
                     max_size=8))
async def test_packing_any_arguments_is_byte_for_byte_redis_pys(
        redis_proc: RedisProc, cmds: list[tuple[object, ...]]) -> None:
    pool = aioredis.ConnectionPool.from_url(redis_proc.url, decode_responses=True)
    mux = Mux(pool, 1.0)
    try:
        assert await mux.request([("PING",)]) == ["PONG"]
        try:
            expected = b"".join(mux._conn.pack_commands(cmds))
        except UnicodeEncodeError:  # a lone surrogate: refused both ways
            with pytest.raises(UnicodeEncodeError):
                mux._pack(cmds)
            return
        assert mux._pack(cmds) == expected
    finally:
        await mux.close()
        await pool.disconnect()


def test_sentinel_pool_makes_sentinel_managed_connections() -> None:
    # What the mux's READONLY rule and master re-resolution rest on.
    pool = SentinelConnectionPool("m", sentinel_manager=None)
    assert pool.is_master is True
    assert pool.connection_class is SentinelManagedConnection
    conn = pool.make_connection()
    assert isinstance(conn, SentinelManagedConnection)
    assert conn.connection_pool == pool  # a weakref proxy: the connect asks the sentinels
    assert Mux(pool, 1.0)._demotion  # READONLY on it means: demoted, ask again
