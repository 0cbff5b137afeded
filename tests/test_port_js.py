"""The JavaScript port (ports/js): run it with node on freshly exported cases both ways, check.

With V8's own Math it must pass every case (bitwise, or within the stated bounds where exp,
log, tanh, cos or pow are involved); in transcript mode every case must be bitwise
(`check --strict`).  Skipped where node is missing.
"""

import http.server
import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from browser import browser  # noqa: F401  (a fixture: headless Chromium, skips without one)

from loopnet.cli import main
from loopnet.conformance import check_case, export_cases, load_cases, parse_result

PORT = Path(__file__).resolve().parent.parent / "ports" / "js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed: ports/js not run")


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("cases")
    export_cases(directory)
    return directory


def run_port(cases: Path, results: Path, *flags: str) -> None:
    ran = subprocess.run([NODE, str(PORT / "run.mjs"), *flags, str(cases), str(results)],
                         capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr


@needs_node
@pytest.mark.parametrize("mode", ["own", "transcript"])
def test_js_port_passes_every_conformance_case(cases, tmp_path, capsys, mode):
    run_port(cases, tmp_path, *(["--transcript"] if mode == "transcript" else []))
    strict = ["--strict"] if mode == "transcript" else []
    code = main(["conformance", "check", *strict, str(cases), str(tmp_path)])
    out = capsys.readouterr().out
    n = len(load_cases(cases))
    assert code == 0, out
    assert f"{n} passed, 0 failed (results claim: {n} {mode} libm" in out
    print(out)


@needs_node
def test_js_port_reports_a_call_its_transcript_lacks(cases, tmp_path, capsys):
    damaged = tmp_path / "cases"
    shutil.copytree(cases, damaged)
    case = json.loads((damaged / "fb_sigmoid_softmax.json").read_text())
    removed = case["libm"]["exp"].pop(0)
    (damaged / "fb_sigmoid_softmax.json").write_text(json.dumps(case))
    run_port(damaged, tmp_path / "results", "--transcript")
    result = json.loads((tmp_path / "results" / "fb_sigmoid_softmax.json").read_text())
    assert result["libm_misses"]["calls"][0] == ["exp", removed[0]]
    main(["conformance", "check", str(damaged), str(tmp_path / "results")])
    row = next(r for r in capsys.readouterr().out.splitlines() if "fb_sigmoid_softmax" in r)
    assert row.startswith("FAIL") and f"the port called exp({removed[0]} = " in row


@needs_node
def test_js_doubles_keep_their_json_type():
    script = ("import { double_json } from './conformance.mjs';"
              "console.log([0, -0, 1, 0.1, 1e21, 5e-324, -2.5e-7, NaN].map(double_json).join(' '))")
    out = subprocess.run([NODE, "--input-type=module", "-e", script], cwd=PORT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["0.0", "-0.0", "1.0", "0.1", "1e+21", "5e-324", "-2.5e-7", "NaN"]


def test_js_kernels_keep_the_python_names_and_notation_comments():
    python = (PORT.parent.parent / "loopnet" / "kernels.py").read_text()
    js = (PORT / "kernels.mjs").read_text()
    names = re.findall(r"^def (\w+)\(", python, re.M)
    exported = re.findall(r"^export function (\w+)\(", js, re.M)
    assert names == exported
    for comment in re.findall(r"^\s+# ((?:[A-Z]_|[a-z]_[a-z] =|Δ|[hmvW] ←|M =|E =|Y_k).*)$",
                              python, re.M):
        assert f"// {comment.strip()}" in js, comment


class _ModuleServer(http.server.SimpleHTTPRequestHandler):
    """Serves ports/js with a JavaScript MIME type for .mjs (browsers require one for modules)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, directory=str(PORT), **kwargs)

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def served():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ModuleServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("name", ["rng_bits", "fb_tanh_softmax", "opt_adam", "litmus_logic"])
def test_the_same_modules_run_in_a_browser(browser, served, cases, name):  # noqa: F811
    """A page imports conformance.mjs unchanged and computes the case bitwise (transcript)."""
    case = next(c for c in load_cases(cases) if c["name"] == name)
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(served + "/README.md")
    text = page.evaluate("""async (kase) => {
        const { run_case, to_json } = await import('/conformance.mjs');
        return to_json(run_case(kase, true));
    }""", json.loads(json.dumps(case)))
    page.close()
    assert not errors
    report = check_case(case, parse_result(text), strict=True)
    assert report.passed and report.how.startswith("bitwise (transcript libm)"), report.how
