"""Command line: ``python -m swiftsoftmax {demo,bench,info}``; ``info --tiers`` lists the CPU tiers.

``demo`` and ``bench`` own their options (``python -m swiftsoftmax demo --help``); their modules
are imported only when asked for, so ``--help`` and ``info`` stay quick.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from typing import Callable, Optional, Sequence

# Sub-commands whose arguments are handed, unparsed, to `main(argv) -> int` of their module.
_DELEGATED = {
    "demo": ("swiftsoftmax._demo",
             "the article's walk-through: why the output layer of a classifier is softmax, "
             "every number computed by the library, then a classifier trained on digits "
             "(options: --plot DIR)"),
    "bench": ("swiftsoftmax._bench",
              "time the library against NumPy/SciPy and friends (see `bench --help`)"),
}

_EPILOG = """\
examples:
  python -m swiftsoftmax demo              the walk-through and digits training (~20 s)
  python -m swiftsoftmax demo --plot out/  ... and PNG figures (needs matplotlib)
  python -m swiftsoftmax bench --help      the benchmark's own options
  python -m swiftsoftmax info              which library is loaded, its version and CPU tier
  python -m swiftsoftmax info --tiers      the CPU tiers this machine runs, slowest first

The library is looked up in the package directory, then at $SWIFTSOFTMAX_LIBRARY, then in the
checkout's .build/release (run `make` there to build it).
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m swiftsoftmax",
        description="swiftsoftmax: softmax, its family, derivatives and cross-entropy, "
                    "from a Swift library.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", title="sub-commands", metavar="COMMAND")
    for name, (_, summary) in _DELEGATED.items():
        sub.add_parser(name, help=summary, add_help=False)
    info_parser = sub.add_parser(
        "info", help="print the build information of the loaded library (version, library path, "
                     "instruction-set tier, threads); --tiers: the CPU tiers this machine runs",
        description="Prints the build information of the loaded library (version, library path, "
                    "instruction-set tier, threads) and the Python side's versions.")
    info_parser.add_argument(
        "--tiers", action="store_true",
        help="print only the names of the CPU tiers this machine runs, slowest first, on one line "
             "(e.g. 'baseline avx2 avx512')")
    return parser


def _delegate(command: str, argv: list[str]) -> int:
    module_name = _DELEGATED[command][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        # Only a missing module of our own is "not available"; an import error inside it is a bug
        # that should surface with its traceback.
        if e.name != module_name:
            raise
        print(f"python -m swiftsoftmax {command}: this sub-command is not available in this "
              f"installation ({module_name} is missing).", file=sys.stderr)
        return 2
    entry: Optional[Callable[[list[str]], int]] = getattr(module, "main", None)
    if entry is None:
        print(f"python -m swiftsoftmax {command}: {module_name} has no main(argv).", file=sys.stderr)
        return 2
    result = entry(list(argv))
    return int(result or 0)


def info() -> int:
    """Prints build_info() as an aligned list, then the Python side's versions."""
    import numpy

    import swiftsoftmax

    facts = dict(swiftsoftmax.build_info())
    facts["python package"] = f"{swiftsoftmax.__version__} ({swiftsoftmax.__file__.rsplit('/', 1)[0]})"
    facts["numpy"] = numpy.__version__
    facts["python"] = f"{platform.python_version()} ({platform.machine()}, {platform.system()})"
    width = max(len(k) for k in facts)
    print(f"swiftsoftmax {facts.get('version', '?')}")
    for key, value in facts.items():
        print(f"  {key:<{width}}  {value}")
    if facts.get("version") != swiftsoftmax.__version__:
        print(f"warning: the library is version {facts.get('version')} but the Python package is "
              f"{swiftsoftmax.__version__}", file=sys.stderr)
    return 0


def tiers() -> int:
    """Prints the names of the CPU tiers this machine runs, slowest first, space-separated, on one
    line (the library's ``ssm_available_isas()``). A library older than that function: a message
    on stderr and status 1."""
    from swiftsoftmax._lib import LIBRARY_PATH, optional

    available_isas = optional("ssm_available_isas")
    if available_isas is None:
        print(f"python -m swiftsoftmax info --tiers: the loaded library ({LIBRARY_PATH}) predates "
              "ssm_available_isas, which lists the tiers; rebuild it (`make`).", file=sys.stderr)
        return 1
    print(available_isas().decode())
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # demo and bench parse their own options, including --help.
    if args and args[0] in _DELEGATED:
        return _delegate(args[0], args[1:])
    parser = _parser()
    ns = parser.parse_args(args)
    if ns.command == "info":
        return tiers() if ns.tiers else info()
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        # Output piped into a command that stopped reading (`| head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
