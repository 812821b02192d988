"""Checks an installed swiftsoftmax (run by `make check-wheel` inside a fresh virtual environment).

Usage: python check_install.py [PREFIX]

Imports the package from wherever Python finds it, and fails unless the library it loaded lies
inside PREFIX (default: sys.prefix, the virtual environment), so that a checkout's
.build/release or $SWIFTSOFTMAX_LIBRARY cannot stand in for the installed copy. Then computes a
softmax, a loss and trains a small classifier on the bundled digits.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> int:
    prefix = Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix).resolve()
    import numpy as np

    import swiftsoftmax as ssm
    from swiftsoftmax.datasets import load_digits, train_test_split

    info = ssm.build_info()
    library = Path(info["library"]).resolve()
    package = Path(ssm.__file__).resolve().parent
    print(f"swiftsoftmax {ssm.__version__} from {package}")
    print(f"  library {library} ({info['isa']}, {info['threads']} threads)")
    assert prefix in library.parents, f"the library {library} is not inside {prefix}"
    assert library.parent == package, f"the library {library} is not the package's own copy"
    assert "SWIFTSOFTMAX_LIBRARY" not in os.environ and "LD_LIBRARY_PATH" not in os.environ

    p = ssm.softmax([0.0, 2.0, 4.0])
    assert p.round(4).tolist() == [0.0159, 0.1173, 0.8668], p
    loss = float(ssm.cross_entropy([[0.0, 2.0, 4.0]], [2]))
    assert abs(loss + np.log(p[2])) < 1e-15, loss
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    accuracy = ssm.SoftmaxClassifier(random_state=0).fit(X_train, y_train).score(X_test, y_test)
    assert accuracy >= 0.96, accuracy
    print(f"  softmax([0, 2, 4]) = {p.round(4).tolist()}, digits test accuracy {accuracy:.4f}")
    print("check-wheel: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
