"""Every accelerate config in configs/accelerate/ through accelerate's own code: its config-file loader, the
validation `accelerate launch` runs, and the launcher environment it would build (torchrun arguments for
DDP; the DeepSpeed plugin for ZeRO). DDP also runs for real on the CPU (tests/model/test_train_multiprocess.py);
DeepSpeed cannot run here (not installed, GPU extra), so this is how far its configs are checked.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from accelerate.commands.launch import _validate_launch_command, launch_command_parser
from accelerate.utils import DeepSpeedPlugin, DistributedType
from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

from tests.conftest import REPO

CONFIGS = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))
# file -> (distributed type, processes, machines, ZeRO stage or None)
EXPECTED = {
    "single_gpu.yaml": (DistributedType.NO, 1, 1, None),
    "multi_gpu_ddp.yaml": (DistributedType.MULTI_GPU, 8, 1, None),
    "multi_node_ddp.yaml": (DistributedType.MULTI_GPU, 16, 2, None),
    "deepspeed_zero2.yaml": (DistributedType.DEEPSPEED, 8, 1, 2),
    "deepspeed_zero3.yaml": (DistributedType.DEEPSPEED, 8, 1, 3),
}


def launch_args(config: Path):
    """What `accelerate launch --config_file <config> -m vqr1.stages.train` (the train stage) resolves."""
    args = launch_command_parser().parse_args(["--config_file", str(config), "-m", "vqr1.stages.train"])
    args, defaults, _ = _validate_launch_command(args)
    return args, defaults


def test_every_config_is_known() -> None:
    assert sorted(c.name for c in CONFIGS) == sorted(EXPECTED)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_loads_and_passes_launch_validation(config: Path) -> None:
    kind, processes, machines, _ = EXPECTED[config.name]
    cluster = load_config_from_file(str(config))  # accelerate's loader: unknown keys are an error
    assert (cluster.distributed_type, cluster.num_processes, cluster.num_machines) == (
        kind,
        processes,
        machines,
    )
    args, _ = launch_args(config)
    assert args.num_processes == processes and not args.cpu
    if kind is not DistributedType.DEEPSPEED:
        assert args.mixed_precision == "no"  # bf16 comes from the Trainer (train.grpo.bf16), never doubled


@pytest.mark.parametrize("name", ["multi_gpu_ddp.yaml", "multi_node_ddp.yaml"])
def test_ddp_configs_make_the_torchrun_layout(name: str) -> None:
    args, _ = launch_args(REPO / "configs" / "accelerate" / name)
    prepare_multi_gpu_env(args)  # fills torchrun's arguments, as the multi-GPU launcher does
    _, processes, machines, _ = EXPECTED[name]
    assert int(args.nproc_per_node) * machines == processes
    if machines > 1:
        assert int(args.nnodes) == machines and args.node_rank == 0
        assert "192.0.2.1" in (getattr(args, "master_addr", None) or args.rdzv_endpoint)


@pytest.mark.parametrize("name", ["deepspeed_zero2.yaml", "deepspeed_zero3.yaml"])
def test_deepspeed_configs_build_the_plugin_with_our_accumulation(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args, defaults = launch_args(REPO / "configs" / "accelerate" / name)
    fields = [*defaults.deepspeed_config, "mixed_precision"]  # as `accelerate launch` records them
    args.deepspeed_fields_from_accelerate_config = ",".join(fields)
    _, env = prepare_deepspeed_cmd_env(args)
    for key, value in env.items():
        if key.startswith("ACCELERATE_"):
            monkeypatch.setenv(key, value)
    plugin = DeepSpeedPlugin()  # what each launched process builds from that environment
    ds = plugin.deepspeed_config
    stage = EXPECTED[name][3]
    assert ds["zero_optimization"]["stage"] == stage
    # "auto": DeepSpeed takes the micro-batch and the accumulation the trainer derives from
    # train.images_per_group / images_per_update, so the update stays 128 images
    assert ds["gradient_accumulation_steps"] == ds["train_micro_batch_size_per_gpu"] == "auto"
    assert os.environ["ACCELERATE_MIXED_PRECISION"] == "bf16"
    if stage == 3:
        assert plugin.zero3_init_flag and ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"]
