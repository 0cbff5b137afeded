"""Float-feature data: .npz / .csv / .mat loaders, label maps, NaN rows, the float training path
(bit-identical to the uint8 one on the same values), and fuzzed parsers."""
from __future__ import annotations

import io
import zipfile
from array import array

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopnet.cli import main
from loopnet.data import Dataset, load_data, load_feature_file
from loopnet.data.labels import classes_of, parse_label_map
from loopnet.errors import ConfigError, DataError, LoopnetError, ShapeError
from loopnet.network import MultiLayerNet
from loopnet.optimizers import SGD
from loopnet.training import Trainer

np = pytest.importorskip("numpy")


def _set(n=60, width=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, width)) * 40.0 - 3.0  # any range: not pixels
    y = (X[:, 0] > -3.0).astype(np.int64) + 2 * (X[:, 1] > -3.0)
    return X, y


def test_npz_loads_features_exactly_and_its_test_arrays(tmp_path):
    X, y = _set()
    np.savez(tmp_path / "d.npz", X=X, y=y, X_test=X[:7], y_test=y[:7])
    train, test = load_feature_file(tmp_path / "d.npz")
    assert train.is_float and len(train) == 60 and train.n_features == 5
    assert train.n_classes == int(y.max()) + 1 == test.n_classes
    assert train.row(3) == X[3].tolist() and test.row(6) == X[6].tolist()
    assert list(train.labels) == y.tolist()
    assert isinstance(train.features, array) and train.features.typecode == "d"


def test_csv_last_column_header_and_label_column(tmp_path):
    X, y = _set(10, 3)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="a,b,c,label", comments="")
    train, test = load_feature_file(path)
    assert test is None and train.n_features == 3 and train.row(2) == X[2].tolist()
    assert list(train.labels) == y.tolist()
    first = tmp_path / "first.csv"
    np.savetxt(first, np.c_[y, X], delimiter=",", fmt="%.17g")
    by_index, _ = load_feature_file(first, label_column=0)
    assert by_index.row(2) == X[2].tolist() and list(by_index.labels) == y.tolist()
    by_name, _ = load_feature_file(path, label_column="label")
    assert by_name.row(9) == train.row(9)
    with pytest.raises(DataError, match="no column named 'nope'"):
        load_feature_file(path, label_column="nope")


def test_mat_as_ex4_ships_it_with_label_map(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    X, y = _set(20, 4)
    ex4_labels = np.where(y == 0, 4, y)[:, None].astype(np.uint8)  # 1..K, K for class "0"
    scipy_io.savemat(tmp_path / "d.mat", {"X": X, "y": ex4_labels})
    train, _ = load_feature_file(tmp_path / "d.mat", label_map=parse_label_map("1..4"))
    assert train.n_classes == 4 and train.row(5) == X[5].tolist()
    assert list(train.labels) == (ex4_labels.ravel() - 1).tolist()  # class c is label c + 1


def test_label_maps_and_unknown_labels():
    assert parse_label_map("1..10") == list(range(1, 11))
    assert parse_label_map("10,1,2") == [10, 1, 2]
    for bad in ("", "a..b", "1,1", "3..1", "1..300"):
        with pytest.raises(ConfigError):
            parse_label_map(bad)
    assert classes_of([10, 1, 2], [10, 1, 2], "f") == bytes([0, 1, 2])
    with pytest.raises(DataError, match="row 1 has label 7, which the label map"):
        classes_of([1, 7], [1, 2], "f")
    with pytest.raises(DataError, match="row 0 has label 1.5, not an integer"):
        classes_of([1.5], None, "f")
    with pytest.raises(DataError, match="row 1 has label -1"):
        classes_of([0, -1], None, "f")


@pytest.mark.parametrize("where", ["npz", "csv", "dataset"])
def test_nan_or_inf_feature_names_the_row(tmp_path, where):
    X, y = _set(30, 4)
    X[17, 2] = np.nan if where != "csv" else np.inf
    if where == "npz":
        np.savez(tmp_path / "d.npz", X=X, y=y)
        call = lambda: load_feature_file(tmp_path / "d.npz")  # noqa: E731
    elif where == "csv":
        np.savetxt(tmp_path / "d.csv", np.c_[X, y], delimiter=",")
        call = lambda: load_feature_file(tmp_path / "d.csv")  # noqa: E731
    else:
        call = lambda: Dataset(b"", bytes(y.tolist()), 4, 4, (),  # noqa: E731
                               array("d", X.ravel().tolist()))
    with pytest.raises(DataError, match="row 17"):
        call()


def test_dataset_checks_float_shapes():
    with pytest.raises(ShapeError):
        Dataset(b"", bytes(3), 2, 2, (), array("d", [0.0] * 5))
    with pytest.raises(ShapeError):
        Dataset(b"", bytes(3), 2, 2, (), [0.0] * 6)
    with pytest.raises(ShapeError):
        Dataset(b"\0" * 6, bytes(3), 2, 2, (), array("d", [0.0] * 6))
    big = Dataset(b"", bytes(2), 1, 2, (), array("d", [1e308, 1e308]))  # fsum overflows: fine
    assert big.head(1).row(0) == [1e308]


def _as_float(data: Dataset) -> Dataset:
    return Dataset(b"", data.labels, data.n_features, data.n_classes, (),
                   array("d", [p / 255.0 for p in data.pixels]))


@pytest.mark.parametrize("backend", ["python", pytest.param("numba", marks=pytest.mark.numba_required)])
def test_float_training_is_bitwise_the_pixel_training(backend, synthetic_cache, monkeypatch):
    monkeypatch.setenv("LOOPNET_CACHE", str(synthetic_cache))
    train, test = load_data("synthetic")
    train, test = train.head(300), test.head(100)
    runs = []
    for a, b in ((train, test), (_as_float(train), _as_float(test))):
        net = MultiLayerNet([784, 12, 10], backend=backend, seed=3)
        trainer = Trainer(net, SGD(0.1), a, b, batch_size=30, seed=5)
        results = trainer.run(iters=15)
        runs.append((trainer.step_losses, results[-1].test_acc, net.get_params()))
    assert runs[0] == runs[1]


def test_float_features_of_any_range_train_and_evaluate(tmp_path, capsys):
    X, y = _set(200, 6)
    np.savez(tmp_path / "d.npz", X=X * 1e3, y=y, X_test=X[:40] * 1e3, y_test=y[:40])
    model = tmp_path / "m.json"
    assert main(["train", "--data", str(tmp_path / "d.npz"), "--hidden", "8", "--epochs", "2",
                 "--batch-size", "20", "--lr", "1e-5", "--backend", "python", "--quiet",
                 "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "200 train / 40 test" in out and "test acc" in out
    assert main(["evaluate", "--model", str(model), "--data", str(tmp_path / "d.npz"),
                 "--backend", "python"]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_label_map_is_saved_with_the_model_and_used_by_evaluate(tmp_path, capsys):
    X, y = _set(100, 4)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.c_[X, y + 1], delimiter=",", fmt="%.17g")  # labels 1..4
    model = tmp_path / "m.json"
    assert main(["train", "--data", str(path), "--label-map", "1..4", "--hidden", "5",
                 "--iters", "3", "--batch-size", "10", "--backend", "python", "--quiet",
                 "--save", str(model)]) == 0
    assert "0←1, 1←2, 2←3, 3←4" in capsys.readouterr().out
    assert main(["evaluate", "--model", str(model), "--data", str(path), "--split", "train",
                 "--backend", "python"]) == 0
    out = capsys.readouterr().out
    assert "classes are the file's labels 1, 2, 3, 4" in out


@pytest.mark.parametrize("case", ["unknown-label", "nan", "bad-npz", "bad-csv", "bad-mat",
                                  "no-y", "ragged-csv", "test-without-x-test"])
def test_bad_float_inputs_give_one_line_and_exit_2(tmp_path, capsys, case):
    X, y = _set(20, 3)
    args = ["--hidden", "4", "--iters", "1", "--batch-size", "5", "--backend", "python", "--quiet"]
    data = tmp_path / "d.npz"
    if case == "unknown-label":
        np.savez(data, X=X, y=y + 1)
        args += ["--label-map", "1..3"]
    elif case == "nan":
        X[4, 1] = np.nan
        np.savez(data, X=X, y=y)
    elif case == "bad-npz":
        data.write_bytes(b"PK\x03\x04 not really a zip")
    elif case == "bad-csv":
        data = tmp_path / "d.csv"
        data.write_text("1,2,3\n4,x,6\n")
    elif case == "bad-mat":
        pytest.importorskip("scipy.io")
        data = tmp_path / "d.mat"
        data.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    elif case == "no-y":
        np.savez(data, X=X)
    elif case == "ragged-csv":
        data = tmp_path / "d.csv"
        data.write_text("1,2,3\n4,6\n")
    else:
        np.savez(data, X=X, y=y)
        args = ["--split", "test", "--backend", "python"]
    command = "evaluate" if case == "test-without-x-test" else "train"
    extra = ["--model", str(_model(tmp_path))] if command == "evaluate" else []
    assert main([command, "--data", str(data), *extra, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("loopnet: error: ") and err.count("\n") == 1 and "Traceback" not in err


def _model(tmp_path):
    from loopnet.model_io import save_model

    path = tmp_path / "m.json"
    save_model(MultiLayerNet([3, 4, 4]), path)
    return path


def _valid_npz_bytes() -> bytes:
    X, y = _set(6, 3)
    buf = io.BytesIO()
    np.savez(buf, X=X, y=y)
    return buf.getvalue()


def _check_parser(tmp_path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        train, test = load_feature_file(path)
    except LoopnetError:
        return
    assert train.is_float and len(train.features) == len(train) * train.n_features


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".npz", ".csv", ".mat"]))
def test_fuzz_random_bytes(tmp_path, data, suffix):
    if suffix == ".mat":
        pytest.importorskip("scipy.io")
    _check_parser(tmp_path, suffix, data)


@FUZZ
@given(cut=st.integers(0, 2000), flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(1, 255)),
                                                max_size=4))
def test_fuzz_damaged_npz(tmp_path, cut, flips):
    data = bytearray(_valid_npz_bytes())
    for at, xor in flips:
        data[at % len(data)] ^= xor
    _check_parser(tmp_path, ".npz", bytes(data[: len(data) - cut % len(data)]))


@FUZZ
@given(rows=st.lists(st.lists(st.one_of(st.floats(allow_nan=True), st.text(max_size=4)),
                              min_size=1, max_size=4), max_size=6))
def test_fuzz_csv_fields(tmp_path, rows):
    text = "\n".join(",".join(str(v) for v in row) for row in rows)
    _check_parser(tmp_path, ".csv", text.encode("utf-8", "surrogatepass"))


def test_npz_whose_header_declares_more_data_than_it_holds(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**3)})
        archive.writestr("X.npy", header.getvalue() + bytes(64))
    (tmp_path / "big.npz").write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="declares 8000000000000 bytes"):
        load_feature_file(tmp_path / "big.npz")


def test_checkpoint_fingerprint_sees_float_features():
    from loopnet.checkpoint import data_fingerprint

    a = Dataset(b"", bytes([0, 1]), 2, 2, (), array("d", [0.5, 1.0, 2.0, 3.0]))
    b = Dataset(b"", bytes([0, 1]), 2, 2, (), array("d", [0.5, 1.0, 2.0, 3.5]))
    assert data_fingerprint(a) != data_fingerprint(b)
    assert data_fingerprint(a) == data_fingerprint(a.head(2))
