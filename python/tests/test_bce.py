"""binary_cross_entropy_with_logits and its gradient: values, PyTorch's semantics, the large-|x|
pos_weight cases, special values, validation and determinism."""

from __future__ import annotations

import numpy as np
import pytest

import swiftsoftmax as ssm
from conftest import LD

BCE = ssm.binary_cross_entropy_with_logits
BCE_GRAD = ssm.binary_cross_entropy_with_logits_with_grad


def ref_ld(x, t, w=1.0, pw=1.0):
    """-w·[pw·t·log σ(x) + (1-t)·log(1-σ(x))] in longdouble, in the log1p form."""
    x, t = np.asarray(x).astype(LD), np.asarray(t).astype(LD)
    w, pw = np.asarray(w).astype(LD), np.asarray(pw).astype(LD)
    e = np.exp(-np.abs(x))
    log_s = np.minimum(x, 0) - np.log1p(e)
    log_1ms = -np.maximum(x, 0) - np.log1p(e)
    return -w * (pw * t * log_s + (1 - t) * log_1ms)


def grad_ld(x, t, w=1.0, pw=1.0):
    x, t = np.asarray(x).astype(LD), np.asarray(t).astype(LD)
    w, pw = np.asarray(w).astype(LD), np.asarray(pw).astype(LD)
    s = 1 / (1 + np.exp(-x))
    return w * ((1 - t) * s - pw * t * (1 - s))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_values_against_longdouble(dtype, reduction):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 4, (33, 17)).astype(dtype)
    t = rng.uniform(0, 1, x.shape).astype(dtype)
    w = rng.uniform(0, 2, (17,)).astype(dtype)
    pw = rng.uniform(0, 5, (17,)).astype(dtype)
    loss, g = BCE_GRAD(x, t, weight=w, pos_weight=pw, reduction=reduction)
    r = ref_ld(x, t, w, pw)
    gr = grad_ld(x, t, w, pw)
    if reduction == "mean":
        r, gr = r.mean(), gr / x.size
    elif reduction == "sum":
        r = r.sum()
    rtol = 4 * np.finfo(dtype).eps
    np.testing.assert_allclose(np.asarray(loss, LD), r, rtol=rtol, atol=0)
    assert np.max(np.abs(g - gr)) <= 2 * np.finfo(dtype).eps * np.max(np.abs(gr))
    assert loss.dtype == dtype and g.dtype == dtype and g.shape == x.shape
    np.testing.assert_array_equal(BCE(x, t, weight=w, pos_weight=pw, reduction=reduction), loss)


def test_large_logits_with_pos_weight_are_exact_not_nan():
    """pytorch#13773: BCEWithLogitsLoss with pos_weight gave NaN or wrong values for large |x|
    (Paddle's port likewise). Here every such element is the exact value, in both dtypes."""
    for dtype in (np.float32, np.float64):
        x = np.array([-1e4, -800, -200, -100, 100, 200, 800, 1e4, 3e38], dtype)
        t = np.array([1, 1, 0.5, 1, 0, 0.25, 1, 0.5, 0.75], dtype)
        loss, g = BCE_GRAD(x, t, pos_weight=np.array(7.5, dtype), reduction="none")
        assert np.all(np.isfinite(loss)) and np.all(np.isfinite(g))
        r = ref_ld(x, t, 1.0, 7.5)
        np.testing.assert_allclose(np.asarray(loss, LD), r.astype(dtype), rtol=2 * np.finfo(dtype).eps)
        np.testing.assert_allclose(g, grad_ld(x, t, 1.0, 7.5).astype(dtype), rtol=2 * np.finfo(dtype).eps)
    # Confident and right: the loss keeps its digits instead of rounding to 0.
    assert float(BCE([40.0], [1.0], pos_weight=[3.0], reduction="sum")) == pytest.approx(3 * 4.248354255291589e-18, rel=1e-15)
    _, g = BCE_GRAD(np.array([40.0]), np.array([1.0]), reduction="sum")
    assert g[0] == pytest.approx(-4.248354255291589e-18, rel=1e-15)


def test_against_pytorch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, (8, 5, 6))
    t = rng.uniform(0, 1, x.shape)
    cases = [{}, {"weight": rng.uniform(0, 2, (6,))}, {"weight": rng.uniform(0, 2, (8, 1, 1))},
             {"pos_weight": rng.uniform(0, 4, (6,))}, {"pos_weight": rng.uniform(0, 4, (5, 1))},
             {"weight": rng.uniform(0, 2, (5, 6)), "pos_weight": np.array([2.5])}]
    for kw in cases:
        for reduction in ("none", "mean", "sum"):
            xt = torch.tensor(x, requires_grad=True)
            tkw = {k: torch.tensor(v) for k, v in kw.items()}
            ref = F.binary_cross_entropy_with_logits(xt, torch.tensor(t), reduction=reduction, **tkw)
            ref.sum().backward()
            loss, g = BCE_GRAD(x, t, reduction=reduction, **kw)
            np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12, atol=1e-17)


def test_special_values():
    x = np.array([np.nan, np.inf, np.inf, -np.inf, -np.inf, 0.0])
    t = np.array([0.5, 1.0, 0.5, 0.0, 1.0, 0.5])
    loss, g = BCE_GRAD(x, t, reduction="none")
    assert np.isnan(loss[0]) and np.isnan(g[0])
    # A zero coefficient of an infinite logit counts 0 (PyTorch: 0·inf = NaN); otherwise +inf.
    np.testing.assert_array_equal(loss[1:], [0.0, np.inf, 0.0, np.inf, np.log(2)])
    np.testing.assert_array_equal(g[1:], [0.0, 0.5, 0.0, -1.0, 0.0])
    # A zero weight contributes nothing, even with an infinite loss.
    assert float(BCE([np.inf, 1.0], [0.0, 1.0], weight=[0.0, 1.0], reduction="sum")) == pytest.approx(np.log1p(np.exp(-1.0)))
    assert np.isnan(BCE([np.nan, 1.0], [0.0, 1.0]))


def test_dtypes_shapes_and_empty():
    assert BCE(np.float16([0.0, 1.0]), np.float16([1.0, 0.0]), reduction="none").dtype == np.float16
    assert BCE([1, 2], [1, 0]).dtype == np.float64
    assert isinstance(BCE(np.float32(0.5), np.float32(1.0)), np.float32)
    assert BCE(np.zeros((0, 3)), np.zeros((0, 3)), reduction="none").shape == (0, 3)
    assert float(BCE(np.zeros((0, 3)), np.zeros((0, 3)), reduction="sum")) == 0.0
    assert np.isnan(BCE(np.zeros((0, 3)), np.zeros((0, 3))))
    # A non-contiguous, Fortran-ordered input is read as its values.
    x = np.asfortranarray(np.arange(12.0).reshape(3, 4) - 6)
    t = np.full((3, 4), 0.25)
    np.testing.assert_array_equal(BCE(x, t, reduction="none"), BCE(np.ascontiguousarray(x), t, reduction="none"))
    np.testing.assert_array_equal(BCE(x[:, ::2], t[:, ::2], reduction="none"),
                                  BCE(np.ascontiguousarray(x[:, ::2]), t[:, ::2], reduction="none"))


@pytest.mark.parametrize("kwargs, match", [
    ({"target": [0.5, 1.5]}, r"^binary_cross_entropy_with_logits(_with_grad)?: target\[1\] = 1\.5 is outside \[0, 1\]$"),
    ({"target": [np.nan, 0.5]}, r"target\[0\] = nan"),
    ({"target": [0.5]}, r"target: expected the logits' shape \(2,\), got \(1,\)"),
    ({"weight": [1.0, -1.0]}, r"weight\[1\] = -1\.0: weights must be finite and >= 0"),
    ({"weight": [1.0, np.inf]}, r"weight\[1\] = inf"),
    ({"weight": [1.0, 1.0, 1.0]}, r"weight: shape \(3,\) does not broadcast to the logits' shape \(2,\)"),
    ({"pos_weight": [-2.0]}, r"pos_weight\[0\] = -2\.0"),
    ({"pos_weight": [[1.0], [2.0]]}, r"pos_weight: shape \(2, 1\) does not broadcast"),
    ({"reduction": "avg"}, r"reduction"),
])
def test_errors_name_the_argument(kwargs, match):
    args = {"target": [0.5, 0.5], **kwargs}
    target = args.pop("target")
    for f in (BCE, BCE_GRAD):
        with pytest.raises(ValueError, match=match):
            f([0.0, 1.0], target, **args)


def test_threads_do_not_change_bits():
    rng = np.random.default_rng(3)
    x = rng.normal(0, 5, (300, 1000)).astype(np.float32)
    t = rng.uniform(0, 1, x.shape).astype(np.float32)
    pw = rng.uniform(0, 3, 1000).astype(np.float32)
    n = ssm.get_num_threads()
    try:
        results = []
        for k in (1, 2, 3, 7):
            ssm.set_num_threads(k)
            results.append(BCE_GRAD(x, t, pos_weight=pw))
    finally:
        ssm.set_num_threads(n)
    for loss, g in results[1:]:
        assert loss.tobytes() == results[0][0].tobytes()
        assert g.tobytes() == results[0][1].tobytes()


def test_the_first_bad_target_is_named_for_any_thread_count():
    """Targets are checked in blocks on the worker threads: the error names the first bad
    element wherever the blocks fall, and the gradient (here the targets' own buffer) is left
    as it was."""
    rng = np.random.default_rng(5)
    x = rng.normal(0, 3, (100, 2000))
    n = ssm.get_num_threads()
    try:
        for k in (1, 2, 3):
            ssm.set_num_threads(k)
            for bad in ([199_999], [150_001, 190_000], [40_000, 32_767, 99_000], [5]):
                t = rng.uniform(0, 1, x.shape)
                flat = t.reshape(-1)
                flat[bad] = [2.0, -0.5, np.nan][:len(bad)]
                before = t.copy()
                first = min(bad)
                with pytest.raises(ValueError, match=rf"target\[{first}\] = "):
                    BCE_GRAD(x, t)
                np.testing.assert_array_equal(t, before)
            w = np.ones(x.shape)
            w.reshape(-1)[[120_000, 70_000]] = [-1.0, np.inf]
            with pytest.raises(ValueError, match=r"weight\[70000\] = inf"):
                BCE_GRAD(x, rng.uniform(0, 1, x.shape), weight=w)
    finally:
        ssm.set_num_threads(n)


def test_mean_is_compensated():
    """A mean of many losses of different magnitudes equals the exact mean within an ulp."""
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(0, 1, 100_000), rng.normal(30, 1, 100_000)])
    t = np.concatenate([np.zeros(100_000), np.ones(100_000)])
    r = ref_ld(x, t)
    got = BCE(x, t)
    assert abs(LD(got) - r.mean()) <= np.spacing(got)


def test_longdouble_reference_agrees_with_mpmath():
    """The accuracy suite's longdouble reference (the log1p form) against mpmath at 60 digits."""
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 10, 40), [-700.0, 700.0, 1e-20, -35.0]])
    t = rng.uniform(0, 1, x.size)
    pw = 3.25
    from test_accuracy import ref_bce_ld

    for r in (ref_ld(x, t, 1.0, pw), ref_bce_ld({"x": x, "t": t, "pw": pw})):
        with mpmath.workdps(60):
            for xi, ti, ri in zip(x, t, r):
                xm, tm = mpmath.mpf(float(xi)), mpmath.mpf(float(ti))
                log_s, log_1ms = -mpmath.log1p(mpmath.exp(-xm)), -mpmath.log1p(mpmath.exp(xm))
                exact = -(mpmath.mpf(pw) * tm * log_s + (1 - tm) * log_1ms)
                # Far below float64's half ulp (1.1e-16): a few longdouble roundings (5.4e-20 each).
                assert abs(float((mpmath.mpf(str(ri)) - exact) / exact)) < 1e-18
