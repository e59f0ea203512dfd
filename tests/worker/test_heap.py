"""The worker caps glibc's malloc arenas and calms the cyclic collector before it starts."""

from __future__ import annotations

import ctypes.util
import platform
import subprocess
import sys

import pytest

from bot.worker.heap import cap_arenas


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_arenas_are_capped_on_glibc() -> None:
    # In a fresh interpreter: the cap must be set before threads allocate.
    code = "from bot.worker.heap import cap_arenas; print(cap_arenas())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_without_a_c_library_nothing_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda _name: None)
    assert cap_arenas() is False


def test_start_up_objects_are_frozen_and_young_ones_collected_less_often() -> None:
    code = (
        "import gc; from bot.worker.heap import calm_collector\n"
        "calm_collector(12345)\n"
        "print(gc.get_threshold()[0], gc.get_freeze_count() > 10_000)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["12345", "True"]
