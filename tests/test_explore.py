"""`loopnet explore`: the page's JavaScript numbers are the Python kernels' numbers, its equations
are `loopnet trace`'s lines, and it works in a real headless browser (tests/browser.py)."""
import json
import random
import re

import pytest
from browser import Page, browser  # noqa: F401  (browser is a fixture)
from cli_helpers import run
from pictures_helpers import digits_dir, saved_model

from loopnet import SGD, kernels
from loopnet.cli import build_parser
from loopnet.cli.trace import _examples, _network
from loopnet.explore import SCRIPTS, _asset
from loopnet.trace import format_number

NO_EXP = 0.0  # tolerance where only +, ·, / are involved: bitwise
WITH_EXP = 1e-12  # where exp / log / tanh are involved (libm and V8 may differ in the last bit)


def explore(capsys, tmp_path, *argv, name="page.html"):
    path = tmp_path / name
    code, out, err = run(capsys, "explore", *argv, "-o", path)
    assert code == 0, err
    return path


def network_and_examples(*argv):
    """The network and minibatch `loopnet explore *argv` puts in its page (as trace builds them)."""
    args = build_parser().parse_args(["explore", *map(str, argv)])
    net, _ = _network(args)
    rows, labels, _, _ = _examples(args, net)
    return net, rows, labels


def python_trace_values(net, rows, labels):
    """Z, H, dZ, dH of each example and the running gradients, by the Python kernels."""
    sizes = list(net.sizes)
    params = [net.backend.to_list(net.params[name]) for name in net.names]
    n_in, n_out = sizes[0], sizes[-1]
    N = len(rows)
    X = [v for row in rows for v in row]
    T = [1.0 if k == label else 0.0 for label in labels for k in range(n_out)]
    row_start, input_index, input_value = [0] * (N + 1), [0] * (N * n_in + 1), [0.0] * (N * n_in + 1)
    kernels.sparse_rows(X, N, n_in, row_start, input_index, input_value)
    widths = sizes[1:]
    Z, H, dZ, dH = ([[0.0] * w for w in widths] for _ in range(4))
    active = [0] * max(widths)
    grads = [[0.0] * len(p) for p in params]
    per_example = []
    for n in range(N):
        first, end = row_start[n], row_start[n + 1]
        kernels.forward_example(input_index, input_value, first, end, params, sizes,
                                net._activation, Z, H, active)
        E = kernels.output_loss(net._output, net.log_guard, Z, H, T, n * n_out, sizes)
        kernels.backward_example(input_index, input_value, first, end, T, n * n_out, N, params,
                                 grads, sizes, net._activation, net._output, Z, H, dZ, dH,
                                 active)
        per_example.append({"Z": [list(b) for b in Z], "H": [list(b) for b in H],
                            "dZ": [list(b) for b in dZ], "dH": [list(b) for b in dH], "E": E,
                            "after": [list(g) for g in grads]})
    return per_example


PAGE_VALUES = """(n) => {
  const api = window.loopnetExplorer;
  api.setExample(n);
  const ex = api.view().ex;
  const arrays = (list) => list.map((b) => Array.from(b));
  return {Z: arrays(ex.Z), H: arrays(ex.H), dZ: arrays(ex.dZ), dH: arrays(ex.dH), E: ex.E,
          after: arrays(ex.after), loss: api.view().loss};
}"""
PARAMS = "() => window.loopnetExplorer.net.params.map((p) => Array.from(p))"


def assert_close(page_values, python_values, tolerance, what):
    for a, b in zip(page_values, python_values):
        if tolerance == 0.0:
            assert a == b, f"{what}: page {a!r} != kernels {b!r}"
        else:
            assert abs(a - b) <= tolerance * max(1.0, abs(b)), f"{what}: {a!r} vs {b!r}"


# ---- the page itself, without a browser --------------------------------------------------
def test_the_page_is_one_self_contained_file(capsys, tmp_path):
    html = explore(capsys, tmp_path).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    for name in SCRIPTS:
        assert _asset(name).strip()[:200] in html
    data = json.loads(re.search(r'id="loopnet-data">(.*?)</script>', html, re.S).group(1))
    net, rows, labels = network_and_examples()
    assert data["params"] == [net.backend.to_list(net.params[n]) for n in net.names]
    assert data["X"] == [v for row in rows for v in row] and data["labels"] == labels


def test_bad_input_is_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch):
    data = digits_dir(tmp_path / "idx")
    small = saved_model(tmp_path / "small.json", sizes=(3, 4, 3))
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    cases = [
        (["--open"], "needs a display"),
        (["--model", small, "--data", data], "3 inputs"),
        (["--batch", "5000"], "--batch"),
        (["--data", data, "--example", "59", "--batch", "5"], "examples 59..63"),
        (["--model", tmp_path / "missing.json"], "missing.json"),
    ]
    for argv, words in cases:
        code, out, err = run(capsys, "explore", *argv, "-o", tmp_path / "x.html")
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and words in err, err
        assert not (tmp_path / "x.html").exists()
    code, _, err = run(capsys, "explore", "-o", tmp_path / "no" / "x.html")
    assert code == 2 and "does not exist" in err
    model = saved_model(tmp_path / "m.json")
    before = model.read_bytes()
    code, _, err = run(capsys, "explore", "--model", model, "-o", model)
    assert code == 2 and "the model file" in err and model.read_bytes() == before


# ---- in the browser ----------------------------------------------------------------------
@pytest.fixture
def small_page(browser, capsys, tmp_path):  # noqa: F811
    page = Page(browser, explore(capsys, tmp_path))
    yield page
    page.page.screenshot(path=str(tmp_path / "small.png"), full_page=True)
    assert page.errors == []
    page.close()


def test_page_draws_every_neuron_without_console_errors(small_page):
    assert small_page.js("() => document.querySelectorAll('circle.neuron').length") == 3 + 4 + 3
    assert small_page.js("() => document.querySelectorAll('line.conn').length") == 3 * 4 + 4 * 3
    assert small_page.errors == []


def trace_sections(capsys, *argv):
    """loopnet trace's text, as {section title: [lines]}."""
    code, out, err = run(capsys, "trace", *argv)
    assert code == 0, err
    sections, title = {}, None
    for line in out.splitlines():
        if line.startswith("== "):
            title = line.strip("= ")
            sections[title] = []
        elif title:
            sections[title].append(line)
    return sections


def test_clicking_h2_shows_the_equations_loopnet_trace_prints(small_page, capsys):
    trace = trace_sections(capsys, "--batch", "3")
    small_page.page.click("#neuron-1-1")
    assert small_page.js("() => document.querySelector('#panel h2').textContent") == "H2"
    for n in range(3):
        if n:
            small_page.page.click("#next")
        shown = small_page.panel_equations()
        forward = next(v for k, v in trace.items() if k.startswith(f"Forward, example {n + 1} "))
        backward = next(v for k, v in trace.items() if k.startswith(f"Backward, example {n + 1} "))
        mine = [line for line in forward + backward
                if re.match(r"(H_2|h_2|z_2|ΔB_2\^\(1\)|ΔW_\{\d+,2\}\^\(1\)) [=←]", line)]
        assert len(mine) >= 4
        for line in mine:
            assert line in shown, line
        assert forward[0] in small_page.js("() => document.getElementById('example-values').textContent")
    updates = [line for line in trace["Update (SGD)"]
               if re.match(r"(W_\{\d+,2\}\^\(1\)|B_2\^\(1\)) ←", line)]
    for line in updates:
        assert line in shown, line
    batch_loss = trace["Minibatch loss"][0]
    assert small_page.js("() => document.getElementById('batch-loss').textContent") == batch_loss


@pytest.mark.parametrize("options, neuron, symbols", [
    (["--sizes", "3,4,4,3"], "#neuron-2-1",
     r"H_2\^\(2\)|h_2\^\(2\)|z_2\^\(2\)|ΔB_2\^\(2\)|ΔW_\{\d+,2\}\^\(2\)"),
    (["--activation", "sigmoid"], "#neuron-1-0", r"H_1|h_1|z_1|ΔB_1\^\(1\)|ΔW_\{\d+,1\}\^\(1\)"),
    (["--activation", "tanh", "--output", "identity"], "#neuron-2-0",
     r"A_1|Y_1|E|a_1|ΔB_1\^\(2\)|ΔW_\{\d+,1\}\^\(2\)"),
    (["--sizes", "12,9,3"], "#neuron-1-4", r"H_5|h_5|z_5|ΔB_5\^\(1\)|ΔW_\{\d+,5\}\^\(1\)"),
    (["--weight-decay", "0.05"], "#neuron-1-2", r"ΔW_\{\d+,3\}\^\(1\)|W_\{\d+,3\}\^\(1\)|B_3\^\(1\)"),
    (["--output", "sigmoid"], "#neuron-2-1", r"A_2|Y_2|E|a_2|ΔB_2\^\(2\)|ΔW_\{\d+,2\}\^\(2\)"),
    (["--output", "sigmoid", "--loss", "squared_error"], "#neuron-2-0", r"A_1|Y_1|E|a_1|ΔB_1\^\(2\)"),
    (["--log-guard", "0"], "#neuron-2-1", r"A_2|Y_2|E|a_2|ΔB_2\^\(2\)"),
    (["--output", "sigmoid", "--log-guard", "0.001"], "#neuron-2-2", r"A_3|Y_3|E|a_3|ΔB_3\^\(2\)"),
])
def test_other_networks_equations_are_traces(browser, capsys, tmp_path, options, neuron,  # noqa: F811
                                             symbols):
    page = Page(browser, explore(capsys, tmp_path, *options, "--batch", "2"))
    trace = trace_sections(capsys, *options, "--batch", "2")
    page.page.click(neuron)
    batch_loss = trace["Minibatch loss"][0]
    assert page.js("() => document.getElementById('batch-loss').textContent") == batch_loss
    if page.js("() => !!document.getElementById('show-all')"):
        page.page.click("#show-all")
    shown = page.panel_equations()
    lines = [line for k, v in trace.items() if "example 1 " in k or "after the minibatch" in k
             or k == "Update (SGD)" for line in v]
    mine = [line for line in lines if re.match(rf"({symbols}) [=←]", line)]
    assert len(mine) >= 4
    for line in mine:
        assert line in shown, line
    assert page.errors == []
    page.close()


def test_hovering_shows_the_forward_equation_and_highlights_its_connections(small_page, capsys):
    trace = trace_sections(capsys, "--batch", "3")
    h3 = next(line for line in trace[next(k for k in trace if k.startswith("Forward, example 1 "))]
              if line.startswith("H_3 = "))
    small_page.page.hover("#neuron-1-2")
    tooltip = small_page.js(
        "() => Array.from(document.querySelectorAll('#tooltip .eq'), e => e.dataset.text)")
    assert tooltip == [h3]
    # its 3 incoming connections (every X_i is non-zero) and its 3 outgoing ones
    assert small_page.js("() => document.querySelectorAll('#highlight line.in').length") == 3
    assert small_page.js("() => document.querySelectorAll('#highlight line.out').length") == 3
    small_page.page.mouse.move(1, 1)
    assert small_page.js("() => document.querySelectorAll('#highlight line').length") == 0


def test_open_starts_a_browser_on_the_page(capsys, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setattr("webbrowser.open", lambda uri: opened.append(uri) or True)
    path = explore(capsys, tmp_path, "--open")
    assert opened == [path.resolve().as_uri()]
    monkeypatch.setattr("webbrowser.open", lambda uri: False)
    code, _, err = run(capsys, "explore", "--open", "-o", tmp_path / "again.html")
    assert code == 2 and "no web browser" in err


def test_an_output_neurons_equations_are_traces(small_page, capsys):
    trace = trace_sections(capsys, "--batch", "3")
    small_page.page.click("#neuron-2-1")
    shown = small_page.panel_equations()
    lines = trace[next(k for k in trace if k.startswith("Forward, example 1 "))]
    lines += trace[next(k for k in trace if k.startswith("Backward, example 1 "))]
    pattern = r"(A_2|M|S|Y_2|E|a_2|ΔB_2\^\(2\)|ΔW_\{\d,2\}\^\(2\)) [=←]"
    mine = [line for line in lines if re.match(pattern, line)]
    assert len(mine) >= 8
    for line in mine:
        assert line in shown, line


@pytest.mark.parametrize("options, tolerance", [
    (["--output", "identity"], NO_EXP),
    (["--output", "identity", "--weight-decay", "0.01", "--sizes", "5,6,4,3"], NO_EXP),
    ([], WITH_EXP),
    (["--activation", "sigmoid", "--sizes", "4,5,3"], WITH_EXP),
    (["--activation", "tanh", "--output", "identity"], WITH_EXP),
    (["--output", "sigmoid"], WITH_EXP),
    (["--output", "sigmoid", "--loss", "squared_error", "--sizes", "3,5,2"], WITH_EXP),
    (["--log-guard", "0"], WITH_EXP),
])
def test_the_pages_numbers_are_the_python_kernels(browser, capsys, tmp_path, options, tolerance):  # noqa: F811
    page = Page(browser, explore(capsys, tmp_path, *options, "--batch", "4"))
    net, rows, labels = network_and_examples(*options, "--batch", "4")
    expected = python_trace_values(net, rows, labels)
    relu = "--activation" not in options
    for n, want in enumerate(expected):
        got = page.js(PAGE_VALUES, n)
        for l in range(len(want["Z"])):
            # the first layer's Z uses only + and ·, and so does everything up to the scores
            # A with ReLU: bitwise; sigmoid and tanh bring exp / tanh in
            z_tol = NO_EXP if relu or l == 0 else tolerance
            assert_close(got["Z"][l], want["Z"][l], z_tol, f"Z[{l}] of example {n}")
            if l < len(want["Z"]) - 1:
                h_tol = NO_EXP if relu else tolerance
                assert_close(got["H"][l], want["H"][l], h_tol, f"H[{l}] of example {n}")
        last = len(want["H"]) - 1
        assert_close(got["H"][last], want["H"][last], tolerance, f"Y of example {n}")
        for l in range(len(want["dZ"])):
            assert_close(got["dZ"][l], want["dZ"][l], tolerance, f"dZ[{l}] of example {n}")
        for p in range(len(want["after"])):
            assert_close(got["after"][p], want["after"][p], tolerance, f"ΔW/ΔB {p} after {n}")
        assert_close([got["E"]], [want["E"]], tolerance, "E")
    assert_close([got["loss"]], [net.loss(rows, labels)], tolerance, "L")
    assert page.errors == []
    page.close()


@pytest.mark.parametrize("options, tolerance", [([], WITH_EXP), (["--output", "identity"], NO_EXP)])
def test_one_update_and_k_steps_give_train_steps_parameters(browser, capsys, tmp_path, options,  # noqa: F811
                                                            tolerance):
    page = Page(browser, explore(capsys, tmp_path, *options))
    net, rows, labels = network_and_examples(*options)
    page.page.click("#update")
    net.train_step(rows, labels, SGD(lr=0.1))
    for got, name in zip(page.js(PARAMS), net.names):
        assert_close(got, net.backend.to_list(net.params[name]), tolerance, name)
    page.page.fill("#steps", "5")
    page.page.click("#run")
    page.page.wait_for_function("() => !window.loopnetExplorer.state.running")
    losses = [net.train_step(rows, labels, SGD(lr=0.1)) for _ in range(5)]
    for got, name in zip(page.js(PARAMS), net.names):
        assert_close(got, net.backend.to_list(net.params[name]), tolerance * 10, name)
    got_losses = page.js("() => window.loopnetExplorer.state.losses")
    assert len(got_losses) == 6
    assert_close(got_losses[1:], losses, tolerance * 10, "losses")
    points = page.js("() => document.querySelector('#loss-chart polyline').getAttribute('points')")
    assert len(points.split()) == 7  # the loss before each of the 6 updates and after the last
    page.page.screenshot(path=str(tmp_path / "after-steps.png"), full_page=True)
    assert page.errors == []
    page.close()


def test_editing_a_weight_or_an_input_recomputes_downstream(small_page, capsys):
    net, rows, labels = network_and_examples()
    small_page.page.click("#neuron-1-1")
    field = "#panel input.edit-w[data-i='0'][data-j='1']"
    small_page.page.fill(field, "0.25")
    small_page.page.press(field, "Enter")
    net.params["W1"][0 * 4 + 1] = 0.25
    want = python_trace_values(net, rows, labels)[0]
    got = small_page.js(PAGE_VALUES, 0)
    for l in range(2):
        assert_close(got["Z"][l], want["Z"][l], NO_EXP, f"Z[{l}] after the edit")
    assert_close(got["H"][1], want["H"][1], WITH_EXP, "Y after the edit")
    assert any("0.4300·0.2500" in line for line in small_page.panel_equations())
    # an input: X_3 of the first example
    small_page.page.click("#neuron-0-2")
    small_page.page.fill("#panel input.edit-x", "0.5")
    small_page.page.press("#panel input.edit-x", "Enter")
    rows[0][2] = 0.5
    want = python_trace_values(net, rows, labels)[0]
    got = small_page.js(PAGE_VALUES, 0)
    assert_close(got["Z"][0], want["Z"][0], NO_EXP, "Z after editing X_3")
    assert_close(got["dZ"][0], want["dZ"][0], WITH_EXP, "z after editing X_3")
    # a value that is not a number is refused, nothing changes
    small_page.page.fill("#panel input.edit-x", "")
    small_page.page.press("#panel input.edit-x", "Enter")
    assert small_page.js(PAGE_VALUES, 0)["Z"] == got["Z"]


def test_the_pages_number_format_is_traces(small_page):
    rng = random.Random(11)
    values = [0.015625, 1234.5, 0.125, 9.9995, 99995.0, 1e-5, 0.0001, 123456789.0, 2.5, -0.03125,
              1e21, 5e-324, 1.7976931348623157e308, -0.0, 1e6, 999999.0, 0.06810, -0.2013]
    values += [rng.uniform(-2, 2) * 10 ** rng.randint(-9, 9) for _ in range(300)]
    values += [rng.randint(-99, 99) / 2 ** rng.randint(1, 12) for _ in range(200)]  # exact ties
    for precision in (1, 2, 3, 4, 6, 17):
        got = small_page.js("([vs, p]) => vs.map((v) => window.loopnetExplorer.equations"
                            ".formatNumber(Number(v), p))", [[repr(v) for v in values], precision])
        assert got == [format_number(v, precision) for v in values]


def test_a_784_100_10_model_renders_and_responds(browser, capsys, tmp_path):  # noqa: F811
    data = digits_dir(tmp_path / "idx")
    model = saved_model(tmp_path / "m.json", sizes=(784, 100, 10))
    path = explore(capsys, tmp_path, "--model", model, "--data", data, "--batch", "20")
    page = Page(browser, path)
    assert page.js("() => document.querySelectorAll('circle.neuron').length") == 100 + 10
    assert page.js("() => !!document.getElementById('input-image')")
    assert page.js("() => document.getElementById('weights').width") > 0
    assert page.js("() => document.querySelectorAll('line.conn').length") <= 2 * 300
    first_render = page.js("() => window.loopnetExplorer.timing.firstRender")
    page.page.click("#update")
    step = page.js("() => window.loopnetExplorer.timing.lastStep")
    print(f"784-100-10, N = 20: first render {first_render:.0f} ms, one update {step:.0f} ms")
    assert first_render < 10_000 and step < 5_000  # generous: the CI machine may be loaded
    net, rows, labels = network_and_examples("--model", model, "--data", data, "--batch", "20")
    net.train_step(rows, labels, SGD(lr=0.1))
    for got, name in zip(page.js(PARAMS), net.names):
        assert_close(got, net.backend.to_list(net.params[name]), WITH_EXP, name)
    # a hidden neuron chosen from the weight pictures shows its equations
    page.page.click("#weights", position={"x": 3 * 60 + 20, "y": 20})
    assert page.js("() => document.querySelector('#panel h2').textContent") == "H4"
    assert any(line.startswith("H_4 = ReLU(Z_4) = ReLU(B_4^(1) + Σ_i X_i·W_{i,4}^(1))")
               for line in page.panel_equations())
    page.page.screenshot(path=str(tmp_path / "784-100-10.png"), full_page=True)
    assert page.errors == []
    page.close()


def test_setup_cfg_ships_every_part_of_the_page():
    import configparser
    from fnmatch import fnmatch
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    config = configparser.ConfigParser()
    config.read(root / "setup.cfg", encoding="utf-8")
    patterns = [p.strip() for p in config["options.package_data"]["loopnet.explore"].split(",")]
    parts = [p.name for p in (root / "loopnet" / "explore").iterdir() if p.suffix != ".py"
             and p.is_file()]
    assert set(SCRIPTS) | {"page.html", "style.css"} <= set(parts)
    for name in parts:
        assert any(fnmatch(name, pattern) for pattern in patterns), name


def test_many_steps_run_in_slices_and_can_be_stopped(browser, capsys, tmp_path):  # noqa: F811
    data = digits_dir(tmp_path / "idx")
    model = saved_model(tmp_path / "m.json", sizes=(784, 100, 10))
    page = Page(browser, explore(capsys, tmp_path, "--model", model, "--data", data, "--batch", "50"))
    page.page.fill("#steps", "100000")
    page.page.click("#run")
    assert page.js("() => document.getElementById('run').textContent") == "stop"
    page.page.wait_for_function("() => window.loopnetExplorer.state.steps > 3")
    page.page.click("#run")  # the page answers a click while it trains: stop
    page.page.wait_for_function("() => !window.loopnetExplorer.state.running")
    steps = page.js("() => window.loopnetExplorer.state.steps")
    assert 3 < steps < 100000
    assert page.js("() => window.loopnetExplorer.state.losses.length") == steps
    assert page.js("() => document.getElementById('run').textContent") == "run K steps"
    page.page.wait_for_timeout(300)  # several slices' worth: a stopped run trains no more steps
    assert page.js("() => window.loopnetExplorer.state.steps") == steps
    assert page.errors == []
    page.close()
