"""The learner-facing API of the lessons: the step activation (forward only), the loss functions
on lists, and numerical_gradient / gradient_descent of any Python function."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import loopnet
from loopnet.errors import ConfigError, ShapeError

XOR_PARAMS = {"W1": [[-0.5, 0.5], [-0.5, 0.5]], "b1": [0.7, -0.2], "W2": [[0.5], [0.5]],
              "b2": [-0.7]}


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba_required)])
def test_step_network_predicts_xor(backend):
    net = loopnet.MultiLayerNet([2, 2, 1], activation="step", output="identity", backend=backend)
    net.set_params(XOR_PARAMS)
    scores = net.predict([[0, 0], [1, 0], [0, 1], [1, 1]])
    assert [int(a > 0) for (a,) in scores] == [0, 1, 1, 0]
    assert net.loss([[1, 0]], [[1.0]]) == pytest.approx(0.5 * (0.3 - 1.0) ** 2)


def test_step_network_refuses_every_way_of_training():
    from loopnet.data import Dataset
    from loopnet.training import Trainer

    net = loopnet.MultiLayerNet([2, 2, 2], activation="step")
    x, t = [[0.0, 1.0]], [1]
    calls = [lambda: net.gradient(x, t), lambda: net.numerical_gradient(x, t),
             lambda: net.train_step(x, t, loopnet.SGD(0.1)),
             lambda: Trainer(net, loopnet.SGD(0.1), Dataset(bytes(2), bytes(1), 2, 2))]
    for call in calls:
        with pytest.raises(ConfigError, match="derivative is 0"):
            call()


def test_losses_on_lists_batches_and_labels():
    y = [0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0]
    t = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert loopnet.mean_squared_error(y, t) == pytest.approx(0.0975, abs=1e-15)
    assert loopnet.cross_entropy_error(y, t) == pytest.approx(-math.log(0.6 + 1e-7), abs=1e-15)
    assert loopnet.cross_entropy_error(y, 2) == loopnet.cross_entropy_error(y, t)
    assert loopnet.cross_entropy_error([y, y], [2, t]) == loopnet.cross_entropy_error(y, t)
    assert loopnet.cross_entropy_error([1.0, 0.0], 0, guard=0.0) == 0.0
    for bad in (lambda: loopnet.mean_squared_error(y, t[:3]),
                lambda: loopnet.cross_entropy_error(y, 12),
                lambda: loopnet.mean_squared_error([y, y], [t])):
        with pytest.raises(ShapeError):
            bad()


@given(st.lists(st.floats(-100, 100), min_size=1, max_size=6))
def test_numerical_gradient_of_a_quadratic(point):
    grad = loopnet.numerical_gradient(lambda x: sum(3.0 * v * v - v for v in x), point)
    assert grad == pytest.approx([6.0 * v - 1.0 for v in point], rel=1e-6, abs=1e-5)


def test_gradient_descent_leaves_x0_alone_and_checks_steps():
    x0 = [3.0, 4.0]
    x = loopnet.gradient_descent(lambda x: x[0] ** 2 + x[1] ** 2, x0, lr=0.1, steps=100)
    assert x0 == [3.0, 4.0] and max(map(abs, x)) < 1e-9
    assert loopnet.gradient_descent(lambda x: x[0], x0, steps=0) == x0
    with pytest.raises(ConfigError):
        loopnet.gradient_descent(lambda x: x[0], x0, steps=-1)
