"""An offline GPU node's Python image, made from this environment for the GPU check's smoke test.

- :func:`image_python`: a bare virtual environment holding only the distributions such an image has (PyTorch,
  torchvision, transformers, peft, accelerate, huggingface_hub, pandas, pyarrow, pip, and what they require),
  symlinked from this environment: anything else the check imports must come from the carried wheels.
- :func:`pack_wheels`: the carried wheels (requirements-gpu-wheels.txt), packed with ``wheel`` from the
  distributions installed here, so the test needs no registry; ``scripts/gpu_wheels.sh`` downloads the same
  names at the same pins (requirements.lock) for the node's Python.
"""

from __future__ import annotations

import importlib.metadata as md
import venv
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from wheel.wheelfile import WheelFile

from tests.conftest import REPO

# What the installer wrote, not the wheel: WheelFile writes its own RECORD.
INSTALL_RECORDS = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
IMAGE = ("torch", "torchvision", "transformers", "peft", "accelerate", "huggingface_hub", "pandas", "pyarrow")


def requirement_closure(names: list[str]) -> set[str]:
    """``names`` and everything they require (their installed metadata; no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in md.distribution(name).requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def _top_level(dist: md.Distribution) -> set[str]:
    """The site-packages entries a distribution installed (scripts in bin/ left out)."""
    return {f.parts[0] for f in dist.files or [] if f.parts[0] != ".."}


def image_python(root: Path) -> Path:
    """The interpreter of a bare environment with only the image's distributions."""
    venv.create(root, with_pip=False, symlinks=True)
    site = next((root / "lib").glob("python3*/site-packages"))
    for name in requirement_closure([*IMAGE, "pip"]):
        dist = md.distribution(name)
        here = Path(dist.locate_file(""))
        for entry in _top_level(dist):
            if (here / entry).exists() and not (site / entry).exists():
                (site / entry).symlink_to(here / entry)
    return root / "bin" / "python"


def wheel_names() -> list[str]:
    lines = (REPO / "requirements-gpu-wheels.txt").read_text().splitlines()
    return [name for line in lines if (name := line.split("#")[0].strip())]


def pack_wheels(names: list[str], dest: Path) -> list[Path]:
    """One wheel per installed distribution in ``names``, packed from its installed files (``wheel``'s
    WheelFile writes the RECORD); its tags are those its installed WHEEL file names."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        dist = md.distribution(name)
        here = Path(dist.locate_file(""))
        tags = [
            line.split(":", 1)[1].strip()
            for line in dist.read_text("WHEEL").splitlines()
            if line.startswith("Tag:")
        ]
        python, abi, platform = (".".join(dict.fromkeys(t.split("-")[i] for t in tags)) for i in range(3))
        filename = f"{dist.name.replace('-', '_')}-{dist.version}-{python}-{abi}-{platform}.whl"
        with WheelFile(dest / filename, "w") as wheel:
            for file in dist.files or []:
                skip = file.parts[0] == ".." or "__pycache__" in file.parts or file.name in INSTALL_RECORDS
                if not skip and (here / file).is_file():
                    wheel.write(here / file, file.as_posix())
    return sorted(dest.glob("*.whl"))
