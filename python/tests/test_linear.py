"""linear_cross_entropy: the output layer (linear + softmax + cross-entropy) in chunks, against
cross_entropy_with_grad on the materialised logits; its errors; its memory budget."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import swiftsoftmax as ssm
from swiftsoftmax import _linear
from conftest import FLOATS, assert_raises_unchanged

REDUCTIONS = ["mean", "sum", "none"]


def dyadic(rng, shape, dtype, scale=8):
    """Multiples of 1/scale in [-1, 1]: with D <= 64 every product and sum of x @ w.T is exact
    in float32, so the chunked logits equal the materialised ones bit for bit and the
    comparison measures the loss and gradient, not the matmul's blocking."""
    return (rng.integers(-scale, scale + 1, shape) / scale).astype(dtype)


def materialised(x, w, y, b=None, **kw):
    """The reference: cross_entropy_with_grad on the materialised logits, and the gradients'
    products in float64."""
    z = x @ w.T
    if b is not None:
        z = z + b
    loss, g = ssm.cross_entropy_with_grad(z, y, **kw)
    g64 = g.astype(np.float64)
    gb = None if b is None else g64.sum(axis=0)
    return loss, g64 @ w.astype(np.float64), g64.T @ x.astype(np.float64), gb, np.abs(g64)


def assert_loss_close(got, ref, dtype):
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    eps = np.finfo(dtype).eps
    both_nan = np.isnan(got) & np.isnan(ref)
    same = (got == ref) | both_nan
    with np.errstate(invalid="ignore"):  # inf - inf where both are infinite (compared as equal)
        close = np.abs(got.astype(np.float64) - ref.astype(np.float64)) <= 8 * eps * np.abs(ref.astype(np.float64))
    assert np.all(same | close), (got, ref)


def assert_grad_close(got, ref, bound, dtype, what):
    """Normwise: ||got - ref|| <= 16 eps || |G| |other factor| ||, the size of a product's
    rounding errors."""
    assert got.dtype == np.dtype(dtype), (what, got.dtype)
    assert got.shape == ref.shape, (what, got.shape, ref.shape)
    err = np.linalg.norm(got.astype(np.float64) - ref)
    assert err <= 16 * np.finfo(dtype).eps * (np.linalg.norm(bound) + np.finfo(np.float64).tiny), \
        f"{what}: {err:.3g} vs bound {np.linalg.norm(bound):.3g}"


def check_against_materialised(x, w, y, b=None, *, chunk_size=None, **kw):
    dtype = np.result_type(x, w, *(() if b is None else (b,)))
    loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, y, bias=b, chunk_size=chunk_size,
                                                return_grad=True, **_rename(kw))
    rloss, rgx, rgw, rgb, absg = materialised(x, w, y, b, **kw)
    assert_loss_close(loss, rloss, dtype)
    alone = ssm.linear_cross_entropy(x, w, y, bias=b, chunk_size=chunk_size, **_rename(kw))
    np.testing.assert_array_equal(alone, loss)          # the same loss without the gradients
    absx, absw = np.abs(x.astype(np.float64)), np.abs(w.astype(np.float64))
    assert_grad_close(gx, rgx, absg @ absw, dtype, "grad_x")
    assert_grad_close(gw, rgw, absg.T @ absx, dtype, "grad_weight")
    if b is None:
        assert gb is None
    else:
        assert_grad_close(gb, rgb, absg.sum(axis=0), dtype, "grad_bias")


def _rename(kw):
    kw = dict(kw)
    if "weight" in kw:
        kw["class_weight"] = kw.pop("weight")
    return kw


# ---- against the materialised computation --------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 23), d=st.integers(1, 24), v=st.integers(1, 40),
       chunk=st.one_of(st.none(), st.integers(1, 30)), f32=st.booleans(), with_bias=st.booleans(),
       weighted=st.booleans(), smoothing=st.sampled_from([0.0, 0.1, 1.0]),
       reduction=st.sampled_from(REDUCTIONS), ignored=st.floats(0, 1))
def test_random_inputs_match_the_materialised_logits(seed, n, d, v, chunk, f32, with_bias, weighted,
                                                     smoothing, reduction, ignored):
    rng = np.random.default_rng(seed)
    dt = np.float32 if f32 else np.float64
    x, w = dyadic(rng, (n, d), dt), dyadic(rng, (v, d), dt)
    b = dyadic(rng, v, dt) * 4 if with_bias else None
    y = rng.integers(0, v, n)
    y[rng.random(n) < ignored * 0.5] = -100
    cw = rng.uniform(0.25, 2.0, v).astype(dt) if weighted else None
    check_against_materialised(x, w, y, b, chunk_size=chunk, weight=cw, label_smoothing=smoothing,
                               reduction=reduction)


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("chunk", [1, 7, 50, None])
def test_gaussian_inputs(dtype, reduction, chunk, rng):
    """Ordinary (non-dyadic) values: the matmul's roundings now differ between chunks and the
    whole, by a few ulp of the logits."""
    n, d, v = 50, 32, 300
    x = rng.standard_normal((n, d)).astype(dtype)
    w = (rng.standard_normal((v, d)) * 0.3).astype(dtype)
    b = rng.standard_normal(v).astype(dtype)
    y = rng.integers(0, v, n)
    loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, y, bias=b, reduction=reduction, chunk_size=chunk,
                                                return_grad=True)
    rloss, rgx, rgw, rgb, absg = materialised(x, w, y, b, reduction=reduction)
    # A logit's rounding (|x||w| eps) moves the loss by as much.
    slack = 64 * np.finfo(dtype).eps * (np.abs(x) @ np.abs(w).T).max()
    np.testing.assert_allclose(loss, rloss, rtol=slack, atol=0)
    assert_grad_close(gx, rgx, absg @ np.abs(w.astype(np.float64)), dtype, "grad_x")
    assert_grad_close(gw, rgw, absg.T @ np.abs(x.astype(np.float64)), dtype, "grad_weight")
    assert_grad_close(gb, rgb, absg.sum(axis=0), dtype, "grad_bias")


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_adversarial_rows(dtype, rng):
    """Confident rows (a bias of 60 on the target: the loss is exp(-60)-small and must keep its
    digits), classes at -inf through the bias, a target at -inf (infinite loss), ignored rows,
    label smoothing and class weights, with chunks that cut across all of them."""
    n, d, v = 13, 8, 17
    x, w = dyadic(rng, (n, d), dtype), dyadic(rng, (v, d), dtype)
    y = rng.integers(0, v - 3, n)
    b = np.zeros(v, dtype)
    b[v - 3:] = -np.inf
    for kw in ({}, {"reduction": "none"}, {"label_smoothing": 0.2, "reduction": "sum"}):
        check_against_materialised(x, w, y, b, chunk_size=4, **kw)
    confident = b.copy()
    confident[y[0]] = 60.0
    yc = np.full(n, y[0])
    yc[1::3] = -100
    for kw in ({"reduction": "none"}, {"weight": rng.uniform(0.5, 2, v).astype(dtype)}):
        check_against_materialised(x, w, yc, confident, chunk_size=5, **kw)
    loss = ssm.linear_cross_entropy(x, w, yc, bias=confident, reduction="none")
    assert 0 < loss[0] < 1e-20            # exp(-60 + ...), not rounded to 0
    yinf = y.copy()
    yinf[2] = v - 1                       # a target whose logit is -inf
    loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, yinf, bias=b, reduction="none", return_grad=True)
    assert np.isinf(loss[2]) and np.isfinite(loss[[0, 1, 3]]).all()
    check_against_materialised(x, w, yinf, b, chunk_size=3, reduction="sum")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_target_ignored(reduction, rng):
    x, w = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    y = np.full(6, -1)
    loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, y, bias=np.zeros(5), ignore_index=-1,
                                                reduction=reduction, chunk_size=4, return_grad=True)
    ref = ssm.cross_entropy(x @ w.T, y, ignore_index=-1, reduction=reduction)
    np.testing.assert_array_equal(loss, ref)           # NaN for the mean, as the plain function
    assert not gx.any() and not gw.any() and not gb.any()


def test_empty_batch():
    x, w = np.zeros((0, 4)), np.ones((3, 4))
    loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, np.zeros(0, int), reduction="sum", return_grad=True)
    assert loss == 0 and gx.shape == (0, 4) and not gw.any() and gb is None
    assert ssm.linear_cross_entropy(x, w, np.zeros(0, int), reduction="none").shape == (0,)


def test_dtypes_follow_numpy_promotion_then_cross_entropy(rng):
    x32, w32 = dyadic(rng, (5, 4), np.float32), dyadic(rng, (6, 4), np.float32)
    y = rng.integers(0, 6, 5)
    cases = [(x32, w32, None, np.float32), (x32, w32.astype(np.float64), None, np.float64),
             (x32, w32, np.zeros(6), np.float64), (x32.astype(np.float16), w32.astype(np.float16), None, np.float16),
             ((x32 * 8).astype(np.int64), (w32 * 8).astype(np.int32), None, np.float64)]
    for x, w, b, expect in cases:
        loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, y, bias=b, return_grad=True)
        z = x @ w.T + (0 if b is None else b)
        assert loss.dtype == ssm.cross_entropy(z, y).dtype == expect
        assert gx.dtype == gw.dtype == expect
        assert_loss_close(loss, ssm.cross_entropy(z, y), expect)


def test_a_transposed_weight_and_lists(rng):
    """The weight is used where it lies (SoftmaxClassifier keeps it as the transpose of an
    (in, out) matrix); lists are arrays."""
    x, wt = dyadic(rng, (9, 5), np.float64), dyadic(rng, (5, 11), np.float64)
    y = rng.integers(0, 11, 9)
    check_against_materialised(x, wt.T, y, chunk_size=2)
    assert ssm.linear_cross_entropy(x.tolist(), wt.T.tolist(), y.tolist()) == \
        ssm.linear_cross_entropy(x, np.ascontiguousarray(wt.T), y)


def test_default_chunk_keeps_the_budget():
    for n, d, v, size in [(4096, 256, 131072, 4), (4096, 256, 131072, 8), (10, 3, 5, 4), (64, 4096, 256_000, 4),
                          (8, 8, 40_000_000, 4)]:
        rows = _linear._rows_per_chunk(n, d, v, size)
        assert 1 <= rows <= n
        if rows > 1:
            assert rows * (v + d + 1) * size + _linear._ACC_BYTES <= _linear.BUDGET_BYTES
    assert _linear._rows_per_chunk(4096, 256, 131072, 4) == 95


# ---- errors ----------------------------------------------------------------------------------------

def test_errors_name_the_argument_and_write_nothing(rng):
    x, w, b, y = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5), np.array([0, 1, 2, 4])
    f = ssm.linear_cross_entropy
    cases = [
        (ValueError, "x: expected a 2-D", (x[0], w, y[:1]), {}),
        (ValueError, r"weight: expected shape \(V, 3\)", (x, w[:, :2], y), {}),
        (ValueError, r"weight: expected shape", (x, w[0], y), {}),
        (ValueError, r"bias: expected shape \(5,\)", (x, w, y), {"bias": b[:4]}),
        (ValueError, r"target: class-index targets .* \(4,\)", (x, w, y[:3]), {}),
        (TypeError, "target: expected integer", (x, w, y.astype(float)), {}),
        (ValueError, r"target.*labels\[3\] = 5", (x, w, np.array([0, 1, 2, 5])), {}),
        (ValueError, r"class_weight: expected shape \(5,\)", (x, w, y), {"class_weight": np.ones(4)}),
        (ValueError, "label_smoothing", (x, w, y), {"label_smoothing": 1.5}),
        (TypeError, "label_smoothing", (x, w, y), {"label_smoothing": "0.1"}),
        (ValueError, "reduction", (x, w, y), {"reduction": "avg"}),
        (ValueError, "chunk_size: expected an int >= 1", (x, w, y), {"chunk_size": 0}),
        (TypeError, "chunk_size", (x, w, y), {"chunk_size": 2.5}),
        (TypeError, "return_grad", (x, w, y), {"return_grad": "yes"}),
        (TypeError, "x: expected real", (x.astype(complex), w, y), {}),
        (TypeError, "weight: expected real", (x, w.astype(complex), y), {}),
        (TypeError, "bias: expected real", (x, w, y), {"bias": np.array(["a"] * 5)}),
        (ValueError, "ignore_index", (x, w, y), {"ignore_index": 2**70}),
    ]
    for exc, match, args, kw in cases:
        assert_raises_unchanged(exc, f, *args, match=match, **kw)


# ---- memory --------------------------------------------------------------------------------------

_MEMORY = """
import time, tracemalloc, numpy as np, swiftsoftmax as ssm
from swiftsoftmax._linear import BUDGET_BYTES
n, d, v = 4096, 256, 131072
rng = np.random.default_rng(0)
x = rng.standard_normal((n, d), dtype=np.float32)
w = rng.standard_normal((v, d), dtype=np.float32) * np.float32(0.05)
b = rng.standard_normal(v, dtype=np.float32)
y = rng.integers(0, v, n)
tracemalloc.start()
t0 = time.perf_counter()
loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, y, bias=b, return_grad=True)
seconds = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1]
print(peak, gx.nbytes + gw.nbytes + gb.nbytes, n * v * 4, BUDGET_BYTES, seconds)
"""


def test_memory_stays_far_below_the_logits():
    """N=4096, D=256, V=131072 float32: the logits would take 2 GiB. The peak of NumPy's
    allocations during the call (tracemalloc sees them), results included, stays below 10% of
    that, and the working set beside the results within the documented budget."""
    env = dict(os.environ)
    env.setdefault("OPENBLAS_NUM_THREADS", "2")
    r = subprocess.run([sys.executable, "-c", _MEMORY], capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert r.returncode == 0, r.stderr
    peak, results, logits, budget, seconds = (float(v) for v in r.stdout.split())
    assert peak < 0.10 * logits, f"peak {peak / 2**20:.0f} MiB of {logits / 2**20:.0f} MiB logits"
    assert peak - results <= budget, f"working set {(peak - results) / 2**20:.1f} MiB > budget"


# ---- documentation -------------------------------------------------------------------------------

def test_docstring_examples():
    failures, tried = doctest.testmod(_linear, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert tried > 0 and failures == 0


def test_docs_python_md_example():
    """docs/python.md's linear_cross_entropy example runs and prints what it shows."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "python.md").read_text(encoding="utf-8")
    section = doc.split("## The output layer in one call\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    test = doctest.DocTestParser().get_doctest(block, {}, "docs/python.md output layer", "docs/python.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0 and runner.tries >= 3


# ---- swiftsoftmax.dask.linear_cross_entropy -------------------------------------------------------
# The patterns of test_dask.py: the local schedulers, then a distributed LocalCluster.

def _dask():
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    import swiftsoftmax.dask as ssd
    return dask, da, ssd


def assert_same_as_one_piece(got, ref, dtype):
    loss, gx, gw, gb = got
    rloss, rgx, rgw, rgb = ref
    assert_loss_close(loss, rloss, dtype)
    for what, g, r in (("grad_x", gx, rgx), ("grad_weight", gw, rgw), ("grad_bias", gb, rgb)):
        if r is None:
            assert g is None
            continue
        g = np.asarray(g)
        assert g.dtype == r.dtype and g.shape == r.shape, what
        scale = np.linalg.norm(r.astype(np.float64)) + 1e-300
        assert np.linalg.norm(g.astype(np.float64) - r) <= 64 * np.finfo(dtype).eps * scale, what


@pytest.mark.parametrize("scheduler", ["threads", "sync", "processes"])
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_dask_equals_one_piece(scheduler, dtype, rng):
    dask, da, ssd = _dask()
    n, d, v = 45, 16, 230
    x, w = dyadic(rng, (n, d), dtype), dyadic(rng, (v, d), dtype)
    b = dyadic(rng, v, dtype) * 4
    y = rng.integers(0, v, n)
    y[::7] = -100
    cw = rng.uniform(0.5, 2, v)
    dx, dw = da.from_array(x, chunks=(10, 16)), da.from_array(w, chunks=((1, 99, 100, 30), (8, 8)))
    for kw in ({"reduction": "mean", "class_weight": cw, "label_smoothing": 0.1}, {"reduction": "sum"},
               {"reduction": "none", "label_smoothing": 1.0}):
        lazy = ssd.linear_cross_entropy(dx, dw, y, bias=da.from_array(b, chunks=50), return_grad=True, **kw)
        assert lazy[2].chunks == ((1, 99, 100, 30), (16,)) and lazy[1].chunks == ((10,) * 4 + (5,), (16,))
        with dask.config.set(scheduler=scheduler):
            got = dask.compute(*lazy)
        ref = ssm.linear_cross_entropy(x, w, y, bias=b, return_grad=True, **kw)
        assert_same_as_one_piece(got, ref, dtype)
        alone = ssd.linear_cross_entropy(dx, dw, y, bias=b, **kw).compute(scheduler="sync")
        assert_loss_close(alone, ref[0], dtype)


def test_dask_without_bias_and_every_target_ignored(rng):
    dask, da, ssd = _dask()
    x, w = rng.standard_normal((8, 3)), rng.standard_normal((9, 3))
    loss, gx, gw, gb = dask.compute(*ssd.linear_cross_entropy(da.from_array(x, chunks=3), da.from_array(w, chunks=4),
                                                              np.full(8, -100), return_grad=True), scheduler="sync")
    assert gb is None and np.isnan(loss) and not gx.any() and not gw.any()


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c:
        with distributed.Client(c) as cl:
            yield cl


def test_dask_on_a_local_cluster(client, rng):
    _, da, ssd = _dask()
    x = rng.standard_normal((64, 32)).astype(np.float32)
    w = (rng.standard_normal((3000, 32)) * 0.2).astype(np.float32)
    y = rng.integers(0, 3000, 64)
    lazy = ssd.linear_cross_entropy(da.from_array(x, chunks=(16, 32)), da.from_array(w, chunks=(500, 32)), y,
                                    label_smoothing=0.1, return_grad=True)
    got = client.compute(list(lazy[:3]), sync=True) + [None]
    ref = ssm.linear_cross_entropy(x, w, y, label_smoothing=0.1, return_grad=True)
    # float32 products: the blocks' roundings differ from the one-piece chunks' by a few ulp of a logit.
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5)
    for g, r in zip(got[1:3], ref[1:3]):
        assert g.dtype == r.dtype and np.linalg.norm(g - r) <= 1e-5 * np.linalg.norm(r)


def test_dask_errors_name_the_argument(rng):
    _, da, ssd = _dask()
    x, w, y = da.from_array(rng.standard_normal((4, 3)), chunks=2), da.from_array(rng.standard_normal((5, 3)), chunks=2), np.arange(4)
    f = ssd.linear_cross_entropy
    with pytest.raises(ValueError, match="x: expected a 2-D"):
        f(x[0], w, y)
    with pytest.raises(ValueError, match=r"weight: expected shape \(V, 3\)"):
        f(x, w[:, :2], y)
    with pytest.raises(ValueError, match=r"bias: expected shape \(5,\)"):
        f(x, w, y, bias=np.zeros(4))
    with pytest.raises(ValueError, match=r"target: expected shape \(4,\)"):
        f(x, w, y[:3])
    with pytest.raises(TypeError, match="target: expected integer"):
        f(x, w, y.astype(float))
    with pytest.raises(ValueError, match="class_weight"):
        f(x, w, y, class_weight=np.ones(3))
    with pytest.raises(ValueError, match="label_smoothing"):
        f(x, w, y, label_smoothing=-0.5)
    with pytest.raises(ValueError, match="reduction"):
        f(x, w, y, reduction="avg")
    with pytest.raises(TypeError, match="x: expected real"):
        f(x.astype(complex), w, y)
    with pytest.raises(ValueError, match=r"target.*labels\[1\] = 8"):
        f(x, w, np.array([0, 8, 1, 2])).compute(scheduler="sync")


def test_dask_docstring_example():
    _dask()
    import swiftsoftmax.dask as ssd
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(ssd.linear_cross_entropy, "linear_cross_entropy", globs={}):
        runner.run(test)
    assert runner.tries >= 5 and runner.failures == 0
