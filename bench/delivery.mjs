// `make bench`'s delivery scenario (issue 15): what delivering every event to one endpoint costs
// the webhook path, against no endpoint at all.
//
//   node bench/delivery.mjs --dev-vars FILE [--seconds 10] [--connections 16]
//     [--sequential-seconds 5] [--rounds 3] [--warmup-seconds 3] [--meter-calls 100]
//     [--drain-seconds 60] [--state-dir DIR] [--log-dir DIR] [--on-entry FILE] > delivery.json
//
// It starts, each with `wrangler dev` in a process group of its own (stopped on exit, also on
// failure or Ctrl-C), two copies of the release worker (build/, from `make build`) on fresh local
// state: `off` with no endpoint, `on` with one (`DELIVERY_ENDPOINTS=bench`, its URL a receiver in
// a child process of this script that checks each delivery's Standard Webhooks signature and
// answers 204). Both get a warm-up, then ROUNDS measured runs each, alternating which goes first
// (off, on | on, off | off, on | …), so that a drift of the shared machine weighs on both alike.
// Each round also has a run of each at one connection for SEQUENTIAL_SECONDS (0: none), the
// acknowledgement latency of a worker that is not saturated.
//
// A run: CONNECTIONS connections, each playing Telnyx calls of four new events (`call.initiated`,
// `call.answered`, `call.bridged`, `call.hangup`, fresh `data.id`s, Ed25519-signed as Telnyx
// signs), one request at a time over a keep-alive connection, for SECONDS. Closed-loop, like
// `switchboard load`: throughput is what the worker sustains, latency includes queueing. Each
// latency is from writing the request to reading the whole answer. Then, for `on`, it waits until
// the receiver holds one delivery per accepted event (DRAIN_SECONDS at most), and for both, 1.5 s
// more for the index flushes. Measured per run: webhooks per second, ack p50/p90/p99, the CPU of
// the worker's processes over the run and its drain per webhook (and of the receiver, which
// shares the machine: an endpoint elsewhere would not), deliveries received against events
// accepted, and the delivery lag (from reading an event's acknowledgement to the receiver reading
// its delivery: both processes read CLOCK_MONOTONIC).
//
// Then a metered pass: the two copies are stopped and two others started with
// bench/delivery-meter.mjs as the entry (the same build, each object's storage, alarm and KV
// calls counted), and two workload shapes sent to each: `burst` (METER_CALLS calls, the four
// events back to back) and `spaced` (the four events of each call 1.2 s apart, more than the
// index flush delay, as a real call's are). It reports per webhook the append RPCs, alarm
// invocations, SQL rows read and written as workerd counts them, `setAlarm` calls, KV writes,
// deliveries and the growth of the objects' databases: the counts behind the cost estimate in
// BENCHMARKS.md (METER_CALLS 0: no such pass).
//
// State lives in a fresh directory in RAM (/dev/shm) unless --state-dir says where; logs and the
// generated configs go to --log-dir (target/bench/delivery-PID). --on-entry serves the `on` copy
// from another build's entry module (an A/B of a change against the same `off`).
//
// Prints one JSON document; bench/report.mjs turns it into tables. Secrets are never printed.
import { fork, spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { devVars, ed25519Key, telnyxCallIds, telnyxCallPayload, telnyxTime, telnyxWebhook } from "./telnyx.mjs";

const SCRIPT = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(SCRIPT), "..");
const CALL_EVENTS = ["call.initiated", "call.answered", "call.bridged", "call.hangup"];
let drainTimeoutMs = 60_000;
const SETTLE_MS = 1_500;
const SPACING_MS = 1_200;

if (process.argv[2] === "--receiver") {
  receiver();
} else {
  const groups = [];
  const stop = () => stopGroups(groups);
  process.on("exit", stop);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => process.exit(130));
  }
  main(groups).then(
    () => process.exit(0),
    (error) => {
      console.error(`bench/delivery.mjs: ${error.stack ?? error.message}`);
      process.exit(1);
    },
  );
}

function options(argv) {
  const values = {
    seconds: "10",
    connections: "16",
    rounds: "3",
    "warmup-seconds": "3",
    "meter-calls": "100",
    "sequential-seconds": "5",
    "drain-seconds": "60",
  };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    values[argv[i].slice(2)] = argv[i + 1];
  }
  if (values["dev-vars"] === undefined) throw new Error("--dev-vars is required");
  return values;
}

function log(message) {
  console.error(`bench: delivery: ${message}`);
}

/// The four webhooks of a fresh Telnyx call, each a new event, signed now.
function telnyxCall(key, url) {
  const call = telnyxCallIds();
  return CALL_EVENTS.map((eventType, index) => {
    const payload = telnyxCallPayload(call);
    if (eventType === "call.initiated") {
      Object.assign(payload, { direction: "outgoing", state: "bridging" });
    } else {
      payload.start_time = telnyxTime(call.start);
    }
    if (eventType === "call.hangup") {
      Object.assign(payload, {
        state: "hangup",
        end_time: telnyxTime(call.start + 16_000),
        hangup_cause: "normal_clearing",
        hangup_source: "caller",
        sip_hangup_cause: "200",
      });
    }
    return telnyxWebhook(key, url, { eventType, occurredAt: telnyxTime(call.start + index * 4_000), payload });
  });
}

function monotonicMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

/// Sends one request: `{ms, ok, ackMs}`, the latency and when the answer was read.
function post(agent, url, { body, headers }) {
  return new Promise((resolve) => {
    const started = monotonicMs();
    const request = http.request(url, { method: "POST", agent, headers }, (response) => {
      response.resume();
      response.on("end", () => {
        const ackMs = monotonicMs();
        resolve({ ms: ackMs - started, ok: response.statusCode >= 200 && response.statusCode < 300, ackMs });
      });
    });
    request.on("error", () => resolve({ ms: monotonicMs() - started, ok: false, ackMs: monotonicMs() }));
    request.end(body);
  });
}

/// Closed-loop load: `connections` connections, calls back to back, for `seconds`.
async function closedLoop(target, key, connections, seconds) {
  const url = `${target}/webhooks/telnyx`;
  const started = monotonicMs();
  const deadline = started + seconds * 1000;
  const latencies = [];
  const accepted = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (monotonicMs() < deadline) {
        for (const webhook of telnyxCall(key, url)) {
          if (monotonicMs() >= deadline) break;
          const { ms, ok, ackMs } = await post(agent, url, webhook);
          if (ok) {
            latencies.push(ms);
            accepted.push([webhook.eventId, ackMs]);
          } else {
            errors += 1;
          }
        }
      }
      agent.destroy();
    }),
  );
  return { latencies, accepted, errors, durationMs: monotonicMs() - started, endedAt: monotonicMs() };
}

/// `calls` calls whose four events are SPACING_MS apart, the calls' starts spread over one
/// spacing, at most 16 requests at a time.
async function spacedCalls(target, key, calls) {
  const url = `${target}/webhooks/telnyx`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let errors = 0;
  let accepted = 0;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  await Promise.all(
    Array.from({ length: calls }, async (_, index) => {
      await sleep((index * SPACING_MS) / calls);
      const webhooks = telnyxCall(key, url);
      for (const [position, webhook] of webhooks.entries()) {
        if (position > 0) await sleep(SPACING_MS);
        const { ok } = await post(agent, url, webhook);
        if (ok) accepted += 1;
        else errors += 1;
      }
    }),
  );
  agent.destroy();
  return { accepted, errors };
}

/// Nearest-rank percentile of sorted `values`.
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.max(Math.ceil((p / 100) * sorted.length) - 1, 0)];
}

function rounded(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return null;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

// ---------------------------------------------------------------------------------------------
// Processes: free ports, wrangler in its own process group, CPU by process group.

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/// On exit: TERM to every group still running, a second, then KILL (synchronously: an exit
/// handler cannot wait for a timer).
function stopGroups(groups) {
  const left = groups.splice(0);
  const signal = (name) => {
    for (const group of left) {
      try {
        process.kill(-group.pid, name);
      } catch {
        // Already gone.
      }
    }
  };
  if (left.length === 0) return;
  signal("SIGTERM");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000);
  signal("SIGKILL");
}

/// Stops one group: TERM, then KILL after a second, and waits for its leader.
async function stopGroup(groups, group) {
  const index = groups.indexOf(group);
  if (index >= 0) groups.splice(index, 1);
  const gone = new Promise((resolve) => (group.child.exitCode !== null ? resolve() : group.child.once("exit", resolve)));
  try {
    process.kill(-group.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-group.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, 1_000);
  await gone;
  // The leader's children (workerd) may outlive it by a moment.
  await new Promise((resolve) => setTimeout(resolve, 300));
  try {
    process.kill(-group.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
  clearTimeout(timer);
}

/// The release worker's wrangler.toml with `main` set to `main` (absolute), the assets directory
/// absolute and no build step, as scripts/bench.sh writes it.
function wranglerConfig(main) {
  let table = "";
  const lines = [];
  for (const line of readFileSync(path.join(ROOT, "wrangler.toml"), "utf8").split("\n")) {
    if (line.startsWith("[")) table = line.trim();
    if (table === "[build]") continue;
    if (line.startsWith("main = ")) lines.push(`main = ${JSON.stringify(main)}`);
    else if (table === "[assets]" && line.startsWith("directory = ")) lines.push(`directory = ${JSON.stringify(path.join(ROOT, "public"))}`);
    else lines.push(line);
  }
  return lines.join("\n");
}

/// Starts `wrangler dev` for one copy of the worker: its own directory (config and .dev.vars),
/// state directory, port and inspector port. Resolves once it answers.
async function startWorker(groups, { name, main, vars, logDir, stateDir }) {
  const dir = path.join(logDir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "wrangler.toml"), wranglerConfig(main));
  writeFileSync(path.join(dir, ".dev.vars"), vars, { mode: 0o600 });
  const port = await freePort();
  const inspectorPort = await freePort();
  const logFile = openSync(path.join(logDir, `${name}.log`), "w");
  const child = spawn(
    path.join(ROOT, "node_modules/.bin/wrangler"),
    ["dev", "--config", path.join(dir, "wrangler.toml"), "--ip", "127.0.0.1", "--port", String(port),
      "--persist-to", path.join(stateDir, name), "--inspector-port", String(inspectorPort)],
    {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", logFile, logFile],
      env: {
        ...process.env,
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        WRANGLER_SEND_METRICS: "false",
        XDG_CONFIG_HOME: path.join(logDir, ".config"),
      },
    },
  );
  closeSync(logFile);
  const group = { name, pid: child.pid, child, port, url: `http://127.0.0.1:${port}` };
  groups.push(group);
  return group;
}

async function waitReady(group, logDir) {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (group.child.exitCode !== null) break;
    const answered = await new Promise((resolve) => {
      const request = http.get(`${group.url}/healthz`, (response) => {
        response.resume();
        resolve(true);
      });
      request.on("error", () => resolve(false));
      request.setTimeout(2_000, () => request.destroy());
    });
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const tail = readFileSync(path.join(logDir, `${group.name}.log`), "utf8").split("\n").slice(-30).join("\n");
  throw new Error(`${group.name} did not start; its log:\n${tail}`);
}

/// CPU ms (user + system) used so far by the processes of `group`: `worker`, the workerd running
/// the worker; `proxy`, the workerd running wrangler's proxy worker (the one serving the port);
/// `wrangler`, wrangler's own node processes (and esbuild).
function groupCpuMs(group) {
  const ms = { worker: 0, proxy: 0, wrangler: 0 };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fields;
    let comm;
    let cmdline;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields after the `(comm)`: 5 pgrp is the 3rd, 14 utime and 15 stime the 12th and 13th.
      if (Number(fields[2]) !== group.pid) continue;
      cmdline = comm === "workerd" ? readFileSync(`/proc/${entry}/cmdline`, "utf8") : "";
    } catch {
      continue;
    }
    const used = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100
    if (comm !== "workerd") ms.wrangler += used;
    else if (cmdline.includes(`entry=127.0.0.1:${group.port}\0`)) ms.proxy += used;
    else ms.worker += used;
  }
  return ms;
}

function cpuDelta(after, before) {
  return Object.fromEntries(Object.keys(after).map((part) => [part, after[part] - before[part]]));
}

// ---------------------------------------------------------------------------------------------
// The receiver: a child process answering 204 to each delivery whose signature verifies.

function receiver() {
  let key = null;
  let requests = 0;
  let refused = 0;
  let duplicates = 0;
  let bytes = 0;
  const seen = new Set();
  let receipts = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const at = monotonicMs();
      requests += 1;
      const body = Buffer.concat(chunks).toString("utf8");
      bytes += Buffer.byteLength(body);
      const id = request.headers["webhook-id"] ?? "";
      const timestamp = request.headers["webhook-timestamp"] ?? "";
      const expected = `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
      const signatures = String(request.headers["webhook-signature"] ?? "").split(" ");
      if (!signatures.includes(expected)) {
        refused += 1;
        response.writeHead(401).end();
        return;
      }
      if (seen.has(id)) {
        duplicates += 1;
      } else {
        seen.add(id);
        let eventId = null;
        try {
          eventId = JSON.parse(body).data.event.event_id;
        } catch {
          // Counted, without an event id.
        }
        receipts.push([eventId, at]);
      }
      response.writeHead(204).end();
    });
  });
  process.on("message", (message) => {
    if (message.type === "start") {
      key = Buffer.from(message.secret.replace(/^whsec_/, ""), "base64");
      server.listen(0, "127.0.0.1", () => process.send({ value: server.address().port }));
    } else if (message.type === "count") {
      process.send({ value: receipts.length });
    } else if (message.type === "take") {
      process.send({ value: { requests, refused, duplicates, bytes, receipts, cpu: process.cpuUsage() } });
      receipts = [];
      bytes = 0;
    } else if (message.type === "stop") {
      server.close();
      process.send({ value: 0 });
      process.disconnect();
    }
  });
}

/// Sends `message` to the receiver and resolves to its answer's value (one question at a time).
function ask(child, message) {
  return new Promise((resolve, reject) => {
    child.once("message", (answer) => (answer.error ? reject(new Error(answer.error)) : resolve(answer.value)));
    child.send(message);
  });
}

// ---------------------------------------------------------------------------------------------
// Runs.

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// The receiver's CPU ms (user + system) when it last answered `take`.
let receiverCpuMs = 0;

/// One measured run against `group` (`mode` off or on) at `connections` for `seconds`.
async function measure(group, mode, round, receiverChild, key, connections, seconds) {
  const cpuBefore = groupCpuMs(group);
  const clientBefore = process.cpuUsage();
  const load = await closedLoop(group.url, key, connections, seconds);
  const clientCpu = process.cpuUsage(clientBefore);
  let drained = true;
  if (mode === "on") {
    const deadline = Date.now() + drainTimeoutMs;
    while ((await ask(receiverChild, { type: "count" })) < load.accepted.length) {
      if (Date.now() > deadline) {
        drained = false;
        break;
      }
      await sleep(50);
    }
  }
  const drainedAt = monotonicMs();
  await sleep(SETTLE_MS);
  const cpu = cpuDelta(groupCpuMs(group), cpuBefore);
  const received = await ask(receiverChild, { type: "take" });
  const receiverCpu = (received.cpu.user + received.cpu.system) / 1000 - receiverCpuMs;
  receiverCpuMs += receiverCpu;

  const acks = new Map(load.accepted);
  const lags = [];
  let strays = 0;
  let lastReceipt = null;
  for (const [eventId, at] of received.receipts) {
    const ack = acks.get(eventId);
    if (ack === undefined) {
      strays += 1;
      continue;
    }
    lags.push(at - ack);
    acks.delete(eventId);
    lastReceipt = Math.max(lastReceipt ?? at, at);
  }
  lags.sort((a, b) => a - b);
  const latencies = [...load.latencies].sort((a, b) => a - b);
  const webhooks = latencies.length + load.errors;
  const perWebhook = (ms) => rounded(ms / Math.max(webhooks, 1), 3);
  const result = {
    mode,
    round,
    connections,
    webhooks,
    errors: load.errors,
    duration_s: rounded(load.durationMs / 1000, 3),
    rps: rounded(latencies.length / (load.durationMs / 1000)),
    p50_ms: rounded(percentile(latencies, 50)),
    p90_ms: rounded(percentile(latencies, 90)),
    p99_ms: rounded(percentile(latencies, 99)),
    max_ms: rounded(latencies.at(-1)),
    events_accepted: load.accepted.length,
    deliveries_received: received.receipts.length - strays,
    deliveries_missing: mode === "on" ? acks.size : 0,
    deliveries_stray: strays,
    deliveries_duplicate: received.duplicates,
    deliveries_refused: received.refused,
    drained,
    lag_p50_ms: rounded(percentile(lags, 50)),
    lag_p99_ms: rounded(percentile(lags, 99)),
    lag_max_ms: rounded(lags.at(-1)),
    drain_after_load_ms: lastReceipt === null ? null : rounded(lastReceipt - load.endedAt),
    window_s: rounded((drainedAt + SETTLE_MS - (load.endedAt - load.durationMs)) / 1000, 3),
    cpu_ms_per_webhook: {
      worker: perWebhook(cpu.worker),
      proxy: perWebhook(cpu.proxy),
      wrangler: perWebhook(cpu.wrangler),
      load_generator: perWebhook((clientCpu.user + clientCpu.system) / 1000),
      receiver: perWebhook(receiverCpu),
    },
  };
  log(
    `${mode}, ${connections} connection${connections === 1 ? "" : "s"}, round ${round}: ${webhooks} webhooks, ${result.rps} req/s, ack p50 ${result.p50_ms} ms, ` +
      `p99 ${result.p99_ms} ms, ${load.errors} errors; ${result.deliveries_received} deliveries of ` +
      `${mode === "on" ? result.events_accepted : 0} expected, lag p50 ${result.lag_p50_ms} ms; ` +
      `worker CPU ${result.cpu_ms_per_webhook.worker} ms/webhook`,
  );
  return result;
}

async function meterSnapshot(group) {
  const response = await fetch(`${group.url}/__bench/meter`);
  if (!response.ok) throw new Error(`${group.name}: /__bench/meter answered ${response.status}`);
  return response.json();
}

/// `after - before`, for the nested counters of /__bench/meter.
function difference(after, before) {
  if (typeof after === "number") return after - (before ?? 0);
  return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, difference(value, before?.[key])]));
}

/// The counters of one shape, per webhook (every webhook here is a new event).
function perWebhook(counts, webhooks) {
  const per = (value) => rounded(value / webhooks, 3);
  const phase = (figures) => ({
    invocations: per(figures.invocations),
    statements: per(figures.statements),
    rows_read: per(figures.rows_read),
    rows_written: per(figures.rows_written),
    set_alarm: per(figures.set_alarm),
    get_alarm: per(figures.get_alarm),
    kv_put: per(figures.kv.put),
    kv_delete: per(figures.kv.delete),
    kv_get_list: per(figures.kv.get + figures.kv.list),
    wall_ms: per(figures.wall_ms),
    by_statement: Object.fromEntries(
      Object.entries(figures.by_statement)
        .filter(([, statement]) => statement.count > 0)
        .map(([key, statement]) => [key, { count: per(statement.count), rows_read: per(statement.rows_read), rows_written: per(statement.rows_written) }]),
    ),
  });
  return {
    webhooks,
    objects: counts.objects,
    database_bytes: per(counts.database_bytes),
    fetches: per(counts.fetches),
    append: phase(counts.phases.append),
    alarm: phase(counts.phases.alarm),
    other: phase(counts.phases.other),
  };
}

/// Waits until the receiver holds `expected` deliveries (at most DRAIN_SECONDS), then the settle time and
/// a second; takes them: `{count, bytes}`, how many and their bodies' bytes.
async function drainReceiver(receiverChild, expected) {
  const deadline = Date.now() + drainTimeoutMs;
  while ((await ask(receiverChild, { type: "count" })) < expected && Date.now() < deadline) {
    await sleep(50);
  }
  await sleep(SETTLE_MS + 1_000);
  const taken = await ask(receiverChild, { type: "take" });
  receiverCpuMs = (taken.cpu.user + taken.cpu.system) / 1000;
  return { count: taken.receipts.length, bytes: taken.bytes };
}

async function main(groups) {
  const args = options(process.argv.slice(2));
  for (const name of ["seconds", "connections", "rounds", "warmup-seconds", "meter-calls", "sequential-seconds", "drain-seconds"]) {
    args[name.replace(/-(.)/g, (_, c) => c.toUpperCase())] = Number(args[name]);
  }
  drainTimeoutMs = args.drainSeconds * 1000;
  if (!existsSync(path.join(ROOT, "build/entry.mjs"))) throw new Error("no build/entry.mjs: run `make build` first");
  const varsText = readFileSync(args["dev-vars"], "utf8");
  const vars = devVars(args["dev-vars"]);
  const key = ed25519Key(vars.TELNYX_SIGNING_PRIVATE_KEY);
  const logDir = path.resolve(args["log-dir"] ?? path.join(ROOT, "target/bench", `delivery-${process.pid}`));
  mkdirSync(logDir, { recursive: true });
  let ownStateDir = false;
  let stateDir = args["state-dir"];
  if (stateDir === undefined) {
    const ram = existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
    stateDir = mkdtempSync(path.join(ram, "switchboard-delivery."));
    ownStateDir = true;
  }
  mkdirSync(stateDir, { recursive: true });
  process.on("exit", () => {
    if (ownStateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const receiverChild = fork(SCRIPT, ["--receiver"], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  process.on("exit", () => receiverChild.kill());
  const secret = `whsec_${randomBytes(32).toString("base64")}`;
  const receiverPort = await ask(receiverChild, { type: "start", secret });
  const deliveryVars = [
    "",
    "DELIVERY_ENDPOINTS=bench",
    `DELIVERY_BENCH_URL=http://127.0.0.1:${receiverPort}/`,
    `DELIVERY_BENCH_SECRET=${secret}`,
    "",
  ].join("\n");
  const entry = path.join(ROOT, "build/entry.mjs");
  const configs = {
    off: { name: "off", main: entry, vars: varsText, logDir, stateDir },
    on: { name: "on", main: path.resolve(args["on-entry"] ?? entry), vars: varsText + deliveryVars, logDir, stateDir },
  };

  log(`starting two copies of the worker (no endpoint; one endpoint, receiver on port ${receiverPort})`);
  const workers = {};
  for (const mode of ["off", "on"]) workers[mode] = await startWorker(groups, configs[mode]);
  for (const mode of ["off", "on"]) await waitReady(workers[mode], logDir);

  for (const mode of ["off", "on"]) {
    const warmup = await closedLoop(workers[mode].url, key, args.connections, args.warmupSeconds);
    if (mode === "on") await drainReceiver(receiverChild, warmup.accepted.length);
  }

  const runs = [];
  for (let round = 1; round <= args.rounds; round += 1) {
    const order = round % 2 === 1 ? ["off", "on"] : ["on", "off"];
    for (const mode of order) {
      runs.push(await measure(workers[mode], mode, round, receiverChild, key, args.connections, args.seconds));
    }
    if (args.sequentialSeconds > 0) {
      for (const mode of order) {
        runs.push(await measure(workers[mode], mode, round, receiverChild, key, 1, args.sequentialSeconds));
      }
    }
  }
  for (const mode of ["off", "on"]) await stopGroup(groups, workers[mode]);

  const meter = { burst: {}, spaced: {} };
  if (args.meterCalls > 0) await meterPass(groups, configs, receiverChild, key, args, meter);
  await ask(receiverChild, { type: "stop" });

  console.log(
    JSON.stringify({
      provider: "telnyx",
      events_per_call: CALL_EVENTS.length,
      connections: args.connections,
      seconds: args.seconds,
      sequential_seconds: args.sequentialSeconds,
      rounds: args.rounds,
      warmup_seconds: args.warmupSeconds,
      meter_calls: args.meterCalls,
      spacing_ms: SPACING_MS,
      on_entry: args["on-entry"] === undefined ? undefined : path.relative(ROOT, path.resolve(args["on-entry"])),
      runs,
      meter: args.meterCalls > 0 ? meter : undefined,
    }),
  );
}

/// The metered pass (see the top of this file): fills `meter.burst` and `meter.spaced`.
async function meterPass(groups, configs, receiverChild, key, args, meter) {
  const { logDir } = configs.off;
  log(`metered pass: ${args.meterCalls} calls back to back, then ${args.meterCalls} calls with events ${SPACING_MS} ms apart`);
  const metered = {};
  for (const mode of ["off", "on"]) {
    metered[mode] = await startWorker(groups, {
      ...configs[mode],
      name: `${mode}-metered`,
      main: path.join(ROOT, "bench/delivery-meter.mjs"),
    });
  }
  for (const mode of ["off", "on"]) await waitReady(metered[mode], logDir);
  for (const mode of ["off", "on"]) {
    const group = metered[mode];
    const start = await meterSnapshot(group);
    // Burst: the calls' events back to back, 4 connections.
    const url = `${group.url}/webhooks/telnyx`;
    let accepted = 0;
    let errors = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        while (next < args.meterCalls) {
          next += 1;
          for (const webhook of telnyxCall(key, url)) {
            const { ok } = await post(agent, url, webhook);
            if (ok) accepted += 1;
            else errors += 1;
          }
        }
        agent.destroy();
      }),
    );
    const burstDelivered = await drainReceiver(receiverChild, mode === "on" ? accepted : 0);
    const afterBurst = await meterSnapshot(group);
    meter.burst[mode] = {
      ...perWebhook(difference(afterBurst, start), accepted),
      errors,
      deliveries_received: burstDelivered.count,
      delivery_body_bytes: burstDelivered.count ? rounded(burstDelivered.bytes / burstDelivered.count) : null,
    };
    const spaced = await spacedCalls(group.url, key, args.meterCalls);
    const spacedDelivered = await drainReceiver(receiverChild, mode === "on" ? spaced.accepted : 0);
    const afterSpaced = await meterSnapshot(group);
    meter.spaced[mode] = {
      ...perWebhook(difference(afterSpaced, afterBurst), spaced.accepted),
      errors: spaced.errors,
      deliveries_received: spacedDelivered.count,
      delivery_body_bytes: spacedDelivered.count ? rounded(spacedDelivered.bytes / spacedDelivered.count) : null,
    };
    log(
      `metered ${mode}: burst ${accepted} webhooks, ${meter.burst[mode].alarm.invocations} alarms and ` +
        `${meter.burst[mode].append.rows_written + meter.burst[mode].alarm.rows_written} rows written per webhook; spaced ` +
        `${spaced.accepted} webhooks, ${meter.spaced[mode].alarm.invocations} alarms and ` +
        `${meter.spaced[mode].append.rows_written + meter.spaced[mode].alarm.rows_written} rows written per webhook`,
    );
  }
  for (const mode of ["off", "on"]) await stopGroup(groups, metered[mode]);
}
