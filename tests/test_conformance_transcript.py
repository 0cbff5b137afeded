"""Transcript mode, the cases that catch 1-ulp porting mistakes, and how the bounds were sized."""

import json
import math
import re
from pathlib import Path

import pytest

from loopnet import conformance, network, optimizers, training
from loopnet.cli import main
from loopnet.conformance import (
    LIBM_FUNCTIONS,
    LIBM_USERS,
    PerturbedLibm,
    bits_float,
    float_bits,
    hex64,
    load_cases,
    run_case,
    run_reference,
    using_libm,
)


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("cases")
    conformance.export_cases(directory)
    return directory


@pytest.fixture(scope="module")
def cases(cases_dir) -> dict:
    return {c["name"]: c for c in load_cases(cases_dir)}


def check(capsys, cases_dir, results, *extra) -> tuple[int, str]:
    code = main(["conformance", "check", *extra, str(cases_dir), str(results)])
    return code, capsys.readouterr().out


def test_transcripts_are_sorted_tables_of_hex_bits(cases):
    for case in cases.values():
        for name, rows in case["libm"].items():
            assert name in LIBM_FUNCTIONS
            width = 3 if name == "pow" else 2
            keys = [tuple(int(a, 16) for a in row[:-1]) for row in rows]
            assert keys == sorted(set(keys)), case["name"]
            for row in rows:
                assert len(row) == width and all(re.fullmatch("0x[0-9a-f]{16}", h) for h in row)
                assert float_bits(getattr(math, name)(*map(bits_float, map(
                    lambda h: int(h, 16), row[:-1])))) == int(row[-1], 16)


def test_the_reference_in_transcript_mode_is_bitwise(capsys, cases_dir, tmp_path):
    run_reference(cases_dir, tmp_path, transcript=True)
    code, out = check(capsys, cases_dir, tmp_path, "--strict")
    n = len(load_cases(cases_dir))
    assert code == 0 and f"{n} passed, 0 failed (results claim: {n} transcript libm" in out
    for path in tmp_path.iterdir():
        assert json.loads(path.read_text())["libm_misses"] == {"count": 0, "calls": []}


def test_transcript_answers_replace_the_host_libm(capsys, cases_dir, tmp_path):
    # the transcript's exp results moved by an ulp: the reference answering from it differs
    cases = tmp_path / "cases"
    cases.mkdir()
    for path in cases_dir.iterdir():
        (cases / path.name).write_bytes(path.read_bytes())
    case = json.loads((cases / "fb_sigmoid_identity.json").read_text())
    for row in case["libm"]["exp"]:
        row[1] = hex64(int(row[1], 16) + 1)
    (cases / "fb_sigmoid_identity.json").write_text(json.dumps(case))
    results = tmp_path / "results"
    run_reference(cases, results, transcript=True)
    code, out = check(capsys, cases, results)
    failed = [r for r in out.splitlines() if r.startswith("FAIL")]
    assert code == 1 and len(failed) == 1 and "fb_sigmoid_identity" in failed[0]
    assert "ulp apart" in failed[0]


def test_a_call_the_transcript_lacks_is_named(capsys, cases_dir, tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    for path in cases_dir.iterdir():
        (cases / path.name).write_bytes(path.read_bytes())
    case = json.loads((cases / "fb_tanh_identity.json").read_text())
    removed = case["libm"]["tanh"].pop(3)
    (cases / "fb_tanh_identity.json").write_text(json.dumps(case))
    results = tmp_path / "results"
    run_reference(cases, results, transcript=True)
    misses = json.loads((results / "fb_tanh_identity.json").read_text())["libm_misses"]
    assert misses["count"] >= 1 and misses["calls"][0] == ["tanh", removed[0]]
    code, out = check(capsys, cases, results)
    row = next(r for r in out.splitlines() if "fb_tanh_identity" in r)
    argument = repr(bits_float(int(removed[0], 16)))
    assert code == 1 and row.startswith("FAIL")
    assert f"transcript mode: the port called tanh({removed[0]} = {argument})" in row
    assert "that the transcript lacks" in row


def test_every_libm_call_on_the_reference_path_is_transcribed():
    # the functions that are not correctly rounded must go through the stand-in `math`
    exact = {"sqrt", "isfinite", "isnan", "isinf", "ceil", "floor", "inf", "nan", "pi",
             "nextafter", "fabs", "prod", "fsum", "log2"}
    for module in (*LIBM_USERS, network, training):
        source = Path(module.__file__).read_text()
        used = set(re.findall(r"\bmath\.(\w+)", source))
        calls = used - exact
        assert calls <= set(LIBM_FUNCTIONS), (module.__name__, calls)
        if calls:
            assert module in LIBM_USERS, module.__name__
    # Adam's β^t is math.pow, not the power operator (dict and keyword unpacking are fine)
    assert not re.search(r"[\w)\]]\s*\*\*\s*[\w(]", Path(optimizers.__file__).read_text())


def test_minibatches_are_not_a_power_of_two(cases):
    for case in cases.values():
        if case["kind"] == "forward_backward":
            n = len(case["input"]["X"])
            assert n & (n - 1), case["name"]
            assert any((y / n) != y * (1.0 / n) for y in (0.1, 0.3, 0.7, 0.9))


def test_an_expected_negative_zero_that_only_z_from_b_keeps(cases):
    case = cases["fb_relu_identity"]
    zero_row = case["input"]["X"].index([0.0] * case["input"]["sizes"][0])
    z0 = case["expected"]["examples"][zero_row]["Z"][0][0]
    assert z0 == 0.0 and math.copysign(1.0, z0) == -1.0
    assert math.copysign(1.0, 0.0 + case["input"]["params"][1][0]) == 1.0


def test_init_sizes_separate_the_square_root_forms(cases):
    sizes = cases["init_he"]["input"]["sizes"]
    fan_in = sizes[:-1]
    fans = [a + b for a, b in zip(sizes[:-1], sizes[1:])]
    assert all(math.sqrt(2.0 / n) != math.sqrt(2.0) / math.sqrt(n) for n in fan_in)
    assert any(math.sqrt(1.0 / n) != 1.0 / math.sqrt(n) for n in fan_in)
    assert all(math.sqrt(6.0) / math.sqrt(n) != math.sqrt(6.0 / n) for n in fans)


def test_adam_runs_long_enough_for_pow_to_matter(cases):
    inp = cases["opt_adam"]["input"]
    spec = inp["optimizer"]
    b1, b2, p1, p2, differ = spec["beta1"], spec["beta2"], 1.0, 1.0, []
    for t in range(1, inp["steps"] + 1):
        p1, p2 = p1 * b1, p2 * b2
        if (math.sqrt(1.0 - math.pow(b2, t)) / (1.0 - math.pow(b1, t))
                != math.sqrt(1.0 - p2) / (1.0 - p1)):
            differ.append(t)
    assert len(differ) >= 10 and inp["steps"] in inp["record_after"]


def test_bounds_hold_for_a_libm_three_ulps_off(cases):
    """The derivation in docs/conformance.md: every result of exp, log, tanh, cos and pow moved
    by a random 0..3 ulp uses at most a tenth of each case's bound."""
    for case in cases.values():
        if not case["libm"]:
            continue
        with using_libm(PerturbedLibm(3, seed=len(case["name"]))):
            output = json.loads(conformance.dumps(run_case(case)))
        result = {"format": conformance.RESULT_FORMAT, "version": conformance.VERSION,
                  "case": case["name"], "libm": "own", "output": output}
        result = conformance.parse_result(json.dumps(result))
        report = conformance.check_case(case, result)
        assert report.passed, report.how
        used = re.search(r"at most ([0-9.e+-]+) % of abs \+ rel", report.how)
        assert used and float(used.group(1)) < 10.0, (case["name"], report.how)
