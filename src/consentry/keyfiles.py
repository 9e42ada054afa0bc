"""Loading secrets from config: token HMAC keys and DKIM private keys (the I/O half of
tokens.py and dkim.py, which stay pure)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .config import Config
from .dkim import DkimError, DkimSigner, signer_from
from .errors import ConfigError
from .keys import Keys
from .rewrite import Rewriter
from .tokens import MIN_SECRET_BYTES, TokenCodec, TokenKey

GENERATED_KEY_FILE = "token.key"


def _read_secret(path: Path, key: str) -> bytes:
    try:
        data = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(key, f"cannot read {path}: {exc.strerror}") from None
    return data


def _generated_key(cfg: Config) -> bytes:
    """A single-host install without configured keys gets one random key, made once and
    kept in state_dir (several relays sharing Redis must configure the same keys)."""
    p = cfg.path(cfg.server.state_dir) / GENERATED_KEY_FILE
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    return _read_secret(p, f"{cfg.server.state_dir}/{GENERATED_KEY_FILE}")


def token_keys(cfg: Config) -> list[TokenKey]:
    if not cfg.tokens.keys:
        return [TokenKey(1, _generated_key(cfg))]
    out: list[TokenKey] = []
    for i, k in enumerate(cfg.tokens.keys):
        key = f"tokens.keys[{i}]"
        if k.secret_file is not None:
            secret = _read_secret(cfg.path(k.secret_file), f"{key}.secret_file")
        elif k.secret is not None:
            secret = k.secret.encode("utf-8")
        else:
            raise ConfigError(key, "needs secret or secret_file")
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(key, f"secret must be at least {MIN_SECRET_BYTES} bytes")
        out.append(TokenKey(k.id, secret))
    return out


def token_codec(cfg: Config) -> TokenCodec:
    return TokenCodec(token_keys(cfg), max_age=cfg.tokens.max_age_days * 86400.0)


def dkim_private_keys(cfg: Config) -> dict[str, bytes]:
    """domain -> PEM private key bytes, for every configured DKIM key."""
    out: dict[str, bytes] = {}
    for i, k in enumerate(cfg.dkim.keys):
        out[k.domain.lower()] = _read_secret(cfg.path(k.private_key_file),
                                             f"dkim.keys[{i}].private_key_file")
    return out


def dkim_signer(cfg: Config) -> DkimSigner | None:
    d = cfg.dkim
    if not d.enabled:
        return None
    pems = dkim_private_keys(cfg)
    keys = {k.domain.lower(): (k.selector, pems[k.domain.lower()]) for k in d.keys}
    try:
        return signer_from(keys, d.headers, d.oversign, d.canonicalization, d.self_check)
    except (ValueError, DkimError) as exc:
        raise ConfigError("dkim.keys", str(exc)) from None


def rewriter(cfg: Config, base_url: str | None) -> Rewriter:
    return Rewriter(cfg, token_codec(cfg), dkim_signer(cfg), base_url)


def privacy_secret(cfg: Config) -> bytes | None:
    """The HMAC secret of privacy mode (privacy.py), or None when it is off."""
    pv = cfg.privacy
    if not pv.hash_suppressions:
        return None
    if pv.secret is not None:
        return pv.secret.encode("utf-8")
    assert pv.secret_file is not None  # config validation
    data = _read_secret(cfg.path(pv.secret_file), "privacy.secret_file")
    if len(data) < 16:
        raise ConfigError("privacy.secret_file", "the secret must be at least 16 bytes")
    return data


def store_keys(cfg: Config) -> Keys:
    """The key schema of this config: prefix, and the privacy secret if any."""
    return Keys(cfg.redis.key_prefix, privacy_secret(cfg))
