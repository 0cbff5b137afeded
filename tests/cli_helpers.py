"""What the CLI tests share: run `loopnet` in this process and check its one-line error promise."""

from __future__ import annotations

import importlib.util

import pytest

from loopnet.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """Run `loopnet ARGV` (each argument turned into a string): exit code, stdout, stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str,
                          ignore_warnings: bool = False) -> None:
    """Exit status 2 and stderr one `loopnet: error:` line holding every fragment, no traceback.

    With `ignore_warnings`, `loopnet: warning:` lines beside the error are not counted.
    """
    assert code == 2, err
    lines = err.strip().splitlines()
    if ignore_warnings:
        lines = [line for line in lines if not line.startswith("loopnet: warning:")]
    assert len(lines) == 1 and lines[0].startswith("loopnet: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


HAVE_NUMPY = importlib.util.find_spec("numpy") is not None
needs_numpy = pytest.mark.skipif(not HAVE_NUMPY,
                                 reason="needs NumPy (not installed here, e.g. under PyPy)")
