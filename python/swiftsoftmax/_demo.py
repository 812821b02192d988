"""``python -m swiftsoftmax demo``: why the output layer of a classifier is softmax, in numbers.

The walk-through follows the argument of the article the project grew from: what an output layer
must produce, the alternatives (identity, sigmoid, sum-normalisation) and which requirement each
breaks, softmax's properties (offset invariance, the two-class sigmoid, argmax, temperature), its
derivatives and the cross-entropy loss. Every number printed is computed at run time by the
library (derivatives by finite differences of the library's own softmax); nothing is typed in.

Then the article's conclusion made real: a classifier with a softmax output layer trained on the
bundled UCI digits by minimising cross-entropy (a line per epoch, the test accuracy, a confusion
matrix), and the same network trained with sigmoid outputs and with sum-normalisation instead,
compared on accuracy and calibration. ``--plot DIR`` writes the figures (temperature, derivative
curves, training curves, confusion matrix) as PNGs.

Sections are plain functions listed in ``SECTIONS``; later parts of the demo append to it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import numpy.typing as npt

import swiftsoftmax as ssm

# The article's scores: s1, s2, s3 of a three-class output layer, then its "offset" example, which
# raises s2 and s3 by 100 and leaves s1 at 0, and one input with a negative score.
SCORES = np.array([0.0, 2.0, 4.0])
SHIFTED = np.array([0.0, 102.0, 104.0])
NEGATIVE = np.array([-1.0, 2.0, 4.0])

# One finite-difference step for every derivative below (central differences, float64).
STEP = 1e-6


# ---- formatting ---------------------------------------------------------------------------------

def num(v: float, digits: int = 4) -> str:
    """A number with `digits` decimals, or in scientific notation when that would hide it."""
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v != 0 and abs(v) < 0.5 * 10.0 ** -digits:
        return f"{v:.1e}"
    text = f"{v:.{digits}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text


def sci(v: float) -> str:
    return f"{float(v):.1e}"


def yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "",
          indent: str = "  ") -> None:
    """Prints rows under a header, aligned: `align` has one letter per column, "l" (left) or
    "r" (right); by default the first column is left-aligned and the others right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    align = (align or "l").ljust(len(header), "r")

    def line(r: Sequence[str]) -> str:
        parts = [c.ljust(w) if align[i] == "l" else c.rjust(w)
                 for i, (c, w) in enumerate(zip(r, widths))]
        return (indent + "  ".join(parts)).rstrip()

    print(line(cells[0]))
    print(indent + "  ".join("-" * w for w in widths))
    for r in cells[1:]:
        print(line(r))


def vec(v: Iterable[float], digits: int = 4) -> str:
    return "[" + ", ".join(num(x, digits) for x in v) + "]"


def scores_text(v: Iterable[float]) -> str:
    return "[" + ", ".join(f"{x:g}" for x in v) + "]"


def section(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


def say(*lines: str) -> None:
    for text in lines:
        print(text)


# ---- finite differences of the library's functions ---------------------------------------------

def partials(f: Callable[[npt.NDArray[Any]], npt.NDArray[Any]], s: npt.NDArray[Any], j: int) -> npt.NDArray[Any]:
    """d f(s) / d s[..., j] by central differences; `f` maps rows of scores to rows of outputs."""
    up = np.array(s, dtype=np.float64)
    down = up.copy()
    up[..., j] += STEP
    down[..., j] -= STEP
    width = (up[..., j] - down[..., j])[..., None]   # the step actually taken, after rounding
    slopes: npt.NDArray[Any] = (f(up) - f(down)) / width
    return slopes


def jacobian_fd(s: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """J[i, j] = dp_i/ds_j of the library's softmax at one row of scores."""
    return np.stack([partials(ssm.softmax, s, j) for j in range(s.shape[-1])], axis=-1)


# ---- the sections -------------------------------------------------------------------------------

ACTIVATIONS: list[tuple[str, Callable[[npt.NDArray[Any]], npt.NDArray[Any]]]] = [
    ("linear (identity)", lambda s: np.array(s, dtype=np.float64)),
    ("sigmoid", ssm.sigmoid),
    ("normalisation s/sum", ssm.normalize),
    ("softmax", ssm.softmax),
]


def _in_unit_interval(p: npt.NDArray[Any]) -> bool:
    return bool(np.all((p >= 0) & (p <= 1)))


def _sums_to_one(p: npt.NDArray[Any]) -> bool:
    return abs(math.fsum(p) - 1.0) <= 1e-12


def _breaks(p: npt.NDArray[Any]) -> str:
    reasons = []
    outside = [t for t, bad in (("negative", np.any(p < 0)), ("above 1", np.any(p > 1))) if bad]
    if outside:
        reasons.append(f"R1 ({', '.join(outside)})")
    if not _sums_to_one(p):
        reasons.append("R2 (sum != 1)")
    return ", ".join(reasons) if reasons else "-"


def requirements() -> None:
    section("1. What the output layer of a classifier must produce")
    say("The last hidden layer of a k-class network ends in k raw scores s (logits) of any",
        "scale and sign. The output layer turns them into one probability per class:",
        "",
        "  R1  every output lies in [0, 1]",
        "  R2  the outputs sum to 1",
        "",
        "and the predicted class is the one with the largest output. The article's example",
        f"has k = 3 and s = {scores_text(SCORES)}.")


def alternatives() -> None:
    section("2. The alternatives side by side")
    inputs = [
        (SCORES, "the article's scores"),
        (SHIFTED, "the article's 'offset' example: s2 and s3 raised by 100, s1 left at 0"),
        (NEGATIVE, "a negative score, which hidden layers produce all the time"),
    ]
    for s, what in inputs:
        print()
        say(f"s = {scores_text(s)}: {what}")
        rows = []
        for name, f in ACTIVATIONS:
            p = f(s)
            rows.append([name, *(num(v) for v in p), num(math.fsum(p)),
                         yes(_in_unit_interval(p)), yes(_sums_to_one(p)), _breaks(p)])
        table(["activation", "p1", "p2", "p3", "sum", "R1", "R2", "breaks"], rows, "lrrrrrrl")

    n0, n1 = ssm.normalize(SCORES), ssm.normalize(SHIFTED)
    p0, p1 = ssm.softmax(SCORES), ssm.softmax(SHIFTED)
    print()
    say("Normalisation squeezes the shifted scores together: p3/p2 = "
        f"{num(n0[2] / n0[1])} for {scores_text(SCORES)} but {num(n1[2] / n1[1])} for "
        f"{scores_text(SHIFTED)}.",
        f"Softmax keeps p3/p2 = exp(s3 - s2): {num(p0[2] / p0[1])} and {num(p1[2] / p1[1])}.")

    print()
    say("What each alternative breaks, checked on the three inputs above and on s + 100:")
    shifted_all = SCORES + 100.0
    rows = []
    for name, f in ACTIVATIONS:
        outs = [f(s) for s, _ in inputs]
        r1 = all(_in_unit_interval(p) for p in outs)
        r2 = all(_sums_to_one(p) for p in outs)
        invariant = bool(np.allclose(f(shifted_all), f(SCORES), rtol=1e-12, atol=1e-15))
        zero_ok = bool(f(SCORES)[0] > 0)
        problems = [t for t, ok in (("R1", r1), ("R2", r2), ("offsets", invariant),
                                     ("0 -> 0", zero_ok)) if not ok]
        verdict = "breaks " + ", ".join(problems) if problems else "a valid output layer"
        rows.append([name, yes(r1), yes(r2), yes(invariant), yes(zero_ok), verdict])
    table(["activation", "R1", "R2", "offset-invariant", "score 0 -> p > 0", "verdict"], rows,
          "lrrrrl")


def offset_invariance() -> None:
    section("3. Softmax ignores a constant added to every score")
    say(f"softmax(s + c) for s = {scores_text(SCORES)}: the factor exp(c) cancels. The library",
        "subtracts the maximum first, so even c = +-1000 is fine, where the naive formula",
        "exp(s)/sum(exp(s)) overflows (inf/inf) or underflows (0/0). Normalisation changes",
        "with every c.")
    base = ssm.softmax(SCORES)
    rows = []
    for c in (-1000.0, -5.0, 0.0, 0.1, 3.5, 100.0, 1000.0):
        s = SCORES + c
        p = ssm.softmax(s)
        with np.errstate(over="ignore", invalid="ignore"):
            naive = np.exp(s) / np.sum(np.exp(s))
        norm = ssm.normalize(s)
        rows.append([f"{c:g}", *(num(v) for v in p), sci(np.max(np.abs(p - base))),
                     num(naive[2]), vec(norm)])
    table(["c", "p1", "p2", "p3", "max |change|", "naive p3", "normalize(s + c)"], rows, "r")


def two_classes() -> None:
    section("4. Two classes: softmax([x, 0])[0] = sigmoid(x)")
    say("With one score fixed at 0, softmax is the logistic sigmoid:",
        "exp(x) / (exp(x) + exp(0)) = 1 / (1 + exp(-x)).")
    xs = np.array([-30.0, -5.0, -1.0, 0.0, 0.5, 2.0, 5.0, 30.0])
    pairs = np.stack([xs, np.zeros_like(xs)], axis=1)
    first = ssm.softmax(pairs, axis=1)[:, 0]
    sig = ssm.sigmoid(xs)
    rows = [[f"{x:g}", num(a), num(b), sci(abs(a - b) / b)] for x, a, b in zip(xs, first, sig)]
    table(["x", "softmax([x, 0])[0]", "sigmoid(x)", "relative difference"], rows, "r")


def argmax_preserved() -> None:
    section("5. Softmax keeps the argmax")
    say("exp is increasing, so the largest score gets the largest probability. Six random rows",
        "of four classes, one library call for the batch (axis=1):")
    rng = np.random.default_rng(2024)
    s = np.round(rng.normal(scale=3.0, size=(6, 4)), 2)
    p = ssm.softmax(s, axis=1)
    rows = [[i + 1, *(f"{v:.2f}" for v in s[i]), int(np.argmax(s[i])),
             *(num(v) for v in p[i]), int(np.argmax(p[i]))] for i in range(len(s))]
    table(["row", "s1", "s2", "s3", "s4", "argmax s", "p1", "p2", "p3", "p4", "argmax p"],
          rows, "r")
    big = rng.normal(scale=5.0, size=(100_000, 10))
    agree = int(np.sum(np.argmax(big, axis=1) == np.argmax(ssm.softmax(big), axis=1)))
    say(f"On {len(big):,} random rows of 10 classes the argmax agrees on {agree:,}.")


def temperature() -> None:
    section("6. Temperature: from uniform to argmax")
    say("softmax(s / T): a large T flattens the distribution, a small T sharpens it towards",
        "the one-hot argmax. Entropy (in nats) from the library's log_softmax: -sum p log p.")
    rows = []
    for t in (10.0, 1.0, 0.5, 0.1, 0.01):
        p = ssm.softmax(SCORES, temperature=t)
        logp = ssm.log_softmax(SCORES, temperature=t)
        entropy = -math.fsum(p * logp)
        rows.append([f"{t:g}", *(num(v) for v in p), num(entropy)])
    onehot = np.zeros(3)
    onehot[np.argmax(SCORES)] = 1.0
    rows.append(["argmax", *(num(v) for v in onehot), num(0.0)])
    table(["T", "p1", "p2", "p3", "entropy"], rows, "r")
    say(f"Uniform over 3 classes would have entropy ln 3 = {num(math.log(3))}.")


def derivatives() -> None:
    section("7. Derivatives, by finite differences of the library's softmax")
    p = ssm.softmax(SCORES)
    jac = jacobian_fd(SCORES)
    formula = np.diag(p) - np.outer(p, p)
    say(f"The Jacobian dp_i/ds_j at s = {scores_text(SCORES)}, p = {vec(p)}, by central",
        f"differences (step {STEP:g}), next to the formulas p_i(1 - p_i) on the diagonal and",
        "-p_i p_j off it:")
    rows = []
    for i in range(3):
        rows.append([f"dp{i + 1}", *(num(v) for v in jac[i]), "|",
                     *(num(v) for v in formula[i])])
    table(["", "fd /ds1", "fd /ds2", "fd /ds3", "|", "formula /ds1", "/ds2", "/ds3"], rows)
    say(f"Largest difference: {sci(np.max(np.abs(jac - formula)))}. Every row sums to 0 (within "
        f"{sci(np.max(np.abs(jac.sum(axis=1))))}):",
        "the outputs always sum to 1, so their changes cancel.")
    if hasattr(ssm, "softmax_jacobian"):
        try:
            exact = np.asarray(ssm.softmax_jacobian(SCORES))
            say("swiftsoftmax.softmax_jacobian matches the finite differences to "
                f"{sci(np.max(np.abs(exact - jac)))} and the formulas to "
                f"{sci(np.max(np.abs(exact - formula)))}.")
        except Exception as e:  # a later addition; report rather than stop the walk-through
            say(f"swiftsoftmax.softmax_jacobian failed: {e!r}")

    print()
    say("dp1/ds1 = p1(1 - p1) is largest where p1 = 0.5, the point of most uncertainty, and",
        "vanishes as the network grows confident (p1 near 0 or 1). Scores s = [x, 0, 0]:")
    xs = np.array([-10.0, -4.0, -2.0, 0.0, math.log(2.0), 2.0, 4.0, 10.0])
    s = np.stack([xs, np.zeros_like(xs), np.zeros_like(xs)], axis=1)
    p1 = ssm.softmax(s, axis=1)[:, 0]
    d11 = partials(lambda v: ssm.softmax(v, axis=-1), s, 0)[:, 0]
    rows = [[num(x), num(a), num(d), num(a * (1 - a))] for x, a, d in zip(xs, p1, d11)]
    table(["x", "p1", "dp1/ds1 (fd)", "p1(1 - p1)"], rows, "r")
    grid = np.linspace(-10.0, 10.0, 20_001)
    s = np.stack([grid, np.zeros_like(grid), np.zeros_like(grid)], axis=1)
    d = partials(lambda v: ssm.softmax(v, axis=-1), s, 0)[:, 0]
    k = int(np.argmax(d))
    at = ssm.softmax(s[k])[0]
    say(f"On a grid of {len(grid):,} values of x the largest dp1/ds1 is {num(d[k])}, at "
        f"x = {num(grid[k])} where p1 = {num(at)}.")

    print()
    say("dp_i/ds_j = -p_i p_j for i != j: raising another class's score lowers p_i. Its size",
        "is largest, 0.25, when p_i = p_j = 0.5 and every other class has probability 0.",
        "Scanning s = [a, b, 0] for a, b in [-12, 12]:")
    a, b = np.meshgrid(np.linspace(-12.0, 12.0, 241), np.linspace(-12.0, 12.0, 241))
    s = np.stack([a.ravel(), b.ravel(), np.zeros(a.size)], axis=1)
    d12 = partials(lambda v: ssm.softmax(v, axis=-1), s, 1)[:, 0]
    k = int(np.argmin(d12))
    pk = ssm.softmax(s[k])
    say(f"  most negative dp1/ds2 = {num(d12[k])} at p = {vec(pk)} "
        f"(s = {scores_text(s[k])}); -p1 p2 there = {num(-pk[0] * pk[1])}")


def cross_entropy() -> None:
    section("8. The loss: cross-entropy of the c3 example")
    s = SCORES
    p = ssm.softmax(s)
    logp = ssm.log_softmax(s)
    target = np.array([0.0, 0.0, 1.0])
    loss = -math.fsum(target * logp)
    say("Class c3 is one-hot encoded as y = [0, 0, 1]. The network's output for the input is",
        f"p = softmax(s) = {vec(p)}, and the cross-entropy loss is",
        "L = -sum y_i ln p_i = -ln p3, computed in log space from log_softmax:",
        "")
    rows = [["-sum y * log_softmax(s)", f"{loss:.6f}"],
            [f"-ln p3, p3 = {p[2]:.6f}", f"{-math.log(p[2]):.6f}"],
            [f"-ln {num(p[2])} (the article's rounding)", f"{-math.log(round(float(p[2]), 4)):.6f}"]]
    if hasattr(ssm, "cross_entropy"):
        try:
            rows.append(["swiftsoftmax.cross_entropy, label c3",
                         f"{float(ssm.cross_entropy(s[None, :], np.array([2]))):.6f}"])
            rows.append(["swiftsoftmax.cross_entropy, one-hot y",
                         f"{float(ssm.cross_entropy(s[None, :], target[None, :])):.6f}"])
        except Exception as err:  # a later addition; report rather than stop the walk-through
            rows.append(["swiftsoftmax.cross_entropy failed", repr(err)])
    table(["computed as", "L"], rows)

    print()
    say("The loss for each possible true class, and its gradient dL/ds by finite differences,",
        "which is p - y:")
    rows = []
    for c in range(3):
        y = np.zeros(3)
        y[c] = 1.0
        grad = np.array([partials(lambda v: -ssm.log_softmax(v)[c:c + 1], s, j)[0]
                         for j in range(3)])
        rows.append([f"c{c + 1}", num(-logp[c]), vec(grad), vec(p - y),
                     sci(np.max(np.abs(grad - (p - y))))])
    table(["true class", "loss", "dL/ds (fd)", "p - y", "difference"], rows, "lrllr")

    print()
    confident = np.array([0.0, 40.0])
    exact = -float(ssm.log_softmax(confident)[1])
    e = np.exp(confident - confident.max())
    naive = -float(np.log(e[1] / e.sum()))
    say(f"A confident, correct prediction, s = {scores_text(confident)} with true class 2: the loss",
        f"from log_softmax is {exact:.6e}; through probabilities, -ln(softmax(s)[2]) gives",
        f"{abs(naive):g}. Losses are computed in log space so that small ones keep their digits.")
    if hasattr(ssm, "cross_entropy"):
        try:
            val = float(ssm.cross_entropy(confident[None, :], np.array([1])))
            say(f"swiftsoftmax.cross_entropy gives {val:.6e}.")
        except Exception as err:
            say(f"swiftsoftmax.cross_entropy failed: {err!r}")


SECTIONS: list[Callable[[], None]] = [
    requirements,
    alternatives,
    offset_invariance,
    two_classes,
    argmax_preserved,
    temperature,
    derivatives,
    cross_entropy,
]


# ---- training a classifier on real data -----------------------------------------------------------

# Results of the training sections, for the figures (filled in as the sections run).
_TRAINED: dict[str, Any] = {}

# The held-out quarter of digits (stratified) and the seeds: fixed, so every run prints the same.
SPLIT_SEED = 0
MODEL_SEED = 0


def _digits_split() -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    if "split" not in _TRAINED:
        from swiftsoftmax.datasets import load_digits, train_test_split
        X, y = load_digits()
        _TRAINED["split"] = train_test_split(X, y, test_size=0.25, random_state=SPLIT_SEED)
    split: tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]] = _TRAINED["split"]
    return split


def train_digits() -> None:
    section("9. A classifier trained with softmax and cross-entropy")
    X_train, X_test, y_train, y_test = _digits_split()
    say("The UCI handwritten digits (bundled: swiftsoftmax.datasets.load_digits): 8x8 images",
        f"with pixel values 0-16, 10 classes. {len(X_train)} images train the network and a",
        f"stratified quarter, {len(X_test)} images, is held out for testing.",
        "",
        "The network of the article's Fig. 1: 64 inputs, one hidden layer of 64 ReLU units and a",
        "softmax output layer of 10 units, trained with mini-batch Adam on the cross-entropy. Each",
        "step takes the loss and its gradient from the library's fused cross_entropy_with_grad;",
        "probabilities come from its softmax. (Label smoothing 0.1: targets 0.91 / 0.01.)",
        "")
    clf = ssm.SoftmaxClassifier((64,), label_smoothing=0.1, random_state=MODEL_SEED)
    history: dict[str, list[float]] = {"loss": [], "train": [], "test": []}
    start = time.perf_counter()
    for epoch in range(clf.max_iter):
        clf.partial_fit(X_train, y_train, classes=np.arange(10))
        history["loss"].append(clf.loss_)
        history["train"].append(clf.score(X_train, y_train))
        history["test"].append(clf.score(X_test, y_test))
        print(f"  epoch {epoch + 1:>2}/{clf.max_iter}  loss {clf.loss_:.4f}  "
              f"train accuracy {history['train'][-1]:.4f}  test accuracy {history['test'][-1]:.4f}"
              f"  ({time.perf_counter() - start:.2f} s)")
    pred = clf.predict(X_test)
    accuracy = float(np.mean(pred == y_test))
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y_test, pred), 1)
    _TRAINED.update(model=clf, history=history, confusion=confusion)
    print()
    say(f"Test accuracy: {accuracy:.2%} ({int(np.sum(pred == y_test))} of {len(y_test)} "
        f"test images), trained in {time.perf_counter() - start:.2f} s including the per-epoch "
        "scoring.")
    linear = ssm.SoftmaxClassifier(random_state=MODEL_SEED).fit(X_train, y_train)
    say(f"Without the hidden layer (multinomial logistic regression, the output layer alone): "
        f"{linear.score(X_test, y_test):.2%}.")
    print()
    say("Confusion matrix of the test set (rows: true digit, columns: predicted digit):")
    rows = [[f"true {i}", *(str(v) if v else "." for v in confusion[i]), int(confusion[i].sum())]
            for i in range(10)]
    table(["", *(f"{j}" for j in range(10)), "total"], rows)
    off = confusion.copy()
    np.fill_diagonal(off, 0)
    worst = [(int(off[i, j]), i, j) for i, j in zip(*np.nonzero(off))]
    worst.sort(key=lambda t: (-t[0], t[1], t[2]))
    if worst:
        say("Most frequent mistakes: " + ", ".join(
            f"{i} read as {j} ({n}x)" for n, i, j in worst[:4]) + ".")


# ---- the same network with other output layers -------------------------------------------------------

class SigmoidOutputs(ssm.SoftmaxClassifier):
    """Ten independent sigmoids, each trained as a yes/no detector of its digit (binary
    cross-entropy per class, one-vs-rest): the output layer the article sets aside because its
    outputs need not sum to 1."""

    def _output_loss(self, logits: npt.NDArray[Any], targets: npt.NDArray[Any]) -> tuple[float, npt.NDArray[Any]]:
        n = logits.shape[0]
        onehot = np.zeros_like(logits)
        onehot[np.arange(n), targets] = 1.0
        # -[y log s(z) + (1 - y) log s(-z)], both terms from the library's log_sigmoid.
        loss = -np.sum(onehot * ssm.log_sigmoid(logits) + (1 - onehot) * ssm.log_sigmoid(-logits))
        return float(loss) / n, (ssm.sigmoid(logits) - onehot) / n

    def _output_proba(self, logits: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
        return ssm.sigmoid(logits)

    def _output_log_proba(self, logits: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
        return ssm.log_sigmoid(logits)


def _softplus(z: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return -ssm.log_sigmoid(-z)          # log(1 + e^z), never overflowing


def _log_softplus(z: npt.NDArray[Any]) -> npt.NDArray[Any]:
    with np.errstate(divide="ignore"):
        # softplus(z) = e^z (1 - e^z/2 + ...) for z << 0, where log(softplus) would round to -inf.
        return np.where(z < -30.0, z, np.log(_softplus(np.maximum(z, -30.0))))


class NormalisedOutputs(ssm.SoftmaxClassifier):
    """Sum-normalisation, the article's 'standard normalisation': p_i = a_i / sum_j a_j. The raw
    scores can be negative, so they are first made positive with softplus(z) = log(1 + e^z) (a
    ReLU would leave dead outputs with log 0 = -inf); the loss is the same negative
    log-likelihood, -log p_y."""

    def _output_loss(self, logits: npt.NDArray[Any], targets: npt.NDArray[Any]) -> tuple[float, npt.NDArray[Any]]:
        n = logits.shape[0]
        a = _softplus(logits)
        total = a.sum(axis=1)
        rows = np.arange(n)
        loss = np.sum(np.log(total) - _log_softplus(logits[rows, targets]))
        # d(-log p_y)/dz_j = sigmoid(z_j) (1/S - [j = y] / a_y)
        grad = ssm.sigmoid(logits) / total[:, None]
        grad[rows, targets] -= ssm.sigmoid(logits[rows, targets]) / a[rows, targets]
        return float(loss) / n, grad / n

    def _output_proba(self, logits: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
        return ssm.normalize(_softplus(logits), axis=1)

    def _output_log_proba(self, logits: npt.NDArray[Any]) -> npt.NDArray[np.floating[Any]]:
        logp: npt.NDArray[np.floating[Any]] = (
            _log_softplus(logits) - np.log(_softplus(logits).sum(axis=1, keepdims=True)))
        return logp


OUTPUT_LAYERS = [
    ("softmax + cross-entropy", ssm.SoftmaxClassifier),
    ("sigmoid + binary CE", SigmoidOutputs),
    ("softplus / sum + NLL", NormalisedOutputs),
]


def _calibration(outputs: npt.NDArray[Any], y: npt.NDArray[Any], bins: int = 10) -> dict[str, float]:
    """Accuracy, NLL and calibration of raw output-layer values (rows renormalised to sum 1)."""
    sums = outputs.sum(axis=1)
    q = outputs / sums[:, None]
    pred = np.argmax(q, axis=1)
    correct = pred == y
    conf = q.max(axis=1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = sum(abs(np.mean(correct[which == b]) - np.mean(conf[which == b])) * np.mean(which == b)
              for b in range(bins) if np.any(which == b))
    return {
        "accuracy": float(np.mean(correct)),
        "nll": float(-np.mean(np.log(np.maximum(q[np.arange(len(y)), y], 1e-300)))),
        "confidence": float(np.mean(conf)),
        "ece": float(ece),
        "sum_lo": float(sums.min()), "sum_hi": float(sums.max()),
    }


def output_layers_compared() -> None:
    section("10. Why softmax: the same network with other output layers")
    X_train, X_test, y_train, y_test = _digits_split()
    say("The same data, seed, optimiser and epochs; only the output layer and its loss change.",
        "Each is trained as a linear model (the output layer alone) and with the hidden layer",
        "of 64 ReLU units (no label smoothing here, so that the three are alike). On the test",
        "set: accuracy; the outputs' row sums (R2 asks for exactly 1); then, after rescaling",
        "each row to sum 1, the negative log-likelihood of the true digit, the mean confidence",
        "(largest probability) next to the accuracy, and the expected calibration error (ECE,",
        "10 bins: how far confidence is from the accuracy actually achieved at that confidence).",
        "")
    rows = []
    results = {}
    for hidden in ((), (64,)):
        for name, cls in OUTPUT_LAYERS:
            start = time.perf_counter()
            clf = cls(hidden, random_state=MODEL_SEED).fit(X_train, y_train)
            seconds = time.perf_counter() - start
            m = _calibration(clf.predict_proba(X_test), y_test)
            results[(hidden, name)] = (m, clf.loss_curve_)
            sums = (f"{m['sum_lo']:.3f}" if abs(m["sum_hi"] - m["sum_lo"]) < 5e-4
                    else f"{m['sum_lo']:.2f} to {m['sum_hi']:.2f}")
            rows.append(["linear" if not hidden else "64 ReLU", name, f"{m['accuracy']:.2%}",
                         sums, f"{m['nll']:.4f}", f"{m['confidence']:.3f}", f"{m['ece']:.3f}",
                         f"{seconds:.2f} s"])
    table(["network", "output layer", "accuracy", "row sums", "NLL", "confidence", "ECE", "time"],
          rows, "llrrrrrr")
    _TRAINED["output_layers"] = results
    lin = {name: results[((), name)][0] for name, _ in OUTPUT_LAYERS}
    mlp = {name: results[((64,), name)][0] for name, _ in OUTPUT_LAYERS}
    soft, sig, norm = (name for name, _ in OUTPUT_LAYERS)

    def vs(metric: str, other: str, table_: dict[str, dict[str, float]], digits: int = 3) -> str:
        a, b = table_[other][metric], table_[soft][metric]
        word = "above" if a > b else "below" if a < b else "equal to"
        return f"{a:.{digits}f}, {word} softmax's {b:.{digits}f}"

    print()
    say("What the numbers say:",
        f"- Sigmoid outputs are separate yes/no detectors: their row sums run from "
        f"{lin[sig]['sum_lo']:.2f} to {lin[sig]['sum_hi']:.2f}",
        f"  (linear) and {mlp[sig]['sum_lo']:.2f} to {mlp[sig]['sum_hi']:.2f} (64 ReLU), so they "
        "break R2 and are no distribution over",
        "  the digits. Rescaled to sum 1, the linear model's NLL is "
        f"{vs('nll', sig, lin)} and its",
        f"  ECE {vs('ece', sig, lin)}: the argmax is fine (accuracy "
        f"{lin[sig]['accuracy']:.2%}), the probabilities are not.",
        "- Sum-normalisation gives sums of 1, but only for positive scores (hence softplus), and",
        "  the ratio of two outputs grows only linearly with the gap between their scores where",
        "  softmax's grows as e^(s_i - s_j). The output layer alone stays less sure of itself:",
        f"  linear NLL {vs('nll', norm, lin)}, mean confidence "
        f"{lin[norm]['confidence']:.3f} at an accuracy of {lin[norm]['accuracy']:.3f}.",
        "  With a hidden layer in front, the network learns to push wrong scores towards",
        f"  softplus = 0 itself and the gap closes (NLL {vs('nll', norm, mlp)}).",
        "- Softmax gives a distribution for any scores, the outputs need no constraint, and the",
        "  gradient of its cross-entropy is simply p - onehot, which the library computes fused",
        "  with the loss in one pass (cross_entropy_with_grad).")


SECTIONS.extend([train_digits, output_layers_compared])


# ---- plots (optional: matplotlib) ---------------------------------------------------------------

def _label(ax: Any, xlabel: str, title: str, ylabel: Optional[str] = None, **legend: Any) -> None:
    """What every panel has: axis labels, a title, the legend (`legend`: its options) and a
    light grid."""
    ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(**legend)
    ax.grid(alpha=0.3)


def _save(plt: Any, fig: Any, directory: str, filename: str) -> str:
    """Writes `fig` as `directory`/`filename` (PNG, 120 dpi), closes it and returns the path."""
    path = os.path.join(directory, filename)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _plot_temperature(plt: Any, directory: str) -> str:
    ts = np.logspace(-2, 2, 241)
    ps = np.array([ssm.softmax(SCORES, temperature=t) for t in ts])
    fig, ax = plt.subplots(figsize=(6, 4))
    for i in range(3):
        ax.plot(ts, ps[:, i], label=f"p{i + 1} (s{i + 1} = {SCORES[i]:g})")
    ax.set_xscale("log")
    _label(ax, "temperature T", f"softmax({scores_text(SCORES)} / T)", "softmax(s / T)")
    return _save(plt, fig, directory, "softmax_temperature.png")


def _plot_derivatives(plt: Any, directory: str) -> str:
    xs = np.linspace(-10.0, 10.0, 801)
    zeros = np.zeros_like(xs)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    s = np.stack([xs, zeros, zeros], axis=1)
    p1 = ssm.softmax(s)[:, 0]
    d11 = partials(ssm.softmax, s, 0)[:, 0]
    left.plot(p1, d11, label="dp1/ds1 (finite differences)")
    left.plot(p1, p1 * (1 - p1), "--", label="p1 (1 - p1)")
    _label(left, "p1", "s = [x, 0, 0]: diagonal derivative")
    s = np.stack([xs, xs, zeros], axis=1)
    p = ssm.softmax(s)
    d12 = partials(ssm.softmax, s, 1)[:, 0]
    right.plot(p[:, 0], d12, label="dp1/ds2 (finite differences)")
    right.plot(p[:, 0], -p[:, 0] * p[:, 1], "--", label="-p1 p2")
    _label(right, "p1 = p2", "s = [x, x, 0]: cross derivative")
    return _save(plt, fig, directory, "softmax_derivatives.png")


def _plot_training(plt: Any, directory: str) -> Optional[str]:
    history = _TRAINED.get("history")
    if history is None:
        return None
    epochs = np.arange(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, history["loss"], label="softmax + cross-entropy (64 ReLU, smoothing 0.1)")
    for (hidden, name), (_, curve) in _TRAINED.get("output_layers", {}).items():
        if hidden:
            left.plot(np.arange(1, len(curve) + 1), curve, "--", label=f"{name} (64 ReLU)")
    left.set_yscale("log")
    _label(left, "epoch", "Training loss per epoch", "training loss", fontsize=8)
    right.plot(epochs, history["train"], label="train")
    right.plot(epochs, history["test"], label="test (held-out quarter)")
    right.set_ylim(0.85, 1.001)
    _label(right, "epoch", "Digits: accuracy per epoch", "accuracy")
    return _save(plt, fig, directory, "training_curves.png")


def _plot_confusion(plt: Any, directory: str) -> Optional[str]:
    confusion = _TRAINED.get("confusion")
    if confusion is None:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(confusion, cmap="Blues")
    top = confusion.max()
    for i in range(10):
        for j in range(10):
            if confusion[i, j]:
                ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if confusion[i, j] > top / 2 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    accuracy = np.trace(confusion) / confusion.sum()
    ax.set_title(f"Confusion matrix, test set (accuracy {accuracy:.2%})")
    return _save(plt, fig, directory, "confusion_matrix.png")


PLOTS: list[Callable[[object, str], Optional[str]]] = [
    _plot_temperature, _plot_derivatives, _plot_training, _plot_confusion]


def plot(directory: str) -> bool:
    """Writes the PNG figures to `directory`; False (with a message) without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n--plot: matplotlib is not installed, so no figures were written. Install it with\n"
              "  python3 -m pip install matplotlib\n"
              "and run the demo again.", file=sys.stderr)
        return False
    os.makedirs(directory, exist_ok=True)
    section("Figures")
    for make in PLOTS:
        path = make(plt, directory)
        if path:
            print(f"  wrote {path}")
    return True


# ---- entry point ----------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m swiftsoftmax demo",
        description="The article's walk-through: why a classifier's output layer is softmax, "
                    "with every number computed by the library.")
    parser.add_argument("--plot", metavar="DIR",
                        help="also write PNG figures to DIR (needs matplotlib)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    start = time.perf_counter()
    info = ssm.build_info()
    print(f"swiftsoftmax {info['version']} demo ({info['isa']}): the softmax output layer, step by step")
    for run in SECTIONS:
        run()
    if args.plot:
        plot(args.plot)
    print()
    print(f"(demo computed in {time.perf_counter() - start:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
