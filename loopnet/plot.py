"""Training curves with matplotlib (the optional `plot` extra)."""

from pathlib import Path

from loopnet.atomic import atomic_output
from loopnet.errors import ConfigError


def require_matplotlib() -> None:
    """Raise a one-line ConfigError when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigError("--plot needs matplotlib: pip install loopnet[plot]") from None


def plot_format(path: str) -> str:
    """The image format of `path`'s suffix (png without one); ConfigError when matplotlib
    cannot write it, checked before training so that a `--plot curves.txt` fails at once."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    suffix = Path(path).suffix.lstrip(".").lower() or "png"
    formats = FigureCanvasAgg.get_supported_filetypes()
    if suffix not in formats:
        raise ConfigError(f"--plot {path}: matplotlib cannot write .{suffix} files; use one of "
                          f"{', '.join('.' + f for f in sorted(formats))}")
    return suffix


def plot_training(step_losses: list[float], epochs: list, path: str) -> None:
    """Loss per step and train/test accuracy per epoch, side by side, saved atomically to `path`."""
    image_format = plot_format(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(range(1, len(step_losses) + 1), step_losses, linewidth=0.8)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("training loss")
    steps = [e.steps for e in epochs]
    ax_acc.plot(steps, [e.train_acc for e in epochs], marker="o", label="train")
    if epochs and epochs[0].test_acc is not None:
        ax_acc.plot(steps, [e.test_acc for e in epochs], marker="s", label="test")
    ax_acc.set_xlabel("step")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("accuracy per epoch")
    ax_acc.legend()
    fig.tight_layout()
    try:
        with atomic_output(path) as handle:
            fig.savefig(handle, format=image_format)
    finally:
        plt.close(fig)
