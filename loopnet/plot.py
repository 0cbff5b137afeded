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


def plot_training(step_losses: list[float], epochs: list, path: str) -> None:
    """Loss per step and train/test accuracy per epoch, side by side, saved atomically to `path`."""
    require_matplotlib()
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
            fig.savefig(handle, format=Path(path).suffix.lstrip(".") or "png")
    finally:
        plt.close(fig)
