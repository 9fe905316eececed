"""Every GitHub Actions workflow passes zizmor's offline security audit and the workflow JSON schema."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)


def test_there_are_workflows() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "pr-eval.yml", "pr-eval-run.yml"}


def test_zizmor_offline_finds_nothing() -> None:
    done = _run(str(BIN / "zizmor"), "--offline", "--no-progress", *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_schema_valid(workflow: Path) -> None:
    done = _run(str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_hardening(workflow: Path) -> None:
    """Pinned actions, no persisted checkout credentials, no ${{ }} expanded inside shell scripts."""
    doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    assert "permissions" in doc, "top-level permissions must be explicit"
    for name, job in doc["jobs"].items():
        if "uses" in job:  # a reusable-workflow call in this repository
            assert job["uses"].startswith(("$/", "./")), f"{name}: remote reusable workflow"
            continue
        for step in job.get("steps", []):
            if "uses" in step:
                assert SHA_PIN.match(step["uses"]), f"{name}: {step['uses']} is not pinned to a commit SHA"
                if step["uses"].startswith("actions/checkout@"):
                    assert step.get("with", {}).get("persist-credentials") is False, name
            if "run" in step:
                assert "${{" not in step["run"], f"{name}: template expansion in a run: block (use env:)"


def test_pr_eval_gives_write_access_only_to_the_comment_job() -> None:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "pr-eval.yml").read_text(encoding="utf-8"))
    assert doc["permissions"] == {}
    writers = {
        name for name, job in doc["jobs"].items() if "write" in (job.get("permissions") or {}).values()
    }
    assert writers == {"comment"}
    assert doc["jobs"]["comment"]["permissions"] == {"pull-requests": "write"}
