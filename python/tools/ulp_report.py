"""Worst ULP error per function, dtype and case: swiftsoftmax and its peers, side by side.

The cases, the exact references and the ULP measure are those of tests/test_accuracy.py (this
script imports it), so the table and the test suite always agree. Peers: the NumPy idiom,
scipy.special, and when installed JAX (eager, CPU, x64 enabled) and ONNX Runtime (the opset-13
operator on the CPU provider; it has none for log_sigmoid) and PyTorch (``torch.softmax``,
``torch.log_softmax``, ``torch.logsumexp``, ``torch.sigmoid``, ``F.logsigmoid``,
``F.cross_entropy``; for the derivatives its autograd kernels given the forward output;
``torch.func.jacrev`` for the Jacobian), for
binary_cross_entropy_with_logits ("bce", the per-element losses; "bce_grad", the gradient) PyTorch's
F.binary_cross_entropy_with_logits with its autograd and its CPU formula in NumPy, and for
logcumsumexp ``np.logaddexp.accumulate`` (a rounding at every step), ``jax.lax.cumlogsumexp`` and
``torch.logcumsumexp``; SciPy and ONNX have none; for cross_entropy's options ("ce_options", the
per-sample losses with sample_weight, z_loss and softcap; "ce_options_lse", the logsumexp) the
formula as training code writes it, ``cap·tanh(x/cap)`` then the loss plus ``z·lse²``, in NumPy
and in PyTorch (``F.cross_entropy(reduction="none")``, ``torch.logsumexp``); for kl_div and
entropy (one value per row) the log_softmax idiom of NumPy, JAX and PyTorch
(``F.kl_div(log Q, log P, log_target=True)`` summed per row), and for nll_loss the NumPy gather
and ``F.nll_loss``. A peer gets
the temperature as ``x / T`` (in the input dtype) and a mask as ``where(mask, x, -inf)``, as a
user would write it.

    cd python && python tools/ulp_report.py                 # everything
    python tools/ulp_report.py --funcs softmax,logsumexp --dtypes float64 --peers numpy
    python tools/ulp_report.py --known                       # also print KNOWN_ABOVE_2ULP for ours
    python tools/ulp_report.py --markdown                    # the Markdown table of docs/accuracy.md
    python tools/ulp_report.py --summary                     # docs/accuracy.md: worst per function
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

import test_accuracy as T  # noqa: E402  (the cases and references)


def _x_for_peer(inp):
    x, where, t = inp["x"], inp.get("where"), inp.get("temperature", 1.0)
    if t != 1.0:
        x = x / x.dtype.type(t)
    if where is not None:
        x = np.where(np.broadcast_to(where, x.shape), x, x.dtype.type(-np.inf))
    return x


def _pick(logp, inp):
    axis = inp.get("axis", -1)
    lab = np.expand_dims(inp["labels"], axis)
    return -np.squeeze(np.take_along_axis(logp, lab, axis=axis), axis)


def _numpy_bce(func, inp):
    """PyTorch's CPU formula written in NumPy: (1-t)·x + (1 + (pw-1)·t)·(log1p(e^-|x|) + max(-x, 0)),
    times w; its gradient w·((1 - t + pw·t)·σ(x) - pw·t)."""
    x, t = inp["x"], inp["t"]
    one = x.dtype.type(1)
    w = np.asarray(inp.get("w", one), dtype=x.dtype)
    pw = np.asarray(inp.get("pw", one), dtype=x.dtype)
    with np.errstate(all="ignore"):
        lw = one + (pw - one) * t
        if func == "bce":  # per element, whatever the divisor
            return w * ((one - t) * x + lw * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)))
        s = one / (one + np.exp(-x))
        return w * (lw * s - pw * t) / x.dtype.type(inp.get("divisor", 1))


def _ce_options_formula(func, inp, torch=None):
    """cross_entropy with its options as written in training code: capped logits, the
    per-sample loss times the sample weight plus z·lse² (NumPy, or PyTorch when given)."""
    x, lab, cap = inp["x"], inp["labels"], inp.get("cap")
    dt = x.dtype.type
    with np.errstate(all="ignore"):
        if torch is not None:
            xt = torch.from_numpy(np.ascontiguousarray(x))
            c = xt if cap is None else dt(cap) * torch.tanh(xt / dt(cap))
            lse = torch.logsumexp(c, -1)
            if func == "ce_options_lse":
                return lse.numpy()
            nll = torch.nn.functional.cross_entropy(c, torch.from_numpy(lab), reduction="none")
            return ((nll + dt(inp["z"]) * lse * lse) * torch.from_numpy(inp["sw"])).numpy()
        c = x if cap is None else dt(cap) * np.tanh(x / dt(cap))
        m = c.max(-1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(c - m).sum(-1))
        if func == "ce_options_lse":
            return lse
        nll = lse - np.take_along_axis(c, lab[:, None], -1)[:, 0]
        return (nll + dt(inp["z"]) * lse * lse) * inp["sw"]


def _numpy_divergence(func, inp):
    """The NumPy idiom: log_softmax of x / T (and q / T), then Σ p (lp - lq) or -Σ p lp."""
    axis = inp.get("axis", -1)
    with np.errstate(all="ignore"):
        def logp(a):
            m = a.max(axis, keepdims=True)
            return (a - m) - np.log(np.exp(a - m).sum(axis, keepdims=True))
        lp = logp(_x_for_peer(inp))
        if func == "entropy":
            return -(np.exp(lp) * lp).sum(axis)
        lq = logp(_x_for_peer(dict(inp, x=inp["q"])))
        return (np.exp(lp) * (lp - lq)).sum(axis)


def numpy_idiom(func, inp):
    if func in T.CE_OPTION_FUNCS:
        return _ce_options_formula(func, inp)
    if func in T.BCE_FUNCS:
        return _numpy_bce(func, inp)
    if func in T.DIV_FUNCS:
        return _numpy_divergence(func, inp)
    if func == "nll_loss":
        return _pick(inp["x"], inp)
    if func in T.VJP_FUNCS:
        return _numpy_vjp(func, inp)
    x, axis = _x_for_peer(inp), inp.get("axis", -1)
    with np.errstate(all="ignore"):
        if func == "softmax_jacobian":  # (diag(p) - p pᵀ) / T, the class axis last
            t = x.dtype.type(inp.get("temperature", 1.0))
            e = np.exp(x - x.max(axis, keepdims=True))
            p = np.moveaxis(e / e.sum(axis, keepdims=True), axis, -1)
            jac = -p[..., :, None] * p[..., None, :]
            i = np.arange(p.shape[-1])
            jac[..., i, i] += p
            return jac / t
        if func == "sigmoid":
            return 1 / (1 + np.exp(-x))
        if func == "log_sigmoid":
            return -np.logaddexp(x.dtype.type(0), -x)
        if func == "normalize":
            return x / x.sum(axis, keepdims=True)
        if func == "logcumsumexp":
            return np.logaddexp.accumulate(x, axis=axis)
        m = x.max(axis, keepdims=True)
        e = np.exp(x - m)
        if func == "softmax":
            return e / e.sum(axis, keepdims=True)
        if func == "logsumexp":
            return np.squeeze(m + np.log(e.sum(axis, keepdims=True)), axis)
        logp = (x - m) - np.log(e.sum(axis, keepdims=True))
        return logp if func == "log_softmax" else _pick(logp, inp)


def _numpy_vjp(func, inp):
    """The VJPs as a user writes them from y (or log y) and g: y (g - Σ g y) / T and
    (g - exp(log y) Σ g) / T."""
    axis, g = inp.get("axis", -1), inp["g"]
    t = g.dtype.type(inp.get("temperature", 1.0))
    with np.errstate(all="ignore"):
        if func == "softmax_vjp":
            y = inp["y"]
            return y * (g - (g * y).sum(axis, keepdims=True)) / t
        return (g - np.exp(inp["logy"]) * g.sum(axis, keepdims=True)) / t


def torch_autograd(func, inp):
    """PyTorch's forward functions, its own backward kernels for softmax and log_softmax given
    the forward output (what autograd calls), and torch.func.jacrev for the Jacobian."""
    import torch

    axis, t = inp.get("axis", -1), inp.get("temperature", 1.0)
    if func in T.CE_OPTION_FUNCS:
        return _ce_options_formula(func, inp, torch)
    if func in T.BCE_FUNCS:  # F.binary_cross_entropy_with_logits and its autograd
        x = torch.from_numpy(np.ascontiguousarray(inp["x"])).requires_grad_(func == "bce_grad")
        kw = {k2: torch.from_numpy(np.ascontiguousarray(inp[k1]))
              for k1, k2 in (("w", "weight"), ("pw", "pos_weight")) if k1 in inp}
        red = "none" if func == "bce" else ("mean" if inp.get("divisor", 1) != 1 else "sum")
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            x, torch.from_numpy(np.ascontiguousarray(inp["t"])), reduction=red, **kw)
        if func == "bce":
            return loss.detach().numpy()
        loss.backward()
        return x.grad.numpy()
    if func in T.DIV_FUNCS:  # F.kl_div(log Q, log P, log_target=True) summed per row; -Σ p log p
        F = torch.nn.functional
        lp = torch.log_softmax(torch.from_numpy(np.ascontiguousarray(_x_for_peer(inp))), axis)
        if func == "entropy":
            return (-(lp.exp() * lp).sum(axis)).numpy()
        lq = torch.log_softmax(torch.from_numpy(np.ascontiguousarray(_x_for_peer(dict(inp, x=inp["q"])))), axis)
        return F.kl_div(lq, lp, log_target=True, reduction="none").sum(axis).numpy()
    if func == "nll_loss":
        xc = torch.from_numpy(np.ascontiguousarray(np.moveaxis(inp["x"], inp.get("axis", -1), 1)))
        return torch.nn.functional.nll_loss(
            xc, torch.from_numpy(np.ascontiguousarray(inp["labels"]).astype(np.int64)), reduction="none").numpy()
    if func in T.VJP_FUNCS:
        g = torch.from_numpy(np.ascontiguousarray(inp["g"]))
        if func == "softmax_vjp":
            y = torch.from_numpy(np.ascontiguousarray(inp["y"]))
            r = torch.ops.aten._softmax_backward_data(g, y, axis, y.dtype)
        else:
            y = torch.from_numpy(np.ascontiguousarray(inp["logy"]))
            r = torch.ops.aten._log_softmax_backward_data(g, y, axis, y.dtype)
        return (r / t).numpy()
    if func == "softmax_jacobian":
        x = np.moveaxis(inp["x"], inp.get("axis", -1), -1)
        xt = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, x.shape[-1])))
        jac = torch.vmap(torch.func.jacrev(lambda r: torch.softmax(r / t, -1)))(xt)
        return jac.numpy().reshape(x.shape[:-1] + (x.shape[-1], x.shape[-1]))
    if func == "logcumsumexp":
        return torch.logcumsumexp(torch.from_numpy(np.ascontiguousarray(inp["x"])), dim=inp.get("axis", -1)).numpy()
    # The forward functions as a PyTorch user calls them, on x / T with masked entries -inf.
    xt = torch.from_numpy(np.ascontiguousarray(_x_for_peer(inp)))
    if func == "softmax":
        return torch.softmax(xt, axis).numpy()
    if func == "log_softmax":
        return torch.log_softmax(xt, axis).numpy()
    if func == "logsumexp":
        return torch.logsumexp(xt, axis).numpy()
    if func == "sigmoid":
        return torch.sigmoid(xt).numpy()
    if func == "log_sigmoid":
        return torch.nn.functional.logsigmoid(xt).numpy()
    if func == "normalize":
        return (xt / xt.sum(axis, keepdim=True)).numpy()
    if func == "cross_entropy":  # classes on axis 1, as PyTorch wants them
        xc = torch.movedim(xt, axis, 1) if xt.ndim > 1 else xt
        return torch.nn.functional.cross_entropy(
            xc, torch.from_numpy(np.ascontiguousarray(inp["labels"]).astype(np.int64)), reduction="none").numpy()
    raise NotImplementedError(f"PyTorch is not compared on {func}")


def scipy_special(func, inp):
    from scipy import special

    if func in T.DERIV_FUNCS or func in T.BCE_FUNCS or func in T.CE_OPTION_FUNCS:
        raise NotImplementedError("scipy has no softmax derivatives and no (binary) cross-entropy")
    if func in T.DIV_FUNCS or func == "nll_loss":
        raise NotImplementedError("scipy's divergences take probabilities, not logits")
    if func == "normalize":
        raise NotImplementedError("scipy has no sum-normalisation")
    if func == "logcumsumexp":
        raise NotImplementedError("scipy has no running log-sum-exp")
    x, axis = _x_for_peer(inp), inp.get("axis", -1)
    with np.errstate(all="ignore"):
        if func == "sigmoid":
            return special.expit(x)
        if func == "log_sigmoid":
            return special.log_expit(x)
        if func == "softmax":
            return special.softmax(x, axis=axis)
        if func == "logsumexp":
            return special.logsumexp(x, axis=axis)
        logp = special.log_softmax(x, axis=axis)
        return logp if func == "log_softmax" else _pick(logp, inp)


def jax_nn(func, inp):
    import jax
    import jax.numpy as jnp

    if func in T.BCE_FUNCS:  # optax's sigmoid_binary_cross_entropy has no weight or pos_weight
        raise NotImplementedError("optax's binary cross-entropy takes no pos_weight (every bce input has one)")
    if func in T.CE_OPTION_FUNCS:
        raise NotImplementedError("the options' formula is compared in NumPy and PyTorch")
    if func in T.DERIV_FUNCS:  # JAX's VJPs take x, not y: a different question
        raise NotImplementedError("JAX differentiates from x; compared only through the forward functions")
    if func == "nll_loss":
        raise NotImplementedError("JAX has no nll_loss")
    if func in T.DIV_FUNCS:  # the jax.nn idiom: Σ p (lp - lq), -Σ p lp
        def logp(a):
            a = jnp.asarray(a)
            t = inp.get("temperature", 1.0)
            return jax.nn.log_softmax(a / jnp.asarray(t, dtype=a.dtype) if t != 1.0 else a, axis=inp.get("axis", -1))
        lp = logp(inp["x"])
        if func == "entropy":
            return np.asarray(-(jnp.exp(lp) * lp).sum(inp.get("axis", -1)))
        lq = logp(inp["q"])
        return np.asarray((jnp.exp(lp) * (lp - lq)).sum(inp.get("axis", -1)))

    x, axis = jnp.asarray(inp["x"]), inp.get("axis", -1)
    t, where = inp.get("temperature", 1.0), inp.get("where")
    if t != 1.0:
        x = x / jnp.asarray(t, dtype=x.dtype)
    kw = {} if where is None else {"where": jnp.asarray(np.broadcast_to(where, x.shape))}
    if func == "sigmoid":
        r = jax.nn.sigmoid(x)
    elif func == "log_sigmoid":
        r = jax.nn.log_sigmoid(x)
    elif func == "softmax":
        r = jax.nn.softmax(x, axis=axis, **kw)
    elif func == "log_softmax":
        r = jax.nn.log_softmax(x, axis=axis, **kw)
    elif func == "logsumexp":
        r = jax.nn.logsumexp(x, axis=axis, **kw)
    elif func == "normalize":
        r = x / x.sum(axis, keepdims=True)
    elif func == "logcumsumexp":
        r = jax.lax.cumlogsumexp(x, axis=axis % x.ndim)
    else:
        import optax

        r = optax.softmax_cross_entropy_with_integer_labels(x, jnp.asarray(inp["labels"]), axis=axis)
    r = np.asarray(r)
    if func in ("softmax", "log_softmax") and where is not None:  # JAX leaves masked entries as is
        fill = 0.0 if func == "softmax" else -np.inf
        r = np.where(np.broadcast_to(where, r.shape), r, r.dtype.type(fill))
    return r


def onnxruntime_op(func, inp):
    """The ONNX operator of `func` (opset 13) on ONNX Runtime's CPU provider, one session per input."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    ops = {"softmax": "Softmax", "log_softmax": "LogSoftmax", "logsumexp": "ReduceLogSumExp",
           "cross_entropy": "SoftmaxCrossEntropyLoss", "sigmoid": "Sigmoid"}
    if func not in ops or func in T.DIV_FUNCS:
        raise NotImplementedError(f"ONNX has no {func} operator")
    x, axis = _x_for_peer(inp), inp.get("axis", -1)
    et = TensorProto.FLOAT if x.dtype == np.float32 else TensorProto.DOUBLE
    inputs, feed = [helper.make_tensor_value_info("X", et, list(x.shape))], {"X": x}
    if func in ("softmax", "log_softmax"):
        node = helper.make_node(ops[func], ["X"], ["Y"], axis=axis)
    elif func == "logsumexp":
        node = helper.make_node(ops[func], ["X"], ["Y"], axes=[axis], keepdims=0)
    elif func == "sigmoid":
        node = helper.make_node(ops[func], ["X"], ["Y"])
    else:  # classes on axis 1, as ONNX wants them
        x = np.moveaxis(x, axis, 1) if x.ndim > 1 else x
        labels = inp["labels"].astype(np.int64)
        inputs = [helper.make_tensor_value_info("X", et, list(x.shape)),
                  helper.make_tensor_value_info("L", TensorProto.INT64, list(labels.shape))]
        feed = {"X": np.ascontiguousarray(x), "L": labels}
        node = helper.make_node(ops[func], ["X", "L"], ["Y"], reduction="none")
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("Y", et, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = min(model.ir_version, 9)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)[0]


def peers(wanted):
    out = {"ours": T.ours, "numpy": numpy_idiom}
    try:
        import scipy.special  # noqa: F401

        out["scipy"] = scipy_special
    except ImportError:
        pass
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        out["jax"] = jax_nn
    except ImportError:
        pass
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

        out["ort"] = onnxruntime_op
    except ImportError:
        pass
    try:
        import torch  # noqa: F401

        out["torch"] = torch_autograd
    except ImportError:
        pass
    return {k: v for k, v in out.items() if wanted is None or k in wanted or k == "ours"}


def fmt(u):
    if u is None:
        return "-"
    if isinstance(u, str):
        return u
    if math.isinf(u):
        return "inf"
    if u >= 1e4:
        return f"{u:.1e}"
    return f"{u:.2f}" if u < 10 else f"{u:.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--funcs", help="comma-separated: " + ",".join(T.FUNCS))
    ap.add_argument("--dtypes", help="comma-separated: float32,float64")
    ap.add_argument("--cases", help="comma-separated case names")
    ap.add_argument("--peers", help="comma-separated: numpy,scipy,jax,ort,torch (ours always)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--summary", action="store_true",
                    help="print only each function's worst, float32 / float64, as a Markdown table (docs/accuracy.md's)")
    ap.add_argument("--known", action="store_true",
                    help="print the KNOWN_ABOVE_2ULP dict of test_accuracy.py for the current library")
    args = ap.parse_args(argv)
    split = lambda s: None if s is None else set(s.split(","))  # noqa: E731
    funcs, dtypes, cases = split(args.funcs), split(args.dtypes), split(args.cases)
    impls = peers(split(args.peers))
    if not T.HAVE_LONGDOUBLE:
        print("numpy.longdouble has no extended precision here: no exact reference", file=sys.stderr)
        return 2

    import swiftsoftmax as ssm

    names = list(impls)
    rows, worst = [], {}
    t0 = time.perf_counter()
    for case in T.CASES:
        if cases and case.name not in cases:
            continue
        for func in case.funcs:
            if funcs and func not in funcs:
                continue
            for dt in T.DTYPES:
                dname = np.dtype(dt).name
                if dtypes and dname not in dtypes:
                    continue
                cells = []
                for name in names:
                    if name == "ours" and not T.available(func):
                        cells.append(None)
                        continue
                    try:
                        u = T.measure(func, dt, case, impls[name]).ulp
                    except ImportError:
                        u = "no mpmath"
                    except NotImplementedError:  # a peer without this function
                        u = None
                    except Exception as e:  # a peer without this feature
                        u = "error"
                        print(f"  {name} {func} {dname} {case.name}: {type(e).__name__}: {e}",
                              file=sys.stderr)
                    cells.append(u)
                    if isinstance(u, float):
                        k = (func, dname, name)
                        worst[k] = max(worst.get(k, 0.0), u)
                rows.append((func, dname, case.name, cells))
                print(f"[{time.perf_counter() - t0:5.1f}s] {func} {dname} {case.name}", file=sys.stderr)

    print(f"# worst error in ULPs (outputs with a normal exact value; threshold {T.THRESHOLD_ULP}); "
          "the VJPs: |dx - exact| / (eps · scale), componentwise (test_accuracy.vjp_errors)")
    print(f"# swiftsoftmax {ssm.build_info()}")
    print(f"# numpy {np.__version__}" + "".join(
        f", {m} {sys.modules[m].__version__}" for m in ("scipy", "jax", "onnxruntime", "torch") if m in sys.modules))
    if args.summary:
        labels = {"ours": "swiftsoftmax", "numpy": "NumPy idiom", "scipy": "scipy.special", "jax": "JAX",
                  "ort": "ONNX Runtime", "torch": "PyTorch"}
        print("| function | " + " | ".join(labels.get(n, n) for n in names) + " |")
        print("|---|" + "---:|" * len(names))
        for f in T.FUNCS:
            pairs = [(worst.get((f, "float32", n)), worst.get((f, "float64", n))) for n in names]
            if any(v is not None for p in pairs for v in p):
                print(f"| {f} | " + " | ".join(f"{fmt(a)} / {fmt(b)}" for a, b in pairs) + " |")
        return 0
    header = ["function", "dtype", "case"] + names
    body = [[f, d, c] + [fmt(u) for u in cells] for f, d, c, cells in rows]
    summary = []
    for f in T.FUNCS:
        for d in ("float32", "float64"):
            vals = [worst.get((f, d, n)) for n in names]
            if any(v is not None for v in vals):
                summary.append([f, d, "ALL (worst)"] + [fmt(v) for v in vals])
    _table(header, body + [None] + summary, args.markdown)
    if args.known:
        print("\nKNOWN_ABOVE_2ULP: dict[str, float] = {")
        for f, d, c, cells in rows:
            u = cells[0]
            if isinstance(u, float) and u > T.THRESHOLD_ULP:
                print(f'    "{f}-{d}-{c}": {float(f"{u:.3g}")!r},')
        print("}")
    return 0


def _table(header, rows, markdown):
    widths = [max(len(str(r[i])) for r in [header] + [r for r in rows if r]) for i in range(len(header))]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" if i < 3 else "---:" for i in range(len(header))) + "|")
        for r in rows:
            if r:
                print("| " + " | ".join(r) + " |")
        return
    line = lambda r: "  ".join(  # noqa: E731
        str(v).ljust(widths[i]) if i < 3 else str(v).rjust(widths[i]) for i, v in enumerate(r))
    print(line(header))
    print("-" * len(line(header)))
    for r in rows:
        print(line(r) if r else "-" * len(line(header)))


if __name__ == "__main__":
    sys.exit(main())
