"""Every neuron's computation of one minibatch, written out with the numbers the kernels compute.

`trace_batch` runs the loops of `loopnet.kernels` one example at a time on private copies of a
network's parameters and snapshots every buffer they fill (Z, H, the backward values z and h,
the running ΔW and ΔB).  Each value becomes an `Equation` in NOTATION.md's symbols: the symbolic
form, the same form with the numbers substituted, and the result.  The few intermediates the
kernels keep only in local variables (the softmax maximum M and denominator S, Σ W²) are
recomputed here with the same operations in the same order, so they are the same bits.

Display indices are 1-based like the Mind article's figures: X_1..X_n, H_1.., A_1.., Y_1..;
``W_{i,j}^(l)`` is ``W<l>[i-1][j-1]`` and class c is ``T_{c+1}``.  Hidden-layer symbols carry
their layer ``^(l)`` only when there is more than one hidden layer.

`render` prints a `Trace` as plain text, Markdown (``$$`` equations for notebooks) or LaTeX;
`trace_text` gives the same text piece by piece while it traces, example by example, so a
minibatch of any size needs the memory of one example.
"""
from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Union

from loopnet import kernels
from loopnet.backends.python_backend import PythonBackend
from loopnet.errors import ConfigError, DataError, ShapeError
from loopnet.network import MultiLayerNet, sparse_input_rows

FORMATS = ("text", "markdown", "latex")
DEFAULT_PRECISION = 4
MAX_LISTED = 8  # symbolic sums with more terms than this are written with Σ
LATEX_TERMS_PER_LINE = 6  # LaTeX: break long substituted sums after this many terms
ACTIVATION_NAMES = {kernels.RELU: "ReLU", kernels.SIGMOID: "sigmoid", kernels.TANH: "tanh"}


@dataclass(frozen=True)
class Sym:
    """A symbol: ``base`` (X, H, W, ΔW, a, ...), subscript ``sub`` and optional layer ``^(l)``."""

    base: str
    sub: str = ""
    layer: int | None = None


@dataclass(frozen=True)
class Num:
    """A number, printed with the trace's precision."""

    value: float


@dataclass(frozen=True)
class Words:
    """A remark inside an expression, e.g. how many zero inputs were skipped."""

    text: str


Token = Union[Sym, Num, Words, str]  # str: an operator or function name from the tables below
Expr = list[Token]
Example = tuple[list[float], list[float], str]  # one example's inputs X, teacher row T and name


@dataclass
class Equation:
    """``lhs = form_1 = form_2 = ... = value`` (``←`` instead of the first ``=`` for updates)."""

    lhs: Sym
    forms: list[Expr]
    value: float
    update: bool = False


def accumulation(name: str, sub: str, layer: int, old: float, term_syms: list,
                 term_nums: list, new: float) -> Equation:
    """``name ← name + term = old + term-with-numbers = new`` (a gradient accumulating)."""
    sym = Sym(name, sub, layer)
    return Equation(sym, [[sym, "+", *term_syms], [Num(old), "+", *term_nums]], new, update=True)


@dataclass
class Section:
    """A titled run of equations and notes (a note is an `Expr` rendered as a sentence)."""

    title: str
    items: list[Equation | Expr] = field(default_factory=list)


@dataclass
class Trace:
    """What `trace_batch` found: header sentences, sections, and the kernels' final results."""

    header: list[Expr]
    sections: list[Section]
    loss: float
    gradients: list[list[float]]
    updated: list[list[float]]

    def equations(self) -> list[Equation]:
        """Every equation, in printing order."""
        return [item for s in self.sections for item in s.items if isinstance(item, Equation)]


# ---------------------------------------------------------------------------------------------
# Tracing
# ---------------------------------------------------------------------------------------------
def _copy(buffers: Sequence[Sequence[float]]) -> list[list[float]]:
    return [list(b) for b in buffers]


def _sum(terms: list[Expr], empty: Expr) -> Expr:
    """terms joined by +, or `empty` when there are none."""
    if not terms:
        return list(empty)
    out: Expr = []
    for k, term in enumerate(terms):
        if k:
            out.append("+")
        out += term
    return out


def _guard_words(net: MultiLayerNet) -> str:
    """ " (log guard g)" for the cross-entropies, naming g = 0 as none."""
    if net.loss_name != "cross_entropy":
        return ""
    return f" (log guard {net.log_guard!r})" if net.log_guard else " (no log guard)"


def _negated_sum(terms: list[Expr]) -> Expr:
    """Terms that each begin with "-", joined; the first minus printed as a sign (0 if none)."""
    numbers = [tok for term in terms for tok in term] or [Num(0.0)]
    if numbers[0] == "-":
        numbers[0] = "neg"
    return numbers


class _Tracer:
    """Builds the sections of one trace; see `trace_batch`."""

    def __init__(self, net: MultiLayerNet, count: int, lr: float, layer: int | None,
                 neuron: int | None) -> None:
        self.sizes = list(net.sizes)
        self.L = len(self.sizes) - 1
        self.act = net._activation
        self.out = net._output
        self.guard = net.log_guard
        self.lam = net.weight_decay
        self.params = [net.backend.to_list(net.params[name]) for name in net.names]
        self.N = count
        self.lr = lr
        self.layer, self.neuron = layer, neuron
        self.tagged = self.L > 2  # hidden symbols get ^(l) only with several hidden layers
        # the kernels' results, set once `sections` has yielded its last section
        self.loss = math.nan
        self.gradients: list[list[float]] = []
        self.updated: list[list[float]] = []

    # ------------------------------------------------------------------ symbols
    def value_sym(self, l: int, j: str) -> Sym:
        """Forward value of neuron j of layer l (0 = inputs X, L = outputs A)."""
        if l == 0:
            return Sym("X", j)
        if l == self.L:
            return Sym("A", j)
        return Sym("H", j, l if self.tagged else None)

    def pre_sym(self, l: int, j: str) -> Sym:
        return Sym("A", j) if l == self.L else Sym("Z", j, l if self.tagged else None)

    def back_sym(self, l: int, j: str) -> Sym:
        """Backward value z (or a for the output layer) of neuron j of layer l."""
        return Sym("a", j) if l == self.L else Sym("z", j, l if self.tagged else None)

    def h_sym(self, l: int, j: str) -> Sym:
        return Sym("h", j, l if self.tagged else None)

    def shown(self, l: int, j: int) -> bool:
        """Is neuron j (0-based) of layer l (1-based) in focus?"""
        if self.layer is None:
            return True
        return l == self.layer and (self.neuron is None or j + 1 == self.neuron)

    def layer_shown(self, l: int) -> bool:
        return self.layer is None or l == self.layer

    # ------------------------------------------------------------------ sums of products
    def affine_symbolic(self, l: int, j: int) -> Expr:
        n_in = self.sizes[l - 1]
        expr: Expr = [Sym("B", str(j + 1), l)]
        if n_in <= MAX_LISTED:
            for i in range(n_in):
                expr += ["+", self.value_sym(l - 1, str(i + 1)), "·",
                         Sym("W", f"{i + 1},{j + 1}", l)]
        else:
            expr += ["+", "Σ_i", self.value_sym(l - 1, "i"), "·", Sym("W", f"i,{j + 1}", l)]
        return expr

    def affine_numbers(self, l: int, j: int, x: list[float]) -> Expr:
        """B_j + x_i·W_{i,j} in the kernel's order; zero inputs (skipped by the kernel) counted."""
        n_in, n_out = self.sizes[l - 1], self.sizes[l]
        W, B = self.params[2 * l - 2], self.params[2 * l - 1]
        terms = [[Num(x[i]), "·", Num(W[i * n_out + j])] for i in range(n_in) if x[i] != 0.0]
        expr = _sum([[Num(B[j])]] + terms, [])
        zeros = n_in - len(terms)
        if zeros:
            noun = "input" if zeros == 1 else "inputs"
            expr.append(Words(f"[{zeros} {noun} = 0 skipped]"))
        return expr

    # ------------------------------------------------------------------ forward
    def forward(self, section: Section, x: list[float], t: list[float], Z, H, E: float) -> None:
        L = self.L
        inputs = x
        for l in range(1, L + 1):
            if not self.layer_shown(l):
                values = Z[l - 1] if l == L else H[l - 1]
                section.items.append(self.vector_note(self.value_sym(l, ""), values))
            else:
                for j in range(self.sizes[l]):
                    if self.shown(l, j):
                        section.items.append(self.neuron_equation(l, j, inputs, Z[l - 1], H[l - 1]))
            inputs = H[l - 1]
        self.output_layer(section, t, Z[L - 1], H[L - 1], E)

    def neuron_equation(self, l: int, j: int, inputs: list[float], Z: list[float],
               H: list[float]) -> Equation:
        """A_j = B_j + Σ ... for the output layer, H_j = f(Z_j) = f(B_j + Σ ...) otherwise."""
        symbolic = self.affine_symbolic(l, j)
        numbers = self.affine_numbers(l, j, inputs)
        s = str(j + 1)
        if l == self.L:
            return Equation(self.pre_sym(l, s), [symbolic, numbers], Z[j])
        f = ACTIVATION_NAMES[self.act]
        return Equation(self.value_sym(l, s),
                        [[f, "(", self.pre_sym(l, s), ")"], [f, "(", *symbolic, ")"],
                         [f, "(", *numbers, ")"], [f, "(", Num(Z[j]), ")"]], H[j])

    def vector_note(self, sym: Sym, values: list[float]) -> Expr:
        """One line with a whole layer's values (used outside the focus)."""
        note: Expr = [sym, "=", "["]
        for k, v in enumerate(values):
            if k:
                note.append(",")
            note.append(Num(v))
        note.append("]")
        return note

    def output_layer(self, section: Section, t: list[float], A: list[float], Y: list[float],
                     E: float) -> None:
        n = self.sizes[-1]
        if self.out == kernels.SOFTMAX:
            # M = max_m A_m, S = Σ_m exp(A_m - M): the kernel's locals, recomputed in its order
            M = A[0]
            for k in range(1, n):
                if A[k] > M:
                    M = A[k]
            exps = [math.exp(A[k] - M) for k in range(n)]
            S = 0.0
            for v in exps:
                S += v
            section.items.append(Equation(
                Sym("M"), [["max_m", Sym("A", "m")],
                           ["max", "(", *self.joined([Num(a) for a in A], ","), ")"]], M))
            section.items.append(Equation(
                Sym("S"),
                [["Σ_m", "exp", "(", Sym("A", "m"), "-", Sym("M"), ")"],
                 self.joined([["exp", "(", Num(a), "-", Num(M), ")"] for a in A], "+"),
                 self.joined([Num(v) for v in exps], "+")], S))
            for k in range(n):
                section.items.append(Equation(
                    Sym("Y", str(k + 1)),
                    [["exp", "(", Sym("A", str(k + 1)), "-", Sym("M"), ")", "/", Sym("S")],
                     ["exp", "(", Num(A[k]), "-", Num(M), ")", "/", Num(S)],
                     [Num(exps[k]), "/", Num(S)]], Y[k]))
            terms: list[Expr] = []
            for k in range(n):
                if t[k] != 0.0:
                    terms.append(["-", Num(t[k]), "·", *self.log_of(Num(Y[k]))])
            section.items.append(Equation(
                Sym("E"), [["neg", "Σ_k", Sym("T", "k"), "·", *self.log_of(Sym("Y", "k"))],
                           _negated_sum(terms)], E))
            skipped = n - len(terms)
            if skipped:
                section.items.append([Words(f"({skipped} terms with"), Sym("T", "k"),
                                      Words("= 0 add nothing and are skipped)")])
            return
        sigmoid = self.out in (kernels.SIGMOID_CROSS_ENTROPY, kernels.SIGMOID_SQUARED_ERROR)
        for k in range(n):
            A_k = Sym("A", str(k + 1))
            forms = [["sigmoid", "(", A_k, ")"], ["sigmoid", "(", Num(A[k]), ")"]] if sigmoid \
                else [[A_k]]
            section.items.append(Equation(Sym("Y", str(k + 1)), forms, Y[k]))
        if self.out == kernels.SIGMOID_CROSS_ENTROPY:
            # the kernel's order: for each k, the T_k term, then the (1 - T_k) term, each
            # skipped when its factor is 0
            terms = []
            for k in range(n):
                if t[k] != 0.0:
                    terms.append(["-", Num(t[k]), "·", *self.log_of(Num(Y[k]))])
                if t[k] != 1.0:
                    terms.append(["-", "(", Num(1.0), "-", Num(t[k]), ")", "·",
                                  *self.log_of(Num(1.0), "-", Num(Y[k]))])
            T_k, Y_k = Sym("T", "k"), Sym("Y", "k")
            section.items.append(Equation(
                Sym("E"), [["neg", "Σ_k", "[", T_k, "·", *self.log_of(Y_k), "+", "(", Num(1.0),
                            "-", T_k, ")", "·", *self.log_of(Num(1.0), "-", Y_k), "]"],
                           _negated_sum(terms)], E))
            skipped = 2 * n - len(terms)
            if skipped:
                section.items.append([Words(f"({skipped} terms whose factor"), T_k,
                                      Words("or 1 -"), T_k,
                                      Words("is 0 add nothing and are skipped)")])
        else:
            squares = [["(", Num(Y[k]), "-", Num(t[k]), ")", "²"] for k in range(n)]
            section.items.append(Equation(
                Sym("E"), [["½", "Σ_k", "(", Sym("Y", "k"), "-", Sym("T", "k"), ")", "²"],
                           ["½", "(", *_sum(squares, []), ")"]], E))

    def log_of(self, *inner: Token) -> Expr:
        """log(inner + g) with the network's guard g (the book's 1e-7 by default); log(inner)
        when g = 0."""
        if self.guard == 0.0:
            return ["log", "(", *inner, ")"]
        guard = "guard" if self.guard == kernels.LOG_GUARD else Num(self.guard)
        return ["log", "(", *inner, "+", guard, ")"]

    @staticmethod
    def joined(items: list, sep: str) -> Expr:
        out: Expr = []
        for k, item in enumerate(items):
            if k:
                out.append(sep)
            out += item if isinstance(item, list) else [item]
        return out

    # ------------------------------------------------------------------ backward
    def backward(self, section: Section, x: list[float], t: list[float], Z, H, dZ, dH,
                 before: list[list[float]], after: list[list[float]]) -> None:
        L, sizes, N = self.L, self.sizes, self.N
        n = sizes[-1]
        Y = H[L - 1]
        for k in range(n):
            Y_k, T_k = Sym("Y", str(k + 1)), Sym("T", str(k + 1))
            y, target = Num(Y[k]), Num(t[k])
            if self.out == kernels.SIGMOID_SQUARED_ERROR:
                # a_k = (Y_k - T_k) · Y_k · (1 - Y_k) / N
                forms = [["(", Y_k, "-", T_k, ")", "·", Y_k, "·", "(", Num(1.0), "-", Y_k, ")",
                          "/", Sym("N")],
                         ["(", y, "-", target, ")", "·", y, "·", "(", Num(1.0), "-", y, ")", "/",
                          Num(float(N))]]
            else:
                forms = [["(", Y_k, "-", T_k, ")", "/", Sym("N")],
                         ["(", y, "-", target, ")", "/", Num(float(N))]]
            section.items.append(Equation(Sym("a", str(k + 1)), forms, dZ[L - 1][k]))
        for l in range(L, 0, -1):
            inputs = x if l == 1 else H[l - 2]
            self.accumulate(section, l, inputs, dZ[l - 1], before, after)
            if l > 1:
                self.send_back(section, l, dZ[l - 1], dH[l - 2])
                self.gate(section, l - 1, Z[l - 2], H[l - 2], dH[l - 2], dZ[l - 2])

    def accumulate(self, section: Section, l: int, inputs: list[float], dz: list[float],
                   before: list[list[float]], after: list[list[float]]) -> None:
        """ΔB_j += z_j and ΔW_{i,j} += H_i·z_j of layer l, for the neurons in focus."""
        n_in, n_out = self.sizes[l - 1], self.sizes[l]
        if not self.layer_shown(l):
            return
        for j in range(n_out):
            if self.shown(l, j):
                section.items.append(accumulation(
                    "ΔB", str(j + 1), l, before[2 * l - 1][j], [self.back_sym(l, str(j + 1))],
                    [Num(dz[j])], after[2 * l - 1][j]))
        zeros = 0
        for i in range(n_in):
            if inputs[i] == 0.0:
                zeros += 1
                continue
            for j in range(n_out):
                if self.shown(l, j):
                    p = i * n_out + j
                    section.items.append(accumulation(
                        "ΔW", f"{i + 1},{j + 1}", l, before[2 * l - 2][p],
                        [self.value_sym(l - 1, str(i + 1)), "·", self.back_sym(l, str(j + 1))],
                        [Num(inputs[i]), "·", Num(dz[j])], after[2 * l - 2][p]))
        if zeros:
            verb, rows, gain = (("is", "its row", "gains") if zeros == 1 else
                                ("are", "their rows", "gain"))
            section.items.append([
                Words(f"({zeros} of"), self.value_sym(l - 1, "i"),
                Words(f"{verb} 0: the kernel skips {rows} of"), Sym("ΔW", "", l),
                Words(f", which {gain} nothing)")])

    def send_back(self, section: Section, l: int, dz: list[float], dh: list[float]) -> None:
        """h_j = Σ_k W_{j,k}·z_k: what layer l sends back to neuron j of layer l-1."""
        n_in, n_out = self.sizes[l - 1], self.sizes[l]
        W = self.params[2 * l - 2]
        for j in range(n_in):
            if not self.shown(l - 1, j):
                continue
            if n_out <= MAX_LISTED:
                symbolic = self.joined(
                    [[Sym("W", f"{j + 1},{k + 1}", l), "·", self.back_sym(l, str(k + 1))]
                     for k in range(n_out)], "+")
            else:
                symbolic = ["Σ_k", Sym("W", f"{j + 1},k", l), "·", self.back_sym(l, "k")]
            # the kernel adds every term; a term with z_k = 0 adds zero and is only counted
            terms = [[Num(W[j * n_out + k]), "·", Num(dz[k])] for k in range(n_out)
                     if dz[k] != 0.0]
            numbers = _sum(terms, [Num(0.0)])
            zeros = n_out - len(terms)
            if zeros:
                numbers.append(Words(f"[{zeros} term{'s' if zeros > 1 else ''} with "
                                     f"{'a' if l == self.L else 'z'}_k = 0 skipped]"))
            section.items.append(Equation(self.h_sym(l - 1, str(j + 1)), [symbolic, numbers],
                                          dh[j]))

    def gate(self, section: Section, l: int, Z: list[float], H: list[float], dh: list[float],
             dz: list[float]) -> None:
        """z_j from h_j through the activation of hidden layer l."""
        for j in range(self.sizes[l]):
            if not self.shown(l, j):
                continue
            s = str(j + 1)
            h, zs, Hs = self.h_sym(l, s), self.pre_sym(l, s), self.value_sym(l, s)
            if self.act == kernels.RELU:
                forms = [[h, "·", "[", zs, ">", Num(0.0), "]"],
                         [Num(dh[j]), "·", "[", Num(Z[j]), ">", Num(0.0), "]"]]
            elif self.act == kernels.SIGMOID:
                forms = [[h, "·", Hs, "·", "(", Num(1.0), "-", Hs, ")"],
                         [Num(dh[j]), "·", Num(H[j]), "·", "(", Num(1.0), "-", Num(H[j]), ")"]]
            else:
                forms = [[h, "·", "(", Num(1.0), "-", Hs, "²", ")"],
                         [Num(dh[j]), "·", "(", Num(1.0), "-", Num(H[j]), "²", ")"]]
            section.items.append(Equation(self.back_sym(l, s), forms, dz[j]))

    # ------------------------------------------------------------------ after the minibatch
    def decay(self, section: Section, before: list[list[float]], after: list[list[float]]) -> None:
        """ΔW += λ·W, added by the kernel after the whole minibatch."""
        for l in range(1, self.L + 1):
            if not self.layer_shown(l):
                continue
            n_in, n_out = self.sizes[l - 1], self.sizes[l]
            W = self.params[2 * l - 2]
            for i in range(n_in):
                for j in range(n_out):
                    if self.shown(l, j):
                        p = i * n_out + j
                        sub = f"{i + 1},{j + 1}"
                        section.items.append(accumulation(
                            "ΔW", sub, l, before[2 * l - 2][p], ["λ", "·", Sym("W", sub, l)],
                            [Num(self.lam), "·", Num(W[p])], after[2 * l - 2][p]))

    def batch_loss(self, section: Section, losses: list[float], loss: float) -> None:
        N = self.N
        symbolic: Expr = ["1/N", "Σ_n", Sym("E", "n")]
        numbers: Expr = ["(", *self.joined([Num(e) for e in losses], "+"), ")", "/",
                         Num(float(N))]
        if self.lam != 0.0:
            squares = 0.0  # Σ_l Σ W², layer by layer, row-major: the kernel's order
            for l in range(self.L):
                for w in self.params[2 * l]:
                    squares += w * w
            symbolic += ["+", "λ/2", "ΣW²"]
            numbers += ["+", Num(0.5), "·", Num(self.lam), "·", Num(squares)]
        section.items.append(Equation(Sym("L"), [symbolic, numbers], loss))

    def update(self, section: Section, grads: list[list[float]], new: list[list[float]]) -> None:
        """W ← W - η·ΔW and B ← B - η·ΔB (SGD), tensor by tensor like the kernel."""
        for l in range(1, self.L + 1):
            if not self.layer_shown(l):
                continue
            n_in, n_out = self.sizes[l - 1], self.sizes[l]
            W, B = self.params[2 * l - 2], self.params[2 * l - 1]
            unchanged = 0
            for i in range(n_in):
                for j in range(n_out):
                    if not self.shown(l, j):
                        continue
                    p = i * n_out + j
                    if grads[2 * l - 2][p] == 0.0:
                        unchanged += 1
                        continue
                    sub = f"{i + 1},{j + 1}"
                    section.items.append(Equation(
                        Sym("W", sub, l),
                        [[Sym("W", sub, l), "-", "η", "·", Sym("ΔW", sub, l)],
                         [Num(W[p]), "-", Num(self.lr), "·", Num(grads[2 * l - 2][p])]],
                        new[2 * l - 2][p], update=True))
            if unchanged:
                noun, rest = ("weight", "= 0 stays as it is)") if unchanged == 1 else (
                    "weights", "= 0 stay as they are)")
                section.items.append([Words(f"({unchanged} {noun}"), Sym("W", "", l),
                                      Words("with"), Sym("ΔW", "", l), Words(rest)])
            for j in range(n_out):
                if self.shown(l, j):
                    s = str(j + 1)
                    section.items.append(Equation(
                        Sym("B", s, l),
                        [[Sym("B", s, l), "-", "η", "·", Sym("ΔB", s, l)],
                         [Num(B[j]), "-", Num(self.lr), "·", Num(grads[2 * l - 1][j])]],
                        new[2 * l - 1][j], update=True))

    # ------------------------------------------------------------------ driver
    def sections(self, examples: Iterable[Example]) -> Iterator[Section]:
        """Each example's forward and backward sections, as soon as it is traced; then the
        weight decay, the minibatch loss and the update.  Sets `loss`, `gradients` and `updated`
        once the last section has been yielded.

        These are the calls of the kernels' `batch_gradient` (what net.gradient() runs) in its
        order: forward_example, output_loss and backward_example example by example, the loss
        summed as it goes, then λ once; so the results are its bits, while only one example's
        rows and buffers exist at a time.
        """
        sizes, N = self.sizes, self.N
        n_in = sizes[0]
        widths = sizes[1:]
        Z, H, dZ, dH = ([[0.0] * w for w in widths] for _ in range(4))
        active = [0] * max(widths)
        grads = [[0.0] * len(p) for p in self.params]
        losses = array("d")  # E_n, for the minibatch loss line: 8 bytes an example
        total = 0.0
        backend = PythonBackend()
        for n, (x, t, name) in enumerate(examples):
            if n == N:
                raise ShapeError(f"more than the {N} examples announced")
            row_start, input_index, input_value = sparse_input_rows(backend, x, 1, n_in)
            end = row_start[1]
            kernels.forward_example(input_index, input_value, 0, end, self.params, sizes,
                                    self.act, Z, H, active)
            E = kernels.output_loss(self.out, self.guard, Z, H, t, 0, sizes)
            total += E
            losses.append(E)
            before = _copy(grads)
            kernels.backward_example(input_index, input_value, 0, end, t, 0, N, self.params,
                                     grads, sizes, self.act, self.out, Z, H, dZ, dH, active)
            title = f"example {n + 1} of {N}: {name}"
            forward = Section(f"Forward, {title}")
            forward.items.append(self.vector_note(Sym("T"), t))
            self.forward(forward, x, t, Z, H, E)
            yield forward
            backward = Section(f"Backward, {title}")
            self.backward(backward, x, t, Z, H, dZ, dH, before, grads)
            yield backward
        if len(losses) != N:
            raise ShapeError(f"{len(losses)} examples, but {N} were announced")
        loss = total / N
        final = _copy(grads)
        if self.lam != 0.0:
            loss += kernels.weight_decay_term(self.params, self.L, self.lam)
            kernels.weight_decay_gradient(self.params, final, self.L, self.lam)
            decay = Section("Weight decay, added once after the minibatch")
            self.decay(decay, grads, final)
            yield decay
        minibatch = Section("Minibatch loss")
        self.batch_loss(minibatch, losses, loss)
        yield minibatch
        new = _copy(self.params)
        for p in range(len(new)):
            kernels.sgd_update(new[p], final[p], self.lr)
        update = Section("Update (SGD)")
        self.update(update, final, new)
        self.loss, self.gradients, self.updated = loss, final, new
        yield update


def _check_focus(net: MultiLayerNet, lr: float, layer: int | None, neuron: int | None) -> None:
    L = net.n_layers
    if layer is not None and not 1 <= layer <= L:
        raise ConfigError(f"layer must be 1..{L} for sizes {net.sizes}, got {layer}")
    if neuron is not None:
        if layer is None:
            raise ConfigError("--neuron needs --layer")
        if not 1 <= neuron <= net.sizes[layer]:
            raise ConfigError(f"layer {layer} has neurons 1..{net.sizes[layer]}, got {neuron}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ConfigError(f"learning rate must be a positive number, got {lr}")


def _header(net: MultiLayerNet, count: int, lr: float, header: Sequence[str]) -> list[Expr]:
    lines: list[Expr] = [[Words(h)] for h in header]
    hidden = (f"{ACTIVATION_NAMES[net._activation]} hidden layers" if net.n_layers > 1 else
              "no hidden layer")
    lines.append([Words(
        f"sizes {'-'.join(map(str, net.sizes))}, {hidden}, {net.output} output with "
        f"{net.loss_name.replace('_', ' ')}{_guard_words(net)}, N = {count}, η = {lr!r}, "
        f"λ = {net.weight_decay!r}.")])
    lines.append([Words(
        "Indices are 1-based as in the figures:"), Sym("W", "i,j", 1),
        Words("is W1[i-1][j-1] and class c is"), Sym("T", "c+1"),
        Words(". Every result is the value the kernels compute.")])
    return lines


def trace_batch(net: MultiLayerNet, x, t, *, lr: float = 0.1, layer: int | None = None,
                neuron: int | None = None, names: Sequence[str] | None = None,
                header: Sequence[str] = ()) -> Trace:
    """Trace one minibatch through `net` (rows `x`, labels or one-hot rows `t`), then one SGD step.

    `layer` (1..L) and `neuron` (1..width) restrict the per-neuron equations to one layer or
    one neuron; the output layer's softmax, loss and a_k are always shown.  `names` label the
    examples (default "row 1", ...), `header` adds sentences on top.  The network is not
    modified; the update is applied to copies (`Trace.updated`).  The whole trace is kept:
    `trace_text` writes a long one out example by example instead.
    """
    n_in, n_out = net.sizes[0], net.sizes[-1]
    X, count = net.backend.rows(x, n_in, "input")
    if count == 0:
        raise ShapeError("input has no rows")
    T, _ = net._teachers(t, count)
    X, T = net.backend.to_list(X), net.backend.to_list(T)
    _check_focus(net, lr, layer, neuron)
    names = list(names) if names is not None else [f"row {n + 1}" for n in range(count)]
    if len(names) != count:
        raise ConfigError(f"{len(names)} example names for {count} rows")
    examples = [(X[n * n_in:(n + 1) * n_in], T[n * n_out:(n + 1) * n_out], names[n])
                for n in range(count)]
    tracer = _Tracer(net, count, lr, layer, neuron)
    sections = list(tracer.sections(examples))
    return Trace(_header(net, count, lr, header), sections, tracer.loss, tracer.gradients,
                 tracer.updated)


def trace_text(net: MultiLayerNet, examples: Iterable[tuple[Sequence[float], int, str]],
               count: int, *, lr: float = 0.1, layer: int | None = None,
               neuron: int | None = None, header: Sequence[str] = (), fmt: str = "text",
               precision: int = DEFAULT_PRECISION) -> Iterator[str]:
    """`render(trace_batch(...), fmt, precision)` in pieces, each example's as soon as it is
    traced, so memory stays that of one example whatever the minibatch size `count`.

    `examples` yields `count` triples (input row, label, name), read one at a time.  Options
    are checked here, before the first piece; a bad row raises when it is reached.
    """
    _check_format(fmt, precision)
    _check_focus(net, lr, layer, neuron)
    if not (isinstance(count, int) and count >= 1):
        raise ShapeError(f"a minibatch needs at least one example, got {count!r}")
    tracer = _Tracer(net, count, lr, layer, neuron)
    return _chunks(_header(net, count, lr, header),
                   tracer.sections(_checked_examples(net, examples)), fmt, precision)


def _checked_examples(net: MultiLayerNet, examples: Iterable[tuple[Sequence[float], int, str]]
                      ) -> Iterator[Example]:
    """Each (row, label, name) as the tracer's (X, T, name), checked like trace_batch's."""
    for n, (row, label, name) in enumerate(examples):
        try:
            X, _ = net.backend.rows([row], net.sizes[0], "input")
            T, _ = net._teachers([label], 1)
        except (ShapeError, DataError) as exc:
            raise type(exc)(f"example {n + 1} ({name}): {exc}") from None
        yield net.backend.to_list(X), net.backend.to_list(T), name


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
# operator / function name → (text, LaTeX)
_TOKENS = {
    "+": (" + ", " + "), "-": (" - ", " - "), "neg": ("-", "-"), "·": ("·", r" \cdot "),
    "/": (" / ", " / "), "(": ("(", "("), ")": (")", ")"), "[": ("[", r"\left["),
    "]": ("]", r"\right]"), ",": (", ", ", "), ">": (" > ", " > "), "=": (" = ", " = "),
    "²": ("²", "^2"), "½": ("½", r"\tfrac{1}{2}"), "η": ("η", r"\eta"), "λ": ("λ", r"\lambda"),
    "ReLU": ("ReLU", r"\operatorname{ReLU}"), "sigmoid": ("σ", r"\sigma"),
    "tanh": ("tanh", r"\tanh"), "exp": ("exp", r"\exp"), "log": ("log", r"\log"),
    "max": ("max", r"\max"), "max_m": ("max_m ", r"\max_m "), "guard": ("1e-7", "10^{-7}"),
    "Σ_i": ("Σ_i ", r"\sum_i "), "Σ_k": ("Σ_k ", r"\sum_k "), "Σ_m": ("Σ_m ", r"\sum_m "),
    "Σ_n": ("Σ_n ", r"\sum_n "), "1/N": ("(1/N)·", r"\frac{1}{N}"),
    "λ/2": ("(λ/2)·", r"\frac{\lambda}{2}"), "ΣW²": ("Σ W²", r"\sum W^2"),
}
_LATEX_BASES = {"ΔW": r"\Delta W", "ΔB": r"\Delta B"}
# characters of titles and remarks that LaTeX needs spelled out
_LATEX_TEXT = {"#": r"\#", "_": r"\_", "%": r"\%", "&": r"\&", "$": r"\$", "{": r"\{",
               "}": r"\}", "~": r"\~{}", "^": r"\^{}", "\\": r"\textbackslash{}",
               "η": r"$\eta$", "λ": r"$\lambda$", "Δ": r"$\Delta$", "Σ": r"$\Sigma$",
               "σ": r"$\sigma$", "·": r"$\cdot$", "²": r"$^2$", "½": r"$\frac12$"}


def latex_text(text: str) -> str:
    """Plain words made safe for LaTeX text mode."""
    return "".join(_LATEX_TEXT.get(c, c) for c in text)


def format_number(value: float, precision: int) -> str:
    """`precision` significant digits with trailing zeros kept; exact integers as integers."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 1e6:
        return str(int(value))
    return format(value, f"#.{precision}g")


def _sym_text(s: Sym) -> str:
    out = s.base
    if s.sub:
        out += f"_{{{s.sub}}}" if len(s.sub) > 1 and not s.sub.isdigit() else f"_{s.sub}"
    if s.layer is not None:
        out += f"^({s.layer})"
    return out


def _sym_latex(s: Sym) -> str:
    out = _LATEX_BASES.get(s.base, s.base)
    if s.sub:
        out += f"_{{{s.sub}}}"
    if s.layer is not None:
        out += f"^{{({s.layer})}}"
    return out


def _num_latex(text: str) -> str:
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def _expr(expr: Expr, precision: int, latex: bool) -> str:
    out = []
    previous: Token | None = None
    terms = 0
    for tok in expr:
        if isinstance(tok, Sym):
            piece = _sym_latex(tok) if latex else _sym_text(tok)
        elif isinstance(tok, Num):
            piece = format_number(tok.value, precision)
            if latex:
                piece = _num_latex(piece)
            # a negative number right after an operator is parenthesized: 0.5·(-0.2)
            if piece.startswith("-") and previous in ("+", "-", "·", "/", "neg"):
                piece = f"({piece})"
        elif isinstance(tok, Words):
            piece = rf" \text{{ {latex_text(tok.text)} }}" if latex else f" {tok.text}"
        else:
            piece = _TOKENS[tok][1 if latex else 0]
            if latex and tok == "+":
                terms += 1
                if terms % LATEX_TERMS_PER_LINE == 0:
                    piece = r" \\ &\qquad + "
        out.append(piece)
        previous = tok
    return "".join(out)


_SPACE_BEFORE_PUNCTUATION = re.compile(r" ([.,])(?=\s|$)")


def _note(expr: Expr, precision: int, fmt: str) -> str:
    """A note's words and symbols; symbols in $...$ for Markdown/LaTeX."""
    out = []
    for tok in expr:
        if isinstance(tok, Words):
            out.append(latex_text(tok.text) if fmt == "latex" else tok.text)
        elif fmt != "text":
            out.append(f"${_expr([tok], precision, True)}$")
        else:
            out.append(_expr([tok], precision, False))
    # "H ." → "H." at a sentence's end, but "data ../shared" keeps its space
    return _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(out))


def _vector_note(expr: Expr) -> bool:
    return len(expr) > 1 and expr[1] == "="


def _check_format(fmt: str, precision: int) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    if not (isinstance(precision, int) and 1 <= precision <= 17):
        raise ConfigError(f"precision must be 1..17 significant digits, got {precision!r}")


def render(trace: Trace, fmt: str = "text", precision: int = DEFAULT_PRECISION) -> str:
    """The trace as `fmt` ("text", "markdown" or "latex") with `precision` significant digits."""
    _check_format(fmt, precision)
    return "".join(_chunks(trace.header, trace.sections, fmt, precision))


def _chunks(header: list[Expr], sections: Iterable[Section], fmt: str,
            precision: int) -> Iterator[str]:
    """The rendered text in pieces: the opening, then one piece per section as it arrives.

    The pieces join to the groups' lines joined by newlines, with the trailing blank lines
    dropped and one final newline; a run of newlines is held back until text follows it.
    """
    held = ""
    for k, lines in enumerate(_line_groups(header, sections, fmt, precision)):
        piece = held + ("\n" if k else "") + "\n".join(lines)
        text = piece.rstrip("\n")
        held = piece[len(text):]
        if text:
            yield text
    yield "\n"


def _line_groups(header: list[Expr], sections: Iterable[Section], fmt: str,
                 precision: int) -> Iterator[list[str]]:
    """The lines of the opening (document preamble, header sentences), of each section, and of
    the closing (LaTeX only)."""
    latex = fmt != "text"
    stated = [Words(f"Numbers have {precision} significant digits (exact integers are "
                    "printed as integers).")]
    lines: list[str] = []
    if fmt == "latex":
        lines += [r"\documentclass{article}", r"\usepackage{amsmath}",
                  r"\usepackage[margin=2cm]{geometry}", r"\allowdisplaybreaks",
                  r"\begin{document}", r"\section*{loopnet trace}"]
    elif fmt == "markdown":
        lines += ["# loopnet trace", ""]
    for h in [*header, stated]:
        lines.append(_note(h, precision, fmt))
        if latex:
            lines.append("")
    yield lines
    for section in sections:
        if fmt == "text":
            lines = ["", f"== {section.title} =="]
        elif fmt == "markdown":
            lines = [f"## {section.title}", ""]
        else:
            lines = [rf"\subsection*{{{latex_text(section.title)}}}", ""]
        for item in section.items:
            if isinstance(item, Equation):
                lines.append(_equation(item, fmt, precision))
            elif _vector_note(item):
                text = _expr(item, precision, latex)
                lines.append(f"$${text}$$" if fmt == "markdown" else
                             rf"\[ {text} \]" if fmt == "latex" else text)
            else:
                lines.append(_note(item, precision, fmt))
            if latex:
                lines.append("")
        yield lines
    if fmt == "latex":
        yield [r"\end{document}"]


def _equation(eq: Equation, fmt: str, precision: int) -> str:
    forms = [*eq.forms, [Num(eq.value)]]
    if fmt == "text":
        arrow = " ← " if eq.update else " = "
        return _sym_text(eq.lhs) + arrow + " = ".join(_expr(f, precision, False) for f in forms)
    arrow = r" &\leftarrow " if eq.update else " &= "
    rows = [_sym_latex(eq.lhs) + arrow + _expr(forms[0], precision, True)]
    rows += ["&= " + _expr(f, precision, True) for f in forms[1:]]
    body = " \\\\\n".join(rows)
    if fmt == "markdown":
        return f"$$\n\\begin{{aligned}}\n{body}\n\\end{{aligned}}\n$$"
    return f"\\begin{{align*}}\n{body}\n\\end{{align*}}"
