"""Imports and model files are as strict as `evaluate`: wrong versions, missing or mistyped
fields, huge integers, deep nesting, strings or booleans as numbers, members declaring more
data than they hold, complex tensors and damaged weights are one ModelFileError line."""

import io
import json
import os
import zipfile
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

from loopnet import MultiLayerNet
from loopnet.cli import main
from loopnet.errors import LoopnetError, ModelFileError
from loopnet.model_io import VERSION, load_model, model_to_dict, save_model
from loopnet.reference.export import export_weights, import_weights

np = pytest.importorskip("numpy")


@pytest.fixture
def net():
    return MultiLayerNet([4, 3, 2], activation="tanh", weight_decay=0.25, seed=3)


@pytest.fixture
def model_doc(net):
    return json.loads(json.dumps(model_to_dict(net, {"epochs": 1})))


def _model_changes():
    def drop(key):
        return lambda d: d.pop(key)

    def set_(key, value):
        return lambda d: d.__setitem__(key, value)

    def param(name, fn):
        return lambda d: fn(d["params"][name])

    return {
        "version next": set_("version", VERSION + 1),
        "version 0": set_("version", 0),
        "version -1": set_("version", -1),
        "version string": set_("version", str(VERSION)),
        "version null": set_("version", None),
        "version float": set_("version", float(VERSION)),
        "version true": set_("version", True),
        "version missing": drop("version"),
        "activation missing": drop("activation"),
        "output missing": drop("output"),
        "sizes missing": drop("sizes"),
        "activation number": set_("activation", 1),
        "weight_decay string": set_("weight_decay", "0.5"),
        "weight_decay true": set_("weight_decay", True),
        "params list": set_("params", []),
        "params null": set_("params", None),
        "metadata list": set_("metadata", []),
        "weight string": param("W1", lambda W: W[0].__setitem__(0, "0.5")),
        "weight true": param("W1", lambda W: W[1].__setitem__(2, True)),
        "bias null": param("b2", lambda b: b.__setitem__(1, None)),
        "bias nested": param("b1", lambda b: b.__setitem__(0, [1.0])),
        "sizes float": set_("sizes", [4.0, 3, 2]),
    }


MODEL_CHANGES = _model_changes()


@pytest.mark.parametrize("change", list(MODEL_CHANGES))
@pytest.mark.parametrize("command", ["evaluate", "import", "export"])
def test_bad_model_files_are_rejected_everywhere(capsys, tmp_path, model_doc, change, command):
    MODEL_CHANGES[change](model_doc)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(model_doc))
    argv = {"evaluate": ["evaluate", "--model", bad, "--data", "synthetic"],
            "import": ["import", "--model", tmp_path / "out.json", bad],
            "export": ["export", "--model", bad, tmp_path / "out.npz"]}[command]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, str(bad))
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,
    '{"format": "loopnet-model", "version": 1' + "0" * 5000 + "}",
    '{"format": "loopnet-model", "version": NaN}',
    '{"format": "loopnet-model", "version": 1e999}',
], ids=["deep nesting", "5000-digit int", "NaN", "1e999"])
def test_pathological_json_is_one_line(capsys, tmp_path, text):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    for argv in (["import", "--model", tmp_path / "o.json", bad],
                 ["evaluate", "--model", bad, "--data", "synthetic"]):
        code, _, err = run(capsys, *argv)
        assert_one_line_error(code, err, "bad.json")


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "directory"])
def test_non_regular_input_files_are_refused(capsys, tmp_path, special):
    if special == "fifo":
        path = tmp_path / "m.json"
        os.mkfifo(path)  # reading it would block forever
    elif special == "directory":
        path = tmp_path / "m.json"
        path.mkdir()
    else:
        path = tmp_path / "zero.json"
        path.symlink_to(special)  # reading it would never end
    for argv in (["evaluate", "--model", path, "--data", "synthetic"],
                 ["export", "--model", path, tmp_path / "o.npz"],
                 ["import", "--model", tmp_path / "o.json", path]):
        code, _, err = run(capsys, *argv)
        assert_one_line_error(code, err, "not a regular file")


# ---- JSON weights ---------------------------------------------------------------------------
def _weights_doc(net):
    return json.loads(export_bytes_text(net))


def export_bytes_text(net):
    from loopnet.reference.export import export_bytes

    return export_bytes(net, "json").decode()


@pytest.mark.parametrize("change", [
    lambda d: d["loopnet"].pop("activation"),
    lambda d: d["loopnet"].pop("output"),
    lambda d: d["loopnet"].pop("sizes"),
    lambda d: d["loopnet"].__setitem__("weight_decay", "0.5"),
    lambda d: d["loopnet"].__setitem__("sizes", [4, 3, True]),
    lambda d: d["loopnet"].__setitem__("activation", "gelu"),
    lambda d: d["loopnet"].__setitem__("sha256", "0" * 64),
    lambda d: d["W2"][0].__setitem__(0, "1"),
    lambda d: d["b1"].__setitem__(0, False),
    lambda d: d.pop("loopnet"),  # no configuration and no --activation/--output
    lambda d: d.__setitem__("loopnet", [1]),
], ids=["no activation", "no output", "no sizes", "λ string", "size true", "activation gelu",
        "sha256 mismatch", "weight string", "bias false", "no config", "config list"])
def test_bad_json_weights(capsys, tmp_path, net, change):
    doc = _weights_doc(net)
    change(doc)
    bad = tmp_path / "w.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", bad)
    assert_one_line_error(code, err, str(bad))
    assert not (tmp_path / "m.json").exists()


def test_configless_weights_import_with_explicit_flags(tmp_path, net):
    doc = _weights_doc(net)
    doc.pop("loopnet")
    path = tmp_path / "w.json"
    path.write_text(json.dumps(doc))
    back, _ = import_weights(path, activation="tanh", output="softmax")
    assert back.get_params() == net.get_params() and back.weight_decay == 0.0


# ---- npz ------------------------------------------------------------------------------------
def _npz(tmp_path, arrays: dict, name="w.npz") -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def _config_entry(net, **changes):
    config = {**net.config(), "metadata": {}, **changes}
    return np.array(json.dumps(config) if not isinstance(config, str) else config)


def test_npz_config_entry_must_be_strict_json(capsys, tmp_path, net):
    params = {k: np.array(v) for k, v in net.get_params().items()}
    for entry in ['{"sizes": [4, 3, 2], "x": 1' + "0" * 5000 + "}",
                  "[" * 100_000 + "]" * 100_000, '{"weight_decay": NaN}', "[1, 2]"]:
        path = _npz(tmp_path, {**params, "loopnet": np.array(entry)})
        code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
        assert_one_line_error(code, err, str(path))


def test_npz_member_declaring_huge_size_is_refused_before_allocating(capsys, tmp_path, net):
    """A 10^10-element header over a few bytes of data must not allocate 80 GB."""
    path = _npz(tmp_path, {k: np.array(v) for k, v in net.get_params().items()})
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (100000, 100000)})
    members["W1.npy"] = header.getvalue() + b"\0" * 64
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, "declares shape (100000, 100000)")


@pytest.mark.parametrize("dtype", ["complex128", "bool", "U3"])
def test_npz_non_real_arrays_are_rejected(capsys, tmp_path, net, dtype):
    params = {k: np.array(v) for k, v in net.get_params().items()}
    params["W1"] = params["W1"].astype(dtype)
    path = _npz(tmp_path, {**params, "loopnet": _config_entry(net)})
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, "W1")


def test_npz_byte_flip_fails_the_checksum(capsys, tmp_path, net):
    path = tmp_path / "w.npz"
    export_weights(net, path)
    with zipfile.ZipFile(path) as archive:
        members = {name: bytearray(archive.read(name)) for name in archive.namelist()}
    members["W2.npy"][-3] ^= 0x01
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, bytes(data))
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, "SHA-256")


# ---- mat ------------------------------------------------------------------------------------
def _mat(tmp_path, variables: dict, name="w.mat") -> Path:
    scipy_io = pytest.importorskip("scipy.io")
    path = tmp_path / name
    scipy_io.savemat(path, variables)
    return path


def _mat_variables(net, config=None) -> dict:
    from loopnet.reference.mat_weights import thetas_from_params

    variables = {k: np.array(v) for k, v in thetas_from_params(net.get_params()).items()}
    if config is not None:
        variables["loopnet"] = config
    return variables


def test_mat_byte_flip_fails_the_checksum(capsys, tmp_path, net):
    pytest.importorskip("scipy.io")
    path = tmp_path / "w.mat"
    export_weights(net, path)
    data = bytearray(path.read_bytes())
    w = np.float64(net.get_params()["W1"][0][0]).tobytes()
    data[data.index(w)] ^= 1  # W1[0][0]'s last mantissa bit
    path.write_bytes(bytes(data))
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, "SHA-256")


@pytest.mark.parametrize("variables,message", [
    (lambda net: {**_mat_variables(net, json.dumps({**net.config()})), "extra": np.zeros(2)},
     "unexpected variable 'extra'"),
    (lambda net: _mat_variables(net, "[1, 2]"), "not a JSON object"),
    (lambda net: _mat_variables(net, np.zeros(3)), "one string of JSON"),
    (lambda net: _mat_variables(net, "[" * 100_000 + "]" * 100_000), "nested too deeply"),
    (lambda net: _mat_variables(net, '{"sizes": 1' + "0" * 5000 + "}"), "digits"),
    (lambda net: {**_mat_variables(net), "Theta2": {"a": np.zeros(2)}}, "Theta2"),
])
def test_bad_mat_weights(capsys, tmp_path, net, variables, message):
    path = _mat(tmp_path, variables(net))
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, message)
    assert not (tmp_path / "m.json").exists()


def test_mat_without_configuration_is_ex4s_network(tmp_path, net):
    back, _ = import_weights(_mat(tmp_path, _mat_variables(net)), "mat")
    assert (back.activation, back.output) == ("sigmoid", "sigmoid")
    assert back.get_params() == net.get_params()


def test_mat_restores_activation_output_and_lambda(tmp_path, net):
    pytest.importorskip("scipy.io")
    export_weights(net, tmp_path / "w.mat")
    back, _ = import_weights(tmp_path / "w.mat")
    assert back.config() == net.config() and back.get_params() == net.get_params()


def test_damaged_mat_type_code_is_one_line_not_a_crash(tmp_path, net):
    """An unknown type code in a data element's tag made scipy.io.loadmat (1.17) segfault: the
    fuzzed byte 313 of an export, 0 -> 97 (Theta2's data type 9 -> 24841)."""
    import subprocess
    import sys

    from loopnet.reference.mat_v5 import check_mat_v5

    pytest.importorskip("scipy.io")
    path = tmp_path / "w.mat"
    export_weights(net, path)
    data = bytearray(path.read_bytes())
    theta2 = data.index(b"Theta2\0\0")
    assert data[theta2 + 8] == 9  # the real part's tag: miDOUBLE
    data[theta2 + 9] = 97
    path.write_bytes(bytes(data))
    with pytest.raises(LoopnetError, match="unknown type code 24841"):
        check_mat_v5(bytes(data), path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-m", "loopnet", "import", "--model",
                           str(tmp_path / "m.json"), str(path)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done  # a segfault is -11
    assert done.stderr.count("\n") == 1 and "unknown type code 24841" in done.stderr


@pytest.mark.parametrize("kind,message", [
    ("sparse", "a sparse matrix"),
    ("deep", "nested more than 32 deep"),
])
def test_mat_structures_loopnet_never_reads_are_refused(capsys, tmp_path, net, kind, message):
    if kind == "sparse":
        sparse = pytest.importorskip("scipy.sparse")
        variables = {**_mat_variables(net), "Theta1": sparse.csc_matrix(np.ones((3, 5)))}
    else:
        cell = np.zeros(2)
        for _ in range(40):
            box = np.empty((1, 1), dtype=object)
            box[0, 0] = cell
            cell = box
        variables = {**_mat_variables(net), "Theta3": cell}
    path = _mat(tmp_path, variables)
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, message)


# ---- torch ----------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("fmt", ["npz", "torch", "json"])
def test_every_format_restores_activation_output_and_lambda(tmp_path, net, fmt):
    if fmt == "torch":
        pytest.importorskip("torch")
    path = tmp_path / f"w.{fmt}"
    export_weights(net, path, fmt)
    back, _ = import_weights(path, fmt)
    assert back.config() == net.config()  # tanh stays tanh (it came back relu from .pt)
    assert back.get_params() == net.get_params()


@pytest.mark.torch
def test_torch_byte_flip_fails_the_checksum(capsys, tmp_path, net):
    pytest.importorskip("torch")
    path = tmp_path / "w.pt"
    export_weights(net, path)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        members = {i.filename: bytearray(archive.read(i.filename)) for i in infos}
    storage = next(name for name in members if "/data/" in name and members[name])
    members[storage][5] ^= 0x10
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, bytes(data))
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, "SHA-256")


@pytest.mark.torch
def test_torch_complex_tensor_is_rejected(capsys, tmp_path, net):
    torch = pytest.importorskip("torch")
    from loopnet.reference.export import to_state_dict

    state = to_state_dict(net)
    state["0.weight"] = state["0.weight"].to(torch.complex128)
    path = tmp_path / "w.pt"
    torch.save(state, path)
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", "--activation", "relu",
                       "--output", "softmax", path)
    assert_one_line_error(code, err, "complex")


@pytest.mark.torch
def test_foreign_state_dict_needs_activation_and_output(capsys, tmp_path, net):
    torch = pytest.importorskip("torch")
    from loopnet.reference.export import to_state_dict

    path = tmp_path / "w.pt"
    torch.save(dict(to_state_dict(net)), path)  # a plain dict: no loopnet metadata
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", path)
    assert_one_line_error(code, err, "--activation and --output")
    code, _, err = run(capsys, "import", "--model", tmp_path / "m.json", "--activation", "tanh",
                       "--output", "softmax", path)
    assert code == 0, err
    assert load_model(tmp_path / "m.json", "python").get_params() == net.get_params()


# ---- conformance results ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def conformance_run(tmp_path_factory):
    """Cases and the reference's results, made once."""
    root = tmp_path_factory.mktemp("conformance")
    assert main(["conformance", "export", str(root / "cases")]) == 0
    assert main(["conformance", "run", str(root / "cases"), str(root / "results")]) == 0
    return root / "cases", root / "results"


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,
                                  '{"output": 1' + "0" * 5000 + "}", '{"output": NaN}',
                                  "not json"])
def test_conformance_result_files_are_read_strictly(capsys, tmp_path, conformance_run, text):
    import shutil

    cases, made = conformance_run
    results = tmp_path / "results"
    shutil.copytree(made, results)
    capsys.readouterr()
    victim = sorted(results.iterdir())[0]
    victim.write_text(text)
    code, out, err = run(capsys, "conformance", "check", cases, results)
    assert "Traceback" not in err
    assert code in (1, 2), (out, err)
    if code == 1:
        assert "FAIL" in out and victim.stem in out


def test_vector_messages_do_not_speak_of_rows(net):
    params = net.get_params()
    params["b2"] = [1.0, 2.0, 3.0]
    with pytest.raises(Exception, match="b2") as info:
        net.set_params(params)
    assert "row" not in str(info.value)


def test_save_then_load_still_round_trips(tmp_path, net):
    save_model(net, tmp_path / "m.json")
    assert load_model(tmp_path / "m.json", "python").get_params() == net.get_params()
    with pytest.raises(ModelFileError):
        import_weights(tmp_path / "missing.json")
