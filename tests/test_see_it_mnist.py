"""predict, show and explore on a 784-100-10 model trained on the real MNIST split (slow)."""
import json

import pytest
from browser import Page, browser  # noqa: F401  (browser is a fixture)

from loopnet.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.numba_required]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def mnist_model(tmp_path_factory, mnist_split_dir):
    model = tmp_path_factory.mktemp("mnist") / "m.json"
    assert main(["train", "--data", str(mnist_split_dir), "--hidden", "100", "--init", "he",
                 "--epochs", "5", "--save", str(model), "--quiet"]) == 0
    return model


def test_the_trained_model_predicts_shows_and_explores(capsys, tmp_path, mnist_model,
                                                       mnist_split_dir, browser):  # noqa: F811
    correct = 0
    for index in range(20):
        result = json.loads(run(capsys, "predict", "--model", mnist_model, "--data",
                                mnist_split_dir, "--index", index, "--json"))
        correct += result["predicted"] == result["label"]
    assert correct >= 17  # the model reaches about 93 % after 5 epochs
    for picture in ("weights", "misclassified", "confusion", "digits"):
        run(capsys, "show", picture, "--model", mnist_model, "--data", mnist_split_dir,
            "-o", tmp_path / f"{picture}.png")
        assert (tmp_path / f"{picture}.png").stat().st_size > 10_000
    run(capsys, "explore", "--model", mnist_model, "--data", mnist_split_dir, "--batch", "50",
        "-o", tmp_path / "page.html")
    page = Page(browser, tmp_path / "page.html")
    page.page.click("#neuron-2-3")
    assert any(line.startswith("A_4 = B_4^(2) + Σ_i H_i·W_{i,4}^(2) = ")
               for line in page.panel_equations())
    page.page.click("#run")
    page.page.wait_for_function("() => !window.loopnetExplorer.state.running")
    losses = page.js("() => window.loopnetExplorer.state.losses")
    assert len(losses) == 10 and losses[-1] < losses[0]
    page.page.screenshot(path=str(tmp_path / "mnist.png"), full_page=True)
    assert page.errors == []
    page.close()


def test_pictures_of_mnist_digits_are_recognised_about_as_well_as_the_digits(tmp_path, mnist_model,
                                                                            mnist_split_dir):
    """Each test digit drawn 10× larger as dark ink on paper, read back by predict --image."""
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed")
    from loopnet.data import load_data
    from loopnet.digit_image import read_digit_image
    from loopnet.model_io import load_model
    from loopnet.prediction import predict_pixels

    _, test = load_data(str(mnist_split_dir))
    net = load_model(mnist_model, backend="python")
    agree = 0
    count = 100
    for index in range(count):
        original = test.pixels[index * 784:(index + 1) * 784]
        big = Image.frombytes("L", (28, 28), bytes(original)).resize((280, 280), Image.BICUBIC)
        Image.eval(big, lambda v: 255 - v).save(tmp_path / "digit.png")
        pixels = read_digit_image(tmp_path / "digit.png")
        agree += predict_pixels(net, pixels).predicted == predict_pixels(net, original).predicted
    assert agree >= 0.9 * count  # measured: 95.5 % of 200 with the 20-epoch model
