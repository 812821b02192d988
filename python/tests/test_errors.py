"""Every error path of the forward functions, each checked to leave the caller's arrays (inputs and
`out`) exactly as they were; and the library's own checks reached through its C ABI."""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

import swiftsoftmax as ssm
from swiftsoftmax._lib import FUNCS
from conftest import assert_raises_unchanged, unchanged

ROWWISE_T = [ssm.softmax, ssm.log_softmax]
ROWWISE = [ssm.softmax, ssm.log_softmax, ssm.normalize]
ELEMENTWISE = [ssm.sigmoid, ssm.log_sigmoid]
ALL_OUT = ROWWISE + ELEMENTWISE
ids = lambda f: f.__name__  # noqa: E731


@pytest.fixture
def xo(dtype):
    x = np.array([[0.0, 2.0, 4.0], [1.0, -1.0, 3.0]], dtype=dtype)
    return x, np.full_like(x, 42)


@pytest.mark.parametrize("f", ROWWISE_T, ids=ids)
@pytest.mark.parametrize("t", [0.0, -0.0, -1.0, np.nan, np.inf, -np.inf, 1e-60])
def test_bad_temperature(xo, f, t, dtype):
    x, out = xo
    if t == 1e-60 and dtype == np.float64:
        pytest.skip("1e-60 is a valid float64 temperature")
    assert_raises_unchanged(ValueError, f, x, temperature=t, out=out, match="temperature")
    assert_raises_unchanged(ValueError, f, x, temperature=t, out=x, match="temperature")  # in place
    w = np.ones(x.shape, bool)
    assert_raises_unchanged(ValueError, f, x, temperature=t, where=w, out=out, match="temperature")


@pytest.mark.parametrize("f", ROWWISE_T, ids=ids)
@pytest.mark.parametrize("t", [None, "hot", [1.0], 1j, True])
def test_non_numeric_temperature(xo, f, t):
    x, out = xo
    assert_raises_unchanged(TypeError, f, x, temperature=t, out=out, match="temperature")


@pytest.mark.parametrize("f", ALL_OUT, ids=ids)
def test_out_wrong_shape(xo, f):
    x, _ = xo
    for bad in (np.zeros((3, 2), x.dtype), np.zeros((2, 3, 1), x.dtype), np.zeros(6, x.dtype)):
        assert_raises_unchanged(ValueError, f, x, out=bad, arrays=(x, bad), match="shape")


@pytest.mark.parametrize("f", ALL_OUT, ids=ids)
def test_out_wrong_dtype(xo, f):
    x, _ = xo
    other = np.float64 if x.dtype == np.float32 else np.float32
    for bad in (np.zeros(x.shape, other), np.zeros(x.shape, np.float16), np.zeros(x.shape, np.int64)):
        assert_raises_unchanged(ValueError, f, x, out=bad, arrays=(x, bad), match="dtype")


@pytest.mark.parametrize("f", ALL_OUT, ids=ids)
def test_out_read_only(xo, f):
    x, out = xo
    out.flags.writeable = False
    assert_raises_unchanged(ValueError, f, x, out=out, arrays=(x, out))
    x.flags.writeable = False
    assert_raises_unchanged(ValueError, f, x, out=x, arrays=(x,))  # read-only in place


@pytest.mark.parametrize("f", ALL_OUT, ids=ids)
def test_out_not_an_array(xo, f):
    x, _ = xo
    assert_raises_unchanged((TypeError, ValueError), f, x, out=[0.0] * 6, arrays=(x,))


def test_int_input_in_place_is_refused():
    x = np.array([0, 2, 4])
    assert_raises_unchanged(ValueError, ssm.softmax, x, out=x)


@pytest.mark.parametrize("f", ROWWISE_T + [ssm.logsumexp], ids=ids)
def test_bad_where(xo, f):
    x, out = xo
    kw = {} if f is ssm.logsumexp else {"out": out}
    arrays = (x,) if f is ssm.logsumexp else (x, out)
    assert_raises_unchanged(ValueError, f, x, where=np.ones((2,), bool), arrays=arrays, **kw)
    assert_raises_unchanged(ValueError, f, x, where=np.ones((2, 3, 2), bool), arrays=arrays, **kw)
    assert_raises_unchanged(TypeError, f, x, where=np.ones(x.shape, np.int8), arrays=arrays, **kw)


@pytest.mark.parametrize("f", ROWWISE + [ssm.logsumexp], ids=ids)
def test_bad_axis(xo, f):
    x, out = xo
    kw = {} if f is ssm.logsumexp else {"out": out}
    arrays = (x,) if f is ssm.logsumexp else (x, out)
    for axis in (2, -3, (0, 2), (5,)):
        assert_raises_unchanged(np.exceptions.AxisError, f, x, axis, arrays=arrays, **kw)
    assert_raises_unchanged(ValueError, f, x, (0, 0), arrays=arrays, **kw)  # repeated
    assert_raises_unchanged(ValueError, f, x, (1, -1), arrays=arrays, **kw)
    assert_raises_unchanged(TypeError, f, x, 1.0, arrays=arrays, **kw)
    assert_raises_unchanged(TypeError, f, x, "last", arrays=arrays, **kw)
    assert issubclass(np.exceptions.AxisError, (ValueError, IndexError))


@pytest.mark.parametrize("f", ALL_OUT + [ssm.logsumexp], ids=ids)
def test_bad_dtype_with_out(f, dtype):
    out = np.full(2, 42, dtype)
    kw = {} if f is ssm.logsumexp else {"out": out}
    assert_raises_unchanged(TypeError, f, np.array([1.0, None], dtype=object), arrays=(out,), **kw)


@pytest.mark.parametrize("n", [0, -1, 1025, 2**31, 2**40, -2**40])
def test_bad_thread_counts(n, restore_threads):
    before = ssm.get_num_threads()
    with pytest.raises(ValueError, match="num_threads"):
        ssm.set_num_threads(n)
    assert ssm.get_num_threads() == before


@pytest.mark.parametrize("n", [1.5, "2", True, None])
def test_non_int_thread_counts(n, restore_threads):
    before = ssm.get_num_threads()
    with pytest.raises(TypeError):
        ssm.set_num_threads(n)
    assert ssm.get_num_threads() == before


def test_set_num_threads_accepts_numpy_int(restore_threads):
    ssm.set_num_threads(np.int64(2))
    assert ssm.get_num_threads() == 2


# ---------------------------------------------------------------------------------------
# The library's own checks, reached through the ctypes table (Python never makes these calls
# itself: it copies instead of passing overlapping buffers).

NULL = None
SIZE_MAX = 2**64 - 1


def p(a, offset=0):
    return a.ctypes.data + offset * a.itemsize


@pytest.mark.parametrize("t", ["f32", "f64"])
def test_c_abi_overlap_null_and_shape(t):
    dt = np.float32 if t == "f32" else np.float64
    buf = np.array([0, 2, 4, 6, 8, 10], dtype=dt)
    m = np.ones(6, np.uint8)
    cases = [
        (FUNCS[f"ssm_softmax_{t}"], (p(buf), p(buf, 1), 1, 3, 1, 1.0), 5),
        (FUNCS[f"ssm_log_softmax_{t}"], (p(buf, 2), p(buf), 1, 3, 1, 1.0), 5),
        (FUNCS[f"ssm_softmax_{t}"], (NULL, p(buf), 1, 3, 1, 1.0), 1),
        (FUNCS[f"ssm_softmax_{t}"], (p(buf), NULL, 1, 3, 1, 1.0), 1),
        (FUNCS[f"ssm_softmax_masked_{t}"], (p(buf), NULL, p(buf, 3), 1, 3, 1, 1.0), 1),
        (FUNCS[f"ssm_softmax_{t}"], (p(buf), p(buf, 3), SIZE_MAX, 3, 1, 1.0), 2),
        (FUNCS[f"ssm_softmax_{t}"], (p(buf), p(buf, 3), 2**62, 2**62, 1, 1.0), 2),
        (FUNCS[f"ssm_softmax_{t}"], (p(buf), p(buf, 3), 1, 3, 1, float("nan")), 3),
        (FUNCS[f"ssm_logsumexp_{t}"], (p(buf), p(buf), 1, 3, 1), 5),
        (FUNCS[f"ssm_logsumexp_{t}"], (p(buf), NULL, 1, 3, 1), 1),
        (FUNCS[f"ssm_logsumexp_{t}"], (NULL, p(buf), 2**62, 0, 1), 2),  # 2^62 results overflow bytes
        (FUNCS[f"ssm_logsumexp_{t}"], (NULL, p(buf), 2**61, 0, 2**2), 2),
        (FUNCS[f"ssm_sigmoid_{t}"], (p(buf), p(buf, 1), 3), 5),
        (FUNCS[f"ssm_sigmoid_{t}"], (NULL, p(buf), 3), 1),
        (FUNCS[f"ssm_log_sigmoid_{t}"], (p(buf), p(buf), SIZE_MAX), 2),
        (FUNCS[f"ssm_normalize_{t}"], (p(buf), p(buf, 2), 1, 3, 1), 5),
        (FUNCS[f"ssm_softmax_masked_{t}"], (p(buf), m.ctypes.data, p(buf), 1, 3, 1, 0.0), 3),
    ]
    for func, args, code in cases:
        with unchanged(buf, m):
            assert func(*args) == code, (func.__name__, args)
        assert FUNCS["ssm_last_error_message"]().decode()


def test_c_abi_empty_arrays_accept_null():
    for t in ("f32", "f64"):
        assert FUNCS[f"ssm_softmax_{t}"](None, None, 0, 5, 3, 1.0) == 0
        assert FUNCS[f"ssm_sigmoid_{t}"](None, None, 0) == 0
        out = np.zeros(3, np.float32 if t == "f32" else np.float64)
        assert FUNCS[f"ssm_logsumexp_{t}"](None, out.ctypes.data, 3, 0, 1) == 0
        assert np.all(out == -np.inf)


def test_status_messages():
    msgs = [FUNCS["ssm_status_message"](c).decode() for c in range(6)]
    assert msgs[0] == "ok" and len(set(msgs)) == 6 and all(msgs)
    assert FUNCS["ssm_status_message"](99).decode() == "unknown status code"
    assert FUNCS["ssm_status_message"](-1).decode() == "unknown status code"


def test_error_message_names_the_problem():
    with pytest.raises(ValueError, match=r"softmax.*temperature.*-2"):
        ssm.softmax([1.0, 2.0], temperature=-2)
    assert isinstance(ctypes.c_int(0).value, int)
