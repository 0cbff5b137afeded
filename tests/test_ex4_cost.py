"""ex4's nnCostFunction, written with NumPy as the exercise states it, against loopnet's sigmoid
output + cross-entropy loss with log_guard 0 and weight_decay = λ/m; and the issue's CLI run."""
from __future__ import annotations

import pytest

from loopnet.cli import main
from loopnet.network import MultiLayerNet
from loopnet.reference.mat_weights import params_from_thetas, thetas_from_params

np = pytest.importorskip("numpy")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def ex4_cost_and_gradient(theta1, theta2, X, classes, lam):
    """J and (Theta1_grad, Theta2_grad) of ex4's nnCostFunction (classes 0..K-1)."""
    m = X.shape[0]
    a1 = np.c_[np.ones(m), X]
    a2 = np.c_[np.ones(m), _sigmoid(a1 @ theta1.T)]
    h = _sigmoid(a2 @ theta2.T)
    Y = np.eye(theta2.shape[0])[classes]
    J = -(Y * np.log(h) + (1 - Y) * np.log(1 - h)).sum() / m
    J += lam / (2 * m) * ((theta1[:, 1:] ** 2).sum() + (theta2[:, 1:] ** 2).sum())
    d3 = h - Y
    d2 = (d3 @ theta2)[:, 1:] * a2[:, 1:] * (1 - a2[:, 1:])
    grad1, grad2 = d2.T @ a1 / m, d3.T @ a2 / m
    grad1[:, 1:] += lam / m * theta1[:, 1:]
    grad2[:, 1:] += lam / m * theta2[:, 1:]
    return J, grad1, grad2


@pytest.mark.parametrize("lam", [0.0, 1.0, 3.0])
def test_loopnet_is_ex4s_cost_function(lam):
    rng = np.random.default_rng(7)
    X = rng.uniform(-1, 1, size=(30, 8))
    classes = rng.integers(0, 4, size=30)
    theta1, theta2 = rng.normal(size=(6, 9)) * 0.5, rng.normal(size=(4, 7)) * 0.5
    net = MultiLayerNet([8, 6, 4], activation="sigmoid", output="sigmoid", loss="cross_entropy",
                        log_guard=0.0, weight_decay=lam / 30)
    net.set_params(params_from_thetas({"Theta1": theta1, "Theta2": theta2}, "test"))
    J, grad1, grad2 = ex4_cost_and_gradient(theta1, theta2, X, classes, lam)
    assert net.loss(X.tolist(), classes.tolist()) == pytest.approx(J, rel=1e-13)
    grads = thetas_from_params(net.gradient(X.tolist(), classes.tolist()))
    assert np.allclose(grads["Theta1"], grad1, rtol=1e-11, atol=1e-15)
    assert np.allclose(grads["Theta2"], grad2, rtol=1e-11, atol=1e-15)


def test_train_sigmoid_output_with_cg_on_a_float_npz(tmp_path, capsys):
    pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 5)) * 3.0
    y = 1 + (X[:, 0] > 0) + (X[:, 1] > 0)  # labels 1..3
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--label-map", "1..3",
                 "--hidden", "6", "--activation", "sigmoid", "--output", "sigmoid",
                 "--optimizer", "cg", "--iters", "50", "--weight-decay", "0.001",
                 "--init", "uniform:0.12:bias", "--backend", "python",
                 "--save", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "iteration   50" in out and "sigmoid/sigmoid" in out
    accuracy = float(out.split("train accuracy ")[1].split(",")[0])
    assert accuracy > 0.9
    assert main(["evaluate", "--model", str(tmp_path / "m.json"), "--data",
                 str(tmp_path / "d.npz"), "--split", "train", "--backend", "python"]) == 0
    assert f"accuracy {accuracy:.4f}" in capsys.readouterr().out
