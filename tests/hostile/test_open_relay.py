"""Open-relay probes (RELIABILITY H11): Metasploit smtp_relay's extended checks, nmap
smtp-open-relay's and DSBL relaytest's forms - null and IP-literal senders, the %-hack,
quoted addresses holding another @, user@host@host, source routes @a:b@c and @a,@b:c@d,
bang paths - from a host outside client_networks (every RCPT refused, 550 5.7.1 where the
address parses) and from an allowed client (every second-hop form refused 550 5.7.1 or
553). Nothing reaches the downstream, and the session stays usable."""

from __future__ import annotations

from typing import Any

import pytest

from ..helpers.client import message
from ..helpers.rawsmtp import RawSMTP, dot_terminated
from ..helpers.state import NO_BASIS

TARGET = "victim@target.example"
SENDERS = ["spammer@evil.example", "", "spammer@[127.0.0.2]", "postmaster@consentry.test"]
SECOND_HOP = [
    "victim%target.example@consentry.test",
    "victim%target.example@[127.0.0.1]",
    "victim%target.example",
    '"victim@target.example"',
    '"victim@target.example"@consentry.test',
    '"victim@target.example"@[127.0.0.1]',
    '"victim%target.example"@consentry.test',
    "victim@target.example@consentry.test",
    "victim@target.example@[127.0.0.1]",
    "@consentry.test:victim@target.example",
    "@[127.0.0.1]:victim@target.example",
    "@a.example,@b.example:victim@target.example",
    "target.example!victim",
    "target.example!victim@consentry.test",
    "target.example!victim@[127.0.0.1]",
    '"target.example!victim"@consentry.test',
    "victim%target.example%relay.example@consentry.test",
]


async def _probe(port: int, source: str, sender: str, rcpts: list[str]) -> list[Any]:
    async with RawSMTP(port, source=source) as c:
        assert (await c.cmd("EHLO probe.example")).code == 250
        assert (await c.cmd(f"MAIL FROM:<{sender}>")).code == 250
        replies = [await c.cmd(f"RCPT TO:<{r}>") for r in rcpts]
        data = await c.cmd("DATA")
        if data.code == 354:  # never expected: say what got through
            await c.write(dot_terminated(message()))
            await c.reply()
        replies.append(data)
        assert (await c.cmd("RSET")).code == 250  # still a working session
        return replies


@pytest.mark.parametrize("sender", SENDERS, ids=["plain", "null", "literal", "local"])
async def test_foreign_client_cannot_relay_anything(sender: str, make_config: Any, sink: Any,
                                                    start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"client_networks": ["127.0.0.1/32"]}))
    rcpts = [TARGET, "victim@[127.0.0.1]", "postmaster@consentry.test", *SECOND_HOP]
    replies = await _probe(running.port, "127.0.0.2", sender, rcpts)
    *rcpt_replies, data = replies
    assert all(500 <= r.code < 600 for r in rcpt_replies), [str(r) for r in rcpt_replies]
    # the plain forms are refused as relaying, not as syntax
    for r in rcpt_replies[:3]:
        assert r.code == 550 and r.text.startswith("5.7.1"), r
    assert data.code in (503, 554), data
    assert sink.received == []


@pytest.mark.parametrize("rcpt", SECOND_HOP)
async def test_allowed_client_cannot_use_second_hop_forms(rcpt: str, make_config: Any,
                                                          sink: Any, start_app: Any) -> None:
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"client_networks": ["127.0.0.1/32"]}))
    (r, data) = await _probe(running.port, "127.0.0.1", "news@sender.example", [rcpt])
    assert (r.code == 550 and r.text.startswith("5.7.1")) or r.code in (501, 553), r
    assert data.code in (503, 554), data
    assert sink.received == []


async def test_control_allowed_client_relays_a_plain_address(make_config: Any, sink: Any,
                                                             start_app: Any) -> None:
    """Control: the same probe with a plain address from the allowed client relays."""
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          submission={"client_networks": ["127.0.0.1/32"]}))
    (r, data) = await _probe(running.port, "127.0.0.1", "news@sender.example", [TARGET])
    assert r.code == 250 and data.code == 354
    assert sink.delivered_to() == [TARGET]
