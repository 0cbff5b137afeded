"""Sigmoid output units with the logistic cost or squared error, the log guard g, and the
supported (output, loss) pairs."""
from __future__ import annotations

import itertools
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest import approx

from loopnet import ConfigError, MultiLayerNet, kernels
from loopnet.errors import DataError
from loopnet.gradcheck import check_gradients, random_problem, relative_difference
from loopnet.optimizers import SGD

A = [-1.5, 0.25, 3.0]
T = [0.0, 1.0, 0.3]  # a soft teacher in the last unit: both logistic terms count


def sigma(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


# ---- kernels ---------------------------------------------------------------------------------
@pytest.mark.parametrize("g", [1e-7, 0.0, 0.01])
def test_sigmoid_cross_entropy_forward_hand_values(g):
    y = [0.0] * 3
    e = kernels.sigmoid_with_cross_entropy_forward(A, y, T, 0, 3, g)
    assert y == approx([sigma(v) for v in A], rel=1e-15)
    # E = -Σ_k [T_k·log(Y_k + g) + (1 - T_k)·log(1 - Y_k + g)]
    expected = -sum(t * math.log(sigma(a) + g) + (1 - t) * math.log(1 - sigma(a) + g)
                    for a, t in zip(A, T))
    assert e == approx(expected, rel=1e-14)


def test_sigmoid_cross_entropy_reads_the_teacher_at_its_offset():
    y = [0.0] * 3
    assert (kernels.sigmoid_with_cross_entropy_forward(A, y, [9.0, 9.0, *T], 2, 3, 1e-7)
            == kernels.sigmoid_with_cross_entropy_forward(A, y, T, 0, 3, 1e-7))


def test_sigmoid_squared_error_forward_and_backward_hand_values():
    y = [0.0] * 3
    e = kernels.sigmoid_with_squared_error_forward(A, y, T, 0, 3)
    Y = [sigma(v) for v in A]
    assert e == approx(0.5 * sum((yk - tk) ** 2 for yk, tk in zip(Y, T)), rel=1e-14)
    da = [0.0] * 3
    kernels.output_with_loss_backward(kernels.SIGMOID_SQUARED_ERROR, y, T, 0, da, 3, 4)
    # a_k = (Y_k - T_k) · Y_k · (1 - Y_k) / N
    assert da == approx([(yk - tk) * yk * (1 - yk) / 4 for yk, tk in zip(Y, T)], rel=1e-14)


def test_sigmoid_cross_entropy_backward_is_y_minus_t_over_n():
    y = [0.0] * 3
    kernels.sigmoid_with_cross_entropy_forward(A, y, T, 0, 3, 1e-7)
    da = [0.0] * 3
    kernels.output_with_loss_backward(kernels.SIGMOID_CROSS_ENTROPY, y, T, 0, da, 3, 2)
    assert da == [(y[k] - T[k]) / 2 for k in range(3)]


def _guarded_derivative(a: float, t: float, g: float, h: float = 1e-5) -> float:
    """dE/dA of one unit's guarded logistic cost, by central difference."""
    def cost(v):
        y = [0.0]
        return kernels.sigmoid_with_cross_entropy_forward([v], y, [t], 0, 1, g)
    return (cost(a + h) - cost(a - h)) / (2 * h)


@pytest.mark.parametrize("a, t", [(-2.0, 1.0), (0.5, 1.0), (-6.0, 0.0), (3.0, 0.0)])
def test_the_guard_scales_the_logistic_derivative_by_p_over_p_plus_g(a, t):
    """The backward a_k = Y_k - T_k is the derivative of the unguarded cost.  The guarded one's
    is (Y_k - T_k) · P/(P + g), P the probability of the true value (Y_k for T_k = 1, 1 - Y_k
    for T_k = 0): relatively g/(P + g) less.  A large g makes the factor measurable."""
    g = 0.05
    y = sigma(a)
    p = y if t == 1.0 else 1.0 - y
    assert _guarded_derivative(a, t, g) == approx((y - t) * p / (p + g), rel=1e-8)
    assert _guarded_derivative(a, t, 0.0) == approx(y - t, rel=1e-8)
    assert abs(_guarded_derivative(a, t, g) - (y - t)) > 1e-3 * abs(y - t)  # the guard acts


def test_no_guard_gives_an_infinite_loss_never_nan():
    """With g = 0, a true value whose probability is exactly 0 gives E = +inf (documented);
    the gradient stays finite.  Terms whose factor T_k or 1 - T_k is 0 are skipped, so
    0·log(0) never makes a NaN."""
    y = [0.0] * 2
    # σ(40) rounds to exactly 1: with T = 1 the cost is log(1) = 0, with T = 0 it is -log(0)
    assert kernels.sigmoid_with_cross_entropy_forward([40.0, -800.0], y, [1.0, 0.0], 0, 2,
                                                      0.0) == 0.0
    assert y == [1.0, 0.0]
    assert kernels.sigmoid_with_cross_entropy_forward([40.0, 0.0], y, [0.0, 0.5], 0, 2,
                                                      0.0) == math.inf
    assert kernels.softmax_with_loss_forward([-1000.0, 1000.0], y, [1.0, 0.0], 0, 2,
                                             0.0) == math.inf
    # the default guard keeps it finite: -log(1e-7)
    assert kernels.sigmoid_with_cross_entropy_forward([40.0], y, [0.0], 0, 1,
                                                      1e-7) == approx(-math.log(1e-7))


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_network_loss_without_guard_is_inf_on_both_backends(backend):
    if backend == "numba":
        pytest.importorskip("numba")
    net = MultiLayerNet([2, 2], output="sigmoid", log_guard=0.0, backend=backend)
    net.set_params({"W1": [[100.0, 0.0], [0.0, 0.0]], "b1": [0.0, 0.0]})
    x = [[1.0, 0.0]]
    assert net.loss(x, [[0.0, 0.0]]) == math.inf  # σ(100) == 1 with T = 0
    assert net.loss(x, [[1.0, 0.0]]) == approx(math.log(2.0))
    assert all(math.isfinite(v) for row in net.gradient(x, [[0.0, 0.0]])["W1"] for v in row)


# ---- configuration ---------------------------------------------------------------------------
def test_default_loss_per_output():
    assert MultiLayerNet([3, 2]).loss_name == "cross_entropy"
    assert MultiLayerNet([3, 2], output="sigmoid").loss_name == "cross_entropy"
    assert MultiLayerNet([3, 2], output="identity").loss_name == "squared_error"
    net = MultiLayerNet([3, 2], output="sigmoid", loss="squared_error", log_guard=0)
    assert net.config() == {"sizes": [3, 2], "activation": "relu", "output": "sigmoid",
                            "loss": "squared_error", "log_guard": 0.0, "weight_decay": 0.0}
    assert MultiLayerNet([3, 2]).log_guard == 1e-7


@pytest.mark.parametrize("output, loss", [("softmax", "squared_error"),
                                          ("identity", "cross_entropy"),
                                          ("sigmoid", "hinge")])
def test_unsupported_pair_names_the_supported_ones(output, loss):
    with pytest.raises(ConfigError) as info:
        MultiLayerNet([3, 2], output=output, loss=loss)
    message = str(info.value)
    assert f"{output}+{loss}" in message
    for pair in ("softmax+cross_entropy", "sigmoid+cross_entropy", "sigmoid+squared_error",
                 "identity+squared_error"):
        assert pair in message


@pytest.mark.parametrize("guard", [-1e-7, math.inf, math.nan, "x", None, True])
def test_bad_log_guard(guard):
    with pytest.raises(ConfigError, match="log_guard"):
        MultiLayerNet([3, 2], log_guard=guard)


# ---- gradient check --------------------------------------------------------------------------
PAIRS = [("softmax", "cross_entropy"), ("sigmoid", "cross_entropy"),
         ("sigmoid", "squared_error"), ("identity", "squared_error")]


def hand_relative_difference(net, x, t) -> float:
    """ex4's measure: ‖backprop - numerical‖ / ‖backprop + numerical‖ over every parameter."""
    backprop, numerical = net.gradient(x, t), net.numerical_gradient(x, t)
    diff = total = 0.0
    for name in net.names:
        rows_b, rows_n = backprop[name], numerical[name]
        if name[0] == "b":
            rows_b, rows_n = [rows_b], [rows_n]
        for rb, rn in zip(rows_b, rows_n):
            for b, n in zip(rb, rn):
                diff += (b - n) ** 2
                total += (b + n) ** 2
    return math.sqrt(diff) / math.sqrt(total)


@pytest.mark.parametrize("activation, pair, weight_decay",
                         list(itertools.product(["relu", "sigmoid", "tanh"], PAIRS, [0.0, 0.1])))
def test_gradcheck_every_activation_output_and_loss(activation, pair, weight_decay):
    """Every pair passes the check with and without the guard; without it the relative
    difference gets below ex4's 1e-9 (measured 8e-13 .. 5.4e-10 here), where the guard holds a
    cross-entropy at ~1e-7 (measured 1e-7 .. 2e-7).  Weights N(0, 0.12²): ex4's ε scale; h is
    the book's 1e-4, whose truncation error is what remains."""
    output, loss = pair
    sizes = [6, 5, 4]
    x, t = random_problem(sizes, output, 3, seed=2)
    for guard in (1e-7, 0.0):
        net = MultiLayerNet(sizes, activation=activation, output=output, loss=loss,
                            log_guard=guard, weight_init=0.12, weight_decay=weight_decay, seed=1)
        checks = check_gradients(net, x, t)
        assert all(c.failures == 0 for c in checks)
        difference = relative_difference(checks)
        if guard == 0.0:  # ex4's "below 1e-9", reached once the guard is off
            assert difference <= 1e-9
        elif loss == "cross_entropy":  # the guard's own effect, far above rounding
            assert difference > 5e-8


def test_relative_difference_is_ex4s_norm_ratio():
    net = MultiLayerNet([5, 4, 3], activation="sigmoid", output="sigmoid", log_guard=0.0,
                        weight_init=0.12, seed=4)
    x, t = random_problem([5, 4, 3], "sigmoid", 4, seed=5)
    expected = hand_relative_difference(net, x, t)
    assert 0.0 < expected < 1e-9
    assert relative_difference(check_gradients(net, x, t)) == approx(expected, rel=1e-9)


def test_gradcheck_with_an_infinite_loss_says_why():
    net = MultiLayerNet([2, 2], output="sigmoid", log_guard=0.0)
    net.set_params({"W1": [[100.0, 0.0], [0.0, 0.0]], "b1": [0.0, 0.0]})
    with pytest.raises(DataError, match="infinite.*log guard > 0"):
        check_gradients(net, [[1.0, 0.0]], [[0.0, 0.0]])


# ---- the classic 2-2-2 walkthrough: sigmoid hidden and output units, squared error --------------
def test_two_two_two_walkthrough_numbers():
    net = MultiLayerNet([2, 2, 2], activation="sigmoid", output="sigmoid", loss="squared_error")
    # w1..w4 from the inputs to the hidden units, w5..w8 from the hidden units to the outputs
    net.set_params({"W1": [[0.15, 0.25], [0.20, 0.30]], "b1": [0.35, 0.35],
                    "W2": [[0.40, 0.50], [0.45, 0.55]], "b2": [0.60, 0.60]})
    x, t = [[0.05, 0.10]], [[0.01, 0.99]]
    assert net.loss(x, t) == approx(0.298371109, abs=5e-10)
    net.train_step(x, t, SGD(0.5))
    W2 = net.get_params()["W2"]
    assert [W2[0][0], W2[1][0], W2[0][1], W2[1][1]] == approx(
        [0.35891648, 0.408666186, 0.511301270, 0.561370121], abs=5e-9)


def test_trainer_stops_with_a_clear_error_on_an_infinite_loss():
    """g = 0 and a saturated sigmoid unit: the Trainer names the cause instead of a divergence."""
    from loopnet.data import Dataset
    from loopnet.errors import TrainingDivergedError
    from loopnet.training import Trainer

    net = MultiLayerNet([2, 2], output="sigmoid", log_guard=0.0)
    net.set_params({"W1": [[0.0, 900.0], [0.0, 0.0]], "b1": [0.0, 0.0]})
    data = Dataset(bytes([255, 0, 255, 0]), [0, 0], 2, 2, (1, 2))
    with pytest.raises(TrainingDivergedError, match="log_guard 0.*log guard > 0"):
        Trainer(net, SGD(1e-9), data, batch_size=2).run(iters=1)


# ---- command line ----------------------------------------------------------------------------
def _cli(capsys, *argv):
    from loopnet.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_gradcheck_cli_without_guard_reaches_ex4s_bound(capsys, loss):
    code, out, err = _cli(capsys, "gradcheck", "--activation", "sigmoid", "--output", "sigmoid",
                          "--loss", loss, "--log-guard", "0", "--init", "0.12", "--backend",
                          "python")
    assert code == 0, out + err
    assert f"sigmoid/sigmoid+{loss} g=0" in out
    difference = float(out.split("‖backprop + numerical‖ = ")[1].split()[0])
    assert 0.0 < difference <= 1e-9


def test_train_cli_sigmoid_squared_error_saves_loss_and_guard(capsys, tmp_path, private_cache):
    import json

    path = tmp_path / "m.json"
    code, out, err = _cli(capsys, "train", "--limit", "200", "--iters", "4", "--hidden", "8",
                          "--backend", "python", "--quiet", "--activation", "sigmoid",
                          "--output", "sigmoid", "--loss", "squared_error", "--log-guard", "0",
                          "--save", str(path))
    assert code == 0, err
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["output"], data["loss"], data["log_guard"]) == ("sigmoid", "squared_error", 0.0)


def test_train_cli_unsupported_pair_is_one_line_before_any_work(capsys, tmp_path):
    code, out, err = _cli(capsys, "train", "--output", "softmax", "--loss", "squared_error",
                          "--data", str(tmp_path / "missing"), "--save", str(tmp_path / "m.json"))
    assert code == 2
    assert err.startswith("loopnet: error:") and len(err.strip().splitlines()) == 1
    assert "softmax+squared_error" in err and "sigmoid+squared_error" in err  # not the data
    assert list(tmp_path.iterdir()) == []


# ---- properties: never NaN, and the same bits compiled ---------------------------------------
SCORES = st.lists(st.floats(-800.0, 800.0), min_size=1, max_size=5)
TEACHER = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))
GUARD = st.one_of(st.just(0.0), st.just(1e-7), st.floats(0.0, 1.0))


@settings(max_examples=300, deadline=None)
@given(a=SCORES, data=st.data(), g=GUARD)
def test_logistic_cost_is_never_nan(a, data, g):
    n = len(a)
    t = data.draw(st.lists(TEACHER, min_size=n, max_size=n))
    y = [0.0] * n
    e = kernels.sigmoid_with_cross_entropy_forward(a, y, t, 0, n, g)
    assert not math.isnan(e)
    assert e >= -2 * n * math.log1p(g)  # each log(p + g) <= log(1 + g)
    assert e != math.inf or g == 0.0  # inf only without the guard
    da = [0.0] * n
    kernels.output_with_loss_backward(kernels.SIGMOID_CROSS_ENTROPY, y, t, 0, da, n, 3)
    assert all(math.isfinite(v) for v in da)


@settings(max_examples=100, deadline=None)
@given(a=SCORES, data=st.data(), g=GUARD)
def test_output_losses_compiled_are_bitwise_the_python_ones(a, data, g):
    """Every output/loss kernel, python and Numba, on the same numbers: the same bits (the
    infinite loss of g = 0 included)."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("numba")
    from loopnet.backends.numba_compile import compiled_kernels

    compiled = compiled_kernels()
    n = len(a)
    t = data.draw(st.lists(TEACHER, min_size=n, max_size=n))
    for code in (kernels.SOFTMAX, kernels.IDENTITY, kernels.SIGMOID_CROSS_ENTROPY,
                 kernels.SIGMOID_SQUARED_ERROR):
        Z, H = [[0.0], list(a)], [[0.0], [0.0] * n]
        e = kernels.output_loss(code, g, Z, H, t, 0, [1, 1, n])
        Zc = (np.zeros(1), np.array(a, dtype=np.float64))
        Hc = (np.zeros(1), np.zeros(n))
        ec = compiled.output_loss(code, g, Zc, Hc, np.array(t, dtype=np.float64), 0,
                                  np.array([1, 1, n], dtype=np.int64))
        assert struct.pack("<d", e) == struct.pack("<d", ec), code
        assert [struct.pack("<d", v) for v in H[1]] == [struct.pack("<d", v) for v in Hc[1]]


RESUMABLE = ["train", "--limit", "200", "--hidden", "6", "--batch-size", "10", "--backend",
             "python", "--quiet", "--activation", "sigmoid", "--output", "sigmoid", "--loss",
             "squared_error", "--log-guard", "0", "--lr", "0.5"]


def test_resume_keeps_the_loss_and_guard_of_the_run(capsys, tmp_path, private_cache):
    import json

    ck, resumed, whole = tmp_path / "ck.json", tmp_path / "resumed.json", tmp_path / "whole.json"
    assert _cli(capsys, *RESUMABLE, "--iters", "10", "--checkpoint", str(ck))[0] == 0
    code, out, err = _cli(capsys, "train", "--resume", str(ck), "--iters", "20", "--save",
                          str(resumed), "--backend", "python", "--quiet")
    assert code == 0, err
    assert _cli(capsys, *RESUMABLE, "--iters", "20", "--save", str(whole))[0] == 0
    saved = json.loads(resumed.read_text(encoding="utf-8"))
    assert (saved["loss"], saved["log_guard"]) == ("squared_error", 0.0)
    assert saved["params"] == json.loads(whole.read_text(encoding="utf-8"))["params"]
    code, out, err = _cli(capsys, "train", "--resume", str(ck), "--loss", "cross_entropy")
    assert code == 2 and "--loss cross_entropy differs" in err


def test_a_checkpoint_without_loss_settings_resumes_with_the_defaults(capsys, tmp_path,
                                                                      private_cache):
    import json

    ck = tmp_path / "ck.json"
    argv = ["train", "--limit", "200", "--hidden", "6", "--batch-size", "10", "--backend",
            "python", "--quiet", "--iters", "5", "--checkpoint", str(ck)]
    assert _cli(capsys, *argv)[0] == 0
    doc = json.loads(ck.read_text(encoding="utf-8"))
    del doc["run"]["loss"], doc["run"]["log_guard"]  # as written before these flags existed
    ck.write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = _cli(capsys, "train", "--resume", str(ck), "--iters", "8", "--backend",
                          "python", "--quiet")
    assert code == 0, err


def test_compare_cli_sigmoid_outputs_within_1e12(capsys, tmp_path, private_cache):
    import json

    pytest.importorskip("numpy")
    out_json = tmp_path / "c.json"
    code, out, err = _cli(capsys, "compare", "--sizes", "784,8,10", "--activation", "sigmoid",
                          "--output", "sigmoid", "--loss", "squared_error", "--log-guard", "0",
                          "--batch-size", "5", "--steps", "2", "--against", "numpy",
                          "--backend", "python", "--json", str(out_json))
    assert code == 0, out + err
    assert "sigmoid/sigmoid+squared_error g=0" in out
    doc = json.loads(out_json.read_text(encoding="utf-8"))
    assert doc["ok"] and (doc["config"]["loss"], doc["config"]["log_guard"]) == (
        "squared_error", 0.0)
    assert max(row["max_abs"] for row in doc["oracles"]["numpy"]["rows"]) <= 1e-12
