"""The same failure semantics against a second, independent SMTP implementation:
Postfix's smtp-sink (RELIABILITY §3/§4.1 D1-D4), started and stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ..helpers.client import message, send
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.redis_proc import free_port
from ..helpers.state import NO_BASIS, suppress

SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
pytestmark = pytest.mark.skipif(not os.access(SMTP_SINK, os.X_OK),
                                reason="postfix smtp-sink not installed")


class PostfixSink:
    def __init__(self, *options: str, port: int | None = None) -> None:
        # smtp-sink drops privileges to nobody, who cannot enter pytest's 0700 tmp_path:
        # the dumps go to a world-writable directory of our own, removed in stop().
        self.dumps = Path(tempfile.mkdtemp(prefix="consentry-smtp-sink-"))
        self.dumps.chmod(0o777)
        self.port = port or free_port()
        argv = [SMTP_SINK, "-d", f"{self.dumps}/%M.", *options, f"127.0.0.1:{self.port}",
                "10"]
        if os.geteuid() == 0:
            argv[1:1] = ["-u", "nobody"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            assert time.monotonic() < deadline, "smtp-sink did not start"
            time.sleep(0.02)

    def messages(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.dumps.iterdir())]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        shutil.rmtree(self.dumps, ignore_errors=True)


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def postfix_sink() -> Iterator[Callable[..., PostfixSink]]:
    started: list[PostfixSink] = []

    def start(*options: str, port: int | None = None) -> PostfixSink:
        s = PostfixSink(*options, port=port)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def _cfg(make_config, ps: PostfixSink):
    return make_config(None, policy=NO_BASIS,
                       downstream={"host": "127.0.0.1", "port": ps.port, "connect_timeout": 3,
                                   "command_timeout": 5, "data_timeout": 5})


async def test_accepted_by_smtp_sink_only_allowed_recipient(postfix_sink, make_config,
                                                             start_app, sync_redis):
    ps = postfix_sink()
    suppress(sync_redis, "gone@example.org")
    running = await start_app(_cfg(make_config, ps))
    code, text, _ = await send(running.port, ["gone@example.org", "ok@example.org"],
                               message())
    assert code == 250, text
    (dump,) = ps.messages()
    assert b"X-Rcpt-Args: <ok@example.org>" in dump
    assert b"X-Rcpt-Args: <gone@example.org>" not in dump
    assert b"X-Mail-Args: <news@sender.example>" in dump


async def test_smtp_sink_disconnect_after_dot_is_451_ambiguous(postfix_sink, make_config,
                                                               start_app):
    ps = postfix_sink("-q", ".")
    running = await start_app(_cfg(make_config, ps))
    code, text, _ = await send(running.port, ["ok@example.org"], message())
    assert code == 451, text  # never 250
    assert running.app.relay is not None
    assert running.app.relay.counters.ambiguous == 1
    # RFC 1047: the downstream may well have it; we only promise dup <= ambiguous.
    assert len(ps.messages()) <= running.app.relay.counters.ambiguous


async def test_smtp_sink_soft_reject_rcpt_is_451_nothing_delivered(postfix_sink, make_config,
                                                                   start_app):
    ps = postfix_sink("-r", "RCPT")
    running = await start_app(_cfg(make_config, ps))
    code, text, _ = await send(running.port, ["a@example.org", "b@example.org"], message())
    assert code == 451, text
    assert ps.messages() == []


async def test_smtp_sink_hard_reject_final_dot_is_5xx(postfix_sink, make_config, start_app):
    ps = postfix_sink("-f", ".")
    running = await start_app(_cfg(make_config, ps))
    code, text, _ = await send(running.port, ["ok@example.org"], message())
    assert 500 <= code < 600, text


async def test_smtp_sink_soft_reject_at_connect_is_451(postfix_sink, make_config, start_app):
    ps = postfix_sink("-r", "CONNECT")
    running = await start_app(_cfg(make_config, ps))
    code, text, _ = await send(running.port, ["ok@example.org"], message())
    assert code == 451, text
    assert ps.messages() == []


async def test_smtp_sink_gone_is_451(postfix_sink, make_config, start_app):
    ps = postfix_sink()
    running = await start_app(_cfg(make_config, ps))
    ps.stop()
    code, text, _ = await send(running.port, ["ok@example.org"], message())
    assert code == 451, text


async def test_downstream_restarted_between_messages_stale_pooled_connection(
        postfix_sink, make_config, start_app):
    """The pooled connection dies with the old smtp-sink process; the next message is
    retried once on a fresh connection (nothing was sent on the dead one) and delivered
    exactly once."""
    ps = postfix_sink()
    running = await start_app(_cfg(make_config, ps))
    code, _, _ = await send(running.port, ["a@example.org"], message(msgid="<one@x>"))
    assert code == 250
    port = ps.port
    ps.stop()
    ps2 = postfix_sink(port=port)
    code, text, _ = await send(running.port, ["b@example.org"], message(msgid="<two@x>"))
    assert code == 250, text
    (dump,) = ps2.messages()
    assert b"X-Rcpt-Args: <b@example.org>" in dump


async def test_8bit_message_to_a_downstream_without_8bitmime_is_refused(
        postfix_sink, make_config, start_app):
    """RFC 6152: 8-bit content may only go to a hop that announced 8BITMIME. The relay
    refuses clearly instead of handing raw 8-bit bytes to a 7-bit hop."""
    ps = postfix_sink("-8")
    running = await start_app(_cfg(make_config, ps))
    eight = message(body="Grüße aus Köln\n")
    assert b"Content-Transfer-Encoding: 8bit" in eight and not eight.isascii()
    async with RawSMTP(running.port) as c:
        assert (await c.cmd("EHLO client.test")).code == 250
        assert (await c.cmd("MAIL FROM:<news@sender.example> BODY=8BITMIME")).code == 250
        assert (await c.cmd("RCPT TO:<ok@example.org>")).code == 250
        assert (await c.cmd("RCPT TO:<ok2@example.org>")).code == 250  # per-copy path too
        assert (await c.cmd("DATA")).code == 354
        final = await c.cmd(dot_terminated(eight).removesuffix(b"\r\n"))
        assert 500 <= final.code < 600, final
        assert final.text.startswith("5.6.3"), final
        # a 7-bit message still goes through
        assert (await c.cmd("MAIL FROM:<news@sender.example>")).code == 250
        assert (await c.cmd("RCPT TO:<ok@example.org>")).code == 250
        assert (await c.cmd("DATA")).code == 354
        assert (await c.cmd(dot_terminated(message()).removesuffix(b"\r\n"))).code == 250
    assert len(ps.messages()) == 1
