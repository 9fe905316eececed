"""The tiny Qwen2.5-VL fixture: loads with the Auto classes, generates, and the warm-up teaches the format."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from vqr1.data.synth import make_reference
from vqr1.model import tiny
from vqr1.parsing import has_format, parse_score
from vqr1.prompts import conversation


def _generate(model_dir: Path, n: int = 8, seed: int = 0) -> list[str]:
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    images = [make_reference(i, (112, 84)) for i in range(n)]
    prompt = processor.apply_chat_template(conversation(True), add_generation_prompt=True)
    enc = processor(text=[prompt] * n, images=images, return_tensors="pt", padding=True)
    torch.manual_seed(seed)
    out = model.generate(**enc, max_new_tokens=48, do_sample=True, temperature=1.0)
    return processor.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)


def test_tiny_loads_and_generates(tiny_model_dir: Path) -> None:
    size = sum(p.stat().st_size for p in tiny_model_dir.rglob("*") if p.is_file())
    assert size < 3_000_000
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    ids = processor.tokenizer("<think>a</think><answer>3.25</answer>", add_special_tokens=False)["input_ids"]
    tokens = processor.tokenizer.convert_ids_to_tokens(ids)
    assert {"<think>", "</think>", "<answer>", "</answer>"} <= set(tokens)
    assert all(t in tokens for t in ["3", "2", "5"])  # digits split one by one
    texts = _generate(tiny_model_dir, n=2)
    assert len(texts) == 2 and all(isinstance(t, str) and t for t in texts)


def test_build_is_deterministic(tmp_path: Path, tiny_model_dir: Path) -> None:
    again = tiny.build(tmp_path / "again", seed=0)
    from safetensors.torch import load_file

    a = load_file(tiny_model_dir / "model.safetensors")
    b = load_file(again / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_warmup_makes_completions_parse(tiny_model_dir: Path, warm_model_dir: Path) -> None:
    cold = _generate(tiny_model_dir)
    warm = _generate(warm_model_dir)
    assert sum(has_format(t) for t in cold) == 0
    parsed = [parse_score(t) for t in warm]
    assert sum(s is not None for s in parsed) >= 6, warm
    assert sum(has_format(t) for t in warm) >= 4, warm


def test_7b_shaped_benchmark_model_matches_the_published_size() -> None:
    """The GPU benchmark's config (built on the meta device, no memory) has Qwen2.5-VL-7B's 8.29B parameters
    and the tokenizer's special-token ids, through the same helper as the tiny model."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "bench_grpo_gpu.py"
    spec = importlib.util.spec_from_file_location("bench_grpo_gpu", script)
    bench_grpo_gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_grpo_gpu)

    tokenizer = tiny.build_tokenizer()
    model = bench_grpo_gpu.model_7b_shaped(tokenizer, torch.bfloat16, "meta")
    n_params = sum(p.numel() for p in model.parameters())
    assert 8.28e9 < n_params < 8.30e9
    ids = tokenizer.convert_tokens_to_ids
    assert model.config.image_token_id == ids("<|image_pad|>")
    assert model.generation_config.eos_token_id == ids("<|im_end|>")
    assert model.config.text_config.vocab_size == 152064
