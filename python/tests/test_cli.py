"""`python -m swiftsoftmax`: the help, the demo walk-through and `info`."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import swiftsoftmax as ssm
from swiftsoftmax import __main__ as cli

PYTHON_DIR = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Runs the command line in a child interpreter that imports this checkout's package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), env.get("PYTHONPATH")]))
    # The child loads the same library as this process, wherever that was found.
    env["SWIFTSOFTMAX_LIBRARY"] = ssm.build_info()["library"]
    return subprocess.run([sys.executable, "-m", "swiftsoftmax", *args], capture_output=True,
                          text=True, env=env, cwd=PYTHON_DIR, timeout=timeout)


def test_help_names_the_subcommands():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    for command in ("demo", "bench", "info"):
        assert command in r.stdout


def test_no_command_prints_usage_and_fails():
    r = run()
    assert r.returncode == 2
    assert "demo" in r.stderr


def test_unknown_command_fails():
    r = run("no-such-command")
    assert r.returncode == 2


def test_demo_prints_the_articles_softmax():
    r = run("demo")
    assert r.returncode == 0, r.stderr
    s = np.array([0.0, 2.0, 4.0])
    e = np.exp(s - s.max())
    expected = [f"{v:.4f}" for v in e / e.sum()]
    assert expected == ["0.0159", "0.1173", "0.8668"]   # the article's numbers
    lines = [ln.split() for ln in r.stdout.splitlines() if ln.strip().startswith("softmax ")]
    assert any(words[1:4] == expected for words in lines), r.stdout
    # The c3 example's cross-entropy, -ln p3.
    assert f"{-np.log(e[2] / e.sum()):.6f}" in r.stdout


def test_demo_help():
    r = run("demo", "--help")
    assert r.returncode == 0
    assert "--plot" in r.stdout


def test_demo_plot_flag(tmp_path):
    r = run("demo", "--plot", str(tmp_path / "figures"))
    assert r.returncode == 0, r.stderr
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib" in r.stderr
    else:
        assert sorted(p.suffix for p in (tmp_path / "figures").iterdir()) >= [".png"]


def test_info_prints_the_version():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert ssm.__version__ in r.stdout
    info = ssm.build_info()
    assert info["version"] in r.stdout
    assert info["isa"] in r.stdout


def test_missing_subcommand_module_is_reported(monkeypatch, capsys):
    monkeypatch.setitem(cli._DELEGATED, "bench", ("swiftsoftmax._no_such_module", "absent"))
    assert cli.main(["bench"]) == 2
    assert "not available" in capsys.readouterr().err


def test_subcommand_gets_its_arguments(monkeypatch):
    seen = []

    class Fake:
        @staticmethod
        def main(argv):
            seen.append(argv)
            return 0

    monkeypatch.setitem(sys.modules, "swiftsoftmax._fake_cmd", Fake)
    monkeypatch.setitem(cli._DELEGATED, "bench", ("swiftsoftmax._fake_cmd", "fake"))
    assert cli.main(["bench", "--help", "-n", "3"]) == 0
    assert seen == [["--help", "-n", "3"]]
