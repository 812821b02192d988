"""Complex input for softmax, log_softmax and logsumexp (docs/python.md, "Complex input"),
against SciPy and NumPy's complex arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp

import swiftsoftmax as ssm


@pytest.fixture(params=[np.complex64, np.complex128], ids=["c64", "c128"])
def cdtype(request):
    return np.dtype(request.param)


def _z(rng, shape, dt):
    return (rng.normal(0, 3, shape) + 1j * rng.uniform(-10, 10, shape)).astype(dt)


def test_softmax_matches_scipy(rng, cdtype):
    z = _z(rng, (4, 7), cdtype)
    rtol = 2e-5 if cdtype == np.complex64 else 1e-12
    for axis in (-1, 0, None):
        got = ssm.softmax(z, axis=axis)
        assert got.dtype == cdtype and got.shape == z.shape
        np.testing.assert_allclose(got, sp.softmax(z, axis=axis), rtol=rtol, atol=rtol * np.abs(got).max())


def test_log_softmax_is_the_principal_log_of_softmax(rng, cdtype):
    z = _z(rng, (3, 9), cdtype)
    ls = ssm.log_softmax(z)
    assert ls.dtype == cdtype
    assert np.all(ls.imag > -np.pi) and np.all(ls.imag <= np.pi)
    rtol = 1e-4 if cdtype == np.complex64 else 1e-12
    np.testing.assert_allclose(np.exp(ls), sp.softmax(z, axis=-1), rtol=rtol, atol=rtol)
    # SciPy's log_softmax agrees up to multiples of 2 pi i
    k = (sp.log_softmax(z, axis=-1) - ls).imag / (2 * np.pi)
    np.testing.assert_allclose(k, np.round(k), atol=1e-3)


def test_logsumexp_with_where_and_complex_b(rng):
    z = _z(rng, (5, 6), np.complex128)
    w = rng.random((5, 6)) < 0.6
    w[:, 0] = True
    b = rng.normal(size=(5, 6)) + 1j * rng.normal(size=(5, 6))
    got = ssm.logsumexp(z, b=b, where=w)
    ref = np.log(np.sum(np.where(w, b * np.exp(z), 0), axis=-1))
    np.testing.assert_allclose(np.exp(got), np.exp(ref), rtol=1e-12)
    r, s = ssm.logsumexp(z, b=b, where=w, return_sign=True)
    assert r.dtype == np.float64 and s.dtype == np.complex128
    np.testing.assert_allclose(s * np.exp(r), np.sum(np.where(w, b * np.exp(z), 0), axis=-1), rtol=1e-12)


def test_small_imaginary_parts_keep_their_relative_precision():
    res = ssm.logsumexp(np.array([0, 1e-300j]))
    assert res.imag == 5e-301 and res.real == np.log(2)


def test_temperature_divides_complex_scores(rng):
    z = _z(rng, (2, 5), np.complex128)
    np.testing.assert_allclose(ssm.softmax(z, temperature=2.0), ssm.softmax(z / 2), rtol=1e-14)


def test_other_functions_refuse_complex():
    for f in (ssm.sigmoid, ssm.normalize):
        with pytest.raises(TypeError):
            f(np.array([1j, 2]))
