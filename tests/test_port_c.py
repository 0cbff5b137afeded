"""The C port (ports/c): build it with make, run it on freshly exported cases both ways, check.

This is how CI builds the port: with the C library's own libm it must pass every case (bitwise
or within the stated bounds); in transcript mode every case must be bitwise (`check --strict`).
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from loopnet.cli import main
from loopnet.conformance import export_cases, load_cases

PORT = Path(__file__).resolve().parent.parent / "ports" / "c"
needs_gcc = pytest.mark.skipif(shutil.which("make") is None or shutil.which("gcc") is None,
                               reason="the C port needs make and gcc")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(the built loopnet-port, a freshly exported cases directory)."""
    root = tmp_path_factory.mktemp("c_port")
    made = subprocess.run(["make", "-C", str(PORT), f"BUILD={root / 'build'}"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    export_cases(root / "cases")
    return root / "build" / "loopnet-port", root / "cases"


@needs_gcc
@pytest.mark.parametrize("mode", ["own", "transcript"])
def test_c_port_passes_every_conformance_case(built, tmp_path, capsys, mode):
    port, cases = built
    flags = ["--transcript"] if mode == "transcript" else []
    ran = subprocess.run([str(port), *flags, str(cases), str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    strict = ["--strict"] if mode == "transcript" else []
    code = main(["conformance", "check", *strict, str(cases), str(tmp_path)])
    out = capsys.readouterr().out
    n = len(load_cases(cases))
    assert code == 0, out
    assert f"{n} passed, 0 failed (results claim: {n} {mode} libm" in out
    print(out)  # shows, with -s, which cases were bitwise and which only within tolerance
