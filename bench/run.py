"""loopnet benchmark suite: time per training step, scaling, peak memory, start-up and accuracy.

    python bench/run.py [--data DIR] [--quick] [--out bench/results]

Every implementation trains the same network (same init from loopnet's Rng, SGD, float64,
batch 100) on the same minibatch sequence, in one process, interleaved round by round, so the
ratios printed are measured under the same machine load.  Results go to `--out` as
results.md, results.json, step_times.png and scaling.png.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
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


# ------------------------------------------------------------------------------------ data
def load_bench_data(directory: str | None):
    """The real MNIST split when present, else synthetic digits of the same shape."""
    root = Path(os.environ.get("LOOPNET_SHARED_DATA", ROOT.parent / "shared" / "data"))
    path = Path(directory) if directory else root / "mnist-t10k-split"
    if path.is_dir():
        train, test = load_mnist(path)
        return train, test, f"MNIST ({path})"
    return generate_digits(8000, seed=1), generate_digits(2000, seed=2), "synthetic digits"


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


def make_runners(sizes, train, with_python=True, batch=100):
    runners = []
    if with_python:
        runners.append(LoopnetRunner("loopnet-python", sizes, train, "python", batch=batch))
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
    start = time.perf_counter()
    runner.steps(steps)
    return 1000 * (time.perf_counter() - start) / steps


def interleaved_ms(runners, rounds, block_seconds=0.25) -> dict[str, float]:
    """Median ms/step per runner over `rounds` rounds, each runner timed once per round."""
    sizes = {r.name: max(1, int(block_seconds * 1000 / time_block(r, 1))) for r in runners}
    times = {r.name: [] for r in runners}
    for _ in range(rounds):
        for r in runners:
            times[r.name].append(time_block(r, sizes[r.name]))
    return {name: statistics.median(v) for name, v in times.items()}


# ------------------------------------------------------------------------------------ parts
def step_table(train, test, hidden_sizes, rounds, accuracy_steps):
    rows = []
    for hidden in hidden_sizes:
        sizes = [train.n_features, hidden, 10]
        runners = make_runners(sizes, train)
        ms = interleaved_ms(runners, rounds)
        # accuracy after the same number of steps: fresh runners, each trained accuracy_steps
        fresh = make_runners(sizes, train, with_python=hidden == hidden_sizes[0])
        accuracy = {}
        for r in fresh:
            r.steps(accuracy_steps)
            accuracy[r.name] = r.accuracy(test)
        base = ms["NumPy reference"]
        for name, value in ms.items():
            rows.append({"size": "-".join(map(str, sizes)), "implementation": name,
                         "ms_per_step": value, "ratio_to_numpy": value / base,
                         "test_acc": accuracy.get(name)})
        print(f"  {'-'.join(map(str, sizes))}: " + ", ".join(
            f"{n} {v:.3f} ms" for n, v in ms.items()), flush=True)
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


def peak_rss(n_train: int, iters: int) -> list[dict]:
    """Peak RSS of `loopnet train` on an n_train x 784 synthetic set, per backend."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_digits(n_train + 2000, seed=7)
        px, lb = data.pixels, data.labels
        write_idx(f"{tmp}/train-images-idx3-ubyte", (n_train, 28, 28), px[: n_train * 784])
        write_idx(f"{tmp}/train-labels-idx1-ubyte", (n_train,), lb[:n_train])
        write_idx(f"{tmp}/t10k-images-idx3-ubyte", (2000, 28, 28), px[n_train * 784:])
        write_idx(f"{tmp}/t10k-labels-idx1-ubyte", (2000,), lb[n_train:])
        for backend in ("python", "numba"):
            args = ["train", "--data", tmp, "--iters", str(iters), "--backend", backend, "--quiet"]
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", PEAK_RSS_SCRIPT, *args],
                                  capture_output=True, text=True, check=True)
            peak_kb = int(proc.stderr.strip().splitlines()[-1].split()[1])
            rows.append({"backend": backend, "n_train": n_train, "iters": iters,
                         "peak_rss_mb": peak_kb / 1024,
                         "seconds": time.perf_counter() - start,
                         "last_line": proc.stdout.strip().splitlines()[-1]})
            print(f"  {backend}: {rows[-1]['peak_rss_mb']:.0f} MB", flush=True)
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
def machine() -> dict:
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
    return info


def markdown(report) -> str:
    m = report["machine"]
    lines = [f"Machine: {m['cpu']}, {m['cores']} cores ({m['simd']}); Python {m['python']}, "
             f"NumPy {m['numpy']}, Numba {m['numba']}" + (f", PyTorch {m['torch']}" if "torch" in m else ""),
             f"Data: {report['data']}; batch 100, SGD lr {LR}, float64; "
             f"median of {report['rounds']} interleaved rounds.", "",
             "| network | implementation | ms/step | × NumPy "
             f"| test acc after {report['accuracy_steps']} steps |",
             "|---|---|---:|---:|---:|"]
    for r in report["steps"]:
        acc = f"{r['test_acc']:.4f}" if r["test_acc"] is not None else "= numba exact (bitwise)"
        lines.append(f"| {r['size']} | {r['implementation']} | {r['ms_per_step']:.3f} | "
                     f"{r['ratio_to_numpy']:.2f} | {acc} |")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="directory of MNIST IDX files "
                                       "(default ../shared/data/mnist-t10k-split)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds, no scaling, memory or start-up")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--float-memory", action="store_true",
                        help="only the peak memory of a 60 000 x 784 float .npz (float_memory.json)")
    args = parser.parse_args()
    if args.float_memory:
        rows = float_peak_rss(60000, 20)
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "float_memory.json").write_text(
            json.dumps({"machine": machine(), "float_memory": rows}, indent=1) + "\n")
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, test, description = load_bench_data(args.data)
    rounds = 2 if args.quick else args.rounds
    accuracy_steps = 100 if args.quick else 400
    report = {"machine": machine(), "data": description, "rounds": rounds,
              "accuracy_steps": accuracy_steps}
    print("step times:", flush=True)
    report["steps"] = step_table(train, test, (50, 100), rounds, accuracy_steps)
    if not args.quick:
        print("scaling:", flush=True)
        report["scaling"] = scaling(train, 3)
        print("peak memory:", flush=True)
        report["memory"] = peak_rss(60000, 200)
        report["float_memory"] = float_peak_rss(60000, 20)
        print("start-up:", flush=True)
        report["startup"] = startup()
    (out / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    table = markdown(report)
    (out / "results.md").write_text(table)
    plot(report, out)
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
