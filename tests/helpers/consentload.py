"""Load consent/suppression records into a real Redis through the production import path
(importer + Store), and build the records tersely."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from consentry import address, importer
from consentry.config import Config
from consentry.store import Store

NOW_DT = datetime(2026, 6, 15, 12, 0, 0, tzinfo=UTC)
NOW = NOW_DT.timestamp()


def ago(days: float = 0, hours: float = 0, months: int = 0) -> str:
    """An ISO time before NOW (months are calendar months)."""
    dt = NOW_DT - timedelta(days=days, hours=hours)
    if months:
        m = dt.month - 1 - months
        year, month = dt.year + m // 12, m % 12 + 1
        dt = dt.replace(year=year, month=month)
    return dt.isoformat().replace("+00:00", "Z")


def doi(addr: str, signed: float = 30, confirmed: float | None = None, **kw: Any
        ) -> dict[str, Any]:
    """A complete DOI: signed up `signed` days ago, confirmed 5 minutes later (or
    `confirmed` days ago)."""
    conf = ago(confirmed) if confirmed is not None else ago(signed - 5 / 1440)
    return {"address": addr, "type": "doi", "signup_at": ago(signed),
            "signup_ip": "198.51.100.7", "confirmed_at": conf, "confirm_ip": "198.51.100.8",
            **kw}


def pending(addr: str, signed: float = 1, **kw: Any) -> dict[str, Any]:
    return {"address": addr, "type": "doi", "signup_at": ago(signed),
            "signup_ip": "198.51.100.7", **kw}


def purchase(addr: str, person: str = "p1", *, days: float = 30, months: int = 0,
             status: str = "completed", kind: str = "paid",
             categories: tuple[str, ...] = ("printer",), collected: bool = True,
             notice: bool = True, pid: str | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {"person": person, "address": addr, "at": ago(days, months=months),
                         "status": status, "kind": kind, "categories": list(categories),
                         "address_collected": collected, "objection_notice": notice}
    if pid is not None:
        p["id"] = pid
    return {"purchase": p}


def link(addr: str, person: str = "p1") -> dict[str, Any]:
    return {"link": {"person": person, "address": addr}}


def supp(addr: str, reason: str = "unsubscribe", scope: str = "global", days: float = 10,
         **kw: Any) -> dict[str, Any]:
    return {"address": addr, "reason": reason, "scope": scope, "at": ago(days),
            "source": "test", **kw}


def parser(cfg: Config) -> Any:
    return lambda raw: address.parse(raw, fold_case=cfg.addresses.fold_case,
                                     plus_separators=cfg.addresses.plus_separators)


def jsonl(rows: list[dict[str, Any]]) -> io.StringIO:
    return io.StringIO("".join(json.dumps(r) + "\n" for r in rows))


async def load(store: Store, cfg: Config, records: list[dict[str, Any]] | None = None,
               suppressions: list[dict[str, Any]] | None = None) -> None:
    p = parser(cfg)
    if records:
        rep = await importer.import_consent(
            store, importer.consent_records(jsonl(records), "jsonl", p))
        assert not rep.bad, rep.bad
    if suppressions:
        rep = await importer.import_suppressions(
            store, importer.suppression_records(jsonl(suppressions), "jsonl", p))
        assert not rep.bad, rep.bad
