"""Writing consentry's Redis state the way the documented key schema says other tools may."""

from __future__ import annotations

import json
import time
from typing import Any

NO_BASIS = {"require_basis": False}  # suppression-only tests: no consent basis needed


def suppress(r: Any, key: str, reason: str = "unsubscribe", scope: str = "global",
             prefix: str = "cs:") -> None:
    r.hset(f"{prefix}supp:{key}", scope, json.dumps({"reason": reason, "source": "test",
                                                     "at": time.time()}))
