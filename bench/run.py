"""loopnet benchmark suite: time per training step against the strongest peers, scaling, peak
memory, start-up and accuracy.

    python bench/run.py [--quick] [--data DIR] [--out DIR] [--pypy PATH] [--implementations ...]

Every implementation runs alone in a process of its own (bench/worker.py), which imports only
its own library, so no other library's thread pool sits beside it; this process imports none of
NumPy's, Numba's, PyTorch's or JAX's.  It drives the workers over pipes block by block,
interleaved round by round (A B C … A B C), so each sees the same machine load.  All train the
same network from the same init (loopnet.MultiLayerNet(sizes, seed=0).get_params()) on the
same data and the same minibatch sequence (loopnet's sampler), SGD with lr 0.1, each on its
library's default threads.  The headline is each implementation's median ms/step over the
rounds divided by the best peer's (the fastest implementation that is not loopnet).

Results go to `--out` as results.md, results.json, step_times.png and scaling.png: by default
the committed bench/results/ for a full run, and a fresh temporary directory for ``--quick`` (a
quick run never replaces the committed results unless ``--out bench/results`` asks it to).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loopnet.data import generate_digits, write_idx  # noqa: E402

WORKER = ROOT / "bench" / "worker.py"
SEED = 0
LR = 0.1
BATCH = 100
HIDDEN_SIZES = (50, 100)
SCALING_HIDDEN = (16, 32, 64, 128, 256, 512, 1024)
SCALING_BATCH = (1, 10, 100, 1000)
SCALING_BATCH_HIDDEN = 50
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
              "XLA_FLAGS")


class Implementation(NamedTuple):
    """One row of the benchmark: the worker's implementation name and what it may load."""

    key: str
    name: str
    worker_name: str  # bench/worker.py's "implementation"
    needs: str  # the module that must be importable (find_spec only: never imported here)
    allowed: frozenset  # thread-pool libraries its worker may load
    peer: bool  # not loopnet: a candidate for the best peer
    dtype: str
    warm_up: int  # untimed steps after set-up (JIT compiles, caches)
    pypy: bool = False
    env: tuple = ()  # (name, value) pairs set in its worker's environment


NUMPY = frozenset({"numpy"})
IMPLEMENTATIONS = (
    Implementation("numpy-book", "NumPy reference (book layers)", "numpy-book", "numpy", NUMPY,
                   True, "f64", 20),
    Implementation("numpy-f64", "NumPy lean f64", "numpy-f64", "numpy", NUMPY, True, "f64", 20),
    Implementation("numpy-f32", "NumPy lean f32", "numpy-f32", "numpy", NUMPY, True, "f32", 20),
    Implementation("torch-f64", "PyTorch f64", "torch-f64", "torch", NUMPY | {"torch"}, True,
                   "f64", 20),
    Implementation("torch-f32", "PyTorch f32", "torch-f32", "torch", NUMPY | {"torch"}, True,
                   "f32", 20),
    Implementation("jax-f32", "JAX jit f32", "jax-f32", "jax", NUMPY | {"jax", "jaxlib"}, True,
                   "f32", 20),
    Implementation("jax-f64", "JAX jit f64", "jax-f64", "jax", NUMPY | {"jax", "jaxlib"}, True,
                   "f64", 20),
    Implementation("loopnet-python", "loopnet python (CPython)", "loopnet-python", "loopnet",
                   frozenset(), False, "f64", 1),
    Implementation("loopnet-pypy", "loopnet python (PyPy)", "loopnet-python", "loopnet",
                   frozenset(), False, "f64", 40, pypy=True),
    Implementation("loopnet-exact", "loopnet numba exact", "loopnet-exact", "numba",
                   NUMPY | {"numba"}, False, "f64", 20),
    Implementation("loopnet-exact-1", "loopnet numba exact, one core", "loopnet-exact", "numba",
                   NUMPY | {"numba"}, False, "f64", 20, env=(("NUMBA_NUM_THREADS", "1"),)),
    Implementation("loopnet-parallel", "loopnet numba parallel", "loopnet-parallel", "numba",
                   NUMPY | {"numba"}, False, "f64", 20),
)
BY_KEY = {impl.key: impl for impl in IMPLEMENTATIONS}
SLOW = {"loopnet-python", "loopnet-pypy"}  # few steps per block, no scaling sweep
# not in the scaling sweep either: exact mode's one-core loop (its step table row is enough to
# see what the second core gives exact mode)
NOT_SWEPT = SLOW | {"loopnet-exact-1"}


class WorkerError(RuntimeError):
    """A worker failed a request, stopped, or loaded a library it should not have."""


# ------------------------------------------------------------------------------------ workers
class Worker:
    """One implementation's bench/worker.py process and its side of the JSON-line protocol."""

    def __init__(self, impl: Implementation, data_dir: str | None, interpreter: str) -> None:
        self.impl = impl
        self.data_dir = data_dir
        self.info: dict = {}
        self.child = subprocess.Popen([interpreter, str(WORKER)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True,
                                      env={**os.environ, **dict(impl.env)})

    def ask(self, request: dict) -> dict:
        self.child.stdin.write(json.dumps(request) + "\n")
        self.child.stdin.flush()
        line = self.child.stdout.readline()
        if not line:
            raise WorkerError(f"{self.impl.name}: the worker stopped (exit {self.child.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise WorkerError(f"{self.impl.name}: {answer['error']}")
        return answer

    def setup(self, sizes: list[int], batch: int, warm_up: int | None = None) -> float:
        """A fresh run of `sizes` from loopnet's init (then `warm_up` untimed steps, the
        implementation's own count by default); returns its set-up seconds."""
        answer = self.ask({"setup": {
            "implementation": self.impl.worker_name, "sizes": sizes, "data": self.data_dir,
            "batch": batch, "seed": SEED, "lr": LR,
            "warm_up": self.impl.warm_up if warm_up is None else warm_up}})
        foreign = set(answer["loaded"]) - self.impl.allowed
        if foreign:
            raise WorkerError(f"{self.impl.name}: its worker loaded {sorted(foreign)}")
        self.info = {**answer["info"], "loaded": answer["loaded"]}
        return answer["seconds"]

    def steps(self, count: int) -> tuple[float, float]:
        """(wall, CPU) ms per step over `count` steps, timed inside the worker."""
        answer = self.ask({"steps": count})
        return answer["ms"], answer["cpu_ms"]

    def accuracy(self) -> float:
        return self.ask({"accuracy": True})["accuracy"]

    def close(self) -> None:
        self.child.stdin.close()
        self.child.wait(timeout=60)


def find_pypy(path: str | None) -> str | None:
    """--pypy, else pypy3 on the PATH; None (and a note) when there is none."""
    found = path or shutil.which("pypy3")
    if not found:
        print("pypy3 not found: no PyPy rows (apt-get install pypy3, or --pypy PATH)")
    return found


def available(keys: list[str], pypy: str | None) -> list[Implementation]:
    """The implementations of `keys` this machine can run; a note for each one it cannot."""
    chosen = []
    for key in keys:
        impl = BY_KEY[key]
        if impl.pypy and not pypy:
            continue
        if not impl.pypy and importlib.util.find_spec(impl.needs) is None:
            extra = {"jax": "pip install -e '.[bench]'", "torch": "pip install -e '.[torch]'",
                     "numba": "pip install -e '.[jit]'"}.get(impl.needs, "")
            print(f"{impl.needs} is not installed: no {impl.name} rows ({extra})")
            continue
        chosen.append(impl)
    return chosen


def start_workers(impls, data_dir: str | None, pypy: str | None) -> dict[str, Worker]:
    return {impl.key: Worker(impl, data_dir, pypy if impl.pypy else sys.executable)
            for impl in impls}


def close_workers(workers: dict[str, Worker]) -> None:
    for worker in workers.values():
        worker.close()


# ------------------------------------------------------------------------------------ timing
class Blocks(NamedTuple):
    """How each round times an implementation: a block of steps lasting about `seconds`, at
    most `max_steps` (at least `min_steps`), and a pause of `settle` seconds between blocks so
    the previous worker's idle threads have stopped spinning.  loopnet's Numba modes spin
    longest: with the GOMP_SPINCOUNT that numba_parallel sets, an idle worker burned 0.15-0.18
    CPU seconds after its training call (measured), and with the 0.05 s pause of before, exact
    mode's spinning threads (now on every core) took a core from parallel mode's next block."""

    seconds: float
    max_steps: int
    min_steps: int = 2
    settle: float = 0.25


def block_steps(worker: Worker, blocks: Blocks) -> int:
    """Steps per block for `worker`, from a probe of one step (then ten, if that was quick)."""
    ms = worker.steps(1)[0]
    if 10 * ms < 1000 * blocks.seconds:
        ms = worker.steps(10)[0]
    return max(blocks.min_steps, min(blocks.max_steps, int(1000 * blocks.seconds / ms)))


def interleaved(workers: dict[str, Worker], rounds: int, blocks: Blocks) -> dict[str, dict]:
    """Per worker: wall and CPU ms/step of each of `rounds` rounds, one block per round each,
    the workers taking turns (A B C … A B C)."""
    counts = {key: block_steps(w, blocks) for key, w in workers.items()}
    times = {key: {"wall": [], "cpu": [], "block_steps": counts[key]} for key in workers}
    for _ in range(rounds):
        for key, worker in workers.items():
            time.sleep(blocks.settle)
            wall, cpu = worker.steps(counts[key])
            times[key]["wall"].append(wall)
            times[key]["cpu"].append(cpu)
    return times


def best_of(rows: list[dict], keep) -> dict | None:
    """The row of lowest median ms/step among those `keep` accepts."""
    return min((r for r in rows if keep(r)), key=lambda r: r["ms_per_step"], default=None)


# ------------------------------------------------------------------------------------ parts
def step_table(workers: dict[str, Worker], hidden_sizes, rounds: int, blocks: Blocks,
               accuracy_steps: int, n_features: int = 784) -> tuple[list[dict], list[dict]]:
    """(rows, summaries): the isolated, interleaved ms/step table at batch 100 per hidden size,
    and each implementation's test accuracy after the same `accuracy_steps` from the init."""
    rows, summaries = [], []
    for hidden in hidden_sizes:
        sizes = [n_features, hidden, 10]
        size = "-".join(map(str, sizes))
        for worker in workers.values():
            worker.setup(sizes, BATCH)
        times = interleaved(workers, rounds, blocks)
        accuracy = {}
        for key, worker in workers.items():
            # the python rows are bitwise those of numba exact: trained once, at the first size
            if key in SLOW and hidden != hidden_sizes[0]:
                continue
            worker.setup(sizes, BATCH, warm_up=0)
            worker.steps(accuracy_steps)
            accuracy[key] = worker.accuracy()
        size_rows = []
        for key, t in times.items():
            impl = workers[key].impl
            size_rows.append({
                "size": size, "key": key, "implementation": impl.name, "peer": impl.peer,
                "dtype": impl.dtype, "ms_per_step": statistics.median(t["wall"]),
                "ms_min": min(t["wall"]), "ms_max": max(t["wall"]),
                "spread_ms": max(t["wall"]) - min(t["wall"]), "iqr_ms": iqr(t["wall"]),
                "rounds": len(t["wall"]),
                "block_steps": t["block_steps"], "cpu_ms_per_step": statistics.median(t["cpu"]),
                "test_acc": accuracy.get(key)})
        summary = summarize(size, size_rows)
        rows += size_rows
        summaries.append(summary)
        print_size(size_rows, summary, accuracy_steps)
    return rows, summaries


def iqr(values: list[float]) -> float | None:
    """Interquartile range (None for fewer than two values)."""
    if len(values) < 2:
        return None
    low, _, high = statistics.quantiles(values, n=4)
    return high - low


def summarize(size: str, rows: list[dict]) -> dict:
    """Ratios to the best peer (added to each row) and the headline ratios of one size."""
    best_peer = best_of(rows, lambda r: r["peer"])
    for r in rows:
        r["ratio_to_best_peer"] = r["ms_per_step"] / best_peer["ms_per_step"] if best_peer else None
    summary = {"size": size, "best_peer": best_peer and best_peer["implementation"],
               "best_peer_ms": best_peer and best_peer["ms_per_step"]}
    best_loopnet = best_of(rows, lambda r: r["key"] in ("loopnet-exact", "loopnet-parallel"))
    if best_loopnet and best_peer:
        summary["best_loopnet"] = best_loopnet["implementation"]
        summary["best_loopnet_vs_best_peer"] = best_loopnet["ratio_to_best_peer"]
    by_key = {r["key"]: r for r in rows}
    exact = by_key.get("loopnet-exact")
    best_f32 = best_of(rows, lambda r: r["peer"] and r["dtype"] == "f32")
    if exact and "numpy-f64" in by_key:
        summary["exact_vs_numpy_f64"] = exact["ms_per_step"] / by_key["numpy-f64"]["ms_per_step"]
    if exact and best_f32:
        summary["best_f32_peer"] = best_f32["implementation"]
        summary["exact_vs_best_f32_peer"] = exact["ms_per_step"] / best_f32["ms_per_step"]
    if exact and "loopnet-exact-1" in by_key:  # what exact mode's second core gives
        summary["exact_vs_exact_one_core"] = (exact["ms_per_step"]
                                              / by_key["loopnet-exact-1"]["ms_per_step"])
    pypy, book, cpython = (by_key.get(k) for k in ("loopnet-pypy", "numpy-book", "loopnet-python"))
    if pypy and book:  # the PyPy goal: within 5x of the book's NumPy
        summary["pypy_vs_numpy_book"] = pypy["ms_per_step"] / book["ms_per_step"]
        summary["pypy_vs_numpy_book_cpu"] = pypy["cpu_ms_per_step"] / book["cpu_ms_per_step"]
    if pypy and cpython:
        summary["pypy_vs_cpython"] = pypy["ms_per_step"] / cpython["ms_per_step"]
    return summary


def summary_sentence(s: dict) -> str:
    """One line of the headline ratios of a size."""
    parts = [f"best peer {s['best_peer']} {s['best_peer_ms']:.3f} ms"] if s["best_peer"] else []
    if "best_loopnet" in s:
        parts.append(f"loopnet's best ({s['best_loopnet']}) / best peer = "
                     f"{s['best_loopnet_vs_best_peer']:.2f}x")
    if "exact_vs_numpy_f64" in s:
        parts.append(f"exact / NumPy lean f64 = {s['exact_vs_numpy_f64']:.2f}x")
    if "exact_vs_best_f32_peer" in s:
        parts.append(f"exact / best f32 peer ({s['best_f32_peer']}) = "
                     f"{s['exact_vs_best_f32_peer']:.2f}x")
    if "exact_vs_exact_one_core" in s:
        parts.append(f"exact / exact on one core = {s['exact_vs_exact_one_core']:.2f}x")
    if "pypy_vs_numpy_book" in s:
        parts.append(f"PyPy / NumPy reference = {s['pypy_vs_numpy_book']:.2f}x wall, "
                     f"{s['pypy_vs_numpy_book_cpu']:.2f}x CPU (target <= 5x)")
    if "pypy_vs_cpython" in s:
        parts.append(f"PyPy / CPython = {s['pypy_vs_cpython']:.3f}")
    return f"{s['size']}: " + "; ".join(parts)


def print_size(rows: list[dict], summary: dict, accuracy_steps: int) -> None:
    for r in rows:
        ratio = f"{r['ratio_to_best_peer']:.2f}x" if r["ratio_to_best_peer"] else "-"
        acc = f"{r['test_acc']:.4f}" if r["test_acc"] is not None else "-"
        print(f"  {r['size']} {r['implementation']:<30} {r['ms_per_step']:9.3f} ms "
              f"(min {r['ms_min']:.3f}, spread {r['spread_ms']:.3f}) {ratio:>8}  "
              f"acc after {accuracy_steps} steps {acc}", flush=True)
    print("  " + summary_sentence(summary), flush=True)


def scaling(workers: dict[str, Worker], rounds: int, blocks: Blocks, hidden_sizes=SCALING_HIDDEN,
            batch_sizes=SCALING_BATCH, n_features: int = 784) -> dict[str, list[dict]]:
    """ms/step against the hidden size (batch 100) and the batch size (784-50-10), the same
    isolated interleaved rounds as the step table (the python rows left out: too slow)."""
    fast = {key: w for key, w in workers.items() if key not in NOT_SWEPT}
    points = [("hidden", h, [n_features, h, 10], BATCH) for h in hidden_sizes]
    points += [("batch", b, [n_features, SCALING_BATCH_HIDDEN, 10], b) for b in batch_sizes]
    results: dict[str, list[dict]] = {"hidden": [], "batch": []}
    for axis, value, sizes, batch in points:
        for worker in fast.values():
            worker.setup(sizes, batch)
        times = interleaved(fast, rounds, blocks)
        rows = [{axis: value, "key": key, "implementation": fast[key].impl.name,
                 "peer": fast[key].impl.peer, "ms_per_step": statistics.median(t["wall"]),
                 "ms_min": min(t["wall"]), "ms_max": max(t["wall"])}
                for key, t in times.items()]
        results[axis] += rows
        best_peer = best_of(rows, lambda r: r["peer"])
        best_loopnet = best_of(rows, lambda r: not r["peer"])
        line = f"  {axis} {value}: " + ", ".join(f"{r['implementation']} {r['ms_per_step']:.3f}"
                                                 for r in rows)
        if best_peer and best_loopnet:
            line += (f"; loopnet's best / best peer ({best_peer['implementation']}) = "
                     f"{best_loopnet['ms_per_step'] / best_peer['ms_per_step']:.2f}x")
        print(line, flush=True)
    return results


# Runs `loopnet ARGS` and prints the process's own peak RSS (VmHWM).  Not wait4's ru_maxrss:
# on Linux that includes the forking parent's memory from before exec.
PEAK_RSS_SCRIPT = """
import sys
from loopnet.cli import main
code = main(sys.argv[1:])
status = open("/proc/self/status").read()
print("VmHWM", status.split("VmHWM:")[1].split()[0], file=sys.stderr)
sys.exit(code)
"""


def peak_rss(n_train: int, iters: int, pypy: str | None = None) -> list[dict]:
    """Peak RSS of `loopnet train` on an n_train x 784 synthetic set, per backend (and for the
    python backend under PyPy), each in its own process."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_digits(n_train + 2000, seed=7)
        px, lb = data.pixels, data.labels
        write_idx(f"{tmp}/train-images-idx3-ubyte", (n_train, 28, 28), px[: n_train * 784])
        write_idx(f"{tmp}/train-labels-idx1-ubyte", (n_train,), lb[:n_train])
        write_idx(f"{tmp}/t10k-images-idx3-ubyte", (2000, 28, 28), px[n_train * 784:])
        write_idx(f"{tmp}/t10k-labels-idx1-ubyte", (2000,), lb[n_train:])
        runs = [("python", sys.executable, "python"), ("numba", sys.executable, "numba")]
        if pypy:
            runs.append(("python (PyPy)", pypy, "python"))
        for label, interpreter, backend in runs:
            args = ["train", "--data", tmp, "--iters", str(iters), "--backend", backend, "--quiet"]
            start = time.perf_counter()
            proc = subprocess.run([interpreter, "-c", PEAK_RSS_SCRIPT, *args],
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            peak_kb = int(proc.stderr.strip().splitlines()[-1].split()[1])
            rows.append({"backend": label, "n_train": n_train, "iters": iters,
                         "peak_rss_mb": peak_kb / 1024,
                         "seconds": time.perf_counter() - start,
                         "last_line": proc.stdout.strip().splitlines()[-1]})
            print(f"  {label}: {rows[-1]['peak_rss_mb']:.0f} MB", flush=True)
    return rows


def python_startup(pypy: str, rounds: int = 3) -> list[dict]:
    """Wall seconds of `loopnet train --iters N --backend python` (embedded data, already
    cached) under CPython and PyPy, N = 1 and 100: PyPy has no compile step, but its JIT
    compiles loops during the first steps.  Median over `rounds` interleaved runs."""
    from loopnet.data import synthetic_dataset

    synthetic_dataset(seed=SEED)  # the data cache is filled before anything is timed
    runs = [(runtime, interpreter, iters) for iters in (1, 100)
            for runtime, interpreter in (("CPython", sys.executable), ("PyPy", pypy))]
    seconds = {run: [] for run in runs}
    for _ in range(rounds):
        for run in runs:
            runtime, interpreter, iters = run
            start = time.perf_counter()
            subprocess.run([interpreter, "-m", "loopnet", "train", "--iters", str(iters),
                            "--backend", "python", "--quiet"], capture_output=True, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
            seconds[run].append(time.perf_counter() - start)
    rows = []
    for (runtime, _, iters), values in seconds.items():
        rows.append({"runtime": runtime, "iters": iters, "seconds": statistics.median(values),
                     "min": min(values), "max": max(values)})
        print(f"  python backend, {runtime}, --iters {iters}: {rows[-1]['seconds']:.1f} s",
              flush=True)
    return rows


# Writes an n_train x 784 float64 .npz of synthetic digits / 255 plus a 2000-row X_test (in a
# child process: this one never imports NumPy).
FLOAT_DATA_SCRIPT = """
import sys
import numpy as np
from loopnet.data import generate_digits
path, n_train = sys.argv[1], int(sys.argv[2])
data = generate_digits(n_train + 2000, seed=7)
X = np.frombuffer(data.pixels, dtype=np.uint8).reshape(-1, 784) / 255.0
y = np.frombuffer(data.labels, dtype=np.uint8)
np.savez(path, X=X[:n_train], y=y[:n_train], X_test=X[n_train:], y_test=y[n_train:])
"""

FLOAT_RSS_SCRIPT = """
import sys, time
from loopnet.data import load_data
from loopnet.network import MultiLayerNet
from loopnet.optimizers import SGD
from loopnet.training import Trainer

def vm_hwm_kb():
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])

path, backend, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
start = time.perf_counter()
train, test = load_data(path)
loaded = vm_hwm_kb()
net = MultiLayerNet([train.n_features, 50, train.n_classes], backend=backend)
trainer = Trainer(net, SGD(0.1), train, test)
trainer._run_steps(steps)
print(loaded, vm_hwm_kb(), time.perf_counter() - start)
"""


def float_peak_rss(n_train: int, steps: int) -> list[dict]:
    """Peak RSS of loading an n_train x 784 float64 .npz (synthetic digits / 255, plus a
    2000-row X_test), preparing a Trainer (the sparse rows of train, test and the train
    evaluation feed) and running `steps` steps, per backend, each in its own process."""
    rows = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/float.npz"
        subprocess.run([sys.executable, "-c", FLOAT_DATA_SCRIPT, path, str(n_train)], env=env,
                       check=True)
        for backend in ("python", "numba"):
            proc = subprocess.run([sys.executable, "-c", FLOAT_RSS_SCRIPT, path, backend,
                                   str(steps)], capture_output=True, text=True, check=True,
                                  env=env)
            loaded_kb, peak_kb, seconds = proc.stdout.split()
            rows.append({"backend": backend, "n_train": n_train, "steps": steps,
                         "dense_float64_mb": n_train * 784 * 8 / 2**20,
                         "python_floats_mb": n_train * 784 * (24 + 8) / 2**20,
                         "after_load_rss_mb": int(loaded_kb) / 1024,
                         "peak_rss_mb": int(peak_kb) / 1024, "seconds": float(seconds)})
            print(f"  float data, {backend}: {rows[-1]['after_load_rss_mb']:.0f} MB after "
                  f"loading, {rows[-1]['peak_rss_mb']:.0f} MB peak", flush=True)
    return rows


def startup(iters: int = 1) -> list[dict]:
    """Wall seconds of `loopnet train --iters 1` (process start to the end of its first step,
    plus one evaluation) for each Numba mode: first with an empty Numba cache, then again with
    what that run cached."""
    rows = []
    for mode in ("exact", "parallel"):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
            args = [sys.executable, "-m", "loopnet", "train", "--iters", str(iters),
                    "--backend", "numba", *(["--parallel"] if mode == "parallel" else [])]
            for cold in (True, False):
                start = time.perf_counter()
                proc = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
                seconds = time.perf_counter() - start
                ready = [line for line in proc.stderr.splitlines() if "kernels ready in" in line]
                rows.append({"mode": mode, "cache": "empty" if cold else "filled",
                             "seconds": seconds,
                             "kernels_ready_seconds": float(ready[-1].split()[3])})
                print(f"  {mode}, cache {rows[-1]['cache']}: {seconds:.1f} s", flush=True)
    return rows


# ------------------------------------------------------------------------------------ report
def cpu_name() -> str:
    """The CPU's model name, from /proc/cpuinfo, else lscpu, else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def machine(pypy: str | None = None) -> dict:
    """The CPU, its SIMD flags, the Python and the thread settings in the environment."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    info = {"cpu": cpu_name(), "cores": os.cpu_count(),
            "simd": " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags),
            "python": platform.python_version(), "load_average_at_start": os.getloadavg(),
            "thread_environment": {name: os.environ[name] for name in THREAD_ENV
                                   if name in os.environ}}
    if pypy:
        info["pypy"] = subprocess.run(
            [pypy, "-c", "import platform, sys; print('.'.join(map(str, sys.pypy_version_info[:3])),"
                         " '(Python ' + platform.python_version() + ')')"],
            capture_output=True, text=True, check=True).stdout.strip()
    return info


def markdown(report) -> str:
    m = report["machine"]
    env = ", ".join(f"{k}={v}" for k, v in m["thread_environment"].items()) or "none set"
    lines = [f"CPU: {m['cpu']}, {m['cores']} cores ({m['simd']}); Python {m['python']}"
             + (f", PyPy {m['pypy']}" if "pypy" in m else "") + f"; thread variables: {env}; "
             "load average (1, 5, 15 min) at start "
             + ", ".join(f"{v:.2f}" for v in m["load_average_at_start"]) + ", at end "
             + ", ".join(f"{v:.2f}" for v in m.get("load_average_at_end", ())) + ".",
             f"Data: {report['data']}; batch {BATCH}, SGD lr {LR}.  Each implementation in its "
             f"own process, {report['rounds']} interleaved rounds of one block each (up to "
             f"{report['blocks']['max_steps']} steps, about {report['blocks']['seconds']} s); "
             "median ms/step over the rounds, the fastest round, spread = slowest - fastest; "
             "× best peer = median / the fastest non-loopnet implementation's median.", "",
             "| network | implementation | ms/step (median) | min | spread | × best peer "
             f"| CPU ms/step | test acc after {report['accuracy_steps']} steps |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["steps"]:
        acc = f"{r['test_acc']:.4f}" if r["test_acc"] is not None else "= numba exact (bitwise)"
        ratio = f"{r['ratio_to_best_peer']:.2f}" if r["ratio_to_best_peer"] else "-"
        lines.append(f"| {r['size']} | {r['implementation']} | {r['ms_per_step']:.3f} | "
                     f"{r['ms_min']:.3f} | {r['spread_ms']:.3f} | {ratio} | "
                     f"{r['cpu_ms_per_step']:.3f} | {acc} |")
    lines.append("")
    lines += [f"- {summary_sentence(s)}" for s in report["summaries"]]
    lines += ["", "| implementation | library | threads (each library's default unless its row "
                  "says set) |", "|---|---|---|"]
    for name, info in report["threads"].items():
        lines.append(f"| {name} | {info['library']} | {info['threads']} |")
    if report.get("scaling"):
        for axis, title in (("hidden", "hidden units (784-H-10, batch 100)"),
                            ("batch", f"batch size (784-{SCALING_BATCH_HIDDEN}-10)")):
            rows = report["scaling"][axis]
            names = list(dict.fromkeys(r["implementation"] for r in rows))
            lines += ["", f"| {title} | " + " | ".join(names)
                      + " | loopnet's best / best peer |", "|---:|" + "---:|" * (len(names) + 1)]
            for value in dict.fromkeys(r[axis] for r in rows):
                point = [r for r in rows if r[axis] == value]
                ms = {r["implementation"]: r["ms_per_step"] for r in point}
                peer = best_of(point, lambda r: r["peer"])
                own = best_of(point, lambda r: not r["peer"])
                ratio = f"{own['ms_per_step'] / peer['ms_per_step']:.2f}" if peer and own else "-"
                lines.append(f"| {value} | " + " | ".join(
                    f"{ms[n]:.3f}" if n in ms else "" for n in names) + f" | {ratio} |")
    if report.get("memory"):
        lines += ["", "| peak RSS, `loopnet train` on 60 000 × 784 | MB | seconds |", "|---|---:|---:|"]
        for r in report["memory"]:
            lines.append(f"| {r['backend']} ({r['iters']} steps + evaluation) | "
                         f"{r['peak_rss_mb']:.0f} | {r['seconds']:.1f} |")
    if report.get("startup"):
        lines += ["", "| `loopnet train --iters 1` (embedded data, 784-50-10) | Numba cache | "
                      "seconds, whole run | kernels ready after |", "|---|---|---:|---:|"]
        for r in report["startup"]:
            lines.append(f"| numba {r['mode']} | {r['cache']} | {r['seconds']:.1f} | "
                         f"{r['kernels_ready_seconds']:.1f} |")
    if report.get("python_startup"):
        lines += ["", "| `loopnet train --backend python` (embedded data, 784-50-10) | seconds, "
                      "whole run (median) | range |", "|---|---:|---:|"]
        for r in report["python_startup"]:
            lines.append(f"| {r['runtime']}, --iters {r['iters']} | {r['seconds']:.1f} | "
                         f"{r['min']:.1f}–{r['max']:.1f} |")
    return "\n".join(lines) + "\n"


def plot(report, out: Path) -> None:
    """step_times.png (median ms/step per implementation, fastest-slowest round as error bars)
    and scaling.png (loopnet's best mode against each peer), when matplotlib is installed."""
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib missing: no plots (pip install loopnet[plot])")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if report.get("steps"):
        plot_steps(plt, report, out / "step_times.png")
    if report.get("scaling"):
        plot_scaling(plt, report, out / "scaling.png")


def plot_steps(plt, report, path: Path) -> None:
    """Median ms/step of each implementation per network size, fastest-slowest as error bars."""
    fig, ax = plt.subplots(figsize=(10, 4.5))
    sizes = list(dict.fromkeys(r["size"] for r in report["steps"]))
    names = list(dict.fromkeys(r["implementation"] for r in report["steps"]))
    width = 0.8 / len(sizes)
    for s_i, size in enumerate(sizes):
        rows = {r["implementation"]: r for r in report["steps"] if r["size"] == size}
        xs = [i + s_i * width for i, n in enumerate(names) if n in rows]
        med = [rows[n]["ms_per_step"] for n in names if n in rows]
        low = [rows[n]["ms_per_step"] - rows[n]["ms_min"] for n in names if n in rows]
        high = [rows[n]["ms_max"] - rows[n]["ms_per_step"] for n in names if n in rows]
        ax.bar(xs, med, width, yerr=[low, high], capsize=2, label=size)
    ax.set_xticks([i + width * (len(sizes) - 1) / 2 for i in range(len(names))], names,
                  rotation=25, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per training step (log)")
    ax.set_title(f"batch {BATCH}, each implementation in its own process; {report['machine']['cpu']}",
                 fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_scaling(plt, report, path: Path) -> None:
    """loopnet's best mode against each peer over hidden size and over batch size."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for (key, label), ax_ in zip((("hidden", "hidden units (batch 100)"),
                                  ("batch", f"batch size (784-{SCALING_BATCH_HIDDEN}-10)")),
                                 axes):
        rows = report["scaling"][key]
        values = list(dict.fromkeys(r[key] for r in rows))
        best = [min(r["ms_per_step"] for r in rows if r[key] == v and not r["peer"])
                for v in values]
        ax_.plot(values, best, marker="o", linewidth=2.5, color="black",
                 label="loopnet, best mode")
        for name in dict.fromkeys(r["implementation"] for r in rows if r["peer"]):
            pts = [(r[key], r["ms_per_step"]) for r in rows if r["implementation"] == name]
            ax_.plot(*zip(*pts), marker=".", label=name)
        ax_.set_xscale("log")
        ax_.set_xticks(values, [str(v) for v in values])
        ax_.set_yscale("log")
        ax_.set_xlabel(label)
        ax_.set_ylabel("ms per step")
        ax_.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def results_dir(out: str | None, quick: bool) -> Path:
    """Where results go: `out` if given, else bench/results for a full run and a new
    temporary directory for a quick one (created)."""
    if out is not None:
        folder = Path(out)
    elif quick:
        folder = Path(tempfile.mkdtemp(prefix="loopnet-bench-quick-"))
    else:
        folder = ROOT / "bench" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bench_data_dir(directory: str | None) -> tuple[str | None, str]:
    """(MNIST directory or None, description): --data, else ../shared/data/mnist-t10k-split
    when present, else bench/worker.py's synthetic digits."""
    root = Path(os.environ.get("LOOPNET_SHARED_DATA", ROOT.parent / "shared" / "data"))
    path = Path(directory) if directory else root / "mnist-t10k-split"
    if path.is_dir():
        return str(path), f"MNIST ({path})"
    return None, "synthetic digits (8000 train, 2000 test)"


PARTS = ("steps", "scaling", "memory", "startup")


def parse_args(argv: list[str] | None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="directory of MNIST IDX files "
                                       "(default ../shared/data/mnist-t10k-split)")
    parser.add_argument("--out", default=None,
                        help="directory for the results (default: bench/results; with --quick "
                             "a new temporary directory)")
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds of short blocks, a small scaling sweep, no memory or "
                             "start-up")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5; quick 2)")
    parser.add_argument("--steps", type=int,
                        help="most steps in one block (default 1000; quick 200)")
    parser.add_argument("--block-seconds", type=float,
                        help="about how long one block lasts (default 1.5; quick 0.3)")
    parser.add_argument("--accuracy-steps", type=int,
                        help="steps from the init before the accuracy check (default 400; "
                             "quick 100)")
    parser.add_argument("--hidden", default=",".join(map(str, HIDDEN_SIZES)),
                        help="hidden sizes of the step table (default 50,100)")
    parser.add_argument("--implementations", default=",".join(BY_KEY),
                        help=f"comma-separated, from {','.join(BY_KEY)} (default: all installed)")
    parser.add_argument("--parts", help=f"comma-separated, from {','.join(PARTS)} (default: all; "
                                        "quick: steps,scaling)")
    parser.add_argument("--pypy", help="PyPy interpreter for the loopnet python (PyPy) rows "
                                       "(default: pypy3 on the PATH)")
    parser.add_argument("--float-memory", action="store_true",
                        help="only the peak memory of a 60 000 x 784 float .npz (float_memory.json)")
    args = parser.parse_args(argv)
    unknown = set(args.implementations.split(",")) - set(BY_KEY)
    if unknown:
        parser.error(f"unknown implementation(s) {', '.join(sorted(unknown))}")
    parts = args.parts or ("steps,scaling" if args.quick else ",".join(PARTS))
    if set(parts.split(",")) - set(PARTS):
        parser.error(f"--parts takes {', '.join(PARTS)}")
    args.parts = parts.split(",")
    for name, full, quick in (("rounds", 5, 2), ("steps", 1000, 200), ("block_seconds", 1.5, 0.3),
                              ("accuracy_steps", 400, 100)):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except WorkerError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2


def run(args) -> int:
    """The benchmark parts `args` asks for; the results written to their directory."""
    if args.float_memory:
        rows = float_peak_rss(60000, 20)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "float_memory.json").write_text(
            json.dumps({"machine": machine(), "float_memory": rows}, indent=1) + "\n")
        return 0
    out = results_dir(args.out, args.quick)
    print(f"results go to {out}", flush=True)
    data_dir, description = bench_data_dir(args.data)
    pypy = find_pypy(args.pypy)
    impls = available(args.implementations.split(","), pypy)
    blocks = Blocks(args.block_seconds, args.steps)
    report = {"machine": machine(pypy), "data": description, "rounds": args.rounds,
              "blocks": {"seconds": blocks.seconds, "max_steps": blocks.max_steps},
              "accuracy_steps": args.accuracy_steps, "steps": [], "summaries": [],
              "threads": {}}

    def save() -> None:  # after each part, so a later part's failure keeps the earlier ones
        report["machine"]["load_average_at_end"] = os.getloadavg()
        (out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
        (out / "results.md").write_text(markdown(report))

    workers = start_workers(impls, data_dir, pypy)
    try:
        if "steps" in args.parts:
            print("step times (each implementation in its own process):", flush=True)
            hidden = tuple(int(h) for h in args.hidden.split(","))
            report["steps"], report["summaries"] = step_table(
                workers, hidden, args.rounds, blocks, args.accuracy_steps)
            report["threads"] = {w.impl.name: {**w.info, "key": w.impl.key}
                                 for w in workers.values()}
            save()
        if "scaling" in args.parts:
            print("scaling:", flush=True)
            if args.quick:
                report["scaling"] = scaling(workers, 1, Blocks(0.15, args.steps, 1),
                                            (32, 256), (10, 1000))
            else:
                report["scaling"] = scaling(workers, 3, Blocks(0.4, 20000, 1))
            save()
    finally:
        close_workers(workers)
    if "memory" in args.parts:
        print("peak memory:", flush=True)
        report["memory"] = peak_rss(60000, 200, pypy)
        report["float_memory"] = float_peak_rss(60000, 20)
        save()
    if "startup" in args.parts:
        print("start-up:", flush=True)
        report["startup"] = startup()
        if pypy:
            report["python_startup"] = python_startup(pypy)
    save()
    plot(report, out)
    print()
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
