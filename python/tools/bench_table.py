"""The benchmark table of docs/performance.md from `python -m swiftsoftmax bench --json PATH`.

    python3 python/tools/bench_table.py bench.json > table.md

Prints the Markdown table (times, best peer / ours, ours / copy, ours with out= / copy, ns per
element per thread) and a summary line: how many
rows have best peer / ours >= 1, per op and dtype.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

NAMES = {"numpy": "NumPy idiom", "scipy": "scipy.special", "jax": "JAX (jit)", "ort": "ONNX Runtime",
         "torch": "PyTorch", "torch_lce": "PyTorch chunked"}


def fmt_time(t) -> str:
    if t is None:
        return "–"
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    return f"{t * 1e3:.2f} ms"


def table(data: dict) -> list[str]:
    peers = data["peers"]
    lines = ["| op | dtype | shape, axis | ours | " + " | ".join(NAMES.get(p, p) for p in peers)
             + " | best peer / ours | ours / copy | ours (out=) / copy | ns / element / thread |",
             "|---|---|---|" + "---:|" * (len(peers) + 5)]
    for r in data["results"]:
        shape = "×".join(map(str, r["shape"]))
        ratio = r["best_peer_over_ours"]
        copy = r["ours_over_copy"]
        cells = [r["op"], r["dtype"], f"{shape}, {r['axis']}", fmt_time(r["times"].get("ours"))]
        cells += [fmt_time(r["times"].get(p)) for p in peers]
        out = r.get("ours_out_over_copy")
        ns = r.get("ns_per_element_per_thread")
        cells += ["–" if ratio is None else f"{ratio:.2f}", "–" if copy is None else f"{copy:.1f}",
                  "–" if out is None else f"{out:.1f}", "–" if ns is None else f"{ns:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary(data: dict) -> str:
    won, total = Counter(), Counter()
    for r in data["results"]:
        key = (r["op"], r["dtype"])
        total[key] += 1
        if r["best_peer_over_ours"] is not None and r["best_peer_over_ours"] >= 1:
            won[key] += 1
    parts = [f"{op} {dt} {won[(op, dt)]}/{total[(op, dt)]}" for op, dt in total]
    return (f"best peer / ours >= 1 on {sum(won.values())} of {sum(total.values())} rows ("
            + ", ".join(parts) + ")")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    with open(argv[0]) as f:
        data = json.load(f)
    print("\n".join(table(data)))
    print()
    print(summary(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
