"""Conformance cases: deterministic export, the reference passes, the checker catches mismatches."""

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopnet import MultiLayerNet
from loopnet.cli import main
from loopnet.conformance import (
    RESULT_FORMAT,
    VERSION,
    check_case,
    export_cases,
    load_cases,
    parse_result,
    run_reference,
)


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("cases")
    export_cases(directory)
    return directory


@pytest.fixture(scope="module")
def reference_dir(cases_dir, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("results")
    run_reference(cases_dir, directory)
    return directory


@pytest.fixture
def results(reference_dir, tmp_path) -> Path:
    """A private copy of the reference results that a test may damage."""
    for path in reference_dir.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    return tmp_path


def edit(results: Path, name: str, change, part: str = "output") -> None:
    path = results / f"{name}.json"
    data = json.loads(path.read_text())
    change(data[part] if part else data)
    path.write_text(json.dumps(data))


def case_count(cases_dir) -> int:
    return len(load_cases(cases_dir))


def check(capsys, cases_dir, results, *extra) -> tuple[int, str]:
    code = main(["conformance", "check", *extra, str(cases_dir), str(results)])
    return code, capsys.readouterr().out


def line(out: str, name: str) -> str:
    return next(row for row in out.splitlines() if row.split()[1:2] == [name])


def test_export_is_byte_for_byte_deterministic(cases_dir, tmp_path):
    export_cases(tmp_path)
    first = sorted(p.name for p in cases_dir.iterdir())
    assert first == sorted(p.name for p in tmp_path.iterdir())
    for name in first:
        assert (cases_dir / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_every_case_is_versioned_and_states_its_tolerance(cases_dir):
    cases = load_cases(cases_dir)
    names = {c["name"] for c in cases}
    assert {"rng_bits", "rng_normal", "init_he", "init_uniform", "fb_relu_identity",
            "opt_adam", "litmus_logic", "digits_run"} <= names
    for c in cases:
        assert c["format"] == "loopnet-conformance" and c["version"] == VERSION
        tol = c["tolerance"]
        assert tol["mode"] in ("bitwise", "bitwise-same-libm") and tol["note"]
        if tol["mode"] == "bitwise-same-libm":
            assert tol["rel"] > 0 and tol["abs"] > 0
            assert c["libm"] and all(f"{name}" in tol["note"] for name in c["libm"])
        else:
            assert c["libm"] == {}
    modes = {c["name"]: c["tolerance"]["mode"] for c in cases}
    for name in ("rng_bits", "init_uniform", "fb_relu_identity", "opt_sgd", "opt_momentum",
                 "opt_adagrad"):
        assert modes[name] == "bitwise", name


def test_the_python_reference_passes_bitwise(capsys, cases_dir, reference_dir):
    code, out = check(capsys, cases_dir, reference_dir, "--strict")
    assert code == 0
    assert out.count("PASS") == len(load_cases(cases_dir)) and "FAIL" not in out


def test_cases_agree_with_the_public_api(cases_dir):
    cases = {c["name"]: c for c in load_cases(cases_dir)}
    init = cases["init_xavier"]
    net = MultiLayerNet(init["input"]["sizes"], weight_init="xavier", seed=init["input"]["seed"])
    assert [net.params[n] for n in net.names] == init["expected"]["params"]
    fb = cases["fb_sigmoid_softmax"]
    inp = fb["input"]
    net = MultiLayerNet(inp["sizes"], activation="sigmoid", weight_decay=inp["weight_decay"])
    for name, values in zip(net.names, inp["params"]):
        net.params[name][:] = values
    grads = net.gradient(inp["X"], inp["T"])
    flat = [[v for row in grads[n] for v in row] if n[0] == "W" else grads[n] for n in net.names]
    assert flat == fb["expected"]["gradients"]
    assert net.loss(inp["X"], inp["T"]) == fb["expected"]["loss"]


def test_litmus_learns_all_six_logic_functions(cases_dir):
    case = next(c for c in load_cases(cases_dir) if c["name"] == "litmus_logic")
    truth = [[int(v) for v in row] for row in case["input"]["T"]]
    assert case["expected"]["predictions"] == truth
    assert case["input"]["functions"] == ["XOR", "XNOR", "AND", "NAND", "OR", "NOR"]


def test_digit_run_learns_something(cases_dir):
    case = next(c for c in load_cases(cases_dir) if c["name"] == "digits_run")
    exp = case["expected"]
    assert exp["steps"] == len(exp["losses"]) == 80
    assert exp["train_accuracy"] > 0.5 and exp["test_accuracy"] > 0.3
    assert exp["losses"][-1] < exp["losses"][0]


def test_one_ulp_fails_a_bitwise_case_with_its_path(capsys, cases_dir, results):
    def nudge(out):
        g = out["gradients"][2]
        g[3] = math.nextafter(g[3], math.inf)
    edit(results, "fb_relu_identity", nudge)
    code, out = check(capsys, cases_dir, results)
    assert code == 1
    row = line(out, "fb_relu_identity")
    assert row.startswith("FAIL") and "output.gradients[2][3]" in row and "1 ulp apart" in row
    assert f"{case_count(cases_dir) - 1} passed, 1 failed" in out


def test_libm_case_passes_within_bound_unless_strict(capsys, cases_dir, results):
    def nudge(out):
        out["normal"][1][5] = math.nextafter(out["normal"][1][5], -math.inf)
    edit(results, "rng_normal", nudge)
    code, out = check(capsys, cases_dir, results)
    row = line(out, "rng_normal")
    assert code == 0 and "within tolerance (own libm), 1 of 80 values not bitwise" in row
    assert "of abs + rel·|expected| used" in row
    code, out = check(capsys, cases_dir, results, "--strict")
    assert code == 1 and line(out, "rng_normal").startswith("FAIL")

    def far(out):
        out["normal"][0][0] *= 1.001
    edit(results, "rng_normal", far)
    code, out = check(capsys, cases_dir, results)
    assert code == 1 and "output.normal[0][0]" in line(out, "rng_normal")


@pytest.mark.parametrize("name,change,message", [
    ("rng_bits", lambda o: o["streams"][0]["u64"].__setitem__(0, "0x0000000000000001"),
     "output.streams[0].u64[0]: expected '0x"),
    ("digits_run", lambda o: o.__setitem__("test_correct", o["test_correct"] + 1),
     "output.test_correct"),
    ("opt_sgd", lambda o: o["losses"].pop(), "output.losses: expected 10 values, got 9"),
    ("init_uniform", lambda o: o.pop("params"), "output.params: missing"),
    # the all-zero input row with B_0[0] = -0.0: Z_0[0] = -0.0 exactly, and H_0[0] = 0.0
    ("fb_relu_identity", lambda o: o["examples"][4]["H"][0].__setitem__(0, -0.0),
     "expected 0.0, got -0.0: the sign of zero differs"),
    ("fb_relu_identity", lambda o: o["examples"][4]["Z"][0].__setitem__(0, 0.0),
     "expected -0.0, got 0.0: the sign of zero differs"),
    # the checker holds JSON types to the schema
    ("fb_relu_identity", lambda o: o["examples"][4]["H"][0].__setitem__(0, 0),
     "expected the double 0.0, got the integer 0 (write doubles with a '.' or an exponent"),
    ("digits_run", lambda o: o.__setitem__("steps", 80.0),
     "output.steps: expected the integer 80, got the double 80.0"),
    ("rng_bits", lambda o: o["streams"][1]["u64"].__setitem__(2, o["streams"][1]["u64"][2]
                                                              .upper().replace("0X", "0x")),
     "(hex digits must be lower case)"),
    ("opt_sgd", lambda o: o.__setitem__("gradients", []),
     "output: unexpected key 'gradients'"),
    ("fb_tanh_softmax", lambda o: o.__setitem__("loss", math.nan), "got NaN"),
    ("rng_normal", lambda o: o["normal"][0].__setitem__(3, math.inf), "got Infinity"),
    ("litmus_logic", lambda o: o["predictions"][0].__setitem__(0, True),
     "got a boolean true"),
])
def test_checker_reports_the_first_mismatch(capsys, cases_dir, results, name, change, message):
    edit(results, name, change)
    code, out = check(capsys, cases_dir, results)
    assert code == 1 and message in line(out, name)


def test_nan_fails_within_tolerance_too(capsys, cases_dir, results):
    edit(results, "digits_run", lambda o: o["losses"].__setitem__(5, math.nan))
    code, out = check(capsys, cases_dir, results)
    assert code == 1 and "output.losses[5]: expected " in line(out, "digits_run")
    assert line(out, "digits_run").endswith(", got NaN")


def test_a_negative_zero_written_as_an_integer_is_named(capsys, cases_dir, results):
    path = results / "fb_relu_identity.json"
    text = path.read_text()
    assert text.count("-0.0,") >= 1
    path.write_text(text.replace("-0.0,", "-0,", 1))
    code, out = check(capsys, cases_dir, results)
    assert code == 1 and "got the integer -0 (write doubles" in line(out, "fb_relu_identity")


def _floats(value, path=()):
    """(path, value) of every double in a nested expected value."""
    if isinstance(value, dict):
        for key, v in value.items():
            yield from _floats(v, (*path, key))
    elif isinstance(value, list):
        for k, v in enumerate(value):
            yield from _floats(v, (*path, k))
    elif isinstance(value, float):
        yield path, value


def test_a_pass_on_the_absolute_term_reports_the_fraction_of_each_bound(capsys, cases_dir,
                                                                       results):
    # a value so close to zero that its bound is almost all the abs term, moved by half of abs
    for case in load_cases(cases_dir):
        tol = case["tolerance"]
        small = [(p, v) for p, v in _floats(case["expected"])
                 if v and abs(v) * tol.get("rel", 0.0) < tol.get("abs", 0.0) / 100]
        if small:
            break
    path, value = small[0]

    def nudge(out):
        for key in path[:-1]:
            out = out[key]
        out[path[-1]] = value + tol["abs"] / 2
    edit(results, case["name"], nudge)
    code, out = check(capsys, cases_dir, results)
    row = line(out, case["name"])
    assert code == 0 and row.startswith("PASS") and "within tolerance (own libm), 1 of" in row
    assert f"1 pass on the abs term only (worst: 50 % of abs {tol['abs']:g}, " in row
    assert "% of rel·|expected|)" in row


@pytest.mark.parametrize("header,message", [
    ({"format": "loopnet-model"}, "found format \"loopnet-model\" version 2, expected "
                                  "'loopnet-conformance-result' version 2"),
    ({"version": 1}, "found format \"loopnet-conformance-result\" version 1"),
    ({"version": 2.0}, "version 2.0, expected"),
    ({"libm": "glibc"}, "\"libm\" must say which math library answered"),
    ({"libm": "transcript"}, "transcript mode needs \"libm_misses\""),
    ({"libm_misses": {"count": 0, "calls": []}}, "\"libm_misses\" belongs to transcript mode"),
    ({"elapsed": 1.5}, "result: unexpected key 'elapsed'"),
    ({"case": "init_xavier"}, "result is for case \"init_xavier\""),
])
def test_result_headers_are_checked(capsys, cases_dir, results, header, message):
    edit(results, "init_he", lambda data: data.update(header), part="")
    code, out = check(capsys, cases_dir, results)
    assert code == 1 and message in line(out, "init_he")


def test_missing_or_foreign_result_files_fail(capsys, cases_dir, results):
    (results / "opt_adam.json").unlink()
    (results / "init_he.json").write_text("[1, 2]")
    code, out = check(capsys, cases_dir, results)
    assert code == 1
    assert "no result file" in line(out, "opt_adam")
    assert "is not a JSON object" in line(out, "init_he")


def test_unreadable_directories_exit_2(capsys, cases_dir, tmp_path):
    assert main(["conformance", "check", str(tmp_path), str(tmp_path)]) == 2
    assert "index.json" in capsys.readouterr().err
    assert main(["conformance", "check", str(cases_dir), str(tmp_path / "nope")]) == 2
    index = json.loads((cases_dir / "index.json").read_text())
    index["version"] = 99
    (tmp_path / "index.json").write_text(json.dumps(index))
    assert main(["conformance", "check", str(tmp_path), str(tmp_path)]) == 2
    assert (f"found format \"loopnet-conformance\" version 99, expected 'loopnet-conformance' "
            f"version {VERSION}") in capsys.readouterr().err


@pytest.fixture(scope="module")
def relu_identity(cases_dir) -> dict:
    return next(c for c in load_cases(cases_dir) if c["name"] == "fb_relu_identity")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=24)


@settings(max_examples=300, deadline=None)
@given(output=JSON_VALUES, header=st.dictionaries(
    st.sampled_from(["format", "version", "case", "libm", "libm_misses", "extra"]), JSON_VALUES))
def test_the_checker_answers_any_result_with_a_report(relu_identity, output, header):
    # fuzz: whatever a port writes, check_case gives a verdict in words and never raises
    case = relu_identity
    result = {"format": RESULT_FORMAT, "version": VERSION, "case": case["name"],
              "libm": "own", **header, "output": output}
    report = check_case(case, parse_result(json.dumps(result)))
    assert not report.passed and report.how and "\n" not in report.how
