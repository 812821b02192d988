"""swiftsoftmax: softmax, its family, derivatives and cross-entropy, fast and exact.

A thin ctypes layer over ``libswiftsoftmax.so`` (written in Swift). Arrays are NumPy arrays;
float32 and float64 are computed natively and preserved.

>>> import swiftsoftmax as ssm
>>> ssm.softmax([0.0, 2.0, 4.0]).round(4)
array([0.0159, 0.1173, 0.8668])
"""

from __future__ import annotations

from typing import Any

from ._forward import log_sigmoid, log_softmax, logcumsumexp, logsumexp, normalize, sigmoid, softmax
from ._derivatives import log_softmax_vjp, softmax_jacobian, softmax_vjp
from ._loss import (binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_with_grad,
                    cross_entropy, cross_entropy_with_grad, one_hot)
from ._divergence import entropy, entropy_with_grad, kl_div, kl_div_with_grad, nll_loss
from ._linear import linear_cross_entropy
from ._lib import FUNCS, LIBRARY_PATH, check, text
from ._arrays import as_int as _as_int
from ._partial import (CE_STATS_DTYPE, SOFTMAX_STATS_DTYPE, cross_entropy_denominator,
                       cross_entropy_from_stats, cross_entropy_grad_from_stats, cross_entropy_stats,
                       log_softmax_from_stats, logsumexp_from_stats, merge_cross_entropy_stats,
                       merge_softmax_stats, reduce_cross_entropy_stats, reduce_softmax_stats,
                       softmax_from_stats, softmax_stats)
from ._results import cached_bytes, empty_cache
from . import datasets
from .classifier import NotFittedError, SoftmaxClassifier

#: The version of the loaded library, e.g. "0.1.0" (written once, in the C header's SSM_VERSION_*).
__version__: str = text("ssm_version")

__all__ = [
    "softmax", "log_softmax", "logsumexp", "logcumsumexp", "sigmoid", "log_sigmoid", "normalize",
    "softmax_jacobian", "softmax_vjp", "log_softmax_vjp", "one_hot",
    "cross_entropy", "cross_entropy_with_grad", "linear_cross_entropy",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_with_grad",
    "kl_div", "kl_div_with_grad", "entropy", "entropy_with_grad", "nll_loss",
    "softmax_stats", "merge_softmax_stats", "reduce_softmax_stats", "softmax_from_stats",
    "log_softmax_from_stats", "logsumexp_from_stats", "SOFTMAX_STATS_DTYPE",
    "cross_entropy_stats", "merge_cross_entropy_stats", "reduce_cross_entropy_stats",
    "cross_entropy_from_stats", "cross_entropy_grad_from_stats", "cross_entropy_denominator",
    "CE_STATS_DTYPE",
    "SoftmaxClassifier", "NotFittedError", "datasets",
    "set_num_threads", "get_num_threads", "build_info", "empty_cache", "cached_bytes", "__version__",
]


def set_num_threads(n: int) -> None:
    """Sets how many threads large calls use (1 to 1024). Results do not depend on it.

    >>> import swiftsoftmax as ssm
    >>> ssm.set_num_threads(1); ssm.get_num_threads()
    1
    """
    n = _as_int(n, "num_threads")
    # ctypes would silently wrap values outside C int: refuse them here (the library checks the rest).
    if not -2**31 <= n < 2**31:
        raise ValueError(f"set_num_threads: num_threads must be a C int (and between 1 and 1024), got {n}")
    check(FUNCS["ssm_set_num_threads"](n), "set_num_threads")


def get_num_threads() -> int:
    """The number of threads large calls use (default: the number of CPUs)."""
    n: int = FUNCS["ssm_get_num_threads"]()
    return n


def build_info() -> dict[str, Any]:
    """Version, library path, instruction-set tier and thread count of the loaded library.

    >>> import swiftsoftmax as ssm
    >>> sorted(ssm.build_info())
    ['isa', 'library', 'threads', 'version']
    """
    return {
        "version": text("ssm_version"),
        "library": str(LIBRARY_PATH),
        "isa": text("ssm_isa"),
        "threads": get_num_threads(),
    }
