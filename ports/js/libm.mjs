// The math library the kernels and the generator call for exp, log, tanh, cos and pow: the
// JavaScript engine's own Math, or a conformance case's transcript (PORTING.md section 11).
// sqrt is not here: Math.sqrt is correctly rounded, like every + - * / in JavaScript.

export const libm = {
  exp: Math.exp, log: Math.log, tanh: Math.tanh, cos: Math.cos, pow: Math.pow,
};

const MISSES_LISTED = 10; // a result file lists at most this many of the calls a transcript lacked
const scratch = new DataView(new ArrayBuffer(8));

/** The bit pattern of a double as 16 lower-case hex digits. */
export function bits_hex(x) {
  scratch.setFloat64(0, x);
  return scratch.getUint32(0).toString(16).padStart(8, "0") +
    scratch.getUint32(4).toString(16).padStart(8, "0");
}

/** The double whose bit pattern is "0x" + 16 hex digits. */
export function hex_double(text) {
  scratch.setUint32(0, parseInt(text.slice(2, 10), 16));
  scratch.setUint32(4, parseInt(text.slice(10, 18), 16));
  return scratch.getFloat64(0);
}

/** Answer with the engine's Math (the "own" libm mode). */
export function use_own_libm() {
  libm.exp = Math.exp;
  libm.log = Math.log;
  libm.tanh = Math.tanh;
  libm.cos = Math.cos;
  libm.pow = Math.pow;
}

/** Answer from a case's transcript ({function: [[argument hex..., result hex], ...]}).
 *  A call the transcript lacks is answered by Math and counted; returns the miss record, the
 *  result file's "libm_misses". */
export function use_transcript(transcript) {
  const misses = { count: 0, calls: [] };
  for (const name of ["exp", "log", "tanh", "cos", "pow"]) {
    const table = new Map();
    for (const row of transcript[name] || []) {
      table.set(row.slice(0, -1).map((h) => h.slice(2)).join(","), hex_double(row[row.length - 1]));
    }
    const own = Math[name];
    libm[name] = (...args) => {
      const key = args.map(bits_hex).join(",");
      const answer = table.get(key);
      if (answer !== undefined) return answer;
      misses.count += 1;
      if (misses.calls.length < MISSES_LISTED) {
        misses.calls.push([name, ...args.map((x) => "0x" + bits_hex(x))]);
      }
      return own(...args);
    };
  }
  return misses;
}
