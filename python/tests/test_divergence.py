"""kl_div, entropy (with their gradients) and nll_loss: values against mpmath, PyTorch's
semantics where installed, special values, validation that writes nothing, layouts, dtypes and
thread-count independence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import swiftsoftmax as ssm
from conftest import ulp_errors

mpmath = pytest.importorskip("mpmath")


def _mp_logsoftmax(x, t):
    v = [(a if isinstance(a, mpmath.mpf) else mpmath.mpf(float(a))) / t for a in x]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(a) for a in v))
    return [a - lse for a in v]


def kl_mp(p, q, t=1.0):
    """KL(softmax(p/t) ‖ softmax(q/t)) of one finite row, at 50 digits, by its definition."""
    with mpmath.workdps(50):
        lp, lq = _mp_logsoftmax(p, t), _mp_logsoftmax(q, t)
        return mpmath.fsum(mpmath.exp(a) * (a - b) for a, b in zip(lp, lq))


def entropy_mp(x, t=1.0):
    with mpmath.workdps(50):
        lp = _mp_logsoftmax(x, t)
        return -mpmath.fsum(mpmath.exp(a) * a for a in lp)


def _rows_ref(f, *arrays, **kw):
    return np.array([float(f(*rows, **kw)) for rows in zip(*arrays)], dtype=np.float64)


def _ulps(got, ref, dtype):
    # The reference as an exact float64 is good to 2^-53 relative, far below a float32 ULP;
    # for float64 results the distance is measured against mpmath directly.
    return ulp_errors(np.asarray(got, dtype=dtype), ref, dtype)


# ---------------------------------------------------------------------------------------------
# values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("family", ["random", "near", "confident", "offset"])
def test_kl_against_mpmath(dtype, family):
    rng = np.random.default_rng(3)
    p = rng.normal(0, 3, (24, 19))
    q = {"random": rng.normal(0, 3, p.shape), "near": p + rng.normal(0, 1e-6, p.shape),
         "confident": p * 1.3, "offset": p * 0.8 + 1e4}[family]
    if family == "confident":
        p[:, 0] += 25
    p, q = p.astype(dtype), q.astype(dtype)
    got = ssm.kl_div(p, q, reduction="none")
    with mpmath.workdps(50):
        ref = [kl_mp(a, b) for a, b in zip(p, q)]
    err = [abs(mpmath.mpf(float(g)) - r) / mpmath.mpf(float(np.spacing(dtype(abs(float(r)))))) for g, r in zip(got, ref)]
    assert max(float(e) for e in err) <= 2.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_entropy_against_mpmath(dtype):
    rng = np.random.default_rng(4)
    x = rng.normal(0, 3, (30, 11))
    x[10:20, 0] += 40          # one-hot-like: H ~ 1e-16
    x[20:, :] *= 1e-3          # nearly uniform: H ~ log n
    x = x.astype(dtype)
    got = ssm.entropy(x)
    with mpmath.workdps(50):
        ref = [entropy_mp(r) for r in x]
    err = [abs(mpmath.mpf(float(g)) - r) / mpmath.mpf(float(np.spacing(dtype(float(r))))) for g, r in zip(got, ref)]
    assert max(float(e) for e in err) <= 2.0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 20), st.integers(1, 4), st.floats(0.25, 4.0), st.integers(0, 2**32 - 1))
def test_kl_and_entropy_properties(n, rows, temperature, seed):
    """KL >= 0 and 0 exactly for identical rows; 0 <= H <= log n; the temperature divides."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 5, (rows, n))
    q = rng.normal(0, 5, (rows, n))
    kl = ssm.kl_div(p, q, temperature=temperature, reduction="none")
    assert (kl >= 0).all()
    assert (ssm.kl_div(p, p, reduction="none") == 0).all()
    np.testing.assert_allclose(kl, ssm.kl_div(p / temperature, q / temperature, reduction="none"),
                               rtol=1e-12, atol=1e-300)
    h = ssm.entropy(p, temperature=temperature)
    assert (h >= 0).all() and (h <= np.log(n) * (1 + 1e-15)).all()
    ref = _rows_ref(kl_mp, p, q, t=temperature)
    np.testing.assert_allclose(kl, ref, rtol=1e-14, atol=1e-40)  # n = 1: the reference's own 1e-51


def test_gradients_against_finite_differences_of_mpmath():
    rng = np.random.default_rng(5)
    p, q = rng.normal(0, 2, (3, 5)), rng.normal(0, 2, (3, 5))
    for reduction, scale in (("sum", 1.0), ("mean", 1 / 3)):
        kl, gp, gq = ssm.kl_div_with_grad(p, q, temperature=1.5, reduction=reduction)
        with mpmath.workdps(50):
            h = mpmath.mpf("1e-20")
            for r in range(3):
                for j in range(5):
                    for arr, g, first in ((p, gp, True), (q, gq, False)):
                        a = [mpmath.mpf(float(v)) for v in arr[r]]
                        a[j] += h
                        up = kl_mp(a, q[r], 1.5) if first else kl_mp(p[r], a, 1.5)
                        a[j] -= 2 * h
                        dn = kl_mp(a, q[r], 1.5) if first else kl_mp(p[r], a, 1.5)
                        want = float((up - dn) / (2 * h)) * scale
                        assert abs(g[r, j] - want) <= 1e-15 * max(1.0, abs(want)) + 4e-16
    h_val, g = ssm.entropy_with_grad(p, temperature=0.5)
    with mpmath.workdps(50):
        eps = mpmath.mpf("1e-20")
        for r in range(3):
            for j in range(5):
                a = [mpmath.mpf(float(v)) for v in p[r]]
                a[j] += eps
                up = entropy_mp(a, 0.5)
                a[j] -= 2 * eps
                want = float((up - entropy_mp(a, 0.5)) / (2 * eps))
                assert abs(g[r, j] - want) <= 2e-15 * max(1.0, abs(want))


# ---------------------------------------------------------------------------------------------
# PyTorch


def test_kl_equals_pytorch_kl_div_with_log_target():
    """F.kl_div takes log Q first and log P second (log_target=True): the argument order is the
    other way round from KL(P ‖ Q); with reduction='sum' per row it is our kl_div."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(6)
    p, q = rng.normal(0, 3, (8, 13)), rng.normal(0, 3, (8, 13))
    ours = ssm.kl_div(p, q, reduction="none")
    for r in range(8):
        pt, qt = torch.tensor(p[r]), torch.tensor(q[r])
        theirs = F.kl_div(F.log_softmax(qt, -1), F.log_softmax(pt, -1), log_target=True, reduction="sum")
        assert abs(ours[r] - theirs.item()) <= 1e-13 * ours[r]
    # gradients through autograd, reduction mean over rows ("batchmean" in PyTorch's terms)
    pt = torch.tensor(p, requires_grad=True)
    qt = torch.tensor(q, requires_grad=True)
    loss = F.kl_div(F.log_softmax(qt / 2, -1), F.log_softmax(pt / 2, -1), log_target=True,
                    reduction="batchmean")
    loss.backward()
    kl, gp, gq = ssm.kl_div_with_grad(p, q, temperature=2.0)
    assert abs(kl - loss.item()) <= 1e-13 * kl
    np.testing.assert_allclose(gp, pt.grad.numpy(), rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(gq, qt.grad.numpy(), rtol=1e-10, atol=1e-16)


def test_entropy_gradient_against_pytorch_autograd():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.normal(0, 3, (6, 9))
    xt = torch.tensor(x, requires_grad=True)
    lp = torch.log_softmax(xt / 0.7, -1)
    h = -(lp.exp() * lp).sum(-1)
    h.sum().backward()
    ours, g = ssm.entropy_with_grad(x, temperature=0.7)
    np.testing.assert_allclose(ours, h.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-16)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_against_pytorch(reduction, weighted):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(8)
    lp = np.log(rng.dirichlet(np.ones(5), (4, 3)))          # (N=4, d=3, C=5): classes last
    y = rng.integers(0, 5, (4, 3))
    y[0, 1] = -100
    w = rng.uniform(0, 2, 5) if weighted else None
    ours = ssm.nll_loss(lp, y, weight=w, reduction=reduction)
    theirs = F.nll_loss(torch.tensor(np.moveaxis(lp, -1, 1)), torch.tensor(y),
                        weight=None if w is None else torch.tensor(w), reduction=reduction)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-15)
    # the class axis given as PyTorch's (axis 1), read in place
    ours1 = ssm.nll_loss(np.moveaxis(lp, -1, 1), y, axis=1, weight=w, reduction=reduction)
    np.testing.assert_allclose(ours1, theirs.numpy(), rtol=1e-15)


def test_nll_loss_values_without_torch():
    lp = np.array([[-0.5, -1.5, -2.0], [-0.25, -3.0, -1.0]])
    assert ssm.nll_loss(lp, [1, 2]) == (1.5 + 1.0) / 2
    assert ssm.nll_loss(lp, [1, 2], weight=[1.0, 3.0, 0.5], reduction="mean") == (4.5 + 0.5) / 3.5
    assert ssm.nll_loss(lp, [1, 2], ignore_index=2, reduction="sum") == 1.5
    assert np.isnan(ssm.nll_loss(lp, [-100, -100]))
    # a zero weight at -inf contributes 0 (PyTorch gives NaN there)
    assert ssm.nll_loss([[-np.inf, 0.0]], [0], weight=[0.0, 1.0], reduction="sum") == 0.0
    assert ssm.nll_loss([[-np.inf, 0.0]], [0], reduction="sum") == np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_nll_loss_short_path_equals_general_path(dtype, reduction):
    # The default call of native arrays takes a short path (docs/design.md, "The Python layer");
    # axis=1 of a 2-d array is the same class axis through the general path.
    rng = np.random.default_rng(9)
    lp = np.log(rng.dirichlet(np.ones(7), 50)).astype(dtype)
    y = rng.integers(0, 7, 50)
    y[::5] = -100
    want = ssm.nll_loss(lp, y, axis=1, reduction=reduction)
    for x, t in [(lp, y), (np.asfortranarray(lp), y), (lp, y.astype(np.int32)), (lp, list(y)), (lp[:, :], y[::1])]:
        got = ssm.nll_loss(x, t, reduction=reduction)
        assert type(got) is type(want) and got.dtype == dtype
        np.testing.assert_array_equal(got, want)
    read_only = lp.copy()
    read_only.flags.writeable = False
    np.testing.assert_array_equal(ssm.nll_loss(read_only, y, reduction=reduction), want)
    one = ssm.nll_loss(lp[3], y[3:4].reshape(()), reduction=reduction)
    assert np.ndim(one) == 0 and one == ssm.nll_loss(lp[3], int(y[3]), axis=0, reduction=reduction)
    bad = y.copy()
    bad[7] = 7
    with pytest.raises(ValueError, match=r"labels\[7\] = 7 is outside \[0, 7\)"):
        ssm.nll_loss(lp, bad, reduction=reduction)
    with pytest.raises(ValueError, match="reduction"):
        ssm.nll_loss(lp, y, reduction="avg")
    with pytest.raises(ValueError, match="target"):
        ssm.nll_loss(lp, y[:-1], reduction=reduction)


# ---------------------------------------------------------------------------------------------
# special values, layouts, dtypes


def test_special_values():
    inf, nan = np.inf, np.nan
    x = np.array([1.0, 2.0, 3.0])
    assert ssm.kl_div(x, [1.0, -inf, 3.0], reduction="sum") == inf       # Q = 0 < P
    assert np.isfinite(ssm.kl_div([1.0, -inf, 3.0], x, reduction="sum"))  # P = 0: that class adds 0
    np.testing.assert_allclose(ssm.kl_div([1.0, -inf, 3.0], x, reduction="sum"),
                               float(kl_mp([1.0, -1e4, 3.0], x)), rtol=1e-15)
    assert ssm.kl_div([1.0, -inf, 3.0], [1.0, -inf, 3.0], reduction="sum") == 0.0
    assert np.isnan(ssm.kl_div([1.0, nan, 3.0], x, reduction="sum"))
    assert np.isnan(ssm.kl_div(x, [nan, 1.0, 1.0], reduction="sum"))
    # +inf: the limit, P = (0, 0, 1): KL = -log Q_2
    np.testing.assert_allclose(ssm.kl_div([0.0, 0.0, inf], x, reduction="sum"),
                               -float(_mp_logsoftmax(x, 1)[2]), rtol=1e-14)
    assert ssm.kl_div([-inf, -inf, -inf], x, reduction="sum") == 0.0    # no mass
    assert ssm.kl_div(x, [-inf, -inf, -inf], reduction="sum") == inf
    kl, gp, gq = ssm.kl_div_with_grad([[1.0, 2.0, 3.0]], [[1.0, -inf, 3.0]], reduction="sum")
    assert kl == inf and np.isnan(gp).all() and np.isfinite(gq).all()
    assert ssm.entropy([inf, 1.0, inf]) == np.log(2)
    assert ssm.entropy([-inf, -inf]) == 0.0
    assert np.isnan(ssm.entropy([0.0, nan]))
    assert ssm.entropy([0.0, -inf, 0.0]) == np.log(2)
    h, g = ssm.entropy_with_grad([[inf, 0.0], [-inf, -inf], [nan, 0.0]])
    assert (g[:2] == 0).all() and np.isnan(g[2]).all()
    # empty axis: empty sums
    assert ssm.entropy(np.zeros((3, 0))).tolist() == [0.0, 0.0, 0.0]
    assert ssm.kl_div(np.zeros((3, 0)), np.zeros((3, 0)), reduction="none").tolist() == [0.0] * 3


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_any_axis_equals_moved_axis(axis):
    rng = np.random.default_rng(9)
    p, q = rng.normal(0, 2, (5, 6, 7)), rng.normal(0, 2, (5, 6, 7))
    np.testing.assert_array_equal(ssm.kl_div(p, q, axis=axis, reduction="none"),
                                  ssm.kl_div(np.moveaxis(p, axis, -1).copy(), np.moveaxis(q, axis, -1).copy(),
                                             reduction="none"))
    _, gp, gq = ssm.kl_div_with_grad(p, q, axis=axis)
    _, gp2, gq2 = ssm.kl_div_with_grad(np.moveaxis(p, axis, -1).copy(), np.moveaxis(q, axis, -1).copy())
    np.testing.assert_array_equal(gp, np.moveaxis(gp2, -1, axis))
    np.testing.assert_array_equal(gq, np.moveaxis(gq2, -1, axis))
    np.testing.assert_array_equal(ssm.entropy(p, axis=axis), ssm.entropy(np.moveaxis(p, axis, -1).copy()))
    _, g = ssm.entropy_with_grad(p, axis=axis)
    _, g2 = ssm.entropy_with_grad(np.moveaxis(p, axis, -1).copy())
    np.testing.assert_array_equal(g, np.moveaxis(g2, -1, axis))


def test_dtypes_and_out():
    rng = np.random.default_rng(10)
    p = rng.normal(0, 2, (4, 8)).astype(np.float16)
    q = rng.normal(0, 2, (4, 8)).astype(np.float16)
    kl = ssm.kl_div(p, q, reduction="none")
    assert kl.dtype == np.float16
    np.testing.assert_array_equal(kl, ssm.kl_div(p.astype(np.float32), q.astype(np.float32),
                                                 reduction="none").astype(np.float16))
    h, g = ssm.entropy_with_grad(p)
    assert h.dtype == np.float16 and g.dtype == np.float16
    assert ssm.kl_div(p.astype(np.float32), q, reduction="none").dtype == np.float32
    out = np.full(4, 7.0, dtype=np.float32)
    r = ssm.entropy(p.astype(np.float32), out=out)
    assert r is out and (out != 7.0).all()
    out64 = np.empty(4)
    assert ssm.kl_div(p.astype(np.float64), q.astype(np.float64), reduction="none", out=out64) is out64
    lp = np.log(rng.dirichlet(np.ones(3), 4))
    o = np.empty(4)
    assert ssm.nll_loss(lp, [0, 1, 2, 0], reduction="none", out=o) is o
    assert ssm.kl_div([1, 2], [2, 1], reduction="sum").dtype == np.float64   # integers: float64


def test_errors_write_nothing():
    p, q = np.zeros((2, 3)), np.ones((2, 3))
    out = np.full(2, 7.0)
    for t in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="temperature"):
            ssm.kl_div(p, q, temperature=t, reduction="none", out=out)
        with pytest.raises(ValueError, match="temperature"):
            ssm.entropy(p, temperature=t, out=out)
    assert (out == 7.0).all()
    with pytest.raises(ValueError, match="q_logits"):
        ssm.kl_div(p, np.ones((2, 4)))
    with pytest.raises(ValueError, match="reduction"):
        ssm.kl_div(p, q, reduction="batchmean")
    with pytest.raises(ValueError, match="out"):
        ssm.kl_div(p, q, reduction="sum", out=out)
    with pytest.raises(ValueError, match="out"):
        ssm.entropy(p, out=np.empty(3))
    with pytest.raises(ValueError, match=r"nll_loss: target: labels\[3\] = 5"):
        ssm.nll_loss(np.zeros((4, 5)), [0, 1, 2, 5], reduction="none", out=np.full(4, 7.0))
    with pytest.raises(ValueError, match="weight"):
        ssm.nll_loss(np.zeros((4, 5)), [0, 1, 2, 3], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="target"):
        ssm.nll_loss(np.zeros((4, 5)), [0, 1, 2])


def test_results_independent_of_thread_count():
    rng = np.random.default_rng(11)
    p = rng.normal(0, 3, (3000, 129)).astype(np.float32)
    q = (p + rng.normal(0, 0.1, p.shape)).astype(np.float32)
    lp = np.log(rng.dirichlet(np.ones(129), 3000))
    y = rng.integers(0, 129, 3000)
    n = ssm.get_num_threads()
    results = []
    try:
        for k in (1, 2, 3):
            ssm.set_num_threads(k)
            results.append((ssm.kl_div_with_grad(p, q), ssm.entropy_with_grad(p, axis=0),
                            ssm.nll_loss(lp, y)))
    finally:
        ssm.set_num_threads(n)
    for r in results[1:]:
        for a, b in zip(r[0] + r[1] + (r[2],), results[0][0] + results[0][1] + (results[0][2],)):
            np.testing.assert_array_equal(a, b)


def test_docstring_examples():
    import doctest

    from swiftsoftmax import _divergence

    failures, tried = doctest.testmod(_divergence, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
