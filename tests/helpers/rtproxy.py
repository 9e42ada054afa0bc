"""Round-trip counting over BurstProxy: one round trip is one burst of client bytes after
the server last answered (however the client fragments it)."""

from __future__ import annotations

from .burstproxy import BurstProxy


class RoundTripProxy(BurstProxy):
    @property
    def round_trips(self) -> int:
        return len(self.bursts)
