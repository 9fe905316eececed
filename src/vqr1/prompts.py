"""The reference training/evaluation prompt (SPEC §1) and the conversational message built from it."""

from __future__ import annotations

from typing import Any

# The scale the prompt asks for; every dataset's MOS is normalised onto it too (vqr1.data.normalize).
SCORE_SCALE = (1.0, 5.0)
_QUESTION = (
    "You are doing the image quality assessment task. Here is the question: What is your overall rating on "
    "the quality of this picture? The rating should be a float between 1 and 5, rounded to two decimal places, "
    "with 1 representing very poor quality and 5 representing excellent quality. "
)
_THINKING = (
    "First output the thinking process in <think> </think> tags and then output the final answer with only "
    "one score in <answer> </answer> tags."
)
_NON_THINKING = "Please only output the final answer with only one score in <answer> </answer> tags."


def question(thinking: bool = True, hint: str | None = None) -> str:
    """The prompt text; ``thinking=False`` is the paper's non-thinking variant. ``hint`` appends a sentence
    (``train.mos_hint``: the positive control of the training loop, never part of a real recipe)."""
    text = _QUESTION + (_THINKING if thinking else _NON_THINKING)
    return text if hint is None else f"{text} Hint: {hint}."


def conversation(thinking: bool = True, hint: str | None = None) -> list[dict[str, Any]]:
    """One user turn: the image first, then the text (the chat template adds the default system prompt)."""
    text = question(thinking, hint)
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]


# The MOS (1-5) in five equal bands, said in words: the positive control's hint. Phrases, not a digit: the
# tiny CPU model learns a multi-token cue in tens of steps and a one-token difference not at all.
_BANDS = (
    "severely distorted, very poor image",
    "strongly distorted image",
    "moderately distorted image",
    "slightly distorted image",
    "pristine image, no visible distortion",
)


def mos_band(mos: float) -> int:
    """The band (0-4) of ``mos`` on the 1-5 scale; values outside it fall in the end bands."""
    return min(max(int((mos - 1.0) / 4.0 * len(_BANDS)), 0), len(_BANDS) - 1)


def mos_hint(mos: float) -> str:
    """The words for the band of ``mos``."""
    return _BANDS[mos_band(mos)]
