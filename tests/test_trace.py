"""`loopnet trace`: the printed numbers are the kernels' numbers (parsed back and compared), and
the text is written example by example (memory bounded, output arriving while it runs)."""

import os
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from loopnet import SGD, MultiLayerNet
from loopnet.cli import main
from loopnet.errors import ConfigError, DataError, ShapeError
from loopnet.rng import Rng
from loopnet.trace import render, trace_batch, trace_text

# "LHS = ... = value" or "LHS ← ... = value": the symbol and the final number of a line
LINE = re.compile(r"^(\S+) (?:=|←) .* = (\S+)$")


def parse(text: str) -> dict[str, float]:
    """Last printed value of every symbol (later lines overwrite earlier ones, like ←)."""
    values = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            values[m.group(1)] = float(m.group(2))
    return values


def run_cli(capsys, *args: str) -> str:
    assert main(["trace", *args]) == 0
    return capsys.readouterr().out


def batch(sizes, n, seed=5, zeros=True):
    rng = Rng(seed)
    rows = [[0.0 if zeros and rng.uniform() < 0.3 else rng.uniform() for _ in range(sizes[0])]
            for _ in range(n)]
    return rows, [rng.randbelow(sizes[-1]) for _ in range(n)]


def grad_symbols(net, grads):
    """gradient() values keyed by the trace's symbols ΔW_{i,j}^(l), ΔB_j^(l)."""
    out = {}
    for l in range(1, net.n_layers + 1):
        for i, row in enumerate(grads[f"W{l}"]):
            for j, v in enumerate(row):
                out[f"ΔW_{{{i + 1},{j + 1}}}^({l})"] = v
        for j, v in enumerate(grads[f"b{l}"]):
            out[f"ΔB_{j + 1}^({l})"] = v
    return out


CONFIGS = [
    ([3, 4, 3], "relu", "softmax", 0.0, 1),
    ([3, 4, 3], "relu", "softmax", 0.01, 3),
    ([5, 4, 3, 2], "sigmoid", "softmax", 0.0, 4),
    ([4, 6, 3], "tanh", "identity", 0.02, 2),
    ([12, 10, 3], "relu", "softmax", 0.0, 3),  # Σ forms and skipped zero inputs
    # sigmoid output units: (output, loss, log guard)
    ([3, 4, 3], "sigmoid", ("sigmoid", "cross_entropy", 1e-7), 0.0, 2),
    ([3, 4, 3], "relu", ("sigmoid", "cross_entropy", 0.0), 0.01, 1),
    ([2, 2, 2], "sigmoid", ("sigmoid", "squared_error", 1e-7), 0.0, 1),
    ([4, 5, 3], "tanh", ("softmax", "cross_entropy", 0.01), 0.0, 2),
]


def network(sizes, activation, output, lam) -> MultiLayerNet:
    output, loss, guard = output if isinstance(output, tuple) else (output, None, 1e-7)
    return MultiLayerNet(sizes, activation=activation, output=output, loss=loss,
                         log_guard=guard, weight_init="he", weight_decay=lam, seed=11)


@pytest.mark.parametrize("sizes,activation,output,lam,n", CONFIGS)
def test_printed_gradients_loss_and_update_are_the_kernels(sizes, activation, output, lam, n):
    net = network(sizes, activation, output, lam)
    x, t = batch(sizes, n)
    before = {k: list(v) for k, v in net.params.items()}
    values = parse(render(trace_batch(net, x, t, lr=0.05), "text", 17))
    assert {k: list(v) for k, v in net.params.items()} == before  # the net is untouched
    grads = grad_symbols(net, net.gradient(x, t))
    for sym, g in grads.items():
        # a weight whose inputs were all 0 gets no line: its gradient is λW (0 when λ = 0)
        if sym.startswith("ΔW") and sym not in values:
            assert lam != 0.0 or g == 0.0, sym
            continue
        assert values[sym] == g, sym
    assert values["L"] == net.loss(x, t)
    stepped = network(sizes, activation, output, lam)
    stepped.train_step(x, t, SGD(0.05))
    for l in range(1, len(sizes)):
        W, n_out = stepped.params[f"W{l}"], sizes[l]
        for p, w in enumerate(W):
            sym = f"W_{{{p // n_out + 1},{p % n_out + 1}}}^({l})"
            if sym in values:
                assert values[sym] == w
            else:  # not printed: zero gradient, so unchanged
                assert w == net.params[f"W{l}"][p]
        for j, b in enumerate(stepped.params[f"b{l}"]):
            assert values[f"B_{j + 1}^({l})"] == b


def test_forward_values_match_predict_for_one_example():
    net = MultiLayerNet([3, 4, 3], weight_init="he", seed=3)
    x, t = batch([3, 4, 3], 1)
    values = parse(render(trace_batch(net, x, t), "text", 17))
    scores = net.predict(x)[0]
    for k, a in enumerate(scores):
        assert values[f"A_{k + 1}"] == a
    assert values["E"] == net.loss(x, t)


def test_default_trace_is_the_articles_3_4_3_network(capsys):
    out = run_cli(capsys)
    assert "sizes 3-4-3" in out and "Numbers have 4 significant digits" in out
    for sym in ("X_1", "H_4", "A_3", "Y_3"):
        assert sym in out
    lines = out.splitlines()
    first = next(line for line in lines if line.startswith("H_2 = "))
    assert first.startswith("H_2 = ReLU(Z_2) = ReLU(B_2^(1) + X_1·W_{1,2}^(1) + X_2·W_{2,2}^(1)")
    # NOTATION's order: forward, softmax, loss, backward (a, ΔB, ΔW, h, gate), update
    order = ["H_1 =", "A_1 =", "M =", "Y_1 =", "E =", "a_1 =", "ΔB_1^(2) ←", "ΔW_{1,1}^(2) ←",
             "h_1 =", "z_1 =", "ΔB_1^(1) ←", "L =", "B_1^(1) ←"]
    positions = [next(n for n, line in enumerate(lines) if line.startswith(p)) for p in order]
    assert positions == sorted(positions)
    # every number has exactly the stated 4 significant digits (or is an exact integer)
    for m in re.finditer(r"(?<![\w^(,{])-?\d+\.\d+(?:e[-+]\d+)?", out.split("== Forward")[1]):
        digits = m.group().lstrip("-").split("e")[0].replace(".", "").lstrip("0")
        assert len(digits) == 4 or m.group().rstrip("0").endswith("."), m.group()


def test_minibatch_shows_accumulation_across_examples(capsys):
    out = run_cli(capsys, "--batch", "3", "--precision", "17")
    assert "example 3 of 3" in out
    rows = [line for line in out.splitlines() if line.startswith("ΔB_1^(2) ←")]
    assert len(rows) == 3
    # each example starts from the previous running sum
    running = [float(r.rsplit(" = ", 1)[1]) for r in rows]
    starts = [float(r.split(" = ")[1].split(" + ")[0]) for r in rows]
    assert starts == [0.0, running[0], running[1]]


def test_focus_on_one_neuron_of_a_big_network(capsys):
    out = run_cli(capsys, "--sizes", "30,8,5", "--layer", "1", "--neuron", "3",
                  "--precision", "17", "--seed", "2")
    values = parse(out)
    hidden = {k for k in values if k.startswith(("H_", "ΔB_", "z_", "h_"))}
    assert hidden <= {"H_3", "ΔB_3^(1)", "z_3", "h_3"} and "H_3" in hidden
    assert all(k.endswith(",3}^(1)") for k in values if k.startswith(("ΔW", "W_")))
    assert "Σ_i X_i·W_{i,3}^(1)" in out  # 30 inputs: the symbolic sum is written with Σ
    assert "H = [" in out or "A = [" in out


def test_zero_inputs_are_counted_not_listed():
    net = MultiLayerNet([6, 2, 2], weight_init="he", seed=1)
    x = [[0.0, 0.5, 0.0, 0.0, 0.25, 0.0]]
    text = render(trace_batch(net, x, [1]), "text", 4)
    h1 = next(line for line in text.splitlines() if line.startswith("H_1 ="))
    assert "[4 inputs = 0 skipped]" in h1
    assert "0.5000·" in h1 and "0.2500·" in h1
    assert "(4 of X_i are 0" in text
    assert not any(line.startswith("ΔW_{1,") and "^(1)" in line.split()[0]
                   for line in text.splitlines())


def test_markdown_and_latex_render_equations(capsys):
    md = run_cli(capsys, "--format", "markdown")
    assert "$$\n\\begin{aligned}\nH_{1} &= \\operatorname{ReLU}(Z_{1})" in md
    tex = run_cli(capsys, "--format", "latex", "--sizes", "3,20,3")
    assert tex.startswith("\\documentclass{article}") and tex.rstrip().endswith("\\end{document}")
    assert "\\Delta W_{1,1}^{(1)} &\\leftarrow" in tex
    assert "\\#1" in tex and "&\\qquad +" in tex  # escaped title, long sums broken


def test_sigmoid_tanh_and_identity_gates_are_written_out(capsys):
    out = run_cli(capsys, "--activation", "sigmoid", "--output", "identity")
    assert "z_1 = h_1·H_1·(1 - H_1) = " in out
    assert "E = ½Σ_k (Y_k - T_k)² = ½(" in out
    out = run_cli(capsys, "--activation", "tanh", "--sizes", "3,4,4,3")
    assert "z_1^(1) = h_1^(1)·(1 - H_1^(1)²) = " in out


def test_trace_a_real_digit_from_data(capsys, monkeypatch):
    data = pytest.importorskip("loopnet.data")
    small = (data.generate_digits(5, 0), data.generate_digits(5, 1))  # not the cached full set
    monkeypatch.setattr(data, "load_data", lambda spec: small)
    out = run_cli(capsys, "--data", "synthetic", "--example", "2", "--layer", "2",
                  "--neuron", "1")
    assert "sizes 784-50-10" in out and "train #2, label" in out
    assert "Σ_i H_i·W_{i,1}^(2)" in out or "H_1·W_{1,1}^(2)" in out


@pytest.mark.parametrize("args,message", [
    (["--neuron", "2"], "--neuron needs --layer"),
    (["--layer", "3"], "layer must be 1..2"),
    (["--layer", "1", "--neuron", "5"], "layer 1 has neurons 1..4"),
    (["--precision", "18"], "precision must be 1..17"),
    (["--example", "0"], "must be positive"),
])
def test_bad_options_exit_2(capsys, args, message):
    assert main(["trace", *args]) == 2
    assert message in capsys.readouterr().err


# ---- streaming: the text arrives example by example, memory does not grow with --batch ------
REPO = Path(__file__).resolve().parents[1]
PEAK_RSS = ("import resource, sys\n"
            "from loopnet.cli import main\n"
            "code = main(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(code)\n")


def _child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.mark.parametrize("sizes,activation,output,lam,n", CONFIGS)
@pytest.mark.parametrize("fmt", ["text", "markdown", "latex"])
def test_streamed_text_is_the_rendered_trace(sizes, activation, output, lam, n, fmt):
    net = network(sizes, activation, output, lam)
    x, t = batch(sizes, n)
    names = [f"example {k}" for k in range(n)]
    whole = render(trace_batch(net, x, t, lr=0.05, names=names, header=["Top."]), fmt, 6)
    pieces = list(trace_text(net, zip(x, t, names), n, lr=0.05, header=["Top."], fmt=fmt,
                             precision=6))
    assert "".join(pieces) == whole
    assert len(pieces) >= 2 * n + 3  # the opening, two per example, loss, update, the end


def test_a_bad_streamed_row_names_its_example():
    net = MultiLayerNet([3, 4, 3], seed=1)
    rows = [[0.1, 0.2, 0.3], [0.1, float("nan"), 0.3]]
    pieces = trace_text(net, zip(rows, [0, 1], ["a", "b"]), 2)
    with pytest.raises(DataError, match=r"example 2 \(b\)"):
        "".join(pieces)
    with pytest.raises(ShapeError, match="2 examples, but 3"):
        "".join(trace_text(net, zip(rows[:1] * 2, [0, 1], ["a", "b"]), 3))


def _peak_rss_kib(tmp_path: Path, *argv: str) -> int:
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, "trace", *argv, "-o",
                           str(tmp_path / "trace.txt")], env=_child_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return int(done.stderr.splitlines()[-1])


def test_trace_memory_does_not_grow_with_the_batch(tmp_path):
    """Built whole before printing, a 3-4-3 trace of 1000 examples peaked at 141 MiB RSS and
    4000 at 488 MiB; streamed, the peak is the one-example run's (26 MiB)."""
    one = _peak_rss_kib(tmp_path, "--batch", "1")
    many = _peak_rss_kib(tmp_path, "--batch", "3000")
    assert many - one < 16 * 1024, (one, many)
    text = (tmp_path / "trace.txt").read_text(encoding="utf-8")
    assert "== Backward, example 3000 of 3000:" in text and text.endswith("\n")


def test_trace_output_starts_before_the_batch_is_done():
    """The first lines arrive through a pipe while a million-example trace is still running."""
    child = subprocess.Popen([sys.executable, "-m", "loopnet", "trace", "--batch", "1000000"],
                             env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 120)
        assert ready, "no output within 120 s"
        first = child.stdout.readline().decode("utf-8")
        assert first.startswith("Network: initial weights he from seed 3")
        seen = [child.stdout.readline().decode("utf-8") for _ in range(200)]
        assert any(line.startswith("== Backward, example 2 of 1000000:") for line in seen)
        assert child.poll() is None  # still tracing: the output is not held to the end
    finally:
        child.kill()
        child.communicate()


def test_output_file_is_the_printed_trace_or_nothing(capsys, tmp_path, monkeypatch):
    target = tmp_path / "trace.md"
    printed = run_cli(capsys, "--batch", "2", "--format", "markdown")
    assert run_cli(capsys, "--batch", "2", "--format", "markdown", "-o",
                   str(target)) == f"wrote {target}\n"
    assert target.read_text(encoding="utf-8") == printed
    from loopnet.cli import trace as trace_cli

    def fails_after_the_first_example(*args, **kwargs):
        pieces = trace_text(*args, **kwargs)
        for k, piece in enumerate(pieces):
            if k == 3:
                raise ConfigError("stopped in the middle")
            yield piece

    monkeypatch.setattr(trace_cli, "trace_text", fails_after_the_first_example)
    assert main(["trace", "--batch", "5", "-o", str(target)]) == 2
    assert "stopped in the middle" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == printed  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trace.md"]
    assert main(["trace", "-o", str(tmp_path / "missing" / "t.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
