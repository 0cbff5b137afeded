"""The per-neuron loops: one source, run as plain Python or compiled unchanged by Numba.

Every function here works on flat buffers (Python lists, or NumPy arrays under Numba), uses only
scalar arithmetic, indexing, ``range`` and ``math``, and never allocates: the caller owns all
memory. Comments quote the line of NOTATION.md each loop implements.

Layout (NOTATION "Storage"): a layer with ``n_in`` inputs and ``n_out`` neurons keeps
``W[i * n_out + j] = W_{i,j}`` (row-major, input-major, like the book's ``W1``) and ``B[j]``.
A network of L layers keeps its tensors in one list ``params = [W1, B1, W2, B2, ...]``, so layer
``l`` (0-based) uses ``params[2*l]`` and ``params[2*l + 1]``; ``grads`` has the same layout.
Per-example work buffers, one per layer ``l``, each of size ``n_out`` of that layer:
``Z[l]`` pre-activations, ``H[l]`` activations (for the last layer: the outputs ``Y``),
``dZ[l]`` and ``dH[l]`` their backward values ``z`` and ``h``; and ``active``, ints, as many as
the widest hidden layer (the indices of an activation's non-zero entries).

Inputs are kept as sparse rows, because most inputs are zero (≈81 % of MNIST pixels) and a zero
X_i adds nothing to any sum.  N rows are ``row_start`` (N + 1 ints) with ``input_index`` and
``input_value``: row n's non-zero inputs are X_i = input_value[p] with i = input_index[p], for
p = row_start[n] ... row_start[n + 1] - 1, in ascending i.  `sparse_rows` makes them from dense
rows; a dataset is converted once and `gather_batch` copies a minibatch's rows.
"""

import math

# Activation and output codes (ints, so the compiled code dispatches without objects).
RELU = 0
SIGMOID = 1
TANH = 2
STEP = 3  # the perceptron's threshold: forward only (its derivative is 0 wherever it exists)
# Output codes: an output unit together with its loss
SOFTMAX = 0  # softmax + cross-entropy
IDENTITY = 1  # identity + squared error
SIGMOID_CROSS_ENTROPY = 2  # sigmoid + logistic cost (Coursera ex4)
SIGMOID_SQUARED_ERROR = 3  # sigmoid + squared error (the classic 2-2-2 walkthrough)

# Optimizer codes for `optimizer_update`.
SGD = 0
MOMENTUM = 1
ADAGRAD = 2
ADAM = 3

LOG_GUARD = 1e-7  # the book's guard in log(Y + 1e-7) (the default g) and in AdaGrad/Adam


# ---------------------------------------------------------------------------------------------
# Affine layer.  x: (n_in), W: (n_in * n_out), B: (n_out), z/dz: (n_out); the first layer's
# input is a sparse row (input_index / input_value [first : end])
# ---------------------------------------------------------------------------------------------
def sparse_rows(X, rows, n_in, row_start, input_index, input_value):
    """Write the non-zero entries of the dense rows X (rows × n_in) as sparse rows.

    input_index and input_value need one more place than there are non-zero entries.  Written
    without a branch (the entry is stored, then kept only if X_i != 0): for pixels the zero /
    non-zero pattern is too irregular for the CPU to predict.
    """
    count = 0
    for n in range(rows):
        row_start[n] = count
        for i in range(n_in):
            x_i = X[n * n_in + i]
            input_index[count] = i
            input_value[count] = x_i
            count += x_i != 0
    row_start[rows] = count
    return count


def input_affine_forward(input_index, input_value, first, end, W, B, z, n_out):
    # Z_j = B_j + Σ_i X_i · W_{i,j}, the sum over the non-zero inputs p = first ... end - 1 only
    for j in range(n_out):
        z[j] = B[j]
    # Two inputs per pass over z: (z_j + X_a·W_{a,j}) + X_b·W_{b,j} are the additions of two
    # single passes in the same order, with half the loads and stores of z (measured: -20 %).
    # max(..., 0): tells the compiler the index is >= 0, so W[row + j] needs no wraparound code
    p = first
    while p + 1 < end:
        row_a = max(input_index[p], 0) * n_out
        row_b = max(input_index[p + 1], 0) * n_out
        x_a = input_value[p]
        x_b = input_value[p + 1]
        for j in range(n_out):
            z[j] = z[j] + x_a * W[row_a + j] + x_b * W[row_b + j]
        p += 2
    if p < end:  # an odd count leaves one input
        row = max(input_index[p], 0) * n_out
        x_i = input_value[p]
        for j in range(n_out):
            z[j] += x_i * W[row + j]


def input_affine_backward(input_index, input_value, first, end, dz, dW, dB, n_out):
    # ΔB_j += z_j ;  ΔW_{i,j} += X_i · z_j over the non-zero inputs (no h: nothing precedes X)
    for j in range(n_out):
        dB[j] += dz[j]
    for p in range(first, end):
        i = max(input_index[p], 0)
        x_i = input_value[p]
        row = i * n_out
        for j in range(n_out):
            dW[row + j] += x_i * dz[j]


def active_inputs(x, n_in, active):
    """Write the indices i with x_i != 0 into active[0 : count] in ascending order; return count.

    Written without a branch (the index is stored, then kept only if x_i != 0): which ReLU
    outputs are zero is too irregular for the CPU to predict (measured: a branch per input cost
    about 12 % of a 784-100-10 step in mispredictions).
    """
    count = 0
    for i in range(n_in):
        active[count] = i
        count += x[i] != 0.0
    return count


def affine_forward(x, W, B, z, n_in, n_out, active):
    # Z_j = B_j + Σ_i H_i^(l-1) · W_{i,j}, over the non-zero H_i only (a zero adds nothing).
    # active: (n_in) ints of work space
    for j in range(n_out):
        z[j] = B[j]
    count = active_inputs(x, n_in, active)
    for k in range(count):
        i = max(active[k], 0)
        x_i = x[i]
        row = i * n_out
        for j in range(n_out):
            z[j] += x_i * W[row + j]


def affine_backward(x, W, dz, dW, dB, dx, n_in, n_out, active):
    affine_weights_backward(x, dz, dW, dB, n_in, n_out, active)
    # h_i = Σ_j W_{i,j} · z_j   (the first layer has input_affine_backward, without h)
    for i in range(n_in):
        row = i * n_out
        h_i = 0.0
        for j in range(n_out):
            h_i += W[row + j] * dz[j]
        dx[i] = h_i


def affine_weights_backward(x, dz, dW, dB, n_in, n_out, active):
    """affine_backward's gradients of B and W (what it does before sending h down)."""
    # ΔB_j += z_j
    for j in range(n_out):
        dB[j] += dz[j]
    # ΔW_{i,j} += H_i^(l-1) · z_j, over the non-zero H_i only
    count = active_inputs(x, n_in, active)
    for k in range(count):
        i = max(active[k], 0)
        x_i = x[i]
        row = i * n_out
        for j in range(n_out):
            dW[row + j] += x_i * dz[j]


# ---------------------------------------------------------------------------------------------
# Activations.  z, h, dh, dz: (n)
# ---------------------------------------------------------------------------------------------
def relu_forward(z, h, n):
    # H_j = ReLU(Z_j) = Z_j if Z_j > 0 else 0
    for j in range(n):
        h[j] = z[j] if z[j] > 0.0 else 0.0


def relu_backward(z, dh, dz, n):
    # z_j = h_j if Z_j > 0 else 0
    for j in range(n):
        dz[j] = dh[j] if z[j] > 0.0 else 0.0


def sigmoid_forward(z, h, n):
    # H_j = 1 / (1 + e^-Z_j); for Z_j < 0 the equal form e^Z / (1 + e^Z) avoids overflow
    for j in range(n):
        if z[j] >= 0.0:
            h[j] = 1.0 / (1.0 + math.exp(-z[j]))
        else:
            e = math.exp(z[j])
            h[j] = e / (1.0 + e)


def sigmoid_backward(h, dh, dz, n):
    # z_j = h_j · H_j · (1 - H_j)
    for j in range(n):
        dz[j] = dh[j] * h[j] * (1.0 - h[j])


def tanh_forward(z, h, n):
    # H_j = tanh(Z_j)
    for j in range(n):
        h[j] = math.tanh(z[j])


def tanh_backward(h, dh, dz, n):
    # z_j = h_j · (1 - H_j²)
    for j in range(n):
        dz[j] = dh[j] * (1.0 - h[j] * h[j])


def step_forward(z, h, n):
    # y = 1 if Σ_i x_i·w_i + b > 0 else 0   (the perceptron; here H_j = 1 if Z_j > 0 else 0)
    for j in range(n):
        h[j] = 1.0 if z[j] > 0.0 else 0.0


def activation_forward(activation, z, h, n):
    """Dispatch on the activation code."""
    if activation == RELU:
        relu_forward(z, h, n)
    elif activation == SIGMOID:
        sigmoid_forward(z, h, n)
    elif activation == TANH:
        tanh_forward(z, h, n)
    else:
        step_forward(z, h, n)


def activation_backward(activation, z, h, dh, dz, n):
    """Dispatch on the activation code."""
    if activation == RELU:
        relu_backward(z, dh, dz, n)
    elif activation == SIGMOID:
        sigmoid_backward(h, dh, dz, n)
    else:
        tanh_backward(h, dh, dz, n)


# ---------------------------------------------------------------------------------------------
# Output layers with their loss.  a: scores (n), y: outputs (n), t: teacher read at offset t0;
# g: the log guard (log_guard, the book's 1e-7 by default; 0 allowed)
# ---------------------------------------------------------------------------------------------
def log_or_minus_inf(p):
    """log p, and -inf for p = 0 (only reached with g = 0): the loss is then +inf on both
    backends, where Python's math.log(0) would raise and Numba's would give -inf."""
    if p > 0.0:
        return math.log(p)
    return -math.inf


def softmax_with_loss_forward(a, y, t, t0, n, log_guard):
    # M = max_m A_m
    m = a[0]
    for k in range(1, n):
        if a[k] > m:
            m = a[k]
    # Y_k = exp(A_k - M) / Σ_m exp(A_m - M)
    total = 0.0
    for k in range(n):
        y[k] = math.exp(a[k] - m)
        total += y[k]
    for k in range(n):
        y[k] = y[k] / total
    # E = -Σ_k T_k · log(Y_k + g)   (terms with T_k = 0 add nothing)
    e = 0.0
    for k in range(n):
        if t[t0 + k] != 0.0:
            e -= t[t0 + k] * log_or_minus_inf(y[k] + log_guard)
    return e


def identity_with_loss_forward(a, y, t, t0, n):
    # Y_k = A_k ;  E = ½ Σ_k (Y_k - T_k)²
    e = 0.0
    for k in range(n):
        y[k] = a[k]
        d = y[k] - t[t0 + k]
        e += d * d
    return 0.5 * e


def sigmoid_with_cross_entropy_forward(a, y, t, t0, n, log_guard):
    # Y_k = σ(A_k) = 1/(1+e^-A_k)
    sigmoid_forward(a, y, n)
    # E = -Σ_k [T_k · log(Y_k + g) + (1 - T_k) · log(1 - Y_k + g)]   logistic cost per unit (ex4)
    # (a term whose factor T_k or 1 - T_k is 0 adds nothing)
    e = 0.0
    for k in range(n):
        t_k = t[t0 + k]
        if t_k != 0.0:
            e -= t_k * log_or_minus_inf(y[k] + log_guard)
        if t_k != 1.0:
            e -= (1.0 - t_k) * log_or_minus_inf(1.0 - y[k] + log_guard)
    return e


def sigmoid_with_squared_error_forward(a, y, t, t0, n):
    # Y_k = σ(A_k) = 1/(1+e^-A_k) ;  E = ½ Σ_k (Y_k - T_k)²
    sigmoid_forward(a, y, n)
    e = 0.0
    for k in range(n):
        d = y[k] - t[t0 + k]
        e += d * d
    return 0.5 * e


def output_with_loss_backward(output, y, t, t0, da, n, batch):
    if output == SIGMOID_SQUARED_ERROR:
        # a_k = (Y_k - T_k) · Y_k · (1 - Y_k) / N    sigmoid+squared error
        for k in range(n):
            da[k] = (y[k] - t[t0 + k]) * y[k] * (1.0 - y[k]) / batch
    else:
        # a_k = (Y_k - T_k) / N      softmax+cross-entropy, sigmoid+logistic, identity+squared
        # error.  For the cross-entropies it is the derivative of E without the guard; the
        # guarded E's derivative is this times P/(P + g), P the probability of the true value
        # (softmax: Y_c of the class c; sigmoid: Y_k if T_k = 1, 1 - Y_k if T_k = 0)
        for k in range(n):
            da[k] = (y[k] - t[t0 + k]) / batch


# ---------------------------------------------------------------------------------------------
# Whole network, one example.  sizes: (L + 1) ints; the example's input is the sparse row
# input_index / input_value [first : end]
# ---------------------------------------------------------------------------------------------
def forward_example(input_index, input_value, first, end, params, sizes, activation, Z, H,
                    active):
    """Fill Z[l], H[l] for every layer; the scores A are Z[L-1] (H[L-1] is set by the loss).
    active: ints of work space, as many as the widest hidden layer."""
    input_affine_forward(input_index, input_value, first, end, params[0], params[1], Z[0],
                         sizes[1])
    forward_above_first_layer(params, sizes, activation, Z, H, active)


def forward_above_first_layer(params, sizes, activation, Z, H, active):
    """From the first layer's Z[0] on: fill H[0], then Z[l], H[l] of every layer above."""
    for l in range(1, len(sizes) - 1):
        activation_forward(activation, Z[l - 1], H[l - 1], sizes[l])
        affine_forward(H[l - 1], params[2 * l], params[2 * l + 1], Z[l], sizes[l],
                       sizes[l + 1], active)


def output_loss(output, log_guard, Z, H, t, t0, sizes):
    """E of one example from the scores A = Z[L-1]; writes Y into H[L-1]."""
    last = len(sizes) - 2
    n = sizes[last + 1]
    if output == SOFTMAX:
        return softmax_with_loss_forward(Z[last], H[last], t, t0, n, log_guard)
    if output == SIGMOID_CROSS_ENTROPY:
        return sigmoid_with_cross_entropy_forward(Z[last], H[last], t, t0, n, log_guard)
    if output == SIGMOID_SQUARED_ERROR:
        return sigmoid_with_squared_error_forward(Z[last], H[last], t, t0, n)
    return identity_with_loss_forward(Z[last], H[last], t, t0, n)


def backward_example(input_index, input_value, first, end, t, t0, batch, params, grads, sizes,
                     activation, output, Z, H, dZ, dH, active):
    """Accumulate this example's ΔW, ΔB into grads (forward_example and output_loss ran first)."""
    backward_to_first_layer(t, t0, batch, params, grads, sizes, activation, output, Z, H, dZ, dH,
                            active)
    input_affine_backward(input_index, input_value, first, end, dZ[0], grads[0], grads[1],
                          sizes[1])


def backward_to_first_layer(t, t0, batch, params, grads, sizes, activation, output, Z, H, dZ,
                            dH, active):
    """Backprop from the loss down to the first layer's z (into dZ[0]), accumulating ΔW, ΔB of
    every layer above the first."""
    last = len(sizes) - 2
    output_with_loss_backward(output, H[last], t, t0, dZ[last], sizes[last + 1], batch)
    for l in range(last, 0, -1):
        affine_backward(H[l - 1], params[2 * l], dZ[l], grads[2 * l], grads[2 * l + 1],
                        dH[l - 1], sizes[l], sizes[l + 1], active)
        activation_backward(activation, Z[l - 1], H[l - 1], dH[l - 1], dZ[l - 1], sizes[l])


# ---------------------------------------------------------------------------------------------
# Minibatch.  row_start, input_index, input_value: N sparse input rows; T: (N * n_out) teachers
# ---------------------------------------------------------------------------------------------
def weight_decay_term(params, n_layers, weight_decay):
    # (λ/2) Σ_l Σ W²   (biases are not decayed)
    total = 0.0
    for l in range(n_layers):
        W = params[2 * l]
        for i in range(len(W)):
            total += W[i] * W[i]
    return 0.5 * weight_decay * total


def weight_decay_gradient(params, grads, n_layers, weight_decay):
    # ΔW_{i,j} += λ · W_{i,j}   (the derivative of (λ/2) W², so every optimizer sees it)
    for l in range(n_layers):
        W = params[2 * l]
        dW = grads[2 * l]
        for i in range(len(W)):
            dW[i] += weight_decay * W[i]


def batch_loss(row_start, input_index, input_value, T, batch, params, sizes, activation, output,
               log_guard, weight_decay, Z, H, active):
    """L = (1/N) Σ_n E_n + (λ/2) Σ_l Σ W²."""
    n_out = sizes[len(sizes) - 1]
    total = 0.0
    for n in range(batch):
        forward_example(input_index, input_value, row_start[n], row_start[n + 1], params, sizes,
                        activation, Z, H, active)
        total += output_loss(output, log_guard, Z, H, T, n * n_out, sizes)
    loss = total / batch
    if weight_decay != 0.0:
        loss += weight_decay_term(params, len(sizes) - 1, weight_decay)
    return loss


def batch_gradient(row_start, input_index, input_value, T, batch, params, grads, sizes,
                   activation, output, log_guard, weight_decay, Z, H, dZ, dH, active):
    """Backprop over the minibatch: grads ← ΔW + λ·W, ΔB.  Returns the batch loss L."""
    n_out = sizes[len(sizes) - 1]
    n_layers = len(sizes) - 1
    for p in range(len(grads)):
        g = grads[p]
        for i in range(len(g)):
            g[i] = 0.0
    total = 0.0
    for n in range(batch):
        first, end = row_start[n], row_start[n + 1]
        forward_example(input_index, input_value, first, end, params, sizes, activation, Z, H,
                        active)
        total += output_loss(output, log_guard, Z, H, T, n * n_out, sizes)
        backward_example(input_index, input_value, first, end, T, n * n_out, batch, params,
                         grads, sizes, activation, output, Z, H, dZ, dH, active)
    loss = total / batch
    if weight_decay != 0.0:
        loss += weight_decay_term(params, n_layers, weight_decay)
        weight_decay_gradient(params, grads, n_layers, weight_decay)
    return loss


def predict_rows(row_start, input_index, input_value, batch, params, sizes, activation, scores,
                 Z, H, active):
    """Scores A (before softmax, like the book's predict) of every row into `scores`."""
    n_out = sizes[len(sizes) - 1]
    last = len(sizes) - 2
    for n in range(batch):
        forward_example(input_index, input_value, row_start[n], row_start[n + 1], params, sizes,
                        activation, Z, H, active)
        for k in range(n_out):
            scores[n * n_out + k] = Z[last][k]


def count_correct(row_start, input_index, input_value, labels, batch, params, sizes, activation,
                  Z, H, active):
    """How many rows have argmax_k A_k equal to their label (first maximum wins, like argmax)."""
    n_out = sizes[len(sizes) - 1]
    last = len(sizes) - 2
    correct = 0
    for n in range(batch):
        forward_example(input_index, input_value, row_start[n], row_start[n + 1], params, sizes,
                        activation, Z, H, active)
        a = Z[last]
        best = 0
        for k in range(1, n_out):
            if a[k] > a[best]:
                best = k
        if best == labels[n]:
            correct += 1
    return correct


# ---------------------------------------------------------------------------------------------
# Data: minibatch gather from a dataset of uint8 pixels kept as sparse rows (see sparse_rows):
# pixel_start (count + 1), pixel_index, pixel_value; labels: (count)
# ---------------------------------------------------------------------------------------------
def gather_batch(pixel_start, pixel_index, pixel_value, labels, indices, batch, n_out,
                 row_start, input_index, input_value, T, batch_labels):
    """Sparse rows X_i = pixel_i / 255 of each chosen example; T one-hot rows; batch_labels."""
    count = 0
    for n in range(batch):
        example = indices[n]
        row_start[n] = count
        for q in range(pixel_start[example], pixel_start[example + 1]):
            input_index[count] = pixel_index[q]
            input_value[count] = pixel_value[q] / 255.0
            count += 1
        for k in range(n_out):
            T[n * n_out + k] = 0.0
        T[n * n_out + labels[example]] = 1.0
        batch_labels[n] = labels[example]
    row_start[batch] = count


def gather_rows(value_start, value_index, value, labels, indices, batch, n_out, row_start,
                input_index, input_value, T, batch_labels):
    """gather_batch for float features: the sparse rows X_i of each chosen example as stored
    (no 1/255), T one-hot rows, batch_labels."""
    count = 0
    for n in range(batch):
        example = indices[n]
        row_start[n] = count
        for q in range(value_start[example], value_start[example + 1]):
            input_index[count] = value_index[q]
            input_value[count] = value[q]
            count += 1
        for k in range(n_out):
            T[n * n_out + k] = 0.0
        T[n * n_out + labels[example]] = 1.0
        batch_labels[n] = labels[example]
    row_start[batch] = count


# ---------------------------------------------------------------------------------------------
# Updates, once per minibatch.  p: parameters, g: gradients (with λ·W already added), (n)
# ---------------------------------------------------------------------------------------------
def sgd_update(p, g, lr):
    # W ← W - η · ΔW
    for i in range(len(p)):
        p[i] -= lr * g[i]


def momentum_update(p, g, v, lr, momentum):
    # v ← α · v - η · ΔW ;  W ← W + v
    for i in range(len(p)):
        v[i] = momentum * v[i] - lr * g[i]
        p[i] += v[i]


def adagrad_update(p, g, h, lr):
    # h ← h + ΔW² ;  W ← W - η · ΔW / (√h + 1e-7)
    for i in range(len(p)):
        h[i] += g[i] * g[i]
        p[i] -= lr * g[i] / (math.sqrt(h[i]) + LOG_GUARD)


def adam_update(p, g, m, v, lr_t, beta1, beta2):
    # m ← m + (1-β1)(ΔW - m) ;  v ← v + (1-β2)(ΔW² - v) ;  W ← W - η_t · m / (√v + 1e-7)
    for i in range(len(p)):
        m[i] += (1.0 - beta1) * (g[i] - m[i])
        v[i] += (1.0 - beta2) * (g[i] * g[i] - v[i])
        p[i] -= lr_t * m[i] / (math.sqrt(v[i]) + LOG_GUARD)


def update_tensor(kind, p, g, s1, s2, lr, momentum, beta1, beta2):
    """One optimizer step on tensor p with gradient g; s1, s2 are its state (v; h; Adam's m, v)
    where the optimizer keeps any."""
    if kind == SGD:
        sgd_update(p, g, lr)
    elif kind == MOMENTUM:
        momentum_update(p, g, s1, lr, momentum)
    elif kind == ADAGRAD:
        adagrad_update(p, g, s1, lr)
    else:
        adam_update(p, g, s1, s2, lr, beta1, beta2)


def optimizer_update(kind, params, grads, state1, state2, lr, momentum, beta1, beta2):
    """Apply one optimizer step to every tensor; `lr` is η_t for Adam (see Adam.step_lr)."""
    for p in range(len(params)):
        # an optimizer with less state gets the gradient in place of the state it does not use
        s1 = state1[p] if len(state1) > 0 else grads[p]
        s2 = state2[p] if len(state2) > 0 else grads[p]
        update_tensor(kind, params[p], grads[p], s1, s2, lr, momentum, beta1, beta2)


def train_step(row_start, input_index, input_value, T, batch, params, grads, sizes, activation,
               output, log_guard, weight_decay, Z, H, dZ, dH, active, kind, state1, state2, lr,
               momentum, beta1, beta2):
    """Gradient over the minibatch, then one update.  Returns the loss before the update."""
    loss = batch_gradient(row_start, input_index, input_value, T, batch, params, grads, sizes,
                          activation, output, log_guard, weight_decay, Z, H, dZ, dH, active)
    optimizer_update(kind, params, grads, state1, state2, lr, momentum, beta1, beta2)
    return loss


def train_steps_from_pixels(pixel_start, pixel_index, pixel_value, labels, indices, steps, batch,
                            params, grads, sizes, activation, output, log_guard, weight_decay, Z, H,
                            dZ, dH, active, row_start, input_index, input_value, T, batch_labels,
                            kind, state1, state2, lrs, momentum, beta1, beta2, losses):
    """`steps` training steps; step s uses examples indices[s*batch : (s+1)*batch] and η = lrs[s].

    This is the loop the CLI runs: the data stays as sparse uint8 pixel rows, each step gathers
    its minibatch, and losses[s] receives the step's loss.
    """
    n_out = sizes[len(sizes) - 1]
    for s in range(steps):
        gather_batch(pixel_start, pixel_index, pixel_value, labels, indices[s * batch:(s + 1) * batch],
                     batch, n_out, row_start, input_index, input_value, T, batch_labels)
        losses[s] = train_step(row_start, input_index, input_value, T, batch, params, grads, sizes,
                               activation, output, log_guard, weight_decay, Z, H, dZ, dH, active,
                               kind, state1, state2, lrs[s], momentum, beta1, beta2)
