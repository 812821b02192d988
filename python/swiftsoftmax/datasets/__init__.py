"""Small real data sets shipped inside the package (no network access at run time).

``load_digits()`` is the UCI optical recognition of handwritten digits set, the classic test bed
for a softmax output layer: 1797 images of 8×8 pixels, 10 classes.
"""

from __future__ import annotations

import gzip
from importlib import resources

from typing import Any, Union

import numpy as np
import numpy.typing as npt

__all__ = ["load_digits", "train_test_split", "DIGITS_CITATION"]

DIGITS_CITATION = (
    "E. Alpaydin and C. Kaynak (1998). Optical Recognition of Handwritten Digits. "
    "UCI Machine Learning Repository, https://doi.org/10.24432/C50P49. "
    "Licensed under CC BY 4.0.")

_DIGITS_FILE = "digits.csv.gz"


def load_digits() -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Loads the UCI 8×8 optical handwritten digits (the set scikit-learn's ``load_digits`` ships).

    Each sample is a handwritten digit written by one of 13 people, scanned at 32×32 and reduced
    to 8×8 blocks that count the "on" pixels of each 4×4 block, so every feature is an integer
    from 0 to 16. The file ships with the package (about 53 kB, gzip-compressed CSV): nothing is
    downloaded.

    Returns
    -------
    X : ndarray of float64, shape (1797, 64)
        The images, row-major (``X[i].reshape(8, 8)`` is image ``i``), values 0 to 16.
    y : ndarray of int64, shape (1797,)
        The digit shown, 0 to 9 (about 180 of each).

    Notes
    -----
    Source: the test part of the UCI Machine Learning Repository's "Optical Recognition of
    Handwritten Digits" (E. Alpaydin and C. Kaynak, 1998), licensed under Creative Commons
    Attribution 4.0 (CC BY 4.0); see ``DIGITS_CITATION``. Each call returns fresh arrays.

    Examples
    --------
    >>> from swiftsoftmax.datasets import load_digits
    >>> X, y = load_digits()
    >>> X.shape, X.dtype, y.shape, y.dtype
    ((1797, 64), dtype('float64'), (1797,), dtype('int64'))
    >>> int(X.min()), int(X.max()), sorted(set(y.tolist())) == list(range(10))
    (0, 16, True)
    >>> X[0].reshape(8, 8)[2].astype(int)     # the third row of pixels of a 0
    array([ 0,  3, 15,  2,  0, 11,  8,  0])
    """
    # One name per joinpath: Traversable.joinpath takes several only from Python 3.11.
    source = resources.files(__package__).joinpath("data").joinpath(_DIGITS_FILE)
    with source.open("rb") as raw, gzip.open(raw, "rt", encoding="ascii") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.int64)
    if table.shape != (1797, 65):
        raise OSError(f"{_DIGITS_FILE}: expected 1797 rows of 65 values, got {table.shape}")
    return table[:, :64].astype(np.float64), np.ascontiguousarray(table[:, 64])


def train_test_split(X: npt.ArrayLike, y: npt.ArrayLike, *, test_size: float = 0.25,
                     random_state: Union[int, np.random.Generator, None] = None, stratify: bool = True
                     ) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """Splits (X, y) into a training and a test part, class by class (stratified).

    A small stand-in for scikit-learn's ``train_test_split(..., stratify=y)``, so the examples
    and the demo need nothing but NumPy: within each class, ``round(test_size · count)`` samples
    (at least one when the class has two or more) go to the test part.

    Parameters
    ----------
    X : array_like of shape (n_samples, ...)
    y : array_like of shape (n_samples,)
    test_size : float, default 0.25
        Fraction of each class held out, in (0, 1).
    random_state : None, int or numpy.random.Generator
        Seeds the shuffle; an int gives the same split every time.
    stratify : bool, default True
        Keep the class proportions in both parts; False splits the shuffled samples as a whole.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Each part keeps the shuffled order.

    Examples
    --------
    >>> X, y = load_digits()
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> X_train.shape, X_test.shape
    ((1347, 64), (450, 64))
    >>> np.bincount(y_test).tolist()
    [44, 46, 44, 46, 45, 46, 45, 45, 44, 45]
    """
    Xa, ya = np.asarray(X), np.asarray(y)
    if ya.ndim != 1 or Xa.ndim < 1 or Xa.shape[0] != ya.shape[0]:
        raise ValueError(f"X and y: expected y 1-D with one label per row of X, got shapes "
                         f"{Xa.shape} and {ya.shape}")
    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size: expected a fraction in (0, 1), got {test_size!r}")
    rng = random_state if isinstance(random_state, np.random.Generator) \
        else np.random.default_rng(random_state)
    order = rng.permutation(len(ya))
    if stratify:
        test = []
        for label in np.unique(ya):
            members = order[ya[order] == label]
            k = int(round(float(test_size) * len(members)))
            if len(members) >= 2:
                k = min(max(k, 1), len(members) - 1)
            test.append(members[:k])
        in_test = np.zeros(len(ya), dtype=bool)
        in_test[np.concatenate(test)] = True
    else:
        in_test = np.zeros(len(ya), dtype=bool)
        in_test[order[:int(round(float(test_size) * len(ya)))]] = True
    test_idx = order[in_test[order]]
    train_idx = order[~in_test[order]]
    return Xa[train_idx], Xa[test_idx], ya[train_idx], ya[test_idx]
