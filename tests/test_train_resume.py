"""`loopnet train --checkpoint/--resume`, SIGINT/SIGTERM, streamed metrics, output checks before
training, and the training run's warnings and messages."""

import json
import os
import platform
import random
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

from loopnet.cli import main
from loopnet.data import write_idx
from loopnet.model_io import save_model

pytestmark = pytest.mark.usefixtures("private_cache")

REPO = Path(__file__).resolve().parents[1]
SMALL = ["train", "--limit", "300", "--hidden", "8", "--batch-size", "10", "--backend", "python",
         "--quiet", "--optimizer", "momentum", "--lr", "0.05"]  # 30 steps per epoch
INTERRUPTED = re.compile(
    r"^loopnet: interrupted by (SIGINT|SIGTERM) at step (\d+) of (\d+); checkpoint written to "
    r"(\S+); resume with: (loopnet train --resume .*)$")
TIMES = ("epoch_train_seconds", "train_seconds", "eval_seconds")


def params_of(path) -> dict:
    return json.loads(Path(path).read_text())["params"]


def without_times(metrics_path) -> list:
    records = [json.loads(line) for line in Path(metrics_path).read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMES} for r in records]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, synthetic_cache):
    """The model and metrics of SMALL --iters 100, never stopped."""
    folder = tmp_path_factory.mktemp("full")
    old = os.environ.get("LOOPNET_CACHE")
    os.environ["LOOPNET_CACHE"] = str(synthetic_cache)
    try:
        assert main([*SMALL, "--iters", "100", "--save", str(folder / "m.json"),
                     "--metrics", str(folder / "m.jsonl")]) == 0
    finally:
        if old is None:
            del os.environ["LOOPNET_CACHE"]
        else:
            os.environ["LOOPNET_CACHE"] = old
    return folder


def signal_at_step(monkeypatch, step: int, signum=signal.SIGINT):
    """Send this process `signum` when training reaches `step` (from inside the step loop)."""
    from loopnet.training import Trainer

    real = Trainer._run_steps

    def run_steps(self, steps):
        losses = real(self, steps)
        if self.steps_done < step <= self.steps_done + steps:
            os.kill(os.getpid(), signum)
        return losses

    monkeypatch.setattr(Trainer, "_run_steps", run_steps)


@pytest.mark.parametrize("signum,step", [(signal.SIGINT, 1), (signal.SIGINT, 30),
                                         (signal.SIGTERM, 47), (signal.SIGINT, 99)])
def test_signal_writes_a_checkpoint_and_resume_finishes_the_same_run(
        capsys, monkeypatch, tmp_path, uninterrupted, signum, step):
    ck, model, metrics = tmp_path / "ck.json", tmp_path / "m.json", tmp_path / "m.jsonl"
    with monkeypatch.context() as patch:
        signal_at_step(patch, step, signum)
        code, out, err = run(capsys, *SMALL, "--iters", 100, "--save", model, "--metrics",
                             metrics, "--checkpoint", ck)
    assert code == 128 + signum
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    found = INTERRUPTED.match(lines[0])
    assert found, err
    assert found.group(1) == signal.Signals(signum).name
    assert int(found.group(2)) == step and found.group(3) == "100" and found.group(4) == str(ck)
    assert not model.exists()
    epochs_done = step // 30
    assert len(metrics.read_text().splitlines()) == epochs_done if epochs_done else True
    words = shlex.split(found.group(5))
    assert words[:4] == ["loopnet", "train", "--resume", str(ck)]
    code, out, err = run(capsys, *words[1:])
    assert code == 0, err
    assert f"resuming {ck} at step {step}" in out
    assert params_of(model) == params_of(uninterrupted / "m.json")
    assert without_times(metrics) == without_times(uninterrupted / "m.jsonl")
    assert json.loads(ck.read_text())["state"]["steps"] == 100


def test_checkpoint_every_and_resume_twice(capsys, monkeypatch, tmp_path, uninterrupted):
    ck, model = tmp_path / "ck.json", tmp_path / "m.json"
    for step in (8, 61):
        with monkeypatch.context() as patch:
            signal_at_step(patch, step)
            argv = ([*SMALL, "--iters", 100, "--checkpoint", ck, "--checkpoint-every", 7]
                    if step == 8 else ["train", "--resume", ck, "--quiet", "--backend", "python"])
            code, out, err = run(capsys, *argv)
        assert code == 130, err
    code, out, err = run(capsys, "train", "--resume", ck, "--save", model, "--quiet",
                         "--backend", "python")
    assert code == 0, err
    assert params_of(model) == params_of(uninterrupted / "m.json")


def test_resume_with_more_iterations_extends_the_run(capsys, tmp_path):
    first, longer = tmp_path / "first.json", tmp_path / "longer.json"
    assert run(capsys, *SMALL, "--iters", 45, "--checkpoint", tmp_path / "ck.json")[0] == 0
    code, out, err = run(capsys, "train", "--resume", tmp_path / "ck.json", "--iters", 70,
                         "--save", first, "--backend", "python")
    assert code == 0, err
    assert run(capsys, *SMALL, "--iters", 70, "--save", longer)[0] == 0
    assert params_of(first) == params_of(longer)


@pytest.mark.parametrize("argv,message", [
    (["--lr", "0.2"], "--lr 0.2 differs from the run"),
    (["--hidden", "9"], "--hidden 9 differs"),
    (["--iters", "10"], "past the 10 steps"),
], ids=["lr", "hidden", "iters"])
def test_resume_refuses_another_run(capsys, tmp_path, argv, message):
    ck = tmp_path / "ck.json"
    assert run(capsys, *SMALL, "--iters", 20, "--checkpoint", ck)[0] == 0
    code, out, err = run(capsys, "train", "--resume", ck, *argv)
    assert_one_line_error(code, err)
    assert message in err


def write_digits_dir(folder, seed):
    from loopnet.data import generate_digits

    folder.mkdir()
    for prefix, n, s in (("train", 40, seed), ("t10k", 20, seed + 1)):
        d = generate_digits(n, seed=s)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", (n, 28, 28), d.pixels, compress=False)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", (n,), d.labels, compress=False)


def test_resume_refuses_other_data(capsys, tmp_path):
    data = tmp_path / "digits"
    write_digits_dir(data, seed=1)
    ck = tmp_path / "ck.json"
    assert run(capsys, "train", "--data", data, "--iters", 6, "--batch-size", 4, "--hidden", 4,
               "--backend", "python", "--quiet", "--checkpoint", ck)[0] == 0
    for name in os.listdir(data):
        os.unlink(data / name)
    os.rmdir(data)
    write_digits_dir(data, seed=7)
    code, out, err = run(capsys, "train", "--resume", ck, "--iters", 12, "--backend", "python")
    assert_one_line_error(code, err)
    assert "other training data" in err


def test_resume_of_a_model_file_is_refused(capsys, tmp_path):
    from loopnet.network import MultiLayerNet

    save_model(MultiLayerNet([784, 4, 10]), tmp_path / "m.json")
    code, out, err = run(capsys, "train", "--resume", tmp_path / "m.json")
    assert_one_line_error(code, err)
    assert "not a loopnet checkpoint" in err


def test_a_checkpoint_that_cannot_be_written_is_one_line(capsys, monkeypatch, tmp_path):
    import errno

    import loopnet.checkpoint as checkpoint

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint, "write_file_atomic", disk_full)
    code, out, err = run(capsys, *SMALL, "--iters", 40, "--checkpoint", tmp_path / "ck.json")
    assert_one_line_error(code, err)
    assert "cannot write checkpoint" in err and "No space left" in err


def test_signal_while_saving_points_at_the_checkpoint(capsys, monkeypatch, tmp_path):
    """After the last step the run stops at once on a signal; its final checkpoint is kept."""
    import loopnet.model_io as model_io
    from loopnet.cli.stop_signals import Interrupted

    def interrupted(*args, **kwargs):
        raise Interrupted(signal.SIGTERM)

    monkeypatch.setattr(model_io, "save_model", interrupted)
    ck = tmp_path / "ck.json"
    code, out, err = run(capsys, *SMALL, "--iters", 5, "--checkpoint", ck, "--save",
                         tmp_path / "m.json")
    assert code == 143
    assert err.strip().splitlines()[-1].startswith(
        f"loopnet: interrupted by SIGTERM; resume with: loopnet train --resume {ck}")
    assert json.loads(ck.read_text())["state"]["steps"] == 5


# ---- metrics streamed -----------------------------------------------------------------------
def test_metrics_dash_is_json_lines_on_stdout(capsys):
    code, out, err = run(capsys, *SMALL, "--epochs", 2, "--metrics", "-")
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    assert "epoch   2  step     60" in err and "done: 60 steps" in err


def test_metrics_file_has_each_epoch_when_its_line_shows(tmp_path, synthetic_cache):
    """`tail -f` works: the file holds epoch k when the report prints epoch k's line."""
    metrics = tmp_path / "m.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOOPNET_CACHE": str(synthetic_cache)}
    with subprocess.Popen([sys.executable, "-m", "loopnet", *SMALL, "--epochs", "3",
                           "--metrics", str(metrics)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path) as proc:
        counts = []
        for line in proc.stdout:
            if line.startswith("epoch"):
                counts.append(len(metrics.read_text().splitlines()))
        proc.wait(timeout=120)
    assert proc.returncode == 0
    assert counts == [1, 2, 3]


# ---- outputs checked before training ---------------------------------------------------------
def output_cases(tmp_path):
    data = tmp_path / "digits"
    write_digits_dir(data, seed=1)
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    locked.chmod(0o444)
    long_name = "m" * 300 + ".json"
    return {
        "plot suffix": (["--plot", tmp_path / "curves.txt"], "cannot write .txt"),
        "save name too long": (["--save", tmp_path / long_name], "longer than"),
        "save twice": (["--save", tmp_path / "a.json", "--plot", tmp_path / "a.json"],
                       "both name"),
        "checkpoint is save": (["--save", tmp_path / "a.json", "--checkpoint", tmp_path / "a.json"],
                               "both name"),
        "save onto input": (["--data", data, "--save", data / "train-images-idx3-ubyte"],
                            "input files"),
        "metrics onto input": (["--data", data, "--metrics", data / "t10k-labels-idx1-ubyte"],
                               "input files"),
        "checkpoint onto input": (["--data", data, "--checkpoint",
                                   data / "train-labels-idx1-ubyte"], "input files"),
        "read-only target": (["--save", locked], "read-only"),
        "missing directory": (["--checkpoint", tmp_path / "nowhere" / "ck.json"], "does not exist"),
        "every without checkpoint": (["--checkpoint-every", "5"], "needs --checkpoint"),
    }


@pytest.mark.parametrize("case", ["plot suffix", "save name too long", "save twice",
                                  "checkpoint is save", "save onto input", "metrics onto input",
                                  "checkpoint onto input",
                                  "read-only target", "missing directory",
                                  "every without checkpoint"])
def test_bad_output_fails_before_training(capsys, tmp_path, case):
    if case == "plot suffix":  # without matplotlib --plot stops earlier, naming the extra
        pytest.importorskip("matplotlib", reason="--plot's formats need the plot extra")
    argv, message = output_cases(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = run(capsys, *SMALL, "--iters", 5, *argv)
    assert_one_line_error(code, err)
    assert message in err
    assert out == ""  # not even the header: nothing was loaded or trained
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_save_onto_the_resumed_checkpoint_is_refused(capsys, tmp_path):
    ck = tmp_path / "ck.json"
    assert run(capsys, *SMALL, "--iters", 5, "--checkpoint", ck)[0] == 0
    code, out, err = run(capsys, "train", "--resume", ck, "--save", ck)
    assert_one_line_error(code, err)
    assert "--resume" in err


# ---- warnings and messages -------------------------------------------------------------------
def test_a_run_that_does_not_learn_is_flagged(capsys):
    code, out, err = run(capsys, *SMALL, "--epochs", 2, "--lr", "1e6")
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("loopnet: warning:")]
    assert len(warnings) == 1 and "not learning" in warnings[0] and "--lr" in warnings[0], err


def test_a_run_shorter_than_an_epoch_is_not_judged(capsys):
    code, out, err = run(capsys, *SMALL, "--iters", 1)  # one step: chance accuracy is expected
    assert code == 0
    assert "warning" not in err


def test_a_learning_run_is_not_flagged(capsys):
    code, out, err = run(capsys, *SMALL, "--epochs", 3)  # loss 2.30 -> 1.70, accuracy 0.45
    assert code == 0
    assert "warning" not in err


@pytest.mark.parametrize("flags,cause", [
    (["--lr", "1e300"], "--lr"),
    (["--init", "1e200"], "--init"),
    (["--weight-decay", "1e100"], "--weight-decay"),
])
def test_divergence_names_its_likely_cause(capsys, flags, cause):
    code, out, err = run(capsys, *SMALL, "--iters", 10, *flags)
    assert_one_line_error(code, err)
    assert "diverged" in err
    assert err.split("; ", 1)[1].startswith(cause)


def test_evaluate_uses_the_seed_stored_in_the_model(capsys, tmp_path, monkeypatch):
    model = tmp_path / "m.json"
    monkeypatch.setenv("LOOPNET_CACHE", str(tmp_path / "cache"))  # seed 5 is not pre-generated
    code, out, err = run(capsys, *SMALL, "--epochs", 1, "--seed", 5, "--save", model)
    assert code == 0, err
    reported = re.search(r"test acc ([01]\.\d{4})", out).group(1)
    code, out, err = run(capsys, "evaluate", "--model", model, "--limit", 300, "--backend",
                         "python")
    assert code == 0, err
    assert "synthetic seed 5" in out and f"accuracy {reported}" in out


@pytest.mark.numba_required
def test_interrupted_compile_does_not_claim_kernels_ready(capsys, monkeypatch):
    from loopnet.backends import numba_background
    from loopnet.cli.stop_signals import Interrupted

    def interrupted(trainer, training_child=None):
        raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(numba_background, "warm_up", interrupted)
    code, out, err = run(capsys, "train", "--limit", 50, "--hidden", 4, "--iters", 2,
                         "--backend", "numba")
    assert code == 130
    assert "kernels ready" not in err
    assert err.strip().splitlines()[-1] == ("loopnet: interrupted by SIGINT; nothing was saved; "
                                            "run the same command again")


def test_parallel_without_numba_names_the_extra(capsys, monkeypatch):
    import loopnet.backends as backends

    monkeypatch.setattr(backends, "numba_available", lambda: False)
    monkeypatch.setattr(backends, "ON_PYPY", False)  # CPython without numba (PyPy: test_pypy.py)
    code, out, err = run(capsys, *SMALL, "--iters", 2, "--parallel")
    assert_one_line_error(code, err)
    assert "pip install loopnet[jit]" in err


def test_usage_error_has_one_prefix(capsys):
    code, out, err = run(capsys, "train", "--lr", "-1")
    assert_one_line_error(code, err)
    assert err.startswith("loopnet: error: train: argument --lr")


def test_interrupt_clears_a_progress_line_on_a_terminal(capsys, monkeypatch):
    import loopnet.cli.gradcheck as gradcheck

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(gradcheck, "run", interrupted)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = run(capsys, "gradcheck")
    assert code == 130 and err == "\r\033[Kloopnet: interrupted\n"


# ---- real signals at random moments -----------------------------------------------------------
def loopnet_command(words, env, cwd, timeout=300):
    return subprocess.run([sys.executable, "-m", "loopnet", *words], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def kill_and_resume(tmp_path, env, argv, moments: int, longest_delay: float,
                    ready: str = "stdout", every: int = 7) -> list:
    """Run `loopnet train argv` uninterrupted, then `moments` times with SIGINT or SIGTERM
    (alternately) sent at a random moment once training starts (the header on stdout, or
    "kernels ready" on stderr for a compiled backend), then the resume command it prints;
    assert every final model equals the uninterrupted one.  Returns the steps interrupted at."""
    done = loopnet_command([*argv, "--save", "full.json"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    seed = int.from_bytes(os.urandom(4), "little")
    draw = random.Random(seed)
    interrupted = []
    for moment in range(moments):
        sig = (signal.SIGINT, signal.SIGTERM)[moment % 2]
        folder = tmp_path / f"moment{moment}"
        folder.mkdir()
        with subprocess.Popen([sys.executable, "-m", "loopnet", *argv, "--save", "m.json",
                               "--checkpoint", "ck.json", "--checkpoint-every", str(every)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              cwd=folder) as proc:
            if ready == "stdout":
                proc.stdout.readline()  # the header: training starts
            else:
                while "kernels ready" not in proc.stderr.readline():
                    pass
            delay = draw.uniform(0.0, longest_delay)
            time.sleep(delay)
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=600)
        context = f"seed {seed}, moment {moment}, {delay:.3f} s after start: {err}"
        if proc.returncode == 0:
            continue  # finished first: nothing to resume
        assert proc.returncode == 128 + sig, context
        found = INTERRUPTED.match(err.strip().splitlines()[-1])
        assert found, context
        interrupted.append(int(found.group(2)))
        resumed = loopnet_command(shlex.split(found.group(5))[1:], env, folder, timeout=600)
        assert resumed.returncode == 0, resumed.stderr
        assert params_of(folder / "m.json") == params_of(tmp_path / "full.json"), context
    return interrupted


def test_kill_at_random_moments_then_resume_is_bit_exact(tmp_path, synthetic_cache):
    """`kill -INT`/`-TERM` of a real `loopnet train` at 3 random moments, then the command it
    prints: the final parameters are the uninterrupted run's, bit for bit."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOOPNET_CACHE": str(synthetic_cache)}
    # PyPy's JIT runs 150 steps of this net before the first signal: give it more steps
    iters = "6000" if platform.python_implementation() == "PyPy" else "150"
    interrupted = kill_and_resume(tmp_path, env, [*SMALL, "--iters", iters], 3, 0.6)
    assert len(interrupted) >= 2, f"the runs ended before the signals (steps {interrupted})"


@pytest.mark.slow
@pytest.mark.numba_required
@pytest.mark.parametrize("mode", [[], ["--parallel"]], ids=["exact", "parallel"])
def test_kill_compiled_runs_at_random_moments_then_resume(tmp_path, synthetic_cache, mode):
    """The same with numba, 8 moments each (compiles into a fresh cache first: minutes)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "LOOPNET_CACHE": str(synthetic_cache)}
    argv = ["train", "--limit", "300", "--hidden", "8", "--batch-size", "10", "--backend",
            "numba", "--optimizer", "adam", "--lr", "0.01", "--iters", "3000", *mode]
    interrupted = kill_and_resume(tmp_path, env, argv, 8, 1.5, ready="stderr", every=37)
    print(f"interrupted at steps {interrupted}")
    assert len(interrupted) >= 6, f"the runs ended before the signals (steps {interrupted})"
