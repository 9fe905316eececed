"""The PR comment renderer, fed real `dvc metrics diff --json` output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vqr1.dvc_runner import dvc_bin, dvc_env
from vqr1.errors import DataError
from vqr1.evaluate.pr_comment import MARKER, read_diff, render

GIT = ["git", "-c", "user.email=t@t.invalid", "-c", "user.name=t"]


def _metrics(srcc: float, failures: float) -> str:
    return json.dumps(
        {
            "datasets": {"synthetic": {"srcc": srcc, "plcc": 0.5, "parse_failure_rate": failures, "n": 40}},
            "mean": {"srcc": srcc, "plcc": 0.5},
        }
    )


@pytest.fixture(scope="module")
def dvc_diff(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dvc metrics diff --json HEAD` between a committed base and a changed working tree."""
    root = tmp_path_factory.mktemp("diff")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([dvc_bin(), "init", "-q"], cwd=root, check=True, env=dvc_env())
    (root / "dvc.yaml").write_text(
        "stages:\n  evaluate:\n    cmd: 'true'\n    metrics:\n    - m.json:\n        cache: false\n"
    )
    (root / "m.json").write_text(_metrics(0.5, 0.2))
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "base"], cwd=root, check=True)
    (root / "m.json").write_text(_metrics(0.6, 0.3))
    out = subprocess.run(
        [dvc_bin(), "metrics", "diff", "--all", "--json", "HEAD"],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
        env=dvc_env(),
    ).stdout
    path = root / "diff.json"
    path.write_text(out)
    return path


def test_renders_headline_table_with_direction(dvc_diff: Path) -> None:
    text = render(read_diff(dvc_diff), [Path("reports/eval/plots/scatter.png")], "main", "https://x/run/1")
    assert text.startswith(MARKER)
    assert "this PR vs `main`" in text
    assert "| `mean.srcc` | 0.5000 | 0.6000 | +0.1000 🟢 |" in text
    assert "| `datasets.synthetic.parse_failure_rate` | 0.2000 | 0.3000 | +0.1000 🔴 |" in text
    assert "| `mean.plcc` | 0.5000 | 0.5000 | = |" in text
    assert text.index("`mean.srcc`") < text.index("`datasets.synthetic.srcc`")
    assert "<details><summary>1 other metrics</summary>" in text and "`datasets.synthetic.n`" in text
    assert "- `reports/eval/plots/scatter.png`" in text and "(https://x/run/1)" in text


def test_new_removed_and_empty_diffs() -> None:
    diff = {
        "m.json": {"datasets.b.srcc": {"old": None, "new": 0.4}, "datasets.a.srcc": {"old": 0.3, "new": None}}
    }
    text = render(diff, [])
    assert "| `datasets.b.srcc` | — | 0.4000 | new |" in text
    assert "| `datasets.a.srcc` | 0.3000 | — | removed |" in text
    assert "Plots" not in text
    assert "No metric changed." in render({}, [])


def test_bad_diff_file_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "diff.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DataError, match=r"diff\.json: expected"):
        read_diff(bad)
    empty = tmp_path / "empty.json"
    empty.write_text("")
    assert read_diff(empty) == {}
    done = subprocess.run(
        [sys.executable, "-m", "vqr1", "evaluate", "pr-comment", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        done.returncode == 1 and done.stderr.strip().startswith("error:") and "Traceback" not in done.stderr
    )


def test_command_writes_the_comment_file(dvc_diff: Path, tmp_path: Path) -> None:
    out = tmp_path / "comment.md"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vqr1",
            "evaluate",
            "pr-comment",
            str(dvc_diff),
            "--plot",
            "a.png",
            "--out",
            str(out),
        ],
        check=True,
    )
    assert out.read_text().startswith(MARKER) and "`a.png`" in out.read_text()
