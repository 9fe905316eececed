"""Benchmark: serving throughput of ``transformers serve --continuous-batching`` (or, with ``--engine vllm``,
vLLM's OpenAI-compatible server) on a Qwen2.5-VL-7B-shaped model.

Full mode (one GPU): the random bf16 weights of the 7B shape (``--base``; written there when it holds none,
as ``bench_eval_gpu.py`` writes them; nothing downloaded) are served by ``transformers serve`` with continuous
batching on 127.0.0.1, and scored over its OpenAI-compatible API with vqr1's thinking prompt and one image of
KADID's size (512x384) per request, params.yaml's evaluate settings (temperature 0.1, 256 new tokens), at each
concurrency of ``--concurrency`` (default 1 and 64): the figure to hold against scoring one image at a time
in-process. The weights are random, so answers run to the token limit; the completion tokens the server
reports are given beside images/s.

``--smoke`` serves the tiny model on the CPU with tiny shapes (tests keep the script working).
Prints one JSON line (last line of stdout).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

from bench_eval_gpu import write_base
from bench_grpo_gpu import bench_image
from vqr1.config import read_yaml
from vqr1.prompts import question

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVERS = {
    "transformers": "transformers serve --continuous-batching",
    "vllm": "vLLM's OpenAI-compatible server (vllm.entrypoints.openai.api_server)",
}


def start_server(engine: str, base: Path, port: int, log: Any, device: str) -> subprocess.Popen:
    """The engine's own OpenAI-compatible server of the folder ``base``, bound to 127.0.0.1."""
    if engine == "vllm":  # the model is named by its folder, as transformers serve names it
        command = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(base)]
        command += ["--served-model-name", str(base), "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [sys.executable, "-m", "transformers.cli.transformers", "serve", str(base)]
        command += ["--continuous-batching", "--host", "127.0.0.1", "--port", str(port), "--device", device]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(url: str, server: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise RuntimeError(f"the server was not ready after {timeout_s:.0f} s")


def image_request(model: str, image_png: bytes, evaluate: dict[str, Any]) -> dict[str, Any]:
    """One chat completion: the image, then vqr1's question, as the scorer asks it."""
    data_url = "data:image/png;base64," + base64.b64encode(image_png).decode()
    content = [
        {"type": "image_url", "image_url": {"url": data_url}},
        {"type": "text", "text": question(evaluate["thinking"])},
    ]
    return {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": evaluate["max_new_tokens"],
        "temperature": evaluate["temperature"],
        "top_p": evaluate["top_p"],
        "stream": False,
    }


def post(url: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        answer = json.load(response)
    usage = answer["usage"]
    return {
        "latency_s": time.perf_counter() - t0,
        "tokens": usage["completion_tokens"],
        "prompt_tokens": usage["prompt_tokens"],
    }


def measure(url: str, bodies: list[dict[str, Any]], concurrency: int, timeout_s: float) -> dict[str, Any]:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(lambda body: post(url, body, timeout_s), bodies))
    seconds = time.perf_counter() - t0
    tokens = [a["tokens"] for a in answers]
    return {
        "requests": len(bodies),
        "seconds": round(seconds, 2),
        "images_per_s": round(len(bodies) / seconds, 3),
        "completion_tokens_per_s": round(sum(tokens) / seconds, 1),
        "mean_completion_tokens": round(statistics.mean(tokens), 1),
        "mean_prompt_tokens": round(
            statistics.mean(a["prompt_tokens"] for a in answers), 1
        ),  # image included
        "median_latency_s": round(statistics.median(a["latency_s"] for a in answers), 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny model and shapes on the CPU")
    parser.add_argument(
        "--base", type=Path, help="folder with the weights and processor (written there when it holds none)"
    )
    parser.add_argument("--engine", choices=list(SERVERS), default="transformers")
    parser.add_argument("--concurrency", help="comma list of concurrent requests (default 1,64; smoke 1,4)")
    parser.add_argument("--ready-timeout-s", type=float, default=300)
    args = parser.parse_args()
    smoke = args.smoke
    if not smoke and not torch.cuda.is_available():
        print("no CUDA GPU: run with --smoke on the CPU", file=sys.stderr)
        return 2
    levels = [int(c) for c in (args.concurrency or ("1,4" if smoke else "1,64")).split(",")]
    evaluate = read_yaml(REPO / "params.yaml")["evaluate"]
    if smoke:
        evaluate["max_new_tokens"] = 8
    result: dict[str, Any] = {
        "mode": "smoke (tiny model, CPU)" if smoke else "Qwen2.5-VL-7B shapes, random bf16 weights",
        "server": SERVERS[args.engine],
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "max_new_tokens": evaluate["max_new_tokens"],
        "thinking": evaluate["thinking"],
    }
    with tempfile.TemporaryDirectory(prefix="vqr1-bench-serve-") as tmp:
        base = args.base or Path(tmp) / "base"
        if not (base / "config.json").is_file():
            t0 = time.perf_counter()
            write_base(base, smoke)
            result["write_weights_s"] = round(time.perf_counter() - t0, 1)
        size = (128, 96) if smoke else (512, 384)
        pngs = []
        for i in range(max(levels)):
            buffer = io.BytesIO()
            bench_image(i, size).save(buffer, format="PNG")
            pngs.append(buffer.getvalue())
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log_path = Path(tmp) / "serve.log"
        with open(log_path, "wb") as log:
            server = start_server(args.engine, base, port, log, "cpu" if smoke else "cuda:0")
            try:
                t0 = time.perf_counter()
                wait_ready(url, server, args.ready_timeout_s)
                post(url, image_request(str(base), pngs[0], evaluate), args.ready_timeout_s)  # loads, warms
                result["ready_s"] = round(time.perf_counter() - t0, 1)
                for level in levels:
                    bodies = [image_request(str(base), png, evaluate) for png in pngs[: max(level, 2)]]
                    result[f"concurrency_{level}"] = measure(url, bodies, level, args.ready_timeout_s)
                if torch.cuda.is_available():
                    free, total = torch.cuda.mem_get_info()
                    result["gpu_memory_used_gib"] = round((total - free) / 2**30, 2)
            except Exception as exc:  # the server's own log says why
                log.flush()
                tail = log_path.read_bytes()[-1500:].decode(errors="replace")
                result["error"] = f"{type(exc).__name__}: {exc}"[:300] + f"; server log: {tail}"
            finally:
                server.terminate()
                server.wait(timeout=30)
    result["method"] = (
        "wall time of N chat completions (one image each, N = max(concurrency, 2)) sent by N-way concurrent "
        "HTTP clients after one warm-up request; tokens from the server's usage; GPU memory = the device's "
        "used memory at the end (torch.cuda.mem_get_info: the server's weights and its paged KV cache)"
    )
    print(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    raise SystemExit(main())
