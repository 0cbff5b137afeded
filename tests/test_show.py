"""`loopnet show weights|misclassified|confusion|digits`: pictures, written atomically."""
import builtins

import pytest
from cli_helpers import assert_one_line_error, run
from pictures_helpers import digits_dir, saved_model

from loopnet.data import load_data
from loopnet.model_io import load_model
from loopnet.pictures import PICTURES, predicted_classes
from loopnet.training import confusion_matrix

pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install loopnet[plot])")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def data_dir(tmp_path):
    return digits_dir(tmp_path / "idx")


@pytest.fixture
def model(tmp_path):
    return saved_model(tmp_path / "m.json")


@pytest.mark.parametrize("picture", PICTURES)
def test_each_picture_is_a_png(capsys, tmp_path, data_dir, model, picture):
    out_path = tmp_path / f"{picture}.png"
    code, out, err = run(capsys, "show", picture, "--model", model, "--data", data_dir,
                         "--backend", "python", "-o", out_path)
    assert code == 0, err
    assert out_path.read_bytes()[:8] == PNG_MAGIC
    assert out_path.stat().st_size > 5000  # a real picture, not an empty canvas
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_digits_needs_no_model_and_svg_works(capsys, tmp_path, data_dir):
    code, out, err = run(capsys, "show", "digits", "--data", data_dir, "--count", 5,
                         "-o", tmp_path / "d.svg")
    assert code == 0, err
    assert b"<svg" in (tmp_path / "d.svg").read_bytes()[:500]


def test_predicted_classes_agree_with_the_confusion_matrix(data_dir, model):
    _, test = load_data(str(data_dir))
    net = load_model(model, backend="python")
    predicted = predicted_classes(net, test)
    counts = [[0] * 10 for _ in range(10)]
    for label, p in zip(test.labels, predicted):
        counts[label][p] += 1
    assert counts == confusion_matrix(net, test)


def test_bad_input_is_one_line_and_leaves_the_old_file(capsys, tmp_path, data_dir, model):
    old = tmp_path / "old.png"
    old.write_bytes(b"previous picture")
    small = saved_model(tmp_path / "small.json", sizes=(3, 4, 3))
    cases = [
        (["weights", "--model", small], ["not a square image"]),
        (["confusion", "--model", small, "--data", data_dir], ["3 inputs"]),
        (["misclassified", "--data", data_dir], ["--model"]),
        (["weights", "--model", tmp_path / "missing.json"], ["missing.json"]),
    ]
    for argv, words in cases:
        code, out, err = run(capsys, "show", *argv, "-o", old)
        assert_one_line_error(code, err, *words)
        assert old.read_bytes() == b"previous picture"
    code, _, err = run(capsys, "show", "weights", "--model", model, "-o", model)
    assert_one_line_error(code, err, "the model file")
    assert load_model(model).sizes == [784, 12, 10]  # not overwritten
    code, _, err = run(capsys, "show", "weights", "--model", model, "-o", tmp_path / "w.xyz")
    assert_one_line_error(code, err, "unknown picture format")
    code, _, err = run(capsys, "show", "weights", "--model", model,
                       "-o", tmp_path / "no" / "w.png")
    assert_one_line_error(code, err, "does not exist")


def test_without_matplotlib_the_error_names_the_extra(capsys, monkeypatch, tmp_path, model):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    code, out, err = run(capsys, "show", "weights", "--model", model, "-o", tmp_path / "w.png")
    assert_one_line_error(code, err, "loopnet[plot]")


def test_the_pictures_show_the_models_numbers(data_dir, model):
    """What each figure draws, read back from matplotlib: weights, wrong images, counts, labels."""
    from loopnet import pictures

    _, test = load_data(str(data_dir))
    net = load_model(model, backend="python")
    W = net.params["W1"]
    fig = pictures.weights_figure(net)
    drawn = [ax for ax in fig.axes if ax.images]
    assert len(drawn) == 12
    for j, ax in enumerate(drawn):
        image = ax.images[0].get_array()
        assert [[float(v) for v in row] for row in image] == [
            [W[(r * 28 + c) * 12 + j] for c in range(28)] for r in range(28)]
        assert ax.get_title() == f"H{j + 1}"
    predicted = predicted_classes(net, test)
    wrong = [i for i, p in enumerate(predicted) if p != test.labels[i]]
    fig = pictures.misclassified_figure(net, test, 5, "test images")
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == [f"#{i}: {test.labels[i]} → {predicted[i]}" for i in wrong[:5]]
    counts = confusion_matrix(net, test)
    fig = pictures.confusion_figure(counts, "test images")
    texts = sorted(int(t.get_text()) for t in fig.axes[0].texts)
    assert texts == sorted(v for row in counts for v in row if v)
    fig = pictures.digits_figure(test, [0, 1, 2], "test images")
    assert [ax.get_title() for ax in fig.axes if ax.images] == [str(test.labels[i]) for i in range(3)]
    import matplotlib.pyplot as plt

    plt.close("all")
