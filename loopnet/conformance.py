"""Conformance vectors: JSON cases that pin down loopnet's arithmetic for ports to other languages.

A case is ``{"format": "loopnet-conformance", "version": 1, "name", "kind", "description",
"tolerance", "input", "expected"}`` (schema: docs/conformance.md; the algorithm: PORTING.md).
`export_cases` writes every case plus ``index.json``; the expected values are produced by the
reference runners below from the case's own ``input`` after a JSON round trip, so the stored
input alone reproduces them.  A port reads each case, runs it and writes
``RESULTS/<name>.json`` = ``{"format": "loopnet-conformance-result", "version": 1,
"case": name, "output": {...}}`` whose ``output`` has the shape of ``expected``;
`check_results` compares the two under the case's tolerance.

Tolerance modes:
  ``bitwise``            only + - * / and sqrt (correctly rounded by IEEE 754): identical bits.
  ``bitwise-same-libm``  also exp, log, tanh, cos or pow: identical bits when the port uses the
                         same libm as the exporting CPython; otherwise each value must satisfy
                         ``|got - expected| <= abs + rel * |expected|`` (`check` reports which).
Integers and strings are always compared exactly.
"""
from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loopnet import __version__, kernels, strict_json
from loopnet.atomic import atomic_directory
from loopnet.backends.python_backend import PythonBackend
from loopnet.data.dataset import Dataset
from loopnet.errors import DataError
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
VERSION = 1
INDEX = "index.json"

BITWISE = {"mode": "bitwise",
           "note": "only + - * / and sqrt: identical float64 bits on every IEEE 754 platform"}


def same_libm(rel: float, abs_: float, uses: str) -> dict:
    """Tolerance of a case whose values go through libm functions (`uses`)."""
    return {"mode": "bitwise-same-libm", "rel": rel, "abs": abs_,
            "note": f"uses {uses}: bitwise on the same libm as the exporter; "
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


def _net(inp: dict, weight_init=0.01, seed: int = 0) -> MultiLayerNet:
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


def _case(name: str, kind: str, description: str, tolerance: dict, inp: dict) -> dict:
    inp = json.loads(dumps(inp))  # the expected values come from the input exactly as stored
    case = {"format": FORMAT, "version": VERSION, "name": name, "kind": kind,
            "description": description, "tolerance": tolerance, "input": inp}
    case["expected"] = json.loads(dumps(run_case(case)))
    return case


def _random_params(sizes: list[int], rng: Rng) -> list[list[float]]:
    """Readable test parameters: W ~ 0.5·N(0,1), B uniform in [-0.2, 0.2) with one B exactly 0."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append([0.5 * rng.normal() for _ in range(n_in * n_out)])
        params.append([0.4 * rng.uniform() - 0.2 for _ in range(n_out)])
    params[1][0] = 0.0  # with an all-zero input row, Z_1 = 0 exactly: the ReLU gate's edge
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
    rows = []
    for _ in range(count):
        label = rng.randbelow(width)
        rows.append([1.0 if k == label else 0.0 for k in range(width)])
    return rows


def rng_cases() -> list[dict]:
    seeds = [hex64(s) for s in RNG_SEEDS]
    return [
        _case("rng_bits", "rng_bits", "SplitMix64 raw outputs, uniform() and randbelow(n), "
              "each stream from a fresh Rng(seed)", BITWISE,
              {"seeds": seeds, "count": 16, "randbelow_n": [1, 2, 10, 784, 60000, 2**32]}),
        _case("rng_normal", "rng_normal", "normal() by Box-Muller, from a fresh Rng(seed)",
              same_libm(1e-14, 1e-15, "log and cos"), {"seeds": seeds, "count": 16}),
    ]


def init_cases() -> list[dict]:
    cases = []
    for scheme in (0.01, "he", "xavier", "uniform"):
        tol = BITWISE if scheme == "uniform" else same_libm(1e-14, 1e-16, "log and cos")
        label = "std0.01" if scheme == 0.01 else scheme
        cases.append(_case(f"init_{label}", "init", f"initial parameters, weight_init={scheme!r}",
                           tol, {"sizes": [7, 5, 4, 3], "weight_init": scheme, "seed": 2024}))
    return cases


FB_DECAY = {("relu", "softmax"): 0.0, ("relu", "identity"): 0.01,
            ("sigmoid", "softmax"): 0.01, ("sigmoid", "identity"): 0.0,
            ("tanh", "softmax"): 0.005, ("tanh", "identity"): 0.0}


def forward_backward_cases() -> list[dict]:
    cases = []
    sizes = [4, 5, 4, 3]
    for seed, ((activation, output), lam) in enumerate(FB_DECAY.items()):
        rng = Rng(100 + seed)
        params = _random_params(sizes, rng)
        X = _rows(4, sizes[0], rng)
        T = _teachers(4, sizes[-1], output, rng)
        uses = {"relu": [], "sigmoid": ["exp"], "tanh": ["tanh"]}[activation]
        uses += ["exp", "log"] if output == "softmax" else []
        tol = same_libm(1e-11, 1e-15, " and ".join(sorted(set(uses)))) if uses else BITWISE
        cases.append(_case(
            f"fb_{activation}_{output}", "forward_backward",
            f"one minibatch of 4 through {'-'.join(map(str, sizes))} {activation}/{output}, "
            f"λ = {lam}: every layer's Z, H, z, h per example, the loss and the gradients",
            tol, {"sizes": sizes, "activation": activation, "output": output,
                  "weight_decay": lam, "params": params, "X": X, "T": T}))
    return cases


OPTIMIZER_SPECS = [
    {"name": "sgd", "lr": 0.1},
    {"name": "momentum", "lr": 0.05, "momentum": 0.9},
    {"name": "adagrad", "lr": 0.1},
    {"name": "adam", "lr": 0.01, "beta1": 0.9, "beta2": 0.999},
]


def optimizer_cases() -> list[dict]:
    cases = []
    sizes = [4, 6, 3]
    rng = Rng(300)
    params = _random_params(sizes, rng)
    batches = [{"X": _rows(3, sizes[0], rng), "T": _teachers(3, sizes[-1], "identity", rng)}
               for _ in range(3)]
    for spec in OPTIMIZER_SPECS:
        tol = same_libm(1e-12, 1e-15, "pow") if spec["name"] == "adam" else BITWISE
        cases.append(_case(
            f"opt_{spec['name']}", "optimizer",
            f"{spec['name']} on a ReLU/identity {'-'.join(map(str, sizes))} net with λ = 0.001: "
            "losses of 10 steps (step s uses batches[s mod 3]), parameters after 1 and 10",
            tol, {"sizes": sizes, "activation": "relu", "output": "identity",
                  "weight_decay": 0.001, "params": params, "optimizer": spec,
                  "batches": batches, "steps": 10, "record_after": [1, 10]}))
    return cases


def logic_case() -> dict:
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    T = [[float(f(int(a), int(b))) for f in LOGIC_FUNCTIONS.values()] for a, b in X]
    return _case(
        "litmus_logic", "logic",
        "litmus: a 2-2-6 sigmoid network (identity output, squared error) learns XOR, XNOR, "
        "AND, NAND, OR and NOR at once by full-batch SGD from its seeded init",
        same_libm(1e-9, 1e-12, "exp"),
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
        same_libm(1e-9, 1e-12, "exp, log and cos"),
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


def _read_json(path: Path, what: str) -> dict:
    if not path.exists():
        raise ConformanceError(f"{what} {path} does not exist")
    data = strict_json.read(path, what, ConformanceError)  # no NaN, huge ints, deep nesting
    if not isinstance(data, dict):
        raise ConformanceError(f"{what} {path} is not a JSON object")
    return data


def load_cases(directory: str | os.PathLike) -> list[dict]:
    """The cases listed in `directory`/index.json, checked for format and version."""
    directory = Path(directory)
    index = _read_json(directory / INDEX, "case index")
    if index.get("format") != FORMAT or index.get("version") != VERSION:
        raise ConformanceError(f"{directory / INDEX} is not a {FORMAT} version {VERSION} index")
    cases = []
    for entry in index.get("cases", []):
        case = _read_json(directory / entry["file"], "case")
        if case.get("format") != FORMAT or case.get("version") != VERSION:
            raise ConformanceError(f"{entry['file']} is not a {FORMAT} version {VERSION} case")
        cases.append(case)
    return cases


def run_reference(cases_dir: str | os.PathLike, results_dir: str | os.PathLike) -> int:
    """Act as a port: run every case with the Python reference and write its results."""
    cases = load_cases(cases_dir)
    with atomic_directory(results_dir) as staging:
        for case in cases:
            _write_json(staging / f"{case['name']}.json",
                        {"format": RESULT_FORMAT, "version": VERSION, "case": case["name"],
                         "output": run_case(case)})
    return len(cases)


# ---------------------------------------------------------------------------------------------
# Checking
# ---------------------------------------------------------------------------------------------
@dataclass
class CaseReport:
    """Outcome of one case: `passed`, how (`how`), and the first mismatch if it failed."""

    name: str
    passed: bool
    how: str
    values: int = 0


class _Compare:
    """Walks expected and got in parallel; stops at the first value outside the tolerance."""

    def __init__(self, tolerance: dict, strict: bool) -> None:
        self.mode = tolerance.get("mode")
        self.rel = float(tolerance.get("rel", 0.0))
        self.abs = float(tolerance.get("abs", 0.0))
        self.strict = strict or self.mode == "bitwise"
        self.values = 0
        self.inexact = 0
        self.worst = 0.0

    def walk(self, expected, got, path: str) -> str | None:
        if isinstance(expected, dict):
            if not isinstance(got, dict):
                return f"{path}: expected an object, got {_short(got)}"
            for key, value in expected.items():
                if key not in got:
                    return f"{path}.{key}: missing"
                problem = self.walk(value, got[key], f"{path}.{key}")
                if problem:
                    return problem
            return None
        if isinstance(expected, list):
            if not isinstance(got, list):
                return f"{path}: expected a list, got {_short(got)}"
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
        if isinstance(expected, str):  # hex strings: case does not matter
            same = isinstance(got, str) and expected.lower() == got.lower()
        elif isinstance(expected, bool) or expected is None:
            same = got is expected
        else:  # an integer: any JSON number with that exact value
            same = isinstance(got, (int, float)) and not isinstance(got, bool) and got == expected
        return None if same else f"{path}: expected {expected!r}, got {_short(got)}"

    def number(self, expected: float, got, path: str) -> str | None:
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return f"{path}: expected {expected!r}, got {_short(got)}"
        got = float(got)
        if _bits(got) == _bits(expected):
            return None
        if self.strict:
            return (f"{path}: expected {expected!r}, got {got!r} "
                    f"(not bitwise: {_ulps(expected, got)} ulp apart)")
        bound = self.abs + self.rel * abs(expected)
        diff = abs(got - expected)
        if not diff <= bound:
            return f"{path}: expected {expected!r}, got {got!r} (|diff| {diff:.3g} > {bound:.3g})"
        self.inexact += 1
        self.worst = max(self.worst, diff / abs(expected) if expected else diff)
        return None


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def _ulps(a: float, b: float) -> str:
    if not (math.isfinite(a) and math.isfinite(b)):
        return "?"
    if a == b:
        return "0 (the sign of zero differs)"
    steps, x = 0, a
    toward = math.inf if b > a else -math.inf
    while x != b and steps < 1000:
        x = math.nextafter(x, toward)
        steps += 1
    return str(steps) if x == b else ">1000"


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_case(case: dict, result: dict | None, strict: bool = False) -> CaseReport:
    """Compare one port result with its case under the case's tolerance (`strict`: bitwise)."""
    name = case["name"]
    if result is None:
        return CaseReport(name, False, "no result file")
    version = result.get("version")
    if (result.get("format") != RESULT_FORMAT or type(version) is not int  # not 1.0, not true
            or version != VERSION):
        return CaseReport(name, False, f"result is not {RESULT_FORMAT} version {VERSION}")
    if result.get("case") != name:
        return CaseReport(name, False, f"result is for case {result.get('case')!r}")
    cmp = _Compare(case["tolerance"], strict)
    problem = cmp.walk(case["expected"], result.get("output"), "output")
    if problem:
        return CaseReport(name, False, problem, cmp.values)
    if cmp.inexact:
        return CaseReport(name, True, f"within tolerance, {cmp.inexact} of {cmp.values} values "
                                      f"not bitwise (max rel diff {cmp.worst:.2g})", cmp.values)
    return CaseReport(name, True, f"bitwise, {cmp.values} values", cmp.values)


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
