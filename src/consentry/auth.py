"""SMTP AUTH on the submission listener (RELIABILITY §2 AUTH row).

Credentials live in a JSON file of salted scrypt hashes (`consentry user add NAME`
writes it, mode 0600, never echoing the password); each user has the envelope senders
it may use (globs; MAIL FROM outside them gets 553 5.7.1). aiosmtpd offers AUTH only
after STARTTLS (auth_require_tls). Failed attempts are counted per client IP: every
failure costs the session `failure_delay` seconds, and `max_failures` within
`failure_window` seconds answer 421 and close, for that IP, until the window passes.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import functools
import getpass
import hashlib
import hmac
import json
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Config
from .errors import ConfigError

_KEY = "submission.auth.users_file"
_N, _R, _P, _LEN = 2**14, 8, 1, 32


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(dk).decode()}"


def verify_password(password: bytes, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, want = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(want)
        got = hashlib.scrypt(password, salt=base64.b64decode(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@functools.cache
def _dummy() -> str:
    """Verified against for an unknown user name: the same cost as for a known one. Made
    when the first Authenticator is built, not at import: every CLI command and every
    process start imports this module, and one scrypt hash is ~80 ms of CPU."""
    return hash_password("never a password")


@dataclass(frozen=True)
class User:
    name: str
    password: str  # scrypt$N$r$p$salt$hash
    senders: tuple[str, ...]  # envelope sender globs (case-insensitive); empty: none

    def may_send_as(self, mail_from: str) -> bool:
        addr = mail_from.strip().strip("<>").lower()
        return any(fnmatch.fnmatchcase(addr, g.lower()) for g in self.senders)


def users_path(cfg: Config) -> Path | None:
    f = cfg.submission.auth.users_file
    return cfg.path(f) if f is not None else None


def load_users(cfg: Config) -> dict[str, User]:
    path = users_path(cfg)
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(_KEY, f"cannot read {path}: {exc}") from None
    users: dict[str, User] = {}
    raw = data.get("users") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        raise ConfigError(_KEY, f"{path}: expected {{\"users\": {{NAME: ...}}}}")
    for name, u in raw.items():
        if (not isinstance(u, dict) or not isinstance(u.get("password"), str)
                or not isinstance(u.get("senders", []), list)):
            raise ConfigError(_KEY, f"{path}: user {name!r} needs password and senders")
        users[str(name)] = User(str(name), u["password"],
                                tuple(str(s) for s in u.get("senders", [])))
    return users


class AuthGuard:
    """Failed AUTH attempts per client IP, in a sliding window (bounded memory)."""

    def __init__(self, max_failures: int, window: float, delay: float,
                 max_ips: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window = window
        self.delay = delay
        self.max_ips = max_ips
        self._fails: dict[str, deque[float]] = {}

    def _recent(self, ip: str) -> deque[float]:
        q = self._fails.get(ip)
        if q is None:
            return deque()
        cutoff = time.monotonic() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        if not q:
            del self._fails[ip]
        return q

    def failures(self, ip: str) -> int:
        return len(self._recent(ip))

    def blocked(self, ip: str) -> bool:
        return self.failures(ip) >= self.max_failures

    def fail(self, ip: str) -> None:
        if ip not in self._fails and len(self._fails) >= self.max_ips:
            self._fails.pop(next(iter(self._fails)))  # the oldest entry goes
        self._fails.setdefault(ip, deque()).append(time.monotonic())


class Authenticator:
    """aiosmtpd authenticator (PLAIN and LOGIN hand it a LoginPassword)."""

    def __init__(self, users: dict[str, User], guard: AuthGuard) -> None:
        self.users = users
        self.guard = guard
        self._dummy = _dummy()  # before any client, so no first attempt pays for it

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = getattr(auth_data, "login", None)
        password = getattr(auth_data, "password", None)
        if not isinstance(login, bytes) or not isinstance(password, bytes):
            return AuthResult(success=False, handled=False)
        user = self.users.get(login.decode("utf-8", "replace"))
        ok = verify_password(password, user.password if user else self._dummy)
        if ok and user is not None:
            return AuthResult(success=True, auth_data=user)
        peer = session.peer
        self.guard.fail(str(peer[0]) if isinstance(peer, tuple) else "unix")
        return AuthResult(success=False, handled=False)


# --- `consentry user add NAME` ---------------------------------------------------------

def cmd_user_add(cfg: Config, args: argparse.Namespace) -> int:
    path = users_path(cfg)
    if path is None:
        raise ConfigError(_KEY, "set it to the credentials file `user add` should write")
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("consentry: passwords differ, nothing written", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("consentry: password too short (8 characters at least)", file=sys.stderr)
        return 2
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {"users": {}}
    users = data.setdefault("users", {})
    users[args.name] = {"password": hash_password(password), "senders": args.sender}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    print(f"user {args.name} written to {path} (senders: {', '.join(args.sender) or 'none'}); "
          "send SIGHUP to the daemon to load it")
    return 0


def add_parser(sub: Any) -> None:
    users = sub.add_parser("user", help="SMTP AUTH users (submission.auth.users_file)"
                           ).add_subparsers(dest="action", required=True)
    s = users.add_parser("add", help="add or replace a user (prompts for the password)")
    s.add_argument("name")
    s.add_argument("--sender", action="append", default=[], metavar="GLOB",
                   help="allowed envelope sender, e.g. '*@news.example.com' (repeatable)")
    s.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of stdin")
    s.set_defaults(fn=cmd_user_add)
