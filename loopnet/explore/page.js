// The explorer page: draws the network, shows a neuron's equations with the numbers of the
// current example, steps through the minibatch, applies updates and recomputes after edits.
// All numbers come from `kernels` (kernels.js); `equations` (equations.js) writes them out.
"use strict";

(function () {
  const started = performance.now();
  const data = JSON.parse(document.getElementById("loopnet-data").textContent);
  const PRECISION = 4; // significant digits, as loopnet trace prints by default
  const SVG_W = 640, SVG_H = 520, MARGIN = 40;
  const MAX_CIRCLE_LABELS = 16; // wider layers get no X_i / H_j labels
  const MAX_LINES = 300; // per layer: only the largest |W| are drawn in wider layers
  const MAX_HIGHLIGHT = 160; // a neuron's used connections drawn when highlighted
  const LISTED_ACCUMULATIONS = 12; // ΔW lines listed before "show all"
  const POSITIVE = "#2563eb", NEGATIVE = "#dc2626";

  const sizes = data.sizes;
  const L = sizes.length - 1;
  const net = {
    sizes, activation: data.activation, output: data.output, log_guard: data.log_guard,
    params: data.params.map((p) => Float64Array.from(p)),
  };
  const initialParams = net.params.map((p) => Float64Array.from(p));
  const N = data.labels.length;
  const probabilities = data.output !== kernels.IDENTITY; // softmax and sigmoid outputs are in 0..1
  const X = Float64Array.from(data.X);
  const T = Float64Array.from(data.T);
  const side = data.image_side; // 28 for MNIST-sized inputs, else null
  const big = side !== null;
  const buffers = () => sizes.slice(1).map((n) => new Float64Array(n));
  const work = { Z: buffers(), H: buffers(), dZ: buffers(), dH: buffers() };
  const state = { example: 0, selected: null, lr: data.lr, losses: [], steps: 0, showAll: false,
    running: false };
  let view = null;
  let version = 0; // bumped whenever a parameter changes: the drawings of W are redone then
  const drawn = { connections: null, weights: null, version: -1 };

  const $ = (id) => document.getElementById(id);
  const copy = (list) => list.map((b) => Float64Array.from(b));

  function sparseRows() {
    const n_in = sizes[0];
    const rows = [new Int32Array(N + 1), new Int32Array(N * n_in + 1), new Float64Array(N * n_in + 1)];
    kernels.sparse_rows(X, N, n_in, ...rows);
    return rows;
  }

  // Every value the page shows: example `state.example`'s forward and backward pass (with the
  // running ΔW, ΔB before and after it), the loss of each example, and the minibatch's gradient.
  function compute() {
    const [row_start, input_index, input_value] = sparseRows();
    const n_out = sizes[L];
    const grads = net.params.map((p) => new Float64Array(p.length));
    const losses = [];
    const { Z, H, dZ, dH } = work;
    let ex = null;
    for (let n = 0; n < N; n++) {
      const first = row_start[n], end = row_start[n + 1];
      kernels.forward_example(input_index, input_value, first, end, net.params, sizes,
                              net.activation, Z, H);
      const E = kernels.output_loss(net.output, data.log_guard, Z, H, T, n * n_out, sizes);
      losses.push(E);
      if (n > state.example) continue;
      const before = n === state.example ? copy(grads) : null;
      kernels.backward_example(input_index, input_value, first, end, T, n * n_out, N, net.params,
                               grads, sizes, net.activation, net.output, Z, H, dZ, dH);
      if (n === state.example) {
        ex = { X: X.subarray(n * sizes[0], (n + 1) * sizes[0]), T: T.subarray(n * n_out, (n + 1) * n_out),
          Z: copy(Z), H: copy(H), dZ: copy(dZ), dH: copy(dH), E, N, before, after: copy(grads) };
      }
    }
    // the official minibatch result: one batch_gradient call, as net.gradient() runs it
    const batchGrads = net.params.map((p) => new Float64Array(p.length));
    const loss = kernels.batch_gradient(row_start, input_index, input_value, T, N, net.params,
      batchGrads, sizes, net.activation, net.output, data.log_guard, data.weight_decay, Z, H, dZ, dH);
    let accumulated = null; // ΔW, ΔB over the minibatch before λ·W is added
    if (data.weight_decay !== 0) {
      accumulated = net.params.map((p) => new Float64Array(p.length));
      kernels.batch_gradient(row_start, input_index, input_value, T, N, net.params, accumulated,
        sizes, net.activation, net.output, data.log_guard, 0.0, Z, H, dZ, dH);
    }
    const updated = copy(net.params);
    for (let p = 0; p < updated.length; p++) kernels.sgd_update(updated[p], batchGrads[p], state.lr);
    view = { ex, losses, loss, batchGrads, accumulated, updated };
  }

  // ------------------------------------------------------------------------------ drawing
  const IMAGE_PX = 7; // screen pixels per input pixel in the 28×28 input image
  function imageOrigin() { return [MARGIN - 20, SVG_H / 2 - (side * IMAGE_PX) / 2]; }

  // x of layer l's column: inputs on the left (as an image when big), outputs before the bars
  function columnX(l) {
    const right = SVG_W - MARGIN - 120;
    if (!big) return MARGIN + (l * (right - MARGIN)) / L;
    const first = imageOrigin()[0] + side * IMAGE_PX + 80;
    return L === 1 ? right : first + ((l - 1) * (right - first)) / (L - 1);
  }

  function neuronY(l, j) {
    const top = 30, bottom = 30;
    return top + ((j + 0.5) * (SVG_H - top - bottom)) / sizes[l];
  }

  function position(l, j) {
    if (l === 0 && big) {
      const [x0, y0] = imageOrigin();
      return [x0 + (j % side) * IMAGE_PX + IMAGE_PX / 2, y0 + Math.floor(j / side) * IMAGE_PX + IMAGE_PX / 2];
    }
    return [columnX(l), neuronY(l, j)];
  }

  function radius(l) {
    const spacing = (SVG_H - 60) / sizes[l];
    return Math.max(1.5, Math.min(16, spacing * 0.38));
  }

  function name(l, j) {
    const w = new equations.Writer(net);
    return equations.symText(w.valueSym(l, String(j + 1)));
  }

  // the connections of layer l worth drawing: all of them, or the MAX_LINES largest |W|
  function drawnConnections(l) {
    const W = net.params[2 * l - 2];
    const all = [];
    if (W.length <= MAX_LINES) {
      for (let p = 0; p < W.length; p++) all.push(p);
      return all;
    }
    const magnitudes = Float64Array.from(W, Math.abs).sort(); // a typed array sorts by value
    const threshold = magnitudes[W.length - MAX_LINES];
    for (let p = 0; p < W.length && all.length < MAX_LINES; p++) if (Math.abs(W[p]) >= threshold) all.push(p);
    return all;
  }

  function line(l, i, j, cls, w, colour, opacity) {
    const [x1, y1] = position(l - 1, i), [x2, y2] = position(l, j);
    return `<line class="${cls}" x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" ` +
      `y2="${y2.toFixed(1)}" stroke="${colour}" stroke-width="${w.toFixed(2)}" stroke-opacity="${opacity.toFixed(2)}"/>`;
  }

  function connectionsSvg() {
    if (drawn.version === version && drawn.connections !== null) return drawn.connections;
    let out = "";
    for (let l = 1; l <= L; l++) {
      const W = net.params[2 * l - 2], n_out = sizes[l];
      let top = 1e-12;
      for (let p = 0; p < W.length; p++) top = Math.max(top, Math.abs(W[p]));
      for (const p of drawnConnections(l)) {
        const f = Math.abs(W[p]) / top;
        out += line(l, Math.floor(p / n_out), p % n_out, "conn", 0.4 + 3.2 * f,
          W[p] >= 0 ? POSITIVE : NEGATIVE, 0.15 + 0.6 * f);
      }
    }
    drawn.connections = out;
    return out;
  }

  // the connections the selected neuron's equations use: incoming (forward, ΔW) and
  // outgoing (the h sent back)
  function highlightSvg(sel) {
    if (!sel) return "";
    let out = "";
    const { l, j } = sel;
    if (l >= 1) {
      const x = l === 1 ? view.ex.X : view.ex.H[l - 2];
      const W = net.params[2 * l - 2], n_out = sizes[l];
      let used = [];
      for (let i = 0; i < sizes[l - 1]; i++) if (x[i] !== 0) used.push(i);
      if (used.length > MAX_HIGHLIGHT) {
        used.sort((a, b) => Math.abs(x[b] * W[b * n_out + j]) - Math.abs(x[a] * W[a * n_out + j]));
        used = used.slice(0, MAX_HIGHLIGHT);
      }
      const thin = big && l === 1; // from the pixels of the image: thin, not to hide the digit
      for (const i of used) out += line(l, i, j, "used in", thin ? 0.8 : 2.2, "#f59e0b", thin ? 0.45 : 0.9);
    }
    if (l < L) {
      for (let k = 0; k < sizes[l + 1]; k++) out += line(l + 1, j, k, "used out", 1.8, "#7c3aed", 0.8);
    }
    return out;
  }

  // a neuron's colour: white at 0, orange for positive values, blue for negative ones
  function fill(value, top) {
    const f = Math.min(1, Math.abs(value) / (top || 1));
    const mix = (a, b) => Math.round(a + (b - a) * f);
    return value >= 0 ? `rgb(255,${mix(255, 140)},${mix(255, 30)})` : `rgb(${mix(255, 90)},${mix(255, 130)},255)`;
  }

  function neuronsSvg() {
    let out = "";
    for (let l = 0; l <= L; l++) {
      if (l === 0 && big) continue;
      const values = l === 0 ? view.ex.X : l === L ? view.ex.H[L - 1] : view.ex.H[l - 1];
      let top = 1e-12;
      for (const v of values) top = Math.max(top, Math.abs(v));
      if (l === L && probabilities) top = 1;
      const r = radius(l);
      for (let j = 0; j < sizes[l]; j++) {
        const [x, y] = position(l, j);
        const selected = state.selected && state.selected.l === l && state.selected.j === j;
        out += `<circle class="neuron${selected ? " selected" : ""}" data-l="${l}" data-j="${j}" ` +
          `id="neuron-${l}-${j}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r.toFixed(1)}" ` +
          `fill="${fill(values[j], top)}"/>`;
        if (sizes[l] <= MAX_CIRCLE_LABELS) {
          const base = l === 0 ? "X" : l === L ? "A" : "H";
          out += `<text class="label" x="${x.toFixed(1)}" y="${(y + 4).toFixed(1)}">${base}<tspan class="sub" dy="3">${j + 1}</tspan></text>`;
          const shown = l === L ? view.ex.Z[L - 1][j] : values[j]; // the score A under an output
          // under the circle; an output's score A to its left (the outputs stand close together)
          const [vx, vy, anchor] = l === L ? [x - r - 3, y + 3, "end"] : [x, y + r + 12, "middle"];
          out += `<text class="value" x="${vx.toFixed(1)}" y="${vy.toFixed(1)}" text-anchor="${anchor}">` +
            `${equations.formatNumber(shown, 3)}</text>`;
        }
      }
      const [lx] = position(l, 0);
      const title = l === 0 ? "X (input)" : l === L ? "A → Y (output)" : `H${L > 2 ? `^(${l})` : ""} (hidden)`;
      out += `<text class="layer-title" x="${lx.toFixed(1)}" y="16">${title}</text>`;
    }
    return out;
  }

  function outputBarsSvg() {
    const Y = view.ex.H[L - 1];
    let top = probabilities ? 1 : 1e-12;
    if (!probabilities) for (const y of Y) top = Math.max(top, Math.abs(y));
    let out = "";
    let best = 0;
    for (let k = 1; k < Y.length; k++) if (view.ex.Z[L - 1][k] > view.ex.Z[L - 1][best]) best = k;
    for (let k = 0; k < Y.length; k++) {
      const [x, y] = position(L, k);
      const w = (70 * Math.abs(Y[k])) / top;
      const teacher = view.ex.T[k] !== 0;
      out += `<rect class="bar${k === best ? " best" : ""}" x="${(x + radius(L) + 6).toFixed(1)}" ` +
        `y="${(y - 5).toFixed(1)}" width="${w.toFixed(1)}" height="10"/>` +
        `<text class="bar-label${teacher ? " teacher" : ""}" x="${(x + radius(L) + 80).toFixed(1)}" ` +
        `y="${(y + 4).toFixed(1)}">${big ? k + " " : ""}${equations.formatNumber(Y[k], 3)}</text>`;
    }
    return out;
  }

  let inputImageUrl = null;
  function inputImageSvg() {
    if (!big) return "";
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = side;
    const ctx = canvas.getContext("2d");
    const img = ctx.createImageData(side, side);
    for (let i = 0; i < side * side; i++) {
      const v = Math.round(255 * (1 - Math.min(1, Math.max(0, view.ex.X[i]))));
      img.data.set([v, v, v, 255], 4 * i);
    }
    ctx.putImageData(img, 0, 0);
    inputImageUrl = canvas.toDataURL();
    const [x0, y0] = imageOrigin();
    return `<image id="input-image" x="${x0}" y="${y0}" width="${side * IMAGE_PX}" height="${side * IMAGE_PX}" ` +
      `href="${inputImageUrl}" preserveAspectRatio="none" style="image-rendering:pixelated"/>` +
      `<rect x="${x0}" y="${y0}" width="${side * IMAGE_PX}" height="${side * IMAGE_PX}" class="frame"/>` +
      `<text class="layer-title" x="${x0 + (side * IMAGE_PX) / 2}" y="${y0 - 8}">X (${side}×${side} input)</text>`;
  }

  function drawNetwork() {
    $("network").innerHTML = connectionsSvg() + inputImageSvg() +
      `<g id="highlight">${highlightSvg(state.selected)}</g>` + neuronsSvg() + outputBarsSvg();
    $("network").setAttribute("aria-busy", "false");
  }

  // each hidden neuron's 784 incoming weights as a 28×28 picture (red > 0, blue < 0)
  const THUMB = 2, GAP = 4, COLUMNS = 10;
  function weightPictures(width, height) {
    const n = sizes[1], W = net.params[0];
    const cell = side * THUMB + GAP;
    const img = new ImageData(width, height);
    img.data.fill(255);
    for (let j = 0; j < n; j++) {
      let top = 1e-12;
      for (let i = 0; i < side * side; i++) top = Math.max(top, Math.abs(W[i * n + j]));
      const ox = (j % COLUMNS) * cell, oy = Math.floor(j / COLUMNS) * cell;
      for (let i = 0; i < side * side; i++) {
        const w = W[i * n + j] / top;
        const c = Math.round(255 * (1 - Math.abs(w)));
        const red = w >= 0 ? 255 : c, blue = w >= 0 ? c : 255;
        for (let dy = 0; dy < THUMB; dy++) {
          for (let dx = 0; dx < THUMB; dx++) {
            const px = ox + (i % side) * THUMB + dx, py = oy + Math.floor(i / side) * THUMB + dy;
            const q = 4 * (py * width + px);
            img.data[q] = red;
            img.data[q + 1] = c;
            img.data[q + 2] = blue;
          }
        }
      }
    }
    return img;
  }

  function drawWeightImages() {
    if (!big || L < 2) return;
    const canvas = $("weights");
    const cell = side * THUMB + GAP;
    canvas.width = COLUMNS * cell;
    canvas.height = Math.ceil(sizes[1] / COLUMNS) * cell;
    if (drawn.version !== version || drawn.weights === null) {
      drawn.weights = weightPictures(canvas.width, canvas.height); // only when W changed
    }
    const ctx = canvas.getContext("2d");
    ctx.putImageData(drawn.weights, 0, 0);
    const sel = state.selected;
    if (sel && sel.l === 1) {
      ctx.strokeStyle = "#f59e0b";
      ctx.lineWidth = 2;
      ctx.strokeRect((sel.j % COLUMNS) * cell + 1, Math.floor(sel.j / COLUMNS) * cell + 1, side * THUMB, side * THUMB);
    }
  }

  function drawLossChart() {
    const losses = [...state.losses, view.loss];
    const w = 300, h = 90;
    let top = 1e-12, bottom = Infinity;
    for (const v of losses) { top = Math.max(top, v); bottom = Math.min(bottom, v); }
    const span = top - bottom || 1;
    const pts = losses.map((v, s) => `${(8 + (s * (w - 16)) / Math.max(losses.length - 1, 1)).toFixed(1)},` +
      `${(h - 8 - ((v - bottom) * (h - 28)) / span).toFixed(1)}`);
    $("loss-chart").innerHTML = `<polyline points="${pts.join(" ")}" fill="none" stroke="#2563eb" stroke-width="1.5"/>` +
      `<text x="8" y="12" class="chart-label">L = ${equations.formatNumber(view.loss, PRECISION)} after ${state.steps} update${state.steps === 1 ? "" : "s"}</text>`;
  }

  // ------------------------------------------------------------------------------ equations
  function equationBlock(eqs, cls = "") {
    return eqs.map((eq) => {
      const text = equations.equationText(eq, PRECISION);
      const attr = text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
      return `<div class="eq ${cls}" data-text="${attr}">${equations.equationHtml(eq, PRECISION)}</div>`;
    }).join("");
  }

  function listed(eqs, notes) {
    const shown = state.showAll ? eqs : eqs.slice(0, LISTED_ACCUMULATIONS + 1);
    let html = equationBlock(shown);
    if (shown.length < eqs.length) {
      html += `<button id="show-all" class="more">show all ${eqs.length} (${eqs.length - shown.length} more)</button>`;
    }
    for (const note of notes) html += `<div class="note">${equations.noteText(note, PRECISION)}</div>`;
    return html;
  }

  function editor(l, j) {
    if (l === 0) {
      const n = state.example;
      const v = X[n * sizes[0] + j];
      return `<label>${name(0, j)} of example ${n + 1} = <input class="edit-x" data-i="${j}" type="number" step="any" value="${v}"></label>`;
    }
    const n_in = sizes[l - 1], n_out = sizes[l], W = net.params[2 * l - 2], B = net.params[2 * l - 1];
    const s = `${j + 1}`;
    let html = `<label>B<sub>${s}</sub><sup>(${l})</sup> = <input class="edit-b" data-l="${l}" data-j="${j}" type="number" step="any" value="${B[j]}"></label>`;
    if (n_in <= MAX_CIRCLE_LABELS) {
      for (let i = 0; i < n_in; i++) {
        html += `<label>W<sub>${i + 1},${s}</sub><sup>(${l})</sup> = <input class="edit-w" data-l="${l}" data-i="${i}" ` +
          `data-j="${j}" type="number" step="any" value="${W[i * n_out + j]}"></label>`;
      }
    } else {
      html += `<label>W<sub>i,${s}</sub><sup>(${l})</sup> with i = <input id="edit-w-i" type="number" min="1" max="${n_in}" value="1"> ` +
        `value <input id="edit-w-value" type="number" step="any" value="${W[j]}"> <button id="edit-w-set" data-l="${l}" data-j="${j}">set</button></label>`;
    }
    return html;
  }

  function drawPanel() {
    const ex = view.ex;
    const w = new equations.Writer(net);
    $("example-label").textContent = `example ${state.example + 1} of ${N}: ${data.names[state.example]}`;
    const sel = state.selected;
    let html = "";
    if (!sel) {
      html = `<p class="hint">Hover over a neuron to see its forward equation; click it for its forward and backward values.</p>`;
    } else {
      const { l, j } = sel;
      html += `<h2>${equations.symHtml(w.valueSym(l, String(j + 1)))}</h2>`;
      if (l === 0) {
        html += `<div class="eq" data-text="${name(0, j)} = ${equations.formatNumber(ex.X[j], PRECISION)}">${equations.symHtml(w.valueSym(0, String(j + 1)))} = ${equations.formatNumber(ex.X[j], PRECISION)}</div>`;
      } else {
        html += `<h3>forward</h3>` + equationBlock(w.forward(l, j, ex), "forward");
        if (l === L) html += equationBlock(w.output(j, ex), "forward");
        html += `<h3>backward</h3>`;
        if (l === L) html += equationBlock(w.outputBackward(j, ex), "backward");
        else html += equationBlock([...w.sendBack(l, j, ex), ...w.gate(l, j, ex)], "backward");
        const acc = w.accumulate(l, j, ex);
        html += listed(acc.equations, acc.notes);
        if (view.accumulated) {
          html += `<h3>weight decay, added once after the minibatch</h3>`;
          const decay = w.decay(l, j, view.accumulated, view.batchGrads, data.weight_decay);
          html += equationBlock(state.showAll ? decay : decay.slice(0, LISTED_ACCUMULATIONS));
          if (!state.showAll && decay.length > LISTED_ACCUMULATIONS) {
            html += `<div class="note">… ${decay.length - LISTED_ACCUMULATIONS} more (show all)</div>`;
          }
        }
        html += `<h3>update after the minibatch (SGD, η = ${equations.formatNumber(state.lr, PRECISION)})</h3>`;
        const updates = w.update(l, j, view.batchGrads, view.updated, state.lr);
        html += state.showAll || updates.length <= LISTED_ACCUMULATIONS + 1 ? equationBlock(updates)
          : equationBlock(updates.slice(0, LISTED_ACCUMULATIONS)) + `<div class="note">… ${updates.length - LISTED_ACCUMULATIONS} more (show all)</div>` + equationBlock(updates.slice(-1));
      }
      html += `<h3>edit</h3><div class="editor">${editor(l, j)}</div>`;
    }
    $("panel").innerHTML = html;
    const teacher = Array.from(ex.T, (t) => equations.formatNumber(t, PRECISION)).join(", ");
    $("example-values").textContent = `T = [${teacher}]   E = ${equations.formatNumber(ex.E, PRECISION)}`;
    const batchLoss = w.batchLoss(view.losses, view.loss, data.weight_decay);
    $("batch-loss").textContent = equations.equationText(batchLoss, PRECISION);
  }

  function render() {
    const t0 = performance.now();
    drawNetwork();
    drawWeightImages();
    drawPanel();
    drawLossChart();
    drawn.version = version;
    api.timing.lastRender = performance.now() - t0;
  }

  function recompute() {
    compute();
    render();
  }

  // ------------------------------------------------------------------------------ actions
  function select(l, j) {
    state.selected = { l, j };
    state.showAll = false;
    render();
  }

  function setExample(n) {
    state.example = Math.min(N - 1, Math.max(0, n));
    recompute();
  }

  // `count` SGD steps on the minibatch (kernels.train_step), recording the loss before each
  function trainSteps(count) {
    const [row_start, input_index, input_value] = sparseRows();
    const grads = net.params.map((p) => new Float64Array(p.length));
    const { Z, H, dZ, dH } = work;
    for (let s = 0; s < count; s++) {
      const loss = kernels.train_step(row_start, input_index, input_value, T, N, net.params, grads,
        sizes, net.activation, net.output, data.log_guard, data.weight_decay, Z, H, dZ, dH, state.lr);
      state.losses.push(loss);
      state.steps += 1;
    }
    version += 1;
  }

  // `count` steps, then everything recomputed and redrawn
  function step(count = 1) {
    const t0 = performance.now();
    trainSteps(count);
    recompute();
    api.timing.lastStep = performance.now() - t0;
  }

  // K steps in slices of about SLICE_MS, redrawn after each slice, so the page stays responsive
  // and the loss chart grows; clicking the button again cancels the next slice (stopRun), so the
  // run ends at once, with the steps of the slices already done
  const SLICE_MS = 50;
  let nextSlice = null;
  function stopRun() {
    clearTimeout(nextSlice);
    nextSlice = null;
    state.running = false;
    $("run").textContent = "run K steps";
  }
  function runSteps(k) {
    let left = k;
    state.running = true;
    $("run").textContent = "stop";
    const slice = () => {
      const t0 = performance.now();
      do {
        trainSteps(1);
        left--;
      } while (left > 0 && performance.now() - t0 < SLICE_MS);
      recompute();
      if (left > 0) nextSlice = setTimeout(slice, 0);
      else stopRun();
    };
    slice();
  }

  function setWeight(l, i, j, value) { net.params[2 * l - 2][i * sizes[l] + j] = value; version += 1; recompute(); }
  function setBias(l, j, value) { net.params[2 * l - 1][j] = value; version += 1; recompute(); }
  function setInput(n, i, value) { X[n * sizes[0] + i] = value; recompute(); }

  function reset() {
    net.params.forEach((p, k) => p.set(initialParams[k]));
    X.set(data.X);
    state.losses = [];
    state.steps = 0;
    version += 1;
    recompute();
  }

  function readNumber(input) {
    const v = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(v)) {
      input.classList.add("invalid");
      return null;
    }
    return v;
  }

  // ------------------------------------------------------------------------------ events
  const tooltip = () => $("tooltip");
  $("network").addEventListener("mouseover", (event) => {
    const c = event.target.closest("circle.neuron");
    if (!c) return;
    const l = Number(c.dataset.l), j = Number(c.dataset.j);
    const w = new equations.Writer(net);
    let eqs = l === 0 ? [] : w.forward(l, j, view.ex);
    if (sizes[l - 1] > equations.MAX_LISTED) {
      // a long sum: the tooltip keeps the symbols and the result; the panel has every term
      const short = (form) => form.filter((t) => t.kind === "num").length <= 2 * equations.MAX_LISTED;
      eqs = eqs.map((eq) => ({ ...eq, forms: eq.forms.filter(short) }));
    }
    tooltip().innerHTML = l === 0 ? `${name(0, j)} = ${equations.formatNumber(view.ex.X[j], PRECISION)}` : equationBlock(eqs);
    tooltip().style.display = "block";
    $("highlight").innerHTML = highlightSvg({ l, j });
    tooltip().style.left = `${event.pageX + 14}px`;
    tooltip().style.top = `${event.pageY + 10}px`;
  });
  $("network").addEventListener("mouseout", (event) => {
    if (!event.target.closest("circle.neuron")) return;
    tooltip().style.display = "none";
    $("highlight").innerHTML = highlightSvg(state.selected);
  });
  $("network").addEventListener("click", (event) => {
    const c = event.target.closest("circle.neuron");
    if (c) { select(Number(c.dataset.l), Number(c.dataset.j)); return; }
    if (event.target.id === "input-image") {
      const point = $("network").createSVGPoint();
      point.x = event.clientX;
      point.y = event.clientY;
      const p = point.matrixTransform($("network").getScreenCTM().inverse());
      const [x0, y0] = imageOrigin();
      const col = Math.floor((p.x - x0) / IMAGE_PX), row = Math.floor((p.y - y0) / IMAGE_PX);
      if (col >= 0 && col < side && row >= 0 && row < side) {
        const i = row * side + col;
        setInput(state.example, i, X[state.example * sizes[0] + i] > 0.5 ? 0 : 1);
      }
    }
  });
  if (big && L >= 2) {
    $("weights").addEventListener("click", (event) => {
      const rect = $("weights").getBoundingClientRect();
      const cell = (side * THUMB + GAP) * (rect.width / $("weights").width);
      const j = Math.floor((event.clientY - rect.top) / cell) * COLUMNS + Math.floor((event.clientX - rect.left) / cell);
      if (j >= 0 && j < sizes[1]) select(1, j);
    });
  } else {
    $("weights-section").style.display = "none";
  }
  $("panel").addEventListener("change", (event) => {
    const t = event.target;
    const v = t.classList.contains("edit-x") || t.classList.contains("edit-w") || t.classList.contains("edit-b") ? readNumber(t) : null;
    if (v === null) return;
    if (t.classList.contains("edit-x")) setInput(state.example, Number(t.dataset.i), v);
    else if (t.classList.contains("edit-w")) setWeight(Number(t.dataset.l), Number(t.dataset.i), Number(t.dataset.j), v);
    else setBias(Number(t.dataset.l), Number(t.dataset.j), v);
  });
  $("panel").addEventListener("click", (event) => {
    if (event.target.id === "show-all") { state.showAll = true; drawPanel(); }
    if (event.target.id === "edit-w-set") {
      const i = readNumber($("edit-w-i")), v = readNumber($("edit-w-value"));
      const l = Number(event.target.dataset.l);
      if (i === null || v === null || !Number.isInteger(i) || i < 1 || i > sizes[l - 1]) return;
      setWeight(l, i - 1, Number(event.target.dataset.j), v);
    }
  });
  $("prev").addEventListener("click", () => setExample(state.example - 1));
  $("next").addEventListener("click", () => setExample(state.example + 1));
  $("lr").addEventListener("change", () => {
    const v = readNumber($("lr"));
    if (v !== null && v > 0) { $("lr").classList.remove("invalid"); state.lr = v; recompute(); }
  });
  $("update").addEventListener("click", () => step(1));
  $("run").addEventListener("click", () => {
    if (state.running) { stopRun(); return; }
    const k = readNumber($("steps"));
    if (k !== null && Number.isInteger(k) && k > 0 && k <= 100000) runSteps(k);
  });
  $("reset").addEventListener("click", reset);

  // for tests and the curious: window.loopnetExplorer
  const api = {
    net, X, T, state, timing: {}, kernels, equations,
    view: () => view, select, setExample, step, setWeight, setBias, setInput, reset,
  };
  window.loopnetExplorer = api;

  if (!big) $("paint-hint").style.display = "none";
  $("lr").value = String(state.lr);
  $("summary").textContent = data.summary;
  compute();
  render();
  api.timing.firstRender = performance.now();
  api.timing.scriptToFirstRender = performance.now() - started;
})();
