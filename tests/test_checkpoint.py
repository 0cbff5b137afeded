"""Checkpoints and resume: a run stopped at any step boundary and resumed from its checkpoint ends
with the parameters of the run that was never stopped, bit for bit — for every optimizer, on the
python backend, numba's exact mode and parallel mode, and across backends."""
from __future__ import annotations

import functools
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopnet.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from loopnet.data import generate_digits
from loopnet.network import MultiLayerNet
from loopnet.optimizers import OPTIMIZERS, make_optimizer
from loopnet.training import Trainer

TRAIN = generate_digits(120, seed=3)
TEST = generate_digits(40, seed=4)
SIZES = [784, 6, 10]
BATCH = 10  # 12 steps per epoch
TOTAL = 30  # two epochs and a partial third
LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.05, "adam": 0.01}
# (backend, parallel) of the runs compared; numba ones skip without numba
MODES = {"python": ("python", False),
         "numba": pytest.param(("numba", False), marks=pytest.mark.numba_required),
         "parallel": pytest.param(("numba", True), marks=pytest.mark.numba_required)}


def make_trainer(backend: str, parallel: bool, optimizer: str) -> Trainer:
    net = MultiLayerNet(SIZES, seed=2, backend=backend, parallel=parallel)
    return Trainer(net, make_optimizer(optimizer, LR[optimizer]), TRAIN, TEST, batch_size=BATCH,
                   seed=5)


def outcome(trainer: Trainer) -> dict:
    """Every parameter's bits, every step's loss and every epoch's loss and accuracies."""
    b = trainer.net.backend
    return {"params": {name: [v.hex() for v in b.to_list(buf)]
                       for name, buf in trainer.net.params.items()},
            "losses": [v.hex() for v in trainer.step_losses],
            "epochs": [(r.epoch, r.steps, r.loss.hex(), r.train_acc, r.test_acc)
                       for r in trainer.results]}


@functools.cache
def uninterrupted(backend: str, parallel: bool, optimizer: str) -> dict:
    trainer = make_trainer(backend, parallel, optimizer)
    trainer.run(iters=TOTAL, chunk_steps=4)
    return outcome(trainer)


def stopped_and_resumed(path, mode: tuple, optimizer: str, stops: list, chunk: int,
                        every, resume_mode: tuple | None = None) -> dict:
    """Run to each of `stops` in turn (stopping at the first chunk boundary at or past it),
    checkpoint, and continue in a fresh trainer from the file; then run to the end."""
    trainer = make_trainer(*mode, optimizer)
    for stop in sorted(stops):
        current = trainer
        current.run(iters=TOTAL, chunk_steps=chunk, checkpoint_every=every,
                    on_checkpoint=lambda t=current: save_checkpoint(path, t),
                    stop_requested=lambda t=current, s=stop: t.steps_done >= s)
        save_checkpoint(path, current, {"note": "as the CLI does on SIGINT"})
        trainer = make_trainer(*(resume_mode or mode), optimizer)
        trainer.set_state(load_checkpoint(path)["state"])
    trainer.run(iters=TOTAL, chunk_steps=chunk)
    assert trainer.finished
    return outcome(trainer)


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stops=st.lists(st.integers(0, TOTAL), min_size=1, max_size=3),
       chunk=st.integers(1, 7), every=st.one_of(st.none(), st.integers(1, 10)))
def test_resume_is_bit_exact_on_python(tmp_path, optimizer, stops, chunk, every):
    got = stopped_and_resumed(tmp_path / "ck.json", ("python", False), optimizer, stops, chunk,
                              every)
    assert got == uninterrupted("python", False, optimizer)


@pytest.mark.numba_required
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("mode", ["numba", "parallel"])
def test_resume_is_bit_exact_compiled(tmp_path, optimizer, mode):
    mode = {"numba": ("numba", False), "parallel": ("numba", True)}[mode]
    draw = random.Random(f"{mode}{optimizer}")
    for _ in range(2):
        stops = [draw.randrange(TOTAL + 1) for _ in range(draw.randint(1, 3))]
        got = stopped_and_resumed(tmp_path / "ck.json", mode, optimizer, stops,
                                  chunk=draw.randint(1, 20), every=draw.choice([None, 3, 7]))
        assert got == uninterrupted(*mode, optimizer), stops


@pytest.mark.numba_required
@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_exact_mode_checkpoint_resumes_on_the_other_backend(tmp_path, optimizer):
    """Exact mode is bit-identical to python, so a checkpoint moves between them freely."""
    expected = uninterrupted("python", False, optimizer)
    assert uninterrupted("numba", False, optimizer) == expected
    for first, then in ((("python", False), ("numba", False)),
                        (("numba", False), ("python", False))):
        got = stopped_and_resumed(tmp_path / "ck.json", first, optimizer, [13], 5, None, then)
        assert got == expected


def test_checkpoint_every_cuts_chunks_at_its_multiples(tmp_path):
    """A chunk of 20 steps never runs past a multiple of checkpoint_every or an epoch end."""
    trainer = make_trainer("python", False, "sgd")
    seen = []
    trainer.run(iters=TOTAL, chunk_steps=20, checkpoint_every=5,
                on_checkpoint=lambda: seen.append(trainer.steps_done))
    assert seen == [5, 10, 12, 15, 20, 24, 25, 30]
    assert outcome(trainer) == uninterrupted("python", False, "sgd")


# ---- the file itself ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def checkpoint_text(tmp_path_factory):
    trainer = make_trainer("python", False, "adam")
    trainer.run(iters=TOTAL, chunk_steps=1, stop_requested=lambda: trainer.steps_done >= 17)
    path = tmp_path_factory.mktemp("ck") / "ck.json"
    save_checkpoint(path, trainer, {"seed": 5})
    return path.read_text()


def test_checkpoint_file_is_strict_json_with_the_state(checkpoint_text):
    data = json.loads(checkpoint_text, parse_constant=lambda c: pytest.fail(c))
    assert data["format"] == "loopnet-checkpoint" and data["version"] == 1
    assert data["run"] == {"seed": 5, "sizes": SIZES, "optimizer": "adam"}
    state = data["state"]
    assert state["steps"] == 17 and len(state["step_losses"]) == 17
    assert state["optimizer"]["iter"] == 17
    assert [r["steps"] for r in state["results"]] == [12]
    assert data["data"]["train"]["count"] == 120 and data["data"]["test"]["count"] == 40


def corrupt(name):
    def set_in(path, value):
        def change(d):
            *parents, last = path
            for key in parents:
                d = d[key]
            d[last] = value
        change.__name__ = name
        return change
    return set_in


CORRUPTIONS = {
    "version 2": (["version"], 2),
    "version '1'": (["version"], "1"),
    "version true": (["version"], True),
    "no state": (["state"], None),
    "W1 short": (["state", "params", "W1"], [0.5]),
    "b1 text": (["state", "params", "b1"], ["0"] * 6),
    "b1 bool": (["state", "params", "b1"], [True] * 6),
    "sampler negative": (["state", "sampler"], -1),
    "sampler 2**64": (["state", "sampler"], 1 << 64),
    "sampler float": (["state", "sampler"], 1.5),
    "steps disagree": (["state", "steps"], 16),
    "adam iter text": (["state", "optimizer", "iter"], "17"),
    "buffers missing one": (["state", "optimizer", "buffers", "W1"], [[0.0] * 4704]),
    "unknown optimizer": (["run", "optimizer"], "rmsprop"),
    "sizes zero": (["run", "sizes"], [784, 0, 10]),
    "result of epoch 3": (["state", "results", 0, "epoch"], 3),
    "result accuracy text": (["state", "results", 0, "train_acc"], "0.5"),
    "train seconds negative": (["state", "train_seconds"], -1.0),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupt_checkpoint_is_refused(tmp_path, checkpoint_text, case):
    keys, value = CORRUPTIONS[case]
    data = json.loads(checkpoint_text)
    corrupt(case)(keys, value)(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"format": "loopnet-model"}', "NaN",
                                  '{"format": "loopnet-checkpoint", "version": 1}'])
def test_unreadable_checkpoint_is_refused(tmp_path, text):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path, checkpoint_text):
    for cut in (1, len(checkpoint_text) // 2, len(checkpoint_text) - 3):
        path = tmp_path / "cut.json"
        path.write_text(checkpoint_text[:cut])
        with pytest.raises(CheckpointError):
            load_checkpoint(path)


def test_nan_in_a_checkpoint_is_refused(tmp_path, checkpoint_text):
    path = tmp_path / "nan.json"
    path.write_text(checkpoint_text.replace('"step_losses": [', '"step_losses": [NaN, ', 1))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
