"""Scoring through an OpenAI-compatible server (``transformers serve``, ``vllm serve``) with the official client.

Why a backend and not a client of our own: the prompt, the parser and the Thurstone comparison stay in this
package, and the server is the engine's own (:mod:`vqr1.inference.serve` starts one). Each image goes as a PNG
data URL in the user turn, image first, then the prompt text, as the chat template expects.

What the servers do with the sampling fields (checked against ``transformers serve`` 5.24): ``temperature: 0``
is greedy; ``n`` is ignored (one choice per request), so K samples are K requests, sent concurrently with
seeds ``seed + k``; a positive temperature samples only when the served folder's ``generation_config.json``
sets ``do_sample`` (``vqr1 serve`` writes it), else the server decodes greedily; fields outside the OpenAI
schema (``top_k``) are refused with 422, so none are sent; the reasoning comes back in a field of its own
(:func:`completion_text`). ``vllm serve`` accepts the same requests.
"""

from __future__ import annotations

import base64
import io
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PIL import Image

from vqr1.config import EvaluateParams
from vqr1.errors import ServerError
from vqr1.prompts import question

DEFAULT_CONCURRENCY = 8


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def png_data_url(image: Image.Image) -> str:
    """A lossless data URL: the server decodes exactly the pixels this process would score."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def completion_text(message: Any) -> str:
    """The completion as the model wrote it: servers that parse reasoning (``transformers serve`` with the
    chat template's response parser, vLLM with a reasoning parser) return the ``<think>`` part as
    ``reasoning_content`` (or ``reasoning``) beside the content; it is put back in front."""
    extra = getattr(message, "model_extra", None) or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
    content = message.content or ""
    return f"<think>{reasoning}</think>{content}" if reasoning else content


def check_resizable(image: Image.Image) -> None:
    """Raise ValueError, as the in-process processor would, for an image Qwen2.5-VL's resize rule refuses
    (an aspect ratio over 200): the server would answer HTTP 500 and end the run, not fail one image."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    smart_resize(
        image.height,
        image.width,
        factor=28,
        min_pixels=28 * 28,
        max_pixels=max(28 * 28, image.width * image.height),
    )


class RemoteBackend:
    """Completions from the server at ``url`` (``http://HOST:PORT/v1``), ``concurrency`` requests at a time."""

    image_processor = None  # the server sizes the images; it reports no visual-token count per image

    def __init__(
        self,
        url: str,
        settings: EvaluateParams,
        seed: int = 42,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = 600.0,
        client: Any = None,
        model: str | None = None,
    ) -> None:
        from openai import OpenAI

        self.url, self.settings, self.seed, self.concurrency = url, settings, seed, max(1, concurrency)
        self.client = client or OpenAI(
            base_url=url, api_key=os.environ.get("OPENAI_API_KEY") or "none", timeout=timeout, max_retries=1
        )
        self.model = model or self._served_model()
        self.text = question(settings.thinking)

    def _served_model(self) -> str:
        """The id of the model the server serves (its first), which also checks that a server answers."""
        import openai

        try:
            served = [m.id for m in self.client.models.list()]
        except openai.APIConnectionError as exc:
            raise ServerError(
                f"{self.url}: no server answers ({exc.__cause__ or exc}); start one with `vqr1 serve MODEL`"
            ) from exc
        except openai.APIStatusError as exc:
            raise ServerError(f"{self.url}: GET /models refused with HTTP {exc.status_code}") from exc
        if not served:
            raise ServerError(f"{self.url}: the server lists no model")
        return served[0]

    def with_settings(self, settings: EvaluateParams) -> RemoteBackend:
        return RemoteBackend(
            self.url, settings, self.seed, self.concurrency, client=self.client, model=self.model
        )

    def generate(self, images: list[Image.Image], samples: int) -> list[list[str]]:
        for img in images:
            check_resizable(img)
        urls = [png_data_url(img) for img in images]
        jobs = [(i, k) for i in range(len(images)) for k in range(samples)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(jobs) or 1)) as pool:
            texts = list(pool.map(lambda job: self._complete(urls[job[0]], job[1]), jobs))
        return [texts[i * samples : (i + 1) * samples] for i in range(len(images))]

    def _complete(self, url: str, k: int) -> str:
        import openai

        s = self.settings
        sampled = s.temperature > 0
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": url}},
                    {"type": "text", "text": self.text},
                ],
            }
        ]
        try:
            reply = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=s.temperature,
                top_p=s.top_p,
                max_tokens=s.max_new_tokens,
                **({"seed": self.seed + k} if sampled else {}),
            )
        except openai.BadRequestError as exc:  # this image or request: the scorer isolates it (ValueError)
            raise ValueError(f"the server refused the request: {exc.message}") from exc
        except openai.APIConnectionError as exc:
            raise ServerError(f"{self.url}: the server stopped answering ({exc.__cause__ or exc})") from exc
        except openai.APIStatusError as exc:
            raise ServerError(f"{self.url}: HTTP {exc.status_code} from the server: {exc.message}") from exc
        if not reply.choices:
            raise ServerError(f"{self.url}: a completion without choices")
        return completion_text(reply.choices[0].message)
