"""Print the invariant counts of a torture run as a table, one row per scenario (its
repetitions summed), plus a total. Input: the JSON lines the fault ledger appends to
$CONSENTRY_FAULT_COUNTS. Usage: python tests/fault/summary.py var/torture-counts.jsonl"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

COLUMNS = [  # (header, field)
    ("runs", "runs"), ("msgs", "messages"), ("attempts", "attempts"),
    ("accepted", "accepted"), ("delivered", "delivered"), ("duplicated", "duplicated"),
    ("window dups", "window_duplicates"), ("unchecked", "unchecked"),
    ("5xx", "permanent"), ("lost", "lost"), ("retried", "retried"),
    ("bounced", "bounced"), ("DSNs", "dsns"), ("DSN refused", "dsn_refused"),
    ("no DSN", "dsn_missing"),
    ("in queue", "in_retry_queue"),
]


def load(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        row = rows.setdefault(rec.get("scenario", "?"), {"runs": 0, "refused": Counter()})
        row["runs"] += 1
        for _h, f in COLUMNS[1:]:
            row[f] = row.get(f, 0) + int(rec.get(f, 0))
        row["refused"].update(rec.get("refused", {}))
    return rows


def table(rows: dict[str, dict[str, Any]]) -> str:
    total: dict[str, Any] = {"refused": Counter()}
    for row in rows.values():
        for _h, f in COLUMNS:
            total[f] = total.get(f, 0) + row.get(f, 0)
        total["refused"].update(row["refused"])
    header = ["scenario", *(h for h, _f in COLUMNS), "refused (code: n)"]
    body = [[name, *(str(row.get(f, 0)) for _h, f in COLUMNS),
             " ".join(f"{k}:{v}" for k, v in sorted(row["refused"].items())) or "-"]
            for name, row in sorted(rows.items())]
    body.append(["TOTAL", *(str(total.get(f, 0)) for _h, f in COLUMNS),
                 " ".join(f"{k}:{v}" for k, v in sorted(total["refused"].items())) or "-"])
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(r, widths, strict=True))) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(header), sep, *(fmt(r) for r in body)])


def main(argv: list[str]) -> int:
    path = Path(argv[1] if len(argv) > 1 else "var/torture-counts.jsonl")
    if not path.exists():
        print(f"no invariant counts in {path} (no fault scenario ran)")
        return 0
    print(f"invariant counts per scenario ({path}); duplicated and unchecked must be 0, "
          "window dups are RFC 1047 duplicates (final dot sent, reply lost)")
    print(table(load(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
