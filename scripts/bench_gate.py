"""Benchmark: normalize + validate (the GX data gate) on the KADID-scale synthetic set.

Builds the 10,125-image synthetic set once (81 references x 25 types x 5 levels, 512x384 by default)
under build/bench/gate and reuses it; then times the normalize stage and the gate (image decode checks
in ``--workers`` threads + GX validation + Data Docs) and prints figures as one JSON line.
``--full-decode`` inflates every PNG instead of checking chunk CRCs (data.gate.full_decode).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from vqr1.config import DataParams
from vqr1.data import gate, normalize, synth

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--height", type=int, default=384)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--full-decode", action="store_true", help="data.gate.full_decode: inflate every PNG")
    parser.add_argument("--root", type=Path, default=REPO / "build/bench/gate")
    args = parser.parse_args()

    spec = synth.SynthSpec(references=81, types=25, width=args.width, height=args.height)
    root = args.root / f"{args.width}x{args.height}"
    labels = root / "data/raw/synthetic/kadid10k/dmos.csv"
    built_s = 0.0
    if not (labels.exists() and len(pd.read_csv(labels)) == spec.n_images):
        t0 = time.perf_counter()
        synth.build(root / "data/raw/synthetic", spec, workers=args.workers)
        built_s = time.perf_counter() - t0
    data = DataParams.model_validate(
        {
            "datasets": ["synthetic"],
            "train_datasets": ["synthetic"],
            "eval_datasets": ["synthetic"],
            "gate": {"workers": args.workers, "full_decode": args.full_decode},
            "synthetic": {"references": 81, "types": 25, "width": args.width, "height": args.height},
        }
    )
    t0 = time.perf_counter()
    normalize.write_manifests(root, data, progress=False)
    normalize_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = gate.validate_manifests(root, data)
    validate_s = time.perf_counter() - t1
    total = normalize_s + validate_s
    check_s = summary["datasets"]["synthetic"]["image_check_seconds"]
    print(
        json.dumps(
            {
                "images": spec.n_images,
                "resolution": f"{args.width}x{args.height}",
                "workers": args.workers,
                "cpu_count": os.cpu_count(),
                "normalize_s": round(normalize_s, 2),
                "validate_s": round(validate_s, 2),
                "image_check_s": round(check_s, 2),
                "total_s": round(total, 2),
                "images_per_s": round(spec.n_images / total, 1),
                "image_check_images_per_s": round(spec.n_images / check_s, 1),
                "full_decode": args.full_decode,
                "gate_passed": summary["success"],
                "set_built_s": round(built_s, 1),
                "method": "one run, wall clock (time.perf_counter) of normalize.write_manifests + gate.validate_manifests "
                "(imports and set generation excluded); PNG check = chunk CRCs, or every pixel with --full-decode",
            }
        )
    )


if __name__ == "__main__":
    main()
