"""Reading consent and suppression files (JSONL or CSV) and writing them in batches.

Every line is validated; a bad line is reported with its line number and skipped, the
good ones are imported. Writes go through `Store` in batches of thousands of records, one
MULTI/EXEC per batch, so a crash leaves whole batches written or not at all, and
re-running the import is harmless (unchanged records are neither rewritten nor audited).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TypeVar, cast

from .consent import (
    CONSENT_FIELDS,
    LINK_FIELDS,
    PURCHASE_FIELDS,
    SUPPRESSION_FIELDS,
    AddressParser,
    ConsentImport,
    RecordError,
    SuppressionLine,
    consent_record,
    suppression_record,
)
from .model import Suppression, iso
from .store import Store

Format = Literal["jsonl", "csv"]
BATCH = 2000
_SURROGATE = re.compile(r"[\udc80-\udcff]")


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    message: str


@dataclass(slots=True)
class ImportReport:
    records: int = 0  # valid records read
    written: int = 0  # records that changed the store
    unchanged: int = 0  # records already stored exactly so
    bad: list[BadLine] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.by_kind.items()))
        return (f"{self.records} valid record(s) ({kinds or 'none'}): {self.written} written, "
                f"{self.unchanged} unchanged; {len(self.bad)} bad line(s)")


def detect_format(path: str, explicit: str | None) -> Format:
    if explicit in ("jsonl", "csv"):
        return explicit  # type: ignore[return-value]
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def open_text(path: str) -> IO[str]:
    # surrogateescape: an invalid UTF-8 byte becomes a lone surrogate, reported per line
    # below instead of aborting the whole file.
    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig",
                                errors="surrogateescape", newline="")
    return open(Path(path), encoding="utf-8-sig", errors="surrogateescape", newline="")


def _has_bad_bytes(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_SURROGATE.search(value))
    if isinstance(value, dict):
        return any(_has_bad_bytes(k) or _has_bad_bytes(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_bad_bytes(v) for v in value)
    return False


def jsonl_rows(fh: IO[str]) -> Iterator[tuple[int, dict[str, Any] | BadLine]]:
    for n, line in enumerate(fh, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if _has_bad_bytes(text):
            yield n, BadLine(n, "not valid UTF-8")
            continue
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            yield n, BadLine(n, f"not valid JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(d, dict):
            yield n, BadLine(n, "a record must be a JSON object")
            continue
        yield n, d


_TRUE = {"true", "yes", "y", "1", "ja", "j"}
_FALSE = {"false", "no", "n", "0", "nein"}


def _csv_bool(v: str, name: str) -> bool:
    low = v.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise RecordError(f"{name}: must be true or false, got {v!r}")


def _csv_list(v: str) -> list[str]:
    return [x.strip() for x in re.split(r"[;|]", v) if x.strip()]


CSV_CONSENT_COLUMNS = ["record", "address", "person", "type", "signup_at", "signup_ip",
                       "confirmed_at", "confirm_ip", "tracking", "lists", "source", "id", "at",
                       "status", "kind", "categories", "address_collected", "objection_notice"]
CSV_SUPPRESSION_COLUMNS = ["address", "scope", "reason", "source", "at", "expires_at",
                           "evidence"]
_ALIASES = {"email": "address", "e-mail": "address", "email_address": "address"}
_LIST_COLUMNS = {"lists", "categories"}
_BOOL_COLUMNS = {"tracking", "address_collected", "objection_notice"}


def csv_rows(fh: IO[str], columns: list[str]
             ) -> Iterator[tuple[int, dict[str, str] | BadLine]]:
    reader = csv.reader(fh)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, BadLine(1, f"CSV header: {exc}")
        return
    names = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    unknown = [h for h in names if h not in columns]
    if unknown or ("address" not in names and "record" not in names):
        yield 1, BadLine(1, f"CSV header: unknown column(s) {', '.join(unknown) or '-'}; "
                            f"known: {', '.join(columns)} (nothing imported)")
        return
    last = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, BadLine(reader.line_num, f"CSV: {exc}")
            return
        start = last + 1
        last = reader.line_num
        if not any(c.strip() for c in row):
            continue
        if _has_bad_bytes(row):
            yield start, BadLine(start, "not valid UTF-8")
            continue
        if len(row) != len(names):
            yield start, BadLine(start, f"{len(row)} cells, header has {len(names)}")
            continue
        yield start, {k: v.strip() for k, v in zip(names, row, strict=True) if v.strip()}


def _consent_csv_to_json(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row of the consent import as the equivalent JSONL object."""
    typed: dict[str, Any] = {}
    for k, v in row.items():
        if k in _LIST_COLUMNS:
            typed[k] = _csv_list(v)
        elif k in _BOOL_COLUMNS:
            typed[k] = _csv_bool(v, k)
        else:
            typed[k] = v
    record = typed.pop("record", None)
    if record is None:
        record = "purchase" if "status" in typed else ("consent" if "type" in typed
                                                       else "link")
    if record not in ("consent", "purchase", "link"):
        raise RecordError(f"record: must be consent, purchase or link, got {record!r}")
    allowed = {"consent": CONSENT_FIELDS, "purchase": PURCHASE_FIELDS,
               "link": LINK_FIELDS}[record]
    extra = sorted(set(typed) - allowed)
    if extra:
        raise RecordError(f"column(s) {', '.join(extra)} not used by a {record} record")
    if record == "consent":
        return typed
    return {record: typed}


T = TypeVar("T")


def _records(rows: Iterable[tuple[int, Any]], build: Callable[[Any, int], T]
             ) -> Iterator[T | BadLine]:
    for n, row in rows:
        if isinstance(row, BadLine):
            yield row
            continue
        try:
            yield build(row, n)
        except RecordError as exc:
            yield BadLine(n, str(exc))


def consent_records(fh: IO[str], fmt: Format, parse: AddressParser
                    ) -> Iterator[ConsentImport | BadLine]:
    if fmt == "jsonl":
        return _records(jsonl_rows(fh), lambda d, n: consent_record(d, n, parse))
    return _records(csv_rows(fh, CSV_CONSENT_COLUMNS),
                    lambda r, n: consent_record(_consent_csv_to_json(r), n, parse))


def suppression_records(fh: IO[str], fmt: Format, parse: AddressParser
                        ) -> Iterator[SuppressionLine | BadLine]:
    rows: Iterable[tuple[int, Any]] = (
        jsonl_rows(fh) if fmt == "jsonl" else csv_rows(fh, CSV_SUPPRESSION_COLUMNS))
    known = SUPPRESSION_FIELDS
    assert set(CSV_SUPPRESSION_COLUMNS) == known
    return _records(rows, lambda d, n: suppression_record(d, n, parse))


def batches(items: Iterable[T | BadLine], report: ImportReport, size: int = BATCH
            ) -> Iterator[list[T]]:
    """Group valid records into batches; bad lines go straight into the report."""
    batch: list[T] = []
    for item in items:
        if isinstance(item, BadLine):
            report.bad.append(item)
            continue
        report.records += 1
        kind = type(item).__name__.removesuffix("Line").lower()
        report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- drivers (the CLI's `consent import` and `suppress import`) -------------------------


async def import_consent(store: Store, records: Iterable[ConsentImport | BadLine],
                         actor: str = "cli", batch: int = BATCH) -> ImportReport:
    report = ImportReport()
    for chunk in batches(records, report, batch):
        written, unchanged = await store.write_consent_batch(
            cast("list[ConsentImport]", chunk), actor)
        report.written += written
        report.unchanged += unchanged
    return report


async def import_suppressions(store: Store, records: Iterable[SuppressionLine | BadLine],
                              actor: str = "cli", batch: int = BATCH) -> ImportReport:
    report = ImportReport()
    for chunk in batches(records, report, batch):
        written, unchanged = await store.write_suppression_batch(chunk, actor)
        report.written += written
        report.unchanged += unchanged
    return report


def suppression_export_row(s: Suppression) -> dict[str, Any]:
    """The `suppress import` shape, so an export imports back unchanged."""
    d: dict[str, Any] = {"address": s.address, "scope": s.scope, "reason": s.reason,
                         "source": s.source, "at": iso(s.at)}
    if s.expires_at is not None:
        d["expires_at"] = iso(s.expires_at)
    if s.evidence is not None:
        d["evidence"] = s.evidence
    return d


async def export_suppressions(store: Store, out: IO[str], fmt: Format) -> int:
    n = 0
    writer = csv.DictWriter(out, fieldnames=CSV_SUPPRESSION_COLUMNS, lineterminator="\n")
    if fmt == "csv":
        writer.writeheader()
    async def each() -> AsyncIterator[Suppression]:
        # Whole-domain entries first, as "*@<domain>" (the import reads them back so).
        async for s in store.iter_domain_suppressions():
            yield s
        async for s in store.iter_suppressions():
            yield s

    async for s in each():
        row = suppression_export_row(s)
        if fmt == "csv":
            writer.writerow(row)
        else:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n
