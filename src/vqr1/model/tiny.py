"""A tiny, randomly initialised Qwen2.5-VL with its processor, built offline (test and demo fixture).

Why: tests and the demo must run the real Qwen2.5-VL code paths (processor, vision tower, mRoPE,
GRPO, LoRA) on a CPU without a model hub. The architecture is Qwen2.5-VL's, scaled down; the
tokenizer is a byte-level BPE trained locally with Qwen's pre-tokenizer, special tokens and chat
template. It is *not* a quality model: its scores are noise until trained.

:func:`warmup` is an optional short supervised fine-tune that teaches only the answer FORMAT
(``<think>..</think><answer>x.xx</answer>`` with random scores) so that completions parse and the
ranking reward is non-zero. It is a fixture for tests and the demo, not part of the method.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from PIL import Image

from vqr1.fsutil import atomic_dir
from vqr1.model.qwen25vl import qwen25vl_config, set_generation_tokens
from vqr1.prompts import conversation, question

# The Qwen2.5-VL chat template (as shipped with Qwen/Qwen2.5-VL-7B-Instruct).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
# Ordinary (non-special) tokens, so they appear in decoded completions like in the real model.
FORMAT_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]
# Qwen2's pre-tokenizer regex: digits are split one by one, so any score is spellable.
QWEN_PRETOKENIZE = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
_REASONS = [
    "the image looks sharp with clear details",
    "there is visible noise and blur",
    "colors look natural and the lighting is good",
    "strong compression artifacts reduce the quality",
    "the contrast is low and the picture is dull",
    "edges are soft and textures are lost",
]


def _corpus() -> list[str]:
    words = [question(True), question(False), "You are a helpful assistant.", "system user assistant"]
    words += _REASONS + [
        f"<think>{r}</think><answer>{i / 100:.2f}</answer>" for i, r in enumerate(_REASONS * 9)
    ]
    return words * 4


def build_tokenizer():
    """A Qwen2Tokenizer with a locally trained byte-level BPE vocabulary (about 500 tokens)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(), trainer=trainer)
    import json

    model_json = json.loads(bpe.to_str())["model"]
    vocab = model_json["vocab"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model_json["merges"]]
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    tok.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    tok.add_tokens(FORMAT_TOKENS)
    tok.chat_template = CHAT_TEMPLATE
    return tok


def build_processor(tokenizer, min_pixels: int = 784, max_pixels: int = 12544):
    """Qwen2.5-VL processor with small pixel limits (28x28 .. 112x112 by default)."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    image_processor = Qwen2VLImageProcessor(
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
    )
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )


TINY_TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": [2, 3, 3]},
}
TINY_VISION = {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "out_hidden_size": 64,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [1],
}


FORMAT_WARMUP_STEPS = 150  # the demo's, make learn's and the suite's warm-up: enough for answers to parse


def build(
    out_dir: Path, seed: int = 42, warmup_steps: int = 0, warmup_images: list[Path] | None = None
) -> Path:
    """Build the tiny model + processor into ``out_dir`` (atomically); optionally warm up the format."""
    from transformers import Qwen2_5_VLForConditionalGeneration, set_seed

    set_seed(seed)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    model = Qwen2_5_VLForConditionalGeneration(qwen25vl_config(tokenizer, TINY_TEXT, TINY_VISION))
    set_generation_tokens(model)
    if warmup_steps > 0:
        warmup(model, processor, steps=warmup_steps, seed=seed, images=warmup_images)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
    return out_dir


def build_warm(out_dir: Path, seed: int = 42) -> Path:
    """The format-warmed tiny model at ``out_dir``, built only if none is there: the demo, make learn and
    make ablation keep their workspace's model from one run to the next."""
    if not (Path(out_dir) / "config.json").is_file():
        build(out_dir, seed=seed, warmup_steps=FORMAT_WARMUP_STEPS)
    return Path(out_dir)


def _warmup_images(images: list[Path] | None, n: int, seed: int) -> list[Image.Image]:
    if images:
        return [Image.open(p).convert("RGB") for p in images]
    from vqr1.data.synth import make_reference

    return [make_reference(i, (112, 84)) for i in range(n)]


def warmup(
    model, processor, steps: int, seed: int = 42, images: list[Path] | None = None, lr: float = 3e-3
) -> list[float]:
    """Supervised steps on ``<think>reason</think><answer>x.xx</answer>`` targets with random scores.

    Only the assistant tokens carry loss. Returns the loss per step (it should fall).
    """
    rng = random.Random(seed)
    pics = _warmup_images(images, 8, seed)
    prompt = processor.apply_chat_template(conversation(True), add_generation_prompt=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    padding_side = processor.tokenizer.padding_side
    processor.tokenizer.padding_side = "right"
    model.train()
    losses = []
    for _ in range(steps):
        batch_imgs = [rng.choice(pics) for _ in range(4)]
        targets = [
            f"<think>{rng.choice(_REASONS)}</think><answer>{rng.uniform(1, 5):.2f}</answer><|im_end|>"
            for _ in batch_imgs
        ]
        enc = processor(
            text=[prompt + t for t in targets], images=batch_imgs, return_tensors="pt", padding=True
        )
        labels = enc["input_ids"].clone()
        for row, target in enumerate(targets):  # loss only on the assistant's answer (right padding)
            n_valid = int(enc["attention_mask"][row].sum())
            n_target = len(processor.tokenizer(target, add_special_tokens=False)["input_ids"])
            labels[row, : n_valid - n_target] = -100
        labels[enc["attention_mask"] == 0] = -100
        loss = model(**enc, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    processor.tokenizer.padding_side = padding_side
    return losses
