"""The spools' append and claim (consentry.spoolfile): appends racing a replay that
claims, reads and deletes the spool over and over lose no line and repeat none."""

from __future__ import annotations

import threading
from pathlib import Path

from consentry import spoolfile


def test_appends_racing_claims_lose_and_repeat_nothing(tmp_path: Path) -> None:
    spool = tmp_path / "spool" / "x.jsonl"
    work = spool.with_name(spool.name + ".replaying")
    writers, per_writer = 4, 150
    seen: list[str] = []
    done = threading.Event()

    def write(w: int) -> None:
        for i in range(per_writer):
            spoolfile.append(spool, [f"{w}:{i}"])

    def replay() -> None:
        rounds = 0
        while rounds < 100_000:  # bounded; ends once the writers are done and all read
            rounds += 1
            claimed = spoolfile.claim(spool, work)
            if claimed is not None:
                seen.extend(claimed.read_text(encoding="utf-8").splitlines())
                claimed.unlink()
            elif done.is_set():
                return

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=replay)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    done.set()
    reader.join(60)
    assert not reader.is_alive()
    expected = {f"{w}:{i}" for w in range(writers) for i in range(per_writer)}
    assert len(seen) == len(expected)
    assert set(seen) == expected


def test_a_work_file_left_by_a_failed_round_is_claimed_first(tmp_path: Path) -> None:
    spool = tmp_path / "x.jsonl"
    work = tmp_path / "x.replaying"
    work.write_text("old\n")
    spoolfile.append(spool, ["new"])
    assert spoolfile.claim(spool, work) == work
    assert work.read_text() == "old\n"
    work.unlink()
    assert spoolfile.claim(spool, work) == work
    assert work.read_text() == "new\n"
    work.unlink()
    assert spoolfile.claim(spool, work) is None
