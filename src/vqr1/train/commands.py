"""`vqr1 train ...`: commands of the train area."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Train.")
