// The per-neuron loops of loopnet/kernels.py, function for function, in JavaScript.
//
// Every function works on flat buffers (Float64Array for values, Int32Array for indices), uses
// only scalar arithmetic and indexing, and never allocates: the caller owns all memory.
// Comments quote the line of NOTATION.md each loop implements.  JavaScript numbers are IEEE 754
// doubles and every + - * / is rounded once (no fused multiply-add), so these loops give the
// bits of the Python ones; exp, log and tanh go through `libm` (libm.mjs), which is the
// engine's Math or a conformance transcript.
//
// Layout (NOTATION "Storage"): a layer with n_in inputs and n_out neurons keeps
// W[i * n_out + j] = W_{i,j} (row-major, input-major) and B[j].  A network of L layers keeps
// its tensors in one array params = [W1, B1, W2, B2, ...]; layer l (0-based) uses params[2*l]
// and params[2*l + 1]; grads has the same layout.  Per-example work buffers, one per layer l,
// each of size n_out of that layer: Z[l] pre-activations, H[l] activations (for the last
// layer: the outputs Y), dZ[l] and dH[l] their backward values z and h; and `active`, ints, as
// many as the widest hidden layer.
//
// Inputs are sparse rows: N rows are row_start (N + 1 ints) with input_index and input_value;
// row n's non-zero inputs are X_i = input_value[p] with i = input_index[p], for
// p = row_start[n] ... row_start[n + 1] - 1, in ascending i.
import { libm } from "./libm.mjs";

// Activation and output codes, as in kernels.py.
export const RELU = 0;
export const SIGMOID = 1;
export const TANH = 2;
export const STEP = 3; // the perceptron's threshold: forward only (its derivative is 0 wherever it exists)
// Output codes: an output unit together with its loss
export const SOFTMAX = 0; // softmax + cross-entropy
export const IDENTITY = 1; // identity + squared error
export const SIGMOID_CROSS_ENTROPY = 2; // sigmoid + logistic cost (Coursera ex4)
export const SIGMOID_SQUARED_ERROR = 3; // sigmoid + squared error (the classic 2-2-2 walkthrough)

// Optimizer codes for optimizer_update.
export const SGD = 0;
export const MOMENTUM = 1;
export const ADAGRAD = 2;
export const ADAM = 3;

export const LOG_GUARD = 1e-7; // the book's guard in log(Y + 1e-7) (the default g) and in AdaGrad/Adam

// -------------------------------------------------------------------------------------------
// Affine layer.  x: (n_in), W: (n_in * n_out), B: (n_out), z/dz: (n_out); the first layer's
// input is a sparse row (input_index / input_value [first : end])
// -------------------------------------------------------------------------------------------
/** Write the non-zero entries of the dense rows X (rows × n_in) as sparse rows; the count. */
export function sparse_rows(X, rows, n_in, row_start, input_index, input_value) {
  let count = 0;
  for (let n = 0; n < rows; n++) {
    row_start[n] = count;
    for (let i = 0; i < n_in; i++) {
      const x_i = X[n * n_in + i];
      if (x_i !== 0) {
        input_index[count] = i;
        input_value[count] = x_i;
        count += 1;
      }
    }
  }
  row_start[rows] = count;
  return count;
}

export function input_affine_forward(input_index, input_value, first, end, W, B, z, n_out) {
  // Z_j = B_j + Σ_i X_i · W_{i,j}, the sum over the non-zero inputs p = first ... end - 1 only
  for (let j = 0; j < n_out; j++) z[j] = B[j];
  for (let p = first; p < end; p++) {
    const row = input_index[p] * n_out;
    const x_i = input_value[p];
    for (let j = 0; j < n_out; j++) z[j] = z[j] + x_i * W[row + j];
  }
}

export function input_affine_backward(input_index, input_value, first, end, dz, dW, dB, n_out) {
  // ΔB_j += z_j ;  ΔW_{i,j} += X_i · z_j over the non-zero inputs (no h: nothing precedes X)
  for (let j = 0; j < n_out; j++) dB[j] = dB[j] + dz[j];
  for (let p = first; p < end; p++) {
    const row = input_index[p] * n_out;
    const x_i = input_value[p];
    for (let j = 0; j < n_out; j++) dW[row + j] = dW[row + j] + x_i * dz[j];
  }
}

/** Write the indices i with x_i != 0 into active[0 : count] in ascending order; the count. */
export function active_inputs(x, n_in, active) {
  let count = 0;
  for (let i = 0; i < n_in; i++) {
    if (x[i] !== 0.0) {
      active[count] = i;
      count += 1;
    }
  }
  return count;
}

export function affine_forward(x, W, B, z, n_in, n_out, active) {
  // Z_j = B_j + Σ_i H_i^(l-1) · W_{i,j}, over the non-zero H_i only (a zero adds nothing).
  for (let j = 0; j < n_out; j++) z[j] = B[j];
  const count = active_inputs(x, n_in, active);
  for (let k = 0; k < count; k++) {
    const i = active[k];
    const x_i = x[i];
    const row = i * n_out;
    for (let j = 0; j < n_out; j++) z[j] = z[j] + x_i * W[row + j];
  }
}

export function affine_backward(x, W, dz, dW, dB, dx, n_in, n_out, active) {
  affine_weights_backward(x, dz, dW, dB, n_in, n_out, active);
  // h_i = Σ_j W_{i,j} · z_j   (the first layer has input_affine_backward, without h)
  for (let i = 0; i < n_in; i++) {
    const row = i * n_out;
    let h_i = 0.0;
    for (let j = 0; j < n_out; j++) h_i = h_i + W[row + j] * dz[j];
    dx[i] = h_i;
  }
}

// affine_backward's gradients of B and W (what it does before sending h down)
export function affine_weights_backward(x, dz, dW, dB, n_in, n_out, active) {
  // ΔB_j += z_j
  for (let j = 0; j < n_out; j++) dB[j] = dB[j] + dz[j];
  // ΔW_{i,j} += H_i^(l-1) · z_j, over the non-zero H_i only
  const count = active_inputs(x, n_in, active);
  for (let k = 0; k < count; k++) {
    const i = active[k];
    const x_i = x[i];
    const row = i * n_out;
    for (let j = 0; j < n_out; j++) dW[row + j] = dW[row + j] + x_i * dz[j];
  }
}

// -------------------------------------------------------------------------------------------
// Activations.  z, h, dh, dz: (n)
// -------------------------------------------------------------------------------------------
export function relu_forward(z, h, n) {
  // H_j = ReLU(Z_j) = Z_j if Z_j > 0 else 0
  for (let j = 0; j < n; j++) h[j] = z[j] > 0.0 ? z[j] : 0.0;
}

export function relu_backward(z, dh, dz, n) {
  // z_j = h_j if Z_j > 0 else 0
  for (let j = 0; j < n; j++) dz[j] = z[j] > 0.0 ? dh[j] : 0.0;
}

export function sigmoid_forward(z, h, n) {
  // H_j = 1 / (1 + e^-Z_j); for Z_j < 0 the equal form e^Z / (1 + e^Z) avoids overflow
  for (let j = 0; j < n; j++) {
    if (z[j] >= 0.0) {
      h[j] = 1.0 / (1.0 + libm.exp(-z[j]));
    } else {
      const e = libm.exp(z[j]);
      h[j] = e / (1.0 + e);
    }
  }
}

export function sigmoid_backward(h, dh, dz, n) {
  // z_j = h_j · H_j · (1 - H_j)
  for (let j = 0; j < n; j++) dz[j] = dh[j] * h[j] * (1.0 - h[j]);
}

export function tanh_forward(z, h, n) {
  // H_j = tanh(Z_j)
  for (let j = 0; j < n; j++) h[j] = libm.tanh(z[j]);
}

export function tanh_backward(h, dh, dz, n) {
  // z_j = h_j · (1 - H_j²)
  for (let j = 0; j < n; j++) dz[j] = dh[j] * (1.0 - h[j] * h[j]);
}

export function step_forward(z, h, n) {
  // y = 1 if Σ_i x_i·w_i + b > 0 else 0   (the perceptron; here H_j = 1 if Z_j > 0 else 0)
  for (let j = 0; j < n; j++) h[j] = z[j] > 0.0 ? 1.0 : 0.0;
}

/** Dispatch on the activation code. */
export function activation_forward(activation, z, h, n) {
  if (activation === RELU) relu_forward(z, h, n);
  else if (activation === SIGMOID) sigmoid_forward(z, h, n);
  else if (activation === TANH) tanh_forward(z, h, n);
  else step_forward(z, h, n);
}

/** Dispatch on the activation code. */
export function activation_backward(activation, z, h, dh, dz, n) {
  if (activation === RELU) relu_backward(z, dh, dz, n);
  else if (activation === SIGMOID) sigmoid_backward(h, dh, dz, n);
  else tanh_backward(h, dh, dz, n);
}

// -------------------------------------------------------------------------------------------
// Output layers with their loss.  a: scores (n), y: outputs (n), t: teacher read at offset t0;
// g: the log guard (log_guard, the book's 1e-7 by default; 0 allowed)
// -------------------------------------------------------------------------------------------
/** log p, and -Infinity for p = 0 (only reached with g = 0): the loss is then +Infinity. */
export function log_or_minus_inf(p) {
  if (p > 0.0) return libm.log(p);
  return -Infinity;
}

export function softmax_with_loss_forward(a, y, t, t0, n, log_guard) {
  // M = max_m A_m
  let m = a[0];
  for (let k = 1; k < n; k++) if (a[k] > m) m = a[k];
  // Y_k = exp(A_k - M) / Σ_m exp(A_m - M)
  let total = 0.0;
  for (let k = 0; k < n; k++) {
    y[k] = libm.exp(a[k] - m);
    total = total + y[k];
  }
  for (let k = 0; k < n; k++) y[k] = y[k] / total;
  // E = -Σ_k T_k · log(Y_k + g)   (terms with T_k = 0 add nothing)
  let e = 0.0;
  for (let k = 0; k < n; k++) {
    if (t[t0 + k] !== 0.0) e = e - t[t0 + k] * log_or_minus_inf(y[k] + log_guard);
  }
  return e;
}

export function identity_with_loss_forward(a, y, t, t0, n) {
  // Y_k = A_k ;  E = ½ Σ_k (Y_k - T_k)²
  let e = 0.0;
  for (let k = 0; k < n; k++) {
    y[k] = a[k];
    const d = y[k] - t[t0 + k];
    e = e + d * d;
  }
  return 0.5 * e;
}

export function sigmoid_with_cross_entropy_forward(a, y, t, t0, n, log_guard) {
  // Y_k = σ(A_k) = 1/(1+e^-A_k)
  sigmoid_forward(a, y, n);
  // E = -Σ_k [T_k · log(Y_k + g) + (1 - T_k) · log(1 - Y_k + g)]   logistic cost per unit (ex4)
  // (a term whose factor T_k or 1 - T_k is 0 adds nothing)
  let e = 0.0;
  for (let k = 0; k < n; k++) {
    const t_k = t[t0 + k];
    if (t_k !== 0.0) e = e - t_k * log_or_minus_inf(y[k] + log_guard);
    if (t_k !== 1.0) e = e - (1.0 - t_k) * log_or_minus_inf(1.0 - y[k] + log_guard);
  }
  return e;
}

export function sigmoid_with_squared_error_forward(a, y, t, t0, n) {
  // Y_k = σ(A_k) = 1/(1+e^-A_k) ;  E = ½ Σ_k (Y_k - T_k)²
  sigmoid_forward(a, y, n);
  let e = 0.0;
  for (let k = 0; k < n; k++) {
    const d = y[k] - t[t0 + k];
    e = e + d * d;
  }
  return 0.5 * e;
}

export function output_with_loss_backward(output, y, t, t0, da, n, batch) {
  if (output === SIGMOID_SQUARED_ERROR) {
    // a_k = (Y_k - T_k) · Y_k · (1 - Y_k) / N    sigmoid+squared error
    for (let k = 0; k < n; k++) da[k] = (y[k] - t[t0 + k]) * y[k] * (1.0 - y[k]) / batch;
  } else {
    // a_k = (Y_k - T_k) / N      softmax+cross-entropy, sigmoid+logistic, identity+squared
    // error.  For the cross-entropies it is the derivative of E without the guard; the
    // guarded E's derivative is this times P/(P + g), P the probability of the true value
    // (softmax: Y_c of the class c; sigmoid: Y_k if T_k = 1, 1 - Y_k if T_k = 0)
    for (let k = 0; k < n; k++) da[k] = (y[k] - t[t0 + k]) / batch;
  }
}

// -------------------------------------------------------------------------------------------
// Whole network, one example.  sizes: (L + 1) ints; the example's input is the sparse row
// input_index / input_value [first : end]
// -------------------------------------------------------------------------------------------
/** Fill Z[l], H[l] for every layer; the scores A are Z[L-1] (H[L-1] is set by the loss). */
export function forward_example(input_index, input_value, first, end, params, sizes, activation,
  Z, H, active) {
  input_affine_forward(input_index, input_value, first, end, params[0], params[1], Z[0],
    sizes[1]);
  forward_above_first_layer(params, sizes, activation, Z, H, active);
}

/** From the first layer's Z[0] on: fill H[0], then Z[l], H[l] of every layer above. */
export function forward_above_first_layer(params, sizes, activation, Z, H, active) {
  for (let l = 1; l < sizes.length - 1; l++) {
    activation_forward(activation, Z[l - 1], H[l - 1], sizes[l]);
    affine_forward(H[l - 1], params[2 * l], params[2 * l + 1], Z[l], sizes[l], sizes[l + 1],
      active);
  }
}

/** E of one example from the scores A = Z[L-1]; writes Y into H[L-1]. */
export function output_loss(output, log_guard, Z, H, t, t0, sizes) {
  const last = sizes.length - 2;
  const n = sizes[last + 1];
  if (output === SOFTMAX) return softmax_with_loss_forward(Z[last], H[last], t, t0, n, log_guard);
  if (output === SIGMOID_CROSS_ENTROPY) {
    return sigmoid_with_cross_entropy_forward(Z[last], H[last], t, t0, n, log_guard);
  }
  if (output === SIGMOID_SQUARED_ERROR) {
    return sigmoid_with_squared_error_forward(Z[last], H[last], t, t0, n);
  }
  return identity_with_loss_forward(Z[last], H[last], t, t0, n);
}

/** Accumulate this example's ΔW, ΔB into grads (forward_example and output_loss ran first). */
export function backward_example(input_index, input_value, first, end, t, t0, batch, params,
  grads, sizes, activation, output, Z, H, dZ, dH, active) {
  backward_to_first_layer(t, t0, batch, params, grads, sizes, activation, output, Z, H, dZ, dH,
    active);
  input_affine_backward(input_index, input_value, first, end, dZ[0], grads[0], grads[1],
    sizes[1]);
}

/** Backprop from the loss down to the first layer's z (into dZ[0]), accumulating ΔW, ΔB of
 *  every layer above the first. */
export function backward_to_first_layer(t, t0, batch, params, grads, sizes, activation, output, Z,
  H, dZ, dH, active) {
  const last = sizes.length - 2;
  output_with_loss_backward(output, H[last], t, t0, dZ[last], sizes[last + 1], batch);
  for (let l = last; l > 0; l--) {
    affine_backward(H[l - 1], params[2 * l], dZ[l], grads[2 * l], grads[2 * l + 1], dH[l - 1],
      sizes[l], sizes[l + 1], active);
    activation_backward(activation, Z[l - 1], H[l - 1], dH[l - 1], dZ[l - 1], sizes[l]);
  }
}

// -------------------------------------------------------------------------------------------
// Minibatch.  row_start, input_index, input_value: N sparse input rows; T: (N * n_out) teachers
// -------------------------------------------------------------------------------------------
export function weight_decay_term(params, n_layers, weight_decay) {
  // (λ/2) Σ_l Σ W²   (biases are not decayed)
  let total = 0.0;
  for (let l = 0; l < n_layers; l++) {
    const W = params[2 * l];
    for (let i = 0; i < W.length; i++) total = total + W[i] * W[i];
  }
  return 0.5 * weight_decay * total;
}

export function weight_decay_gradient(params, grads, n_layers, weight_decay) {
  // ΔW_{i,j} += λ · W_{i,j}   (the derivative of (λ/2) W², so every optimizer sees it)
  for (let l = 0; l < n_layers; l++) {
    const W = params[2 * l];
    const dW = grads[2 * l];
    for (let i = 0; i < W.length; i++) dW[i] = dW[i] + weight_decay * W[i];
  }
}

/** L = (1/N) Σ_n E_n + (λ/2) Σ_l Σ W². */
export function batch_loss(row_start, input_index, input_value, T, batch, params, sizes,
  activation, output, log_guard, weight_decay, Z, H, active) {
  const n_out = sizes[sizes.length - 1];
  let total = 0.0;
  for (let n = 0; n < batch; n++) {
    forward_example(input_index, input_value, row_start[n], row_start[n + 1], params, sizes,
      activation, Z, H, active);
    total = total + output_loss(output, log_guard, Z, H, T, n * n_out, sizes);
  }
  let loss = total / batch;
  if (weight_decay !== 0.0) loss = loss + weight_decay_term(params, sizes.length - 1, weight_decay);
  return loss;
}

/** Backprop over the minibatch: grads ← ΔW + λ·W, ΔB.  Returns the batch loss L. */
export function batch_gradient(row_start, input_index, input_value, T, batch, params, grads,
  sizes, activation, output, log_guard, weight_decay, Z, H, dZ, dH, active) {
  const n_out = sizes[sizes.length - 1];
  const n_layers = sizes.length - 1;
  for (const g of grads) g.fill(0.0);
  let total = 0.0;
  for (let n = 0; n < batch; n++) {
    const first = row_start[n];
    const end = row_start[n + 1];
    forward_example(input_index, input_value, first, end, params, sizes, activation, Z, H,
      active);
    total = total + output_loss(output, log_guard, Z, H, T, n * n_out, sizes);
    backward_example(input_index, input_value, first, end, T, n * n_out, batch, params, grads,
      sizes, activation, output, Z, H, dZ, dH, active);
  }
  let loss = total / batch;
  if (weight_decay !== 0.0) {
    loss = loss + weight_decay_term(params, n_layers, weight_decay);
    weight_decay_gradient(params, grads, n_layers, weight_decay);
  }
  return loss;
}

/** Scores A (before softmax, like the book's predict) of every row into `scores`. */
export function predict_rows(row_start, input_index, input_value, batch, params, sizes,
  activation, scores, Z, H, active) {
  const n_out = sizes[sizes.length - 1];
  const last = sizes.length - 2;
  for (let n = 0; n < batch; n++) {
    forward_example(input_index, input_value, row_start[n], row_start[n + 1], params, sizes,
      activation, Z, H, active);
    for (let k = 0; k < n_out; k++) scores[n * n_out + k] = Z[last][k];
  }
}

/** How many rows have argmax_k A_k equal to their label (first maximum wins, like argmax). */
export function count_correct(row_start, input_index, input_value, labels, batch, params, sizes,
  activation, Z, H, active) {
  const n_out = sizes[sizes.length - 1];
  const last = sizes.length - 2;
  let correct = 0;
  for (let n = 0; n < batch; n++) {
    forward_example(input_index, input_value, row_start[n], row_start[n + 1], params, sizes,
      activation, Z, H, active);
    const a = Z[last];
    let best = 0;
    for (let k = 1; k < n_out; k++) if (a[k] > a[best]) best = k;
    if (best === labels[n]) correct += 1;
  }
  return correct;
}

// -------------------------------------------------------------------------------------------
// Data: minibatch gather from a dataset of uint8 pixels kept as sparse rows (see sparse_rows):
// pixel_start (count + 1), pixel_index, pixel_value; labels: (count)
// -------------------------------------------------------------------------------------------
/** Sparse rows X_i = pixel_i / 255 of each chosen example; T one-hot rows; batch_labels. */
export function gather_batch(pixel_start, pixel_index, pixel_value, labels, indices, batch, n_out,
  row_start, input_index, input_value, T, batch_labels) {
  let count = 0;
  for (let n = 0; n < batch; n++) {
    const example = indices[n];
    row_start[n] = count;
    for (let q = pixel_start[example]; q < pixel_start[example + 1]; q++) {
      input_index[count] = pixel_index[q];
      input_value[count] = pixel_value[q] / 255.0;
      count += 1;
    }
    for (let k = 0; k < n_out; k++) T[n * n_out + k] = 0.0;
    T[n * n_out + labels[example]] = 1.0;
    batch_labels[n] = labels[example];
  }
  row_start[batch] = count;
}

/** gather_batch for float features: the sparse rows X_i of each chosen example as stored
 *  (no 1/255), T one-hot rows, batch_labels. */
export function gather_rows(value_start, value_index, value, labels, indices, batch, n_out,
  row_start, input_index, input_value, T, batch_labels) {
  let count = 0;
  for (let n = 0; n < batch; n++) {
    const example = indices[n];
    row_start[n] = count;
    for (let q = value_start[example]; q < value_start[example + 1]; q++) {
      input_index[count] = value_index[q];
      input_value[count] = value[q];
      count += 1;
    }
    for (let k = 0; k < n_out; k++) T[n * n_out + k] = 0.0;
    T[n * n_out + labels[example]] = 1.0;
    batch_labels[n] = labels[example];
  }
  row_start[batch] = count;
}

// -------------------------------------------------------------------------------------------
// Updates, once per minibatch.  p: parameters, g: gradients (with λ·W already added), (n)
// -------------------------------------------------------------------------------------------
export function sgd_update(p, g, lr) {
  // W ← W - η · ΔW
  for (let i = 0; i < p.length; i++) p[i] = p[i] - lr * g[i];
}

export function momentum_update(p, g, v, lr, momentum) {
  // v ← α · v - η · ΔW ;  W ← W + v
  for (let i = 0; i < p.length; i++) {
    v[i] = momentum * v[i] - lr * g[i];
    p[i] = p[i] + v[i];
  }
}

export function adagrad_update(p, g, h, lr) {
  // h ← h + ΔW² ;  W ← W - η · ΔW / (√h + 1e-7)
  for (let i = 0; i < p.length; i++) {
    h[i] = h[i] + g[i] * g[i];
    p[i] = p[i] - lr * g[i] / (Math.sqrt(h[i]) + LOG_GUARD);
  }
}

export function adam_update(p, g, m, v, lr_t, beta1, beta2) {
  // m ← m + (1-β1)(ΔW - m) ;  v ← v + (1-β2)(ΔW² - v) ;  W ← W - η_t · m / (√v + 1e-7)
  for (let i = 0; i < p.length; i++) {
    m[i] = m[i] + (1.0 - beta1) * (g[i] - m[i]);
    v[i] = v[i] + (1.0 - beta2) * (g[i] * g[i] - v[i]);
    p[i] = p[i] - lr_t * m[i] / (Math.sqrt(v[i]) + LOG_GUARD);
  }
}

/** One optimizer step on tensor p with gradient g; s1, s2 are its state (v; h; Adam's m, v). */
export function update_tensor(kind, p, g, s1, s2, lr, momentum, beta1, beta2) {
  if (kind === SGD) sgd_update(p, g, lr);
  else if (kind === MOMENTUM) momentum_update(p, g, s1, lr, momentum);
  else if (kind === ADAGRAD) adagrad_update(p, g, s1, lr);
  else adam_update(p, g, s1, s2, lr, beta1, beta2);
}

/** Apply one optimizer step to every tensor; `lr` is η_t for Adam (see Optimizer.step_lr). */
export function optimizer_update(kind, params, grads, state1, state2, lr, momentum, beta1, beta2) {
  for (let p = 0; p < params.length; p++) {
    // an optimizer with less state gets the gradient in place of the state it does not use
    const s1 = state1.length > 0 ? state1[p] : grads[p];
    const s2 = state2.length > 0 ? state2[p] : grads[p];
    update_tensor(kind, params[p], grads[p], s1, s2, lr, momentum, beta1, beta2);
  }
}

/** Gradient over the minibatch, then one update.  Returns the loss before the update. */
export function train_step(row_start, input_index, input_value, T, batch, params, grads, sizes,
  activation, output, log_guard, weight_decay, Z, H, dZ, dH, active, kind, state1, state2, lr,
  momentum, beta1, beta2) {
  const loss = batch_gradient(row_start, input_index, input_value, T, batch, params, grads, sizes,
    activation, output, log_guard, weight_decay, Z, H, dZ, dH, active);
  optimizer_update(kind, params, grads, state1, state2, lr, momentum, beta1, beta2);
  return loss;
}

/** `steps` training steps; step s uses examples indices[s*batch : (s+1)*batch] and η = lrs[s];
 *  losses[s] receives the step's loss (the loop the Python CLI runs). */
export function train_steps_from_pixels(pixel_start, pixel_index, pixel_value, labels, indices,
  steps, batch, params, grads, sizes, activation, output, log_guard, weight_decay, Z, H, dZ, dH,
  active, row_start, input_index, input_value, T, batch_labels, kind, state1, state2, lrs,
  momentum, beta1, beta2, losses) {
  const n_out = sizes[sizes.length - 1];
  for (let s = 0; s < steps; s++) {
    gather_batch(pixel_start, pixel_index, pixel_value, labels,
      indices.subarray(s * batch, (s + 1) * batch), batch, n_out, row_start, input_index,
      input_value, T, batch_labels);
    losses[s] = train_step(row_start, input_index, input_value, T, batch, params, grads, sizes,
      activation, output, log_guard, weight_decay, Z, H, dZ, dH, active, kind, state1, state2,
      lrs[s], momentum, beta1, beta2);
  }
}
