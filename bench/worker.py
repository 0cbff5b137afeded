"""One implementation's training run in a process of its own, driven over stdin/stdout by
bench/run.py.

    python bench/worker.py        (pypy3 bench/worker.py for loopnet-python; no NumPy needed)

Each request is one JSON line, each answer one JSON line:

    {"setup": {"implementation": "numpy-f64", "sizes": [784, 50, 10], "data": DIR or null,
               "batch": 100, "seed": 0, "lr": 0.1, "warm_up": 20}}
        → {"seconds": s, "info": {...}, "loaded": [...]}
          build the implementation from loopnet's init (MultiLayerNet(sizes, seed).get_params()),
          on the data (null: bench's synthetic digits), and train `warm_up` untimed steps;
          "info" names the library and its threads, "loaded" the thread-pool libraries
          (numpy, numba, torch, jax, ...) this process has imported
    {"steps": k}        → {"ms": m, "cpu_ms": c}   k training steps; wall and CPU ms per step
    {"accuracy": true}  → {"accuracy": a}          test accuracy now

A request that fails is answered {"error": "..."}.  A new "setup" replaces the run (another
size, or a fresh start from the init for the accuracy check).  Only the modules of the asked
implementation are imported, so no other library's thread pool lives in the process: the
NumPy peers never load Numba or torch, loopnet never loads torch or JAX.  All array peers and
loopnet draw the same minibatches: loopnet's sampler, seeded the same.
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import loopnet  # noqa: E402
from loopnet.data import generate_digits, load_mnist  # noqa: E402
from loopnet.training import Trainer, accuracy_on  # noqa: E402

THREAD_POOL_LIBRARIES = ("numpy", "numba", "torch", "jax", "jaxlib", "tensorflow")


def bench_data(directory: str | None):
    """(train, test): the MNIST directory, else bench's synthetic digits (8000 + 2000)."""
    if directory:
        return load_mnist(directory)
    return generate_digits(8000, seed=1), generate_digits(2000, seed=2)


class LoopnetRunner:
    """loopnet's own training loop (sampling, gather, gradient and update in the kernels)."""

    def __init__(self, sizes, train, test, batch: int, seed: int, lr: float, backend: str,
                 parallel: bool) -> None:
        self.net = loopnet.MultiLayerNet(sizes, seed=seed, backend=backend, parallel=parallel)
        self.trainer = Trainer(self.net, loopnet.SGD(lr), train, batch_size=batch, seed=seed)
        self.trainer.warm_up()
        self.test = test
        self.backend = backend

    def steps(self, count: int) -> None:
        self.trainer._run_steps(count)

    def accuracy(self) -> float:
        return accuracy_on(self.net, self.test)

    def info(self) -> dict:
        runtime = f"{platform.python_implementation()} {platform.python_version()}"
        if self.backend == "python":
            return {"library": f"loopnet {loopnet.__version__}, {runtime}", "threads": "1"}
        import numba

        try:
            layer = numba.threading_layer()
        except ValueError:  # no parallel region has run in this process
            layer = "none started"
        return {"library": f"loopnet {loopnet.__version__}, Numba {numba.__version__}",
                "threads": f"NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS} "
                           f"({'set' if 'NUMBA_NUM_THREADS' in os.environ else 'default'}), "
                           f"threading layer {layer}"}


def make_runner(spec: dict, train, test):
    """The runner of spec["implementation"]; imports that implementation's modules only."""
    name, sizes = spec["implementation"], spec["sizes"]
    common = {"train": train, "test": test, "batch": spec["batch"], "seed": spec["seed"],
              "lr": spec["lr"]}
    if name.startswith("loopnet-"):
        mode = name.split("-", 1)[1]
        backend = "python" if mode == "python" else "numba"
        return LoopnetRunner(sizes, backend=backend, parallel=mode == "parallel", **common)
    params = loopnet.MultiLayerNet(sizes, seed=spec["seed"], backend="python").get_params()
    library, _, bits = name.partition("-")
    dtype = {"f64": "float64", "f32": "float32"}.get(bits)
    if name == "numpy-book":
        from peer_numpy import BookNumpyRunner

        return BookNumpyRunner(sizes, params, **common)
    if library == "numpy" and dtype:
        from peer_numpy import LeanNumpyRunner

        return LeanNumpyRunner(sizes, params, dtype=dtype, **common)
    if library == "torch" and dtype:
        from peer_torch import TorchRunner

        return TorchRunner(sizes, params, dtype=dtype, **common)
    if library == "jax" and dtype:
        from peer_jax import JaxRunner

        return JaxRunner(sizes, params, dtype=dtype, **common)
    raise ValueError(f"unknown implementation {name!r}")


def main() -> int:
    runner = None
    data: dict = {}
    for line in sys.stdin:
        request = json.loads(line)
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            if "setup" in request:
                spec = request["setup"]
                if spec["data"] not in data:
                    data[spec["data"]] = bench_data(spec["data"])
                runner = None
                runner = make_runner(spec, *data[spec["data"]])
                if spec.get("warm_up"):
                    runner.steps(spec["warm_up"])
                answer = {"seconds": time.perf_counter() - start, "info": runner.info(),
                          "loaded": [m for m in THREAD_POOL_LIBRARIES if m in sys.modules]}
            elif "steps" in request:
                runner.steps(request["steps"])
                answer = {"ms": 1000 * (time.perf_counter() - start) / request["steps"],
                          "cpu_ms": 1000 * (time.process_time() - cpu_start) / request["steps"]}
            else:
                answer = {"accuracy": runner.accuracy()}
        except Exception as exc:  # reported to bench/run.py, which names the implementation
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
