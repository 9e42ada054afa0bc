"""Find this test's own processes precisely (never by a broad name match).

redis-server rewrites its argv (process title), so it is found by its working
directory: `--dir` makes it chdir into the data directory the test created."""

from __future__ import annotations

import os
from pathlib import Path


def _alive(d: Path) -> bool:
    try:
        state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def pids_with_cwd(directory: Path) -> list[int]:
    """PIDs of live processes whose current directory is `directory`."""
    target = os.path.realpath(directory)
    out: list[int] = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cwd = os.readlink(d / "cwd")
        except OSError:
            continue
        if cwd == target and _alive(d):
            out.append(int(d.name))
    return out
