// Equations in loopnet trace's symbols and text format (loopnet/trace.py), built from the
// page's numbers.  An expression is a list of tokens: sym(base, sub, layer), num(value),
// words(text) or an operator name from TOKENS; `equationText` prints one the way
// `loopnet trace` does, and `equationHtml` the same text with sub- and superscripts.
"use strict";

const equations = (function () {
  const MAX_LISTED = 8; // symbolic sums with more terms than this are written with Σ
  const TOKENS = {
    "+": " + ", "-": " - ", "neg": "-", "·": "·", "/": " / ", "(": "(", ")": ")", "[": "[",
    "]": "]", ",": ", ", ">": " > ", "=": " = ", "²": "²", "½": "½", "η": "η", "λ": "λ",
    "ReLU": "ReLU", "sigmoid": "σ", "tanh": "tanh", "exp": "exp", "log": "log", "max": "max",
    "max_m": "max_m ", "guard": "1e-7", "Σ_i": "Σ_i ", "Σ_k": "Σ_k ", "Σ_m": "Σ_m ",
    "Σ_n": "Σ_n ", "1/N": "(1/N)·", "λ/2": "(λ/2)·", "ΣW²": "Σ W²",
  };
  const ACTIVATION_NAMES = ["ReLU", "sigmoid", "tanh"];

  const sym = (base, sub = "", layer = null) => ({ kind: "sym", base, sub, layer });
  const num = (value) => ({ kind: "num", value });
  const words = (text) => ({ kind: "words", text });

  // Python's format(value, "#.<p>g"): p significant digits, trailing zeros and point kept,
  // rounded half to even on the exact binary value, exponent of at least two digits.
  function pythonG(value, p) {
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    const sign = value < 0 || Object.is(value, -0) ? "-" : "";
    const [mantissa, exp] = Math.abs(value).toExponential(100).split("e");
    const exact = mantissa.replace(".", ""); // 101 digits: exact for the values shown here
    let digits = exact.slice(0, p).split("").map(Number);
    let e = parseInt(exp, 10);
    const rest = exact.slice(p);
    const half = rest[0] === "5" && /^0*$/.test(rest.slice(1));
    if (rest[0] > "5" || (rest[0] === "5" && !half) || (half && digits[p - 1] % 2 === 1)) {
      let k = p - 1;
      while (k >= 0 && digits[k] === 9) { digits[k] = 0; k--; }
      if (k >= 0) digits[k] += 1;
      else { digits = [1, ...digits.slice(0, p - 1)]; e += 1; }
    }
    const d = digits.join("");
    if (e >= -4 && e < p) {
      if (e >= 0) return sign + d.slice(0, e + 1) + "." + d.slice(e + 1);
      return sign + "0." + "0".repeat(-e - 1) + d;
    }
    const ee = Math.abs(e) < 10 ? "0" + Math.abs(e) : String(Math.abs(e));
    return sign + d[0] + "." + d.slice(1) + "e" + (e < 0 ? "-" : "+") + ee;
  }

  function formatNumber(value, precision) {
    // trace.format_number: exact integers as integers, else `precision` significant digits
    if (Number.isFinite(value) && Number.isInteger(value) && Math.abs(value) < 1e6) {
      return String(value === 0 ? 0 : value);
    }
    return pythonG(value, precision);
  }

  function symText(s) {
    let out = s.base;
    if (s.sub) out += s.sub.length > 1 && !/^[0-9]+$/.test(s.sub) ? `_{${s.sub}}` : `_${s.sub}`;
    if (s.layer !== null) out += `^(${s.layer})`;
    return out;
  }

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function symHtml(s) {
    let out = escapeHtml(s.base);
    if (s.sub) out += `<sub>${escapeHtml(s.sub)}</sub>`;
    if (s.layer !== null) out += `<sup>(${s.layer})</sup>`;
    return `<var>${out}</var>`;
  }

  // one expression as text (html = false) or HTML, with trace's rules
  function expr(tokens, precision, html) {
    let out = "";
    let previous = null;
    for (const tok of tokens) {
      let piece;
      if (tok.kind === "sym") {
        piece = html ? symHtml(tok) : symText(tok);
      } else if (tok.kind === "num") {
        piece = formatNumber(tok.value, precision);
        // a negative number right after an operator is parenthesized: 0.5·(-0.2)
        if (piece.startsWith("-") && ["+", "-", "·", "/", "neg"].includes(previous)) {
          piece = `(${piece})`;
        }
        if (html) piece = `<span class="num">${piece}</span>`;
      } else if (tok.kind === "words") {
        piece = html ? ` <span class="words">${escapeHtml(tok.text)}</span>` : ` ${tok.text}`;
      } else {
        piece = html ? escapeHtml(TOKENS[tok]) : TOKENS[tok];
      }
      out += piece;
      previous = tok.kind ? null : tok;
    }
    return out;
  }

  // lhs = form_1 = ... = value  (← for updates)
  const equation = (lhs, forms, value, update = false) => ({ lhs, forms, value, update });

  function equationText(eq, precision) {
    const forms = [...eq.forms, [num(eq.value)]];
    return symText(eq.lhs) + (eq.update ? " ← " : " = ") +
      forms.map((f) => expr(f, precision, false)).join(" = ");
  }

  function equationHtml(eq, precision) {
    const forms = [...eq.forms, [num(eq.value)]];
    return symHtml(eq.lhs) + (eq.update ? " ← " : " = ") +
      forms.map((f) => expr(f, precision, true)).join(" = ");
  }

  function noteText(tokens, precision) {
    return tokens.map((t) => (t.kind === "words" ? t.text : expr([t], precision, false)))
      .join(" ").replace(/ \./g, ".").replace(/ ,/g, ",");
  }

  function joined(items, sep) {
    const out = [];
    items.forEach((item, k) => {
      if (k) out.push(sep);
      if (Array.isArray(item)) out.push(...item); else out.push(item);
    });
    return out;
  }

  function sum(terms, empty) {
    return terms.length ? joined(terms, "+") : [...empty];
  }

  // The equations of one neuron, as trace.py's _Tracer writes them.  `net`: sizes, L,
  // activation, output, params (the weights the example ran with); `ex`: the example's X, T
  // (its teacher row), Z, H, dZ, dH, E, N and the gradients before and after it.
  class Writer {
    constructor(net) {
      this.net = net;
      this.L = net.sizes.length - 1;
      this.tagged = this.L > 2; // hidden symbols get ^(l) only with several hidden layers
    }

    valueSym(l, j) {
      if (l === 0) return sym("X", j);
      if (l === this.L) return sym("A", j);
      return sym("H", j, this.tagged ? l : null);
    }

    preSym(l, j) { return l === this.L ? sym("A", j) : sym("Z", j, this.tagged ? l : null); }

    backSym(l, j) { return l === this.L ? sym("a", j) : sym("z", j, this.tagged ? l : null); }

    hSym(l, j) { return sym("h", j, this.tagged ? l : null); }

    affineSymbolic(l, j) {
      const n_in = this.net.sizes[l - 1];
      const out = [sym("B", String(j + 1), l)];
      if (n_in <= MAX_LISTED) {
        for (let i = 0; i < n_in; i++) {
          out.push("+", this.valueSym(l - 1, String(i + 1)), "·", sym("W", `${i + 1},${j + 1}`, l));
        }
      } else {
        out.push("+", "Σ_i", this.valueSym(l - 1, "i"), "·", sym("W", `i,${j + 1}`, l));
      }
      return out;
    }

    affineNumbers(l, j, x) {
      // B_j + x_i·W_{i,j} in the kernel's order; zero inputs (skipped by the kernel) counted
      const n_in = this.net.sizes[l - 1], n_out = this.net.sizes[l];
      const W = this.net.params[2 * l - 2], B = this.net.params[2 * l - 1];
      const terms = [[num(B[j])]];
      for (let i = 0; i < n_in; i++) if (x[i] !== 0) terms.push([num(x[i]), "·", num(W[i * n_out + j])]);
      const out = sum(terms, []);
      const zeros = n_in - (terms.length - 1);
      if (zeros) out.push(words(`[${zeros} ${zeros === 1 ? "input" : "inputs"} = 0 skipped]`));
      return out;
    }

    inputsOf(l, ex) { return l === 1 ? ex.X : ex.H[l - 2]; }

    // forward: H_j = f(Z_j) = f(B_j + ...) = ..., or A_k = B_k + ... for the output layer
    forward(l, j, ex) {
      const s = String(j + 1);
      const symbolic = this.affineSymbolic(l, j);
      const numbers = this.affineNumbers(l, j, this.inputsOf(l, ex));
      if (l === this.L) return [equation(this.preSym(l, s), [symbolic, numbers], ex.Z[l - 1][j])];
      const f = ACTIVATION_NAMES[this.net.activation];
      return [equation(this.valueSym(l, s), [[f, "(", this.preSym(l, s), ")"],
        [f, "(", ...symbolic, ")"], [f, "(", ...numbers, ")"], [f, "(", num(ex.Z[l - 1][j]), ")"]],
      ex.H[l - 1][j])];
    }

    // log(inner + g) with the network's guard g (the book's 1e-7 written 1e-7); log(inner) when g = 0
    logOf(...inner) {
      const g = this.net.log_guard;
      if (g === 0) return ["log", "(", ...inner, ")"];
      return ["log", "(", ...inner, "+", g === kernels.LOG_GUARD ? "guard" : num(g), ")"];
    }

    // terms that each begin with "-", joined; the first minus printed as a sign (0 if none)
    static negatedSum(terms) {
      const numbers = terms.length ? terms.flat() : [num(0.0)];
      if (numbers[0] === "-") numbers[0] = "neg";
      return numbers;
    }

    // the output of class k: softmax's M, S, Y_k and the loss E; or Y_k = σ(A_k) or A_k and E
    output(k, ex) {
      const n = this.net.sizes[this.L];
      const A = ex.Z[this.L - 1], Y = ex.H[this.L - 1], t = ex.T;
      const out = [];
      const s = String(k + 1);
      const code = this.net.output;
      if (code === kernels.SOFTMAX) {
        let M = A[0];
        for (let m = 1; m < n; m++) if (A[m] > M) M = A[m];
        const exps = Array.from(A, (a) => Math.exp(a - M));
        let S = 0.0;
        for (const v of exps) S += v;
        out.push(equation(sym("M"), [["max_m", sym("A", "m")],
          ["max", "(", ...joined(Array.from(A, (a) => num(a)), ","), ")"]], M));
        out.push(equation(sym("S"), [["Σ_m", "exp", "(", sym("A", "m"), "-", sym("M"), ")"],
          joined(Array.from(A, (a) => ["exp", "(", num(a), "-", num(M), ")"]), "+"),
          joined(exps.map((v) => num(v)), "+")], S));
        out.push(equation(sym("Y", s), [["exp", "(", sym("A", s), "-", sym("M"), ")", "/", sym("S")],
          ["exp", "(", num(A[k]), "-", num(M), ")", "/", num(S)], [num(exps[k]), "/", num(S)]], Y[k]));
        const terms = [];
        for (let m = 0; m < n; m++) if (t[m] !== 0) terms.push(["-", num(t[m]), "·", ...this.logOf(num(Y[m]))]);
        out.push(equation(sym("E"), [["neg", "Σ_k", sym("T", "k"), "·", ...this.logOf(sym("Y", "k"))],
          Writer.negatedSum(terms)], ex.E));
        return out;
      }
      const sigmoid = code === kernels.SIGMOID_CROSS_ENTROPY || code === kernels.SIGMOID_SQUARED_ERROR;
      out.push(equation(sym("Y", s), sigmoid ? [["sigmoid", "(", sym("A", s), ")"],
        ["sigmoid", "(", num(A[k]), ")"]] : [[sym("A", s)]], Y[k]));
      if (code === kernels.SIGMOID_CROSS_ENTROPY) {
        // the kernel's order: for each k the T_k term, then the (1 - T_k) term, each skipped
        // when its factor is 0
        const terms = [];
        for (let m = 0; m < n; m++) {
          if (t[m] !== 0) terms.push(["-", num(t[m]), "·", ...this.logOf(num(Y[m]))]);
          if (t[m] !== 1) terms.push(["-", "(", num(1.0), "-", num(t[m]), ")", "·", ...this.logOf(num(1.0), "-", num(Y[m]))]);
        }
        const T_k = sym("T", "k"), Y_k = sym("Y", "k");
        out.push(equation(sym("E"), [["neg", "Σ_k", "[", T_k, "·", ...this.logOf(Y_k), "+", "(", num(1.0),
          "-", T_k, ")", "·", ...this.logOf(num(1.0), "-", Y_k), "]"], Writer.negatedSum(terms)], ex.E));
      } else {
        const squares = Array.from(Y, (y, m) => ["(", num(y), "-", num(t[m]), ")", "²"]);
        out.push(equation(sym("E"), [["½", "Σ_k", "(", sym("Y", "k"), "-", sym("T", "k"), ")", "²"],
          ["½", "(", ...sum(squares, []), ")"]], ex.E));
      }
      return out;
    }

    // a_k = (Y_k - T_k) / N, or (Y_k - T_k) · Y_k · (1 - Y_k) / N for sigmoid + squared error
    outputBackward(k, ex) {
      const s = String(k + 1);
      const Y_k = sym("Y", s), T_k = sym("T", s);
      const y = num(ex.H[this.L - 1][k]), t = num(ex.T[k]);
      const forms = this.net.output === kernels.SIGMOID_SQUARED_ERROR
        ? [["(", Y_k, "-", T_k, ")", "·", Y_k, "·", "(", num(1.0), "-", Y_k, ")", "/", sym("N")],
          ["(", y, "-", t, ")", "·", y, "·", "(", num(1.0), "-", y, ")", "/", num(ex.N)]]
        : [["(", Y_k, "-", T_k, ")", "/", sym("N")], ["(", y, "-", t, ")", "/", num(ex.N)]];
      return [equation(sym("a", s), forms, ex.dZ[this.L - 1][k])];
    }

    // h_j = Σ_k W_{j,k}·z_k: what layer l + 1 sends back to neuron j of layer l
    sendBack(l, j, ex) {
      const up = l + 1;
      const n_out = this.net.sizes[up];
      const W = this.net.params[2 * up - 2], dz = ex.dZ[up - 1];
      let symbolic;
      if (n_out <= MAX_LISTED) {
        symbolic = joined(Array.from({ length: n_out }, (_, k) =>
          [sym("W", `${j + 1},${k + 1}`, up), "·", this.backSym(up, String(k + 1))]), "+");
      } else {
        symbolic = ["Σ_k", sym("W", `${j + 1},k`, up), "·", this.backSym(up, "k")];
      }
      const terms = [];
      for (let k = 0; k < n_out; k++) if (dz[k] !== 0) terms.push([num(W[j * n_out + k]), "·", num(dz[k])]);
      const numbers = sum(terms, [num(0.0)]);
      const zeros = n_out - terms.length;
      if (zeros) {
        numbers.push(words(`[${zeros} term${zeros > 1 ? "s" : ""} with ` +
          `${up === this.L ? "a" : "z"}_k = 0 skipped]`));
      }
      return [equation(this.hSym(l, String(j + 1)), [symbolic, numbers], ex.dH[l - 1][j])];
    }

    // z_j from h_j through the activation of hidden layer l
    gate(l, j, ex) {
      const s = String(j + 1);
      const h = this.hSym(l, s), zs = this.preSym(l, s), Hs = this.valueSym(l, s);
      const dh = ex.dH[l - 1][j], Z = ex.Z[l - 1][j], H = ex.H[l - 1][j];
      let forms;
      if (this.net.activation === kernels.RELU) {
        forms = [[h, "·", "[", zs, ">", num(0.0), "]"], [num(dh), "·", "[", num(Z), ">", num(0.0), "]"]];
      } else if (this.net.activation === kernels.SIGMOID) {
        forms = [[h, "·", Hs, "·", "(", num(1.0), "-", Hs, ")"],
          [num(dh), "·", num(H), "·", "(", num(1.0), "-", num(H), ")"]];
      } else {
        forms = [[h, "·", "(", num(1.0), "-", Hs, "²", ")"], [num(dh), "·", "(", num(1.0), "-", num(H), "²", ")"]];
      }
      return [equation(this.backSym(l, s), forms, ex.dZ[l - 1][j])];
    }

    // ΔB_j += z_j and ΔW_{i,j} += H_i·z_j of neuron j of layer l; and the note on zero inputs
    accumulate(l, j, ex) {
      const n_in = this.net.sizes[l - 1], n_out = this.net.sizes[l];
      const x = this.inputsOf(l, ex), dz = ex.dZ[l - 1];
      const s = String(j + 1);
      const acc = (name, sub, old, termSyms, termNums, value) => {
        const lhs = sym(name, sub, l);
        return equation(lhs, [[lhs, "+", ...termSyms], [num(old), "+", ...termNums]], value, true);
      };
      const out = [acc("ΔB", s, ex.before[2 * l - 1][j], [this.backSym(l, s)], [num(dz[j])],
        ex.after[2 * l - 1][j])];
      let zeros = 0;
      for (let i = 0; i < n_in; i++) {
        if (x[i] === 0) { zeros++; continue; }
        const p = i * n_out + j;
        out.push(acc("ΔW", `${i + 1},${j + 1}`, ex.before[2 * l - 2][p],
          [this.valueSym(l - 1, String(i + 1)), "·", this.backSym(l, s)], [num(x[i]), "·", num(dz[j])],
          ex.after[2 * l - 2][p]));
      }
      const notes = [];
      if (zeros) {
        const [verb, rows, gain] = zeros === 1 ? ["is", "its row", "gains"] : ["are", "their rows", "gain"];
        notes.push([words(`(${zeros} of`), this.valueSym(l - 1, "i"),
          words(`${verb} 0: the kernel skips ${rows} of`), sym("ΔW", "", l), words(`, which ${gain} nothing)`)]);
      }
      return { equations: out, notes };
    }

    // ΔW_{i,j} += λ·W_{i,j} of neuron j of layer l, added once after the minibatch
    decay(l, j, before, after, lambda) {
      const n_in = this.net.sizes[l - 1], n_out = this.net.sizes[l];
      const W = this.net.params[2 * l - 2];
      const out = [];
      for (let i = 0; i < n_in; i++) {
        const p = i * n_out + j;
        const sub = `${i + 1},${j + 1}`;
        const lhs = sym("ΔW", sub, l);
        out.push(equation(lhs, [[lhs, "+", "λ", "·", sym("W", sub, l)],
          [num(before[2 * l - 2][p]), "+", num(lambda), "·", num(W[p])]], after[2 * l - 2][p], true));
      }
      return out;
    }

    // L = (1/N) Σ_n E_n (+ (λ/2) Σ W², summed layer by layer, row-major: the kernel's order)
    batchLoss(losses, loss, lambda) {
      const symbolic = ["1/N", "Σ_n", sym("E", "n")];
      const numbers = ["(", ...joined(losses.map((e) => num(e)), "+"), ")", "/", num(losses.length)];
      if (lambda !== 0) {
        let squares = 0.0;
        for (let l = 0; l < this.L; l++) for (const w of this.net.params[2 * l]) squares += w * w;
        symbolic.push("+", "λ/2", "ΣW²");
        numbers.push("+", num(0.5), "·", num(lambda), "·", num(squares));
      }
      return equation(sym("L"), [symbolic, numbers], loss);
    }

    // W ← W - η·ΔW and B ← B - η·ΔB of neuron j of layer l (the minibatch's gradient)
    update(l, j, grads, updated, lr) {
      const n_in = this.net.sizes[l - 1], n_out = this.net.sizes[l];
      const W = this.net.params[2 * l - 2], B = this.net.params[2 * l - 1];
      const out = [];
      for (let i = 0; i < n_in; i++) {
        const p = i * n_out + j;
        if (grads[2 * l - 2][p] === 0) continue;
        const sub = `${i + 1},${j + 1}`;
        out.push(equation(sym("W", sub, l), [[sym("W", sub, l), "-", "η", "·", sym("ΔW", sub, l)],
          [num(W[p]), "-", num(lr), "·", num(grads[2 * l - 2][p])]], updated[2 * l - 2][p], true));
      }
      const s = String(j + 1);
      out.push(equation(sym("B", s, l), [[sym("B", s, l), "-", "η", "·", sym("ΔB", s, l)],
        [num(B[j]), "-", num(lr), "·", num(grads[2 * l - 1][j])]], updated[2 * l - 1][j], true));
      return out;
    }
  }

  return { sym, num, words, formatNumber, pythonG, symText, symHtml, expr, equation, equationText,
    equationHtml, noteText, Writer, MAX_LISTED };
})();
