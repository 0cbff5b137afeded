// node run.mjs [--transcript] CASES RESULTS: run every case of CASES/index.json and write
// RESULTS/<name>.json for `loopnet conformance check CASES RESULTS` (Node >= 18).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { run_case, to_json } from "./conformance.mjs";

function fail(message) {
  process.stderr.write(`loopnet-js: ${message}\n`);
  process.exit(2);
}

function read_json(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return fail(`cannot read ${path}: ${error.message}`);
  }
}

const args = process.argv.slice(2);
const transcript = args[0] === "--transcript";
if (transcript) args.shift();
if (args.length !== 2) fail("usage: node run.mjs [--transcript] CASES RESULTS");
const [cases_dir, results_dir] = args;
const index = read_json(join(cases_dir, "index.json"));
if (index.format !== "loopnet-conformance" || index.version !== 2) {
  fail(`${join(cases_dir, "index.json")}: found format ${index.format} version ${index.version}, ` +
    "expected loopnet-conformance version 2");
}
mkdirSync(results_dir, { recursive: true });
for (const entry of index.cases) {
  const kase = read_json(join(cases_dir, entry.file));
  const result = run_case(kase, transcript);
  const path = join(results_dir, `${kase.name}.json`);
  writeFileSync(path + ".tmp", to_json(result) + "\n"); // renamed when complete
  renameSync(path + ".tmp", path);
  console.log(`ran ${kase.name}`);
}
