"""Resource bounds (requests estimated from their sizes and refused up front, naming the flag),
non-regular input files, and the messages and interface points of issue 14."""

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, needs_numpy, run

import loopnet
from loopnet.cli import main
from loopnet.data import load_data, write_idx
from loopnet.errors import ConfigError, DataError, LoopnetError

pytestmark = pytest.mark.usefixtures("private_cache")

REPO = Path(__file__).resolve().parents[1]
HUGE = "100000000000000000000"  # 1e20 written out: an integer argparse accepts
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


TRAIN = ["train", "--backend", "python", "--quiet", "--iters", "1", "--limit", "200"]


@pytest.mark.parametrize("argv,flag", [
    (["train", "--backend", "python", "--hidden", "100000000"], "--hidden"),
    ([*TRAIN, "--batch-size", "99999999999999999999"], "--batch-size"),
    ([*TRAIN, "--batch-size", "100000000"], "--batch-size"),
    pytest.param(["compare", "--against", "numpy", "--backend", "python", "--steps", HUGE],
                 "--steps", marks=needs_numpy),
    pytest.param(["compare", "--against", "numpy", "--backend", "python", "--batch-size", HUGE],
                 "--batch-size", marks=needs_numpy),
    pytest.param(["compare", "--against", "numpy", "--backend", "python", "--sizes",
                  "784,100000000,10"], "--sizes", marks=needs_numpy),
    (["gradcheck", "--backend", "python", "--examples", HUGE], "--examples"),
    (["gradcheck", "--backend", "python", "--sizes", "100000,100000,10"], "--sizes"),
    (["trace", "--batch", HUGE], "--batch"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_impossible_requests_are_refused_up_front(capsys, argv, flag):
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err, flag, "of memory")
    assert "epoch" not in out


@pytest.mark.parametrize("argv,fragments", [
    (["trace", "--example", HUGE], ["--example must be 1..2500001", "generated inputs"]),
    (["trace", "--sizes", "784,5,10", "--example", "12740"], ["--example must be 1..12739"]),
    (["trace", "--data", "synthetic", "--batch", "100000"], ["--batch 100000", "split has"]),
    (["trace", "--data", "synthetic", "--example", "60000", "--batch", "2"],
     ["--example 60000", "examples 60000..60001"]),
], ids=lambda v: " ".join(v))
def test_trace_requests_beyond_its_examples_are_refused(capsys, argv, fragments):
    """A streamed trace needs little memory at any --batch; what bounds it is the data set, or
    for generated inputs the rows drawn to reach --example."""
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, err, *fragments)
    assert out == ""


def test_api_refuses_a_network_larger_than_memory():
    with pytest.raises(ConfigError, match="784-100000000-10 network"):
        loopnet.MultiLayerNet([784, 100_000_000, 10])


def test_memory_error_is_one_line(capsys, monkeypatch):
    from loopnet.cli import gradcheck as gradcheck_cli

    def exhausted(args):
        raise MemoryError()

    monkeypatch.setattr(gradcheck_cli, "run", exhausted)
    code, _, err = run(capsys, "gradcheck")
    assert_one_line_error(code, err, "out of memory")


def _idx_dir(tmp_path: Path, images_shape=(20, 28, 28)) -> Path:
    from loopnet.data import generate_digits

    folder = tmp_path / "idx"
    folder.mkdir()
    digits = generate_digits(40, seed=1)
    write_idx(folder / IDX_NAMES[0], (20, 28, 28), digits.pixels[: 20 * 784])
    write_idx(folder / IDX_NAMES[1], (20,), digits.labels[:20])
    write_idx(folder / IDX_NAMES[2], (20, 28, 28), digits.pixels[20 * 784:])
    write_idx(folder / IDX_NAMES[3], (20,), digits.labels[20:])
    return folder


def test_gzip_declaring_a_huge_image_is_refused_before_reading(tmp_path):
    """1 x 32768 x 32768 (1 GiB of zeros compresses to ~1 MB) swelled to 2.7 GB."""
    folder = _idx_dir(tmp_path)
    (folder / IDX_NAMES[0]).unlink()
    header = bytes((0, 0, 8, 3)) + struct.pack(">3I", 1, 32768, 32768)
    with gzip.open(folder / (IDX_NAMES[0] + ".gz"), "wb") as out:
        out.write(header + bytes(1 << 20))  # the header is all that is read
    with pytest.raises(DataError, match="32768×32768 pixels.*of memory"):
        load_data(str(folder))


@pytest.mark.parametrize("kind", ["directory", "fifo", "loop"])
def test_data_entry_of_the_wrong_kind_is_named_for_what_it_is(tmp_path, kind):
    folder = _idx_dir(tmp_path)
    entry = folder / IDX_NAMES[1]
    entry.unlink()
    if kind == "directory":
        entry.mkdir()
        expected = "is a directory"
    elif kind == "fifo":
        os.mkfifo(entry)  # opening it would block forever
        expected = "is a FIFO"
    else:
        entry.symlink_to(entry)
        expected = "symbolic links"
    with pytest.raises(DataError, match=expected) as info:
        load_data(str(folder))
    assert "lacks" not in str(info.value) and "no such file" not in str(info.value)


def test_empty_data_is_not_the_current_directory(capsys, tmp_path, monkeypatch):
    _idx_dir(tmp_path)
    monkeypatch.chdir(tmp_path / "idx")  # "." would be a valid data directory here
    code, _, err = run(capsys, *TRAIN, "--data", "")
    assert_one_line_error(code, err, "--data is empty")


@pytest.mark.parametrize("text", ["50,", ",50", "50,,10", ","])
def test_hidden_with_an_empty_entry_is_refused(capsys, text):
    code, _, err = run(capsys, *TRAIN, "--hidden", text)
    assert_one_line_error(code, err, "--hidden")


def test_trace_header_keeps_its_spaces(capsys, tmp_path):
    folder = _idx_dir(tmp_path)
    relative = os.path.relpath(folder)
    code, out, _ = run(capsys, "trace", "--data", relative, "--sizes", "784,3,10")
    assert code == 0
    assert f"data {relative}, train split." in out.splitlines()[0]


def test_init_and_weight_init_are_one_option(capsys):
    for command in (["gradcheck", "--backend", "python"], ["trace"]):
        outputs = []
        for flag in ("--init", "--weight-init"):
            code, out, err = run(capsys, *command, flag, "xavier")
            assert code == 0, err
            outputs.append(out)
        assert outputs[0] == outputs[1]
    for command in ("train", "compare", "gradcheck", "trace"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helptext = capsys.readouterr().out
        assert "--init" in helptext and "--weight-init" in helptext


def test_trace_indices_are_all_one_based(capsys):
    code, out, _ = run(capsys, "trace", "--example", "1")
    assert code == 0 and "generated #1," in out
    code, out, _ = run(capsys, "trace", "--example", "2")
    assert "generated #2," in out
    with pytest.raises(SystemExit):
        main(["trace", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert "1-based" in helptext.split("--example I")[-1][:120]
    assert "1-based" in helptext.split("--neuron J")[-1][:120]
    code, _, err = run(capsys, "trace", "--example", "0")
    assert_one_line_error(code, err, "--example")


@pytest.mark.parametrize("call", [lambda: loopnet.Rng("abc"), lambda: loopnet.Rng(None),
                                  lambda: loopnet.Rng(1).randbelow(0),
                                  lambda: loopnet.Rng(1).randbelow(2 ** 33),
                                  lambda: loopnet.Rng(1).randbelow("3")])
def test_rng_misuse_raises_loopnet_errors(call):
    with pytest.raises(LoopnetError):
        call()


def test_rng_errors_stay_what_python_would_raise():
    with pytest.raises(TypeError):
        loopnet.Rng("abc")
    with pytest.raises(ValueError):
        loopnet.Rng(0).randbelow(0)


def test_subprocess_bounds_are_one_line_without_traceback(tmp_path, synthetic_cache):
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOOPNET_CACHE": str(synthetic_cache)}
    done = subprocess.run([sys.executable, "-m", "loopnet", "train", "--backend", "python",
                           "--hidden", "100000000"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "--hidden" in done.stderr


def test_bench_quick_never_replaces_the_committed_results(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    bench = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(bench)
    except ImportError as exc:
        pytest.skip(f"the benchmark needs {exc.name}")
    committed = (REPO / "bench" / "results").resolve()
    quick = bench.results_dir(None, quick=True)
    assert quick.resolve() != committed and not quick.resolve().is_relative_to(committed)
    quick.rmdir()
    assert bench.results_dir(None, quick=False).resolve() == committed
    assert bench.results_dir(str(tmp_path / "x"), quick=True) == tmp_path / "x"


@pytest.mark.parametrize("argv", [
    ["evaluate", "--model", "m.json"],
    ["explore", "-o", "page.html"],
    ["predict", "--model", "m.json", "--index", "1"],
    ["show", "digits", "-o", "digits.png"],
])
@pytest.mark.parametrize("bad_seed", ["-1", str(2 ** 64), "1.5"])
def test_every_seed_flag_takes_only_a_64_bit_seed(capsys, tmp_path, monkeypatch, argv, bad_seed):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv, "--seed", bad_seed)
    assert_one_line_error(code, err, "--seed")
    assert not any(tmp_path.iterdir())  # refused before anything was written
