"""`consentry erase ADDRESS` (GDPR Art. 17) in privacy mode: the personal data goes, the
objection stays (as a keyed hash, privacy.py).

Removed or rewritten:
  Redis   clear-text suppression keys (folded into the hashed one), the consent record
          and person link (the person's other addresses re-linked without it), soft-bounce
          counters, the allow-list entry, the recipient index of the send records and the
          address inside every send record (replaced by the hash), token references that
          name it, bounce and inbound stream entries that mention it
  files   every occurrence of the address (any spelling seen) in the decision log and
          its rotated copies, the spools (refusals, send records, retry), the inbound
          spool (kept replies) and the outbox, overwritten in place with '*' of the same
          length, so line structure, JSON and concurrent appenders are undisturbed
Kept: the hashed suppression (if the address had none, one with reason ``erased`` is
added unless --no-suppress: a later CRM re-import must not mail a person who asked to be
forgotten), and the audit entries, which in privacy mode only ever name the hash. Audit
entries written *before* privacy mode was switched on cannot be redacted without breaking
the hash chain; erase reports how many there are.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Config
from .store import Store

CHUNK = 1 << 20


@dataclass(slots=True)
class FileReport:
    files: int = 0
    occurrences: int = 0
    skipped: list[str] = field(default_factory=list)


def _needle_regex(needles: Iterable[str]) -> re.Pattern[bytes]:
    forms: set[bytes] = set()
    for n in needles:
        if not n:
            continue
        forms.add(n.encode("utf-8"))
        forms.add(json.dumps(n)[1:-1].encode("ascii"))  # as JSON with \\u escapes
    alts = sorted(forms, key=len, reverse=True)
    return re.compile(b"|".join(re.escape(f) for f in alts), re.IGNORECASE)


def mask_file(path: Path, rx: re.Pattern[bytes]) -> int:
    """Overwrite every match with '*' in place (same length). Returns how many."""
    longest = 512  # an address is at most 256 octets; JSON escaping can double it
    n = 0
    with open(path, "r+b") as fh:
        pos = 0
        tail = b""
        while True:
            fh.seek(pos)
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            buf = tail + chunk
            base = pos - len(tail)
            for m in rx.finditer(buf):
                # A match entirely inside the overlap was handled with the last chunk.
                if m.end() <= len(tail):
                    continue
                fh.seek(base + m.start())
                fh.write(b"*" * (m.end() - m.start()))
                n += 1
            pos += len(chunk)
            tail = buf[-longest:]
        fh.flush()
        os.fsync(fh.fileno())
    return n


def _walk(p: Path) -> Iterator[Path]:
    if p.is_file():
        yield p
    elif p.is_dir():
        for q in sorted(p.rglob("*")):
            if q.is_file() and not q.is_symlink():
                yield q


def personal_files(cfg: Config) -> list[Path]:
    """Where consentry's own files may hold an address (the audit file is not one: in
    privacy mode it names hashes only)."""
    out: list[Path] = []
    log = cfg.log.decision_log
    if log != "-":
        lp = cfg.path(log)
        if lp.parent.is_dir():
            out += sorted(q for q in lp.parent.iterdir()
                          if q.is_file() and q.name.startswith(lp.name))
    state = cfg.path(cfg.server.state_dir)
    for p in (state / "spool", cfg.path(cfg.inbound.spool_dir), cfg.path(cfg.outbox.dir)):
        out += list(_walk(p))
    audit_file = (state / cfg.audit.file) if cfg.audit.file else None
    seen: set[Path] = set()
    result = []
    for q in out:
        r = q.resolve()
        if r in seen or (audit_file is not None and r == audit_file.resolve()):
            continue
        seen.add(r)
        result.append(q)
    return result


def mask_files(paths: Iterable[Path], needles: Iterable[str]) -> FileReport:
    rx = _needle_regex(needles)
    rep = FileReport()
    for p in paths:
        if p.suffix in (".gz", ".xz", ".bz2", ".zst"):
            rep.skipped.append(f"{p} (compressed)")
            continue
        try:
            n = mask_file(p, rx)
        except OSError as exc:
            rep.skipped.append(f"{p} ({exc.strerror})")
            continue
        if n:
            rep.files += 1
            rep.occurrences += n
    return rep


def _mentions(needles: set[str]) -> Any:
    low = {n.lower() for n in needles}

    def test(fields: dict[str, str]) -> bool:
        return any(any(n in str(v).lower() for n in low) for v in fields.values())

    return test


async def erase(cfg: Config, store: Store, key: str, spellings: Iterable[str], actor: str,
                reason: str, keep: bool = True) -> dict[str, Any]:
    names = sorted({key, *spellings})
    # Spellings the send records saw for this address (raw envelope forms), before they
    # are rewritten: the files may hold any of them.
    sent = await store.get_sends(await store.send_ids(store.keys.sends_by_recipient(key),
                                                      10_000))
    for raw in sent:
        try:
            for r in json.loads(raw or "{}").get("recipients", []):
                if r.get("k") == key and isinstance(r.get("r"), str):
                    names.append(r["r"])
        except (ValueError, AttributeError):
            continue
    names = sorted(set(names))
    out = await store.erase_address(key, names, actor, reason, keep, time.time())
    m = _mentions(set(names))
    out["bounce_entries"] = await store.erase_scan_stream(store.keys.bounce_stream, m)
    out["inbound_entries"] = await store.erase_scan_stream(store.keys.inbound_stream, m)
    out["clear_audit_entries"] = await store.erase_scan_stream(
        store.keys.audit_stream, lambda f: f.get("address") in set(names), delete=False)
    out["token_refs"] = await store.erase_token_refs(key)
    fr = mask_files(personal_files(cfg), names)
    out["files"] = {"files": fr.files, "occurrences": fr.occurrences, "skipped": fr.skipped}
    out["spellings"] = len(names)
    return out


def cmd_erase(cfg: Config, args: Any) -> int:
    import sys

    from .cli import _addr, _with_store

    if not cfg.privacy.hash_suppressions:
        print("consentry: erase needs privacy mode (privacy.hash_suppressions with a "
              "secret): without it the suppression itself is the address, and erasing it "
              "would let mail through again", file=sys.stderr)
        return 2
    a = _addr(cfg, args.address)

    async def run(store: Store) -> int:
        out = await erase(cfg, store, a.key, [a.canonical, a.raw], "cli", args.reason,
                          keep=not args.no_suppress)
        if args.json:
            print(json.dumps(out, ensure_ascii=False, indent=2))
            return 0
        ident = out["ident"]
        kept = ("suppression kept under the hash" if out["had_suppression"] else
                "no suppression existed: added one (reason erased)"
                if out["suppression_added"] else "no suppression (--no-suppress)")
        print(f"erased {a.key}: now known only as {ident}")
        print(f"  {kept}; {out['folded']} clear-text suppression field(s) folded into it")
        if out["person"]:
            print(f"  consent record removed; unlinked from person {out['person']} "
                  f"({out['relinked']} other address(es) re-linked)")
        else:
            print("  consent record removed (no person link)")
        print(f"  {out['sends_redacted']} send record(s) rewritten with the hash, "
              f"{out['token_refs']} token reference(s), {out['bounce_entries']} bounce and "
              f"{out['inbound_entries']} inbound stream entr(y/ies) deleted")
        f = out["files"]
        print(f"  files: {f['occurrences']} occurrence(s) masked in {f['files']} file(s)"
              + (f"; skipped {', '.join(f['skipped'])}" if f["skipped"] else ""))
        if out["clear_audit_entries"]:
            print(f"  NOTE: {out['clear_audit_entries']} audit entr(y/ies) written before "
                  "privacy mode still name the address (the hash chain cannot be redacted)")
        print(f"  audited as stream entry {out['stream_id']} (address {ident})")
        return 0

    rc: int = _with_store(cfg, run)
    return rc


def add_parser(sub: Any) -> None:
    s = sub.add_parser("erase", help="GDPR Art. 17: remove an address's personal data, keep "
                                     "its hashed suppression (privacy mode)")
    s.add_argument("address")
    s.add_argument("--reason", default="erasure request (GDPR Art. 17)",
                   help="recorded in the audit entry (e.g. the ticket number)")
    s.add_argument("--no-suppress", action="store_true",
                   help="do not add a suppression when none exists")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_erase)
