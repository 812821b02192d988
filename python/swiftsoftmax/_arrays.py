"""Turning NumPy arguments into the C ABI's [outer, n, inner] buffers and back.

Only translation happens here (dtype promotion, axis bookkeeping, layout, `out=` delivery);
the numerical checks (temperature, overlap, sizes) happen once, inside the library.
"""

from __future__ import annotations

import ctypes
import operator
from math import prod

import numpy as np

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def as_real_array(x, name: str) -> tuple[np.ndarray, np.dtype, np.dtype]:
    """Returns (array, compute dtype, result dtype) for a real input.

    float32/float64 are computed natively, float16 in float32, long double in float64;
    booleans and integers are promoted to float64, as SciPy does.
    """
    if x is None:
        raise TypeError(f"{name}: expected an array-like of real numbers, got None")
    try:
        a = np.asarray(x)
    except ValueError as e:  # ragged nested sequences
        raise ValueError(f"{name}: expected a rectangular array-like of real numbers, got a ragged sequence ({e})") from None
    kind = a.dtype.kind
    if kind == "f":
        size = a.dtype.itemsize
        if size == 4:
            return a, _F32, _F32
        if size == 8:
            return a, _F64, _F64
        if size == 2:
            return a, _F32, np.dtype(np.float16)
        return a, _F64, a.dtype.newbyteorder("=")
    if kind in "biu":
        return a, _F64, _F64
    raise TypeError(
        f"{name}: expected real floating-point, integer or boolean values, got dtype {a.dtype}"
    )


def real_scalar(value, name: str) -> float:
    """A real scalar argument (temperature, label_smoothing) as a Python float. Only its type
    is checked here; its value is checked by the library, whose message is relayed."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:  # a huge int: an infinity the library refuses by value
        return float("inf") if value > 0 else float("-inf")


def suffix(dtype: np.dtype) -> str:
    return "f32" if dtype == _F32 else "f64"


def normalize_axes(axis, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """axis as a sorted tuple of non-negative ints; None means every axis."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if isinstance(a, (bool, np.bool_)):
            raise TypeError(f"{name}: expected an int, a tuple of ints or None, got {axis!r}")
        try:
            i = operator.index(a)
        except TypeError:
            raise TypeError(f"{name}: expected an int, a tuple of ints or None, got {axis!r}") from None
        if not -ndim <= i < ndim:
            raise np.exceptions.AxisError(i, ndim, msg_prefix=name)
        out.append(i % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: expected distinct axes, got a repeated axis in {axis!r}")
    return tuple(sorted(out))


class Layout:
    """How an array of `shape` is seen as C-contiguous [outer, n, inner] for reducing `axes`.

    When the axes are adjacent the array is used as it is (no copy for a C-contiguous input);
    otherwise they are moved to the end first.
    """

    def __init__(self, shape: tuple[int, ...], axes: tuple[int, ...]):
        self.shape = shape
        self.axes = axes
        rest = [d for d in range(len(shape)) if d not in axes]
        adjacent = not axes or axes[-1] - axes[0] + 1 == len(axes)
        self.perm = None
        if adjacent:
            first = axes[0] if axes else len(shape)
            last = axes[-1] + 1 if axes else len(shape)
            self.outer = prod(shape[:first])
            self.n = prod(shape[first:last])
            self.inner = prod(shape[last:])
        else:
            self.perm = tuple(rest) + axes
            self.outer = prod(shape[d] for d in rest)
            self.n = prod(shape[d] for d in axes)
            self.inner = 1
        self.kept_shape = tuple(shape[d] for d in rest)

    @property
    def dims(self) -> tuple[int, int, int]:
        return self.outer, self.n, self.inner

    def arrange(self, a: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """`a` as a C-contiguous buffer of `dtype` in [outer, n, inner] order (a view if possible)."""
        if self.perm is not None:
            a = np.transpose(a, self.perm)
        return np.asarray(a, dtype=dtype, order="C")

    def restore(self, buf: np.ndarray) -> np.ndarray:
        """The inverse of `arrange` for a result of the input's full shape."""
        if self.perm is None:
            return buf.reshape(self.shape)
        moved = buf.reshape(tuple(self.shape[d] for d in self.perm))
        return np.transpose(moved, np.argsort(self.perm))

    def reduced_shape(self, keepdims: bool) -> tuple[int, ...]:
        if keepdims:
            return tuple(1 if d in self.axes else s for d, s in enumerate(self.shape))
        return self.kept_shape


def as_mask(where, shape: tuple[int, ...], name: str = "where") -> np.ndarray:
    """`where` broadcast to `shape` as a boolean array."""
    m = np.asarray(where)
    if m.dtype != np.bool_:
        raise TypeError(f"{name}: expected a boolean mask, got dtype {m.dtype}")
    try:
        return np.broadcast_to(m, shape)
    except ValueError:
        raise ValueError(f"{name}: expected a mask broadcastable to {shape}, got shape {m.shape}") from None


def check_out(out, shape: tuple[int, ...], dtype: np.dtype, name: str = "out") -> None:
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {out.shape}")
    if out.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype}, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: expected a writeable array, got a read-only one")


def direct_target(out, layout: Layout, dtype: np.dtype, *inputs: np.ndarray):
    """`out` itself when the library can write into it: same layout and dtype, C-contiguous,
    and either exactly one of the inputs (in place) or disjoint from all of them."""
    if out is None or layout.perm is not None or out.dtype != dtype or not out.flags.c_contiguous:
        return None
    for a in inputs:
        if a is None or not np.may_share_memory(out, a):
            continue
        exact = a.ctypes.data == out.ctypes.data and a.nbytes == out.nbytes and a.dtype == out.dtype
        if not exact:
            return None
    return out


def deliver(result: np.ndarray, out, result_dtype: np.dtype):
    """The value returned to the caller: `out` (filled), or the result in its dtype; 0-d
    results become NumPy scalars, as NumPy and SciPy return them."""
    if result.dtype != result_dtype:
        result = result.astype(result_dtype)
    if out is not None:
        if result is not out:
            np.copyto(out, result)
        return out
    if result.ndim == 0:
        return result[()]
    return result


_addressof = ctypes.addressof
_from_buffer = ctypes.c_char.from_buffer


def ptr(a) -> int | None:
    """The address of an array's data. Through the buffer protocol it costs ~0.3 us, against
    ~2 us for ``a.ctypes.data``, which remains the way for read-only or empty arrays."""
    if a is None:
        return None
    try:
        return _addressof(_from_buffer(a))
    except (TypeError, ValueError, BufferError):
        return a.ctypes.data
