"""loopnet benchmark suite: time per training step, scaling, peak memory, start-up and accuracy.

    python bench/run.py [--data DIR] [--quick] [--out DIR] [--pypy PATH]

Every implementation trains the same network (same init from loopnet's Rng, SGD, float64,
batch 100) on the same minibatch sequence, in one process, interleaved round by round, so the
ratios printed are measured under the same machine load.  loopnet-python under PyPy (`pypy3`
on the PATH, or --pypy) runs in a child process (bench/python_worker.py) that this process
drives block by block in the same rounds.  Results go to `--out` as results.md, results.json,
step_times.png and scaling.png: by default the committed bench/results/ for a full run, and a
fresh temporary directory for ``--quick`` (a quick run never replaces the committed results
unless ``--out bench/results`` asks it to).
"""
from __future__ import annotations

import argparse
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

import numpy as np

import loopnet
from loopnet.backends.numba_backend import NumbaBackend
from loopnet.data import generate_digits, load_mnist, write_idx
from loopnet.reference.numpy_net import SGD as NumpySGD
from loopnet.reference.numpy_net import NumpyNet
from loopnet.training import Trainer, accuracy_on, sampler_for

ROOT = Path(__file__).resolve().parent.parent
SEED = 0
LR = 0.1
PYPY_NAME = "loopnet-python PyPy"
PYPY_WARM_UP_STEPS = 40  # steps the JIT needs to compile its loops (start-up is timed apart)


# ------------------------------------------------------------------------------------ data
def load_bench_data(directory: str | None):
    """(train, test, description, MNIST directory or None): the real MNIST split when present,
    else synthetic digits of the same shape (bench/python_worker.py makes the same ones)."""
    root = Path(os.environ.get("LOOPNET_SHARED_DATA", ROOT.parent / "shared" / "data"))
    path = Path(directory) if directory else root / "mnist-t10k-split"
    if path.is_dir():
        train, test = load_mnist(path)
        return train, test, f"MNIST ({path})", str(path)
    train, test = generate_digits(8000, seed=1), generate_digits(2000, seed=2)
    return train, test, "synthetic digits", None


def as_arrays(data):
    x = np.frombuffer(data.pixels, dtype=np.uint8).reshape(len(data), -1) / 255.0
    labels = np.frombuffer(data.labels, dtype=np.uint8).astype(np.int64)
    return x, labels


# ------------------------------------------------------------------------------------ runners
class LoopnetRunner:
    """loopnet's own training loop (sampling, gather, gradient, update all in the kernels)."""

    def __init__(self, name, sizes, train, backend, parallel=False, batch=100):
        self.name = name
        self.net = loopnet.MultiLayerNet(sizes, seed=SEED, backend=backend, parallel=parallel)
        self.trainer = Trainer(self.net, loopnet.SGD(LR), train, batch_size=batch, seed=SEED)
        self.trainer.warm_up()

    def steps(self, k):
        self.trainer._run_steps(k)

    def accuracy(self, test):
        return accuracy_on(self.net, test)


class ArrayRunner:
    """A vectorized reference fed the same minibatches (indices from loopnet's sampler)."""

    def __init__(self, name, sizes, train, kind, batch=100):
        self.name = name
        self.x, labels = as_arrays(train)
        self.t = np.eye(sizes[-1])[labels]
        self.batch = batch
        self.sampler = sampler_for(SEED)
        self.draw = NumbaBackend().sample_indices
        params = loopnet.MultiLayerNet(sizes, seed=SEED).get_params()
        if kind == "numpy":
            self.net = NumpyNet(sizes, params=params)
            self.opt = NumpySGD(LR)
        else:
            from loopnet.reference.torch_net import TorchNet

            self.net = TorchNet(sizes, params=params)
            self.opt = self.net.make_optimizer("sgd", LR)

    def steps(self, k):
        for _ in range(k):
            idx = self.draw(self.sampler, len(self.x), self.batch)
            self.net.train_step(self.x[idx], self.t[idx], self.opt)

    def accuracy(self, test):
        x, labels = as_arrays(test)
        return float(np.mean(np.argmax(np.asarray(self.net.predict(x)), axis=1) == labels))


class PypyRunner:
    """loopnet-python under PyPy: LoopnetRunner's net and minibatches, in a PyPy child process."""

    def __init__(self, pypy, sizes, data_dir, batch=100, warm_up=PYPY_WARM_UP_STEPS):
        self.name = PYPY_NAME
        self.child = subprocess.Popen(
            [pypy, str(ROOT / "bench" / "python_worker.py")], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True)
        self.ask({"setup": {"sizes": sizes, "data": data_dir, "batch": batch, "seed": SEED,
                            "lr": LR}})
        if warm_up:
            self.steps(warm_up)

    def ask(self, request: dict) -> dict:
        self.child.stdin.write(json.dumps(request) + "\n")
        self.child.stdin.flush()
        answer = self.child.stdout.readline()
        if not answer:
            raise RuntimeError(f"{self.name}: the PyPy worker stopped (exit {self.child.wait()})")
        return json.loads(answer)

    def steps(self, k):
        """k steps; returns the child's CPU seconds for them."""
        return self.ask({"steps": k})["cpu_ms"] * k / 1000

    def accuracy(self, test):
        return self.ask({"accuracy": True})["accuracy"]

    def close(self):
        self.child.stdin.close()
        self.child.wait(timeout=60)


def find_pypy(path: str | None) -> str | None:
    """--pypy, else pypy3 on the PATH; None (and a note) when there is none."""
    found = path or shutil.which("pypy3")
    if not found:
        print("pypy3 not found: no PyPy rows (apt-get install pypy3, or --pypy PATH)")
    return found


def close_runners(runners) -> None:
    for r in runners:
        if isinstance(r, PypyRunner):
            r.close()


def make_runners(sizes, train, with_python=True, batch=100, pypy=None, data_dir=None,
                 warm_up=PYPY_WARM_UP_STEPS):
    runners = []
    if with_python:
        runners.append(LoopnetRunner("loopnet-python", sizes, train, "python", batch=batch))
    if pypy:
        runners.append(PypyRunner(pypy, sizes, data_dir, batch, warm_up))
    runners.append(LoopnetRunner("loopnet-numba exact", sizes, train, "numba", batch=batch))
    runners.append(LoopnetRunner("loopnet-numba parallel", sizes, train, "numba", True, batch))
    runners.append(ArrayRunner("NumPy reference", sizes, train, "numpy", batch))
    if torch_available():
        runners.append(ArrayRunner("PyTorch CPU autograd", sizes, train, "torch", batch))
    return runners


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def time_block(runner, steps) -> float:
    """Milliseconds per step over one block of `steps` steps."""
    return timed_block(runner, steps)[0]


def timed_block(runner, steps) -> tuple[float, float]:
    """(wall, CPU) milliseconds per step over one block of `steps` steps; CPU time is the
    process's, all its threads (a child's own for a runner in a child process)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    child_cpu = runner.steps(steps)
    wall = time.perf_counter() - start
    cpu = child_cpu if child_cpu is not None else time.process_time() - cpu_start
    return 1000 * wall / steps, 1000 * cpu / steps


def interleaved_times(runners, rounds, block_seconds=0.25):
    """(wall, CPU): ms/step of each runner in each of `rounds` rounds, each runner timed once
    per round."""
    sizes = {r.name: max(1, int(block_seconds * 1000 / time_block(r, 1))) for r in runners}
    wall = {r.name: [] for r in runners}
    cpu = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            w, c = timed_block(r, sizes[r.name])
            wall[r.name].append(w)
            cpu[r.name].append(c)
    return wall, cpu


def interleaved_ms(runners, rounds, block_seconds=0.25) -> dict[str, float]:
    """Median wall ms/step per runner over `rounds` interleaved rounds."""
    times = interleaved_times(runners, rounds, block_seconds)[0]
    return {name: statistics.median(v) for name, v in times.items()}


# ------------------------------------------------------------------------------------ parts
def step_table(train, test, hidden_sizes, rounds, accuracy_steps, pypy=None, data_dir=None):
    rows = []
    for hidden in hidden_sizes:
        sizes = [train.n_features, hidden, 10]
        runners = make_runners(sizes, train, pypy=pypy, data_dir=data_dir)
        times, cpu = interleaved_times(runners, rounds)
        close_runners(runners)
        ms = {name: statistics.median(v) for name, v in times.items()}
        # accuracy after the same number of steps: fresh runners (no warm-up steps either),
        # each trained accuracy_steps on the same minibatches
        fresh = make_runners(sizes, train, with_python=hidden == hidden_sizes[0], pypy=pypy,
                             data_dir=data_dir, warm_up=0)
        accuracy = {}
        for r in fresh:
            r.steps(accuracy_steps)
            accuracy[r.name] = r.accuracy(test)
        close_runners(fresh)
        base = ms["NumPy reference"]
        for name, value in ms.items():
            rows.append({"size": "-".join(map(str, sizes)), "implementation": name,
                         "ms_per_step": value, "ms_min": min(times[name]),
                         "ms_max": max(times[name]), "ratio_to_numpy": value / base,
                         "cpu_ms_per_step": statistics.median(cpu[name]),
                         "cpu_ratio_to_numpy": statistics.median(cpu[name])
                         / statistics.median(cpu["NumPy reference"]),
                         "test_acc": accuracy.get(name)})
        print(f"  {'-'.join(map(str, sizes))}: " + ", ".join(
            f"{n} {v:.3f} ms" for n, v in ms.items()), flush=True)
        if PYPY_NAME in ms:
            cpu_ratio = rows[-len(ms):][list(ms).index(PYPY_NAME)]["cpu_ratio_to_numpy"]
            print(f"  {'-'.join(map(str, sizes))}: PyPy / NumPy = {ms[PYPY_NAME] / base:.2f}x "
                  f"wall, {cpu_ratio:.2f}x CPU (target <= 5x); PyPy / CPython = "
                  f"{ms[PYPY_NAME] / ms['loopnet-python']:.3f}", flush=True)
    return rows


def scaling(train, rounds):
    results = {"hidden": [], "batch": []}
    for hidden in (16, 32, 64, 128, 256, 512, 1024):
        sizes = [train.n_features, hidden, 10]
        runners = make_runners(sizes, train, with_python=False)
        runners = [r for r in runners if r.name != "PyTorch CPU autograd"]
        for name, value in interleaved_ms(runners, rounds, 0.15).items():
            results["hidden"].append({"hidden": hidden, "implementation": name, "ms_per_step": value})
        print(f"  hidden {hidden} done", flush=True)
    for batch in (1, 10, 100, 1000):
        sizes = [train.n_features, 50, 10]
        runners = make_runners(sizes, train, with_python=False, batch=batch)
        runners = [r for r in runners if r.name != "PyTorch CPU autograd"]
        for name, value in interleaved_ms(runners, rounds, 0.15).items():
            results["batch"].append({"batch": batch, "implementation": name, "ms_per_step": value})
        print(f"  batch {batch} done", flush=True)
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
    python backend under PyPy)."""
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
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_digits(n_train + 2000, seed=7)
        X = np.frombuffer(data.pixels, dtype=np.uint8).reshape(-1, 784) / 255.0
        y = np.frombuffer(data.labels, dtype=np.uint8)
        path = f"{tmp}/float.npz"
        np.savez(path, X=X[:n_train], y=y[:n_train], X_test=X[n_train:], y_test=y[n_train:])
        del X, data
        for backend in ("python", "numba"):
            proc = subprocess.run([sys.executable, "-c", FLOAT_RSS_SCRIPT, path, backend,
                                   str(steps)], capture_output=True, text=True, check=True)
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
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
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
def machine(pypy: str | None = None) -> dict:
    flags = set()
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import numba

    info = {"cpu": model, "cores": os.cpu_count(),
            "simd": " ".join(f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f") if f in flags),
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "numba_threads": numba.config.NUMBA_NUM_THREADS}
    if torch_available():
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    if pypy:
        info["pypy"] = subprocess.run(
            [pypy, "-c", "import platform, sys; print('.'.join(map(str, sys.pypy_version_info[:3])),"
                         " '(Python ' + platform.python_version() + ')')"],
            capture_output=True, text=True, check=True).stdout.strip()
    return info


def markdown(report) -> str:
    m = report["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores ({m['simd']}); Python {m['python']}, "
             f"NumPy {m['numpy']}, Numba {m['numba']}" + (f", PyTorch {m['torch']}" if "torch" in m else "")
             + (f", PyPy {m['pypy']}" if "pypy" in m else ""),
             f"Data: {report['data']}; batch 100, SGD lr {LR}, float64; "
             f"median of {report['rounds']} interleaved rounds (range: fastest–slowest round).", "",
             "| network | implementation | ms/step | range | × NumPy | CPU ms/step | × NumPy (CPU) "
             f"| test acc after {report['accuracy_steps']} steps |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in report["steps"]:
        acc = f"{r['test_acc']:.4f}" if r["test_acc"] is not None else "= numba exact (bitwise)"
        spread = f"{r['ms_min']:.3f}–{r['ms_max']:.3f}" if "ms_min" in r else ""
        cpu = (f"{r['cpu_ms_per_step']:.3f} | {r['cpu_ratio_to_numpy']:.2f}"
               if "cpu_ms_per_step" in r else " | ")
        lines.append(f"| {r['size']} | {r['implementation']} | {r['ms_per_step']:.3f} | "
                     f"{spread} | {r['ratio_to_numpy']:.2f} | {cpu} | {acc} |")
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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no plots (pip install loopnet[plot])")
        return
    fig, ax = plt.subplots(figsize=(8, 4))
    sizes = sorted({r["size"] for r in report["steps"]})
    names = list(dict.fromkeys(r["implementation"] for r in report["steps"]))
    width = 0.8 / len(sizes)
    for s_i, size in enumerate(sizes):
        vals = [next((r["ms_per_step"] for r in report["steps"]
                      if r["size"] == size and r["implementation"] == n), 0) for n in names]
        ax.bar([i + s_i * width for i in range(len(names))], vals, width, label=size)
    ax.set_xticks([i + width / 2 for i in range(len(names))], names, rotation=15, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per training step (log)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "step_times.png")
    plt.close(fig)
    if "scaling" in report:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for key, ax_, label in (("hidden", a1, "hidden units"), ("batch", a2, "batch size")):
            for name in dict.fromkeys(r["implementation"] for r in report["scaling"][key]):
                pts = [(r[key], r["ms_per_step"]) for r in report["scaling"][key]
                       if r["implementation"] == name]
                ax_.plot(*zip(*pts), marker="o", label=name)
            ax_.set_xscale("log")
            ax_.set_yscale("log")
            ax_.set_xlabel(label)
            ax_.set_ylabel("ms per step")
            ax_.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "scaling.png")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="directory of MNIST IDX files "
                                       "(default ../shared/data/mnist-t10k-split)")
    parser.add_argument("--out", default=None,
                        help="directory for the results (default: bench/results; with --quick "
                             "a new temporary directory)")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds, no scaling, memory or start-up")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pypy", help="PyPy interpreter for the loopnet-python PyPy rows "
                                       "(default: pypy3 on the PATH)")
    parser.add_argument("--float-memory", action="store_true",
                        help="only the peak memory of a 60 000 x 784 float .npz (float_memory.json)")
    args = parser.parse_args()
    if args.float_memory:
        rows = float_peak_rss(60000, 20)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "float_memory.json").write_text(
            json.dumps({"machine": machine(), "float_memory": rows}, indent=1) + "\n")
        return 0
    out = results_dir(args.out, args.quick)
    print(f"results go to {out}", flush=True)
    train, test, description, data_dir = load_bench_data(args.data)
    pypy = find_pypy(args.pypy)
    rounds = 2 if args.quick else args.rounds
    accuracy_steps = 100 if args.quick else 400
    report = {"machine": machine(pypy), "data": description, "rounds": rounds,
              "accuracy_steps": accuracy_steps}
    print("step times:", flush=True)
    report["steps"] = step_table(train, test, (50, 100), rounds, accuracy_steps, pypy, data_dir)
    if not args.quick:
        print("scaling:", flush=True)
        report["scaling"] = scaling(train, 3)
        print("peak memory:", flush=True)
        report["memory"] = peak_rss(60000, 200, pypy)
        report["float_memory"] = float_peak_rss(60000, 20)
        print("start-up:", flush=True)
        report["startup"] = startup()
        if pypy:
            report["python_startup"] = python_startup(pypy)
    (out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    table = markdown(report)
    (out / "results.md").write_text(table)
    plot(report, out)
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
