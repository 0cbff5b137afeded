"""Every pitfall of PORTING.md section 12, applied to a copy of the C port, fails the cases.

The port runs in transcript mode and is checked with `--strict`: every case must then be bitwise
on any platform, so each mistake — even one that moves a value by a single ulp — must fail at
least one case.  The unmodified copy passes, so the failures are the pitfalls'.
"""

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from loopnet.conformance import check_results, export_cases

PORT = Path(__file__).resolve().parent.parent / "ports" / "c"
pytestmark = pytest.mark.skipif(shutil.which("make") is None or shutil.which("gcc") is None,
                                reason="the C port needs make and gcc")

# name: ([(file, text in the port, replacement), ...], extra make arguments)
PITFALLS = {
    "fma contraction": ([], ["CFLAGS=-std=c99 -O2 -march=native -ffp-contract=fast"]),
    "x87 extended precision": ([], ["CFLAGS=-std=c99 -O2 -mfpmath=387 -ffp-contract=off"]),
    "Z summed from 0.0, B added last": ([(
        "net.c", "for (j = 0; j < n_out; j++) z[j] = B[j];\n",
        "for (j = 0; j < n_out; j++) z[j] = 0.0;\n"), (
        "net.c", "            for (j = 0; j < n_out; j++) z[j] = z[j] + xi * row[j];\n"
                 "        }\n    }\n",
        "            for (j = 0; j < n_out; j++) z[j] = z[j] + xi * row[j];\n"
        "        }\n    }\n    for (j = 0; j < n_out; j++) z[j] = z[j] + B[j];\n")], []),
    "Z summed over the inputs in reverse": ([(
        "net.c", "    for (i = 0; i < n_in; i++) {\n        double xi = x[i];",
        "    for (i = n_in - 1; i >= 0; i--) {\n        double xi = x[i];")], []),
    "softmax as Y * (1/S)": ([(
        "net.c", "for (k = 0; k < K; k++) Y[k] = Y[k] / S;",
        "for (k = 0; k < K; k++) Y[k] = Y[k] * (1.0 / S);")], []),
    "softmax S summed in reverse": ([(
        "net.c", "            Y[k] = lm_exp(A[k] - M);\n            S = S + Y[k];\n        }\n",
        "            Y[k] = lm_exp(A[k] - M);\n        }\n"
        "        for (k = K - 1; k >= 0; k--) S = S + Y[k];\n")], []),
    "a = (Y - T) * (1/N)": ([(
        "net.c", "(Y[k] - t[k]) / (double)N;", "(Y[k] - t[k]) * (1.0 / (double)N);")], []),
    "one sigmoid formula": ([(
        "net.c", "            if (z[j] >= 0.0) {", "            if (1) {")], []),
    "sigmoid derivative dH * (H * (1 - H))": ([(
        "net.c", "dh[i] * Hp[i] * (1.0 - Hp[i]);", "dh[i] * (Hp[i] * (1.0 - Hp[i]));")], []),
    "tanh derivative (1 - H)(1 + H)": ([(
        "net.c", "dh[i] * (1.0 - Hp[i] * Hp[i]);", "dh[i] * ((1.0 - Hp[i]) * (1.0 + Hp[i]));")],
        []),
    "weight decay added per example": ([(
        "net.c", "        net_backward(n, x, t, N);\n    }\n",
        "        net_backward(n, x, t, N);\n"
        "        for (l = 0; l < n->L; l++)\n"
        "            for (p = 0; p < n->len[2 * l]; p++)\n"
        "                n->grads[2 * l][p] += n->lambda / (double)N * n->params[2 * l][p];\n"
        "    }\n"), (
        "net.c", "                n->grads[2 * l][p] = n->grads[2 * l][p] + n->lambda * "
                 "n->params[2 * l][p];\n", "                ;\n")], []),
    "biases decayed": ([(
        "net.c", "                n->grads[2 * l][p] = n->grads[2 * l][p] + n->lambda * "
                 "n->params[2 * l][p];\n",
        "                n->grads[2 * l][p] = n->grads[2 * l][p] + n->lambda * "
        "n->params[2 * l][p];\n"
        "        for (l = 0; l < n->L; l++)\n"
        "            for (p = 0; p < n->len[2 * l + 1]; p++)\n"
        "                n->grads[2 * l + 1][p] += n->lambda * n->params[2 * l + 1][p];\n")], []),
    "AdaGrad lr * (g / ...)": ([(
        "net.c", "p[i] = p[i] - lr * g[i] / (sqrt(s1[i]) + GUARD);",
        "p[i] = p[i] - lr * (g[i] / (sqrt(s1[i]) + GUARD));")], []),
    "Adam moments as beta * m + (1 - beta) * g": ([(
        "net.c", "s1[i] = s1[i] + (1.0 - o->beta1) * (g[i] - s1[i]);",
        "s1[i] = o->beta1 * s1[i] + (1.0 - o->beta1) * g[i];"), (
        "net.c", "s2[i] = s2[i] + (1.0 - o->beta2) * (g[i] * g[i] - s2[i]);",
        "s2[i] = o->beta2 * s2[i] + (1.0 - o->beta2) * (g[i] * g[i]);")], []),
    "Adam lr * (m / ...)": ([(
        "net.c", "p[i] = p[i] - lr * s1[i] / (sqrt(s2[i]) + GUARD);",
        "p[i] = p[i] - lr * (s1[i] / (sqrt(s2[i]) + GUARD));")], []),
    "Adam eta_t by repeated multiplication": ([(
        "net.c", "        o->t++;\n        lr = o->lr * sqrt(1.0 - lm_pow(o->beta2, (double)o->t)) /\n"
                 "             (1.0 - lm_pow(o->beta1, (double)o->t));\n",
        "        static double p1, p2;\n        o->t++;\n"
        "        if (o->t == 1) { p1 = 1.0; p2 = 1.0; }\n"
        "        p1 = p1 * o->beta1;\n        p2 = p2 * o->beta2;\n"
        "        lr = o->lr * sqrt(1.0 - p2) / (1.0 - p1);\n")], []),
    "He init as sqrt(2) / sqrt(n)": ([(
        "net.c", "s = sqrt(2.0 / (double)n_in);", "s = sqrt(2.0) / sqrt((double)n_in);")], []),
    "Xavier init as 1 / sqrt(n)": ([(
        "net.c", "s = sqrt(1.0 / (double)n_in);", "s = 1.0 / sqrt((double)n_in);")], []),
    "uniform init as sqrt(6 / n)": ([(
        "net.c", "s = sqrt(6.0) / sqrt((double)(n_in + n_out));",
        "s = sqrt(6.0 / (double)(n_in + n_out));")], []),
    "TWO_PI from a 15-digit pi": ([(
        "rng.c", "#define TWO_PI 6.283185307179586", "#define TWO_PI (2.0 * 3.14159265358979)")],
        []),
    "u2 drawn before u1": ([(
        "rng.c", "    double u1 = rng_uniform(r);\n    double u2 = rng_uniform(r);\n",
        "    double u2 = rng_uniform(r);\n    double u1 = rng_uniform(r);\n")], []),
    "-0.0 written as -0": ([(
        "json.c", '    if (!strpbrk(buf, ".eEni")) strcat(buf, ".0");\n', "")], []),
    "15-digit doubles": ([("json.c", '"%.17g"', '"%.15g"')], []),
    "upper-case hex": ([("json.c", '"\\"0x%016llx\\""', '"\\"0x%016llX\\""')], []),
    "an integer written as a double": ([(
        "cases.c", '"],\\n\\"steps\\": %ld,', '"],\\n\\"steps\\": %ld.0,')], []),
}


def _has_fma() -> bool:
    try:
        return " fma " in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, Path]:
    """(a built copy of the C port, the exported cases)."""
    root = tmp_path_factory.mktemp("pitfalls")
    copy = root / "port"
    shutil.copytree(PORT, copy, ignore=shutil.ignore_patterns("build"))
    made = subprocess.run(["make", "-C", str(copy), "BUILD=build"], capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stderr
    export_cases(root / "cases")
    return copy, root / "cases"


def _run(port: Path, cases: Path, results: Path) -> list:
    results.mkdir()
    ran = subprocess.run([str(port / "build" / "loopnet-port"), "--transcript", str(cases),
                          str(results)], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    return check_results(cases, results, strict=True)


def test_the_unmodified_copy_passes(baseline, tmp_path):
    port, cases = baseline
    assert all(r.passed for r in _run(port, cases, tmp_path / "results"))


@pytest.mark.parametrize("name", list(PITFALLS))
def test_each_pitfall_fails_a_case_in_transcript_mode(baseline, tmp_path, name):
    edits, make_args = PITFALLS[name]
    if name == "fma contraction" and not _has_fma():
        pytest.skip("the CPU has no FMA instructions")
    if name == "x87 extended precision" and platform.machine() not in ("x86_64", "AMD64"):
        pytest.skip("x87 code needs an x86-64 CPU")
    source, cases = baseline
    port = tmp_path / "port"
    shutil.copytree(source, port)  # keeps the object files: make rebuilds what an edit touches
    for file, old, new in edits:
        path = port / "src" / file
        text = path.read_text()
        assert text.count(old) == 1, f"{file} no longer contains {old!r} exactly once"
        path.write_text(text.replace(old, new))
        os.utime(path)
    if make_args:
        shutil.rmtree(port / "build")
    made = subprocess.run(["make", "-C", str(port), "BUILD=build", *make_args],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    failed = [r for r in _run(port, cases, tmp_path / "results") if not r.passed]
    assert failed, f"{name}: every case still passes"
    print(name, "->", ", ".join(r.name for r in failed))
