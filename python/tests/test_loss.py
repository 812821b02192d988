"""cross_entropy and cross_entropy_with_grad against PyTorch's formulas, written out here in
numpy.longdouble: every combination of weight × ignore_index × label_smoothing × reduction ×
integer/probability targets × class axis × dtype, plus precision, special values and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import swiftsoftmax as ssm
from conftest import LD, assert_raises_unchanged, assert_ulp, unchanged

# ---------------------------------------------------------------------------------------------
# PyTorch's cross_entropy, in long double (torch/nn/functional.py and aten LossNLL.cpp:
# cross_entropy_loss_label_smoothing and the probability-target branch)


def ref_log_softmax(x):
    """log_softmax over the last axis in longdouble (0 * -inf terms never arise below)."""
    x = np.asarray(x, dtype=LD)
    m = np.max(x, axis=-1, keepdims=True)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def ref_cross_entropy(logits, target, axis=-1, weight=None, ignore_index=-100,
                      label_smoothing=0.0, reduction="mean"):
    """(loss, dlogits) by PyTorch's definitions; dlogits is the gradient of the returned loss
    (of its sum for 'none'), from the closed form A p - c."""
    x = np.moveaxis(np.asarray(logits, dtype=LD), axis, -1)
    C = x.shape[-1]
    eps = LD(label_smoothing)
    logp = ref_log_softmax(x)
    p = np.exp(logp)
    w = np.ones(C, dtype=LD) if weight is None else np.asarray(weight, dtype=LD)
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        ignored = t == ignore_index
        y = np.where(ignored, 0, t).astype(np.int64)
        logp_y = np.take_along_axis(logp, y[..., None], -1)[..., 0]
        nll = np.where(ignored, LD(0), -w[y] * logp_y)
        smooth = np.where(ignored, LD(0), -np.sum(logp * w, axis=-1))
        per = (1 - eps) * nll + (eps / C) * smooth
        denom = np.sum(np.where(ignored, LD(0), w[y]))
        onehot = (np.arange(C) == y[..., None]).astype(LD)
        coef = (1 - eps) * w[y][..., None] * onehot + (eps / C) * w
        coef = np.where(ignored[..., None], LD(0), coef)
    else:
        q = np.moveaxis(np.asarray(t, dtype=LD), axis, -1)
        q = q * (1 - eps) + eps / C
        coef = w * q
        per = -np.sum(coef * logp, axis=-1)
        denom = LD(per.size)
    # A p_j - c_j, with 1 - p_j and A - c_j summed over the other classes where p_j > 1/2, so
    # the reference keeps its digits for a confident prediction (no p - 1 in long double either).
    e = np.exp(logp)
    k = np.arange(C)
    off = (k[:, None] != k[None, :]).astype(LD)                  # off[j, k] = [j != k]
    one_minus_p = np.einsum("...k,jk->...j", e, off) / np.sum(e, axis=-1, keepdims=True)
    a_minus_c = np.einsum("...k,jk->...j", coef, off)
    A = np.sum(coef, axis=-1, keepdims=True)
    grad = np.where(p > 0.5, a_minus_c - A * one_minus_p, A * p - coef)
    with np.errstate(invalid="ignore", divide="ignore"):
        if reduction == "none":
            loss = per
        elif reduction == "sum":
            loss = np.sum(per)
        else:
            loss = np.sum(per) / denom
            grad = grad / denom if denom != 0 else np.zeros_like(grad)
    return loss, np.moveaxis(grad, -1, axis)


def tolerance(dtype):
    return {np.dtype(np.float32): 4 * 2.0**-24, np.dtype(np.float64): 16 * 2.0**-53}[np.dtype(dtype)]


def assert_close(actual, reference, dtype, scale=1.0, what=""):
    """|actual - ref| <= tol * (|ref| + scale): relative, with an absolute floor for entries
    whose exact value comes out of cancellation (A p - c)."""
    tol = tolerance(dtype)
    ref = np.asarray(reference, dtype=LD)
    act = np.asarray(actual).astype(LD)
    assert act.shape == ref.shape, (what, act.shape, ref.shape)
    err = np.abs(act - ref)
    bound = tol * (np.abs(ref) + LD(scale))
    bad = ~(err <= bound)
    assert not bad.any(), f"{what}: max excess at {np.argwhere(bad)[0]}: got {act[bad][0]!r}, want {ref[bad][0]!r}"


# ---------------------------------------------------------------------------------------------
# The full grid


def make_problem(rng, dtype, kind, class_axis, with_ignored, ignore_index):
    """logits of shape (N, C, d) with the classes on `class_axis` (1 or -1 = last), and targets."""
    N, C, d = 5, 7, 3
    x = (rng.standard_normal((N, d, C)) * 3).astype(dtype)          # classes last
    if kind == "int":
        y = rng.integers(0, C, size=(N, d))
        if with_ignored:
            y[0, 1] = ignore_index
            y[3, :] = ignore_index
        target = y
    else:
        q = rng.random((N, d, C))
        target = (q / q.sum(-1, keepdims=True)).astype(dtype)
    if class_axis == 1:
        x = np.ascontiguousarray(np.moveaxis(x, -1, 1))            # (N, C, d)
        if kind != "int":
            target = np.ascontiguousarray(np.moveaxis(target, -1, 1))
    return x, target


GRID = list(itertools.product(
    [None, "w"],                   # weight
    [False, True],                 # some targets ignored
    [0.0, 0.1, 1.0],               # label_smoothing
    ["none", "mean", "sum"],       # reduction
    ["int", "soft"],               # target kind
    [-1, 1],                       # class axis
    [np.float32, np.float64],
))


@pytest.mark.parametrize("weight,ignored,eps,reduction,kind,axis,dtype", GRID)
def test_grid_against_pytorch_formulas(weight, ignored, eps, reduction, kind, axis, dtype):
    rng = np.random.default_rng(hash((weight, ignored, eps, reduction, kind, axis)) & 0xFFFF)
    ignore_index = -100 if not ignored else 4
    x, target = make_problem(rng, dtype, kind, axis, ignored, ignore_index)
    C = x.shape[axis]
    w = None if weight is None else (rng.random(C) + 0.5).astype(dtype)
    kw = dict(axis=axis, weight=w, label_smoothing=eps, reduction=reduction)
    if kind == "int":
        kw["ignore_index"] = ignore_index
    x0, t0 = x.copy(), target.copy()

    loss = ssm.cross_entropy(x, target, **kw)
    loss2, grad = ssm.cross_entropy_with_grad(x, target, **kw)
    ref_loss, ref_grad = ref_cross_entropy(x, target, **kw)

    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(target, t0)
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == ref_loss.shape and loss.dtype == dtype
    else:
        assert isinstance(loss, np.generic) and loss.dtype == dtype
    assert grad.shape == x.shape and grad.dtype == dtype
    np.testing.assert_array_equal(loss, loss2)        # the fused call gives the same loss
    assert_close(loss, ref_loss, dtype, what="loss")
    scale = float(np.max(np.abs(ref_grad))) if ref_grad.size else 1.0
    assert_close(grad, ref_grad, dtype, scale=scale, what="grad")


def test_grid_ignored_mean_divides_by_weights_of_kept_targets():
    x = np.array([[0.0, 1.0, 2.0], [3.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    w = np.array([1.0, 2.0, 4.0])
    y = np.array([2, -100, 1])
    per = -ref_log_softmax(x)[[0, 2], [2, 1]] * w[[2, 1]]
    got = ssm.cross_entropy(x, y, weight=w)
    assert got == pytest.approx(per.sum() / 6.0, rel=1e-15)


def test_all_ignored_mean_is_nan_with_zero_gradient():
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    y = np.array([-100, -100])
    loss, g = ssm.cross_entropy_with_grad(x, y)
    assert np.isnan(loss)
    assert not np.isnan(g).any() and (g == 0).all()
    assert ssm.cross_entropy(x, y, reduction="sum") == 0.0
    assert (ssm.cross_entropy(x, y, reduction="none") == 0).all()
    loss, g = ssm.cross_entropy_with_grad(x, y, label_smoothing=0.3)
    assert np.isnan(loss) and (g == 0).all()


def test_soft_mean_divides_by_number_of_samples_not_weights():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3))
    q = rng.random((4, 3))
    w = np.array([0.5, 2.0, 3.0])
    per = ssm.cross_entropy(x, q, weight=w, reduction="none")
    assert ssm.cross_entropy(x, q, weight=w) == pytest.approx(per.sum() / 4, rel=1e-14)


def test_one_hot_probability_targets_equal_integer_targets(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5)).astype(dtype)
    y = rng.integers(0, 5, 6)
    q = ssm.one_hot(y, 5, dtype=dtype)
    for eps in (0.0, 0.2):
        a, ga = ssm.cross_entropy_with_grad(x, y, label_smoothing=eps, reduction="sum")
        b, gb = ssm.cross_entropy_with_grad(x, q, label_smoothing=eps, reduction="sum")
        assert_close(a, LD(b), dtype)
        assert_close(ga, gb.astype(LD), dtype, scale=1.0)


@pytest.mark.parametrize("label_dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8,
                                         np.uint16, np.uint32, np.uint64])
def test_integer_targets_of_any_integer_dtype(label_dtype):
    x = np.array([[0.0, 2.0, 4.0], [1.0, 0.0, 0.0]])
    y = np.array([2, 0], dtype=label_dtype)
    ref = -(ref_log_softmax(x)[[0, 1], [2, 0]]).mean()
    assert ssm.cross_entropy(x, y) == pytest.approx(ref, rel=1e-15)


def test_class_axis_not_last_matches_moved_axis(dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3, 5)).astype(dtype)      # (N, C, d1, d2)
    y = rng.integers(0, 4, (2, 3, 5))
    a, ga = ssm.cross_entropy_with_grad(x, y, axis=1, reduction="none")
    b, gb = ssm.cross_entropy_with_grad(np.moveaxis(x, 1, -1), y, reduction="none")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ga, np.moveaxis(gb, -1, 1))
    # negative axis spelling, non-contiguous input
    np.testing.assert_array_equal(ssm.cross_entropy(x, y, axis=-3, reduction="none"), a)
    xs = np.asfortranarray(x)
    np.testing.assert_array_equal(ssm.cross_entropy(xs, y, axis=1, reduction="none"), a)


def test_unbatched_input_and_scalar_results(dtype):
    x = np.array([0.0, 2.0, 4.0], dtype=dtype)
    for red in ("none", "mean", "sum"):
        v = ssm.cross_entropy(x, np.int64(2), reduction=red)
        assert isinstance(v, np.generic) and v.dtype == dtype
        assert float(v) == pytest.approx(-np.log(0.8668), abs=1e-4)


def test_float16_and_integer_logits():
    x16 = np.array([[0, 2, 4]], dtype=np.float16)
    v = ssm.cross_entropy(x16, [2])
    assert v.dtype == np.float16
    g = ssm.cross_entropy_with_grad(x16, [2])[1]
    assert g.dtype == np.float16
    vi = ssm.cross_entropy(np.array([[0, 2, 4]]), [2])
    assert vi.dtype == np.float64 and vi == pytest.approx(0.14293162849989952, rel=1e-15)


def test_lists_are_accepted():
    assert ssm.cross_entropy([[0.0, 2.0, 4.0]], [2]) == pytest.approx(0.14293162849989952, rel=1e-15)


def test_empty_batches():
    x = np.zeros((0, 3))
    y = np.zeros((0,), dtype=np.int64)
    assert np.isnan(ssm.cross_entropy(x, y))
    assert ssm.cross_entropy(x, y, reduction="sum") == 0
    assert ssm.cross_entropy(x, y, reduction="none").shape == (0,)
    loss, g = ssm.cross_entropy_with_grad(x, y, reduction="sum")
    assert g.shape == (0, 3)


# ---------------------------------------------------------------------------------------------
# Finite differences


@pytest.mark.parametrize("kind", ["int", "soft"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_gradient_matches_finite_differences(kind, reduction, eps):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 2))              # class axis 1
    w = rng.random(4) + 0.5
    if kind == "int":
        t = rng.integers(0, 4, (3, 2))
        t[1, 0] = -100
    else:
        t = rng.random((3, 4, 2))
    kw = dict(axis=1, weight=w, label_smoothing=eps, reduction=reduction)

    def f(z):
        return float(np.sum(ssm.cross_entropy(z, t, **kw)))

    _, g = ssm.cross_entropy_with_grad(x, t, **kw)
    h = 1e-6
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        fd[idx] = (f(x + e) - f(x - e)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# The article's numbers and the precision peers lose


def test_article_c3_example_loss():
    # softmax([0, 2, 4])[2] = 0.8668: the loss of class c3 is -ln 0.8668.
    for dt in (np.float32, np.float64):
        v = ssm.cross_entropy(np.array([[0, 2, 4]], dtype=dt), [2])
        assert round(float(v), 4) == round(-np.log(0.8668), 4)
        assert float(v) == pytest.approx(-float(ref_log_softmax(np.array([0.0, 2, 4]))[2]), rel=4 * np.finfo(dt).eps)


def test_tiny_loss_full_relative_precision_float64():
    x = np.array([[0.0, 25.0]])
    exact = np.log1p(np.exp(LD(-25)))
    loss, g = ssm.cross_entropy_with_grad(x, [1])
    assert_ulp(np.float64(loss), exact, 2, what="loss")
    assert_ulp(g[0, 1], -np.exp(LD(-25)) / (1 + np.exp(LD(-25))), 2, what="grad at target")
    assert_ulp(g[0, 0], np.exp(LD(-25)) / (1 + np.exp(LD(-25))), 2, what="grad off target")
    # NumPy's idiom -log(softmax) loses the digits (relative error ~1e-5 here, 0 beyond e^-37).
    p = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    idiom = -np.log(p[0, 1])
    assert abs(LD(idiom) - exact) / exact > 1e-7
    assert -np.log((np.exp(np.array([0.0, 40.0])) / np.exp(np.array([0.0, 40.0])).sum())[1]) == 0
    assert_ulp(ssm.cross_entropy(np.array([[0.0, 40.0]]), [1]), np.log1p(np.exp(LD(-40))), 2)


def test_tiny_loss_full_relative_precision_float32():
    x = np.array([[0.0, 20.0]], dtype=np.float32)
    exact = np.log1p(np.exp(LD(-20)))
    loss, g = ssm.cross_entropy_with_grad(x, [1])
    assert_ulp(loss, exact, 1, what="loss")
    assert_ulp(g[0, 1], -np.exp(LD(-20)) / (1 + np.exp(LD(-20))), 1, what="grad")
    p = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    assert -np.log(p[0, 1]) == 0      # float32 idiom: exactly 0


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.floats(0, 1), st.sampled_from(["none", "mean", "sum"]),
       st.booleans(), st.integers(0, 2**32 - 1))
def test_property_against_reference(batch, classes, eps, reduction, use_weight, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, classes)) * rng.choice([0.1, 1, 30])
    y = rng.integers(0, classes, batch)
    w = rng.random(classes) + 0.1 if use_weight else None
    loss, g = ssm.cross_entropy_with_grad(x, y, weight=w, label_smoothing=eps, reduction=reduction)
    ref_loss, ref_grad = ref_cross_entropy(x, y, weight=w, label_smoothing=eps, reduction=reduction)
    assert_close(loss, ref_loss, np.float64, what="loss")
    # Each gradient entry is A p_j - c_j: when both terms nearly cancel (heavy smoothing), the
    # error is relative to the terms, whose size is bounded by the largest weight / the divisor.
    wmax = float(np.max(w)) if w is not None else 1.0
    divisor = float(np.sum(w[y]) if w is not None else batch) if reduction == "mean" else 1.0
    scale = max(float(np.max(np.abs(ref_grad))), wmax / divisor)
    assert_close(g, ref_grad, np.float64, scale=scale, what="grad")


# ---------------------------------------------------------------------------------------------
# Special values


def test_special_rows():
    inf, nan = np.inf, np.nan
    x = np.array([
        [0.0, nan, 1.0],        # NaN: loss NaN, grad NaN
        [-inf, -inf, -inf],     # all -inf: loss +inf, grad 0
        [inf, 0.0, inf],        # two +inf: p = 1/2 on each
        [-inf, 0.0, 1.0],       # one -inf logit, not the target: finite
        [-inf, 0.0, 1.0],       # target on the -inf logit: +inf loss
    ])
    y = np.array([0, 1, 0, 2, 0])
    loss, g = ssm.cross_entropy_with_grad(x, y, reduction="none")
    assert np.isnan(loss[0]) and np.isnan(g[0]).all()
    assert loss[1] == inf and (g[1] == 0).all()
    assert loss[2] == pytest.approx(np.log(2)) and np.allclose(g[2], [-0.5, 0, 0.5])
    assert np.isfinite(loss[3]) and loss[3] == pytest.approx(np.log1p(np.exp(-1.0)))
    assert g[3][0] == 0 and np.isfinite(g[3]).all()
    assert loss[4] == inf
    # soft targets: a zero target on a -inf logit contributes 0, not NaN
    q = np.array([[0.0, 0.5, 0.5]])
    v = ssm.cross_entropy(np.array([[-inf, 0.0, 0.0]]), q)
    assert v == pytest.approx(np.log(2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_rows_among_long_rows(dtype):
    """Rows longer than 16 go by batches of eight: a special row sends its batch back to one row
    at a time, and the other rows' results (weighted, one ignored) must not change."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 3, (19, 40))
    y = rng.integers(0, 40, 19)
    y[4] = -100
    w = rng.uniform(0.5, 2.0, 40)
    x[2, 7] = np.nan
    x[10, :] = -np.inf
    x[17, 3] = np.inf
    y[17] = 5 if y[17] == 3 else y[17]  # the target is not the +inf logit
    x = x.astype(dtype)
    loss, g = ssm.cross_entropy_with_grad(x, y, weight=w.astype(dtype), reduction="none")
    assert np.isnan(loss[2]) and np.isnan(g[2]).all()
    assert loss[10] == np.inf and (g[10] == 0).all()
    others = (np.arange(40) != 3) & (np.arange(40) != y[17])
    assert (g[17][others] == 0).all() and g[17][3] == -g[17][y[17]] == dtype(w[y[17]])
    assert loss[4] == 0 and (g[4] == 0).all()
    ok = np.setdiff1d(np.arange(19), [2, 10, 17])
    rl, rg = ref_cross_entropy(x[ok], y[ok], weight=w.astype(dtype), reduction="none")
    tol = tolerance(dtype)
    np.testing.assert_allclose(loss[ok], rl.astype(np.float64), rtol=tol, atol=0)
    np.testing.assert_allclose(g[ok], rg.astype(np.float64), rtol=tol, atol=tol * 1e-30)
    # batches without a special row give the same bits as each row alone
    for r in (0, 9, 18):
        l1, g1 = ssm.cross_entropy_with_grad(x[r:r + 1], y[r:r + 1], weight=w.astype(dtype), reduction="none")
        assert l1[0] == loss[r] or (dtype == np.float32 and abs(l1[0] - loss[r]) <= 2 * tol * abs(loss[r]))
        np.testing.assert_array_equal(g1[0], g[r])


def test_results_do_not_depend_on_thread_count(restore_threads):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3000, 100))
    y = rng.integers(0, 100, 3000)
    out = []
    for n in (1, 2, 3):
        ssm.set_num_threads(n)
        out.append(ssm.cross_entropy_with_grad(x, y, label_smoothing=0.1))
    for loss, g in out[1:]:
        assert loss == out[0][0]
        np.testing.assert_array_equal(g, out[0][1])


# ---------------------------------------------------------------------------------------------
# Errors: each names the argument, and nothing is modified


def arrays():
    x = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    y = np.array([1, 2])
    return x, y


@pytest.mark.parametrize("func", [ssm.cross_entropy, ssm.cross_entropy_with_grad])
def test_errors(func):
    x, y = arrays()
    w = np.ones(3)
    q = np.full((2, 3), 1 / 3)
    cases = [
        (ValueError, (x, np.array([1, 3])), {}, r"labels\[1\] = 3 is outside \[0, 3\)"),
        (ValueError, (x, np.array([-1, 0])), {}, r"labels\[0\] = -1"),
        (ValueError, (x, np.array([-100, 0])), {"ignore_index": 0}, r"labels\[0\] = -100"),
        (ValueError, (x, y), {"label_smoothing": -0.1}, "label_smoothing"),
        (ValueError, (x, y), {"label_smoothing": 1.5}, "label_smoothing"),
        (ValueError, (x, y), {"label_smoothing": float("nan")}, "label_smoothing"),
        (ValueError, (x, q), {"label_smoothing": 2.0}, "label_smoothing"),
        (ValueError, (x, y), {"reduction": "avg"}, "reduction"),
        (ValueError, (x, y), {"reduction": None}, "reduction"),
        (ValueError, (x, y), {"weight": np.ones(2)}, "weight"),
        (ValueError, (x, np.array([1, 2, 0])), {}, "target"),
        (ValueError, (x, np.ones((3, 3))), {}, "target"),
        (ValueError, (x, np.array([1.0, 2.0])), {}, "target"),
        (TypeError, (x, np.array([True, False])), {}, "target"),
        (TypeError, (x, np.array(["a", "b"])), {}, "target"),
        (TypeError, (x, y), {"axis": (0, 1)}, "axis"),
        (TypeError, (x, y), {"axis": None}, "axis"),
        (np.exceptions.AxisError, (x, y), {"axis": 2}, "axis"),
        (TypeError, (x, y), {"ignore_index": 1.5}, "ignore_index"),
        (ValueError, (x, y), {"ignore_index": 2**70}, "ignore_index"),
        (TypeError, (np.array([[1j, 2j]]), np.array([0])), {}, "logits"),
        (ValueError, (np.float64(1.0), np.array(0)), {}, "logits"),
    ]
    for exc, args, kw, match in cases:
        arrs = [a for a in (*args, *kw.values()) if isinstance(a, np.ndarray)]
        assert_raises_unchanged(exc, func, *args, arrays=arrs, match=match, **kw)


def test_error_names_first_bad_label_and_position():
    x = np.zeros((2, 3, 4))        # class axis 1: labels (2, 4)
    y = np.zeros((2, 4), dtype=np.int64)
    y[1, 2] = 7
    y[1, 3] = 9
    with unchanged(x, y), pytest.raises(ValueError, match=r"cross_entropy: target: labels\[6\] = 7 is outside \[0, 3\)"):
        ssm.cross_entropy(x, y, axis=1)


def test_uint64_labels_beyond_int64_are_out_of_range_not_wrapped():
    x = np.zeros((1, 3))
    y = np.array([2**64 - 100], dtype=np.uint64)   # wraps to -100 if converted blindly
    with pytest.raises(ValueError, match="labels"):
        ssm.cross_entropy(x, y)


# ---------------------------------------------------------------------------------------------
# Cross-checks against peers, only when installed


def test_against_optax():
    optax = pytest.importorskip("optax")
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.integers(0, 5, 8)
    want = np.asarray(optax.softmax_cross_entropy_with_integer_labels(jnp.asarray(x), jnp.asarray(y)))
    np.testing.assert_allclose(ssm.cross_entropy(x, y, reduction="none"), want, rtol=1e-5, atol=1e-6)
    # probability targets, and the gradient of the mean through JAX's autodiff
    import jax
    q = rng.random((8, 5)).astype(np.float32)
    q /= q.sum(-1, keepdims=True)
    want = np.asarray(optax.softmax_cross_entropy(jnp.asarray(x), jnp.asarray(q)))
    np.testing.assert_allclose(ssm.cross_entropy(x, q, reduction="none"), want, rtol=1e-5, atol=1e-6)
    jg = jax.grad(lambda z: optax.softmax_cross_entropy(z, jnp.asarray(q)).mean())(jnp.asarray(x))
    _, g = ssm.cross_entropy_with_grad(x, q)
    np.testing.assert_allclose(g, np.asarray(jg), rtol=1e-4, atol=1e-6)
    # optax's smoothing form: labels (1-ε)·onehot + ε/C, as our label_smoothing
    sm = optax.smooth_labels(jax.nn.one_hot(jnp.asarray(y), 5), 0.1)
    want = np.asarray(optax.softmax_cross_entropy(jnp.asarray(x), sm))
    np.testing.assert_allclose(ssm.cross_entropy(x, y, label_smoothing=0.1, reduction="none"), want,
                               rtol=1e-5, atol=1e-6)


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 5, 3))
    y = rng.integers(0, 5, (4, 3))
    y[0, 0] = -100
    w = rng.random(5) + 0.5
    for red, eps in itertools.product(["none", "mean", "sum"], [0.0, 0.2]):
        xt = torch.tensor(x, requires_grad=True)
        lt = torch.nn.functional.cross_entropy(xt, torch.tensor(y), weight=torch.tensor(w),
                                               label_smoothing=eps, reduction=red)
        lt.sum().backward()
        loss, g = ssm.cross_entropy_with_grad(x, y, axis=1, weight=w, label_smoothing=eps, reduction=red)
        np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 8])
def test_zero_class_weight_at_minus_inf_target_contributes_zero(dtype, rows):
    # The target's logit is -inf and its class weight 0: the loss is 0, the limit (PyTorch's
    # 0·inf is NaN), as for a zero sample weight; found by the fuzzer on a [3, 17, 3] case.
    # Eight rows take the vector kernel, one the scalar one; smoothing leaves the zero
    # coefficient's term out too, and NaN logits still give NaN.
    row = [-416.0, 0.0, 0.0, -np.inf, 404.0, 500.0, -4.0, 364.0]
    w = np.array([0.5, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.5], dtype)
    x = np.array([row] * rows, dtype)
    loss, grad = ssm.cross_entropy_with_grad(x, [3] * rows, weight=w, reduction="none")
    assert np.array_equal(loss, np.zeros(rows, dtype))
    assert np.all(np.isfinite(grad))
    smoothed = ssm.cross_entropy(x, [3] * rows, weight=w, reduction="none", label_smoothing=0.1)
    assert np.all(np.isfinite(smoothed)) and np.all(smoothed > 0)
    x[0, 0] = np.nan
    assert np.isnan(ssm.cross_entropy(x, [3] * rows, weight=w, reduction="none")[0])
