"""Build hook: compiles the Swift library and ships it inside the package.

`pip install ./python` (or `pip wheel ./python`, `make wheel`) runs `swift build -c release` in the
repository root and copies `.build/release/libswiftsoftmax.so` into the package, where
`swiftsoftmax._lib` looks first. The sdist (`python -m build --sdist`, `make sdist`) carries the
Swift package under `swift/`, and installing from it builds there. The library links the Swift
runtime statically (`-static-stdlib`), so the wheel needs no Swift toolchain at run time; it is
stripped of its symbol table when `strip` is available (set SWIFTSOFTMAX_NO_STRIP=1 to keep it).

Environment:
  SWIFTSOFTMAX_PREBUILT=path/to/libswiftsoftmax.so   ship this file instead of building
  SWIFT=/path/to/swift                               the toolchain to build with
  SWIFTSOFTMAX_SCRATCH=dir                           SwiftPM's build directory (default: the
                                                     package's .build)

All metadata lives in pyproject.toml; this file only adds the build step, the Swift sources in
the sdist, and marks the wheel as platform-specific (it carries a native library), e.g.
py3-none-linux_x86_64, which `make wheel` has auditwheel retag as manylinux.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.dist import Distribution

try:  # setuptools >= 70.1 ships bdist_wheel itself; older ones use the wheel package's.
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
LIBNAME = "libswiftsoftmax.so"
# What `swift build` reads: the manifest, the targets' directories (the test target's too: SwiftPM
# checks every target of the manifest) and the public header. The sdist carries them under swift/.
SWIFT_PACKAGE = ["Package.swift", "Sources", "include", "Tests/SwiftSoftmaxTests"]
SDIST_SWIFT = "swift"


def _swift_root() -> Path:
    """The Swift package: the sdist's copy when there is one, else the checkout's root."""
    bundled = HERE / SDIST_SWIFT
    return bundled if (bundled / "Package.swift").is_file() else HERE.parent


def _version() -> str:
    """MAJOR.MINOR.PATCH from the C header's SSM_VERSION_*: the one place the version is written."""
    header = _swift_root() / "include" / "swiftsoftmax.h"
    if not header.is_file():
        sys.exit(f"swiftsoftmax: {header} is missing: setup.py needs the repository's checkout "
                 f"(python/ next to include/) or an sdist (with {SDIST_SWIFT}/)")
    numbers = dict(re.findall(r"^#define SSM_VERSION_(MAJOR|MINOR|PATCH) (\d+)$", header.read_text(), re.M))
    if set(numbers) != {"MAJOR", "MINOR", "PATCH"}:
        sys.exit(f"swiftsoftmax: {header} lacks SSM_VERSION_MAJOR/MINOR/PATCH")
    return f"{numbers['MAJOR']}.{numbers['MINOR']}.{numbers['PATCH']}"


def _tier_links(root: Path) -> None:
    """Recreates Sources/Tiers/<name> -> ../SoftmaxKernels for tiers.def's rows if an unpacker
    dropped the symlinks (the sdist stores them as symlinks)."""
    tiers = root / "Sources" / "Tiers"
    for name in re.findall(r"^SSM_TIER\(\s*(\w+)\s*,", (tiers / "tiers.def").read_text(), re.M):
        link = tiers / name
        if not link.exists():
            if link.is_symlink():
                link.unlink()
            link.symlink_to(Path("..") / "SoftmaxKernels")


def _build_library() -> Path:
    prebuilt = os.environ.get("SWIFTSOFTMAX_PREBUILT")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            sys.exit(f"swiftsoftmax: SWIFTSOFTMAX_PREBUILT={prebuilt} is not a file")
        return path
    root = _swift_root()
    if not (root / "Package.swift").is_file():
        sys.exit("swiftsoftmax: the Swift sources (Package.swift) are neither next to python/ nor in "
                 f"{SDIST_SWIFT}/, so the library cannot be built here. Install from a checkout "
                 "(`pip install ./python` in the repository root) or from the sdist, or set "
                 f"SWIFTSOFTMAX_PREBUILT to a built {LIBNAME}.")
    swift = os.environ.get("SWIFT") or shutil.which("swift")
    if not swift:
        sys.exit("swiftsoftmax: building libswiftsoftmax.so from source needs the Swift 6 toolchain, "
                 "and there is no `swift` on PATH (nor SWIFT=/path/to/swift). Install the toolchain "
                 "(https://www.swift.org/install/) and retry, or install a binary wheel.")
    _tier_links(root)
    scratch = Path(os.environ.get("SWIFTSOFTMAX_SCRATCH", root / ".build"))
    cmd = [swift, "build", "-c", "release", "--package-path", str(root),
           "--scratch-path", str(scratch), "--product", "swiftsoftmax"]
    print("swiftsoftmax: SWIFTSOFTMAX_TIERED=1 " + " ".join(cmd), flush=True)
    # The manifest applies its unsafe flags (the per-CPU tiers, -Ounchecked, -static-stdlib) only
    # when asked to: without them the library would be slower and need the Swift runtime.
    subprocess.run(cmd, check=True, env={**os.environ, "SWIFTSOFTMAX_TIERED": "1"})
    lib = scratch / "release" / LIBNAME
    if not lib.is_file():
        sys.exit(f"swiftsoftmax: swift build finished but {lib} is missing")
    return lib


class BuildPyWithLibrary(build_py):
    """build_py, then the Swift library copied into the built package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "swiftsoftmax" / LIBNAME
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_build_library(), target)
        os.chmod(target, 0o755)
        strip = shutil.which("strip")
        if strip and not os.environ.get("SWIFTSOFTMAX_NO_STRIP"):
            subprocess.run([strip, "--strip-unneeded", str(target)], check=True)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        lib = str(Path(self.build_lib) / "swiftsoftmax" / LIBNAME)
        return outputs if lib in outputs else outputs + [lib]


class BinaryDistribution(Distribution):
    """Has a native part: installs into platlib and makes a non-pure wheel."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """The wheel carries a native library: not pure, tagged py3-none-<platform>."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> tuple[str, str, str]:
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        return "py3", "none", plat


class SdistWithSwiftSources(sdist):
    """The sdist also carries the Swift package (SWIFT_PACKAGE) under swift/, which lives above
    python/ in the checkout, where setuptools' file list cannot reach."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        root = _swift_root()
        for name in SWIFT_PACKAGE:
            src, dst = root / name, Path(base_dir) / SDIST_SWIFT / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                # symlinks=True: Sources/Tiers/<name> stay links to ../SoftmaxKernels.
                shutil.copytree(src, dst, symlinks=True,
                                ignore=shutil.ignore_patterns(".build*", "__pycache__", ".DS_Store"))
            else:
                shutil.copy2(src, dst)


setup(version=_version(), distclass=BinaryDistribution,
      cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel, "sdist": SdistWithSwiftSources})
