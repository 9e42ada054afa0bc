"""logs.write_info_lines: the decision log's one-write-per-message path writes the very
lines structlog's configured JSON chain writes, and steps aside whenever structlog is
configured any other way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import structlog
from structlog.testing import capture_logs

from consentry import logs
from consentry.config import LogConfig

ROW: dict[str, Any] = {
    "message_id": "<\x1b[2J\u2028m@x>", "campaign": None, "recipient": "a@example.org",
    "verdict": "allow", "reasons": ["doi confirmed"], "facts": {"basis": "doi"},
    "downstream": "250 " + "y" * 1500, "latency_ms": 3.25, "evil": "é\x85\u202e",
}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_batch_lines_equal_structlogs_own(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    logs.setup(LogConfig(decision_log=str(path), format="json"), str(tmp_path))
    try:
        logs.get("consentry.decision").info("decision", **dict(ROW))
        assert logs.write_info_lines("decision", [dict(ROW), dict(ROW, recipient="b@x.org")])
        own, *batch = _lines(path)
        assert len(batch) == 2
        mine = json.loads(batch[0])
        theirs = json.loads(own)
        assert list(mine) == list(theirs)  # same fields in the same order
        assert mine.pop("timestamp").endswith("Z") and theirs.pop("timestamp").endswith("Z")
        assert mine == theirs
        assert len(mine["downstream"]) == logs.MAX_FIELD + 1  # capped like structlog's
        # the same escaping of C1 controls, line and bidi separators, byte for byte
        assert batch[0].split('"timestamp"')[0] == own.split('"timestamp"')[0]
        assert "\\u2028" in batch[0] and "\\u0085" in batch[0] and "\\u202e" in batch[0]
        assert json.loads(batch[1])["recipient"] == "b@x.org"
    finally:
        logs.close()


def test_batch_steps_aside_for_console_level_and_capture(tmp_path: Path) -> None:
    path = tmp_path / "d.log"
    logs.setup(LogConfig(decision_log=str(path), format="console"), str(tmp_path))
    assert logs.write_info_lines("decision", [dict(ROW)]) is False
    logs.setup(LogConfig(decision_log=str(path), format="json", level="warning"),
               str(tmp_path))
    assert logs.write_info_lines("decision", [dict(ROW)]) is False
    logs.setup(LogConfig(decision_log=str(path), format="json"), str(tmp_path))
    try:
        with capture_logs() as captured:  # a reconfigured structlog is respected
            assert logs.write_info_lines("decision", [dict(ROW)]) is False
        assert captured == []
        assert structlog.get_config()["processors"]  # restored after the capture
        assert logs.write_info_lines("decision", [dict(ROW)]) is True
        assert path.read_text(encoding="utf-8") != ""
        logs.to_stderr()
        assert logs.write_info_lines("decision", [dict(ROW)]) is False
    finally:
        logs.close()
