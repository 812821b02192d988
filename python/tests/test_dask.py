"""swiftsoftmax.dask: the softmax family and cross-entropy over an axis split across chunks, on
Dask's local schedulers and on a distributed LocalCluster, against the one-piece results."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import swiftsoftmax as ssm  # noqa: E402
import swiftsoftmax.dask as ssd  # noqa: E402
from conftest import FLOATS, ulp_errors  # noqa: E402

MAX_ULP = 2.0


def assert_close_ulp(got, one_piece, what=""):
    got = np.asarray(got)
    assert got.dtype == np.asarray(one_piece).dtype, (got.dtype, np.asarray(one_piece).dtype)
    err = ulp_errors(got, one_piece, got.dtype)
    assert err.size == 0 or err.max() <= MAX_ULP, f"{what}: {err.max():.3g} ulp from the one-piece result"


def no_rechunk_of(arr):
    """The graph never rechunks (the softmax axis stays in its chunks)."""
    names = {k[0] if isinstance(k, tuple) else k for k in dict(arr.__dask_graph__()).keys()}
    assert not any("rechunk" in str(n) for n in names)


SCHEDULERS = ["threads", "sync", "processes"]


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_softmax_family_equals_one_piece(scheduler, dtype, rng):
    x = (rng.standard_normal((6, 1000)) * 5).astype(dtype)
    dx = da.from_array(x, chunks=(3, (1, 299, 300, 400)))
    with dask.config.set(scheduler=scheduler):
        y, ly, lse = dask.compute(ssd.softmax(dx), ssd.log_softmax(dx), ssd.logsumexp(dx))
    assert_close_ulp(y, ssm.softmax(x), "softmax")
    assert_close_ulp(ly, ssm.log_softmax(x), "log_softmax")
    assert_close_ulp(lse, ssm.logsumexp(x), "logsumexp")


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
def test_non_last_axis_temperature_and_kept_chunks(dtype, rng):
    x = (rng.standard_normal((50, 4, 3)) * 10).astype(dtype)
    dx = da.from_array(x, chunks=(7, 2, 3))
    for op in ("softmax", "log_softmax"):
        y = getattr(ssd, op)(dx, axis=0, temperature=0.7)
        assert y.chunks == dx.chunks
        no_rechunk_of(y)
        assert_close_ulp(y.compute(), getattr(ssm, op)(x, axis=0, temperature=0.7), op)
    lse = ssd.logsumexp(dx, axis=0, keepdims=True)
    assert lse.shape == (1, 4, 3)
    assert_close_ulp(lse.compute(), ssm.logsumexp(x, axis=0, keepdims=True), "logsumexp")


def test_dtypes_follow_the_one_piece_rules(rng):
    for x in (rng.standard_normal((3, 40)).astype(np.float16), rng.integers(-5, 5, (3, 40))):
        dx = da.from_array(x, chunks=(3, 16))
        y = ssd.softmax(dx)
        ref = ssm.softmax(x)
        assert y.dtype == ref.dtype
        np.testing.assert_array_equal(y.compute(), ref)


def test_minus_inf_chunks_and_special_values():
    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, 1.0, 2.0, -inf, -inf],
                  [-inf, -inf, -inf, -inf, -inf, -inf],
                  [0.0, inf, -inf, 3.0, inf, 1.0],
                  [0.0, 1.0, 2.0, nan, 4.0, 5.0]])
    dx = da.from_array(x, chunks=(2, 2))
    for op in ("softmax", "log_softmax", "logsumexp"):
        np.testing.assert_array_equal(getattr(ssd, op)(dx).compute(scheduler="sync"), getattr(ssm, op)(x),
                                      err_msg=op)
    s = ssd.softmax_stats(dx).compute(scheduler="sync")
    assert s[1].tolist() == (-inf, 0.0, 0.0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400), pieces=st.integers(1, 12),
       split_every=st.sampled_from([2, 3, 4, None]), f32=st.booleans())
def test_any_chunking_and_tree_gives_the_one_piece_result(seed, n, pieces, split_every, f32):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if f32 else np.float64
    x = (rng.standard_normal((2, n)) * rng.choice([0.1, 3.0, 300.0]) + 40).astype(dtype)
    cuts = np.sort(rng.integers(1, n + 1, size=min(pieces, n) - 1)) if n > 1 else np.array([], int)
    sizes = tuple(int(s) for s in np.diff(np.concatenate([[0], cuts, [n]])) if s > 0)
    dx = da.from_array(x, chunks=(2, sizes))
    y, ly, lse = dask.compute(ssd.softmax(dx, split_every=split_every), ssd.log_softmax(dx, split_every=split_every),
                              ssd.logsumexp(dx, split_every=split_every), scheduler="sync")
    assert_close_ulp(y, ssm.softmax(x), "softmax")
    assert_close_ulp(ly, ssm.log_softmax(x), "log_softmax")
    assert_close_ulp(lse, ssm.logsumexp(x), "logsumexp")


# ---------------------------------------------------------------------------------------------
# cross-entropy


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing,weighted", [(0.0, False), (0.1, True), (0.2, False)])
def test_cross_entropy_equals_one_piece(dtype, reduction, smoothing, weighted, rng):
    n, c = 30, 200
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    y[::5] = -100
    w = rng.random(c) + 0.5 if weighted else None
    dx = da.from_array(x, chunks=(10, (50, 1, 99, 50)))
    loss, grad = dask.compute(*ssd.cross_entropy_with_grad(dx, y, weight=w, label_smoothing=smoothing,
                                                           reduction=reduction), scheduler="threads")
    ref_loss, ref_grad = ssm.cross_entropy_with_grad(x, y, weight=w, label_smoothing=smoothing, reduction=reduction)
    assert_close_ulp(loss, ref_loss, "loss")
    only_loss = ssd.cross_entropy(dx, y, weight=w, label_smoothing=smoothing, reduction=reduction)
    np.testing.assert_array_equal(only_loss.compute(), loss)
    # The gradient: as the sharded NumPy path (test_partial.py), measured at the size of its terms.
    den = ssm.cross_entropy_denominator(y, num_classes=c, weight=w, dtype=dtype) if reduction == "mean" else 1.0
    scale = np.abs(ref_grad).astype(np.float64) + smoothing / c * (1.0 if w is None else w.max()) / den
    tol = (3.0 if dtype == np.float64 else 2.0) * np.spacing(scale.astype(dtype)).astype(np.float64)
    assert (np.abs(grad.astype(np.float64) - ref_grad.astype(np.float64)) <= tol).all()
    assert grad.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", FLOATS, ids=["f32", "f64"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing,weighted", [(0.0, False), (0.1, True)])
def test_cross_entropy_sample_weight_equals_one_piece(dtype, reduction, smoothing, weighted, rng):
    n, c = 24, 150
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    y = rng.integers(0, c, n)
    y[::7] = -100
    w = rng.random(c) + 0.5 if weighted else None
    sw = rng.random(n) * 3
    sw[::5] = 0  # a zero weight leaves the sample out of the mean's denominator
    dx = da.from_array(x, chunks=(8, (60, 1, 89)))
    kw = dict(weight=w, label_smoothing=smoothing, reduction=reduction, sample_weight=sw)
    loss, grad = dask.compute(*ssd.cross_entropy_with_grad(dx, y, **kw), scheduler="threads")
    ref_loss, ref_grad = ssm.cross_entropy_with_grad(x, y, **kw)
    assert_close_ulp(loss, ref_loss, "loss")
    np.testing.assert_array_equal(ssd.cross_entropy(dx, y, **kw).compute(), loss)
    # The gradient: as the sharded path, one more rounding (the weight applied after the pass).
    den = float(np.sum(np.where(y != -100, (1.0 if w is None else w.astype(dtype)[np.where(y != -100, y, 0)])
                                * sw.astype(dtype), 0.0))) if reduction == "mean" else 1.0
    scale = np.abs(ref_grad).astype(np.float64) + smoothing / c * (1.0 if w is None else w.max()) * sw.max() / den
    tol = 4.0 * np.spacing(scale.astype(dtype)).astype(np.float64)
    assert (np.abs(grad.astype(np.float64) - ref_grad.astype(np.float64)) <= tol).all()
    assert not grad[::5].any()  # the zero-weight samples


def test_cross_entropy_sample_weight_errors(rng):
    dx = da.from_array(rng.standard_normal((3, 8)), chunks=(3, 4))
    with pytest.raises(ValueError, match=r"sample_weight\[1\] must be finite and >= 0, got -1"):
        ssd.cross_entropy(dx, np.zeros(3, int), sample_weight=[1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match="sample_weight: expected one weight per sample"):
        ssd.cross_entropy(dx, np.zeros(3, int), sample_weight=np.ones(4))
    with pytest.raises(TypeError, match="sample_weight"):
        ssd.cross_entropy(dx, np.zeros(3, int), sample_weight=["a", "b", "c"])


def test_cross_entropy_smoothing_uses_the_global_class_count(rng):
    x = rng.standard_normal((8, 64))
    y = rng.integers(0, 64, 8)
    dx = da.from_array(x, chunks=(8, 16))
    got = ssd.cross_entropy(dx, y, label_smoothing=0.3).compute(scheduler="sync")
    assert_close_ulp(got, ssm.cross_entropy(x, y, label_smoothing=0.3), "smoothed loss")
    logp = ssm.log_softmax(x)
    megatron = np.mean(0.7 * -logp[np.arange(8), y] + 0.3 / 16 * -logp.sum(-1))
    assert abs(got - megatron) > 0.1 * got


def test_cross_entropy_class_axis_1_and_dask_target(rng):
    x = rng.standard_normal((6, 40, 5))  # PyTorch's (N, C, d)
    y = rng.integers(0, 40, (6, 5))
    dx = da.from_array(x, chunks=(3, 15, 5))
    dy = da.from_array(y, chunks=(2, 5))  # other chunks than the logits': realigned
    loss, grad = ssd.cross_entropy_with_grad(dx, dy, axis=1, reduction="sum")
    ref_loss, ref_grad = ssm.cross_entropy_with_grad(x, y, axis=1, reduction="sum")
    assert_close_ulp(loss.compute(), ref_loss, "loss")
    np.testing.assert_allclose(grad.compute(), ref_grad, rtol=4e-16, atol=1e-18)
    assert grad.chunks == dx.chunks


def test_cross_entropy_all_ignored(rng):
    x = rng.standard_normal((4, 10))
    dx = da.from_array(x, chunks=(2, 5))
    loss, grad = dask.compute(*ssd.cross_entropy_with_grad(dx, np.full(4, -100)), scheduler="sync")
    assert np.isnan(loss) and (grad == 0).all()


# ---------------------------------------------------------------------------------------------
# distributed


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c:
        with distributed.Client(c) as cl:
            yield cl


def test_on_a_local_cluster(client, rng):
    x = (rng.standard_normal((16, 4000)) * 4).astype(np.float32)
    y = rng.integers(0, 4000, 16)
    dx = da.from_array(x, chunks=(8, 500))
    sm, lse, (loss, grad) = client.compute([ssd.softmax(dx), ssd.logsumexp(dx),
                                            ssd.cross_entropy_with_grad(dx, y, label_smoothing=0.1)], sync=True)
    assert_close_ulp(sm, ssm.softmax(x), "softmax")
    assert_close_ulp(lse, ssm.logsumexp(x), "logsumexp")
    assert_close_ulp(loss, ssm.cross_entropy(x, y, label_smoothing=0.1), "loss")
    assert grad.shape == x.shape


def test_on_a_local_cluster_of_processes(rng):
    distributed = pytest.importorskip("distributed")
    x = rng.standard_normal((4, 3000))
    dx = da.from_array(x, chunks=(2, 1000))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c:
        with distributed.Client(c) as cl:
            got = cl.compute(ssd.log_softmax(dx), sync=True)
    assert_close_ulp(got, ssm.log_softmax(x), "log_softmax")


# ---------------------------------------------------------------------------------------------
# errors and packaging


def test_errors_name_the_argument(rng):
    dx = da.from_array(rng.standard_normal((3, 8)), chunks=(3, 4))
    with pytest.raises(ValueError, match="temperature"):
        ssd.softmax(dx, temperature=0.0)
    with pytest.raises(TypeError, match="axis"):
        ssd.softmax(dx, axis=(0, 1))
    with pytest.raises(TypeError, match="x: expected real"):
        ssd.softmax(da.from_array(np.array([["a"]])))
    with pytest.raises(TypeError, match="target: expected integer"):
        ssd.cross_entropy(dx, np.zeros((3, 8)))
    with pytest.raises(ValueError, match="target: class-index targets"):
        ssd.cross_entropy(dx, np.zeros(4, int))
    with pytest.raises(ValueError, match="weight"):
        ssd.cross_entropy(dx, np.zeros(3, int), weight=np.ones(7))
    with pytest.raises(ValueError, match="label_smoothing"):
        ssd.cross_entropy(dx, np.zeros(3, int), label_smoothing=2.0)
    with pytest.raises(ValueError, match="reduction"):
        ssd.cross_entropy(dx, np.zeros(3, int), reduction="avg")
    with pytest.raises(ValueError, match=r"target.*labels\[1\] = 8"):
        ssd.cross_entropy(dx, np.array([0, 8, 1])).compute(scheduler="sync")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(),
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_importing_swiftsoftmax_does_not_import_dask():
    r = _run("import sys, swiftsoftmax; print(any(m == 'dask' or m.startswith('dask.') for m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_without_dask_a_clear_import_error():
    r = _run("import sys; sys.modules['dask'] = None; sys.modules['dask.array'] = None\n"
             "try:\n    import swiftsoftmax.dask\nexcept ImportError as e:\n    print(e)")
    assert r.returncode == 0, r.stderr
    assert "pip install 'swiftsoftmax[dask]'" in r.stdout


def test_docs_scale_out_examples_run():
    """docs/python.md's scale-out examples ('Dask', 'An axis split into chunks') run and print
    what they show."""
    import doctest
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "python.md").read_text()
    blocks = []
    for heading in ("## Dask", "## An axis split into chunks"):  # the first imports what both use
        section = doc.split(heading + "\n", 1)[1].split("\n## ", 1)[0]
        blocks += [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    assert len(blocks) == 2
    globs: dict = {}
    for k, block in enumerate(blocks):
        test = doctest.DocTestParser().get_doctest(block, globs, f"docs/python.md scale-out {k}", "docs/python.md", 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test, clear_globs=False)
        globs = test.globs
        assert runner.summarize(verbose=False).failed == 0
