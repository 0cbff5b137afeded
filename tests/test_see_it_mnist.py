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
    losses = page.js("() => window.loopnetExplorer.state.losses")
    assert len(losses) == 10 and losses[-1] < losses[0]
    page.page.screenshot(path=str(tmp_path / "mnist.png"), full_page=True)
    assert page.errors == []
    page.close()
