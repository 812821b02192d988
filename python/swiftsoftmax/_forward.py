"""The softmax family: softmax, log_softmax, logsumexp, logcumsumexp, sigmoid, log_sigmoid, normalize."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from . import _arrays as A
from . import _results as R
from ._lib import FUNCS, check, handle

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

    # A fast path's handles of one dtype: the in-place entry point, the six-argument one, the
    # default temperature as a ctypes scalar, and op.
    _FastEntry = tuple[CFuncPtr, CFuncPtr, ctypes._SimpleCData[Any], str]

Axis = Union[int, Sequence[int], None]


_NO_TEMPERATURE = object()  # normalize takes no temperature


def _temperature(t: object) -> float:
    """A real scalar temperature as a Python float; its value is checked by the library."""
    return A.real_scalar(t, "temperature")


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
_data = A.data_pointer
# NumPy's stubs give ndarray the buffer protocol (__buffer__) only from Python 3.12 on.
_from_buffer: Callable[[Any], ctypes.c_char] = ctypes.c_char.from_buffer


def _fast_table(op: str) -> dict[np.dtype[Any], _FastEntry]:
    """The fast paths' handles of `op` by dtype: (the in-place entry point, the six-argument
    one, the default temperature as a ctypes scalar, op).

    The three-argument in-place entry point serves the default call of a small array: about
    0.25 us less than the six-argument function; its handle keeps the GIL (a small call runs on
    the caller's thread for a few microseconds) and declares no argument types (it is given a
    pointer view and two sizes of at most 4096). The six-argument one declares its sizes as
    c_void_p. See `_lib.handle`. Passing the default temperature prebuilt saves converting a
    Python float.
    """
    return {dt: (handle(f"ssm_{op}_inplace_{A.suffix(dt)}", keep_gil=True, undeclared=A.POINTER_VIEWS, fast=True),
                 handle(f"ssm_{op}_{A.suffix(dt)}", fast=True), scalar(1.0), op)
            for dt, scalar in ((A.F32, ctypes.c_float), (A.F64, ctypes.c_double))}


_FAST_SOFTMAX = _fast_table("softmax")
_FAST_LOG_SOFTMAX = _fast_table("log_softmax")


def _fast(table: dict[np.dtype[Any], _FastEntry], x: npt.NDArray[Any], axis: object, temperature: object,
          out: object) -> Optional[npt.NDArray[Any]]:
    """softmax/log_softmax of a native float32/float64 array over one axis without the general
    machinery (it dominates small calls), by the handles in `table`. None when the general path
    is needed.

    The default call (last axis, temperature 1.0, no `out`) of a small array takes the
    three-argument in-place entry point on a copy of x.
    """
    # table[dtype]: (in-place handle, six-argument handle, temperature 1.0 as a ctypes scalar, op)
    size = x.size
    if out is None and temperature is _T1 and axis is _LAST and 0 < size <= _COPY_IN_PLACE:
        fast = table.get(x.dtype)
        shape = x.shape
        if fast is not None and shape:
            y: npt.NDArray[Any] = x.copy()
            n = shape[-1]
            status = fast[0](_data(y), size // n, n)
            if status:
                check(status, fast[3])
            return y
    fast = table.get(x.dtype)
    if fast is None or type(axis) is not int or type(temperature) is not float:
        return None
    _, f, one, op = fast
    shape = x.shape
    nd = len(shape)
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
    if out is None and size <= _COPY_IN_PLACE:
        y = x.copy()  # C-contiguous whatever the layout of x
        px = py = _data(y)
    elif not x.flags.c_contiguous:
        return None
    elif out is None:
        px = A.ptr(x)
        y = R.empty_like(x)
        py = A.ptr(y)
    else:
        y = out  # type: ignore[assignment]  # an ndarray wherever direct_pointers accepts it
        pointers = A.direct_pointers(y, x)
        if pointers is None:
            return None  # e.g. out partly overlapping x: the general path computes into a temporary
        px, py = pointers
    status = f(px, py, size // (n * inner), n, inner, one if temperature == 1.0 else temperature)
    if status:
        check(status, op)
    return y


def _rowwise(op: str, x: npt.ArrayLike, axis: Axis, temperature: object, where: Optional[npt.ArrayLike],
             out: Optional[npt.NDArray[Any]]) -> npt.NDArray[np.floating[Any]]:
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
    yb = target if target is not None else R.empty_like(xb)
    name = f"ssm_{op}{'_masked' if mb is not None else ''}_{A.suffix(cdt)}"
    args = [A.ptr(xb)] + ([A.ptr(mb)] if mb is not None else []) + [A.ptr(yb), *layout.dims]
    if temperature is not _NO_TEMPERATURE:
        args.append(temperature)
    check(FUNCS[name](*args), op if mb is None else f"{op} (where=)")
    result = yb if target is not None else layout.restore(yb)
    return A.deliver_array(result, out, rdt)


def softmax(x: npt.ArrayLike, axis: Axis = _LAST, *, temperature: float = _T1,
            where: Optional[npt.ArrayLike] = None, out: Optional[npt.NDArray[np.floating[Any]]] = None,
            dtype: Optional[npt.DTypeLike] = None) -> npt.NDArray[np.floating[Any]]:
    """Softmax along `axis`: ``exp(x/T - max) / sum(exp(x/T - max))``.

    Parameters
    ----------
    x : array_like
        Real scores (logits). float32 and float64 are computed natively and preserved,
        float16 and bfloat16 (ml_dtypes') are computed in float32, integers and booleans are
        promoted to float64.
    axis : int, tuple of ints or None, default -1
        The axis (or axes, or None for all) along which the probabilities sum to 1.
        A non-last single axis is handled in place, without a transposing copy.
    temperature : float, default 1.0
        Divides the scores; must be finite and > 0. Small values sharpen towards argmax.
    where : array_like of bool, optional
        Mask broadcastable to `x`; False entries are left out and get probability 0.
    out : ndarray, optional
        Destination of the same shape and dtype as the result; may be `x` itself.
    dtype : floating-point dtype, optional
        Cast `x` to this dtype first, as PyTorch's ``dtype=``: the result has it (float16 or
        bfloat16 scores with ``dtype=np.float32`` give float32 probabilities).

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
    >>> import numpy as np
    >>> ssm.softmax(np.array([0.0, 2.0], np.float16), dtype=np.float32).dtype
    dtype('float32')
    """
    if dtype is not None:
        x = A.cast_to(x, dtype)
    if type(x) is _ndarray and where is None:  # the fast paths first, one call level down
        y = _fast(_FAST_SOFTMAX, x, axis, temperature, out)
        if y is not None:
            return y
    if _is_complex(x):
        return _complex_rowwise("softmax", x, axis, temperature, where, out)
    return _rowwise("softmax", x, axis, temperature, where, out)


def log_softmax(x: npt.ArrayLike, axis: Axis = _LAST, *, temperature: float = _T1,
                where: Optional[npt.ArrayLike] = None, out: Optional[npt.NDArray[np.floating[Any]]] = None,
                dtype: Optional[npt.DTypeLike] = None) -> npt.NDArray[np.floating[Any]]:
    """Log-softmax along `axis`: ``x/T - max - log(sum(exp(x/T - max)))``.

    Computed in log space with ``log1p`` of the non-maximal terms, never as
    ``log(softmax(x))``: log-probabilities near 0 keep full relative precision and tiny
    probabilities do not underflow to -inf.

    Parameters
    ----------
    x, axis, temperature, where, out, dtype
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
    if dtype is not None:
        x = A.cast_to(x, dtype)
    if type(x) is _ndarray and where is None:
        y = _fast(_FAST_LOG_SOFTMAX, x, axis, temperature, out)
        if y is not None:
            return y
    if _is_complex(x):
        return _complex_rowwise("log_softmax", x, axis, temperature, where, out)
    return _rowwise("log_softmax", x, axis, temperature, where, out)


def _is_complex(x: object) -> bool:
    """Whether `x` holds complex numbers (the translation of anything else reports its errors)."""
    if isinstance(x, np.ndarray):
        return bool(x.dtype.kind == "c")
    try:
        return np.asarray(x).dtype.kind == "c"
    except (ValueError, TypeError):
        return False


def _complex_rowwise(op: str, x: npt.ArrayLike, axis: Axis, temperature: object, where: Optional[npt.ArrayLike],
                     out: Optional[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """softmax/log_softmax of complex input (docs/python.md, "Complex input")."""
    from ._complex import log_softmax_complex, softmax_complex

    t = _temperature(temperature)
    z = np.asarray(x)
    if z.dtype.kind != "c":  # an object array holding complex numbers
        z = z.astype(np.complex128)
    rdt = z.dtype.newbyteorder("=")
    A.check_out(out, z.shape, rdt)
    if not (np.isfinite(t) and t > 0):
        raise ValueError(f"{op}: temperature must be finite and > 0, got {t}")
    if t != 1.0:
        z = z / np.asarray(t, dtype=z.real.dtype)
    y = (softmax_complex if op == "softmax" else log_softmax_complex)(z.astype(rdt, copy=False), axis, where)
    return A.deliver_array(y, out, rdt)


def normalize(x: npt.ArrayLike, axis: Axis = _LAST, *, out: Optional[npt.NDArray[np.floating[Any]]] = None,
              dtype: Optional[npt.DTypeLike] = None) -> npt.NDArray[np.floating[Any]]:
    """Sum-normalisation ``x / sum(x)`` along `axis` (the article's "standard normalisation").

    Shown for comparison with softmax: it is not invariant to offsets, maps 0 to 0, and is
    meaningless for negative scores. The sum is compensated; a zero or non-finite sum follows
    IEEE arithmetic (NaN or inf), as ``x / x.sum()`` does in NumPy.

    Parameters
    ----------
    x, axis, out, dtype
        As for :func:`softmax`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.normalize([0.0, 2.0, 4.0])
    array([0.        , 0.33333333, 0.66666667])
    >>> ssm.normalize([0.0, 102.0, 104.0]).round(4)
    array([0.    , 0.4951, 0.5049])
    """
    if dtype is not None:
        x = A.cast_to(x, dtype)
    if out is not None and axis is _LAST and type(x) is _ndarray and x.ndim and x.size and x.flags.c_contiguous:
        pointers = A.direct_pointers(out, x)
        g = _FAST_NORMALIZE_LARGE.get(x.dtype)
        if pointers is not None and g is not None:
            # Into an out= of x's own layout, as `_elementwise` does.
            n = x.shape[-1]
            status = g(*pointers, x.size // n, n, 1)
            if status:
                check(status, "normalize")
            return out
    if out is None and axis is _LAST and type(x) is _ndarray:  # the small call: one level down
        size = x.size
        shape = x.shape
        f = _FAST_NORMALIZE.get(x.dtype)
        if f is not None and 0 < size <= _COPY_IN_PLACE and shape:
            y: npt.NDArray[np.floating[Any]] = x.copy()  # C-contiguous whatever the layout of x
            p = _data(y)
            n = shape[-1]
            status = f(p, p, size // n, n, 1)
            if status:
                check(status, "normalize")
            return y
        if f is not None and size > _COPY_IN_PLACE:
            # Larger: from a writable C-contiguous x straight into a new array (the general
            # path's layout work is about 2 us of a 64x1000 call), releasing the GIL.
            try:
                px = _addressof(_from_buffer(x))
            except (TypeError, ValueError, BufferError):  # read-only or not C-contiguous
                px = 0
            if px:
                y = R.empty(shape, x.dtype)
                n = shape[-1]
                status = _FAST_NORMALIZE_LARGE[x.dtype](px, _data(y), size // n, n, 1)
                if status:
                    check(status, "normalize")
                return y
    return _rowwise("normalize", x, axis, _NO_TEMPERATURE, None, out)


# normalize's fast path by dtype (handles as `_FAST_ELEMENTWISE`'s): the default call of a small
# array (see `_COPY_IN_PLACE`) computes in place on a copy of x, without the general path's
# layout work (two thirds of such a call).
_FAST_NORMALIZE: dict[np.dtype[Any], CFuncPtr] = {
    dt: handle(f"ssm_normalize_{A.suffix(dt)}", fast=True, keep_gil=True, undeclared=A.POINTER_VIEWS)
    for dt in (A.F32, A.F64)}
# ... and of a larger writable C-contiguous array, into a new array (sizes as c_void_p; the
# GIL released, as the call may be long).
_FAST_NORMALIZE_LARGE: dict[np.dtype[Any], CFuncPtr] = {
    dt: handle(f"ssm_normalize_{A.suffix(dt)}", fast=True) for dt in (A.F32, A.F64)}


def logcumsumexp(x: npt.ArrayLike, axis: int = -1, *, out: Optional[npt.NDArray[np.floating[Any]]] = None
                 ) -> npt.NDArray[np.floating[Any]]:
    """The running log-sum-exp ``y[k] = log(sum(exp(x[:k+1])))`` along `axis`.

    What ``torch.logcumsumexp`` and ``jax.lax.cumlogsumexp`` compute, within 2 ulps of the
    exact value, also where a result cancels to near 0 (a negative running maximum offset by
    its log-sum, e.g. the running log of a cumulative distribution). NumPy's
    ``np.logaddexp.accumulate`` rounds at every step instead.

    Parameters
    ----------
    x : array_like
        Real values; dtypes as for :func:`softmax` (float16 is computed in float32).
    axis : int, default -1
        The axis to scan along. A non-last axis is scanned where it lies, without a copy.
    out : ndarray, optional
        Destination of the same shape and dtype as the result; may be `x` itself.

    Returns
    -------
    ndarray
        The shape of `x`; non-decreasing along `axis`.

    Notes
    -----
    Special values: -inf entries are left out, so a leading run of -inf gives -inf (never
    NaN); from the first +inf on every result is +inf; from the first NaN on every result is
    NaN, the earlier results are unaffected (as in PyTorch). On any error nothing is written
    to `out`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.logcumsumexp([0.0, 0.0, 0.0, 0.0])
    array([0.        , 0.69314718, 1.09861229, 1.38629436])
    >>> ssm.logcumsumexp([float("-inf"), 1000.0, 1000.0])
    array([         -inf, 1000.        , 1000.69314718])
    >>> ssm.logcumsumexp([[0.0, 1.0], [2.0, 3.0]], axis=0)
    array([[0.        , 1.        ],
           [2.12692801, 3.12692801]])
    """
    if axis is None or isinstance(axis, (tuple, list)):
        raise TypeError(f"axis: expected an int, got {axis!r}")
    return _rowwise("logcumsumexp", x, axis, _NO_TEMPERATURE, None, out)


LogSumExpResult = Union[npt.NDArray[Any], np.floating[Any], np.complexfloating[Any, Any]]


def logsumexp(x: npt.ArrayLike, axis: Axis = _LAST, *, b: Optional[npt.ArrayLike] = None, keepdims: bool = False,
              return_sign: bool = False, where: Optional[npt.ArrayLike] = None,
              dtype: Optional[npt.DTypeLike] = None
              ) -> Union[LogSumExpResult, tuple[LogSumExpResult, LogSumExpResult]]:
    """``log(sum(b * exp(x)))`` along `axis`, without overflow and accurate near 0.

    A drop-in for :func:`scipy.special.logsumexp` (same `b`, `keepdims`, `return_sign`, complex
    input and special values), except for the default axis: -1 here, None (every axis) in SciPy;
    pass ``axis=None`` to reduce everything.

    Parameters
    ----------
    x : array_like
        Real or complex values. float32 and float64 are computed natively and preserved,
        float16 and bfloat16 are computed in float32, integers and booleans are promoted to
        float64;
        complex64 and complex128 are computed on the float32 and float64 kernels.
    axis : int, tuple of ints or None, default -1
        Axes to reduce; None reduces everything (SciPy's default).
    b : array_like, optional
        Scale factors, broadcast against `x` (and `x` against them, as in SciPy): the result is
        ``log(sum(b * exp(x)))``. They may be zero or negative: an entry whose `b` is 0 takes no
        part, whatever its `x`, and a sum that cancels keeps 2 ulp relative to the exact
        ``log|sum(b * exp(x))|`` (docs/accuracy.md, "Scale factors"). `x` and `b` are promoted
        together (``numpy.result_type``).
    keepdims : bool, default False
        Keep the reduced axes with length 1.
    return_sign : bool, default False
        Return ``(log|sum|, sign of sum)``: the sign is 1, -1, or 0 where the sum is exactly 0
        (the log is then -inf); for complex input it is the phase ``sum / |sum|`` and the log is
        real. Without it a negative real sum gives NaN.
    where : array_like of bool, optional
        Only entries where True take part (JAX's `where`; combines with `b`).
    dtype : floating-point dtype, optional
        Cast `x` (real) to this dtype first, as for :func:`softmax`.

    Returns
    -------
    res : ndarray or scalar
        A NumPy scalar when every axis is reduced. Empty, all -inf or exactly cancelling: -inf;
        any +inf term: +inf (NaN when +inf and -inf terms meet, or, without `return_sign`,
        when the infinite term is negative); any NaN that takes part: NaN. Complex results have
        their imaginary part in (-pi, pi].
    sign : ndarray or scalar
        Only with ``return_sign=True``: the sign of the sum (see above; NaN for a NaN sum). An
        empty sum has sign 0 (SciPy gives -1 for a size-0 input).

    Examples
    --------
    >>> import numpy as np
    >>> import swiftsoftmax as ssm
    >>> float(ssm.logsumexp([1000.0, 1000.0]))
    1000.6931471805599
    >>> ssm.logsumexp([[0.0, 0.0], [1.0, float("-inf")]], axis=1)
    array([0.69314718, 1.        ])
    >>> r, s = ssm.logsumexp([1.0, 2.0], b=[1.0, -1.0], return_sign=True)   # log(e^2 - e), -1
    >>> float(r), float(s)
    (1.5413248546129181, -1.0)
    >>> float(ssm.logsumexp([1.0, 1.0], b=[1.0, -1.0]))   # an exact 0
    -inf
    >>> complex(ssm.logsumexp([0.0, 1j * np.pi / 2]))      # log(1 + i)
    (0.3465735902799727+0.7853981633974483j)
    """
    if (type(x) is _ndarray and axis is _LAST and b is None and where is None and dtype is None
            and not keepdims and not return_sign):  # the small call of a native array: one level down
        r = _fast_logsumexp(x)
        if r is not None:
            return r
    if dtype is not None:
        x = A.cast_to(x, dtype)
    a, w, dt = A.as_weighted_arrays(x, b)
    if a.ndim == 0:  # as SciPy: a scalar is a one-element row
        a = a.reshape(1)
        w = None if w is None else w.reshape(1)
    if dt.kind == "c":
        from ._complex import logsumexp_complex

        return logsumexp_complex(a, w, dt, axis, keepdims, return_sign, where)
    if w is None and not return_sign:
        return _logsumexp_plain(a, axis, keepdims, where, dt)
    cdt = A.compute_dtype(dt)
    layout = A.Layout(a.shape, A.normalize_axes(axis, a.ndim))
    mask = None if where is None else A.as_mask(where, a.shape)
    shape = layout.reduced_shape(keepdims)
    if w is None:
        plain = np.asarray(_logsumexp_plain(a.astype(dt, copy=False), axis, True, mask, dt)).reshape(shape)
        with np.errstate(invalid="ignore"):
            signs = np.where(np.isnan(plain), plain, np.where(plain == -np.inf, 0, 1)).astype(plain.dtype)
        return A.deliver(plain, None, dt), A.deliver(signs, None, dt)
    res, sgn = scaled_logsumexp(a, w, cdt, layout, mask, return_sign)
    r = A.deliver(res.reshape(shape), None, dt)
    return (r, A.deliver(sgn.reshape(shape), None, dt)) if sgn is not None else r


def scaled_logsumexp(a: npt.NDArray[Any], w: npt.NDArray[Any], cdt: np.dtype[Any], layout: A.Layout,
                     mask: Optional[npt.NDArray[np.bool_]], return_sign: bool
                     ) -> tuple[npt.NDArray[Any], Optional[npt.NDArray[Any]]]:
    """``log|sum(w * exp(a))|`` (and its sign when `return_sign`; else NaN for a negative sum)
    over `layout`'s axes, by the library's scaled entry point, in `cdt`; results of shape
    ``layout.kept_shape``."""
    xb = layout.arrange(a, cdt)
    wb = layout.arrange(w, cdt)
    result = np.empty(layout.kept_shape, dtype=cdt)
    sign = np.empty(layout.kept_shape, dtype=cdt) if return_sign else None
    t = A.suffix(cdt)
    if mask is None:
        status = FUNCS[f"ssm_logsumexp_scaled_{t}"](A.ptr(xb), A.ptr(wb), A.ptr(result), A.ptr(sign), *layout.dims)
    else:
        mb = layout.arrange(mask, np.bool_)
        status = FUNCS[f"ssm_logsumexp_scaled_masked_{t}"](A.ptr(xb), A.ptr(wb), A.ptr(mb), A.ptr(result),
                                                           A.ptr(sign), *layout.dims)
    check(status, "logsumexp")
    return result, sign


# logsumexp's fast path by dtype (handles as `_FAST_ELEMENTWISE`'s), for C-contiguous native
# arrays of up to _COPY_IN_PLACE elements over the last axis: the general path's layout work is
# three quarters of such a call.
_FAST_LOGSUMEXP: dict[np.dtype[Any], CFuncPtr] = {
    dt: handle(f"ssm_logsumexp_{A.suffix(dt)}", fast=True, keep_gil=True, undeclared=A.POINTER_VIEWS)
    for dt in (A.F32, A.F64)}


def _fast_logsumexp(x: npt.NDArray[Any]) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any], None]:
    """logsumexp of `x` over its last axis by the fast handle, or None where the general path is
    needed (another dtype, no elements, too many, not C-contiguous)."""
    size = x.size
    shape = x.shape
    f = _FAST_LOGSUMEXP.get(x.dtype)
    if f is None or not 0 < size <= _COPY_IN_PLACE or not shape or not x.flags.c_contiguous:
        return None
    n = shape[-1]
    result: npt.NDArray[Any] = np.empty(shape[:-1], dtype=x.dtype)
    status = f(_data(x), _data(result), size // n, n, 1)
    if status:
        check(status, "logsumexp")
    return result[()] if result.ndim == 0 else result


def _logsumexp_plain(a: npt.NDArray[Any], axis: Axis, keepdims: bool, where: Optional[npt.ArrayLike],
                     dt: np.dtype[Any]) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
    a, cdt, rdt = A.as_real_array(a, "x")
    if A.is_bfloat16(dt):  # `a` arrives as float32 (`as_weighted_arrays`)
        rdt = dt
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


# The elementwise functions' fast path by op and dtype: the handle keeps the GIL and declares no
# argument types (see `_fast_table`); it serves arrays of up to _COPY_IN_PLACE elements, computed
# in place on a copy of x (y may be x exactly).
_FAST_ELEMENTWISE: dict[str, dict[np.dtype[Any], CFuncPtr]] = {
    op: {dt: handle(f"ssm_{op}_{A.suffix(dt)}", fast=True, keep_gil=True, undeclared=A.POINTER_VIEWS)
         for dt in (A.F32, A.F64)}
    for op in ("sigmoid", "log_sigmoid")}
# ... and of a larger writable C-contiguous array, into a new array (the GIL released).
_FAST_ELEMENTWISE_LARGE: dict[str, dict[np.dtype[Any], CFuncPtr]] = {
    op: {dt: handle(f"ssm_{op}_{A.suffix(dt)}", fast=True) for dt in (A.F32, A.F64)}
    for op in ("sigmoid", "log_sigmoid")}


def _elementwise(op: str, x: npt.ArrayLike, out: Optional[npt.NDArray[Any]]) -> npt.NDArray[np.floating[Any]]:
    if out is not None and type(x) is _ndarray and x.size and x.flags.c_contiguous:
        pointers = A.direct_pointers(out, x)
        f = _FAST_ELEMENTWISE_LARGE[op].get(x.dtype)
        if pointers is not None and f is not None:
            # Into an out= of x's own layout (the general path's checks are about 3 us of a small
            # call): the GIL released, as the call may be long.
            status = f(*pointers, x.size)
            if status:
                check(status, op)
            return out
    if out is None and type(x) is _ndarray:  # the default call of a native array: one level down
        size = x.size
        if 0 < size <= _COPY_IN_PLACE and x.shape:
            f = _FAST_ELEMENTWISE[op].get(x.dtype)
            if f is not None:
                y: npt.NDArray[np.floating[Any]] = x.copy()
                p = _data(y)
                status = f(p, p, size)
                if status:
                    check(status, op)
                return y
        elif size > _COPY_IN_PLACE:
            # Larger: from a writable C-contiguous x straight into a new array (the general
            # path's layout work is about 2.7 us of a 64x1000 call), releasing the GIL.
            f = _FAST_ELEMENTWISE_LARGE[op].get(x.dtype)
            if f is not None:
                try:
                    px = _addressof(_from_buffer(x))
                except (TypeError, ValueError, BufferError):  # read-only or not C-contiguous
                    px = 0
                if px:
                    y = R.empty_like(x)
                    status = f(px, _data(y), size)
                    if status:
                        check(status, op)
                    return y
    a, cdt, rdt = A.as_real_array(x, "x")
    A.check_out(out, a.shape, rdt)
    xb = np.asarray(a, dtype=cdt, order="C")
    flat = A.Layout(a.shape, tuple(range(a.ndim)))
    target = A.direct_target(out, flat, cdt, xb)
    yb = target if target is not None else R.empty_like(xb)
    check(FUNCS[f"ssm_{op}_{A.suffix(cdt)}"](A.ptr(xb), A.ptr(yb), xb.size), op)
    return A.deliver_array(yb, out, rdt)


def sigmoid(x: npt.ArrayLike, *, out: Optional[npt.NDArray[np.floating[Any]]] = None,
            dtype: Optional[npt.DTypeLike] = None) -> npt.NDArray[np.floating[Any]]:
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise and overflow-free.

    ``softmax([x, 0])[0] == sigmoid(x)``: the two-class softmax is the sigmoid. `out` and `dtype`
    are as for :func:`softmax`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.sigmoid([-800.0, 0.0, 2.0])
    array([0.        , 0.5       , 0.88079708])
    """
    if dtype is not None:
        x = A.cast_to(x, dtype)
    return _elementwise("sigmoid", x, out)


def log_sigmoid(x: npt.ArrayLike, *, out: Optional[npt.NDArray[np.floating[Any]]] = None,
                dtype: Optional[npt.DTypeLike] = None) -> npt.NDArray[np.floating[Any]]:
    """``log(sigmoid(x)) = -log1p(exp(-x))``, elementwise, exact in both tails. `out` and
    `dtype` are as for :func:`softmax`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> ssm.log_sigmoid([-800.0, 0.0, 40.0])
    array([-8.00000000e+02, -6.93147181e-01, -4.24835426e-18])
    """
    if dtype is not None:
        x = A.cast_to(x, dtype)
    return _elementwise("log_sigmoid", x, out)
