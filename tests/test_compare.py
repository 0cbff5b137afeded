"""`loopnet compare`: the table, its JSON, exit codes, bad input and a missing torch."""

import json
import os
import sys
from pathlib import Path

import pytest

from loopnet.cli import main

np = pytest.importorskip("numpy")
compare = pytest.importorskip("loopnet.compare")

SMALL = ["--sizes", "784,12,10", "--batch-size", "8", "--backend", "python"]


@pytest.fixture(scope="module")
def data_cache(tmp_path_factory):
    """One synthetic-data cache for the module (generated once, never in the user's home)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOOPNET_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


def _has_torch() -> bool:
    return compare.torch_available()


def _rows(out: str, oracle: str) -> dict[str, list[str]]:
    """Rows of one oracle's table in the printed output: quantity -> fields."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(f"vs {oracle}:"))
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("  ") or line.startswith(f"  {oracle}:"):
            break
        fields = line.split()
        name_len = {"after": 4, "(per": 3}.get(fields[1], 1)
        rows[" ".join(fields[:name_len])] = fields[name_len:]
    return rows


def test_default_comparison_passes(data_cache, capsys):
    assert main(["compare", "--backend", "python"]) == 0
    out = capsys.readouterr().out
    assert "784-50-10 relu/softmax" in out and "Rng(0).choice(10000, 100)" in out
    for oracle in ("numpy", "torch") if _has_torch() else ("numpy",):
        rows = _rows(out, oracle)
        assert list(rows) == ["Z1", "H1", "A", "Y", "loss", "ΔW1", "ΔB1", "ΔW2", "ΔB2",
                              "losses (per step)", "W1 after 1 step", "b1 after 1 step",
                              "W2 after 1 step", "b2 after 1 step"]
        assert rows["Z1"][0] == "100×50" and rows["ΔW1"][0] == "784×50"
        assert all(r[3] == "ok" for r in rows.values())
        assert f"{oracle}: all 14 quantities within 1e-12" in out


def test_single_example_identity_adam_with_json(data_cache, tmp_path, capsys):
    out_json = tmp_path / "table.json"
    argv = ["compare", *SMALL, "--batch-size", "1", "--output", "identity", "--activation",
            "tanh", "--weight-decay", "0.1", "--optimizer", "adam", "--steps", "3",
            "--weight-init", "xavier", "--json", str(out_json)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    doc = json.loads(out_json.read_text())
    assert doc["ok"] is True and doc["tolerance"] == 1e-12
    assert doc["config"]["steps"] == 3 and doc["config"]["output"] == "identity"
    assert len(doc["config"]["first_batch_indices"]) == 1
    rows = doc["oracles"]["numpy"]["rows"]
    printed = _rows(out, "numpy")
    assert [r["quantity"] for r in rows] == list(printed)
    losses = next(r for r in rows if r["quantity"] == "losses (per step)")
    assert losses["shape"] == [3]
    z1 = rows[0]
    assert z1["quantity"] == "Z1" and z1["where"].startswith("layer 1, example 0, neuron ")
    assert z1["max_abs"] <= 1e-12 and abs(z1["loopnet"] - z1["oracle"]) == z1["max_abs"]
    if _has_torch():
        assert doc["oracles"]["torch"]["ok"] is True


def test_exit_1_when_a_difference_exceeds_the_tolerance(data_cache, tmp_path, capsys):
    out_json = tmp_path / "t.json"
    assert main(["compare", *SMALL, "--against", "numpy", "--tolerance", "0",
                 "--json", str(out_json)]) == 1
    assert "BAD" in capsys.readouterr().out
    assert json.loads(out_json.read_text())["ok"] is False


def test_a_wrong_backward_in_the_reference_is_caught(data_cache, capsys, monkeypatch):
    """Drop the (1 - H²) factor of tanh's backward in the NumPy reference: the forward rows stay
    ok, the gradients of layer 1 do not."""
    from loopnet.reference import numpy_net

    monkeypatch.setattr(numpy_net.Tanh, "backward", lambda self, dout: dout)
    assert main(["compare", *SMALL, "--against", "numpy", "--activation", "tanh",
                 "--weight-init", "he"]) == 1
    rows = _rows(capsys.readouterr().out, "numpy")
    assert rows["Z1"][3] == "ok" and rows["loss"][3] == "ok" and rows["ΔW2"][3] == "ok"
    assert rows["ΔW1"][3] == "BAD" and rows["ΔB1"][3] == "BAD"


@pytest.mark.parametrize("backend", ["numba"])
def test_numba_backend(data_cache, backend, capsys):
    pytest.importorskip("numba", reason="numba backend needs numba (pip install loopnet[jit])")
    assert main(["compare", "--sizes", "784,20,10,10", "--batch-size", "16", "--steps", "2",
                 "--optimizer", "momentum", "--backend", backend]) == 0
    assert "loopnet (numba) vs numpy:" in capsys.readouterr().out


def test_real_mnist_directory(capsys):
    root = Path(os.environ.get("LOOPNET_SHARED_DATA",
                               Path(__file__).resolve().parents[2] / "shared" / "data"))
    folder = root / "mnist-t10k-split"
    if not folder.is_dir():
        pytest.skip(f"real MNIST split not found at {folder} (set LOOPNET_SHARED_DATA)")
    assert main(["compare", *SMALL, "--data", str(folder), "--steps", "2"]) == 0
    assert "Rng(0).choice(8000, 8)" in capsys.readouterr().out


def test_missing_torch_is_one_line_and_numpy_still_runs(data_cache, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    assert main(["compare", *SMALL]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "torch is not installed" in captured.err
    assert "vs numpy:" in captured.out and "vs torch:" not in captured.out
    assert main(["compare", *SMALL, "--against", "torch"]) == 2
    assert capsys.readouterr().err.startswith("loopnet: error: torch is not installed")


def test_missing_numpy_is_one_line(capsys, monkeypatch):
    import loopnet

    monkeypatch.setitem(sys.modules, "numpy", None)
    monkeypatch.delitem(sys.modules, "loopnet.compare")
    monkeypatch.delattr(loopnet, "compare")
    assert main(["compare", *SMALL]) == 2
    assert "needs NumPy" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [
    ["--against", "numpy,jax"],
    ["--against", ""],
    ["--sizes", "784,x,10"],
    ["--sizes", "784"],
    ["--sizes", "784,0,10"],
    ["--sizes", "100,10"],        # the data has 784 values per example
    ["--sizes", "784,10,5"],      # labels go up to 9
    ["--batch-size", "0"],
    ["--steps", "-1"],
    ["--tolerance", "nan"],
    ["--lr", "-1"],
    ["--optimizer", "rmsprop"],
    ["--activation", "gelu"],
    ["--weight-init", "orthogonal"],
    ["--data", "/nonexistent/dir"],
    ["--json", "{tmp}/missing/out.json"],
])
def test_bad_input_is_one_line_exit_2(data_cache, tmp_path, capsys, extra):
    argv = ["compare", *SMALL, *[a.format(tmp=tmp_path) for a in extra]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("loopnet: error:")
    assert not list(tmp_path.rglob("*.json"))


# ------------------------------------------------------------------------------- diff_row
def test_diff_row_reports_both_maxima_and_where():
    ours = np.array([[1.0, 2.0, 0.0], [4.0, 1e-30, 6.0]])
    theirs = np.array([[1.0, 2.0, 0.0], [4.5, 2e-30, 6.0]])
    row = compare.diff_row("H2", ours, theirs, n_layers=3)
    assert row.max_abs == 0.5 and row.where == "layer 2, example 1, neuron 0"
    assert row.max_rel == 0.5 and row.where_rel == "layer 2, example 1, neuron 1"
    assert (row.loopnet, row.oracle) == (4.0, 4.5)
    w = compare.diff_row("ΔW3", np.zeros((2, 2)), np.array([[0, 0], [1e-13, 0]]), 3)
    assert w.where == "layer 3, i=1, j=0" and w.max_rel == 1.0 and w.ok(1e-12)
    assert compare.diff_row("A", np.ones((1, 2)), np.ones((1, 2)), 3).where == \
        "layer 3, example 0, neuron 0"
    assert compare.diff_row("b1 after 5 steps", [0.0, 1.0], [0.0, 2.0], 3).where == \
        "layer 1, neuron 1"
    assert compare.diff_row("losses (per step)", [1.0, 2.0], [1.0, 2.5], 3).where == "step 2"
    assert compare.diff_row("loss", 1.0, 1.0, 3).max_abs == 0.0


def test_diff_row_treats_one_sided_nan_as_infinite():
    row = compare.diff_row("Y", np.array([[np.nan, 1.0]]), np.array([[0.5, 1.0]]), 1)
    assert row.max_abs == np.inf and not row.ok(1e-12)
    both = compare.diff_row("Y", np.array([[np.nan, 1.0]]), np.array([[np.nan, 1.0]]), 1)
    assert both.max_abs == 0.0


def test_select_batches_uses_one_rng_for_all_steps(data_cache):
    from loopnet import Rng
    from loopnet.data import load_data

    train, _ = load_data("synthetic")
    batches, chosen = compare.select_batches(train, 5, 3, seed=4)
    rng = Rng(4)
    assert chosen == [rng.choice(len(train), 5) for _ in range(3)]
    x, t = batches[1]
    assert x.shape == (5, 784) and list(x[2]) == train.row(chosen[1][2])
    assert list(t) == [train.labels[i] for i in chosen[1]]
    one_hot = compare.select_batches(train, 5, 1, seed=4, one_hot=True, n_out=10)[0][0][1]
    assert one_hot.shape == (5, 10)
    assert list(one_hot.argmax(axis=1)) == [train.labels[i] for i in chosen[0]]
