"""`loopnet predict`: the digit in block characters, the outputs as bars, the class; bad input."""
import builtins
import json
import math

import pytest
from cli_helpers import assert_one_line_error, run
from pictures_helpers import digits_dir, saved_model

from loopnet.data import load_data
from loopnet.model_io import load_model
from loopnet.prediction import SHADES, bar, digit_blocks, predict_pixels


@pytest.fixture
def data_dir(tmp_path):
    return digits_dir(tmp_path / "idx")


@pytest.fixture
def model(tmp_path):
    return saved_model(tmp_path / "m.json")


def test_predict_json_is_the_kernels_answer(capsys, data_dir, model):
    code, out, err = run(capsys, "predict", "--model", model, "--data", data_dir, "--index", 3,
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    _, test = load_data(str(data_dir))
    net = load_model(model, backend="python")
    row = test.row(3)
    scores = net.predict([row])[0]
    assert result["scores"] == scores
    assert result["predicted"] == max(range(10), key=lambda k: (scores[k], -k))
    top = max(scores)
    exps = [math.exp(a - top) for a in scores]
    assert result["outputs"] == pytest.approx([e / sum(exps) for e in exps], abs=1e-15)
    assert result["label"] == test.labels[3]
    assert result["pixels"] == list(test.pixels[3 * 784:4 * 784])


def test_predict_draws_the_digit_in_28_by_14_characters_and_ten_bars(capsys, data_dir, model):
    code, out, err = run(capsys, "predict", "--model", model, "--data", data_dir, "--index", 0)
    assert code == 0, err
    lines = out.splitlines()
    box = [line.strip() for line in lines if line.strip()[:1] in "┌│└"]
    assert len(box) == 14 + 2
    assert all(len(line) == 28 + 2 for line in box)
    inner = "".join(line[1:-1] for line in box[1:-1])
    assert set(inner) <= set(SHADES + "▀▄") and inner.strip()
    bars = [line for line in lines if line[:3].strip().isdigit()]
    assert [int(line[:3]) for line in bars] == list(range(10))
    assert sum("◀" in line for line in bars) == 1
    assert lines[-1].startswith("predicted class: ")


def test_digit_blocks_puts_two_pixel_rows_in_a_character():
    ink_top = [255] * 4 + [0] * 4  # a 4×2 image: top row inked, bottom blank
    assert digit_blocks(ink_top, 4) == ["▀▀▀▀"]
    assert digit_blocks([0] * 4 + [255] * 4, 4) == ["▄▄▄▄"]
    assert digit_blocks([255] * 8, 4) == ["████"]
    assert digit_blocks([0] * 8, 4) == ["    "]
    assert digit_blocks([128] * 8, 4) == ["▒▒▒▒"]


def test_bars_are_measured_in_eighths():
    assert bar(1.0, 5) == "█████"
    assert bar(0.0, 5) == ""
    assert bar(0.5, 2) == "█"
    assert bar(1 / 16, 2) == "▏"
    assert bar(2.0, 3) == "███"  # clipped


def test_predict_pixels_works_for_identity_outputs():
    from loopnet import MultiLayerNet

    net = MultiLayerNet([4, 3, 2], output="identity", weight_init="he", seed=1)
    result = predict_pixels(net, [0, 255, 30, 7])
    assert result.outputs == result.scores == net.predict([[0, 1.0, 30 / 255, 7 / 255]])[0]


def test_predict_pixels_works_for_sigmoid_outputs():
    from loopnet import MultiLayerNet

    net = MultiLayerNet([4, 3, 2], output="sigmoid", weight_init="he", seed=1)
    result = predict_pixels(net, [0, 255, 30, 7])
    scores = net.predict([[0, 1.0, 30 / 255, 7 / 255]])[0]
    assert result.outputs == pytest.approx([1 / (1 + math.exp(-a)) for a in scores], abs=1e-15)
    assert result.predicted == max(range(2), key=lambda k: (scores[k], -k))


def test_predict_an_image_file(capsys, tmp_path, model):
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    from PIL import ImageDraw

    img = Image.new("RGB", (120, 160), "white")
    ImageDraw.Draw(img).ellipse([20, 20, 100, 140], outline="black", width=12)
    img.save(tmp_path / "zero.jpg")
    code, out, err = run(capsys, "predict", "--model", model, "--image", tmp_path / "zero.jpg",
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    from loopnet.digit_image import read_digit_image

    pixels = read_digit_image(tmp_path / "zero.jpg")
    assert result["pixels"] == list(pixels)
    assert result["scores"] == load_model(model, backend="python").predict(
        [[p / 255 for p in pixels]])[0]
    assert result["label"] is None


def test_bad_input_is_one_line(capsys, tmp_path, data_dir, model):
    small = saved_model(tmp_path / "small.json", sizes=(3, 4, 3))
    (tmp_path / "note.png").write_text("this is not a picture")
    cases = [
        (["--model", small, "--data", data_dir, "--index", 0], ["3 inputs"]),
        (["--model", model, "--data", data_dir, "--index", 40], ["out of range", "0..39"]),
        (["--model", model, "--data", data_dir, "--index", -1], ["out of range"]),
        (["--model", model, "--data", data_dir], ["--index"]),
        (["--model", tmp_path / "nope.json", "--data", data_dir, "--index", 0], ["nope.json"]),
    ]
    try:
        import PIL  # noqa: F401

        cases += [(["--model", model, "--image", tmp_path / "note.png"], ["not an image"]),
                  (["--model", small, "--image", tmp_path / "note.png"], ["3 inputs"])]
    except ImportError:
        pass
    for argv, words in cases:
        code, out, err = run(capsys, "predict", *argv)
        assert_one_line_error(code, err, *words)
        assert out == ""


def test_without_pillow_the_error_names_the_extra(capsys, monkeypatch, tmp_path, model):
    real_import = builtins.__import__

    def no_pillow(name, *args, **kwargs):
        if name == "PIL" or name.startswith("PIL."):
            raise ImportError("no PIL")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pillow)
    code, out, err = run(capsys, "predict", "--model", model, "--image", tmp_path / "x.png")
    assert_one_line_error(code, err, "loopnet[image]")
