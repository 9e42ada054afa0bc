"""`consentry inbound classify`: one JSON object per message, directories recursively,
mbox files split, and no config file or Redis needed without --apply."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from consentry.cli import main

DATA = Path(__file__).resolve().parent.parent / "data"


def test_classify_directory_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    d = tmp_path / "in" / "deep"
    d.mkdir(parents=True)
    shutil.copy(DATA / "replies" / "022.eml", d / "a.eml")
    shutil.copy(DATA / "bounces" / "lhost-postfix" / "lhost-postfix-14.eml", d / "b.eml")
    shutil.copy(DATA / "bounces" / "rhost-cox" / "rhost-cox-01.eml", tmp_path / "in" / "c.eml")
    (tmp_path / "in" / "notes.txt").write_text("not mail")
    rc = main(["-c", str(tmp_path / "missing.yaml"), "inbound", "classify", "--json",
               str(tmp_path / "in")])
    assert rc == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_file = {(Path(r["file"]).name, r.get("index")): r for r in rows}
    assert set(by_file) == {("a.eml", None), ("b.eml", None), ("c.eml", 0), ("c.eml", 1)}
    a = by_file[("a.eml", None)]
    assert a["kind"] == "unsubscribe" and a["intent_confidence"] >= 0.8 and a["evidence"]
    b = by_file[("b.eml", None)]
    assert b["kind"] == "bounce"
    assert [(r["address"], r["class"], r["reason"]) for r in b["recipients"]] == [
        ("kijitora@2jo.example.jp", "hard", "user_unknown")]
    assert b["recipients"][0]["status"] == "5.1.1"
    assert not (tmp_path / "var").exists()  # offline: nothing written


def test_classify_human_readable(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["-c", "/nonexistent.yaml", "inbound", "classify",
               str(DATA / "replies" / "010.eml")])
    assert rc == 0
    out = capsys.readouterr().out
    assert out.startswith("autoreply")


def test_unreadable_path_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    rc = main(["-c", "/nonexistent.yaml", "inbound", "classify", str(tmp_path / "nope.eml")])
    assert rc == 1
    assert "nope.eml" in capsys.readouterr().err
