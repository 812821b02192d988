"""SciPy's own cases for logsumexp, softmax and log_softmax (scipy/special/tests/test_logsumexp.py
and test_softmax / test_log_softmax), run against swiftsoftmax: the compatibility yardstick for
axis, dtype and edge-case behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sp
from numpy.testing import assert_allclose, assert_array_equal, assert_equal

import swiftsoftmax as ssm
from swiftsoftmax import log_softmax, logsumexp, softmax


class TestLogsumexp:
    def test_basic(self):
        a = np.arange(200)
        desired = np.log(np.sum(np.exp(a)))
        assert_allclose(logsumexp(a), desired, rtol=1e-15)

    def test_large(self):
        b = [1000, 1000]
        assert_allclose(logsumexp(b), 1000 + np.log(2.0), rtol=1e-15)
        assert_allclose(logsumexp([-1000, -1000]), -1000 + np.log(2.0), rtol=1e-15)
        n = 1000
        b = np.full(n, 10000)
        assert_allclose(logsumexp(b), 10000 + np.log(n), rtol=1e-15)

    def test_tiny_inputs(self):
        x = np.array([1e-40] * 100_000)
        assert_allclose(logsumexp(x), np.log(1e5) + 1e-40, rtol=1e-15)
        assert_allclose(logsumexp(np.array([1e-40, 2e-40])), np.log(2) + 1.5e-40, rtol=1e-15)
        # exp(1e-40) rounds to 1, but the result keeps the first-order term exactly
        assert logsumexp(np.array([1e-40])) == 1e-40

    def test_offsets_of_100(self):
        x = np.array([1.0, 2.0, 3.0])
        assert_allclose(logsumexp(x + 100), logsumexp(x) + 100, rtol=1e-15)
        assert_allclose(logsumexp(np.array([[1.0, 2.0], [3.0, 4.0]]) - 100, axis=1),
                        logsumexp(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=1) - 100, rtol=1e-15)

    def test_2d_axes(self):
        a = np.array([[1e10, 1e-10], [-1e10, -np.inf]])
        assert_allclose(logsumexp(a), sp.logsumexp(a, axis=-1), rtol=1e-15)
        assert_allclose(logsumexp(a, axis=0), sp.logsumexp(a, axis=0), rtol=1e-15)
        assert_allclose(logsumexp(a, axis=None), sp.logsumexp(a), rtol=1e-15)
        assert_allclose(logsumexp(a, axis=(0, 1)), sp.logsumexp(a, axis=(0, 1)), rtol=1e-15)

    def test_infinities_and_nan(self):
        assert_equal(logsumexp([np.inf]), np.inf)
        assert_equal(logsumexp([-np.inf]), -np.inf)
        assert_equal(logsumexp([np.inf, np.inf]), np.inf)
        assert_equal(logsumexp([-np.inf, -np.inf]), -np.inf)
        assert_equal(logsumexp([np.inf, -np.inf]), np.inf)
        assert_equal(logsumexp([np.inf, 1.0]), np.inf)
        assert np.isnan(logsumexp([np.nan]))
        assert np.isnan(logsumexp([np.nan, np.inf]))
        assert np.isnan(logsumexp([np.nan, -np.inf]))

    def test_empty(self):
        assert_equal(logsumexp([]), -np.inf)
        assert_equal(logsumexp(np.zeros((0, 3)), axis=0), [-np.inf] * 3)

    def test_integer_input(self):
        assert_allclose(logsumexp([1, 2, 3]), sp.logsumexp([1.0, 2.0, 3.0]), rtol=1e-15)
        assert logsumexp(np.array([1, 2, 3], dtype=np.int8)).dtype == np.float64
        assert_allclose(logsumexp(np.array([True, False])), np.log(1 + np.e), rtol=1e-15)

    def test_axis_none_scalar(self):
        r = logsumexp(np.arange(6.0).reshape(2, 3), axis=None)
        assert np.ndim(r) == 0 and isinstance(r, np.floating)
        assert_allclose(r, sp.logsumexp(np.arange(6.0)), rtol=1e-15)

    def test_keepdims(self):
        a = np.arange(24.0).reshape(2, 3, 4)
        for axis in (0, 1, (0, 2), None):
            assert_allclose(logsumexp(a, axis=axis, keepdims=True),
                            sp.logsumexp(a, axis=axis, keepdims=True), rtol=1e-15)

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_dtype_preserved(self, dtype):
        a = np.array([1, 2, 3], dtype=dtype)
        assert logsumexp(a).dtype == sp.logsumexp(a).dtype == dtype

    def test_where_as_b_zero(self):
        a = np.array([1.0, 2.0, 3.0, 4.0])
        w = np.array([True, False, True, False])
        assert_allclose(logsumexp(a, where=w), sp.logsumexp(a, b=w.astype(float)), rtol=1e-15)


class TestSoftmax:
    def test_basic(self):
        x = np.array([1000.0, 0.0, 0.0, 0.0])
        assert_allclose(softmax(x), [1.0, 0.0, 0.0, 0.0], rtol=1e-13)
        x = np.array([0.0, 1.0])
        assert_allclose(softmax(x), [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-15)

    def test_large_offset(self):
        x = np.arange(4.0)
        expected = np.exp(x) / np.exp(x).sum()
        assert_allclose(softmax(x + 100), expected, rtol=1e-15)
        assert_allclose(softmax(x - 1000), expected, rtol=1e-15)

    def test_axes(self):
        x = np.arange(24.0).reshape(2, 3, 4) / 7
        for axis in (0, 1, 2, -1, (0, 1), (0, 2), None):
            assert_allclose(softmax(x, axis=axis), sp.softmax(x, axis=axis), rtol=1e-14)

    def test_scalar_and_integers(self):
        assert softmax(3, axis=None) == 1.0
        assert_allclose(softmax([1, 2, 3]), sp.softmax([1, 2, 3]), rtol=1e-14)

    def test_log_softmax_basic(self):
        assert_allclose(log_softmax(np.array([1000.0, 1.0])), [0.0, -999.0], rtol=1e-13)
        x = np.array([0.0, 1.0])
        assert_allclose(log_softmax(x), [-np.log1p(np.e), -np.log1p(1 / np.e)], rtol=1e-15)
        x = np.array([1e-40, 2e-40])
        assert_allclose(log_softmax(x), [-math.log(2) - 0.5e-40, -math.log(2) + 0.5e-40], rtol=1e-15)

    def test_log_softmax_axes(self):
        x = np.arange(24.0).reshape(2, 3, 4) / 5
        for axis in (0, 1, -1, (1, 2), None):
            assert_allclose(log_softmax(x, axis=axis), sp.log_softmax(x, axis=axis), rtol=1e-14)

    def test_log_softmax_scalar(self):
        assert log_softmax(1.0, axis=None) == 0.0
        assert log_softmax(np.float32(5), axis=None).dtype == np.float32

    def test_empty(self):
        assert softmax(np.zeros((0,))).shape == (0,)
        assert softmax(np.zeros((2, 0))).shape == (2, 0)


def test_module_has_no_stray_public_names():
    assert {"softmax", "log_softmax", "logsumexp"} <= set(ssm.__all__)
