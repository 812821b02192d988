"""Divergences between softmax distributions and the gather loss: kl_div, kl_div_with_grad,
entropy, entropy_with_grad, nll_loss (docs/design.md, "KL divergence, entropy and NLL")."""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

import numpy as np
import numpy.typing as npt

from . import _arrays as A
from . import _results as R
from ._lib import FUNCS, check, handle

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

    _Value = Union[npt.NDArray[np.floating[Any]], np.floating[Any]]
    _Array = npt.NDArray[np.floating[Any]]


def _pair(p_logits: npt.ArrayLike, q_logits: npt.ArrayLike, axis: int
          ) -> tuple[A.Layout, npt.NDArray[Any], npt.NDArray[Any], np.dtype[Any], np.dtype[Any]]:
    """Both logits as [outer, n, inner] buffers of one compute dtype (the promotion of the two)."""
    a, _, _ = A.as_real_array(p_logits, "p_logits")
    b, _, _ = A.as_real_array(q_logits, "q_logits")
    if a.shape != b.shape:
        raise ValueError(f"q_logits: expected p_logits' shape {a.shape}, got {b.shape}")
    both = np.result_type(a.dtype, b.dtype) if a.dtype != b.dtype else a.dtype
    _, cdt, rdt = A.as_real_array(np.empty(0, dtype=both), "p_logits")
    layout = A.Layout(a.shape, (A.class_axis(axis, a.ndim, "p_logits", "the distributions"),))
    return layout, layout.arrange(a, cdt), layout.arrange(b, cdt), cdt, rdt


def _kl(name: str, p_logits: npt.ArrayLike, q_logits: npt.ArrayLike, axis: int, temperature: float,
        reduction: str, want_grad: bool, out: Optional[npt.NDArray[Any]] = None
        ) -> tuple[_Value, Optional[_Array], Optional[_Array]]:
    layout, pb, qb, cdt, rdt = _pair(p_logits, q_logits, axis)
    code = A.reduction_code(reduction)
    t = A.real_scalar(temperature, "temperature")
    shape = layout.kept_shape if code == 0 else ()
    if out is not None:
        if code != 0:
            raise ValueError(f"out: only reduction='none' returns an array, got reduction={reduction!r}")
        A.check_out(out, shape, rdt)
    loss = np.empty(shape, dtype=cdt)
    gp = R.empty_like(pb) if want_grad else None
    gq = R.empty_like(qb) if want_grad else None
    check(FUNCS[f"ssm_kl_div_{A.suffix(cdt)}"](
        A.ptr(pb), A.ptr(qb), *layout.dims, t, code, A.ptr(loss), A.ptr(gp), A.ptr(gq)), name)
    value = A.deliver(loss, out, rdt)
    if gp is None or gq is None:
        return value, None, None
    return (value, A.deliver_array(layout.restore(gp), None, rdt),
            A.deliver_array(layout.restore(gq), None, rdt))


def kl_div(p_logits: npt.ArrayLike, q_logits: npt.ArrayLike, *, axis: int = -1, temperature: float = 1.0,
           reduction: str = "mean", out: Optional[npt.NDArray[Any]] = None
           ) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
    """Kullback–Leibler divergence ``KL(softmax(p/T) ‖ softmax(q/T))`` along `axis`, from logits.

    Parameters
    ----------
    p_logits, q_logits : array_like
        Unnormalised scores of P and Q, one shape, the distributions along `axis`. float32/float64
        are computed natively, float16 and bfloat16 in float32, integers promoted to float64
        (the two promoted together).
    axis : int, default -1
        The axis of the distributions.
    temperature : float, default 1.0
        T, finite and > 0: both logits are divided by it.
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'none'`` returns one divergence per row (the shape without `axis`); ``'sum'`` their
        sum; ``'mean'`` their mean over the rows.
    out : ndarray, optional
        For ``reduction='none'``: the array to write the divergences into (the shape without
        `axis`, the result dtype).

    Returns
    -------
    ndarray or scalar
        Per-row divergences for ``'none'``, else a NumPy scalar, in nats.

    Raises
    ------
    ValueError
        For logits of different shapes, a temperature that is not finite and > 0, an unknown
        `reduction`, or an `out` of the wrong shape or dtype; nothing is written.

    Notes
    -----
    Per row ``KL = Σ_i P_i (log P_i - log Q_i)``, computed as ``Σ_i P_i φ(d_i)`` with
    ``d = log P - log Q`` (each formed by the shift ``x - logsumexp(x)``) and
    ``φ(d) = exp(-d) - 1 + d >= 0``: equal because ``Σ P exp(-d) = Σ Q = 1``, and a sum of
    non-negative terms with φ evaluated without cancellation, so nearly equal distributions keep
    the relative precision of a divergence of 1e-12 (docs/accuracy.md). PyTorch's
    ``F.kl_div(log_softmax(q), log_softmax(p), log_target=True, reduction='sum')`` is this
    value per row (with the arguments in the other order).

    Special values: NaN in a row gives NaN; +inf entries take the limit (probability 1/k on each
    of k); a class with ``P_i = 0`` contributes 0; one with ``Q_i = 0 < P_i`` makes the
    divergence +inf; a row of ``p_logits`` that is all -inf has no mass and gives 0.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> round(float(ssm.kl_div([0.0, 1.0, 2.0], [2.0, 1.0, 0.0], reduction="sum")), 12)
    1.150420765209
    >>> float(ssm.kl_div([0.0, 1.0], [0.0, 1.0 + 1e-6], reduction="sum"))  # 9.8306e-14, not 0
    9.830595146160...e-14
    >>> ssm.kl_div([[0.0, 0.0], [0.0, 5.0]], [[0.0, 0.0], [0.0, 0.0]], reduction="none")
    array([0.        , 0.65296758])
    """
    return _kl("kl_div", p_logits, q_logits, axis, temperature, reduction, False, out)[0]


def kl_div_with_grad(p_logits: npt.ArrayLike, q_logits: npt.ArrayLike, *, axis: int = -1,
                     temperature: float = 1.0, reduction: str = "mean"
                     ) -> tuple[Union[npt.NDArray[np.floating[Any]], np.floating[Any]],
                                npt.NDArray[np.floating[Any]], npt.NDArray[np.floating[Any]]]:
    """:func:`kl_div` and its gradients with respect to both logits, in one call.

    Arguments and the divergence are those of :func:`kl_div`. The gradients are those of the
    returned value (for ``reduction='none'``, of the sum of the per-row divergences):
    ``∂/∂p_j = P_j (d_j - KL) / T`` and ``∂/∂q_j = (Q_j - P_j) / T`` with ``d = log P - log Q``,
    divided by the number of rows for ``'mean'``. A row whose divergence is +inf has a NaN
    p-gradient where ``P > 0``.

    Returns
    -------
    loss : ndarray or scalar
        As returned by :func:`kl_div`.
    grad_p, grad_q : ndarray
        The shape and result dtype of the logits.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> kl, gp, gq = ssm.kl_div_with_grad([[0.0, 1.0]], [[1.0, 0.0]])
    >>> gp.round(4), gq.round(4)
    (array([[-0.3932,  0.3932]]), array([[ 0.4621, -0.4621]]))
    """
    value, gp, gq = _kl("kl_div_with_grad", p_logits, q_logits, axis, temperature, reduction, True)
    assert gp is not None and gq is not None
    return value, gp, gq


def _entropy(name: str, logits: npt.ArrayLike, axis: int, temperature: float, want_grad: bool,
             out: Optional[npt.NDArray[Any]] = None) -> tuple[_Value, Optional[_Array]]:
    a, cdt, rdt = A.as_real_array(logits, "logits")
    layout = A.Layout(a.shape, (A.class_axis(axis, a.ndim, "logits", "the distributions"),))
    t = A.real_scalar(temperature, "temperature")
    A.check_out(out, layout.kept_shape, rdt)
    xb = layout.arrange(a, cdt)
    h = np.empty(layout.kept_shape, dtype=cdt)
    g = R.empty_like(xb) if want_grad else None
    check(FUNCS[f"ssm_entropy_{A.suffix(cdt)}"](A.ptr(xb), *layout.dims, t, A.ptr(h), A.ptr(g)), name)
    value = A.deliver(h, out, rdt)
    return value, None if g is None else A.deliver_array(layout.restore(g), None, rdt)


def entropy(logits: npt.ArrayLike, *, axis: int = -1, temperature: float = 1.0,
            out: Optional[npt.NDArray[Any]] = None) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
    """Shannon entropy ``H = -Σ P log P`` (nats) of ``P = softmax(logits/T)`` along `axis`.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores, the distributions along `axis`. float32/float64 are computed
        natively, float16 and bfloat16 in float32, integers promoted to float64.
    axis : int, default -1
        The axis of the distributions.
    temperature : float, default 1.0
        T, finite and > 0.
    out : ndarray, optional
        The array to write the entropies into (the shape without `axis`, the result dtype).

    Returns
    -------
    ndarray or scalar
        One entropy per row (the shape without `axis`; a NumPy scalar for 1-d input).

    Notes
    -----
    ``H = log S + U / S`` with ``s = (x - max)/T``, ``S = Σ exp(s)`` and ``U = Σ exp(s)·(-s)``:
    two non-negative parts, so a one-hot-like row keeps the relative precision of its tiny
    entropy (where ``-(p * log p).sum()`` loses it or gives NaN). NaN gives NaN; k entries at
    +inf give ``log k`` (the uniform limit); an all -inf or empty row gives 0.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> float(ssm.entropy([0.0, 0.0, 0.0, 0.0]))      # log 4
    1.3862943611198906
    >>> float(ssm.entropy([0.0, -40.0]))              # about 41 exp(-40), not 0
    1.741825244669551...e-16
    """
    return _entropy("entropy", logits, axis, temperature, False, out)[0]


def entropy_with_grad(logits: npt.ArrayLike, *, axis: int = -1, temperature: float = 1.0
                      ) -> tuple[Union[npt.NDArray[np.floating[Any]], np.floating[Any]],
                                 npt.NDArray[np.floating[Any]]]:
    """:func:`entropy` and the gradient of the sum of the rows' entropies, in one call.

    ``∂(Σ_rows H)/∂x_j = -P_j (log P_j + H) / T`` for the row of x_j (each row's gradient is that
    of its own entropy). Rows with +inf entries, all -inf or empty have a zero gradient.

    Returns
    -------
    h : ndarray or scalar
        As returned by :func:`entropy`.
    grad : ndarray
        The shape and result dtype of `logits`.

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> h, g = ssm.entropy_with_grad([0.0, 1.0])
    >>> g.round(4)
    array([ 0.1966, -0.1966])
    """
    value, g = _entropy("entropy_with_grad", logits, axis, temperature, True)
    assert g is not None
    return value, g


def nll_loss(log_probs: npt.ArrayLike, target: npt.ArrayLike, *, axis: int = -1,
             weight: Optional[npt.ArrayLike] = None, ignore_index: int = -100, reduction: str = "mean",
             out: Optional[npt.NDArray[Any]] = None) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any]]:
    """Negative log-likelihood loss, with PyTorch's semantics (``torch.nn.functional.nll_loss``).

    Parameters
    ----------
    log_probs : array_like
        Log-probabilities with the classes along `axis` (C classes). float32/float64 are computed
        natively, float16 and bfloat16 in float32, integers promoted to float64.
    target : array_like of int
        Class indices, the shape of `log_probs` without `axis`, each in ``[0, C)`` or equal to
        `ignore_index`.
    axis : int, default -1
        The class axis (PyTorch's is 1: pass ``axis=1`` for its ``(N, C, d1, ...)`` layout).
    weight : array_like, optional
        Per-class weights, shape ``(C,)``.
    ignore_index : int, default -100
        Targets equal to it contribute nothing (loss and the mean's denominator).
    reduction : {'mean', 'sum', 'none'}, default 'mean'
        ``'none'`` returns one loss per sample; ``'sum'`` their sum; ``'mean'`` their sum divided
        by ``Σ w[y_n]`` over the non-ignored samples (NaN when all are ignored).
    out : ndarray, optional
        For ``reduction='none'``: the array to write the losses into.

    Returns
    -------
    ndarray or scalar
        Per-sample losses for ``'none'``, else a NumPy scalar.

    Raises
    ------
    ValueError
        For a target outside ``[0, C)`` that is not `ignore_index` (naming the first and its
        position), a target or weight of the wrong shape, an unknown `reduction`, or a bad `out`;
        nothing is written.

    Notes
    -----
    ``l_n = -w[y_n] · log_probs[n, y_n]`` (0 where ``y_n == ignore_index``), a gather: exact
    but for the product, the sums compensated. A zero weight contributes 0 even where the
    log-probability is -inf (PyTorch's ``0·inf`` gives NaN).

    Examples
    --------
    >>> import swiftsoftmax as ssm
    >>> float(ssm.nll_loss([[-0.5, -1.5], [-2.0, -0.25]], [1, 0]))
    1.75
    >>> ssm.nll_loss([[-0.5, -1.5], [-2.0, -0.25]], [1, -100], reduction="none")
    array([1.5, 0. ])
    """
    if (type(log_probs) is _ndarray and type(target) is _ndarray and weight is None and out is None
            and axis is _LAST and ignore_index is _IGNORE):  # the common call: one level down
        loss = _fast_nll(log_probs, target, reduction)
        if loss is not None:
            return loss
    a, cdt, rdt = A.as_real_array(log_probs, "log_probs")
    code = A.reduction_code(reduction)
    layout = A.Layout(a.shape, (A.class_axis(axis, a.ndim, "log_probs"),))
    n = layout.n
    wb = None
    if weight is not None:
        w, _, _ = A.as_real_array(weight, "weight")
        if w.shape != (n,):
            raise ValueError(f"weight: expected shape ({n},) (one weight per class), got {w.shape}")
        wb = np.ascontiguousarray(w, dtype=cdt)
    ignore = A.ignore_index_arg(ignore_index)
    tb = A.target_labels(target, layout.kept_shape)
    shape = layout.kept_shape if code == 0 else ()
    if out is not None:
        if code != 0:
            raise ValueError(f"out: only reduction='none' returns an array, got reduction={reduction!r}")
        A.check_out(out, shape, rdt)
    xb = layout.arrange(a, cdt)
    loss = np.empty(shape, dtype=cdt)
    check(FUNCS[f"ssm_nll_loss_{A.suffix(cdt)}"](
        A.ptr(xb), A.ptr(tb), A.ptr(wb), *layout.dims, ignore, code, A.ptr(loss)), "nll_loss", labels="target")
    return A.deliver(loss, out, rdt)


# nll_loss's fast path (docs/design.md, "The Python layer"): the default call (last axis, no weight,
# ignore_index -100, no `out`) of C-contiguous, writeable native float32/float64 log-probabilities
# and int64 targets skips the general argument handling, which is most of a call of a few
# thousand samples (5.0 -> 2.x us at 64x1000). Handles as softmax's fast path (`_lib.handle`):
# sizes as c_void_p, the GIL kept up to _FAST_NLL_GIL samples (a call of a few microseconds).
# ignore_index and the reduction's code go prebuilt as ctypes values (about 0.1 us each to
# convert), and a reduced loss into a new ctypes scalar rather than a 0-d array.
_LAST = -1
_IGNORE = -100
_IGNORE_ARG = ctypes.c_int64(_IGNORE)
_CODES = {name: ctypes.c_int(code) for name, code in A.REDUCTIONS.items()}
_FAST_NLL_GIL = 65536
_ndarray = np.ndarray
_I64 = np.dtype(np.int64)
_addressof = ctypes.addressof
_byref = ctypes.byref
_from_buffer: Callable[[Any], ctypes.c_char] = ctypes.c_char.from_buffer
# By dtype: (the GIL-keeping handle, the releasing one, the ctypes scalar, the NumPy scalar).
_FAST_NLL: dict[np.dtype[Any], tuple[CFuncPtr, CFuncPtr, Any, Any]] = {
    dt: (handle(f"ssm_nll_loss_{A.suffix(dt)}", fast=True, keep_gil=True),
         handle(f"ssm_nll_loss_{A.suffix(dt)}", fast=True), c, dt.type)
    for dt, c in ((A.F32, ctypes.c_float), (A.F64, ctypes.c_double))}


def _fast_nll(x: npt.NDArray[Any], target: npt.NDArray[Any], reduction: object
              ) -> Union[npt.NDArray[np.floating[Any]], np.floating[Any], None]:
    """nll_loss of the default call by the fast handles, or None where the general path is
    needed (another dtype or layout, read-only buffers, no elements, a target of another shape,
    an unknown reduction: the general path names the problem)."""
    fast = _FAST_NLL.get(x.dtype)
    shape = x.shape
    size = x.size
    code = _CODES.get(reduction) if type(reduction) is str else None
    td = target.dtype
    if (fast is None or code is None or size == 0 or (td is not _I64 and td != _I64)
            or target.shape != shape[:-1]):
        return None
    try:
        # The buffer protocol refuses arrays that are read-only or not C-contiguous: cheaper
        # than asking their flags.
        px, pt = _addressof(_from_buffer(x)), _addressof(_from_buffer(target))
    except (TypeError, ValueError, BufferError):
        return None
    n = shape[-1]
    samples = size // n
    f = fast[0] if samples <= _FAST_NLL_GIL else fast[1]
    if code.value:
        value = fast[2]()
        status = f(px, pt, None, samples, n, 1, _IGNORE_ARG, code, _byref(value))
        if status:
            check(status, "nll_loss", labels="target")
        return fast[3](value.value)  # type: ignore[no-any-return]
    loss: npt.NDArray[Any] = np.empty(shape[:-1], dtype=x.dtype)
    status = f(px, pt, None, samples, n, 1, _IGNORE_ARG, code, A.data_pointer(loss))
    if status:
        check(status, "nll_loss", labels="target")
    return loss[()] if loss.ndim == 0 else loss
