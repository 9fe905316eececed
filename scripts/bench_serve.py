"""Scoring through a served model: images/s at 1 vs 8 concurrent requests to `transformers serve` (started by
`vqr1 serve` on 127.0.0.1) with the tiny model, and in-process scoring beside it, measured in one run.

Why interleaved repeats: the machine is shared, so each repeat runs every setting back to back and the median
per setting is reported. Prints one JSON object as its last line (see scripts/bench_all.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import vqr1
from vqr1.data import synth
from vqr1.inference.images import expand_paths
from vqr1.model import tiny


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        time.sleep(0.5)
    raise SystemExit(f"no server at {url} after {seconds} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--warmup-steps", type=int, default=100, help="format warm-up of the tiny model")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp)
        tiny.build(root / "model", seed=0, warmup_steps=args.warmup_steps)
        spec = synth.SynthSpec(references=max(1, -(-args.images // 30)), width=256, height=192)
        images = expand_paths([synth.build(root / "synth", spec, progress=False) / "images"])[: args.images]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}/v1"
        env = {**os.environ, "VQR1_CACHE": str(root / "cache")}
        command = [sys.executable, "-m", "vqr1", "serve", str(root / "model"), "--port", str(port)]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(url, proc)
            settings = {"temperature": 0.0, "max_new_tokens": args.max_new_tokens}
            models = {f"server_{c}": vqr1.load(url, concurrency=c, **settings) for c in args.concurrency}
            models["in_process_batch_8"] = vqr1.load(root / "model", batch_size=8, **settings)
            for model in models.values():
                model.score(images[:4])  # first-call warm-up
            timings: dict[str, list[float]] = {name: [] for name in models}
            for _ in range(args.repeats):
                for name, model in models.items():
                    start = time.perf_counter()
                    results = model.score(images)
                    timings[name].append(time.perf_counter() - start)
                    assert all(r.error is None for r in results), [r.error for r in results if r.error]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    per_s = {name: len(images) / statistics.median(ts) for name, ts in timings.items()}
    low, high = min(args.concurrency), max(args.concurrency)
    out = {
        "images_per_s": {name: round(v, 2) for name, v in per_s.items()},
        f"concurrency_{high}_vs_{low}": round(per_s[f"server_{high}"] / per_s[f"server_{low}"], 2),
        "images": len(images),
        "method": (
            f"tiny Qwen2.5-VL ({args.warmup_steps}-step format warm-up), {len(images)} synthetic 256x192 images, "
            f"greedy, {args.max_new_tokens} new tokens max; `vqr1 serve` (transformers serve, CPU) on 127.0.0.1 "
            "scored with vqr1.load(URL) through the openai client at each concurrency, and in-process HF "
            f"generate at batch 8 beside it; median of {args.repeats} interleaved repeats, one machine"
        ),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
