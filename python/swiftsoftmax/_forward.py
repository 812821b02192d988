"""The softmax family: softmax, log_softmax, logsumexp, sigmoid, log_sigmoid, normalize."""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _arrays as A
from ._lib import FUNCS, LIB, LIBRARY_PATH, check

ArrayLike = Any
Axis = Union[int, Sequence[int], None]


_NO_TEMPERATURE = object()  # normalize takes no temperature


def _temperature(t) -> float:
    """A real scalar temperature as a Python float; its value is checked by the library."""
    return A.real_scalar(t, "temperature")


_FAST_DTYPES = {np.dtype(np.float32): ("f32", ctypes.c_float), np.dtype(np.float64): ("f64", ctypes.c_double)}


def _fast_handle(name: str, scalar):
    """A second ctypes handle on `name` for the fast path. ctypes converts a Python int into a
    c_size_t in ~170 ns but into a c_void_p in ~75 ns, which is most of a small call, so the
    sizes are declared c_void_p: on LP64 ABIs both travel in the same 64-bit integer registers.
    The default temperature is passed as a prebuilt ctypes scalar for the same reason."""
    f = LIB[name]  # indexing, unlike attribute access, gives a new handle (FUNCS keeps its own)
    f.argtypes = [ctypes.c_void_p] * 5 + [scalar]
    f.restype = ctypes.c_int
    return f, scalar(1.0)


_FAST_FUNCS = {op: {dt: _fast_handle(f"ssm_{op}_{t}", scalar) for dt, (t, scalar) in _FAST_DTYPES.items()}
               for op in ("softmax", "log_softmax")}

# The same library as a PyDLL: its calls keep the GIL. A small call (at most _COPY_IN_PLACE
# elements, a few microseconds, always on the caller's thread) then saves releasing and taking
# the GIL back, about 60 ns of the 2 us.
_GIL_HELD = ctypes.PyDLL(str(LIBRARY_PATH))


def _inplace_handle(name: str):
    """A handle on the three-argument in-place entry point, all arguments declared c_void_p
    (see `_fast_handle`): the default call of a small array costs about 0.25 us less than
    through the six-argument function."""
    f = _GIL_HELD[name]
    f.argtypes = [ctypes.c_void_p] * 3
    f.restype = ctypes.c_int
    return f


_SMALL_FUNCS = {op: {dt: _inplace_handle(f"ssm_{op}_inplace_{t}") for dt, (t, _) in _FAST_DTYPES.items()}
                for op in ("softmax", "log_softmax")}
_SMALL_SOFTMAX = _SMALL_FUNCS["softmax"]
_SMALL_LOG_SOFTMAX = _SMALL_FUNCS["log_softmax"]

# The default temperature and the default axis, recognised by identity on the shortest path
# (no type checks). Every int -1 is one object in CPython; another -1 (a NumPy integer) or
# 1.0 only takes the longer path to the same result.
_T1 = 1.0
_LAST = -1

# Up to this many elements the result starts as a copy of x computed in place (exact aliasing
# is allowed): one allocation and one address lookup instead of two, about 0.5 us of a small
# call. Larger arrays allocate, as the copy would cost a pass over memory.
_COPY_IN_PLACE = 4096
_addressof = ctypes.addressof
_ndarray = np.ndarray
_from_buffer = ctypes.c_char.from_buffer


def _fast_rowwise(op: str, x, axis, temperature, out):
    """The common call, a native float32/float64 array reduced over one axis, without the general
    machinery (it dominates small calls). None when the general path is needed."""
    fast = _FAST_FUNCS[op].get(x.dtype)
    if fast is None or type(axis) is not int or type(temperature) is not float:
        return None
    shape = x.shape
    nd = len(shape)
    size = x.size
    if nd == 0 or size == 0:
        return None
    if axis == -1 or axis == nd - 1:
        n, inner = shape[-1], 1
    else:
        a = axis + nd if axis < 0 else axis
        if not 0 <= a < nd:
            return None
        n = shape[a]
        inner = 1
        for d in shape[a + 1:]:
            inner *= d
    f, one = fast
    if out is None and size <= _COPY_IN_PLACE:
        y = x.copy()  # C-contiguous whatever the layout of x
        px = py = _addressof(_from_buffer(y))
    elif not x.flags.c_contiguous:
        return None
    elif out is None:
        px = A.ptr(x)
        y = np.empty_like(x)
        py = A.ptr(y)
    elif (type(out) is np.ndarray and out.dtype == x.dtype and out.shape == shape
          and out.flags.c_contiguous and out.flags.writeable):
        y = out
        px = A.ptr(x)
        py = A.ptr(y)
        if py != px and px < py + y.nbytes and py < px + x.nbytes:
            return None  # partial overlap: the general path computes into a temporary
    else:
        return None
    status = f(px, py, size // (n * inner), n, inner, one if temperature == 1.0 else temperature)
    if status:
        check(status, op)
    return y


def _small_default(funcs, x, op: str):
    """softmax/log_softmax of a small array over its last axis with every default argument, by
    the three-argument entry point on a copy of x. None when the array is not small, is 0-d or
    has another dtype."""
    f = funcs.get(x.dtype)
    size = x.size
    if f is None or not 0 < size <= _COPY_IN_PLACE:
        return None
    shape = x.shape
    if not shape:
        return None
    y = x.copy()
    p = _addressof(_from_buffer(y))
    n = shape[-1]
    status = f(p, size // n, n)
    if status:
        check(status, op)
    return y


def _rowwise(op: str, x, axis, temperature, where, out):
    """Shared driver of the same-shape reductions (softmax, log_softmax, normalize)."""
    if temperature is not _NO_TEMPERATURE:
        temperature = _temperature(temperature)
    a, cdt, rdt = A.as_real_array(x, "x")
    layout = A.Layout(a.shape, A.normalize_axes(axis, a.ndim))
    A.check_out(out, a.shape, rdt)
    mask = None if where is None else A.as_mask(where, a.shape)
    xb = layout.arrange(a, cdt)
    mb = None if mask is None else layout.arrange(mask, np.bool_)
    target = A.direct_target(out, layout, cdt, xb, mb)
    yb = target if target is not None else np.empty_like(xb)
    name = f"ssm_{op}{'_masked' if mb is not None else ''}_{A.suffix(cdt)}"
    args = [A.ptr(xb)] + ([A.ptr(mb)] if mb is not None else []) + [A.ptr(yb), *layout.dims]
    if temperature is not _NO_TEMPERATURE:
        args.append(temperature)
    check(FUNCS[name](*args), op if mb is None else f"{op} (where=)")
    result = yb if target is not None else layout.restore(yb)
    return A.deliver(result, out, rdt)


def softmax(x: ArrayLike, axis: Axis = _LAST, *, temperature: float = _T1,
            where: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None):
    """Softmax along `axis`: ``exp(x/T - max) / sum(exp(x/T - max))``.

    Parameters
    ----------
    x : array_like
        Real scores (logits). float32 and float64 are computed natively and preserved,
        float16 is computed in float32, integers and booleans are promoted to float64.
    axis : int, tuple of ints or None, default -1
        The axis (or axes, or None for all) along which the probabilities sum to 1.
        A non-last single axis is handled in place, without a transposing copy.
    temperature : float, default 1.0
        Divides the scores; must be finite and > 0. Small values sharpen towards argmax.
    where : array_like of bool, optional
        Mask broadcastable to `x`; False entries are left out and get probability 0.
    out : ndarray, optional
        Destination of the same shape and dtype as the result; may be `x` itself.

    Returns
    -------
    ndarray
        Probabilities in [0, 1] summing to 1 along `axis`.

    Notes
    -----
    Special values: a NaN makes its whole slice NaN; k entries of +inf share probability
    1/k; an all -inf (or fully masked) slice gives 0 everywhere. On any error nothing is
    written to `out`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.softmax([0.0, 2.0, 4.0]).round(4)
    array([0.0159, 0.1173, 0.8668])
    >>> ssm.softmax([[1.0, 1.0], [0.0, float("inf")]])
    array([[0.5, 0.5],
           [0. , 1. ]])
    """
    if type(x) is _ndarray and where is None:  # the fast paths first, one call level down
        if out is None and temperature is _T1 and axis is _LAST:
            y = _small_default(_SMALL_SOFTMAX, x, "softmax")
            if y is not None:
                return y
        y = _fast_rowwise("softmax", x, axis, temperature, out)
        if y is not None:
            return y
    return _rowwise("softmax", x, axis, temperature, where, out)


def log_softmax(x: ArrayLike, axis: Axis = _LAST, *, temperature: float = _T1,
                where: Optional[ArrayLike] = None, out: Optional[np.ndarray] = None):
    """Log-softmax along `axis`: ``x/T - max - log(sum(exp(x/T - max)))``.

    Computed in log space with ``log1p`` of the non-maximal terms, never as
    ``log(softmax(x))``: log-probabilities near 0 keep full relative precision and tiny
    probabilities do not underflow to -inf.

    Parameters
    ----------
    x, axis, temperature, where, out
        As for :func:`softmax`. Masked entries get -inf.

    Returns
    -------
    ndarray
        Log-probabilities (<= 0) whose exponentials sum to 1 along `axis`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.log_softmax([0.0, 2.0, 4.0]).round(4)
    array([-4.1429, -2.1429, -0.1429])
    >>> float(ssm.log_softmax([0.0, 40.0])[1])   # -exp(-40), not 0
    -4.248354255291589e-18
    """
    if type(x) is _ndarray and where is None:
        if out is None and temperature is _T1 and axis is _LAST:
            y = _small_default(_SMALL_LOG_SOFTMAX, x, "log_softmax")
            if y is not None:
                return y
        y = _fast_rowwise("log_softmax", x, axis, temperature, out)
        if y is not None:
            return y
    return _rowwise("log_softmax", x, axis, temperature, where, out)


def normalize(x: ArrayLike, axis: Axis = -1, *, out: Optional[np.ndarray] = None):
    """Sum-normalisation ``x / sum(x)`` along `axis` (the article's "standard normalisation").

    Shown for comparison with softmax: it is not invariant to offsets, maps 0 to 0, and is
    meaningless for negative scores. The sum is compensated; a zero or non-finite sum follows
    IEEE arithmetic (NaN or inf), as ``x / x.sum()`` does in NumPy.

    Parameters
    ----------
    x, axis, out
        As for :func:`softmax`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.normalize([0.0, 2.0, 4.0])
    array([0.        , 0.33333333, 0.66666667])
    >>> ssm.normalize([0.0, 102.0, 104.0]).round(4)
    array([0.    , 0.4951, 0.5049])
    """
    return _rowwise("normalize", x, axis, _NO_TEMPERATURE, None, out)


def logsumexp(x: ArrayLike, axis: Axis = -1, *, keepdims: bool = False,
              where: Optional[ArrayLike] = None):
    """``log(sum(exp(x)))`` along `axis`, without overflow and accurate near 0.

    Parameters
    ----------
    x : array_like
        Real values; dtypes as for :func:`softmax`.
    axis : int, tuple of ints or None, default -1
        Axes to reduce; None reduces everything (as in SciPy).
    keepdims : bool, default False
        Keep the reduced axes with length 1.
    where : array_like of bool, optional
        Only entries where True take part.

    Returns
    -------
    ndarray or scalar
        A NumPy scalar when every axis is reduced. Empty or all -inf: -inf; any +inf: +inf;
        any NaN: NaN.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> float(ssm.logsumexp([1000.0, 1000.0]))
    1000.6931471805599
    >>> ssm.logsumexp([[0.0, 0.0], [1.0, float("-inf")]], axis=1)
    array([0.69314718, 1.        ])
    """
    a, cdt, rdt = A.as_real_array(x, "x")
    layout = A.Layout(a.shape, A.normalize_axes(axis, a.ndim))
    mask = None if where is None else A.as_mask(where, a.shape)
    xb = layout.arrange(a, cdt)
    result = np.empty(layout.kept_shape, dtype=cdt)
    t = A.suffix(cdt)
    if mask is None:
        status = FUNCS[f"ssm_logsumexp_{t}"](A.ptr(xb), A.ptr(result), *layout.dims)
    else:
        mb = layout.arrange(mask, np.bool_)
        status = FUNCS[f"ssm_logsumexp_masked_{t}"](A.ptr(xb), A.ptr(mb), A.ptr(result), *layout.dims)
    check(status, "logsumexp")
    return A.deliver(result.reshape(layout.reduced_shape(keepdims)), None, rdt)


def _elementwise(op: str, x, out):
    a, cdt, rdt = A.as_real_array(x, "x")
    A.check_out(out, a.shape, rdt)
    xb = np.asarray(a, dtype=cdt, order="C")
    flat = A.Layout(a.shape, tuple(range(a.ndim)))
    target = A.direct_target(out, flat, cdt, xb)
    yb = target if target is not None else np.empty_like(xb)
    check(FUNCS[f"ssm_{op}_{A.suffix(cdt)}"](A.ptr(xb), A.ptr(yb), xb.size), op)
    return A.deliver(yb, out, rdt)


def sigmoid(x: ArrayLike, *, out: Optional[np.ndarray] = None):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise and overflow-free.

    ``softmax([x, 0])[0] == sigmoid(x)``: the two-class softmax is the sigmoid.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.sigmoid([-800.0, 0.0, 2.0])
    array([0.        , 0.5       , 0.88079708])
    """
    return _elementwise("sigmoid", x, out)


def log_sigmoid(x: ArrayLike, *, out: Optional[np.ndarray] = None):
    """``log(sigmoid(x)) = -log1p(exp(-x))``, elementwise, exact in both tails.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.log_sigmoid([-800.0, 0.0, 40.0])
    array([-8.00000000e+02, -6.93147181e-01, -4.24835426e-18])
    """
    return _elementwise("log_sigmoid", x, out)
