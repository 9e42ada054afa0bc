"""Find processes by their exact argv (read from /proc), never by a broad name match."""

from __future__ import annotations

from pathlib import Path


def pids_with_arg(arg: str) -> list[int]:
    """PIDs of live processes whose argv contains `arg` exactly (e.g. a socket path)."""
    out: list[int] = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and arg.encode() in argv:
            out.append(int(d.name))
    return out
