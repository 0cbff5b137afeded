"""Models as versioned JSON (never pickle), written atomically.

Format (version 2)::

    {"format": "loopnet-model", "version": 2,
     "sizes": [784, 50, 10], "activation": "relu", "output": "softmax",
     "loss": "cross_entropy", "log_guard": 1e-07, "weight_decay": 0.0,
     "params": {"W1": [[...n_out floats...] x n_in rows], "b1": [...], ...},
     "metadata": {...free-form: data, epochs, accuracy...}}

Version 1 files (no "loss", no "log_guard": softmax or identity with its default loss and the
1e-7 guard) still load; version 2 requires both keys.

Floats are written with Python's shortest round-trip repr, so loading gives back the same bits.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

from loopnet import strict_json
from loopnet.atomic import write_file_atomic
from loopnet.errors import BackendError, LoopnetError, ModelFileError
from loopnet.network import ACTIVATIONS, DEFAULT_LOG_GUARD, LOSSES, OUTPUTS, MultiLayerNet

FORMAT = "loopnet-model"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def write_atomic(path: str | os.PathLike, text: str, inputs: Iterable[str | os.PathLike] = ()
                 ) -> None:
    """Write `text` to `path` atomically; ModelFileError if its directory does not exist,
    OutputFileError if `path` may not be written (see `loopnet.atomic.check_output_target`)."""
    directory = Path(path).parent
    if not directory.is_dir():
        raise ModelFileError(f"cannot write {path}: directory {directory} does not exist")
    write_file_atomic(path, text, inputs=inputs)


def model_to_dict(net: MultiLayerNet, metadata: dict | None = None) -> dict:
    """The JSON-ready description of `net`."""
    return {"format": FORMAT, "version": VERSION, **net.config(),
            "params": net.get_params(), "metadata": metadata or {}}


def save_model(net: MultiLayerNet, path: str | os.PathLike, metadata: dict | None = None,
               inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Save `net` as JSON at `path` (atomically: an existing file is never half-overwritten).

    `inputs`: files the caller read, which `path` must not be."""
    for name, buf in net.params.items():
        if not all(math.isfinite(v) for v in buf):
            raise ModelFileError(f"cannot save {path}: {name} contains NaN or infinity")
    write_atomic(path, json.dumps(model_to_dict(net, metadata), allow_nan=False) + "\n", inputs)


def load_model_dict(path: str | os.PathLike) -> dict:
    """Read and validate a model file's JSON; ModelFileError names what is wrong."""
    data = strict_json.read(path, "model file")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a loopnet model file (no \"format\": \"{FORMAT}\")")
    version = data.get("version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise ModelFileError(f"{path} has model format version {version!r}; this loopnet reads "
                             f"versions {', '.join(map(str, READABLE_VERSIONS))}")
    required = ("sizes", "activation", "output", "params")
    if version >= 2:
        required += ("loss", "log_guard")
    for key in required:
        if key not in data:
            raise ModelFileError(f"model file {path} lacks {key!r}")
    check_fields(path, data)
    _check_shapes(path, data)
    return data


def check_fields(path: str | os.PathLike, data: dict) -> None:
    """Every field of the right JSON type: an integer version (not 1.0 or true), names as
    strings, λ and the log guard numbers (not "0.5"), metadata an object."""
    where = f"model file {path}:"
    strict_json.integer(data["version"], f"{where} version")
    strict_json.string(data["activation"], f"{where} activation", ACTIVATIONS)
    strict_json.string(data["output"], f"{where} output", OUTPUTS)
    if "loss" in data and data["loss"] is not None:
        strict_json.string(data["loss"], f"{where} loss", LOSSES)
    for key in ("weight_decay", "log_guard"):
        if key in data:
            strict_json.number(data[key], f"{where} {key}")
    if not isinstance(data.get("metadata", {}), dict):
        raise ModelFileError(f"{where} metadata must be an object")


def load_model(path: str | os.PathLike, backend: str = "auto") -> MultiLayerNet:
    """Rebuild the network saved at `path` on the given backend."""
    data = load_model_dict(path)
    try:
        net = MultiLayerNet(data["sizes"], activation=data["activation"], output=data["output"],
                            loss=data.get("loss"),
                            log_guard=data.get("log_guard", DEFAULT_LOG_GUARD),
                            weight_decay=data.get("weight_decay", 0.0), backend=backend)
        net.set_params(data["params"])
    except BackendError:  # the backend asked for is missing: not the file's fault
        raise
    except LoopnetError as exc:
        raise ModelFileError(f"model file {path} is invalid: {exc}") from None
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ModelFileError(f"model file {path} is invalid: {exc}") from None
    for name, buf in net.params.items():
        if not all(math.isfinite(v) for v in buf):
            raise ModelFileError(f"model file {path}: {name} contains NaN or infinity")
    return net


def _check_shapes(path, data: dict) -> None:
    """`sizes` must match the stored tensors before any network is built (a file claiming
    400 million hidden units must fail at once, not after drawing their initial weights); every
    entry must be a JSON number (not "0.5" or true)."""
    sizes, params = data["sizes"], data["params"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ModelFileError(f"model file {path}: sizes must be a list of positive integers")
    if not isinstance(params, dict):
        raise ModelFileError(f"model file {path}: params must be an object")
    for layer in range(1, len(sizes)):
        n_in, n_out = sizes[layer - 1], sizes[layer]
        strict_json.matrix(params.get(f"W{layer}"), f"model file {path}: W{layer}", n_in, n_out)
        strict_json.numbers(params.get(f"b{layer}"), f"model file {path}: b{layer}", n_out)
