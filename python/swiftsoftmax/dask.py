"""Softmax, log-softmax, logsumexp and cross-entropy on Dask arrays split along the softmax axis.

A softmax axis too long for one buffer or one machine (a 256k-class vocabulary, a long
sequence) is left in its chunks: each chunk's statistics (maximum, sum of exponentials) are
computed by the library's kernels, merged by a tree reduction (``dask.array.reduction`` with
the library's associative merge), and every chunk is then finished from the merged statistics
in place (``map_blocks``). The axis is never rechunked into one piece, and the results equal
the one-piece NumPy results of :mod:`swiftsoftmax` within 2 ulp.

Needs the optional extra: ``pip install 'swiftsoftmax[dask]'`` (``dask[array]`` and
``distributed``). Runs on every Dask scheduler: threads, processes, and ``distributed``
clusters (whose workers need the library: install the wheel on them).

>>> import dask.array as da, numpy as np, swiftsoftmax as ssm
>>> import swiftsoftmax.dask as ssd
>>> x = da.from_array(np.array([[0.0, 2.0, 4.0, 1.0]]), chunks=(1, 2))
>>> bool(np.allclose(ssd.softmax(x).compute(), ssm.softmax(x.compute())))
True
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, Literal, Optional, Union, overload

try:
    import dask.array as da
except ImportError as e:  # the optional extra is missing
    raise ImportError(
        "swiftsoftmax.dask needs Dask: pip install 'swiftsoftmax[dask]' "
        "(or pip install 'dask[array]' distributed)") from e

import numpy as np
import numpy.typing as npt

from . import _arrays as A
from . import _partial as P

__all__ = ["softmax", "log_softmax", "logsumexp", "softmax_stats", "cross_entropy",
           "cross_entropy_with_grad", "cross_entropy_stats", "linear_cross_entropy"]

_F32, _F64 = A.F32, A.F64


def _prepare(x: npt.ArrayLike, axis: int, name: str = "x") -> tuple[da.Array, int, np.dtype[Any], np.dtype[Any]]:
    """(dask array, axis, compute dtype, result dtype), with the one-piece API's dtype rules."""
    a = x if isinstance(x, da.Array) else da.asarray(x)
    ax = A.class_axis(axis, a.ndim, name, "the softmax axis")
    kind, size = a.dtype.kind, a.dtype.itemsize
    if kind == "f":
        cdt = A.compute_dtype(a.dtype)
        rdt = a.dtype if size <= 8 else _F64
    elif kind in "biu":
        cdt = rdt = _F64
    elif A.is_bfloat16(a.dtype):
        cdt, rdt = A.F32, a.dtype
    else:
        raise TypeError(f"{name}: expected real floating-point, integer or boolean values, got dtype {a.dtype}")
    return a, ax, cdt, rdt


def _temperature(temperature: float, cdt: np.dtype[Any]) -> float:
    # float32 data run with float32(T) in the kernels: the merges must use the same value.
    t = A.real_scalar(temperature, "temperature")
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"temperature must be finite and > 0, got {t}")
    return float(np.float32(t)) if cdt == _F32 else t


def _meta(ndim: int, dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    return np.empty((0,) * ndim, dtype=dtype)


# ---- chunk functions (module level, so that process and distributed workers can unpickle them)

def _chunk_stats(block: npt.NDArray[Any], axis: tuple[int, ...], keepdims: bool, temperature: float,
                 precise: bool = False, computing_meta: bool = False) -> npt.NDArray[np.void]:
    s = P.softmax_stats(block, axis[0], temperature=temperature, precise=precise)
    return np.expand_dims(s, axis[0]) if keepdims else s


def _merge_stats(stats: npt.NDArray[np.void], axis: tuple[int, ...], keepdims: bool, temperature: float,
                 computing_meta: bool = False) -> npt.NDArray[np.void]:
    return P.reduce_softmax_stats(stats, axis[0], temperature=temperature, keepdims=keepdims)


def _finish_block(block: npt.NDArray[Any], stats: npt.NDArray[np.void], op: str, axis: int, temperature: float
                  ) -> npt.NDArray[np.floating[Any]]:
    fin = P.softmax_from_stats if op == "softmax" else P.log_softmax_from_stats
    return fin(block, stats, axis, temperature=temperature)


def _logsumexp_block(stats: npt.NDArray[np.void], temperature: float, result_dtype: np.dtype[Any]
                     ) -> npt.NDArray[np.floating[Any]]:
    return np.asarray(P.logsumexp_from_stats(stats, temperature=temperature, dtype=result_dtype))


# block_info (typed Any: Dask's dict of facts per argument) is always given: map_blocks passes it to
# functions with a parameter of that name.
def _ce_block(block: npt.NDArray[Any], target: npt.NDArray[np.int64], axis: int, num_classes: int,
              weight: Optional[npt.NDArray[np.float64]], ignore_index: int,
              block_info: Any = None) -> npt.NDArray[np.void]:
    offset = block_info[0]["array-location"][axis][0]
    s = P.cross_entropy_stats(block, np.squeeze(target, axis), num_classes=num_classes, class_offset=offset,
                              axis=axis, weight=weight, ignore_index=ignore_index)
    return np.expand_dims(s, axis)


def _ce_identity(stats: npt.NDArray[np.void], axis: tuple[int, ...], keepdims: bool, computing_meta: bool = False
                 ) -> npt.NDArray[np.void]:
    return stats


def _ce_merge(stats: npt.NDArray[np.void], axis: tuple[int, ...], keepdims: bool, computing_meta: bool = False
              ) -> npt.NDArray[np.void]:
    return P.reduce_cross_entropy_stats(stats, axis[0], keepdims=keepdims)


def _ce_loss_block(stats: npt.NDArray[np.void], target: npt.NDArray[np.int64], axis: int, num_classes: int,
                   weight: Optional[npt.NDArray[np.float64]], ignore_index: int, eps: float
                   ) -> npt.NDArray[np.floating[Any]]:
    # Per-sample losses in float64, rounded once to the logits' type by the caller.
    return np.asarray(P.cross_entropy_from_stats(
        np.squeeze(stats, axis), np.squeeze(target, axis), num_classes=num_classes, weight=weight,
        ignore_index=ignore_index, label_smoothing=eps, reduction="none", dtype=np.float64))


def _ce_grad_block(block: npt.NDArray[Any], target: npt.NDArray[np.int64], stats: npt.NDArray[np.void], den: npt.NDArray[Any],
                   sw: npt.NDArray[np.float64], axis: int, num_classes: int, weight: Optional[npt.NDArray[np.float64]],
                   ignore_index: int, eps: float, reduction: str, weighted: bool, block_info: Any = None
                   ) -> npt.NDArray[np.floating[Any]]:
    offset = block_info[0]["array-location"][axis][0]
    g = P.cross_entropy_grad_from_stats(
        block, np.squeeze(target, axis), np.squeeze(stats, axis), num_classes=num_classes, class_offset=offset,
        axis=axis, weight=weight, ignore_index=ignore_index, label_smoothing=eps, reduction=reduction,
        denominator=float(np.asarray(den).flat[0]) if reduction == "mean" else None)
    if not weighted:
        return g
    # Each sample's gradient is linear in its weight: one more rounding than the one-piece
    # kernel, which scales the coefficients before the pass.
    return (g * sw).astype(g.dtype, copy=False)


def _fsum_chunk(block: npt.NDArray[Any], axis: tuple[int, ...], keepdims: bool, computing_meta: bool = False
                ) -> npt.NDArray[np.float64]:
    # A correctly rounded partial sum per block (the one-piece loss sums in double-double).
    return np.full((1,) * block.ndim, math.fsum(np.asarray(block, dtype=np.float64).ravel().tolist()))


def _fsum_aggregate(parts: npt.NDArray[Any], axis: tuple[int, ...], keepdims: bool, computing_meta: bool = False
                    ) -> Union[npt.NDArray[np.float64], np.float64]:
    total = math.fsum(np.asarray(parts, dtype=np.float64).ravel().tolist())
    return np.full((1,) * parts.ndim, total) if keepdims else np.float64(total)


def _mean(total: npt.NDArray[Any], den: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):  # every sample ignored: NaN, as one piece
        mean: npt.NDArray[np.float64] = np.true_divide(total, den)
        return mean


def _target_weights(target: npt.NDArray[np.int64], weight: Optional[npt.NDArray[np.float64]], ignore_index: int
                    ) -> npt.NDArray[np.float64]:
    t = np.asarray(target)
    keep: npt.NDArray[np.bool_] = t != ignore_index
    if weight is None:
        return keep.astype(np.float64)
    weights: npt.NDArray[np.float64] = np.where(keep, weight[np.where(keep, t, 0)], 0.0)
    return weights


def _fsum(a: da.Array) -> da.Array:
    return da.reduction(a, _fsum_chunk, _fsum_aggregate, combine=_fsum_chunk, axis=tuple(range(a.ndim)),
                        keepdims=False, dtype=np.float64, concatenate=True, meta=np.empty((), np.float64))


# ---- the softmax family

def softmax_stats(x: npt.ArrayLike, axis: int = -1, *, temperature: float = 1.0, keepdims: bool = False,
                  split_every: Optional[int] = None, precise: bool = False) -> da.Array:
    """The merged softmax statistics of every slice of `x` along `axis`, as a Dask array.

    Each chunk's statistics come from :func:`swiftsoftmax.softmax_stats`; a tree reduction
    (``split_every`` chunks per merge) combines them with
    :func:`swiftsoftmax.reduce_softmax_stats`. `precise` as for
    :func:`swiftsoftmax.softmax_stats` (:func:`logsumexp` sets it).

    Returns
    -------
    dask.array.Array of dtype swiftsoftmax.SOFTMAX_STATS_DTYPE
        Shape of `x` without `axis` (kept with length 1 when `keepdims`).

    Examples
    --------
    >>> import dask.array as da, numpy as np, swiftsoftmax.dask as ssd
    >>> x = da.from_array(np.array([[0.0, 2.0, 4.0]]), chunks=(1, 1))
    >>> float(ssd.softmax_stats(x).compute()["max"][0])
    4.0
    """
    a, ax, cdt, _ = _prepare(x, axis)
    t = _temperature(temperature, cdt)
    nd = a.ndim if keepdims else a.ndim - 1
    return da.reduction(a, partial(_chunk_stats, temperature=t, precise=precise), partial(_merge_stats, temperature=t),
                        combine=partial(_merge_stats, temperature=t), axis=ax, keepdims=keepdims,
                        dtype=P.SOFTMAX_STATS_DTYPE, split_every=split_every, concatenate=True,
                        meta=_meta(nd, P.SOFTMAX_STATS_DTYPE))


def _normalised(op: str, x: npt.ArrayLike, axis: int, temperature: float, split_every: Optional[int]) -> da.Array:
    a, ax, cdt, rdt = _prepare(x, axis)
    t = _temperature(temperature, cdt)
    stats = softmax_stats(a, ax, temperature=temperature, keepdims=True, split_every=split_every)
    return da.map_blocks(_finish_block, a, stats, op=op, axis=ax, temperature=t, dtype=rdt,
                         meta=_meta(a.ndim, rdt))


def softmax(x: npt.ArrayLike, axis: int = -1, *, temperature: float = 1.0,
            split_every: Optional[int] = None) -> da.Array:
    """Softmax along `axis` of a Dask array chunked along that axis.

    Parameters
    ----------
    x : dask.array.Array or array_like
        Real scores; dtypes as for :func:`swiftsoftmax.softmax` (float32/float64 native,
        float16 computed in float32, integers promoted to float64).
    axis : int, default -1
        The softmax axis. It may be split in any number of chunks; it is never rechunked.
    temperature : float, default 1.0
        Finite and > 0.
    split_every : int, optional
        Chunks merged per node of the statistics' tree reduction (Dask's default if None).

    Returns
    -------
    dask.array.Array
        Lazily: the chunks of `x`, each normalised with the statistics merged over the whole
        axis; equal to ``swiftsoftmax.softmax`` of the whole array within 2 ulp.

    Notes
    -----
    Two passes over each chunk (statistics, then normalisation) and one tiny reduction. Dask
    reads each chunk of `x` twice; a worker holds at most a few chunks at a time.

    Examples
    --------
    >>> import dask.array as da, numpy as np, swiftsoftmax.dask as ssd
    >>> x = da.from_array(np.array([[0.0, 2.0, 4.0]]), chunks=(1, 2))
    >>> ssd.softmax(x).compute().round(4)
    array([[0.0159, 0.1173, 0.8668]])
    """
    return _normalised("softmax", x, axis, temperature, split_every)


def log_softmax(x: npt.ArrayLike, axis: int = -1, *, temperature: float = 1.0,
                split_every: Optional[int] = None) -> da.Array:
    """Log-softmax along `axis` of a Dask array chunked along that axis (see :func:`softmax`).

    Examples
    --------
    >>> import dask.array as da, numpy as np, swiftsoftmax.dask as ssd
    >>> x = da.from_array(np.array([[0.0, 2.0, 4.0]]), chunks=(1, 2))
    >>> ssd.log_softmax(x).compute().round(4)
    array([[-4.1429, -2.1429, -0.1429]])
    """
    return _normalised("log_softmax", x, axis, temperature, split_every)


def logsumexp(x: npt.ArrayLike, axis: int = -1, *, keepdims: bool = False,
              split_every: Optional[int] = None) -> da.Array:
    """``log Σ exp(x)`` along `axis` of a Dask array chunked along that axis.

    Returns
    -------
    dask.array.Array
        Shape of `x` without `axis` (kept with length 1 when `keepdims`), the result dtype of
        `x`; equal to :func:`swiftsoftmax.logsumexp` within 2 ulp. Chunks whose maximum is
        <= 0 sum their exp terms in double-double (a result cancelling to near 0 amplifies
        their roundings), which is slower.

    Examples
    --------
    >>> import dask.array as da, numpy as np, swiftsoftmax.dask as ssd
    >>> x = da.from_array(np.array([1000.0, 1000.0]), chunks=1)
    >>> float(ssd.logsumexp(x).compute())
    1000.6931471805599
    """
    a, ax, cdt, rdt = _prepare(x, axis)
    stats = softmax_stats(a, ax, keepdims=True, split_every=split_every, precise=True)
    out = da.map_blocks(_logsumexp_block, stats, temperature=1.0, result_dtype=rdt, dtype=rdt, meta=_meta(a.ndim, rdt))
    return out if keepdims else da.squeeze(out, axis=ax)


# ---- vocabulary-parallel cross-entropy

def _ce_setup(logits: npt.ArrayLike, target: npt.ArrayLike, axis: int, weight: Optional[npt.ArrayLike],
              ignore_index: int, label_smoothing: float, reduction: str, sample_weight: Optional[npt.ArrayLike] = None
              ) -> tuple[da.Array, int, np.dtype[Any], int, da.Array, Optional[npt.NDArray[np.float64]], int, float,
                         Optional[da.Array]]:
    a, ax, cdt, rdt = _prepare(logits, axis, "logits")
    A.reduction_code(reduction)  # refuses an unknown reduction
    c = a.shape[ax]
    if math.isnan(c):
        raise ValueError("logits: the class axis must have a known length")
    kept_shape = tuple(s for i, s in enumerate(a.shape) if i != ax)
    kept_chunks = tuple(ch for i, ch in enumerate(a.chunks) if i != ax)
    t = target if isinstance(target, da.Array) else da.asarray(np.asarray(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices (probability targets are not supported "
                        f"here), got dtype {t.dtype}")
    if t.shape != kept_shape:
        raise ValueError(f"target: class-index targets must have the logits' shape without the class axis "
                         f"{kept_shape}, got {t.shape}")
    t = da.expand_dims(t.rechunk(kept_chunks).astype(np.int64), ax)
    w = P._weights(weight, c, cdt)
    ignore = A.ignore_index_arg(ignore_index)
    eps = float(np.asarray(A.real_scalar(label_smoothing, "label_smoothing"), dtype=cdt))
    if not 0 <= eps <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps}")
    return a, ax, rdt, c, t, w, ignore, eps, _sample_weights(sample_weight, kept_shape, kept_chunks, ax, cdt)


def _sample_weights(sample_weight: Optional[npt.ArrayLike], kept_shape: tuple[int, ...],
                    kept_chunks: tuple[tuple[int, ...], ...], ax: int, cdt: np.dtype[Any]) -> Optional[da.Array]:
    """One weight per sample, rounded to the compute dtype as the one-piece loss takes them, in
    float64, chunked like the targets (the class axis kept with length 1); checked here, as the
    one-piece library checks them: they are small, and a chunk cannot name a position."""
    if sample_weight is None:
        return None
    sw, _, _ = A.as_real_array(np.asarray(sample_weight), "sample_weight")
    try:
        sw = np.broadcast_to(sw, kept_shape)
    except ValueError:
        raise ValueError(f"sample_weight: expected one weight per sample, shape {kept_shape} "
                         f"(the logits' shape without the class axis), got {sw.shape}") from None
    s64 = np.asarray(sw, dtype=cdt).astype(np.float64)
    bad = np.flatnonzero(~(np.isfinite(s64) & (s64 >= 0)))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"sample_weight[{k}] must be finite and >= 0, got {s64.flat[k]}")
    return da.expand_dims(da.from_array(s64, chunks=kept_chunks), ax)


def cross_entropy_stats(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                        weight: Optional[npt.ArrayLike] = None, ignore_index: int = -100,
                        keepdims: bool = False, split_every: Optional[int] = None) -> da.Array:
    """Cross-entropy statistics merged over every chunk (shard) of the class axis.

    Each chunk is a shard of the vocabulary: its statistics come from
    :func:`swiftsoftmax.cross_entropy_stats` with its class offset and the GLOBAL class count,
    and a tree reduction merges them.

    Returns
    -------
    dask.array.Array of dtype swiftsoftmax.CE_STATS_DTYPE
        Shape of `target` (with the class axis kept with length 1 when `keepdims`).
    """
    a, ax, _, c, t, w, ignore, _, _ = _ce_setup(logits, target, axis, weight, ignore_index, 0.0, "mean")
    return _ce_stats(a, ax, c, t, w, ignore, keepdims, split_every)


def _ce_stats(a: da.Array, ax: int, c: int, t: da.Array, w: Optional[npt.NDArray[np.float64]], ignore: int,
              keepdims: bool, split_every: Optional[int]) -> da.Array:
    chunks = tuple((1,) * len(ch) if i == ax else ch for i, ch in enumerate(a.chunks))
    per_shard = da.map_blocks(_ce_block, a, t, axis=ax, num_classes=c, weight=w, ignore_index=ignore,
                              chunks=chunks, dtype=P.CE_STATS_DTYPE, meta=_meta(a.ndim, P.CE_STATS_DTYPE))
    return _merge_shards(per_shard, ax, keepdims, split_every)


def _merge_shards(per_shard: da.Array, ax: int, keepdims: bool, split_every: Optional[int]) -> da.Array:
    """The tree merge of per-shard statistics (one along `ax` per shard) over the class axis."""
    nd = per_shard.ndim if keepdims else per_shard.ndim - 1
    return da.reduction(per_shard, _ce_identity, _ce_merge, combine=_ce_merge, axis=ax, keepdims=keepdims,
                        dtype=P.CE_STATS_DTYPE, split_every=split_every, concatenate=True,
                        meta=_meta(nd, P.CE_STATS_DTYPE))


@overload
def _cross_entropy(logits: npt.ArrayLike, target: npt.ArrayLike, axis: int, weight: Optional[npt.ArrayLike],
                   ignore_index: int, label_smoothing: float, reduction: str, split_every: Optional[int],
                   sample_weight: Optional[npt.ArrayLike], grad: Literal[False]) -> da.Array: ...
@overload
def _cross_entropy(logits: npt.ArrayLike, target: npt.ArrayLike, axis: int, weight: Optional[npt.ArrayLike],
                   ignore_index: int, label_smoothing: float, reduction: str, split_every: Optional[int],
                   sample_weight: Optional[npt.ArrayLike], grad: Literal[True]) -> tuple[da.Array, da.Array]: ...
def _cross_entropy(logits: npt.ArrayLike, target: npt.ArrayLike, axis: int, weight: Optional[npt.ArrayLike],
                   ignore_index: int, label_smoothing: float, reduction: str, split_every: Optional[int],
                   sample_weight: Optional[npt.ArrayLike], grad: bool) -> Union[da.Array, tuple[da.Array, da.Array]]:
    a, ax, rdt, c, t, w, ignore, eps, sw = _ce_setup(logits, target, axis, weight, ignore_index,
                                                      label_smoothing, reduction, sample_weight)
    stats = _ce_stats(a, ax, c, t, w, ignore, True, split_every)
    loss, den_b = _loss_from_stats(stats, t, ax, c, w, ignore, eps, reduction, rdt, sw)
    if not grad:
        return loss
    ones = da.ones(t.shape, chunks=t.chunks, dtype=np.float64)
    g = da.map_blocks(_ce_grad_block, a, t, stats, den_b, ones if sw is None else sw, axis=ax, num_classes=c,
                      weight=w, ignore_index=ignore, eps=eps, reduction=reduction, weighted=sw is not None,
                      dtype=rdt, meta=_meta(a.ndim, rdt))
    return loss, g


def _loss_from_stats(stats: da.Array, t: da.Array, ax: int, c: int, w: Optional[npt.NDArray[Any]], ignore: int,
                     eps: float, reduction: str, rdt: np.dtype[Any], sw: Optional[da.Array] = None
                     ) -> tuple[Any, Any]:
    """(the loss, the mean's denominator broadcast to `t`'s chunks, or ones) from the merged
    statistics (the class axis `ax` kept with length 1) and the targets expanded likewise; `sw`,
    the sample weights chunked as `t`, scales each sample's loss and its share of the mean's
    denominator."""
    nd = stats.ndim
    per_sample = da.map_blocks(_ce_loss_block, stats, t, axis=ax, num_classes=c, weight=w, ignore_index=ignore,
                               eps=eps, drop_axis=ax, dtype=np.float64, meta=_meta(nd - 1, np.float64))
    if sw is not None:
        per_sample = per_sample * da.squeeze(sw, ax)
    den = None
    if reduction == "none":
        loss = per_sample.astype(rdt)
    else:
        total = _fsum(per_sample)
        if reduction == "mean":
            weights = da.map_blocks(_target_weights, t, weight=w, ignore_index=ignore, dtype=np.float64,
                                    meta=_meta(nd, np.float64))
            den = _fsum(weights if sw is None else weights * sw)
            total = da.map_blocks(_mean, total, den, dtype=np.float64, meta=np.empty((), np.float64))
        loss = total.astype(rdt)
    if den is None:
        den = da.ones((), dtype=np.float64)
    return loss, da.broadcast_to(den.reshape((1,) * nd), t.shape, chunks=t.chunks)


def cross_entropy(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1, weight: Optional[npt.ArrayLike] = None,
                  ignore_index: int = -100, label_smoothing: float = 0.0, reduction: str = "mean",
                  split_every: Optional[int] = None, sample_weight: Optional[npt.ArrayLike] = None) -> da.Array:
    """Cross-entropy of logits whose class axis is split across chunks (vocabulary parallel).

    Parameters
    ----------
    logits : dask.array.Array or array_like
        Scores with the C classes along `axis`, in any number of chunks along it (shards).
    target : dask.array.Array or array_like of int
        Class indices (or `ignore_index`), shape of `logits` without `axis`; rechunked to the
        logits' other chunks if needed (it is small).
    axis, weight, ignore_index, label_smoothing, reduction
        As for :func:`swiftsoftmax.cross_entropy` (PyTorch's semantics). Label smoothing
        spreads ε over the global C, whatever the shards (Megatron-LM's vocabulary-parallel
        loss once used the shard's class count).
    split_every : int, optional
        Shards merged per node of the statistics' tree reduction.
    sample_weight : array_like, optional
        One weight >= 0 per sample, as for :func:`swiftsoftmax.cross_entropy`: each sample's
        loss (and gradient) times its weight, ``'mean'`` divided by ``Σ w[y_n]·sample_weight[n]``
        over the non-ignored samples. (``z_loss``, ``softcap`` and ``return_lse`` are not
        offered on split class axes.)

    Returns
    -------
    dask.array.Array
        0-d for ``'mean'`` and ``'sum'``, per-sample for ``'none'``, in the logits' result
        dtype; equal to :func:`swiftsoftmax.cross_entropy` of the whole array within 2 ulp.

    Examples
    --------
    >>> import dask.array as da, numpy as np, swiftsoftmax.dask as ssd
    >>> x = da.from_array(np.array([[0.0, 2.0, 4.0]]), chunks=(1, 1))
    >>> float(ssd.cross_entropy(x, [2]).compute())      # -ln 0.8668
    0.14293162849989952
    """
    return _cross_entropy(logits, target, axis, weight, ignore_index, label_smoothing, reduction,
                          split_every, sample_weight, False)


def cross_entropy_with_grad(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                            weight: Optional[npt.ArrayLike] = None, ignore_index: int = -100,
                            label_smoothing: float = 0.0, reduction: str = "mean",
                            split_every: Optional[int] = None, sample_weight: Optional[npt.ArrayLike] = None
                            ) -> tuple[da.Array, da.Array]:
    """Cross-entropy and its gradient with respect to the logits, split along the class axis.

    Arguments as for :func:`cross_entropy`. The gradient keeps the logits' chunks: each shard
    gets its part from the merged statistics, as :func:`swiftsoftmax.cross_entropy_with_grad`
    computes it in one piece.

    Returns
    -------
    loss : dask.array.Array
    dlogits : dask.array.Array
        Shape, chunks and result dtype of `logits`.

    Examples
    --------
    >>> import dask.array as da, numpy as np, swiftsoftmax.dask as ssd
    >>> x = da.from_array(np.array([[0.0, 2.0, 4.0]]), chunks=(1, 2))
    >>> loss, g = ssd.cross_entropy_with_grad(x, [2])
    >>> g.compute().round(4)
    array([[ 0.0159,  0.1173, -0.1332]])
    """
    return _cross_entropy(logits, target, axis, weight, ignore_index, label_smoothing, reduction,
                          split_every, sample_weight, True)


# ---- the output layer: linear + cross-entropy, samples x classes in blocks

def _lce_logits(xb: npt.NDArray[Any], wb: npt.NDArray[Any], bb: Optional[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    z: npt.NDArray[Any] = np.matmul(xb, wb.T)
    if bb is not None:
        z += bb
    return z


def _lce_stats_block(xb: npt.NDArray[Any], wb: npt.NDArray[Any], tb: npt.NDArray[Any], offset: npt.NDArray[Any],
                     bb: Optional[npt.NDArray[Any]] = None, *, num_classes: int,
                     weight: Optional[npt.NDArray[Any]], ignore_index: int) -> npt.NDArray[Any]:
    # One block of logits (samples of xb, classes of wb), formed and dropped inside the task.
    z = _lce_logits(xb, wb, bb)
    s = P.cross_entropy_stats(z, tb, num_classes=num_classes, class_offset=int(offset[0]), weight=weight,
                              ignore_index=ignore_index)
    return s[:, None]


def _lce_grad_block(xb: npt.NDArray[Any], wb: npt.NDArray[Any], tb: npt.NDArray[Any], stats: npt.NDArray[Any],
                    den: npt.NDArray[Any], offset: npt.NDArray[Any], bb: Optional[npt.NDArray[Any]] = None, *,
                    num_classes: int, weight: Optional[npt.NDArray[Any]], ignore_index: int, eps: float,
                    reduction: str) -> npt.NDArray[Any]:
    # The block's logits again (the two-pass chunking over classes: docs/design.md, "The output
    # layer"), then their gradient from the merged statistics, written over them.
    z = _lce_logits(xb, wb, bb)
    return P.cross_entropy_grad_from_stats(
        z, tb, stats[:, 0], num_classes=num_classes, class_offset=int(offset[0]), weight=weight,
        ignore_index=ignore_index, label_smoothing=eps, reduction=reduction,
        denominator=float(den.flat[0]) if reduction == "mean" else None)


def linear_cross_entropy(x: npt.ArrayLike, weight: npt.ArrayLike, target: npt.ArrayLike, *,
                         bias: Optional[npt.ArrayLike] = None, class_weight: Optional[npt.ArrayLike] = None,
                         ignore_index: int = -100, label_smoothing: float = 0.0, reduction: str = "mean",
                         return_grad: bool = False, split_every: Optional[int] = None) -> Any:
    """Cross-entropy of a linear layer's output on Dask: samples in chunks of `x`, classes in
    chunks of `weight`, the logits only ever formed one block at a time inside a task.

    The result is that of :func:`swiftsoftmax.linear_cross_entropy` (and so of
    ``cross_entropy_with_grad(x @ weight.T + bias, target)``): each task forms one block of
    logits (a chunk of samples times a chunk of classes) with NumPy's matmul and keeps only its
    cross-entropy statistics; the statistics are tree-merged over the class chunks as in
    :func:`cross_entropy`; the gradient tasks form their block again and turn it into its
    gradient from the merged statistics (two passes over the classes, four products of N·D·V
    in all). A block of logits is never kept between tasks; a block of its gradient is kept
    until the three products that consume it (``G @ weight``, ``G.T @ x``, its column sums)
    have run.

    Parameters
    ----------
    x : dask.array.Array or array_like, shape (N, D)
        Hidden activations, chunked over samples (the D axis is put into one chunk).
    weight : dask.array.Array or array_like, shape (V, D)
        ``nn.Linear``'s weight, chunked over classes: each chunk is a shard of the vocabulary.
    target : dask.array.Array or array_like of int, shape (N,)
        Class indices or `ignore_index` (rechunked like the samples of `x`).
    bias : dask.array.Array or array_like, shape (V,), optional
        Rechunked like the classes of `weight`.
    class_weight, ignore_index, label_smoothing, reduction
        As for :func:`swiftsoftmax.linear_cross_entropy` (`class_weight` is cross-entropy's
        per-class ``weight=``).
    return_grad : bool, default False
        Also return the gradients.
    split_every : int, optional
        Class chunks merged per node of the statistics' tree reduction.

    Returns
    -------
    loss : dask.array.Array
        0-d for ``'mean'`` and ``'sum'``, shape (N,) for ``'none'``, in the dtype of
        :func:`swiftsoftmax.linear_cross_entropy`.
    grad_x, grad_weight, grad_bias : dask.array.Array
        Only with `return_grad`: lazy, with the chunks of `x`, `weight` and `bias` (grad_bias
        None without `bias`). Compute them together with the loss (``dask.compute(loss, gx,
        gw, gb)``) so that the merged statistics and each block's gradient are computed once.

    Examples
    --------
    >>> import dask, dask.array as da, numpy as np, swiftsoftmax as ssm, swiftsoftmax.dask as ssd
    >>> rng = np.random.default_rng(0)
    >>> x, w, y = rng.standard_normal((6, 4)), rng.standard_normal((10, 4)), np.array([0, 9, 3, 3, -100, 5])
    >>> loss, gx, gw, gb = ssd.linear_cross_entropy(da.from_array(x, chunks=(3, 4)), da.from_array(w, chunks=(4, 4)),
    ...                                             y, bias=np.zeros(10), return_grad=True)
    >>> gw.chunks
    ((4, 4, 2), (4,))
    >>> loss, gx, gw, gb = dask.compute(loss, gx, gw, gb)
    >>> ref, g = ssm.cross_entropy_with_grad(x @ w.T, y)
    >>> bool(np.isclose(loss, ref, rtol=1e-14)), bool(np.allclose(gw, g.T @ x)), bool(np.allclose(gx, g @ w))
    (True, True, True)
    """
    from ._linear import _dtypes

    xa = x if isinstance(x, da.Array) else da.asarray(x)
    wa = weight if isinstance(weight, da.Array) else da.asarray(weight)
    ba = None if bias is None else (bias if isinstance(bias, da.Array) else da.asarray(bias))
    for name, arr in (("x", xa), ("weight", wa), ("bias", ba)):
        if arr is not None and arr.dtype.kind not in "biuf":
            raise TypeError(f"{name}: expected real floating-point, integer or boolean values, got dtype {arr.dtype}")
    if xa.ndim != 2 or any(math.isnan(s) for s in xa.shape):
        raise ValueError(f"x: expected a 2-D array (N, D) of known shape, got shape {xa.shape}")
    n, d = xa.shape
    if wa.ndim != 2 or wa.shape[1] != d or math.isnan(wa.shape[0]):
        raise ValueError(f"weight: expected shape (V, {d}) (nn.Linear's (out_features, in_features) for x of "
                         f"shape {xa.shape}), got {wa.shape}")
    v = wa.shape[0]
    if ba is not None and ba.shape != (v,):
        raise ValueError(f"bias: expected shape ({v},) (one per row of weight), got {ba.shape}")
    A.reduction_code(reduction)
    cdt, rdt = _dtypes(xa, wa, ba)
    t = target if isinstance(target, da.Array) else da.asarray(np.asarray(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"target: expected integer class indices, got dtype {t.dtype}")
    if t.shape != (n,):
        raise ValueError(f"target: expected shape ({n},) (one class index per row of x), got {t.shape}")
    cw = None
    if class_weight is not None:
        cwa, _, _ = A.as_real_array(class_weight, "class_weight")
        if cwa.shape != (v,):
            raise ValueError(f"class_weight: expected shape ({v},) (one weight per class), got {cwa.shape}")
        cw = P._weights(cwa, v, cdt)
    ignore = A.ignore_index_arg(ignore_index)
    eps = float(np.asarray(A.real_scalar(label_smoothing, "label_smoothing"), dtype=cdt))
    if not 0 <= eps <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps}")

    xa = xa.astype(cdt).rechunk({1: -1})
    wa = wa.astype(cdt).rechunk({1: -1})
    t = t.astype(np.int64).rechunk((xa.chunks[0],))
    starts = np.cumsum((0,) + wa.chunks[0][:-1]).astype(np.int64)
    offs = da.from_array(starts, chunks=1)  # each class chunk's offset, one block per chunk (not aligned)
    bias_args: list[Any] = []
    if ba is not None:
        ba = ba.astype(cdt).rechunk((wa.chunks[0],))
        bias_args = [ba, "j"]
    kw = dict(num_classes=v, weight=cw, ignore_index=ignore)
    # i: sample chunks, j: class chunks, k: the features (one chunk), z: the kept class axis of
    # the merged statistics (one chunk of length 1).
    per_shard = da.blockwise(_lce_stats_block, "ij", xa, "ik", wa, "jk", t, "i", offs, "j", *bias_args,
                             adjust_chunks={"j": 1}, concatenate=True, align_arrays=False, dtype=P.CE_STATS_DTYPE,
                             meta=_meta(2, P.CE_STATS_DTYPE), **kw)
    stats = _merge_shards(per_shard, 1, True, split_every)
    t2 = t[:, None]
    loss, den_b = _loss_from_stats(stats, t2, 1, v, cw, ignore, eps, reduction, rdt)
    if not return_grad:
        return loss
    g = da.blockwise(_lce_grad_block, "ij", xa, "ik", wa, "jk", t, "i", stats, "iz", den_b, "iz", offs, "j",
                     *bias_args, concatenate=True, align_arrays=False, dtype=cdt, meta=_meta(2, cdt), eps=eps,
                     reduction=reduction,
                     **kw)
    gx = da.matmul(g, wa).astype(rdt)
    gw = da.matmul(g.T, xa).astype(rdt)
    gb = None if ba is None else g.sum(axis=0, dtype=cdt).astype(rdt)
    return loss, gx, gw, gb
