"""`make control`'s kernel sets: each name turns into exactly the environment switches it says, and nothing of
the caller's own switches leaks into a run (scripts/control.py)."""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def control(monkeypatch_module: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch_module.syspath_prepend(str(REPO / "scripts"))  # control imports its neighbour learn.py
    return importlib.import_module("control")


@pytest.fixture(scope="module")
def monkeypatch_module() -> pytest.MonkeyPatch:
    with pytest.MonkeyPatch.context() as mp:
        yield mp
    sys.modules.pop("control", None)
    sys.modules.pop("learn", None)


def test_switches_joined_by_plus_set_each_variable(control: ModuleType) -> None:
    assert control.kernel_vars("native") == {}
    assert control.kernel_vars("aten-avx2") == {"ATEN_CPU_CAPABILITY": "avx2"}
    assert control.kernel_vars("aten-default+onednn-sse41+mkl-compatible") == {
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_CBWR": "COMPATIBLE",
    }
    whole = control.kernel_vars("default")
    assert whole["ATEN_CPU_CAPABILITY"] == "default" and whole["ONEDNN_MAX_CPU_ISA"] == "SSE41"


@pytest.mark.parametrize("name", ["aten-avx3", "onednn", "mkl-fast", "aten-avx2+", "avx2+aten-default"])
def test_an_unknown_switch_or_level_is_refused_by_name(control: ModuleType, name: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not one of"):
        control.kernel_set(name)


def test_a_run_gets_only_its_own_switches(control: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """A switch exported in the shell that starts make control must not reach a run that does not set it."""
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    env = control.kernel_env("onednn-avx2", threads=2)
    assert "ATEN_CPU_CAPABILITY" not in env and "MKL_CBWR" not in env
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2" and env["OMP_NUM_THREADS"] == "2"
