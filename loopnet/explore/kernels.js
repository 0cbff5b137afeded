// The per-neuron loops of loopnet/kernels.py, written again for the explorer page.
//
// Same function names, arguments, buffer layout and order of operations as the Python kernels,
// so every +, · and / happens in the same order on the same doubles and gives the same bits
// (JavaScript numbers are IEEE doubles and the engine does not fuse a·b + c).  Math.exp,
// Math.log and Math.tanh may differ from C's libm in the last bit.
//
// Layout (NOTATION "Storage"): W[i * n_out + j] = W_{i,j}; params = [W1, B1, W2, B2, ...];
// Z[l], H[l], dZ[l], dH[l] one Float64Array per layer; inputs as sparse rows
// (row_start, input_index, input_value), as in kernels.py.
"use strict";

const kernels = (function () {
  const RELU = 0, SIGMOID = 1, TANH = 2;
  // output codes: an output unit together with its loss
  const SOFTMAX = 0, IDENTITY = 1, SIGMOID_CROSS_ENTROPY = 2, SIGMOID_SQUARED_ERROR = 3;
  const LOG_GUARD = 1e-7; // the book's guard g in log(Y + g)

  // -------------------------------------------------------------------------------------------
  // Affine layer.  x: (n_in), W: (n_in * n_out), B: (n_out), z/dz: (n_out)
  // -------------------------------------------------------------------------------------------
  function sparse_rows(X, rows, n_in, row_start, input_index, input_value) {
    // the non-zero entries of the dense rows X (rows × n_in), in ascending i
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

  function input_affine_forward(input_index, input_value, first, end, W, B, z, n_out) {
    // Z_j = B_j + Σ_i X_i · W_{i,j}, the sum over the non-zero inputs p = first ... end - 1 only
    for (let j = 0; j < n_out; j++) z[j] = B[j];
    for (let p = first; p < end; p++) {
      const row = input_index[p] * n_out;
      const x_i = input_value[p];
      for (let j = 0; j < n_out; j++) z[j] += x_i * W[row + j];
    }
  }

  function input_affine_backward(input_index, input_value, first, end, dz, dW, dB, n_out) {
    // ΔB_j += z_j ;  ΔW_{i,j} += X_i · z_j over the non-zero inputs (no h: nothing precedes X)
    for (let j = 0; j < n_out; j++) dB[j] += dz[j];
    for (let p = first; p < end; p++) {
      const row = input_index[p] * n_out;
      const x_i = input_value[p];
      for (let j = 0; j < n_out; j++) dW[row + j] += x_i * dz[j];
    }
  }

  function affine_forward(x, W, B, z, n_in, n_out) {
    // Z_j = B_j + Σ_i H_i^(l-1) · W_{i,j}, over the non-zero H_i only (a zero adds nothing)
    for (let j = 0; j < n_out; j++) z[j] = B[j];
    for (let i = 0; i < n_in; i++) {
      const x_i = x[i];
      if (x_i === 0) continue;
      const row = i * n_out;
      for (let j = 0; j < n_out; j++) z[j] += x_i * W[row + j];
    }
  }

  function affine_backward(x, W, dz, dW, dB, dx, n_in, n_out) {
    // ΔB_j += z_j
    for (let j = 0; j < n_out; j++) dB[j] += dz[j];
    // ΔW_{i,j} += H_i^(l-1) · z_j, over the non-zero H_i only
    for (let i = 0; i < n_in; i++) {
      const x_i = x[i];
      if (x_i === 0) continue;
      const row = i * n_out;
      for (let j = 0; j < n_out; j++) dW[row + j] += x_i * dz[j];
    }
    // h_i = Σ_j W_{i,j} · z_j
    for (let i = 0; i < n_in; i++) {
      const row = i * n_out;
      let h_i = 0.0;
      for (let j = 0; j < n_out; j++) h_i += W[row + j] * dz[j];
      dx[i] = h_i;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Activations.  z, h, dh, dz: (n)
  // -------------------------------------------------------------------------------------------
  function relu_forward(z, h, n) {
    // H_j = ReLU(Z_j) = Z_j if Z_j > 0 else 0
    for (let j = 0; j < n; j++) h[j] = z[j] > 0 ? z[j] : 0.0;
  }

  function relu_backward(z, dh, dz, n) {
    // z_j = h_j if Z_j > 0 else 0
    for (let j = 0; j < n; j++) dz[j] = z[j] > 0 ? dh[j] : 0.0;
  }

  function sigmoid_forward(z, h, n) {
    // H_j = 1 / (1 + e^-Z_j); for Z_j < 0 the equal form e^Z / (1 + e^Z) avoids overflow
    for (let j = 0; j < n; j++) {
      if (z[j] >= 0) {
        h[j] = 1.0 / (1.0 + Math.exp(-z[j]));
      } else {
        const e = Math.exp(z[j]);
        h[j] = e / (1.0 + e);
      }
    }
  }

  function sigmoid_backward(h, dh, dz, n) {
    // z_j = h_j · H_j · (1 - H_j)
    for (let j = 0; j < n; j++) dz[j] = dh[j] * h[j] * (1.0 - h[j]);
  }

  function tanh_forward(z, h, n) {
    // H_j = tanh(Z_j)
    for (let j = 0; j < n; j++) h[j] = Math.tanh(z[j]);
  }

  function tanh_backward(h, dh, dz, n) {
    // z_j = h_j · (1 - H_j²)
    for (let j = 0; j < n; j++) dz[j] = dh[j] * (1.0 - h[j] * h[j]);
  }

  function activation_forward(activation, z, h, n) {
    if (activation === RELU) relu_forward(z, h, n);
    else if (activation === SIGMOID) sigmoid_forward(z, h, n);
    else tanh_forward(z, h, n);
  }

  function activation_backward(activation, z, h, dh, dz, n) {
    if (activation === RELU) relu_backward(z, dh, dz, n);
    else if (activation === SIGMOID) sigmoid_backward(h, dh, dz, n);
    else tanh_backward(h, dh, dz, n);
  }

  // -------------------------------------------------------------------------------------------
  // Output layers with their loss.  a: scores (n), y: outputs (n), t: teacher read at offset t0;
  // g: the log guard (log_guard)
  // -------------------------------------------------------------------------------------------
  function log_or_minus_inf(p) {
    // log p, and -inf for p = 0 (only reached with g = 0): the loss is then +inf
    return p > 0 ? Math.log(p) : -Infinity;
  }

  function softmax_with_loss_forward(a, y, t, t0, n, log_guard) {
    // M = max_m A_m
    let m = a[0];
    for (let k = 1; k < n; k++) if (a[k] > m) m = a[k];
    // Y_k = exp(A_k - M) / Σ_m exp(A_m - M)
    let total = 0.0;
    for (let k = 0; k < n; k++) {
      y[k] = Math.exp(a[k] - m);
      total += y[k];
    }
    for (let k = 0; k < n; k++) y[k] = y[k] / total;
    // E = -Σ_k T_k · log(Y_k + g)   (terms with T_k = 0 add nothing)
    let e = 0.0;
    for (let k = 0; k < n; k++) {
      if (t[t0 + k] !== 0) e -= t[t0 + k] * log_or_minus_inf(y[k] + log_guard);
    }
    return e;
  }

  function identity_with_loss_forward(a, y, t, t0, n) {
    // Y_k = A_k ;  E = ½ Σ_k (Y_k - T_k)²
    let e = 0.0;
    for (let k = 0; k < n; k++) {
      y[k] = a[k];
      const d = y[k] - t[t0 + k];
      e += d * d;
    }
    return 0.5 * e;
  }

  function sigmoid_with_cross_entropy_forward(a, y, t, t0, n, log_guard) {
    // Y_k = σ(A_k) = 1/(1+e^-A_k)
    sigmoid_forward(a, y, n);
    // E = -Σ_k [T_k · log(Y_k + g) + (1 - T_k) · log(1 - Y_k + g)]   logistic cost per unit (ex4)
    let e = 0.0;
    for (let k = 0; k < n; k++) {
      const t_k = t[t0 + k];
      if (t_k !== 0) e -= t_k * log_or_minus_inf(y[k] + log_guard);
      if (t_k !== 1) e -= (1.0 - t_k) * log_or_minus_inf(1.0 - y[k] + log_guard);
    }
    return e;
  }

  function sigmoid_with_squared_error_forward(a, y, t, t0, n) {
    // Y_k = σ(A_k) = 1/(1+e^-A_k) ;  E = ½ Σ_k (Y_k - T_k)²
    sigmoid_forward(a, y, n);
    let e = 0.0;
    for (let k = 0; k < n; k++) {
      const d = y[k] - t[t0 + k];
      e += d * d;
    }
    return 0.5 * e;
  }

  function output_with_loss_backward(output, y, t, t0, da, n, batch) {
    if (output === SIGMOID_SQUARED_ERROR) {
      // a_k = (Y_k - T_k) · Y_k · (1 - Y_k) / N    sigmoid+squared error
      for (let k = 0; k < n; k++) da[k] = (y[k] - t[t0 + k]) * y[k] * (1.0 - y[k]) / batch;
    } else {
      // a_k = (Y_k - T_k) / N      softmax+cross-entropy, sigmoid+logistic, identity+squared error
      for (let k = 0; k < n; k++) da[k] = (y[k] - t[t0 + k]) / batch;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Whole network, one example (the sparse row input_index / input_value [first : end])
  // -------------------------------------------------------------------------------------------
  function forward_example(input_index, input_value, first, end, params, sizes, activation, Z, H) {
    input_affine_forward(input_index, input_value, first, end, params[0], params[1], Z[0], sizes[1]);
    forward_above_first_layer(params, sizes, activation, Z, H);
  }

  function forward_above_first_layer(params, sizes, activation, Z, H) {
    for (let l = 1; l < sizes.length - 1; l++) {
      activation_forward(activation, Z[l - 1], H[l - 1], sizes[l]);
      affine_forward(H[l - 1], params[2 * l], params[2 * l + 1], Z[l], sizes[l], sizes[l + 1]);
    }
  }

  function output_loss(output, log_guard, Z, H, t, t0, sizes) {
    // E of one example from the scores A = Z[L-1]; writes Y into H[L-1]
    const last = sizes.length - 2;
    const n = sizes[last + 1];
    if (output === SOFTMAX) return softmax_with_loss_forward(Z[last], H[last], t, t0, n, log_guard);
    if (output === SIGMOID_CROSS_ENTROPY) {
      return sigmoid_with_cross_entropy_forward(Z[last], H[last], t, t0, n, log_guard);
    }
    if (output === SIGMOID_SQUARED_ERROR) return sigmoid_with_squared_error_forward(Z[last], H[last], t, t0, n);
    return identity_with_loss_forward(Z[last], H[last], t, t0, n);
  }

  function backward_example(input_index, input_value, first, end, t, t0, batch, params, grads,
                            sizes, activation, output, Z, H, dZ, dH) {
    backward_to_first_layer(t, t0, batch, params, grads, sizes, activation, output, Z, H, dZ, dH);
    input_affine_backward(input_index, input_value, first, end, dZ[0], grads[0], grads[1],
                          sizes[1]);
  }

  function backward_to_first_layer(t, t0, batch, params, grads, sizes, activation, output, Z, H,
                                   dZ, dH) {
    const last = sizes.length - 2;
    output_with_loss_backward(output, H[last], t, t0, dZ[last], sizes[last + 1], batch);
    for (let l = last; l > 0; l--) {
      affine_backward(H[l - 1], params[2 * l], dZ[l], grads[2 * l], grads[2 * l + 1], dH[l - 1],
                      sizes[l], sizes[l + 1]);
      activation_backward(activation, Z[l - 1], H[l - 1], dH[l - 1], dZ[l - 1], sizes[l]);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Minibatch.  T: (N * n_out) teachers
  // -------------------------------------------------------------------------------------------
  function weight_decay_term(params, n_layers, weight_decay) {
    // (λ/2) Σ_l Σ W²   (biases are not decayed)
    let total = 0.0;
    for (let l = 0; l < n_layers; l++) {
      const W = params[2 * l];
      for (let i = 0; i < W.length; i++) total += W[i] * W[i];
    }
    return 0.5 * weight_decay * total;
  }

  function weight_decay_gradient(params, grads, n_layers, weight_decay) {
    // ΔW_{i,j} += λ · W_{i,j}
    for (let l = 0; l < n_layers; l++) {
      const W = params[2 * l], dW = grads[2 * l];
      for (let i = 0; i < W.length; i++) dW[i] += weight_decay * W[i];
    }
  }

  function batch_gradient(row_start, input_index, input_value, T, batch, params, grads, sizes,
                          activation, output, log_guard, weight_decay, Z, H, dZ, dH) {
    // backprop over the minibatch: grads ← ΔW + λ·W, ΔB.  Returns the batch loss L
    const n_out = sizes[sizes.length - 1];
    const n_layers = sizes.length - 1;
    for (const g of grads) g.fill(0.0);
    let total = 0.0;
    for (let n = 0; n < batch; n++) {
      const first = row_start[n], end = row_start[n + 1];
      forward_example(input_index, input_value, first, end, params, sizes, activation, Z, H);
      total += output_loss(output, log_guard, Z, H, T, n * n_out, sizes);
      backward_example(input_index, input_value, first, end, T, n * n_out, batch, params, grads,
                       sizes, activation, output, Z, H, dZ, dH);
    }
    let loss = total / batch;
    if (weight_decay !== 0) {
      loss += weight_decay_term(params, n_layers, weight_decay);
      weight_decay_gradient(params, grads, n_layers, weight_decay);
    }
    return loss;
  }

  function sgd_update(p, g, lr) {
    // W ← W - η · ΔW
    for (let i = 0; i < p.length; i++) p[i] -= lr * g[i];
  }

  function train_step(row_start, input_index, input_value, T, batch, params, grads, sizes,
                      activation, output, log_guard, weight_decay, Z, H, dZ, dH, lr) {
    // gradient over the minibatch, then one SGD update.  Returns the loss before the update
    const loss = batch_gradient(row_start, input_index, input_value, T, batch, params, grads,
                                sizes, activation, output, log_guard, weight_decay, Z, H, dZ, dH);
    for (let p = 0; p < params.length; p++) sgd_update(params[p], grads[p], lr);
    return loss;
  }

  return {
    RELU, SIGMOID, TANH, SOFTMAX, IDENTITY, SIGMOID_CROSS_ENTROPY, SIGMOID_SQUARED_ERROR, LOG_GUARD,
    log_or_minus_inf, sigmoid_with_cross_entropy_forward, sigmoid_with_squared_error_forward,
    sparse_rows, input_affine_forward, input_affine_backward, affine_forward, affine_backward,
    relu_forward, relu_backward, sigmoid_forward, sigmoid_backward, tanh_forward, tanh_backward,
    activation_forward, activation_backward, softmax_with_loss_forward,
    identity_with_loss_forward, output_with_loss_backward, forward_example,
    forward_above_first_layer, output_loss, backward_example, backward_to_first_layer,
    weight_decay_term, weight_decay_gradient, batch_gradient, sgd_update, train_step,
  };
})();
