"""The book's training loop over a `Dataset`, run by the kernels a chunk of steps per call.

Each step draws `batch` training indices with replacement from the sampler
``Rng(seed + SAMPLER_OFFSET)`` (``randbelow(n_train)``, in order), gathers X = pixel / 255 and
one-hot T, and makes one optimizer step.  An epoch is ``max(n_train // batch, 1)`` steps; after
each epoch train and test accuracy are measured (that time is not counted in `train_seconds`).
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from loopnet.data.dataset import Dataset
from loopnet.errors import ConfigError, ShapeError, TrainingDivergedError
from loopnet.memory import require_memory
from loopnet.network import MultiLayerNet
from loopnet.optimizers import Optimizer
from loopnet.rng import MASK64, Rng

SAMPLER_OFFSET = 0x632BE59BD9B4E019  # the minibatch sampler's seed is seed + this (mod 2**64)
EVAL_CHUNK = 1000  # examples gathered per evaluation call


def sampler_for(seed: int) -> Rng:
    """The minibatch sampler of a training run seeded with `seed`."""
    return Rng((seed + SAMPLER_OFFSET) & MASK64)


@dataclass
class EpochResult:
    """What one epoch produced; `train_seconds` is cumulative training time (evaluation excluded)."""

    epoch: int
    steps: int
    loss: float
    train_acc: float
    test_acc: float | None
    epoch_train_seconds: float
    train_seconds: float
    eval_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def _check_dataset(net: MultiLayerNet, data: Dataset, what: str) -> None:
    if data.n_features != net.sizes[0]:
        raise ShapeError(f"{what} examples have {data.n_features} values, the network takes "
                         f"{net.sizes[0]} inputs")
    if len(data) == 0:
        raise ShapeError(f"{what} set is empty")
    if data.labels and max(data.labels) >= net.sizes[-1]:
        raise ShapeError(f"{what} set has label {max(data.labels)} but the network has "
                         f"{net.sizes[-1]} outputs")


class DataFeed:
    """A dataset as sparse rows (converted once, see kernels.sparse_rows) of uint8 pixels, or of
    float64 features for float data, with its int labels, plus the buffers a minibatch is
    gathered into (`rows`, T, batch_labels)."""

    def __init__(self, net: MultiLayerNet, data: Dataset, batch: int) -> None:
        b = net.backend
        n_in = net.sizes[0]
        # index + value per input, a teacher per output: 16 and 8 bytes (a list's pointers)
        require_memory(batch * (16 * n_in + 8 * net.sizes[-1] + 16), f"--batch-size {batch}")
        self.net = net
        self.count = len(data)
        self.is_float = data.is_float
        pixels = b.feature_buffer(data.features) if data.is_float else b.pixel_buffer(data.pixels)
        nonzero = b.nonzero_count(pixels)
        self.pixel_start = b.int_buffer([0] * (len(data) + 1))
        self.pixel_index = b.index_buffer(nonzero + 1)
        self.pixel_value = (b.value_buffer(nonzero + 1) if data.is_float
                            else b.byte_buffer(nonzero + 1))
        b.kernels.sparse_rows(pixels, len(data), n_in, self.pixel_start, self.pixel_index,
                              self.pixel_value)
        self.labels = b.int_buffer(list(data.labels))
        self.kernels = b.training_kernels(net.sizes, net._activation, net._output)
        self.batch = batch
        self.rows = (b.int_buffer([0] * (batch + 1)), b.index_buffer(batch * n_in + 1),
                     b.zeros(batch * n_in + 1))
        self.T = b.zeros(batch * net.sizes[-1])
        self.batch_labels = b.int_buffer([0] * batch)

    @property
    def dataset(self) -> tuple:
        """The arguments of the kernels that read the data: pixel rows and labels."""
        return self.pixel_start, self.pixel_index, self.pixel_value, self.labels

    def gather(self, indices, count: int) -> None:
        """Fill rows, T and batch_labels with the examples `indices[:count]`."""
        net = self.net
        kernels = net.backend.kernels
        gather = kernels.gather_rows if self.is_float else kernels.gather_batch
        gather(*self.dataset, indices, count, net.sizes[-1], *self.rows, self.T,
               self.batch_labels)


def accuracy_on(net: MultiLayerNet, data: Dataset, feed: DataFeed | None = None) -> float:
    """Fraction of `data` whose argmax score equals the label."""
    _check_dataset(net, data, "evaluation")
    feed = feed or DataFeed(net, data, min(EVAL_CHUNK, len(data)))
    correct = 0
    for start in range(0, len(data), feed.batch):
        count = min(feed.batch, len(data) - start)
        feed.gather(net.backend.int_buffer(range(start, start + count)), count)
        correct += feed.kernels.count_correct(
            *feed.rows, feed.batch_labels, count, net._params, net._sizes, net._activation,
            net._Z, net._H, net._active)
    return correct / len(data)


def confusion_matrix(net: MultiLayerNet, data: Dataset) -> list[list[int]]:
    """counts[true][predicted] over `data`."""
    _check_dataset(net, data, "evaluation")
    n_out = net.sizes[-1]
    counts = [[0] * n_out for _ in range(n_out)]
    for start in range(0, len(data), EVAL_CHUNK):
        rows = [data.row(i) for i in range(start, min(start + EVAL_CHUNK, len(data)))]
        for offset, scores in enumerate(net.predict(rows)):
            predicted = max(range(n_out), key=scores.__getitem__)
            counts[data.labels[start + offset]][predicted] += 1
    return counts


class Trainer:
    """Runs minibatch SGD-style training of `net` on `train`, evaluating on `test` each epoch."""

    def __init__(self, net: MultiLayerNet, optimizer: Optimizer, train: Dataset,
                 test: Dataset | None = None, batch_size: int = 100, seed: int = 0) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ConfigError(f"batch size must be a positive integer, got {batch_size}")
        net.check_trainable()
        _check_dataset(net, train, "training")
        if test is not None:
            _check_dataset(net, test, "test")
        self.net = net
        self.optimizer = optimizer
        self.train = train
        self.test = test
        self.batch = batch_size
        self.sampler = sampler_for(seed)
        self.steps_per_epoch = max(len(train) // batch_size, 1)
        self.feed = DataFeed(net, train, batch_size)
        self.eval_feeds = {id(d): DataFeed(net, d, min(EVAL_CHUNK, len(d)))
                           for d in (train, test) if d is not None}
        self.step_losses: list[float] = []
        self.results: list[EpochResult] = []
        self.steps_done = 0
        self.train_seconds = 0.0  # training time so far (evaluation excluded)
        self.epoch_seconds = 0.0  # training time of the epoch under way
        self.total_steps: int | None = None

    def warm_up(self) -> None:
        """Run the training and evaluation kernels once on zero steps (compiles them under Numba)."""
        self.warm_up_training()
        self.warm_up_evaluation()

    def warm_up_training(self) -> None:
        """Run the training loop's kernel on zero steps."""
        self._run_steps(0)

    def warm_up_evaluation(self) -> None:
        """Run the evaluation's kernels (gather, count_correct) on zero examples."""
        for feed in self.eval_feeds.values():
            feed.gather(self.net.backend.int_buffer([]), 0)
            feed.kernels.count_correct(
                *feed.rows, feed.batch_labels, 0, self.net._params, self.net._sizes,
                self.net._activation, self.net._Z, self.net._H, self.net._active)

    def accuracy(self, data: Dataset) -> float:
        """Accuracy on the training or test set, through its prepared buffers."""
        return accuracy_on(self.net, data, self.eval_feeds[id(data)])

    def _run_steps(self, steps: int) -> list[float]:
        net, b, feed = self.net, self.net.backend, self.feed
        indices = b.sample_indices(self.sampler, len(self.train), steps * self.batch)
        if feed.is_float:  # float features: gather_rows and train_step, one call each per step
            losses = []
            for s in range(steps):
                feed.gather(indices[s * self.batch:(s + 1) * self.batch], self.batch)
                losses.append(net._train_step(feed.rows, feed.T, self.batch, self.optimizer))
            return losses
        lrs = b.float_buffer([self.optimizer.step_lr() for _ in range(steps)])
        losses = b.zeros(steps)
        s1, s2 = self.optimizer.state_lists(b, net.names, net._params)
        opt = self.optimizer
        feed.kernels.train_steps_from_pixels(
            *feed.dataset, indices, steps, self.batch, net._params, net._grads, net._sizes,
            net._activation, net._output, net.log_guard, net.weight_decay, net._Z, net._H,
            net._dZ, net._dH, net._active, *feed.rows, feed.T, feed.batch_labels, opt.kind, s1,
            s2, lrs, opt.momentum, opt.beta1, opt.beta2, losses)
        return b.to_list(losses)

    def run(self, epochs: int | None = None, iters: int | None = None,
            on_steps: Callable[[int], None] | None = None,
            on_epoch: Callable[[EpochResult], None] | None = None,
            chunk_steps: int = 1, checkpoint_every: int | None = None,
            on_checkpoint: Callable[[], None] | None = None,
            stop_requested: Callable[[], bool] | None = None) -> list[EpochResult]:
        """Train until `epochs` epochs or `iters` steps are done (the last epoch may be partial),
        continuing from where the trainer stands (step 0, or a state given to `set_state`).

        The kernels run `chunk_steps` steps per call; a chunk never crosses an epoch end or a
        multiple of `checkpoint_every`, so `on_checkpoint()` (called at every epoch end, after
        `on_epoch`, and after every `checkpoint_every` steps) sees the state between two steps.
        `on_steps(k)` is called after every chunk (for progress bars), `on_epoch(result)` after
        each epoch's evaluation.  When `stop_requested()` is true after a chunk, training stops
        there (see `finished`).  Chunking changes no result: the steps are the same either way.
        Returns every epoch's result so far, those of a resumed state included.
        """
        if (epochs is None) == (iters is None):
            raise ConfigError("give exactly one of epochs and iters")
        total = epochs * self.steps_per_epoch if epochs is not None else iters
        if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
            raise ConfigError(f"the number of epochs/iterations must be positive, got {total}")
        if total < self.steps_done:
            raise ConfigError(f"the run is already at step {self.steps_done}, past the {total} "
                              "steps asked for")
        self.total_steps = total
        if self.steps_done == total and (not self.results or self.results[-1].steps != total):
            result = self._evaluate_epoch()  # resumed at the end of a shortened run
            if on_epoch:
                on_epoch(result)
        while self.steps_done < total:
            epoch_end = min((self.steps_done // self.steps_per_epoch + 1) * self.steps_per_epoch,
                            total)
            k = min(chunk_steps, epoch_end - self.steps_done)
            if checkpoint_every:
                k = min(k, checkpoint_every - self.steps_done % checkpoint_every)
            start = time.perf_counter()
            losses = self._run_steps(k)
            seconds = time.perf_counter() - start
            if not all(math.isfinite(v) for v in losses):
                raise TrainingDivergedError(self._divergence_message(losses))
            self.step_losses += losses
            self.steps_done += k
            self.epoch_seconds += seconds
            self.train_seconds += seconds
            if on_steps:
                on_steps(k)
            if self.steps_done == epoch_end:
                result = self._evaluate_epoch()
                if on_epoch:
                    on_epoch(result)
            if on_checkpoint and (self.steps_done == epoch_end or (
                    checkpoint_every and self.steps_done % checkpoint_every == 0)):
                on_checkpoint()
            if stop_requested and stop_requested():
                break
        return self.results

    @property
    def finished(self) -> bool:
        """True when the last `run` did all the steps it was asked for."""
        return self.total_steps is not None and self.steps_done >= self.total_steps

    def _evaluate_epoch(self) -> EpochResult:
        """Evaluate after the epoch that just ended and record its result."""
        start = time.perf_counter()
        train_acc = self.accuracy(self.train)
        test_acc = self.accuracy(self.test) if self.test is not None else None
        first = self.results[-1].steps if self.results else 0
        epoch_losses = self.step_losses[first:]
        result = EpochResult(len(self.results) + 1, self.steps_done,
                             sum(epoch_losses) / len(epoch_losses), train_acc, test_acc,
                             self.epoch_seconds, self.train_seconds, time.perf_counter() - start)
        self.results.append(result)
        self.epoch_seconds = 0.0
        return result

    def _divergence_message(self, losses: list[float]) -> str:
        bad = next(s for s, v in enumerate(losses) if not math.isfinite(v))
        if losses[bad] == math.inf and self.net.log_guard == 0.0:  # log(0), not a divergence
            return (f"the loss became inf at step {self.steps_done + bad + 1}: with log_guard 0 a "
                    "probability reached exactly 0 or 1 (use a log guard > 0, e.g. "
                    "--log-guard 1e-7)")
        return (f"training diverged: the loss became {losses[bad]} at step "
                f"{self.steps_done + bad + 1}; {divergence_cause(self.net, self.optimizer)}")

    # ------------------------------------------------------------------ state for resuming
    def get_state(self) -> dict:
        """Everything a resumed run needs, as JSON-ready values: parameters, optimizer state,
        the sampler's state, the step count, the per-step losses and the epochs' results."""
        b = self.net.backend
        return {"steps": self.steps_done, "sampler": self.sampler.state,
                "params": {name: b.to_list(buf) for name, buf in self.net.params.items()},
                "optimizer": self.optimizer.get_state(b, self.net.names),
                "step_losses": list(self.step_losses),
                "results": [r.as_dict() for r in self.results],
                "train_seconds": self.train_seconds, "epoch_seconds": self.epoch_seconds}

    def set_state(self, state: dict) -> None:
        """Continue from `state` (from `get_state`, possibly of another backend's trainer)."""
        b = self.net.backend
        for name, buf in self.net.params.items():
            values = state["params"][name]
            if len(values) != len(buf):
                raise ShapeError(f"{name} has {len(values)} values, the network has {len(buf)}")
            buf[:] = b.float_buffer(values)
        self.optimizer.set_state(b, state["optimizer"])
        self.sampler.state = state["sampler"]
        self.steps_done = state["steps"]
        self.step_losses = list(state["step_losses"])
        self.results = [EpochResult(**r) for r in state["results"]]
        self.train_seconds = state["train_seconds"]
        self.epoch_seconds = state["epoch_seconds"]


def not_learning(trainer: Trainer, final: bool = True) -> str | None:
    """Why the run looks like no learning after its last epoch, or None.

    Either the epoch's mean loss is not below the first step's loss (the updates make things
    worse: `--lr 1e6` ends with a finite loss at chance, exit 0, without this), or — checked
    when `final`, since a slow start is normal — the training accuracy is no better than always
    answering the most common label.  A run shorter than one epoch, or of one step, is not
    judged: after so few updates a loss at its start and chance accuracy are what learning
    looks like.
    """
    if not trainer.results or not trainer.step_losses:
        return None
    if trainer.steps_done < max(trainer.steps_per_epoch, 2):
        return None
    last, start = trainer.results[-1], trainer.step_losses[0]
    if not last.loss < start:
        return (f"the run is not learning: after epoch {last.epoch} the loss {last.loss:.4f} is "
                f"not below its start {start:.4f}; {divergence_cause(trainer.net, trainer.optimizer)}")
    labels = trainer.train.labels
    chance = max(labels.count(k) for k in set(labels)) / len(labels)
    if final and last.train_acc <= chance:
        net, lr = trainer.net, trainer.optimizer.lr
        hint = (divergence_cause(net, trainer.optimizer) if net.weight_decay * lr >= 1.0
                else "train longer, or check --lr and --init")
        return (f"the run learned nothing: after {last.steps} steps train accuracy "
                f"{last.train_acc:.4f} is at chance (always answering the most common label "
                f"scores {chance:.4f}); {hint}")
    return None


def divergence_cause(net: MultiLayerNet, optimizer: Optimizer) -> str:
    """The likeliest of --weight-decay, --init and --lr to have made the loss overflow."""
    decay = net.weight_decay * optimizer.lr
    if decay >= 1.0:
        return (f"--weight-decay {net.weight_decay} is too large for --lr {optimizer.lr} "
                f"(each step multiplies W by 1 - lr·λ = {1.0 - decay:g}); try a smaller one")
    init = net.weight_init
    if not isinstance(init, str) and init > 1.0:
        return f"--init {init} is a large weight std (the book's is 0.01); try a smaller one"
    return f"--lr {optimizer.lr} is likely too large; try a smaller --lr"
