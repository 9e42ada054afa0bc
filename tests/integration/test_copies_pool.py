"""A pooled downstream connection must go back to the pool with no transaction open.

Found by the fault suite (tests/fault, downstream answering 4xx/5xx at RCPT): when the
last per-recipient copy of a chain was refused at RCPT, its MAIL transaction was left
open on the pipelined connection, and the next message on that connection got
"503 nested MAIL command" from the downstream -- a permanent refusal (5xx to the client)
for a message nothing was wrong with."""

from __future__ import annotations

from typing import Any

from aiosmtpd.smtp import Envelope

from ..helpers.client import message, send
from ..helpers.state import NO_BASIS

MARKETING = {"X-Consent-Class": "marketing", "X-Consent-List": "news"}


async def test_refused_last_copy_leaves_no_open_transaction_on_the_pooled_connection(
        make_config: Any, sink: Any, start_app: Any) -> None:
    # The up-front RCPT check accepts b; b's own copy, sent in the same pipelined write
    # as the end of a's copy, is refused at RCPT (the mailbox filled up meanwhile).
    def after_a(env: Envelope) -> str | None:
        if env.rcpt_tos == ["a@example.org"]:
            sink.control.rcpt_replies["b@example.org"] = "452 4.2.2 mailbox full"
        return None

    sink.control.on_message = after_a
    running = await start_app(make_config(sink, policy=NO_BASIS,
                                          retry={"initial_delay": 60}))
    code, text, _ = await send(running.port, ["a@example.org", "b@example.org"],
                               message(headers=MARKETING))
    assert code == 250, text  # a was delivered: b's copy waits in the retry queue
    assert sink.delivered_to() == ["a@example.org"]
    sink.control.on_message = None
    # The next message takes the same pooled connection: it must be relayed.
    code, text, _ = await send(running.port, ["c@example.org"], message(headers=MARKETING))
    assert code == 250, text
    assert sink.delivered_to() == ["a@example.org", "c@example.org"]
