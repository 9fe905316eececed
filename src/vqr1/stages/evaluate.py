"""DVC stage `evaluate`: score every evaluation set into reports/eval (see vqr1.evaluate.evaluation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vqr1.config import load_params
from vqr1.errors import exit_on_error
from vqr1.evaluate.evaluation import evaluate_workspace


def evaluate() -> dict[str, Any]:
    metrics = evaluate_workspace(Path.cwd(), load_params("params.yaml"))
    print(json.dumps({"mean": metrics["mean"]}))
    return metrics


if __name__ == "__main__":
    with exit_on_error():
        evaluate()
