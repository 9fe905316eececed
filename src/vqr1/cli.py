"""The `vqr1` command line: one sub-app per pipeline area, each in its area's ``commands`` module.

This file is only the table of contents. Errors the user can fix (:class:`vqr1.errors.Vqr1Error`)
print one red line and exit 1 instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vqr1.data.commands import app as data_app
from vqr1.errors import exit_on_error
from vqr1.evaluate.commands import app as evaluate_app
from vqr1.inference.commands import register as register_inference
from vqr1.model.commands import app as model_app
from vqr1.storage.commands import app as storage_app
from vqr1.train.commands import app as train_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="VisualQuality-R1: reasoning IQA with RL to rank."
)
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
app.add_typer(train_app, name="train")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(storage_app, name="storage")
register_inference(app)  # `vqr1 score PATH...` and `vqr1 serve SOURCE` at the top level


workspace_app = typer.Typer(
    no_args_is_help=True, help="Workspaces: this checkout's dvc.yaml with a params profile."
)
app.add_typer(workspace_app, name="workspace")


@workspace_app.command("init")
def workspace_init(
    dest: Path,
    overlay: list[Path] = typer.Option(
        [],
        help="YAML deep-merged over params.yaml, in order (e.g. configs/demo.yaml, configs/paper-8gpu.yaml)",
    ),
) -> None:
    """Create or refresh a workspace at DEST (dvc.yaml, merged params.yaml, DVC initialised)."""
    from vqr1 import workspace

    typer.echo(f"workspace ready: {workspace.init(dest, overlay)}")


@app.command("demo")
def demo(workdir: Path = Path("build/demo"), keep_storage: bool = False) -> None:
    """Run the main job end to end on the CPU, offline (what `make demo` runs)."""
    from vqr1 import demo as demo_mod

    demo_mod.run_demo(workdir, keep_storage=keep_storage)


def main() -> None:
    """Entry point that turns user-fixable errors into one line instead of a traceback."""
    with exit_on_error():
        app()
