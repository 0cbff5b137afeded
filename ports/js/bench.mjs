// node bench.mjs DIR STEPS: time per training step of 784-50-10 (ReLU/softmax, init σ = 0.01,
// SGD η = 0.1, batch 100) on the MNIST IDX files in DIR (train-images-idx3-ubyte[.gz],
// train-labels-idx1-ubyte[.gz]); prints {"ms_per_step", "steps", "loss"} as JSON.
// bench.py runs it and the same training in loopnet's python backend, interleaved.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

import { Network, Optimizer, pixel_rows, train_epochs } from "./network.mjs";

function read_idx(dir, name) {
  const raw = join(dir, name);
  const bytes = existsSync(raw) ? readFileSync(raw) : gunzipSync(readFileSync(raw + ".gz"));
  const dims = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: dims }, (_, k) => view.getUint32(4 + 4 * k));
  return { shape, data: bytes.subarray(4 + 4 * dims) };
}

const [dir, steps_text] = process.argv.slice(2);
const steps = Number(steps_text || 100);
const images = read_idx(dir, "train-images-idx3-ubyte");
const labels = read_idx(dir, "train-labels-idx1-ubyte");
const count = images.shape[0];
const data = pixel_rows(images.data, labels.data, count, 784);
const net = new Network([784, 50, 10], "relu", "softmax", 0.0, 0.01, 0);
const opt = new Optimizer("sgd", 0.1);
const batch = 100;
train_epochs(net, opt, data, batch, 1, 1); // a first epoch lets V8 compile the loops
const epochs = Math.max(1, Math.round(steps / Math.floor(count / batch)));
const start = process.hrtime.bigint();
const { losses } = train_epochs(net, opt, data, batch, epochs, 0);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ ms_per_step: ms / losses.length, steps: losses.length,
  loss: losses[losses.length - 1] }));
