"""bench/inbound_eval.py --heldout: a corpus of the same layout is scored and reported
apart; a copy of the development half is named as such instead of passing for held-out."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT / "bench"))

import inbound_eval  # noqa: E402


def _subset(dst: Path, ids: set[str]) -> None:
    (dst / "bounces").mkdir(parents=True)
    rows = [json.loads(x) for x in (DATA / "bounces" / "labels.jsonl").read_text().splitlines()
            if x.strip()]
    keep = [r for r in rows if r["id"] in ids]
    for r in keep:
        (dst / "bounces" / r["file"]).parent.mkdir(exist_ok=True)
        shutil.copy(DATA / "bounces" / r["file"], dst / "bounces" / r["file"])
    (dst / "bounces" / "labels.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in keep))


def test_heldout_is_scored_apart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _subset(tmp_path / "h", {"lhost-postfix-14", "lhost-mcafee-04", "arf-02"})
    assert inbound_eval.main(["--rounds", "1", "--heldout", str(tmp_path / "h")]) == 0
    out = capsys.readouterr().out
    held = out[out.index("Held-out corpus"):]
    assert "bounces: 3 samples (2 labelled bounces)" in held
    assert "count + address + hard/soft all right   1/2 = 50.0 %" in held
    assert "lhost-mcafee-04: expected ['soft/filtered']" in held
    assert "rules deciding the failed recipients" in out[:out.index("Held-out corpus")]


def test_a_copy_of_the_development_half_is_not_held_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(DATA / "bounces", tmp_path / "c" / "bounces")
    shutil.copytree(DATA / "replies", tmp_path / "c" / "replies")
    assert inbound_eval.main(["--rounds", "1", "--heldout", str(tmp_path / "c")]) == 0
    assert "not a held-out half, not scored" in capsys.readouterr().out
