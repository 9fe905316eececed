"""Benchmark: what an entry point's start costs to import the training stack (torch, transformers, peft, TRL),
as a plain Python process and as a vqr1 entry point (``vqr1.process.as_entry_point`` first).

Each repeat starts both kinds of process, one after the other, and each child reports its own CPU time
(``time.process_time``) and the garbage collections its import ran (``gc.callbacks``). Prints one JSON line:
the medians per kind and their ratio, measured side by side in this one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import gc, json, time
seen = {"collections": 0, "full": 0, "gc_s": 0.0}
started = {}
def count(phase, info):
    if phase == "start":
        started["t"] = time.process_time()
        return
    seen["collections"] += 1
    seen["full"] += info["generation"] == 2
    seen["gc_s"] += time.process_time() - started["t"]
gc.callbacks.append(count)
if ENTRY:
    from vqr1.process import as_entry_point
    as_entry_point()
else:
    from vqr1.process import skip_unused_optional_imports
    skip_unused_optional_imports()  # the same modules either way: only the collections differ
import vqr1.train.grpo
print(json.dumps({**seen, "cpu_s": time.process_time()}))
"""

KINDS = {"plain": False, "entry_point": True}


def probe(entry: bool) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", f"ENTRY = {entry}\n{PROBE}"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    probe(False)  # a first import fills the OS's file cache for both kinds
    for _ in range(args.repeats):
        for kind, entry in KINDS.items():
            runs[kind].append(probe(entry))
    medians = {
        kind: {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}
        for kind, rows in runs.items()
    }
    result: dict[str, object] = {**medians}
    result["cpu_ratio_plain_over_entry_point"] = round(
        medians["plain"]["cpu_s"] / medians["entry_point"]["cpu_s"], 3
    )
    result["method"] = (
        f"median of {args.repeats} interleaved child processes per kind, each importing vqr1.train.grpo (torch, "
        "transformers, peft, TRL) without bitsandbytes; cpu_s = the child's time.process_time at the end, "
        "collections / full / gc_s = the garbage collections its import ran (gc.callbacks), full = generation 2"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
