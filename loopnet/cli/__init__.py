"""The `loopnet` command: each subcommand lives in its own module of this package.

A subcommand module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code).  Bad input raises a `LoopnetError`, which `main` prints as
one line on stderr with exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from loopnet.cli.stop_signals import CLEAR_LINE
from loopnet.errors import LoopnetError

SUBCOMMANDS = {
    "train": "loopnet.cli.train",
    "evaluate": "loopnet.cli.evaluate",
    "gradcheck": "loopnet.cli.gradcheck",
    "compare": "loopnet.cli.compare",
    "export": "loopnet.cli.export",
    "import": "loopnet.cli.import_weights",
    "trace": "loopnet.cli.trace",
    "conformance": "loopnet.cli.conformance",
    "predict": "loopnet.cli.predict",
    "show": "loopnet.cli.show",
    "explore": "loopnet.cli.explore",
}


class CliError(LoopnetError):
    """A command-line usage error."""


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line and exit 2, like every other bad input."""

    def error(self, message: str):
        # "loopnet train: argument --lr: …" would print as "loopnet: error: loopnet train: …"
        command = self.prog.partition(" ")[2]
        raise CliError(f"{command}: {message}" if command else message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="loopnet", description="Neural networks as per-neuron loops.")
    from loopnet import __version__

    parser.add_argument("--version", action="version", version=f"loopnet {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module_name in SUBCOMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # subcommand not built yet
            raise
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args) or 0)
    except LoopnetError as exc:
        print(f"loopnet: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # on a terminal a progress bar may hold the line: clear it rather than append to it
        print(f"{CLEAR_LINE if sys.stderr.isatty() else ''}loopnet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except MemoryError:  # a size check missed a case: still one line, never a traceback
        print("loopnet: error: out of memory (ask for smaller sizes: --hidden, --batch-size, "
              "--limit, ...)", file=sys.stderr)
        return 2
    except OSError as exc:  # a file fault no check caught: name the file and the reason
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"loopnet: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
