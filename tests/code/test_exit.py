"""How an entry point's process ends: the objects alive at exit are frozen out of the last collections."""

from __future__ import annotations

import subprocess
import sys

# An atexit handler registered before the entry point's runs after it (last in, first out), and sees the state
# the interpreter's teardown starts from.
REPORT = 'import atexit, gc\natexit.register(lambda: print("frozen at exit:", gc.get_freeze_count()))\n'
WORK = "objects = [[i] for i in range(1000)]"


def frozen_at_exit(program: str) -> int:
    out = subprocess.run([sys.executable, "-c", REPORT + program], capture_output=True, text=True, check=True)
    return int(out.stdout.split("frozen at exit:")[1])


def test_entry_point_exits_with_every_live_object_frozen() -> None:
    program = f"from vqr1.errors import exit_on_error\nwith exit_on_error():\n    {WORK}\n"
    assert frozen_at_exit(program) > 1000  # the list's 1001 containers at least, and the modules'


def test_a_plain_process_does_not_freeze() -> None:
    """The control: without an entry point nothing is frozen, so the count above is the entry point's doing."""
    assert frozen_at_exit(WORK + "\n") == 0
