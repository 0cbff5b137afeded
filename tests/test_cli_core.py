"""The `loopnet` command: train, evaluate, gradcheck, and the one-line error contract (exit 2)."""

import builtins
import itertools
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

from loopnet import MultiLayerNet
from loopnet.cli import main
from loopnet.data import generate_digits, write_idx
from loopnet.model_io import load_model, load_model_dict, save_model

pytestmark = pytest.mark.usefixtures("private_cache")

REPO = Path(__file__).resolve().parents[1]
SMALL_TRAIN = ["train", "--limit", "600", "--epochs", "1", "--hidden", "16", "--backend", "python",
               "--quiet"]
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def strict_json(text):
    """json.loads that also rejects NaN/Infinity, which are not JSON."""
    def bad_constant(name):
        raise ValueError(f"{name} is not valid JSON")
    return json.loads(text, parse_constant=bad_constant)


def files_under(folder: Path) -> set:
    return {p.relative_to(folder) for p in folder.rglob("*")}


# ---- train / evaluate -----------------------------------------------------------------------
EPOCH_LINE = re.compile(
    r"^epoch +(\d+) +step +(\d+) +loss (\d+\.\d{4}) +train acc ([01]\.\d{4}) +test acc ([01]\.\d{4})",
    re.M)


def test_train_small_synthetic_run_saves_model_and_metrics(capsys, tmp_path):
    model, metrics = tmp_path / "m.json", tmp_path / "m.jsonl"
    code, out, err = run(capsys, *SMALL_TRAIN, "--save", str(model), "--metrics", str(metrics))
    assert code == 0, err
    epochs = EPOCH_LINE.findall(out)
    assert [(e[0], e[1]) for e in epochs] == [("1", "6")]  # 600 / 100 = 6 steps
    assert re.search(r"^done: 6 steps .* test accuracy [01]\.\d{4}$", out, re.M)
    assert "600 train / 600 test" in out

    data = strict_json(model.read_text())
    assert data["format"] == "loopnet-model" and data["version"] == 2
    assert data["sizes"] == [784, 16, 10]
    net = load_model(model, backend="python")
    assert net.sizes == [784, 16, 10]

    lines = metrics.read_text().splitlines()
    assert len(lines) == 1
    record = strict_json(lines[0])
    assert record["epoch"] == 1 and record["steps"] == 6
    assert record["train_seconds"] > 0
    assert f"{record['test_acc']:.4f}" == epochs[0][4]

    # evaluate the saved model on the same 600 test examples: same accuracy as train reported
    code, out, err = run(capsys, "evaluate", "--model", str(model), "--limit", "600",
                         "--backend", "python")
    assert code == 0, err
    match = re.search(r"accuracy ([01]\.\d{4}) \((\d+)/600\)", out)
    assert match and match.group(1) == epochs[0][4]
    assert "confusion matrix" in out
    lines = out.splitlines()
    table = lines[lines.index("confusion matrix (rows: true label, columns: predicted)") + 1:]
    assert table[0].split() == [str(k) for k in range(10)]  # header: predicted labels
    rows = [line.split() for line in table[1:]]
    assert [int(r[0]) for r in rows] == list(range(10))
    counts = [[int(v) for v in r[1:]] for r in rows]
    assert all(len(r) == 10 for r in counts)
    assert sum(map(sum, counts)) == 600
    assert sum(counts[k][k] for k in range(10)) == int(match.group(2))


def test_metrics_has_train_seconds_per_epoch(capsys, tmp_path):
    metrics = tmp_path / "run.jsonl"
    code, out, err = run(capsys, "train", "--limit", "200", "--epochs", "3", "--hidden", "8",
                         "--batch-size", "50", "--backend", "python", "--quiet",
                         "--metrics", str(metrics))
    assert code == 0, err
    records = [strict_json(line) for line in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert [r["steps"] for r in records] == [4, 8, 12]
    seconds = [r["train_seconds"] for r in records]
    assert all(r["epoch_train_seconds"] > 0 for r in records)
    assert seconds == sorted(seconds) and seconds[0] > 0  # cumulative
    assert seconds[-1] == pytest.approx(sum(r["epoch_train_seconds"] for r in records))
    assert len(EPOCH_LINE.findall(out)) == 3
    assert files_under(tmp_path) == {Path("run.jsonl")}  # no temporary files left


def write_mnist_dir(folder, n_train=30, n_test=10, train_labels=None, test_labels=None):
    """The four MNIST-named IDX files from synthetic digits."""
    folder.mkdir(parents=True, exist_ok=True)
    digits = generate_digits(n_train + n_test, seed=1)
    cut = n_train * 784
    train_labels = digits.labels[:n_train] if train_labels is None else bytes(train_labels)
    test_labels = digits.labels[n_train:] if test_labels is None else bytes(test_labels)
    write_idx(folder / IDX_NAMES[0], (n_train, 28, 28), digits.pixels[:cut])
    write_idx(folder / IDX_NAMES[1], (len(train_labels),), train_labels)
    write_idx(folder / IDX_NAMES[2], (n_test, 28, 28), digits.pixels[cut:])
    write_idx(folder / IDX_NAMES[3], (len(test_labels),), test_labels)
    return folder


def test_train_on_an_idx_directory(capsys, tmp_path):
    data = write_mnist_dir(tmp_path / "idx")
    code, out, err = run(capsys, "train", "--data", str(data), "--epochs", "1", "--hidden", "8",
                         "--batch-size", "10", "--backend", "python", "--quiet")
    assert code == 0, err
    assert "30 train / 10 test" in out
    assert len(EPOCH_LINE.findall(out)) == 1


def test_evaluate_train_split_and_plot(capsys, tmp_path):
    pytest.importorskip("matplotlib", reason="--plot needs the plot extra (matplotlib)")
    model, plot = tmp_path / "m.json", tmp_path / "curves.png"
    code, out, err = run(capsys, "train", "--limit", "200", "--epochs", "2", "--hidden", "8",
                         "--backend", "python", "--quiet", "--save", str(model), "--plot", str(plot))
    assert code == 0, err
    last_train_acc = EPOCH_LINE.findall(out)[-1][3]
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert files_under(tmp_path) == {Path("m.json"), Path("curves.png")}
    code, out, err = run(capsys, "evaluate", "--model", str(model), "--split", "train",
                         "--limit", "200", "--backend", "python")
    assert code == 0, err
    assert "(train, 200 examples)" in out
    # the same 200 training examples the last epoch measured
    assert re.search(r"accuracy ([01]\.\d{4})", out).group(1) == last_train_acc


def test_no_subcommand_is_one_line_error(capsys):
    code, out, err = run(capsys)
    assert_one_line_error(code, err)


# ---- gradcheck ------------------------------------------------------------------------------
def test_gradcheck_default_passes(capsys):
    code, out, err = run(capsys, "gradcheck")
    assert code == 0, out + err
    assert "ok: every entry" in out
    assert all(line.endswith("ok") for line in out.splitlines()
               if re.match(r"^[Wb]\d ", line))


@pytest.mark.parametrize("activation, output, weight_decay", list(itertools.product(
    ["relu", "sigmoid", "tanh"], ["softmax", "identity"], ["0", "0.1"])))
def test_gradcheck_every_combination(capsys, activation, output, weight_decay):
    code, out, err = run(capsys, "gradcheck", "--sizes", "8,6,4", "--activation", activation,
                         "--output", output, "--weight-decay", weight_decay, "--backend", "python")
    assert code == 0, out + err
    assert f"{activation}/{output}" in out
    assert len(re.findall(r"^[Wb][12] .* ok$", out, re.M)) == 4


def test_gradcheck_absurd_tolerance_fails(capsys):
    code, out, err = run(capsys, "gradcheck", "--rtol", "1e-15", "--atol", "1e-18")
    assert code == 1
    assert "FAIL" in out
    assert err == ""


def test_gradcheck_nan_gradients_are_not_ok(capsys):
    """Regression: NaN differences compared False against the tolerance and passed as 'ok'."""
    # weights of 1e200 overflow the forward pass: every loss and gradient is NaN or inf
    code, out, err = run(capsys, "gradcheck", "--init", "1e200", "--backend", "python")
    assert "nan" in out
    assert code == 1
    assert "ok: every entry" not in out and "FAIL" in out


# ---- bad input: exit 2, one line, no traceback, no file ------------------------------------------
@pytest.mark.parametrize("args", [
    ["--activation", "swish"],
    ["--output", "logistic"],
    ["--output", "softmax", "--loss", "squared_error"],
    ["--output", "identity", "--loss", "cross_entropy"],
    ["--loss", "mse"],
    ["--log-guard", "-1e-7"],
    ["--log-guard", "nan"],
    ["--optimizer", "rmsprop"],
    ["--lr", "0"],
    ["--lr", "-0.1"],
    ["--lr", "nan"],
    ["--batch-size", "-1"],
    ["--batch-size", "0"],
    ["--hidden", "0"],
    ["--hidden", "16,-2"],
    ["--hidden", "abc"],
    ["--epochs", "0"],
    ["--epochs", "1", "--iters", "5"],
    ["--init", "-1"],
    ["--init", "gaussian"],
    ["--weight-decay", "-0.5"],
    ["--backend", "cuda"],
    ["--limit", "0"],
    ["--data", "/nonexistent"],
    ["--no-such-flag"],
], ids=lambda a: " ".join(a))
def test_train_bad_arguments(capsys, tmp_path, args):
    argv = [*SMALL_TRAIN, *args, "--save", str(tmp_path / "m.json"),
            "--metrics", str(tmp_path / "m.jsonl")]
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err)
    assert files_under(tmp_path) == set()


def corrupt_dir(folder):
    folder.mkdir()
    for i, name in enumerate(IDX_NAMES):
        (folder / name).write_bytes(bytes((37 * k + i) % 256 for k in range(100)))
    return folder


def labels_too_big(folder):
    labels = [3, 7, 12, 0, 1]  # 12 is not a digit
    return write_mnist_dir(folder, n_train=5, n_test=5, train_labels=labels)


def truncated(folder):
    write_mnist_dir(folder)
    images = folder / IDX_NAMES[2]
    images.write_bytes(images.read_bytes()[:-100])
    return folder


def count_mismatch(folder):
    return write_mnist_dir(folder, n_train=5, n_test=5, train_labels=[1, 2, 3, 4])


def missing_file(folder):
    write_mnist_dir(folder)
    (folder / IDX_NAMES[3]).unlink()
    return folder


def labels_are_images(folder):
    write_mnist_dir(folder)
    (folder / IDX_NAMES[1]).write_bytes((folder / IDX_NAMES[0]).read_bytes())
    return folder


@pytest.mark.parametrize("make", [corrupt_dir, labels_too_big, truncated, count_mismatch,
                                  missing_file, labels_are_images])
def test_train_bad_data_directory(capsys, tmp_path, make):
    data = make(tmp_path / "data")
    before = files_under(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, out, err = run(capsys, *SMALL_TRAIN, "--data", str(data), "--save",
                         str(out_dir / "m.json"), "--metrics", str(out_dir / "m.jsonl"))
    assert_one_line_error(code, err)
    assert str(data) in err or "label" in err
    assert files_under(tmp_path) == before | {Path("out")}
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("flag", ["--save", "--metrics", "--plot"])
def test_output_into_missing_directory(capsys, tmp_path, flag):
    target = tmp_path / "missing" / "out.file"
    code, out, err = run(capsys, *SMALL_TRAIN, flag, str(target))
    assert_one_line_error(code, err)
    assert "does not exist" in err
    assert files_under(tmp_path) == set()
    assert out == ""  # refused before any training


def test_save_onto_a_directory_is_refused(capsys, tmp_path):
    (tmp_path / "m.json").mkdir()
    code, out, err = run(capsys, *SMALL_TRAIN, "--save", str(tmp_path / "m.json"))
    assert_one_line_error(code, err)
    assert files_under(tmp_path) == {Path("m.json")}


def test_plot_without_matplotlib(capsys, tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    code, out, err = run(capsys, *SMALL_TRAIN, "--plot", str(tmp_path / "p.png"),
                         "--save", str(tmp_path / "m.json"))
    assert_one_line_error(code, err)
    assert "pip install loopnet[plot]" in err
    assert files_under(tmp_path) == set()


# ---- evaluate --model on bad files ------------------------------------------------------------
@pytest.fixture
def good_model_dict(tmp_path):
    path = tmp_path / "good.json"
    save_model(MultiLayerNet([784, 4, 10], weight_init="he", seed=1), path)
    data = load_model_dict(path)
    path.unlink()
    return data


def model_file_cases():
    def w1_short(d):
        d["params"]["W1"] = d["params"]["W1"][:-1]

    def w1_nan(d):
        d["params"]["W1"][3][2] = math.nan

    def w1_inf(d):
        d["params"]["W1"][0][0] = math.inf

    def b2_text(d):
        d["params"]["b2"] = "zeros"

    def other_format(d):
        d["format"] = "keras-model"

    def no_format(d):
        del d["format"]

    def version_3(d):
        d["version"] = 3

    def version_text(d):
        d["version"] = "1"

    def no_params(d):
        del d["params"]

    def bad_sizes(d):
        d["sizes"] = [784, 0, 10]

    def bad_activation(d):
        d["activation"] = "gelu"

    def sizes_disagree(d):
        d["sizes"] = [784, 5, 10]

    return [w1_short, w1_nan, w1_inf, b2_text, other_format, no_format, version_3, version_text,
            no_params, bad_sizes, bad_activation, sizes_disagree]


@pytest.mark.parametrize("change", model_file_cases(), ids=lambda f: f.__name__)
def test_evaluate_rejects_bad_model(capsys, tmp_path, good_model_dict, change):
    change(good_model_dict)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(good_model_dict))  # allow_nan: NaN/Infinity written as such
    code, out, err = run(capsys, "evaluate", "--model", str(path), "--backend", "python")
    assert_one_line_error(code, err)
    assert str(path) in err
    assert out == ""


@pytest.mark.parametrize("content", [None, b"{not json", b"[1, 2, 3]", b"\xff\xfe\x00garbage", b""],
                         ids=["missing", "invalid-json", "json-list", "not-utf8", "empty"])
def test_evaluate_rejects_unreadable_model(capsys, tmp_path, content):
    path = tmp_path / "model.json"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, "evaluate", "--model", str(path), "--backend", "python")
    assert_one_line_error(code, err)
    assert str(path) in err


@pytest.mark.parametrize("backend", ["python", "auto"])
def test_evaluate_model_with_int_too_large_for_float(capsys, tmp_path, good_model_dict, backend):
    text = json.dumps(good_model_dict).replace("[0.0, 0.0", "[0.0, 1" + "0" * 400, 1)
    path = tmp_path / "big.json"
    path.write_text(text)
    try:
        code = main(["evaluate", "--model", str(path), "--backend", backend])
    except OverflowError:
        code = None  # escaped main: the traceback the user would see
    _, err = capsys.readouterr()
    assert_one_line_error(code, err)


def test_evaluate_model_of_wrong_input_size(capsys, tmp_path):
    path = tmp_path / "small.json"
    save_model(MultiLayerNet([5, 3, 10]), path)
    code, out, err = run(capsys, "evaluate", "--model", str(path), "--limit", "10",
                         "--backend", "python")
    assert_one_line_error(code, err)


# ---- divergence -----------------------------------------------------------------------------
DIVERGE = ["train", "--limit", "200", "--epochs", "1", "--hidden", "8", "--quiet", "--lr", "1e300"]


@pytest.mark.parametrize("backend", ["python",
                                     pytest.param("numba", marks=pytest.mark.numba_required)])
def test_diverged_training_is_a_clean_error(capsys, tmp_path, backend):
    """Regression: a NaN loss used to reach save_model (traceback, exit 1) and put bare NaN,
    which is not JSON, into the metrics file."""
    code, out, err = run(capsys, *DIVERGE, "--backend", backend, "--save",
                         str(tmp_path / "m.json"), "--metrics", str(tmp_path / "m.jsonl"))
    assert_one_line_error(code, err)
    assert "diverged" in err
    assert files_under(tmp_path) == set()


# ---- real subprocesses ----------------------------------------------------------------------
def subprocess_env(cache):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["LOOPNET_CACHE"] = str(cache)
    return env


def test_subprocess_train_and_gradcheck(tmp_path, synthetic_cache):
    env = subprocess_env(synthetic_cache)
    done = subprocess.run([sys.executable, "-m", "loopnet", "train", "--limit", "200",
                           "--epochs", "1", "--hidden", "8", "--backend", "python", "--quiet",
                           "--save", str(tmp_path / "m.json")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(EPOCH_LINE.findall(done.stdout)) == 1
    assert load_model(tmp_path / "m.json", backend="python").sizes == [784, 8, 10]
    done = subprocess.run([sys.executable, "-m", "loopnet", "gradcheck", "--sizes", "6,5,3",
                           "--backend", "python"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok: every entry" in done.stdout


@pytest.mark.parametrize("argv", [
    ["train", "--lr", "0"],
    ["train", "--data", "/nonexistent"],
    ["evaluate", "--model", "/nonexistent/model.json"],
], ids=lambda a: " ".join(a))
def test_subprocess_bad_input_is_one_line(tmp_path, synthetic_cache, argv):
    done = subprocess.run([sys.executable, "-m", "loopnet", *argv], cwd=tmp_path,
                          env=subprocess_env(synthetic_cache), capture_output=True, text=True,
                          timeout=120)
    assert_one_line_error(done.returncode, done.stderr)
    assert done.stdout == ""
    assert files_under(tmp_path) == set()
