"""`loopnet export` / `loopnet import`: bitwise round trips and a PyTorch model that agrees."""

import json
import math

import pytest

from loopnet import MultiLayerNet, kernels
from loopnet.cli import main
from loopnet.errors import ModelFileError
from loopnet.model_io import load_model, save_model
from loopnet.reference import export

np = pytest.importorskip("numpy")

FORMATS = ["npz", pytest.param("torch", marks=pytest.mark.torch), "json"]


def _needs(fmt: str) -> None:
    if fmt == "torch":
        pytest.importorskip("torch", reason="the torch format needs torch (pip install loopnet[torch])")


@pytest.fixture
def model_file(tmp_path):
    """A small trained-looking model (He init, λ = 0.1, tanh) with metadata."""
    net = MultiLayerNet([12, 7, 5, 4], activation="tanh", weight_init="he", weight_decay=0.1,
                        seed=5)
    # awkward values: subnormal, negative zero, huge, many digits
    net.params["W1"][0] = 5e-324
    net.params["W1"][1] = -0.0
    net.params["b2"][0] = 1.2345678901234567e300
    path = tmp_path / "model.json"
    save_model(net, path, {"epochs": 3, "data": "synthetic"})
    return path


def _bits(values) -> list[int]:
    """IEEE bit patterns (so -0.0 differs from 0.0)."""
    import struct

    return [struct.unpack("<q", struct.pack("<d", v))[0] for v in values]


def _same_bits(a: MultiLayerNet, b: MultiLayerNet) -> bool:
    return a.names == b.names and all(
        _bits(a.params[n]) == _bits(b.params[n]) for n in a.names)


@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_round_trip_is_bitwise(model_file, tmp_path, fmt, capsys):
    _needs(fmt)
    out = tmp_path / f"weights.{fmt}"
    back = tmp_path / "back.json"
    assert main(["export", "--model", str(model_file), "--format", fmt, str(out)]) == 0
    assert main(["import", "--model", str(back), "--format", fmt, str(out)]) == 0
    original = load_model(model_file, backend="python")
    restored = load_model(back, backend="python")
    assert _same_bits(original, restored)
    # every format stores the configuration (torch: in the state_dict's _metadata)
    assert restored.config() == original.config()
    meta = json.loads(back.read_text())["metadata"]
    assert meta["epochs"] == 3 and meta["imported_from"] == str(out)
    # exporting the re-imported model gives the identical file
    again = tmp_path / f"again.{fmt}"
    assert main(["export", "--model", str(back), "--format", fmt, str(again)]) == 0
    if fmt == "npz":
        with np.load(out) as a, np.load(again) as b:
            assert all(np.array_equal(a[k], b[k]) for k in a.files if k != "loopnet")


@pytest.mark.torch
def test_state_dict_import_takes_the_activation_from_flags(model_file, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "w.pt"
    back = tmp_path / "back.json"
    assert main(["export", "--model", str(model_file), str(out)]) == 0  # format from suffix
    assert main(["import", "--model", str(back), "--activation", "tanh", "--weight-decay", "0.1",
                 str(out)]) == 0
    assert load_model(back, "python").config() == load_model(model_file, "python").config()


def test_npz_holds_the_books_arrays(model_file, tmp_path):
    out = tmp_path / "w.npz"
    assert main(["export", "--model", str(model_file), str(out)]) == 0
    net = load_model(model_file, backend="python")
    with np.load(out) as archive:  # no pickle needed
        assert sorted(archive.files) == ["W1", "W2", "W3", "b1", "b2", "b3", "loopnet"]
        assert archive["W1"].shape == (12, 7) and archive["b3"].shape == (4,)
        assert archive["W1"].dtype == np.float64
        assert np.array_equal(archive["W2"], np.array(net.get_params()["W2"]))
        config = json.loads(str(archive["loopnet"]))
    assert config["activation"] == "tanh" and config["sizes"] == [12, 7, 5, 4]


@pytest.mark.torch
@pytest.mark.parametrize("output", ["softmax", "identity"])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_torch_model_from_the_export_predicts_like_loopnet(tmp_path, activation, output):
    """Build the nn.Sequential exactly as docs/compare.md shows, load the exported state_dict."""
    torch = pytest.importorskip("torch")
    from torch import nn

    net = MultiLayerNet([20, 16, 12, 10], activation=activation, output=output,
                        weight_init="xavier", seed=2)
    path = tmp_path / "model.pt"
    export.export_weights(net, path)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
    model = nn.Sequential(nn.Linear(20, 16), act(), nn.Linear(16, 12), act(),
                          nn.Linear(12, 10)).double()
    model.load_state_dict(torch.load(path, weights_only=True))

    from loopnet.rng import Rng

    rng = Rng(9)
    x = [[rng.uniform() for _ in range(20)] for _ in range(50)]
    scores = net.predict(x)
    with torch.no_grad():
        torch_scores = model(torch.tensor(x, dtype=torch.float64))
        torch_probs = torch.softmax(torch_scores, dim=1).numpy()
    # loopnet's probabilities from its own softmax kernel
    probs = []
    for a in scores:
        y = [0.0] * 10
        kernels.softmax_with_loss_forward(a, y, [0.0] * 10, 0, 10, 1e-7)
        probs.append(y)
    assert np.abs(torch_scores.numpy() - np.array(scores)).max() <= 1e-12
    assert np.abs(torch_probs - np.array(probs)).max() <= 1e-12
    assert (torch_scores.numpy().argmax(axis=1) == np.array(scores).argmax(axis=1)).all()
    assert np.array_equal(export.to_torch_module(net)(torch.tensor(x, dtype=torch.float64))
                          .detach().numpy(), torch_scores.numpy())


def test_json_export_is_plain_arrays(model_file, tmp_path):
    out = tmp_path / "w.json"
    assert main(["export", "--model", str(model_file), "--format", "json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert sorted(doc) == ["W1", "W2", "W3", "b1", "b2", "b3", "loopnet"]
    assert len(doc["W1"]) == 12 and len(doc["W1"][0]) == 7


def test_import_accepts_a_loopnet_model_file(model_file):
    net, meta = export.import_weights(model_file, "json")
    assert _same_bits(net, load_model(model_file, "python")) and meta["epochs"] == 3


# ------------------------------------------------------------------------------- bad input
def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("loopnet: error:")
    return err


@pytest.mark.parametrize("argv", [
    ["export", "--model", "{missing}", "{tmp}/w.npz"],           # unreadable model
    ["export", "--model", "{model}", "{tmp}/nodir/w.npz"],        # OUT in a missing directory
    ["export", "--model", "{model}", "{tmp}/w.bin"],              # format not given nor implied
    ["export", "--model", "{model}", "--format", "hdf5", "{tmp}/w"],  # unknown format
    ["import", "--model", "{tmp}/m.json", "--format", "npz", "{model}"],  # not an npz
    ["import", "--model", "{tmp}/m.json", "{tmp}/absent.npz"],    # no such weights file
    ["import", "--model", "{tmp}/nodir/m.json", "{npz}"],         # output directory missing
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(model_file, tmp_path, capsys, argv):
    npz = tmp_path / "good.npz"
    export.export_weights(load_model(model_file, "python"), npz)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    subs = {"missing": tmp_path / "nope.json", "tmp": tmp_path, "model": model_file, "npz": npz}
    assert main([a.format(**subs) for a in argv]) == 2
    _error_line(capsys)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_torch_format_without_torch_is_one_line(model_file, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    assert main(["export", "--model", str(model_file), "--format", "torch",
                 str(tmp_path / "w.pt")]) == 2
    assert "pip install loopnet[torch]" in _error_line(capsys)
    assert not (tmp_path / "w.pt").exists()


def test_weights_that_do_not_chain_are_rejected(tmp_path):
    bad = tmp_path / "w.npz"
    np.savez(bad, W1=np.zeros((3, 4)), b1=np.zeros(4), W2=np.zeros((5, 2)), b2=np.zeros(2))
    with pytest.raises(ModelFileError):
        export.import_weights(bad)
    missing = tmp_path / "m.npz"
    np.savez(missing, W1=np.zeros((3, 4)))
    with pytest.raises(ModelFileError, match="expected parameters"):
        export.import_weights(missing)
    nan = tmp_path / "nan.json"
    nan.write_text('{"W1": [[NaN]], "b1": [0.0]}')
    with pytest.raises(ModelFileError, match="NaN"):
        export.import_weights(nan)
    assert math.isnan(json.loads(nan.read_text())["W1"][0][0])


@pytest.mark.torch
def test_state_dict_with_foreign_keys_is_rejected(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "w.pt"
    torch.save({"fc.weight": torch.zeros(2, 3), "fc.bias": torch.zeros(2)}, path)
    with pytest.raises(ModelFileError, match="nn.Sequential"):
        export.import_weights(path)


@pytest.fixture
def sigmoid_model_file(tmp_path):
    """Sigmoid output units with squared error and no log guard."""
    net = MultiLayerNet([6, 4, 3], activation="sigmoid", output="sigmoid", loss="squared_error",
                        log_guard=0.0, weight_init="he", seed=7)
    path = tmp_path / "sigmoid.json"
    save_model(net, path)
    return path


@pytest.mark.parametrize("fmt", ["npz", "json"])
def test_export_carries_output_loss_and_log_guard(sigmoid_model_file, tmp_path, fmt):
    out, back = tmp_path / f"w.{fmt}", tmp_path / "back.json"
    assert main(["export", "--model", str(sigmoid_model_file), str(out)]) == 0
    assert main(["import", "--model", str(back), str(out)]) == 0
    restored = load_model(back, backend="python")
    assert (restored.output, restored.loss_name, restored.log_guard) == (
        "sigmoid", "squared_error", 0.0)
    assert _same_bits(restored, load_model(sigmoid_model_file, backend="python"))
    # overriding the output drops the stored loss for the new output's default
    assert main(["import", "--model", str(back), "--output", "softmax", str(out)]) == 0
    assert load_model(back, backend="python").loss_name == "cross_entropy"


@pytest.mark.torch
def test_state_dict_import_takes_output_loss_and_guard_from_flags(sigmoid_model_file, tmp_path):
    pytest.importorskip("torch")
    out, back = tmp_path / "w.pt", tmp_path / "back.json"
    assert main(["export", "--model", str(sigmoid_model_file), str(out)]) == 0
    assert main(["import", "--model", str(back), "--activation", "sigmoid", "--output",
                 "sigmoid", "--loss", "squared_error", "--log-guard", "0", str(out)]) == 0
    assert (load_model(back, "python").config()
            == load_model(sigmoid_model_file, "python").config())


@pytest.mark.parametrize("flags", [["--output", "identity", "--loss", "cross_entropy"],
                                   ["--log-guard", "-1"], ["--loss", "hinge"]])
def test_import_rejects_a_bad_output_loss_or_guard(sigmoid_model_file, tmp_path, capsys, flags):
    out, back = tmp_path / "w.json", tmp_path / "back.json"
    assert main(["export", "--model", str(sigmoid_model_file), str(out)]) == 0
    capsys.readouterr()
    assert main(["import", "--model", str(back), *flags, str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("loopnet: error:") and len(err.strip().splitlines()) == 1
    assert not back.exists()
