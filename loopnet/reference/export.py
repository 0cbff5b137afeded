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
    ``"0.weight"`` = W1ᵀ, ``"0.bias"`` = b1, ...), float64.  The configuration (activation,
    output, loss, log guard, λ) travels in the state_dict's ``_metadata["loopnet"]``
    (``{"config": <the JSON above>}``), which ``load_state_dict`` ignores and
    ``torch.load(weights_only=True)`` keeps.  A state_dict from elsewhere has none: importing it
    needs ``--activation`` and ``--output`` (the loss then defaults to the output's, the guard
    to 1e-7, λ to 0).
``json``
    ``{"W1": [[...n_out floats] x n_in rows], "b1": [...], ..., "loopnet": {...as for npz}}``,
    floats in Python's shortest round-trip form.  Importing also accepts loopnet model files.
``mat``
    Octave/MATLAB ``Theta1, Theta2, …`` (one row per unit, bias in column 0), Coursera ex4's
    layout; see `loopnet.reference.mat_weights`.

The npz and torch configurations also hold ``sha256``, the SHA-256 of the weights as
little-endian float64 in the order W1, b1, W2, ... (W row-major, as loopnet stores it); importing
verifies it, so a flipped byte is an error rather than a different model.  Every reader is
strict: a missing or mistyped field, a non-numeric, boolean or complex tensor, a member
declaring more data than the file holds, is a `ModelFileError`.

NumPy and PyTorch are imported only by the formats that need them.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path

from loopnet import strict_json
from loopnet.atomic import write_file_atomic
from loopnet.errors import BackendError, LoopnetError, ModelFileError
from loopnet.memory import require_memory
from loopnet.model_io import FORMAT as MODEL_FORMAT
from loopnet.model_io import load_model_dict
from loopnet.network import ACTIVATIONS, DEFAULT_LOG_GUARD, LOSSES, OUTPUTS, MultiLayerNet
from loopnet.reference.mat_weights import EX4_CONFIG, mat_bytes, read_mat_weights

FORMATS = ("npz", "torch", "json", "mat")
SUFFIXES = {".npz": "npz", ".pt": "torch", ".pth": "torch", ".json": "json", ".mat": "mat"}
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


def write_bytes_atomic(path: str | os.PathLike, data: bytes,
                       inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write `data` to `path` atomically; ModelFileError if its directory does not exist,
    OutputFileError if `path` may not be written (one of `inputs`, a symlink, read-only...)."""
    directory = Path(path).parent
    if not directory.is_dir():
        raise ModelFileError(f"cannot write {path}: directory {directory} does not exist")
    write_file_atomic(path, data, inputs=inputs)


def _config(net: MultiLayerNet, metadata: dict | None, digest: bool = False) -> dict:
    config = {**net.config(), "metadata": metadata or {}}
    if digest:
        config["sha256"] = weights_sha256(net.get_params())
    return config


def _flat(value) -> list:
    return [v for row in value for v in row] if value and isinstance(value[0], list) else value


def weights_sha256(params: dict) -> str:
    """SHA-256 of W1, b1, W2, b2, ... as little-endian float64 (W row-major)."""
    digest = hashlib.sha256()
    layers = sum(1 for name in params if name.startswith("W"))
    for layer in range(1, layers + 1):
        for name in (f"W{layer}", f"b{layer}"):
            flat = _flat(params[name])
            digest.update(struct.pack(f"<{len(flat)}d", *flat))
    return digest.hexdigest()


# ------------------------------------------------------------------------------- export
def export_bytes(net: MultiLayerNet, fmt: str, metadata: dict | None = None) -> bytes:
    """The file contents of `net`'s weights in format `fmt`."""
    fmt = guess_format("", fmt)
    params = net.get_params()
    if fmt == "json":
        doc = {**params, CONFIG_KEY: _config(net, metadata, digest=True)}
        return (json.dumps(doc, allow_nan=False) + "\n").encode("utf-8")
    if fmt == "mat":  # Octave/MATLAB Theta1, Theta2, … (see loopnet.reference.mat_weights)
        return mat_bytes(params, _config(net, metadata, digest=True))
    if fmt == "npz":
        np = _numpy()
        arrays = {name: np.array(value, dtype=np.float64) for name, value in params.items()}
        arrays[CONFIG_KEY] = np.array(json.dumps(_config(net, metadata, digest=True)))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()
    state = to_state_dict(net)
    state._metadata = {CONFIG_KEY: {"config": json.dumps(_config(net, metadata, digest=True))}}
    buf = io.BytesIO()
    _torch().save(state, buf)
    return buf.getvalue()


def export_weights(net: MultiLayerNet, path: str | os.PathLike, fmt: str | None = None,
                   metadata: dict | None = None,
                   inputs: Iterable[str | os.PathLike] = ()) -> str:
    """Write `net`'s weights to `path` atomically (never over one of `inputs`); the format."""
    fmt = guess_format(path, fmt)
    write_bytes_atomic(path, export_bytes(net, fmt, metadata), inputs)
    return fmt


def to_state_dict(net: MultiLayerNet):
    """`net`'s parameters as the float64 state_dict of its ``nn.Sequential`` (weight = Wᵀ)."""
    from collections import OrderedDict

    torch = _torch()
    from loopnet.reference.torch_net import state_dict_key

    state = OrderedDict()
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
def _parse_config(text: str, path: Path) -> dict:
    config = strict_json.loads(text, f"{path}: its {CONFIG_KEY!r} entry")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: its {CONFIG_KEY!r} entry is not a JSON object")
    return config


def _read_json(path: Path) -> tuple[dict, dict | None]:
    doc = strict_json.read(path, "JSON weights file")
    if not isinstance(doc, dict):
        raise ModelFileError(f"{path} is not a JSON object of weights")
    if doc.get("format") == MODEL_FORMAT:  # a loopnet model file: checked as evaluate does
        doc = load_model_dict(path)
        config = {k: doc[k] for k in doc if k not in ("format", "version", "params")}
        return doc["params"], config
    config = doc.pop(CONFIG_KEY, None)
    if config is not None and not isinstance(config, dict):
        raise ModelFileError(f"{path}: its {CONFIG_KEY!r} entry is not a JSON object")
    for name, value in doc.items():
        if isinstance(value, list) and value and isinstance(value[0], list):
            strict_json.matrix(value, f"{path}: {name}", len(value), len(value[0]))
        else:
            strict_json.numbers(value, f"{path}: {name}", len(value) if isinstance(value, list)
                                else 0)
    return doc, config


def _npz_members(path: Path, np) -> dict:
    """Each .npy member's (shape, dtype), checked against the bytes it really holds before
    anything is allocated: a header may declare 10^10 elements in a 300-byte file."""
    members = {}
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            require_memory(sum(info.file_size for info in infos), f"reading {path}",
                           ModelFileError)
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ModelFileError(f"{path}: member {info.filename} is not an .npy array")
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = reader(member)
                    header = member.tell() if member.seekable() else None
                count = math.prod(shape)
                if header is not None and count * dtype.itemsize != info.file_size - header:
                    raise ModelFileError(
                        f"{path}: member {info.filename} declares shape {shape} of {dtype} "
                        f"({count * dtype.itemsize} bytes) but holds {info.file_size - header}")
                members[info.filename[:-4]] = (shape, dtype)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, NotImplementedError) as exc:
        raise ModelFileError(f"{path} is not an .npz weights file: {exc}") from None
    return members


def _read_npz(path: Path) -> tuple[dict, dict | None]:
    np = _numpy()
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not an .npz weights file (not a zip archive)")
    members = _npz_members(path, np)
    for name, (_, dtype) in members.items():
        expected = "U" if name == CONFIG_KEY else "fiu"
        if dtype.kind not in expected:
            what = "complex" if dtype.kind == "c" else "boolean" if dtype.kind == "b" else dtype
            raise ModelFileError(f"{path}: array {name} is {what}, not "
                                 f"{'a string' if name == CONFIG_KEY else 'real numbers'}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path} is not an .npz weights file: {exc}") from None
    config = None
    if CONFIG_KEY in arrays:
        entry = arrays.pop(CONFIG_KEY)
        if entry.shape != ():
            raise ModelFileError(f"{path}: its {CONFIG_KEY!r} entry is not one string")
        config = _parse_config(str(entry), path)
    params = {}
    for name, arr in arrays.items():
        if arr.ndim not in (1, 2):
            raise ModelFileError(f"{path}: array {name} has {arr.ndim} dimensions (W: 2, b: 1)")
        params[name] = arr.astype(np.float64).tolist()
    return params, config


def _read_torch(path: Path) -> tuple[dict, dict | None]:
    torch = _torch()
    size = strict_json.regular_file_size(path, "PyTorch file")
    require_memory(3 * size, f"reading {path} ({size} bytes)", ModelFileError)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                declared = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise ModelFileError(f"{path} is not a PyTorch state_dict file: {exc}") from None
        require_memory(declared, f"reading {path} (members declare {declared} bytes)",
                       ModelFileError)
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
        for part in ("weight", "bias"):
            tensor = state[f"{2 * l}.{part}"]
            if tensor.is_complex() or tensor.dtype == torch.bool:
                raise ModelFileError(f"{path}: {2 * l}.{part} is {tensor.dtype}, not real numbers")
            if tensor.dim() != (2 if part == "weight" else 1):
                raise ModelFileError(f"{path}: {2 * l}.{part} is not a "
                                     f"{'matrix' if part == 'weight' else 'vector'}")
        weight = state[f"{2 * l}.weight"].detach().to(torch.float64)
        params[f"W{l + 1}"] = weight.T.tolist()
        params[f"b{l + 1}"] = state[f"{2 * l}.bias"].detach().to(torch.float64).tolist()
    stored = getattr(state, "_metadata", None)
    entry = stored.get(CONFIG_KEY) if isinstance(stored, dict) else None
    if entry is None:
        return params, None
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), str):
        raise ModelFileError(f"{path}: its loopnet metadata is not {{\"config\": <JSON text>}}")
    return params, _parse_config(entry["config"], path)


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


def read_weights(path: str | os.PathLike, fmt: str | None = None
                 ) -> tuple[dict, dict | None, str]:
    """(params as nested lists, stored config or None, format) from a weights file."""
    path = Path(path)
    fmt = guess_format(path, fmt)
    strict_json.regular_file_size(path, "weights file")
    reader = {"json": _read_json, "npz": _read_npz, "torch": _read_torch,
              "mat": read_mat_weights}[fmt]
    try:
        params, config = reader(path)
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    return params, config, fmt


def _checked_config(config: dict, path: Path, params: dict, sizes: list[int]) -> dict:
    """The stored configuration, every field present and of its JSON type; the weights'
    SHA-256 verified when one is stored."""
    where = f"{path}: stored"
    for key in ("sizes", "activation", "output", "weight_decay"):
        if key not in config:
            raise ModelFileError(f"{where} configuration lacks {key!r}")
    stored_sizes = config["sizes"]
    if not isinstance(stored_sizes, list):
        raise ModelFileError(f"{where} sizes must be a list of integers")
    for i, size in enumerate(stored_sizes):
        strict_json.integer(size, f"{where} sizes[{i}]", minimum=1)
    if stored_sizes != sizes:
        raise ModelFileError(f"{path}: stored sizes {stored_sizes} do not match the "
                             f"weights' shapes {sizes}")
    strict_json.string(config["activation"], f"{where} activation", ACTIVATIONS)
    strict_json.string(config["output"], f"{where} output", OUTPUTS)
    strict_json.number(config["weight_decay"], f"{where} weight_decay")
    if config.get("loss") is not None:
        strict_json.string(config["loss"], f"{where} loss", LOSSES)
    if "log_guard" in config:
        strict_json.number(config["log_guard"], f"{where} log_guard")
    if not isinstance(config.get("metadata", {}), dict):
        raise ModelFileError(f"{where} metadata must be an object")
    if "sha256" in config:
        strict_json.string(config["sha256"], f"{where} sha256")
        if weights_sha256(params) != config["sha256"]:
            raise ModelFileError(f"{path}: the weights fail their SHA-256 check (the file is "
                                 "damaged or was edited)")
    return config


def import_weights(path: str | os.PathLike, fmt: str | None = None, *,
                   activation: str | None = None, output: str | None = None,
                   weight_decay: float | None = None, loss: str | None = None,
                   log_guard: float | None = None,
                   backend: str = "python") -> tuple[MultiLayerNet, dict]:
    """A network holding the weights of `path`, and the metadata stored with them.

    activation / output / loss / log_guard / weight_decay override the stored configuration
    (a stored loss is kept only with its stored output).  A file without one (a state_dict
    saved by PyTorch itself, a hand-written JSON) needs `activation` and `output`; its loss
    defaults to the output's, its guard to 1e-7, its λ to 0.
    """
    params, config, fmt = read_weights(path, fmt)
    sizes = _sizes_from(params, Path(path))
    if config is None:
        if activation is None or output is None:
            raise ModelFileError(f"{path} holds no loopnet configuration (activation, output): "
                                 "give --activation and --output")
        config = {"weight_decay": 0.0}
    elif fmt == "mat" and config == EX4_CONFIG:
        # a .mat without a stored configuration (ex4weights.mat): ex4's network, nothing stored
        # to verify (this was refused as "lacks 'sizes'")
        config = {**EX4_CONFIG, "weight_decay": 0.0}
    else:
        config = _checked_config(config, Path(path), params, sizes)
    try:
        net = MultiLayerNet(
            sizes,
            activation=activation or config["activation"],
            output=output or config["output"],
            loss=loss or (config.get("loss") if output is None else None),
            log_guard=config.get("log_guard", DEFAULT_LOG_GUARD) if log_guard is None
            else log_guard,
            weight_decay=config["weight_decay"] if weight_decay is None else weight_decay,
            backend=backend)
        net.set_params(params)
    except LoopnetError as exc:
        raise ModelFileError(f"{path} holds invalid weights: {exc}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelFileError(f"{path} holds invalid weights: {exc}") from None
    for name, buf in net.params.items():
        if not all(math.isfinite(v) for v in buf):
            raise ModelFileError(f"{path}: {name} contains NaN or infinity")
    metadata = config.get("metadata", {})
    return net, metadata if isinstance(metadata, dict) else {}
