"""Weights out of loopnet and back: NumPy ``.npz``, PyTorch ``state_dict`` and plain JSON.

Formats (every one round-trips bit for bit, float64 throughout):

``npz``
    ``np.savez`` archive of arrays named like the book's params: ``W1`` (n_in, n_out), ``b1``
    (n_out,), ``W2``, ...; plus ``loopnet``, a 0-d string array holding the JSON object
    ``{"sizes", "activation", "output", "loss", "log_guard", "weight_decay", "metadata"}``.  Loads with
    ``np.load(path)`` (no pickle needed).
``torch``
    ``torch.save`` of the ``state_dict`` of the ``nn.Sequential`` built by
    `loopnet.reference.torch_net.build_sequential` (Linear layers at indices 0, 2, 4, ...;
    ``"0.weight"`` = W1ᵀ, ``"0.bias"`` = b1, ...), float64.  A state_dict holds no activation,
    output, loss or log guard, so importing one takes them as arguments (default relu, softmax,
    the output's default loss, 1e-7).
``json``
    ``{"W1": [[...n_out floats] x n_in rows], "b1": [...], ..., "loopnet": {...as for npz}}``,
    floats in Python's shortest round-trip form.  Importing also accepts loopnet model files.

NumPy and PyTorch are imported only by the formats that need them.
"""
from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path

from loopnet.atomic import write_file_atomic
from loopnet.errors import BackendError, ModelFileError
from loopnet.model_io import FORMAT as MODEL_FORMAT
from loopnet.network import DEFAULT_LOG_GUARD, MultiLayerNet

FORMATS = ("npz", "torch", "json")
SUFFIXES = {".npz": "npz", ".pt": "torch", ".pth": "torch", ".json": "json"}
CONFIG_KEY = "loopnet"


def guess_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """`fmt` if given, else the format implied by the file suffix (.npz, .pt/.pth, .json)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ModelFileError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelFileError(f"cannot tell the format of {path} from its suffix; give --format "
                             f"({', '.join(FORMATS)})")
    return SUFFIXES[suffix]


def _numpy():
    try:
        import numpy
    except ImportError:
        raise BackendError("the npz format needs NumPy: pip install numpy") from None
    return numpy


def _torch():
    try:
        import torch
    except ImportError:
        raise BackendError("the torch format needs PyTorch: pip install loopnet[torch]") from None
    return torch


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically; ModelFileError if its directory does not exist."""
    directory = Path(path).parent
    if not directory.is_dir():
        raise ModelFileError(f"cannot write {path}: directory {directory} does not exist")
    write_file_atomic(path, data)


def _config(net: MultiLayerNet, metadata: dict | None) -> dict:
    return {**net.config(), "metadata": metadata or {}}


# ------------------------------------------------------------------------------- export
def export_bytes(net: MultiLayerNet, fmt: str, metadata: dict | None = None) -> bytes:
    """The file contents of `net`'s weights in format `fmt`."""
    fmt = guess_format("", fmt)
    params = net.get_params()
    if fmt == "json":
        doc = {**params, CONFIG_KEY: _config(net, metadata)}
        return (json.dumps(doc, allow_nan=False) + "\n").encode("utf-8")
    if fmt == "npz":
        np = _numpy()
        arrays = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        arrays[CONFIG_KEY] = np.array(json.dumps(_config(net, metadata)))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()
    buf = io.BytesIO()
    _torch().save(to_state_dict(net), buf)
    return buf.getvalue()


def export_weights(net: MultiLayerNet, path: str | os.PathLike, fmt: str | None = None,
                   metadata: dict | None = None) -> str:
    """Write `net`'s weights to `path` atomically; returns the format used."""
    fmt = guess_format(path, fmt)
    write_bytes_atomic(path, export_bytes(net, fmt, metadata))
    return fmt


def to_state_dict(net: MultiLayerNet) -> dict:
    """`net`'s parameters as the float64 state_dict of its ``nn.Sequential`` (weight = Wᵀ)."""
    torch = _torch()
    from loopnet.reference.torch_net import state_dict_key

    state = {}
    for name, value in net.get_params().items():
        t = torch.tensor(value, dtype=torch.float64)
        state[state_dict_key(name)] = t.T.contiguous() if name[0] == "W" else t
    return state


def to_torch_module(net: MultiLayerNet):
    """An ``nn.Sequential`` (float64) holding `net`'s weights."""
    from loopnet.reference.torch_net import build_sequential

    model = build_sequential(net.sizes, net.activation)
    model.load_state_dict(to_state_dict(net))
    return model


# ------------------------------------------------------------------------------- import
def _read_json(path: Path) -> tuple[dict, dict]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is not a JSON weights file: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"{path} is not a JSON object of weights")
    if doc.get("format") == MODEL_FORMAT:  # a loopnet model file
        config = {k: doc[k] for k in ("sizes", "activation", "output", "loss", "log_guard",
                                      "weight_decay", "metadata") if k in doc}
        return doc.get("params", {}), config
    config = doc.pop(CONFIG_KEY, {})
    return doc, config if isinstance(config, dict) else {}


def _read_npz(path: Path) -> tuple[dict, dict]:
    np = _numpy()
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an .npz weights file (not a zip archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path} is not an .npz weights file: {exc}") from None
    config = {}
    if CONFIG_KEY in arrays:
        try:
            config = json.loads(str(arrays.pop(CONFIG_KEY)))
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{path}: its {CONFIG_KEY!r} entry is not JSON: {exc}") from None
    params = {}
    for name, arr in arrays.items():
        if arr.dtype.kind not in "fiu":
            raise ModelFileError(f"{path}: array {name} is not numeric ({arr.dtype})")
        params[name] = arr.astype(np.float64).tolist()
    return params, config if isinstance(config, dict) else {}


def _read_torch(path: Path) -> tuple[dict, dict]:
    torch = _torch()
    data = path.read_bytes()
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not its own
        # torch's own messages run to paragraphs (and suggest unsafe loading): name the type
        raise ModelFileError(f"{path} is not a PyTorch state_dict file that loads with "
                             f"weights_only=True ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{path} does not hold a state_dict of tensors")
    linear = sorted({int(k.split(".")[0]) for k in state if k.split(".")[0].isdigit()})
    expected = {f"{2 * l}.{p}" for l in range(len(linear)) for p in ("weight", "bias")}
    if not linear or set(state) != expected:
        raise ModelFileError(f"{path}: keys {sorted(state)} are not those of a Linear/activation "
                             "nn.Sequential (0.weight, 0.bias, 2.weight, 2.bias, ...)")
    params = {}
    for l in range(len(linear)):
        weight = state[f"{2 * l}.weight"].detach().to(torch.float64)
        if weight.dim() != 2:
            raise ModelFileError(f"{path}: {2 * l}.weight is not a matrix")
        params[f"W{l + 1}"] = weight.T.tolist()
        params[f"b{l + 1}"] = state[f"{2 * l}.bias"].detach().to(torch.float64).tolist()
    return params, {}


def _sizes_from(params: dict, path: Path) -> list[int]:
    """Layer widths implied by W1, W2, ... (which must chain)."""
    n_layers = sum(1 for k in params if k.startswith("W"))
    names = [f"{p}{l}" for l in range(1, n_layers + 1) for p in "Wb"]
    if n_layers == 0 or sorted(params) != sorted(names):
        raise ModelFileError(f"{path}: expected parameters {', '.join(names) or 'W1, b1'}, "
                             f"found {', '.join(sorted(params))}")
    sizes = []
    for l in range(1, n_layers + 1):
        W = params[f"W{l}"]
        if not isinstance(W, list) or not W or not isinstance(W[0], list):
            raise ModelFileError(f"{path}: W{l} is not a matrix")
        if l == 1:
            sizes.append(len(W))
        sizes.append(len(W[0]))
    return sizes


def read_weights(path: str | os.PathLike, fmt: str | None = None) -> tuple[dict, dict, str]:
    """(params as nested lists, stored config or {}, format) from a weights file."""
    path = Path(path)
    fmt = guess_format(path, fmt)
    if not path.is_file():
        raise ModelFileError(f"cannot read {path}: no such file")
    reader = {"json": _read_json, "npz": _read_npz, "torch": _read_torch}[fmt]
    try:
        params, config = reader(path)
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return params, config, fmt


def import_weights(path: str | os.PathLike, fmt: str | None = None, *,
                   activation: str | None = None, output: str | None = None,
                   weight_decay: float | None = None, loss: str | None = None,
                   log_guard: float | None = None,
                   backend: str = "python") -> tuple[MultiLayerNet, dict]:
    """A network holding the weights of `path`, and the metadata stored with them.

    activation / output / loss / log_guard / weight_decay override the stored configuration;
    without one (a torch state_dict) they default to relu, softmax, the output's default loss,
    1e-7, 0.  A stored loss is kept only with its stored output.
    """
    params, config, fmt = read_weights(path, fmt)
    sizes = _sizes_from(params, Path(path))
    if "sizes" in config and config["sizes"] != sizes:
        raise ModelFileError(f"{path}: stored sizes {config['sizes']} do not match the "
                             f"weights' shapes {sizes}")
    try:
        net = MultiLayerNet(
            sizes,
            activation=activation or config.get("activation", "relu"),
            output=output or config.get("output", "softmax"),
            loss=loss or (config.get("loss") if output is None else None),
            log_guard=config.get("log_guard", DEFAULT_LOG_GUARD) if log_guard is None
            else log_guard,
            weight_decay=config.get("weight_decay", 0.0) if weight_decay is None else weight_decay,
            backend=backend)
        net.set_params(params)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} holds invalid weights: {exc}") from None
    for name, buf in net.params.items():
        if not all(math.isfinite(v) for v in buf):
            raise ModelFileError(f"{path}: {name} contains NaN or infinity")
    metadata = config.get("metadata", {})
    return net, metadata if isinstance(metadata, dict) else {}
