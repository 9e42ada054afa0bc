"""Evaluate `consentry inbound classify` against the labelled corpora (issue 5 goals).

    python bench/inbound_eval.py [--bounces DIR] [--replies DIR] [--rounds N] [--workers N]
                                 [--json]

Defaults read the copies in tests/data/ (the development half: the rules were written
looking at it). `--heldout DIR` (`make eval HELDOUT=DIR`) also scores DIR/bounces and
DIR/replies (labels.jsonl beside the messages; addresses.jsonl and DISAGREEMENTS.md
optional) and prints them as a section of their own, so the figures of samples no rule was
written from stand apart; a DIR whose labels are the development half's is named as such,
not scored as held-out. Point --bounces/--replies at another copy to score it instead.

Printed: per kind precision/recall against both label sets; for bounces the share of
samples with the right number of failed recipients, with the right addresses and with the
labelled hard/soft classes; the safety counts (delivered DSNs that would suppress,
auto-replies read as unsubscribe, sender-side rejections called hard); the rules that
decided the failed recipients, with how many samples each decides (a rule deciding one or
two samples was likely written for them: the first place to look when held-out figures
fall); throughput.
The bounce figures are printed twice: against every label (the raw figure), and without
the samples listed in DISAGREEMENTS.md beside labels.jsonl (labels that contradict their
own message, each documented with its evidence there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from consentry.inbound.classify import Verdict, classify  # noqa: E402
from consentry.inbound.parse import split_mbox  # noqa: E402

# Sisimai reasons that say the receiving side refused *us* (reputation, policy,
# authentication, content): a hard verdict on one of these would wipe a good address.
SENDER_SIDE = frozenset({"blocked", "spamdetected", "policyviolation", "authfailure",
                         "badreputation", "requireptr", "securityerror", "norelaying",
                         "rejected", "toomanyconn", "speeding", "virusdetected",
                         "contenterror", "notcompliantrfc", "failedstarttls"})
REPLY_EXPECT = {"unsubscribe": "unsubscribe", "not_unsubscribe": "reply",
                "autoreply": "autoreply", "ambiguous": None}


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def classify_file(path: Path) -> list[Verdict]:
    return [classify(m) for m in split_mbox(path.read_bytes())]


def pr(pairs: list[tuple[str, str | None]], kind: str) -> tuple[float, float, int, int, int]:
    tp = sum(1 for exp, got in pairs if exp == kind and got == kind)
    fp = sum(1 for exp, got in pairs if exp != kind and got == kind)
    fn = sum(1 for exp, got in pairs if exp == kind and got != kind)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, tp, fp, fn


def file_kind(vs: list[Verdict]) -> str:
    kinds = [v.kind for v in vs]
    return Counter(kinds).most_common(1)[0][0] if kinds else "unknown"


def disagreements(d: Path) -> dict[str, str]:
    """Sample ids documented in DISAGREEMENTS.md (first cell of each table row), with
    the row's label cell (the third)."""
    f = d / "DISAGREEMENTS.md"
    out: dict[str, str] = {}
    if not f.exists():
        return out
    for line in f.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and re.fullmatch(r"[a-z0-9]+-[\w-]+",
                                                                      cells[0]):
            out[cells[0]] = cells[2]
    return out


def eval_bounces(d: Path) -> dict[str, Any]:
    labels = load(d / "labels.jsonl")
    addr_ref = ({r["id"]: r for r in load(d / "addresses.jsonl")}
                if (d / "addresses.jsonl").exists() else {})
    documented = disagreements(d)
    rows: list[dict[str, Any]] = []
    for lab in labels:
        vs = classify_file(d / lab["file"])
        got_r = [r for v in vs if v.kind == "bounce" for r in v.recipients]
        rows.append({"lab": lab, "vs": vs, "got": file_kind(vs), "got_r": got_r})
    everything = _score(rows, addr_ref)
    everything["disagreements"] = sorted(documented)
    everything["disagreements_unknown"] = sorted(
        set(documented) - {lab["id"] for lab in labels})
    everything["disagreements_passing"] = [
        r["lab"]["id"] for r in rows if r["lab"]["id"] in documented and r["ok"]]
    everything["without_disagreements"] = _score(
        [r for r in rows if r["lab"]["id"] not in documented], addr_ref)
    return everything


def _score(rows: list[dict[str, Any]], addr_ref: dict[str, Any]) -> dict[str, Any]:
    pairs: list[tuple[str, str | None]] = []
    n_b = count_ok = addr_ok = class_ok = all_ok = 0
    rec_total = rec_addr = rec_class = 0
    hard_called = hard_right = 0
    sender_side_hard: list[str] = []
    delivered_suppress: list[str] = []
    auto_unsub: list[str] = []
    misses: list[str] = []
    for row in rows:
        lab, vs, got, got_r = row["lab"], row["vs"], row["got"], row["got_r"]
        row["ok"] = True
        pairs.append((lab["kind"], got))
        if lab["kind"] == "delivered" and any(
            v.suppress and any(r.get("class") in ("hard", "soft") for r in v.recipients)
            for v in vs
        ):
            delivered_suppress.append(lab["id"])
        if lab["kind"] == "autoreply" and any(v.kind == "unsubscribe" for v in vs):
            auto_unsub.append(lab["id"])
        if lab["kind"] != "bounce":
            continue
        n_b += 1
        exp_r = lab["recipients"]
        n_ok = len(got_r) == len(exp_r)
        got_cls = Counter(r["class"] for r in got_r)
        exp_cls = Counter(e["class"] for e in exp_r)
        c_ok = n_ok and got_cls == exp_cls
        ref = addr_ref.get(lab["id"])
        got_a = Counter(r["address"].lower() for r in got_r)
        a_ok = ref is None or Counter(a.lower() for a in ref["addresses"]) == got_a
        count_ok += n_ok
        class_ok += c_ok
        addr_ok += a_ok and n_ok
        ok = n_ok and c_ok and a_ok
        row["ok"] = ok
        all_ok += ok
        if not ok:
            misses.append(f"{lab['id']}: expected {[e['class'] + '/' + e['reason'] for e in exp_r]}"
                          f" got {[r['class'] + '/' + r['reason'] for r in got_r]}"
                          + ("" if a_ok else " (address)"))
        rec_total += len(exp_r)
        rec_class += sum((got_cls & exp_cls).values())
        if ref is not None:
            rec_addr += sum((Counter(a.lower() for a in ref["addresses"]) & got_a).values())
        hard_called += got_cls["hard"]
        hard_right += min(got_cls["hard"], exp_cls["hard"])
        if n_ok and len(got_r) > 1:
            # Recipients in report order (Sisimai's order is the report's): the sender-side
            # one itself must not be hard; another recipient's hard verdict is not its.
            if any(e["reason"] in SENDER_SIDE and g["class"] == "hard"
                   for e, g in zip(exp_r, got_r, strict=True)):
                sender_side_hard.append(lab["id"])
        elif any(e["reason"] in SENDER_SIDE for e in exp_r) and \
                got_cls["hard"] > exp_cls["hard"]:
            sender_side_hard.append(lab["id"])
    kinds = ["bounce", "complaint", "autoreply", "delivered"]
    rules: Counter[str] = Counter()
    for row in rows:
        if row["lab"]["kind"] == "bounce":
            rules.update({_rule_family(r.get("rule", "")) for r in row["got_r"]})
    return {
        "rules": dict(rules.most_common()),
        "samples": len(rows),
        "kinds": {k: pr(pairs, k) for k in kinds},
        "bounces": n_b,
        "count_ok": count_ok, "address_ok": addr_ok, "class_ok": class_ok, "all_ok": all_ok,
        "recipients": rec_total, "recipient_address_ok": rec_addr,
        "recipient_class_ok": rec_class, "hard_called": hard_called, "hard_right": hard_right,
        "sender_side_hard": sender_side_hard, "delivered_suppress": delivered_suppress,
        "autoreply_unsubscribe": auto_unsub, "misses": misses,
        "has_address_reference": bool(addr_ref),
    }


def _rule_family(why: str) -> str:
    """"text:policy(blocked)" -> "text:policy"; every "status:5.1.1" -> one family, the
    RFC 3463 table (a code's meaning, not a rule written from samples)."""
    parts = []
    for piece in (why or "none").split("+"):
        piece = re.sub(r"\(.*", "", piece)
        piece = re.sub(r"^status:.*", "status:rfc3463-table", piece)
        piece = re.sub(r"gave-up-after-\d+h", "gave-up-after-retries", piece)
        parts.append(piece)
    return "+".join(parts)


def eval_replies(d: Path) -> dict[str, Any]:
    labels = load(d / "labels.jsonl")
    pairs: list[tuple[str, str | None]] = []
    ambiguous: list[str] = []
    auto_unsub: list[str] = []
    misses: list[str] = []
    for lab in labels:
        v = classify_file(d / lab["file"])[0]
        exp = REPLY_EXPECT[lab["label"]]
        if exp is None:
            ambiguous.append(f"{lab['id']}: {v.kind} review={v.review} "
                             f"conf={v.intent_confidence}")
            continue
        pairs.append((exp, v.kind))
        if lab["label"] == "autoreply" and v.kind == "unsubscribe":
            auto_unsub.append(lab["id"])
        if v.kind != exp:
            misses.append(f"{lab['id']} ({lab['language']}, {lab['note']}): expected {exp}, "
                          f"got {v.kind} conf={v.intent_confidence}")
    return {"samples": len(labels),
            "kinds": {k: pr(pairs, k) for k in ("unsubscribe", "reply", "autoreply")},
            "ambiguous": ambiguous, "autoreply_unsubscribe": auto_unsub, "misses": misses}


def throughput(dirs: list[Path], rounds: int) -> dict[str, float]:
    blobs: list[bytes] = []
    for d in dirs:
        for lab in load(d / "labels.jsonl"):
            blobs.extend(split_mbox((d / lab["file"]).read_bytes()))
    lat: list[float] = []
    t0 = time.perf_counter()
    for _ in range(rounds):
        for b in blobs:
            s = time.perf_counter()
            classify(b)
            lat.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    lat.sort()
    return {"messages": len(lat), "seconds": total, "per_second": len(lat) / total,
            "p50_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000, "max_ms": lat[-1] * 1000}


def pool_throughput(dirs: list[Path], rounds: int, workers: int) -> dict[str, float]:
    """The same messages through the listener's classifier worker processes
    (inbound_pool.ClassifyPool, pickling and pipes included), all workers kept busy."""
    import asyncio

    from consentry.inbound.classify import Options
    from consentry.inbound_pool import ClassifyPool

    blobs: list[bytes] = []
    for d in dirs:
        for lab in load(d / "labels.jsonl"):
            blobs.extend(split_mbox((d / lab["file"]).read_bytes()))

    async def run() -> dict[str, float]:
        pool = ClassifyPool(workers, 30.0)
        try:
            await pool.start()
            sem = asyncio.Semaphore(workers * 2)

            async def one(b: bytes) -> str:
                async with sem:
                    return (await pool.classify(b, [], None, Options())).kind

            t0 = time.perf_counter()
            kinds = await asyncio.gather(*(one(b) for _ in range(rounds) for b in blobs))
            total = time.perf_counter() - t0
        finally:
            await pool.close()
        return {"messages": len(kinds), "seconds": total, "per_second": len(kinds) / total,
                "workers": workers, "unknown": kinds.count("unknown")}

    return asyncio.run(run())


def pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100.0 * a / b:.1f} %" if b else "n/a"


def _bounce_lines(out: list[str], b: dict[str, Any]) -> None:
    out.append(f"  {'kind':<12} {'precision':>9} {'recall':>7}   tp  fp  fn")
    for k, (p, rc, tp, fp, fn) in b["kinds"].items():
        out.append(f"  {k:<12} {p:>9.3f} {rc:>7.3f}  {tp:>3} {fp:>3} {fn:>3}")
    nb = b["bounces"]
    out.append(f"  right number of failed recipients      {pct(b['count_ok'], nb)}")
    out.append(f"  ... and the right addresses             {pct(b['address_ok'], nb)}"
               + ("" if b["has_address_reference"] else "  (no addresses.jsonl: not checked)"))
    out.append(f"  ... and the labelled hard/soft classes  {pct(b['class_ok'], nb)}")
    out.append(f"  count + address + hard/soft all right   {pct(b['all_ok'], nb)}   "
               f"(goal >= 95 %)")
    out.append(f"  recipient address accuracy              "
               f"{pct(b['recipient_address_ok'], b['recipients'])}")
    out.append(f"  recipient hard/soft accuracy            "
               f"{pct(b['recipient_class_ok'], b['recipients'])}")
    out.append(f"  precision of 'hard'                     "
               f"{pct(b['hard_right'], b['hard_called'])}")
    out.append(f"  sender-side rejections called hard      {len(b['sender_side_hard'])} "
               f"{b['sender_side_hard'] or ''}  (goal 0)")
    out.append(f"  delivered DSNs that would suppress      {len(b['delivered_suppress'])} "
               f"{b['delivered_suppress'] or ''}  (goal 0)")
    out.append(f"  auto-replies read as unsubscribe        {len(b['autoreply_unsubscribe'])}  "
               f"(goal 0)")


def _rule_lines(out: list[str], b: dict[str, Any]) -> None:
    out.append("  rules deciding the failed recipients (samples each decides):")
    narrow = [k for k, n in b["rules"].items() if n <= 2]
    out.extend(f"    {n:>4}  {k}" for k, n in b["rules"].items())
    out.append(f"  {len(narrow)} of {len(b['rules'])} rules decide at most two samples "
               f"({sum(b['rules'][k] for k in narrow)} samples): {', '.join(narrow)}")


def _reply_lines(out: list[str], r: dict[str, Any]) -> None:
    out.append(f"  {'kind':<12} {'precision':>9} {'recall':>7}   tp  fp  fn")
    for k, (p, rc, tp, fp, fn) in r["kinds"].items():
        out.append(f"  {k:<12} {p:>9.3f} {rc:>7.3f}  {tp:>3} {fp:>3} {fn:>3}")
    out.append("  (goals: unsubscribe precision >= 0.98, recall >= 0.95)")
    out.append(f"  auto-replies read as unsubscribe        {len(r['autoreply_unsubscribe'])}  "
               f"(goal 0)")


def heldout_report(h: dict[str, Any]) -> str:
    out = [f"Held-out corpus {h['dir']}:"]
    if h.get("same_as_development"):
        out.append("  its labels are byte for byte the development half's (tests/data): not a "
                   "held-out half, not scored")
        return "\n".join(out)
    if "bounces" in h:
        b = h["bounces"]
        out.append(f"  bounces: {b['samples']} samples ({b['bounces']} labelled bounces), "
                   "against every label")
        _bounce_lines(out, b)
        if b.get("disagreements"):
            w = b["without_disagreements"]
            out.append(f"  without its {len(b['disagreements'])} documented disagreements:")
            _bounce_lines(out, w)
    if "replies" in h:
        out.append(f"  replies: {h['replies']['samples']} samples")
        _reply_lines(out, h["replies"])
    misses = h.get("bounces", {}).get("misses", []) + h.get("replies", {}).get("misses", [])
    if misses:
        out.append("  misses:")
        out.extend(f"    {m}" for m in misses)
    return "\n".join(out)


def eval_heldout(d: Path, dev_bounces: Path, dev_replies: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"dir": str(d)}

    def digest(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else ""

    pairs = [(d / "bounces", dev_bounces), (d / "replies", dev_replies)]
    present = [(h, dev) for h, dev in pairs if (h / "labels.jsonl").exists()]
    if not present:
        raise SystemExit(f"--heldout {d}: neither bounces/labels.jsonl nor "
                         "replies/labels.jsonl there")
    if all(digest(h / "labels.jsonl") == digest(dev / "labels.jsonl") for h, dev in present):
        out["same_as_development"] = True
        return out
    if (d / "bounces" / "labels.jsonl").exists():
        out["bounces"] = eval_bounces(d / "bounces")
    if (d / "replies" / "labels.jsonl").exists():
        out["replies"] = eval_replies(d / "replies")
    return out


def report(b: dict[str, Any], r: dict[str, Any], t: dict[str, Any]) -> str:
    out: list[str] = []
    out.append(f"Bounce corpus, against every label: {b['samples']} samples "
               f"({b['bounces']} labelled bounces)")
    _bounce_lines(out, b)
    w = b["without_disagreements"]
    out.append("")
    out.append(f"Bounce corpus, without the {len(b['disagreements'])} samples whose label "
               f"contradicts the message (DISAGREEMENTS.md): {w['samples']} samples "
               f"({w['bounces']} labelled bounces)")
    _bounce_lines(out, w)
    _rule_lines(out, w)
    if b["disagreements_unknown"]:
        out.append(f"  DISAGREEMENTS.md names samples not in labels.jsonl: "
                   f"{b['disagreements_unknown']}")
    if b["disagreements_passing"]:
        out.append(f"  documented disagreements that now agree with the label: "
                   f"{b['disagreements_passing']}")
    out.append("")
    out.append(f"Reply corpus: {r['samples']} samples")
    _reply_lines(out, r)
    for a in r["ambiguous"]:
        out.append(f"  ambiguous {a}")
    out.append("")
    out.append(f"Throughput: {t['messages']} classifications in {t['seconds']:.2f} s = "
               f"{t['per_second']:.0f} messages/s (p50 {t['p50_ms']:.2f} ms, "
               f"p99 {t['p99_ms']:.2f} ms, max {t['max_ms']:.1f} ms; one core)")
    if "pool" in t:
        p = t["pool"]
        out.append(f"Through {p['workers']} classifier worker process(es): {p['messages']} "
                   f"in {p['seconds']:.2f} s = {p['per_second']:.0f} messages/s")
    if b["misses"] or r["misses"]:
        out.append("")
        out.append("Misses:")
        doc = set(b["disagreements"])
        out.extend(f"  {m}" + ("   [documented disagreement]" if m.split(":")[0] in doc else "")
                   for m in b["misses"] + r["misses"])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bounces", type=Path, default=ROOT / "tests" / "data" / "bounces")
    ap.add_argument("--replies", type=Path, default=ROOT / "tests" / "data" / "replies")
    ap.add_argument("--rounds", type=int, default=3, help="throughput passes over the corpora")
    ap.add_argument("--workers", type=int, default=0,
                    help="also measure throughput through N classifier worker processes")
    ap.add_argument("--heldout", type=Path, default=None, metavar="DIR",
                    help="also score DIR/bounces and DIR/replies, reported apart")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    b = eval_bounces(args.bounces)
    r = eval_replies(args.replies)
    h = eval_heldout(args.heldout, args.bounces, args.replies) if args.heldout else None
    t: dict[str, Any] = dict(throughput([args.bounces, args.replies], args.rounds))
    if args.workers > 0:
        t["pool"] = pool_throughput([args.bounces, args.replies], args.rounds, args.workers)
    if args.json:
        print(json.dumps({"bounces": b, "replies": r, "throughput": t, "heldout": h},
                         indent=2, default=str))
    else:
        print(report(b, r, t))
        if h is not None:
            print()
            print(heldout_report(h))
    return 0


if __name__ == "__main__":
    sys.exit(main())
