"""dvc.yaml declares, for each stage, exactly the vqr1 source files the stage's module imports.

The import graph is read from the source (every ``import vqr1...`` / ``from vqr1... import`` / relative
import, at module level or inside functions), followed transitively, with each package's __init__.py.
A stage whose list misses a file would not rerun when that file changes; an extra file would rerun it
for nothing. The failure message gives the list to paste.
"""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from tests.conftest import REPO

SRC = REPO / "src"


def _module_file(name: str) -> Path | None:
    path = SRC.joinpath(*name.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    package = list(path.relative_to(SRC).with_suffix("").parts)[:-1]  # the package relative imports start in
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == "vqr1" or name.startswith("vqr1.")}


def import_closure(module: str) -> set[str]:
    """Repo-relative paths of every vqr1 file that importing ``module`` (and running it) can load."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        pieces = name.split(".")
        todo += [".".join(pieces[:i]) for i in range(1, len(pieces))]  # packages run their __init__
        todo += sorted(_imports(path))
    return {p.relative_to(REPO).as_posix() for p in seen}


def _stages() -> dict[str, dict]:
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: spec.get("do", spec) for name, spec in stages.items()}


def test_each_stage_declares_exactly_the_code_it_imports() -> None:
    problems = []
    for name, spec in _stages().items():
        if spec.get("always_changed"):
            continue  # runs every time: declaring its code would change nothing
        module = spec["cmd"].split("python -m ", 1)[1].split()[0]
        declared = {d for d in spec.get("deps", []) if d.startswith("src/")}
        needed = import_closure(module)
        if declared != needed:
            listing = "\n".join(f"      - {p}" for p in sorted(needed))
            problems.append(
                f"{name}: missing {sorted(needed - declared)}, not imported {sorted(declared - needed)}; "
                f"its src/ deps should be:\n{listing}"
            )
    assert not problems, "\n".join(problems)


def test_the_import_reader_follows_lazy_and_relative_imports() -> None:
    closure = import_closure("vqr1.stages.download")
    assert "src/vqr1/data/synth.py" in closure  # imported inside download.fetch
    assert "src/vqr1/data/__init__.py" in closure and "src/vqr1/__init__.py" in closure
    assert "src/vqr1/train/rewards.py" not in closure
    assert "src/vqr1/train/rewards.py" in import_closure("vqr1.stages.train")
