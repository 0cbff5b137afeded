"""Bounded fuzzing of every parser and numeric flag: each input is either accepted with exactly
what it says (no silent coercion or corruption) or refused with a LoopnetError — never another
exception, a hang or an unbounded allocation.  Deterministic (derandomized) and sized to run in
well under a minute; FUZZ_COUNTS tallies the inputs tried."""

import collections
import gzip
import io
import json
import math
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopnet import MultiLayerNet
from loopnet.cli import main
from loopnet.conformance import check_case
from loopnet.data.idx import read_idx
from loopnet.errors import LoopnetError
from loopnet.model_io import load_model, model_to_dict
from loopnet.reference.export import export_bytes, import_weights

FUZZ_COUNTS: collections.Counter = collections.Counter()
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SMALL = settings(FUZZ, max_examples=40)


@pytest.fixture(autouse=True)
def private_cache(monkeypatch, synthetic_cache):
    monkeypatch.setenv("LOOPNET_CACHE", str(synthetic_cache))


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    """With -s, prints how many inputs of each kind were fuzzed."""
    yield
    print(f"\nfuzzed inputs: {dict(FUZZ_COUNTS)}, total {sum(FUZZ_COUNTS.values())}")


def _mutations(original: bytes):
    """Byte flips, overwrites, truncations and insertions of `original`."""
    n = len(original)
    flip = st.tuples(st.just("flip"), st.integers(0, n - 1), st.integers(1, 255))
    cut = st.tuples(st.just("cut"), st.integers(0, n - 1), st.just(0))
    put = st.tuples(st.just("put"), st.integers(0, n - 1), st.integers(0, 255))
    grow = st.tuples(st.just("grow"), st.integers(0, n), st.integers(0, 255))
    return st.lists(st.one_of(flip, cut, put, grow), min_size=1, max_size=4)


def _mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for kind, at, value in edits:
        at = min(at, len(out) - 1) if kind != "grow" else min(at, len(out))
        if kind == "flip" and out:
            out[at] ^= value
        elif kind == "put" and out:
            out[at] = value
        elif kind == "cut":
            del out[at:]
        elif kind == "grow":
            out[at:at] = bytes([value]) * (1 + value % 7)
    return bytes(out)


# ---- IDX ------------------------------------------------------------------------------------
VALID_IDX = bytes((0, 0, 8, 3)) + struct.pack(">3I", 2, 3, 4) + bytes(range(24))


@FUZZ
@given(edits=_mutations(VALID_IDX), compress=st.booleans())
def test_idx_reader(tmp_path_factory, edits, compress):
    FUZZ_COUNTS["idx"] += 1
    raw = _mutate(VALID_IDX, edits)
    path = tmp_path_factory.mktemp("idx") / "f.idx"
    path.write_bytes(gzip.compress(raw, mtime=0) if compress else raw)
    try:
        shape, data = read_idx(path)
    except LoopnetError:
        return
    assert len(data) == math.prod(shape)
    header = 4 + 4 * len(shape)
    assert raw[header:] == data and raw[:4] == bytes((0, 0, 8, len(shape)))


@FUZZ
@given(raw=st.binary(max_size=64))
def test_idx_reader_random_bytes(tmp_path_factory, raw):
    FUZZ_COUNTS["idx"] += 1
    path = tmp_path_factory.mktemp("idx") / "f.idx"
    path.write_bytes(raw)
    try:
        shape, data = read_idx(path)
    except LoopnetError:
        return
    assert len(data) == math.prod(shape)


# ---- model JSON -----------------------------------------------------------------------------
NET = MultiLayerNet([3, 2, 2], activation="tanh", weight_decay=0.5, seed=4)
MODEL_TEXT = json.dumps(model_to_dict(NET, {"epochs": 2}))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 30, 10 ** 30) | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)


def _load(path: Path):
    try:
        return load_model(path, backend="python")
    except LoopnetError:
        return None


def _assert_faithful(net, doc_text: str):
    """An accepted model holds exactly the numbers and names its text spells."""
    doc = json.loads(doc_text)
    assert net.activation == doc["activation"] and net.output == doc["output"]
    for name, value in net.get_params().items():
        stored = doc["params"][name]
        flat = [v for row in stored for v in row] if isinstance(stored[0], list) else stored
        assert all(type(v) in (int, float) for v in flat)
        mine = [v for row in value for v in row] if isinstance(value[0], list) else value
        assert mine == [float(v) for v in flat]


@FUZZ
@given(edits=_mutations(MODEL_TEXT.encode()))
def test_model_json_mutations(tmp_path_factory, edits):
    FUZZ_COUNTS["model json"] += 1
    text = _mutate(MODEL_TEXT.encode(), edits)
    path = tmp_path_factory.mktemp("m") / "m.json"
    path.write_bytes(text)
    net = _load(path)
    if net is not None:
        _assert_faithful(net, text.decode("utf-8"))


@FUZZ
@given(key=st.sampled_from(["version", "sizes", "activation", "output", "weight_decay",
                            "params", "metadata", "format"]), value=json_values)
def test_model_json_fields(tmp_path_factory, key, value):
    FUZZ_COUNTS["model json"] += 1
    doc = json.loads(MODEL_TEXT)
    doc[key] = value
    path = tmp_path_factory.mktemp("m") / "m.json"
    path.write_text(json.dumps(doc))
    net = _load(path)
    if net is not None:
        assert type(doc["version"]) is int and isinstance(doc["weight_decay"], (int, float))
        _assert_faithful(net, json.dumps(doc))


@FUZZ
@given(layer=st.sampled_from(["W1", "b1", "W2", "b2"]), index=st.integers(0, 5),
       value=json_values)
def test_model_json_param_entries(tmp_path_factory, layer, index, value):
    FUZZ_COUNTS["model json"] += 1
    doc = json.loads(MODEL_TEXT)
    target = doc["params"][layer]
    if layer.startswith("W"):
        target = target[index % len(target)]
    target[index % len(target)] = value
    path = tmp_path_factory.mktemp("m") / "m.json"
    path.write_text(json.dumps(doc))
    net = _load(path)
    if net is not None:
        _assert_faithful(net, json.dumps(doc))


# ---- .npz / .pt / .json weights -------------------------------------------------------------
def _import(path: Path, fmt: str):
    try:
        return import_weights(path, fmt)[0]
    except LoopnetError:
        return None


@pytest.mark.parametrize("fmt", ["npz", "torch", "json", "mat"])
def test_weight_file_mutations(tmp_path_factory, fmt):
    if fmt == "torch":
        pytest.importorskip("torch")
    if fmt == "mat":
        pytest.importorskip("scipy.io")
    pytest.importorskip("numpy")
    original = export_bytes(NET, fmt, {"epochs": 2})

    @SMALL
    @given(edits=_mutations(original))
    def check(edits):
        FUZZ_COUNTS[f"{fmt} import"] += 1
        path = tmp_path_factory.mktemp("w") / f"w.{fmt}"
        path.write_bytes(_mutate(original, edits))
        net = _import(path, fmt)
        if net is not None:  # accepted: then it is the very network that was exported
            assert net.config() == NET.config() and net.get_params() == NET.get_params()

    check()


def test_npz_arrays_of_any_dtype_and_shape(tmp_path_factory):
    np = pytest.importorskip("numpy")
    dtypes = ["f8", "f4", "i8", "u1", "c16", "?", "U4", "O", "f2", "V8"]

    @SMALL
    @given(dtype=st.sampled_from(dtypes),
           shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
           name=st.sampled_from(["W1", "b1", "W2", "b2", "loopnet", "x"]))
    def check(dtype, shape, name):
        FUZZ_COUNTS["npz import"] += 1
        arrays = {k: np.array(v) for k, v in NET.get_params().items()}
        arrays["loopnet"] = np.array(json.dumps({**NET.config(), "metadata": {}}))
        arrays[name] = np.zeros(shape, dtype=dtype) if dtype != "O" else np.empty(shape, "O")
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        path = tmp_path_factory.mktemp("w") / "w.npz"
        path.write_bytes(buf.getvalue())
        net = _import(path, "npz")
        if net is not None:
            assert net.config() == NET.config()

    check()


MAT_DTYPES = ["f8", "f4", "i8", "i2", "u1", "c16", "?", "U4", "cell", "struct"]


def _mat_value(np, dtype: str, shape: list[int]):
    """Zeros of `dtype` and `shape`; "cell": a cell array of that shape, "struct": a struct."""
    if dtype == "struct":
        return {"a": np.zeros(shape)}
    if dtype == "cell":
        cells = np.empty(shape, "O")
        for index in np.ndindex(cells.shape):
            cells[index] = np.zeros(2)
        return cells
    return np.zeros(shape, dtype=dtype)


def _mat_file(np, variables: dict) -> bytes:
    import scipy.io

    buf = io.BytesIO()
    scipy.io.savemat(buf, variables)
    return buf.getvalue()


def _net_thetas(np) -> dict:
    from loopnet.reference.mat_weights import thetas_from_params

    return {k: np.array(v) for k, v in thetas_from_params(NET.get_params()).items()}


def test_mat_variables_of_any_dtype_and_shape(tmp_path_factory):
    """Each Θ or the configuration replaced by an array of another type or shape."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("scipy.io")

    @SMALL
    @given(dtype=st.sampled_from(MAT_DTYPES),
           shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
           name=st.sampled_from(["Theta1", "Theta2", "Theta3", "loopnet", "x"]))
    def check(dtype, shape, name):
        FUZZ_COUNTS["mat import"] += 1
        variables = {**_net_thetas(np), "loopnet": json.dumps({**NET.config(), "metadata": {}})}
        variables[name] = _mat_value(np, dtype, shape)
        path = tmp_path_factory.mktemp("w") / "w.mat"
        path.write_bytes(_mat_file(np, variables))
        net = _import(path, "mat")
        if net is not None:  # only an extra variable, or a Θ equal to the exported one
            assert net.config() == NET.config() and net.get_params() == NET.get_params()

    check()


def test_mat_damaged_tags(tmp_path_factory):
    """32-bit words of a file with numbers, text, cells and a struct (every tag lies on a word
    boundary) overwritten, the variables then compressed or not: scipy.io.loadmat crashed the
    interpreter on such files (a type code outside its table); read_mat refuses them."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("scipy.io")
    import zlib

    from loopnet.reference.feature_arrays import read_mat

    cells = np.empty((1, 2), dtype=object)
    cells[0, 0], cells[0, 1] = np.arange(3.0), "text"
    original = _mat_file(np, {**_net_thetas(np), "loopnet": "{}", "c": cells,
                              "s": {"a": np.int32(7), "b": np.ones((2, 2), dtype="f4")}})
    words = (len(original) - 128) // 4

    @FUZZ
    @given(edits=st.lists(st.tuples(st.integers(0, words - 1),
                                    st.integers(0, 20) | st.integers(0, 2 ** 32 - 1)),
                          min_size=1, max_size=3), compress=st.booleans())
    def check(edits, compress):
        FUZZ_COUNTS["mat import"] += 1
        data = bytearray(original)
        for word, value in edits:
            struct.pack_into("<I", data, 128 + 4 * word, value)
        if compress:  # each variable as miCOMPRESSED (type 15) holding its zlib bytes
            out, pos = bytearray(data[:128]), 128
            while pos + 8 <= len(data):
                size = struct.unpack_from("<I", data, pos + 4)[0]
                packed = zlib.compress(bytes(data[pos:pos + 8 + size]))
                out += struct.pack("<II", 15, len(packed)) + packed
                pos += 8 + size
            data = out
        path = tmp_path_factory.mktemp("w") / "w.mat"
        path.write_bytes(bytes(data))
        try:
            read_mat(path)
        except LoopnetError:
            pass

    check()


def test_mat_configurations(tmp_path_factory):
    """The ``loopnet`` variable holding any JSON (or none): refused, or exactly what it says."""
    np = pytest.importorskip("numpy")
    pytest.importorskip("scipy.io")

    @FUZZ
    @given(key=st.sampled_from(["sizes", "activation", "output", "weight_decay", "loss",
                                "log_guard", "metadata", "sha256", None]),
           value=json_values, whole=st.booleans())
    def check(key, value, whole):
        FUZZ_COUNTS["mat import"] += 1
        config = {**NET.config(), "metadata": {}}
        if key is not None:
            config[key] = value
        variables = {**_net_thetas(np), "loopnet": json.dumps(value if whole else config)}
        path = tmp_path_factory.mktemp("w") / "w.mat"
        path.write_bytes(_mat_file(np, variables))
        net = _import(path, "mat")
        if net is not None:
            stored = value if whole else config
            assert isinstance(stored, dict) and net.get_params() == NET.get_params()
            assert net.activation == stored["activation"] and net.output == stored["output"]
            assert net.weight_decay == stored["weight_decay"]

    check()


def test_mat_import_command(capsys, tmp_path_factory):
    """`loopnet import w.mat`: a mutated file is one error line or the exported network."""
    pytest.importorskip("numpy")
    pytest.importorskip("scipy.io")
    original = export_bytes(NET, "mat", {"epochs": 2})

    @SMALL
    @given(edits=_mutations(original))
    def check(edits):
        FUZZ_COUNTS["mat import"] += 1
        folder = tmp_path_factory.mktemp("w")
        (folder / "w.mat").write_bytes(_mutate(original, edits))
        code = main(["import", "--model", str(folder / "m.json"), str(folder / "w.mat")])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        if code == 0:
            net = load_model(folder / "m.json", backend="python")
            assert net.config() == NET.config() and net.get_params() == NET.get_params()
        else:
            assert code == 2 and err.count("\n") == 1 and err.startswith("loopnet: error:")
            assert sorted(p.name for p in folder.iterdir()) == ["w.mat"]

    check()


# ---- conformance results --------------------------------------------------------------------
CASE = {"name": "c", "tolerance": {"mode": "bitwise"}, "expected": {"x": [1.5, 2], "n": 3}}


@FUZZ
@given(output=json_values, version=json_values)
def test_conformance_results(output, version):
    FUZZ_COUNTS["conformance result"] += 1
    result = {"format": "loopnet-conformance-result", "version": version, "case": "c",
              "output": output}
    try:
        report = check_case(CASE, result)
    except LoopnetError:
        return
    if report.passed:
        assert type(version) is int and output == CASE["expected"]


# ---- numeric CLI flags ----------------------------------------------------------------------
TRICKY = st.sampled_from([
    "0", "-1", "1", "2", "3", "1.5", "1e20", "1e-300", "100000000000000000000", "-0", "nan",
    "inf", "-inf", "", " ", "0x10", "1_0", "٣", "9" * 400, "1e999", "0.0", "5e-324", "abc",
])
FLAGS = [
    (["train", "--backend", "python", "--quiet", "--limit", "30", "--hidden", "3"],
     ["--epochs", "--iters", "--batch-size", "--lr", "--weight-decay", "--limit",
      "--init", "--hidden"]),
    (["gradcheck", "--backend", "python", "--sizes", "3,2,2"],
     ["--examples", "--samples", "--rtol", "--atol", "--seed", "--init", "--weight-decay"]),
    (["compare", "--backend", "python", "--against", "numpy", "--sizes", "784,3,10",
      "--batch-size", "3"],
     ["--steps", "--batch-size", "--lr", "--tolerance", "--seed", "--weight-decay", "--init"]),
    (["trace"], ["--example", "--batch", "--layer", "--neuron", "--precision", "--lr", "--seed",
                 "--init", "--weight-decay"]),
]
CASES = [(base, flag) for base, flags in FLAGS for flag in flags]


@pytest.mark.parametrize("base,flag", CASES, ids=[f"{b[0]} {f}" for b, f in CASES])
def test_numeric_flags(capsys, base, flag):
    if base[0] == "compare":
        pytest.importorskip("numpy")
    long_runs = {"--epochs", "--iters", "--steps", "--examples", "--batch", "--samples"}

    @settings(FUZZ, max_examples=6)
    @given(text=TRICKY)
    def check(text):
        FUZZ_COUNTS["cli flag"] += 1
        if flag in long_runs and text.isdigit() and 10 < int(text) < 10 ** 9:
            return  # a valid long run: not a parser case
        argv = [*base, f"{flag}={text}"]
        if base[0] == "train" and flag not in ("--epochs", "--iters"):
            argv.append("--iters=1")
        code = main(argv)
        out, err = capsys.readouterr()
        assert code in (0, 1, 2), (argv, code)
        assert "Traceback" not in err
        if code == 2:
            lines = [line for line in err.strip().splitlines()
                     if not line.startswith("loopnet: warning:")]
            assert len(lines) == 1 and lines[0].startswith("loopnet: error:"), (argv, err)

    check()

