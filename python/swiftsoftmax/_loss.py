"""Derivatives of softmax and the cross-entropy loss: softmax_jacobian, softmax_vjp,
log_softmax_vjp, one_hot, cross_entropy, cross_entropy_with_grad."""

from __future__ import annotations

import ctypes
import operator
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _arrays as A
from ._lib import FUNCS, LABEL_OUT_OF_RANGE, LIB, check

ArrayLike = Any
Axis = Union[int, Sequence[int], None]

_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}
_INT64 = np.dtype(np.int64)
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1


# ---------------------------------------------------------------------------------------------
# translation helpers


def _compute_dtype(rdt: np.dtype) -> np.dtype:
    """float32 for results of at most 4 bytes (float16, float32), float64 otherwise."""
    return np.dtype(np.float32) if rdt.itemsize <= 4 else np.dtype(np.float64)


def _pair(a, b, names: tuple[str, str]):
    """Two same-shaped real arrays, with the compute and result dtypes of their promotion."""
    x, _, rx = A.as_real_array(a, names[0])
    g, _, rg = A.as_real_array(b, names[1])
    if x.shape != g.shape:
        raise ValueError(f"{names[1]}: expected the shape of {names[0]} {x.shape}, got {g.shape}")
    rdt = np.promote_types(rx, rg)
    return x, g, _compute_dtype(rdt), rdt


def _labels(labels, name: str) -> np.ndarray:
    """Integer labels of any integer dtype as a C-contiguous int64 array."""
    if labels is None:
        raise TypeError(f"{name}: expected integer class labels, got None")
    try:
        lab = np.asarray(labels)
    except ValueError as e:  # ragged nested sequences
        raise ValueError(f"{name}: expected a rectangular array-like of integer labels, got a ragged sequence ({e})") from None
    if lab.size == 0 and lab.dtype.kind == "f":
        lab = lab.astype(_INT64)  # an empty list arrives as float64
    if lab.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class labels, got dtype {lab.dtype}")
    if lab.dtype.kind == "u" and lab.dtype.itemsize == 8 and lab.size and lab.max() > _I64_MAX:
        # Values above int64 are out of range whatever the class count: saturate, don't wrap.
        lab = np.minimum(lab, np.uint64(_I64_MAX))
    return np.asarray(lab, dtype=_INT64, order="C")


def _class_axis(axis, ndim: int) -> int:
    if isinstance(axis, (bool, np.bool_)) or axis is None or isinstance(axis, (tuple, list)):
        raise TypeError(f"axis: expected one int (the class axis), got {axis!r}")
    (a,) = A.normalize_axes(axis, ndim)
    return a


# ---------------------------------------------------------------------------------------------
# derivatives


def softmax_jacobian(x: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0):
    """The Jacobian of softmax along `axis`: ``J[..., i, j] = p_i (δ_ij - p_j) / T``.

    Parameters
    ----------
    x : array_like
        Real scores (logits); dtypes as for :func:`softmax`.
    axis : int, tuple of ints or None, default -1
        The softmax axis (several axes are taken together as one, as in :func:`softmax`).
    temperature : float, default 1.0
        As for :func:`softmax`: ``p = softmax(x / T)``; finite and > 0.

    Returns
    -------
    ndarray
        Shape ``x.shape`` without `axis`, followed by ``(n, n)``: the Jacobian axes last.
        Each block is symmetric; its diagonal ``p_i (1 - p_i)`` is at most 1/4 (at
        ``p_i = 1/2``) and ``1 - p_i`` of a probability near 1 keeps full precision. NaN in a
        slice gives a NaN block, an all -inf slice a zero block.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.softmax_jacobian([0.0, 0.0])
    array([[ 0.25, -0.25],
           [-0.25,  0.25]])
    >>> ssm.softmax_jacobian([[0.0, 2.0, 4.0]]).shape
    (1, 3, 3)
    """
    t = A.real_scalar(temperature, "temperature")
    a, cdt, rdt = A.as_real_array(x, "x")
    layout = A.Layout(a.shape, A.normalize_axes(axis, a.ndim))
    xb = layout.arrange(a, cdt)
    n = layout.n
    # [outer, inner, n, n] in C order is the kept shape followed by (n, n).
    jac = np.empty(layout.kept_shape + (n, n), dtype=cdt)
    status = FUNCS[f"ssm_softmax_jacobian_{A.suffix(cdt)}"](
        A.ptr(xb), A.ptr(jac), *layout.dims, t)
    check(status, "softmax_jacobian")
    return A.deliver(jac, None, rdt)


def _vjp(op: str, first: str, y, g, axis, temperature):
    t = A.real_scalar(temperature, "temperature")
    yv, gv, cdt, rdt = _pair(y, g, (first, "g"))
    layout = A.Layout(yv.shape, A.normalize_axes(axis, yv.ndim))
    yb = layout.arrange(yv, cdt)
    gb = layout.arrange(gv, cdt)
    dx = np.empty_like(yb)
    check(FUNCS[f"ssm_{op}_{A.suffix(cdt)}"](A.ptr(yb), A.ptr(gb), A.ptr(dx), *layout.dims,
                                            t), op)
    return A.deliver(layout.restore(dx), None, rdt)


def softmax_vjp(y: ArrayLike, g: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0):
    """The vector-Jacobian product of softmax: ``dx = y * (g - sum(g * y)) / T``.

    Given ``y = softmax(x, axis, temperature=T)`` and the gradient `g` of a loss with respect
    to `y`, returns the gradient with respect to `x` without forming the Jacobian. The
    Jacobian is symmetric, so this is also the Jacobian-vector product.

    Parameters
    ----------
    y : array_like
        Softmax probabilities.
    g : array_like
        Upstream gradient, same shape as `y`.
    axis, temperature
        As given to :func:`softmax`.

    Returns
    -------
    ndarray
        ``dx`` of `y`'s shape, in the promoted dtype of `y` and `g`. The dot product is
        compensated; entries with ``y == 0`` (masked or -inf scores) get exactly 0, so a
        fully masked slice has a zero gradient, never NaN.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.softmax_vjp([0.25, 0.75], [1.0, 0.0])
    array([ 0.1875, -0.1875])
    """
    return _vjp("softmax_vjp", "y", y, g, axis, temperature)


def log_softmax_vjp(logy: ArrayLike, g: ArrayLike, axis: Axis = -1, *, temperature: float = 1.0):
    """The vector-Jacobian product of log-softmax: ``dx = (g - exp(logy) * sum(g)) / T``.

    Parameters
    ----------
    logy : array_like
        Log-probabilities, ``log_softmax(x, axis, temperature=T)``.
    g : array_like
        Upstream gradient, same shape as `logy`.
    axis, temperature
        As given to :func:`log_softmax`.

    Returns
    -------
    ndarray
        ``dx`` of `logy`'s shape. ``sum(g)`` is compensated. A slice whose `logy` is all -inf
        (fully masked or all -inf scores) gets a zero gradient.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> logy = ssm.log_softmax([0.0, 2.0, 4.0])
    >>> ssm.log_softmax_vjp(logy, [0.0, 0.0, -1.0]).round(4)   # softmax - one_hot
    array([ 0.0159,  0.1173, -0.1332])
    """
    return _vjp("log_softmax_vjp", "logy", logy, g, axis, temperature)


def one_hot(labels: ArrayLike, num_classes: int, *, dtype=np.float32):
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
    lab = _labels(labels, "labels")
    if isinstance(num_classes, (bool, np.bool_)):
        raise TypeError("num_classes: expected an int, got bool")
    try:
        k = operator.index(num_classes)
    except TypeError:
        raise TypeError(f"num_classes: expected an int, got {type(num_classes).__name__}") from None
    if k < 0:
        raise ValueError(f"num_classes: must be >= 0, got {k}")
    try:
        rdt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a real or boolean dtype, got {dtype!r}") from None
    if rdt.kind not in "biuf":
        raise TypeError(f"dtype: expected a real or boolean dtype, got {rdt}")
    cdt = rdt if rdt in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float32)
    try:
        out = np.empty(lab.shape + (k,), dtype=cdt)
    except ValueError:  # NumPy's "array is too big" / "maximum allowed dimension exceeded"
        raise ValueError(f"num_classes: expected a class count whose one-hot array of {lab.size} "
                         f"labels fits in memory, got {k}") from None
    check(FUNCS[f"ssm_one_hot_{A.suffix(cdt)}"](A.ptr(lab), lab.size, k, A.ptr(out)), "one_hot")
    return out if cdt == rdt else out.astype(rdt)


# ---------------------------------------------------------------------------------------------
# cross-entropy


def _fast_handle(name: str, scalar):
    """A ctypes handle on `name` whose sizes are c_void_p (see _forward._fast_handle)."""
    P, Z = ctypes.c_void_p, ctypes.c_void_p
    f = LIB[name]
    f.argtypes = [P, P, P, Z, Z, Z, ctypes.c_int64, scalar, ctypes.c_int, P, P]
    f.restype = ctypes.c_int
    return f, scalar(0.0)


_FAST_CE = {np.dtype(np.float32): _fast_handle("ssm_cross_entropy_f32", ctypes.c_float),
            np.dtype(np.float64): _fast_handle("ssm_cross_entropy_f64", ctypes.c_double)}
_FAST_CODES = {k: ctypes.c_int(v) for k, v in _REDUCTIONS.items()}
_I64 = np.dtype(np.int64)


def _fast_cross_entropy(name, x, t, axis, ignore_index, label_smoothing, reduction, want_grad):
    """The common call without the general machinery (it dominates small calls): C-contiguous
    float32/float64 logits over the last axis, int64 class indices, no class weights. None when
    the general path is needed."""
    fast = _FAST_CE.get(x.dtype)
    if (fast is None or type(axis) is not int or type(ignore_index) is not int
            or type(label_smoothing) is not float or type(reduction) is not str
            or t.dtype != _I64 or not x.flags.c_contiguous or not t.flags.c_contiguous):
        return None
    shape = x.shape
    nd = len(shape)
    code = _FAST_CODES.get(reduction)
    if (code is None or nd == 0 or (axis != -1 and axis != nd - 1) or x.size == 0
            or t.shape != shape[:-1] or not _I64_MIN <= ignore_index <= _I64_MAX):
        return None
    f, zero = fast
    loss = np.empty(shape[:-1] if reduction == "none" else (), dtype=x.dtype)
    grad = np.empty_like(x) if want_grad else None
    n = shape[-1]
    status = f(A.ptr(x), A.ptr(t), None, x.size // n, n, 1, ignore_index,
               zero if label_smoothing == 0.0 else label_smoothing, code, A.ptr(loss), A.ptr(grad))
    if status:
        check(status, f"{name}: target" if status == LABEL_OUT_OF_RANGE else name)
    value = loss[()] if loss.ndim == 0 else loss
    return (value, grad) if want_grad else value


def _cross_entropy(name, logits, target, axis, weight, ignore_index, label_smoothing,
                   reduction, want_grad):
    if type(logits) is np.ndarray and type(target) is np.ndarray and weight is None:
        r = _fast_cross_entropy(name, logits, target, axis, ignore_index, label_smoothing,
                                reduction, want_grad)
        if r is not None:
            return r
    a, cdt, rdt = A.as_real_array(logits, "logits")
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected 'none', 'mean' or 'sum', got {reduction!r}")
    if a.ndim == 0:
        raise ValueError("logits: expected at least one dimension (the classes), got a scalar")
    cls = _class_axis(axis, a.ndim)
    layout = A.Layout(a.shape, (cls,))
    xb = layout.arrange(a, cdt)
    n = layout.n

    wb = None
    if weight is not None:
        w, _, _ = A.as_real_array(weight, "weight")
        if w.shape != (n,):
            raise ValueError(f"weight: expected shape ({n},) (one weight per class), got {w.shape}")
        wb = np.ascontiguousarray(w, dtype=cdt)

    if isinstance(ignore_index, (bool, np.bool_)):
        raise TypeError("ignore_index: expected an int, got bool")
    try:
        ignore = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"ignore_index: expected an int, got {type(ignore_index).__name__}") from None
    if not _I64_MIN <= ignore <= _I64_MAX:
        raise ValueError(f"ignore_index: must fit in int64, got {ignore}")

    if target is None:
        raise TypeError("target: expected integer class indices or floating-point probabilities, got None")
    try:
        t = np.asarray(target)
    except ValueError as e:  # ragged nested sequences
        raise ValueError(f"target: expected a rectangular array-like, got a ragged sequence ({e})") from None
    soft = t.dtype.kind == "f"
    if t.dtype.kind in "iu":
        if t.shape != layout.kept_shape:
            raise ValueError(
                f"target: class-index targets must have the logits' shape without the class axis "
                f"{layout.kept_shape}, got {t.shape}")
        tb = _labels(t, "target")
    elif soft:
        if t.shape != a.shape:
            raise ValueError(
                f"target: probability targets must have the logits' shape {a.shape}, got {t.shape}"
                + (" (float class indices? use an integer dtype)" if t.shape == layout.kept_shape else ""))
        tb = layout.arrange(t, cdt)
    else:
        raise TypeError(
            f"target: expected integer class indices or floating-point probabilities, got dtype {t.dtype}")

    code = _REDUCTIONS[reduction]
    loss = np.empty(layout.kept_shape if code == 0 else (), dtype=cdt)
    grad = np.empty_like(xb) if want_grad else None
    sfx = A.suffix(cdt)
    eps = A.real_scalar(label_smoothing, "label_smoothing")
    if soft:
        status = FUNCS[f"ssm_cross_entropy_soft_{sfx}"](
            A.ptr(xb), A.ptr(tb), A.ptr(wb), *layout.dims, eps, code, A.ptr(loss), A.ptr(grad))
    else:
        status = FUNCS[f"ssm_cross_entropy_{sfx}"](
            A.ptr(xb), A.ptr(tb), A.ptr(wb), *layout.dims, ignore, eps, code, A.ptr(loss), A.ptr(grad))
    # The library names the first bad label as labels[k] (k: flat index of `target`).
    check(status, f"{name}: target" if status == LABEL_OUT_OF_RANGE else name)
    value = A.deliver(loss, None, rdt)
    if not want_grad:
        return value
    return value, A.deliver(layout.restore(grad), None, rdt)


def cross_entropy(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                  weight: Optional[ArrayLike] = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0, reduction: str = "mean"):
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

    Returns
    -------
    ndarray or scalar
        Per-sample losses (shape of `logits` without `axis`) for ``'none'``, else a NumPy scalar,
        in the result dtype of `logits`.

    Notes
    -----
    With ``log p = log_softmax(logits)``, C classes and ε = `label_smoothing`:

    * class indices: ``l_n = (1-ε)·(-w[y_n] log p[n, y_n]) + (ε/C)·Σ_c (-w[c] log p[n, c])``,
      ``l_n = 0`` where ``y_n == ignore_index``;
    * probabilities: ``l_n = -Σ_c w[c] q'[n, c] log p[n, c]`` with ``q' = (1-ε) q + ε/C``
      (terms with ``q' w = 0`` are 0 even where ``log p = -inf``).

    ``-log p[y]`` is formed as ``log1p(Σ_{c≠max} exp(x_c - m)) + (m - x_y)``, so a confident
    correct prediction keeps full relative precision: ``-log(softmax)`` and NumPy/SciPy
    idioms give 0 there. All -inf logits give an infinite loss; NaN logits a NaN loss.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> float(ssm.cross_entropy([[0.0, 2.0, 4.0]], [2]))        # -ln 0.8668
    0.14293162849989952
    >>> float(ssm.cross_entropy([[0.0, 25.0]], [1]))             # log1p(exp(-25)), not 0
    1.3887943864867583e-11
    >>> ssm.cross_entropy([[0.0, 2.0], [1.0, 1.0]], [0, -100], reduction="none")
    array([2.12692801, 0.        ])
    """
    return _cross_entropy("cross_entropy", logits, target, axis, weight, ignore_index,
                          label_smoothing, reduction, False)


def cross_entropy_with_grad(logits: ArrayLike, target: ArrayLike, *, axis: int = -1,
                            weight: Optional[ArrayLike] = None, ignore_index: int = -100,
                            label_smoothing: float = 0.0, reduction: str = "mean"):
    """Cross-entropy and its gradient with respect to `logits`, in one fused pass.

    Arguments and the loss are those of :func:`cross_entropy`. The gradient is that of the
    returned loss (for ``reduction='none'``, of the sum of the per-sample losses). It is formed
    without a probability array: for coefficients ``c_j`` of the (smoothed, weighted) target,
    ``dl/dx_j = (Σ c) · p_j - c_j``, and at the most probable class (when ``p ≥ 1/2``) as
    ``Σ_{j≠max} c_j - (Σ c) · (Σ of the other exponentials) / S``, never through ``p - 1``.
    Ignored samples and all -inf rows get a zero gradient.

    Returns
    -------
    loss : ndarray or scalar
        As returned by :func:`cross_entropy`.
    dlogits : ndarray
        Shape and result dtype of `logits`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> loss, g = ssm.cross_entropy_with_grad([[0.0, 2.0, 4.0]], [2])
    >>> g.round(4)
    array([[ 0.0159,  0.1173, -0.1332]])
    >>> _, g = ssm.cross_entropy_with_grad([[0.0, 40.0]], [1])
    >>> float(g[0, 1])           # -exp(-40)/(1 + exp(-40)), where p - 1 gives 0
    -4.248354255291589e-18
    """
    return _cross_entropy("cross_entropy_with_grad", logits, target, axis, weight, ignore_index,
                          label_smoothing, reduction, True)
