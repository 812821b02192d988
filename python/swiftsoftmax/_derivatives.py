"""Derivatives of softmax and log-softmax: softmax_jacobian, softmax_vjp, log_softmax_vjp.

The fused gradient of the cross-entropy is in ``_loss`` (cross_entropy_with_grad).
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import _arrays as A
from . import _results as R
from ._lib import FUNCS, check, handle

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

Axis = Union[int, Sequence[int], None]


def _pair(a: npt.ArrayLike, b: npt.ArrayLike, names: tuple[str, str]
          ) -> tuple[npt.NDArray[Any], npt.NDArray[Any], np.dtype[Any], np.dtype[Any]]:
    """Two same-shaped real arrays, with the compute and result dtypes of their promotion."""
    x, _, rx = A.as_real_array(a, names[0])
    g, _, rg = A.as_real_array(b, names[1])
    if x.shape != g.shape:
        raise ValueError(f"{names[1]}: expected the shape of {names[0]} {x.shape}, got {g.shape}")
    rdt = np.promote_types(rx, rg)
    return x, g, A.compute_dtype(rdt), rdt


def softmax_jacobian(x: npt.ArrayLike, axis: Axis = -1, *, temperature: float = 1.0
                     ) -> npt.NDArray[np.floating[Any]]:
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
    jac = R.empty(layout.kept_shape + (n, n), cdt)
    status = FUNCS[f"ssm_softmax_jacobian_{A.suffix(cdt)}"](
        A.ptr(xb), A.ptr(jac), *layout.dims, t)
    check(status, "softmax_jacobian")
    return A.deliver_array(jac, None, rdt)


# The default temperature and axis, recognised by identity on the fast path (as in `_forward`).
_T1 = 1.0
_LAST = -1
# Up to this many elements a default call of two native arrays of one dtype takes the fast path:
# dx starts as a copy of g and is computed in place (the kernels allow dx to be g exactly).
_FAST_SIZE = 4096
_ndarray = np.ndarray
_data = A.data_pointer


def _fast_table(op: str) -> dict[np.dtype[Any], tuple[CFuncPtr, ctypes._SimpleCData[Any]]]:
    """`op`'s fast handles by dtype (GIL kept, no declared argument types: see `_lib.handle`),
    each with the default temperature as a prebuilt ctypes scalar."""
    return {dt: (handle(f"ssm_{op}_{A.suffix(dt)}", fast=True, keep_gil=True, undeclared=A.POINTER_VIEWS),
                 scalar(1.0))
            for dt, scalar in ((A.F32, ctypes.c_float), (A.F64, ctypes.c_double))}


_FAST_VJP = {op: _fast_table(op) for op in ("softmax_vjp", "log_softmax_vjp")}


def _fast_vjp(op: str, y: npt.NDArray[Any], g: object) -> Optional[npt.NDArray[np.floating[Any]]]:
    """`op` over the last axis of a small C-contiguous native `y` and an ndarray `g` of
    its dtype and shape, without the general path's promotion and layout work (most of a small
    call); None where the general path is needed."""
    if type(g) is not _ndarray:
        return None
    size = y.size
    shape = y.shape
    fast = _FAST_VJP[op].get(y.dtype)
    if (fast is None or not 0 < size <= _FAST_SIZE or not shape or g.dtype != y.dtype or g.shape != shape
            or not y.flags.c_contiguous):
        return None
    dx: npt.NDArray[np.floating[Any]] = g.copy()  # C-contiguous whatever the layout of g
    p = _data(dx)
    n = shape[-1]
    status = fast[0](_data(y), p, p, size // n, n, 1, fast[1])
    if status:
        check(status, op)
    return dx


def _vjp(op: str, first: str, y: npt.ArrayLike, g: npt.ArrayLike, axis: Axis, temperature: float
         ) -> npt.NDArray[np.floating[Any]]:
    """The vector-Jacobian product `op` ("softmax_vjp" or "log_softmax_vjp") of `y` (named
    `first`) and the upstream gradient `g`."""
    if axis is _LAST and temperature is _T1 and type(y) is _ndarray:
        dx = _fast_vjp(op, y, g)
        if dx is not None:
            return dx
    t = A.real_scalar(temperature, "temperature")
    yv, gv, cdt, rdt = _pair(y, g, (first, "g"))
    layout = A.Layout(yv.shape, A.normalize_axes(axis, yv.ndim))
    yb = layout.arrange(yv, cdt)
    gb = layout.arrange(gv, cdt)
    dx = R.empty_like(yb)
    check(FUNCS[f"ssm_{op}_{A.suffix(cdt)}"](A.ptr(yb), A.ptr(gb), A.ptr(dx), *layout.dims,
                                            t), op)
    return A.deliver_array(layout.restore(dx), None, rdt)


def softmax_vjp(y: npt.ArrayLike, g: npt.ArrayLike, axis: Axis = _LAST, *, temperature: float = _T1
                ) -> npt.NDArray[np.floating[Any]]:
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


def log_softmax_vjp(logy: npt.ArrayLike, g: npt.ArrayLike, axis: Axis = _LAST, *, temperature: float = _T1
                    ) -> npt.NDArray[np.floating[Any]]:
    """The vector-Jacobian product of log-softmax: ``dx = (g - exp(logy) * sum(g)) / T``.

    Parameters
    ----------
    logy : array_like
        Log-probabilities, ``log_softmax(x, axis, temperature=T)``.
    g, axis, temperature
        As for :func:`softmax_vjp`: the upstream gradient, of the shape of `logy`, and the
        arguments given to :func:`log_softmax`.

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
