"""Optimizers: the first two updates of each, worked out by hand with the book's formulas."""

import math

import pytest

from loopnet import SGD, AdaGrad, Adam, ConfigError, LoopnetError, Momentum, MultiLayerNet
from loopnet.errors import ShapeError
from loopnet.optimizers import OPTIMIZERS, make_optimizer

APPROX = {"rel": 1e-13, "abs": 1e-15}

# Two parameters, two steps with different gradients.
P0 = {"W": [1.0, -2.0, 0.5], "b": [0.25]}
G1 = {"W": [0.1, -0.3, 0.0], "b": [2.0]}
G2 = {"W": [-0.2, 0.4, 0.05], "b": [-1.0]}


def fresh():
    return {k: list(v) for k, v in P0.items()}


def two_updates(opt):
    params = fresh()
    opt.update(params, G1)
    after1 = {k: list(v) for k, v in params.items()}
    opt.update(params, G2)
    return after1, params


def approx(values):
    return pytest.approx(values, **APPROX)


def test_sgd_two_steps():
    after1, after2 = two_updates(SGD(lr=0.1))
    # W ← W - η·g
    assert after1["W"] == approx([1.0 - 0.1 * 0.1, -2.0 - 0.1 * -0.3, 0.5 - 0.1 * 0.0])
    assert after1["b"] == approx([0.25 - 0.1 * 2.0])
    assert after2["W"] == approx([0.99 - 0.1 * -0.2, -1.97 - 0.1 * 0.4, 0.5 - 0.1 * 0.05])
    assert after2["b"] == approx([0.05 - 0.1 * -1.0])


def test_momentum_two_steps():
    lr, alpha = 0.1, 0.9
    after1, after2 = two_updates(Momentum(lr=lr, momentum=alpha))
    for key in ("W", "b"):
        expected1, expected2 = [], []
        for p, g1, g2 in zip(P0[key], G1[key], G2[key]):
            v1 = alpha * 0.0 - lr * g1     # v ← α·v - η·g, v starts at 0
            p1 = p + v1                    # W ← W + v
            v2 = alpha * v1 - lr * g2
            expected1.append(p1)
            expected2.append(p1 + v2)
        assert after1[key] == approx(expected1)
        assert after2[key] == approx(expected2)
    # written out for the first weight: v1 = -0.01, v2 = 0.9·(-0.01) + 0.02 = 0.011
    assert after2["W"][0] == pytest.approx(1.0 - 0.01 + 0.011, **APPROX)


def test_adagrad_two_steps():
    lr = 0.5
    after1, after2 = two_updates(AdaGrad(lr=lr))
    for key in ("W", "b"):
        expected1, expected2 = [], []
        for p, g1, g2 in zip(P0[key], G1[key], G2[key]):
            h1 = 0.0 + g1 * g1                          # h ← h + g²
            p1 = p - lr * g1 / (math.sqrt(h1) + 1e-7)   # W ← W - η·g / (√h + 1e-7)
            h2 = h1 + g2 * g2
            expected1.append(p1)
            expected2.append(p1 - lr * g2 / (math.sqrt(h2) + 1e-7))
        assert after1[key] == approx(expected1)
        assert after2[key] == approx(expected2)
    # the first AdaGrad step moves every weight with g ≠ 0 by about η (g / |g|)
    assert after1["b"][0] == pytest.approx(0.25 - 0.5, abs=1e-6)
    assert after1["W"][2] == 0.5  # g = 0: 0 / (0 + 1e-7) = 0, no division by zero


def test_adam_two_steps_book_formulas():
    lr, b1, b2 = 0.01, 0.9, 0.999
    after1, after2 = two_updates(Adam(lr=lr, beta1=b1, beta2=b2))
    lr_t1 = lr * math.sqrt(1.0 - b2**1) / (1.0 - b1**1)
    lr_t2 = lr * math.sqrt(1.0 - b2**2) / (1.0 - b1**2)
    for key in ("W", "b"):
        expected1, expected2 = [], []
        for p, g1, g2 in zip(P0[key], G1[key], G2[key]):
            m1 = 0.0 + (1 - b1) * (g1 - 0.0)          # m ← m + (1-β1)(g - m)
            v1 = 0.0 + (1 - b2) * (g1 * g1 - 0.0)     # v ← v + (1-β2)(g² - v)
            p1 = p - lr_t1 * m1 / (math.sqrt(v1) + 1e-7)
            m2 = m1 + (1 - b1) * (g2 - m1)
            v2 = v1 + (1 - b2) * (g2 * g2 - v1)
            expected1.append(p1)
            expected2.append(p1 - lr_t2 * m2 / (math.sqrt(v2) + 1e-7))
        assert after1[key] == approx(expected1)
        assert after2[key] == approx(expected2)
    # bias correction makes the first step about η·sign(g): b moves from 0.25 by -0.01
    assert after1["b"][0] == pytest.approx(0.25 - 0.01, abs=1e-7)


def test_adam_defaults_are_the_books():
    opt = Adam()
    assert (opt.lr, opt.beta1, opt.beta2) == (0.001, 0.9, 0.999)
    assert Momentum().momentum == 0.9
    assert SGD().lr == 0.01


def test_state_is_kept_per_key():
    opt = Momentum(lr=0.1, momentum=0.5)
    first = {"a": [1.0]}
    opt.update(first, {"a": [1.0]})           # v_a = -0.1, a = 0.9
    assert set(opt.state) == {"a"}
    both = {"a": first["a"], "b": [1.0]}
    opt.update(both, {"a": [1.0], "b": [1.0]})
    # a continues its velocity: v_a = 0.5·(-0.1) - 0.1 = -0.15; b starts from v = 0: v_b = -0.1
    assert both["a"] == pytest.approx([0.9 - 0.15], **APPROX)
    assert both["b"] == pytest.approx([1.0 - 0.1], **APPROX)
    assert set(opt.state) == {"a", "b"}
    assert opt.state["a"][0] == pytest.approx([-0.15], **APPROX)
    assert opt.state["b"][0] == pytest.approx([-0.1], **APPROX)


def test_adagrad_state_is_separate_for_each_key():
    opt = AdaGrad(lr=1.0)
    params = {"x": [0.0], "y": [0.0]}
    opt.update(params, {"x": [3.0], "y": [4.0]})
    assert opt.state["x"][0] == [9.0]
    assert opt.state["y"][0] == [16.0]


def test_sgd_keeps_no_state():
    opt = SGD(lr=0.1)
    params = fresh()
    opt.update(params, G1)
    assert all(buffers == [] for buffers in opt.state.values())


def test_update_accepts_nested_gradients_like_net_gradient():
    opt = SGD(lr=1.0)
    params = {"W": [1.0, 2.0, 3.0, 4.0]}
    opt.update(params, {"W": [[0.5, 0.5], [1.0, 1.0]]})  # 2×2 rows, flattened row-major
    assert params["W"] == [0.5, 1.5, 2.0, 3.0]


def test_update_rejects_missing_or_mis_sized_gradients():
    opt = SGD(lr=0.1)
    params = fresh()
    with pytest.raises(ShapeError):
        opt.update(params, {"W": G1["W"]})
    with pytest.raises(ShapeError):
        opt.update(params, {"W": [0.1, 0.2], "b": [0.0]})
    assert params == P0  # nothing moved


# ---- book-style use on a network --------------------------------------------------------------
def batch():
    x = [[0.0, 0.3, 0.9, 0.1, 0.5], [0.7, 0.0, 0.2, 0.8, 0.0], [0.4, 0.4, 0.0, 0.0, 1.0]]
    return x, [2, 0, 1]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_book_style_update_equals_train_step(name):
    x, t = batch()
    book = MultiLayerNet([5, 4, 3], weight_init="he", seed=11)
    fused = MultiLayerNet([5, 4, 3], weight_init="he", seed=11)
    opt_book, opt_fused = make_optimizer(name, 0.05), make_optimizer(name, 0.05)
    for _ in range(3):
        loss_book = book.loss(x, t)
        opt_book.update(book.params, book.gradient(x, t))
        loss_fused = fused.train_step(x, t, opt_fused)
        assert loss_fused == loss_book
    assert fused.get_params() == book.get_params()
    assert fused.get_params() != MultiLayerNet([5, 4, 3], weight_init="he", seed=11).get_params()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_lowers_the_loss(name):
    x, t = batch()
    net = MultiLayerNet([5, 4, 3], weight_init="he", seed=2)
    opt = make_optimizer(name, 0.1)
    before = net.loss(x, t)
    for _ in range(30):
        net.train_step(x, t, opt)
    assert net.loss(x, t) < before


# ---- bad hyper-parameters -------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: SGD(lr=0),
    lambda: SGD(lr=-0.1),
    lambda: SGD(lr=float("nan")),
    lambda: SGD(lr=float("inf")),
    lambda: Momentum(lr=0.0),
    lambda: Momentum(lr=0.1, momentum=1.0),
    lambda: Momentum(lr=0.1, momentum=-0.1),
    lambda: Momentum(lr=0.1, momentum=float("nan")),
    lambda: AdaGrad(lr=-1.0),
    lambda: Adam(lr=0.0),
    lambda: Adam(beta1=1.0),
    lambda: Adam(beta1=-0.5),
    lambda: Adam(beta2=1.0),
    lambda: Adam(beta2=1.5),
    lambda: make_optimizer("rmsprop", 0.1),
    lambda: make_optimizer("adam", 0.0),
], ids=lambda f: "")
def test_bad_hyper_parameters_raise_config_error(make):
    with pytest.raises(ConfigError) as info:
        make()
    assert isinstance(info.value, LoopnetError)
    assert str(info.value)  # a message, for the CLI's one line


def test_make_optimizer_gives_each_kind():
    for name, cls in OPTIMIZERS.items():
        opt = make_optimizer(name, 0.3)
        assert type(opt) is cls and opt.lr == 0.3


@pytest.mark.parametrize("make", [lambda: SGD(lr="fast"), lambda: Momentum(momentum="high"),
                                  lambda: Adam(beta2="0.999x")], ids=["lr", "momentum", "beta2"])
def test_non_numeric_hyper_parameter_is_config_error(make):
    with pytest.raises(ConfigError):
        make()
