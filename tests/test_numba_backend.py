"""The numba backend compiles the same loops: exact mode must be bit-for-bit the Python backend;
parallel mode (minibatch split over parts, summed in a fixed order) within 1e-12 of exact mode."""

import itertools
import os
import shutil
import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loopnet.backends
from loopnet import BackendError, MultiLayerNet
from loopnet.backends import get_backend
from loopnet.backends.python_backend import PythonBackend
from loopnet.data import Dataset, generate_digits
from loopnet.optimizers import make_optimizer
from loopnet.rng import Rng
from loopnet.training import Trainer

pytestmark = pytest.mark.numba_required

SIZES = [12, 7, 5, 4]
BATCH = 6
ACTIVATIONS = ["relu", "sigmoid", "tanh"]
# (output, loss): every supported pair
OUTPUTS = [("softmax", "cross_entropy"), ("identity", "squared_error"),
           ("sigmoid", "cross_entropy"), ("sigmoid", "squared_error")]
SIGMOID_OUTPUTS = OUTPUTS[2:]
OPTIMIZERS = ["sgd", "momentum", "adagrad", "adam"]
LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.05, "adam": 0.01}


def bits(values):
    """Exact bit patterns of a (nested) sequence of floats: compare with ==, not approx."""
    out = []
    for v in values:
        if isinstance(v, (list, tuple)):
            out.append(bits(v))
        else:
            out.append(struct.pack("<d", float(v)))
    return out


def param_bits(net):
    return {name: bits(p) for name, p in net.get_params().items()}


def batches(output, count, seed=0):
    """`count` minibatches of BATCH rows in [0, 1) with ~1/4 exact zeros, and teachers (labels
    for softmax; for sigmoid, values in [0, 1], a third of them exactly 0 or 1)."""
    rng = Rng(seed)
    out = []
    for _ in range(count):
        x = [[0.0 if rng.uniform() < 0.25 else rng.uniform() for _ in range(SIZES[0])]
             for _ in range(BATCH)]
        if output == "softmax":
            t = [rng.randbelow(SIZES[-1]) for _ in range(BATCH)]
        elif output == "sigmoid":
            t = [[float(rng.randbelow(2)) if rng.uniform() < 1 / 3 else rng.uniform()
                  for _ in range(SIZES[-1])] for _ in range(BATCH)]
        else:
            t = [[2.0 * rng.uniform() - 1.0 for _ in range(SIZES[-1])] for _ in range(BATCH)]
        out.append((x, t))
    return out


def pair(**kwargs):
    py = MultiLayerNet(SIZES, backend="python", **kwargs)
    nb = MultiLayerNet(SIZES, backend="numba", **kwargs)
    assert nb.backend.name == "numba"
    return py, nb


@pytest.mark.parametrize("activation, output_loss", list(itertools.product(ACTIVATIONS, OUTPUTS)))
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_forward_loss_gradient_bitwise(activation, output_loss, weight_decay):
    output, loss = output_loss
    py, nb = pair(activation=activation, output=output, loss=loss, weight_init="he", seed=4,
                  weight_decay=weight_decay)
    assert param_bits(py) == param_bits(nb)
    x, t = batches(output, 1, seed=9)[0]
    assert bits(py.predict(x)) == bits(nb.predict(x))
    assert bits([py.loss(x, t)]) == bits([nb.loss(x, t)])
    g_py, g_nb = py.gradient(x, t), nb.gradient(x, t)
    for name in py.names:
        assert bits(g_py[name]) == bits(g_nb[name]), name
    if output == "softmax":
        assert py.accuracy(x, t) == nb.accuracy(x, t)


@pytest.mark.parametrize("activation, output_loss, optimizer",
                         list(itertools.product(ACTIVATIONS, OUTPUTS, OPTIMIZERS)))
def test_fifty_train_steps_bitwise(activation, output_loss, optimizer):
    output, loss = output_loss
    py, nb = pair(activation=activation, output=output, loss=loss, weight_init="he", seed=1,
                  weight_decay=0.01)
    opt_py, opt_nb = make_optimizer(optimizer, LR[optimizer]), make_optimizer(optimizer, LR[optimizer])
    data = batches(output, 5, seed=3)
    losses_py, losses_nb = [], []
    for step in range(50):
        x, t = data[step % len(data)]
        losses_py.append(py.train_step(x, t, opt_py))
        losses_nb.append(nb.train_step(x, t, opt_nb))
    assert bits(losses_py) == bits(losses_nb)
    assert param_bits(py) == param_bits(nb)
    assert losses_py[-1] != losses_py[0]  # it trained


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_book_style_update_on_numpy_buffers(optimizer):
    py, nb = pair(weight_init="he", seed=2)
    opt_py, opt_nb = make_optimizer(optimizer, 0.05), make_optimizer(optimizer, 0.05)
    for x, t in batches("softmax", 3, seed=4):
        opt_py.update(py.params, py.gradient(x, t))
        opt_nb.update(nb.params, nb.gradient(x, t))
    assert param_bits(py) == param_bits(nb)


# ---- Trainer on synthetic digits -------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    data = generate_digits(300, seed=5)
    n = 784
    train = Dataset(data.pixels[: 240 * n], data.labels[:240], n, 10, (28, 28))
    test = Dataset(data.pixels[240 * n:], data.labels[240:], n, 10, (28, 28))
    return train, test


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adagrad", "adam"])
def test_trainer_identical_on_both_backends(digits, optimizer):
    """Exact mode's training loop (compiled for the shape and the optimizer) against the
    python backend, bit for bit."""
    train, test = digits
    runs = {}
    for backend in ("python", "numba"):
        net = MultiLayerNet([784, 16, 10], weight_init="he", seed=3, backend=backend)
        trainer = Trainer(net, make_optimizer(optimizer, 0.05), train, test, batch_size=20, seed=8)
        results = trainer.run(epochs=2, chunk_steps=5 if backend == "numba" else 1)
        runs[backend] = (trainer.step_losses, net, results)
    (l_py, net_py, r_py), (l_nb, net_nb, r_nb) = runs["python"], runs["numba"]
    assert len(l_py) == 2 * (240 // 20)
    assert bits(l_py) == bits(l_nb)
    assert param_bits(net_py) == param_bits(net_nb)
    assert [(r.train_acc, r.test_acc) for r in r_py] == [(r.train_acc, r.test_acc) for r in r_nb]


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_trainer_sgd_with_and_without_weight_decay_identical_on_both_backends(digits,
                                                                             weight_decay):
    """Plain SGD without weight decay updates W1 row by row as its gradient is summed
    (numba_input_major.weights_backward_sgd); with weight decay the loop keeps the separate
    update: both bit for bit the python backend's, and the weight decay changes the result."""
    train, _ = digits
    params = {}
    for backend in ("python", "numba"):
        net = MultiLayerNet([784, 12, 10], weight_init="he", seed=4, backend=backend,
                            weight_decay=weight_decay)
        trainer = Trainer(net, make_optimizer("sgd", 0.1), train, batch_size=30, seed=2)
        trainer.run(iters=9, chunk_steps=4)
        params[backend] = param_bits(net)
        assert len(trainer.step_losses) == 9
    assert params["python"] == params["numba"]
    reference = MultiLayerNet([784, 12, 10], weight_init="he", seed=4, backend="python",
                              weight_decay=0.01 - weight_decay)
    Trainer(reference, make_optimizer("sgd", 0.1), train, batch_size=30, seed=2).run(iters=9)
    assert param_bits(reference) != params["python"]


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_trainer_with_sigmoid_outputs_identical_on_both_backends(digits, loss):
    """The training loop compiled for the shape (SpecializedKernels) with sigmoid output units:
    bit for bit the Python backend's."""
    train, test = digits
    runs = {}
    for backend in ("python", "numba"):
        net = MultiLayerNet([784, 8, 10], activation="sigmoid", output="sigmoid", loss=loss,
                            weight_init="xavier", seed=3, backend=backend)
        trainer = Trainer(net, make_optimizer("sgd", 0.5), train, test, batch_size=20, seed=8)
        trainer.run(iters=6, chunk_steps=3)
        runs[backend] = (trainer.step_losses, net)
    (l_py, net_py), (l_nb, net_nb) = runs["python"], runs["numba"]
    assert bits(l_py) == bits(l_nb)
    assert param_bits(net_py) == param_bits(net_nb)
    assert l_py[-1] != l_py[0]


def test_trainer_runs_kernels_compiled_for_the_network_shape(digits):
    """Exact mode trains through the kernels compiled for the shape, on every core when there
    are several (InOrderKernels, else SpecializedKernels: so the bitwise tests above cover
    them), and they refuse a network of another shape instead of computing with the wrong
    sizes."""
    from loopnet.backends.numba_parallel import PARTS, InOrderKernels
    from loopnet.backends.numba_specialized import SpecializedKernels

    train, test = digits
    net = MultiLayerNet([784, 16, 10], backend="numba")
    trainer = Trainer(net, make_optimizer("sgd", 0.1), train, test, batch_size=20)
    assert isinstance(trainer.feed.kernels, InOrderKernels if PARTS > 1 else SpecializedKernels)
    other = MultiLayerNet([784, 17, 10], backend="numba")
    feed = trainer.feed
    with pytest.raises(ValueError, match="another network shape"):
        feed.kernels.count_correct(*feed.rows, feed.batch_labels, 0, other._params, other._sizes,
                                   other._activation, other._Z, other._H, other._active)


def trainer_runs_bitwise(digits, sizes, activation, optimizer, weight_decay, batch_size):
    """Exact mode's training loop against the python backend's for a few steps: the losses,
    the parameters and the accuracies, bit for bit."""
    train, test = digits
    runs = []
    for backend in ("python", "numba"):
        net = MultiLayerNet(sizes, activation=activation, weight_init="he", seed=6,
                            weight_decay=weight_decay, backend=backend)
        trainer = Trainer(net, make_optimizer(optimizer, LR[optimizer]), train, test,
                          batch_size=batch_size, seed=4)
        trainer.run(iters=7, chunk_steps=3)
        runs.append((bits(trainer.step_losses), param_bits(net),
                     trainer.accuracy(train), trainer.accuracy(test)))
    assert runs[0] == runs[1]
    assert runs[0][0][0] != runs[0][0][-1]  # it trained


@pytest.mark.parametrize("sizes, activation, optimizer, weight_decay, batch_size", [
    ([784, 9, 7, 10], "relu", "adam", 0.01, 7),
    ([784, 9, 7, 10], "tanh", "sgd", 0.0, 1),
    ([784, 10], "relu", "momentum", 0.02, 13),
])
def test_trainer_with_other_depths_and_batches_identical_on_both_backends(
        digits, sizes, activation, optimizer, weight_decay, batch_size):
    """Networks with two layers above the first and with none, minibatches of one example (fewer
    than the cores) and of an odd count, and weight decay: exact mode's training loop keeps
    every sum in the python backend's order."""
    trainer_runs_bitwise(digits, sizes, activation, optimizer, weight_decay, batch_size)


OTHER_CORES_PROGRAM = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from loopnet.backends.numba_parallel import PARTS
    from loopnet.data import Dataset, generate_digits
    from test_numba_backend import trainer_runs_bitwise
    assert PARTS == {parts}, PARTS
    data = generate_digits(300, seed=5)
    train = Dataset(data.pixels[:240 * 784], data.labels[:240], 784, 10, (28, 28))
    test = Dataset(data.pixels[240 * 784:], data.labels[240:], 784, 10, (28, 28))
    for batch_size in (2, 7):  # fewer examples than three parts, and a count they do not divide
        trainer_runs_bitwise((train, test), [784, 9, 7, 10], "relu", "adam", 0.01, batch_size)
    print("same bits")
""")


@pytest.mark.parametrize("parts", [1, 3])
def test_exact_training_loop_on_one_and_on_three_cores(parts):
    """Exact mode's training loop on one core (numba_specialized) and split over three
    (numba_parallel in order), in a child process each, since Numba fixes its thread count at
    start-up: bit for bit the python backend's."""
    env = {**os.environ, "NUMBA_NUM_THREADS": str(parts)}
    program = OTHER_CORES_PROGRAM.format(tests=os.path.dirname(__file__), parts=parts)
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "same bits"


@pytest.mark.parametrize(("activation", "output"), list(itertools.product(
    ["relu", "sigmoid", "tanh", "step"], ["softmax", "sigmoid cross_entropy",
                                          "sigmoid squared_error", "identity"])))
def test_bound_dispatchers_take_the_branch_of_the_kernels_dispatch(activation, output):
    """bound_kernels replaces activation_forward, activation_backward and output_loss by the
    one branch their codes select: the same values, bit for bit, as loopnet.kernels'."""
    import random

    import numpy as np

    from loopnet import kernels
    from loopnet.backends.numba_compile import bound_kernels
    from loopnet.network import ACTIVATIONS, DEFAULT_LOSS, FORWARD_ONLY_ACTIVATIONS, OUTPUT_LOSSES

    out_name, *loss = output.split()
    a_code = {**ACTIVATIONS, **FORWARD_ONLY_ACTIVATIONS}[activation]
    o_code = OUTPUT_LOSSES[out_name, loss[0] if loss else DEFAULT_LOSS[out_name]]
    bound = bound_kernels(a_code, o_code)
    draw = random.Random(11).uniform
    z, h, dh = ([draw(-3.0, 3.0) for _ in range(7)] for _ in range(3))

    h_py, h_nb = [0.0] * 7, np.zeros(7)
    kernels.activation_forward(a_code, z, h_py, 7)
    bound.activation_forward(a_code, np.array(z), h_nb, 7)
    assert bits(h_py) == bits(h_nb.tolist())
    if activation != "step":  # forward only
        dz_py, dz_nb = [0.0] * 7, np.zeros(7)
        kernels.activation_backward(a_code, z, h, dh, dz_py, 7)
        bound.activation_backward(a_code, np.array(z), np.array(h), np.array(dh), dz_nb, 7)
        assert bits(dz_py) == bits(dz_nb.tolist())

    sizes, t = (3, 5, 4), [0.0, 1.0, 0.0, 0.0]
    scores = [draw(-2.0, 2.0) for _ in range(4)]
    y_py, y_nb = [0.0] * 4, np.zeros(4)
    loss_py = kernels.output_loss(o_code, 1e-7, ([0.0] * 5, scores), ([0.0] * 5, y_py), t, 0,
                                  sizes)
    loss_nb = bound.output_loss(o_code, 1e-7, (np.zeros(5), np.array(scores)),
                                (np.zeros(5), y_nb), np.array(t), 0, sizes)
    assert bits([loss_py, *y_py]) == bits([loss_nb, *y_nb.tolist()])


# ---- backend selection ----------------------------------------------------------------------
def test_auto_picks_numba_when_importable():
    assert get_backend("auto").name == "numba"
    assert MultiLayerNet([3, 2], backend="auto").backend.name == "numba"


def test_numba_missing_gives_install_hint(monkeypatch):
    monkeypatch.setattr(loopnet.backends, "numba_available", lambda: False)
    with pytest.raises(BackendError) as info:
        get_backend("numba")
    assert "pip install loopnet[jit]" in str(info.value)
    with pytest.raises(BackendError):
        MultiLayerNet([3, 2], backend="numba")
    assert get_backend("auto").name == "python"


# ---- sampling --------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**64 - 1), n=st.integers(1, 2**32), count=st.integers(0, 300))
def test_sample_indices_equal_python(numba_backend, seed, n, count):
    rng_py, rng_nb = Rng(seed), Rng(seed)
    expected = PythonBackend().sample_indices(rng_py, n, count)
    got = numba_backend.sample_indices(rng_nb, n, count)
    assert [int(v) for v in got] == expected
    assert rng_nb.state == rng_py.state  # the stream continues at the same place
    assert rng_nb.next_u64() == rng_py.next_u64()


def test_sample_indices_bounds_error(numba_backend):
    for n in (0, 2**32 + 1):
        with pytest.raises(ValueError):
            numba_backend.sample_indices(Rng(0), n, 3)


# ---- parallel mode ---------------------------------------------------------------------------
PARALLEL_TOLERANCE = 1e-12


def max_difference(a, b) -> float:
    """max |a - b| over two equally nested sequences of floats."""
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        return max((max_difference(u, v) for u, v in zip(a, b)), default=0.0)
    return abs(a - b)


def exact_and_parallel(**kwargs):
    exact = MultiLayerNet(SIZES, backend="numba", **kwargs)
    parallel = MultiLayerNet(SIZES, backend="numba", parallel=True, **kwargs)
    assert parallel.backend.parallel and not exact.backend.parallel
    return exact, parallel


def params_difference(a, b) -> float:
    pa, pb = a.get_params(), b.get_params()
    return max(max_difference(pa[name], pb[name]) for name in a.names)


# parallel mode compiles per (activation, output): the sigmoid outputs with one activation
PARALLEL_CASES = [*itertools.product(ACTIVATIONS, OUTPUTS[:2]),
                  *itertools.product(["sigmoid"], SIGMOID_OUTPUTS)]


@pytest.mark.parametrize("activation, output_loss", PARALLEL_CASES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_forward_loss_gradient_within_tolerance(activation, output_loss, weight_decay):
    output, loss = output_loss
    exact, parallel = exact_and_parallel(activation=activation, output=output, loss=loss,
                                         weight_init="he", seed=4, weight_decay=weight_decay)
    x, t = batches(output, 1, seed=9)[0]
    assert max_difference(exact.predict(x), parallel.predict(x)) <= PARALLEL_TOLERANCE
    assert abs(exact.loss(x, t) - parallel.loss(x, t)) <= PARALLEL_TOLERANCE
    g_exact, g_parallel = exact.gradient(x, t), parallel.gradient(x, t)
    for name in exact.names:
        assert max_difference(g_exact[name], g_parallel[name]) <= PARALLEL_TOLERANCE, name
    assert max_difference(g_exact["W1"], [[0.0] * SIZES[1]] * SIZES[0]) > 0.0  # not all zero


# ... and per optimizer, whose update kernel is bound apart from the activation and output: SGD
# with every case, each other optimizer with the first and the last (a compile each)
PARALLEL_TRAINING_CASES = [*((*case, "sgd") for case in PARALLEL_CASES),
                           *((*case, optimizer) for optimizer in OPTIMIZERS[1:]
                             for case in (PARALLEL_CASES[0], PARALLEL_CASES[-1]))]


@pytest.mark.parametrize("activation, output_loss, optimizer", PARALLEL_TRAINING_CASES)
def test_fifty_train_steps_within_tolerance(activation, output_loss, optimizer):
    output, loss = output_loss
    exact, parallel = exact_and_parallel(activation=activation, output=output, loss=loss,
                                         weight_init="he", seed=1, weight_decay=0.01)
    opt_exact, opt_parallel = (make_optimizer(optimizer, LR[optimizer]) for _ in range(2))
    data = batches(output, 5, seed=3)
    for step in range(50):
        x, t = data[step % len(data)]
        loss_exact = exact.train_step(x, t, opt_exact)
        loss_parallel = parallel.train_step(x, t, opt_parallel)
        assert abs(loss_exact - loss_parallel) <= PARALLEL_TOLERANCE, step
    assert params_difference(exact, parallel) <= PARALLEL_TOLERANCE


@pytest.mark.parametrize("rows", [1, 2, 3, 7])
def test_minibatches_smaller_or_not_divisible_by_the_parts(rows):
    """Parts with no example (or one more than the others) still sum to the exact gradient."""
    exact, parallel = exact_and_parallel(weight_init="he", seed=6)
    x, t = batches("softmax", 2, seed=2)[0]
    x, t = (x * 2)[:rows], (t * 2)[:rows]
    g_exact, g_parallel = exact.gradient(x, t), parallel.gradient(x, t)
    for name in exact.names:
        assert max_difference(g_exact[name], g_parallel[name]) <= PARALLEL_TOLERANCE, name


def test_deterministic_for_a_thread_count():
    runs = []
    for _ in range(2):
        net = MultiLayerNet(SIZES, backend="numba", parallel=True, weight_init="he", seed=3)
        opt = make_optimizer("adam", 0.01)
        for x, t in batches("softmax", 10, seed=5):
            net.train_step(x, t, opt)
        runs.append(net.get_params())
    assert runs[0] == runs[1]


@pytest.mark.parametrize("output, loss, weight_decay", [("softmax", None, 0.0),
                                                      ("softmax", None, 0.02),
                                                      ("sigmoid", "squared_error", 0.0)])
def test_trainer_on_digits_within_tolerance(digits, output, loss, weight_decay):
    """The trainer's loop (plain SGD, with and without weight decay) within tolerance of
    exact mode's (whose loop updates W1 as its ΔW1 is summed)."""
    train, test = digits
    nets, losses = [], []
    for parallel in (False, True):
        net = MultiLayerNet([784, 16, 10], output=output, loss=loss, weight_init="he", seed=3,
                            backend="numba", parallel=parallel, weight_decay=weight_decay)
        trainer = Trainer(net, make_optimizer("sgd", 0.1), train, test, batch_size=20, seed=8)
        trainer.run(epochs=2, chunk_steps=5)
        nets.append(net)
        losses.append(trainer.step_losses)
    assert max_difference(losses[0], losses[1]) <= PARALLEL_TOLERANCE
    assert params_difference(*nets) <= PARALLEL_TOLERANCE


THREE_PARTS_PROGRAM = textwrap.dedent("""
    from loopnet import MultiLayerNet
    from loopnet.backends.numba_parallel import PARTS
    from loopnet.optimizers import make_optimizer
    from loopnet.rng import Rng
    assert PARTS == 3, PARTS
    rng = Rng(4)
    worst = 0.0
    for rows in (2, 7):  # fewer examples than parts, and a count that does not divide
        x = [[0.0 if rng.uniform() < 0.3 else rng.uniform() for _ in range(12)] for _ in range(rows)]
        t = [rng.randbelow(4) for _ in range(rows)]
        nets = [MultiLayerNet([12, 7, 5, 4], backend="numba", parallel=p, seed=2, weight_init="he")
                for p in (False, True)]
        opts = [make_optimizer("adam", 0.01) for _ in nets]
        for step in range(20):
            losses = [net.train_step(x, t, opt) for net, opt in zip(nets, opts)]
            worst = max(worst, abs(losses[0] - losses[1]))
        a, b = (net.get_params() for net in nets)
        for name in a:
            flat_a = [v for row in a[name] for v in (row if isinstance(row, list) else [row])]
            flat_b = [v for row in b[name] for v in (row if isinstance(row, list) else [row])]
            worst = max(worst, max(abs(u - v) for u, v in zip(flat_a, flat_b)))
    print(worst)
""")


def test_parallel_mode_with_three_parts():
    """The part count is the machine's thread count: check one that splits W1's 12 rows and the
    examples unevenly (in a child process, since Numba fixes it at start-up)."""
    env = {**os.environ, "NUMBA_NUM_THREADS": "3"}
    done = subprocess.run([sys.executable, "-c", THREE_PARTS_PROGRAM], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) <= PARALLEL_TOLERANCE


CHANGED_KERNEL_PROGRAM = textwrap.dedent("""
    from loopnet import SGD, MultiLayerNet
    x = [[0.5, 0.0, 1.0, 0.25] * 3] * 4
    t = [0, 1, 2, 3]
    nets = [MultiLayerNet([12, 7, 4], backend="numba", parallel=p, seed=1) for p in (False, True)]
    for net in nets:
        net.train_step(x, t, SGD(0.1))
    a, b = (net.get_params()["W1"] for net in nets)
    print(max(abs(u - v) for row_a, row_b in zip(a, b) for u, v in zip(row_a, row_b)))
""")


@pytest.mark.slow
def test_cached_parallel_code_follows_a_changed_kernels_source(tmp_path):
    """Numba's cache checks only a function's own file; after kernels.py changes, parallel mode
    must not keep running the old kernels compiled into its cached functions."""
    package = tmp_path / "loopnet"
    shutil.copytree(os.path.dirname(sys.modules["loopnet"].__file__), package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def difference() -> float:
        done = subprocess.run([sys.executable, "-c", CHANGED_KERNEL_PROGRAM], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        return float(done.stdout)

    assert difference() <= PARALLEL_TOLERANCE  # compiles and caches both modes
    kernels = package / "kernels.py"
    source = kernels.read_text()
    sgd_line = "# W ← W - η · ΔW\n    for i in range(len(p)):\n        p[i] -= lr * g[i]"
    assert source.count(sgd_line) == 1
    kernels.write_text(source.replace(sgd_line, sgd_line.replace("lr *", "0.5 * lr *")))
    assert difference() <= PARALLEL_TOLERANCE  # both modes now run the halved step


TRAIN_PROGRAM = textwrap.dedent("""
    import sys
    from loopnet import MultiLayerNet, SGD
    from loopnet.data import generate_digits
    from loopnet.training import Trainer
    data = generate_digits(40, seed=1)
    for parallel in (False, True):
        net = MultiLayerNet([784, 8, 10], backend="numba", parallel=parallel)
        Trainer(net, SGD(0.1), data, data, batch_size=10).run(epochs=1)
""")


def test_second_process_loads_every_training_kernel_from_the_cache(tmp_path):
    """Nothing is compiled (so nothing saved) when the same training runs again."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1",
           "LOOPNET_CACHE": str(tmp_path / "data")}
    runs = [subprocess.run([sys.executable, "-c", TRAIN_PROGRAM], env=env, capture_output=True,
                           text=True, timeout=900) for _ in range(2)]
    for done in runs:
        assert done.returncode == 0, done.stderr
    assert "data saved" in runs[0].stdout
    saved = [line for line in runs[1].stdout.splitlines() if "data saved" in line]
    assert saved == []


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.sets(st.integers(0, 29), max_size=30), min_size=1, max_size=8),
       parts=st.integers(1, 4))
def test_parallel_row_bounds_share_the_nonzero_inputs_evenly(rows, parts):
    """Each part's rows of W1 hold its share of the non-zero inputs, give or take one input's
    count; the bounds cover all rows in order."""
    import numpy as np

    from loopnet.backends.numba_parallel import input_bounds

    row_start = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    input_index = np.array([i for r in rows for i in sorted(r)], dtype=np.int32)
    bounds = input_bounds(row_start, input_index, len(rows), 30, parts)
    assert bounds[0] == 0 and bounds[-1] == 30 and list(bounds) == sorted(bounds)
    per_input = np.bincount(input_index, minlength=30)
    total = len(input_index)
    most = per_input.max(initial=0)
    for t in range(parts):
        share = per_input[bounds[t]:bounds[t + 1]].sum()
        assert share <= total / parts + most
