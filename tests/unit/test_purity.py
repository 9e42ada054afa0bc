"""The decision core stays pure (SPEC §3: "pure, ordered, explainable rules"): the policy
package, classification, the raw-message view and the address canonicaliser import no
I/O library, directly or through the consentry modules they import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "consentry"
FORBIDDEN = {"redis", "aiosmtplib", "aiosmtpd", "asyncio", "socket", "aiohttp", "ssl",
             "subprocess", "selectors", "http", "urllib.request", "smtplib"}
PURE = sorted([*(SRC / "policy").glob("*.py"), SRC / "classify.py", SRC / "rawmsg.py",
               SRC / "address.py"])


def _module_of(path: Path) -> str:
    if not path.is_relative_to(SRC.parent):
        return path.stem
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _path_of(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for p in (SRC.parent / rel.with_suffix(".py"), SRC.parent / rel / "__init__.py"):
        if p.exists():
            return p
    return None


def _imports(path: Path) -> set[str]:
    """Absolute names of every module the file imports (also inside functions and
    `if TYPE_CHECKING` blocks: those are imports too, and cheap to keep out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    here = _module_of(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            out.add(mod)
            # `from . import logs` imports the submodule consentry.logs
            out.update(f"{mod}.{a.name}" for a in node.names
                       if _path_of(f"{mod}.{a.name}") is not None)
    return out


def _closure(start: Path) -> dict[str, str]:
    """{imported module: the consentry module that imports it}, transitively."""
    seen: dict[str, str] = {}
    todo = [start]
    visited: set[Path] = set()
    while todo:
        p = todo.pop()
        if p in visited:
            continue
        visited.add(p)
        for mod in _imports(p):
            seen.setdefault(mod, _module_of(p))
            if mod.startswith("consentry"):
                q = _path_of(mod)
                if q is not None:
                    todo.append(q)
    return seen


def test_the_pure_set_is_not_empty() -> None:
    names = {p.name for p in PURE}
    assert {"chain.py", "classify.py", "rawmsg.py", "address.py"} <= names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(SRC)))
def test_pure_module_imports_no_io(path: Path) -> None:
    bad = {mod: via for mod, via in _closure(path).items()
           if mod.split(".")[0] in FORBIDDEN or mod in FORBIDDEN}
    assert not bad, f"{path.name} reaches I/O modules: {bad}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    p = tmp_path / "x.py"
    p.write_text("def f():\n    import redis.asyncio\n    from asyncio import sleep\n")
    assert {"redis.asyncio", "asyncio"} <= _imports(p)
