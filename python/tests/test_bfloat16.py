"""bfloat16 (ml_dtypes') input everywhere float16 is taken, and the forward functions' `dtype=`.

bfloat16 is computed in float32 and returned as bfloat16, so each result must be the float32
result of the same values rounded once to bfloat16; `dtype=` casts the input first, as
PyTorch's does (bfloat16 scores with dtype=float32 give float32 probabilities).
"""

from __future__ import annotations

import numpy as np
import pytest

import swiftsoftmax as ssm

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)


def scores(shape=(5, 7), seed=0):
    return np.random.default_rng(seed).normal(0, 4, shape).astype(BF16)


@pytest.mark.parametrize("func", ["softmax", "log_softmax", "normalize"])
def test_rowwise_bfloat16_is_float32_rounded_once(func):
    x = scores()
    if func == "normalize":
        x = np.abs(x.astype(np.float32)).astype(BF16)
    y = getattr(ssm, func)(x)
    assert y.dtype == BF16 and y.shape == x.shape
    ref = getattr(ssm, func)(x.astype(np.float32)).astype(BF16)
    np.testing.assert_array_equal(y.astype(np.float32), ref.astype(np.float32))


@pytest.mark.parametrize("func", ["sigmoid", "log_sigmoid"])
def test_elementwise_bfloat16(func):
    x = scores((3, 4, 5))
    y = getattr(ssm, func)(x)
    assert y.dtype == BF16
    ref = getattr(ssm, func)(x.astype(np.float32)).astype(BF16)
    np.testing.assert_array_equal(y.astype(np.float32), ref.astype(np.float32))


def test_logsumexp_and_scale_factors_bfloat16():
    x = scores()
    r = ssm.logsumexp(x, axis=1)
    assert r.dtype == BF16
    np.testing.assert_array_equal(r.astype(np.float32),
                                  ssm.logsumexp(x.astype(np.float32), axis=1).astype(BF16).astype(np.float32))
    b = np.where(np.arange(7) % 2 == 0, 1.0, -0.25).astype(BF16)
    r, sign = ssm.logsumexp(x, axis=1, b=b, return_sign=True)
    assert r.dtype == BF16
    f, fs = ssm.logsumexp(x.astype(np.float32), axis=1, b=b.astype(np.float32), return_sign=True)
    np.testing.assert_array_equal(r.astype(np.float32), f.astype(BF16).astype(np.float32))
    np.testing.assert_array_equal(sign.astype(np.float32), fs)
    # A wider scale factor widens the result, as NumPy's promotion of float32 and float64 would.
    assert ssm.logsumexp(x, axis=1, b=np.ones(7)).dtype == np.float64


def test_losses_and_one_hot_bfloat16():
    x = scores((6, 4))
    labels = np.array([0, 3, 1, 2, 2, 0])
    loss, grad = ssm.cross_entropy_with_grad(x, labels)
    l32, g32 = ssm.cross_entropy_with_grad(x.astype(np.float32), labels)
    assert grad.dtype == BF16
    np.testing.assert_array_equal(grad.astype(np.float32), g32.astype(BF16).astype(np.float32))
    assert float(loss) == float(np.asarray(l32).astype(BF16).astype(np.float32))
    probs = ssm.softmax(scores((6, 4), seed=1))
    soft = ssm.cross_entropy(x, probs, reduction="none")  # bfloat16 probability targets
    np.testing.assert_array_equal(
        soft.astype(np.float32),
        ssm.cross_entropy(x.astype(np.float32), probs.astype(np.float32), reduction="none")
        .astype(BF16).astype(np.float32))
    oh = ssm.one_hot(labels, 4, dtype=BF16)
    assert oh.dtype == BF16
    np.testing.assert_array_equal(oh.astype(np.float32), np.eye(4, dtype=np.float32)[labels])


def test_bfloat16_special_values():
    x = np.array([[0.0, np.inf, 1.0], [np.nan, 0.0, 0.0], [-np.inf, -np.inf, -np.inf]]).astype(BF16)
    y = ssm.softmax(x).astype(np.float32)
    np.testing.assert_array_equal(y[0], [0.0, 1.0, 0.0])
    assert np.isnan(y[1]).all()
    np.testing.assert_array_equal(y[2], [0.0, 0.0, 0.0])


def test_bfloat16_out_and_errors():
    x = scores()
    out = np.empty(x.shape, BF16)
    assert ssm.softmax(x, out=out) is out
    wrong = np.zeros(x.shape, np.float32)
    with pytest.raises(ValueError, match="out: expected dtype bfloat16"):
        ssm.softmax(x, out=wrong)
    assert (wrong == 0).all()


@pytest.mark.parametrize("func", ["softmax", "log_softmax", "logsumexp", "normalize", "sigmoid", "log_sigmoid"])
@pytest.mark.parametrize("src", [np.float16, BF16, np.float64])
@pytest.mark.parametrize("dst", [np.float32, np.float64])
def test_dtype_keyword_casts_first(func, src, dst):
    x = np.abs(np.random.default_rng(2).normal(0, 3, (4, 9))).astype(src)
    y = getattr(ssm, func)(x, dtype=dst)
    assert y.dtype == np.dtype(dst)
    ref = getattr(ssm, func)(x.astype(dst))
    np.testing.assert_array_equal(y, ref)


def test_dtype_keyword_to_bfloat16_and_errors():
    x = np.random.default_rng(3).normal(0, 3, (4, 9))
    y = ssm.softmax(x, dtype=BF16)
    assert y.dtype == BF16
    with pytest.raises(TypeError, match="dtype: expected a floating-point dtype"):
        ssm.softmax(x, dtype=np.int32)
    with pytest.raises(TypeError, match="dtype"):
        ssm.log_softmax(x, dtype="not a dtype")
    out = np.zeros((4, 9), np.float64)
    with pytest.raises(ValueError, match="out: expected dtype float32"):
        ssm.softmax(x, dtype=np.float32, out=out)
    assert (out == 0).all()


def test_torch_softmax_dtype_semantics():
    """PyTorch's dtype=: the input is cast before the operation (the semantics followed)."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(4).normal(0, 3, (3, 8)).astype(np.float16)
    ours = ssm.softmax(x, dtype=np.float64)
    theirs = torch.softmax(torch.from_numpy(x), dim=-1, dtype=torch.float64).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=0)


def test_dask_bfloat16():
    """The Dask functions take bfloat16 chunks as the one-piece ones do."""
    da = pytest.importorskip("dask.array")
    import swiftsoftmax.dask as sd

    x = scores((6, 40), seed=5)
    d = da.from_array(x, chunks=(3, 10))
    y = sd.softmax(d).compute(scheduler="synchronous")
    assert y.dtype == BF16
    np.testing.assert_array_equal(y.astype(np.float32), ssm.softmax(x).astype(np.float32))
    assert sd.logsumexp(d).compute(scheduler="synchronous").dtype == BF16
