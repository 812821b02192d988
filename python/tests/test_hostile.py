"""Hostile arguments to every public function (docs/reliability.md, "Checks").

Each case calls one function with one bad argument and checks that it raises TypeError or
ValueError (AxisError is a ValueError) whose message names the argument, says what was expected
and what was given, and that nothing was written: `out` (filled with a sentinel) and every array
argument hold exactly the bytes they held before. Functions taking `out=` are also called in
place (`out=x`) with the same bad argument.

The cases are a table: ``Case(function, bad argument, expected exception, argument name,
text of the given value)``; they run for float32 and float64 data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

import swiftsoftmax as ssm
from conftest import unchanged

# What a message says about the expectation: the library's and the wrapper's wordings.
EXPECTED = re.compile(r"expected|must|outside|out of bounds")


@dataclass
class Case:
    func: Callable
    what: str                      # id: which argument is bad and how
    exc: type
    arg: str                       # the argument the message must name
    given: str | None              # text of the given value the message must contain
    make: Callable[[np.dtype], tuple[tuple, dict]]  # dtype -> (args, kwargs)
    in_place: bool = False         # also run with out=<first argument>
    extra: dict = field(default_factory=dict)

    @property
    def id(self):
        return f"{self.func.__name__}-{self.what}"


def data(dt):
    return np.array([[0.0, 2.0, 4.0], [1.0, -1.0, 3.0]], dtype=dt)


def sentinel(dt, shape=(2, 3)):
    return np.full(shape, 42, dtype=dt)


CASES: list[Case] = []


def add(func, what, exc, arg, given, make, in_place=False):
    CASES.append(Case(func, what, exc, arg, given, make, in_place))


# ---------------------------------------------------------------------------------------
# Bad array values shared by every array argument.

BAD_ARRAYS = [
    ("None", TypeError, lambda dt: None, "None"),
    ("object", TypeError, lambda dt: np.array([[1.0, None, 2.0]] * 2, dtype=object), "object"),
    ("complex", TypeError, lambda dt: data(dt) + 1j, "complex"),
    ("string", TypeError, lambda dt: np.array([["a", "b", "c"]] * 2), "<U1"),
    ("bytes", TypeError, lambda dt: np.array([[b"a", b"b", b"c"]] * 2), "S1"),
    ("datetime", TypeError, lambda dt: np.zeros((2, 3), "M8[D]"), "datetime64"),
    ("ragged", ValueError, lambda dt: [[0.0, 1.0, 2.0], [1.0]], "ragged"),
]

# ---------------------------------------------------------------------------------------
# softmax, log_softmax, normalize: x, axis, temperature, where, out

ROWWISE = [ssm.softmax, ssm.log_softmax, ssm.normalize]
TEMPERED = [ssm.softmax, ssm.log_softmax]
MASKED = [ssm.softmax, ssm.log_softmax]
ELEMENTWISE = [ssm.sigmoid, ssm.log_sigmoid]
WITH_OUT = ROWWISE + ELEMENTWISE + [ssm.logcumsumexp]

BAD_AXES = [  # (id, axis, exception, given)
    ("axis-2", 2, np.exceptions.AxisError, "2"),
    ("axis--3", -3, np.exceptions.AxisError, "-3"),
    ("axis-(0,2)", (0, 2), np.exceptions.AxisError, "2"),
    ("axis-repeated", (0, 0), ValueError, "(0, 0)"),
    ("axis-repeated-neg", (1, -1), ValueError, "(1, -1)"),
    ("axis-float", 1.0, TypeError, "1.0"),
    ("axis-str", "last", TypeError, "last"),
    ("axis-bool", True, TypeError, "True"),
]

SCAN_BAD_AXES = [a for a in BAD_AXES if not isinstance(a[1], tuple)] + [  # one int axis only
    ("axis-tuple", (0, 1), TypeError, "(0, 1)"),
    ("axis-None", None, TypeError, "None"),
]

BAD_TEMPERATURES = [  # value errors come from the library, type errors from the wrapper
    ("T-0", 0.0, ValueError, "0.0"),
    ("T--0", -0.0, ValueError, "-0.0"),
    ("T-neg", -1.0, ValueError, "-1.0"),
    ("T-nan", float("nan"), ValueError, "nan"),
    ("T-inf", float("inf"), ValueError, "inf"),
    ("T--inf", float("-inf"), ValueError, "-inf"),
    ("T-huge-int", 10**400, ValueError, "inf"),
    ("T-None", None, TypeError, "None"),
    ("T-str", "hot", TypeError, "hot"),
    ("T-list", [1.0], TypeError, "list"),
    ("T-complex", 1j, TypeError, "complex"),
    ("T-bool", True, TypeError, "bool"),
    ("T-array", np.array([1.0, 2.0]), TypeError, "ndarray"),
]

BAD_OUTS = [  # (id, make out from dtype, exception, given)
    ("out-list", lambda dt: [[0.0] * 3] * 2, TypeError, "list"),
    ("out-shape", lambda dt: sentinel(dt, (3, 2)), ValueError, "(3, 2)"),
    ("out-shape-3d", lambda dt: sentinel(dt, (2, 3, 1)), ValueError, "(2, 3, 1)"),
    ("out-flat", lambda dt: sentinel(dt, (6,)), ValueError, "(6,)"),
    ("out-dtype", lambda dt: sentinel(np.float64 if dt == np.float32 else np.float32),
     ValueError, "float"),
    ("out-dtype-f16", lambda dt: sentinel(np.float16), ValueError, "float16"),
    ("out-dtype-int", lambda dt: sentinel(np.int64), ValueError, "int64"),
    ("out-read-only", lambda dt: _read_only(sentinel(dt)), ValueError, "read-only"),
    ("out-scalar", lambda dt: dt.type(0), TypeError, "float"),
]


def _read_only(a):
    a.flags.writeable = False
    return a


def _in_place_read_only(dt):
    x = _read_only(data(dt))
    return (x,), {"out": x}


def _in_place_int(dt):
    x = np.array([[0, 2, 4], [1, -1, 3]], dtype=np.int64)  # the result would be float64
    return (x,), {"out": x}


# softmax, log_softmax and logsumexp take complex x (SciPy's semantics; docs/python.md).
COMPLEX_X = (ssm.softmax, ssm.log_softmax, ssm.logsumexp)

for f in WITH_OUT:
    for what, exc, mk, given in BAD_ARRAYS:
        if what == "complex" and f in COMPLEX_X:
            # complex x is valid; a real out for its complex result is not
            add(f, "x-complex-real-out", ValueError, "out", "complex",
                lambda dt, mk=mk: ((mk(dt),), {"out": sentinel(dt)}))
            continue
        add(f, f"x-{what}", exc, "x", given,
            lambda dt, mk=mk: ((mk(dt),), {"out": sentinel(dt)}))
    for what, mk, exc, given in BAD_OUTS:
        add(f, what, exc, "out", given, lambda dt, mk=mk: ((data(dt),), {"out": mk(dt)}))
    # read-only x used in place
    add(f, "out-is-read-only-x", ValueError, "out", "read-only", _in_place_read_only)
    add(f, "out-is-int-x", ValueError, "out", "int64", _in_place_int)

for f in ROWWISE:
    for what, axis, exc, given in BAD_AXES:
        add(f, what, exc, "axis", given,
            lambda dt, axis=axis: ((data(dt), axis), {"out": sentinel(dt)}), in_place=True)

for what, axis, exc, given in SCAN_BAD_AXES:
    add(ssm.logcumsumexp, what, exc, "axis", given,
        lambda dt, axis=axis: ((data(dt), axis), {"out": sentinel(dt)}), in_place=True)

for f in TEMPERED:
    for what, t, exc, given in BAD_TEMPERATURES:
        add(f, what, exc, "temperature", given,
            lambda dt, t=t: ((data(dt),), {"temperature": t, "out": sentinel(dt)}), in_place=True)
        add(f, what + "-where", exc, "temperature", given,
            lambda dt, t=t: ((data(dt),), {"temperature": t, "where": np.ones((2, 3), bool),
                                           "out": sentinel(dt)}))

# The divergences take the temperature as softmax does; their out is one value per row.
for what, t, exc, given in BAD_TEMPERATURES:
    add(ssm.kl_div, what, exc, "temperature", given,
        lambda dt, t=t: ((data(dt), data(dt)[::-1].copy()),
                         {"temperature": t, "reduction": "none", "out": sentinel(dt, (2,))}))
    add(ssm.kl_div_with_grad, what, exc, "temperature", given,
        lambda dt, t=t: ((data(dt), data(dt)[::-1].copy()), {"temperature": t}))
    add(ssm.entropy, what, exc, "temperature", given,
        lambda dt, t=t: ((data(dt),), {"temperature": t, "out": sentinel(dt, (2,))}))
    add(ssm.entropy_with_grad, what, exc, "temperature", given,
        lambda dt, t=t: ((data(dt),), {"temperature": t}))

BAD_WHERES = [
    ("where-int", lambda: np.ones((2, 3), np.int64), TypeError, "int64"),
    ("where-float", lambda: np.ones((2, 3)), TypeError, "float64"),
    ("where-object", lambda: np.array([[True, None, False]] * 2, dtype=object), TypeError, "object"),
    ("where-str", lambda: np.array([["True"] * 3] * 2), TypeError, "<U4"),
    ("where-shape-2", lambda: np.ones((2,), bool), ValueError, "(2,)"),
    ("where-shape-232", lambda: np.ones((2, 3, 2), bool), ValueError, "(2, 3, 2)"),
    ("where-shape-4", lambda: np.ones((4,), bool), ValueError, "(4,)"),
]

for f in MASKED:
    for what, mk, exc, given in BAD_WHERES:
        add(f, what, exc, "where", given,
            lambda dt, mk=mk: ((data(dt),), {"where": mk(), "out": sentinel(dt)}), in_place=True)

# ---------------------------------------------------------------------------------------
# logsumexp: x, axis, where (no out)

for what, exc, mk, given in BAD_ARRAYS:
    if what == "complex":
        continue
    add(ssm.logsumexp, f"x-{what}", exc, "x", given, lambda dt, mk=mk: ((mk(dt),), {}))
    if what != "None":  # b=None: no scale factors
        add(ssm.logsumexp, f"b-{what}", exc, "b", given, lambda dt, mk=mk: ((data(dt),), {"b": mk(dt)}))
add(ssm.logsumexp, "b-shape", ValueError, "b", "(4,)", lambda dt: ((data(dt),), {"b": np.ones(4, dt)}))
for what, axis, exc, given in BAD_AXES:
    add(ssm.logsumexp, what, exc, "axis", given, lambda dt, axis=axis: ((data(dt), axis), {}))
for what, mk, exc, given in BAD_WHERES:
    add(ssm.logsumexp, what, exc, "where", given, lambda dt, mk=mk: ((data(dt),), {"where": mk()}))

# ---------------------------------------------------------------------------------------
# softmax_jacobian: x, axis, temperature

for what, exc, mk, given in BAD_ARRAYS:
    add(ssm.softmax_jacobian, f"x-{what}", exc, "x", given, lambda dt, mk=mk: ((mk(dt),), {}))
for what, axis, exc, given in BAD_AXES:
    add(ssm.softmax_jacobian, what, exc, "axis", given, lambda dt, axis=axis: ((data(dt), axis), {}))
for what, t, exc, given in BAD_TEMPERATURES:
    add(ssm.softmax_jacobian, what, exc, "temperature", given,
        lambda dt, t=t: ((data(dt),), {"temperature": t}))

# ---------------------------------------------------------------------------------------
# softmax_vjp(y, g), log_softmax_vjp(logy, g): both arrays, matching shapes, axis, temperature

for f, first in ((ssm.softmax_vjp, "y"), (ssm.log_softmax_vjp, "logy")):
    for what, exc, mk, given in BAD_ARRAYS:
        add(f, f"{first}-{what}", exc, first, given, lambda dt, mk=mk: ((mk(dt), data(dt)), {}))
        add(f, f"g-{what}", exc, "g", given, lambda dt, mk=mk: ((data(dt), mk(dt)), {}))
    for what, shape in (("g-shape-22", (2, 2)), ("g-shape-32", (3, 2)), ("g-shape-231", (2, 3, 1)),
                        ("g-shape-6", (6,)), ("g-scalar", ())):
        add(f, what, ValueError, "g", str(shape),
            lambda dt, shape=shape: ((data(dt), np.ones(shape, dt)), {}))
    for what, axis, exc, given in BAD_AXES:
        add(f, what, exc, "axis", given, lambda dt, axis=axis: ((data(dt), data(dt), axis), {}))
    for what, t, exc, given in BAD_TEMPERATURES:
        add(f, what, exc, "temperature", given,
            lambda dt, t=t: ((data(dt), data(dt)), {"temperature": t}))

# ---------------------------------------------------------------------------------------
# one_hot: labels, num_classes, dtype

BAD_LABELS = [  # for one_hot(labels, 3)
    ("labels-None", lambda: None, TypeError, "None"),
    ("labels-float", lambda: np.array([0.0, 2.0]), TypeError, "float64"),
    ("labels-float-list", lambda: [0.0, 1.5], TypeError, "float64"),
    ("labels-bool", lambda: np.array([True, False]), TypeError, "bool"),
    ("labels-str", lambda: np.array(["0", "1"]), TypeError, "<U1"),
    ("labels-object", lambda: np.array([0, None], dtype=object), TypeError, "object"),
    ("labels-complex", lambda: np.array([0j, 1j]), TypeError, "complex"),
    ("labels-ragged", lambda: [[0, 1], [2]], ValueError, "ragged"),
    ("labels-high", lambda: np.array([0, 2, 3]), ValueError, "= 3"),
    ("labels-negative", lambda: np.array([[0, 1], [-1, 2]]), ValueError, "= -1"),
    ("labels-int-min", lambda: np.array([np.iinfo(np.int64).min]), ValueError, str(np.iinfo(np.int64).min)),
    ("labels-uint64-huge", lambda: np.array([2**63 + 5], np.uint64), ValueError, "outside"),
    ("labels-int8-neg", lambda: np.array([1, -128], np.int8), ValueError, "= -128"),
]
for what, mk, exc, given in BAD_LABELS:
    add(ssm.one_hot, what, exc, "labels", given, lambda dt, mk=mk: ((mk(), 3), {"dtype": dt}))
for what, k, exc, given in (
        ("k-negative", -1, ValueError, "-1"),
        ("k-very-negative", -2**70, ValueError, str(-2**70)),
        ("k-float", 3.0, TypeError, "float"),
        ("k-None", None, TypeError, "NoneType"),
        ("k-str", "3", TypeError, "str"),
        ("k-bool", True, TypeError, "bool"),
        ("k-array", np.array([3]), TypeError, "ndarray"),
        ("k-huge", 2**62, ValueError, str(2**62)),
        ("k-beyond-int64", 2**64, ValueError, str(2**64)),
        ("k-zero", 0, ValueError, "num_classes = 0")):  # every label is out of range
    add(ssm.one_hot, what, exc, "num_classes", given, lambda dt, k=k: (([1, 2], k), {"dtype": dt}))
for what, d, exc, given in (
        ("dtype-complex", np.complex64, TypeError, "complex64"),
        ("dtype-str", "U3", TypeError, "<U3"),
        ("dtype-object", object, TypeError, "object"),
        ("dtype-unknown", "notadtype", TypeError, "notadtype"),
        ("dtype-datetime", "M8[s]", TypeError, "datetime64")):
    add(ssm.one_hot, what, exc, "dtype", given, lambda dt, d=d: (([1, 2], 3), {"dtype": d}))

# ---------------------------------------------------------------------------------------
# cross_entropy, cross_entropy_with_grad

LABELS = np.array([2, 0])


def ce(dt, **kw):
    args = (data(dt), kw.pop("target", LABELS.copy()))
    return args, kw


for f in (ssm.cross_entropy, ssm.cross_entropy_with_grad):
    for what, exc, mk, given in BAD_ARRAYS:
        add(f, f"logits-{what}", exc, "logits", given,
            lambda dt, mk=mk: ((mk(dt), LABELS.copy()), {}))
    add(f, "logits-scalar", ValueError, "logits", "scalar", lambda dt: ((dt.type(1), 0), {}))
    for what, mk, exc, given in (
            ("target-None", lambda dt: None, TypeError, "None"),
            ("target-str", lambda dt: np.array(["a", "b"]), TypeError, "<U1"),
            ("target-object", lambda dt: np.array([1, None], dtype=object), TypeError, "object"),
            ("target-complex", lambda dt: data(dt) + 0j, TypeError, "complex"),
            ("target-bool", lambda dt: np.array([True, False]), TypeError, "bool"),
            ("target-ragged", lambda dt: [[0.0, 1.0, 0.0], [1.0]], ValueError, "ragged"),
            ("target-int-shape", lambda dt: np.array([0, 1, 2]), ValueError, "(3,)"),
            ("target-int-2d", lambda dt: np.array([[0], [1]]), ValueError, "(2, 1)"),
            ("target-soft-shape", lambda dt: np.full((2, 2), 0.5, dt), ValueError, "(2, 2)"),
            ("target-float-indices", lambda dt: np.array([2.0, 0.0], dt), ValueError, "(2,)"),
            ("target-label-high", lambda dt: np.array([2, 3]), ValueError, "= 3"),
            ("target-label-negative", lambda dt: np.array([-1, 0]), ValueError, "= -1"),
            ("target-label-int-max", lambda dt: np.array([0, np.iinfo(np.int64).max]), ValueError,
             str(np.iinfo(np.int64).max)),
            ("target-uint64-huge", lambda dt: np.array([2**64 - 1, 0], np.uint64), ValueError, "outside")):
        add(f, what, exc, "target", given, lambda dt, mk=mk: ce(dt, target=mk(dt)))
    for what, mk, exc, given in (
            ("weight-shape", lambda dt: np.ones(2, dt), ValueError, "(2,)"),
            ("weight-shape-2d", lambda dt: np.ones((1, 3), dt), ValueError, "(1, 3)"),
            ("weight-scalar", lambda dt: dt.type(1), ValueError, "()"),
            ("weight-complex", lambda dt: np.ones(3) + 1j, TypeError, "complex"),
            ("weight-str", lambda dt: np.array(["a", "b", "c"]), TypeError, "<U1"),
            ("weight-object", lambda dt: np.array([1.0, None, 2.0], dtype=object), TypeError, "object")):
        add(f, what, exc, "weight", given, lambda dt, mk=mk: ce(dt, weight=mk(dt)))
    for what, v, exc, given in (
            ("ignore-float", 1.5, TypeError, "float"),
            ("ignore-None", None, TypeError, "NoneType"),
            ("ignore-str", "-100", TypeError, "str"),
            ("ignore-bool", True, TypeError, "bool"),
            ("ignore-huge", 2**70, ValueError, str(2**70))):
        add(f, what, exc, "ignore_index", given, lambda dt, v=v: ce(dt, ignore_index=v))
    for what, v, exc, given in (
            ("smoothing-neg", -0.1, ValueError, "-0.1"),
            ("smoothing-above-1", 1.5, ValueError, "1.5"),
            ("smoothing-nan", float("nan"), ValueError, "nan"),
            ("smoothing-inf", float("inf"), ValueError, "inf"),
            ("smoothing-None", None, TypeError, "None"),
            ("smoothing-str", "0.1", TypeError, "str"),
            ("smoothing-list", [0.1], TypeError, "list"),
            ("smoothing-bool", True, TypeError, "bool")):
        add(f, what, exc, "label_smoothing", given, lambda dt, v=v: ce(dt, label_smoothing=v))
        add(f, what + "-soft", exc, "label_smoothing", given,
            lambda dt, v=v: ce(dt, target=np.full((2, 3), 1 / 3, dt), label_smoothing=v))
    for what, v, exc, given in (
            ("reduction-avg", "avg", ValueError, "'avg'"),
            ("reduction-upper", "MEAN", ValueError, "'MEAN'"),
            ("reduction-None", None, ValueError, "None"),
            ("reduction-int", 1, ValueError, "1")):
        add(f, what, exc, "reduction", given, lambda dt, v=v: ce(dt, reduction=v))
    for what, axis, exc, given in (
            ("axis-tuple", (0, 1), TypeError, "(0, 1)"),
            ("axis-None", None, TypeError, "None"),
            ("axis-2", 2, np.exceptions.AxisError, "2"),
            ("axis--3", -3, np.exceptions.AxisError, "-3"),
            ("axis-float", 1.0, TypeError, "1.0"),
            ("axis-bool", True, TypeError, "True")):
        add(f, what, exc, "axis", given, lambda dt, axis=axis: ce(dt, axis=axis))

# ---------------------------------------------------------------------------------------
# set_num_threads

for what, n, exc, given in (
        ("0", 0, ValueError, "0"), ("-1", -1, ValueError, "-1"), ("1025", 1025, ValueError, "1025"),
        ("2^31", 2**31, ValueError, str(2**31)), ("2^40", 2**40, ValueError, str(2**40)),
        ("-2^63", -2**63, ValueError, str(-2**63)),
        ("float", 1.5, TypeError, "float"), ("str", "2", TypeError, "str"),
        ("None", None, TypeError, "NoneType"), ("bool", True, TypeError, "bool")):
    add(ssm.set_num_threads, what, exc, "num_threads", given, lambda dt, n=n: ((n,), {}))


# ---------------------------------------------------------------------------------------
# the tests


def _arrays(args, kwargs):
    return [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]


def _expect_error(case, args, kwargs):
    threads = ssm.get_num_threads()
    with unchanged(*_arrays(args, kwargs)):
        with pytest.raises(case.exc) as info:
            case.func(*args, **kwargs)
    assert ssm.get_num_threads() == threads
    msg = str(info.value)
    assert type(info.value) is not RuntimeError
    assert re.search(rf"(?<![\w]){re.escape(case.arg)}(?![\w])", msg), \
        f"message does not name {case.arg!r}: {msg}"
    assert EXPECTED.search(msg), f"message does not say what was expected: {msg}"
    if case.given is not None:
        assert case.given in msg, f"message does not show the given {case.given!r}: {msg}"
    return msg


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_argument(case, dtype):
    args, kwargs = case.make(dtype)
    _expect_error(case, args, kwargs)


IN_PLACE = [c for c in CASES if c.in_place]


@pytest.mark.parametrize("case", IN_PLACE, ids=[c.id for c in IN_PLACE])
def test_bad_argument_in_place(case, dtype):
    """The same bad argument with `out` = the input: the input (= out) is left alone."""
    args, kwargs = case.make(dtype)
    kwargs = dict(kwargs, out=args[0])
    _expect_error(case, args, kwargs)


def test_case_count():
    """docs/reliability.md's figure: error cases per dtype (and in place), kept in one place."""
    assert len(CASES) >= 300
    assert len(IN_PLACE) >= 40


# ---------------------------------------------------------------------------------------
# A failing call leaves no trace: the next good call is unaffected, and errors do not leak
# into later messages.

def test_error_then_success(dtype):
    x = data(dtype)
    out = sentinel(dtype)
    with pytest.raises(ValueError):
        ssm.softmax(x, temperature=-1, out=out)
    assert (out == 42).all()
    y = ssm.softmax(x, out=out)
    assert y is out and np.allclose(out.sum(-1), 1)
    with pytest.raises(ValueError, match=r"labels\[1\] = 7"):
        ssm.one_hot([0, 7], 3)
    with pytest.raises(ValueError, match="label_smoothing.*2.0"):
        ssm.cross_entropy(x, [0, 1], label_smoothing=2.0)


def test_messages_name_the_function():
    """Library errors are prefixed with the Python function that relayed them."""
    for f, kw in ((ssm.softmax, {"temperature": 0}), (ssm.log_softmax, {"temperature": -1}),
                  (ssm.softmax_jacobian, {"temperature": float("nan")})):
        with pytest.raises(ValueError, match=rf"^{f.__name__}: temperature"):
            f([1.0, 2.0], **kw)
    with pytest.raises(ValueError, match=r"^cross_entropy_with_grad: target: labels\[0\] = 5"):
        ssm.cross_entropy_with_grad([[1.0, 2.0]], [5])
    with pytest.raises(ValueError, match=r"^set_num_threads: num_threads"):
        ssm.set_num_threads(0)


@pytest.mark.parametrize("dtype", [np.dtype(np.float32), np.dtype(np.float64)], ids=["f32", "f64"])
def test_subnormal_temperature_sharpens_to_argmax(dtype):
    t = float(np.finfo(dtype).smallest_subnormal) * 4
    x = np.array([0.0, 1.0, 2.0], dtype)
    np.testing.assert_array_equal(ssm.softmax(x, temperature=t), [0, 0, 1])
    ls = ssm.log_softmax(x, temperature=t)
    assert ls[2] == 0 and ls[0] == -np.inf and ls[1] == -np.inf


def test_smallest_normal_temperature_sharpens_to_argmax(dtype):
    t = float(np.finfo(dtype).tiny)
    x = np.array([0.0, 1.0, 2.0], dtype)
    np.testing.assert_array_equal(ssm.softmax(x, temperature=t), [0, 0, 1])


def _run_on_tier(tier, code):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, SWIFTSOFTMAX_ISA=tier)
    done = subprocess.run([sys.executable, "-c", "import numpy as np, swiftsoftmax as ssm\n" + code], env=env,
                          cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_huge_scaled_differences_on_the_baseline_tier():
    """Regression (found by the fuzzer): |x - max| / T above ~1e300 gave NaN without FMA."""
    _run_on_tier("baseline", "r = ssm.log_softmax(np.array([0.0, -1e295]), temperature=1e-10)\n"
                             "assert r[0] == 0 and np.isclose(r[1], -1e305, rtol=1e-15), r\n"
                             "r = ssm.log_softmax(np.array([1.0, 0.0]), temperature=1e-307)\n"
                             "assert r[0] == 0 and np.isclose(r[1], -1e307, rtol=1e-15), r\n")


def test_huge_differences_with_temperature_on_the_baseline_tier():
    """Regression (found by the fuzzer): |x - max| above ~1e300 with T != 1 gave NaN without FMA."""
    _run_on_tier("baseline", "r = ssm.log_softmax(np.array([1.7976931348623157e308, -460.0]), temperature=1e20)\n"
                             "assert r[0] == 0 and r[1] < -1e288, r\n")
