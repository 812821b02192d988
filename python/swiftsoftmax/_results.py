"""Memory for large results, kept from one call to the next (docs/performance.md, "Fresh results").

A result array of 32 MiB or more comes from a fresh ``mmap`` when NumPy allocates it: glibc's
``malloc`` serves such sizes by ``mmap`` (its dynamic threshold stops rising at 32 MiB), and the
kernel faults every page in, zeroed, on first write. Smaller ones fare little better once a call
returns several: freed together at the top of the heap they pass glibc's trim threshold (twice the
mmap threshold) and go back to the system, so the next call faults them in again (a float64
4096×1000 KL gradient pair, 2×31 MiB). For a 32×262144 float32 softmax that costs
more than the softmax itself. ONNX Runtime avoids it with an arena; this module does the same for
our results alone: the block of a large result that died is kept, its pages resident, and handed
to the next call that needs a block of about its size. Arrays are NumPy arrays like any other;
their ``base`` is the block, so the block returns here only when every view of it has died.

``SWIFTSOFTMAX_RESULT_CACHE_MB`` bounds the memory kept (default 256; 0 keeps nothing), and
:func:`empty_cache` gives it back to the system.
"""

from __future__ import annotations

import ctypes
import os
import threading
from math import prod
from typing import Any

import numpy as np
import numpy.typing as npt

#: Results smaller than this come from NumPy: glibc reuses their memory already.
THRESHOLD = 8 << 20
_PAGE = 4096


def _limit_from_env() -> int:
    text = os.environ.get("SWIFTSOFTMAX_RESULT_CACHE_MB", "256")
    try:
        return max(0, int(text)) << 20
    except ValueError:
        raise ValueError(f"SWIFTSOFTMAX_RESULT_CACHE_MB: expected a whole number of MiB, got {text!r}") from None


_LIMIT = _limit_from_env()
_np_empty = np.empty
_libc = ctypes.CDLL(None)
_libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_size_t]
_libc.posix_memalign.restype = ctypes.c_int
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None

_lock = threading.Lock()
_kept: list[tuple[int, int]] = []  # (bytes, address), oldest first
_kept_bytes = 0


class _Block:
    """A block of memory seen by NumPy through the array interface; it returns to the cache
    when the last array over it dies."""

    __slots__ = ("__array_interface__", "_address", "_size")

    def __init__(self, address: int, size: int, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self._address = address
        self._size = size
        self.__array_interface__ = {"data": (address, False), "shape": shape, "typestr": dtype.str,
                                    "version": 3}

    def __del__(self) -> None:
        try:
            _release(self._address, self._size)
        except Exception:  # interpreter shutdown: the process gives the memory back
            pass


def _acquire(nbytes: int) -> tuple[int, int]:
    """A kept block of at least `nbytes` and at most a quarter more, or a new one."""
    global _kept_bytes
    with _lock:
        best = -1
        for i, (size, _) in enumerate(_kept):
            if nbytes <= size <= nbytes + nbytes // 4 and (best < 0 or size < _kept[best][0]):
                best = i
        if best >= 0:
            size, address = _kept.pop(best)
            _kept_bytes -= size
            return address, size
    size = -(-nbytes // _PAGE) * _PAGE
    p = ctypes.c_void_p()
    if _libc.posix_memalign(ctypes.byref(p), _PAGE, size) != 0 or not p.value:
        raise MemoryError(f"cannot allocate {size} bytes for a result")
    return p.value, size


def _release(address: int, size: int) -> None:
    global _kept_bytes
    freed: list[int] = []
    with _lock:
        if size <= _LIMIT:
            while _kept and _kept_bytes + size > _LIMIT:
                old_size, old = _kept.pop(0)
                _kept_bytes -= old_size
                freed.append(old)
            _kept.append((size, address))
            _kept_bytes += size
        else:
            freed.append(address)
    for a in freed:
        _libc.free(a)


def empty(shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """``np.empty(shape, dtype)``, C-contiguous, from the cache when the result is large."""
    dt = np.dtype(dtype)
    nbytes = prod(shape) * dt.itemsize
    if nbytes < THRESHOLD or _LIMIT == 0 or nbytes >= 1 << 62:  # NumPy refuses the absurd sizes
        return np.empty(shape, dtype=dt)
    address, size = _acquire(nbytes)
    return np.asarray(_Block(address, size, tuple(shape), dt))


def empty_like(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.empty_like(a)`` for a C-contiguous `a`, from the cache when the result is large."""
    # A small one straight from NumPy: its size is known without `empty`'s dtype and product
    # (0.3 us of a 64x1000 call).
    if a.nbytes < THRESHOLD:
        return _np_empty(a.shape, a.dtype)
    return empty(a.shape, a.dtype)


def empty_cache() -> int:
    """Give the memory kept for large results back to the system.

    Results of 8 MiB or more reuse the memory of earlier results that died, which spares the
    page faults of fresh memory (at most ``SWIFTSOFTMAX_RESULT_CACHE_MB``, default 256 MiB, is
    kept). Arrays still alive are not affected.

    Returns
    -------
    int
        The number of bytes given back.

    Examples
    --------
    >>> import numpy as np, swiftsoftmax
    >>> y = swiftsoftmax.softmax(np.zeros((32, 262144), dtype=np.float32))
    >>> del y
    >>> swiftsoftmax.empty_cache() >= 0
    True
    """
    global _kept_bytes
    with _lock:
        blocks = list(_kept)
        _kept.clear()
        _kept_bytes = 0
    for _, address in blocks:
        _libc.free(address)
    return sum(size for size, _ in blocks)


def cached_bytes() -> int:
    """The bytes kept for large results now (see :func:`empty_cache`)."""
    return _kept_bytes
