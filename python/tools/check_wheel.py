"""Installs the built wheel into fresh virtual environments and checks it there (`make check-wheel`).

    python python/tools/check_wheel.py dist/swiftsoftmax-0.1.0-py3-none-manylinux_2_34_x86_64.whl
    python python/tools/check_wheel.py --jobs 1 --strict WHEEL

First the wheel itself: it must be a platform wheel with a manylinux tag, and its
libswiftsoftmax.so must be stripped and must not depend on the Swift runtime (libswift*).

Then one fresh venv per row, the rows run in parallel (--jobs):
  - every CPython 3.9 to 3.13 on this machine (pyenv's ~/.pyenv/versions/3.X.Y, else python3.X
    on PATH), with the NumPy pip picks for it;
  - NumPy 1.26 (pinned, on 3.11, else 3.12, 3.10, 3.9) and the newest NumPy 2 (on the newest
    Python found).
In each: NumPy is installed first (the wheel's own requirement, or the row's pin), then the wheel,
then tools/check_install.py runs from a temporary directory with only HOME and PATH set, and no
`swift` on that PATH. A Python that is not found, or a NumPy that pip cannot install for it, is
SKIPPED (printed as such; --strict makes it a failure). The exit status is non-zero when any row
fails. pip's cache is used, so only the first run downloads NumPy.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECK_INSTALL = HERE / "check_install.py"
MINORS = ["3.9", "3.10", "3.11", "3.12", "3.13"]
NUMPY_1 = "numpy==1.26.*"
# NumPy 1.26 has wheels for 3.9-3.12; the first of these that is found runs it.
NUMPY_1_PYTHONS = ["3.11", "3.12", "3.10", "3.9"]
NUMPY_2 = "numpy>=2"
LIBNAME = "swiftsoftmax/libswiftsoftmax.so"
# What pip may need from the caller's environment (an index, a proxy, a CA bundle); nothing else
# leaks into the venvs, in particular no SWIFT*, LD_LIBRARY_PATH or PYTHONPATH.
PIP_ENV = re.compile(r"^(PIP_.*|.*_proxy|.*_PROXY|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|TMPDIR|LANG|LC_ALL)$")
CLEAN_PATH = "/usr/bin:/bin"


@dataclass
class Row:
    minor: str
    python: str | None  # the interpreter, None when not found
    version: str = ""
    numpy: str | None = None  # a pip requirement pinning NumPy, or None for the wheel's own
    label: str = ""
    result: str = ""
    detail: str = ""
    numpy_version: str = ""
    times: dict[str, float] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def find_python(minor: str) -> tuple[str, str] | None:
    """(executable, full version) of a CPython `minor` that can make venvs with pip, or None."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [d for d in pyenv.glob(f"{minor}.*") if re.fullmatch(rf"{re.escape(minor)}\.\d+", d.name)]
    found.sort(key=lambda d: int(d.name.rsplit(".", 1)[1]), reverse=True)
    candidates = [str(d / "bin" / f"python{minor}") for d in found]
    candidates += [p for p in (shutil.which(f"python{minor}"), shutil.which("python3")) if p]
    probe = ("import sys, venv, ensurepip; "
             "print(sys.implementation.name, '%d.%d' % sys.version_info[:2], sys.version.split()[0], sys.executable)")
    for exe in candidates:
        try:
            out = subprocess.run([exe, "-c", probe], capture_output=True, text=True, timeout=30).stdout.split()
        except (OSError, subprocess.SubprocessError):
            continue
        # A pyenv shim may answer for another version, or not at all; sys.executable is the real one.
        if len(out) == 4 and out[0] == "cpython" and out[1] == minor:
            return out[3], out[2]
    return None


def wheel_requirements(wheel: Path) -> list[str]:
    """The wheel's unconditional Requires-Dist (NumPy), installed before the wheel itself."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        lines = z.read(meta).decode().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines
            if line.startswith("Requires-Dist:") and "extra ==" not in line]


def elf_facts(so: Path) -> tuple[list[str], bool]:
    """The shared libraries `so` needs, and whether it is stripped (has no .symtab)."""
    dynamic = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True, check=True).stdout
    sections = subprocess.run(["readelf", "-S", "-W", str(so)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"Shared library: \[(.*?)\]", dynamic), " .symtab " not in sections


def check_wheel_file(wheel: Path, tmp: Path) -> list[str]:
    """The checks on the file itself; returns the problems found."""
    problems = []
    tag = wheel.name[:-len(".whl")].split("-")[-1]
    if wheel.name.endswith("-none-any.whl"):
        problems.append("a pure wheel, but it carries a native library")
    if "manylinux" not in tag:
        problems.append(f"platform tag {tag} is not a manylinux tag")
    with zipfile.ZipFile(wheel) as z:
        if LIBNAME not in z.namelist():
            return problems + [f"no {LIBNAME} inside"]
        so = Path(z.extract(LIBNAME, tmp / "unpacked"))
    needed, stripped = elf_facts(so)
    print(f"check-wheel: {wheel.name}: {wheel.stat().st_size // 1024} kB, tag {tag}; "
          f"libswiftsoftmax.so {so.stat().st_size // 1024} kB, {'stripped' if stripped else 'NOT stripped'}, "
          f"needs {' '.join(needed)}")
    if any(n.startswith("libswift") for n in needed):
        problems.append("libswiftsoftmax.so depends on the Swift runtime")
    if not stripped:
        problems.append("libswiftsoftmax.so is not stripped")
    return problems


def run_row(row: Row, wheel: Path, requirements: list[str], tmp: Path) -> Row:
    work = tmp / row.label.replace(" ", "_").replace("/", "_")
    work.mkdir()
    venv = work / "venv"
    vpy = str(venv / "bin" / "python")
    pip_env = {k: v for k, v in os.environ.items() if PIP_ENV.match(k)}
    pip_env.update(HOME=str(Path.home()), PATH=f"{venv}/bin:{CLEAN_PATH}")
    clean_env = {"HOME": str(Path.home()), "PATH": f"{venv}/bin:{CLEAN_PATH}"}
    pip = [vpy, "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]

    def step(name: str, cmd: list[str], env: dict[str, str], cwd: Path = work) -> bool:
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        row.times[name] = row.times.get(name, 0.0) + time.monotonic() - start
        row.log.append(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
        return proc.returncode == 0

    if not step("install", [row.python, "-m", "venv", str(venv)], pip_env):
        row.result, row.detail = "FAIL", "python -m venv failed"
        return row
    numpy = [row.numpy, "--upgrade"] if row.numpy else requirements
    if numpy and not step("install", pip + numpy, pip_env):
        row.result, row.detail = "SKIPPED", f"pip cannot install {' '.join(numpy)} for Python {row.version}"
        return row
    if not step("install", pip + [str(wheel)], pip_env):
        row.result, row.detail = "FAIL", "pip install of the wheel failed"
        return row
    probe = "import numpy; print(numpy.__version__)"
    row.numpy_version = subprocess.run([vpy, "-c", probe], env=clean_env, capture_output=True, text=True,
                                       cwd=work).stdout.strip()
    if shutil.which("swift", path=clean_env["PATH"]):
        row.result, row.detail = "FAIL", f"swift is on the clean PATH {clean_env['PATH']}"
        return row
    shutil.copy(CHECK_INSTALL, work)
    ok = step("check", [vpy, CHECK_INSTALL.name, str(venv)], clean_env)
    row.result = "ok" if ok else "FAIL"
    if not ok:
        row.detail = "check_install.py failed"
    return row


def plan(args: argparse.Namespace) -> list[Row]:
    pythons = {m: find_python(m) for m in args.pythons}
    rows = []
    for m in args.pythons:
        exe, version = pythons[m] or (None, "")
        rows.append(Row(m, exe, version, label=f"Python {m}"))
    found = [m for m in args.pythons if pythons[m]]
    m1 = next((m for m in NUMPY_1_PYTHONS if pythons.get(m)), None)
    exe, version = pythons[m1] if m1 else (None, "")
    rows.append(Row(m1 or "-", exe, version, NUMPY_1, label="NumPy 1.26"))
    m2 = found[-1] if found else "-"
    exe, version = pythons[m2] if found else (None, "")
    rows.append(Row(m2, exe, version, NUMPY_2, label="newest NumPy 2"))
    for row in rows:
        if row.python is None:
            row.result = "SKIPPED"
            row.detail = (f"no CPython {row.minor} found (pyenv or python{row.minor} on PATH)"
                          if row.minor != "-" else
                          f"none of CPython {', '.join(NUMPY_1_PYTHONS if row.numpy == NUMPY_1 else args.pythons)} found")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Details: the module docstring (python -m pydoc ...) and docs/python.md.")
    parser.add_argument("wheel", type=Path, help="the wheel to check (dist/swiftsoftmax-*.whl)")
    parser.add_argument("--jobs", type=int, default=max(2, os.cpu_count() or 2),
                        help="venvs built and checked at once (default: the CPUs, at least 2)")
    parser.add_argument("--pythons", default=",".join(MINORS),
                        help=f"the CPython versions to check, comma-separated (default {','.join(MINORS)})")
    parser.add_argument("--strict", action="store_true", help="a SKIPPED row fails the check")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory with the venvs")
    parser.add_argument("--verbose", action="store_true", help="print every row's commands and output")
    args = parser.parse_args()
    args.pythons = [p.strip() for p in args.pythons.split(",") if p.strip()]
    wheel = args.wheel.resolve()
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="check-wheel-"))
    try:
        problems = check_wheel_file(wheel, tmp)
        if problems:
            for p in problems:
                print(f"check-wheel: FAIL: {wheel.name}: {p}", file=sys.stderr)
            return 1
        requirements = wheel_requirements(wheel)
        rows = plan(args)
        todo = [r for r in rows if r.python]
        print(f"check-wheel: {len(todo)} venvs, {args.jobs} at a time, in {tmp}", flush=True)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for row in pool.map(lambda r: run_row(r, wheel, requirements, tmp), todo):
                print(f"  {row.label:<15} {row.result}", flush=True)
        total = time.monotonic() - start
    finally:
        if args.keep:
            print(f"check-wheel: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for row in rows:
        if row.result == "FAIL" or (args.verbose and row.log):
            print(f"\n---- {row.label} (Python {row.version}): {row.detail} ----\n" + "\n".join(row.log)[-6000:])
    print(f"\n{'check':<16}{'Python':<9}{'NumPy':<9}{'result':<9}{'install':>9}{'check':>8}{'total':>8}")
    for row in rows:
        t = row.times
        secs = (f"{t.get('install', 0):8.1f}s{t.get('check', 0):7.1f}s{sum(t.values()):7.1f}s" if t else "")
        print(f"{row.label:<16}{row.version or row.minor:<9}{row.numpy_version or '-':<9}{row.result:<9}{secs}"
              + (f"  {row.detail}" if row.result != "ok" else ""))
    failed = [r for r in rows if r.result == "FAIL"]
    skipped = [r for r in rows if r.result == "SKIPPED"]
    print(f"check-wheel: {len(rows) - len(failed) - len(skipped)} ok, {len(failed)} failed, "
          f"{len(skipped)} skipped; total {total:.1f} s")
    if skipped:
        print(f"check-wheel: *** {len(skipped)} check(s) SKIPPED: "
              + "; ".join(f"{r.label}: {r.detail}" for r in skipped) + " ***")
    return 1 if failed or (skipped and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
