"""Benchmark: GRPO + LoRA optimizer updates of the paper recipe on a Qwen2.5-VL-7B-shaped model (random weights).

Full mode (one GPU; part of ``make gpu-check``): the model is built from a Qwen2.5-VL-7B config with
random bf16 weights (nothing downloaded), LoRA as in params.yaml, and updates of the faithful batch:
ranking groups of 8 images (512x384, KADID's size) x K=6 completions of exactly 256 tokens (EOS is
suppressed with min_new_tokens / min_tokens so every completion has the full length), gradient
accumulation up to ``--images-per-update`` images (default 32 = 4 groups; the paper's update is 128).
It reports seconds per update, the share of that spent generating, generated tokens/s, peak GPU
memory, and the projected hours of the paper run on one GPU (470 updates of 128 images), for HF
``generate`` and, when vLLM is installed, TRL's vLLM colocate mode.

``--smoke`` runs the same code on the CPU with the tiny model and tiny shapes, so the tests keep the
script working where no GPU exists. Prints one JSON line (last line of stdout).

The tokenizer is the tiny offline one (a few hundred tokens) with the 7B vocabulary size in the model;
generated ids beyond the tokenizer decode to nothing (HF) or are disallowed (vLLM allowed_token_ids),
which does not change the cost of a decoding step.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from vqr1.config import Params, deep_merge, read_yaml
from vqr1.data.training_view import training_dataset
from vqr1.layout import validated_path
from vqr1.model import tiny
from vqr1.model.qwen25vl import qwen25vl_config, set_generation_tokens
from vqr1.train.sampler import DatasetGroupedRepeatSampler
from vqr1.train.trainer import build_trainer

REPO = Path(__file__).resolve().parents[1]
KADID_TRAIN_IMAGES = 6125  # the paper's training split (docs/data.md)
PAPER_UPDATE_IMAGES, PAPER_GROUP_IMAGES = 128, 8  # 16 GPUs x 8 images (SPEC §5)

# Qwen/Qwen2.5-VL-7B-Instruct's config.json (text and vision towers).
QWEN25_VL_7B_TEXT = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [16, 24, 24]},
}
QWEN25_VL_7B_VISION = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
}


def bench_image(index: int, size: tuple[int, int]) -> Image.Image:
    """A seeded noise image of ``size``: the benchmarks' weights are random, so only the size matters, and
    the synthetic data's sample photos need scikit-image and matplotlib, which GPU images lack."""
    rng = np.random.default_rng(index)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def write_images(root: Path, n: int, size: tuple[int, int]) -> None:
    """``n`` images with MOS in a validated manifest ``bench`` (the train stage's input contract)."""
    folder = root / "data" / "raw" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        bench_image(i, size).save(folder / f"{i:03d}.png")
        rows.append(
            {"image": f"data/raw/bench/{i:03d}.png", "dataset": "bench", "mos": 1 + 4 * i / max(n - 1, 1)}
        )
    frame = pd.DataFrame(rows).assign(split="train", width=size[0], height=size[1])
    path = validated_path(root, "bench")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


def model_7b_shaped(tokenizer: Any, dtype: torch.dtype, device: str) -> Any:
    from transformers import Qwen2_5_VLForConditionalGeneration

    config = qwen25vl_config(tokenizer, QWEN25_VL_7B_TEXT, QWEN25_VL_7B_VISION)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(
            config, dtype=dtype, attn_implementation="sdpa"
        )
    set_generation_tokens(model)
    return model


def paper_updates(epochs: int) -> int:
    """Updates of the paper run: KADID-10K's 6,125 training images in whole updates of 128 (16 ranking groups
    of 8), ``epochs`` times; 470 for params.yaml's 10 epochs."""
    groups = PAPER_UPDATE_IMAGES // PAPER_GROUP_IMAGES
    sampler = DatasetGroupedRepeatSampler(
        ["kadid10k"] * KADID_TRAIN_IMAGES, PAPER_GROUP_IMAGES, num_generations=1, groups_per_update=groups
    )
    return len(sampler.updates()) * epochs


def bench_params(
    base: Path, smoke: bool, group: int, per_update: int, k: int, tokens: int, steps: int, vllm: bool
) -> Params:
    raw = read_yaml(REPO / "params.yaml")  # the paper recipe, only the shapes of this run changed
    overrides = {
        "data": {"datasets": ["bench"], "train_datasets": ["bench"], "eval_datasets": ["bench"]},
        "model": {
            "base": str(base),
            "max_pixels": 12544 if smoke else 262144,
            "min_pixels": 784 if smoke else 3136,
        },
        "train": {
            "images_per_group": group,
            "images_per_update": per_update,
            "accelerate_config": "",
            "grpo": {
                "num_generations": k,
                "max_completion_length": tokens,
                "max_steps": steps,
                "save_steps": 10**9,
                "activation_checkpointing": not smoke,
                "use_vllm": vllm,
                "vllm_mode": "colocate",
            },
        },
    }
    if smoke:
        overrides["train"]["lora"] = {
            "r": 8,
            "alpha": 16,
            "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
        }
        overrides["model"]["torch_dtype"] = "float32"
    merged = deep_merge(raw, overrides)
    merged["train"]["grpo"] = for_installed_trl(merged["train"]["grpo"])
    return Params.model_validate(merged)


def for_installed_trl(grpo: dict[str, Any]) -> dict[str, Any]:
    """transformers before 5.24 (the GPU environment's 5.20.2, which vLLM 0.33 pins) calls activation
    checkpointing ``gradient_checkpointing``: rename the keys the installed GRPOConfig does not know."""
    from trl import GRPOConfig

    known = {f.name for f in dataclasses.fields(GRPOConfig)}
    old = {"activation_checkpointing": "gradient_checkpointing"}
    old["activation_checkpointing_kwargs"] = "gradient_checkpointing_kwargs"
    return {(key if key in known else old.get(key, key)): value for key, value in grpo.items()}


class StepTimer:
    """Wall time of each optimiser step and of each generation call (CUDA-synchronised)."""

    def __init__(self) -> None:
        self.steps: list[float] = []
        self.generation: list[float] = []

    @staticmethod
    def _sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def callback(self) -> Any:
        from transformers import TrainerCallback

        timer = self

        class _Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
                timer._sync()
                timer._t0 = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
                timer._sync()
                timer.steps.append(time.perf_counter() - timer._t0)

        return _Callback()

    def wrap_generate(self, trainer: Any) -> None:
        original = trainer._generate

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._sync()
            t0 = time.perf_counter()
            out = original(*args, **kwargs)
            self._sync()
            self.generation.append(time.perf_counter() - t0)
            return out

        trainer._generate = timed


def run_backend(params: Params, root: Path, model: Any, tokenizer_size: int, backend: str) -> dict[str, Any]:
    t = params.train
    tokens = t.grpo["max_completion_length"]
    gen_kwargs: dict[str, Any] = (
        {"min_tokens": tokens, "allowed_token_ids": list(range(tokenizer_size))}
        if backend == "vllm"
        else {"min_new_tokens": tokens}
    )
    dataset = training_dataset(root, ["bench"], thinking=t.thinking)
    timer = StepTimer()
    trainer = build_trainer(
        params,
        dataset,
        root / f"ckpt-{backend}",
        [timer.callback()],
        model=model,
        generation_kwargs=gen_kwargs,
    )
    timer.wrap_generate(trainer)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    lengths = [
        e["completions/mean_length"] for e in trainer.state.log_history if "completions/mean_length" in e
    ]
    measured = slice(1, None) if len(timer.steps) > 1 else slice(None)  # update 1 warms up kernels/caches
    update_s = statistics.median(timer.steps[measured])
    gen_s = statistics.median(timer.generation[measured])  # one generation per update (all its groups)
    completions = t.images_per_update * t.grpo["num_generations"]
    result = {
        "seconds_per_update": round(update_s, 3),
        "images_per_update": t.images_per_update,
        "accumulation_steps": t.images_per_update // t.images_per_group,
        "generation_share": round(gen_s / update_s, 3),
        "generated_tokens_per_s": round(statistics.median(lengths[measured]) * completions / gen_s, 1),
        "mean_completion_tokens": round(statistics.median(lengths[measured]), 1),
        "updates_measured": len(timer.steps[measured]),
    }
    # one GPU, the paper run's updates of 128 images, scaled from this update size by images
    updates = paper_updates(int(t.grpo["num_train_epochs"]))
    result["paper_updates"] = updates
    hours = update_s * (PAPER_UPDATE_IMAGES / t.images_per_update) * updates / 3600
    result["projected_hours_paper_run_1_gpu"] = round(hours, 2)
    result["projection"] = (
        f"{update_s:.3f} s/update x ({PAPER_UPDATE_IMAGES} / {t.images_per_update} images per update) x "
        f"{updates} updates / 3600 = {hours:.2f} h"
    )
    if torch.cuda.is_available():
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    peft_model = trainer.accelerator.unwrap_model(trainer.model)
    if hasattr(peft_model, "unload"):
        peft_model.unload()  # take the LoRA layers out again: the next backend starts from the same model
    del trainer, peft_model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model and shapes on the CPU")
    parser.add_argument("--images-per-group", type=int, help="ranking group (default 8; smoke 2)")
    parser.add_argument(
        "--images-per-update", type=int, help="images per update (default 32 = 4 groups; smoke 4 = 2 groups)"
    )
    parser.add_argument("--k", type=int, help="K completions per image (default 6; smoke 2)")
    parser.add_argument("--tokens", type=int, help="completion length (default 256; smoke 8)")
    parser.add_argument("--steps", type=int, default=2, help="updates per backend (the first is warm-up)")
    parser.add_argument("--backends", default="hf,vllm", help="comma list of hf, vllm")
    parser.add_argument("--base-dir", type=Path, help="where the model's weights and processor are written")
    args = parser.parse_args()
    smoke = args.smoke
    if not smoke and not torch.cuda.is_available():
        print("no CUDA GPU: run with --smoke on the CPU", file=sys.stderr)
        return 2
    group, k = args.images_per_group or (2 if smoke else 8), args.k or (2 if smoke else 6)
    per_update = args.images_per_update or (2 * group if smoke else 4 * group)
    tokens = args.tokens or (8 if smoke else 256)
    result: dict[str, Any] = {
        "mode": "smoke (tiny model, CPU)" if smoke else "Qwen2.5-VL-7B shapes, random bf16 weights",
        "images_per_group": group,
        "images_per_update": per_update,
        "k": k,
        "completion_tokens": tokens,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    with tempfile.TemporaryDirectory(prefix="vqr1-bench-") as tmp:
        root = Path(tmp)
        base = args.base_dir or root / "base"
        tokenizer = tiny.build_tokenizer()
        processor = tiny.build_processor(tokenizer, max_pixels=12544 if smoke else 262144)
        processor.save_pretrained(base)
        size = (128, 96) if smoke else (512, 384)
        write_images(root, 2 * per_update, size)
        t0 = time.perf_counter()
        if smoke:
            model = None
            tiny.build(base, seed=0)
        else:
            model = model_7b_shaped(tokenizer, torch.bfloat16, "cuda")
        result["model_params_billion"] = (
            round(sum(p.numel() for p in model.parameters()) / 1e9, 2) if model is not None else None
        )
        result["build_s"] = round(time.perf_counter() - t0, 1)
        for backend in args.backends.split(","):
            if backend == "vllm":
                try:
                    import vllm  # noqa: F401
                except ImportError:
                    result["vllm"] = {"skipped": "vllm is not installed"}
                    continue
                if smoke:
                    result["vllm"] = {"skipped": "smoke mode (vLLM needs a GPU)"}
                    continue
                model.save_pretrained(base)  # vLLM colocate loads the weights from model.base
            params = bench_params(
                base, smoke, group, per_update, k, tokens, args.steps, vllm=backend == "vllm"
            )
            try:
                result[backend] = run_backend(params, root, model, len(tokenizer), backend)
            except Exception as exc:  # report one backend's failure, keep the other's figures
                result[backend] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    result["method"] = (
        f"median over updates 2..{args.steps} of wall time per optimizer update (TrainerCallback, CUDA-synced) "
        "and of GRPOTrainer._generate per update (one generation of all its groups); tokens/s = logged mean "
        "completion length x images per update x K / generation time; peak = torch.cuda.max_memory_allocated "
        "over training; projected hours = s/update x (128 / images per update) x the paper run's updates "
        f"(whole updates of 128 over {KADID_TRAIN_IMAGES} images x params.yaml's epochs; one GPU, excludes "
        "evaluation and checkpoint saves; from updates smaller than 128 an upper bound, since larger "
        "generation batches are at least as efficient)"
    )
    print(json.dumps(result))
    return 1 if any(isinstance(v, dict) and "error" in v for v in result.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
