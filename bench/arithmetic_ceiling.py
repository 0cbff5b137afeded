"""Exact mode's first layer against the CPU's float64 arithmetic: multiply-adds per nanosecond.

    python bench/arithmetic_ceiling.py [--data DIR] [--hidden 50,100,256] [--repeats N]

Exact mode may not fuse x·w + z into one fused multiply-add (that rounds once where Python
rounds twice), so each of its terms is a multiplication and an addition.  This prints, in one
process that loads Numba and nothing with threads of its own, the fastest of --repeats timings
of:

- the ceiling: a loop of independent multiply-adds acc_j = acc_j + x · W_{a,j} + x · W_{b,j} on
  registers and L1 (128 accumulators), with 512-bit and with 256-bit vectors: the most this
  CPU does;
- exact mode's first-layer forward (the per-shape kernel of its training loop, the width a
  constant of the compiled code) over real digits' non-zero pixels, 100 examples a step:
  once with every pixel's row of W1 one of 4 rows (W1 in L1: the arithmetic alone), once over
  W1's own rows (from L2 or farther, as in training).

Rates are per nanosecond of wall time, so they need no clock frequency.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numba  # noqa: E402
import numpy as np  # noqa: E402

from loopnet import kernels  # noqa: E402
from loopnet.backends.numba_compile import bound_kernels  # noqa: E402
from loopnet.backends.numba_registers import local_vector, wide_vectors  # noqa: E402
from loopnet.data import generate_digits, load_mnist  # noqa: E402
from loopnet.errors import LoopnetError  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "mnist-t10k-split"
EXAMPLES = 1000  # the digits whose rows the forward cycles through, 100 a step
BATCH = 100
CEILING_WIDTH = 128  # accumulators: 16 registers of 8 doubles (32 of 4)
SECONDS = 0.2  # each timing's length, about
MAX_REPEATS = 100


def ceiling_loop(wide: bool):
    """reps passes of acc_j = acc_j + x · W_{a,j} + x · W_{b,j} over CEILING_WIDTH accumulators,
    the rows a, b cycling through 8 rows in L1."""

    def run(reps, W, x):
        if wide:
            wide_vectors()
        acc = local_vector(CEILING_WIDTH)
        for j in range(CEILING_WIDTH):
            acc[j] = 0.0
        for r in range(reps):  # two terms per pass, as the first layer's forward has them
            row_a = (r & 7) * CEILING_WIDTH
            row_b = ((r + 3) & 7) * CEILING_WIDTH
            for j in range(CEILING_WIDTH):
                acc[j] = acc[j] + x * W[row_a + j] + x * W[row_b + j]
        total = 0.0
        for j in range(CEILING_WIDTH):
            total += acc[j]
        return total

    return numba.njit(run)


def first_layer_loop(n_out: int):
    """reps minibatches of exact mode's first-layer forward, Z_j = B_j + Σ_i X_i · W_{i,j}."""
    forward = bound_kernels(kernels.RELU, kernels.SOFTMAX).input_affine_forward

    def run(reps, row_start, index, value, W, B, Z):
        wide_vectors()
        total = 0.0
        for r in range(reps):
            for n in range(BATCH):
                e = (r * BATCH + n) % EXAMPLES
                forward(index, value, row_start[e], row_start[e + 1], W, B, Z, n_out)
                total += Z[0]
        return total

    return numba.njit(run)


def fastest(fn, args, repeats: int) -> float:
    """Seconds per rep: the fastest of `repeats` timings of fn(reps, *args), each about SECONDS
    long."""
    fn(1, *args)  # compile
    start = time.perf_counter()
    fn(10, *args)
    reps = max(10, int(SECONDS / max((time.perf_counter() - start) / 10, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(reps, *args)
        best = min(best, time.perf_counter() - start)
    return best / reps


def sparse_rows(directory: Path | None):
    """row_start, index (int32), value (pixel / 255) of EXAMPLES digits' non-zero pixels."""
    if directory is not None:
        train, _ = load_mnist(str(directory))
        name = f"MNIST ({directory})"
    else:
        train, name = generate_digits(EXAMPLES, seed=1), "loopnet's synthetic digits"
    pixels = np.frombuffer(train.pixels, dtype=np.uint8).reshape(-1, 784)[:EXAMPLES]
    rows = [np.flatnonzero(row) for row in pixels]
    row_start = np.zeros(len(rows) + 1, dtype=np.int64)
    row_start[1:] = np.cumsum([len(r) for r in rows])
    index = np.concatenate(rows).astype(np.int32)
    value = np.concatenate([pixels[k, r] / 255.0 for k, r in enumerate(rows)])
    return row_start, index, value, name


def hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or any(not 1 <= n <= 4096 for n in sizes):
        raise argparse.ArgumentTypeError(f"hidden sizes are 1 ... 4096: {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="an MNIST directory (default: ../shared's "
                        "split when present, else loopnet's synthetic digits)")
    parser.add_argument("--hidden", type=hidden_sizes, default=[50, 100, 256],
                        help="comma-separated hidden widths (default 50,100,256)")
    parser.add_argument("--repeats", type=int, default=7,
                        help=f"timings of each, 1 ... {MAX_REPEATS} (default 7)")
    args = parser.parse_args(argv)
    if not 1 <= args.repeats <= MAX_REPEATS:
        parser.error(f"--repeats takes a count from 1 to {MAX_REPEATS}")
    directory = args.data or (DEFAULT_DATA if DEFAULT_DATA.is_dir() else None)
    if directory is not None and not directory.is_dir():
        parser.error(f"--data: no such directory: {directory}")
    try:
        measure(args.hidden, args.repeats, *sparse_rows(directory))
    except LoopnetError as exc:
        print(f"arithmetic_ceiling: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("arithmetic_ceiling: interrupted", file=sys.stderr)
        return 130
    return 0


def measure(hidden: list[int], repeats: int, row_start, index, value, name: str) -> None:
    """Print the ceiling and the first-layer forward's rates (see the module's doc)."""
    pixels = row_start[-1] / len(row_start[:-1])
    print(f"data: {name}, {pixels:.0f} non-zero pixels per digit; Numba {numba.__version__}")
    rng = np.random.default_rng(0)
    W = rng.standard_normal(8 * CEILING_WIDTH)
    best_ceiling = 0.0
    for wide in (True, False):
        seconds = fastest(ceiling_loop(wide), (W, 0.5), repeats)
        rate = 2 * CEILING_WIDTH / seconds / 1e9
        best_ceiling = max(best_ceiling, rate)
        print(f"ceiling, {512 if wide else 256}-bit vectors: {rate:.2f} multiply-adds/ns")
    in_l1 = (index % 4).astype(np.int32)
    for n_out in hidden:
        W1 = rng.standard_normal(784 * n_out) * 0.05
        B, Z = np.zeros(n_out), np.zeros(n_out)
        loop = first_layer_loop(n_out)
        terms = pixels * BATCH * n_out  # multiply-adds per minibatch
        rates = []
        for rows in (in_l1, index):
            seconds = fastest(loop, (row_start, rows, value, W1, B, Z), repeats)
            rates.append(terms / seconds / 1e9)
        print(f"784-{n_out}-10 first-layer forward: W1 in L1 {rates[0]:.2f}/ns "
              f"({rates[0] / best_ceiling:.2f} of the ceiling), W1's own rows {rates[1]:.2f}/ns "
              f"({rates[1] / best_ceiling:.2f}); {seconds * 1e6:.0f} us per minibatch")


if __name__ == "__main__":
    sys.exit(main())
