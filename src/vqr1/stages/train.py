"""DVC stage `train`: GRPO + LoRA on data/validated -> models/<train.run_name>, dvclive/.

Run in a workspace root (cwd) that holds params.yaml. With ``train.accelerate_config`` set, the
stage re-launches itself through ``accelerate launch --config_file <that file>`` (one GPU, DDP or
DeepSpeed ZeRO-2/3, see configs/accelerate/); empty, it trains in this process (CPU, demo, tests).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from vqr1.config import load_params
from vqr1.errors import ConfigError, exit_on_error

LAUNCHED = "VQR1_ACCELERATE_LAUNCHED"
# Where configs/accelerate/ is when vqr1 runs from its source checkout (the editable install of make setup,
# or PYTHONPATH=src); an installed wheel has no such folder, and its configs must be named in the workspace.
EDITABLE_CHECKOUT = Path(__file__).resolve().parents[3]


def accelerate_config_path(value: str, root: Path) -> Path:
    """The accelerate config file: relative to the workspace first, then to the source checkout if any."""
    for candidate in (root / value, EDITABLE_CHECKOUT / value):
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(
        f"train.accelerate_config={value!r}: no such file in the workspace {root}"
        f" (nor in a vqr1 source checkout at {EDITABLE_CHECKOUT})"
    )


def launch_command(config: Path) -> list[str]:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    return [accelerate, "launch", "--config_file", str(config), "-m", "vqr1.stages.train"]


def train() -> Path:
    root = Path.cwd()
    params = load_params(root / "params.yaml")
    if params.train.accelerate_config and not os.environ.get(LAUNCHED):
        command = launch_command(accelerate_config_path(params.train.accelerate_config, root))
        print(f"launching: {' '.join(command)}", file=sys.stderr)
        os.execvpe(command[0], command, {**os.environ, LAUNCHED: "1"})
    from vqr1.train.grpo import train_workspace
    from vqr1.train.trainer_config import run_state

    out = train_workspace(root, params)
    # A launched process leaves its process group before it exits: gloo's worker threads, still alive at the
    # interpreter's finalization, otherwise abort it ("terminate called without an active exception",
    # pytorch/pytorch#190489). One process: both calls do nothing.
    state = run_state()
    state.wait_for_everyone()
    state.destroy_process_group()
    return out


if __name__ == "__main__":
    with exit_on_error():
        train()
