"""Benchmark: scoring throughput (images/s) of vqr1's scorer on a Qwen2.5-VL-7B-shaped model.

Full mode (one GPU): random bf16 weights of the 7B shape (``--base``: a folder holding them, e.g. written by
an earlier run; written there when it holds none; nothing downloaded) are scored through vqr1's own
``build_scorer`` with params.yaml's evaluate settings (the thinking prompt, 1 sample, temperature 0.1,
256 new tokens) on images of KADID's size (512x384, about 252 visual tokens) and of KonIQ's native size
(1024x768, about 999), at each batch size of ``--batches`` (default: params.yaml's ``evaluate.batch_size``
and every image in one batch), with the HF ``generate`` backend or vLLM (``--backend``). Every
completion is forced to the full 256 tokens (HF ``min_new_tokens``, vLLM ``min_tokens``), so the figure is
an upper bound of the time real answers take. The tokenizer is the tiny offline one; vLLM samples only its
ids (``allowed_token_ids``), HF decodes the others to nothing: neither changes the cost of a decoding step.

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

from bench_grpo_gpu import bench_image
from vqr1.config import Params, deep_merge, read_yaml
from vqr1.fsutil import atomic_dir
from vqr1.inference.scorer import Scorer, build_scorer
from vqr1.model import tiny

REPO = Path(__file__).resolve().parents[1]
SIZES = {"kadid_512x384": (512, 384), "koniq_1024x768": (1024, 768)}
NATIVE_MAX_PIXELS = 12_845_056  # Qwen2.5-VL's own processor limit: both sizes are scored natively
QWEN_MIN_PIXELS = 3136


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
    """Every completion runs to ``tokens``; vLLM samples only ids the tiny tokenizer can decode."""
    backend = scorer.backend
    if hasattr(backend, "sampling_params"):
        backend.sampling_params = functools.partial(
            backend.sampling_params, min_tokens=tokens, allowed_token_ids=list(range(vocab))
        )
    else:
        backend.model.generation_config.min_new_tokens = tokens


def write_base(base: Path, smoke: bool) -> None:
    """Random weights of the benchmark's shape + the tiny processor into ``base``."""
    tokenizer = tiny.build_tokenizer()
    if smoke:
        tiny.build(base, seed=0)
        return
    from bench_grpo_gpu import model_7b_shaped

    model = model_7b_shaped(tokenizer, torch.bfloat16, "cuda")
    with atomic_dir(base) as tmp:  # a part cut short by its time box leaves no half-written weights
        model.save_pretrained(tmp)
        # the released processor's own pixel limits, which `transformers serve` of this folder applies
        tiny.build_processor(tokenizer, QWEN_MIN_PIXELS, NATIVE_MAX_PIXELS).save_pretrained(tmp)
    del model
    torch.cuda.empty_cache()


def measure(scorer: Scorer, paths: list[Path]) -> dict[str, Any]:
    scorer.score(paths[: min(2, len(paths))])  # warm-up: kernels, caches, CUDA graphs
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    records = scorer.score(paths)
    seconds = time.perf_counter() - t0
    errors = [r.error for r in records if r.error]
    if errors:
        raise RuntimeError(f"{len(errors)} image(s) failed, e.g. {errors[0]}")
    result = {
        "images": len(paths),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(paths) / seconds, 2),
    }
    if torch.cuda.is_available():  # this process's own allocations: the HF model (vLLM preallocates its pool)
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model, HF backend, CPU")
    parser.add_argument("--images", type=int, help="images per size (default 64; smoke 4)")
    parser.add_argument(
        "--base", type=Path, help="folder with the weights and processor (written there when it holds none)"
    )
    parser.add_argument("--backend", choices=("hf", "vllm"), help="default vllm; smoke hf")
    parser.add_argument(
        "--batches",
        help="comma list of batch sizes; each is timed on max(batch, 4) images (default: evaluate.batch_size, "
        "then all images in one batch)",
    )
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"comma list of {', '.join(SIZES)}")
    args = parser.parse_args()
    smoke = args.smoke
    if not smoke and not torch.cuda.is_available():
        print("no CUDA GPU: run with --smoke on the CPU", file=sys.stderr)
        return 2
    n = args.images or (4 if smoke else 64)
    backend = args.backend or ("hf" if smoke else "vllm")
    if smoke and backend == "vllm":
        print("vLLM needs a GPU: --smoke runs the hf backend", file=sys.stderr)
        return 2
    result: dict[str, Any] = {
        "mode": "smoke (tiny model, CPU)" if smoke else "Qwen2.5-VL-7B shapes, random bf16 weights",
        "backend": backend,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    with tempfile.TemporaryDirectory(prefix="vqr1-bench-eval-") as tmp:
        root = Path(tmp)
        base = args.base or root / "base"
        vocab = len(tiny.build_tokenizer())
        if not (base / "config.json").is_file():
            t0 = time.perf_counter()
            write_base(base, smoke)
            result["write_weights_s"] = round(time.perf_counter() - t0, 1)
        params = eval_params(base, smoke, backend)
        configured = params.evaluate.batch_size
        batches = [int(b) for b in args.batches.split(",")] if args.batches else [min(configured, n), n]
        n = max(*batches, 4)  # images per size: the largest batch's
        per_size: dict[str, list[Path]] = {}
        for name in args.sizes.split(","):
            size = (SIZES[name][0] // 4, SIZES[name][1] // 4) if smoke else SIZES[name]
            folder = root / name
            folder.mkdir()
            per_size[name] = []
            for i in range(n):
                bench_image(i, size).save(folder / f"{i:03d}.png")
                per_size[name].append(folder / f"{i:03d}.png")
        t0 = time.perf_counter()
        scorer = build_scorer(params)
        result["load_s"] = round(time.perf_counter() - t0, 1)
        force_full_length(scorer, vocab, params.evaluate.max_new_tokens)
        result["max_new_tokens"] = params.evaluate.max_new_tokens
        result["thinking"] = params.evaluate.thinking
        for batch in dict.fromkeys(batches):
            scorer.settings = scorer.settings.model_copy(update={"batch_size": batch})
            for name, paths in per_size.items():
                try:
                    result[f"{name}.batch_{batch}"] = measure(scorer, paths[: max(batch, 4)])
                except Exception as exc:  # e.g. out of memory at the largest batch: keep the others' figures
                    result[f"{name}.batch_{batch}"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
    result["method"] = (
        "wall time of Scorer.score over max(batch, 4) images per size and batch size after a 2-image warm-up; "
        "completions forced to max_new_tokens (an upper bound); peak = torch.cuda.max_memory_allocated of "
        "the scoring process (HF: the model and its KV cache; vLLM preallocates its pool); smoke: tiny model "
        "on the CPU, figures say nothing about GPU speed"
    )
    print(json.dumps(result))
    return 1 if any(isinstance(v, dict) and "error" in v for v in result.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
