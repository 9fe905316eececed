"""`dvc status` after each kind of change marks exactly the stages that must rerun (real DVC, real stages).

One workspace per module, made like the demo's from a copy of this checkout (so the test can edit
"source files" without touching the real ones). The data stages run for real on a tiny synthetic set;
train and evaluate are recorded with `dvc commit` over stand-in outputs, since what is under test is the
graph (what DVC compares), not what those stages compute. Each case changes one thing, reads the
status (DVC's own Repo API in this process: the same code as `dvc status`, without a second of start-up
per call), and undoes the change. The `sources` stage is ``always_changed`` (DVC lists it on
every status by design); the sets below are everything else.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from dvc.repo import Repo

from tests.conftest import REPO
from vqr1 import workspace

DATA = {"synthetic": {"references": 4, "types": 2, "width": 64, "height": 48}}
ALL = {"download@synthetic", "normalize", "validate", "train", "evaluate"}


@dataclass
class Graph:
    checkout: Path
    ws: Path

    def repro(self, target: str, **env: str) -> None:
        """``dvc repro --single-item TARGET`` (the stage's command runs with ``env`` added)."""
        with _environment(env), contextlib.chdir(self.ws), Repo(".") as repo:  # targets resolve from cwd
            repo.reproduce(target, single_item=True)

    def commit(self, *targets: str) -> None:
        """``dvc commit --force TARGETS``: record the stages' current deps and outs as if they had run."""
        with contextlib.chdir(self.ws), Repo(".") as repo:
            for target in targets:
                repo.commit(target, force=True)

    def changed(self) -> set[str]:
        """The stages ``dvc status`` lists, less the always-run ``sources``."""
        with contextlib.chdir(self.ws), Repo(".") as repo:
            status = repo.status()
        assert status.pop("sources", ["always changed"]) == ["always changed"], status
        return set(status)

    def params(self, edit: Callable[[dict], None]) -> None:
        raw = yaml.safe_load((self.ws / "params.yaml").read_text())
        edit(raw)
        (self.ws / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


@contextlib.contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    """The process environment for stage commands: this interpreter's bin first, no stray source overrides."""
    saved = dict(os.environ)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{saved['PATH']}"
    for key in [k for k in os.environ if k.startswith("VQR1_SYNTHETIC_")]:
        del os.environ[key]
    os.environ.update(extra)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _stand_in_outputs(ws: Path) -> None:
    """What train and evaluate leave behind, so `dvc commit` can record them without running them."""
    for folder in ("models/demo", "dvclive/plots/metrics", "reports/eval/predictions",
                   "reports/eval/reasoning", "reports/eval/plots"):  # fmt: skip
        (ws / folder).mkdir(parents=True, exist_ok=True)
        (ws / folder / "stand-in.txt").write_text(folder)
    (ws / "dvclive/metrics.json").write_text("{}")
    (ws / "reports/eval/metrics.json").write_text("{}")
    (ws / "reports/eval/report.md").write_text("# stand-in\n")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Graph:
    root = tmp_path_factory.mktemp("graph")
    checkout = root / "checkout"
    shutil.copytree(
        REPO / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copytree(REPO / "configs", checkout / "configs")
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, checkout / name)
    overlay = root / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"data": DATA}))
    ws = workspace.init(root / "ws", [checkout / "configs/demo.yaml", overlay], source=checkout)
    g = Graph(checkout, ws)
    for stage in ("sources", "download", "normalize", "validate"):
        g.repro(stage)
    _stand_in_outputs(ws)
    g.commit("train", "evaluate")
    assert g.changed() == set()
    return g


def _edit_source(rel: str) -> Callable[[Graph], Callable[[], None]]:
    def apply(g: Graph) -> Callable[[], None]:
        path = g.checkout / rel
        before = path.read_text()
        path.write_text(before + "\n# an edit\n")
        return lambda: path.write_text(before)

    return apply


def _set_param(keys: str, value: object) -> Callable[[Graph], Callable[[], None]]:
    def apply(g: Graph) -> Callable[[], None]:
        before = (g.ws / "params.yaml").read_text()

        def edit(raw: dict) -> None:
            *parents, last = keys.split(".")
            node = raw
            for key in parents:
                node = node.setdefault(key, {})
            node[last] = value

        g.params(edit)
        return lambda: (g.ws / "params.yaml").write_text(before)

    return apply


CASES: dict[str, tuple[Callable[[Graph], Callable[[], None]], set[str]]] = {
    "code: train/rewards.py": (_edit_source("src/vqr1/train/rewards.py"), {"train"}),
    "code: evaluate/metrics.py": (_edit_source("src/vqr1/evaluate/metrics.py"), {"evaluate"}),
    "code: data/gate.py": (_edit_source("src/vqr1/data/gate.py"), {"validate"}),
    "code: data/labels.py": (_edit_source("src/vqr1/data/labels.py"), {"download@synthetic", "normalize", "validate"}),
    "code: config.py (imported by every stage)": (_edit_source("src/vqr1/config.py"), ALL),
    "code: train/commands.py (CLI only, no stage runs it)": (_edit_source("src/vqr1/train/commands.py"), set()),
    "params: train.learning_rate": (_set_param("train.learning_rate", 0.01), {"train"}),
    "params: evaluate.temperature": (_set_param("evaluate.temperature", 0.5), {"evaluate"}),
    "params: data.gate.min_side": (_set_param("data.gate.min_side", 8), {"validate"}),
    "params: data.split.seed": (_set_param("data.split.seed", 7), {"normalize", "validate"}),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.fault("DVC graph: one change, exactly the stages that must rerun")
@pytest.mark.parametrize("case", list(CASES))
def test_status_marks_exactly_the_stages_that_run_the_change(scorecard, graph: Graph, case: str) -> None:
    apply, expected = CASES[case]
    undo = apply(graph)
    try:
        marked = graph.changed()
    finally:
        undo()
    assert marked == expected, f"{case}: marked {sorted(marked)}, expected {sorted(expected)}"
    scorecard.fault = f"DVC graph, {case}"
    scorecard.happened = (
        f"dvc status: {', '.join(sorted(marked)) or 'nothing'} (before: code was no dependency)"
    )


def _zip_of_raw(ws: Path, path: Path) -> Path:
    shutil.make_archive(str(path.with_suffix("")), "zip", ws / "data/raw/synthetic")
    return path


@pytest.mark.slow
@pytest.mark.fault("DVC graph: source override in the environment, in params, archive replaced in place")
def test_source_overrides_reach_the_download_stage(scorecard, graph: Graph) -> None:
    archive = _zip_of_raw(graph.ws, graph.ws.parent / "mirror.zip")
    graph.repro("sources", VQR1_SYNTHETIC_ARCHIVE=str(archive))
    by_env = graph.changed()
    graph.repro("sources")  # the variable is gone again
    assert by_env == {"download@synthetic"} and graph.changed() == set()

    undo = _set_param("data.sources.synthetic.archive", str(archive))(graph)
    graph.repro("sources")
    by_params = graph.changed()
    graph.commit("download@synthetic")  # as if the download had run with it
    assert by_params == {"download@synthetic"} and graph.changed() == set()
    archive.write_bytes(archive.read_bytes() + b"\0")  # the same path, other content
    graph.repro("sources")
    replaced = graph.changed()
    undo()
    graph.repro("sources")
    graph.commit("download@synthetic")
    assert replaced == {"download@synthetic"} and graph.changed() == set()
    scorecard.happened = (
        "env VQR1_SYNTHETIC_ARCHIVE, data.sources, and the archive rewritten at the same path each mark "
        "download@synthetic alone after the always-run `sources` stage (before: invisible to DVC, "
        "'Data and pipelines are up to date')"
    )


def _same_size_other_pixels(path: Path) -> None:
    """Rewrite a PNG with other pixel values and exactly its old size (a tEXt chunk pads the difference)."""
    from PIL import Image

    original = path.read_bytes()
    with Image.open(path) as img:
        img = img.convert("RGB")
    img.paste((0, 0, 0), (0, 0, img.width, img.height // 2))  # half black: other bytes, smaller file
    img.save(path)
    data = path.read_bytes()
    pad = len(original) - len(data) - 12
    assert pad >= 2, "the new encoding must be smaller to pad it"
    body = b"tEXt" + b"p\0" + b"x" * (pad - 2)
    chunk = (pad).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    path.write_bytes(data[:-12] + chunk + data[-12:])  # before IEND
    assert len(path.read_bytes()) == len(original) and path.read_bytes() != original


@pytest.mark.slow
@pytest.mark.fault("DVC graph: an image's bytes change, same name and size")
def test_new_pixels_under_the_same_name_rerun_train_and_evaluate(scorecard, graph: Graph) -> None:
    image = sorted((graph.ws / "data/raw/synthetic/kadid10k/images").glob("I01_01_*.png"))[0]
    _same_size_other_pixels(image)
    graph.commit("download@synthetic")  # what a re-download records
    first = graph.changed()
    graph.repro("normalize")
    graph.repro("validate")
    then = graph.changed()
    graph.commit("train", "evaluate")
    assert first == {"normalize", "validate"}, first
    assert then == {"train", "evaluate"}, then
    assert graph.changed() == set()
    scorecard.happened = (
        "dvc status: normalize, validate; after they rerun, train and evaluate (the validated manifest "
        "carries each image's sha256); before: everything 'up to date'"
    )
