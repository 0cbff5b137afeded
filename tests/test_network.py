"""MultiLayerNet / TwoLayerNet: parameters, predictions, gradients, init schemes, bad input."""

import itertools
import math
import statistics

import pytest

from loopnet import (
    BackendError,
    ConfigError,
    DataError,
    LoopnetError,
    MultiLayerNet,
    ShapeError,
    TwoLayerNet,
)
from loopnet.gradcheck import random_problem

SIZES = [5, 6, 4, 3]


def flat(values):
    """Nested rows or a flat list, as one flat list."""
    out = []
    for v in values:
        out.extend(v if isinstance(v, list) else [v])
    return out


def problem(output="softmax", examples=3, seed=7, sizes=SIZES):
    return random_problem(sizes, output, examples, seed)


# ---- parameters ---------------------------------------------------------------------------
def test_param_names_and_shapes():
    net = MultiLayerNet(SIZES)
    params = net.get_params()
    assert list(params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    for layer, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        assert len(W) == n_in and all(len(row) == n_out for row in W)
        assert b == [0.0] * n_out  # biases start at zero
        # the live flat buffer is row-major: W[i * n_out + j] = W_{i,j}
        assert list(net.params[f"W{layer}"]) == [v for row in W for v in row]


def shifted(params, delta):
    return {k: ([[v + delta for v in row] for row in p] if isinstance(p[0], list)
                else [v + delta for v in p]) for k, p in params.items()}


@pytest.mark.parametrize("kind", ["lists", "tuples", "numpy"])
def test_set_params_round_trip(kind):
    source = MultiLayerNet(SIZES, weight_init="he", seed=3)
    wanted = shifted(source.get_params(), 0.125)
    if kind == "tuples":
        given = {k: tuple(tuple(r) if isinstance(r, list) else r for r in p)
                 for k, p in wanted.items()}
    elif kind == "numpy":
        np = pytest.importorskip("numpy", reason="NumPy input needs numpy (not installed)")
        given = {k: np.array(p) for k, p in wanted.items()}
    else:
        given = wanted
    net = MultiLayerNet(SIZES, seed=99)
    net.set_params(given)
    assert net.get_params() == wanted  # exact: no arithmetic on the way


def test_get_params_returns_copies():
    net = MultiLayerNet(SIZES)
    params = net.get_params()
    params["W1"][0][0] = 1234.0
    params["b1"][0] = 1234.0
    assert net.get_params()["W1"][0][0] != 1234.0
    assert net.get_params()["b1"][0] == 0.0


@pytest.mark.parametrize("change", [
    lambda p: p.__setitem__("W2", p["W2"][:-1]),                    # one row short
    lambda p: p.__setitem__("W2", [row + [0.0] for row in p["W2"]]),  # one column too many
    lambda p: p.__setitem__("b3", p["b3"] + [0.0]),                 # bias too long
    lambda p: p.__setitem__("W3", flat(p["W3"])),                    # flat instead of rows
    lambda p: p.pop("b2"),                                           # missing tensor
    lambda p: p.__setitem__("W9", [[0.0]]),                          # unknown tensor
], ids=["rows", "cols", "bias", "flat", "missing", "unknown"])
def test_set_params_shape_errors_change_nothing(change):
    net = MultiLayerNet(SIZES, weight_init="he", seed=5)
    before = net.get_params()
    new = shifted(before, 1.0)  # every tensor valid except the one `change` breaks
    change(new)
    with pytest.raises(ShapeError):
        net.set_params(new)
    assert net.get_params() == before  # all or nothing: W1, b1 ... were not written either


def test_set_params_rejects_nan_without_writing():
    net = MultiLayerNet(SIZES, seed=1)
    before = net.get_params()
    new = shifted(before, 1.0)
    new["W3"][1][1] = math.nan
    with pytest.raises(DataError):
        net.set_params(new)
    assert net.get_params() == before


# ---- predict / loss / accuracy ----------------------------------------------------------------
def one_hot(labels, n):
    return [[1.0 if k == label else 0.0 for k in range(n)] for label in labels]


def test_loss_and_accuracy_accept_ints_and_one_hot():
    net = MultiLayerNet(SIZES, weight_init="he", seed=4)
    x, t = problem()
    assert net.loss(x, t) == net.loss(x, one_hot(t, 3))
    assert net.accuracy(x, t) == net.accuracy(x, one_hot(t, 3))
    assert net.gradient(x, t) == net.gradient(x, one_hot(t, 3))


def test_accuracy_is_fraction_of_argmax_hits():
    net = MultiLayerNet(SIZES, weight_init="he", seed=4)
    x, _ = problem(examples=12)
    scores = net.predict(x)
    predicted = [max(range(3), key=row.__getitem__) for row in scores]
    labels = [(p + 1) % 3 if i % 3 == 0 else p for i, p in enumerate(predicted)]  # 4 of 12 wrong
    assert net.accuracy(x, labels) == pytest.approx(8 / 12)
    assert net.accuracy(x, predicted) == 1.0


def test_predict_is_last_affine_before_softmax():
    net = MultiLayerNet([2, 2], output="softmax")
    net.set_params({"W1": [[1.0, -2.0], [0.5, 3.0]], "b1": [0.25, -0.5]})
    # A_k = b_k + x1·W_{1,k} + x2·W_{2,k}
    assert net.predict([[2.0, 4.0]]) == [[0.25 + 2.0 * 1.0 + 4.0 * 0.5, -0.5 + 2.0 * -2.0 + 4.0 * 3.0]]


def test_loss_is_mean_over_batch():
    net = MultiLayerNet(SIZES, weight_init="he", seed=8)
    x, t = problem(examples=4)
    singles = [net.loss([row], [label]) for row, label in zip(x, t)]
    assert net.loss(x, t) == pytest.approx(sum(singles) / 4, rel=1e-14)


def test_gradient_does_not_change_parameters():
    net = MultiLayerNet(SIZES, weight_init="he", seed=8)
    before = net.get_params()
    x, t = problem()
    net.gradient(x, t)
    net.numerical_gradient(x, t)
    assert net.get_params() == before


# ---- numerical vs backprop, every activation × output × weight decay ---------------------------
@pytest.mark.parametrize("activation, output, weight_decay", list(itertools.product(
    ["relu", "sigmoid", "tanh"], ["softmax", "identity"], [0.0, 0.1])))
def test_numerical_gradient_agrees(activation, output, weight_decay):
    net = MultiLayerNet(SIZES, activation=activation, output=output, weight_init="he",
                        weight_decay=weight_decay, seed=3)
    x, t = problem(output)
    backprop = net.gradient(x, t)
    numeric = net.numerical_gradient(x, t)
    # softmax: the 1e-7 log guard moves the numerical derivative by up to ~1e-7/Y;
    # identity: only O(h²) truncation and rounding remain
    atol = 1e-6 if output == "softmax" else 5e-9
    for name in net.names:
        assert flat(numeric[name]) == pytest.approx(flat(backprop[name]), rel=0, abs=atol), name
    assert any(abs(v) > 1e-3 for v in flat(backprop["W1"]))  # a non-trivial gradient


@pytest.mark.parametrize("output", ["softmax", "identity"])
def test_weight_decay_in_loss_and_gradient(output):
    lam = 0.3
    plain = MultiLayerNet(SIZES, output=output, weight_init="he", seed=6)
    decayed = MultiLayerNet(SIZES, output=output, weight_init="he", seed=6, weight_decay=lam)
    assert plain.get_params() == decayed.get_params()
    x, t = problem(output)
    params = plain.get_params()
    sum_w2 = sum(v * v for name in ("W1", "W2", "W3") for v in flat(params[name]))
    # L = (1/N) Σ E + (λ/2) Σ W²   (biases not decayed)
    assert decayed.loss(x, t) == pytest.approx(plain.loss(x, t) + lam / 2 * sum_w2, rel=1e-13)
    g0, g1 = plain.gradient(x, t), decayed.gradient(x, t)
    for name in plain.names:
        extra = flat(params[name]) if name.startswith("W") else [0.0] * len(flat(params[name]))
        expected = [g + lam * w for g, w in zip(flat(g0[name]), extra)]
        assert flat(g1[name]) == pytest.approx(expected, rel=1e-13, abs=1e-16), name


# ---- initialisation ---------------------------------------------------------------------------
def sample_std(values):
    return statistics.pstdev(values)


@pytest.mark.parametrize("scheme, sigma", [
    ("he", math.sqrt(2.0 / 784)),
    ("xavier", math.sqrt(1.0 / 784)),
    (0.01, 0.01),
])
def test_normal_init_std(scheme, sigma):
    W = MultiLayerNet([784, 100], weight_init=scheme, seed=1).params["W1"]
    assert len(W) == 78400
    assert sample_std(W) == pytest.approx(sigma, rel=0.03)
    assert abs(statistics.fmean(W)) < 4 * sigma / math.sqrt(78400)
    assert max(abs(v) for v in W) > 3 * sigma  # a normal, not a clipped/uniform draw


def test_uniform_init_bounds():
    eps = math.sqrt(6.0) / math.sqrt(784 + 100)  # Coursera ex4: U[-ε, ε]
    W = list(MultiLayerNet([784, 100], weight_init="uniform", seed=1).params["W1"])
    assert all(-eps <= v <= eps for v in W)
    assert min(W) < -0.99 * eps and max(W) > 0.99 * eps
    assert sample_std(W) == pytest.approx(eps / math.sqrt(3.0), rel=0.03)


def test_init_std_is_per_layer():
    net = MultiLayerNet([400, 200, 50], weight_init="he", seed=2)
    assert sample_std(net.params["W1"]) == pytest.approx(math.sqrt(2 / 400), rel=0.05)
    assert sample_std(net.params["W2"]) == pytest.approx(math.sqrt(2 / 200), rel=0.05)


def test_same_seed_same_net_other_seed_other_net():
    a = MultiLayerNet(SIZES, weight_init="he", seed=42).get_params()
    assert a == MultiLayerNet(SIZES, weight_init="he", seed=42).get_params()
    assert a != MultiLayerNet(SIZES, weight_init="he", seed=43).get_params()


def test_two_layer_net_is_multi_layer_net():
    two = TwoLayerNet(6, 5, 3, weight_init_std=0.02, seed=9)
    multi = MultiLayerNet([6, 5, 3], weight_init=0.02, seed=9)
    assert two.get_params() == multi.get_params()
    x, t = problem(sizes=[6, 5, 3], examples=4)
    assert two.predict(x) == multi.predict(x)
    assert two.loss(x, t) == multi.loss(x, t)
    assert two.gradient(x, t) == multi.gradient(x, t)


def test_two_layer_net_defaults_to_books_init():
    assert TwoLayerNet(784, 50, 10).get_params() == MultiLayerNet([784, 50, 10],
                                                                  weight_init=0.01).get_params()


# ---- bad input --------------------------------------------------------------------------------
def net_3_4_3():
    return MultiLayerNet([3, 4, 3])


GOOD_X = [[0.1, 0.2, 0.3], [0.0, 1.0, 0.5]]


@pytest.mark.parametrize("x, error", [
    ([[0.1, 0.2]], ShapeError),
    ([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3, 0.4]], ShapeError),
    ([], ShapeError),
    ([0.1, 0.2, 0.3], ShapeError),  # a single row not wrapped in a list
    ([["a", 0.2, 0.3]], ShapeError),
    ([[0.1, math.nan, 0.3]], DataError),
    ([[0.1, math.inf, 0.3]], DataError),
    ([[-math.inf, 0.2, 0.3]], DataError),
], ids=["short", "ragged", "empty", "unwrapped", "text", "nan", "inf", "-inf"])
def test_bad_inputs(x, error):
    net = net_3_4_3()
    for call in (net.predict, lambda v: net.loss(v, [0] * max(len(v), 1)),
                 lambda v: net.gradient(v, [0] * max(len(v), 1))):
        with pytest.raises(error) as info:
            call(x)
        assert isinstance(info.value, LoopnetError)


@pytest.mark.parametrize("t, error", [
    ([0, 3], DataError),        # label ≥ classes
    ([0, -1], DataError),       # negative
    ([0, 1.5], DataError),      # not an integer
    ([0], ShapeError),          # fewer teachers than rows
    ([0, 1, 2], ShapeError),    # more teachers than rows
    ([[1.0, 0.0], [0.0, 1.0]], ShapeError),          # one-hot rows of the wrong width
    ([[1.0, 0.0, 0.0], [0.0, math.nan, 1.0]], DataError),
], ids=["too-big", "negative", "fraction", "few", "many", "width", "nan-row"])
def test_bad_teachers(t, error):
    net = net_3_4_3()
    for call in (net.loss, net.accuracy, net.gradient):
        with pytest.raises(error) as info:
            call(GOOD_X, t)
        assert isinstance(info.value, LoopnetError)


@pytest.mark.parametrize("label", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_label_is_data_error(label):
    # regression: int(nan) / int(inf) used to escape as ValueError / OverflowError
    net = net_3_4_3()
    for call in (net.loss, net.accuracy, net.gradient):
        with pytest.raises(DataError):
            call(GOOD_X, [0, label])


@pytest.mark.parametrize("kwargs", [
    {"sizes": [3, 0, 3]},
    {"sizes": [3, -4, 3]},
    {"sizes": [0, 3]},
    {"sizes": [3]},
    {"sizes": []},
    {"sizes": [3, 2.0, 3]},
    {"sizes": [3, True, 3]},
    {"activation": "softplus"},
    {"output": "logsoftmax"},
    {"output": "softmax", "loss": "squared_error"},
    {"loss": "mse"},
    {"log_guard": -1.0},
    {"weight_init": "glorot"},
    {"weight_init": 0.0},
    {"weight_init": -0.01},
    {"weight_init": math.nan},
    {"weight_decay": -0.1},
    {"weight_decay": math.inf},
    {"backend": "cuda"},
    {"backend": "python", "parallel": True},
], ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_bad_config(kwargs):
    args = {"sizes": [3, 4, 3], **kwargs}
    with pytest.raises(ConfigError) as info:
        MultiLayerNet(args.pop("sizes"), **args)
    assert isinstance(info.value, LoopnetError)
    assert str(info.value)


def test_error_classes_are_loopnet_errors():
    for cls in (ConfigError, ShapeError, DataError, BackendError):
        assert issubclass(cls, LoopnetError)


def test_non_numeric_weight_decay_is_config_error():
    with pytest.raises(ConfigError):
        MultiLayerNet([3, 4, 3], weight_decay="lots")


def test_input_int_too_large_for_float_is_loopnet_error():
    with pytest.raises(LoopnetError):
        net_3_4_3().predict([[10**400, 0, 0]])
