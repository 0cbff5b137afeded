"""A loopnet-python training run driven over stdin/stdout, for bench/run.py.

    pypy3 bench/python_worker.py        (or any interpreter; no NumPy needed)

bench/run.py starts this under PyPy and times it interleaved with its in-process runners: each
request is one JSON line, each answer one JSON line.

    {"setup": {"sizes": [784, 50, 10], "data": DIR or null, "batch": 100, "seed": 0, "lr": 0.1}}
        → {"seconds": s}       load the data (null: bench's synthetic digits), build the net
    {"steps": k}   → {"ms": m, "cpu_ms": c}  k training steps; wall and CPU ms per step
    {"accuracy": true} → {"accuracy": a}  test accuracy now

The net, optimizer and minibatch sampler are those of bench/run.py's LoopnetRunner: the same
init, the same minibatches, in the same order.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import loopnet  # noqa: E402
from loopnet.data import generate_digits, load_mnist  # noqa: E402
from loopnet.training import Trainer, accuracy_on  # noqa: E402


def bench_data(directory: str | None):
    """The data bench/run.py uses: an MNIST directory, else its synthetic digits."""
    if directory:
        return load_mnist(directory)
    return generate_digits(8000, seed=1), generate_digits(2000, seed=2)


def main() -> int:
    net = trainer = test = None
    for line in sys.stdin:
        request = json.loads(line)
        start, cpu_start = time.perf_counter(), time.process_time()
        if "setup" in request:
            spec = request["setup"]
            train, test = bench_data(spec["data"])
            net = loopnet.MultiLayerNet(spec["sizes"], seed=spec["seed"], backend="python")
            trainer = Trainer(net, loopnet.SGD(spec["lr"]), train, batch_size=spec["batch"],
                              seed=spec["seed"])
            trainer.warm_up()
            answer = {"seconds": time.perf_counter() - start}
        elif "steps" in request:
            trainer._run_steps(request["steps"])
            answer = {"ms": 1000 * (time.perf_counter() - start) / request["steps"],
                      "cpu_ms": 1000 * (time.process_time() - cpu_start) / request["steps"]}
        else:
            answer = {"accuracy": accuracy_on(net, test)}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
