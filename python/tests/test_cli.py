"""`python -m swiftsoftmax`: the help, the demo walk-through and `info`."""

from __future__ import annotations

import importlib.util
import json
import os
import re
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


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One run of the full demo with --plot (it trains networks: ~20 s), shared by the tests."""
    figures = tmp_path_factory.mktemp("demo") / "figures"
    return run("demo", "--plot", str(figures), timeout=600), figures


def test_demo_prints_the_articles_softmax(demo_run):
    r, _ = demo_run
    assert r.returncode == 0, r.stderr
    s = np.array([0.0, 2.0, 4.0])
    e = np.exp(s - s.max())
    expected = [f"{v:.4f}" for v in e / e.sum()]
    assert expected == ["0.0159", "0.1173", "0.8668"]   # the article's numbers
    lines = [ln.split() for ln in r.stdout.splitlines() if ln.strip().startswith("softmax ")]
    assert any(words[1:4] == expected for words in lines), r.stdout
    # The c3 example's cross-entropy, -ln p3.
    assert f"{-np.log(e[2] / e.sum()):.6f}" in r.stdout
    _check_digits_sections(r.stdout)


def test_demo_help():
    r = run("demo", "--help")
    assert r.returncode == 0
    assert "--plot" in r.stdout


def test_demo_plot_flag(demo_run):
    r, figures = demo_run
    assert r.returncode == 0, r.stderr
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib" in r.stderr
    else:
        names = sorted(p.name for p in figures.iterdir())
        assert names == ["confusion_matrix.png", "softmax_derivatives.png",
                         "softmax_temperature.png", "training_curves.png"]
        for name in names:
            assert (figures / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_digits_sections(out: str) -> None:
    """The training part of the demo: a line per epoch, the accuracy, the confusion matrix and
    the comparison of output layers."""
    epochs = [ln for ln in out.splitlines() if ln.strip().startswith("epoch ")]
    assert len(epochs) == 60 and "test accuracy" in epochs[-1], out
    m = re.search(r"Test accuracy: ([0-9.]+)%", out)
    assert m and float(m.group(1)) >= 97.5, out
    assert "Confusion matrix" in out and "true 9" in out
    for name in ("softmax + cross-entropy", "sigmoid + binary CE", "softplus / sum + NLL"):
        assert sum(name in ln for ln in out.splitlines()) >= 2, name


def test_info_prints_the_version():
    r = run("info")
    assert r.returncode == 0, r.stderr
    assert ssm.__version__ in r.stdout
    info = ssm.build_info()
    assert info["version"] in r.stdout
    assert info["isa"] in r.stdout


def _library_has(symbol: str) -> bool:
    """Whether the library the package loaded exports `symbol` (a newer function)."""
    import ctypes
    return hasattr(ctypes.CDLL(ssm.build_info()["library"]), symbol)


@pytest.mark.skipif(not _library_has("ssm_available_isas"),
                    reason="the loaded library predates ssm_available_isas, which info --tiers prints")
def test_info_tiers_lists_the_tiers_slowest_first():
    r = run("info", "--tiers")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout
    names = lines[0].split()
    assert names[0] == "baseline"
    assert len(set(names)) == len(names)
    assert ssm.build_info()["isa"] in names


def test_info_tiers_with_an_older_library_says_so(monkeypatch, capsys):
    """A library without ssm_available_isas still loads; info --tiers then fails with a reason."""
    from swiftsoftmax import _lib
    monkeypatch.delitem(_lib.FUNCS, "ssm_available_isas", raising=False)
    assert cli.main(["info", "--tiers"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ssm_available_isas" in captured.err


def test_info_help_names_tiers():
    r = run("info", "--help")
    assert r.returncode == 0, r.stderr
    assert "--tiers" in r.stdout
    assert "info --tiers" in run("--help").stdout


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


def test_bench_runs_only_the_shapes_asked(tmp_path):
    # --shapes keeps the rows of those shapes, of every op asked; a short budget and NumPy alone
    # as the peer keep it to a few seconds. Every figure is a positive time, the ratio is the
    # peer's over ours.
    out = tmp_path / "bench.json"
    r = run("bench", "--ops", "softmax,logsumexp", "--dtypes", "float32", "--shapes", "8,4096x10",
            "--peers", "numpy", "--budget", "0.01", "--json", str(out))
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["results"]
    assert sorted((row["op"], tuple(row["shape"])) for row in rows) == [
        ("logsumexp", (8,)), ("logsumexp", (4096, 10)), ("softmax", (8,)), ("softmax", (4096, 10))]
    for row in rows:
        assert row["dtype"] == "float32" and row["times"]["ours"] > 0 and row["times"]["numpy"] > 0
        assert row["best_peer_over_ours"] == pytest.approx(row["times"]["numpy"] / row["times"]["ours"])
    assert "softmax" in r.stdout and "4096x10" in r.stdout


@pytest.mark.parametrize("shapes", ["8,abc", "8x", "-3", ","])
def test_bench_refuses_malformed_shapes(shapes):
    r = run("bench", "--ops", "softmax", "--shapes", shapes, "--peers", "numpy")
    assert r.returncode != 0
    assert "--shapes" in r.stderr


def test_bench_with_no_row_of_the_shapes_says_so():
    r = run("bench", "--ops", "softmax", "--shapes", "3x3", "--peers", "numpy")
    assert r.returncode == 2
    assert "no rows" in r.stderr


def test_peer_isa_environment_caps_the_peers_it_can():
    from swiftsoftmax._bench import peer_isa_environment

    given = {"XLA_FLAGS": "--xla_dump_to=/tmp/x", "NPY_DISABLE_CPU_FEATURES": "AVX512_SPR",
             "ATEN_CPU_CAPABILITY": "avx512", "PATH": "/bin"}
    env = peer_isa_environment("avx2", given, ["X86_V4", "AVX512_ICL"])
    assert env["ATEN_CPU_CAPABILITY"] == "avx2"
    assert env["XLA_FLAGS"] == "--xla_dump_to=/tmp/x --xla_cpu_max_isa=AVX2"
    assert env["NPY_DISABLE_CPU_FEATURES"] == "AVX512_SPR X86_V4 AVX512_ICL"
    assert env["PATH"] == "/bin" and env["SWIFTSOFTMAX_BENCH_PEER_ISA"] == "avx2"
    assert given["ATEN_CPU_CAPABILITY"] == "avx512"  # the caller's mapping is left as it was
    assert "NPY_DISABLE_CPU_FEATURES" not in peer_isa_environment("avx2", {}, [])
    with pytest.raises(ValueError, match="peer_isa"):
        peer_isa_environment("avx512", {}, [])


def test_bench_peer_isa_restarts_with_the_peers_capped(tmp_path):
    from swiftsoftmax._bench import _host_has_avx512

    out = tmp_path / "bench.json"
    r = run("bench", "--ops", "softmax", "--dtypes", "float32", "--shapes", "8", "--peers", "numpy",
            "--budget", "0.01", "--peer-isa", "avx2", "--json", str(out))
    assert r.returncode == 0, r.stderr
    env = json.loads(out.read_text())["machine"].get("env", {})
    if _host_has_avx512():
        assert env.get("SWIFTSOFTMAX_BENCH_PEER_ISA") == "avx2" and env.get("ATEN_CPU_CAPABILITY") == "avx2"
        assert "peers capped at AVX2" in r.stdout and "ONNX Runtime cannot be capped" in r.stdout
    else:
        assert "SWIFTSOFTMAX_BENCH_PEER_ISA" not in env and "no AVX-512" in r.stderr


def test_bench_refuses_an_unknown_peer_isa():
    r = run("bench", "--ops", "softmax", "--peers", "numpy", "--peer-isa", "sse2")
    assert r.returncode == 2 and "--peer-isa" in r.stderr
