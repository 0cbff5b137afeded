// A network, its optimizers and the training loop around kernels.mjs (loopnet/network.py,
// optimizers.py and training.py; PORTING.md sections 2, 4, 8 and 10).
import * as kernels from "./kernels.mjs";
import { libm } from "./libm.mjs";
import { MASK64, Rng } from "./rng.mjs";

export const ACTIVATIONS = { relu: kernels.RELU, sigmoid: kernels.SIGMOID, tanh: kernels.TANH };
// the supported (output unit, loss) pairs and their kernel codes, as in loopnet/network.py
export const OUTPUT_LOSSES = {
  "softmax+cross_entropy": kernels.SOFTMAX, "sigmoid+cross_entropy": kernels.SIGMOID_CROSS_ENTROPY,
  "sigmoid+squared_error": kernels.SIGMOID_SQUARED_ERROR, "identity+squared_error": kernels.IDENTITY,
};
export const DEFAULT_LOSS = { softmax: "cross_entropy", sigmoid: "cross_entropy",
  identity: "squared_error" };
export const SAMPLER_OFFSET = 0x632BE59BD9B4E019n; // the sampler's seed is seed + this (mod 2^64)

/** σ of the normal init (or ε of the uniform one) for a layer with n_in inputs. */
export function weight_init_std(weight_init, n_in, n_out) {
  if (weight_init === "he") return Math.sqrt(2.0 / n_in); // He: N(0, √(2/n_in))
  if (weight_init === "xavier") return Math.sqrt(1.0 / n_in); // Xavier: N(0, √(1/n_in))
  if (weight_init === "uniform") return Math.sqrt(6.0) / Math.sqrt(n_in + n_out); // U[-ε, ε]
  if (typeof weight_init === "number" && weight_init > 0) return weight_init;
  throw new Error(`unknown weight_init ${JSON.stringify(weight_init)}`);
}

/** [W1, B1, W2, B2, ...] as Float64Arrays, W drawn row-major from Rng(seed), B = 0.
 *  Normal schemes: W_{i,j} = σ · normal(); uniform: W_{i,j} = ε · (2 · uniform() - 1). */
export function init_params(sizes, weight_init, seed) {
  const rng = new Rng(BigInt(seed));
  const tensors = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const n_in = sizes[l];
    const n_out = sizes[l + 1];
    const scale = weight_init_std(weight_init, n_in, n_out);
    const W = new Float64Array(n_in * n_out);
    for (let p = 0; p < W.length; p++) {
      W[p] = weight_init === "uniform" ? scale * (2.0 * rng.uniform() - 1.0) : scale * rng.normal();
    }
    tensors.push(W, new Float64Array(n_out));
  }
  return tensors;
}

/** The dense rows X (count × n_in, flat) as sparse input rows. */
export function sparse_input_rows(X, count, n_in) {
  const rows = {
    row_start: new Int32Array(count + 1),
    input_index: new Int32Array(count * n_in + 1),
    input_value: new Float64Array(count * n_in + 1),
  };
  kernels.sparse_rows(X, count, n_in, rows.row_start, rows.input_index, rows.input_value);
  return rows;
}

/** A fully connected network: parameters, gradients and the per-example work buffers. */
export class Network {
  constructor(sizes, activation = "relu", output = "softmax", weight_decay = 0.0,
    weight_init = "uniform", seed = 0, { loss = null, log_guard = kernels.LOG_GUARD } = {}) {
    if (!(activation in ACTIVATIONS)) throw new Error(`unknown activation ${activation}`);
    const pair = `${output}+${loss || DEFAULT_LOSS[output]}`;
    if (!(pair in OUTPUT_LOSSES)) throw new Error(`unknown output/loss ${pair}`);
    this.sizes = Int32Array.from(sizes);
    this.activation = ACTIVATIONS[activation];
    this.output = OUTPUT_LOSSES[pair];
    this.log_guard = log_guard;
    this.weight_decay = weight_decay;
    this.params = init_params(sizes, weight_init, seed);
    this.grads = this.params.map((p) => new Float64Array(p.length));
    const widths = sizes.slice(1);
    [this.Z, this.H, this.dZ, this.dH] = [0, 1, 2, 3].map(
      () => widths.map((w) => new Float64Array(w)));
    this.active = new Int32Array(Math.max(1, ...sizes.slice(1, -1)));
  }

  /** Gradient over the rows and one update of `optimizer`; the loss before the update. */
  train_step(rows, T, count, optimizer) {
    const [s1, s2] = optimizer.state_for(this.params);
    return kernels.train_step(rows.row_start, rows.input_index, rows.input_value, T, count,
      this.params, this.grads, this.sizes, this.activation, this.output, this.log_guard,
      this.weight_decay, this.Z, this.H, this.dZ, this.dH, this.active, optimizer.kind, s1, s2,
      optimizer.step_lr(), optimizer.momentum, optimizer.beta1, optimizer.beta2);
  }

  /** Batch loss L = (1/N) Σ E_n + (λ/2) Σ W². */
  loss(rows, T, count) {
    return kernels.batch_loss(rows.row_start, rows.input_index, rows.input_value, T, count,
      this.params, this.sizes, this.activation, this.output, this.log_guard, this.weight_decay,
      this.Z, this.H, this.active);
  }

  /** Scores A of each row (count × n_out, flat). */
  predict(rows, count) {
    const scores = new Float64Array(count * this.sizes[this.sizes.length - 1]);
    kernels.predict_rows(rows.row_start, rows.input_index, rows.input_value, count, this.params,
      this.sizes, this.activation, scores, this.Z, this.H, this.active);
    return scores;
  }

  /** How many rows have argmax A equal to their label. */
  count_correct(rows, labels, count) {
    return kernels.count_correct(rows.row_start, rows.input_index, rows.input_value, labels,
      count, this.params, this.sizes, this.activation, this.Z, this.H, this.active);
  }
}

/** SGD, Momentum, AdaGrad or Adam with the book's formulas; state starts at 0.0. */
export class Optimizer {
  constructor(name, lr, { momentum = 0.0, beta1 = 0.0, beta2 = 0.0 } = {}) {
    const kinds = { sgd: kernels.SGD, momentum: kernels.MOMENTUM, adagrad: kernels.ADAGRAD,
      adam: kernels.ADAM };
    if (!(name in kinds)) throw new Error(`unknown optimizer ${name}`);
    this.kind = kinds[name];
    this.lr = lr;
    this.momentum = momentum;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.n_state = { sgd: 0, momentum: 1, adagrad: 1, adam: 2 }[name];
    this.iter = 0;
    this.state = null;
  }

  /** [state1, state2]: arrays of buffers shaped like params (empty when unused). */
  state_for(params) {
    if (this.state === null) {
      const buffers = () => params.map((p) => new Float64Array(p.length));
      this.state = [this.n_state >= 1 ? buffers() : [], this.n_state >= 2 ? buffers() : []];
    }
    return this.state;
  }

  /** η of the next step; Adam's η_t = η·√(1-β2^t)/(1-β1^t), with pow (pow(β2, t) first). */
  step_lr() {
    if (this.kind !== kernels.ADAM) return this.lr;
    this.iter += 1;
    const p2 = libm.pow(this.beta2, this.iter);
    const p1 = libm.pow(this.beta1, this.iter);
    return this.lr * Math.sqrt(1.0 - p2) / (1.0 - p1);
  }
}

/** A dataset of uint8 pixels as sparse pixel rows, with int labels. */
export function pixel_rows(pixels, labels, count, n_in) {
  let nonzero = 0;
  for (const v of pixels) if (v !== 0) nonzero += 1;
  const data = {
    count, pixel_start: new Int32Array(count + 1), pixel_index: new Int32Array(nonzero + 1),
    pixel_value: new Float64Array(nonzero + 1), labels: Int32Array.from(labels),
  };
  kernels.sparse_rows(pixels, count, n_in, data.pixel_start, data.pixel_index, data.pixel_value);
  return data;
}

/** The training loop of PORTING.md section 10: `epochs` × max(count div batch, 1) steps, each on
 *  `batch` examples drawn with replacement by the sampler Rng(seed + SAMPLER_OFFSET).
 *  Returns {losses, first_indices}. */
export function train_epochs(net, optimizer, data, batch, epochs, seed) {
  const sampler = new Rng((BigInt(seed) + SAMPLER_OFFSET) & MASK64);
  const steps = epochs * Math.max(Math.floor(data.count / batch), 1);
  const indices = new Int32Array(steps * batch);
  for (let k = 0; k < indices.length; k++) indices[k] = sampler.randbelow(data.count);
  const lrs = new Float64Array(steps);
  for (let s = 0; s < steps; s++) lrs[s] = optimizer.step_lr();
  const n_in = net.sizes[0];
  const n_out = net.sizes[net.sizes.length - 1];
  const [s1, s2] = optimizer.state_for(net.params);
  const losses = new Float64Array(steps);
  kernels.train_steps_from_pixels(data.pixel_start, data.pixel_index, data.pixel_value,
    data.labels, indices, steps, batch, net.params, net.grads, net.sizes, net.activation,
    net.output, net.log_guard, net.weight_decay, net.Z, net.H, net.dZ, net.dH, net.active,
    new Int32Array(batch + 1), new Int32Array(batch * n_in + 1),
    new Float64Array(batch * n_in + 1), new Float64Array(batch * n_out), new Int32Array(batch),
    optimizer.kind, s1, s2, lrs, optimizer.momentum, optimizer.beta1, optimizer.beta2, losses);
  return { losses, first_indices: indices.subarray(0, batch) };
}
