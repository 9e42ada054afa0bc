"""Coverage-guided fuzzing with atheris (libFuzzer) of the pure parsers: address
normaliser, token verifier, inbound classifier, and the submission content path (raw
header reader, classifier, MIME walker/tracking stripper). Each harness runs as its own
process for a bounded number of inputs, seeded from tests/data; a crash (an exception
outside the documented set, or an input over the per-input time limit) fails the test
with libFuzzer's report and the crashing input kept under tmp. Short in `make test`,
long under CONSENTRY_TORTURE=1."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .strategies import CORPUS, DATA, TORTURE

HERE = Path(__file__).resolve().parent / "atheris"
# (harness, runs in make test, runs under CONSENTRY_TORTURE=1, max input length)
HARNESSES = [
    ("fuzz_address.py", 20_000, 2_000_000, 400),
    ("fuzz_tokens.py", 20_000, 2_000_000, 300),
    ("fuzz_classify.py", 2_000, 300_000, 20_000),
    ("fuzz_inbound.py", 400, 100_000, 20_000),
]


def _seed(name: str, seeds: Path) -> None:
    seeds.mkdir()
    if name in ("fuzz_inbound.py", "fuzz_classify.py"):
        small = [m for m in CORPUS if len(m) < 20_000]
        for i, msg in enumerate(small if TORTURE else small[::3]):
            (seeds / f"msg{i}").write_bytes(msg)
        for p in (Path(__file__).resolve().parent / "regressions").glob("inbound-*"):
            (seeds / p.name).write_bytes(p.read_bytes())  # past crashes stay covered
    elif name == "fuzz_address.py":
        rows = (DATA / "bounces" / "addresses.jsonl").read_text().splitlines()[:200]
        for i, line in enumerate(rows):
            for v in json.loads(line).values():
                if isinstance(v, str) and "@" in v:
                    (seeds / f"a{i}").write_bytes(b"\x00" + v.encode())
        for i, s in enumerate(['"a b"@x.example', "@r.example:u@d.example", "U+tag@B\u00fcCHER.de.",
                               "a%b@[127.0.0.1]", "x@[IPv6:::1]"]):
            (seeds / f"s{i}").write_bytes(b"\x01" + s.encode())
    else:
        (seeds / "t").write_bytes(b"\x00" * 8)


@pytest.mark.parametrize(("name", "short", "long", "max_len"), HARNESSES,
                         ids=[h[0].removesuffix(".py") for h in HARNESSES])
def test_harness_runs_without_a_crash(name: str, short: int, long: int, max_len: int,
                                      tmp_path: Path) -> None:
    runs = long if TORTURE else short
    seeds = tmp_path / "seeds"
    _seed(name, seeds)
    work = tmp_path / "work"
    work.mkdir()
    cmd = [sys.executable, str(HERE / name), f"-runs={runs}", f"-max_len={max_len}",
           "-timeout=10", "-rss_limit_mb=1536", "-seed=1" if not TORTURE else "-seed=0",
           "-print_final_stats=1", str(work), str(seeds)]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True,
                          timeout=3600 if TORTURE else 300, check=False)
    out = proc.stdout + proc.stderr
    tb = out.find("Traceback (most recent call last)")
    report = (out[tb:tb + 4000] + "\n...\n" if tb >= 0 else "") + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    done = re.search(r"Done (\d+) runs", proc.stderr)
    assert done is not None and int(done.group(1)) >= runs, report
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("timeout-*"))
    execs = re.search(r"stat::number_of_executed_units:\s*(\d+)", proc.stderr)
    print(f"{name}: {done.group(1)} runs, executed {execs.group(1) if execs else '?'}")
