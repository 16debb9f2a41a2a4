// Times the core's `receive` compiled to wasm, in V8, with the same method as cpu-native (see
// README.md). Prints {"<webhook>": <CPU µs per webhook>, …} on stdout, progress on stderr.
//
//   node bench/cpu/run.mjs FILE.wasm [NAME…]

import { readFileSync } from "node:fs";

/** Untimed warm-up before calibrating, so that V8 has tiered up to optimized code. */
const WARM_UP_MS = 100;
/** How long each timed round lasts, at least. */
const ROUND_MS = 200;
/** Timed rounds per webhook; the median is reported. */
const ROUNDS = 5;

const [wasmPath, ...only] = process.argv.slice(2);
if (!wasmPath) {
  console.error("usage: node run.mjs FILE.wasm [NAME…]");
  process.exit(2);
}

const module = new WebAssembly.Module(readFileSync(wasmPath));
const imports = WebAssembly.Module.imports(module);
if (imports.length > 0) {
  const names = imports.map(({ module, name }) => `${module}.${name}`).join(", ");
  throw new Error(`the wasm module must need no imports, but it imports ${names}`);
}
const wasm = new WebAssembly.Instance(module, {}).exports;

const names = Array.from({ length: wasm.webhook_count() }, (_, index) => {
  const bytes = new Uint8Array(
    wasm.memory.buffer,
    wasm.webhook_name_ptr(index),
    wasm.webhook_name_len(index),
  );
  return new TextDecoder().decode(bytes);
});
for (const name of only) {
  if (!names.includes(name)) throw new Error(`no webhook named ${name}; known: ${names.join(", ")}`);
}

/**
 * The CPU time (user + system, ms) this process has used. Unlike wall time it does not grow while
 * the process waits for a core, so other work on the machine does not inflate the figures.
 */
function cpuMillis() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** CPU milliseconds taken by `iterations` receipts of webhook `index`; throws if one fails. */
function timed(index, iterations) {
  const start = cpuMillis();
  const events = wasm.run(index, iterations);
  const elapsed = cpuMillis() - start;
  if (events < iterations) throw new Error(`${names[index]} failed to verify or normalize`);
  return elapsed;
}

function microsPerWebhook(index) {
  if (wasm.prepare(index) === 0) throw new Error(`${names[index]} cannot be built or does not verify`);
  const warmUpEnd = cpuMillis() + WARM_UP_MS;
  while (cpuMillis() < warmUpEnd) timed(index, 16);
  let iterations = 1;
  let elapsed = timed(index, iterations);
  while (elapsed < ROUND_MS / 4) {
    iterations *= 2;
    elapsed = timed(index, iterations);
  }
  iterations = Math.max(1, Math.ceil((iterations * ROUND_MS) / Math.max(elapsed, 1e-6)));
  const rounds = Array.from({ length: ROUNDS }, () => (timed(index, iterations) * 1000) / iterations);
  rounds.sort((a, b) => a - b);
  return rounds[Math.floor(ROUNDS / 2)];
}

const results = {};
names.forEach((name, index) => {
  if (only.length > 0 && !only.includes(name)) return;
  const micros = microsPerWebhook(index);
  console.error(`wasm   ${name.padEnd(16)} ${micros.toFixed(2).padStart(9)} µs`);
  results[name] = Number(micros.toFixed(2));
});
console.log(JSON.stringify(results));
