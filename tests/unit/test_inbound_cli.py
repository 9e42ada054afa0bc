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


def _hung_dir(tmp_path: Path) -> Path:
    from ..helpers.slow_classify import MARK

    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(DATA / "replies" / "022.eml", d / "a.eml")
    (d / "b-hung.eml").write_bytes(
        b"From: x@isp.example\r\nTo: antwort@shop.example\r\n" + MARK +
        b"\r\nSubject: Frage\r\n\r\nHallo\r\n")
    shutil.copy(DATA / "bounces" / "lhost-postfix" / "lhost-postfix-14.eml", d / "c.eml")
    return d


def _run_with_backtracking(argv: list[str], cfg_map: dict[str, object]) -> int:
    """The real argument parser and command, with the classifier that a marked message
    drives into catastrophic backtracking (the listener test's generator) in the workers."""
    from consentry import config as config_mod
    from consentry.cli import build_parser
    from consentry.inbound_cli import cmd_inbound_classify

    from ..helpers.slow_classify import backtracking_classify

    args = build_parser().parse_args(["-c", "/nonexistent.yaml", "inbound", "classify",
                                      "--json", *argv])
    return cmd_inbound_classify(config_mod.from_mapping(cfg_map), args,
                                target=backtracking_classify)


def test_a_message_that_hangs_the_classifier_misses_the_deadline_and_the_rest_go_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    d = _hung_dir(tmp_path)
    t0 = time.monotonic()
    # --parse-timeout overrides inbound.parse_timeout (600 s would outlast the test)
    rc = _run_with_backtracking(["--parse-timeout", "2", str(d)],
                                {"inbound": {"parse_timeout": 600}})
    assert time.monotonic() - t0 < 60
    assert rc == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(Path(r["file"]).name, r["kind"]) for r in rows] == [
        ("a.eml", "unsubscribe"), ("b-hung.eml", "unknown"), ("c.eml", "bounce")]
    hung = rows[1]
    assert hung["recipients"] == [] and "exceeded 2 s (inbound.parse_timeout)" in \
        hung["evidence"][0]
    assert "review" not in hung["evidence"][0]  # offline: nothing is forwarded
    assert "b-hung.eml" in err and "exceeded 2 s" in err


def test_classify_deadline_comes_from_inbound_parse_timeout(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = _run_with_backtracking([str(_hung_dir(tmp_path) / "b-hung.eml")],
                                {"inbound": {"parse_timeout": 1.5}})
    assert rc == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["kind"] == "unknown" and "exceeded 1.5 s" in row["evidence"][0]


def test_classify_without_deadline_and_a_negative_one_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    sample = str(DATA / "bounces" / "lhost-postfix" / "lhost-postfix-14.eml")
    assert main(["-c", "/nonexistent.yaml", "inbound", "classify", "--parse-timeout", "0",
                 sample]) == 0
    assert capsys.readouterr().out.startswith("bounce")
    assert main(["-c", "/nonexistent.yaml", "inbound", "classify", "--parse-timeout", "-1",
                 sample]) == 2
    assert "--parse-timeout" in capsys.readouterr().err
