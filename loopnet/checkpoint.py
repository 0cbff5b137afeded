"""Checkpoints of a training run: JSON (never pickle), written atomically, read back strictly.

A checkpoint holds what `Trainer.get_state` gives — parameters, optimizer state, the minibatch
sampler's state, the step count, every step's loss and the epochs' results — with the settings
that define the run and a SHA-256 of the training and test data, so that a resumed run is the
same run: its final parameters are bit-for-bit those of a run that was never interrupted.

Format (version 1)::

    {"format": "loopnet-checkpoint", "version": 1,
     "run": {...settings: sizes, activation, optimizer, lr, batch_size, seed, data...},
     "data": {"train": {"count": N, "sha256": "..."}, "test": {...}},
     "state": {"steps": S, "sampler": u64, "params": {"W1": [flat floats], ...},
               "optimizer": {"buffers": {"W1": [[flat floats], ...], ...}, "iter": t},
               "step_losses": [S floats], "results": [{epoch result}, ...],
               "train_seconds": s, "epoch_seconds": s}}

Floats are written with Python's shortest round-trip repr, so reading gives back the same bits.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import fields
from pathlib import Path

from loopnet.atomic import write_file_atomic
from loopnet.data.dataset import Dataset
from loopnet.errors import LoopnetError
from loopnet.rng import MASK64
from loopnet.training import EpochResult, Trainer

FORMAT = "loopnet-checkpoint"
VERSION = 1
OPTIMIZER_BUFFERS = {"sgd": 0, "momentum": 1, "adagrad": 1, "adam": 2}


class CheckpointError(LoopnetError, ValueError):
    """A checkpoint that cannot be read, is not loopnet's, or does not fit the run resumed."""


def data_fingerprint(data: Dataset | None) -> dict | None:
    """The example count and SHA-256 of a data set's labels and pixels (None for no set)."""
    if data is None:
        return None
    digest = hashlib.sha256()
    digest.update(f"{len(data)} {data.n_features} {data.n_classes}\n".encode())
    digest.update(data.labels)
    digest.update(data.features if data.is_float else data.pixels)  # the buffer, not a copy
    return {"count": len(data), "sha256": digest.hexdigest()}


def save_checkpoint(path: str | os.PathLike, trainer: Trainer, run: dict | None = None) -> None:
    """Write `trainer`'s state to `path` atomically, with the run's settings: `run` (JSON-ready,
    free-form: the CLI's flags) plus the network's sizes and the optimizer's name."""
    run = {**(run or {}), "sizes": trainer.net.sizes, "optimizer": trainer.optimizer.name}
    checkpoint = {"format": FORMAT, "version": VERSION, "run": run,
                  "data": {"train": data_fingerprint(trainer.train),
                           "test": data_fingerprint(trainer.test)},
                  "state": trainer.get_state()}
    try:
        text = json.dumps(checkpoint, allow_nan=False)
    except ValueError:
        raise CheckpointError(f"cannot write checkpoint {path}: the state holds NaN or "
                              "infinity") from None
    try:
        write_file_atomic(path, text + "\n")
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {exc.strerror or exc}") from None


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read the checkpoint at `path`; CheckpointError names what is wrong with it.

    Checks the structure and types of every part (a number must be a JSON number, a count an
    integer, a tensor a list of finite floats of the size the run's layer sizes give).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CheckpointError(f"checkpoint {path} is not UTF-8 JSON") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a loopnet checkpoint (no \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if not _is_int(version) or version != VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {version!r}; this loopnet "
                              f"reads version {VERSION}")
    try:
        _check_checkpoint(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} is invalid: {_describe(exc)}") from None
    return data


def check_same_data(path: str | os.PathLike, checkpoint: dict, train: Dataset,
                    test: Dataset | None) -> None:
    """CheckpointError unless `train` and `test` are the data the checkpointed run used."""
    for what, data in (("training", train), ("test", test)):
        key = "train" if what == "training" else "test"
        stored, now = checkpoint["data"].get(key), data_fingerprint(data)
        if stored != now:
            raise CheckpointError(
                f"checkpoint {path} was made on other {what} data ({_count(stored)} examples, "
                f"now {_count(now)}{'' if _count(stored) != _count(now) else ' with other content'})")


def _count(fingerprint: dict | None) -> int:
    return fingerprint["count"] if fingerprint else 0


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _describe(exc: Exception) -> str:
    return f"lacks {exc}" if isinstance(exc, KeyError) else str(exc)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _floats(values, size: int, what: str) -> None:
    _require(isinstance(values, list) and len(values) == size and all(map(_is_float, values)),
             f"{what} is not {size} finite numbers")


def _check_checkpoint(data: dict) -> None:
    run, state = data["run"], data["state"]
    _require(isinstance(run, dict), "run is not an object")
    sizes = run["sizes"]
    _require(isinstance(sizes, list) and len(sizes) >= 2
             and all(_is_int(n) and n > 0 for n in sizes), "sizes is not a list of positive integers")
    _require(run["optimizer"] in OPTIMIZER_BUFFERS, f"unknown optimizer {run['optimizer']!r}")
    for key in ("train", "test"):
        fingerprint = data["data"][key]
        _require(fingerprint is None or (
            isinstance(fingerprint, dict) and _is_int(fingerprint.get("count"))
            and isinstance(fingerprint.get("sha256"), str)), f"data.{key} is not a fingerprint")
    _require(isinstance(state, dict), "state is not an object")
    steps = state["steps"]
    _require(_is_int(steps) and steps >= 0, "steps is not a non-negative integer")
    _require(_is_int(state["sampler"]) and 0 <= state["sampler"] <= MASK64,
             "sampler is not a 64-bit unsigned integer")
    shapes = {}
    for layer in range(1, len(sizes)):
        shapes[f"W{layer}"] = sizes[layer - 1] * sizes[layer]
        shapes[f"b{layer}"] = sizes[layer]
    params = state["params"]
    _require(isinstance(params, dict) and sorted(params) == sorted(shapes),
             f"params are not {', '.join(shapes)}")
    for name, size in shapes.items():
        _floats(params[name], size, f"params.{name}")
    optimizer = state["optimizer"]
    buffers = optimizer["buffers"]
    n_buffers = OPTIMIZER_BUFFERS[run["optimizer"]]
    _require(isinstance(buffers, dict) and set(buffers) <= set(shapes),
             "optimizer.buffers names unknown parameters")
    for name, tensors in buffers.items():
        _require(isinstance(tensors, list) and len(tensors) == n_buffers,
                 f"optimizer.buffers.{name} is not {n_buffers} tensors")
        for tensor in tensors:
            _floats(tensor, shapes[name], f"optimizer.buffers.{name}")
    if run["optimizer"] == "adam":
        _require(_is_int(optimizer["iter"]) and optimizer["iter"] >= 0,
                 "optimizer.iter is not a non-negative integer")
    _floats(state["step_losses"], steps, "step_losses")
    results = state["results"]
    _require(isinstance(results, list), "results is not a list")
    names = {f.name for f in fields(EpochResult)}
    for n, result in enumerate(results, 1):
        _require(isinstance(result, dict) and set(result) == names, f"result {n} is not an epoch")
        _require(result["epoch"] == n and _is_int(result["steps"])
                 and 0 < result["steps"] <= steps, f"result {n} has a wrong epoch or step count")
        _require(all(_is_float(result[k]) for k in names - {"epoch", "steps", "test_acc"})
                 and (result["test_acc"] is None or _is_float(result["test_acc"])),
                 f"result {n} holds a value that is not a number")
    for key in ("train_seconds", "epoch_seconds"):
        _require(_is_float(state[key]) and state[key] >= 0, f"{key} is not a number >= 0")
