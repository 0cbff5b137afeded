// The conformance runner: one function per case kind of docs/conformance.md, from a case's
// parsed "input" to its "output", and the result file's JSON text.  No I/O: run.mjs (Node) or a
// page (fetch) supplies the parsed cases.
//
// In an output, a JavaScript number is a JSON double and a BigInt a JSON integer, so that
// to_json writes doubles with a '.' or an exponent ("-0.0", "1.0") and integers without.
import * as kernels from "./kernels.mjs";
import { use_own_libm, use_transcript } from "./libm.mjs";
import {
  Network, Optimizer, init_params, pixel_rows, sparse_input_rows, train_epochs,
} from "./network.mjs";
import { MASK64, Rng } from "./rng.mjs";

export const RESULT_FORMAT = "loopnet-conformance-result";
export const VERSION = 2;

const hex64 = (u) => "0x" + u.toString(16).padStart(16, "0");
const ints = (values) => Array.from(values, (v) => BigInt(v));
const flat = (rows) => Float64Array.from(rows.flat());
const plain = (buffer) => Array.from(buffer); // a typed array as a list of doubles

function network_for(inp, weight_init = "uniform", seed = 0) {
  return new Network(inp.sizes, inp.activation, inp.output, inp.weight_decay, weight_init, seed,
    { loss: inp.loss, log_guard: inp.log_guard === undefined ? kernels.LOG_GUARD : inp.log_guard });
}

function optimizer_for(spec) {
  return new Optimizer(spec.name, spec.lr, spec);
}

function set_params(net, params) {
  params.forEach((values, k) => net.params[k].set(values));
}

function run_rng_bits(inp) {
  const streams = inp.seeds.map((seed_text) => {
    const seed = BigInt(seed_text);
    let rng = new Rng(seed);
    const u64 = Array.from({ length: inp.count }, () => hex64(rng.next_u64()));
    rng = new Rng(seed);
    const uniform = Array.from({ length: inp.count }, () => rng.uniform());
    const randbelow = inp.randbelow_n.map((n) => {
      const r = new Rng(seed);
      return Array.from({ length: inp.count }, () => BigInt(r.randbelow(n)));
    });
    return { u64, uniform, randbelow };
  });
  return { streams };
}

function run_rng_normal(inp) {
  return {
    normal: inp.seeds.map((seed_text) => {
      const rng = new Rng(BigInt(seed_text));
      return Array.from({ length: inp.count }, () => rng.normal());
    }),
  };
}

function run_init(inp) {
  return { params: init_params(inp.sizes, inp.weight_init, inp.seed).map(plain) };
}

function run_forward_backward(inp) {
  const net = network_for(inp);
  set_params(net, inp.params);
  const sizes = net.sizes;
  const N = inp.X.length;
  const n_out = sizes[sizes.length - 1];
  const T = flat(inp.T);
  const rows = sparse_input_rows(flat(inp.X), N, sizes[0]);
  const grads = net.params.map((p) => new Float64Array(p.length));
  const examples = [];
  for (let n = 0; n < N; n++) {
    const first = rows.row_start[n];
    const end = rows.row_start[n + 1];
    kernels.forward_example(rows.input_index, rows.input_value, first, end, net.params, sizes,
      net.activation, net.Z, net.H, net.active);
    const E = kernels.output_loss(net.output, net.log_guard, net.Z, net.H, T, n * n_out, sizes);
    kernels.backward_example(rows.input_index, rows.input_value, first, end, T, n * n_out, N,
      net.params, grads, sizes, net.activation, net.output, net.Z, net.H, net.dZ, net.dH,
      net.active);
    examples.push({
      Z: net.Z.map(plain), H: net.H.map(plain), E,
      dZ: net.dZ.map(plain), dH: net.dH.slice(0, -1).map(plain),
    });
  }
  const loss = kernels.batch_gradient(rows.row_start, rows.input_index, rows.input_value, T, N,
    net.params, net.grads, sizes, net.activation, net.output, net.log_guard, net.weight_decay,
    net.Z, net.H, net.dZ, net.dH, net.active);
  return { examples, loss, gradients: net.grads.map(plain) };
}

function run_optimizer(inp) {
  const net = network_for(inp);
  set_params(net, inp.params);
  const opt = optimizer_for(inp.optimizer);
  const batches = inp.batches.map((b) => ({
    rows: sparse_input_rows(flat(b.X), b.X.length, inp.sizes[0]), T: flat(b.T), count: b.X.length,
  }));
  const losses = [];
  const params_after = [];
  for (let s = 0; s < inp.steps; s++) {
    const b = batches[s % batches.length];
    losses.push(net.train_step(b.rows, b.T, b.count, opt));
    if (inp.record_after.includes(s + 1)) {
      params_after.push({ steps: BigInt(s + 1), params: net.params.map(plain) });
    }
  }
  return { losses, params_after };
}

function run_logic(inp) {
  const net = network_for(inp, inp.weight_init, inp.seed);
  const opt = optimizer_for(inp.optimizer);
  const count = inp.X.length;
  const rows = sparse_input_rows(flat(inp.X), count, inp.sizes[0]);
  const T = flat(inp.T);
  const losses = [];
  for (let s = 0; s < inp.steps; s++) {
    const loss = net.train_step(rows, T, count, opt);
    if (s % inp.loss_every === 0) losses.push(loss);
  }
  const final_loss = net.loss(rows, T, count);
  const scores = net.predict(rows, count);
  const width = inp.sizes[inp.sizes.length - 1];
  const Y = Array.from({ length: count }, (_, n) => Array.from(scores.subarray(n * width,
    (n + 1) * width)));
  return {
    losses, final_loss, params: net.params.map(plain), Y,
    predictions: Y.map((row) => row.map((y) => BigInt(y > 0.5 ? 1 : 0))),
  };
}

function dataset(spec) {
  const pixels = new Uint8Array(spec.pixels.length / 2);
  for (let k = 0; k < pixels.length; k++) {
    pixels[k] = parseInt(spec.pixels.slice(2 * k, 2 * k + 2), 16);
  }
  return { data: pixel_rows(pixels, spec.labels, spec.count, spec.n_features), pixels };
}

function correct_on(net, set) {
  const X = Float64Array.from(set.pixels, (p) => p / 255.0);
  const rows = sparse_input_rows(X, set.data.count, net.sizes[0]);
  return net.count_correct(rows, set.data.labels, set.data.count);
}

function run_digits(inp) {
  if ((BigInt(inp.seed) + 0x632BE59BD9B4E019n & MASK64) !== BigInt(inp.sampler_seed)) {
    throw new Error("sampler_seed is not seed + SAMPLER_OFFSET");
  }
  const train = dataset(inp.train);
  const test = dataset(inp.test);
  const net = network_for(inp, inp.weight_init, inp.seed);
  const opt = optimizer_for(inp.optimizer);
  const { losses, first_indices } = train_epochs(net, opt, train.data, inp.batch, inp.epochs,
    inp.seed);
  const train_correct = correct_on(net, train);
  const test_correct = correct_on(net, test);
  return {
    steps: BigInt(losses.length), first_indices: ints(first_indices), losses: Array.from(losses),
    params: net.params.map(plain), train_correct: BigInt(train_correct),
    test_correct: BigInt(test_correct), train_accuracy: train_correct / inp.train.count,
    test_accuracy: test_correct / inp.test.count,
  };
}

export const RUNNERS = {
  rng_bits: run_rng_bits, rng_normal: run_rng_normal, init: run_init,
  forward_backward: run_forward_backward, optimizer: run_optimizer, logic: run_logic,
  digits: run_digits,
};

/** The result object of one parsed case: with the engine's Math, or (`transcript`) answering
 *  exp, log, tanh, cos and pow from the case's transcript. */
export function run_case(kase, transcript = false) {
  const runner = RUNNERS[kase.kind];
  if (!runner) throw new Error(`case ${kase.name}: unknown kind ${kase.kind}`);
  const result = { format: RESULT_FORMAT, version: BigInt(VERSION), case: kase.name,
    libm: transcript ? "transcript" : "own" };
  const misses = transcript ? use_transcript(kase.libm || {}) : null;
  try {
    result.output = runner(kase.input);
  } finally {
    use_own_libm();
  }
  if (misses) result.libm_misses = { count: BigInt(misses.count), calls: misses.calls };
  return result;
}

/** A double as JSON: shortest round trip, always with a '.' or an exponent. */
export function double_json(x) {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (Object.is(x, -0)) return "-0.0";
  const text = String(x);
  return /[.e]/.test(text) ? text : text + ".0";
}

/** JSON text of a result: numbers as doubles, BigInts as integers. */
export function to_json(value) {
  if (typeof value === "number") return double_json(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "[" + value.map(to_json).join(", ") + "]";
  const items = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${to_json(v)}`);
  return "{" + items.join(",\n") + "}";
}
