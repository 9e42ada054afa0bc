"""Privacy mode (GDPR Art. 17): suppressions keyed by a keyed hash of the address. Pure.

With `privacy.hash_suppressions` every suppression is stored under
``cs:supp:h:<HMAC-SHA256(secret, address key)>`` instead of the address, and every lookup
hashes the recipient the same way, so an objection keeps blocking an address whose clear
text has been erased (`consentry erase`). Audit entries of hashed suppressions name the
hash, never the address. The secret must stay the same for the life of the data (a new
secret makes every stored hash unreachable) and be the same on every host; it is loaded
by `keyfiles.privacy_secret`.
"""

from __future__ import annotations

import hashlib
import hmac

HASH_PREFIX = "h:"
HASH_HEX = 40  # 160 bits of HMAC-SHA256: collisions out of reach for any address count


def hash_key(secret: bytes, address_key: str) -> str:
    """The stored identity of a normalised address key (idempotent on a hash)."""
    if is_hashed(address_key):
        return address_key
    mac = hmac.new(secret, address_key.encode("utf-8"), hashlib.sha256).hexdigest()
    return HASH_PREFIX + mac[:HASH_HEX]


def is_hashed(ident: str) -> bool:
    # An address key always has an "@"; a hash never does.
    return ident.startswith(HASH_PREFIX) and "@" not in ident
