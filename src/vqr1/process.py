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


@functools.cache
def as_entry_point() -> None:
    """Once per process: :func:`skip_unused_optional_imports` and :func:`freeze_at_exit`."""
    skip_unused_optional_imports()
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


def freeze_at_exit() -> None:
    """At exit, freeze every live object out of the interpreter's last garbage collections. Once torch,
    transformers and TRL are imported, those collections walk about 650,000 objects while the modules are torn
    down: 1.5 s of CPU at the end of every `vqr1` or stage process, for memory the OS frees anyway. What is
    alive at exit was never guaranteed a finalizer; files are closed by the code that wrote them. The atexit
    handlers registered later still run (before it)."""
    atexit.register(gc.freeze)
