"""The float64 log-sigmoid's table of c and log(c) on AVX-512, as an accurate table.

The kernel (``logSigmoidFromPair``, Sources/SoftmaxKernels/Sigmoid.swift) reads c_j, near
1/(1 + j/15), and log(c_j) by j = round(15 e) from two-register tables of 16 Doubles. Any c near
1/(1 + j/15) serves: the argument r = e·c - 1 only has to stay small. So each c_j is one of the
Doubles just above 15/(15 + j) (within 2^-24 of it, relatively) whose logarithm lies within
2^-BITS of an ulp of a Double (Gal's accurate tables), and log(c_j) is that Double alone: the
table needs no low part (docs/performance.md, "The float64 log-sigmoid's accurate table").
c_1 is never below 15/16, where e·c and 1 - c would stop being within a factor 2 of each other.

The search is random but seeded, so the table is reproducible; ``--check`` instead verifies the
table in the Swift source (tests/test_log_table.py runs it).

    cd python && python tools/log_table.py            # print the two tables as Swift literals
    python tools/log_table.py --check ../Sources/SoftmaxKernels/Sigmoid.swift
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
from fractions import Fraction

import mpmath

ENTRIES = 16
"""Entries j = 0 ... 15 for j = round(15 e), e in [0, 1]."""


def ulps_from_double(c: float) -> mpmath.mpf:
    """|log(c) - D| / ulp(D), D the Double nearest log(c)."""
    exact = mpmath.log(mpmath.mpf(c))
    nearest = float(exact)
    return abs(exact - mpmath.mpf(nearest)) / mpmath.mpf(math.ulp(nearest))


def search(bits: int, seed: int) -> list[tuple[float, float]]:
    """(c_j, log(c_j) rounded) for j = 0 ... 15; c_0 = 1."""
    mpmath.mp.prec = 130
    rng = random.Random(seed)
    table = [(1.0, 0.0)]
    for j in range(1, ENTRIES):
        start = float(Fraction(15, 15 + j))
        step = math.ulp(start)
        while True:
            c = start + rng.randrange(0, 1 << 28) * step
            if ulps_from_double(c) < mpmath.mpf(2) ** -bits:
                table.append((c, float(mpmath.log(mpmath.mpf(c)))))
                break
    return table


def swift_literal(values: list[float]) -> str:
    """Two `DV(...)` lines per register half, as the kernel writes its tables."""
    text = [("0" if v == 0 else v.hex()) for v in values]
    return (f"DV({', '.join(text[0:4])},\n   {', '.join(text[4:8])}),\n"
            f"DV({', '.join(text[8:12])},\n   {', '.join(text[12:16])})")


def tables_in_source(path: str) -> tuple[list[float], list[float]]:
    """c and log(c) as `logSigmoidFromPair` spells them."""
    source = open(path, encoding="utf-8").read()
    body = source[source.index("func logSigmoidFromPair"):]

    def table(name: str) -> list[float]:
        block = re.search(rf"let {name} = _mm512_permutex2var_pd\((.*?)\)\)\n", body, re.S)
        if block is None:
            raise SystemExit(f"{path}: no table `{name}` in logSigmoidFromPair")
        literals = re.findall(r"-?0x[0-9a-f.]+p[+-]\d+|(?<![\w.])-?0(?![\w.])", block.group(1))
        values = [float.fromhex(x) if "x" in x else 0.0 for x in literals]
        if len(values) != ENTRIES:
            raise SystemExit(f"{path}: table `{name}` has {len(values)} entries, not {ENTRIES}")
        return values

    return table("c"), table("logC")


def check(path: str, bits: int) -> list[str]:
    """What is wrong with the source's table (nothing: an empty list)."""
    mpmath.mp.prec = 130
    cs, logs = tables_in_source(path)
    problems = []
    if cs[0] != 1.0 or logs[0] != 0.0:
        problems.append("entry 0 must be c = 1, log(c) = 0")
    for j in range(1, ENTRIES):
        c, logc = cs[j], logs[j]
        target = Fraction(15, 15 + j)
        shift = abs(Fraction(c) - target) / target
        if not 0.5 <= c <= 1 or shift > Fraction(1, 1 << 24):
            problems.append(f"entry {j}: c = {c.hex()} is not within 2^-24 of 15/{15 + j} in [1/2, 1]")
        if j == 1 and c < 15 / 16:
            problems.append(f"entry 1: c = {c.hex()} is below 15/16")
        if logc != float(mpmath.log(mpmath.mpf(c))):
            problems.append(f"entry {j}: {logc.hex()} is not log(c) rounded")
        elif ulps_from_double(c) >= mpmath.mpf(2) ** -bits:
            problems.append(f"entry {j}: log(c) is {float(ulps_from_double(c)):.3g} ulp from its Double")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bits", type=int, default=20, help="log(c) within 2^-BITS ulp of a Double (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="the search's seed (default 1, the kernel's table)")
    parser.add_argument("--check", metavar="SIGMOID_SWIFT", help="verify the table in this source file instead")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.check, args.bits)
        for p in problems:
            print(p, file=sys.stderr)
        if not problems:
            print(f"{args.check}: c and log(c), {ENTRIES} entries, log(c) within 2^-{args.bits} ulp")
        return 1 if problems else 0
    table = search(args.bits, args.seed)
    print("c:\n" + swift_literal([c for c, _ in table]))
    print("logC:\n" + swift_literal([lc for _, lc in table]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
