"""loopnet: neural networks written as per-neuron loops, run as Python or compiled by Numba."""

from loopnet.errors import (
    BackendError,
    ConfigError,
    DataError,
    DownloadError,
    LoopnetError,
    ModelFileError,
    OutputFileError,
    ShapeError,
    TrainingDivergedError,
)
from loopnet.graph import AddLayer, MulLayer
from loopnet.losses import cross_entropy_error, mean_squared_error
from loopnet.network import MultiLayerNet, TwoLayerNet
from loopnet.numerical import gradient_descent, numerical_gradient
from loopnet.optimizers import SGD, AdaGrad, Adam, Momentum
from loopnet.rng import Rng

__version__ = "0.1.0"

__all__ = [
    "AdaGrad",
    "Adam",
    "AddLayer",
    "BackendError",
    "ConfigError",
    "DataError",
    "DownloadError",
    "LoopnetError",
    "ModelFileError",
    "Momentum",
    "MulLayer",
    "MultiLayerNet",
    "OutputFileError",
    "Rng",
    "SGD",
    "ShapeError",
    "TrainingDivergedError",
    "TwoLayerNet",
    "cross_entropy_error",
    "gradient_descent",
    "mean_squared_error",
    "numerical_gradient",
]
