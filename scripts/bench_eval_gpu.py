"""Benchmark: evaluation throughput (images/s) of vqr1's scorer on a Qwen2.5-VL-7B-shaped model.

Full mode (one GPU, vLLM): random bf16 weights of the 7B shape (``--base``: a folder written by
``bench_grpo_gpu.py --base-dir``, else built here; nothing downloaded) are scored through vqr1's own
``build_scorer`` with params.yaml's evaluate settings (1 sample, temperature 0.1, 256 new tokens) on
images of KADID's size (512x384, about 252 visual tokens) and of KonIQ's native size (1024x768, about
999), once with params.yaml's ``evaluate.batch_size`` and once with every image in one batch. Every
completion is forced to the full 256 tokens (vLLM ``min_tokens``), so the figure is an upper bound of
the time real answers take. The tokenizer is the tiny offline one; generation is limited to its ids
(``allowed_token_ids``), which does not change the cost of a decoding step.

``--smoke`` runs the same code on the CPU with the tiny model and the HF backend (tests keep it working).
Prints one JSON line (last line of stdout).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from vqr1.config import Params, deep_merge, read_yaml
from vqr1.data.synth import make_reference
from vqr1.inference.scorer import Scorer, build_scorer
from vqr1.model import tiny

REPO = Path(__file__).resolve().parents[1]
SIZES = {"kadid_512x384": (512, 384), "koniq_1024x768": (1024, 768)}
NATIVE_MAX_PIXELS = 12_845_056  # Qwen2.5-VL's own processor limit: both sizes are scored natively


def eval_params(base: Path, smoke: bool, backend: str) -> Params:
    """params.yaml's evaluation settings, only the model and the backend changed. The pixel limit is the real
    Qwen2.5-VL processor's own (what ``evaluate.max_pixels: null`` means for the released checkpoint), since
    the benchmark's processor is the tiny one."""
    raw = read_yaml(REPO / "params.yaml")
    overrides: dict[str, Any] = {
        "model": {"base": str(base)},
        "evaluate": {"backend": backend, "max_pixels": NATIVE_MAX_PIXELS},
    }
    if smoke:
        overrides["evaluate"]["max_pixels"] = 12544
        overrides["model"].update(min_pixels=784, max_pixels=12544, torch_dtype="float32")
        overrides["evaluate"]["max_new_tokens"] = 8
    return Params.model_validate(deep_merge(raw, overrides))


def force_full_length(scorer: Scorer, vocab: int, tokens: int) -> None:
    """vLLM: every completion runs to ``tokens`` and samples only ids the tiny tokenizer can decode."""
    backend = scorer.backend
    backend.sampling_params = functools.partial(
        backend.sampling_params, min_tokens=tokens, allowed_token_ids=list(range(vocab))
    )


def write_base(base: Path, smoke: bool) -> int:
    """Random weights of the benchmark's shape + the tiny processor into ``base``; returns the vocab size."""
    tokenizer = tiny.build_tokenizer()
    if smoke:
        tiny.build(base, seed=0)
        return len(tokenizer)
    from bench_grpo_gpu import model_7b_shaped

    model = model_7b_shaped(tokenizer, torch.bfloat16, "cuda")
    model.save_pretrained(base)
    tiny.build_processor(tokenizer).save_pretrained(base)
    del model
    torch.cuda.empty_cache()
    return len(tokenizer)


def measure(scorer: Scorer, paths: list[Path]) -> dict[str, Any]:
    scorer.score(paths[: min(2, len(paths))])  # warm-up: kernels, caches, CUDA graphs
    t0 = time.perf_counter()
    records = scorer.score(paths)
    seconds = time.perf_counter() - t0
    errors = [r.error for r in records if r.error]
    if errors:
        raise RuntimeError(f"{len(errors)} image(s) failed, e.g. {errors[0]}")
    return {
        "images": len(paths),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(paths) / seconds, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model, HF backend, CPU")
    parser.add_argument("--images", type=int, help="images per size (default 64; smoke 4)")
    parser.add_argument("--base", type=Path, help="folder with the 7B-shaped weights and processor")
    args = parser.parse_args()
    smoke = args.smoke
    if not smoke and not torch.cuda.is_available():
        print("no CUDA GPU: run with --smoke on the CPU", file=sys.stderr)
        return 2
    n = args.images or (4 if smoke else 64)
    backend = "hf" if smoke else "vllm"
    result: dict[str, Any] = {
        "mode": "smoke (tiny model, HF, CPU)" if smoke else "Qwen2.5-VL-7B shapes, random bf16 weights, vLLM",
        "backend": backend,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    with tempfile.TemporaryDirectory(prefix="vqr1-bench-eval-") as tmp:
        root = Path(tmp)
        base = args.base
        vocab = len(tiny.build_tokenizer())
        if base is None:
            base = root / "base"
            vocab = write_base(base, smoke)
        params = eval_params(base, smoke, backend)
        per_size: dict[str, list[Path]] = {}
        for name, size in SIZES.items():
            size = (size[0] // 4, size[1] // 4) if smoke else size
            folder = root / name
            folder.mkdir()
            per_size[name] = []
            for i in range(n):
                make_reference(i, size).save(folder / f"{i:03d}.png")
                per_size[name].append(folder / f"{i:03d}.png")
        configured = params.evaluate.batch_size
        scorer = build_scorer(params)
        if backend == "vllm":
            force_full_length(scorer, vocab, params.evaluate.max_new_tokens)
        result["max_new_tokens"] = params.evaluate.max_new_tokens
        for batch in dict.fromkeys((min(configured, n), n)):
            scorer.settings = scorer.settings.model_copy(update={"batch_size": batch})
            for name, paths in per_size.items():
                result[f"{name}.batch_{batch}"] = measure(scorer, paths)
    result["method"] = (
        "wall time of Scorer.score over N images per size after a 2-image warm-up, once with params.yaml's "
        "evaluate.batch_size and once with all N in one batch; vLLM completions forced to max_new_tokens "
        "(an upper bound); smoke: tiny model on the CPU, figures say nothing about GPU speed"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
