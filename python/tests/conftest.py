"""Shared helpers of the swiftsoftmax test-suite.

Accuracy is measured as docs/accuracy.md, "Method" describes it: the distance, in ULPs of the
result's dtype, between what the library returns and the exact result for the given input
values. The exact result is approximated in numpy.longdouble (64-bit significand on x86-64, 11 more bits than float64),
with the maximum subtracted and log-space results formed with log1p of the non-maximal terms,
so the reference itself is good to a small fraction of a float64 ULP on the inputs used here.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

LD = np.longdouble

# ULP budgets on ordinary inputs ("within a few ULPs"; docs/accuracy.md, "Method"). float32
# results are computed in double and rounded once or twice; float64 results carry the
# exp/log/division roundings of the double-precision path.
MAX_ULP = {np.dtype(np.float32): 2.0, np.dtype(np.float64): 4.0}

FLOATS = [np.float32, np.float64]


# ---------------------------------------------------------------------------------------
# ULP distance

def ulp_errors(actual, reference, dtype=None) -> np.ndarray:
    """ULP distances between `actual` and a higher-precision `reference`, elementwise.

    The ULP is that of `dtype` (default: actual's dtype) at the reference value, so a
    subnormal reference is measured in absolute steps of the smallest subnormal. Entries whose
    reference is zero, infinite or NaN must match exactly (same value, same NaN-ness) and count
    as 0 ULP; a mismatch there counts as infinitely many ULPs.
    """
    actual = np.asarray(actual)
    dtype = np.dtype(dtype or actual.dtype)
    ref = np.asarray(reference, dtype=LD)
    actual, ref = np.broadcast_arrays(actual, ref)
    act = actual.astype(LD)
    err = np.zeros(ref.shape, dtype=np.float64)
    special = ~np.isfinite(ref) | (ref == 0)
    # Exact agreement required on the special entries (zeros may differ only in sign).
    same = (act == ref) | (np.isnan(act) & np.isnan(ref))
    err[special & ~same] = np.inf
    ordinary = ~special
    if ordinary.any():
        r = ref[ordinary]
        # One ULP of `dtype` at |r|: 2^(e - p) for |r| in [2^(e-1), 2^e), never below the
        # smallest subnormal.
        fi = np.finfo(dtype)
        p = fi.nmant + 1
        _, e = np.frexp(np.abs(r))
        ulp = np.maximum(np.ldexp(LD(1), (e - p).astype(np.int32)), LD(fi.smallest_subnormal))
        e = np.abs(act[ordinary] - r) / ulp
        e[~np.isfinite(act[ordinary])] = np.inf
        err[ordinary] = e.astype(np.float64)
    return err


def assert_ulp(actual, reference, max_ulp=None, *, dtype=None, what=""):
    """Asserts every element of `actual` is within `max_ulp` ULPs of `reference`."""
    actual = np.asarray(actual)
    dt = np.dtype(dtype or actual.dtype)
    if max_ulp is None:
        max_ulp = MAX_ULP[dt]
    err = ulp_errors(actual, reference, dt)
    if err.size and not err.max() <= max_ulp:
        i = np.unravel_index(np.argmax(err), err.shape)
        ref = np.broadcast_to(np.asarray(reference, dtype=LD), err.shape)
        got = np.broadcast_to(actual, err.shape)
        pytest.fail(
            f"{what} max error {err.max():.3g} ULP > {max_ulp} at index {i}: "
            f"got {got[i]!r}, exact {ref[i]!r}"
        )
    return err


def assert_same(actual, expected):
    """Bitwise-equal values (NaN equal to NaN, -0 distinct from +0 is not required)."""
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)


# ---------------------------------------------------------------------------------------
# Arrays unchanged after an error

def _snapshot(a):
    return None if a is None else (a.shape, a.dtype, a.tobytes())


@contextlib.contextmanager
def unchanged(*arrays):
    """Asserts the given NumPy arrays hold exactly the same bytes after the block as before.

    Use around a call expected to fail::

        with unchanged(x, out), pytest.raises(ValueError):
            ssm.softmax(x, out=out, temperature=0)
    """
    before = [_snapshot(a) for a in arrays]
    try:
        yield
    finally:
        after = [_snapshot(a) for a in arrays]
        for k, (b, a) in enumerate(zip(before, after)):
            assert b == a, f"argument {k} was modified by a failing call"


def assert_raises_unchanged(exc, func, *args, arrays=(), match=None, **kwargs):
    """`func(*args, **kwargs)` raises `exc` and leaves every array in `arrays` (default: the
    ndarray arguments and keyword arguments) exactly as it was."""
    if not arrays:
        arrays = [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]
    with unchanged(*arrays):
        with pytest.raises(exc, match=match):
            func(*args, **kwargs)


# ---------------------------------------------------------------------------------------
# longdouble references

def _first_argmax_mask(z, axis):
    """True at the first maximal entry of each slice of `z` along `axis` (ignoring NaN)."""
    idx = np.expand_dims(np.argmax(z, axis=axis), axis)
    m = np.zeros(z.shape, dtype=bool)
    np.put_along_axis(m, idx, True, axis=axis)
    return m


def _as_single_axis(x, axis):
    """x (as longdouble) with the reduced axes (int, tuple or None) merged into the last one."""
    x = np.asarray(x)
    if axis is None:
        axis = tuple(range(x.ndim))
    axes = tuple(sorted(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))))
    rest = [d for d in range(x.ndim) if d not in axes]
    moved = np.transpose(x, rest + list(axes))
    kept = tuple(x.shape[d] for d in rest)
    return moved.reshape(kept + (-1,)).astype(LD), rest, axes


def _restore(y, x_shape, rest, axes):
    moved = y.reshape(tuple(x_shape[d] for d in rest) + tuple(x_shape[d] for d in axes))
    return np.transpose(moved, np.argsort(rest + list(axes)))


def ref_shifted(x, axis=-1, temperature=1.0, where=None):
    """(z, lse): z = (x - max)/T along the merged axis and lse = log(sum(exp(z))), both in
    longdouble, lse formed as log1p(sum of non-maximal terms). Ordinary finite inputs only."""
    z, rest, axes = _as_single_axis(x, axis)
    t = LD(temperature)
    if where is not None:
        w, _, _ = _as_single_axis(np.broadcast_to(where, np.shape(x)), axis)
        w = w.astype(bool)
        z = np.where(w, z, LD(-np.inf))
    m = np.max(z, axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, LD(0))
    z = (z - m) / t
    e = np.exp(z)
    first = _first_argmax_mask(z, -1)
    rest_sum = np.sum(np.where(first, LD(0), e), axis=-1, keepdims=True)
    lse = np.log1p(rest_sum)
    return z, lse, m / t, (x, rest, axes)


def ref_softmax(x, axis=-1, temperature=1.0, where=None):
    x = np.asarray(x)
    z, lse, _, (_, rest, axes) = ref_shifted(x, axis, temperature, where)
    e = np.exp(z)
    with np.errstate(invalid="ignore"):  # fully masked slices: 0/0, never compared
        y = e / np.sum(e, axis=-1, keepdims=True)
    return _restore(y, x.shape, rest, axes)


def ref_log_softmax(x, axis=-1, temperature=1.0, where=None):
    x = np.asarray(x)
    z, lse, _, (_, rest, axes) = ref_shifted(x, axis, temperature, where)
    return _restore(z - lse, x.shape, rest, axes)


def ref_logsumexp(x, axis=-1, where=None):
    x = np.asarray(x)
    z, lse, mt, (_, rest, axes) = ref_shifted(x, axis, 1.0, where)
    return (mt + lse)[..., 0].reshape(tuple(x.shape[d] for d in rest))


def ref_sigmoid(x):
    x = np.asarray(x, dtype=LD)
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def ref_log_sigmoid(x):
    x = np.asarray(x, dtype=LD)
    return np.minimum(x, LD(0)) - np.log1p(np.exp(-np.abs(x)))


def ref_normalize(x, axis=-1):
    x = np.asarray(x)
    z, rest, axes = _as_single_axis(x, axis)
    return _restore(z / np.sum(z, axis=-1, keepdims=True), x.shape, rest, axes)


# ---------------------------------------------------------------------------------------
# fixtures

@pytest.fixture
def rng():
    return np.random.default_rng(20240607)


@pytest.fixture
def restore_threads():
    """Restores the library's thread count after a test that changes it."""
    import swiftsoftmax as ssm

    before = ssm.get_num_threads()
    yield
    ssm.set_num_threads(before)


@pytest.fixture(params=FLOATS, ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


def pytest_configure(config):
    # The marks SciPy's own test modules carry (scipy/conftest.py registers them in SciPy's test
    # runs); tests/test_scipy_logsumexp_suite.py collects such tests here.
    for mark in ("array_api_backends: SciPy's tests run on each array backend",
                 "skip_xp_backends(backends, reason=None): SciPy's per-backend skips",
                 "xfail_xp_backends(backends, reason=None): SciPy's per-backend expected failures"):
        config.addinivalue_line("markers", mark)
