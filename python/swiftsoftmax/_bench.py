"""`python -m swiftsoftmax bench`: swiftsoftmax against the tools people use, in one process.

Peers: the NumPy idiom and scipy.special always; JAX (jit, CPU, ``block_until_ready``),
ONNX Runtime (a one-node Softmax/LogSoftmax/Sigmoid model per shape and dtype, opset 13, intra-op
threads as ours) and PyTorch (CPU: ``torch.softmax``, ``torch.log_softmax``, ``torch.sigmoid``,
``F.logsigmoid``, and ``F.cross_entropy`` + ``backward``, ``torch.set_num_threads`` as ours)
when importable. The ``linear_cross_entropy`` rows (float32 only: the materialised float64
peers would need 8 GB) time the loss and the three gradients of ``x @ w.T + b`` for shapes
``N x D x V``: the ``numpy`` column is the materialised computation (NumPy's matmul, our
``cross_entropy_with_grad``, the two gradient products), ``torch`` is ``F.cross_entropy(x @ w.T +
b)`` + ``backward``, ``torch_lce`` PyTorch's chunked ``F.linear_cross_entropy`` (with
``LinearCrossEntropyOptions()``) + ``backward``. The sigmoid rows' NumPy idioms are ``1 / (1 + np.exp(-x))`` and
``-np.logaddexp(0, -x)``; scipy's are ``expit`` and ``log_expit``. The sum-normalisation row
(``normalize``) compares with ``x / x.sum(axis, keepdims=True)`` in NumPy, PyTorch and JAX, on
``|x|`` (nonnegative weights, what it is for; rows of mixed signs take a compensated Double sum
at about twice the cost, since theirs may cancel);
``logsumexp`` with ``m + log(sum(exp(x - m)))``, ``scipy.special.logsumexp``, ``jax.nn.logsumexp``,
ONNX's ReduceLogSumExp and ``torch.logsumexp``; ``logcumsumexp`` (on its own shapes) with
``np.logaddexp.accumulate``, ``jax.lax.cumlogsumexp`` and ``torch.logcumsumexp``; ``softmax_jacobian`` (on its own shapes, its
output being n·n per row) with ``diag(p) - p pᵀ`` in NumPy and ``jacrev`` under ``vmap`` in JAX and
PyTorch; ``one_hot`` with ``np.eye(n)[labels]``, ``jax.nn.one_hot`` and ``F.one_hot``. Every
figure is the best of several repeats after a warm-up; the number of calls per repeat adapts so
that small arrays are timed over many calls and the whole run stays short. Every call, ours
included, allocates its result. ``ours/copy`` divides our time by that of ``np.copyto`` of the
same array (the memory floor); ``out=/copy`` does the same for ours writing into an existing
array (no fresh pages), and ``ns/el/thr`` is that time in nanoseconds per element per thread.

    python -m swiftsoftmax bench [--quick] [--ops softmax,log_softmax,cross_entropy_with_grad]
                                 [--dtypes float32,float64] [--peers numpy,scipy,jax,ort,torch]
                                 [--shapes 8,1000,16384x128] [--rounds N] [--json PATH]
                                 [--peer-isa avx2]
    python -m swiftsoftmax bench --dask [--dask-shape 64x4194304] [--dask-chunks 8] [--dask-workers 2]

``--peer-isa avx2`` caps the peers that can be capped at AVX2, as a host without AVX-512 would
run them (``SWIFTSOFTMAX_ISA=avx2`` does the same for ours): PyTorch (``ATEN_CPU_CAPABILITY``),
JAX (``XLA_FLAGS=--xla_cpu_max_isa=AVX2``) and NumPy (``NPY_DISABLE_CPU_FEATURES``, its
AVX-512 targets). These are read when each library loads, so the bench starts again in a fresh
interpreter with them set. ONNX Runtime has no such setting (its MLAS kernels are chosen from
CPUID): its AVX-512 kernels stay, and the table says so.

``--dask`` runs only the scale-out row instead (see ``_bench_dask``; it needs the dask extra
and takes about a minute): ``swiftsoftmax.dask.softmax`` against Dask's own idiom, with the
peak memory per worker.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np
import numpy.typing as npt

OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy_with_grad", "softmax_vjp", "log_softmax_vjp",
       "sigmoid", "log_sigmoid", "normalize", "softmax_jacobian", "one_hot", "bce_with_grad",
       "linear_cross_entropy", "logcumsumexp", "ce_zloss_softcap", "kl_div_with_grad", "entropy", "nll_loss")
# kl_div_with_grad (mean over rows, both gradients) between the logits x and a second array of
# logits; entropy of softmax(x) per row; nll_loss (mean) of x taken as log-probabilities.
KL = "kl_div_with_grad"
DIV_OPS = (KL, "entropy", "nll_loss")
DIV_SHAPES = [((64, 1000), -1), ((4096, 1000), -1), ((16384, 128), -1)]
# bce_with_grad: binary_cross_entropy_with_logits_with_grad (mean) against soft targets in [0, 1].
BCE = "bce_with_grad"
# The VJPs are timed on the forward result of x and an upstream gradient g of its shape.
VJP_OPS = ("softmax_vjp", "log_softmax_vjp")
# Elementwise: no axis, so they are timed on the shapes reduced over the last axis only.
ELEM_OPS = ("sigmoid", "log_sigmoid")
DTYPES = ("float32", "float64")
PEERS = ("numpy", "scipy", "jax", "ort", "torch", "torch_lce")
# The output layer: (N, D, V) of x (N x D), the weight (V x D) and the logits it avoids (N x V).
LINEAR_OPS = ("linear_cross_entropy",)
LINEAR_SHAPES = [((4096, 256, 32768), -1), ((4096, 256, 131072), -1)]
QUICK_LINEAR_SHAPES = [((1024, 256, 32768), -1)]
# (shape, axis): the shapes of the benchmark table (docs/performance.md, "Method"); the last one
# reduces a non-last axis.
SHAPES = [((8,), -1), ((1000,), -1), ((64, 1000), -1), ((4096, 10), -1), ((4096, 1000), -1),
          ((256, 32000), -1), ((16384, 128), -1), ((32, 262144), -1), ((1000, 4096), 0)]
QUICK_SHAPES = [((8,), -1), ((64, 1000), -1), ((4096, 1000), -1), ((1000, 4096), 0)]
# softmax_jacobian writes n·n outputs per row: its own shapes, and its memory floor is a copy of
# its output. one_hot's shapes are (labels, classes): the 2-d last-axis shapes.
JACOBIAN_SHAPES = [((64, 100), -1), ((4096, 10), -1), ((256, 256), -1), ((16, 1000), -1)]
QUICK_JACOBIAN_SHAPES = [((64, 100), -1), ((16, 1000), -1)]
# The running log-sum-exp: batches of rows, one long row (cut into segments), and columns.
SCAN_SHAPES = [((64, 1000), -1), ((4096, 1000), -1), ((16384, 128), -1), ((1, 262144), -1), ((1000, 4096), 0)]
QUICK_SCAN_SHAPES = [((64, 1000), -1), ((4096, 1000), -1)]
# cross_entropy_with_grad with the large-vocabulary options: z-loss 1e-4 and a softcap of 30
# (PaLM's and Gemma 2's values), against PyTorch's formula by autograd.
CE_OPTIONS = "ce_zloss_softcap"
CE_OPTIONS_SHAPES = [((4096, 32000), -1)]
QUICK_CE_OPTIONS_SHAPES = [((1024, 32000), -1)]
CE_Z_LOSS, CE_SOFTCAP = 1e-4, 30.0


def shapes_for(op: str, shapes: Sequence[tuple[tuple[int, ...], int]], quick: bool) -> Sequence[tuple[tuple[int, ...], int]]:
    """The (shape, axis) rows an op is timed on."""
    if op == "softmax_jacobian":
        return QUICK_JACOBIAN_SHAPES if quick else JACOBIAN_SHAPES
    if op == "logcumsumexp":
        return QUICK_SCAN_SHAPES if quick else SCAN_SHAPES
    if op == CE_OPTIONS:
        return QUICK_CE_OPTIONS_SHAPES if quick else CE_OPTIONS_SHAPES
    if op in DIV_OPS:
        return DIV_SHAPES
    if op in ELEM_OPS or op == BCE:
        return [(s, a) for s, a in shapes if a == -1]
    if op == "one_hot":
        return [(s, a) for s, a in shapes if a == -1 and len(s) == 2]
    return shapes


def output_shape(op: str, shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """The result's shape, which the memory floor (a copy) is taken of."""
    if op == "softmax_jacobian":
        kept = list(shape)
        n = kept.pop(axis)
        return tuple(kept) + (n, n)
    return shape


# ---------------------------------------------------------------------------------------------
# timing

def best_time(fn: Callable[[], object], budget: float, min_repeats: int = 3,
              max_repeats: int = 30) -> float:
    """Seconds per call: the best of several repeats, each of enough calls to last ~budget/10."""
    # The previous figure's library may still have threads spinning for work (ONNX Runtime's
    # and OpenMP pools do, for milliseconds after a call): let them go to sleep first, so that
    # they do not take cores from the library timed now.
    time.sleep(0.05)
    fn()  # warm-up (JIT compilation, page faults, caches)
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    per_repeat = max(budget / 10, 2e-3)
    loops = max(1, int(per_repeat / one))
    repeats = int(min(max_repeats, max(min_repeats, budget / (one * loops))))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best


# ---------------------------------------------------------------------------------------------
# the implementations: each builder returns a zero-argument callable, or raises to mean "n/a"

_Bench = Callable[[], object]

def _idiom_softmax(x: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    e = np.exp(x - x.max(axis, keepdims=True))
    result: npt.NDArray[Any] = e / e.sum(axis, keepdims=True)
    return result


def _idiom_log_softmax(x: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    s = x - x.max(axis, keepdims=True)
    result: npt.NDArray[Any] = s - np.log(np.exp(s).sum(axis, keepdims=True))
    return result


def _idiom_logsumexp(x: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    m = x.max(axis, keepdims=True)
    result: npt.NDArray[Any] = np.squeeze(m + np.log(np.exp(x - m).sum(axis, keepdims=True)), axis)
    return result


def _idiom_jacobian(x: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    """diag(p) - p pᵀ per row, with the class axis last."""
    p = np.moveaxis(_idiom_softmax(x, axis), axis, -1)
    jac: npt.NDArray[Any] = -p[..., :, None] * p[..., None, :]
    i = np.arange(p.shape[-1])
    jac[..., i, i] += p
    return jac


def _idiom_ce_with_grad(x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> tuple[Any, npt.NDArray[Any]]:
    """Mean cross-entropy and its gradient, as written with NumPy: (softmax - onehot) / N."""
    s = x - x.max(axis, keepdims=True)
    e = np.exp(s)
    total = e.sum(axis, keepdims=True)
    lab = np.expand_dims(labels, axis)
    n = labels.size
    loss = -(np.take_along_axis(s, lab, axis) - np.log(total)).sum() / n
    grad = e / total
    np.put_along_axis(grad, lab, np.take_along_axis(grad, lab, axis) - 1, axis)
    grad /= n
    return loss, grad


def _vjp_inputs(op: str, x: npt.NDArray[Any], axis: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """The forward result (y or logy, by our own forward pass) and a fixed upstream gradient."""
    import swiftsoftmax as ssm

    y = ssm.softmax(x, axis=axis) if op == "softmax_vjp" else ssm.log_softmax(x, axis=axis)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(x.dtype)
    return y, g


def _idiom_softmax_vjp(y: npt.NDArray[Any], g: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    result: npt.NDArray[Any] = y * (g - (g * y).sum(axis, keepdims=True))
    return result


def _idiom_log_softmax_vjp(logy: npt.NDArray[Any], g: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    result: npt.NDArray[Any] = g - np.exp(logy) * g.sum(axis, keepdims=True)
    return result


def _idiom_normalize(x: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    result: npt.NDArray[Any] = x / x.sum(axis, keepdims=True)
    return result


def _idiom_sigmoid(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    with np.errstate(over="ignore"):
        result: npt.NDArray[Any] = 1 / (1 + np.exp(-x))
        return result


def _idiom_log_sigmoid(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    result: npt.NDArray[Any] = -np.logaddexp(x.dtype.type(0), -x)
    return result


def _linear_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[npt.NDArray[Any], ...]:
    """x, weight and bias of a linear_cross_entropy row, float32, logits of a few units."""
    n, d, v = shape
    return (rng.standard_normal((n, d), dtype=np.float32),
            rng.standard_normal((v, d), dtype=np.float32) * np.float32(0.05),
            rng.standard_normal(v, dtype=np.float32) * np.float32(0.1))


def _materialised_linear_ce(x: Any, labels: npt.NDArray[Any]) -> tuple[Any, ...]:
    import swiftsoftmax as ssm

    xx, w, b = x
    z = xx @ w.T + b
    loss, g = ssm.cross_entropy_with_grad(z, labels)
    return loss, g @ w, g.T @ xx, g.sum(axis=0)


def build_ours(ssm: Any, op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    if op in LINEAR_OPS:
        xx, w, b = x
        return lambda: ssm.linear_cross_entropy(xx, w, labels, bias=b, return_grad=True)
    if op in ELEM_OPS:
        f = getattr(ssm, op)
        return lambda: f(x)
    if op in VJP_OPS:
        y, g = _vjp_inputs(op, x, axis)
        f = getattr(ssm, op)
        return lambda: f(y, g, axis=axis)
    if op == "softmax":
        return lambda: ssm.softmax(x, axis=axis)
    if op == "log_softmax":
        return lambda: ssm.log_softmax(x, axis=axis)
    if op == "normalize":
        return lambda: ssm.normalize(x, axis=axis)
    if op == "logsumexp":
        return lambda: ssm.logsumexp(x, axis=axis)
    if op == "logcumsumexp":
        return lambda: ssm.logcumsumexp(x, axis=axis)
    if op == "softmax_jacobian":
        return lambda: ssm.softmax_jacobian(x, axis=axis)
    if op == "one_hot":
        return lambda: ssm.one_hot(labels, x.shape[axis], dtype=x.dtype)
    if op == BCE:
        t = _bce_target(x)
        return lambda: ssm.binary_cross_entropy_with_logits_with_grad(x, t)
    if op == CE_OPTIONS:
        return lambda: ssm.cross_entropy_with_grad(x, labels, axis=axis, z_loss=CE_Z_LOSS, softcap=CE_SOFTCAP)
    if op == KL:
        q = _second_logits(x)
        return lambda: ssm.kl_div_with_grad(x, q, axis=axis)
    if op == "entropy":
        return lambda: ssm.entropy(x, axis=axis)
    if op == "nll_loss":
        return lambda: ssm.nll_loss(x, labels, axis=axis)
    if not hasattr(ssm, "cross_entropy_with_grad"):
        raise NotImplementedError("swiftsoftmax.cross_entropy_with_grad not present yet")
    ssm.cross_entropy_with_grad(x, labels, axis=axis)
    return lambda: ssm.cross_entropy_with_grad(x, labels, axis=axis)


_BCE_TARGETS: dict[tuple[tuple[int, ...], str], npt.NDArray[Any]] = {}


def _bce_target(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Soft targets in [0, 1] of x's shape and dtype, the same for every peer."""
    key = (x.shape, x.dtype.str)
    if key not in _BCE_TARGETS:
        _BCE_TARGETS[key] = np.random.default_rng(7).uniform(0, 1, x.shape).astype(x.dtype)
    return _BCE_TARGETS[key]


def _idiom_bce_with_grad(x: npt.NDArray[Any], t: npt.NDArray[Any]) -> tuple[Any, npt.NDArray[Any]]:
    """The stable NumPy idiom: mean(max(x, 0) - x·t + log1p(exp(-|x|))), gradient (σ(x) - t) / size."""
    loss = (np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))).mean()
    with np.errstate(over="ignore"):
        return loss, (1 / (1 + np.exp(-x)) - t) / x.dtype.type(x.size)


def _second_logits(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Logits of Q for the divergence rows: x moved by N(0, 1), the same for every peer."""
    key = (x.shape, x.dtype.str + "q")
    if key not in _BCE_TARGETS:
        _BCE_TARGETS[key] = (x + np.random.default_rng(8).normal(0, 1, x.shape)).astype(x.dtype)
    return _BCE_TARGETS[key]


def _np_log_softmax(a: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    m = a.max(axis=axis, keepdims=True)
    z: npt.NDArray[Any] = a - m
    lp: npt.NDArray[Any] = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return lp


def _idiom_kl_with_grad(a: npt.NDArray[Any], b: npt.NDArray[Any], axis: int) -> tuple[Any, Any, Any]:
    """The NumPy idiom: log_softmax of both, KL = Σ p (lp - lq) per row, its mean, and the
    gradients p (d - KL) and q - p over the row count."""
    lp, lq = _np_log_softmax(a, axis), _np_log_softmax(b, axis)
    p, d = np.exp(lp), lp - lq
    kl = (p * d).sum(axis=axis, keepdims=True)
    rows = a.dtype.type(a.size // a.shape[axis])
    return kl.mean(), p * (d - kl) / rows, (np.exp(lq) - p) / rows


def _idiom_entropy(a: npt.NDArray[Any], axis: int) -> npt.NDArray[Any]:
    lp = _np_log_softmax(a, axis)
    h: npt.NDArray[Any] = -(np.exp(lp) * lp).sum(axis=axis)
    return h


def build_ours_out(ssm: Any, op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    """Ours writing into an existing array: the arithmetic without the page faults of a fresh one."""
    if op in DIV_OPS:
        raise NotImplementedError(f"{op}: its result is a row of values, not an array of x's shape")
    if op in ("cross_entropy_with_grad", BCE, CE_OPTIONS) or op in LINEAR_OPS:
        raise NotImplementedError(f"{op} has no out=")
    if op in VJP_OPS or op in ("logsumexp", "softmax_jacobian", "one_hot"):
        raise NotImplementedError(f"{op} has no out=")
    out = np.empty_like(x)
    if op in ELEM_OPS:
        g = getattr(ssm, op)
        return lambda: g(x, out=out)
    f = {"softmax": ssm.softmax, "log_softmax": ssm.log_softmax, "normalize": ssm.normalize,
         "logcumsumexp": ssm.logcumsumexp}[op]
    return lambda: f(x, axis=axis, out=out)


def build_numpy(op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    if op == CE_OPTIONS:
        raise NotImplementedError("compared with PyTorch's formula only")
    if op in LINEAR_OPS:
        return lambda: _materialised_linear_ce(x, labels)
    if op == BCE:
        t = _bce_target(x)
        return lambda: _idiom_bce_with_grad(x, t)
    if op == KL:
        q = _second_logits(x)
        return lambda: _idiom_kl_with_grad(x, q, axis)
    if op == "entropy":
        return lambda: _idiom_entropy(x, axis)
    if op == "nll_loss":
        lab = np.expand_dims(labels, axis)
        return lambda: -np.take_along_axis(x, lab, axis=axis).mean()
    if op in ELEM_OPS:
        f: Callable[..., Any] = _idiom_sigmoid if op == "sigmoid" else _idiom_log_sigmoid
        return lambda: f(x)
    if op in VJP_OPS:
        y, g = _vjp_inputs(op, x, axis)
        f = _idiom_softmax_vjp if op == "softmax_vjp" else _idiom_log_softmax_vjp
        return lambda: f(y, g, axis)
    if op == "softmax":
        return lambda: _idiom_softmax(x, axis)
    if op == "log_softmax":
        return lambda: _idiom_log_softmax(x, axis)
    if op == "normalize":
        return lambda: _idiom_normalize(x, axis)
    if op == "logsumexp":
        return lambda: _idiom_logsumexp(x, axis)
    if op == "logcumsumexp":
        return lambda: np.logaddexp.accumulate(x, axis=axis)
    if op == "softmax_jacobian":
        return lambda: _idiom_jacobian(x, axis)
    if op == "one_hot":
        eye = np.eye(x.shape[axis], dtype=x.dtype)
        return lambda: eye[labels]
    return lambda: _idiom_ce_with_grad(x, labels, axis)


def build_scipy(op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    from scipy import special

    if op in LINEAR_OPS or op == CE_OPTIONS:
        raise NotImplementedError("not compared")
    if op == BCE:
        raise NotImplementedError("scipy has no binary cross-entropy")
    if op in DIV_OPS:
        raise NotImplementedError("scipy's divergences take probabilities, not logits")
    if op == "softmax":
        return lambda: special.softmax(x, axis=axis)
    if op == "log_softmax":
        return lambda: special.log_softmax(x, axis=axis)
    if op == "logsumexp":
        return lambda: special.logsumexp(x, axis=axis)
    if op == "sigmoid":
        return lambda: special.expit(x)
    if op == "log_sigmoid":
        if not hasattr(special, "log_expit"):  # SciPy >= 1.8
            raise NotImplementedError("this scipy has no special.log_expit")
        return lambda: special.log_expit(x)
    raise NotImplementedError("scipy has no cross-entropy, no derivatives, no one-hot and no sum-normalisation")


_JAX_CACHE: dict[tuple[str, int, int, str], Any] = {}


def build_jax(op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    import jax
    import jax.numpy as jnp

    if op in LINEAR_OPS or op == CE_OPTIONS:
        raise NotImplementedError("not compared")

    key = (op, axis, x.shape[axis] if op in ("one_hot", "softmax_jacobian") else 0, str(x.dtype) if op == "one_hot" else "")
    if key not in _JAX_CACHE:
        if op in VJP_OPS:
            fwd = jax.nn.softmax if op == "softmax_vjp" else jax.nn.log_softmax
            # The backward pass only: the VJP closure of the forward at x, applied to g.
            f = jax.jit(lambda a, g: jax.vjp(lambda z: fwd(z, axis=axis), a)[1](g)[0])
        elif op == "softmax":
            f = jax.jit(lambda a: jax.nn.softmax(a, axis=axis))
        elif op == "log_softmax":
            f = jax.jit(lambda a: jax.nn.log_softmax(a, axis=axis))
        elif op == "sigmoid":
            f = jax.jit(jax.nn.sigmoid)
        elif op == "log_sigmoid":
            f = jax.jit(jax.nn.log_sigmoid)
        elif op == "normalize":
            f = jax.jit(lambda a: a / a.sum(axis, keepdims=True))
        elif op == "logsumexp":
            f = jax.jit(lambda a: jax.nn.logsumexp(a, axis=axis))
        elif op == "logcumsumexp":
            f = jax.jit(lambda a: jax.lax.cumlogsumexp(a, axis=axis % a.ndim))
        elif op == "softmax_jacobian":  # rows with the class axis last
            row_jac = jax.vmap(jax.jacrev(lambda r: jax.nn.softmax(r)))
            f = jax.jit(lambda a: row_jac(jnp.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])))
        elif op == "one_hot":
            f = jax.jit(lambda lab, n=x.shape[axis], dt=x.dtype: jax.nn.one_hot(lab, n, dtype=dt))
        elif op == BCE:
            import optax

            f = jax.jit(jax.value_and_grad(lambda a, t: optax.sigmoid_binary_cross_entropy(a, t).mean()))
        elif op == KL:
            def kl(a: Any, b: Any) -> Any:
                lp, lq = jax.nn.log_softmax(a, axis=axis), jax.nn.log_softmax(b, axis=axis)
                return (jnp.exp(lp) * (lp - lq)).sum(axis=axis).mean()

            f = jax.jit(jax.value_and_grad(kl, argnums=(0, 1)))
        elif op == "entropy":
            def ent(a: Any) -> Any:
                lp = jax.nn.log_softmax(a, axis=axis)
                return -(jnp.exp(lp) * lp).sum(axis=axis)

            f = jax.jit(ent)
        elif op == "nll_loss":
            raise NotImplementedError("not compared")
        else:
            import optax

            def loss(a: Any, y: Any) -> Any:
                return optax.softmax_cross_entropy_with_integer_labels(a, y, axis=axis).mean()

            f = jax.jit(jax.value_and_grad(loss))
        _JAX_CACHE[key] = f
    f = _JAX_CACHE[key]
    xj = jax.device_put(x)
    if op in VJP_OPS:
        gj = jax.device_put(_vjp_inputs(op, x, axis)[1])
        return lambda: f(xj, gj).block_until_ready()
    if op == "cross_entropy_with_grad":
        yj = jax.device_put(labels.astype(np.int32))
        return lambda: jax.block_until_ready(f(xj, yj))
    if op == BCE:
        tj = jax.device_put(_bce_target(x))
        return lambda: jax.block_until_ready(f(xj, tj))
    if op == KL:
        qj = jax.device_put(_second_logits(x))
        return lambda: jax.block_until_ready(f(xj, qj))
    if op == "one_hot":
        lj = jax.device_put(labels.astype(np.int32))
        return lambda: f(lj).block_until_ready()
    return lambda: f(xj).block_until_ready()


def build_ort(op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    if (op in ("cross_entropy_with_grad", BCE, CE_OPTIONS) or op in VJP_OPS or op in LINEAR_OPS or op in DIV_OPS
            or op in ("normalize", "softmax_jacobian", "one_hot")):
        raise NotImplementedError("not compared")
    if op == "logcumsumexp":
        raise NotImplementedError("ONNX has no running log-sum-exp operator")
    if op == "log_sigmoid":
        raise NotImplementedError("ONNX has no LogSigmoid operator")
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    et = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
    out_shape = list(x.shape)
    if op == "sigmoid":
        node = helper.make_node("Sigmoid", ["X"], ["Y"])
    elif op == "logsumexp":
        node = helper.make_node("ReduceLogSumExp", ["X"], ["Y"], axes=[axis], keepdims=0)
        del out_shape[axis]
    else:
        node = helper.make_node("Softmax" if op == "softmax" else "LogSoftmax", ["X"], ["Y"], axis=axis)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", et, list(x.shape))],
                              [helper.make_tensor_value_info("Y", et, out_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = min(model.ir_version, 9)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _THREADS
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    feed = {"X": x}
    sess.run(None, feed)
    return lambda: sess.run(None, feed)


def build_torch(op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(_THREADS)
    if op in LINEAR_OPS:
        return _torch_linear(x, labels, chunked=False)
    xt = torch.from_numpy(x)
    if op in VJP_OPS:
        # The backward of the forward graph only: the graph is built once and kept.
        fwd = torch.softmax if op == "softmax_vjp" else torch.log_softmax
        leaf = xt.clone().requires_grad_()
        out = fwd(leaf, dim=axis)
        gt = torch.from_numpy(_vjp_inputs(op, x, axis)[1])
        return lambda: torch.autograd.grad(out, leaf, gt, retain_graph=True)[0]
    if op == "softmax":
        return lambda: torch.softmax(xt, dim=axis)
    if op == "log_softmax":
        return lambda: torch.log_softmax(xt, dim=axis)
    if op == "sigmoid":
        return lambda: torch.sigmoid(xt)
    if op == "log_sigmoid":
        return lambda: F.logsigmoid(xt)
    if op == "normalize":
        return lambda: xt / xt.sum(dim=axis, keepdim=True)
    if op == "logsumexp":
        return lambda: torch.logsumexp(xt, dim=axis)
    if op == "logcumsumexp":
        return lambda: torch.logcumsumexp(xt, dim=axis)
    if op == KL:
        # F.kl_div wants log Q first and log P as the target (log_target=True): KL(P ‖ Q).
        pleaf = xt.detach().clone().requires_grad_()
        qleaf = torch.from_numpy(_second_logits(x)).requires_grad_()

        def kl_step() -> tuple[Any, Any, Any]:
            pleaf.grad = qleaf.grad = None
            loss = F.kl_div(F.log_softmax(qleaf, dim=axis), F.log_softmax(pleaf, dim=axis), log_target=True,
                            reduction="batchmean")
            loss.backward()
            return loss, pleaf.grad, qleaf.grad

        return kl_step
    if op == "entropy":
        def entropy_step() -> Any:
            lp = torch.log_softmax(xt, dim=axis)
            return -(lp.exp() * lp).sum(dim=axis)

        return entropy_step
    if op == "nll_loss":
        target = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        return lambda: F.nll_loss(xt.movedim(axis, 1) if x.ndim > 1 else xt, target)
    if op == "softmax_jacobian":
        rows = xt.movedim(axis, -1).reshape(-1, x.shape[axis])
        jac = torch.vmap(torch.func.jacrev(lambda r: torch.softmax(r, -1)))
        return lambda: jac(rows)
    if op == "one_hot":
        lab = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        return lambda: F.one_hot(lab, x.shape[axis]).to(xt.dtype)
    if op == BCE:
        tt = torch.from_numpy(_bce_target(x))
        bleaf = xt.detach().clone().requires_grad_()

        def bce_step() -> tuple[Any, Any]:
            bleaf.grad = None
            loss = F.binary_cross_entropy_with_logits(bleaf, tt)
            loss.backward()
            return loss, bleaf.grad

        return bce_step
    # F.cross_entropy wants the classes on dimension 1 (or 0 for one sample): move them there.
    logits = xt.movedim(axis, 1) if x.ndim > 1 else xt
    target = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    leaf = logits.detach().requires_grad_()
    options = op == CE_OPTIONS

    def step() -> tuple[Any, Any]:
        leaf.grad = None
        if options:  # the formula as written in training code (Gemma 2's cap, PaLM's z-loss)
            capped = CE_SOFTCAP * torch.tanh(leaf / CE_SOFTCAP)
            lse = torch.logsumexp(capped, dim=1)
            loss = F.cross_entropy(capped, target) + CE_Z_LOSS * (lse * lse).mean()
        else:
            loss = F.cross_entropy(leaf, target)
        loss.backward()
        return loss, leaf.grad

    return step


def _torch_linear(x: Any, labels: npt.NDArray[Any], chunked: bool) -> _Bench:
    """The loss and the gradients of x, w and b by backward: materialised logits, or PyTorch's
    chunked F.linear_cross_entropy."""
    import torch
    import torch.nn.functional as F

    leaves = [torch.from_numpy(a).requires_grad_() for a in x]
    target = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    if chunked:
        if not hasattr(F, "linear_cross_entropy"):
            raise NotImplementedError(f"torch {torch.__version__} has no F.linear_cross_entropy")
        options = torch.nn.LinearCrossEntropyOptions()

    def step() -> tuple[Any, list[Any]]:
        for t in leaves:
            t.grad = None
        xt, wt, bt = leaves
        if chunked:
            loss = F.linear_cross_entropy(xt, wt, target, linear_bias=bt, options=options)
        else:
            loss = F.cross_entropy(xt @ wt.T + bt, target)
        loss.backward()
        return loss, [t.grad for t in leaves]

    return step


def build_torch_lce(op: str, x: npt.NDArray[Any], labels: npt.NDArray[Any], axis: int) -> _Bench:
    import torch

    if op not in LINEAR_OPS:
        raise NotImplementedError("only the linear_cross_entropy rows")
    torch.set_num_threads(_THREADS)
    return _torch_linear(x, labels, chunked=True)


BUILDERS: dict[str, Callable[[str, npt.NDArray[Any], npt.NDArray[Any], int], _Bench]] = {
    "numpy": build_numpy, "scipy": build_scipy, "jax": build_jax, "ort": build_ort, "torch": build_torch,
    "torch_lce": build_torch_lce}
# Threads for the peers that take a count (ONNX Runtime, PyTorch): ours, set in main().
_THREADS = 2


# ---------------------------------------------------------------------------------------------
# machine

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(mod: str) -> Optional[str]:
    try:
        m = __import__(mod)
        version: str = getattr(m, "__version__", "?")
        return version
    except Exception:  # not installed (or broken): the peer is skipped
        return None


def machine_info(ssm: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "jax": _version("jax"),
        "optax": _version("optax"),
        "onnxruntime": _version("onnxruntime"),
        "onnx": _version("onnx"),
        "torch": _version("torch"),
        "swiftsoftmax": ssm.build_info(),
    }
    if info["torch"] is not None and os.environ.get(_PEER_ISA_MARK):  # what the cap gave PyTorch
        import torch

        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    for var in ("OPENBLAS_CORETYPE", "SWIFTSOFTMAX_ISA", "OMP_NUM_THREADS", "XLA_FLAGS", "ATEN_CPU_CAPABILITY",
                "NPY_DISABLE_CPU_FEATURES", _PEER_ISA_MARK):
        if var in os.environ:
            info.setdefault("env", {})[var] = os.environ[var]
    return info


# ---------------------------------------------------------------------------------------------

def _fmt_t(t: Optional[float]) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.2f}us" if t < 1e-5 else f"{t * 1e6:.1f}us"
    if t < 1:
        return f"{t * 1e3:.2f}ms"
    return f"{t:.2f}s"


def _fmt_r(r: Optional[float]) -> str:
    return "-" if r is None else f"{r:.2f}"


def _split(s: Optional[str], allowed: tuple[str, ...], what: str) -> list[str]:
    if s is None:
        return list(allowed)
    items = [v.strip() for v in s.split(",") if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad:
        raise SystemExit(f"bench: unknown {what}: {', '.join(bad)} (choose from {', '.join(allowed)})")
    return items


def _shapes(s: Optional[str]) -> Optional[set[tuple[int, ...]]]:
    """The shapes of `--shapes` ("8,1000,16384x128"), or None for every shape."""
    if s is None:
        return None
    items = [v.strip().lower() for v in s.split(",") if v.strip()]
    try:
        wanted = {tuple(int(d) for d in v.split("x")) for v in items}
    except ValueError:
        raise SystemExit(f"bench: --shapes: expected sizes joined by x, such as 8,1000,16384x128; got {s!r}")
    if not wanted or any(d < 0 for shape in wanted for d in shape):
        raise SystemExit(f"bench: --shapes: expected sizes joined by x, such as 8,1000,16384x128; got {s!r}")
    return wanted


# What `--peer-isa avx2` sets, by peer; NumPy's AVX-512 targets are found at run time (their
# names differ between NumPy versions).
PEER_ISA_ENV = {"torch": ("ATEN_CPU_CAPABILITY", "avx2"), "jax": ("XLA_FLAGS", "--xla_cpu_max_isa=AVX2")}
# Set in the restarted interpreter: the cap asked, so that the restart happens once.
_PEER_ISA_MARK = "SWIFTSOFTMAX_BENCH_PEER_ISA"


def _host_has_avx512() -> bool:
    """Whether the CPU reports AVX-512F (Linux's /proc/cpuinfo; elsewhere assumed not)."""
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def _numpy_avx512_targets() -> list[str]:
    """NumPy's dispatched targets that need AVX-512 (``X86_V4``, ``AVX512_*``), which
    ``NPY_DISABLE_CPU_FEATURES`` may name; empty where NumPy does not say."""
    for name in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # NumPy 2, 1
        try:
            targets = getattr(importlib.import_module(name), "__cpu_dispatch__", None)
        except ImportError:
            continue
        if targets is not None:
            return [str(t) for t in targets if t == "X86_V4" or str(t).startswith("AVX512")]
    return []


def peer_isa_environment(isa: str, environ: dict[str, str], numpy_targets: Sequence[str]) -> dict[str, str]:
    """The environment that caps the peers at `isa` ("avx2"): `environ` with PyTorch's,
    JAX's and NumPy's settings added (XLA_FLAGS and NPY_DISABLE_CPU_FEATURES extended, not
    replaced) and the restart's mark.

    Examples
    --------
    >>> env = peer_isa_environment("avx2", {"XLA_FLAGS": "--xla_dump_to=/tmp"}, ["X86_V4"])
    >>> env["ATEN_CPU_CAPABILITY"], env["XLA_FLAGS"], env["NPY_DISABLE_CPU_FEATURES"]
    ('avx2', '--xla_dump_to=/tmp --xla_cpu_max_isa=AVX2', 'X86_V4')
    """
    if isa != "avx2":
        raise ValueError(f"peer_isa: expected 'avx2', got {isa!r}")
    env = dict(environ)
    for var, value in PEER_ISA_ENV.values():
        env[var] = " ".join(filter(None, [env.get(var, "") if var == "XLA_FLAGS" else "", value]))
    if numpy_targets:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(filter(None, [env.get("NPY_DISABLE_CPU_FEATURES", ""),
                                                                 *numpy_targets]))
    env[_PEER_ISA_MARK] = isa
    return env


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m swiftsoftmax bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer shapes, shorter timing")
    ap.add_argument("--ops", help="comma-separated: " + ",".join(OPS))
    ap.add_argument("--dtypes", help="comma-separated: " + ",".join(DTYPES))
    ap.add_argument("--peers", help="comma-separated: " + ",".join(PEERS) + " (default: all importable)")
    ap.add_argument("--shapes", help="only the rows of these shapes, comma-separated, sizes joined by x "
                                     "(e.g. 8,1000,16384x128; any axis); default: every shape")
    ap.add_argument("--budget", type=float, help="seconds of timing per figure (default 0.25, quick 0.08)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure every row this many times, a round after another, and keep each "
                         "figure's best (on a machine whose speed drifts, a quiet moment for each)")
    ap.add_argument("--json", metavar="PATH", help="write every figure and the machine to PATH")
    ap.add_argument("--peer-isa", choices=["avx2"],
                    help="cap PyTorch, JAX and NumPy at AVX2 on an AVX-512 host, as a host without "
                         "AVX-512 runs them (ONNX Runtime cannot be capped); with SWIFTSOFTMAX_ISA=avx2, "
                         "the avx2 tier against AVX2 peers")
    ap.add_argument("--dask", action="store_true",
                    help="only the scale-out row: swiftsoftmax.dask vs Dask's idiom on a LocalCluster")
    ap.add_argument("--dask-shape", default="64x4194304", help="ROWSxCOLS of the --dask array (default 64x4194304)")
    ap.add_argument("--dask-chunks", type=int, default=8, help="chunks along the softmax axis (default 8)")
    ap.add_argument("--dask-workers", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args(argv)
    if args.peer_isa and os.environ.get(_PEER_ISA_MARK) != args.peer_isa:
        if not _host_has_avx512():
            print(f"note: --peer-isa {args.peer_isa}: this host has no AVX-512; the peers run as they are",
                  file=sys.stderr)
        else:
            sys.stdout.flush()
            env = peer_isa_environment(args.peer_isa, dict(os.environ), _numpy_avx512_targets())
            os.execve(sys.executable, [sys.executable, "-m", "swiftsoftmax", "bench", *argv], env)
    if args.dask:
        try:
            from . import _bench_dask
            import swiftsoftmax.dask  # noqa: F401
        except ImportError as e:
            print(f"bench --dask: {e}", file=sys.stderr)
            return 2

        try:
            dask_rows, dask_cols = (int(v) for v in args.dask_shape.lower().split("x"))
        except ValueError:
            ap.error(f"--dask-shape: expected ROWSxCOLS, got {args.dask_shape!r}")
        return _bench_dask.main(dask_rows, dask_cols, args.dask_chunks, args.dask_workers)
    ops = _split(args.ops, OPS, "op")
    dtypes = _split(args.dtypes, DTYPES, "dtype")
    wanted = _split(args.peers, PEERS, "peer")
    only_shapes = _shapes(args.shapes)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    budget = args.budget or (0.08 if args.quick else 0.25)

    import swiftsoftmax as ssm

    global _THREADS
    _THREADS = ssm.get_num_threads()
    info = machine_info(ssm)
    present = {"numpy": True, "scipy": info["scipy"] is not None,
               "jax": info["jax"] is not None, "ort": info["onnxruntime"] is not None and info["onnx"] is not None,
               "torch": info["torch"] is not None, "torch_lce": info["torch"] is not None}
    peers = [p for p in wanted if present[p]]
    if "jax" in peers:
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 arrays stay float64 (in-process only)
        try:
            jax.config.update("jax_platforms", "cpu")
        except Exception:  # already initialised: the CPU device is used anyway
            pass

    print(f"machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, {info['platform']}")
    print("versions: " + ", ".join(f"{k} {info[k]}" for k in
                                   ("numpy", "scipy", "jax", "optax", "onnxruntime", "onnx", "torch")
                                   if info[k] is not None))
    print(f"swiftsoftmax: {info['swiftsoftmax']}; ONNX Runtime and PyTorch get {_THREADS} threads, as ours")
    if "OPENBLAS_CORETYPE" in os.environ:
        print(f"note: OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} is set "
              "(it does not affect these ops)")
    if os.environ.get(_PEER_ISA_MARK):
        capped = ", ".join(f"{var}={os.environ[var]}" for var in
                           ("ATEN_CPU_CAPABILITY", "XLA_FLAGS", "NPY_DISABLE_CPU_FEATURES") if var in os.environ)
        print(f"peers capped at {os.environ[_PEER_ISA_MARK].upper()}: {capped}"
              + (f" (PyTorch reports {info['torch_cpu_capability']})" if "torch_cpu_capability" in info else "")
              + "; ONNX Runtime cannot be capped and keeps its AVX-512 kernels")
    missing = [p for p in wanted if not present[p]]
    if missing:
        print(f"peers not installed (skipped): {', '.join(missing)} — `make bench-deps` installs them")
    print(f"each figure: best of several repeats, ~{budget:g}s of timing; ratio = best peer / ours "
          "(> 1: ours faster); ours/copy = ours / np.copyto of the same array; out=/copy = ours "
          "writing into an existing array / copy; ns/el/thr = that time per element per thread")
    print()

    if args.rounds < 1:
        ap.error(f"--rounds: expected a positive count, got {args.rounds}")
    linear_shapes = QUICK_LINEAR_SHAPES if args.quick else LINEAR_SHAPES
    jobs = [(op, dt, shape, axis) for op in ops for dt in dtypes
            for shape, axis in (linear_shapes if op in LINEAR_OPS else shapes_for(op, shapes, args.quick))
            if (op not in LINEAR_OPS or dt == "float32") and (only_shapes is None or shape in only_shapes)]
    if not jobs:
        ap.error("no rows: no op of --ops has a shape of --shapes")
    records: list[dict[str, Any]] = [{"op": op, "dtype": dt, "shape": list(shape), "axis": axis, "times": {}, "errors": {}}
               for op, dt, shape, axis in jobs]
    for round_ in range(args.rounds):
        rng = np.random.default_rng(0)  # the same arrays every round
        for k, ((op, dt, shape, axis), rec) in enumerate(zip(jobs, records), 1):
            label = f"{shape}" + (f" axis {axis}" if axis != -1 else "")
            where = f"round {round_ + 1}/{args.rounds} " if args.rounds > 1 else ""
            print(f"[{where}{k}/{len(jobs)}] {op} {dt} {label}", file=sys.stderr, flush=True)
            linear = op in LINEAR_OPS
            x: Any
            if linear:  # seconds per call: two timed calls after the warm-ups
                x = _linear_inputs(rng, shape)
                labels = rng.integers(0, shape[2], shape[0])
                rec["copy"] = None
            else:
                x = rng.normal(0, 3, shape).astype(dt)
                if op == "normalize":  # what it is for: weights >= 0 (mixed signs may cancel)
                    x = np.abs(x)
                lshape = list(shape)
                n = lshape.pop(axis)
                labels = rng.integers(0, n, lshape)
                src = x if output_shape(op, shape, axis) == shape else np.ones(output_shape(op, shape, axis), dt)
                dst = np.empty_like(src)
                t = best_time(lambda: np.copyto(dst, src), budget)
                rec["copy"] = min(t, rec.get("copy", t))
                del dst, src
            for name in ["ours", "ours_out"] + peers:
                try:
                    if name == "ours":
                        fn = build_ours(ssm, op, x, labels, axis)
                    elif name == "ours_out":
                        fn = build_ours_out(ssm, op, x, labels, axis)
                    else:
                        fn = BUILDERS[name](op, x, labels, axis)
                    t = best_time(fn, budget, min_repeats=2, max_repeats=2) if linear else best_time(fn, budget)
                    del fn
                    rec["times"][name] = min(t, rec["times"].get(name, t))
                except Exception as e:  # n/a for this peer (missing feature or dtype)
                    rec["errors"][name] = f"{type(e).__name__}: {e}"[:200]
            del x
    for rec in records:
        ours = rec["times"].get("ours")
        peer_times = [rec["times"][p] for p in peers if p in rec["times"]]
        rec["best_peer"] = min(peer_times) if peer_times else None
        rec["best_peer_over_ours"] = rec["best_peer"] / ours if ours and rec["best_peer"] else None
        rec["ours_over_copy"] = ours / rec["copy"] if ours and rec["copy"] else None
        out = rec["times"].get("ours_out")
        rec["ours_out_over_copy"] = out / rec["copy"] if out and rec["copy"] else None
        size = int(np.prod(output_shape(rec["op"], tuple(rec["shape"]), rec["axis"])))
        rec["ns_per_element_per_thread"] = ((out or ours) * _THREADS / size * 1e9
                                            if (out or ours) and rec["op"] not in LINEAR_OPS else None)

    header = ["op", "dtype", "shape/axis", "ours"] + peers + ["best-peer/ours", "ours/copy", "out=/copy",
                                                              "ns/el/thr"]
    rows: list[list[str]] = []
    for r in records:
        sa = "x".join(map(str, r["shape"])) + f" /{r['axis']}"
        rows.append([r["op"], r["dtype"], sa, _fmt_t(r["times"].get("ours"))]
                    + [_fmt_t(r["times"].get(p)) for p in peers]
                    + [_fmt_r(r["best_peer_over_ours"]), _fmt_r(r["ours_over_copy"]),
                       _fmt_r(r["ours_out_over_copy"]), _fmt_r(r["ns_per_element_per_thread"])])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(v.ljust(widths[i]) if i < 3 else v.rjust(widths[i]) for i, v in enumerate(row))

    print(line(header))
    print("-" * len(line(header)))
    for row in rows:
        print(line(row))
    notes = sorted({f"{name}: {msg}" for r in records for name, msg in r["errors"].items()
                    if name in ("ours",) or not msg.startswith("NotImplementedError")})
    print("\n(-: not applicable: scipy and ONNX Runtime have no fused cross-entropy with gradient, "
          "no derivatives, no one-hot and no sum-normalisation, ONNX no log-sigmoid; "
          "cross_entropy_with_grad, logsumexp, the derivatives and one_hot have no out=; "
          "softmax_jacobian's copy and ns/el are of its n·n-per-row output; linear_cross_entropy: numpy = "
          "materialised logits, torch_lce = PyTorch's chunked F.linear_cross_entropy, no copy or "
          "per-element figures)")
    if notes:
        print("\nnot measured:")
        for msg in notes:
            print(f"  {msg}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "budget": budget, "rounds": args.rounds, "quick": args.quick, "peers": peers,
                       "results": records}, f, indent=1)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
