"""The special-value policy (a NaN makes its slice NaN, k entries of +inf share the probability
1/k, an all -inf, empty or fully masked slice gives 0), on every code path: last axis, a middle
axis of a 3-D array, long rows (the special entry in the vector body and in the tail), masked
calls, several threads."""

from __future__ import annotations

import math

import numpy as np
import pytest

import swiftsoftmax as ssm
from conftest import assert_ulp, ref_log_softmax, ref_logsumexp, ref_softmax

inf, nan = np.inf, np.nan

# Row lengths: scalar-only, one SIMD vector, a vector plus a tail, many vectors plus a tail.
LENGTHS = [3, 16, 19, 133]
# Where the special entry sits in the row (fraction of the length).
PLACES = [0.0, 0.5, 1.0]


def _place(n, frac):
    return min(n - 1, int(frac * n))


def _layouts(row, dtype):
    """The same row as (array, axis, index tuple of the row) for the last axis and for the middle
    axis of a 3-D array whose other rows are ordinary."""
    row = np.asarray(row, dtype=dtype)
    n = row.size
    x2 = np.stack([row, np.linspace(-1, 1, n, dtype=dtype)])
    yield "last", x2, -1, (0, slice(None))
    x3 = np.tile(np.linspace(-1, 1, n, dtype=dtype)[None, :, None], (2, 1, 3))
    x3[1, :, 2] = row
    yield "middle", x3, 1, (1, slice(None), 2)


def _run_everything(x, axis):
    return {"softmax": ssm.softmax(x, axis=axis), "log_softmax": ssm.log_softmax(x, axis=axis),
            "logsumexp": ssm.logsumexp(x, axis=axis, keepdims=True)}


def _row_of(res, axis, idx):
    return res[idx]


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request, restore_threads):
    ssm.set_num_threads(request.param)
    return request.param


class TestNaN:
    @pytest.mark.parametrize("n", LENGTHS)
    @pytest.mark.parametrize("frac", PLACES)
    def test_nan_slice_is_all_nan(self, dtype, n, frac):
        row = np.linspace(-3, 3, n)
        row[_place(n, frac)] = nan
        for name, x, axis, idx in _layouts(row, dtype):
            r = _run_everything(x, axis)
            assert np.all(np.isnan(r["softmax"][idx])), name
            assert np.all(np.isnan(r["log_softmax"][idx])), name
            lse_idx = tuple(0 if isinstance(i, slice) else i for i in idx)
            assert np.isnan(r["logsumexp"][lse_idx]), name
            # other slices unaffected
            ok = ~np.isnan(r["softmax"])
            assert ok.sum() == x.size - n

    def test_nan_with_infinities(self, dtype):
        for row in ([inf, nan, 0], [-inf, nan], [nan, inf, -inf, inf]):
            x = np.array(row, dtype=dtype)
            assert np.all(np.isnan(ssm.softmax(x)))
            assert np.all(np.isnan(ssm.log_softmax(x)))
            assert np.isnan(ssm.logsumexp(x))


class TestPosInf:
    @pytest.mark.parametrize("n", LENGTHS)
    @pytest.mark.parametrize("k", [1, 2, 3])
    def test_k_infinities_share_probability(self, dtype, n, k):
        if k > n:
            pytest.skip("row too short")
        row = np.linspace(-3, 3, n)
        pos = np.unique(np.linspace(0, n - 1, k).astype(int))  # first, last, middle ...
        assert pos.size == k
        row[pos] = inf
        if n > k:
            row[(pos[0] + 1) % n] = -inf  # a -inf neighbour must stay at 0 / -inf
        for name, x, axis, idx in _layouts(row, dtype):
            r = _run_everything(x, axis)
            y, ly = r["softmax"][idx], r["log_softmax"][idx]
            top = np.isposinf(np.asarray(row, dtype=dtype))
            assert_ulp(y[top], np.full(k, 1 / np.longdouble(k)), 0.5)
            assert np.all(y[~top] == 0), name
            assert_ulp(ly[top], np.full(k, -np.log(np.longdouble(k))), 1)
            assert np.all(ly[~top] == -inf), name
            lse_idx = tuple(0 if isinstance(i, slice) else i for i in idx)
            assert r["logsumexp"][lse_idx] == inf

    def test_inf_and_minus_inf(self, dtype):
        x = np.array([inf, -inf, 0, inf], dtype=dtype)
        np.testing.assert_array_equal(ssm.softmax(x), [0.5, 0, 0, 0.5])
        np.testing.assert_array_equal(ssm.log_softmax(x), np.array([-math.log(2), -inf, -inf, -math.log(2)], dtype=dtype))
        assert ssm.logsumexp(x) == inf

    def test_infinity_with_temperature(self, dtype):
        x = np.array([inf, 1, inf], dtype=dtype)
        np.testing.assert_array_equal(ssm.softmax(x, temperature=1e-3), [0.5, 0, 0.5])
        np.testing.assert_array_equal(ssm.softmax(x, temperature=50), [0.5, 0, 0.5])


class TestNegInf:
    @pytest.mark.parametrize("n", LENGTHS)
    @pytest.mark.parametrize("frac", PLACES)
    def test_minus_inf_entries_get_probability_zero(self, dtype, n, frac):
        row = np.linspace(-3, 3, n)
        i = _place(n, frac)
        row[i] = -inf
        for name, x, axis, idx in _layouts(row, dtype):
            y = ssm.softmax(x, axis=axis)[idx]
            assert y[i] == 0, name
            finite = np.delete(np.asarray(row, dtype=dtype), i)
            assert_ulp(np.delete(y, i), ref_softmax(finite))
            lse_idx = tuple(0 if isinstance(k, slice) else k for k in idx)
            assert_ulp(ssm.logsumexp(x, axis=axis, keepdims=True)[lse_idx], ref_logsumexp(finite))

    @pytest.mark.parametrize("n", LENGTHS)
    @pytest.mark.parametrize("frac", PLACES)
    def test_minus_inf_entries_get_log_probability_minus_inf(self, dtype, n, frac):
        row = np.linspace(-3, 3, n)
        i = _place(n, frac)
        row[i] = -inf
        for name, x, axis, idx in _layouts(row, dtype):
            ly = ssm.log_softmax(x, axis=axis)[idx]
            assert ly[i] == -inf, name
            finite = np.delete(np.asarray(row, dtype=dtype), i)
            assert_ulp(np.delete(ly, i), ref_log_softmax(finite))

    def test_log_softmax_overflowing_difference(self):
        # (x - max) = -3.4e308 overflows to -inf: the exact log-probability rounds to -inf.
        y = ssm.log_softmax(np.array([-1.7e308, 1.7e308]))
        np.testing.assert_array_equal(y, [-inf, 0.0])

    def test_softmax_overflowing_difference(self):
        np.testing.assert_array_equal(ssm.softmax(np.array([-1.7e308, 1.7e308])), [0.0, 1.0])
        assert ssm.logsumexp(np.array([-1.7e308, 1.7e308])) == 1.7e308

    @pytest.mark.parametrize("n", [1, 2, 19, 133])
    def test_all_minus_inf(self, dtype, n):
        for name, x, axis, idx in _layouts(np.full(n, -inf), dtype):
            r = _run_everything(x, axis)
            assert np.all(r["softmax"][idx] == 0), name
            assert np.all(r["log_softmax"][idx] == -inf), name
            lse_idx = tuple(0 if isinstance(i, slice) else i for i in idx)
            assert r["logsumexp"][lse_idx] == -inf
            assert not np.isnan(r["softmax"]).any() and not np.isnan(r["log_softmax"]).any()

    def test_all_minus_inf_with_temperature_and_threads(self, dtype, threads):
        x = np.full((3000, 40), -inf, dtype=dtype)
        x[::2] = 1
        y = ssm.softmax(x, temperature=0.25)
        assert np.all(y[1::2] == 0) and np.all(y[::2] == dtype.type(1 / 40))
        assert np.all(ssm.logsumexp(x)[1::2] == -inf)


class TestFullyMasked:
    @pytest.mark.parametrize("axis", [0, 1, -1])
    def test_fully_masked_slices(self, dtype, axis):
        x = np.arange(24, dtype=dtype).reshape(2, 3, 4)
        w = np.ones(x.shape, bool)
        sl = [slice(None)] * 3
        sl[axis] = slice(None)
        # mask out the whole first slice along `axis`
        first = [0, 0, 0]
        first[axis] = slice(None)
        w[tuple(first)] = False
        y = ssm.softmax(x, axis=axis, where=w)
        ly = ssm.log_softmax(x, axis=axis, where=w)
        lse = ssm.logsumexp(x, axis=axis, where=w)
        assert np.all(y[tuple(first)] == 0)
        assert np.all(ly[tuple(first)] == -inf)
        assert lse.flat[0] == -inf
        assert not np.isnan(y).any() and not np.isnan(ly).any() and not np.isnan(lse).any()
        assert np.all(np.isfinite(lse.flat[1:]))

    def test_fully_masked_infinities_and_nan(self, dtype):
        x = np.array([[inf, nan, 1], [1, 2, 3]], dtype=dtype)
        w = np.array([[False, False, False], [True, True, True]])
        np.testing.assert_array_equal(ssm.softmax(x, where=w)[0], [0, 0, 0])
        np.testing.assert_array_equal(ssm.log_softmax(x, where=w)[0], [-inf] * 3)
        assert ssm.logsumexp(x, where=w)[0] == -inf

    def test_masked_infinity_does_not_count(self, dtype):
        x = np.array([inf, 0, 0], dtype=dtype)
        w = np.array([False, True, True])
        np.testing.assert_array_equal(ssm.softmax(x, where=w), [0, 0.5, 0.5])
        assert ssm.logsumexp(x, where=w) == dtype.type(math.log(2))


class TestEmpty:
    @pytest.mark.parametrize("shape,axis", [((0,), -1), ((3, 0), -1), ((0, 3), 0), ((2, 0, 3), 1), ((0, 0), None)])
    def test_empty_axis(self, dtype, shape, axis):
        x = np.zeros(shape, dtype=dtype)
        for f in (ssm.softmax, ssm.log_softmax, ssm.normalize):
            y = f(x, axis=axis)
            assert y.shape == shape and y.dtype == dtype
        lse = ssm.logsumexp(x, axis=axis)
        assert np.all(np.asarray(lse) == -inf)
        assert np.asarray(lse).dtype == dtype
        kept = () if axis is None else tuple(d for i, d in enumerate(shape) if i != axis % len(shape))
        assert np.shape(lse) == kept

    def test_empty_outer(self, dtype):
        x = np.zeros((0, 4), dtype=dtype)
        assert ssm.softmax(x).shape == (0, 4)
        assert ssm.logsumexp(x).shape == (0,)
        assert ssm.sigmoid(x).shape == (0, 4)

    def test_empty_with_mask_and_out(self, dtype):
        x = np.zeros((3, 0), dtype=dtype)
        out = np.zeros((3, 0), dtype=dtype)
        assert ssm.softmax(x, where=np.zeros((3, 0), bool), out=out) is out
        np.testing.assert_array_equal(ssm.logsumexp(x, where=np.zeros((3, 0), bool)), [-inf] * 3)


class TestElementwiseAndNormalize:
    def test_sigmoid_special(self, dtype):
        x = np.array([-inf, -1000, -0.0, 0.0, 1000, inf, nan], dtype=dtype)
        np.testing.assert_array_equal(ssm.sigmoid(x), np.array([0, 0, 0.5, 0.5, 1, 1, nan], dtype=dtype))
        ls = ssm.log_sigmoid(x)
        np.testing.assert_array_equal(ls[[0, 1, 4, 5]], np.array([-inf, -1000, 0, 0], dtype=dtype))
        assert np.isnan(ls[6])

    def test_normalize_ieee_like_numpy(self, dtype):
        rows = np.array([[0, 0, 0], [1, -1, 0], [1, inf, 2], [nan, 1, 2], [inf, -inf, 1], [0, 1, 3]], dtype=dtype)
        with np.errstate(all="ignore"):
            expect = rows / rows.sum(-1, keepdims=True)
        np.testing.assert_array_equal(ssm.normalize(rows), expect)

    def test_normalize_cancelling_sum(self):
        # The compensated sum of [1e16, 1, -1e16] is 1, not 0.
        y = ssm.normalize(np.array([1e16, 1.0, -1e16]))
        np.testing.assert_array_equal(y, [1e16, 1.0, -1e16])


@pytest.mark.parametrize("n", [64, 128, 256])
def test_special_rows_among_grouped_float_rows(n, threads):
    """Float rows of up to 256 classes go by groups of eight whose sums are reduced together: a
    NaN row (found from its sum where the exp keeps NaN), a +inf row and an all -inf row among
    ordinary ones, in the first and the last group, each row as if alone."""
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((21, n)) * 3).astype(np.float32)
    x[3, n // 2] = nan
    x[5, 0] = inf
    x[6] = -inf
    x[11, -1] = nan
    x[20, 1] = nan
    specials = {3, 5, 6, 11, 20}
    y, ly, lse = ssm.softmax(x), ssm.log_softmax(x), ssm.logsumexp(x)
    for r in (3, 11, 20):
        assert np.all(np.isnan(y[r])) and np.all(np.isnan(ly[r])) and np.isnan(lse[r])
    np.testing.assert_array_equal(y[5], np.where(np.arange(n) == 0, 1, 0).astype(np.float32))
    np.testing.assert_array_equal(y[6], np.zeros(n, np.float32))
    assert lse[5] == inf and lse[6] == -inf
    ordinary = [r for r in range(21) if r not in specials]
    assert_ulp(y[ordinary], ref_softmax(x[ordinary]))
    assert_ulp(ly[ordinary], ref_log_softmax(x[ordinary]))
    assert_ulp(lse[ordinary], ref_logsumexp(x[ordinary]))
    for r in ordinary[:3]:
        np.testing.assert_array_equal(y[r], ssm.softmax(x[r]))


def test_special_rows_identical_across_threads(restore_threads):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4000, 33))
    x[::7, 3] = inf
    x[::11, 5] = nan
    x[::13] = -inf
    x[::17, 30] = -inf
    w = rng.random(x.shape) > 0.1
    res = []
    for t in (1, 2):
        ssm.set_num_threads(t)
        res.append([ssm.softmax(x), ssm.log_softmax(x), ssm.logsumexp(x), ssm.softmax(x, where=w),
                    ssm.softmax(x, axis=0), ssm.logsumexp(x, axis=0, where=w)])
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
