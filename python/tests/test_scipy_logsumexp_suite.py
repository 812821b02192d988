"""SciPy's own test suite for logsumexp, softmax and log_softmax
(scipy/special/tests/test_logsumexp.py, as installed with SciPy), run against swiftsoftmax.

The module imports SciPy's test module and re-exports its tests, so pytest collects them here;
an autouse fixture swaps the names the tests call (`logsumexp`, `softmax`, `log_softmax` and the
helper `_wrap_radians`) for ours, with SciPy's default ``axis=None`` passed explicitly (ours is
-1: docs/python.md, "SciPy compatibility"). Nothing of SciPy's is modified outside a test.

SciPy parametrises most tests over array-API backends through an ``xp`` fixture (its
scipy/conftest.py, which is not loaded here). swiftsoftmax takes NumPy arrays only, so ``xp``
here is NumPy, and the other backends SciPy knows appear as parameters that skip: their tests
are about other array libraries (device placement, lazy evaluation, type promotion of
array_api_strict), not about the semantics of the functions. Every other test runs and must
pass; the only skips are those backend parameters.
"""

from __future__ import annotations

import numpy as np
import pytest

import swiftsoftmax as ssm
from swiftsoftmax._complex import wrap_radians

scipy_suite = pytest.importorskip("scipy.special.tests.test_logsumexp")

# Re-exported: pytest collects these names from this module, with this module's fixtures.
TestLogSumExp = scipy_suite.TestLogSumExp
TestSoftmax = scipy_suite.TestSoftmax
TestLogSoftmax = scipy_suite.TestLogSoftmax
test_wrap_radians = scipy_suite.test_wrap_radians

# The array-API backends SciPy's xp fixture may run besides NumPy (scipy/conftest.py).
_OTHER_BACKENDS = ("array_api_strict", "torch", "cupy", "jax.numpy", "dask.array")


@pytest.fixture(params=["numpy", *_OTHER_BACKENDS])
def xp(request):
    """NumPy; the other backends skip, as swiftsoftmax computes on NumPy arrays only."""
    if request.param != "numpy":
        pytest.skip(f"{request.param}: an array-API backend other than NumPy; swiftsoftmax takes "
                    "NumPy arrays only")
    return np


@pytest.fixture
def devices(xp):
    """SciPy's fixture for NumPy: its one device and None."""
    return [*xp.__array_namespace_info__().devices(), None]


def _logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    return ssm.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=return_sign)


def _softmax(x, axis=None):
    return ssm.softmax(x, axis=axis)


def _log_softmax(x, axis=None):
    return ssm.log_softmax(x, axis=axis)


def _wrap(x, *, xp):
    return xp.asarray(wrap_radians(x))


@pytest.fixture(autouse=True)
def _ours(monkeypatch):
    """The names SciPy's tests call, swapped for ours for the duration of each test."""
    monkeypatch.setattr(scipy_suite, "logsumexp", _logsumexp)
    monkeypatch.setattr(scipy_suite, "softmax", _softmax)
    monkeypatch.setattr(scipy_suite, "log_softmax", _log_softmax)
    monkeypatch.setattr(scipy_suite, "_wrap_radians", _wrap)


def test_the_suite_calls_ours():
    """A guard on the swap itself: SciPy's own logsumexp overflows where ours does not."""
    assert scipy_suite.logsumexp is _logsumexp
    assert np.isfinite(scipy_suite.logsumexp([700.0, 700.0], b=[1e308, 1e308]))
