"""The small failure model. Each maps to one SMTP reply in `replies.for_error`."""

from __future__ import annotations


class ConsentryError(Exception):
    """Base of every error consentry raises on purpose."""


class ConfigError(ConsentryError):
    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config error at {key}: {message}")
        self.key = key
        self.message = message


class StoreUnavailable(ConsentryError):
    """Redis errored, timed out, denied access, or has lost its data (canary missing)."""


class AuditIncomplete(StoreUnavailable):
    """The change is in Redis and its audit stream, but its entry could not be appended to
    the audit file (disk full, I/O error): not acknowledged as done. The next successful
    append back-fills it from the stream (docs/audit.md)."""


class UpstreamTemporary(ConsentryError):
    """The downstream MTA is unreachable or answered 4xx: nothing was delivered."""

    def __init__(self, message: str, code: int = 451, ambiguous: bool = False) -> None:
        super().__init__(message)
        self.code = code
        # True when the final dot may have reached downstream but no reply came back
        # (the RFC 1047 window): the message may have been delivered.
        self.ambiguous = ambiguous


class UpstreamPermanent(ConsentryError):
    """The downstream MTA refused the message (or every recipient) with 5xx."""

    def __init__(self, message: str, code: int = 554, enhanced: str = "5.0.0") -> None:
        super().__init__(message)
        self.code = code
        self.enhanced = enhanced  # RFC 3463 status for our reply to the client


class MalformedMessage(ConsentryError):
    """The message content cannot be relayed safely (bare CR/LF, broken header section)."""


class InvalidAddress(ConsentryError, ValueError):
    """An envelope address that cannot be canonicalised."""
