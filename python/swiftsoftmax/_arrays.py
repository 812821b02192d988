"""Turning NumPy arguments into the C ABI's [outer, n, inner] buffers and back.

Only translation happens here (dtype promotion, axis bookkeeping, layout, `out=` delivery) and
the checks of the arguments' types that translation needs (labels, the class axis, ints that
must fit in int64, the reduction's name), shared by every module; the numerical checks
(temperature, overlap, sizes, labels in range) happen once, inside the library.
"""

from __future__ import annotations

import ctypes
import operator
import platform
from math import prod
from typing import TYPE_CHECKING, Any, Callable, Optional, Union, overload

import numpy as np
import numpy.typing as npt

# numpy.exceptions is NumPy 1.25 and later; the package supports 1.22, whose AxisError is
# numpy.AxisError (NumPy 2 removed that name).
_AxisError: type[np.exceptions.AxisError] = getattr(getattr(np, "exceptions", np), "AxisError")

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
I64 = np.dtype(np.int64)
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

#: The C ABI's codes of cross-entropy's `reduction`.
REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def as_array(x: object, name: str, expected: str, of: str = "") -> npt.NDArray[Any]:
    """``np.asarray(x)``, refusing None and ragged nested sequences with messages naming `name`.

    Parameters
    ----------
    x : array_like
    name : str
        The argument's name, which starts the messages.
    expected : str
        What the argument should be, for None: ``"<name>: expected <expected>, got None"``.
    of : str, optional
        What the array should hold, for a ragged sequence: ``"<name>: expected a rectangular
        array-like<of>, got a ragged sequence (...)"``.

    Examples
    --------
    >>> from swiftsoftmax._arrays import as_array
    >>> as_array([[1, 2], [3]], "x", "numbers", " of numbers")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: x: expected a rectangular array-like of numbers, got a ragged sequence (...)
    """
    if x is None:
        raise TypeError(f"{name}: expected {expected}, got None")
    try:
        return np.asarray(x)
    except ValueError as e:  # ragged nested sequences
        raise ValueError(f"{name}: expected a rectangular array-like{of}, got a ragged sequence ({e})") from None


def is_bfloat16(dtype: np.dtype[Any]) -> bool:
    """Whether `dtype` is ml_dtypes' bfloat16, the dtype JAX and most GPU pipelines hand to
    NumPy. NumPy knows it only as a void-kind dtype; it is taken like float16: computed in
    float32 and returned in its own dtype. ml_dtypes stays optional: without it, no array has
    this dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._arrays import is_bfloat16
    >>> is_bfloat16(np.dtype(np.float16))
    False
    """
    return dtype.kind == "V" and dtype.name == "bfloat16"


def compute_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    """The dtype the library computes data of floating-point `dtype` in: float32 for float16,
    bfloat16 and float32, float64 for float64 and long double.

    Raises
    ------
    TypeError
        For a `dtype` (an argument of that name) that is not a floating-point dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._arrays import compute_dtype
    >>> compute_dtype(np.float16), compute_dtype("longdouble")
    (dtype('float32'), dtype('float64'))
    """
    try:
        d = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a floating-point dtype, got {dtype!r}") from None
    if is_bfloat16(d):
        return F32
    if d.kind != "f":
        raise TypeError(f"dtype: expected a floating-point dtype, got {d}")
    return F32 if d.itemsize <= 4 else F64


def cast_to(x: object, dtype: npt.DTypeLike, name: str = "x") -> npt.NDArray[Any]:
    """x in the floating-point `dtype` (the `dtype=` keyword of the forward functions, as
    PyTorch's: the input is cast before the operation, which then computes in, and returns,
    that dtype; float16 or bfloat16 input with ``dtype=np.float32`` gives float32 results).

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._arrays import cast_to
    >>> cast_to(np.ones(2, np.float16), np.float32).dtype
    dtype('float32')
    """
    compute_dtype(dtype)  # refuses a dtype that is not floating-point
    a, _, _ = as_real_array(x, name)
    return a.astype(np.dtype(dtype), copy=False)


def as_real_array(x: object, name: str) -> tuple[npt.NDArray[Any], np.dtype[Any], np.dtype[Any]]:
    """Returns (array, compute dtype, result dtype) for a real input.

    float32/float64 are computed natively, float16 and bfloat16 in float32, long double in
    float64; booleans and integers are promoted to float64, as SciPy does.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._arrays import as_real_array
    >>> as_real_array(np.zeros(2, np.float16), "x")[1:]
    (dtype('float32'), dtype('float16'))
    """
    a = as_array(x, name, "an array-like of real numbers", " of real numbers")
    kind = a.dtype.kind
    if kind == "f":
        size = a.dtype.itemsize
        if size == 4:
            return a, F32, F32
        if size == 8:
            return a, F64, F64
        if size == 2:
            return a, F32, np.dtype(np.float16)
        return a, F64, a.dtype.newbyteorder("=")
    if kind in "biu":
        return a, F64, F64
    if is_bfloat16(a.dtype):
        return a, F32, a.dtype
    raise TypeError(
        f"{name}: expected real floating-point, integer or boolean values, got dtype {a.dtype}"
    )


def as_weighted_arrays(x: object, b: object, name: str = "x"
                       ) -> tuple[npt.NDArray[Any], Optional[npt.NDArray[Any]], np.dtype[Any]]:
    """(x, b, result dtype) for logsumexp's input and its scale factors `b` (None: no scale
    factors), promoted together as SciPy does (``np.result_type``; booleans and integers to
    float64) and broadcast against each other. The result dtype may be complex; the caller
    picks the path.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._arrays import as_weighted_arrays
    >>> a, b, dt = as_weighted_arrays(np.zeros(2, np.float32), [[1], [-1]])
    >>> a.shape, b.shape, dt
    ((2, 2), (2, 2), dtype('float64'))
    """
    a = as_array(x, name, "an array-like of numbers", " of numbers")
    if is_bfloat16(a.dtype):  # as float16: computed in float32, returned as bfloat16
        bf = a.dtype
        a2, w2, dt2 = as_weighted_arrays(a.astype(F32), None if b is None else _bfloat16_as_f32(b), name)
        narrow = b is None or np.asarray(b).dtype.kind in "biu" or is_bfloat16(np.asarray(b).dtype)
        return a2, w2, bf if narrow and dt2 == F32 else dt2
    if b is None:
        kinds: str = a.dtype.kind
        dt = a.dtype
        w = None
    else:
        w = as_array(b, "b", "an array-like of numbers", " of numbers")
        kinds = a.dtype.kind + w.dtype.kind
        dt = np.result_type(a.dtype, w.dtype) if not set(kinds) - set("biufc") else a.dtype
    for k, nm, arr in ((a.dtype.kind, name, a), (w.dtype.kind if w is not None else "f", "b", w)):
        if k not in "biufc":
            assert arr is not None
            raise TypeError(f"{nm}: expected real or complex floating-point, integer or boolean values, "
                            f"got dtype {arr.dtype}")
    if dt.kind in "biu":
        dt = F64
    if w is not None:
        try:
            a, w = np.broadcast_arrays(a, w)
        except ValueError:
            raise ValueError(f"b: expected scale factors broadcastable with x's shape {a.shape}, "
                             f"got shape {w.shape}") from None
    return a, w, dt.newbyteorder("=")


def _bfloat16_as_f32(b: object) -> object:
    w = np.asarray(b)
    return w.astype(F32) if is_bfloat16(w.dtype) else b


def real_scalar(value: object, name: str) -> float:
    """A real scalar argument (temperature, label_smoothing) as a Python float. Only its type
    is checked here; its value is checked by the library, whose message is relayed."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:  # a huge int: an infinity the library refuses by value
        return float("inf") if value > 0 else float("-inf")


def suffix(dtype: np.dtype[Any]) -> str:
    """The C ABI's name suffix of a compute dtype: ``"f32"`` or ``"f64"``."""
    return "f32" if dtype == F32 else "f64"


def as_int(value: Any, name: str) -> int:
    """An int argument as a Python int: any integer (NumPy's too), not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._arrays import as_int
    >>> as_int(np.int8(3), "num_classes")
    3
    >>> as_int(3.0, "num_classes")
    Traceback (most recent call last):
    ...
    TypeError: num_classes: expected an int, got float
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}") from None


def ignore_index_arg(ignore_index: object) -> int:
    """cross-entropy's `ignore_index` as a Python int that fits in int64.

    Examples
    --------
    >>> from swiftsoftmax._arrays import ignore_index_arg
    >>> ignore_index_arg(2**63)
    Traceback (most recent call last):
    ...
    ValueError: ignore_index: must fit in int64, got 9223372036854775808
    """
    v = as_int(ignore_index, "ignore_index")
    if not I64_MIN <= v <= I64_MAX:
        raise ValueError(f"ignore_index: must fit in int64, got {v}")
    return v


def reduction_code(reduction: object) -> int:
    """The C ABI's code of cross-entropy's `reduction` ('none', 'mean' or 'sum').

    Examples
    --------
    >>> from swiftsoftmax._arrays import reduction_code
    >>> reduction_code("sum")
    2
    >>> reduction_code("avg")
    Traceback (most recent call last):
    ...
    ValueError: reduction: expected 'none', 'mean' or 'sum', got 'avg'
    """
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected 'none', 'mean' or 'sum', got {reduction!r}")
    return REDUCTIONS[reduction]


def as_labels(labels: object, name: str) -> npt.NDArray[np.int64]:
    """Integer labels of any integer dtype as a C-contiguous int64 array.

    Values above int64 (of a uint64 array) saturate to int64's maximum, so the library reports
    them out of range rather than wrapped to negative numbers.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._arrays import as_labels
    >>> as_labels(np.array([1, 2**64 - 1], np.uint64), "target")
    array([                  1, 9223372036854775807])
    >>> as_labels([0.5], "target")
    Traceback (most recent call last):
    ...
    TypeError: target: expected integer class labels, got dtype float64
    """
    lab = as_array(labels, name, "integer class labels", " of integer labels")
    if lab.size == 0 and lab.dtype.kind == "f":
        lab = lab.astype(I64)  # an empty list arrives as float64
    if lab.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class labels, got dtype {lab.dtype}")
    if lab.dtype.kind == "u" and lab.dtype.itemsize == 8 and lab.size and lab.max() > I64_MAX:
        # Values above int64 are out of range whatever the class count: saturate, don't wrap.
        lab = np.minimum(lab, np.uint64(I64_MAX))
    return np.asarray(lab, dtype=I64, order="C")


def target_labels(target: object, shape: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """Class-index targets (`target`, as :func:`as_labels`) of the logits' shape without the class
    axis, `shape`.

    Examples
    --------
    >>> from swiftsoftmax._arrays import target_labels
    >>> target_labels([[0, 1]], (2,))
    Traceback (most recent call last):
    ...
    ValueError: target: class-index targets must have the logits' shape without the class axis (2,), got (1, 2)
    """
    t = as_labels(target, "target")
    if t.shape != shape:
        raise ValueError(f"target: class-index targets must have the logits' shape without the class "
                         f"axis {shape}, got {t.shape}")
    return t


def class_axis(axis: object, ndim: int, name: str = "logits", role: str = "the classes") -> int:
    """The one axis (the class axis, or the softmax axis of split statistics) of an array `name`
    of `ndim` dimensions, as a non-negative int; `role` says what the axis holds.

    Examples
    --------
    >>> from swiftsoftmax._arrays import class_axis
    >>> class_axis(-1, 3)
    2
    >>> class_axis(None, 3)
    Traceback (most recent call last):
    ...
    TypeError: axis: expected one int (the class axis), got None
    >>> class_axis(-1, 0, "x", "the softmax axis")
    Traceback (most recent call last):
    ...
    ValueError: x: expected at least one dimension (the softmax axis), got a scalar
    """
    if ndim == 0:
        raise ValueError(f"{name}: expected at least one dimension ({role}), got a scalar")
    if isinstance(axis, (bool, np.bool_)) or axis is None or isinstance(axis, (tuple, list)):
        raise TypeError(f"axis: expected one int (the class axis), got {axis!r}")
    (a,) = normalize_axes(axis, ndim)
    return a


def normalize_axes(axis: object, ndim: int, name: str = "axis") -> tuple[int, ...]:
    """axis as a sorted tuple of non-negative ints; None means every axis."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        try:
            i = as_int(a, name)
        except TypeError:
            raise TypeError(f"{name}: expected an int, a tuple of ints or None, got {axis!r}") from None
        if not -ndim <= i < ndim:
            raise _AxisError(i, ndim, msg_prefix=name)
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

    def arrange(self, a: npt.NDArray[Any], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
        """`a` as a C-contiguous buffer of `dtype` in [outer, n, inner] order (a view if possible)."""
        if self.perm is not None:
            a = np.transpose(a, self.perm)
        return np.asarray(a, dtype=dtype, order="C")

    def restore(self, buf: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """The inverse of `arrange` for a result of the input's full shape."""
        if self.perm is None:
            return buf.reshape(self.shape)
        moved = buf.reshape(tuple(self.shape[d] for d in self.perm))
        return np.transpose(moved, np.argsort(self.perm))

    def reduced_shape(self, keepdims: bool) -> tuple[int, ...]:
        if keepdims:
            return tuple(1 if d in self.axes else s for d, s in enumerate(self.shape))
        return self.kept_shape


def as_mask(where: npt.ArrayLike, shape: tuple[int, ...], name: str = "where") -> npt.NDArray[np.bool_]:
    """`where` broadcast to `shape` as a boolean array."""
    m = np.asarray(where)
    if m.dtype != np.bool_:
        raise TypeError(f"{name}: expected a boolean mask, got dtype {m.dtype}")
    try:
        return np.broadcast_to(m, shape)
    except ValueError:
        raise ValueError(f"{name}: expected a mask broadcastable to {shape}, got shape {m.shape}") from None


def check_out(out: object, shape: tuple[int, ...], dtype: np.dtype[Any], name: str = "out") -> None:
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


def direct_target(out: Optional[npt.NDArray[Any]], layout: Layout, dtype: np.dtype[Any],
                  *inputs: Optional[npt.NDArray[Any]]) -> Optional[npt.NDArray[Any]]:
    """`out` itself when the library can write into it: same layout and dtype, C-contiguous,
    and either exactly one of the inputs (in place) or disjoint from all of them."""
    if out is None or layout.perm is not None or out.dtype != dtype or not out.flags.c_contiguous:
        return None
    for a in inputs:
        if a is None or not np.may_share_memory(out, a):
            continue
        exact = ptr(a) == ptr(out) and a.nbytes == out.nbytes and a.dtype == out.dtype
        if not exact:
            return None
    return out


def direct_pointers(out: Optional[npt.NDArray[Any]], x: npt.NDArray[Any]) -> Optional[tuple[int, int]]:
    """The data addresses of `x` and of `out` when a same-shape function of `x` can be written
    straight into `out`, with none of the general path's checks: `out` an ndarray of x's shape
    and dtype, C-contiguous and writeable, and either x itself (in place) or apart from it. None
    where it cannot: the general path then decides (and names what is wrong). `x` must be a
    non-empty C-contiguous ndarray, which the caller has checked (softmax's short path knew it
    already: each attribute read costs 50-130 ns of a 2 us call). The addresses serve the call
    as they are."""
    if type(out) is not np.ndarray or out.dtype != x.dtype or out.shape != x.shape:
        return None
    flags = out.flags
    if not (flags.c_contiguous and flags.writeable):
        return None
    if _DATA_FIELD:
        px: int = _pointer_at(id(x) + _DATA_FIELD).value  # type: ignore[assignment]  # non-empty: not NULL
        py: int = _pointer_at(id(out) + _DATA_FIELD).value  # type: ignore[assignment]
    else:
        px = ptr(x)
        py = ptr(out)
    if px == py:
        return px, py
    nbytes: int = x.nbytes
    return (px, py) if px + nbytes <= py or py + nbytes <= px else None


def deliver(result: npt.NDArray[Any], out: Optional[npt.NDArray[Any]], result_dtype: np.dtype[Any]
            ) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
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


if TYPE_CHECKING:
    # For results of an input's shape, which are 0-d (then NumPy scalars, as NumPy returns them)
    # only for a 0-d input: typed as the arrays they are for any other input (a NumPy scalar has
    # most of an array's attributes), without the run-time cost of a cast on every call.
    def deliver_array(result: npt.NDArray[Any], out: Optional[npt.NDArray[Any]],
                      result_dtype: np.dtype[Any]) -> npt.NDArray[np.floating[Any]]: ...
else:
    deliver_array = deliver


_addressof = ctypes.addressof
# NumPy's stubs give ndarray the buffer protocol (__buffer__) only from Python 3.12 on.
_from_buffer: Callable[[Any], ctypes.c_char] = ctypes.c_char.from_buffer
_pointer_at: Callable[[int], ctypes.c_void_p] = ctypes.c_void_p.from_address


def _data_field() -> int:
    """Where an ndarray object keeps the address of its data, or 0 where it is not read there.

    NumPy's array struct begins with the object header, then the data pointer (the field the C
    API's ``PyArray_DATA`` reads). In CPython an object's id is its address, so the pointer can
    be read through a ctypes view of that field. The offset is confirmed against
    ``a.ctypes.data`` on arrays of several kinds before it is used.
    """
    if platform.python_implementation() != "CPython":
        return 0
    offset = object.__basicsize__
    base = np.arange(6.0)
    probes = (base, base[1:], base[::2], np.empty((2, 3), np.float32), np.empty(0), base.reshape(2, 3).T)
    ok = all(_pointer_at(id(a) + offset).value == a.ctypes.data for a in probes)
    return offset if ok else 0


_DATA_FIELD = _data_field()
# Whether `data_pointer` gives ctypes objects, which handles with no declared argument types
# take as pointers (`_lib.handle`'s `undeclared`).
POINTER_VIEWS = _DATA_FIELD != 0


def data_pointer(a: npt.NDArray[Any]) -> Union[ctypes.c_void_p, int]:
    """The address of an ndarray's data, as a ctypes argument, for the small calls' fast paths.

    A view of the array's own data-pointer field (see `_data_field`): about 0.13 us, where the
    buffer protocol takes 0.2-0.35 us (a fresh array builds its buffer description) and
    ``a.ctypes.data`` 1 us. It works for read-only arrays too. `a` must be an ndarray (or a
    subclass) that stays alive for the call; the view holds no reference to it.

    Examples
    --------
    >>> import ctypes, numpy as np
    >>> from swiftsoftmax._arrays import data_pointer
    >>> a = np.zeros(3)
    >>> ctypes.cast(data_pointer(a), ctypes.c_void_p).value == a.ctypes.data
    True
    """
    if _DATA_FIELD:
        return _pointer_at(id(a) + _DATA_FIELD)
    address: int = ptr(a)
    return address


@overload
def ptr(a: npt.NDArray[Any]) -> int: ...
@overload
def ptr(a: Optional[npt.NDArray[Any]]) -> int | None: ...
def ptr(a: Optional[npt.NDArray[Any]]) -> int | None:
    """The address of an array's data: read from the array object (see `_data_field`), else
    through the buffer protocol (~0.3 us, against ~1-2 us for ``a.ctypes.data``, which remains
    the way for read-only or empty arrays)."""
    if a is None:
        return None
    if _DATA_FIELD and (type(a) is np.ndarray or isinstance(a, np.ndarray)):
        address: Optional[int] = _pointer_at(id(a) + _DATA_FIELD).value
        return address if address is not None else a.ctypes.data
    try:
        return _addressof(_from_buffer(a))
    except (TypeError, ValueError, BufferError):
        return a.ctypes.data
