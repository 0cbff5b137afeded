"""SIGINT and SIGTERM during `loopnet train`: stop between two training steps, not inside one.

While `deferring` is set (the training loop), a first signal is only recorded; the loop looks at
`received` after each chunk of steps, writes a checkpoint and exits with 128 + the signal's
number (130 for SIGINT, 143 for SIGTERM).  Outside the loop (loading data, compiling), and for a
second signal inside it, the handler raises `Interrupted` at once.
"""
from __future__ import annotations

import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)
CLEAR_LINE = "\r\033[K"  # carriage return + erase to end of line (ANSI): a progress bar's line


class Interrupted(KeyboardInterrupt):
    """A stop signal that arrived where the run cannot stop cleanly at a step boundary."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal_name(signum))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def signal_name(signum: int) -> str:
    """'SIGINT', 'SIGTERM'."""
    return signal.Signals(signum).name


class StopSignals:
    """Context manager installing the handler for SIGINT and SIGTERM (main thread only), and
    putting the previous handlers back on exit."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.deferring = False
        self.checkpoint_written: str | None = None  # the last checkpoint the run wrote
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    @property
    def exit_code(self) -> int:
        """128 + the number of the signal received."""
        return 128 + (self.received or 0)

    def _handle(self, signum: int, frame) -> None:
        if self.deferring and self.received is None:
            self.received = signum
            return
        raise Interrupted(signum)
