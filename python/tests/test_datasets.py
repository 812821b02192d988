"""swiftsoftmax.datasets: the bundled digits and the stratified split."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from swiftsoftmax import datasets
from swiftsoftmax.datasets import load_digits, train_test_split


def test_digits_shape_dtype_and_values():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 16
    np.testing.assert_array_equal(X, np.round(X))
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    counts = np.bincount(y)
    assert counts.sum() == 1797 and counts.min() >= 170 and counts.max() <= 190
    # Image 0 is a zero: a ring of ink with an empty middle.
    img = X[0].reshape(8, 8)
    assert y[0] == 0 and img[3:5, 3:5].sum() == 0 and img[1:7, 1:7].sum() > 200


def test_digits_returns_fresh_arrays():
    X1, y1 = load_digits()
    X1[:] = -1
    y1[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0 and y2.min() == 0


def test_digits_ship_inside_the_package_compressed():
    data = resources.files(datasets).joinpath("data", "digits.csv.gz")
    assert data.is_file()
    assert len(data.read_bytes()) < 100_000
    assert "CC BY 4.0" in datasets.DIGITS_CITATION and "Alpaydin" in datasets.DIGITS_CITATION


def test_digits_match_scikit_learn():
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    X, y = load_digits()
    np.testing.assert_array_equal(X, ref.data)
    np.testing.assert_array_equal(y, ref.target)


def test_split_is_stratified_and_reproducible():
    X, y = load_digits()
    a = train_test_split(X, y, random_state=0)
    b = train_test_split(X, y, random_state=0)
    c = train_test_split(X, y, random_state=1)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[3], c[3])
    X_train, X_test, y_train, y_test = a
    assert len(X_train) + len(X_test) == 1797 and len(y_test) == len(X_test)
    np.testing.assert_allclose(np.bincount(y_test) / np.bincount(y), 0.25, atol=0.01)
    # Disjoint, and together every sample once.
    rows = np.concatenate([X_train, X_test]).view([("", X.dtype)] * 64).ravel()
    assert np.array_equal(np.sort(rows), np.sort(X.view([("", X.dtype)] * 64).ravel()))


def test_split_without_stratification_and_errors():
    X, y = np.arange(20).reshape(10, 2), np.array([0] * 9 + [1])
    X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.3, stratify=False,
                                                  random_state=0)
    assert len(X_test) == 3 and len(X_train) == 7
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(X, y, test_size=1.0)
    with pytest.raises(ValueError, match="one label per row"):
        train_test_split(X, y[:5])
