"""Odd memory layouts give correct results (docs/reliability.md, "Checks").

Every function that takes arrays is called with the same values laid out as: C order (the
baseline), Fortran order, negative strides, a non-contiguous slice, a misaligned buffer (a view
at byte offset 1 of a uint8 buffer), and a big-endian dtype. Each result must equal the C-order
result bit for bit and be within the usual ULP budget of a longdouble reference. Also: 0-d
inputs with axis=None, `out=` in odd layouts, and `out=` partially overlapping the input.
"""

from __future__ import annotations

import numpy as np
import pytest

import swiftsoftmax as ssm
from conftest import (LD, assert_ulp, ref_log_sigmoid, ref_log_softmax, ref_logsumexp,
                      ref_normalize, ref_sigmoid, ref_softmax)

FLOATS = [np.dtype(np.float32), np.dtype(np.float64)]


# ---------------------------------------------------------------------------------------
# layouts: each returns an array equal to `values` (same dtype unless big-endian) whose memory
# is laid out differently


def fortran(v):
    return np.asfortranarray(v)


def negative_strides(v):
    flipped = np.ascontiguousarray(v[(slice(None, None, -1),) * v.ndim])
    return flipped[(slice(None, None, -1),) * v.ndim]


def strided_slice(v):
    big = np.zeros(tuple(2 * s + 1 for s in v.shape), dtype=v.dtype)
    view = big[(slice(1, None, 2),) * v.ndim]
    view[...] = v
    return view


def misaligned(v):
    buf = np.zeros(v.nbytes + v.itemsize + 1, dtype=np.uint8)
    view = buf[1:1 + v.nbytes].view(v.dtype).reshape(v.shape)
    view[...] = v
    assert not view.flags.aligned or v.itemsize == 1
    return view


def big_endian(v):
    return v.astype(v.dtype.newbyteorder(">"))


def transposed_copy(v):
    """C data of the transpose, seen transposed back (an F-order view built by hand)."""
    return np.ascontiguousarray(v.T).T


LAYOUTS = {
    "fortran": fortran,
    "negative-strides": negative_strides,
    "strided-slice": strided_slice,
    "misaligned": misaligned,
    "big-endian": big_endian,
    "transposed": transposed_copy,
}


@pytest.fixture(params=list(LAYOUTS), ids=list(LAYOUTS))
def layout(request):
    return LAYOUTS[request.param]


def values(dtype, shape=(5, 19), seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 4).astype(dtype)


def same_bits(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    assert a.tobytes() == np.ascontiguousarray(b).tobytes(), "result differs from the C-order result"


# ---------------------------------------------------------------------------------------
# the forward family against longdouble references

FORWARD = {
    "softmax": (lambda x, axis: ssm.softmax(x, axis), ref_softmax),
    "log_softmax": (lambda x, axis: ssm.log_softmax(x, axis), ref_log_softmax),
    "normalize": (lambda x, axis: ssm.normalize(x, axis), ref_normalize),  # positive values
    "logsumexp": (lambda x, axis: ssm.logsumexp(x, axis), ref_logsumexp),
    "sigmoid": (lambda x, axis: ssm.sigmoid(x), lambda x, axis: ref_sigmoid(x)),
    "log_sigmoid": (lambda x, axis: ssm.log_sigmoid(x), lambda x, axis: ref_log_sigmoid(x)),
}
AXES_2D = [-1, 0, None, (0, 1)]


@pytest.mark.parametrize("name", list(FORWARD))
@pytest.mark.parametrize("axis", AXES_2D, ids=str)
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_forward_layouts(name, axis, dtype, layout):
    f, ref = FORWARD[name]
    v = values(dtype)
    if name == "normalize":
        v = np.abs(v) + 1
    base = f(v, axis)
    odd = layout(v)
    assert np.array_equal(odd, v)
    got = f(odd, axis)
    same_bits(got, base)
    budget = 4.0 if name == "normalize" else None
    assert_ulp(got, ref(v.astype(LD), axis), budget, dtype=dtype, what=f"{name} {axis}")


@pytest.mark.parametrize("axis", [0, 1, 2, (0, 2), None])
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_forward_layouts_3d(axis, dtype, layout):
    v = values(dtype, (3, 7, 5), seed=1)
    odd = layout(v)
    for f, ref in (FORWARD["softmax"], FORWARD["log_softmax"], FORWARD["logsumexp"]):
        got = f(odd, axis)
        same_bits(got, f(v, axis))
        assert_ulp(got, ref(v.astype(LD), axis), dtype=dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_where_layouts(dtype, layout):
    v = values(dtype)
    mask = np.random.default_rng(3).random(v.shape) < 0.7
    mask[:, 0] = True
    base = ssm.softmax(v, where=mask)
    for m in (np.asfortranarray(mask), negative_strides(mask), strided_slice(mask)):
        got = ssm.softmax(layout(v), where=m)
        same_bits(got, base)
        same_bits(ssm.logsumexp(layout(v), where=m), ssm.logsumexp(v, where=mask))
    assert_ulp(base, ref_softmax(v.astype(LD), -1, where=mask), dtype=dtype)


# ---------------------------------------------------------------------------------------
# derivatives, one-hot and the loss


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_jacobian_and_vjp_layouts(axis, dtype, layout):
    v = values(dtype, (4, 6))
    g = values(dtype, (4, 6), seed=7)
    y = ssm.softmax(v, axis)
    ly = ssm.log_softmax(v, axis)
    same_bits(ssm.softmax_jacobian(layout(v), axis), ssm.softmax_jacobian(v, axis))
    same_bits(ssm.softmax_vjp(layout(y), layout(g), axis), ssm.softmax_vjp(y, g, axis))
    same_bits(ssm.log_softmax_vjp(layout(ly), layout(g), axis), ssm.log_softmax_vjp(ly, g, axis))
    # reference: J^T g with J from longdouble probabilities
    p = ref_softmax(v.astype(LD), axis)
    pm = np.moveaxis(p, axis, -1)
    gm = np.moveaxis(g.astype(LD), axis, -1)
    jac = np.einsum("...i,ij->...ij", pm, np.eye(pm.shape[-1], dtype=LD)) - pm[..., :, None] * pm[..., None, :]
    vjp = np.moveaxis(np.einsum("...ij,...i->...j", jac, gm), -1, axis)
    got = ssm.softmax_vjp(layout(y), layout(g), axis)
    tol = 16 * np.finfo(dtype).eps * (np.abs(g).max() + 1)
    np.testing.assert_allclose(got.astype(np.float64), vjp.astype(np.float64), rtol=0, atol=tol)
    np.testing.assert_allclose(ssm.softmax_jacobian(layout(v), axis).astype(np.float64),
                               jac.astype(np.float64), rtol=0, atol=8 * np.finfo(dtype).eps)


INT_LAYOUTS = {
    "fortran": fortran, "negative-strides": negative_strides, "strided-slice": strided_slice,
    "misaligned": misaligned, "big-endian": big_endian, "transposed": transposed_copy,
}


@pytest.mark.parametrize("name", list(INT_LAYOUTS))
def test_one_hot_label_layouts(name):
    labels = np.array([[0, 3, 2], [1, 1, 0]], dtype=np.int64)
    got = ssm.one_hot(INT_LAYOUTS[name](labels), 4)
    same_bits(got, ssm.one_hot(labels, 4))
    np.testing.assert_array_equal(got, np.eye(4, dtype=np.float32)[labels])


def ce_reference(x, labels, weight, axis):
    """mean cross-entropy and its gradient, in longdouble."""
    x = np.moveaxis(x.astype(LD), axis, -1)
    ls = ref_log_softmax(x, -1)
    n = x.shape[-1]
    w = np.ones(n, LD) if weight is None else weight.astype(LD)
    wy = w[labels]
    nll = -np.take_along_axis(ls, labels[..., None], -1)[..., 0] * wy
    loss = nll.sum() / wy.sum()
    grad = (np.exp(ls) - np.eye(n, dtype=LD)[labels]) * wy[..., None] / wy.sum()
    return loss, np.moveaxis(grad, -1, axis)


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_cross_entropy_layouts(axis, dtype, layout):
    v = values(dtype, (6, 5), seed=4)
    n = v.shape[axis]
    kept = v.shape[1 - (axis % 2)]
    labels = np.arange(kept, dtype=np.int64) % n
    weight = np.linspace(0.5, 2, n).astype(dtype)
    base_loss, base_grad = ssm.cross_entropy_with_grad(v, labels, axis=axis, weight=weight)
    for lab in (labels, negative_strides(labels), strided_slice(labels), misaligned(labels), big_endian(labels)):
        for w in (weight, negative_strides(weight), misaligned(weight), big_endian(weight)):
            loss, grad = ssm.cross_entropy_with_grad(layout(v), lab, axis=axis, weight=w)
            same_bits(loss, base_loss)
            same_bits(grad, base_grad)
    ref_loss, ref_grad = ce_reference(v, labels, weight, axis)
    assert_ulp(base_loss, ref_loss, 8, dtype=dtype)
    np.testing.assert_allclose(base_grad.astype(np.float64), ref_grad.astype(np.float64),
                               rtol=0, atol=8 * np.finfo(dtype).eps)
    # probability targets in odd layouts too
    q = ssm.softmax(values(dtype, v.shape, seed=5), axis)
    base = ssm.cross_entropy_with_grad(v, q, axis=axis)
    got = ssm.cross_entropy_with_grad(layout(v), layout(q), axis=axis)
    same_bits(got[0], base[0])
    same_bits(got[1], base[1])


# ---------------------------------------------------------------------------------------
# 0-d inputs with axis=None


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("v", [3.5, -2.0, 0.0, np.inf, -np.inf, np.nan], ids=str)
def test_zero_d_axis_none(dtype, v):
    x = np.array(v, dtype=dtype)
    for as_input in (x, dtype.type(v), x[()]):
        p = ssm.softmax(as_input, axis=None)
        lp = ssm.log_softmax(as_input, axis=None)
        lse = ssm.logsumexp(as_input, axis=None)
        assert np.ndim(p) == 0 and np.ndim(lp) == 0 and np.ndim(lse) == 0
        assert isinstance(p, np.generic) and p.dtype == dtype and lse.dtype == dtype
        if np.isnan(v):
            assert np.isnan(p) and np.isnan(lp) and np.isnan(lse)
        elif v == -np.inf:  # an all -inf slice
            assert p == 0 and lp == -np.inf and lse == -np.inf
        else:  # one entry (finite or +inf) takes all the probability
            assert p == 1 and lp == 0 and lse == v
        s = ssm.sigmoid(as_input)
        assert np.ndim(s) == 0 and s.dtype == dtype
        if np.isnan(v):
            assert np.isnan(s)
        elif np.isinf(v):
            assert s == (v > 0)
        else:
            assert_ulp(s, ref_sigmoid(v), dtype=dtype)
        jac = ssm.softmax_jacobian(as_input, axis=None)
        assert jac.shape == (1, 1)
        assert np.isnan(jac[0, 0]) if np.isnan(v) else jac[0, 0] == 0
    if np.isfinite(v) and v != 0:
        assert ssm.normalize(x, axis=None) == 1
    out = np.full((), 42, dtype)
    assert ssm.softmax(x, axis=None, out=out) is out
    assert (np.isnan(out) if np.isnan(v) else out == (0 if v == -np.inf else 1))
    assert ssm.one_hot(np.int64(2), 3).tolist() == [0, 0, 1]


def test_zero_d_needs_axis_none():
    with pytest.raises(np.exceptions.AxisError):
        ssm.softmax(np.float64(1.0))


# ---------------------------------------------------------------------------------------
# out= in odd layouts, and out= partially overlapping the input

OUT_FUNCS = {
    "softmax": (ssm.softmax, True),
    "log_softmax": (ssm.log_softmax, True),
    "normalize": (ssm.normalize, True),
    "sigmoid": (ssm.sigmoid, False),
    "log_sigmoid": (ssm.log_sigmoid, False),
}


@pytest.mark.parametrize("name", list(OUT_FUNCS))
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_out_layouts(name, dtype):
    f, _ = OUT_FUNCS[name]
    v = np.abs(values(dtype)) + 0.5
    want = f(v)
    for make in (fortran, negative_strides, strided_slice, misaligned, transposed_copy):
        out = make(np.full(v.shape, 42, dtype))
        assert f(v, out=out) is out
        same_bits(np.ascontiguousarray(out), want)
        # in place on an odd layout
        x = make(v.copy())
        assert f(x, out=x) is x
        same_bits(np.ascontiguousarray(x), want)


@pytest.mark.parametrize("name", list(OUT_FUNCS))
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("shift", [1, 3, 19, -1, -20])
def test_out_partially_overlapping_input(name, dtype, shift):
    """out = buf[k:] against x = buf[:-k] (and the other way round): the result is that of
    the input as it was before the call."""
    f, _ = OUT_FUNCS[name]
    rows, cols = 5, 19
    size = rows * cols
    buf = np.empty(size + abs(shift), dtype)
    a = abs(shift)
    xs = slice(0, size) if shift > 0 else slice(a, a + size)
    os_ = slice(a, a + size) if shift > 0 else slice(0, size)
    buf[xs] = (np.abs(values(dtype)) + 0.5).ravel()
    x = buf[xs].reshape(rows, cols)
    out = buf[os_].reshape(rows, cols)
    assert np.shares_memory(x, out)
    want = f(x.copy())
    assert f(x, out=out) is out
    same_bits(out, want)


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_out_is_reversed_input(dtype):
    x = values(dtype, (50,))
    want = ssm.softmax(x)[::-1]
    ssm.softmax(x, out=x[::-1])  # full overlap, different order
    # x[::-1] received softmax(x_before): reading it back in order gives want reversed twice
    np.testing.assert_array_equal(x[::-1], want[::-1])


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_out_overlapping_with_axis(dtype):
    """A non-last axis with `out` overlapping: the general path must still copy first."""
    buf = np.abs(values(dtype, (7 * 6 + 6,))) + 0.5
    x = buf[:42].reshape(7, 6)
    out = buf[6:].reshape(7, 6)
    want = ssm.softmax(x.copy(), axis=0)
    ssm.softmax(x, axis=0, out=out)
    same_bits(out, want)
