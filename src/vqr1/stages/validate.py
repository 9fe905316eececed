"""DVC stage `validate`: the Great Expectations gate; exits 1 on bad data so nothing downstream runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vqr1.config import load_params
from vqr1.data import gate
from vqr1.errors import exit_on_error


def validate() -> dict[str, Any]:
    summary = gate.validate_manifests(Path.cwd(), load_params("params.yaml").data)
    rows = sum(d["rows"] for d in summary["datasets"].values())
    print(f"data gate passed: {len(summary['datasets'])} datasets, {rows} images, {summary['seconds']} s")
    return summary


if __name__ == "__main__":
    with exit_on_error():
        validate()
