"""The forward half of the contract: values (in ULPs), axes, dtypes, out=, where=, temperature,
0-d results, build info and threads. Special values live in test_special_values.py, error paths in
test_errors.py, SciPy's own cases in test_scipy_compat.py."""

from __future__ import annotations

import math
import os
import platform
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import swiftsoftmax as ssm
from swiftsoftmax import _arrays
from conftest import (
    FLOATS, MAX_ULP, assert_same, assert_ulp, ref_log_sigmoid, ref_log_softmax, ref_logsumexp,
    ref_normalize, ref_sigmoid, ref_softmax,
)

def assert_same_path_or_close(call_a, call_b, exact_input):
    """softmax and log_softmax called two ways that mean the same: bitwise equal for float64;
    for float32, where one way may take the float-arithmetic path and the other the double one,
    each within 2 ULP of the exact result for `exact_input`."""
    for f, ref in ((ssm.softmax, ref_softmax), (ssm.log_softmax, ref_log_softmax)):
        a, b = call_a(f), call_b(f)
        if a.dtype == np.float32:
            for y in (a, b):
                assert_ulp(y, ref(exact_input), 2)
        else:
            assert_same(a, b)


ROWWISE = {"softmax": ssm.softmax, "log_softmax": ssm.log_softmax, "normalize": ssm.normalize}
ELEMENTWISE = {"sigmoid": ssm.sigmoid, "log_sigmoid": ssm.log_sigmoid}
SAME_SHAPE = {**ROWWISE, **ELEMENTWISE}
REFS = {
    "softmax": ref_softmax, "log_softmax": ref_log_softmax, "normalize": ref_normalize,
    "sigmoid": lambda x, axis=None: ref_sigmoid(x), "log_sigmoid": lambda x, axis=None: ref_log_sigmoid(x),
}


def call(name, x, axis=-1, **kw):
    f = SAME_SHAPE[name]
    return f(x, **kw) if name in ELEMENTWISE else f(x, axis, **kw)


# ---------------------------------------------------------------------------------------
# The article's numbers

class TestArticle:
    def test_softmax_0_2_4(self, dtype):
        x = np.array([0, 2, 4], dtype=dtype)
        y = ssm.softmax(x)
        assert y.dtype == dtype
        np.testing.assert_array_equal(y.round(4), np.array([0.0159, 0.1173, 0.8668], dtype=dtype).round(4))
        assert_ulp(y, ref_softmax(x))
        assert_ulp(y.sum(dtype=np.longdouble), 1.0, 2, dtype=dtype)

    def test_log_softmax_0_2_4(self, dtype):
        x = np.array([0, 2, 4], dtype=dtype)
        y = ssm.log_softmax(x)
        np.testing.assert_array_equal(y.round(4), np.array([-4.1429, -2.1429, -0.1429], dtype=dtype))
        assert_ulp(y, ref_log_softmax(x))

    def test_normalize_0_2_4(self, dtype):
        y = ssm.normalize(np.array([0, 2, 4], dtype=dtype))
        assert_ulp(y, np.array([0, 1, 2], dtype=np.longdouble) / 3, 0.5)
        assert y[0] == 0

    def test_normalize_shifted_example(self, dtype):
        # The article shifts only s2 and s3: [0, 2, 4] -> [0, 102, 104].
        y = ssm.normalize(np.array([0, 102, 104], dtype=dtype))
        assert_ulp(y, np.array([0, 102, 104], dtype=np.longdouble) / 206, 0.5)
        np.testing.assert_array_equal(y.round(4), np.array([0, 0.4951, 0.5049], dtype=dtype))
        # Sum-normalisation is not offset invariant; softmax is.
        assert abs(float(y[2]) - 2 / 3) > 0.1

    @pytest.mark.parametrize("s", [-700.0, -40.0, -5.0, -1.0, -1e-8, 0.0, 1e-8, 0.5, 3.0, 20.0, 40.0, 700.0])
    def test_two_class_softmax_is_sigmoid(self, dtype, s):
        x = np.array([s, 0], dtype=dtype)
        p = ssm.softmax(x)[0]
        sig = ssm.sigmoid(x[:1])[0]
        assert_ulp(p, ref_sigmoid(x[:1])[0], dtype=dtype)
        assert_ulp(sig, ref_sigmoid(x[:1])[0], dtype=dtype)
        assert_ulp(ssm.log_softmax(x)[0], ref_log_sigmoid(x[:1])[0], dtype=dtype)
        assert_ulp(ssm.log_sigmoid(x[:1])[0], ref_log_sigmoid(x[:1])[0], dtype=dtype)

    @pytest.mark.parametrize("c", [100.0, -100.0, 1000.0, -1e4, 2.0**20])
    def test_offset_invariance(self, dtype, c):
        x = np.array([0, 2, 4, -3, 1], dtype=dtype)
        shifted = x + dtype.type(c)  # exact: small integers plus a representable offset
        assert np.all(shifted - dtype.type(c) == x)
        assert_ulp(ssm.softmax(shifted), ref_softmax(x), 2 if dtype == np.float32 else 4)
        assert_ulp(ssm.log_softmax(shifted), ref_log_softmax(x))
        assert_ulp(ssm.logsumexp(shifted), ref_logsumexp(x) + np.longdouble(c))

    def test_argmax_preserved_and_sums_to_one(self, dtype, rng):
        x = rng.standard_normal((50, 9)).astype(dtype) * 5
        y = ssm.softmax(x)
        np.testing.assert_array_equal(np.argmax(y, -1), np.argmax(x, -1))
        assert np.all(np.abs(y.sum(-1, dtype=np.float64) - 1) <= 9 * np.finfo(dtype).eps)


# ---------------------------------------------------------------------------------------
# Accuracy on ordinary inputs

class TestAccuracy:
    @pytest.mark.parametrize("name", list(SAME_SHAPE))
    @pytest.mark.parametrize("n", [1, 2, 7, 16, 33, 257])
    def test_ulps(self, dtype, rng, name, n):
        x = (rng.standard_normal((13, n)) * 6).astype(dtype)
        if name == "normalize":
            x = np.abs(x) + dtype.type(0.01)
        assert_ulp(call(name, x), REFS[name](x), what=name)

    @pytest.mark.parametrize("n", [1, 2, 7, 33, 257])
    def test_logsumexp_ulps(self, dtype, rng, n):
        x = (rng.standard_normal((13, n)) * 6).astype(dtype)
        assert_ulp(ssm.logsumexp(x), ref_logsumexp(x))

    def test_log_softmax_near_zero_keeps_relative_precision(self, dtype):
        # log p of the dominant class is -exp(-40)·(1 + ...), not 0 (never log(softmax)).
        x = np.array([0, 40], dtype=dtype)
        y = ssm.log_softmax(x)
        assert y[1] < 0
        assert_ulp(y, ref_log_softmax(x))

    @pytest.mark.parametrize("x", [[-1.5] * 5, [-math.log(2)] * 2],
                             ids=["5x-1.5", "2x-log2"])
    def test_logsumexp_cancellation_float64(self, x):
        # The result is ~1e-17 for [-log 2]*2: long double (64-bit mantissa) cannot resolve it.
        mpmath = pytest.importorskip("mpmath")
        mpmath.mp.prec = 200
        x = np.array(x)
        exact = mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(float(v))) for v in x))
        got = ssm.logsumexp(x)
        assert abs(mpmath.mpf(float(got)) - exact) <= 2 * np.spacing(abs(float(exact)))

    def test_logsumexp_cancellation_float32(self):
        # float32 input is computed in double: no cancellation problem.
        x = np.array([-1.5] * 5, dtype=np.float32)
        assert_ulp(ssm.logsumexp(x), ref_logsumexp(x))

    @pytest.mark.parametrize("n", [3, 33, 1100])
    def test_logsumexp_columns(self, dtype, rng, n):
        if dtype != np.float32:
            pytest.skip("float64 results near 0 need mpmath (test_logsumexp_cancellation_float64)")
        # A non-last axis of 48 columns: float32 blocks of 16 columns are swept row by row in
        # Float lanes, where only results of magnitude >= 1/4 are kept; columns whose result
        # cancels toward 0 (max < 0 offset by log(sum)) or sits near it go to the Double walk.
        x = (rng.standard_normal((n, 48)) * 6).astype(dtype)
        x[:, 16:24] = dtype.type(-math.log(n)) + (rng.standard_normal((n, 8)) * 1e-3).astype(dtype)
        x[:, 24:26] = dtype.type(-1.5)
        x[:, 26] = dtype.type(0)
        x[0, 27] = dtype.type(1e-3)
        x[1:, 27] = dtype.type(-80)
        got = ssm.logsumexp(x, axis=0)
        assert_ulp(got, ref_logsumexp(np.ascontiguousarray(x.T)))
        assert_ulp(ssm.logsumexp(x.reshape(1, n, 48), axis=1)[0], ref_logsumexp(np.ascontiguousarray(x.T)))

    def test_logsumexp_near_zero(self, dtype):
        x = np.array([0, -30, -60], dtype=dtype)
        r = ssm.logsumexp(x)
        assert r > 0
        assert_ulp(r, ref_logsumexp(x))

    def test_sigmoid_tails(self, dtype):
        x = np.array([-745, -100, -20, -1e-30, 0, 1e-30, 20, 36, 100, 745], dtype=dtype)
        assert_ulp(ssm.sigmoid(x), ref_sigmoid(x))
        assert_ulp(ssm.log_sigmoid(x), ref_log_sigmoid(x))
        assert ssm.log_sigmoid(x)[-3] < 0  # -exp(-100), not 0

    def test_wide_range_rows(self, dtype, rng):
        # Scores spread over hundreds: most probabilities are tiny but normal.
        lim = 80 if dtype == np.float32 else 600
        x = rng.uniform(-lim, lim, size=(4, 64)).astype(dtype)
        assert_ulp(ssm.softmax(x), ref_softmax(x))
        assert_ulp(ssm.log_softmax(x), ref_log_softmax(x))
        assert_ulp(ssm.logsumexp(x), ref_logsumexp(x))

    def test_subnormal_probabilities(self, dtype):
        # exp(-x) lands in the subnormal range: measured in absolute subnormal steps.
        big = 100.0 if dtype == np.float32 else 740.0
        x = np.array([0, big], dtype=dtype)
        assert_ulp(ssm.softmax(x), ref_softmax(x))
        assert_ulp(ssm.log_softmax(x), ref_log_softmax(x))


# ---------------------------------------------------------------------------------------
# Axis forms (compared with the longdouble reference and with scipy.special)

AXES = [0, 1, 2, -1, -2, -3, (0, 1), (1, 2), (0, 2), (2, 0), (0, 1, 2), None]


def scipy_ref(name, x, axis):
    xd = x.astype(np.float64)
    return {"softmax": sp.softmax, "log_softmax": sp.log_softmax,
            "logsumexp": sp.logsumexp}[name](xd, axis=axis)


class TestAxes:
    @pytest.mark.parametrize("axis", AXES, ids=str)
    @pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
    def test_every_axis_form_3d(self, dtype, rng, name, axis):
        x = (rng.standard_normal((4, 5, 6)) * 4).astype(dtype)
        f = {"softmax": ssm.softmax, "log_softmax": ssm.log_softmax, "logsumexp": ssm.logsumexp}[name]
        ref = {"softmax": ref_softmax, "log_softmax": ref_log_softmax, "logsumexp": ref_logsumexp}[name]
        y = f(x, axis=axis)
        expect = scipy_ref(name, x, axis)
        assert np.shape(y) == np.shape(expect)
        assert np.asarray(y).dtype == dtype
        assert_ulp(y, ref(x, axis))
        # SciPy itself is off by up to ~40 float64 ULPs (exp(x - max) / sum); the tight check is
        # the longdouble one above, this one confirms the same semantics as SciPy.
        rtol = 64 * np.finfo(np.float64).eps if dtype == np.float64 else 4 * np.finfo(np.float32).eps
        # SciPy's log_softmax loses relative precision near 0 (it subtracts a rounded log-sum):
        # compare log-space results absolutely there.
        atol = rtol if name == "log_softmax" else 0
        np.testing.assert_allclose(y, expect, rtol=rtol, atol=atol)

    @pytest.mark.parametrize("axis", [0, 1, -1, (0, 1), None])
    def test_normalize_axes(self, dtype, rng, axis):
        x = rng.uniform(0.5, 2.0, size=(5, 7)).astype(dtype)
        y = ssm.normalize(x, axis=axis)
        assert_ulp(y, ref_normalize(x, axis), 2)
        np.testing.assert_allclose(y, x / x.sum(axis=axis, keepdims=True), rtol=4 * np.finfo(dtype).eps)

    @pytest.mark.parametrize("axis", [0, 1, 2])
    def test_single_non_last_axis_needs_no_transpose(self, axis):
        lay = _arrays.Layout((4, 5, 6), _arrays.normalize_axes(axis, 3))
        assert lay.perm is None
        assert lay.dims == (math.prod((4, 5, 6)[:axis]), (4, 5, 6)[axis], math.prod((4, 5, 6)[axis + 1:]))
        x = np.ones((4, 5, 6))
        assert lay.arrange(x, np.dtype(np.float64)) is x or np.shares_memory(lay.arrange(x, np.dtype(np.float64)), x)

    @pytest.mark.parametrize("axis", [0, 1, (0, 2), None])
    @pytest.mark.parametrize("keepdims", [False, True])
    def test_logsumexp_keepdims(self, rng, axis, keepdims):
        x = rng.standard_normal((3, 4, 5))
        y = ssm.logsumexp(x, axis=axis, keepdims=keepdims)
        expect = sp.logsumexp(x, axis=axis, keepdims=keepdims)
        assert np.shape(y) == np.shape(expect)
        np.testing.assert_allclose(y, expect, rtol=1e-14)

    def test_axis_as_list(self, rng):
        x = rng.standard_normal((3, 4, 5))
        np.testing.assert_array_equal(ssm.softmax(x, axis=[0, 2]), ssm.softmax(x, axis=(0, 2)))

    def test_non_contiguous_and_fortran_inputs(self, dtype, rng):
        base = (rng.standard_normal((6, 10, 8)) * 3).astype(dtype)
        for x in (base[:, ::2, 1:], np.asfortranarray(base), base.transpose(2, 0, 1)):
            for axis in (0, 1, -1):
                assert_ulp(ssm.softmax(x, axis=axis), ref_softmax(x, axis))
                assert_ulp(ssm.logsumexp(x, axis=axis), ref_logsumexp(x, axis))

    def test_1d_axis_none_and_0(self, rng):
        x = rng.standard_normal(11)
        assert_same(ssm.softmax(x, axis=None), ssm.softmax(x, axis=0))
        assert_same(ssm.softmax(x, axis=0), ssm.softmax(x))


# ---------------------------------------------------------------------------------------
# dtypes

class TestDtypes:
    @pytest.mark.parametrize("name", list(SAME_SHAPE))
    def test_float_dtypes_preserved(self, dtype, name):
        x = np.array([[0.5, 1.0, 2.0]], dtype=dtype)
        assert call(name, x).dtype == dtype
        assert np.asarray(ssm.logsumexp(x)).dtype == dtype

    @pytest.mark.parametrize("name", list(SAME_SHAPE) + ["logsumexp"])
    def test_float16_computed_in_float32(self, name, rng):
        x = (rng.standard_normal((3, 10)) * 3).astype(np.float16)
        if name == "normalize":
            x = np.abs(x) + np.float16(0.1)
        f = ssm.logsumexp if name == "logsumexp" else (lambda a: call(name, a))
        y = f(x)
        assert np.asarray(y).dtype == np.float16
        assert_same(np.asarray(y), np.asarray(f(x.astype(np.float32))).astype(np.float16))

    @pytest.mark.parametrize("src", [np.int8, np.int32, np.int64, np.uint8, np.uint64, bool])
    @pytest.mark.parametrize("name", list(SAME_SHAPE) + ["logsumexp"])
    def test_ints_and_bools_become_float64(self, src, name):
        x = np.array([[0, 1, 1], [1, 0, 1]], dtype=src)
        f = ssm.logsumexp if name == "logsumexp" else (lambda a: call(name, a))
        y = f(x)
        assert np.asarray(y).dtype == np.float64
        assert_same(np.asarray(y), np.asarray(f(x.astype(np.float64))))

    @pytest.mark.parametrize("bad", [
        np.array([1 + 2j, 3j]), np.array([1.0, 2.0], dtype=object), np.array(["a", "b"]),
        ["a", "b"], [1 + 1j], np.array([b"x"]), np.array([1, 2], dtype="datetime64[s]"),
    ], ids=["complex", "object", "str", "strlist", "complexlist", "bytes", "datetime"])
    @pytest.mark.parametrize("name", list(SAME_SHAPE) + ["logsumexp"])
    def test_bad_dtypes_raise_type_error(self, bad, name):
        f = ssm.logsumexp if name == "logsumexp" else (lambda a: call(name, a))
        if np.asarray(bad).dtype.kind == "c" and name in ("softmax", "log_softmax", "logsumexp"):
            pytest.skip("complex input is valid here (tests/test_complex.py)")
        with pytest.raises(TypeError):
            f(bad)

    def test_none_raises_type_error(self):
        with pytest.raises(TypeError):
            ssm.softmax(None)

    def test_lists_and_tuples(self):
        assert_same(ssm.softmax([[0, 2, 4]]), ssm.softmax(np.array([[0.0, 2.0, 4.0]])))
        assert_same(ssm.log_softmax((0.0, 2.0)), ssm.log_softmax(np.array([0.0, 2.0])))
        assert ssm.logsumexp([1000, 1000]) == 1000 + math.log(2)
        assert_same(ssm.sigmoid([0.0, 1.0]), ssm.sigmoid(np.array([0.0, 1.0])))

    def test_non_native_byte_order(self):
        x = np.array([0, 2, 4], dtype=">f8")
        assert_same(ssm.softmax(x), ssm.softmax(x.astype(np.float64)))
        x = np.array([0, 2, 4], dtype=">f4")
        assert_same(ssm.softmax(x), ssm.softmax(x.astype(np.float32)))


    @pytest.mark.parametrize("name", ["softmax", "log_softmax"])
    @pytest.mark.parametrize("shape", [(1,), (8,), (3, 5), (2, 3, 17), (4096,), (4097,), (0,), (2, 0)])
    def test_every_call_path_agrees(self, dtype, rng, name, shape):
        # Defaults take the three-argument in-place entry point (small arrays), a spelled-out
        # axis or temperature the general fast path, a 0-d view or an `out` the general one.
        x = rng.normal(0, 4, size=shape).astype(dtype)
        keep = x.copy()
        f = getattr(ssm, name)
        fresh = f(x)
        assert fresh.dtype == x.dtype and fresh.shape == x.shape
        assert not np.shares_memory(fresh, x)
        assert_same(x, keep)
        assert_same(fresh, f(x, axis=np.int64(-1)))
        assert_same(fresh, f(x, axis=x.ndim - 1, temperature=float("1")))
        assert_same(fresh, f(x[::1].T.T, out=np.empty_like(x)))
        if x.size:
            ref = f(x.astype(np.float64).reshape(-1, x.shape[-1])).reshape(shape)
            np.testing.assert_allclose(fresh, ref.astype(dtype), rtol=4 * np.finfo(dtype).eps, atol=0)

    @pytest.mark.parametrize("shape", [(1,), (8,), (3, 5), (2, 3, 17), (4096,), (4097,), (0,), (2, 0), ()])
    def test_logsumexp_call_paths_agree(self, dtype, rng, shape):
        # Defaults on a small C-contiguous array take the fast handle; a spelled-out axis tuple,
        # a read-only or a strided array the general path. Both return NumPy scalars for 1-D x.
        x = rng.normal(0, 4, size=shape).astype(dtype)
        keep = x.copy()
        fast = ssm.logsumexp(x)
        assert_same(x, keep)
        general = ssm.logsumexp(x, axis=(-1,)) if x.ndim else ssm.logsumexp(x, axis=None)
        assert type(fast) is type(general) and np.asarray(fast).dtype == dtype
        assert_same(np.asarray(fast), np.asarray(general))
        ro = x.copy()
        ro.flags.writeable = False
        assert_same(np.asarray(ssm.logsumexp(ro)), np.asarray(fast))
        if x.ndim == 2 and x.shape[1]:
            wide = np.repeat(x, 2, axis=1)[:, ::2]  # strided, the same values
            assert_same(ssm.logsumexp(wide), fast)

    @pytest.mark.parametrize("shape", [(1,), (8,), (3, 5), (2, 3, 17), (4096,), (4097,), (0,), (2, 0)])
    def test_normalize_call_paths_agree(self, dtype, rng, shape):
        # Defaults on a small native array take the fast handle (on a copy of x, so any layout);
        # a spelled-out axis tuple, out= and a large array the general path.
        x = rng.uniform(0.1, 3, size=shape).astype(dtype)
        keep = x.copy()
        fast = ssm.normalize(x)
        assert_same(x, keep)
        assert_same(fast, ssm.normalize(x, axis=(-1,)))
        assert_same(ssm.normalize(x, out=np.empty_like(x)), fast)
        ro = x.copy()
        ro.flags.writeable = False
        assert_same(ssm.normalize(ro), fast)
        if x.ndim == 2 and x.shape[1]:
            wide = np.repeat(x, 2, axis=1)[:, ::2]  # strided, the same values
            assert_same(ssm.normalize(wide), fast)

    @pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid"])
    @pytest.mark.parametrize("shape", [(1,), (8,), (3, 5), (4096,), (4097,), (64, 1000), (0,), (2, 0)])
    def test_elementwise_call_paths_agree(self, dtype, rng, name, shape):
        # Defaults on a small native array take the fast handle on a copy of x; a larger writable
        # C-contiguous one goes straight into a new array; read-only, strided, Fortran-ordered
        # and non-native arrays and out= the general path. All give the same bits, x untouched.
        x = rng.normal(0, 8, size=shape).astype(dtype)
        keep = x.copy()
        f = ELEMENTWISE[name]
        fresh = f(x)
        assert type(fresh) is np.ndarray and fresh.dtype == x.dtype and fresh.shape == x.shape
        assert fresh.flags.c_contiguous and not np.shares_memory(fresh, x)
        assert_same(x, keep)
        assert_same(f(x, out=np.empty_like(x)), fresh)
        ro = x.copy()
        ro.flags.writeable = False
        assert_same(f(ro), fresh)
        assert_same(f(np.asfortranarray(x)), fresh)
        assert_same(f(x.astype(x.dtype.newbyteorder(">"))), fresh)
        if x.ndim == 2 and x.shape[1]:
            wide = np.repeat(x, 2, axis=1)[:, ::2]  # strided, the same values
            assert_same(f(wide), fresh)
        if x.size:
            assert_ulp(fresh, REFS[name](x), dtype=dtype)

    def test_small_path_reports_errors_through_the_general_rules(self):
        x = np.ones((2, 3), dtype=np.float32)
        with pytest.raises(TypeError):
            ssm.softmax(x.astype(object))
        assert_same(ssm.softmax(x[:, ::2]), np.full((2, 2), 0.5, dtype=np.float32))
        ro = x.copy()
        ro.flags.writeable = False
        assert_same(ssm.log_softmax(ro), np.full((2, 3), np.float32(-np.log(3.0)), dtype=np.float32))


# ---------------------------------------------------------------------------------------
# out=

class TestOut:
    @pytest.mark.parametrize("name", list(SAME_SHAPE))
    def test_fresh_out(self, dtype, rng, name):
        x = rng.uniform(0.1, 3, size=(4, 9)).astype(dtype)
        out = np.full_like(x, 7)
        r = call(name, x, out=out)
        assert r is out
        assert_same(out, call(name, x))

    @pytest.mark.parametrize("name", list(SAME_SHAPE))
    def test_in_place(self, dtype, rng, name):
        x = rng.uniform(0.1, 3, size=(4, 9)).astype(dtype)
        expect = call(name, x)
        r = call(name, x, out=x)
        assert r is x
        assert_same(x, expect)

    @pytest.mark.parametrize("axis", [0, 1, (0, 2), None])
    def test_in_place_other_axes(self, rng, axis):
        x = rng.standard_normal((3, 4, 5))
        expect = ssm.log_softmax(x, axis=axis)
        assert ssm.log_softmax(x, axis=axis, out=x) is x
        assert_same(x, expect)

    def test_in_place_with_mask_and_temperature(self, rng):
        x = rng.standard_normal((3, 6))
        w = rng.random((3, 6)) > 0.3
        expect = ssm.softmax(x, where=w, temperature=0.5)
        ssm.softmax(x, where=w, temperature=0.5, out=x)
        assert_same(x, expect)

    def test_out_non_contiguous(self, rng):
        x = rng.standard_normal((4, 6))
        big = np.zeros((4, 12))
        out = big[:, ::2]
        assert ssm.softmax(x, out=out) is out
        assert_same(out, ssm.softmax(x))
        assert np.all(big[:, 1::2] == 0)

    def test_in_place_non_contiguous(self, rng):
        big = rng.standard_normal((4, 12))
        x = big[:, ::2]
        expect = ssm.softmax(x)
        ssm.softmax(x, out=x)
        assert_same(big[:, ::2], expect)

    def test_out_float16(self, rng):
        x = rng.standard_normal((2, 5)).astype(np.float16)
        out = np.empty_like(x)
        ssm.softmax(x, out=out)
        assert_same(out, ssm.softmax(x))
        ssm.softmax(x, out=x)
        assert_same(x, out)

    def test_int_input_float64_out(self):
        x = np.array([0, 2, 4])
        out = np.empty(3)
        ssm.softmax(x, out=out)
        assert_same(out, ssm.softmax(x.astype(float)))


# ---------------------------------------------------------------------------------------
# where=

class TestWhere:
    def test_masked_entries_get_zero_and_minus_inf(self, dtype):
        x = np.array([0, 2, 4, 9], dtype=dtype)
        w = np.array([True, True, True, False])
        y = ssm.softmax(x, where=w)
        assert y[3] == 0
        assert_ulp(y[:3], ref_softmax(x[:3]))
        ly = ssm.log_softmax(x, where=w)
        assert ly[3] == -np.inf
        assert_ulp(ly[:3], ref_log_softmax(x[:3]))
        assert_ulp(ssm.logsumexp(x, where=w), ref_logsumexp(x[:3]))

    @pytest.mark.parametrize("wshape", [(7,), (1, 7), (5, 1), (5, 7)])
    def test_broadcasting(self, dtype, rng, wshape):
        x = (rng.standard_normal((5, 7)) * 3).astype(dtype)
        w = rng.random(wshape) > 0.4
        w.flat[0] = True
        wb = np.broadcast_to(w, x.shape)
        for axis in (0, -1):
            y = ssm.softmax(x, axis=axis, where=w)
            ly = ssm.log_softmax(x, axis=axis, where=w)
            lse = ssm.logsumexp(x, axis=axis, where=w)
            assert np.all(y[~wb] == 0) and np.all(ly[~wb] == -np.inf)
            live = wb.any(axis=axis)
            ref = ref_softmax(x, axis, where=wb)
            refl = ref_log_softmax(x, axis, where=wb)
            keep = np.broadcast_to(np.expand_dims(live, axis), x.shape) & wb
            assert_ulp(y[keep], ref[keep])
            assert_ulp(ly[keep], refl[keep])
            assert_ulp(lse[live], ref_logsumexp(x, axis, where=wb)[live])
            # fully masked slices
            dead = np.broadcast_to(np.expand_dims(~live, axis), x.shape)
            assert np.all(y[dead] == 0) and np.all(ly[dead] == -np.inf)
            assert np.all(lse[~live] == -np.inf)

    def test_all_true_mask_equals_unmasked(self, dtype, rng):
        x = rng.standard_normal((3, 11)).astype(dtype)
        w = np.ones(x.shape, bool)
        assert_same(ssm.logsumexp(x, where=w), ssm.logsumexp(x))
        # Unmasked float32 rows run in float arithmetic, masked ones in double.
        assert_same_path_or_close(lambda f: f(x, where=w), lambda f: f(x), x)

    def test_mask_on_non_last_axes(self, rng):
        x = rng.standard_normal((3, 4, 5))
        w = rng.random((3, 4, 5)) > 0.3
        for axis in (0, 1, (0, 2), None):
            y = ssm.softmax(x, axis=axis, where=w)
            ref = ref_softmax(x, axis, where=w)
            assert_ulp(y[w], ref[w])
            assert np.all(y[~w] == 0)
            lse = ssm.logsumexp(x, axis=axis, where=w)
            expect = sp.logsumexp(x, axis=axis, b=w.astype(float))
            np.testing.assert_allclose(lse, expect, rtol=1e-14)

    def test_masked_nan_is_ignored(self):
        x = np.array([np.nan, 0.0, 0.0])
        w = np.array([False, True, True])
        np.testing.assert_array_equal(ssm.softmax(x, where=w), [0, 0.5, 0.5])
        assert ssm.logsumexp(x, where=w) == math.log(2)

    def test_scalar_mask(self):
        x = np.array([1.0, 2.0])
        assert_same(ssm.softmax(x, where=True), ssm.softmax(x))
        np.testing.assert_array_equal(ssm.softmax(x, where=False), [0, 0])
        assert ssm.logsumexp(x, where=False) == -np.inf


# ---------------------------------------------------------------------------------------
# temperature

class TestTemperature:
    @pytest.mark.parametrize("t", [0.05, 0.3, 1.0, 2.5, 100.0])
    def test_equals_softmax_of_scaled_scores(self, dtype, rng, t):
        x = (rng.standard_normal((6, 10)) * 3).astype(dtype)
        tt = dtype.type(t)  # the temperature the library receives
        assert_ulp(ssm.softmax(x, temperature=t), ref_softmax(x, temperature=tt))
        assert_ulp(ssm.log_softmax(x, temperature=t), ref_log_softmax(x, temperature=tt))

    def test_matches_division_when_exact(self, dtype):
        x = np.array([0, 2, 4, 6], dtype=dtype)
        for t in (0.5, 2.0, 4.0):  # powers of two: x/T is exact
            scaled = x / dtype.type(t)
            # Temperature 1 runs in float arithmetic for float32, other temperatures in double.
            assert_same_path_or_close(lambda f: f(x, temperature=t), lambda f: f(scaled), scaled)

    def test_sharpening_towards_argmax(self):
        x = np.array([0.0, 2.0, 4.0])
        peaks = [ssm.softmax(x, temperature=t)[2] for t in (10, 2, 1, 0.5, 0.1, 0.01)]
        assert all(a < b for a, b in zip(peaks, peaks[1:]))
        np.testing.assert_array_equal(ssm.softmax(x, temperature=1e-3), [0, 0, 1])
        np.testing.assert_allclose(ssm.softmax(x, temperature=1e6), [1 / 3] * 3, rtol=1e-5)
        assert np.all(np.argmax(ssm.softmax(x, temperature=0.2)) == 2)

    def test_temperature_with_axis_and_mask(self, rng):
        x = rng.standard_normal((3, 4, 5))
        w = rng.random(x.shape) > 0.2
        y = ssm.softmax(x, axis=1, temperature=0.7, where=w)
        ref = ref_softmax(x, 1, temperature=0.7, where=w)
        assert_ulp(y[w], ref[w])


# ---------------------------------------------------------------------------------------
# 0-d results are NumPy scalars

class TestScalars:
    def test_logsumexp_axis_none(self, dtype):
        r = ssm.logsumexp(np.ones((2, 3), dtype=dtype), axis=None)
        assert isinstance(r, np.generic) and not isinstance(r, np.ndarray)
        assert type(r) is dtype.type
        assert type(sp.logsumexp(np.ones((2, 3), dtype=dtype), axis=None)) is type(r)

    def test_logsumexp_of_1d(self):
        r = ssm.logsumexp([1.0, 2.0])
        assert type(r) is np.float64
        assert type(ssm.logsumexp(np.float16([1, 2]))) is np.float16

    def test_softmax_of_scalar(self, dtype):
        for f, v in ((ssm.softmax, 1.0), (ssm.log_softmax, 0.0), (ssm.logsumexp, 3.0)):
            r = f(dtype.type(3), axis=None)
            assert type(r) is dtype.type
            assert r == v

    def test_elementwise_scalar(self):
        assert type(ssm.sigmoid(0.0)) is np.float64 and ssm.sigmoid(0.0) == 0.5
        assert type(ssm.log_sigmoid(np.float32(0))) is np.float32

    def test_keepdims_stays_array(self):
        r = ssm.logsumexp(np.ones(3), keepdims=True)
        assert isinstance(r, np.ndarray) and r.shape == (1,)


# ---------------------------------------------------------------------------------------
# build info and threads

def _header_version() -> str:
    """MAJOR.MINOR.PATCH as include/swiftsoftmax.h writes it: the one place the version lives."""
    header = Path(__file__).resolve().parents[2] / "include" / "swiftsoftmax.h"
    numbers = dict(re.findall(r"^#define SSM_VERSION_(MAJOR|MINOR|PATCH) (\d+)$", header.read_text(), re.M))
    return f"{numbers['MAJOR']}.{numbers['MINOR']}.{numbers['PATCH']}"


class TestLibrary:
    def test_build_info(self):
        info = ssm.build_info()
        assert set(info) == {"version", "library", "isa", "threads"}
        assert info["version"] == ssm.__version__ == _header_version()
        assert os.path.isfile(info["library"])
        assert isinstance(info["isa"], str) and info["isa"]
        assert info["threads"] == ssm.get_num_threads() >= 1

    def test_all_exported(self):
        for name in ssm.__all__:
            assert hasattr(ssm, name), name

    def test_thread_count_roundtrip(self, restore_threads):
        for n in (1, 2, 3, 1024):
            ssm.set_num_threads(n)
            assert ssm.get_num_threads() == n
            assert ssm.build_info()["threads"] == n

    def test_data_pointer_is_the_arrays_address(self):
        # The small calls' fast paths read an array's data address from the array object itself
        # (`_arrays.data_pointer`): on CPython it must be read there, and be the address NumPy
        # reports, for fresh, offset, strided, transposed, read-only, empty and subclassed arrays.
        if platform.python_implementation() == "CPython":
            assert _arrays._DATA_FIELD == object.__basicsize__
        base = np.arange(24.0)
        ro = base.copy()
        ro.flags.writeable = False
        arrays = [base, base[5:], base[1::3], base.reshape(4, 6).T, ro, np.empty(0, np.float32),
                  np.zeros((3, 4), np.float32), np.ma.masked_array(base).data, np.asarray(base).view(np.recarray)]
        for a in arrays:
            pointer = _arrays.data_pointer(a)
            address = pointer if isinstance(pointer, int) else pointer.value
            assert address == a.ctypes.data
            assert _arrays.ptr(a) == a.ctypes.data
        assert _arrays.ptr(None) is None

    @pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "normalize", "sigmoid", "log_sigmoid"])
    @pytest.mark.parametrize("shape,axis", [((300, 1000), -1), ((40, 700, 30), 1)])
    def test_results_independent_of_thread_count(self, restore_threads, rng, name, shape, axis):
        x = rng.standard_normal(shape) * 5
        if name == "normalize":
            x = np.abs(x)
        f = {"logsumexp": ssm.logsumexp, **{k: v for k, v in SAME_SHAPE.items()}}[name]
        run = (lambda: f(x)) if name in ELEMENTWISE else (lambda: f(x, axis=axis))
        ssm.set_num_threads(1)
        one = run()
        ssm.set_num_threads(2)
        two = run()
        assert_same(two, one)

    @pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
    @pytest.mark.parametrize("case", ["normal", "confident", "wide", "nan"])
    @pytest.mark.parametrize("n", [65536, 100000, 262144])
    def test_long_row_independent_of_thread_count(self, restore_threads, rng, name, case, n):
        # One float32 row is split between threads by segments (or chunks) and taken whole by
        # one thread: the same bits either way, in place too (docs/design.md, "Walks"). A
        # confident row's log result, whose other terms sum below 2^-90, is summed again in
        # Double lanes either way.
        x = (rng.standard_normal((1, n)) * {"normal": 3, "confident": 30, "wide": 20, "nan": 3}[case]).astype(np.float32)
        if case == "confident":
            x[0, n // 3] = 200
        elif case == "wide":
            x[0, 7] = 80
        elif case == "nan":
            x[0, n - 3] = np.nan
        f = {"softmax": ssm.softmax, "log_softmax": ssm.log_softmax, "logsumexp": ssm.logsumexp}[name]
        results = []
        for threads in (1, 2, 3):
            ssm.set_num_threads(threads)
            results.append(f(x))
            if name != "logsumexp":
                z = x.copy()
                f(z, out=z)
                results.append(z)
        for r in results[1:]:
            assert_same(r, results[0])

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("case", ["near_zero", "top_zero", "negative"])
    @pytest.mark.parametrize("masked", [False, True])
    def test_long_row_logsumexp_independent_of_thread_count(self, restore_threads, rng, dtype, case, masked):
        # logsumexp of one long row whose max + log(sum) cancels (a negative maximum) or whose
        # result is small: split between threads as on one thread, and float32 within 2 ulp of
        # a longdouble reference (its results near 0 had been about 100 ulp off there).
        n = 100_000
        w = rng.uniform(size=(1, n)) < 0.8 if masked else None
        x = rng.standard_normal((1, n))
        if case == "near_zero":
            x = x * 0.003 - np.log(n * (0.8 if masked else 1.0))
        elif case == "top_zero":
            x = x * 0 - 20
            x[0, 5] = 0
            if masked:
                w[0, 5] = True
        else:
            x = x * 3 - 30
        x = x.astype(dtype)
        results = []
        for threads in (1, 2, 3):
            ssm.set_num_threads(threads)
            results.append(ssm.logsumexp(x, where=w) if masked else ssm.logsumexp(x))
        for r in results[1:]:
            assert_same(r, results[0])
        if dtype == np.float32:
            # (A longdouble sum resolves a cancelled float64 result too coarsely to judge it.)
            xl = x.astype(np.longdouble)
            m = xl.max()
            ref = m + np.log(np.sum(np.exp(xl - m) * (w if masked else 1)))
            assert abs(float(results[0][0]) - float(ref)) <= 2 * float(np.spacing(np.abs(results[0][0])))


# ---------------------------------------------------------------------------------------
# properties (hypothesis)

finite64 = st.floats(-300, 300, allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6), elements=finite64),
       st.integers(-3, 2))
def test_property_softmax_sums_to_one(x, axis):
    axis = axis % x.ndim
    y = ssm.softmax(x, axis=axis)
    assert np.all((y >= 0) & (y <= 1))
    n = x.shape[axis]
    if n:
        np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=0, atol=(n + 2) * np.finfo(np.float64).eps)
        assert_ulp(y, ref_softmax(x, axis), 4)
        assert_ulp(ssm.log_softmax(x, axis=axis), ref_log_softmax(x, axis), 4)
        # logsumexp: absolute error within 4 ULP of max|x| (see the xfail test below for the
        # relative error when max + log(sum) cancels).
        lse = ssm.logsumexp(x, axis=axis)
        scale = np.maximum(np.abs(x).max(axis=axis), 1.0)
        ref = ref_logsumexp(x, axis)
        assert np.all(np.abs(lse - ref) <= 4 * np.spacing(scale))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 40), elements=st.integers(-200, 200).map(np.float32)),
       st.integers(-10_000, 10_000))
def test_property_offset_invariance(x, c):
    # Integer scores plus an integer offset are exact in float32, so softmax must not move.
    shifted = x + np.float32(c)
    assert np.all(shifted - np.float32(c) == x)
    assert_ulp(ssm.softmax(shifted), ref_softmax(x), 2)
    assert_ulp(ssm.log_softmax(shifted), ref_log_softmax(x), 2)
    # The reference of the shifted scores themselves: adding c to ref_logsumexp(x) afterwards
    # would cancel (x = [0, 29], c = -29 leaves 2.5e-13 with long double's absolute error).
    assert_ulp(ssm.logsumexp(shifted), ref_logsumexp(shifted), 2, dtype=np.float32)


@pytest.mark.parametrize("others", [8, 16, 40, 1000])
def test_float32_log_result_of_a_tiny_rest_sum(others):
    # The maximal entry's log-probability is -log1p(rest), with rest the sum of the other
    # entries' terms. When every one of them is below float32's normal range (x - max < -87.3)
    # and so is their sum, Float lanes lose their digits: [0]*8 + [96] came out 3.5 ulp off, and
    # [0]*1000 + [96] 436 ulp. The row must be summed in Double lanes then (docs/design.md,
    # "Kernels"). The cross-entropy keeps that error for now (docs/accuracy.md, "Known limits").
    x = np.zeros((3, others + 1), np.float32)
    x[:, -1] = 96
    x[1] += 1000  # an offset changes nothing
    x[2, 0] = -np.inf  # nor does an entry whose term is exactly 0 (one term fewer)
    assert_ulp(ssm.log_softmax(x), ref_log_softmax(x), 2)
    assert_ulp(ssm.softmax(x), ref_softmax(x), 2)
    y = x.copy()
    assert_same(ssm.log_softmax(y, out=y), ssm.log_softmax(x))  # in place, the same bits
