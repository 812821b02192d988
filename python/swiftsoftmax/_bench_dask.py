"""`python -m swiftsoftmax bench --dask`: softmax over an axis split across Dask chunks.

A (64, 4M) float32 array (1 GiB) in 8 chunks along the softmax axis, on a ``distributed``
LocalCluster of worker processes: ``swiftsoftmax.dask.softmax`` against Dask's own idiom
``e = da.exp(x - x.max(axis, keepdims=True)); e / e.sum(axis, keepdims=True)``. The array is
generated and kept in the workers first (``persist``), so the timings hold the softmax alone;
each result is reduced to its row sums (the same reduction for both, to keep 1 GiB of output
from travelling to the client). Peak memory per worker is the rise of the worker process's
peak resident set (VmHWM, reset before each run through /proc/self/clear_refs) over the
persisted input it already holds, also given in chunks.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:  # imported when run: Dask is an optional extra
    import dask.array as da


def _reset_peak() -> int:
    """Resets this process's peak RSS to its current RSS (Linux), and returns the RSS in bytes."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status("VmRSS")


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak() -> int:
    return _status("VmHWM")


def _dask_idiom(x: da.Array, axis: int) -> da.Array:
    import dask.array as da

    e = da.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def run(rows: int = 64, cols: int = 4 * 1024 * 1024, chunks: int = 8, workers: int = 2,
        repeats: int = 3) -> dict[str, Any]:
    import dask
    import dask.array as da
    import distributed

    import swiftsoftmax.dask as ssd

    chunk_cols = -(-cols // chunks)
    chunk_bytes = rows * chunk_cols * 4
    results: dict[str, Any] = {"shape": [rows, cols], "chunks_along_axis": chunks, "chunk_mib": chunk_bytes / 2**20,
               "workers": workers, "threads_per_worker": 1}
    with dask.config.set({"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
                          "distributed.worker.memory.pause": False, "distributed.worker.memory.terminate": False}):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", memory_limit=0) as cluster, \
                distributed.Client(cluster) as client:
            x = da.random.default_rng(0).standard_normal((rows, cols), chunks=(rows, chunk_cols), dtype=np.float32)
            x = x.persist()
            distributed.wait(x)
            impls: dict[str, Callable[[], da.Array]] = {"swiftsoftmax.dask": lambda: ssd.softmax(x, axis=-1),
                     "dask idiom": lambda: _dask_idiom(x, -1)}
            for name, build in impls.items():
                sums = build().sum(axis=-1)
                client.compute(sums, sync=True)  # warm-up: imports and library loading in the workers
                best, peak = float("inf"), 0
                for _ in range(repeats):
                    base = client.run(_reset_peak)
                    t0 = time.perf_counter()
                    s = client.compute(build().sum(axis=-1), sync=True)
                    best = min(best, time.perf_counter() - t0)
                    highs = client.run(_peak)
                    peak = max(peak, max(highs[w] - base[w] for w in highs))
                    if not np.allclose(s, 1, rtol=1e-3):
                        raise RuntimeError(f"{name}: rows do not sum to 1 ({s[:3]})")
                results[name] = {"seconds": best, "peak_extra_mib_per_worker": peak / 2**20,
                                 "peak_extra_chunks_per_worker": peak / chunk_bytes}
    return results


def report(r: dict[str, Any]) -> None:
    rows, cols = r["shape"]
    print(f"softmax of a ({rows}, {cols}) float32 array in {r['chunks_along_axis']} chunks of "
          f"{r['chunk_mib']:.0f} MiB along the axis; distributed LocalCluster of {r['workers']} worker "
          f"processes x {r['threads_per_worker']} thread; input persisted in the workers; best of several runs")
    print(f"{'implementation':<20} {'time':>9} {'peak memory / worker (above the input)':>42}")
    for name in ("swiftsoftmax.dask", "dask idiom"):
        v = r[name]
        print(f"{name:<20} {v['seconds']:>8.2f}s {v['peak_extra_mib_per_worker']:>24.0f} MiB"
              f" = {v['peak_extra_chunks_per_worker']:.1f} chunks")
    ratio = r["dask idiom"]["seconds"] / r["swiftsoftmax.dask"]["seconds"]
    print(f"dask idiom / swiftsoftmax.dask: {ratio:.2f}x")


def main(rows: int, cols: int, chunks: int, workers: int) -> int:
    report(run(rows, cols, chunks, workers))
    return 0
