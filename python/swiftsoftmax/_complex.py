"""Complex input for logsumexp, softmax and log_softmax, on top of the real kernels.

For ``z = x + i·theta`` and scale factors ``b``, ``sum(b·exp(z)) = R + i·I`` with
``R = sum(Re(w)·exp(x))`` and ``I = sum(Im(w)·exp(x))``, ``w = b·exp(i·theta)``: two real sums
with scale factors of both signs, which the library's scaled logsumexp computes to 2 ulp in the
log of their magnitudes. ``log|R + iI|`` follows from the two logs without cancellation. The
phase is the angle of the same sum shifted by the largest real part and summed plainly, which
keeps the relative precision of a small imaginary part (a log-magnitude rounded near -40 would
cost it 1e-14). Where that path gives a non-finite value (infinite or NaN entries, an empty or
zero sum), the result is SciPy's: ``log(sum(b·exp(z)))`` evaluated directly, so complex infinities
follow C99's ``cexp`` and ``clog`` as NumPy implements them (docs/python.md, "Complex input").
Imaginary parts are wrapped into (-pi, pi].
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import numpy.typing as npt

from . import _arrays as A

ComplexResult = Union[npt.NDArray[Any], np.floating[Any], np.complexfloating[Any, Any]]


def wrap_radians(x: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Angles wrapped into (-pi, pi], unchanged (to the last bit) where already inside.

    Examples
    --------
    >>> import numpy as np
    >>> from swiftsoftmax._complex import wrap_radians
    >>> wrap_radians(np.array([-np.pi, np.pi + 1, 1e-300]))
    array([ 3.14159265e+000, -2.14159265e+000,  1.00000000e-300])
    """
    x = np.asarray(x)
    with np.errstate(invalid="ignore"):
        wrapped = -((-x + np.pi) % (2 * np.pi) - np.pi)
        return np.where(np.abs(x) < np.pi, x, wrapped)


def _float_dtype(dt: np.dtype[Any]) -> np.dtype[Any]:
    """The real compute dtype of a complex dtype: float32 for complex64, float64 above."""
    return A.F32 if dt.itemsize <= 8 else A.F64


def logsumexp_complex(a: npt.NDArray[Any], w: Optional[npt.NDArray[Any]], dt: np.dtype[Any], axis: object,
                      keepdims: bool, return_sign: bool, where: Optional[npt.ArrayLike]
                      ) -> Union[ComplexResult, tuple[ComplexResult, ComplexResult]]:
    """logsumexp of complex `a` (or of real `a` with complex scale factors `w`), as
    `swiftsoftmax.logsumexp` with result dtype `dt`."""
    from ._forward import scaled_logsumexp

    fdt = _float_dtype(dt)
    a = a.astype(dt, copy=False)
    layout = A.Layout(a.shape, A.normalize_axes(axis, a.ndim))
    mask = None if where is None else A.as_mask(where, a.shape)
    x = a.real.astype(fdt)
    theta = a.imag.astype(fdt)
    with np.errstate(invalid="ignore", over="ignore"):
        rot = np.cos(theta) + 1j * np.sin(theta)
        weights = rot if w is None else w.astype(dt, copy=False) * rot
        # exp(-inf + i·theta) is 0 for every theta (C99 cexp); an entry whose b is 0 takes no part.
        drop = np.isneginf(x) if w is None else np.isneginf(x) | (w == 0)
        weights = np.where(drop, 0, weights)
    lr, sr = scaled_logsumexp(x, np.ascontiguousarray(weights.real, dtype=fdt), fdt, layout, mask, True)
    li, si = scaled_logsumexp(x, np.ascontiguousarray(weights.imag, dtype=fdt), fdt, layout, mask, True)
    assert sr is not None and si is not None
    with np.errstate(invalid="ignore", over="ignore", divide="ignore", under="ignore"):
        hi = np.maximum(lr, li)
        lo = np.minimum(lr, li)
        magnitude = hi + 0.5 * np.log1p(np.exp(2 * (lo - hi)))
        phase_sum = _shifted_sum(x, weights, mask, layout)
        phase = np.angle(phase_sum)
        unit = phase_sum / np.abs(phase_sum)
        finite = np.isfinite(magnitude) & np.isfinite(phase)
        if not finite.all():
            # SciPy's direct evaluation where the careful path is not finite.
            direct = _direct_sum(a, w, dt, mask, layout)
            if return_sign:
                magnitude = np.where(finite, magnitude, np.log(np.abs(direct)))
                unit = np.where(finite, unit, np.sign(direct))
            else:
                d = np.log(direct)
                magnitude = np.where(finite, magnitude, d.real)
                phase = np.where(finite, phase, d.imag)
    shape = layout.reduced_shape(keepdims)
    if return_sign:
        unit = (unit.real + 1j * wrap_radians(unit.imag)).astype(dt)
        return (A.deliver(magnitude.astype(fdt).reshape(shape), None, np.dtype(dt.char.lower())),
                A.deliver(unit.reshape(shape), None, dt))
    out = (magnitude + 1j * wrap_radians(phase)).astype(dt)
    return A.deliver(out.reshape(shape), None, dt)


def _arranged(v: npt.NDArray[Any], layout: A.Layout) -> npt.NDArray[Any]:
    """`v` as [outer, n, inner] for `layout`."""
    return layout.arrange(v, v.dtype).reshape(layout.dims)


def _shifted_sum(x: npt.NDArray[Any], weights: npt.NDArray[Any], mask: Optional[npt.NDArray[np.bool_]],
                 layout: A.Layout) -> npt.NDArray[Any]:
    """``sum(w·exp(x - max x))`` per slice, the maximum taken over the entries that take part;
    its angle is the phase of the result."""
    xs = _arranged(x, layout)
    ws = _arranged(weights, layout)
    live = ws != 0
    if mask is not None:
        live &= _arranged(np.asarray(mask), layout)
    xm = np.where(live, xs, -np.inf)
    m = np.max(xm, axis=1, keepdims=True) if xs.shape[1] else np.full(xs[:, :1].shape, -np.inf)
    m = np.where(np.isfinite(m), m, 0)
    # Scale factors are brought near 1 first, so that their product with exp cannot overflow.
    big = np.max(np.abs(ws), initial=0.0)
    scale = 1.0 if not np.isfinite(big) or big == 0 else float(np.ldexp(1.0, -int(np.frexp(big)[1])))
    terms = np.where(live, (ws * scale) * np.exp(xm - m), 0)
    total: npt.NDArray[Any] = np.sum(terms, axis=1)
    return total.reshape(layout.kept_shape)


def _direct_sum(a: npt.NDArray[Any], w: Optional[npt.NDArray[Any]], dt: np.dtype[Any],
                mask: Optional[npt.NDArray[np.bool_]], layout: A.Layout) -> npt.NDArray[Any]:
    """``sum(b·exp(z))`` per slice as SciPy evaluates it where its careful path is not finite."""
    e = np.exp(a) if w is None else w.astype(dt, copy=False) * np.exp(a)
    if mask is not None:
        e = np.where(mask, e, 0)
    total: npt.NDArray[Any] = np.sum(_arranged(e.astype(dt, copy=False), layout), axis=1)
    return total.reshape(layout.kept_shape)


def log_softmax_complex(z: npt.NDArray[Any], axis: object, where: Optional[npt.ArrayLike]) -> npt.NDArray[Any]:
    """``z - logsumexp(z)`` along `axis`, imaginary parts wrapped into (-pi, pi]: the principal
    log of the complex softmax."""
    lse = logsumexp_complex(z, None, z.dtype, axis, True, False, where)
    assert not isinstance(lse, tuple)
    with np.errstate(invalid="ignore"):
        y = z - np.asarray(lse)
        out = y.real + 1j * wrap_radians(y.imag)
        if where is not None:
            out = np.where(A.as_mask(where, z.shape), out, -np.inf)
    return np.asarray(out, dtype=z.dtype)


def softmax_complex(z: npt.NDArray[Any], axis: object, where: Optional[npt.ArrayLike]) -> npt.NDArray[Any]:
    """``exp(z) / sum(exp(z))`` along `axis`, as ``exp(log_softmax(z))``."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(np.exp(log_softmax_complex(z, axis, where)), dtype=z.dtype)
