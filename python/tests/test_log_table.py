"""The float64 log-sigmoid's accurate table (c, log c) in the Swift source: tools/log_table.py's check."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

mpmath = pytest.importorskip("mpmath")

PYTHON_DIR = Path(__file__).resolve().parents[1]
SOURCE = PYTHON_DIR.parent / "Sources" / "SoftmaxKernels" / "Sigmoid.swift"


def log_table():
    spec = importlib.util.spec_from_file_location("log_table", PYTHON_DIR / "tools" / "log_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not SOURCE.exists(), reason="the Swift sources are not beside this package")
def test_the_kernel_table_is_accurate():
    assert log_table().check(str(SOURCE), bits=20) == []


@pytest.mark.skipif(not SOURCE.exists(), reason="the Swift sources are not beside this package")
@pytest.mark.parametrize("old, new, says", [
    ("-0x1.00558868e15bep-3", "-0x1.00558868e15bfp-3", "is not log(c) rounded"),
    ("0x1.e00000935fe02p-1", "0x1.dffffffffffffp-1", "below 15/16"),
    ("0x1.c3c3c3d2d6bc0p-1", "0x1.c3c3c3d2d6bc1p-1", "is not log(c) rounded"),
    ("0x1.1c71c7c8bbb77p-1", "0x1.1c71c8c8bbb77p-1", "not within 2^-24"),
])
def test_the_check_catches_a_changed_entry(tmp_path, old, new, says):
    text = SOURCE.read_text(encoding="utf-8")
    assert text.count(old) == 1
    changed = tmp_path / "Sigmoid.swift"
    changed.write_text(text.replace(old, new), encoding="utf-8")
    problems = log_table().check(str(changed), bits=20)
    assert any(says in p for p in problems), problems


@pytest.mark.skipif(not SOURCE.exists(), reason="the Swift sources are not beside this package")
def test_the_check_catches_an_ordinary_table(tmp_path):
    """c one ulp up with its own log(c) rounded: consistent, but log(c) is no longer near a Double."""
    text = SOURCE.read_text(encoding="utf-8")
    c, logc = "0x1.c3c3c3d2d6bc0p-1", "-0x1.00558868e15bep-3"
    moved = float.fromhex(c) + math.ulp(float.fromhex(c))
    with mpmath.workprec(130):
        moved_log = float(mpmath.log(mpmath.mpf(moved)))
    changed = tmp_path / "Sigmoid.swift"
    changed.write_text(text.replace(c, moved.hex()).replace(logc, moved_log.hex()), encoding="utf-8")
    problems = log_table().check(str(changed), bits=20)
    assert any("entry 2: log(c) is" in p and "ulp from its Double" in p for p in problems), problems
