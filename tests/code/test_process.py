"""How an entry point's process starts and ends (``vqr1.process``): no unused optional import, no full garbage
collections while its heap grows, and the objects alive at exit frozen out of the last collections. Each claim
beside its control, a process without it."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

# An atexit handler registered before the entry point's runs after it (last in, first out), and sees the state
# the interpreter's teardown starts from.
REPORT = 'import atexit, gc\natexit.register(lambda: print("frozen at exit:", gc.get_freeze_count()))\n'
WORK = "objects = [[i] for i in range(1000)]"
ENTRY = "from vqr1.errors import exit_on_error\nwith exit_on_error():\n    {}\n"


def run(program: str) -> str:
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True).stdout


def frozen_at_exit(program: str) -> int:
    return int(run(REPORT + program).split("frozen at exit:")[1])


def test_entry_point_exits_with_every_live_object_frozen() -> None:
    assert frozen_at_exit(ENTRY.format(WORK)) > 1000  # the list's 1001 containers at least, and the modules'


def test_a_plain_process_does_not_freeze() -> None:
    """The control: without an entry point nothing is frozen, so the count above is the entry point's doing."""
    assert frozen_at_exit(WORK + "\n") == 0


def test_entry_point_imports_peft_without_the_unused_bitsandbytes() -> None:
    """peft imports bitsandbytes whenever it is installed (pyiqa requires it); an entry point's peft runs as
    where it is not: nothing of it loaded, and peft's own check says absent."""
    try:
        importlib.metadata.distribution("bitsandbytes")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("bitsandbytes is not installed here (pyiqa requires it only off macOS)")
    probe = "import importlib.util; print('plain finds it:', importlib.util.find_spec('bitsandbytes') is not None)"
    assert "plain finds it: True" in run(probe)  # the control: a plain process would import it
    program = ENTRY.format(
        "import sys, peft, peft.helpers, peft.import_utils\n"
        "    loaded = sorted(m for m, v in sys.modules.items() if m.startswith('bitsandbytes') and v is not None)\n"
        "    print('loaded:', loaded, 'peft sees it:', peft.import_utils.is_bnb_available(), peft.helpers.bnb)"
    )
    assert "loaded: [] peft sees it: False None" in run(program)


# Objects that live as long as the process, made as an import makes them (modules' functions, classes, dicts),
# with the collections that run meanwhile counted.
GROWTH = (
    "import gc\nfull = []\ngc.callbacks.append(lambda phase, info: full.append(1) "
    "if phase == 'stop' and info['generation'] == 2 else None)\n"
    "kept = [{'n': [i]} for i in range(300_000)]\nprint('full collections:', len(full))\n"
)


def full_collections(program: str) -> int:
    return int(run(program).split("full collections:")[1])


def test_entry_point_grows_its_heap_without_full_collections() -> None:
    """Importing the training stack grows the heap by about 650,000 long-lived objects; at CPython's default
    thresholds each 25% of growth walks the whole heap again (scripts/bench_startup.py has the CPU figures)."""
    assert full_collections(ENTRY.format(GROWTH.replace("\n", "\n    "))) == 0


def test_a_plain_process_walks_its_growing_heap() -> None:
    """The control: the same growth at CPython's default thresholds runs full collections."""
    assert full_collections(GROWTH) > 0
