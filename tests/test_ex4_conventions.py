"""Coursera ex4's conventions: uniform:EPS[:bias] init, Octave Theta1/Theta2 .mat weights, and
full-batch CG / L-BFGS over loopnet's loss and gradient."""
from __future__ import annotations

import sys

import pytest

from loopnet.cli import main
from loopnet.errors import BackendError, ConfigError
from loopnet.network import MultiLayerNet, fixed_uniform_init, init_params

np = pytest.importorskip("numpy")


def test_uniform_eps_init_draws_weights_and_biases_when_asked():
    assert fixed_uniform_init("uniform:0.12") == (0.12, False)
    assert fixed_uniform_init("uniform:0.12:bias") == (0.12, True)
    assert fixed_uniform_init("he") is None
    W1, b1, W2, b2 = init_params([400, 25, 10], "uniform:0.12:bias", seed=1)
    for t in (W1, b1, W2, b2):
        assert all(-0.12 <= v <= 0.12 for v in t)
    assert max(map(abs, W1)) > 0.11 and any(b1) and any(b2)
    assert init_params([4, 3, 2], "uniform:0.12", seed=1)[1] == [0.0] * 3
    for bad in ("uniform:", "uniform:-1", "uniform:0.1:bia", "uniform:nan", "uniform:1:bias:x"):
        with pytest.raises(ConfigError):
            MultiLayerNet([4, 3, 2], weight_init=bad)


def test_thetas_are_bias_column_then_W_transposed():
    from loopnet.reference.mat_weights import params_from_thetas, thetas_from_params

    net = MultiLayerNet([3, 4, 2], weight_init="uniform:0.5:bias", seed=2)
    params = net.get_params()
    thetas = thetas_from_params(params)
    theta1 = np.array(thetas["Theta1"])
    assert theta1.shape == (4, 4) and np.array_equal(theta1[:, 0], params["b1"])
    assert np.array_equal(theta1[:, 1:], np.array(params["W1"]).T)
    back = params_from_thetas({k: np.array(v) for k, v in thetas.items()}, "f")
    assert back == params


def test_mat_export_import_round_trip_and_ex4_defaults(tmp_path, capsys):
    scipy_io = pytest.importorskip("scipy.io")
    from loopnet.model_io import load_model, save_model

    net = MultiLayerNet([5, 4, 3], activation="tanh", weight_init="uniform:0.3:bias", seed=4)
    save_model(net, tmp_path / "m.json")
    assert main(["export", "--model", str(tmp_path / "m.json"), str(tmp_path / "w.mat")]) == 0
    stored = scipy_io.loadmat(tmp_path / "w.mat")
    assert stored["Theta1"].shape == (4, 6) and stored["Theta2"].shape == (3, 5)
    assert main(["import", "--model", str(tmp_path / "back.json"), str(tmp_path / "w.mat")]) == 0
    back = load_model(tmp_path / "back.json", backend="python")
    assert back.get_params() == net.get_params() and back.activation == "tanh"
    # a file as ex4 ships it (Theta1, Theta2 only) is ex4's sigmoid network
    from loopnet.reference.mat_weights import read_mat_weights

    scipy_io.savemat(tmp_path / "ex4.mat", {"Theta1": stored["Theta1"], "Theta2": stored["Theta2"]})
    params, config = read_mat_weights(tmp_path / "ex4.mat")
    assert config == {"activation": "sigmoid", "output": "sigmoid"}
    assert params == net.get_params()


@pytest.mark.parametrize("case", ["wrong-columns", "no-thetas", "gap", "vector", "not-mat"])
def test_bad_theta_files_give_one_line_and_exit_2(tmp_path, capsys, case):
    scipy_io = pytest.importorskip("scipy.io")
    path = tmp_path / "w.mat"
    thetas = {"Theta1": np.ones((25, 401)), "Theta2": np.ones((10, 26))}
    if case == "wrong-columns":
        thetas["Theta2"] = np.ones((10, 25))
    elif case == "no-thetas":
        thetas = {"W": np.ones((2, 2))}
    elif case == "gap":
        thetas = {"Theta1": thetas["Theta1"], "Theta3": thetas["Theta2"]}
    elif case == "vector":
        thetas["Theta1"] = np.ones(5)
    if case == "not-mat":
        path.write_bytes(b"MATLAB 5.0 MAT-file, but no" + bytes(150))
    else:
        scipy_io.savemat(path, thetas)
    assert main(["import", "--model", str(tmp_path / "m.json"), "--activation", "sigmoid",
                 "--output", "softmax", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("loopnet: error: ") and err.count("\n") == 1
    assert not (tmp_path / "m.json").exists()
    if case == "wrong-columns":
        assert "Theta2 has 25 columns but Theta1 has 25 rows: Theta2 needs 25 + 1" in err


def test_mat_without_scipy_names_the_extra(tmp_path, monkeypatch):
    from loopnet.reference import mat_weights

    monkeypatch.setitem(sys.modules, "scipy.io", None)
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(BackendError, match=r"pip install loopnet\[mat\]"):
        mat_weights.mat_bytes(MultiLayerNet([2, 2]).get_params(), {})


def _blobs(n=120, seed=0):
    from array import array

    from loopnet.data import Dataset

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.uint8) + (X[:, 2] > 0.5)
    return Dataset(b"", bytes(y.tolist()), 4, 3, (), array("d", X.ravel().tolist()))


def test_full_batch_loss_and_gradient_are_the_networks():
    pytest.importorskip("scipy.optimize")
    from loopnet.reference.fullbatch import full_batch

    data = _blobs()
    net = MultiLayerNet([4, 5, 3], activation="sigmoid", weight_decay=0.01, seed=1)
    rows, T, count = full_batch(net, data)
    x = [data.row(i) for i in range(len(data))]
    assert net._gradient(rows, T, count) == net.loss(x, list(data.labels))
    assert [list(g) for g in net._grads] == [
        [v for row in g for v in row] if isinstance(g[0], list) else g
        for g in net.gradient(x, list(data.labels)).values()]


@pytest.mark.parametrize("method", ["cg", "lbfgs"])
def test_full_batch_optimizers_lower_the_loss_identically_on_both_backends(method):
    pytest.importorskip("scipy.optimize")
    from loopnet.reference.fullbatch import minimize

    backends = ["python"]
    from loopnet.backends import numba_available

    if numba_available():
        backends.append("numba")
    data = _blobs()
    finals = []
    for backend in backends:
        net = MultiLayerNet([4, 6, 3], activation="sigmoid", weight_init="uniform:0.12:bias",
                            weight_decay=1e-3, seed=3, backend=backend)
        result = minimize(net, data, method, 15)
        assert result.iterations == 15 and result.evaluations >= 15
        assert result.losses[-1] < result.losses[0] < 1.2
        finals.append((result.losses, net.get_params()))
    assert all(f == finals[0] for f in finals)  # exact mode: the same θ at every step


def test_full_batch_rejects_bad_settings():
    from loopnet.reference.fullbatch import minimize

    net = MultiLayerNet([4, 3, 3])
    with pytest.raises(ConfigError):
        minimize(net, _blobs(), "newton", 5)
    with pytest.raises(ConfigError):
        minimize(net, _blobs(), "cg", 0)


def test_train_optimizer_cg_cli(tmp_path, capsys):
    pytest.importorskip("scipy.optimize")
    data = _blobs()
    X = np.frombuffer(data.features, dtype=np.float64).reshape(-1, 4)
    np.savez(tmp_path / "d.npz", X=X, y=np.frombuffer(data.labels, dtype=np.uint8))
    args = ["train", "--data", str(tmp_path / "d.npz"), "--hidden", "5", "--backend", "python",
            "--activation", "sigmoid", "--init", "uniform:0.12:bias", "--weight-decay", "0.001"]
    assert main([*args, "--optimizer", "cg", "--iters", "8", "--save", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "cg (full batch of 120), 8 iterations" in out and "iteration    8  loss" in out
    assert "done: 8 iterations" in out and (tmp_path / "m.json").exists()
    assert main([*args, "--optimizer", "lbfgs", "--epochs", "2"]) == 2
    assert "--epochs does not apply" in capsys.readouterr().err

