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


def _generate(model_dir: Path, n: int = 8, seed: int = 0, sample: bool = True) -> list[str]:
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(model_dir)
    images = [make_reference(i, (112, 84)) for i in range(n)]
    prompt = processor.apply_chat_template(conversation(True), add_generation_prompt=True)
    enc = processor(text=[prompt] * n, images=images, return_tensors="pt", padding=True)
    torch.manual_seed(seed)
    sampling = {"do_sample": True, "temperature": 1.0} if sample else {"do_sample": False}
    out = model.generate(**enc, max_new_tokens=48, **sampling)
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
    # greedy (top-2 logit margin 0.07 at the first step): a sampled first token ends the turn, an empty
    # text, once in about 600 draws
    texts = _generate(tiny_model_dir, n=2, sample=False)
    assert len(texts) == 2 and all(isinstance(t, str) and t for t in texts)


def test_build_is_deterministic(tmp_path: Path, tiny_model_dir: Path) -> None:
    again = tiny.build(tmp_path / "again", seed=0)
    from safetensors.torch import load_file

    a = load_file(tiny_model_dir / "model.safetensors")
    b = load_file(again / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _answer_nll(model_dir: Path) -> float:
    """Mean negative log-likelihood per token of well-formed answers to the scoring prompt, teacher-forced:
    a property of the weights, with no sampled trajectory in it."""
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.tokenizer.padding_side = "right"
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    prompt = processor.apply_chat_template(conversation(True), add_generation_prompt=True)
    targets = [
        f"<think>{tiny._REASONS[1]}</think><answer>2.75</answer><|im_end|>",
        f"<think>{tiny._REASONS[4]}</think><answer>4.10</answer><|im_end|>",
    ]
    images = [make_reference(i, (112, 84)) for i in range(len(targets))]
    enc = processor(text=[prompt + t for t in targets], images=images, return_tensors="pt", padding=True)
    labels = enc["input_ids"].clone()
    for row, target in enumerate(targets):
        n_valid = int(enc["attention_mask"][row].sum())
        n_target = len(processor.tokenizer(target, add_special_tokens=False)["input_ids"])
        labels[row, : n_valid - n_target] = -100
    labels[enc["attention_mask"] == 0] = -100
    with torch.no_grad():
        return float(model(**enc, labels=labels).loss)


def test_warmup_makes_completions_parse(tiny_model_dir: Path, warm_model_dir: Path) -> None:
    """The warm-up teaches the answer format. Checked without relying on one sampled trajectory (kernels
    differ per CPU): teacher-forced, well-formed answers cost the warmed weights under a quarter of the
    random ones' negative log-likelihood per token (measured: 0.6 vs 6.2 nats under every kernel set), and
    the warmed model's greedy answer to every image has the format and a score; the random model's
    samples never have the format."""
    cold_nll, warm_nll = _answer_nll(tiny_model_dir), _answer_nll(warm_model_dir)
    assert warm_nll < cold_nll / 4, (cold_nll, warm_nll)
    assert sum(has_format(t) for t in _generate(tiny_model_dir)) == 0
    greedy = _generate(warm_model_dir, sample=False)
    assert all(has_format(t) and parse_score(t) is not None for t in greedy), greedy


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
