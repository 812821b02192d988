"""Build hook: compiles the Swift library and ships it inside the package.

`pip install ./python` (or `pip wheel ./python`, `make wheel`) runs `swift build -c release` in the
repository root and copies `.build/release/libswiftsoftmax.so` into the package, where
`swiftsoftmax._lib` looks first. The library links the Swift runtime statically
(`-static-stdlib`), so the wheel needs no Swift toolchain at run time; it is stripped of its
symbol table when `strip` is available (set SWIFTSOFTMAX_NO_STRIP=1 to keep it).

Environment:
  SWIFTSOFTMAX_PREBUILT=path/to/libswiftsoftmax.so   ship this file instead of building
  SWIFT=/path/to/swift                               the toolchain to build with
  SWIFTSOFTMAX_SCRATCH=dir                           SwiftPM's build directory (default .build)

All metadata lives in pyproject.toml; this file only adds the build step and marks the wheel as
platform-specific (it carries a native library), e.g. py3-none-linux_x86_64.
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
from setuptools.dist import Distribution

try:  # setuptools >= 70.1 ships bdist_wheel itself; older ones use the wheel package's.
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover
    from wheel.bdist_wheel import bdist_wheel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIBNAME = "libswiftsoftmax.so"


def _version() -> str:
    """MAJOR.MINOR.PATCH from the C header's SSM_VERSION_*: the one place the version is written."""
    header = ROOT / "include" / "swiftsoftmax.h"
    numbers = dict(re.findall(r"^#define SSM_VERSION_(MAJOR|MINOR|PATCH) (\d+)$", header.read_text(), re.M))
    if set(numbers) != {"MAJOR", "MINOR", "PATCH"}:
        sys.exit(f"swiftsoftmax: {header} lacks SSM_VERSION_MAJOR/MINOR/PATCH")
    return f"{numbers['MAJOR']}.{numbers['MINOR']}.{numbers['PATCH']}"


def _build_library() -> Path:
    prebuilt = os.environ.get("SWIFTSOFTMAX_PREBUILT")
    if prebuilt:
        path = Path(prebuilt)
        if not path.is_file():
            sys.exit(f"swiftsoftmax: SWIFTSOFTMAX_PREBUILT={prebuilt} is not a file")
        return path
    if not (ROOT / "Package.swift").is_file():
        sys.exit("swiftsoftmax: the Swift sources (Package.swift) are not next to python/, so the "
                 "library cannot be built here. Install from a checkout (`pip install ./python` "
                 "in the repository root), or set SWIFTSOFTMAX_PREBUILT to a built "
                 f"{LIBNAME}.")
    swift = os.environ.get("SWIFT") or shutil.which("swift")
    if not swift:
        sys.exit("swiftsoftmax: building the package needs the Swift 6 toolchain (`swift` on PATH "
                 "or SWIFT=/path/to/swift); see https://www.swift.org/install/")
    scratch = Path(os.environ.get("SWIFTSOFTMAX_SCRATCH", ROOT / ".build"))
    cmd = [swift, "build", "-c", "release", "--package-path", str(ROOT),
           "--scratch-path", str(scratch), "--product", "swiftsoftmax"]
    print("swiftsoftmax: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
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


setup(version=_version(), distclass=BinaryDistribution,
      cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
