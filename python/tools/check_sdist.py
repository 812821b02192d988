"""Checks the source distribution (`make check-sdist`).

    python python/tools/check_sdist.py --swift "$(command -v swift)" dist/swiftsoftmax-0.1.0.tar.gz
    python python/tools/check_sdist.py --no-build dist/swiftsoftmax-0.1.0.tar.gz

1. Its files: every file and symlink of the Swift package in the checkout (setup.py's
   SWIFT_PACKAGE: Package.swift, Sources/, include/, the test target) is in the sdist under swift/,
   the Sources/Tiers links as symlinks to the same target; and the Python package is there.
2. `pip install` of it into a fresh venv with no `swift` on PATH must fail, saying that the Swift
   toolchain is missing.
3. Unless --no-build: `pip install` of it into a fresh venv with the toolchain (--swift) builds the
   library (a full `swift build -c release`; it must come out stripped and without libswift*
   dependencies), then tools/check_install.py runs there with only HOME and a PATH without Swift.
Each step prints its time; the exit status is non-zero when any fails.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from check_wheel import CHECK_INSTALL, CLEAN_PATH, PIP_ENV, elf_facts

HERE = Path(__file__).resolve().parent
PYTHON_DIR = HERE.parent
ROOT = PYTHON_DIR.parent
# What must be there besides the Swift package, relative to the sdist's top directory.
PYTHON_FILES = ["setup.py", "pyproject.toml", "swiftsoftmax/__init__.py", "swiftsoftmax/_lib.py"]
# The message setup.py gives when it finds no toolchain.
NO_TOOLCHAIN = "needs the Swift 6 toolchain"
IGNORED = {".DS_Store", "__pycache__"}


def swift_package_paths() -> list[str]:
    """setup.py's SWIFT_PACKAGE (read, not imported: importing setup.py runs setup())."""
    for node in ast.parse((PYTHON_DIR / "setup.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SWIFT_PACKAGE" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("check-sdist: setup.py has no SWIFT_PACKAGE")


def expected_entries() -> dict[str, str | None]:
    """Checkout path -> symlink target (None for a regular file) for the Swift package."""
    entries: dict[str, str | None] = {}
    for name in swift_package_paths():
        top = ROOT / name
        if top.is_file():
            entries[name] = None
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d not in IGNORED and not d.startswith(".build")]
            for n in list(dirnames) + filenames:
                path = Path(dirpath) / n
                rel = str(path.relative_to(ROOT))
                if path.is_symlink():
                    entries[rel] = os.readlink(path)
                elif path.is_file() and n not in IGNORED:
                    entries[rel] = None
            # os.walk does not descend into symlinked directories: their targets are walked anyway.
            dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
    return entries


def check_files(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as tar:
        members = {m.name: m for m in tar.getmembers()}
    top = sdist.name[:-len(".tar.gz")]
    problems = []
    expected = expected_entries()
    for rel, target in expected.items():
        m = members.get(f"{top}/swift/{rel}")
        if m is None:
            problems.append(f"missing swift/{rel}")
        elif target is not None and not (m.issym() and m.linkname == target):
            problems.append(f"swift/{rel} is not a symlink to {target}")
        elif target is None and not m.isfile():
            problems.append(f"swift/{rel} is not a regular file")
    problems += [f"missing {f}" for f in PYTHON_FILES if f"{top}/{f}" not in members]
    links = sum(t is not None for t in expected.values())
    print(f"check-sdist: {sdist.name}: {sdist.stat().st_size // 1024} kB, {len(members)} entries; "
          f"the Swift package: {len(expected)} files and links from the checkout ({links} tier links)")
    return problems


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    return proc.returncode, f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"


def make_venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    return where


def pip_env(venv: Path, extra_path: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if PIP_ENV.match(k)}
    env.update(HOME=str(Path.home()), PATH=f"{venv}/bin:{extra_path}{CLEAN_PATH}")
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Details: the module docstring and docs/python.md.")
    parser.add_argument("sdist", type=Path, help="the sdist (dist/swiftsoftmax-*.tar.gz)")
    parser.add_argument("--swift", default="", help="the swift executable for the build from source")
    parser.add_argument("--no-build", action="store_true", help="skip the install with the toolchain")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    sdist = args.sdist.resolve()
    results: list[tuple[str, str, float]] = []
    start = time.monotonic()

    def report(step: str, ok: bool, began: float, log: str = "") -> None:
        results.append((step, "ok" if ok else "FAIL", time.monotonic() - began))
        print(f"  {step:<42} {'ok' if ok else 'FAIL'} ({time.monotonic() - began:.1f} s)", flush=True)
        if not ok and log:
            print(log[-8000:])

    began = time.monotonic()
    problems = check_files(sdist)
    for p in problems:
        print(f"check-sdist: {p}", file=sys.stderr)
    report("files: the Swift package under swift/", not problems, began)

    tmp = Path(tempfile.mkdtemp(prefix="check-sdist-"))
    try:
        began = time.monotonic()
        venv = make_venv(tmp / "no-swift")
        env = pip_env(venv)
        code, log = run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input", str(sdist)], env, tmp)
        ok = code != 0 and NO_TOOLCHAIN in log and not shutil.which("swift", path=env["PATH"])
        report("install without swift: fails, naming it", ok, began, log)
        if ok:
            line = next(ln.strip() for ln in log.splitlines() if NO_TOOLCHAIN in ln)
            print(f"    pip said: {line}")

        if args.no_build:
            results.append(("install with swift, check_install.py", "SKIPPED", 0.0))
            print("  install with swift, check_install.py        SKIPPED (--no-build, CHECK_SDIST_BUILD=0)")
        elif not args.swift or not Path(args.swift).is_file():
            began = time.monotonic()
            report("install with swift: no toolchain (--swift)", False, began, f"--swift {args.swift!r} is not a file")
        else:
            began = time.monotonic()
            venv = make_venv(tmp / "swift")
            env = pip_env(venv, f"{Path(args.swift).parent}:")
            env["SWIFT"] = args.swift
            print(f"  (building from the sdist with {args.swift}: a full swift build -c release)", flush=True)
            code, log = run([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input", str(sdist)], env, tmp)
            installed = list(venv.glob("lib/python*/site-packages/swiftsoftmax/libswiftsoftmax.so"))
            if code == 0 and installed:
                needed, stripped = elf_facts(installed[0])
                bad = [n for n in needed if n.startswith("libswift")] + ([] if stripped else ["not stripped"])
                if bad:
                    code, log = 1, f"{installed[0]}: {', '.join(bad)}"
                else:
                    print(f"    {installed[0].stat().st_size // 1024} kB, stripped, needs {' '.join(needed)}")
            report("install with swift (builds the library)", code == 0 and bool(installed), began, log)
            if code == 0:
                began = time.monotonic()
                shutil.copy(CHECK_INSTALL, tmp)
                clean = {"HOME": str(Path.home()), "PATH": f"{venv}/bin:{CLEAN_PATH}"}
                code, log = run([str(venv / "bin" / "python"), CHECK_INSTALL.name, str(venv)], clean, tmp)
                report("check_install.py in that venv, no swift", code == 0, began, log)
                print("    " + "\n    ".join(log.strip().splitlines()[1:]))
    finally:
        if args.keep:
            print(f"check-sdist: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = [r for r in results if r[1] == "FAIL"]
    skipped = [r for r in results if r[1] == "SKIPPED"]
    print(f"check-sdist: {len(results) - len(failed) - len(skipped)} ok, {len(failed)} failed, "
          f"{len(skipped)} skipped; total {time.monotonic() - start:.1f} s")
    if skipped:
        print("check-sdist: *** SKIPPED: " + ", ".join(r[0] for r in skipped) + " ***")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
