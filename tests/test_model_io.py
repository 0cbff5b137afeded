"""Model files: bitwise round trips, atomic writes, and the versioned format's errors."""

import json
import math
import struct

import pytest

from loopnet import LoopnetError, ModelFileError, MultiLayerNet, OutputFileError
from loopnet.model_io import (
    FORMAT,
    VERSION,
    load_model,
    load_model_dict,
    model_to_dict,
    save_model,
    write_atomic,
)
from loopnet.rng import Rng

AWKWARD = [0.1 + 0.2, -0.0, 5e-324, 2.2250738585072014e-308, 1e-310, 1.7976931348623157e308,
           -1 / 3, 2.0**-52, 123456789.123456789, -math.pi]


def bit_patterns(net):
    return {name: [struct.pack("<d", float(v)) for v in buf] for name, buf in net.params.items()}


def awkward_net(backend="python"):
    """A 4-3-2 net whose parameters include values whose repr needs all 17 digits."""
    net = MultiLayerNet([4, 3, 2], activation="tanh", output="identity", weight_decay=0.25,
                        backend=backend)
    rng = Rng(77)
    values = AWKWARD + [rng.normal() * 10.0 ** rng.randbelow(20) for _ in range(50)]
    params = {}
    k = 0
    for name in net.names:
        shape = net.shape_of(name)
        count = shape[0] * (shape[1] if len(shape) == 2 else 1)
        flat = values[k:k + count]
        k += count
        params[name] = ([flat[r * shape[1]:(r + 1) * shape[1]] for r in range(shape[0])]
                        if len(shape) == 2 else flat)
    net.set_params(params)
    return net


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("save_backend, load_backend", [("python", "python"), ("python", "auto"),
                                                        ("auto", "python")])
def test_round_trip_is_bitwise(tmp_path, save_backend, load_backend):
    net = awkward_net(save_backend)
    path = tmp_path / "model.json"
    save_model(net, path, metadata={"epochs": 3, "note": "ü"})
    back = load_model(path, backend=load_backend)
    assert bit_patterns(back) == bit_patterns(net)
    assert back.sizes == [4, 3, 2]
    assert (back.activation, back.output, back.weight_decay) == ("tanh", "identity", 0.25)
    assert load_model_dict(path)["metadata"] == {"epochs": 3, "note": "ü"}
    # -0.0 keeps its sign (struct compare above), and predictions are identical
    x = [[0.5, 0.0, 1.0, 0.25]]
    assert back.predict(x) == net.predict(x)


def test_file_layout(tmp_path):
    net = MultiLayerNet([3, 2], seed=4)
    path = tmp_path / "m.json"
    save_model(net, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == FORMAT == "loopnet-model"
    assert data["version"] == VERSION == 2
    assert (data["output"], data["loss"], data["log_guard"]) == ("softmax", "cross_entropy", 1e-7)
    assert data["sizes"] == [3, 2]
    assert data["params"]["W1"] == net.get_params()["W1"]  # n_in rows of n_out values
    assert len(data["params"]["W1"]) == 3 and len(data["params"]["W1"][0]) == 2
    assert data["metadata"] == {}
    assert model_to_dict(net) == data


def test_atomic_write_leaves_only_the_file(tmp_path):
    path = tmp_path / "m.json"
    save_model(MultiLayerNet([3, 2]), path)
    save_model(MultiLayerNet([3, 4, 2]), path)  # overwrite
    assert leftovers(tmp_path) == ["m.json"]
    assert load_model_dict(path)["sizes"] == [3, 4, 2]


def test_failed_write_keeps_old_file_and_no_temp(tmp_path):
    path = tmp_path / "m.json"
    path.write_text("old contents", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "half written \udc80 then fails")  # lone surrogate: not encodable
    assert path.read_text(encoding="utf-8") == "old contents"
    assert leftovers(tmp_path) == ["m.json"]


def test_failed_rename_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    """Replacing an existing file ends in a rename (a new file is linked under its name
    directly, without one): a refused rename leaves the old file whole and no temporary."""
    import os

    def refuse(src, dst):
        raise PermissionError("rename refused")

    target = tmp_path / "m.json"
    target.write_text("old")
    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputFileError, match="rename refused"):
        write_atomic(target, "{}")
    assert leftovers(tmp_path) == ["m.json"]
    assert target.read_text() == "old"


def test_save_into_missing_directory(tmp_path):
    with pytest.raises(ModelFileError):
        save_model(MultiLayerNet([3, 2]), tmp_path / "nope" / "m.json")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_saving_non_finite_parameters_is_a_model_file_error(tmp_path, value):
    """Regression: this used to be a bare ValueError from json.dumps (a CLI traceback)."""
    net = MultiLayerNet([3, 2])
    net.params["W1"][0] = value  # as diverged training leaves them
    with pytest.raises(ModelFileError, match="NaN or infinity"):
        save_model(net, tmp_path / "m.json")
    assert leftovers(tmp_path) == []


# ---- format errors ----------------------------------------------------------------------------
def good_dict():
    return model_to_dict(MultiLayerNet([3, 4, 2], weight_init="he", seed=2))


def edit(change):
    data = good_dict()
    change(data)
    return data


BAD = {
    "no-format": edit(lambda d: d.pop("format")),
    "other-format": edit(lambda d: d.update(format="pytorch")),
    "version-3": edit(lambda d: d.update(version=3)),
    "version-0": edit(lambda d: d.update(version=0)),
    "version-string": edit(lambda d: d.update(version="2")),
    "version-true": edit(lambda d: d.update(version=True)),
    "no-loss": edit(lambda d: d.pop("loss")),
    "no-log-guard": edit(lambda d: d.pop("log_guard")),
    "unsupported-pair": edit(lambda d: d.update(loss="squared_error")),
    "unknown-loss": edit(lambda d: d.update(loss="hinge")),
    "negative-log-guard": edit(lambda d: d.update(log_guard=-1e-7)),
    "text-log-guard": edit(lambda d: d.update(log_guard="1e-7")),
    "no-version": edit(lambda d: d.pop("version")),
    "no-sizes": edit(lambda d: d.pop("sizes")),
    "no-activation": edit(lambda d: d.pop("activation")),
    "no-output": edit(lambda d: d.pop("output")),
    "no-params": edit(lambda d: d.pop("params")),
    "sizes-zero": edit(lambda d: d.update(sizes=[3, 0, 2])),
    "sizes-text": edit(lambda d: d.update(sizes="3,4,2")),
    "activation": edit(lambda d: d.update(activation="elu")),
    "output": edit(lambda d: d.update(output="logistic")),
    "weight-decay": edit(lambda d: d.update(weight_decay=-1)),
    "weight-decay-text": edit(lambda d: d.update(weight_decay="lots")),
    "missing-tensor": edit(lambda d: d["params"].pop("b2")),
    "extra-tensor": edit(lambda d: d["params"].update(W3=[[0.0]])),
    "W1-rows": edit(lambda d: d["params"].update(W1=d["params"]["W1"][:2])),
    "W2-cols": edit(lambda d: d["params"].update(W2=[r + [0.0] for r in d["params"]["W2"]])),
    "b1-long": edit(lambda d: d["params"].update(b1=[0.0] * 5)),
    "W1-flat": edit(lambda d: d["params"].update(W1=[0.0] * 12)),
    "W1-text": edit(lambda d: d["params"]["W1"][0].__setitem__(0, "x")),
    "params-list": edit(lambda d: d.update(params=[1, 2])),
    "W1-null": edit(lambda d: d["params"].update(W1=None)),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_invalid_model_dicts(tmp_path, name):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(BAD[name]), encoding="utf-8")
    with pytest.raises(ModelFileError) as info:
        load_model(path, backend="python")
    assert str(path) in str(info.value)
    assert isinstance(info.value, LoopnetError)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_parameter_in_file(tmp_path, literal):
    text = json.dumps(good_dict()).replace("[0.0, 0.0]", f"[0.0, {literal}]", 1)  # in b2
    assert literal in text
    path = tmp_path / "m.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError):
        load_model(path, backend="python")


def test_version_error_names_the_version(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(edit(lambda d: d.update(version=7))), encoding="utf-8")
    with pytest.raises(ModelFileError, match="version 7"):
        load_model_dict(path)


@pytest.mark.parametrize("content", [b"", b"{", b"null", b"[]", b"\"loopnet-model\"",
                                     b"\xff\xfe\xfa", b"{\"format\": \"loopnet-model\"}"],
                         ids=["empty", "truncated", "null", "list", "string", "binary",
                              "format-only"])
def test_unreadable_model_files(tmp_path, content):
    path = tmp_path / "m.json"
    path.write_bytes(content)
    with pytest.raises(ModelFileError):
        load_model(path, backend="python")


@pytest.mark.parametrize("where", ["weight", "weight_decay"])
def test_integer_too_large_for_float_in_file(tmp_path, where):
    text = json.dumps(good_dict())
    huge = "1" + "0" * 400
    if where == "weight":
        text = text.replace("[0.0, 0.0]", f"[0.0, {huge}]", 1)  # in b2
    else:
        text = text.replace('"weight_decay": 0.0', f'"weight_decay": {huge}')
    assert huge in text
    path = tmp_path / "m.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError):
        load_model(path, backend="python")


@pytest.mark.parametrize("text", ["[" + "1" * 5000 + "]", "[" * 100000 + "]" * 100000],
                         ids=["5000-digit-int", "nested-100000"])
def test_pathological_json_is_model_file_error(tmp_path, text):
    path = tmp_path / "m.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError):
        load_model_dict(path)


def test_sizes_far_larger_than_params_fail_before_allocating(tmp_path, monkeypatch):
    import loopnet.network

    real_init = loopnet.network.init_params

    def bounded_init(sizes, weight_init, seed):
        if sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) > 10**6:
            raise MemoryError("test: refusing to draw that many initial weights")
        return real_init(sizes, weight_init, seed)

    monkeypatch.setattr(loopnet.network, "init_params", bounded_init)
    path = tmp_path / "m.json"
    path.write_text(json.dumps(edit(lambda d: d.update(sizes=[3, 400_000_000, 2]))),
                    encoding="utf-8")
    with pytest.raises(ModelFileError):
        load_model(path, backend="python")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError):
        load_model(tmp_path / "absent.json", backend="python")
    with pytest.raises(ModelFileError):
        load_model(tmp_path, backend="python")


def test_unknown_backend_is_a_model_load_error(tmp_path):
    path = tmp_path / "m.json"
    save_model(MultiLayerNet([3, 2]), path)
    with pytest.raises(LoopnetError):
        load_model(path, backend="gpu")


def test_bool_sizes_rejected(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(edit(lambda d: d.update(sizes=[3, True, 2]))), encoding="utf-8")
    with pytest.raises(ModelFileError):
        load_model(path, backend="python")


# ---- output units and losses; version 1 files ----------------------------------------------------
@pytest.mark.parametrize("output, loss, guard", [("sigmoid", "squared_error", 0.0),
                                                 ("sigmoid", "cross_entropy", 1e-3),
                                                 ("identity", "squared_error", 1e-7)])
def test_output_loss_and_log_guard_round_trip(tmp_path, output, loss, guard):
    net = MultiLayerNet([3, 4, 2], activation="sigmoid", output=output, loss=loss,
                        log_guard=guard, weight_init="he", seed=5)
    path = tmp_path / "m.json"
    save_model(net, path)
    back = load_model(path, backend="python")
    assert (back.output, back.loss_name, back.log_guard) == (output, loss, guard)
    x, t = [[0.5, 0.0, 1.0]], [[1.0, 0.0]]
    assert back.loss(x, t) == net.loss(x, t)


@pytest.mark.parametrize("output, loss", [("softmax", "cross_entropy"),
                                          ("identity", "squared_error")])
def test_version_1_files_still_load(tmp_path, output, loss):
    """Version 1 had no "loss" and "log_guard": its outputs' default loss, the book's 1e-7."""
    net = MultiLayerNet([3, 4, 2], output=output, weight_init="he", seed=2)
    data = model_to_dict(net)
    data["version"] = 1
    del data["loss"], data["log_guard"]
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    back = load_model(path, backend="python")
    assert (back.output, back.loss_name, back.log_guard) == (output, loss, 1e-7)
    assert bit_patterns(back) == bit_patterns(net)
