"""TLS contexts: listeners (STARTTLS / implicit TLS) and the downstream client.

A listener keeps ONE live SSLContext; SIGHUP builds a fresh one first (so a bad file is
refused with its key path and the old certificate stays), then loads the new files into
the live context in place: new handshakes use them, open sessions are untouched."""

from __future__ import annotations

import ssl

from .config import Config, ListenerTlsConfig
from .errors import ConfigError

_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def server_context(cfg: Config, tls: ListenerTlsConfig, where: str) -> ssl.SSLContext | None:
    if tls.cert is None or tls.key is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _load(ctx, cfg, tls, where)
    return ctx


def _load(ctx: ssl.SSLContext, cfg: Config, tls: ListenerTlsConfig, where: str) -> None:
    assert tls.cert is not None and tls.key is not None
    ctx.minimum_version = _VERSIONS[tls.min_version]
    try:
        ctx.load_cert_chain(str(cfg.path(tls.cert)), str(cfg.path(tls.key)))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{where}.cert", f"cannot load certificate/key: {exc}") from None
    if tls.client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=str(cfg.path(tls.client_ca)))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"{where}.client_ca", f"cannot load CA: {exc}") from None
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE


def reload_into(live: ssl.SSLContext, cfg: Config, tls: ListenerTlsConfig,
                where: str) -> None:
    """Validate on a scratch context, then apply to the live one (raises ConfigError)."""
    server_context(cfg, tls, where)
    _load(live, cfg, tls, where)


