"""Octave/MATLAB weights as Coursera's ex4 keeps them: ``Theta1, Theta2, …`` in a .mat file.

Θ^(l) has one row per unit of layer l + 1 and one column per unit of layer l plus the bias in
column 0: ``Theta_l[j][0] = b_j`` and ``Theta_l[j][1 + i] = W_{i,j}`` (loopnet's W is n_in × n_out,
so Θ without its first column is Wᵀ).  loopnet's export adds a char variable ``loopnet`` with
the JSON configuration; a file without it (ex4's ex4weights.mat) imports as sigmoid hidden
units and sigmoid outputs, ex4's network.  Read and written through scipy.io (extra ``mat``).
"""
from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

from loopnet import strict_json
from loopnet.errors import BackendError, ModelFileError

CONFIG_KEY = "loopnet"
EX4_CONFIG = {"activation": "sigmoid", "output": "sigmoid"}
THETA = re.compile(r"Theta([1-9][0-9]*)$")


def _scipy_io():
    try:
        import scipy.io
    except ImportError:
        raise BackendError("the mat format needs SciPy: pip install loopnet[mat]") from None
    return scipy.io


def thetas_from_params(params: dict) -> dict:
    """{"Theta1": n_out rows of [b_j, W_{0,j}, …, W_{n_in-1,j}], …} from nested W, b."""
    thetas = {}
    layer = 1
    while f"W{layer}" in params:
        W, b = params[f"W{layer}"], params[f"b{layer}"]
        thetas[f"Theta{layer}"] = [[b[j]] + [row[j] for row in W] for j in range(len(b))]
        layer += 1
    return thetas


def params_from_thetas(thetas: dict, path) -> dict:
    """Nested W, b from Theta1, Theta2, … (consecutive, each chaining onto the one before);
    ModelFileError naming the Θ whose shape is wrong."""
    layers = sorted(int(THETA.match(name).group(1)) for name in thetas)
    if not layers or layers != list(range(1, len(layers) + 1)):
        raise ModelFileError(f"{path}: expected variables Theta1, Theta2, … (found "
                             f"{', '.join(sorted(thetas)) or 'none'})")
    params = {}
    n_in = None
    for layer in layers:
        theta = thetas[f"Theta{layer}"]
        shape = getattr(theta, "shape", None)
        if shape is None or len(shape) != 2 or shape[0] == 0 or shape[1] < 2:
            raise ModelFileError(f"{path}: Theta{layer} must be a matrix with a bias column and "
                                 f"at least one input column, got shape {shape}")
        if theta.dtype.kind not in "fiu":
            raise ModelFileError(f"{path}: Theta{layer} is not numeric ({theta.dtype})")
        if n_in is not None and shape[1] != n_in + 1:
            raise ModelFileError(
                f"{path}: Theta{layer} has {shape[1]} columns but Theta{layer - 1} has {n_in} "
                f"rows: Theta{layer} needs {n_in} + 1 (bias) columns")
        rows = theta.astype("float64").tolist()
        if not all(math.isfinite(v) for row in rows for v in row):
            raise ModelFileError(f"{path}: Theta{layer} contains NaN or infinity")
        params[f"W{layer}"] = [[rows[j][1 + i] for j in range(shape[0])]
                               for i in range(shape[1] - 1)]
        params[f"b{layer}"] = [row[0] for row in rows]
        n_in = shape[0]
    return params


def mat_bytes(params: dict, config: dict) -> bytes:
    """A .mat (v5) file holding Theta1, Theta2, … and the JSON `config` as ``loopnet``."""
    import numpy as np

    scipy_io = _scipy_io()
    variables = {name: np.array(theta, dtype=np.float64)
                 for name, theta in thetas_from_params(params).items()}
    variables[CONFIG_KEY] = json.dumps(config)
    buf = io.BytesIO()
    scipy_io.savemat(buf, variables)
    return buf.getvalue()


def read_mat_weights(path: Path) -> tuple[dict, dict]:
    """(params, config) of a .mat weights file; the config is ex4's when none is stored.

    Only Theta1, Theta2, … and ``loopnet`` (one string of JSON, an object) may be there: any
    other variable is refused, as a damaged name would otherwise drop the stored configuration
    and its SHA-256 and pass as an ex4 file.
    """
    from loopnet.errors import DataError
    from loopnet.reference.feature_arrays import read_mat

    try:
        variables = read_mat(path)
    except DataError as exc:
        raise ModelFileError(str(exc)) from None
    names = [name for name in variables if not name.startswith("__")]  # scipy's __header__, …
    unexpected = [name for name in names if name != CONFIG_KEY and not THETA.match(name)]
    if unexpected:
        raise ModelFileError(f"{path}: unexpected variable {unexpected[0]!r} (a weights file "
                             f"holds only Theta1, Theta2, … and {CONFIG_KEY!r})")
    thetas = {name: variables[name] for name in names if THETA.match(name)}
    config = dict(EX4_CONFIG)
    if CONFIG_KEY in variables:
        stored = variables[CONFIG_KEY]
        if getattr(stored, "dtype", None) is None or stored.dtype.kind != "U" or stored.size != 1:
            raise ModelFileError(f"{path}: its {CONFIG_KEY!r} variable must be one string of "
                                 "JSON")
        config = strict_json.loads(str(stored.reshape(-1)[0]),
                                   f"{path}: its {CONFIG_KEY!r} variable")
        if not isinstance(config, dict):
            raise ModelFileError(f"{path}: its {CONFIG_KEY!r} variable is not a JSON object")
    return params_from_thetas(thetas, path), config
