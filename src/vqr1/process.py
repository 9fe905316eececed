"""What every vqr1 process does for itself at start and exit: the `vqr1` command and the DVC stage modules
(through :func:`vqr1.errors.exit_on_error`), and the suite's pytest processes. Each part skips a cost a library
puts on every process that never uses what the cost is for; the library API (``vqr1.load``), which runs in
a user's process, leaves that process as it is.
"""

from __future__ import annotations

import atexit
import functools
import gc
import sys

# Installed, imported by a library whenever installed, never used by vqr1.
UNUSED_OPTIONAL_IMPORTS = ("bitsandbytes",)
# Allocations (less deallocations) between two youngest-generation collections; CPython's default is 700.
YOUNG_COLLECTION_THRESHOLD = 10_000


@functools.cache
def as_entry_point() -> None:
    """Once per process: :func:`skip_unused_optional_imports`, :func:`fewer_young_collections` and
    :func:`freeze_at_exit`."""
    skip_unused_optional_imports()
    fewer_young_collections()
    freeze_at_exit()


def skip_unused_optional_imports() -> None:
    """Mark bitsandbytes absent in this process (``sys.modules[name] = None``: importing it raises ImportError,
    and ``importlib.util.find_spec`` reports it not installed), unless something imported it already.

    It is installed because pyiqa's metadata requires it, and peft imports it at import time whenever it is
    installed (``peft.helpers``), for 4-bit and 8-bit layers vqr1 never builds. Its import brings in more of
    torch's compiler stack: 0.6-0.7 CPU-s of every process that loads a model (a `vqr1 score` of one image:
    5.3-5.9 -> 4.7-5.0 CPU-s). peft, TRL and transformers then take their own paths for an environment
    without it; a training run logs the same figures either way."""
    for name in UNUSED_OPTIONAL_IMPORTS:
        sys.modules.setdefault(name, None)


def fewer_young_collections() -> None:
    """Collect the youngest generation every ``YOUNG_COLLECTION_THRESHOLD`` allocations instead of every 700.

    Importing torch, transformers, peft and TRL creates about 650,000 objects that live as long as the process.
    At CPython's default thresholds that growth runs 8 full collections, each walking every object so far,
    paid again by every stage, `vqr1` command and test worker: importing the training stack took 4.6 CPU-s
    with them and 3.6 without (scripts/bench_startup.py, docs/benchmarks.md). Cyclic garbage is found the
    same way, a few thousand allocations later; what reference counting frees (nearly every tensor) is freed as
    before, and what a computation returns does not depend on when collections run."""
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def freeze_at_exit() -> None:
    """At exit, freeze every live object out of the interpreter's last garbage collections. Once torch,
    transformers and TRL are imported, those collections walk about 650,000 objects while the modules are torn
    down: 1.5 s of CPU at the end of every `vqr1` or stage process, for memory the OS frees anyway. What is
    alive at exit was never guaranteed a finalizer; files are closed by the code that wrote them. The atexit
    handlers registered later still run (before it)."""
    atexit.register(gc.freeze)
