"""Loading libswiftsoftmax.so and declaring its C signatures (one table for every function)."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

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
_SIGNATURES: dict[str, tuple] = {
    "ssm_softmax_{t}": (_P, _P, _Z, _Z, _Z, "s"),
    "ssm_log_softmax_{t}": (_P, _P, _Z, _Z, _Z, "s"),
    "ssm_softmax_inplace_{t}": (_P, _Z, _Z),
    "ssm_log_softmax_inplace_{t}": (_P, _Z, _Z),
    "ssm_softmax_masked_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_log_softmax_masked_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_logsumexp_{t}": (_P, _P, _Z, _Z, _Z),
    "ssm_logsumexp_masked_{t}": (_P, _P, _P, _Z, _Z, _Z),
    "ssm_sigmoid_{t}": (_P, _P, _Z),
    "ssm_log_sigmoid_{t}": (_P, _P, _Z),
    "ssm_normalize_{t}": (_P, _P, _Z, _Z, _Z),
    "ssm_softmax_jacobian_{t}": (_P, _P, _Z, _Z, _Z, "s"),
    "ssm_softmax_vjp_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_log_softmax_vjp_{t}": (_P, _P, _P, _Z, _Z, _Z, "s"),
    "ssm_one_hot_{t}": (_P, _Z, _Z, _P),
    "ssm_cross_entropy_{t}": (_P, _P, _P, _Z, _Z, _Z, _I64, "s", _INT, _P, _P),
    "ssm_cross_entropy_soft_{t}": (_P, _P, _P, _Z, _Z, _Z, "s", _INT, _P, _P),
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
    "ssm_set_num_threads": (_INT,),
    "ssm_get_num_threads": (),
}
_RESTYPES = {
    "ssm_status_message": _STR,
    "ssm_last_error_message": _STR,
    "ssm_version": _STR,
    "ssm_isa": _STR,
}
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


def _declare(lib: ctypes.CDLL) -> dict[str, ctypes._CFuncPtr]:
    funcs = {}
    for pattern, args in _SIGNATURES.items():
        suffixes = _SCALARS if "{t}" in pattern else {"": None}
        for t, scalar in suffixes.items():
            name = pattern.format(t=t)
            f = getattr(lib, name)
            f.argtypes = [scalar if a == "s" else a for a in args]
            f.restype = _RESTYPES.get(name, ctypes.c_int)
            funcs[name] = f
    return funcs


LIB, LIBRARY_PATH = _load()
FUNCS = _declare(LIB)

# The library runs its best tier when SWIFTSOFTMAX_ISA names one the CPU lacks, and says so in
# ssm_isa(); a test run that forced a tier must not silently measure another.
_isa = FUNCS["ssm_isa"]().decode()
if "SWIFTSOFTMAX_ISA=" in _isa:
    raise ImportError(f"swiftsoftmax: {_isa[_isa.index('(') + 1:-1]}")

# Status codes of include/swiftsoftmax.h (enum ssm_status).
OK = 0
NULL_POINTER = 1
INVALID_SHAPE = 2
INVALID_ARGUMENT = 3
LABEL_OUT_OF_RANGE = 4
OVERLAPPING_BUFFERS = 5


def check(status: int, func: str) -> None:
    """Turns a non-zero status into a ValueError carrying the library's own explanation."""
    if status == OK:
        return
    detail = FUNCS["ssm_last_error_message"]().decode()
    summary = FUNCS["ssm_status_message"](status).decode()
    raise ValueError(f"{func}: {detail or summary}")


def text(name: str) -> str:
    return FUNCS[name]().decode()
