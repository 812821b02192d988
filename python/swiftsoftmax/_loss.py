"""The cross-entropy loss and its targets: one_hot, cross_entropy, cross_entropy_with_grad.

The derivatives of softmax and log-softmax are in ``_derivatives``.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Union, overload

import numpy as np
import numpy.typing as npt

from . import _arrays as A
from . import _results as R
from ._arrays import I64, I64_MAX, I64_MIN, REDUCTIONS
from ._lib import FUNCS, check, handle

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

    # A loss: per-sample losses, or a NumPy scalar (reduced, or one sample).
    _Loss = Union[npt.NDArray[np.floating[Any]], np.floating[Any]]


# ---------------------------------------------------------------------------------------------
# targets

_ndarray = np.ndarray
_addressof = ctypes.addressof
# NumPy's stubs give ndarray the buffer protocol (__buffer__) only from Python 3.12 on.
_from_buffer: Callable[[Any], ctypes.c_char] = ctypes.c_char.from_buffer

# one_hot's fast path by dtype argument (the scalar type or its dtype): the handle (sizes as
# c_void_p, the GIL kept: see `_lib.handle`) and the result dtype. It serves writable C-contiguous
# int64 labels whose result has at most _FAST_ONE_HOT_SIZE elements, without the general path's
# conversions (half of a 64x1000 call). Labels out of range are refused by the library as on the
# general path.
_FAST_ONE_HOT: dict[Any, tuple[CFuncPtr, np.dtype[Any]]] = {
    key: (handle(f"ssm_one_hot_{A.suffix(dt)}", fast=True, keep_gil=True), dt)
    for dt in (A.F32, A.F64) for key in (dt, dt.type)}
_FAST_ONE_HOT_SIZE = 1 << 20


def one_hot(labels: npt.ArrayLike, num_classes: int, *, dtype: npt.DTypeLike = np.float32
            ) -> npt.NDArray[Any]:
    """One-hot encoding: ``out[..., c] = 1 if labels[...] == c else 0``.

    Parameters
    ----------
    labels : array_like of int
        Class labels of any integer dtype, each in ``[0, num_classes)``.
    num_classes : int
        The number of classes (>= 0).
    dtype : dtype, default numpy.float32
        Result dtype: float32 and float64 are written directly, any other real dtype
        is converted from float32.

    Returns
    -------
    ndarray
        Shape ``labels.shape + (num_classes,)``.

    Raises
    ------
    ValueError
        For a label outside ``[0, num_classes)`` (naming the first and its position) or a
        negative `num_classes`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    if type(labels) is _ndarray and type(num_classes) is int and labels.dtype is I64 and labels.size:
        # The small call of native int64 labels (see `_FAST_ONE_HOT`): one level down.
        try:
            f = _FAST_ONE_HOT.get(dtype)
        except TypeError:  # an unhashable dtype-like: the general path says what it makes of it
            f = None
        if f is not None and num_classes > 0 and labels.size * num_classes <= _FAST_ONE_HOT_SIZE:
            try:
                p = _addressof(_from_buffer(labels))
            except (TypeError, ValueError, BufferError):  # read-only or not C-contiguous
                p = 0
            if p:
                out: npt.NDArray[Any] = np.empty(labels.shape + (num_classes,), f[1])
                status = f[0](p, labels.size, num_classes, A.data_pointer(out))
                if status:
                    check(status, "one_hot")
                return out
    lab = A.as_labels(labels, "labels")
    k = A.as_int(num_classes, "num_classes")
    if k < 0:
        raise ValueError(f"num_classes: must be >= 0, got {k}")
    try:
        rdt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a real or boolean dtype, got {dtype!r}") from None
    if rdt.kind not in "biuf" and not A.is_bfloat16(rdt):
        raise TypeError(f"dtype: expected a real or boolean dtype, got {rdt}")
    cdt = rdt if rdt in (A.F32, A.F64) else A.F32
    try:
        out = R.empty(lab.shape + (k,), cdt)
    except ValueError:  # NumPy's "array is too big" / "maximum allowed dimension exceeded"
        raise ValueError(f"num_classes: expected a class count whose one-hot array of {lab.size} "
                         f"labels fits in memory, got {k}") from None
    check(FUNCS[f"ssm_one_hot_{A.suffix(cdt)}"](A.ptr(lab), lab.size, k, A.ptr(out)), "one_hot")
    return out if cdt == rdt else out.astype(rdt)


# ---------------------------------------------------------------------------------------------
# cross-entropy


# The fast path's handles (sizes declared c_void_p, see `_lib.handle`), each with its default
# label smoothing as a prebuilt ctypes scalar: converting a Python float costs as much again.
_FAST_CE = {dt: (handle(f"ssm_cross_entropy_{A.suffix(dt)}", fast=True), scalar(0.0))
            for dt, scalar in ((A.F32, ctypes.c_float), (A.F64, ctypes.c_double))}
_FAST_CODES = {k: ctypes.c_int(v) for k, v in REDUCTIONS.items()}


def _fast_cross_entropy(name: str, x: npt.NDArray[Any], t: npt.NDArray[Any], axis: object, ignore_index: object,
                        label_smoothing: object, reduction: object, want_grad: bool
                        ) -> Union[_Loss, tuple[_Loss, npt.NDArray[np.floating[Any]]], None]:
    """The common call without the general machinery (it dominates small calls): C-contiguous
    float32/float64 logits over the last axis, int64 class indices, no class weights. None when
    the general path is needed."""
    fast = _FAST_CE.get(x.dtype)
    if (fast is None or type(axis) is not int or type(ignore_index) is not int
            or type(label_smoothing) is not float or type(reduction) is not str
            or t.dtype != I64 or not x.flags.c_contiguous or not t.flags.c_contiguous):
        return None
    shape = x.shape
    nd = len(shape)
    code = _FAST_CODES.get(reduction)
    if (code is None or nd == 0 or (axis != -1 and axis != nd - 1) or x.size == 0
            or t.shape != shape[:-1] or not I64_MIN <= ignore_index <= I64_MAX):
        return None
    f, zero = fast
    loss: npt.NDArray[np.floating[Any]] = np.empty(shape[:-1] if reduction == "none" else (), dtype=x.dtype)
    grad: Optional[npt.NDArray[np.floating[Any]]] = R.empty_like(x) if want_grad else None
    n = shape[-1]
    status = f(A.ptr(x), A.ptr(t), None, x.size // n, n, 1, ignore_index,
               zero if label_smoothing == 0.0 else label_smoothing, code, A.ptr(loss), A.ptr(grad))
    if status:
        check(status, name, labels="target")
    value = loss[()] if loss.ndim == 0 else loss
    return value if grad is None else (value, grad)  # grad is None: not want_grad


class _CEOptions(ctypes.Structure):
    """The C ABI's ssm_ce_options (include/swiftsoftmax.h)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("z_loss", ctypes.c_double), ("softcap", ctypes.c_double)]


# The result of one call: the loss, the gradient when asked for, the per-sample lse when asked for.
_Result = tuple["_Loss", Optional[npt.NDArray[np.floating[Any]]], Optional[npt.NDArray[np.floating[Any]]]]


def _cross_entropy(name: str, logits: npt.ArrayLike, target: npt.ArrayLike, axis: int,
                   weight: Optional[npt.ArrayLike], ignore_index: int, label_smoothing: float,
                   reduction: str, want_grad: bool, sample_weight: Optional[npt.ArrayLike] = None,
                   z_loss: float = 0.0, softcap: Optional[float] = None, want_lse: bool = False) -> _Result:
    """The general path: any layout, dtype, weights and options (the common call takes
    `_fast_cross_entropy` first)."""
    a, cdt, rdt = A.as_real_array(logits, "logits")
    code = A.reduction_code(reduction)
    layout = A.Layout(a.shape, (A.class_axis(axis, a.ndim),))
    xb = layout.arrange(a, cdt)
    n = layout.n

    wb = None
    if weight is not None:
        w, _, _ = A.as_real_array(weight, "weight")
        if w.shape != (n,):
            raise ValueError(f"weight: expected shape ({n},) (one weight per class), got {w.shape}")
        wb = np.ascontiguousarray(w, dtype=cdt)

    ignore = A.ignore_index_arg(ignore_index)
    t = A.as_array(target, "target", "integer class indices or floating-point probabilities")
    if A.is_bfloat16(t.dtype):
        t = t.astype(A.F32)
    soft = t.dtype.kind == "f"
    if t.dtype.kind in "iu":
        tb = A.target_labels(t, layout.kept_shape)
    elif soft:
        if t.shape != a.shape:
            raise ValueError(
                f"target: probability targets must have the logits' shape {a.shape}, got {t.shape}"
                + (" (float class indices? use an integer dtype)" if t.shape == layout.kept_shape else ""))
        tb = layout.arrange(t, cdt)
    else:
        raise TypeError(
            f"target: expected integer class indices or floating-point probabilities, got dtype {t.dtype}")

    # The options: sample weights broadcast to one per sample, the scalars into ssm_ce_options
    # (whose softcap 0 means none: an explicit 0 is refused here with the library's message).
    swb = None
    if sample_weight is not None:
        sw, _, _ = A.as_real_array(sample_weight, "sample_weight")
        try:
            swb = np.ascontiguousarray(np.broadcast_to(sw, layout.kept_shape), dtype=cdt)
        except ValueError:
            raise ValueError(f"sample_weight: expected one weight per sample, shape {layout.kept_shape} "
                             f"(the logits' shape without the class axis), got {sw.shape}") from None
    cap = 0.0
    if softcap is not None:
        cap = A.real_scalar(softcap, "softcap")
        if cap == 0.0:
            raise ValueError(f"{name}: softcap must be finite and > 0, got {cap}")
    options = _CEOptions(ctypes.sizeof(_CEOptions), A.real_scalar(z_loss, "z_loss"), cap)

    loss = np.empty(layout.kept_shape if code == 0 else (), dtype=cdt)
    grad = R.empty_like(xb) if want_grad else None
    lse = np.empty(layout.kept_shape, dtype=cdt) if want_lse else None
    sfx = A.suffix(cdt)
    eps = A.real_scalar(label_smoothing, "label_smoothing")
    opt = ctypes.addressof(options)
    if soft:
        status = FUNCS[f"ssm_cross_entropy_soft_ex_{sfx}"](
            A.ptr(xb), A.ptr(tb), A.ptr(wb), A.ptr(swb), *layout.dims, eps, code, opt,
            A.ptr(loss), A.ptr(grad), A.ptr(lse))
    else:
        status = FUNCS[f"ssm_cross_entropy_ex_{sfx}"](
            A.ptr(xb), A.ptr(tb), A.ptr(wb), A.ptr(swb), *layout.dims, ignore, eps, code, opt,
            A.ptr(loss), A.ptr(grad), A.ptr(lse))
    check(status, name, labels="target")
    value = A.deliver(loss, None, rdt)
    g = None if grad is None else A.deliver_array(layout.restore(grad), None, rdt)
    return value, g, None if lse is None else A.deliver_array(lse, None, rdt)


@overload
def cross_entropy(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = ...,
                  weight: Optional[npt.ArrayLike] = ..., ignore_index: int = ...,
                  label_smoothing: float = ..., reduction: str = ...,
                  sample_weight: Optional[npt.ArrayLike] = ..., z_loss: float = ...,
                  softcap: Optional[float] = ..., return_lse: Literal[False] = ...) -> _Loss: ...
@overload
def cross_entropy(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = ...,
                  weight: Optional[npt.ArrayLike] = ..., ignore_index: int = ...,
                  label_smoothing: float = ..., reduction: str = ...,
                  sample_weight: Optional[npt.ArrayLike] = ..., z_loss: float = ...,
                  softcap: Optional[float] = ..., return_lse: Literal[True]
                  ) -> tuple[_Loss, npt.NDArray[np.floating[Any]]]: ...
def cross_entropy(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                  weight: Optional[npt.ArrayLike] = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean",
                  sample_weight: Optional[npt.ArrayLike] = None, z_loss: float = 0.0,
                  softcap: Optional[float] = None, return_lse: bool = False
                  ) -> Union[_Loss, tuple[_Loss, npt.NDArray[np.floating[Any]]]]:
    """Cross-entropy between logits and targets, with PyTorch's semantics, computed in log space.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores with the classes along `axis` (C classes). float32/float64 are
        computed natively, float16 in float32, integers promoted to float64.
    target : array_like
        Either class indices of any integer dtype, with the shape of `logits` without the class
        axis, each in ``[0, C)`` or equal to `ignore_index`; or class probabilities (floating
        point) with the shape of `logits`.
    axis : int, default -1
        The class axis. PyTorch's ``(N, C, d1, ...)`` layout is ``axis=1``; a non-last axis is
        read in place, without a transposing copy.
    weight : array_like, optional
        Per-class weights, shape ``(C,)``.
    ignore_index : int, default -100
        Class-index targets equal to it contribute nothing (loss, gradient and the mean's
        denominator). Not used with probability targets.
    label_smoothing : float, default 0.0
        ε in [0, 1]: the target becomes ``(1 - ε) · one_hot + ε / C``.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'none'`` returns one loss per sample; ``'sum'`` their sum; ``'mean'`` their sum
        divided by the summed weights ``w[y_n]`` of the non-ignored samples (class indices;
        NaN when every target is ignored) or by the number of samples (probabilities).
    sample_weight : array_like, optional
        One non-negative weight per sample, broadcast to the shape of `logits` without `axis`.
        Each sample's loss (and z-loss) is multiplied by its weight, and ``'mean'`` divides by
        the weights actually applied: ``Σ w[y_n]·sample_weight[n]`` over the non-ignored samples
        (class indices) or ``Σ sample_weight[n]`` (probabilities).
    z_loss : float, default 0.0
        z >= 0: adds ``z · lse_n²`` to each sample's loss (lse_n: the logsumexp of its logits,
        after `softcap`), with the sample's weight ``w[y_n]·sample_weight[n]`` (the sample weight
        alone for probabilities) and the same reduction (PaLM's auxiliary loss).
    softcap : float, optional
        A positive cap: the logits become ``softcap · tanh(logits / softcap)`` inside the pass
        (Gemma 2), the gradient taken back through it.
    return_lse : bool, default False
        Also return each sample's logsumexp (of the capped logits; ignored samples included),
        shape of `logits` without `axis`, from the same pass.

    Returns
    -------
    ndarray or scalar
        Per-sample losses (shape of `logits` without `axis`) for ``'none'``, else a NumPy scalar,
        in the result dtype of `logits`; with ``return_lse=True``, the pair ``(loss, lse)``.

    Notes
    -----
    With ``log p = log_softmax(logits)``, C classes and ε = `label_smoothing`:

    * class indices: ``l_n = (1-ε)·(-w[y_n] log p[n, y_n]) + (ε/C)·Σ_c (-w[c] log p[n, c])``,
      ``l_n = 0`` where ``y_n == ignore_index`` (terms with ``w = 0`` are 0 even where
      ``log p = -inf``);
    * probabilities: ``l_n = -Σ_c w[c] q'[n, c] log p[n, c]`` with ``q' = (1-ε) q + ε/C``
      (terms with ``q' w = 0`` are 0 even where ``log p = -inf``).

    ``-log p[y]`` is formed as ``log1p(Σ_{c≠max} exp(x_c - m)) + (m - x_y)``, so a confident
    correct prediction keeps full relative precision: ``-log(softmax)`` and NumPy/SciPy
    idioms give 0 there. All -inf logits give an infinite loss; NaN logits a NaN loss. With a
    z-loss, a sample whose logsumexp is infinite has an infinite loss and a NaN gradient.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> float(ssm.cross_entropy([[0.0, 2.0, 4.0]], [2]))        # -ln 0.8668
    0.14293162849989952
    >>> float(ssm.cross_entropy([[0.0, 25.0]], [1]))             # log1p(exp(-25)), not 0
    1.3887943864867583e-11
    >>> ssm.cross_entropy([[0.0, 2.0], [1.0, 1.0]], [0, -100], reduction="none")
    array([2.12692801, 0.        ])
    >>> loss, lse = ssm.cross_entropy([[0.0, 2.0, 4.0]], [2], z_loss=1e-4, return_lse=True)
    >>> lse.round(4)                 # loss = 0.1429 + 1e-4 · lse²
    array([4.1429])
    """
    if (weight is sample_weight is softcap is None and not return_lse and z_loss == 0.0
            and type(logits) is np.ndarray and type(target) is np.ndarray):
        r = _fast_cross_entropy("cross_entropy", logits, target, axis, ignore_index, label_smoothing,
                                reduction, False)
        if r is not None:
            return r
    value, _, lse = _cross_entropy("cross_entropy", logits, target, axis, weight, ignore_index,
                                   label_smoothing, reduction, False, sample_weight, z_loss, softcap,
                                   return_lse)
    return value if lse is None else (value, lse)


@overload
def cross_entropy_with_grad(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = ...,
                            weight: Optional[npt.ArrayLike] = ..., ignore_index: int = ...,
                            label_smoothing: float = ..., reduction: str = ...,
                            sample_weight: Optional[npt.ArrayLike] = ..., z_loss: float = ...,
                            softcap: Optional[float] = ..., return_lse: Literal[False] = ...
                            ) -> tuple[_Loss, npt.NDArray[np.floating[Any]]]: ...
@overload
def cross_entropy_with_grad(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = ...,
                            weight: Optional[npt.ArrayLike] = ..., ignore_index: int = ...,
                            label_smoothing: float = ..., reduction: str = ...,
                            sample_weight: Optional[npt.ArrayLike] = ..., z_loss: float = ...,
                            softcap: Optional[float] = ..., return_lse: Literal[True]
                            ) -> tuple[_Loss, npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]: ...
def cross_entropy_with_grad(logits: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
                            weight: Optional[npt.ArrayLike] = None, ignore_index: int = -100,
                            label_smoothing: float = 0.0, reduction: str = "mean",
                            sample_weight: Optional[npt.ArrayLike] = None, z_loss: float = 0.0,
                            softcap: Optional[float] = None, return_lse: bool = False
                            ) -> Union[tuple[_Loss, npt.NDArray[np.floating[Any]]],
                                       tuple[_Loss, npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]]:
    """Cross-entropy and its gradient with respect to `logits`, in one fused pass.

    Arguments and the loss are those of :func:`cross_entropy`. The gradient is that of the
    returned loss (for ``reduction='none'``, of the sum of the per-sample losses). It is formed
    without a probability array: for coefficients ``c_j`` of the (smoothed, weighted) target,
    ``dl/dx_j = (Σ c) · p_j - c_j``, and at the most probable class (when ``p ≥ 1/2``) as
    ``Σ_{j≠max} c_j - (Σ c) · (Σ of the other exponentials) / S``, never through ``p - 1``.
    Ignored samples and all -inf rows get a zero gradient. A z-loss adds ``2 z lse p_j`` (times
    the sample's weight) to ``(Σ c) p_j``; a softcap multiplies each entry by ``1 - tanh²``.

    Returns
    -------
    loss : ndarray or scalar
        As returned by :func:`cross_entropy`.
    dlogits : ndarray
        Shape and result dtype of `logits`.
    lse : ndarray
        Only with ``return_lse=True``: each sample's logsumexp.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> loss, g = ssm.cross_entropy_with_grad([[0.0, 2.0, 4.0]], [2])
    >>> g.round(4)
    array([[ 0.0159,  0.1173, -0.1332]])
    >>> _, g = ssm.cross_entropy_with_grad([[0.0, 40.0]], [1])
    >>> float(g[0, 1])           # -exp(-40)/(1 + exp(-40)), where p - 1 gives 0
    -4.248354255291589e-18
    >>> loss, g, lse = ssm.cross_entropy_with_grad([[0.0, 60.0]], [1], softcap=30.0, return_lse=True)
    >>> round(float(lse[0]), 4)      # 30·tanh(2) = 28.9208, the other class's term is e^-28.9
    28.9208
    """
    if (weight is sample_weight is softcap is None and not return_lse and z_loss == 0.0
            and type(logits) is np.ndarray and type(target) is np.ndarray):
        r = _fast_cross_entropy("cross_entropy_with_grad", logits, target, axis, ignore_index,
                                label_smoothing, reduction, True)
        if r is not None:
            return r  # type: ignore[return-value]  # want_grad: the pair
    value, grad, lse = _cross_entropy("cross_entropy_with_grad", logits, target, axis, weight,
                                      ignore_index, label_smoothing, reduction, True, sample_weight,
                                      z_loss, softcap, return_lse)
    assert grad is not None  # want_grad
    return (value, grad) if lse is None else (value, grad, lse)


# ---------------------------------------------------------------------------------------------
# binary cross-entropy


def _broadcast_operand(value: npt.ArrayLike, name: str, shape: tuple[int, ...]) -> npt.NDArray[Any]:
    """`value` as a real array whose shape broadcasts to the logits' `shape` (not broadcast yet)."""
    v, _, _ = A.as_real_array(value, name)
    try:
        ok = np.broadcast_shapes(v.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{name}: shape {v.shape} does not broadcast to the logits' shape {shape}")
    return v


@overload
def _binary_cross_entropy(name: str, logits: npt.ArrayLike, target: npt.ArrayLike,
                          weight: Optional[npt.ArrayLike], pos_weight: Optional[npt.ArrayLike],
                          reduction: str, want_grad: Literal[False]) -> _Loss: ...
@overload
def _binary_cross_entropy(name: str, logits: npt.ArrayLike, target: npt.ArrayLike,
                          weight: Optional[npt.ArrayLike], pos_weight: Optional[npt.ArrayLike],
                          reduction: str, want_grad: Literal[True]
                          ) -> tuple[_Loss, npt.NDArray[np.floating[Any]]]: ...
def _binary_cross_entropy(name: str, logits: npt.ArrayLike, target: npt.ArrayLike,
                          weight: Optional[npt.ArrayLike], pos_weight: Optional[npt.ArrayLike],
                          reduction: str, want_grad: bool
                          ) -> Union[_Loss, tuple[_Loss, npt.NDArray[np.floating[Any]]]]:
    a, cdt, rdt = A.as_real_array(logits, "logits")
    code = A.reduction_code(reduction)
    shape = a.shape
    t, _, _ = A.as_real_array(target, "target")
    if t.shape != shape:
        raise ValueError(f"target: expected the logits' shape {shape}, got {t.shape}")
    xb = np.ascontiguousarray(a, dtype=cdt)
    tb = np.ascontiguousarray(t, dtype=cdt)
    wb = None
    if weight is not None:
        wb = np.ascontiguousarray(np.broadcast_to(_broadcast_operand(weight, "weight", shape), shape), dtype=cdt)
    # The library takes rows of n classes with one positive weight per class (PyTorch's
    # pos_weight along the last dimension); a pos_weight that varies along other axes is
    # broadcast here and passed as one row of every element.
    n = shape[-1] if shape else 1
    pwb = None
    if pos_weight is not None:
        pw = _broadcast_operand(pos_weight, "pos_weight", shape)
        if all(d == 1 for d in pw.shape[:-1]):
            pwb = np.ascontiguousarray(np.broadcast_to(pw.reshape(pw.shape[-1:]), (n,)), dtype=cdt)
        else:
            pwb = np.ascontiguousarray(np.broadcast_to(pw, shape), dtype=cdt)
            n = a.size
    rows = a.size // n if n else 0
    loss = np.empty(shape if code == 0 else (), dtype=cdt)
    grad = R.empty(shape, cdt) if want_grad else None
    check(FUNCS[f"ssm_binary_cross_entropy_with_logits_{A.suffix(cdt)}"](
        A.ptr(xb), A.ptr(tb), A.ptr(wb), A.ptr(pwb), rows, n, code, A.ptr(loss), A.ptr(grad)), name)
    value = A.deliver(loss, None, rdt)
    if grad is None:  # not want_grad
        return value
    return value, A.deliver_array(grad, None, rdt)


def binary_cross_entropy_with_logits(logits: npt.ArrayLike, target: npt.ArrayLike, *,
                                     weight: Optional[npt.ArrayLike] = None,
                                     pos_weight: Optional[npt.ArrayLike] = None, reduction: str = "mean"
                                     ) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
    """Binary cross-entropy between logits and targets, with PyTorch's semantics, in log space.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, any shape. float32/float64 are computed natively, float16 in
        float32, integers promoted to float64.
    target : array_like
        Probabilities of the positive class, the shape of `logits`, each in [0, 1] (soft targets
        allowed).
    weight : array_like, optional
        Per-element weights, broadcast to the shape of `logits`; finite and >= 0.
    pos_weight : array_like, optional
        Weights of the positive term, broadcast to the shape of `logits` (one per class along the
        last axis, as PyTorch's ``pos_weight`` of shape ``(C,)``); finite and >= 0.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'none'`` returns one loss per element; ``'sum'`` their sum; ``'mean'`` their sum
        divided by the number of elements (NaN for none).

    Returns
    -------
    ndarray or scalar
        Per-element losses (shape of `logits`) for ``'none'``, else a NumPy scalar, in the
        result dtype of `logits`.

    Raises
    ------
    ValueError
        For a target outside [0, 1] or NaN, a weight or `pos_weight` that is negative or not
        finite (naming the argument and the flat position of the first), a `target` of another
        shape, a `weight` or `pos_weight` that does not broadcast, or an unknown `reduction`.
    TypeError
        For non-real arrays.

    Notes
    -----
    Per element, with σ the logistic sigmoid, ``l = -w·[pw·t·log σ(x) + (1-t)·log(1-σ(x))]``.
    It is computed as ``w·(m·|x| + (1 - t + pw·t)·log1p(exp(-|x|)))`` with ``m = 1 - t`` for
    ``x >= 0`` and ``pw·t`` below: a sum of terms >= 0, so confident logits keep full relative
    precision and a large ``|x|`` with `pos_weight` never gives NaN or a wrong value. Results
    are within 2 ULP of the exact value (docs/accuracy.md).

    Differences from PyTorch, which checks none of these: targets must lie in [0, 1] and weights
    be finite and >= 0 (the domain where every term is >= 0); a zero weight, or a zero
    coefficient of an infinite logit (``x = inf, t = 1``), contributes 0, the limit, where
    PyTorch's ``0·inf`` gives NaN. NaN logits give NaN.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> float(ssm.binary_cross_entropy_with_logits([0.0, 2.0], [1.0, 0.0]))
    1.410037595801459
    >>> float(ssm.binary_cross_entropy_with_logits([40.0], [1.0], reduction="sum"))  # not 0
    4.248354255291589e-18
    >>> ssm.binary_cross_entropy_with_logits([[-800.0, 1.0]], [[1.0, 0.5]], pos_weight=[3.0, 1.0],
    ...                                      reduction="none")
    array([[2.40000000e+03, 8.13261688e-01]])
    """
    return _binary_cross_entropy("binary_cross_entropy_with_logits", logits, target, weight,
                                 pos_weight, reduction, False)


def binary_cross_entropy_with_logits_with_grad(
        logits: npt.ArrayLike, target: npt.ArrayLike, *, weight: Optional[npt.ArrayLike] = None,
        pos_weight: Optional[npt.ArrayLike] = None, reduction: str = "mean"
) -> tuple[Union[npt.NDArray[np.floating[Any]], np.floating[Any]], npt.NDArray[np.floating[Any]]]:
    """Binary cross-entropy with logits and its gradient with respect to `logits`, in one pass.

    Arguments and the loss are those of :func:`binary_cross_entropy_with_logits`. The gradient
    is that of the returned loss (for ``reduction='none'``, of the sum of the losses):
    ``w·[(1-t)·σ(x) - pw·t·σ(-x)]``, divided by the element count for ``'mean'``. Both sigmoids
    share one denominator, so the gradient is never formed as ``σ(x) - 1`` (which is 0 for a
    confident correct logit).

    Returns
    -------
    loss : ndarray or scalar
        As returned by :func:`binary_cross_entropy_with_logits`.
    dlogits : ndarray
        Shape and result dtype of `logits`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> loss, g = ssm.binary_cross_entropy_with_logits_with_grad([0.0, 2.0], [1.0, 0.0])
    >>> g.round(4)
    array([-0.25  ,  0.4404])
    >>> _, g = ssm.binary_cross_entropy_with_logits_with_grad([40.0], [1.0], reduction="sum")
    >>> float(g[0])              # -sigmoid(-40), where sigmoid(40) - 1 gives 0
    -4.248354255291589e-18
    """
    return _binary_cross_entropy("binary_cross_entropy_with_logits_with_grad", logits, target,
                                 weight, pos_weight, reduction, True)
