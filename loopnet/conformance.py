"""Conformance vectors: JSON cases that pin down loopnet's arithmetic for ports to other languages.

A case is ``{"format": "loopnet-conformance", "version": 2, "name", "kind", "description",
"tolerance", "input", "expected", "libm"}`` (schema: docs/conformance.md; the algorithm:
PORTING.md).  `export_cases` writes every case plus ``index.json``; the expected values are
produced by the reference runners below from the case's own ``input`` after a JSON round trip,
so the stored input alone reproduces them.  A port reads each case, runs it and writes
``RESULTS/<name>.json`` = ``{"format": "loopnet-conformance-result", "version": 2, "case": name,
"libm": "own" | "transcript", ["libm_misses": {...}], "output": {...}}`` whose ``output`` has
the shape of ``expected``; `check_results` compares the two under the case's tolerance.

Math-library transcript: ``libm`` maps each of exp, log, tanh, cos and pow that the reference
called while computing ``expected`` to a table of ``[argument bits..., result bits]`` rows
(hex, sorted by argument).  It is a lookup table, not a sequence: the functions are pure, so
(function, argument) → result is all a port needs, in whatever order and however often its own
code calls them; and an argument the table lacks names the call where the port's arithmetic
left the reference's.  A port in *transcript mode* answers those calls from the table, which
makes every case bitwise on any platform.

Tolerance modes:
  ``bitwise``            only + - * / and sqrt (correctly rounded by IEEE 754): identical bits.
  ``bitwise-same-libm``  also exp, log, tanh, cos or pow: identical bits in transcript mode or
                         on the same libm as the exporting CPython; otherwise each value must
                         satisfy ``|got - expected| <= abs + rel * |expected|``.
Integers and strings are always compared exactly, and by JSON type: a double written as an
integer, an integer written as a double, upper-case hex and unknown keys are all rejected.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from loopnet import __version__, kernels, optimizers, strict_json
from loopnet import rng as rng_module
from loopnet.atomic import atomic_directory
from loopnet.backends.python_backend import PythonBackend
from loopnet.data.dataset import Dataset
from loopnet.errors import DataError
from loopnet.memory import require_memory
from loopnet.model_io import write_atomic
from loopnet.network import (
    ACTIVATIONS,
    DEFAULT_LOG_GUARD,
    MultiLayerNet,
    init_params,
    output_code,
    sparse_input_rows,
)
from loopnet.optimizers import SGD, AdaGrad, Adam, Momentum, Optimizer
from loopnet.rng import MASK64, Rng
from loopnet.training import SAMPLER_OFFSET, Trainer

FORMAT = "loopnet-conformance"
RESULT_FORMAT = "loopnet-conformance-result"
VERSION = 2
INDEX = "index.json"
LIBM_MODES = ("own", "transcript")
MISSES_LISTED = 10  # a port lists at most this many of the calls its transcript lacked

BITWISE = {"mode": "bitwise",
           "note": "only + - * / and sqrt: identical float64 bits on every IEEE 754 platform"}


def same_libm(rel: float, abs_: float, uses: str) -> dict:
    """Tolerance of a case whose values go through libm functions (`uses`)."""
    return {"mode": "bitwise-same-libm", "rel": rel, "abs": abs_,
            "note": f"uses {uses}: bitwise in transcript mode or on the exporter's libm; "
                    f"else |got - expected| <= {abs_!r} + {rel!r}·|expected|"}


class ConformanceError(DataError):
    """A cases or results directory that cannot be read."""


# ---------------------------------------------------------------------------------------------
# Deterministic JSON: objects one key per line, arrays of scalars on one line, floats as repr
# ---------------------------------------------------------------------------------------------
def dumps(value, indent: int = 0) -> str:
    """JSON text of `value`; the same value always gives the same bytes."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad} {json.dumps(k, ensure_ascii=False)}: {dumps(v, indent + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [f"{pad} {dumps(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(", ", ": "))


def hex64(value: int) -> str:
    """A 64-bit unsigned integer as 0x + 16 lowercase hex digits (JSON numbers lose bits)."""
    return f"0x{value & MASK64:016x}"


def _u64(text: str) -> int:
    return int(text, 16)


def float_bits(x: float) -> int:
    """The IEEE 754 binary64 bit pattern of `x` as an unsigned integer."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def bits_float(bits: int) -> float:
    """The double whose bit pattern is `bits`."""
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


# ---------------------------------------------------------------------------------------------
# The math library seen by the reference: while a case runs, the `math` of the modules below is
# replaced by one of these stand-ins, which route exp, log, tanh, cos and pow through `call`
# ---------------------------------------------------------------------------------------------
LIBM_FUNCTIONS = ("exp", "log", "tanh", "cos", "pow")
LIBM_USERS = (kernels, rng_module, optimizers)  # every module on the reference path calling them


class _Libm:
    """`math` with the transcribed functions going through `call(name, *args)`."""

    def __getattr__(self, name: str):  # sqrt (correctly rounded), isfinite, pi, ...: the real one
        return getattr(math, name)

    def call(self, name: str, *args: float) -> float:
        return getattr(math, name)(*args)

    def exp(self, x: float) -> float:
        return self.call("exp", float(x))

    def log(self, x: float) -> float:
        return self.call("log", float(x))

    def tanh(self, x: float) -> float:
        return self.call("tanh", float(x))

    def cos(self, x: float) -> float:
        return self.call("cos", float(x))

    def pow(self, x: float, y: float) -> float:
        return self.call("pow", float(x), float(y))


class _Recorder(_Libm):
    """The host's libm, noting every (function, arguments) → result."""

    def __init__(self) -> None:
        self.table: dict[str, dict[tuple, int]] = {name: {} for name in LIBM_FUNCTIONS}

    def call(self, name: str, *args: float) -> float:
        result = getattr(math, name)(*args)
        self.table[name][tuple(float_bits(a) for a in args)] = float_bits(result)
        return result

    def transcript(self) -> dict:
        """``{function: [[argument hex..., result hex], ...]}`` sorted by argument bits."""
        return {name: [[*map(hex64, key), hex64(result)] for key, result in sorted(calls.items())]
                for name, calls in self.table.items() if calls}


class _Transcript(_Libm):
    """Answers from a case's transcript; a call it lacks is answered by the host and noted."""

    def __init__(self, transcript: dict) -> None:
        self.table = {name: {tuple(_u64(a) for a in row[:-1]): _u64(row[-1]) for row in rows}
                      for name, rows in transcript.items()}
        self.missed: list[list[str]] = []
        self.miss_count = 0

    def call(self, name: str, *args: float) -> float:
        key = tuple(float_bits(a) for a in args)
        answer = self.table.get(name, {}).get(key)
        if answer is not None:
            return bits_float(answer)
        self.miss_count += 1
        if len(self.missed) < MISSES_LISTED:
            self.missed.append([name, *map(hex64, key)])
        return getattr(math, name)(*args)

    def misses(self) -> dict:
        """The ``libm_misses`` entry of a result file."""
        return {"count": self.miss_count, "calls": self.missed}


class PerturbedLibm(_Libm):
    """The host's libm with each result moved by a random whole number of ulps in [-ulps, ulps]:
    a stand-in for another platform's libm, used to size the cases' bounds."""

    def __init__(self, ulps: int, seed: int) -> None:
        self.ulps = ulps
        self.rng = Rng(seed)

    def call(self, name: str, *args: float) -> float:
        result = getattr(math, name)(*args)
        steps = self.rng.randbelow(2 * self.ulps + 1) - self.ulps
        toward = math.inf if steps > 0 else -math.inf
        for _ in range(abs(steps)):
            result = math.nextafter(result, toward)
        return result


@contextlib.contextmanager
def using_libm(libm: _Libm) -> Iterator[None]:
    """Run the reference with `libm` standing in for `math` in every module of LIBM_USERS.

    The swap is process-wide (module globals): meant for the single-threaded export and
    reference runs, not for use while other threads train networks.
    """
    saved = [module.math for module in LIBM_USERS]
    for module in LIBM_USERS:
        module.math = libm
    try:
        yield
    finally:
        for module, original in zip(LIBM_USERS, saved):
            module.math = original


# ---------------------------------------------------------------------------------------------
# Reference runners: case input → output (the Python implementation acting as a port)
# ---------------------------------------------------------------------------------------------
def _flat(rows: list[list[float]]) -> list[float]:
    return [float(v) for row in rows for v in row]


def run_rng_bits(inp: dict) -> dict:
    """u64, uniform and randbelow streams, each from a fresh Rng(seed)."""
    streams = []
    for seed_text in inp["seeds"]:
        seed, count = _u64(seed_text), inp["count"]
        rng = Rng(seed)
        u64 = [hex64(rng.next_u64()) for _ in range(count)]
        rng = Rng(seed)
        uniform = [rng.uniform() for _ in range(count)]
        below = []
        for n in inp["randbelow_n"]:
            rng = Rng(seed)
            below.append([rng.randbelow(n) for _ in range(count)])
        streams.append({"u64": u64, "uniform": uniform, "randbelow": below})
    return {"streams": streams}


def run_rng_normal(inp: dict) -> dict:
    """normal() streams, each from a fresh Rng(seed)."""
    streams = []
    for seed_text in inp["seeds"]:
        rng = Rng(_u64(seed_text))
        streams.append([rng.normal() for _ in range(inp["count"])])
    return {"normal": streams}


def run_init(inp: dict) -> dict:
    """Initial [W1, B1, W2, B2, ...] of a scheme."""
    return {"params": init_params(inp["sizes"], inp["weight_init"], inp["seed"])}


def run_forward_backward(inp: dict) -> dict:
    """Per-example forward and backward buffers, batch loss and gradients for given parameters."""
    sizes = inp["sizes"]
    act, out = ACTIVATIONS[inp["activation"]], output_code(inp["output"], inp.get("loss"))
    guard = inp.get("log_guard", DEFAULT_LOG_GUARD)
    params = [[float(v) for v in p] for p in inp["params"]]
    X, T = _flat(inp["X"]), _flat(inp["T"])
    N, n_in, n_out = len(inp["X"]), sizes[0], sizes[-1]
    widths = sizes[1:]
    Z, H, dZ, dH = ([[0.0] * w for w in widths] for _ in range(4))
    active = [0] * max(widths)
    grads = [[0.0] * len(p) for p in params]
    examples = []
    rows = sparse_input_rows(PythonBackend(), X, N, n_in)
    row_start, input_index, input_value = rows
    for n in range(N):
        first, end = row_start[n], row_start[n + 1]
        kernels.forward_example(input_index, input_value, first, end, params, sizes, act, Z, H,
                                active)
        E = kernels.output_loss(out, guard, Z, H, T, n * n_out, sizes)
        kernels.backward_example(input_index, input_value, first, end, T, n * n_out, N, params,
                                 grads, sizes, act, out, Z, H, dZ, dH, active)
        examples.append({"Z": [list(z) for z in Z], "H": [list(h) for h in H], "E": E,
                         "dZ": [list(z) for z in dZ], "dH": [list(h) for h in dH[:-1]]})
    final = [[0.0] * len(p) for p in params]
    work = [[[0.0] * w for w in widths] for _ in range(4)]
    loss = kernels.batch_gradient(*rows, T, N, params, final, sizes, act, out, guard,
                                  inp["weight_decay"], *work, active)
    return {"examples": examples, "loss": loss, "gradients": final}


def _net(inp: dict, weight_init="uniform", seed: int = 0) -> MultiLayerNet:
    # the default init (overwritten by a case's params) draws uniforms only: no libm calls
    return MultiLayerNet(inp["sizes"], activation=inp["activation"], output=inp["output"],
                         loss=inp.get("loss"), log_guard=inp.get("log_guard", DEFAULT_LOG_GUARD),
                         weight_init=weight_init, weight_decay=inp["weight_decay"], seed=seed,
                         backend="python")


def _optimizer(spec: dict) -> Optimizer:
    name = spec["name"]
    if name == "sgd":
        return SGD(spec["lr"])
    if name == "momentum":
        return Momentum(spec["lr"], spec["momentum"])
    if name == "adagrad":
        return AdaGrad(spec["lr"])
    if name == "adam":
        return Adam(spec["lr"], spec["beta1"], spec["beta2"])
    raise ConformanceError(f"unknown optimizer {name!r} in a case")


def _params(net: MultiLayerNet) -> list[list[float]]:
    return [list(net.params[name]) for name in net.names]


def run_optimizer(inp: dict) -> dict:
    """Losses of `steps` train steps and the parameters after each count in `record_after`."""
    net = _net(inp)
    for name, values in zip(net.names, inp["params"]):
        net.params[name][:] = [float(v) for v in values]
    opt = _optimizer(inp["optimizer"])
    losses, after = [], []
    batches = inp["batches"]
    for s in range(inp["steps"]):
        b = batches[s % len(batches)]
        losses.append(net.train_step(b["X"], b["T"], opt))
        if s + 1 in inp["record_after"]:
            after.append({"steps": s + 1, "params": _params(net)})
    return {"losses": losses, "params_after": after}


def run_logic(inp: dict) -> dict:
    """Full-batch training of the logic-function litmus network from its seeded init."""
    net = _net(inp, inp["weight_init"], inp["seed"])
    opt = _optimizer(inp["optimizer"])
    losses = []
    for s in range(inp["steps"]):
        loss = net.train_step(inp["X"], inp["T"], opt)
        if s % inp["loss_every"] == 0:
            losses.append(loss)
    Y = net.predict(inp["X"])
    return {"losses": losses, "final_loss": net.loss(inp["X"], inp["T"]), "params": _params(net),
            "Y": Y, "predictions": [[1 if y > 0.5 else 0 for y in row] for row in Y]}


def _dataset(spec: dict) -> Dataset:
    return Dataset(bytes.fromhex(spec["pixels"]), bytes(spec["labels"]), spec["n_features"],
                   spec["n_classes"])


def _correct(net: MultiLayerNet, data: Dataset) -> int:
    X = [p / 255.0 for p in data.pixels]
    rows = sparse_input_rows(PythonBackend(), X, len(data), data.n_features)
    return kernels.count_correct(*rows, list(data.labels), len(data), net._params, net._sizes,
                                 net._activation, net._Z, net._H, net._active)


def run_digits(inp: dict) -> dict:
    """The training loop on stored digits: seeded init, sampler, epochs; then accuracy."""
    if _u64(inp["sampler_seed"]) != (inp["seed"] + SAMPLER_OFFSET) & MASK64:
        raise ConformanceError("sampler_seed is not seed + SAMPLER_OFFSET")
    train, test = _dataset(inp["train"]), _dataset(inp["test"])
    net = _net(inp, inp["weight_init"], inp["seed"])
    trainer = Trainer(net, _optimizer(inp["optimizer"]), train, None, inp["batch"], inp["seed"])
    first = Rng(_u64(inp["sampler_seed"])).choice(len(train), inp["batch"])
    trainer.run(epochs=inp["epochs"])
    train_correct, test_correct = _correct(net, train), _correct(net, test)
    return {"steps": len(trainer.step_losses), "first_indices": first,
            "losses": trainer.step_losses, "params": _params(net),
            "train_correct": train_correct, "test_correct": test_correct,
            "train_accuracy": train_correct / len(train),
            "test_accuracy": test_correct / len(test)}


RUNNERS: dict[str, Callable[[dict], dict]] = {
    "rng_bits": run_rng_bits,
    "rng_normal": run_rng_normal,
    "init": run_init,
    "forward_backward": run_forward_backward,
    "optimizer": run_optimizer,
    "logic": run_logic,
    "digits": run_digits,
}


def run_case(case: dict) -> dict:
    """The reference output of one case, computed from its input only."""
    kind = case.get("kind")
    if kind not in RUNNERS:
        raise ConformanceError(f"case {case.get('name')!r} has unknown kind {kind!r}")
    return RUNNERS[kind](case["input"])


# ---------------------------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------------------------
RNG_SEEDS = [0, 1, 42, MASK64, SAMPLER_OFFSET]
LOGIC_FUNCTIONS = {
    "XOR": lambda a, b: a ^ b, "XNOR": lambda a, b: 1 - (a ^ b),
    "AND": lambda a, b: a & b, "NAND": lambda a, b: 1 - (a & b),
    "OR": lambda a, b: a | b, "NOR": lambda a, b: 1 - (a | b),
}


def _case(name: str, kind: str, description: str, bound: tuple[float, float] | None,
          inp: dict) -> dict:
    """A case whose expected values and transcript come from running its stored input.

    `bound` is (rel, abs) for a case that calls libm functions, None for one that must not;
    the tolerance's list of functions is read off the transcript.
    """
    inp = json.loads(dumps(inp))  # the expected values come from the input exactly as stored
    case = {"format": FORMAT, "version": VERSION, "name": name, "kind": kind,
            "description": description, "tolerance": BITWISE, "input": inp}
    recorder = _Recorder()
    with using_libm(recorder):
        expected = run_case(case)
    transcript = recorder.transcript()
    if (bound is None) != (not transcript):
        raise ConformanceError(f"case {name}: bound {bound} but libm calls {list(transcript)}")
    if bound is not None:
        case["tolerance"] = same_libm(*bound, " and ".join(transcript))
    case["expected"] = json.loads(dumps(expected))
    case["libm"] = transcript
    return case


def _random_params(sizes: list[int], rng: Rng) -> list[list[float]]:
    """Readable test parameters: W ~ 0.5·N(0,1), B uniform in [-0.2, 0.2) with B_0[0] = -0.0."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append([0.5 * rng.normal() for _ in range(n_in * n_out)])
        params.append([0.4 * rng.uniform() - 0.2 for _ in range(n_out)])
    # With an all-zero input row, Z_0[0] = B_0[0] = -0.0 exactly: the ReLU gate's edge, and a
    # negative zero that only "Z_j starts at B_j" keeps (0.0 + B_j would make it +0.0).
    params[1][0] = -0.0
    return params


def _rows(count: int, width: int, rng: Rng) -> list[list[float]]:
    """Input rows like pixels/255 with exact zeros; the last row is all zeros."""
    rows = []
    for n in range(count):
        if n == count - 1:
            rows.append([0.0] * width)
        else:
            rows.append([0.0 if rng.uniform() < 0.3 else rng.randbelow(256) / 255.0
                         for _ in range(width)])
    return rows


def _teachers(count: int, width: int, output: str, rng: Rng) -> list[list[float]]:
    if output == "identity":
        return [[2.0 * rng.uniform() - 1.0 for _ in range(width)] for _ in range(count)]
    if output == "sigmoid":  # one independent 0/1 target per output unit
        return [[float(rng.randbelow(2)) for _ in range(width)] for _ in range(count)]
    rows = []
    for _ in range(count):
        label = rng.randbelow(width)
        rows.append([1.0 if k == label else 0.0 for k in range(width)])
    return rows


def rng_cases() -> list[dict]:
    seeds = [hex64(s) for s in RNG_SEEDS]
    return [
        _case("rng_bits", "rng_bits", "SplitMix64 raw outputs, uniform() and randbelow(n), "
              "each stream from a fresh Rng(seed)", None,
              {"seeds": seeds, "count": 16, "randbelow_n": [1, 2, 10, 784, 60000, 2**32]}),
        _case("rng_normal", "rng_normal", "normal() by Box-Muller, from a fresh Rng(seed)",
              (1e-13, 1e-15), {"seeds": seeds, "count": 16}),
    ]


# sqrt(2.0 / n) ≠ sqrt(2.0) / sqrt(n) for n_in = 6, 3, 9 (He), sqrt(1.0 / n) ≠ 1.0 / sqrt(n) for
# 6, 3 (Xavier), sqrt(6.0) / sqrt(n) ≠ sqrt(6.0 / n) for n_in + n_out = 9, 12, 11 (uniform)
INIT_SIZES = [6, 3, 9, 2]


def init_cases() -> list[dict]:
    cases = []
    for scheme in (0.01, "he", "xavier", "uniform"):
        bound = None if scheme == "uniform" else (1e-13, 1e-15)
        label = "std0.01" if scheme == 0.01 else scheme
        cases.append(_case(f"init_{label}", "init", f"initial parameters, weight_init={scheme!r}",
                           bound, {"sizes": INIT_SIZES, "weight_init": scheme, "seed": 2024}))
    return cases


FB_DECAY = {("relu", "softmax"): 0.0, ("relu", "identity"): 0.01,
            ("sigmoid", "softmax"): 0.01, ("sigmoid", "identity"): 0.0,
            ("tanh", "softmax"): 0.005, ("tanh", "identity"): 0.0}
FB_BATCH = 5  # not a power of two: (Y - T) / N and (Y - T) · (1/N) round differently
# sigmoid output units: (activation, loss, log guard g, λ); g = 0 is ex4's unguarded cost
FB_SIGMOID_OUTPUTS = [("sigmoid", "cross_entropy", 1e-7, 0.0), ("relu", "cross_entropy", 0.0, 0.01),
                      ("tanh", "squared_error", 1e-7, 0.0)]


def forward_backward_cases() -> list[dict]:
    cases = []
    sizes = [4, 5, 4, 3]
    for seed, ((activation, output), lam) in enumerate(FB_DECAY.items()):
        rng = Rng(100 + seed)
        params = _random_params(sizes, rng)
        X = _rows(FB_BATCH, sizes[0], rng)
        T = _teachers(FB_BATCH, sizes[-1], output, rng)
        libm = activation != "relu" or output == "softmax"
        cases.append(_case(
            f"fb_{activation}_{output}", "forward_backward",
            f"one minibatch of {FB_BATCH} through {'-'.join(map(str, sizes))} "
            f"{activation}/{output}, λ = {lam}: every layer's Z, H, z, h per example, the loss "
            "and the gradients", (1e-11, 1e-15) if libm else None,
            {"sizes": sizes, "activation": activation, "output": output,
             "weight_decay": lam, "params": params, "X": X, "T": T}))
    for seed, (activation, loss, guard, lam) in enumerate(FB_SIGMOID_OUTPUTS, len(FB_DECAY)):
        rng = Rng(100 + seed)
        params = _random_params(sizes, rng)
        X = _rows(FB_BATCH, sizes[0], rng)
        T = _teachers(FB_BATCH, sizes[-1], "sigmoid", rng)
        label = {"cross_entropy": "ce", "squared_error": "se"}[loss] + ("_g0" if guard == 0 else "")
        cases.append(_case(
            f"fb_{activation}_sigmoid_{label}", "forward_backward",
            f"one minibatch of {FB_BATCH} through {'-'.join(map(str, sizes))} {activation} with "
            f"sigmoid output units and the {loss.replace('_', '-')} loss, log guard {guard}, "
            f"λ = {lam}: every layer's Z, H, z, h per example, the loss and the gradients",
            (1e-11, 1e-15),
            {"sizes": sizes, "activation": activation, "output": "sigmoid", "loss": loss,
             "log_guard": guard, "weight_decay": lam, "params": params, "X": X, "T": T}))
    return cases


# Adam runs 30 steps: from t = 4 on, η_t from pow(β, t) and from repeated products differ
OPTIMIZER_SPECS = [
    ({"name": "sgd", "lr": 0.1}, 10),
    ({"name": "momentum", "lr": 0.05, "momentum": 0.9}, 10),
    ({"name": "adagrad", "lr": 0.1}, 10),
    ({"name": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999}, 30),
]


def optimizer_cases() -> list[dict]:
    cases = []
    sizes = [4, 6, 3]
    rng = Rng(300)
    params = _random_params(sizes, rng)
    batches = [{"X": _rows(3, sizes[0], rng), "T": _teachers(3, sizes[-1], "identity", rng)}
               for _ in range(3)]
    for spec, steps in OPTIMIZER_SPECS:
        record = sorted({1, 10, steps})
        cases.append(_case(
            f"opt_{spec['name']}", "optimizer",
            f"{spec['name']} on a ReLU/identity {'-'.join(map(str, sizes))} net with λ = 0.001: "
            f"losses of {steps} steps (step s uses batches[s mod 3]), parameters after "
            f"{', '.join(map(str, record))}",
            (1e-10, 1e-15) if spec["name"] == "adam" else None,
            {"sizes": sizes, "activation": "relu", "output": "identity",
             "weight_decay": 0.001, "params": params, "optimizer": spec,
             "batches": batches, "steps": steps, "record_after": record}))
    return cases


def logic_case() -> dict:
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    T = [[float(f(int(a), int(b))) for f in LOGIC_FUNCTIONS.values()] for a, b in X]
    return _case(
        "litmus_logic", "logic",
        "litmus: a 2-2-6 sigmoid network (identity output, squared error) learns XOR, XNOR, "
        "AND, NAND, OR and NOR at once by full-batch SGD from its seeded init",
        (1e-9, 1e-12),
        {"sizes": [2, 2, 6], "activation": "sigmoid", "output": "identity",
         "weight_decay": 0.0, "weight_init": "uniform", "seed": 0,
         "optimizer": {"name": "sgd", "lr": 1.0}, "steps": 1000, "loss_every": 100,
         "functions": list(LOGIC_FUNCTIONS), "X": X, "T": T})


DIGITS = {"n_train": 400, "n_test": 100, "train_seed": 1, "test_seed": 2}


def digits_case() -> dict:
    from loopnet.data import generate_digits

    def spec(data: Dataset) -> dict:
        return {"count": len(data), "n_features": data.n_features, "n_classes": data.n_classes,
                "labels": list(data.labels), "pixels": data.pixels.hex()}

    train = generate_digits(DIGITS["n_train"], DIGITS["train_seed"])
    test = generate_digits(DIGITS["n_test"], DIGITS["test_seed"])
    seed = 7
    return _case(
        "digits_run", "digits",
        f"{DIGITS['n_train']} synthetic 28x28 digits, 784-16-10 ReLU/softmax from He init, "
        "SGD η = 0.3, batch 20, 4 epochs of sampled minibatches; final parameters, accuracy on "
        f"them and on {DIGITS['n_test']} held-out digits",
        (1e-9, 1e-12),
        {"sizes": [784, 16, 10], "activation": "relu", "output": "softmax", "weight_decay": 0.0,
         "weight_init": "he", "seed": seed, "sampler_seed": hex64(seed + SAMPLER_OFFSET),
         "optimizer": {"name": "sgd", "lr": 0.3}, "batch": 20, "epochs": 4,
         "train": spec(train), "test": spec(test)})


def build_cases() -> list[dict]:
    """Every conformance case, in export order."""
    return [*rng_cases(), *init_cases(), *forward_backward_cases(), *optimizer_cases(),
            logic_case(), digits_case()]


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def _write_json(path: Path, value: dict) -> None:
    write_atomic(path, dumps(value) + "\n")


def export_cases(directory: str | os.PathLike) -> list[str]:
    """Write every case and index.json into `directory` (created if missing); the case names."""
    cases = build_cases()
    with atomic_directory(directory) as staging:  # the whole set appears at once, or nothing
        for case in cases:
            _write_json(staging / f"{case['name']}.json", case)
        index = {"format": FORMAT, "version": VERSION, "generator": f"loopnet {__version__}",
                 "cases": [{"name": c["name"], "file": f"{c['name']}.json", "kind": c["kind"],
                            "tolerance": c["tolerance"]["mode"]} for c in cases]}
        _write_json(staging / INDEX, index)
    return [c["name"] for c in cases]


class _WrittenInt(int):
    """A JSON integer that remembers how it was written (``-0`` reads as the int 0)."""

    text: str

    def __new__(cls, text: str) -> _WrittenInt:
        value = super().__new__(cls, int(text))
        value.text = text
        return value


def _is_int(value) -> bool:
    """A JSON integer (not a double such as 2.0, not true)."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_result(text: str):
    """JSON text as `check_case` needs it: integers remember how they were written."""
    return json.loads(text, parse_int=_WrittenInt)


def _read_json(path: Path, what: str) -> dict:
    size = strict_json.regular_file_size(path, what, ConformanceError)  # not a FIFO or device
    require_memory(strict_json.JSON_EXPANSION * size, f"reading {what} {path} ({size} bytes)",
                   ConformanceError)
    try:  # NaN and Infinity are read, so that `check` can say "got NaN"
        data = parse_result(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ConformanceError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConformanceError(f"{what} {path} is not a JSON object")
    return data


def _format_problem(data: dict, fmt: str) -> str | None:
    """What is wrong with a file's format and version, in words, or None."""
    found_format, found_version = data.get("format"), data.get("version")
    if found_format == fmt and _is_int(found_version) and found_version == VERSION:
        return None
    return (f"found format {_short(found_format)} version {_short(found_version)}, "
            f"expected {fmt!r} version {VERSION}")


def load_cases(directory: str | os.PathLike) -> list[dict]:
    """The cases listed in `directory`/index.json, checked for format and version."""
    directory = Path(directory)
    index = _read_json(directory / INDEX, "case index")
    problem = _format_problem(index, FORMAT)
    if problem:
        raise ConformanceError(f"{directory / INDEX}: {problem}")
    entries = index.get("cases")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("file"), str) for e in entries):
        raise ConformanceError(f"{directory / INDEX}: 'cases' is not a list of {{'file': ...}}")
    cases = []
    for entry in entries:
        case = _read_json(directory / entry["file"], "case")
        problem = _format_problem(case, FORMAT)
        if problem:
            raise ConformanceError(f"{directory / entry['file']}: {problem}")
        cases.append(case)
    return cases


def run_reference(cases_dir: str | os.PathLike, results_dir: str | os.PathLike,
                  transcript: bool = False) -> int:
    """Act as a port: run every case with the Python reference and write its results, with the
    host's libm or (`transcript`) answering libm calls from each case's transcript."""
    cases = load_cases(cases_dir)
    with atomic_directory(results_dir) as staging:  # the whole set appears at once, or nothing
        for case in cases:
            result = {"format": RESULT_FORMAT, "version": VERSION, "case": case["name"],
                      "libm": "transcript" if transcript else "own"}
            if transcript:
                libm = _Transcript(case.get("libm", {}))
                with using_libm(libm):
                    output = run_case(case)
                result["libm_misses"] = libm.misses()
            else:
                output = run_case(case)
            result["output"] = output
            _write_json(staging / f"{case['name']}.json", result)
    return len(cases)


# ---------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------
RESULT_KEYS = ("format", "version", "case", "libm", "libm_misses", "output")


@dataclass
class CaseReport:
    """Outcome of one case: `passed`, how (`how`), the libm the result claims, values compared."""

    name: str
    passed: bool
    how: str
    libm: str = ""
    values: int = 0


def _show(x: float) -> str:
    """A double as JSON would have it (NaN and infinities by their names)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return repr(x)


def _short(value) -> str:
    if isinstance(value, float):
        return _show(value)
    if isinstance(value, _WrittenInt):
        return value.text
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a double"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.3g} %"


class _Compare:
    """Walks expected and got in parallel; stops at the first value outside the tolerance.

    JSON types must match the expected ones: a double is written with a '.' or an exponent, an
    integer without; objects have exactly the expected keys.
    """

    def __init__(self, tolerance: dict, strict: bool) -> None:
        self.mode = tolerance.get("mode")
        self.rel = float(tolerance.get("rel", 0.0))
        self.abs = float(tolerance.get("abs", 0.0))
        self.strict = strict or self.mode == "bitwise"
        self.values = 0
        self.inexact = 0
        self.worst_rel = 0.0      # largest |diff| / |expected|
        self.worst_bound = 0.0    # largest |diff| / (abs + rel·|expected|)
        self.worst_rel_term = 0.0  # largest |diff| / (rel·|expected|) among those within it
        self.abs_needed = 0       # values with |diff| > rel·|expected|: they pass on abs only
        self.worst_abs_term = 0.0  # largest |diff| / abs among those
        self.worst_abs_rel = 0.0   # ... and the same values' |diff| / (rel·|expected|)

    def walk(self, expected, got, path: str) -> str | None:
        if isinstance(expected, dict):
            if not isinstance(got, dict):
                return f"{path}: expected an object, got {_kind(got)} {_short(got)}"
            for key, value in expected.items():
                if key not in got:
                    return f"{path}.{key}: missing"
                problem = self.walk(value, got[key], f"{path}.{key}")
                if problem:
                    return problem
            extra = [k for k in got if k not in expected]
            if extra:
                return f"{path}: unexpected key {extra[0]!r} (the case has no such output)"
            return None
        if isinstance(expected, list):
            if not isinstance(got, list):
                return f"{path}: expected a list, got {_kind(got)} {_short(got)}"
            if len(got) != len(expected):
                return f"{path}: expected {len(expected)} values, got {len(got)}"
            for k, (e, g) in enumerate(zip(expected, got)):
                problem = self.walk(e, g, f"{path}[{k}]")
                if problem:
                    return problem
            return None
        self.values += 1
        if isinstance(expected, float):
            return self.number(expected, got, path)
        if isinstance(expected, str):
            if got == expected:
                return None
            if isinstance(got, str) and got.lower() == expected:
                return (f"{path}: expected {expected!r}, got {got!r} "
                        "(hex digits must be lower case)")
            return f"{path}: expected {expected!r}, got {_kind(got)} {_short(got)}"
        # an integer: a JSON integer with that exact value
        if isinstance(got, float) and got == expected:
            return (f"{path}: expected the integer {expected}, got the double {_short(got)} "
                    "(write integers without '.' or exponent)")
        if type(got) is bool or not isinstance(got, int) or got != expected:
            return f"{path}: expected {expected!r}, got {_kind(got)} {_short(got)}"
        return None

    def number(self, expected: float, got, path: str) -> str | None:
        if isinstance(got, int) and not isinstance(got, bool):
            return (f"{path}: expected the double {_show(expected)}, got the integer "
                    f"{_short(got)} (write doubles with a '.' or an exponent, e.g. -0.0)")
        if not isinstance(got, float):
            return f"{path}: expected {_show(expected)}, got {_kind(got)} {_short(got)}"
        if float_bits(got) == float_bits(expected):
            return None
        if math.isnan(got):
            return f"{path}: expected {_show(expected)}, got NaN"
        if got == expected:  # 0.0 and -0.0: no libm difference makes this
            return (f"{path}: expected {_show(expected)}, got {_show(got)}: "
                    "the sign of zero differs")
        if self.strict:
            return (f"{path}: expected {_show(expected)}, got {_show(got)} "
                    f"(not bitwise: {_ulps(expected, got)} apart)")
        diff = abs(got - expected)
        rel_term = self.rel * abs(expected)
        bound = self.abs + rel_term
        if not diff <= bound:
            return (f"{path}: expected {_show(expected)}, got {_show(got)} "
                    f"(|diff| {diff:.3g} > {self.abs:.3g} + {self.rel:.3g}·|expected| "
                    f"= {bound:.3g})")
        self.inexact += 1
        if expected:
            self.worst_rel = max(self.worst_rel, diff / abs(expected))
        self.worst_bound = max(self.worst_bound, diff / bound)
        if diff <= rel_term:
            self.worst_rel_term = max(self.worst_rel_term, diff / rel_term)
        else:
            self.abs_needed += 1
            if diff / self.abs > self.worst_abs_term:
                self.worst_abs_term = diff / self.abs
                self.worst_abs_rel = diff / rel_term if rel_term else math.inf

    def within(self) -> str:
        """How a case that passed within tolerance used its bound."""
        text = (f"{self.inexact} of {self.values} values not bitwise, max rel diff "
                f"{self.worst_rel:.2g}; at most {_percent(self.worst_bound)} of "
                f"abs + rel·|expected| used")
        if self.inexact > self.abs_needed:
            text += f" (rel term: at most {_percent(self.worst_rel_term)})"
        if self.abs_needed:
            rel_part = ("all of it" if math.isinf(self.worst_abs_rel)
                        else _percent(self.worst_abs_rel))
            text += (f"; {self.abs_needed} pass on the abs term only (worst: "
                     f"{_percent(self.worst_abs_term)} of abs {self.abs:g}, {rel_part} of "
                     "rel·|expected|)")
        return text


def _ulps(a: float, b: float) -> str:
    if not (math.isfinite(a) and math.isfinite(b)):
        return "an infinite distance"
    steps, x = 0, a
    toward = math.inf if b > a else -math.inf
    while x != b and steps < 1000:
        x = math.nextafter(x, toward)
        steps += 1
    return (f"{steps} ulp" if x == b else ">1000 ulp")


def _call_text(call) -> str:
    """A transcript miss ``[function, argument hex...]`` as ``exp(0x... = 0.5)``."""
    if not (isinstance(call, list) and call and isinstance(call[0], str)
            and all(isinstance(a, str) for a in call[1:])):
        return _short(call)
    args = []
    for text in call[1:]:
        try:
            args.append(f"{text} = {_show(bits_float(_u64(text) & MASK64))}")
        except ValueError:
            args.append(repr(text))
    return f"{call[0]}({', '.join(args)})"


def _header_problem(result: dict, name: str) -> str | None:
    problem = _format_problem(result, RESULT_FORMAT)
    if problem:
        return f"result: {problem}"
    if result.get("case") != name:
        return f"result is for case {_short(result.get('case'))}"
    extra = [k for k in result if k not in RESULT_KEYS]
    if extra:
        return f"result: unexpected key {extra[0]!r} (allowed: {', '.join(RESULT_KEYS)})"
    libm = result.get("libm")
    if libm not in LIBM_MODES:
        return (f"result: \"libm\" must say which math library answered exp, log, tanh, cos "
                f"and pow: \"own\" or \"transcript\", found {_short(libm)}")
    misses = result.get("libm_misses")
    if libm == "own":
        return "result: \"libm_misses\" belongs to transcript mode" if misses is not None else None
    if not (isinstance(misses, dict) and set(misses) == {"count", "calls"}
            and _is_int(misses["count"]) and isinstance(misses["calls"], list)):
        return ("result: transcript mode needs \"libm_misses\": {\"count\": <int>, "
                "\"calls\": [[function, argument hex...], ...]}")
    return None


def check_case(case: dict, result: dict | None, strict: bool = False) -> CaseReport:
    """Compare one port result with its case: bitwise for `bitwise` cases, under `strict`, and
    when the result claims transcript mode; otherwise within the case's bound."""
    name = case["name"]
    if result is None:
        return CaseReport(name, False, "no result file")
    problem = _header_problem(result, name)
    if problem:
        return CaseReport(name, False, problem)
    libm = result["libm"]
    cmp = _Compare(case["tolerance"], strict or libm == "transcript")
    problem = cmp.walk(case["expected"], result.get("output"), "output")
    misses = result.get("libm_misses") or {"count": 0}
    if misses["count"]:
        calls = misses["calls"]
        first = _call_text(calls[0]) if calls else "(none listed)"
        more = f" and {misses['count'] - 1} other calls" if misses["count"] > 1 else ""
        lacked = (f"transcript mode: the port called {first}{more} that the transcript lacks: "
                  "its arithmetic left the reference's before that call")
        return CaseReport(name, False, lacked + (f"; first difference {problem}" if problem
                                                 else ""), libm, cmp.values)
    if problem:
        return CaseReport(name, False, problem, libm, cmp.values)
    if cmp.inexact:
        return CaseReport(name, True, f"within tolerance ({libm} libm), {cmp.within()}", libm,
                          cmp.values)
    return CaseReport(name, True, f"bitwise ({libm} libm), {cmp.values} values", libm,
                      cmp.values)


def check_results(cases_dir: str | os.PathLike, results_dir: str | os.PathLike,
                  strict: bool = False) -> list[CaseReport]:
    """Check every case of `cases_dir` against `results_dir`/<name>.json."""
    cases = load_cases(cases_dir)
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ConformanceError(f"results directory {results_dir} does not exist")
    reports = []
    for case in cases:
        path = results_dir / f"{case['name']}.json"
        if not path.exists():
            reports.append(check_case(case, None, strict))
            continue
        try:
            result = _read_json(path, "result")
        except ConformanceError as exc:
            reports.append(CaseReport(case["name"], False, str(exc)))
            continue
        reports.append(check_case(case, result, strict))
    return reports
