"""ms per training step of 784-50-10, JavaScript port vs loopnet's python backend.

    python ports/js/bench.py [--data DIR] [--rounds 3]

Each round runs `node bench.mjs` (80 timed steps after an 80-step warm-up) and then this file
with --python-once (20 timed steps after 2 warm-up steps) as separate processes, so both see the
same machine load; prints the median and range of each over the rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k-split"


def python_once(data: str, steps: int) -> dict:
    """loopnet's python backend on the same setup as bench.mjs."""
    import loopnet
    from loopnet.data import load_mnist
    from loopnet.optimizers import SGD
    from loopnet.training import Trainer

    train, _ = load_mnist(data)
    net = loopnet.MultiLayerNet([784, 50, 10], seed=0, backend="python")
    trainer = Trainer(net, SGD(0.1), train, None, 100, 0)
    trainer.run(iters=2)
    start = time.perf_counter()
    trainer.run(iters=steps)
    seconds = time.perf_counter() - start
    return {"ms_per_step": 1000 * seconds / steps, "steps": steps,
            "loss": trainer.step_losses[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python-once", type=int, metavar="STEPS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_once:
        print(json.dumps(python_once(args.data, args.python_once)))
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    times: dict[str, list[float]] = {"javascript (node)": [], "python backend": []}
    for _ in range(args.rounds):
        runs = {"javascript (node)": ["node", str(HERE / "bench.mjs"), args.data, "80"],
                "python backend": [sys.executable, __file__, "--data", args.data,
                                   "--python-once", "20"]}
        for name, command in runs.items():
            out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            times[name].append(json.loads(out.stdout)["ms_per_step"])
    for name, values in times.items():
        print(f"{name:18} {statistics.median(values):9.2f} ms/step "
              f"(range {min(values):.2f}-{max(values):.2f}, {len(values)} rounds)")
    ratio = statistics.median(times["python backend"]) / statistics.median(
        times["javascript (node)"])
    print(f"the JavaScript port is {ratio:.0f}x faster than the python backend")


if __name__ == "__main__":
    main()
