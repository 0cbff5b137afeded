"""Exceptions raised by loopnet's API. The CLI turns each into a one-line message and exit 2."""


class LoopnetError(Exception):
    """Base class of every error loopnet raises on bad input."""


class ConfigError(LoopnetError, ValueError):
    """An invalid setting: unknown name, zero or negative size, learning rate or batch."""


class ShapeError(LoopnetError, ValueError):
    """Rows of the wrong length, parameters of the wrong shape, mismatched counts."""


class DataError(LoopnetError, ValueError):
    """Invalid data: bad IDX header, truncated file, label out of range, NaN in inputs."""


class ModelFileError(LoopnetError, ValueError):
    """A model file that cannot be read, is not loopnet's, or has an unsupported version."""


class BackendError(LoopnetError, RuntimeError):
    """A backend that was asked for is not available (e.g. numba not installed)."""


class DownloadError(LoopnetError, OSError):
    """Data could not be downloaded or failed its checksum."""


class TrainingDivergedError(LoopnetError, ArithmeticError):
    """The loss became NaN or infinite during training (usually: the learning rate is too high)."""


class OutputFileError(LoopnetError, OSError):
    """An output file that cannot or must not be written: a full disk, a read-only file system,
    a name too long, no permission, a symbolic link, device node or read-only file in the way,
    or one of the command's own input files."""
