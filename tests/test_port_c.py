"""The C port (ports/c): build it with make, run it on freshly exported cases, check the results.

This is how CI builds the port and runs `loopnet conformance check` against it.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from loopnet.cli import main
from loopnet.conformance import export_cases, load_cases

PORT = Path(__file__).resolve().parent.parent / "ports" / "c"


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("gcc") is None,
                    reason="the C port needs make and gcc")
def test_c_port_passes_every_conformance_case(tmp_path, capsys):
    build = tmp_path / "build"
    made = subprocess.run(["make", "-C", str(PORT), f"BUILD={build}"], capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    cases, results = tmp_path / "cases", tmp_path / "results"
    export_cases(cases)
    results.mkdir()
    ran = subprocess.run([str(build / "loopnet-port"), str(cases), str(results)],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    code = main(["conformance", "check", str(cases), str(results)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("PASS") == len(load_cases(cases))
    print(out)  # shows, with -s, which cases were bitwise and which only within tolerance
