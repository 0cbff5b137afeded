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
from pathlib import Path

from loopnet.atomic import write_file_atomic
from loopnet.errors import LoopnetError, ModelFileError
from loopnet.network import DEFAULT_LOG_GUARD, MultiLayerNet

FORMAT = "loopnet-model"
VERSION = 2
READABLE_VERSIONS = (1, 2)


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically; ModelFileError if its directory does not exist."""
    directory = Path(path).parent
    if not directory.is_dir():
        raise ModelFileError(f"cannot write {path}: directory {directory} does not exist")
    write_file_atomic(path, text)


def model_to_dict(net: MultiLayerNet, metadata: dict | None = None) -> dict:
    """The JSON-ready description of `net`."""
    return {"format": FORMAT, "version": VERSION, **net.config(),
            "params": net.get_params(), "metadata": metadata or {}}


def save_model(net: MultiLayerNet, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Save `net` as JSON at `path` (atomically: an existing file is never half-overwritten)."""
    for name, buf in net.params.items():
        if not all(math.isfinite(v) for v in buf):
            raise ModelFileError(f"cannot save {path}: {name} contains NaN or infinity")
    write_atomic(path, json.dumps(model_to_dict(net, metadata), allow_nan=False) + "\n")


def load_model_dict(path: str | os.PathLike) -> dict:
    """Read and validate a model file's JSON; ModelFileError names what is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"model file {path} is not UTF-8 JSON") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge int literal, deep nesting
        raise ModelFileError(f"model file {path} is not valid JSON: {exc}") from None
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
    return data


def load_model(path: str | os.PathLike, backend: str = "auto") -> MultiLayerNet:
    """Rebuild the network saved at `path` on the given backend."""
    data = load_model_dict(path)
    _check_shapes(path, data)
    try:
        net = MultiLayerNet(data["sizes"], activation=data["activation"], output=data["output"],
                            loss=data.get("loss"),
                            log_guard=data.get("log_guard", DEFAULT_LOG_GUARD),
                            weight_decay=data.get("weight_decay", 0.0), backend=backend)
        net.set_params(data["params"])
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
    400 million hidden units must fail at once, not after drawing their initial weights)."""
    sizes, params = data["sizes"], data["params"]
    if not isinstance(sizes, list) or len(sizes) < 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise ModelFileError(f"model file {path}: sizes must be a list of positive integers")
    if not isinstance(params, dict):
        raise ModelFileError(f"model file {path}: params must be an object")
    for layer in range(1, len(sizes)):
        W, b = params.get(f"W{layer}"), params.get(f"b{layer}")
        n_in, n_out = sizes[layer - 1], sizes[layer]
        if not isinstance(W, list) or len(W) != n_in or not all(
                isinstance(row, list) and len(row) == n_out for row in W):
            raise ModelFileError(f"model file {path}: W{layer} is not {n_in} rows of {n_out} numbers")
        if not isinstance(b, list) or len(b) != n_out:
            raise ModelFileError(f"model file {path}: b{layer} is not {n_out} numbers")
