"""Partial statistics: softmax and cross-entropy over an axis split into chunks.

Each chunk of the softmax axis gives per-slice statistics (its maximum and its sum of
exponentials, the sum as a double-double); statistics merge associatively and -inf-safely;
the merged statistics and a chunk give that chunk's part of the one-piece softmax,
log_softmax or logsumexp. For cross-entropy over a class axis cut into shards (vocabulary
parallelism) the statistics also carry the target logit and what label smoothing needs.
``swiftsoftmax.dask`` runs these on Dask; they work as well for any other way of splitting.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

import numpy as np
import numpy.typing as npt

from . import _arrays as A
from . import _results as R
from ._lib import FUNCS, check


#: One slice's softmax statistics (the C header's ``ssm_softmax_stats``).
SOFTMAX_STATS_DTYPE = np.dtype([("max", "<f8"), ("sum_hi", "<f8"), ("sum_lo", "<f8")])
#: One sample's statistics of a shard of the class axis (the C header's ``ssm_ce_stats``).
CE_STATS_DTYPE = np.dtype([("max", "<f8"), ("sum_hi", "<f8"), ("sum_lo", "<f8"),
                           ("target", "<f8"), ("found", "<f8"), ("shift_hi", "<f8"),
                           ("shift_lo", "<f8"), ("weight_sum", "<f8")])


def _stats_in(stats: npt.ArrayLike, shape: tuple[int, ...], dtype: np.dtype[Any], name: str = "stats"
              ) -> npt.NDArray[np.void]:
    """`stats` as a C-contiguous array of `dtype` with `shape` (or `shape` with a kept axis)."""
    s = np.asarray(stats)
    if s.dtype != dtype:
        which = "SOFTMAX_STATS_DTYPE" if dtype == SOFTMAX_STATS_DTYPE else "CE_STATS_DTYPE"
        raise TypeError(f"{name}: expected statistics of dtype swiftsoftmax.{which}, got dtype {s.dtype}")
    if s.shape != shape:
        if s.size == int(np.prod(shape)) and tuple(d for d in s.shape if d != 1) == tuple(d for d in shape if d != 1):
            s = s.reshape(shape)  # the same statistics with the reduced axis kept
        else:
            raise ValueError(f"{name}: expected shape {shape} (one value per slice), got {s.shape}")
    return np.asarray(s, order="C")


def _count(value: object, name: str) -> int:
    """A class count or offset: an int in [0, 2**63)."""
    v = A.as_int(value, name)
    if v < 0 or v > A.I64_MAX:
        raise ValueError(f"{name}: must be an int in [0, 2**63), got {v}")
    return v


def _weights(weight: Optional[npt.ArrayLike], num_classes: int, cdt: np.dtype[Any]
             ) -> Optional[npt.NDArray[np.float64]]:
    """Class weights rounded to the compute dtype (as the one-piece loss takes them), as float64."""
    if weight is None:
        return None
    w, _, _ = A.as_real_array(weight, "weight")
    if w.shape != (num_classes,):
        raise ValueError(f"weight: expected shape ({num_classes},) (one weight per class of the whole "
                         f"axis), got {w.shape}")
    return np.ascontiguousarray(np.asarray(w, dtype=cdt), dtype=A.F64)


def _shard(logits: npt.ArrayLike, target: npt.ArrayLike, axis: int, num_classes: int, class_offset: int,
           ignore_index: int) -> tuple[npt.NDArray[Any], np.dtype[Any], np.dtype[Any], A.Layout, int, int, int,
                                       npt.NDArray[np.int64]]:
    """The arguments that describe one shard of the class axis, checked in this order:
    (logits, compute dtype, result dtype, layout, num_classes, class_offset, ignore_index,
    labels)."""
    a, cdt, rdt = A.as_real_array(logits, "logits")
    layout = A.Layout(a.shape, (A.class_axis(axis, a.ndim),))
    c = _count(num_classes, "num_classes")
    off = _count(class_offset, "class_offset")
    ignore = A.ignore_index_arg(ignore_index)
    lab = A.target_labels(target, layout.kept_shape)
    return a, cdt, rdt, layout, c, off, ignore, lab


# ---------------------------------------------------------------------------------------------
# softmax family


def softmax_stats(x: npt.ArrayLike, axis: int = -1, *, temperature: float = 1.0,
                  where: Optional[npt.ArrayLike] = None, precise: bool = False) -> npt.NDArray[np.void]:
    """Softmax statistics of a chunk of the softmax axis, one per slice.

    Parameters
    ----------
    x : array_like
        A chunk of the scores: the full array but for part of `axis`. dtypes as for
        :func:`softmax`.
    axis : int, default -1
        The softmax axis (one axis).
    temperature : float, default 1.0
        As for :func:`softmax`; merges and finalisers must use the same value (for float32
        data the kernels use ``float32(temperature)``: give merges ``dtype=numpy.float32``).
    where : array_like of bool, optional
        Mask broadcastable to `x`; False entries are left out.
    precise : bool, default False
        For statistics that will give a logsumexp: a logsumexp that cancels to near 0 (a
        negative maximum) amplifies the roundings of the exp terms, so a chunk whose maximum
        is <= 0 then sums them in double-double (about 100 times slower; chunks with a
        positive maximum take the fast path). Softmax and log-softmax never need it.

    Returns
    -------
    ndarray of dtype SOFTMAX_STATS_DTYPE
        Shape of `x` without `axis`; fields ``max``, ``sum_hi``, ``sum_lo`` (the sum of
        ``exp((x - max) / T)`` as a double-double). An empty or fully masked slice gives
        ``(-inf, 0, 0)``, a NaN slice ``max`` NaN, k entries of +inf ``(inf, k, 0)``.

    Examples
    --------
    >>> import numpy as np, swiftsoftmax as ssm
    >>> x = np.array([[0.0, 2.0, 4.0, 1.0]])
    >>> left, right = ssm.softmax_stats(x[:, :2]), ssm.softmax_stats(x[:, 2:])
    >>> whole = ssm.merge_softmax_stats(left, right)
    >>> float(whole["max"][0]), bool(np.allclose(ssm.softmax_from_stats(x[:, 2:], whole), ssm.softmax(x)[:, 2:]))
    (4.0, True)
    """
    t = A.real_scalar(temperature, "temperature")
    a, cdt, _ = A.as_real_array(x, "x")
    ax = A.class_axis(axis, a.ndim, "x", "the softmax axis")
    layout = A.Layout(a.shape, (ax,))
    xb = layout.arrange(a, cdt)
    mb = None if where is None else layout.arrange(A.as_mask(where, a.shape), np.bool_)
    stats = np.empty(layout.kept_shape, dtype=SOFTMAX_STATS_DTYPE)
    kind = "softmax_stats_precise" if precise else "softmax_stats"
    check(FUNCS[f"ssm_{kind}_{A.suffix(cdt)}"](A.ptr(xb), A.ptr(mb), A.ptr(stats), *layout.dims, t),
          "softmax_stats")
    return stats


def _merge_temperature(temperature: float, dtype: Optional[npt.DTypeLike]) -> float:
    """The temperature the kernels used for data of `dtype`: float32 data run with float32(T)."""
    t = A.real_scalar(temperature, "temperature")
    if dtype is not None and A.compute_dtype(dtype) == np.float32:
        return float(np.float32(t))
    return t


def merge_softmax_stats(a: npt.NDArray[np.void], b: npt.NDArray[np.void], *, temperature: float = 1.0,
                        dtype: Optional[npt.DTypeLike] = None) -> npt.NDArray[np.void]:
    """The statistics of two chunks together, slice by slice.

    Commutative bit for bit and associative to double-double precision: any order or tree of
    merges gives the same finished results. Two empty (or fully masked) chunks merge to
    ``(-inf, 0, 0)``, never NaN.

    Parameters
    ----------
    a, b : ndarray of dtype SOFTMAX_STATS_DTYPE
        Statistics of the same slices (broadcast together).
    temperature : float, default 1.0
        The temperature both were computed with.
    dtype : dtype, optional
        The dtype of the data the statistics come from: for float32 (and float16) data the
        kernels ran with ``float32(temperature)``, and the merge must rescale with the same
        value (without `dtype`, pass that value yourself).

    Returns
    -------
    ndarray of dtype SOFTMAX_STATS_DTYPE

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> e = ssm.softmax_stats([[0.0, 0.0]], where=[[False, False]])
    >>> ssm.merge_softmax_stats(e, e)[0].tolist()
    (-inf, 0.0, 0.0)
    """
    t = _merge_temperature(temperature, dtype)
    sa, sb, out = _merge_operands(a, b, SOFTMAX_STATS_DTYPE, "SOFTMAX_STATS_DTYPE")
    check(FUNCS["ssm_softmax_stats_merge"](A.ptr(sa), A.ptr(sb), A.ptr(out), out.size, t),
          "merge_softmax_stats")
    return out


def _merge_operands(a: npt.ArrayLike, b: npt.ArrayLike, dtype: np.dtype[Any], dtype_name: str
                    ) -> tuple[npt.NDArray[np.void], npt.NDArray[np.void], npt.NDArray[np.void]]:
    """a and b as C-contiguous statistics of `dtype` broadcast together, and the output."""
    for name, s in (("a", a), ("b", b)):
        if np.asarray(s).dtype != dtype:
            raise TypeError(f"{name}: expected statistics of dtype swiftsoftmax.{dtype_name}, "
                            f"got dtype {np.asarray(s).dtype}")
    try:
        sa, sb = np.broadcast_arrays(np.asarray(a), np.asarray(b))
    except ValueError:
        raise ValueError(f"b: expected statistics broadcastable to a's shape {np.shape(a)}, got {np.shape(b)}") from None
    sa, sb = np.asarray(sa, order="C"), np.asarray(sb, order="C")
    return sa, sb, np.empty(sa.shape, dtype=dtype)


def reduce_softmax_stats(stats: npt.NDArray[np.void], axis: int = -1, *, temperature: float = 1.0,
                         keepdims: bool = False, dtype: Optional[npt.DTypeLike] = None) -> npt.NDArray[np.void]:
    """Merges statistics along `axis` (e.g. those of the chunks of one axis, stacked), left to
    right; `temperature` and `dtype` as for :func:`merge_softmax_stats`.

    Examples
    --------
    >>> import numpy as np, swiftsoftmax as ssm
    >>> x = np.array([0.0, 2.0, 4.0])
    >>> parts = np.stack([ssm.softmax_stats(x[:1]), ssm.softmax_stats(x[1:])])
    >>> float(ssm.logsumexp_from_stats(ssm.reduce_softmax_stats(parts, axis=0)))
    4.142931628499899
    """
    s = np.asarray(stats)
    if s.dtype != SOFTMAX_STATS_DTYPE:
        raise TypeError(f"stats: expected statistics of dtype swiftsoftmax.SOFTMAX_STATS_DTYPE, got dtype {s.dtype}")
    t = _merge_temperature(temperature, dtype)
    box = [0]
    return _reduce(s, axis, keepdims, lambda p, q, o: FUNCS["ssm_softmax_stats_merge"](p, q, o, box[0], t),
                   box, "reduce_softmax_stats", _empty_softmax)


def _empty_softmax(shape: tuple[int, ...]) -> npt.NDArray[np.void]:
    e = np.empty(shape, dtype=SOFTMAX_STATS_DTYPE)
    e["max"], e["sum_hi"], e["sum_lo"] = -np.inf, 0.0, 0.0
    return e


def _reduce(s: npt.NDArray[np.void], axis: int, keepdims: bool, merge: Callable[[int, int, int], int],
            size_box: list[int], name: str, empty: Callable[[tuple[int, ...]], npt.NDArray[np.void]]) -> npt.NDArray[np.void]:
    """Left-to-right merges of `s` along `axis`; `merge(pa, pb, pout)` runs one C merge of
    `size_box[0]` values."""
    if s.ndim == 0:
        raise ValueError("stats: expected at least one dimension to merge along, got a scalar")
    ax = A.normalize_axes(axis, s.ndim, "axis")
    if len(ax) != 1:
        raise TypeError(f"axis: expected one int, got {axis!r}")
    moved = np.ascontiguousarray(np.moveaxis(s, ax[0], 0))
    if moved.shape[0] == 0:
        acc = empty(moved.shape[1:])
    else:
        acc = moved[0, ...].copy()
        size_box[0] = acc.size
        for k in range(1, moved.shape[0]):
            part = moved[k, ...]
            check(merge(A.ptr(acc), A.ptr(part), A.ptr(acc)), name)
    return np.expand_dims(acc, ax[0]) if keepdims else acc


def _from_stats(op: str, x: npt.ArrayLike, stats: npt.NDArray[np.void], axis: int, temperature: float,
                where: Optional[npt.ArrayLike], out: Optional[npt.NDArray[Any]]) -> npt.NDArray[np.floating[Any]]:
    t = A.real_scalar(temperature, "temperature")
    a, cdt, rdt = A.as_real_array(x, "x")
    ax = A.class_axis(axis, a.ndim, "x", "the softmax axis")
    layout = A.Layout(a.shape, (ax,))
    A.check_out(out, a.shape, rdt)
    s = _stats_in(stats, layout.kept_shape, SOFTMAX_STATS_DTYPE)
    xb = layout.arrange(a, cdt)
    mb = None if where is None else layout.arrange(A.as_mask(where, a.shape), np.bool_)
    target = A.direct_target(out, layout, cdt, xb, mb)
    if target is not None and np.may_share_memory(target, s):
        target = None
    yb = target if target is not None else R.empty_like(xb)
    check(FUNCS[f"ssm_{op}_from_stats_{A.suffix(cdt)}"](A.ptr(xb), A.ptr(mb), A.ptr(s), A.ptr(yb),
                                                        *layout.dims, t), f"{op}_from_stats")
    return A.deliver_array(yb if target is not None else layout.restore(yb), out, rdt)


def softmax_from_stats(x: npt.ArrayLike, stats: npt.NDArray[np.void], axis: int = -1, *, temperature: float = 1.0,
                       where: Optional[npt.ArrayLike] = None, out: Optional[npt.NDArray[np.floating[Any]]] = None
                       ) -> npt.NDArray[np.floating[Any]]:
    """Softmax of a chunk of the axis, given the statistics merged over the whole axis.

    Parameters
    ----------
    x : array_like
        The chunk (as given to :func:`softmax_stats`).
    stats : ndarray of dtype SOFTMAX_STATS_DTYPE
        The merged statistics of every chunk: shape of `x` without `axis` (or with it kept).
    axis, temperature, where, out
        As for :func:`softmax`.

    Returns
    -------
    ndarray
        This chunk's part of ``softmax`` of the whole axis (within 2 ulp of the one-piece
        result).

    Examples
    --------
    >>> import numpy as np, swiftsoftmax as ssm
    >>> x = np.array([0.0, 2.0, 4.0])
    >>> s = ssm.merge_softmax_stats(ssm.softmax_stats(x[:2]), ssm.softmax_stats(x[2:]))
    >>> ssm.softmax_from_stats(x[:2], s).round(4)
    array([0.0159, 0.1173])
    """
    return _from_stats("softmax", x, stats, axis, temperature, where, out)


def log_softmax_from_stats(x: npt.ArrayLike, stats: npt.NDArray[np.void], axis: int = -1, *,
                           temperature: float = 1.0, where: Optional[npt.ArrayLike] = None,
                           out: Optional[npt.NDArray[np.floating[Any]]] = None) -> npt.NDArray[np.floating[Any]]:
    """Log-softmax of a chunk of the axis, given the statistics merged over the whole axis.

    Examples
    --------
    >>> import numpy as np, swiftsoftmax as ssm
    >>> x = np.array([0.0, 2.0, 4.0])
    >>> s = ssm.merge_softmax_stats(ssm.softmax_stats(x[:2]), ssm.softmax_stats(x[2:]))
    >>> ssm.log_softmax_from_stats(x[2:], s).round(4)
    array([-0.1429])
    """
    return _from_stats("log_softmax", x, stats, axis, temperature, where, out)


def logsumexp_from_stats(stats: npt.NDArray[np.void], *, temperature: float = 1.0, dtype: npt.DTypeLike = np.float64
                         ) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
    """``log Σ exp(x / T)`` of each slice from its merged statistics.

    Parameters
    ----------
    stats : ndarray of dtype SOFTMAX_STATS_DTYPE
    temperature : float, default 1.0
    dtype : float32 or float64 (float16 computed in float32), default float64
        The result dtype: that of the data, so the result is rounded once, as
        :func:`logsumexp` rounds it.

    Returns
    -------
    ndarray or scalar
        Shape of `stats`; a 0-d result is a NumPy scalar. Empty or fully masked: -inf.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> s = ssm.merge_softmax_stats(ssm.softmax_stats([1000.0]), ssm.softmax_stats([1000.0]))
    >>> float(ssm.logsumexp_from_stats(s))
    1000.6931471805599
    """
    t = A.real_scalar(temperature, "temperature")
    cdt = A.compute_dtype(dtype)
    s = np.asarray(stats)
    s = _stats_in(s, s.shape, SOFTMAX_STATS_DTYPE)
    out = np.empty(s.shape, dtype=cdt)
    check(FUNCS[f"ssm_logsumexp_from_stats_{A.suffix(cdt)}"](A.ptr(s), A.ptr(out), s.size, t),
          "logsumexp_from_stats")
    return A.deliver(out, None, np.dtype(dtype))


# ---------------------------------------------------------------------------------------------
# vocabulary-parallel cross-entropy


def cross_entropy_stats(logits: npt.ArrayLike, target: npt.ArrayLike, *, num_classes: int,
                        class_offset: int = 0, axis: int = -1, weight: Optional[npt.ArrayLike] = None,
                        ignore_index: int = -100) -> npt.NDArray[np.void]:
    """Cross-entropy statistics of one shard of the class axis, one per sample.

    Parameters
    ----------
    logits : array_like
        The shard: the logits of classes ``class_offset .. class_offset + n - 1`` along `axis`.
    target : array_like of int
        Global class indices (or `ignore_index`), shape of `logits` without `axis`.
    num_classes : int
        C, the class count of the WHOLE axis. Label smoothing spreads over it; using the
        shard's own count (Megatron-LM's old bug) would scale the smoothing by the number
        of shards.
    class_offset : int, default 0
        The global index of the shard's first class.
    axis : int, default -1
        The class axis.
    weight : array_like, optional
        The C class weights of the whole axis.
    ignore_index : int, default -100

    Returns
    -------
    ndarray of dtype CE_STATS_DTYPE
        Shape of `target`: the shard's softmax statistics, the target logit with
        ``found = 1`` where the shard holds the target, ``Σ w_c (max - x_c)`` and ``Σ w_c``.

    Examples
    --------
    >>> import numpy as np, swiftsoftmax as ssm
    >>> x, y = np.array([[0.0, 2.0, 4.0]]), np.array([2])
    >>> a = ssm.cross_entropy_stats(x[:, :2], y, num_classes=3)
    >>> b = ssm.cross_entropy_stats(x[:, 2:], y, num_classes=3, class_offset=2)
    >>> float(ssm.cross_entropy_from_stats(ssm.merge_cross_entropy_stats(a, b), y, num_classes=3))
    0.14293162849989952
    """
    a, cdt, _, layout, c, off, ignore, lab = _shard(logits, target, axis, num_classes, class_offset,
                                                    ignore_index)
    w = _weights(weight, c, cdt)
    xb = layout.arrange(a, cdt)
    stats = np.empty(layout.kept_shape, dtype=CE_STATS_DTYPE)
    status = FUNCS[f"ssm_ce_stats_{A.suffix(cdt)}"](A.ptr(xb), A.ptr(lab), A.ptr(w), *layout.dims,
                                                    off, c, ignore, A.ptr(stats))
    check(status, "cross_entropy_stats", labels="target")
    return stats


def merge_cross_entropy_stats(a: npt.NDArray[np.void], b: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
    """The statistics of two shards together, sample by sample (see :func:`cross_entropy_stats`)."""
    sa, sb, out = _merge_operands(a, b, CE_STATS_DTYPE, "CE_STATS_DTYPE")
    check(FUNCS["ssm_ce_stats_merge"](A.ptr(sa), A.ptr(sb), A.ptr(out), out.size), "merge_cross_entropy_stats")
    return out


def reduce_cross_entropy_stats(stats: npt.NDArray[np.void], axis: int = -1, *, keepdims: bool = False) -> npt.NDArray[np.void]:
    """Merges cross-entropy statistics along `axis` (e.g. those of every shard, stacked)."""
    s = np.asarray(stats)
    if s.dtype != CE_STATS_DTYPE:
        raise TypeError(f"stats: expected statistics of dtype swiftsoftmax.CE_STATS_DTYPE, got dtype {s.dtype}")
    box = [0]
    return _reduce(s, axis, keepdims, lambda p, q, o: FUNCS["ssm_ce_stats_merge"](p, q, o, box[0]), box,
                   "reduce_cross_entropy_stats", _empty_ce)


def _empty_ce(shape: tuple[int, ...]) -> npt.NDArray[np.void]:
    e = np.zeros(shape, dtype=CE_STATS_DTYPE)
    e["max"] = -np.inf
    return e


def cross_entropy_denominator(target: npt.ArrayLike, *, num_classes: int, weight: Optional[npt.ArrayLike] = None,
                              ignore_index: int = -100, dtype: npt.DTypeLike = np.float64) -> float:
    """The mean's denominator: Σ ``weight[y]`` over the samples not equal to `ignore_index`
    (their count without weights), weights rounded to the compute dtype of `dtype`.

    >>> import swiftsoftmax as ssm
    >>> ssm.cross_entropy_denominator([0, 2, -100], num_classes=3, weight=[1.0, 1.0, 0.5])
    1.5
    """
    cdt = A.compute_dtype(dtype)
    c = _count(num_classes, "num_classes")
    lab = A.as_labels(target, "target")
    w = _weights(weight, c, cdt)
    out = np.zeros((), dtype=A.F64)
    status = FUNCS["ssm_cross_entropy_denominator"](A.ptr(lab), A.ptr(w), lab.size, c,
                                                    A.ignore_index_arg(ignore_index), A.ptr(out))
    check(status, "cross_entropy_denominator", labels="target")
    return float(out)


def cross_entropy_from_stats(stats: npt.NDArray[np.void], target: npt.ArrayLike, *, num_classes: int,
                             weight: Optional[npt.ArrayLike] = None, ignore_index: int = -100,
                             label_smoothing: float = 0.0, reduction: str = "mean",
                             dtype: npt.DTypeLike = np.float64) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
    """The cross-entropy from statistics merged over every shard of the class axis.

    Arguments and result are those of :func:`cross_entropy` (PyTorch's semantics), with the
    logits replaced by their merged statistics. `dtype` is the logits' dtype: the loss is
    rounded to it once, and `weight` and `label_smoothing` are rounded to its compute dtype
    as the one-piece call rounds them. ``num_classes`` is the GLOBAL class count (see
    :func:`cross_entropy_stats`).

    Raises
    ------
    ValueError
        When a non-ignored sample's target class was found in no shard or in several (the
        statistics were not merged over exactly the whole axis), and as :func:`cross_entropy`.

    Examples
    --------
    >>> import numpy as np, swiftsoftmax as ssm
    >>> x, y = np.array([[0.0, 2.0, 4.0]]), np.array([0])
    >>> parts = [ssm.cross_entropy_stats(x[:, k:k + 1], y, num_classes=3, class_offset=k) for k in range(3)]
    >>> s = ssm.reduce_cross_entropy_stats(np.stack(parts), axis=0)
    >>> bool(np.isclose(ssm.cross_entropy_from_stats(s, y, num_classes=3, label_smoothing=0.1),
    ...                 ssm.cross_entropy(x, y, label_smoothing=0.1)))
    True
    """
    code = A.reduction_code(reduction)
    cdt = A.compute_dtype(dtype)
    c = _count(num_classes, "num_classes")
    lab = A.as_labels(target, "target")
    s = _stats_in(stats, lab.shape, CE_STATS_DTYPE)
    w = _weights(weight, c, cdt)
    eps = float(np.asarray(A.real_scalar(label_smoothing, "label_smoothing"), dtype=cdt))
    loss = np.empty(lab.shape if code == 0 else (), dtype=A.F64)
    status = FUNCS["ssm_cross_entropy_from_stats"](A.ptr(s), A.ptr(lab), A.ptr(w), lab.size, c,
                                                   A.ignore_index_arg(ignore_index), eps, code, A.ptr(loss))
    check(status, "cross_entropy_from_stats", labels="target")
    return A.deliver(loss, None, np.dtype(dtype))


def cross_entropy_grad_from_stats(logits: npt.ArrayLike, target: npt.ArrayLike, stats: npt.NDArray[np.void], *,
                                  num_classes: int, class_offset: int = 0, axis: int = -1,
                                  weight: Optional[npt.ArrayLike] = None, ignore_index: int = -100,
                                  label_smoothing: float = 0.0, reduction: str = "mean",
                                  denominator: Optional[float] = None) -> npt.NDArray[np.floating[Any]]:
    """The gradient of the cross-entropy with respect to one shard's logits.

    Parameters
    ----------
    logits, target, num_classes, class_offset, axis, weight, ignore_index
        As for :func:`cross_entropy_stats`.
    stats : ndarray of dtype CE_STATS_DTYPE
        The statistics merged over every shard.
    label_smoothing, reduction
        As for :func:`cross_entropy`.
    denominator : float, optional
        For ``reduction='mean'``: Σ ``weight[y]`` over the non-ignored samples of the whole
        batch (:func:`cross_entropy_denominator`); by default that of `target`.

    Returns
    -------
    ndarray
        Shape and result dtype of `logits`: this shard's part of the one-piece gradient.

    Examples
    --------
    Two shards of three classes, ``(logits, class_offset)``; the gradients of the shards put
    together are the one-piece gradient:

    >>> import numpy as np, swiftsoftmax as ssm
    >>> x, y = np.array([[0.0, 2.0, 4.0]]), np.array([2])
    >>> shards = [(x[:, :2], 0), (x[:, 2:], 2)]
    >>> s = ssm.merge_cross_entropy_stats(
    ...     *[ssm.cross_entropy_stats(part, y, num_classes=3, class_offset=k) for part, k in shards])
    >>> ssm.cross_entropy_grad_from_stats(x[:, 2:], y, s, num_classes=3, class_offset=2).round(4)
    array([[-0.1332]])
    >>> g = np.concatenate([ssm.cross_entropy_grad_from_stats(part, y, s, num_classes=3, class_offset=k)
    ...                     for part, k in shards], axis=1)
    >>> bool(np.allclose(g, ssm.cross_entropy_with_grad(x, y)[1]))
    True
    """
    A.reduction_code(reduction)  # refused before any other argument
    a, cdt, rdt, layout, c, off, ignore, lab = _shard(logits, target, axis, num_classes, class_offset,
                                                      ignore_index)
    s = _stats_in(stats, layout.kept_shape, CE_STATS_DTYPE)
    eps = float(np.asarray(A.real_scalar(label_smoothing, "label_smoothing"), dtype=cdt))
    if reduction != "mean":
        divisor = 1.0
    else:
        den = (cross_entropy_denominator(lab, num_classes=c, weight=weight, ignore_index=ignore, dtype=cdt)
               if denominator is None else A.real_scalar(denominator, "denominator"))
        divisor = np.inf if den == 0 else den  # every sample ignored: a zero gradient
    w = _weights(weight, c, cdt)
    xb = layout.arrange(a, cdt)
    grad = R.empty_like(xb)
    status = FUNCS[f"ssm_cross_entropy_grad_from_stats_{A.suffix(cdt)}"](
        A.ptr(xb), A.ptr(lab), A.ptr(w), *layout.dims, off, c, ignore, eps, A.ptr(s), divisor, A.ptr(grad))
    check(status, "cross_entropy_grad_from_stats", labels="target")
    return A.deliver_array(layout.restore(grad), None, rdt)
