"""logcumsumexp: values, special values, layouts, out=, threads, and the peers whose semantics
it follows (PyTorch's ``torch.logcumsumexp``, JAX's ``jax.lax.cumlogsumexp``, NumPy's
``np.logaddexp.accumulate``). The 2-ULP accuracy families are in test_accuracy.py.

PyTorch gives -inf, not NaN, on a leading run of -inf (its logaddexp takes the -inf, -inf case
apart); the tests hold ours to the same, on every path (rows in groups of eight, a long row
cut into segments, columns).
"""

from __future__ import annotations

import numpy as np
import pytest

import swiftsoftmax as ssm
from conftest import unchanged

LD = np.longdouble
INF, NAN = np.inf, np.nan


def ref_ld(x, axis=-1):
    """Running log-sum-exp in longdouble, prefix by prefix (small inputs only)."""
    a = np.moveaxis(np.asarray(x, dtype=LD), axis, -1)
    out = np.empty_like(a)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for k in range(a.shape[-1]):
            p = a[..., : k + 1]
            m = p.max(axis=-1, keepdims=True)
            mf = np.where(np.isfinite(m), m, LD(0))
            s = np.exp(p - mf).sum(axis=-1)
            out[..., k] = np.where(np.isfinite(m[..., 0]), mf[..., 0] + np.log(s), m[..., 0])
    return np.moveaxis(out, -1, axis)


def close_ulp(y, ref, dtype, ulps=2.0):
    ref = np.asarray(ref, dtype=LD)
    fin = np.isfinite(ref)
    assert np.array_equal(np.isnan(y), np.isnan(ref))
    assert np.array_equal(y[~fin & ~np.isnan(ref)], ref[~fin & ~np.isnan(ref)].astype(dtype))
    eps = LD(np.finfo(dtype).eps)
    err = np.abs(y[fin].astype(LD) - ref[fin]) / (np.abs(ref[fin]) * eps + LD(np.finfo(dtype).tiny))
    assert err.max(initial=0) <= ulps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
class TestValues:
    def test_equal_entries(self, dtype):
        y = ssm.logcumsumexp(np.zeros(5, dtype))
        assert y.dtype == dtype
        close_ulp(y, np.log(np.arange(1, 6, dtype=LD)), dtype, 1.0)

    def test_random_rows_and_axes(self, dtype, rng):
        x = rng.normal(0, 3, (5, 9, 11)).astype(dtype)
        for axis in (0, 1, 2, -1):
            close_ulp(ssm.logcumsumexp(x, axis=axis), ref_ld(x, axis), dtype)

    @pytest.mark.parametrize("shape", [(1, 3000), (3, 1000), (17, 300), (8, 257), (9, 255)])
    def test_paths(self, dtype, rng, shape):
        """Groups of eight rows, rows left over (segmented from 256 on, else one lane)."""
        x = rng.normal(0, 2, shape).astype(dtype)
        close_ulp(ssm.logcumsumexp(x), ref_ld(x[:, :300]) if shape[1] <= 300 else
                  ssm.logcumsumexp(x.astype(np.float64)).astype(LD), dtype, 2.0 if shape[1] <= 300 else 4.0)

    def test_huge_offsets(self, dtype, rng):
        for c in (1e4, -1e4):
            x = (c + rng.normal(0, 3, (4, 50))).astype(dtype)
            close_ulp(ssm.logcumsumexp(x), ref_ld(x), dtype)

    def test_near_zero_results(self, dtype):
        # log(e^a + e^b) ~ 0 with a, b < 0: the running maximum is negative and cancels
        a = -1.0
        b = float(np.log1p(-np.exp(LD(a))))
        x = np.array([a, b], dtype=dtype)
        y = ssm.logcumsumexp(x)
        mpmath = pytest.importorskip("mpmath")
        with mpmath.workdps(60):
            exact = mpmath.log(mpmath.exp(float(x[0])) + mpmath.exp(float(x[1])))
            assert abs(float(y[1]) - exact) <= abs(exact) * float(np.finfo(dtype).eps)

    def test_monotone(self, dtype, rng):
        y = ssm.logcumsumexp(rng.normal(0, 5, (6, 400)).astype(dtype))
        assert np.all(np.diff(y, axis=-1) >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [5, 40, 600])
class TestSpecialValues:
    def _check(self, x, want, dtype):
        x = np.asarray(x, dtype)
        # rows (alone, in a group of eight), and columns
        for xs, ax in ((x[None], -1), (np.repeat(x[None], 9, 0), -1), (np.repeat(x[:, None], 9, 1), 0)):
            y = ssm.logcumsumexp(xs, axis=ax)
            yy = np.moveaxis(y, ax, -1)
            for row in yy.reshape(-1, x.size):
                np.testing.assert_array_equal(row[: len(want)], np.asarray(want, dtype))

    def test_neg_inf_prefix_is_neg_inf_never_nan(self, dtype, n):
        x = np.full(n, -INF)
        x[n // 2:] = 0
        want = [-INF] * (n // 2) + [0.0]
        self._check(x, want, dtype)
        self._check(np.full(n, -INF), [-INF] * n, dtype)

    def test_pos_inf_makes_the_rest_inf(self, dtype, n):
        x = np.zeros(n)
        x[2] = INF
        x[4:] = -INF
        self._check(x, [0.0, np.log(2), INF, INF, INF], dtype)

    def test_nan_makes_the_rest_nan(self, dtype, n):
        x = np.zeros(n)
        x[3] = NAN
        x[4] = INF
        y = ssm.logcumsumexp(x.astype(dtype))
        assert y[0] == 0 and not np.isnan(y[:3]).any() and np.isnan(y[3:]).all()


def test_empty_and_float16():
    assert ssm.logcumsumexp(np.zeros((3, 0))).shape == (3, 0)
    y = ssm.logcumsumexp(np.zeros(4, np.float16))
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, np.log(np.arange(1, 5)).astype(np.float32).astype(np.float16))
    assert ssm.logcumsumexp([1, 2, 3]).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_and_in_place(dtype, rng):
    x = rng.normal(-2, 3, (20, 300)).astype(dtype)
    want = ssm.logcumsumexp(x)
    out = np.empty_like(x)
    assert ssm.logcumsumexp(x, out=out) is out
    np.testing.assert_array_equal(out, want)
    for axis in (0, 1):
        want = ssm.logcumsumexp(x, axis=axis)
        z = x.copy()
        ssm.logcumsumexp(z, axis=axis, out=z)  # in place, also where prefixes are repaired
        np.testing.assert_array_equal(z, want)
    # a cancelling prefix repaired in place: all-negative log-probabilities
    lp = rng.normal(0, 2, (3, 1000))
    lp = (lp - np.log(np.exp(lp).sum(1, keepdims=True))).astype(dtype)
    want = ssm.logcumsumexp(lp)
    ssm.logcumsumexp(lp, out=lp)
    np.testing.assert_array_equal(lp, want)


def test_errors_name_the_argument_and_write_nothing():
    x = np.zeros((2, 3))
    out = np.full((2, 3), 7.0)
    with unchanged(x, out), pytest.raises(TypeError, match="axis"):
        ssm.logcumsumexp(x, axis=(0, 1), out=out)
    with unchanged(x, out), pytest.raises(np.exceptions.AxisError if hasattr(np, "exceptions") else np.AxisError):
        ssm.logcumsumexp(x, axis=2, out=out)
    with unchanged(x), pytest.raises(ValueError, match="out"):
        ssm.logcumsumexp(x, out=np.zeros((3, 2)))
    with pytest.raises(TypeError, match="x"):
        ssm.logcumsumexp(np.zeros(3, complex))


def test_threads_bitwise(rng):
    xs = [rng.normal(0, 3, (4096, 64)), rng.normal(0, 3, (2, 100_000)), rng.normal(0, 3, (300, 2, 700))]
    before = ssm.get_num_threads()
    try:
        for x in xs:
            for ax in (0, -1):
                ssm.set_num_threads(1)
                a = ssm.logcumsumexp(x, axis=ax)
                ssm.set_num_threads(2)
                b = ssm.logcumsumexp(x, axis=ax)
                assert a.tobytes() == b.tobytes()
    finally:
        ssm.set_num_threads(before)


# --------------------------------------------------------------------------------------------
# Peers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch(dtype, rng):
    """PyTorch's semantics: values, -inf prefixes (-inf, never NaN), +inf and NaN onwards."""
    torch = pytest.importorskip("torch")
    x = rng.normal(0, 3, (12, 50))
    x[0, :10] = -INF
    x[1, :] = -INF
    x[2, 5] = INF
    x[3, 7] = NAN
    x[4, 3] = INF
    x[4, 9] = NAN
    x[5, 20:] = -INF
    x = x.astype(dtype)
    for axis in (0, 1):
        ours = ssm.logcumsumexp(x, axis=axis)
        theirs = torch.logcumsumexp(torch.from_numpy(x), dim=axis).numpy()
        assert np.array_equal(np.isnan(ours), np.isnan(theirs))
        fin = np.isfinite(theirs)
        assert np.array_equal(ours[~fin & ~np.isnan(ours)], theirs[~fin & ~np.isnan(theirs)])
        np.testing.assert_allclose(ours[fin], theirs[fin], rtol=20 * np.finfo(dtype).eps, atol=0)


def test_matches_jax(rng):
    jax = pytest.importorskip("jax")
    x = rng.normal(0, 3, (6, 40)).astype(np.float32)
    x[0, :5] = -INF
    theirs = np.asarray(jax.lax.cumlogsumexp(x, axis=1))
    ours = ssm.logcumsumexp(x, axis=1)
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs))
    fin = np.isfinite(ours)
    np.testing.assert_allclose(ours[fin], theirs[fin], rtol=1e-5)


def test_matches_numpy_accumulate(rng):
    x = rng.normal(0, 3, (6, 200))
    np.testing.assert_allclose(ssm.logcumsumexp(x), np.logaddexp.accumulate(x, axis=1), rtol=1e-13)
