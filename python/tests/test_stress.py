"""Concurrency stress (docs/reliability.md, "Checks"): ctypes releases the GIL, so Python threads
call the library at the same time. 8 threads run a shuffled mix of calls (every family,
float32/float64, several shapes and axes, small and large enough to use the library's own
threads) while one of them keeps changing the thread count, and some calls fail on purpose.
Every result must equal, bit for bit, the one computed sequentially beforehand, and every
failure must carry its own message (the library's error text is per thread)."""

from __future__ import annotations

import random
import threading
import time

import numpy as np
import pytest

import swiftsoftmax as ssm

THREADS = 8
ROUNDS = 4           # passes over the task list per thread (8 x 4 x 155 calls, ~7 s on 2 cores)
TIME_BUDGET = 10.0   # seconds: on a loaded machine threads stop early, after one full pass at least


def _tasks():
    """(name, callable) pairs; each callable returns a tuple of arrays/scalars."""
    rng = np.random.default_rng(2024)
    tasks = []
    shapes = [(3, 7), (64, 33), (5, 6, 4), (2, 40000), (300, 257)]  # the last two: > 65536 elements
    for dt in (np.float32, np.float64):
        for shape in shapes:
            x = (rng.standard_normal(shape) * 5).astype(dt)
            x.flat[::97] = -np.inf
            g = rng.standard_normal(shape).astype(dt)
            axes = [-1, 0] if len(shape) == 2 else [1, (0, 2), None]
            for axis in axes:
                tag = f"{np.dtype(dt).name}{shape}ax{axis}"
                tasks.append((f"softmax {tag}", lambda x=x, a=axis: (ssm.softmax(x, a),)))
                tasks.append((f"log_softmax T {tag}", lambda x=x, a=axis: (ssm.log_softmax(x, a, temperature=0.7),)))
                tasks.append((f"logsumexp {tag}", lambda x=x, a=axis: (ssm.logsumexp(x, a),)))
                tasks.append((f"normalize {tag}", lambda x=x, a=axis: (ssm.normalize(np.abs(x) + 1, a),)))
                if axis is not None and not isinstance(axis, tuple):
                    mask = rng.random(shape) < 0.8
                    tasks.append((f"masked {tag}", lambda x=x, a=axis, m=mask: (ssm.softmax(x, a, where=m),
                                                                                 ssm.logsumexp(x, a, where=m))))
                    y = ssm.softmax(x, axis)
                    tasks.append((f"vjp {tag}", lambda x=x, y=y, g=g, a=axis: (ssm.softmax_vjp(y, g, a),
                                                                          ssm.log_softmax_vjp(ssm.log_softmax(x, a), g, a))))
            tasks.append((f"sigmoid {dt.__name__}{shape}", lambda x=x: (ssm.sigmoid(x), ssm.log_sigmoid(x))))
            if len(shape) == 2:
                n = shape[-1]
                labels = rng.integers(0, n, shape[0])
                labels[::5] = -100
                tasks.append((f"cross_entropy {dt.__name__}{shape}",
                              lambda x=x, lab=labels: (*ssm.cross_entropy_with_grad(np.nan_to_num(x, neginf=-30), lab),
                                                       ssm.cross_entropy(x, lab, reduction="none", label_smoothing=0.1))))
                if shape[0] * n * n <= 2_000_000:
                    tasks.append((f"jacobian {dt.__name__}{shape}", lambda x=x: (ssm.softmax_jacobian(x),)))
                tasks.append((f"one_hot {shape}", lambda lab=labels, n=n: (ssm.one_hot(np.abs(lab) % n, n),)))
    # in place on a private copy
    base = (rng.standard_normal((128, 600)) * 3).astype(np.float32)

    def in_place(b=base):
        c = b.copy()
        ssm.log_softmax(c, out=c)
        return (c,)
    tasks.append(("in place", in_place))
    return tasks


def _failing(k):
    """A call that fails with a message only this caller can expect."""
    t = -(k + 1) - 0.25
    try:
        ssm.softmax([1.0, 2.0], temperature=t)
    except ValueError as e:
        return str(e), f"got {t}"
    return "no error", f"got {t}"


def _same(a, b):
    a = np.asarray(a)
    b = np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def tasks_and_expected():
    before = ssm.get_num_threads()
    ssm.set_num_threads(2)
    tasks = _tasks()
    expected = [f() for _, f in tasks]
    ssm.set_num_threads(before)
    return tasks, expected


def test_threads_match_sequential(tasks_and_expected, restore_threads):
    tasks, expected = tasks_and_expected
    errors: list[str] = []
    calls = [0] * THREADS
    deadline = time.monotonic() + TIME_BUDGET
    start = threading.Barrier(THREADS)

    def worker(w):
        rnd = random.Random(w)
        order = list(range(len(tasks))) * ROUNDS
        rnd.shuffle(order)
        start.wait()
        for step, i in enumerate(order):
            if step >= len(tasks) and time.monotonic() > deadline:
                return  # over budget, after one full pass
            if w == 0 and step % 7 == 0:
                ssm.set_num_threads(1 + step % 4)   # results must not depend on it
            if step % 11 == w % 11:
                msg, want = _failing(w * 1000 + step)
                calls[w] += 1
                if want not in msg or not msg.startswith("softmax: temperature"):
                    errors.append(f"thread {w}: error message {msg!r} is not ours ({want})")
            got = tasks[i][1]()
            calls[w] += 1
            if not all(_same(a, b) for a, b in zip(got, expected[i])):
                errors.append(f"thread {w}: {tasks[i][0]} differs from the sequential result")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIME_BUDGET + 30)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, "\n".join(errors[:20])
    total = sum(calls)
    assert total >= THREADS * len(tasks)
    print(f"\n{total} concurrent calls in {THREADS} threads over {len(tasks)} tasks")


def test_task_count(tasks_and_expected):
    """docs/reliability.md's figure: tasks x rounds x threads (plus failing calls)."""
    tasks, _ = tasks_and_expected
    assert len(tasks) >= 80



_FORK_SCRIPT = """
import multiprocessing as mp, sys
import numpy as np, swiftsoftmax as ssm

def child(x, q):
    q.put(ssm.softmax(x).tobytes())

x = np.random.default_rng(5).normal(0, 3, (512, 1000)).astype(np.float32)
ssm.set_num_threads(2)
want = ssm.softmax(x).tobytes()  # the parent's pool is running now
ctx = mp.get_context("fork")
q = ctx.Queue()
children = [ctx.Process(target=child, args=(x, q)) for _ in range(2)]
for c in children:
    c.start()
got = [q.get(timeout=60) for _ in children]
for c in children:
    c.join(30)
sys.exit(0 if all(g == want for g in got) and all(c.exitcode == 0 for c in children) else 1)
"""


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_parallel_calls_in_a_forked_child():
    """A forked child has none of its parent's worker threads: its parallel calls must start
    a pool of their own rather than wait for workers that do not exist. Run in a fresh
    interpreter, so that no other library's threads (JAX's, in this test session) are forked."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-c", _FORK_SCRIPT], env=env, timeout=180,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
