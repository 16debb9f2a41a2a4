// A V8 CPU profile of a worker's isolate while a load runs, by self time per function:
//
//   INSPECTOR_PORT=9230 node scripts/serve-worker.mjs CONFIG 8790 STATE_DIR &
//   node bench/profile.mjs ws://127.0.0.1:9230/core:user:switchboard 7 out.cpuprofile &
//   target/release/switchboard load --target http://127.0.0.1:8790 --provider telnyx --duration 8
//
// Prints the 40 functions with the most self time and writes the whole profile (for Chrome's
// DevTools) to the given file. wasm frames are named only in a build that keeps the names
// section (scripts/build-worker.sh strips it: run wasm-opt with `--debuginfo` for a profile).
import { writeFileSync } from "node:fs";
import WebSocket from "ws";

const [url, seconds, out] = process.argv.slice(2);
if (!url || !seconds || !out) {
  console.error("usage: node bench/profile.mjs INSPECTOR_WS_URL SECONDS OUT.cpuprofile");
  process.exit(2);
}

const socket = new WebSocket(url);
let lastId = 0;
const pending = new Map();
function send(method, params = {}) {
  return new Promise((resolve) => {
    const id = ++lastId;
    pending.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });
}
socket.on("message", (data) => {
  const message = JSON.parse(data);
  pending.get(message.id)?.(message);
  pending.delete(message.id);
});
socket.on("open", async () => {
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 50 });
  await send("Profiler.start");
  await new Promise((resolve) => setTimeout(resolve, Number(seconds) * 1000));
  const { profile } = (await send("Profiler.stop")).result;
  writeFileSync(out, JSON.stringify(profile));

  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map();
  let total = 0;
  profile.samples.forEach((sample, index) => {
    const { functionName, url: script } = nodes.get(sample).callFrame;
    const key = `${functionName || "(anonymous)"} ${script.split("/").pop()}`;
    const micros = profile.timeDeltas[index + 1] ?? 0;
    selfMicros.set(key, (selfMicros.get(key) ?? 0) + micros);
    total += micros;
  });
  console.log(`sampled ${(total / 1000).toFixed(0)} ms`);
  for (const [name, micros] of [...selfMicros].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${((100 * micros) / total).toFixed(1).padStart(5)}% ${(micros / 1000).toFixed(1).padStart(8)} ms  ${name}`);
  }
  socket.close();
});
