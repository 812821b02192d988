"""The output layer in one call: linear + softmax + cross-entropy without holding the logits.

``linear_cross_entropy(x, weight, target)`` is ``cross_entropy_with_grad(x @ weight.T + bias,
target)`` and the gradients with respect to `x`, `weight` and `bias`, computed one chunk of the
logits at a time: NumPy's matmul forms the chunk, the library's fused cross-entropy kernel turns
it into its losses and, in place, its gradient, and the gradient's two products are taken before
the next chunk overwrites the buffer. The chunking and its measurements: docs/design.md,
"The output layer".
"""

from __future__ import annotations

import ctypes
import math
from typing import Any, Literal, Optional, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

from . import _arrays as A
from ._lib import FUNCS, check
from ._loss import _CEOptions
from ._partial import cross_entropy_denominator

__all__ = ["linear_cross_entropy", "BUDGET_BYTES"]

#: The working set ``chunk_size=None`` aims at: the logits chunk (overwritten in place by its
#: gradient) and the temporaries of the gradient products, in bytes.
BUDGET_BYTES = 64 * 2**20
# The temporary block of weight-gradient rows summed into the result per product, a quarter of
# the budget. On a quiet machine its size made no difference (256 KiB to 16 MiB); on a busy one
# each small product pays for synchronising OpenBLAS's threads, and at V=32768 1 MiB blocks (33
# products per chunk) ran 1.4-2.0x slower than 16 MiB blocks (docs/design.md, "The output
# layer").
_ACC_BYTES = 16 * 2**20

_NAME = "linear_cross_entropy"

Loss = Union[np.floating[Any], npt.NDArray[np.floating[Any]]]
Grads = Tuple[Loss, npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]],
              Optional[npt.NDArray[np.floating[Any]]]]
# ... and the per-sample logsumexp (return_lse=True).
GradsLse = Tuple[Loss, npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]],
                 Optional[npt.NDArray[np.floating[Any]]], npt.NDArray[np.floating[Any]]]


def _dtypes(*arrays: Optional[np.ndarray]) -> tuple[np.dtype, np.dtype]:
    """(compute dtype, result dtype) of the logits ``x @ weight.T + bias`` would have (NumPy's
    promotion), with cross_entropy's rules for that dtype (docs/python.md, "Arrays")."""
    pdt = np.result_type(*[a.dtype for a in arrays if a is not None])
    if pdt.kind in "biu":
        return A.F64, A.F64
    if pdt.itemsize == 2:
        return A.F32, pdt
    if pdt.itemsize == 4:
        return A.F32, A.F32
    return A.F64, pdt.newbyteorder("=") if pdt.itemsize > 8 else A.F64


def _rows_per_chunk(n: int, d: int, v: int, itemsize: int) -> int:
    """Rows of logits per chunk so that the chunk, the scaled input rows and the accumulation
    block stay within BUDGET_BYTES (at least one row, whatever the vocabulary)."""
    per_row = (v + d + 1) * itemsize
    rows = (BUDGET_BYTES - _ACC_BYTES) // per_row
    return int(max(1, min(n, rows)))


@overload
def linear_cross_entropy(x: npt.ArrayLike, weight: npt.ArrayLike, target: npt.ArrayLike, *,
                         bias: Optional[npt.ArrayLike] = ..., class_weight: Optional[npt.ArrayLike] = ...,
                         ignore_index: int = ..., label_smoothing: float = ..., reduction: str = ...,
                         chunk_size: Optional[int] = ..., z_loss: float = ..., softcap: Optional[float] = ...,
                         return_grad: Literal[False] = ..., return_lse: Literal[False] = ...) -> Loss: ...


@overload
def linear_cross_entropy(x: npt.ArrayLike, weight: npt.ArrayLike, target: npt.ArrayLike, *,
                         bias: Optional[npt.ArrayLike] = ..., class_weight: Optional[npt.ArrayLike] = ...,
                         ignore_index: int = ..., label_smoothing: float = ..., reduction: str = ...,
                         chunk_size: Optional[int] = ..., z_loss: float = ..., softcap: Optional[float] = ...,
                         return_grad: Literal[True], return_lse: Literal[False] = ...) -> Grads: ...


@overload
def linear_cross_entropy(x: npt.ArrayLike, weight: npt.ArrayLike, target: npt.ArrayLike, *,
                         bias: Optional[npt.ArrayLike] = ..., class_weight: Optional[npt.ArrayLike] = ...,
                         ignore_index: int = ..., label_smoothing: float = ..., reduction: str = ...,
                         chunk_size: Optional[int] = ..., z_loss: float = ..., softcap: Optional[float] = ...,
                         return_grad: Literal[False] = ..., return_lse: Literal[True]
                         ) -> Tuple[Loss, npt.NDArray[np.floating[Any]]]: ...


@overload
def linear_cross_entropy(x: npt.ArrayLike, weight: npt.ArrayLike, target: npt.ArrayLike, *,
                         bias: Optional[npt.ArrayLike] = ..., class_weight: Optional[npt.ArrayLike] = ...,
                         ignore_index: int = ..., label_smoothing: float = ..., reduction: str = ...,
                         chunk_size: Optional[int] = ..., z_loss: float = ..., softcap: Optional[float] = ...,
                         return_grad: Literal[True], return_lse: Literal[True]) -> GradsLse: ...


def linear_cross_entropy(x: npt.ArrayLike, weight: npt.ArrayLike, target: npt.ArrayLike, *,
                         bias: Optional[npt.ArrayLike] = None,
                         class_weight: Optional[npt.ArrayLike] = None,
                         ignore_index: int = -100, label_smoothing: float = 0.0,
                         reduction: str = "mean", chunk_size: Optional[int] = None,
                         z_loss: float = 0.0, softcap: Optional[float] = None,
                         return_grad: bool = False, return_lse: bool = False
                         ) -> Union[Loss, Grads, Tuple[Loss, npt.NDArray[np.floating[Any]]], GradsLse]:
    """Cross-entropy of a linear layer's output, without ever holding the logits.

    The result is that of ``cross_entropy_with_grad(x @ weight.T + bias, target, ...)`` on the
    materialised logits (PyTorch's ``linear_cross_entropy`` semantics), computed a chunk of
    samples at a time: each chunk's logits are formed by NumPy's matmul, turned into its losses
    and (in place) its gradient by the library's fused kernel, and dropped after the gradient
    products, so memory stays near a fixed budget whatever the vocabulary.

    Parameters
    ----------
    x : array_like, shape (N, D)
        Hidden activations, one row per sample.
    weight : array_like, shape (V, D)
        The linear layer's weight in PyTorch's ``nn.Linear`` layout (one row per class).
    target : array_like of int, shape (N,)
        Class indices in ``[0, V)`` or `ignore_index`.
    bias : array_like, shape (V,), optional
        The linear layer's bias.
    class_weight : array_like, shape (V,), optional
        Per-class weights: the ``weight=`` of :func:`cross_entropy` (renamed here because
        `weight` is the linear layer's matrix).
    ignore_index, label_smoothing, reduction
        As for :func:`cross_entropy`; the mean divides by the summed class weights of the
        non-ignored targets (NaN when every target is ignored).
    chunk_size : int, optional
        Samples per chunk. By default chosen from the shapes so that the logits chunk and the
        temporaries stay within ``BUDGET_BYTES`` (64 MiB; at least one sample per chunk).
    z_loss, softcap
        As for :func:`cross_entropy`: ``z · lse²`` per sample (with the target's class weight),
        and the logits capped at ``softcap · tanh(logits / softcap)`` inside the kernel.
    return_grad : bool, default False
        Also return the gradients of the loss.
    return_lse : bool, default False
        Also return each sample's logsumexp (of the capped logits), shape ``(N,)``, last.

    Returns
    -------
    loss : ndarray or scalar
        As :func:`cross_entropy` returns it for the materialised logits: per sample for
        ``'none'``, else a NumPy scalar.
    grad_x, grad_weight : ndarray
        Only with `return_grad`: shapes of `x` and `weight`.
    grad_bias : ndarray or None
        Only with `return_grad`: shape ``(V,)``, None when `bias` is None.
    lse : ndarray
        Only with `return_lse`: shape ``(N,)``.

    Notes
    -----
    The dtype is that of the materialised logits: NumPy's promotion of `x`, `weight` and
    `bias` (float32 with float64 gives float64), then :func:`cross_entropy`'s rules (float16
    computed in float32 and returned as float16, integers as float64). The gradients have the
    loss's dtype. The matrix products run in the compute dtype, as NumPy's would on the
    materialised logits, so float32 logits carry float32 products' roundings.

    Memory: one chunk of logits (its gradient overwrites it), a block of rows of the input
    scaled for the weight gradient and a 16 MiB accumulation block, plus the results. Time: three
    products of N·D·V multiply-adds (the logits, ``G @ weight`` and ``G.T @ x``), as the
    materialised computation takes. Why samples and not classes: docs/design.md,
    "The output layer".

    Raises
    ------
    ValueError
        For shapes that do not fit (naming the argument), a label outside ``[0, V)`` that is not
        `ignore_index`, a `label_smoothing` outside [0, 1], an unknown `reduction` or a
        `chunk_size` below 1.
    TypeError
        For non-real arrays, non-integer targets or a non-int `chunk_size`.

    Examples
    --------
    >>> import numpy as np, swiftsoftmax as ssm
    >>> rng = np.random.default_rng(0)
    >>> x, w, b = rng.standard_normal((5, 4)), rng.standard_normal((7, 4)), rng.standard_normal(7)
    >>> y = np.array([0, 6, 3, -100, 2])
    >>> loss, gx, gw, gb = ssm.linear_cross_entropy(x, w, y, bias=b, chunk_size=2, return_grad=True)
    >>> ref, g = ssm.cross_entropy_with_grad(x @ w.T + b, y)
    >>> bool(np.isclose(loss, ref, rtol=1e-14)), bool(np.allclose(gw, g.T @ x))
    (True, True)
    >>> gx.shape, gw.shape, gb.shape
    ((5, 4), (7, 4), (7,))
    """
    xa, _, _ = A.as_real_array(x, "x")
    wa, _, _ = A.as_real_array(weight, "weight")
    ba = None if bias is None else A.as_real_array(bias, "bias")[0]
    if xa.ndim != 2:
        raise ValueError(f"x: expected a 2-D array (N, D) of hidden activations, got shape {xa.shape}")
    n, d = xa.shape
    if wa.ndim != 2 or wa.shape[1] != d:
        raise ValueError(f"weight: expected shape (V, {d}) (nn.Linear's (out_features, in_features) "
                         f"for x of shape {xa.shape}), got {wa.shape}")
    v = wa.shape[0]
    if ba is not None and ba.shape != (v,):
        raise ValueError(f"bias: expected shape ({v},) (one per row of weight), got {ba.shape}")
    lab = A.target_labels(target, (n,))
    code = A.reduction_code(reduction)
    cdt, rdt = _dtypes(xa, wa, ba)
    cw = None
    if class_weight is not None:
        cwa, _, _ = A.as_real_array(class_weight, "class_weight")
        if cwa.shape != (v,):
            raise ValueError(f"class_weight: expected shape ({v},) (one weight per class), got {cwa.shape}")
        cw = np.ascontiguousarray(cwa, dtype=cdt)
    ignore = A.ignore_index_arg(ignore_index)
    eps = A.real_scalar(label_smoothing, "label_smoothing")
    if not 0 <= eps <= 1:
        raise ValueError(f"{_NAME}: label_smoothing must be in [0, 1], got {eps}")
    if chunk_size is None:
        rows = _rows_per_chunk(n, d, v, cdt.itemsize)
    else:
        rows = A.as_int(chunk_size, "chunk_size")
        if rows < 1:
            raise ValueError(f"chunk_size: expected an int >= 1 (samples per chunk), got {rows}")
    if not isinstance(return_grad, (bool, np.bool_)):
        raise TypeError(f"return_grad: expected a bool, got {type(return_grad).__name__}")
    cap = 0.0
    if softcap is not None:
        cap = A.real_scalar(softcap, "softcap")
        if cap == 0.0:  # 0 is the C struct's "none": refused here with the library's message
            raise ValueError(f"{_NAME}: softcap must be finite and > 0, got {cap}")
    options = _CEOptions(ctypes.sizeof(_CEOptions), A.real_scalar(z_loss, "z_loss"), cap)
    # The mean's denominator is needed before the first gradient; computing it first also has
    # the library check every label before any product is taken.
    den = cross_entropy_denominator(lab, num_classes=v, weight=cw, ignore_index=ignore, dtype=cdt)
    # Products in the compute dtype, in whatever memory order the arrays have (a transposed
    # weight, as SoftmaxClassifier keeps it, is used where it lies).
    xc = np.asarray(xa, dtype=cdt)
    wc = np.asarray(wa, dtype=cdt)
    bc = None if ba is None else np.asarray(ba, dtype=cdt)
    lse = np.empty(n, dtype=cdt) if return_lse else None
    losses, grads = _by_samples(xc, wc, bc, lab, cw, ignore, eps, max(1, min(rows, n)),
                                bool(return_grad), 1.0 if code != 1 else den, options, lse)
    loss = _reduce(losses, code, den, cdt, rdt)
    if grads is None:
        return loss if lse is None else (loss, _in(lse, rdt))
    gx, gw, gb = grads
    result = (loss, _in(gx, rdt), _in(gw, rdt), None if gb is None else _in(gb, rdt))
    return result if lse is None else result + (_in(lse, rdt),)


def _in(a: npt.NDArray[Any], dtype: np.dtype) -> npt.NDArray[Any]:
    return a if a.dtype == dtype else a.astype(dtype)


def _reduce(losses: np.ndarray, code: int, den: float, cdt: np.dtype, rdt: np.dtype) -> Loss:
    """The reduced loss from the per-sample losses (each rounded once to the compute dtype):
    their sum correctly rounded, as the one-piece kernel's compensated sum gives it."""
    if code == 0:
        return _in(losses, rdt)
    total = math.fsum(losses.astype(A.F64).tolist())
    if code == 1:
        total = total / den if den != 0 else math.nan
    value: np.floating[Any] = rdt.type(cdt.type(total))  # rounded once to the compute dtype
    return value


_Array = npt.NDArray[Any]


def _by_samples(x: _Array, w: _Array, b: Optional[_Array], lab: _Array, cw: Optional[_Array], ignore: int,
                eps: float, rows: int, want_grad: bool, den: float, options: _CEOptions, lse: Optional[_Array]
                ) -> tuple[_Array, Optional[tuple[_Array, _Array, Optional[_Array]]]]:
    """Per-sample losses and, when `want_grad`, the gradients of their sum divided by `den`,
    a chunk of `rows` samples at a time (docs/design.md, "The output layer"); each sample's
    logsumexp into `lse` when given."""
    n, d = x.shape
    v = w.shape[0]
    cdt = x.dtype
    ce = FUNCS[f"ssm_cross_entropy_ex_{A.suffix(cdt)}"]
    opt = ctypes.addressof(options)
    losses = np.empty(n, dtype=cdt)
    zbuf = np.empty(rows * v, dtype=cdt)
    gx: Optional[_Array] = None
    gw: Optional[_Array] = None
    gb: Optional[_Array] = None
    xs = acc = zbuf[:0]
    block, scale = 1, 1.0
    if want_grad:
        gx = np.empty((n, d), dtype=cdt)
        gw = np.zeros((v, d), dtype=cdt)
        gb = None if b is None else np.zeros(v, dtype=cdt)
        # The chunk's input rows scaled by 1/den with a column of 1/den appended: one product
        # G.T @ [x/den, 1/den] gives the weight gradient and the bias gradient together.
        k = d + (b is not None)
        xs = np.empty((rows, k), dtype=cdt)
        block = max(1, min(v, _ACC_BYTES // (k * cdt.itemsize)))
        acc = np.empty((block, k), dtype=cdt)
        scale = 1.0 / den if den != 0 else 0.0
    for i0 in range(0, n, rows):
        i1 = min(n, i0 + rows)
        m = i1 - i0
        z = zbuf[:m * v].reshape(m, v)
        np.matmul(x[i0:i1], w.T, out=z)
        if b is not None:
            z += b
        # The fused kernel writes the gradient of the chunk's summed loss over its logits
        # (docs/design.md, "Cross-entropy": the grad buffer may be the logits).
        status = ce(A.ptr(z), A.ptr(lab[i0:i1]), A.ptr(cw), None, m, v, 1, ignore, eps, 0, opt,
                    A.ptr(losses[i0:i1]), A.ptr(z) if want_grad else None,
                    None if lse is None else A.ptr(lse[i0:i1]))
        check(status, _NAME, labels="target")
        if gx is None or gw is None:
            continue
        np.matmul(z, w, out=gx[i0:i1])
        if scale != 1.0:
            gx[i0:i1] *= scale
        xm = xs[:m]
        np.multiply(x[i0:i1], scale, out=xm[:, :d])
        if gb is not None:
            xm[:, d] = scale
        for c0 in range(0, v, block):
            c1 = min(v, c0 + block)
            t = acc[:c1 - c0]
            np.matmul(z[:, c0:c1].T, xm, out=t)
            gw[c0:c1] += t[:, :d]
            if gb is not None:
                gb[c0:c1] += t[:, d]
    if gx is None or gw is None:
        return losses, None
    return losses, (gx, gw, gb)

