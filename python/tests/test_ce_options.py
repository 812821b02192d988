"""cross_entropy's large-vocabulary options (sample_weight, z_loss, softcap, return_lse) against an
mpmath reference written out here, every option and combination (hypothesis); sample weights
against weighting reduction='none' by hand, the gradient against finite differences of that
loss; PyTorch's F.cross_entropy and autograd of the float64 formulas where installed; errors."""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import swiftsoftmax as ssm
from conftest import LD

# ---------------------------------------------------------------------------------------------
# the reference: mpmath, 60 digits, one sample at a time


def ref_ce_options(x, t, weight=None, sample_weight=None, z_loss=0.0, softcap=None,
                   label_smoothing=0.0, reduction="mean", ignore_index=-100, magnitudes=False):
    """(loss, grad, lse) as mpmath values: x (N, C), t labels (N,) or probabilities (N, C).
    With `magnitudes`, also the gradient's terms summed in magnitude, (|A'| p_j + c_j)·slope_j:
    the scale of its rounding where A' p_j - c_j cancels."""
    mpmath.mp.dps = 60
    x = np.asarray(x, dtype=np.float64)
    N, C = x.shape
    eps = mpmath.mpf(float(label_smoothing))
    z = mpmath.mpf(float(z_loss))
    w = [mpmath.mpf(1)] * C if weight is None else [mpmath.mpf(float(v)) for v in weight]
    sw = [mpmath.mpf(1)] * N if sample_weight is None else [mpmath.mpf(float(v)) for v in np.ravel(sample_weight)]
    t = np.asarray(t)
    soft = t.dtype.kind == "f"
    losses, grads, lses, mags, den = [], [], [], [], mpmath.mpf(0)
    for n in range(N):
        xs = [mpmath.mpf(float(v)) for v in x[n]]
        # Each (capped) logit as big + small: cap·tanh(u) = s·cap - s·cap·r, r = 1 - tanh|u| =
        # 2/(e^{2|u|} + 1) to relative precision, so that saturated logits 1e-170 apart keep
        # their differences at any working precision.
        if softcap is None:
            big, small, slope = xs, [mpmath.mpf(0)] * C, [mpmath.mpf(1)] * C
        else:
            cap = mpmath.mpf(float(softcap))
            sg = [1 if v >= 0 else -1 for v in xs]
            r = [2 / (mpmath.exp(2 * abs(v) / cap) + 1) if mpmath.isfinite(v) else mpmath.mpf(0) for v in xs]
            big = [s * cap for s in sg]
            small = [-s * cap * rr for s, rr in zip(sg, r)]
            slope = [rr * (2 - rr) for rr in r]
        k = max(range(C), key=lambda j: (big[j], small[j]))
        shift = [(big[j] - big[k]) + (small[j] - small[k]) for j in range(C)]
        # log1p of the other terms: a confident row's 1 + 1e-71 would round to 1 at 60 digits.
        log_s = mpmath.log1p(mpmath.fsum(mpmath.exp(v) for j, v in enumerate(shift) if j != k))
        lse = big[k] + small[k] + log_s
        lses.append(lse)
        p = [mpmath.exp(v - log_s) for v in shift]
        if soft:
            coef = [w[j] * sw[n] * (mpmath.mpf(float(t[n, j])) * (1 - eps) + eps / C) for j in range(C)]
            zw = z * sw[n]
            den += sw[n]
        else:
            y = int(t[n])
            if y == ignore_index:
                losses.append(mpmath.mpf(0))
                grads.append([mpmath.mpf(0)] * C)
                mags.append([mpmath.mpf(0)] * C)
                continue
            coef = [sw[n] * ((1 - eps) * w[y] * (j == y) + eps / C * w[j]) for j in range(C)]
            zw = z * w[y] * sw[n]
            den += w[y] * sw[n]
        a = mpmath.fsum(coef)
        losses.append(mpmath.fsum(c * (log_s - v) for c, v in zip(coef, shift)) + zw * lse * lse)
        grads.append([((a + 2 * zw * lse) * p[j] - coef[j]) * slope[j] for j in range(C)])
        mags.append([(abs(a + 2 * zw * lse) * p[j] + coef[j]) * slope[j] for j in range(C)])
    if magnitudes:
        d = den if reduction == "mean" and den != 0 else 1
        return ref_ce_options(x, t, weight, sample_weight, z_loss, softcap, label_smoothing, reduction,
                              ignore_index) + ([[v / d for v in row] for row in mags],)
    if reduction == "none":
        return losses, grads, lses
    total = mpmath.fsum(losses)
    if reduction == "sum":
        return total, grads, lses
    if den == 0:
        return mpmath.nan, [[mpmath.mpf(0)] * C for _ in range(N)], lses
    return total / den, [[g / den for g in row] for row in grads], lses


def ulps(actual, reference, dtype):
    """ULP errors of `actual` against mpmath values (same nesting), elementwise."""
    dt = np.dtype(dtype)
    a = np.asarray(actual, dtype=np.float64)
    r = np.array(reference, dtype=object).reshape(a.shape)
    out = np.zeros(a.shape)
    for i in np.ndindex(a.shape):
        rv, av = r[i], a[i]
        if mpmath.isnan(rv) or np.isnan(av):
            out[i] = 0 if mpmath.isnan(rv) and np.isnan(av) else np.inf
        elif mpmath.isinf(rv) or np.isinf(av):
            out[i] = 0 if float(rv) == av else np.inf
        else:
            sp = max(float(np.spacing(abs(dt.type(float(rv))))), float(np.finfo(dt).smallest_subnormal))
            out[i] = float(abs(mpmath.mpf(float(av)) - rv) / sp)
    return out


def assert_grad(actual, reference, dtype, what="", magnitudes=None):
    """Within 4 ULP of each entry plus 8 ULP of its terms' magnitude (an entry A' p - c that
    comes out of cancellation keeps an absolute error of that order); without the magnitudes,
    of the largest entry."""
    dt = np.dtype(dtype)
    a = np.asarray(actual, dtype=np.float64)
    ref = np.array([[float(v) for v in row] for row in reference]).reshape(a.shape)
    if magnitudes is None:
        scale = np.max(np.abs(ref)) if ref.size else 0.0
    else:
        scale = np.array([[float(v) for v in row] for row in magnitudes]).reshape(a.shape)
    err = np.abs(a - ref)
    bound = 4 * np.spacing(np.abs(ref).astype(dt)).astype(np.float64) + 8 * float(np.finfo(dt).eps) * scale
    bad = ~(err <= bound) & ~(np.isnan(a) & np.isnan(ref))
    assert not bad.any(), f"{what}: at {np.argwhere(bad)[0]}: got {a[bad][0]!r}, want {ref[bad][0]!r}"


def run(x, t, **kw):
    """ours, 2-d: (loss, grad, lse)."""
    return ssm.cross_entropy_with_grad(x, t, return_lse=True, **kw)


# ---------------------------------------------------------------------------------------------
# every option and combination against the reference


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 9), soft=st.booleans(), use_w=st.booleans(),
       use_sw=st.booleans(), z=st.sampled_from([0.0, 1e-4, 0.5]), cap=st.sampled_from([None, 1.0, 5.0, 30.0]),
       eps=st.sampled_from([0.0, 0.1]), reduction=st.sampled_from(["none", "mean", "sum"]),
       scale=st.sampled_from([1.0, 10.0, 100.0]), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**32 - 1))
def test_options_against_mpmath(n, c, soft, use_w, use_sw, z, cap, eps, reduction, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, c)) * scale).astype(dtype)
    if soft:
        q = rng.random((n, c))
        t = (q / q.sum(-1, keepdims=True)).astype(dtype)
    else:
        t = rng.integers(0, c, n)
        t[rng.random(n) < 0.2] = -100
    w = (rng.random(c) * 2).astype(dtype) if use_w else None
    sw = (rng.random(n) * 3).astype(dtype) if use_sw else None
    kw = dict(weight=w, sample_weight=sw, z_loss=z, softcap=cap, label_smoothing=eps, reduction=reduction)
    loss, grad, lse = run(x, t, **kw)
    rl, rg, rs, mags = ref_ce_options(x, t, magnitudes=True, **kw)
    what = f"{np.dtype(dtype).name} {kw}"
    assert lse.dtype == dtype and lse.shape == (n,)
    assert ulps(lse, rs, dtype).max() <= 2, what
    # A mean or sum adds one rounding per sample to the per-sample bound.
    assert ulps(loss, rl, dtype).max() <= (3 if reduction == "none" else 4), what
    assert_grad(grad, rg, dtype, what, mags)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cap", [None, 1.0, 30.0])
def test_probability_targets_with_every_option(dtype, cap):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((2, 3, 5)) * 4).astype(dtype)     # classes on axis 1
    q = rng.random((2, 3, 5))
    q = (q / q.sum(1, keepdims=True)).astype(dtype)
    sw = (rng.random((2, 5)) + 0.5).astype(dtype)
    loss, grad, lse = ssm.cross_entropy_with_grad(x, q, axis=1, sample_weight=sw, z_loss=1e-2, softcap=cap,
                                                  return_lse=True)
    xl = np.moveaxis(x, 1, -1).reshape(-1, 3)
    ql = np.moveaxis(q, 1, -1).reshape(-1, 3)
    rl, rg, rs = ref_ce_options(xl, ql, sample_weight=sw.ravel(), z_loss=1e-2, softcap=cap)
    assert ulps(loss, rl, dtype).max() <= 4
    assert ulps(lse.ravel(), rs, dtype).max() <= 2
    assert_grad(np.moveaxis(grad, 1, -1).reshape(-1, 3), rg, dtype)


# ---------------------------------------------------------------------------------------------
# sample weights: the hand-weighted loss and its gradient


def ld_loss_none(x, y, w):
    """Per-sample losses -w[y] log p[y] in long double (no ignored samples)."""
    x = np.asarray(x, dtype=LD)
    m = x.max(-1, keepdims=True)
    logp = x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))
    return -np.asarray(w, dtype=LD)[y] * np.take_along_axis(logp, y[:, None], -1)[:, 0]


def test_sample_weight_is_hand_weighting_and_its_gradient():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((6, 5)) * 2
    y = rng.integers(0, 5, 6)
    w = rng.random(5) + 0.5
    sw = rng.random(6) * 3

    def hand(xv):
        return np.sum(sw * ld_loss_none(xv, y, w)) / np.sum(LD(1) * sw * w[y])

    loss, grad = ssm.cross_entropy_with_grad(x, y, weight=w, sample_weight=sw)
    # The loss is Σ sw·l_n / Σ sw·w[y_n], as weighting reduction="none" by hand.
    np.testing.assert_allclose(loss, float(hand(x)), rtol=4e-16)
    per = ssm.cross_entropy(x, y, weight=w, reduction="none")
    np.testing.assert_allclose(loss, np.sum(sw * per) / np.sum(sw * w[y]), rtol=1e-14)
    # Its gradient is the gradient of that loss: central differences in long double.
    h = LD(2.0**-20)
    fd = np.zeros_like(x, dtype=LD)
    for i in np.ndindex(x.shape):
        xp = x.astype(LD)
        xm = x.astype(LD)
        xp[i] += h
        xm[i] -= h
        fd[i] = (hand(xp) - hand(xm)) / (2 * h)
    np.testing.assert_allclose(grad, fd.astype(np.float64), rtol=1e-9, atol=1e-12)


def test_sample_weight_zero_and_ignored_samples_leave_the_denominator():
    x = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    y = np.array([2, -100, 0])
    sw = np.array([2.0, 5.0, 0.0])
    loss = ssm.cross_entropy(x, y, sample_weight=sw)
    per = ssm.cross_entropy(x, y, reduction="none")
    assert loss == pytest.approx(2.0 * per[0] / 2.0, rel=1e-15)
    # Every applied weight 0: the mean is 0/0, the gradient 0.
    loss, grad = ssm.cross_entropy_with_grad(x, y, sample_weight=[0.0, 1.0, 0.0])
    assert np.isnan(loss) and not grad.any()


def test_sample_weight_broadcasts_and_follows_the_class_axis():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 2))               # classes on axis 1: samples (3, 2)
    y = rng.integers(0, 4, (3, 2))
    sw = rng.random((3, 1)) + 0.5
    got = ssm.cross_entropy(x, y, axis=1, sample_weight=sw, reduction="none")
    per = ssm.cross_entropy(x, y, axis=1, reduction="none")
    np.testing.assert_allclose(got, per * sw, rtol=2e-16)


# ---------------------------------------------------------------------------------------------
# z-loss, softcap and the lse output on their own


def test_lse_is_logsumexp_and_covers_ignored_samples():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 7, 3)) * 5
    y = rng.integers(0, 7, (4, 3))
    y[1, 2] = -100
    loss, lse = ssm.cross_entropy(x, y, axis=1, reduction="none", return_lse=True)
    assert lse.shape == (4, 3)
    np.testing.assert_allclose(lse, ssm.logsumexp(x, axis=1), rtol=3e-16)
    # The options run the general kernel, whose last bit may differ from the label kernel's.
    np.testing.assert_allclose(loss, ssm.cross_entropy(x, y, axis=1, reduction="none"), rtol=4e-16)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_lse_and_options_in_every_dtype(dtype):
    x = np.array([[0.0, 2.0, 4.0], [1.0, -1.0, 3.0]], dtype=dtype)
    loss, grad, lse = ssm.cross_entropy_with_grad(x, [2, 0], softcap=3.0, z_loss=1e-3, sample_weight=[1.0, 2.0],
                                                  return_lse=True)
    assert loss.dtype == grad.dtype == lse.dtype == dtype
    c = 3.0 * np.tanh(x.astype(np.float64) / 3.0)
    np.testing.assert_allclose(lse, np.log(np.exp(c).sum(-1)), rtol=float(np.finfo(dtype).eps))


def test_softcap_saturates_infinities_and_keeps_nan():
    x = np.array([[np.inf, 0.0, -np.inf], [np.nan, 0.0, 1.0], [-np.inf, -np.inf, -np.inf]])
    loss, grad, lse = ssm.cross_entropy_with_grad(x, [0, 1, 2], softcap=2.0, reduction="none", return_lse=True)
    c = np.array([2.0, 0.0, -2.0])
    assert loss[0] == pytest.approx(np.log(np.exp(c).sum()) - 2.0, rel=1e-15)
    assert grad[0, 0] == 0 and grad[0, 2] == 0         # slope 0 at ±inf
    assert np.isnan(loss[1]) and np.isnan(lse[1]) and np.isnan(grad[1]).all()
    assert loss[2] == pytest.approx(np.log(3.0), rel=1e-15) and lse[2] == pytest.approx(np.log(3.0) - 2.0, rel=1e-15)


def test_z_loss_of_an_infinite_logsumexp_is_infinite_with_nan_gradient():
    x = np.array([[-np.inf, -np.inf], [np.inf, 0.0], [0.0, 1.0]])
    y = np.array([0, 0, 1])
    loss, grad, lse = ssm.cross_entropy_with_grad(x, y, z_loss=1e-4, reduction="none", return_lse=True)
    assert loss[0] == np.inf and loss[1] == np.inf and np.isfinite(loss[2])
    assert np.isnan(grad[:2]).all() and np.isfinite(grad[2]).all()
    assert lse[0] == -np.inf and lse[1] == np.inf
    # Without the z-loss these rows keep their limits: infinite loss / log 1, zero gradient.
    loss, grad = ssm.cross_entropy_with_grad(x, y, reduction="none")
    assert loss[0] == np.inf and loss[1] == 0 and not grad[:2].any()


def test_softcap_keeps_confident_losses_to_the_last_bits():
    # z_y = 30 tanh(2) and z_c = 30 tanh(-1): the loss is about e^{z_c - z_y} = 1.2e-20, whose
    # digits depend on every digit of the capped logits.
    x = np.array([[60.0, -30.0, -29.0]])
    loss, grad, lse = run(x, [0], softcap=30.0)
    rl, rg, rs = ref_ce_options(x, [0], softcap=30.0)
    assert float(loss) < 1e-18
    assert ulps(loss, rl, np.float64).max() <= 2
    assert_grad(grad, rg, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cap", [1e-3, 1.0, 30.0])
def test_softcap_keeps_tiny_logits_relative(dtype, cap):
    # A single class's lse is its capped logit, cap·tanh(x/cap), about x when x is tiny: formed
    # as cap - cap·(1 - tanh|u|) it cancelled to 0 in float32 (found by the fuzzer).
    mpmath.mp.dps = 50
    for v in [4.66e-42, -1e-40, 1e-30, 3e-8, -2e-6, 1e-300, 0.4 * cap]:
        x = np.array([[v]], dtype=dtype)
        if x[0, 0] == 0 or not np.isfinite(x[0, 0]):
            continue
        loss, lse = ssm.cross_entropy(x, [0], softcap=cap, reduction="none", return_lse=True)
        ref = mpmath.mpf(cap) * mpmath.tanh(mpmath.mpf(float(x[0, 0])) / mpmath.mpf(cap))
        assert ulps(lse, [ref], dtype).max() <= 2, (v, lse[0], float(ref))
        assert loss[0] == 0


def test_defaults_are_the_plain_loss_bit_for_bit():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((33, 10))
    y = rng.integers(0, 10, 33)
    plain = ssm.cross_entropy_with_grad(x, y)
    # Lists take the general path (the ex entry point with every option at its default).
    general = ssm.cross_entropy_with_grad(x.tolist(), y.tolist(), z_loss=0.0, softcap=None, sample_weight=None)
    assert plain[0] == general[0]
    np.testing.assert_array_equal(plain[1], general[1])
    # Sample weights scale the label kernel's one coefficient: unit weights change no bit.
    loss, grad = ssm.cross_entropy_with_grad(x, y, sample_weight=np.ones(33))
    assert loss == plain[0]
    np.testing.assert_array_equal(grad, plain[1])
    # The z-loss and the lse run the general kernel: each result within 2 ULP of the exact one,
    # so the two within 4 ULP (2^-50 relative) of each other; on AVX2 a gradient entry of 0.0021
    # came 1.47 ULP above by one kernel and 1.53 below by the other.
    loss, grad, _ = ssm.cross_entropy_with_grad(x, y, return_lse=True)
    np.testing.assert_allclose(loss, plain[0], rtol=2.0**-50)
    np.testing.assert_allclose(grad, plain[1], rtol=2.0**-50, atol=1e-19)


def test_options_do_not_depend_on_thread_count(restore_threads):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((2048, 300)) * 5).astype(np.float32)
    y = rng.integers(0, 300, 2048)
    sw = rng.random(2048).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        ssm.set_num_threads(threads)
        results.append(ssm.cross_entropy_with_grad(x, y, sample_weight=sw, z_loss=1e-4, softcap=15.0,
                                                   return_lse=True))
    for r in results[1:]:
        for a, b in zip(r, results[0]):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# errors: the library's checks, named


@pytest.mark.parametrize("func", [ssm.cross_entropy, ssm.cross_entropy_with_grad])
@pytest.mark.parametrize("kw,exc,match", [
    ({"z_loss": -1e-4}, ValueError, "z_loss must be finite and >= 0"),
    ({"z_loss": float("nan")}, ValueError, "z_loss"),
    ({"z_loss": float("inf")}, ValueError, "z_loss"),
    ({"z_loss": "a"}, TypeError, "z_loss"),
    ({"softcap": 0.0}, ValueError, "softcap must be finite and > 0"),
    ({"softcap": -1.0}, ValueError, "softcap"),
    ({"softcap": float("nan")}, ValueError, "softcap"),
    ({"softcap": float("inf")}, ValueError, "softcap"),
    ({"softcap": [1.0]}, TypeError, "softcap"),
    ({"sample_weight": [1.0, -1.0]}, ValueError, r"sample_weight\[1\] must be finite and >= 0"),
    ({"sample_weight": [np.nan, 1.0]}, ValueError, r"sample_weight\[0\]"),
    ({"sample_weight": [1.0, np.inf]}, ValueError, r"sample_weight\[1\]"),
    ({"sample_weight": [1.0, 2.0, 3.0]}, ValueError, "sample_weight: expected one weight per sample"),
    ({"sample_weight": [[1.0, 2.0]] * 2}, ValueError, "sample_weight"),
    ({"sample_weight": ["a", "b"]}, TypeError, "sample_weight"),
])
def test_option_errors(func, kw, exc, match):
    x = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    with pytest.raises(exc, match=match):
        func(x, np.array([1, 2]), **kw)
    with pytest.raises(exc, match=match):
        func(x, np.full((2, 3), 1 / 3), **kw)


# ---------------------------------------------------------------------------------------------
# PyTorch, where installed


def test_sample_weights_against_torch_reduction_none():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 5, 3))
    y = rng.integers(0, 5, (4, 3))
    y[0, 0] = -100
    q = rng.random((4, 5, 3))
    q /= q.sum(1, keepdims=True)
    w = rng.random(5) + 0.5
    sw = rng.random((4, 3)) * 2
    for target, eps in itertools.product([y, q], [0.0, 0.2]):
        xt = torch.tensor(x, requires_grad=True)
        per = torch.nn.functional.cross_entropy(xt, torch.tensor(target), weight=torch.tensor(w),
                                                label_smoothing=eps, reduction="none")
        if target is y:
            den = (torch.tensor(w)[torch.tensor(y).clamp(min=0)] * (torch.tensor(y) != -100) * torch.tensor(sw)).sum()
        else:
            den = torch.tensor(sw).sum()
        lt = (per * torch.tensor(sw)).sum() / den
        lt.backward()
        loss, g = ssm.cross_entropy_with_grad(x, target, axis=1, weight=w, label_smoothing=eps, sample_weight=sw)
        np.testing.assert_allclose(loss, lt.item(), rtol=1e-13)
        np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_z_loss_and_softcap_against_torch_autograd(reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 9)) * 20
    y = rng.integers(0, 9, 6)
    y[2] = -100
    w = rng.random(9) + 0.5
    sw = rng.random(6) * 2
    z, cap = 1e-3, 30.0
    xt = torch.tensor(x, requires_grad=True)
    c = cap * torch.tanh(xt / cap)
    lse = torch.logsumexp(c, -1)
    yt = torch.tensor(y)
    kept = (yt != -100).double()
    wy = torch.tensor(w)[yt.clamp(min=0)] * kept
    per = (torch.nn.functional.cross_entropy(c, yt, weight=torch.tensor(w), reduction="none")
           + z * wy * lse**2) * torch.tensor(sw)
    lt = {"none": per, "sum": per.sum(), "mean": per.sum() / (wy * torch.tensor(sw)).sum()}[reduction]
    lt.sum().backward()
    loss, g, ours_lse = ssm.cross_entropy_with_grad(x, y, weight=w, sample_weight=sw, z_loss=z, softcap=cap,
                                                    reduction=reduction, return_lse=True)
    np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(ours_lse, lse.detach().numpy(), rtol=1e-14)


def test_docstring_examples():
    import doctest

    from swiftsoftmax import _loss

    failures, tried = doctest.testmod(_loss, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_linear_cross_entropy_passes_the_options_through(dtype, reduction):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((9, 4)).astype(dtype)
    w = rng.standard_normal((7, 4)).astype(dtype)
    b = rng.standard_normal(7).astype(dtype)
    y = np.array([0, 6, 3, -100, 2, 1, 1, 5, 4])
    cw = (rng.random(7) + 0.5).astype(dtype)
    kw = dict(ignore_index=-100, label_smoothing=0.1, reduction=reduction, z_loss=1e-2, softcap=3.0)
    loss, gx, gw, gb, lse = ssm.linear_cross_entropy(x, w, y, bias=b, class_weight=cw, chunk_size=2,
                                                     return_grad=True, return_lse=True, **kw)
    ref, g, ref_lse = ssm.cross_entropy_with_grad(x @ w.T + b, y, weight=cw, return_lse=True, **kw)
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(loss, ref, rtol=rtol)
    np.testing.assert_array_equal(lse, ref_lse)
    np.testing.assert_allclose(gw, g.T @ x, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(gx, g @ w, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(gb, g.sum(0), rtol=rtol, atol=rtol)
    only, only_lse = ssm.linear_cross_entropy(x, w, y, bias=b, class_weight=cw, return_lse=True, **kw)
    assert only == loss if reduction != "none" else np.array_equal(only, loss)
    np.testing.assert_array_equal(only_lse, lse)
    with pytest.raises(ValueError, match="softcap must be finite and > 0"):
        ssm.linear_cross_entropy(x, w, y, softcap=0.0)
    with pytest.raises(ValueError, match="z_loss"):
        ssm.linear_cross_entropy(x, w, y, z_loss=-1.0)


def test_lse_of_a_cancelling_row_keeps_two_ulp():
    # max < 0 and m + log S cancelling by a factor 1.9 (log S = 0.45, lse = 0.238): the lse's
    # libm exp terms were 2.56 ULP off before the double-double sum took such rows too (found
    # by test_options_against_mpmath's search).
    mpmath.mp.dps = 50
    x = np.array([[-1.5541297297213503, -2.0272169650880625, -0.21347303936220588, -2.1355486369749963]])
    _, _, lse = run(x, np.array([0]), reduction="none")
    ref = mpmath.log(sum(mpmath.exp(mpmath.mpf(float(v))) for v in x[0]))
    assert ulps(lse, [ref], np.float64).max() <= 2
