"""Named SMTP replies with enhanced status codes (RFC 3463), and the one function that
maps the failure model onto them. Internal details stay in the log (Postfix's
SMTPD_PROXY_README rationale: strangers get generic text)."""

from __future__ import annotations

from .errors import MalformedMessage, StoreUnavailable, UpstreamPermanent, UpstreamTemporary

RELAY_DENIED = "550 5.7.1 Relaying denied: client not authorised"
RELAY_HACK = "550 5.7.1 Relaying denied: source routes and %/! forms are not accepted"
BAD_ADDRESS = "553 5.1.3 Invalid address: {reason}"
TOO_MANY_RCPTS = "452 4.5.3 Too many recipients"
NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII address needs MAIL FROM ... SMTPUTF8 (RFC 6531)"
BAD_SENDER = "553 5.1.7 Invalid sender address: {reason}"
RCPT_OK = "250 2.1.5 Recipient ok"
DUP_RCPT = "250 2.1.5 Recipient ok (duplicate, counted once)"
BARE_NEWLINE = "550 5.6.0 Message contains bare CR or LF (not allowed by RFC 5321)"
BARE_LF_COMMAND = "500 5.5.2 Command line ended by a bare LF (RFC 5321 §2.3.8), closing"
MALFORMED = "550 5.6.0 Malformed message: {reason}"
TEMP_LOCAL = "451 4.3.0 Temporary local problem, please try again later"
TEMP_DOWNSTREAM = "451 4.4.1 Downstream temporarily unavailable, please try again later"
TEMP_AMBIGUOUS = "451 4.4.2 Downstream did not confirm delivery, please try again later"
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections, try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
SESSION_EXPIRED = "421 4.4.2 Session time limit reached, closing"
AUTH_BLOCKED = "421 4.7.0 Too many failed authentication attempts, try again later"
SENDER_NOT_OWNED = "553 5.7.1 Sender address not allowed for this login"
FOOTER_MISSING = "554 5.7.0 Marketing mail without a visible opt-out link is not relayed"
TRACKING_UNCHECKABLE = ("554 5.6.0 Message structure cannot be checked for tracking; not relayed"
                        " to recipients without tracking consent")
ALL_SUPPRESSED = "250 2.0.0 Ok: accepted, 0 of {n} recipient(s) relayed (suppressed by policy)"
DELIVERED = "250 2.0.0 Ok: {relayed} of {n} recipient(s) relayed, downstream queued as {qid}"


def for_error(exc: Exception) -> str:
    if isinstance(exc, StoreUnavailable):
        return TEMP_LOCAL
    if isinstance(exc, UpstreamTemporary):
        return TEMP_AMBIGUOUS if exc.ambiguous else TEMP_DOWNSTREAM
    if isinstance(exc, UpstreamPermanent):
        code = exc.code if 500 <= exc.code < 600 else 554
        enhanced = exc.enhanced if exc.enhanced.startswith("5.") else "5.0.0"
        return f"{code} {enhanced} Downstream refused the message"
    if isinstance(exc, MalformedMessage):
        return MALFORMED.format(reason=str(exc))
    return TEMP_LOCAL
