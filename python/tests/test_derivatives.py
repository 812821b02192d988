"""softmax_jacobian, softmax_vjp, log_softmax_vjp and one_hot: finite differences, the article's
derivative facts, longdouble references, special values and error paths."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import swiftsoftmax as ssm
from conftest import LD, assert_raises_unchanged, assert_ulp, ref_log_softmax, ref_softmax, unchanged


# Inputs and finite differences come from the longdouble references, never from the library's
# own forward functions: these tests measure the derivatives alone.
def P(x, temperature=1.0, axis=-1):
    return np.asarray(ref_softmax(np.asarray(x, dtype=np.float64), axis, temperature), dtype=np.float64)


def LP(x, temperature=1.0, axis=-1):
    return np.asarray(ref_log_softmax(np.asarray(x, dtype=np.float64), axis, temperature), dtype=np.float64)


def fd_jacobian(f, x, h=1e-6):
    """Central differences of f along the last axis of a 1-D x: J[i, j] = d f_i / d x_j."""
    n = x.size
    J = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = h
        J[:, j] = (f(x + e) - f(x - e)) / (2 * h)
    return J


def ref_jacobian(x, temperature=1.0):
    p = ref_softmax(np.asarray(x, dtype=np.float64), temperature=temperature)
    p = np.asarray(p, dtype=LD)
    return (np.diag(p) - np.outer(p, p)) / LD(temperature)


# ---------------------------------------------------------------------------------------------
# softmax_jacobian


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_jacobian_matches_finite_differences(temperature):
    x = np.array([0.3, -1.2, 2.0, 0.0, 0.7])
    J = ssm.softmax_jacobian(x, temperature=temperature)
    fd = fd_jacobian(lambda z: P(z, temperature), x)
    np.testing.assert_allclose(J, fd, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(J, J.T)
    np.testing.assert_allclose(J.sum(axis=1), 0, atol=1e-16)


def test_article_derivative_facts():
    x = np.array([0.0, 2.0, 4.0])
    p = P(x)
    J = ssm.softmax_jacobian(x)
    # dp_i/ds_i = p_i (1 - p_i); dp_i/ds_j = -p_i p_j
    np.testing.assert_allclose(np.diag(J), p * (1 - p), rtol=1e-14)
    for i in range(3):
        for j in range(3):
            if i != j:
                assert J[i, j] == pytest.approx(-p[i] * p[j], rel=1e-14)
    # p(1-p) is largest at p = 1/2, where it is 1/4: two equal scores give exactly 0.25.
    assert ssm.softmax_jacobian([1.0, 1.0])[0, 0] == 0.25
    s = np.linspace(-6, 6, 241)
    diag = np.array([ssm.softmax_jacobian([v, 0.0])[0, 0] for v in s])
    k = np.argmax(diag)
    assert s[k] == 0.0 and diag[k] == 0.25
    assert (diag <= 0.25).all()


def test_jacobian_precision_against_longdouble(dtype):
    rng = np.random.default_rng(11)
    for scale in (0.1, 1.0, 10.0):
        x = (rng.standard_normal(7) * scale).astype(dtype)
        J = ssm.softmax_jacobian(x)
        ref = ref_jacobian(x.astype(np.float64))
        assert_ulp(J, ref, 4 if dtype == np.float32 else 8, what=f"scale {scale}")


def test_jacobian_diagonal_near_one_keeps_precision():
    # p_max = 1 - 1e-14-ish: 1 - p_max must come from the other terms, not from a subtraction.
    x = np.array([0.0, 32.0])
    J = ssm.softmax_jacobian(x)
    e = np.exp(LD(-32))
    p0 = e / (1 + e)
    assert_ulp(J[1, 1], p0 * (1 - p0), 4)
    assert_ulp(J[0, 0], p0 * (1 - p0), 4)
    assert_ulp(J[0, 1], -p0 * (1 - p0), 4)


def test_jacobian_shapes_and_axes(dtype):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, 4)).astype(dtype)
    J = ssm.softmax_jacobian(x, axis=1)
    assert J.shape == (2, 4, 3, 3) and J.dtype == dtype
    for a in range(2):
        for c in range(4):
            np.testing.assert_array_equal(J[a, c], ssm.softmax_jacobian(x[a, :, c]))
    J2 = ssm.softmax_jacobian(x)
    assert J2.shape == (2, 3, 4, 4)
    assert ssm.softmax_jacobian(x, axis=(1, 2)).shape == (2, 12, 12)
    assert ssm.softmax_jacobian(np.zeros((2, 0))).shape == (2, 0, 0)
    assert ssm.softmax_jacobian(np.array([1, 2])).dtype == np.float64


def test_jacobian_special_values():
    inf = np.inf
    J = ssm.softmax_jacobian(np.array([[0.0, np.nan], [-inf, -inf], [inf, 0.0], [inf, inf]]))
    assert np.isnan(J[0]).all()
    assert (J[1] == 0).all()
    assert (J[2] == 0).all()
    np.testing.assert_array_equal(J[3], [[0.25, -0.25], [-0.25, 0.25]])


# ---------------------------------------------------------------------------------------------
# softmax_vjp and log_softmax_vjp


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_vjp_matches_jacobian_and_finite_differences(temperature):
    rng = np.random.default_rng(13)
    x = rng.standard_normal(6)
    g = rng.standard_normal(6)
    y = P(x, temperature)
    dx = ssm.softmax_vjp(y, g, temperature=temperature)
    J = ssm.softmax_jacobian(x, temperature=temperature)
    np.testing.assert_allclose(dx, g @ J, rtol=1e-13, atol=1e-16)
    fd = fd_jacobian(lambda z: P(z, temperature), x)
    np.testing.assert_allclose(dx, g @ fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_log_softmax_vjp_matches_finite_differences(temperature):
    rng = np.random.default_rng(14)
    x = rng.standard_normal(6)
    g = rng.standard_normal(6)
    logy = LP(x, temperature)
    dx = ssm.log_softmax_vjp(logy, g, temperature=temperature)
    fd = fd_jacobian(lambda z: LP(z, temperature), x)
    np.testing.assert_allclose(dx, g @ fd, rtol=1e-6, atol=1e-9)


def test_vjp_precision_against_longdouble(dtype):
    rng = np.random.default_rng(15)
    x = rng.standard_normal((20, 9))
    y = P(x).astype(dtype)
    g = rng.standard_normal((20, 9)).astype(dtype)
    dx = ssm.softmax_vjp(y, g)
    yl, gl = y.astype(LD), g.astype(LD)
    ref = yl * (gl - np.sum(gl * yl, axis=-1, keepdims=True))
    scale = np.max(np.abs(yl) * (np.abs(gl) + np.sum(np.abs(gl * yl), axis=-1, keepdims=True)), axis=-1, keepdims=True)
    eps = np.finfo(dtype).eps
    assert (np.abs(dx.astype(LD) - ref) <= 2 * eps * scale).all()
    logy = LP(x).astype(dtype)
    dl = ssm.log_softmax_vjp(logy, g)
    refl = gl - np.exp(logy.astype(LD)) * np.sum(gl, axis=-1, keepdims=True)
    scale = np.abs(gl) + np.exp(logy.astype(LD)) * np.sum(np.abs(gl), axis=-1, keepdims=True)
    assert (np.abs(dl.astype(LD) - refl) <= 2 * eps * scale).all()


def test_vjp_axes_dtypes_and_shapes(dtype):
    rng = np.random.default_rng(16)
    x = rng.standard_normal((3, 5, 2)).astype(dtype)
    g = rng.standard_normal((3, 5, 2)).astype(dtype)
    y = ssm.softmax(x, axis=1)
    dx = ssm.softmax_vjp(y, g, axis=1)
    assert dx.shape == x.shape and dx.dtype == dtype
    ref = ssm.softmax_vjp(np.moveaxis(y, 1, -1), np.moveaxis(g, 1, -1))
    np.testing.assert_array_equal(dx, np.moveaxis(ref, -1, 1))
    logy = ssm.log_softmax(x, axis=1)
    dl = ssm.log_softmax_vjp(logy, g, axis=1)
    refl = ssm.log_softmax_vjp(np.moveaxis(logy, 1, -1), np.moveaxis(g, 1, -1))
    np.testing.assert_array_equal(dl, np.moveaxis(refl, -1, 1))
    # mixed dtypes promote; float16 is computed in float32 and returned as float16
    assert ssm.softmax_vjp(y.astype(np.float32), g.astype(np.float64)).dtype == np.float64
    assert ssm.softmax_vjp(y.astype(np.float16), g.astype(np.float16)).dtype == np.float16
    # axis=None: the whole array is one softmax
    ya = ssm.softmax(x, axis=None)
    da = ssm.softmax_vjp(ya, g, axis=None)
    np.testing.assert_allclose(da.ravel(), ssm.softmax_vjp(ya.ravel(), g.ravel()), rtol=0, atol=0)


@pytest.mark.parametrize("shape", [(1,), (8,), (3, 5), (2, 3, 17), (4096,), (4097,), (0,), (2, 0)])
@pytest.mark.parametrize("op", ["softmax_vjp", "log_softmax_vjp"])
def test_vjp_call_paths_agree(dtype, shape, op):
    # Defaults on small native arrays of one dtype take the fast handle (dx computed in place on a
    # copy of g); a spelled-out axis tuple, a read-only or strided y, or another g dtype the
    # general path. The inputs are left as they were.
    rng = np.random.default_rng(17)
    x = rng.standard_normal(shape)
    y = (LP(x) if op == "log_softmax_vjp" else P(x)).astype(dtype) if x.size else x.astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    f = getattr(ssm, op)
    keep_y, keep_g = y.copy(), g.copy()
    fast = f(y, g)
    np.testing.assert_array_equal(y, keep_y)
    np.testing.assert_array_equal(g, keep_g)
    general = f(y, g, axis=(-1,))
    assert fast.dtype == general.dtype == dtype and fast.shape == shape
    np.testing.assert_array_equal(fast, general)
    ro = y.copy()
    ro.flags.writeable = False
    np.testing.assert_array_equal(f(ro, g), fast)
    if len(shape) == 2 and shape[1]:
        wide = np.repeat(g, 2, axis=1)[:, ::2]  # a strided g, the same values
        np.testing.assert_array_equal(f(y, wide), fast)
        np.testing.assert_array_equal(f(np.repeat(y, 2, axis=1)[:, ::2], g), fast)


def test_masked_and_minus_inf_rows_give_zero_gradients():
    x = np.array([[1.0, 2.0, 3.0], [-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 1.0]])
    where = np.array([[True, True, True], [True, True, True], [True, True, True]])
    g = np.array([[1.0, -1.0, 0.5], [1.0, 2.0, 3.0], [1.0, 5.0, 0.0]])
    y = ssm.softmax(x, where=where)
    dx = ssm.softmax_vjp(y, g)
    assert (dx[1] == 0).all() and dx[2, 1] == 0 and np.isfinite(dx).all()
    logy = ssm.log_softmax(x)
    dl = ssm.log_softmax_vjp(logy, g)
    assert (dl[1] == 0).all() and np.isfinite(dl).all()
    # fully masked rows
    mask = np.array([[False, False, False]] * 3)
    assert (ssm.softmax_vjp(ssm.softmax(x, where=mask), g) == 0).all()
    assert (ssm.log_softmax_vjp(ssm.log_softmax(x, where=mask), g) == 0).all()


def test_vjp_of_cross_entropy_is_the_fused_gradient():
    rng = np.random.default_rng(17)
    x = rng.standard_normal((4, 6))
    y = rng.integers(0, 6, 4)
    logy = LP(x)
    g = -ssm.one_hot(y, 6, dtype=np.float64)
    dx = ssm.log_softmax_vjp(logy, g)
    _, fused = ssm.cross_entropy_with_grad(x, y, reduction="sum")
    np.testing.assert_allclose(dx, fused, rtol=1e-14, atol=1e-16)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.integers(0, 2**32 - 1), st.floats(0.2, 5))
def test_property_vjp_equals_g_times_jacobian(n, seed, t):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 3
    g = rng.standard_normal(n)
    y = P(x, t)
    J = ssm.softmax_jacobian(x, temperature=t)
    np.testing.assert_allclose(ssm.softmax_vjp(y, g, temperature=t), g @ J, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# one_hot


def test_one_hot_values_shapes_dtypes():
    np.testing.assert_array_equal(ssm.one_hot([2, 0, 1], 3), np.eye(3, dtype=np.float32)[[2, 0, 1]])
    h = ssm.one_hot(np.array([[1, 0], [3, 3]], dtype=np.uint8), 4, dtype=np.float64)
    assert h.shape == (2, 2, 4) and h.dtype == np.float64
    np.testing.assert_array_equal(h, np.eye(4)[[[1, 0], [3, 3]]])
    assert ssm.one_hot(np.int64(1), 2).shape == (2,)
    assert ssm.one_hot([], 3).shape == (0, 3)
    assert ssm.one_hot([0, 1], 2, dtype=np.int32).dtype == np.int32
    assert ssm.one_hot([0, 1], 2, dtype=np.float16).dtype == np.float16


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.dtype(np.float32), "float64", None])
def test_one_hot_every_kind_of_labels_array(dtype):
    # Native int64 labels take the short path (writable, C-contiguous, small); strided, read-only,
    # other integer dtypes and large results the general one: the same values either way.
    rng = np.random.default_rng(5)
    base = rng.integers(0, 37, (6, 40))
    ro = base.copy()
    ro.flags.writeable = False
    kw = {} if dtype is None else {"dtype": dtype}
    want = np.dtype(np.float32 if dtype is None else dtype)
    for lab in (base, base[:, ::3], ro, base.astype(np.int32), base[0], np.zeros(300_000, np.int64)):
        h = ssm.one_hot(lab, 37, **kw)
        assert h.dtype == want and h.shape == lab.shape + (37,) and h.flags.c_contiguous
        np.testing.assert_array_equal(h, np.eye(37, dtype=want)[lab])


def test_one_hot_errors_leave_inputs_unchanged():
    lab = np.array([0, 5, 7])
    assert_raises_unchanged(ValueError, ssm.one_hot, lab, 5, match=r"one_hot: labels\[1\] = 5 is outside \[0, 5\)")
    assert_raises_unchanged(ValueError, ssm.one_hot, np.array([-1]), 5, match=r"labels\[0\] = -1")
    assert_raises_unchanged(ValueError, ssm.one_hot, np.array([0]), 0, match="labels")
    assert_raises_unchanged(ValueError, ssm.one_hot, lab, -1, match="num_classes")
    assert_raises_unchanged(TypeError, ssm.one_hot, np.array([0.0]), 2, match="labels")
    assert_raises_unchanged(TypeError, ssm.one_hot, lab, 2.0, match="num_classes")
    assert_raises_unchanged(TypeError, ssm.one_hot, lab, 8, dtype=np.complex64, match="dtype")


# ---------------------------------------------------------------------------------------------
# errors


def test_derivative_errors_leave_inputs_unchanged():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    y = ssm.softmax(x)
    g = np.ones((2, 2))
    for t in (0.0, -1.0, np.inf, np.nan):
        assert_raises_unchanged(ValueError, ssm.softmax_jacobian, x, temperature=t, arrays=[x], match="temperature")
        assert_raises_unchanged(ValueError, ssm.softmax_vjp, y, g, temperature=t, arrays=[y, g], match="temperature")
        assert_raises_unchanged(ValueError, ssm.log_softmax_vjp, y, g, temperature=t, arrays=[y, g], match="temperature")
    assert_raises_unchanged(ValueError, ssm.softmax_vjp, y, np.ones((2, 3)), match="g")
    assert_raises_unchanged(ValueError, ssm.log_softmax_vjp, y, np.ones(2), match="g")
    assert_raises_unchanged(TypeError, ssm.softmax_vjp, y.astype(complex), g, match="y")
    assert_raises_unchanged(TypeError, ssm.log_softmax_vjp, y, g.astype(object), match="g")
    assert_raises_unchanged(TypeError, ssm.softmax_jacobian, np.array(["a"]), match="x")
    with unchanged(x), pytest.raises(np.exceptions.AxisError):
        ssm.softmax_jacobian(x, axis=3)
