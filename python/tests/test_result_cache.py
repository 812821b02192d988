"""Large results reuse the memory of earlier ones (python/swiftsoftmax/_results.py).

What must hold: a large result is an ordinary writeable C-contiguous array with the right values;
its memory returns to the cache only when every view of it has died; a later large call reuses
it; the cache stays within its limit; `empty_cache` gives it back; ``SWIFTSOFTMAX_RESULT_CACHE_MB=0``
turns it off.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import numpy as np
import pytest

import swiftsoftmax as ssm
from swiftsoftmax import _results

LARGE = (32, 262144)  # 32 MiB of float32: a result the cache takes (from 8 MiB on)


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


@pytest.fixture(autouse=True)
def _fresh_cache():
    ssm.empty_cache()
    yield
    gc.collect()
    ssm.empty_cache()


def test_small_results_come_from_numpy():
    y = ssm.softmax(np.zeros((4, 1000), dtype=np.float32))
    assert y.base is None and y.flags.owndata
    del y
    assert ssm.cached_bytes() == 0


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "sigmoid", "normalize"])
def test_large_result_is_reused_and_correct(op):
    rng = np.random.default_rng(1)
    x = rng.random(LARGE, dtype=np.float32) + np.float32(0.5)
    f = getattr(ssm, op)
    y = f(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.flags.c_contiguous and y.flags.writeable and y.flags.aligned
    first = _address(y)
    expected = y.copy()
    del y
    assert ssm.cached_bytes() >= x.nbytes
    y2 = f(x)
    assert _address(y2) == first, "the second large result did not reuse the first one's memory"
    np.testing.assert_array_equal(y2, expected)
    assert ssm.cached_bytes() == 0


def test_a_view_keeps_the_memory():
    x = np.zeros(LARGE, dtype=np.float32)
    y = ssm.softmax(x)
    view = y[3:5]
    address = _address(y)
    del y
    assert ssm.cached_bytes() == 0, "memory returned while a view of it lives"
    other = ssm.softmax(x)
    assert _address(other) != address
    np.testing.assert_array_equal(view, np.float32(1 / LARGE[1]))
    del view
    assert ssm.cached_bytes() >= x.nbytes


def test_gradients_and_float64_use_it_too():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, 262144))  # 32 MiB of float64
    labels = rng.integers(0, x.shape[1], size=x.shape[0])
    _, g = ssm.cross_entropy_with_grad(x, labels)
    address = _address(g)
    del g
    _, g2 = ssm.cross_entropy_with_grad(x, labels)
    assert _address(g2) == address
    np.testing.assert_allclose(g2.sum(axis=1), 0, atol=1e-12)


def test_empty_cache_gives_the_memory_back():
    y = ssm.softmax(np.zeros(LARGE, dtype=np.float32))
    nbytes = y.nbytes
    del y
    assert ssm.empty_cache() >= nbytes
    assert ssm.cached_bytes() == 0
    assert ssm.empty_cache() == 0


def test_the_limit_is_kept(monkeypatch):
    monkeypatch.setattr(_results, "_LIMIT", 40 << 20)
    x = np.zeros(LARGE, dtype=np.float32)
    a, b = ssm.softmax(x), ssm.softmax(x)
    del a, b  # 64 MiB died; 40 MiB may be kept: one block
    assert 0 < ssm.cached_bytes() <= 40 << 20


@pytest.mark.parametrize("setting", ["0", "nonsense"])
def test_environment_setting(setting):
    code = ("import numpy as np, swiftsoftmax as ssm\n"
            "y = ssm.softmax(np.zeros((32, 262144), dtype=np.float32)); del y\n"
            "print(ssm.cached_bytes(), ssm.softmax(np.zeros((32, 262144), dtype=np.float32)).flags.owndata)\n")
    env = dict(os.environ, SWIFTSOFTMAX_RESULT_CACHE_MB=setting)
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if setting == "0":
        assert run.returncode == 0, run.stderr
        assert run.stdout.split() == ["0", "True"]
    else:
        assert run.returncode != 0
        assert "SWIFTSOFTMAX_RESULT_CACHE_MB" in run.stderr
