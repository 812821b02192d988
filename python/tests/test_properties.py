"""Property-based tests (hypothesis; docs/reliability.md, "Checks"): across dtypes, shapes and
axes, with special values (+-inf, NaN, huge and tiny numbers) mixed in.

- softmax is in [0, 1] and sums to 1 within n*eps on every slice without NaN;
- offset invariance: softmax(x + c) == softmax(x) (c exact in the dtype);
- softmax == exp(log_softmax);
- argmax preserved: probabilities are ordered as the scores are;
- VJP == J^T g with J from softmax_jacobian;
- the cross-entropy gradient for plain integer targets is softmax - one_hot (mean: / N);
- logsumexp >= max (and <= max + log n).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import swiftsoftmax as ssm

EXAMPLES = 120  # per property; docs/reliability.md quotes EXAMPLES x number of properties
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

DTYPES = st.sampled_from([np.dtype(np.float32), np.dtype(np.float64)])
SPECIALS = [np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30, 1e-30, 88.0, -103.0]


@st.composite
def arrays(draw, special=True, finite_only=False, max_dims=3, max_side=9):
    """(x, axis): an array of 1..max_dims dims, its dtype, and a valid axis (int, tuple or None)."""
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=max_dims, min_side=1, max_side=max_side))
    lim = 60.0 if dtype == np.float32 else 600.0
    elements = st.floats(-lim, lim, allow_nan=False, allow_infinity=False, width=dtype.itemsize * 8)
    if special and not finite_only:
        elements = st.one_of(elements, elements, elements, st.sampled_from(SPECIALS))
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    if draw(st.booleans()) and x.size > 40:  # sometimes long rows: the vector paths
        x = np.resize(x, x.shape[:-1] + (x.shape[-1] * 7,))
    nd = x.ndim
    axis = draw(st.one_of(st.integers(-nd, nd - 1), st.none(),
                          st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)))
    return x, axis


def slices(a, axis):
    """`a` with the reduced axes merged into the last one: shape (slices, n)."""
    nd = a.ndim
    axes = tuple(range(nd)) if axis is None else tuple(sorted(i % nd for i in np.atleast_1d(axis)))
    rest = [d for d in range(nd) if d not in axes]
    moved = np.transpose(a, rest + list(axes))
    return moved.reshape(-1, int(np.prod([a.shape[d] for d in axes])))


def eps(dtype):
    return float(np.finfo(dtype).eps)


@SETTINGS
@given(arrays())
def test_softmax_is_a_distribution(xa):
    x, axis = xa
    p = slices(ssm.softmax(x, axis), axis).astype(np.float64)
    xs = slices(x, axis)
    n = xs.shape[1]
    nan = np.isnan(xs).any(axis=1)
    assert np.isnan(p[nan]).all()
    ok = p[~nan]
    assert ((ok >= 0) & (ok <= 1)).all()
    all_neg_inf = (xs[~nan] == -np.inf).all(axis=1)
    sums = ok.sum(axis=1)
    assert (sums[all_neg_inf] == 0).all()
    assert (np.abs(sums[~all_neg_inf] - 1) <= (n + 1) * eps(x.dtype)).all(), sums


@SETTINGS
@given(arrays(finite_only=True), st.integers(-1000, 1000))
def test_offset_invariance(xa, c):
    x, axis = xa
    # multiples of 1/8 in a range where x + c is exact in float32 and float64
    x = np.round(np.clip(x, -60, 60) * 8) / 8
    shifted = x + x.dtype.type(c)
    assert (shifted - x.dtype.type(c) == x).all()
    a = ssm.softmax(x, axis).astype(np.float64)
    b = ssm.softmax(shifted, axis).astype(np.float64)
    assert np.allclose(a, b, rtol=8 * eps(x.dtype), atol=np.finfo(x.dtype).tiny)


@SETTINGS
@given(arrays())
def test_softmax_is_exp_log_softmax(xa):
    x, axis = xa
    p = ssm.softmax(x, axis).astype(np.float64)
    lp = ssm.log_softmax(x, axis).astype(np.float64)
    with np.errstate(invalid="ignore"):
        assert ((lp <= 0) | np.isnan(lp)).all()
    e = np.exp(lp)
    assert np.array_equal(np.isnan(p), np.isnan(e))
    assert (p[lp == -np.inf] == 0).all()
    fin = ~np.isnan(p) & (lp > -np.inf)
    # exp(lp) turns the rounding of lp (relative eps, absolute |lp| eps) into a relative error of
    # |lp| eps; subnormal probabilities are compared absolutely
    tol = (6 + np.abs(lp[fin])) * eps(x.dtype) * p[fin] + 4 * np.finfo(x.dtype).smallest_subnormal
    assert (np.abs(e[fin] - p[fin]) <= tol).all()


@SETTINGS
@given(arrays())
def test_order_and_argmax_preserved(xa):
    x, axis = xa
    p = slices(ssm.softmax(x, axis), axis)
    xs = slices(x, axis)
    for row_x, row_p in zip(xs, p):
        if np.isnan(row_x).any() or (row_x == -np.inf).all():
            continue
        order = np.argsort(row_x, kind="stable")
        assert (np.diff(row_p[order].astype(np.float64)) >= 0).all()  # monotone in the scores
        top = row_x == row_x.max()
        assert row_p[top].min() == row_p.max()                        # the argmax keeps the top


@SETTINGS
@given(arrays(special=False, max_dims=2, max_side=12), st.data())
def test_vjp_is_jacobian_transpose_times_g(xa, data):
    x, _ = xa
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    g = data.draw(hnp.arrays(x.dtype, x.shape, elements=st.floats(-4, 4, width=x.dtype.itemsize * 8)))
    t = data.draw(st.sampled_from([1.0, 0.5, 3.0]))
    y = ssm.softmax(x, axis, temperature=t)
    got = ssm.softmax_vjp(y, g, axis, temperature=t).astype(np.float64)
    jac = ssm.softmax_jacobian(x, axis, temperature=t).astype(np.float64)   # (..., n, n)
    gm = np.moveaxis(g.astype(np.float64), axis, -1)
    want = np.moveaxis(np.einsum("...ij,...i->...j", jac, gm), -1, axis)
    n = x.shape[axis]
    tol = 8 * (n + 2) * eps(x.dtype) * (np.abs(gm).max() + 1) / t
    assert np.allclose(got, want, rtol=0, atol=tol)
    # and the log-softmax VJP of the same upstream gradient, through the chain rule
    lgot = ssm.log_softmax_vjp(ssm.log_softmax(x, axis, temperature=t), g, axis, temperature=t)
    lwant = np.moveaxis(gm - np.moveaxis(y.astype(np.float64), axis, -1) * gm.sum(-1, keepdims=True), -1, axis) / t
    assert np.allclose(lgot.astype(np.float64), lwant, rtol=0, atol=tol * n)


@st.composite
def logits_and_labels(draw):
    dtype = draw(DTYPES)
    rows = draw(st.integers(1, 6))
    n = draw(st.integers(1, 40))
    lim = 30.0
    x = draw(hnp.arrays(dtype, (rows, n), elements=st.floats(-lim, lim, width=dtype.itemsize * 8)))
    labels = np.array(draw(st.lists(st.integers(0, n - 1), min_size=rows, max_size=rows)))
    return x, labels


def _plain_ce_gradient_case(x, labels, reduction):
    _, g = ssm.cross_entropy_with_grad(x, labels, reduction=reduction)
    want = ssm.softmax(x.astype(np.float64)) - np.eye(x.shape[1])[labels]
    if reduction == "mean":
        want /= x.shape[0]
    tol = 4 * (x.shape[1] + 2) * eps(x.dtype)
    return np.allclose(g.astype(np.float64), want, rtol=0, atol=tol)


@SETTINGS
@given(logits_and_labels(), st.sampled_from(["mean", "sum", "none"]))
def test_cross_entropy_gradient_is_softmax_minus_one_hot(xl, reduction):
    x, labels = xl
    assert _plain_ce_gradient_case(x, labels, reduction)


@pytest.mark.parametrize("n", [17, 33, 100])
def test_cross_entropy_gradient_long_rows(n):
    """Regression (found by the fuzzer): rows of >= 17 classes had the gradient of one lane in 8."""
    x = np.zeros((1, n))
    _, g = ssm.cross_entropy_with_grad(x, [n - 2], reduction="sum")
    np.testing.assert_allclose(g[0], np.full(n, 1 / n) - np.eye(n)[n - 2], atol=1e-15)


@SETTINGS
@given(arrays())
def test_logsumexp_bounds(xa):
    x, axis = xa
    lse = np.atleast_1d(ssm.logsumexp(x, axis)).ravel()
    xs = slices(x, axis)
    n = xs.shape[1]
    for v, row in zip(lse, xs):
        if np.isnan(row).any():
            assert np.isnan(v)
            continue
        m = row.max()
        assert v >= m
        if np.isfinite(m):
            assert float(v) <= float(m) + np.log(n) * (1 + 4 * eps(x.dtype)) + 4 * eps(x.dtype) * abs(float(m)) \
                or (v == np.inf and float(m) + np.log(n) > float(np.finfo(x.dtype).max))
        else:
            assert v == m
