"""Partial statistics: per-chunk softmax statistics, their merge, the finalisers, and the
vocabulary-parallel cross-entropy, against the one-piece results of the library."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import swiftsoftmax as ssm
from conftest import FLOATS, assert_raises_unchanged, ulp_errors

MAX_ULP = 2.0


def assert_close_ulp(got, one_piece, what=""):
    """Within 2 ulp of the one-piece result (specials exactly equal)."""
    got = np.asarray(got)
    err = ulp_errors(got, one_piece, got.dtype)
    assert err.size == 0 or err.max() <= MAX_ULP, (
        f"{what}: {err.max():.3g} ulp from the one-piece result at {np.unravel_index(np.argmax(err), err.shape)}")


def assert_grad_close(got, one_piece, spread, what="", dtype=None, max_ulp=MAX_ULP):
    """Within 2 ulp of the one-piece gradient, measured at the size of its terms: with label
    smoothing, A p_j - c_j cancels where p_j is close to c_j / A, and there both results carry
    the roundings of the terms (c_j = spread_j), not of their difference."""
    got = np.asarray(got)
    scale = np.abs(one_piece.astype(np.longdouble)) + np.abs(spread)
    ulp = np.spacing(scale.astype(dtype or got.dtype)).astype(np.longdouble)
    diff = np.abs(got.astype(np.longdouble) - one_piece.astype(np.longdouble))
    same = (got == one_piece) | (np.isnan(got) & np.isnan(one_piece))
    bad = ~same & ~(diff <= max_ulp * ulp)
    assert not bad.any(), f"{what}: {np.argwhere(bad)[:3]} got {got[bad][:3]} one-piece {one_piece[bad][:3]}"


def cuts_of(n, rng, pieces):
    """Random cut points of an axis of length n into `pieces` chunks (some may be empty)."""
    return sorted(rng.integers(0, n + 1, size=pieces - 1).tolist())


def chunks(x, axis, cuts):
    return np.split(x, cuts, axis=axis)


def merged_stats(parts, axis, temperature=1.0, masks=None, dtype=None, precise=False):
    stats = [ssm.softmax_stats(p, axis, temperature=temperature, where=None if masks is None else m, precise=precise)
             for p, m in zip(parts, masks or [None] * len(parts))]
    return ssm.reduce_softmax_stats(np.stack(stats), axis=0, temperature=temperature, dtype=dtype)


def split_op(op, x, axis, cuts, temperature=1.0, where=None):
    parts = chunks(x, axis, cuts)
    masks = None if where is None else chunks(np.broadcast_to(where, x.shape), axis, cuts)
    t = temperature
    # float32 data: the merge uses float32(T); logsumexp takes the precise statistics.
    s = merged_stats(parts, axis, t, masks, dtype=x.dtype, precise=op == "logsumexp")
    if op == "logsumexp":
        return ssm.logsumexp_from_stats(s, dtype=x.dtype)
    fin = ssm.softmax_from_stats if op == "softmax" else ssm.log_softmax_from_stats
    ys = [fin(p, s, axis, temperature=t, where=None if masks is None else masks[k])
          for k, p in enumerate(parts)]
    return np.concatenate(ys, axis=axis)


def one_piece(op, x, axis, temperature=1.0, where=None):
    if op == "logsumexp":
        return ssm.logsumexp(x, axis, where=where)
    return getattr(ssm, op)(x, axis, temperature=temperature, where=where)


OPS = ["softmax", "log_softmax", "logsumexp"]


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape,axis", [((5, 300), -1), ((3, 257, 4), 1), ((70, 6), 0), ((2, 5000), 1)])
def test_equals_one_piece(op, dtype, shape, axis, rng):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    for pieces in (1, 2, 5):
        got = split_op(op, x, axis, cuts_of(x.shape[axis], rng, pieces))
        assert got.dtype == np.dtype(dtype)
        assert_close_ulp(got, one_piece(op, x, axis), f"{op} in {pieces} chunks")


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_temperature_and_mask(op, dtype, rng):
    x = (rng.standard_normal((6, 400)) * 30).astype(dtype)
    where = rng.random((6, 400)) < 0.6
    where[2] = False  # a fully masked slice
    for t in (0.37, 3.0):
        got = split_op(op, x, -1, [13, 13, 200, 399], temperature=t, where=where)
        assert_close_ulp(got, one_piece(op, x, -1, temperature=t, where=where), f"{op} T={t}")


def test_logsumexp_with_temperature(rng):
    x = rng.standard_normal((4, 50)) * 10
    t = 2.5
    s = merged_stats(chunks(x, -1, [7, 30]), -1, t, precise=True)
    assert_close_ulp(ssm.logsumexp_from_stats(s, temperature=t), ssm.logsumexp(x / t, -1), "logsumexp(x/T)")


def test_offsets_and_confident_rows():
    # The maxima of the chunks far apart (rescaling by exp(m1 - M) with an exact difference),
    # and a log-probability near 0 that only log1p of the exact rest keeps.
    x = np.array([[1e4, 1e4 + 1, 1e4 - 700, 1e4 + 0.5], [0.0, 40.0, -3.0, 1.0]])
    for cuts in ([1], [2], [1, 3]):
        for op in OPS:
            assert_close_ulp(split_op(op, x, -1, cuts), one_piece(op, x, -1), f"{op} {cuts}")


def test_special_values_follow_the_policy():
    inf, nan = np.inf, np.nan
    cases = [
        [1.0, nan, 2.0, 3.0],            # NaN in one chunk: everything NaN
        [inf, 1.0, 2.0, inf],            # +inf in two chunks: 1/2 each
        [-inf, -inf, -inf, -inf],        # all -inf
        [-inf, -inf, 5.0, -inf],
        [inf, -inf, nan, 0.0],
    ]
    for row in cases:
        x = np.array([row])
        for cuts in ([1], [2], [2, 3], [0, 4]):
            for op in OPS:
                got, ref = split_op(op, x, -1, cuts), one_piece(op, x, -1)
                np.testing.assert_array_equal(got, ref, err_msg=f"{op} {row} {cuts}")


def test_empty_and_masked_chunks_merge_to_minus_inf_zero():
    e = ssm.softmax_stats(np.zeros((3, 0)))
    m = ssm.softmax_stats(np.ones((3, 4)), where=np.zeros((3, 4), bool))
    a = ssm.softmax_stats(np.full((3, 2), -np.inf))
    for s in (e, m, a, ssm.merge_softmax_stats(e, m), ssm.merge_softmax_stats(m, a),
              ssm.reduce_softmax_stats(np.stack([e, m, a, e]), axis=0)):
        assert s["max"].tolist() == [-np.inf] * 3
        assert s["sum_hi"].tolist() == [0.0] * 3 and s["sum_lo"].tolist() == [0.0] * 3
    assert ssm.logsumexp_from_stats(e).tolist() == [-np.inf] * 3
    y = ssm.softmax_from_stats(np.ones((3, 4)), m, where=np.zeros((3, 4), bool))
    assert (y == 0).all()
    ly = ssm.log_softmax_from_stats(np.ones((3, 4)), m, where=np.zeros((3, 4), bool))
    assert (ly == -np.inf).all()
    # An empty reduction of no chunks at all.
    assert ssm.reduce_softmax_stats(np.empty((0, 2), ssm.SOFTMAX_STATS_DTYPE), axis=0)["max"].tolist() == [-np.inf] * 2


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_logsumexp_cancelling_to_near_zero(dtype):
    # max + log(sum) with a negative maximum cancelling to ~1e-9: the exp terms' roundings are
    # amplified ~1e9 times, so the precise statistics sum them in double-double, as the
    # one-piece call re-sums such a slice; the fast statistics are then far off in float64.
    a = -np.log(1 + np.exp(-0.7))  # logsumexp([a, a - 0.7]) = 0 exactly in real arithmetic
    x = np.array([[a - 40.0 - k for k in range(15)] + [a + 1e-9, a - 0.7] + [a - 60.0 - k for k in range(15)]],
                 dtype=dtype)
    ref = ssm.logsumexp(x, -1)
    assert abs(float(ref[0])) < 1e-6
    for cuts in ([1], [5, 17], [31]):
        lse = ssm.logsumexp_from_stats(merged_stats(chunks(x, -1, cuts), -1, precise=True), dtype=dtype)
        assert_close_ulp(lse, ref, f"precise {cuts}")


def test_merge_is_commutative_bitwise(rng):
    x = rng.standard_normal((50, 64)) * 20
    a, b = ssm.softmax_stats(x[:, :20]), ssm.softmax_stats(x[:, 20:])
    assert ssm.merge_softmax_stats(a, b).tobytes() == ssm.merge_softmax_stats(b, a).tobytes()


def _random_tree_merge(stats, rng, merge):
    """Merges a list of statistics by repeatedly joining two random neighbours or non-neighbours."""
    items = list(stats)
    while len(items) > 1:
        i, j = sorted(rng.choice(len(items), size=2, replace=False).tolist())
        b = items.pop(j)
        a = items.pop(i)
        items.append(merge(a, b) if rng.random() < 0.5 else merge(b, a))
    return items[0]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), pieces=st.integers(1, 9),
       scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3]), f32=st.booleans(),
       specials=st.sampled_from(["none", "ninf", "mask"]))
def test_any_chunking_and_merge_tree_gives_the_one_piece_result(seed, n, pieces, scale, f32, specials):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if f32 else np.float64
    x = (rng.standard_normal((3, n)) * scale + rng.normal() * scale).astype(dtype)
    where = None
    if specials == "ninf":
        x[rng.random(x.shape) < 0.3] = -np.inf
    elif specials == "mask":
        where = rng.random(x.shape) < 0.5
    cuts = cuts_of(n, rng, pieces)
    parts = chunks(x, -1, cuts)
    masks = None if where is None else chunks(where, -1, cuts)
    stats = [ssm.softmax_stats(p, where=None if masks is None else masks[k]) for k, p in enumerate(parts)]
    precise = [ssm.softmax_stats(p, where=None if masks is None else masks[k], precise=True)
               for k, p in enumerate(parts)]
    s1 = _random_tree_merge(stats, rng, ssm.merge_softmax_stats)
    s2 = _random_tree_merge(stats, rng, ssm.merge_softmax_stats)
    lse = ssm.logsumexp_from_stats(_random_tree_merge(precise, rng, ssm.merge_softmax_stats), dtype=dtype)
    assert_close_ulp(lse, ssm.logsumexp(x, -1, where=where), "logsumexp")
    for s in (s1, s2):
        for op, fin in (("softmax", ssm.softmax_from_stats), ("log_softmax", ssm.log_softmax_from_stats)):
            y = np.concatenate([fin(p, s, where=None if masks is None else masks[k]) for k, p in enumerate(parts)],
                               axis=-1)
            assert_close_ulp(y, one_piece(op, x, -1, where=where), op)
    # Merge trees differ only below double-double precision.
    np.testing.assert_array_equal(s1["max"], s2["max"])
    np.testing.assert_allclose(s1["sum_hi"] + s1["sum_lo"], s2["sum_hi"] + s2["sum_lo"], rtol=1e-15)


def test_in_place_and_out(rng):
    x = rng.standard_normal((4, 30))
    s = merged_stats(chunks(x, -1, [10]), -1)
    part = x[:, :10].copy()
    ref = ssm.softmax_from_stats(part, s)
    ssm.softmax_from_stats(part, s, out=part)
    np.testing.assert_array_equal(part, ref)
    out = np.empty((4, 10))
    assert ssm.log_softmax_from_stats(x[:, :10], s, out=out) is out


# ---------------------------------------------------------------------------------------------
# vocabulary-parallel cross-entropy


def sharded_ce(logits, target, cuts, axis=-1, weight=None, ignore_index=-100, label_smoothing=0.0,
               reduction="mean", num_classes=None):
    c = logits.shape[axis]
    nc = c if num_classes is None else num_classes
    parts = chunks(logits, axis, cuts)
    offsets = [0] + list(cuts)
    stats = [ssm.cross_entropy_stats(p, target, num_classes=nc, class_offset=o, axis=axis, weight=weight,
                                     ignore_index=ignore_index) for p, o in zip(parts, offsets)]
    s = ssm.reduce_cross_entropy_stats(np.stack(stats), axis=0)
    loss = ssm.cross_entropy_from_stats(s, target, num_classes=nc, weight=weight, ignore_index=ignore_index,
                                        label_smoothing=label_smoothing, reduction=reduction, dtype=logits.dtype)
    grads = [ssm.cross_entropy_grad_from_stats(p, target, s, num_classes=nc, class_offset=o, axis=axis,
                                               weight=weight, ignore_index=ignore_index,
                                               label_smoothing=label_smoothing, reduction=reduction)
             for p, o in zip(parts, offsets)]
    return loss, np.concatenate(grads, axis=axis)


def exact_ce_grad(x, y, w, eps, den):
    """The gradient (A p - c) / den in long double, for finite logits along the last axis; at
    the target, (1-ε) w_y (p_y - 1) is formed as -(1-ε) w_y Σ_{k≠y} p_k (no cancellation)."""
    LD = np.longdouble
    xl = x.astype(LD)
    c = x.shape[-1]
    wl = np.ones(c, LD) if w is None else np.asarray(w, x.dtype).astype(LD)
    e = LD(float(np.asarray(eps, x.dtype)))
    m = xl.max(-1, keepdims=True)
    t = np.exp(xl - m)
    p = t / t.sum(-1, keepdims=True)
    g = np.zeros_like(xl)
    for r in np.nonzero(y != -100)[0]:
        k = y[r]
        cy = (1 - e) * wl[k]
        a = cy + e / c * wl.sum()
        g[r] = a * p[r] - e / c * wl
        others = np.delete(t[r], k).sum() / t[r].sum()
        g[r, k] = -cy * others + e / c * (wl.sum() * p[r, k] - wl[k])
    return g / LD(den)


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_equals_one_piece(dtype, reduction, smoothing, weighted, rng):
    n, c = 40, 97
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    y[::7] = -100
    x[3, y[3]] += 30  # a confident correct prediction
    w = rng.random(c) + 0.5 if weighted else None
    ref_loss, ref_grad = ssm.cross_entropy_with_grad(x, y, weight=w, label_smoothing=smoothing, reduction=reduction)
    den = ssm.cross_entropy_denominator(y, num_classes=c, weight=w, dtype=dtype) if reduction == "mean" else 1.0
    spread = smoothing / c * (np.ones(c) if w is None else w) / den
    for cuts in ([50], [1, 33, 96], [0, 10, 20, 30, 97]):
        loss, grad = sharded_ce(x, y, cuts, weight=w, label_smoothing=smoothing, reduction=reduction)
        assert np.asarray(loss).dtype == np.dtype(dtype)
        assert_close_ulp(loss, ref_loss, f"loss {cuts}")
        if dtype == np.float32:
            assert_grad_close(grad, ref_grad, spread, f"grad {cuts}")
        else:
            # float64: the one-piece gradient is itself up to ~2.5 ulp from exact (a rounded
            # scale times a rounded exp term), ours as well with other roundings (the sum of
            # exp terms rescaled from each shard's maximum): both differ by up to 3 ulp, and
            # ours is held to 3 ulp of the exact gradient.
            exact = exact_ce_grad(x, y, w, smoothing, den)
            assert_grad_close(grad, exact, spread, f"grad {cuts} vs exact", max_ulp=3.0)
            assert_grad_close(grad, ref_grad, spread, f"grad {cuts}", max_ulp=3.0)


def test_cross_entropy_non_last_class_axis(rng):
    x = rng.standard_normal((5, 30, 3))  # PyTorch's (N, C, d)
    y = rng.integers(0, 30, (5, 3))
    ref_loss, ref_grad = ssm.cross_entropy_with_grad(x, y, axis=1, label_smoothing=0.2, reduction="none")
    loss, grad = sharded_ce(x, y, [11, 12], axis=1, label_smoothing=0.2, reduction="none")
    assert_close_ulp(loss, ref_loss, "loss")
    assert_grad_close(grad, ref_grad, 0.2 / 30, "grad")


def test_label_smoothing_uses_the_global_class_count(rng):
    # Megatron-LM's vocabulary-parallel loss divided ε by the shard's class count. With the
    # global count the sharded loss is the one-piece loss; with a shard's count it is not.
    x = rng.standard_normal((8, 64))
    y = rng.integers(0, 64, 8)
    ref = ssm.cross_entropy(x, y, label_smoothing=0.3)
    parts = chunks(x, -1, [16, 32, 48])
    good = [ssm.cross_entropy_stats(p, y, num_classes=64, class_offset=16 * k) for k, p in enumerate(parts)]
    s = ssm.reduce_cross_entropy_stats(np.stack(good), axis=0)
    assert_close_ulp(ssm.cross_entropy_from_stats(s, y, num_classes=64, label_smoothing=0.3), ref, "global C")
    logp = ssm.log_softmax(x)
    nll = -logp[np.arange(8), y]
    megatron = np.mean(0.7 * nll + 0.3 / 16 * -logp.sum(-1))  # ε over a shard's 16 classes
    assert abs(megatron - ref) > 0.1 * ref


def test_cross_entropy_special_logits():
    inf, nan = np.inf, np.nan
    x = np.array([[inf, 0.0, inf, 1.0], [-inf, -inf, -inf, -inf], [0.0, nan, 1.0, 2.0], [-inf, 3.0, -inf, 2.0]])
    y = np.array([0, 1, 2, 0])
    for eps in (0.0, 0.25):
        ref_loss, ref_grad = ssm.cross_entropy_with_grad(x, y, label_smoothing=eps, reduction="none")
        for cuts in ([1], [2], [1, 3]):
            loss, grad = sharded_ce(x, y, cuts, label_smoothing=eps, reduction="none")
            np.testing.assert_array_equal(loss, ref_loss, err_msg=f"eps={eps} {cuts}")
            np.testing.assert_array_equal(grad, ref_grad, err_msg=f"eps={eps} {cuts}")


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_cross_entropy_zero_weight_target_rows_equal_one_piece_bitwise(dtype, rng):
    # A zero target weight zeroes the whole row of the gradient: the sharded and one-piece
    # paths share the formula, so they agree to the sign of every zero.
    x = (rng.standard_normal((24, 12)) * 4).astype(dtype)
    x[0, 3] = 1000  # a confident row: the other exponentials underflow
    y = rng.integers(0, 12, size=24)
    y[0] = 3
    w = rng.random(12).astype(dtype)
    w[[3, 5, 7]] = 0
    zero_rows = np.isin(y, [3, 5, 7])
    _, ref_grad = ssm.cross_entropy_with_grad(x, y, weight=w, reduction="sum")
    for cuts in ([4], [6], [2, 9]):
        _, grad = sharded_ce(x, y, cuts, weight=w.astype(np.float64), reduction="sum")
        assert grad[zero_rows].tobytes() == ref_grad[zero_rows].tobytes(), cuts


def test_cross_entropy_all_ignored_mean_is_nan_with_zero_gradient(rng):
    x = rng.standard_normal((3, 10))
    y = np.full(3, -100)
    loss, grad = sharded_ce(x, y, [4])
    assert np.isnan(loss) and (grad == 0).all()


def test_cross_entropy_needs_every_shard_once(rng):
    x = rng.standard_normal((2, 10))
    y = np.array([1, 8])
    a = ssm.cross_entropy_stats(x[:, :5], y, num_classes=10)
    b = ssm.cross_entropy_stats(x[:, 5:], y, num_classes=10, class_offset=5)
    with pytest.raises(ValueError, match=r"statistics\[1\].*found in 0 shards"):
        ssm.cross_entropy_from_stats(a, y, num_classes=10)
    twice = ssm.merge_cross_entropy_stats(ssm.merge_cross_entropy_stats(a, b), a)
    with pytest.raises(ValueError, match=r"statistics\[0\].*found in 2 shards"):
        ssm.cross_entropy_grad_from_stats(x[:, :5], y, twice, num_classes=10)


# ---------------------------------------------------------------------------------------------
# errors: named arguments, nothing written


def test_errors_name_the_argument(rng):
    x = rng.standard_normal((3, 8))
    s = ssm.softmax_stats(x)
    out = np.zeros((3, 8))
    assert_raises_unchanged(ValueError, ssm.softmax_stats, x, temperature=0.0, match="temperature")
    assert_raises_unchanged(ValueError, ssm.softmax_from_stats, x, s[:2], out=out, match="stats: expected shape")
    assert_raises_unchanged(TypeError, ssm.softmax_from_stats, x, np.zeros(3), out=out, match="SOFTMAX_STATS_DTYPE")
    bad = s.copy()
    bad["sum_hi"][1] = 0.5  # a finite max with a sum below its own term
    assert_raises_unchanged(ValueError, ssm.softmax_from_stats, x, bad, out=out, match=r"statistics\[1\]")
    assert_raises_unchanged(ValueError, ssm.log_softmax_from_stats, x, s, out=out, temperature=np.nan,
                            match="temperature")
    assert_raises_unchanged(ValueError, ssm.merge_softmax_stats, s, bad, match=r"b\[1\]")
    assert_raises_unchanged(ValueError, ssm.merge_softmax_stats, s, s[:2], match="broadcastable")
    assert_raises_unchanged(ValueError, ssm.logsumexp_from_stats, bad, match=r"statistics\[1\]")
    assert_raises_unchanged(TypeError, ssm.logsumexp_from_stats, s, dtype=np.int32, match="dtype")
    with pytest.raises(TypeError, match="axis"):
        ssm.softmax_stats(x, axis=(0, 1))
    with pytest.raises(ValueError, match="scalar"):
        ssm.softmax_stats(1.0)


def test_cross_entropy_errors(rng):
    x = rng.standard_normal((2, 6))
    y = np.array([1, 9])
    assert_raises_unchanged(ValueError, ssm.cross_entropy_stats, x, y, num_classes=6, match=r"target.*labels\[1\] = 9")
    assert_raises_unchanged(ValueError, ssm.cross_entropy_stats, x, np.array([1, 2]), num_classes=6, class_offset=1,
                            match="do not fit in num_classes")
    assert_raises_unchanged(ValueError, ssm.cross_entropy_stats, x, np.array([1, 2]), num_classes=-1,
                            match="num_classes")
    assert_raises_unchanged(ValueError, ssm.cross_entropy_stats, x, np.array([1]), num_classes=6, match="target")
    assert_raises_unchanged(ValueError, ssm.cross_entropy_stats, x, np.array([1, 2]), num_classes=6,
                            weight=np.ones(5), match="weight")
    s = ssm.cross_entropy_stats(x, np.array([1, 2]), num_classes=6)
    assert_raises_unchanged(ValueError, ssm.cross_entropy_from_stats, s, np.array([1, 2]), num_classes=6,
                            label_smoothing=1.5, match="label_smoothing")
    assert_raises_unchanged(ValueError, ssm.cross_entropy_from_stats, s, np.array([1, 2]), num_classes=6,
                            reduction="avg", match="reduction")
    assert_raises_unchanged(TypeError, ssm.cross_entropy_from_stats, ssm.softmax_stats(x), np.array([1, 2]),
                            num_classes=6, match="CE_STATS_DTYPE")
    assert_raises_unchanged(ValueError, ssm.cross_entropy_grad_from_stats, x, np.array([1, 2]), s, num_classes=6,
                            denominator=-1.0, match="divisor")


def test_hostile_arguments(rng):
    x = rng.standard_normal((4, 12))
    s = ssm.softmax_stats(x)
    # Strided and transposed views are read as they are.
    np.testing.assert_array_equal(ssm.softmax_stats(x[:, ::2]), ssm.softmax_stats(np.ascontiguousarray(x[:, ::2])))
    np.testing.assert_array_equal(ssm.softmax_stats(x.T, axis=0), s)
    ro = np.zeros((4, 12))
    ro.flags.writeable = False
    assert_raises_unchanged(ValueError, ssm.softmax_from_stats, x, s, out=ro, match="writeable")
    assert_raises_unchanged(ValueError, ssm.softmax_from_stats, x, s, out=np.zeros((4, 12), np.float32), match="dtype")
    swapped = np.zeros(4, np.dtype([("sum_hi", "<f8"), ("max", "<f8"), ("sum_lo", "<f8")]))
    assert_raises_unchanged(TypeError, ssm.log_softmax_from_stats, x, swapped, match="SOFTMAX_STATS_DTYPE")
    assert_raises_unchanged(TypeError, ssm.softmax_stats, x.astype(complex), match="dtype complex")
    assert_raises_unchanged(ValueError, ssm.softmax_stats, x, where=np.ones((3, 12), bool), match="where")
    assert_raises_unchanged(TypeError, ssm.softmax_stats, x, where=np.ones((4, 12)), match="boolean")
    y = np.array([1, 2, 3, 4])
    assert_raises_unchanged(TypeError, ssm.cross_entropy_stats, x, y, num_classes=12, class_offset=True,
                            match="class_offset")
    assert_raises_unchanged(ValueError, ssm.cross_entropy_stats, x, y, num_classes=12, ignore_index=2**64,
                            match="ignore_index")
    assert_raises_unchanged(TypeError, ssm.cross_entropy_stats, x, y.astype(float), num_classes=12, match="target")
    ce = ssm.cross_entropy_stats(x, y, num_classes=12)
    nan_found = ce.copy()
    nan_found["found"][0] = np.nan
    assert_raises_unchanged(ValueError, ssm.merge_cross_entropy_stats, ce, nan_found, match=r"b\[0\]")
    # NaN and infinite temperatures and merges of NaN statistics.
    for t in (np.nan, np.inf, -1.0):
        assert_raises_unchanged(ValueError, ssm.merge_softmax_stats, s, s, temperature=t, match="temperature")
    nan_stats = ssm.softmax_stats(np.full((4, 3), np.nan))
    assert np.isnan(ssm.merge_softmax_stats(s, nan_stats)["max"]).all()


def test_concurrent_calls_match_sequential(rng):
    from concurrent.futures import ThreadPoolExecutor

    x = rng.standard_normal((16, 3000)) * 5
    y = rng.integers(0, 3000, 16)
    parts = chunks(x, -1, [700, 1900])

    def work(_):
        s = merged_stats(parts, -1)
        ce = ssm.reduce_cross_entropy_stats(np.stack([
            ssm.cross_entropy_stats(p, y, num_classes=3000, class_offset=o) for p, o in zip(parts, (0, 700, 1900))]),
            axis=0)
        return (np.concatenate([ssm.log_softmax_from_stats(p, s) for p in parts], axis=-1).tobytes(),
                ssm.cross_entropy_from_stats(ce, y, num_classes=3000, label_smoothing=0.1).tobytes())

    expected = work(0)
    with ThreadPoolExecutor(8) as pool:
        for got in pool.map(work, range(32)):
            assert got == expected
