"""Loading libswiftsoftmax.so and declaring its C signatures (one table for every function)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

_HERE = Path(__file__).resolve().parent
_LIBNAME = "libswiftsoftmax.so"

_P = ctypes.c_void_p
_Z = ctypes.c_size_t
_I64 = ctypes.c_int64
_INT = ctypes.c_int
_STR = ctypes.c_char_p
_D = ctypes.c_double

# Each entry: name (with {t} for the f32/f64 twins), argument types ({s} is the scalar type).
# Every function returns an int status unless listed in _RESTYPES.
_SIGNATURES: dict[str, tuple[Union[type[ctypes._SimpleCData[Any]], str], ...]] = {
    "ssm_softmax_{t}": (_P, _P, _Z, _Z, _Z, "s"),
    "ssm_log_softmax_{t}": (_P, _P, _Z, _Z, _Z, "s"),
    "ssm_softmax_inplace_{t}": (_P, _Z, _Z),
    "ssm_log_softmax_inplace_{t}": (_P, _Z, _Z),
    "ssm_softmax_masked_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_log_softmax_masked_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_logsumexp_{t}": (_P, _P, _Z, _Z, _Z),
    "ssm_logsumexp_masked_{t}": (_P, _P, _P, _Z, _Z, _Z),
    "ssm_logsumexp_scaled_{t}": (_P, _P, _P, _P, _Z, _Z, _Z),
    "ssm_logsumexp_scaled_masked_{t}": (_P, _P, _P, _P, _P, _Z, _Z, _Z),
    "ssm_sigmoid_{t}": (_P, _P, _Z),
    "ssm_log_sigmoid_{t}": (_P, _P, _Z),
    "ssm_normalize_{t}": (_P, _P, _Z, _Z, _Z),
    "ssm_logcumsumexp_{t}": (_P, _P, _Z, _Z, _Z),
    "ssm_softmax_jacobian_{t}": (_P, _P, _Z, _Z, _Z, "s"),
    "ssm_softmax_vjp_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_log_softmax_vjp_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_one_hot_{t}": (_P, _Z, _Z, _P),
    "ssm_cross_entropy_{t}": (_P, _P, _P, _Z, _Z, _Z, _I64, "s", _INT, _P, _P),
    "ssm_cross_entropy_soft_{t}": (_P, _P, _P, _Z, _Z, _Z, "s", _INT, _P, _P),
    "ssm_cross_entropy_ex_{t}": (_P, _P, _P, _P, _Z, _Z, _Z, _I64, "s", _INT, _P, _P, _P, _P),
    "ssm_cross_entropy_soft_ex_{t}": (_P, _P, _P, _P, _Z, _Z, _Z, "s", _INT, _P, _P, _P, _P),
    "ssm_binary_cross_entropy_with_logits_{t}": (_P, _P, _P, _P, _Z, _Z, _INT, _P, _P),
    "ssm_kl_div_{t}": (_P, _P, _Z, _Z, _Z, "s", _INT, _P, _P, _P),
    "ssm_entropy_{t}": (_P, _Z, _Z, _Z, "s", _P, _P),
    "ssm_nll_loss_{t}": (_P, _P, _P, _Z, _Z, _Z, _I64, _INT, _P),
    "ssm_softmax_stats_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_softmax_stats_precise_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_softmax_stats_merge": (_P, _P, _P, _Z, _D),
    "ssm_softmax_from_stats_{t}": (_P, _P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_log_softmax_from_stats_{t}": (_P, _P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_logsumexp_from_stats_{t}": (_P, _P, _Z, "s"),
    "ssm_ce_stats_{t}": (_P, _P, _P, _Z, _Z, _Z, _Z, _Z, _I64, _P),
    "ssm_ce_stats_merge": (_P, _P, _P, _Z),
    "ssm_cross_entropy_from_stats": (_P, _P, _P, _Z, _Z, _I64, _D, _INT, _P),
    "ssm_cross_entropy_denominator": (_P, _P, _Z, _Z, _I64, _P),
    "ssm_cross_entropy_grad_from_stats_{t}": (_P, _P, _P, _Z, _Z, _Z, _Z, _Z, _I64, _D, _P, _D, _P),
    "ssm_status_message": (_INT,),
    "ssm_last_error_message": (),
    "ssm_version": (),
    "ssm_isa": (),
    "ssm_available_isas": (),
    "ssm_set_num_threads": (_INT,),
    "ssm_get_num_threads": (),
}
_RESTYPES = {
    "ssm_status_message": _STR,
    "ssm_last_error_message": _STR,
    "ssm_version": _STR,
    "ssm_isa": _STR,
    "ssm_available_isas": _STR,
}
# Functions newer than some libraries the package still loads: FUNCS lacks them when the loaded
# library does (see `optional`).
_OPTIONAL = {"ssm_available_isas"}
_SCALARS = {"f32": ctypes.c_float, "f64": ctypes.c_double}


def _candidates() -> list[Path]:
    found = [_HERE / _LIBNAME]
    env = os.environ.get("SWIFTSOFTMAX_LIBRARY")
    if env:
        found.append(Path(env))
    found.append(_HERE.parent.parent / ".build" / "release" / _LIBNAME)
    return found


def _load() -> tuple[ctypes.CDLL, Path]:
    for path in _candidates():
        if path.is_file():
            return ctypes.CDLL(str(path)), path
    tried = "\n  ".join(str(p) for p in _candidates())
    raise ImportError(
        f"swiftsoftmax: cannot find {_LIBNAME}. Looked in:\n  {tried}\n"
        "Build it from the checkout with `make` (runs `swift build -c release`), "
        "or set SWIFTSOFTMAX_LIBRARY to the library's path."
    )


def _argtypes(pattern: str, t: str) -> list[Any]:
    """The declared argument types of `pattern` for the scalar twin `t` ("f32", "f64" or "")."""
    return [_SCALARS.get(t) if a == "s" else a for a in _SIGNATURES[pattern]]


def _twins(pattern: str) -> tuple[str, ...]:
    return tuple(_SCALARS) if "{t}" in pattern else ("",)


# Every function's name -> (its pattern in _SIGNATURES, its scalar twin).
_ENTRIES = {pattern.format(t=t): (pattern, t) for pattern in _SIGNATURES for t in _twins(pattern)}


def _declare(lib: ctypes.CDLL) -> dict[str, CFuncPtr]:
    funcs: dict[str, CFuncPtr] = {}
    for name, (pattern, t) in _ENTRIES.items():
        if name in _OPTIONAL and not hasattr(lib, name):
            continue
        f = getattr(lib, name)
        f.argtypes = _argtypes(pattern, t)
        f.restype = _RESTYPES.get(name, ctypes.c_int)
        funcs[name] = f
    return funcs


LIB, LIBRARY_PATH = _load()
FUNCS = _declare(LIB)

# The same library as a PyDLL: its calls keep the GIL (see `handle`).
_GIL_HELD = ctypes.PyDLL(str(LIBRARY_PATH))


def handle(name: str, *, fast: bool = False, keep_gil: bool = False, undeclared: bool = False) -> CFuncPtr:
    """A new ctypes handle on the library function `name`, declared from the table.

    ``FUNCS[name]`` is the handle every ordinary call uses. The fast paths of small calls take
    handles of their own (indexing a library, unlike attribute access, gives a new handle), so
    that they may declare the function differently.

    Parameters
    ----------
    name : str
        A function of the table, e.g. ``"ssm_softmax_f32"``.
    fast : bool, default False
        Declare every size (``c_size_t`` in the table) as ``c_void_p``. ctypes converts a Python
        int into a c_size_t in ~170 ns but into a c_void_p in ~75 ns, which is most of a small
        call; on LP64 ABIs both travel in the same 64-bit integer registers.
    keep_gil : bool, default False
        Take the handle from the library opened as a PyDLL, whose calls keep the GIL. A call of
        a few microseconds on the caller's thread then saves releasing and taking the GIL back
        (about 60 ns); a long call would stall every other Python thread.
    undeclared : bool, default False
        Declare no argument types, for the smallest calls (about 0.1 us of a 1.2 us call).
        ctypes then converts a Python int itself, as a C int, rather than through a converter's
        `from_param` call; libffi widens an int argument to its whole 64-bit register (it
        extends every integer argument on x86-64 and AArch64), so a ``size_t`` parameter
        receives it whole, and an int beyond a C int is refused (ArgumentError), never cut. The
        caller passes every pointer as a ctypes object (`_arrays.data_pointer`), every
        floating-point scalar as a ctypes scalar and sizes below 2^31.

    Returns
    -------
    ctypes function pointer
        With the table's argument and result types (sizes as c_void_p when `fast`; no argument
        types when `undeclared`).

    Examples
    --------
    >>> from swiftsoftmax._lib import handle
    >>> f = handle("ssm_softmax_inplace_f64", fast=True, keep_gil=True)
    >>> [t.__name__ for t in f.argtypes]
    ['c_void_p', 'c_void_p', 'c_void_p']
    """
    pattern, t = _ENTRIES[name]
    f = (_GIL_HELD if keep_gil else LIB)[name]
    if not undeclared:  # a new handle has none
        f.argtypes = [_P if fast and a is _Z else a for a in _argtypes(pattern, t)]
    f.restype = _RESTYPES.get(name, ctypes.c_int)
    return f


def optional(name: str) -> CFuncPtr | None:
    """``FUNCS[name]``, or None when the loaded library is older than the function `name`.

    Examples
    --------
    >>> from swiftsoftmax._lib import optional
    >>> optional("ssm_version") is not None
    True
    """
    return FUNCS.get(name)


# The library runs its best tier when SWIFTSOFTMAX_ISA names one the CPU lacks, and says so in
# ssm_isa(); a test run that forced a tier must not silently measure another.
_isa: str = FUNCS["ssm_isa"]().decode()
if "SWIFTSOFTMAX_ISA=" in _isa:
    raise ImportError(f"swiftsoftmax: {_isa[_isa.index('(') + 1:-1]}")

# Status codes of include/swiftsoftmax.h (enum ssm_status).
OK = 0
NULL_POINTER = 1
INVALID_SHAPE = 2
INVALID_ARGUMENT = 3
LABEL_OUT_OF_RANGE = 4
OVERLAPPING_BUFFERS = 5


def check(status: int, func: str, *, labels: str | None = None) -> None:
    """Turns a non-zero status into a ValueError carrying the library's own explanation.

    Parameters
    ----------
    status : int
        What the library function returned (``OK`` is 0).
    func : str
        The public function's name, which starts the message.
    labels : str, optional
        The argument that holds the class labels, for the functions that take some: the library
        names the first label out of range as ``labels[k]`` (k: its flat index), and the message
        says which argument that is.

    Raises
    ------
    ValueError
        ``"<func>: <the library's explanation>"``, or ``"<func>: <labels>: ..."`` for a label
        out of range.

    Examples
    --------
    >>> from swiftsoftmax._lib import LABEL_OUT_OF_RANGE, OK, check
    >>> check(OK, "softmax")
    >>> check(LABEL_OUT_OF_RANGE, "cross_entropy", labels="target")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: cross_entropy: target: ...
    """
    if status == OK:
        return
    if labels is not None and status == LABEL_OUT_OF_RANGE:
        func = f"{func}: {labels}"
    detail: str = FUNCS["ssm_last_error_message"]().decode()
    summary: str = FUNCS["ssm_status_message"](status).decode()
    raise ValueError(f"{func}: {detail or summary}")


def text(name: str) -> str:
    """The string a ``const char *`` function of the library returns, e.g. ``text("ssm_isa")``."""
    value: bytes = FUNCS[name]()
    return value.decode()
