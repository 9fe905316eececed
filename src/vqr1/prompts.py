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


def question(thinking: bool = True) -> str:
    """The prompt text; ``thinking=False`` is the paper's non-thinking variant."""
    return _QUESTION + (_THINKING if thinking else _NON_THINKING)


def conversation(thinking: bool = True) -> list[dict[str, Any]]:
    """One user turn: the image first, then the text (the chat template adds the default system prompt)."""
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question(thinking)}]}]
