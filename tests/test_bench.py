"""bench/: the worker protocol, the minibatch sequence of the array peers, and a tiny
`bench/run.py --quick` run's report columns (peers that are not installed are left out)."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loopnet.training import sampler_for

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
TINY = ["--quick", "--rounds", "1", "--steps", "3", "--block-seconds", "0.01",
        "--accuracy-steps", "5", "--parts", "steps"]


def installed(*modules: str) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is not None]


def run_bench(tmp_path, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(BENCH / "run.py"), *TINY, "--out", str(tmp_path),
                           *args], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return json.loads((tmp_path / "results.json").read_text())


def test_minibatch_indices_are_loopnets_sampler_draws():
    pytest.importorskip("numpy")
    sys.path.insert(0, str(BENCH))
    try:
        from arrays import MinibatchIndices
    finally:
        sys.path.remove(str(BENCH))
    indices = MinibatchIndices(seed=3, n=8000)
    rng = sampler_for(3)
    first, second = indices.take(250).tolist(), indices.take(7).tolist()
    assert first + second == [rng.randbelow(8000) for _ in range(257)]


def test_worker_answers_a_bad_request_with_one_error_line():
    worker = subprocess.run(
        [sys.executable, str(BENCH / "worker.py")], capture_output=True, text=True, timeout=60,
        input=json.dumps({"setup": {"implementation": "fortran", "sizes": [784, 8, 10],
                                    "data": None, "batch": 10, "seed": 0, "lr": 0.1}}) + "\n")
    answer = json.loads(worker.stdout)
    assert answer == {"error": "ValueError: unknown implementation 'fortran'"}


def test_loopnet_python_worker_needs_no_numpy_so_it_runs_under_pypy():
    requests = [{"setup": {"implementation": "loopnet-python", "sizes": [784, 8, 10],
                           "data": None, "batch": 10, "seed": 0, "lr": 0.1, "warm_up": 1}},
                {"steps": 2}, {"accuracy": True}]
    worker = subprocess.run([sys.executable, str(BENCH / "worker.py")], capture_output=True,
                            text=True, timeout=120,
                            input="".join(json.dumps(r) + "\n" for r in requests))
    setup, steps, accuracy = (json.loads(line) for line in worker.stdout.splitlines())
    assert setup["loaded"] == [] and setup["info"]["threads"] == "1"
    assert steps["ms"] > 0 and 0.0 <= accuracy["accuracy"] <= 1.0


def test_quick_run_isolates_peers_and_reports_best_peer_ratios(tmp_path):
    if not installed("numpy"):
        pytest.skip("the peers need NumPy")
    peers = ["numpy-book", "numpy-f64", "numpy-f32"]
    peers += [key for key, module in (("torch-f32", "torch"), ("jax-f32", "jax"))
              if installed(module)]
    report = run_bench(tmp_path, "--hidden", "16", "--implementations", ",".join(peers))
    rows = report["steps"]
    assert [r["key"] for r in rows] == peers
    for r in rows:
        assert r["ms_min"] <= r["ms_per_step"] <= r["ms_max"] and r["rounds"] == 1
        assert r["block_steps"] >= 2 and r["ratio_to_best_peer"] >= 1.0
    assert min(r["ratio_to_best_peer"] for r in rows) == 1.0
    accuracies = [r["test_acc"] for r in rows]  # same init, same minibatches: all training alike
    assert max(accuracies) - min(accuracies) <= 0.02 and min(accuracies) > 0.1
    summary = report["summaries"][0]
    assert summary["size"] == "784-16-10" and summary["best_peer"] in report["threads"]
    # each worker loaded its own library only (the parent loads none)
    own = {"numpy": {"numpy"}, "torch": {"numpy", "torch"}, "jax": {"numpy", "jax", "jaxlib"}}
    for name, info in report["threads"].items():
        assert set(info["loaded"]) <= own[info["key"].split("-")[0]], name
    table = (tmp_path / "results.md").read_text()
    assert "| network | implementation | ms/step (median) | min | spread | × best peer |" in table
    assert report["machine"]["cpu"] in table.splitlines()[0]


@pytest.mark.slow
def test_quick_run_with_loopnet_gives_the_headline_ratios(tmp_path):
    if len(installed("numpy", "numba")) < 2:
        pytest.skip("needs NumPy and Numba")
    report = run_bench(tmp_path, "--hidden", "50", "--implementations",
                       "numpy-f64,numpy-f32,loopnet-exact,loopnet-exact-1,loopnet-parallel")
    summary = report["summaries"][0]
    assert summary["best_loopnet"].startswith("loopnet numba")
    assert summary["best_f32_peer"] == "NumPy lean f32"
    for key in ("best_loopnet_vs_best_peer", "exact_vs_numpy_f64", "exact_vs_best_f32_peer",
                "exact_vs_exact_one_core"):
        assert summary[key] > 0
    assert report["threads"]["loopnet numba exact"]["loaded"] == ["numpy", "numba"]
    one_core = report["threads"]["loopnet numba exact, one core"]["threads"]
    assert one_core.startswith("NUMBA_NUM_THREADS=1 (set)")
    assert len({r["test_acc"] for r in report["steps"]}) <= 2  # f32 may round one image apart


def test_arithmetic_ceiling_prints_the_rates_and_refuses_a_bad_width():
    pytest.importorskip("numba")
    script = str(BENCH / "arithmetic_ceiling.py")
    done = subprocess.run([sys.executable, script, "--hidden", "8,10", "--repeats", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("data: ") and "non-zero pixels per digit" in lines[0]
    assert [line.split(":")[0] for line in lines[1:]] == [
        "ceiling, 512-bit vectors", "ceiling, 256-bit vectors",
        "784-8-10 first-layer forward", "784-10-10 first-layer forward"]
    rates = [float(rate) for line in lines[1:]
             for rate in re.findall(r"([0-9.]+)(?: multiply-adds)?/ns", line)]
    assert len(rates) == 2 + 2 * 2 and all(rate > 0 for rate in rates)
    bad = subprocess.run([sys.executable, script, "--hidden", "0"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "hidden sizes are 1 ... 4096" in bad.stderr


def test_arithmetic_ceiling_refuses_a_directory_without_mnist_in_one_line(tmp_path):
    pytest.importorskip("numba")
    done = subprocess.run([sys.executable, str(BENCH / "arithmetic_ceiling.py"), "--data",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("arithmetic_ceiling: error: ")
    assert len(done.stderr.strip().splitlines()) == 1 and done.stdout == ""
