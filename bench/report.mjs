// Assembles `make bench`'s figures into bench/results/latest.json, or prints them as tables.
//
//   node bench/report.mjs RESULTS_DIR DEPLOY_DIR CONNECTIONS SECONDS > latest.json
//   node bench/report.mjs --table latest.json
//   node bench/report.mjs --delivery-table delivery.json   # a run of bench/delivery.mjs alone
//
// RESULTS_DIR holds `<scenario>.<target>[.<round>].json` (reports of `switchboard load`, target
// `switchboard` or `peer_ts`; a round number where both workers ran the scenario several
// times), `<scenario>.<target>[.<round>].cpu` (CPU ticks of the target's processes before and
// after: `TOOLING WORKERD TOOLING WORKERD CLK_TCK`) and `cpu.json` (bench/cpu/run.sh);
// DEPLOY_DIR is the output of `wrangler deploy --dry-run --outdir`. `live.sockets-<n>.<round>.json`
// are runs of bench/live.mjs (issue 14: acknowledgement latency with n sockets on the call);
// `delivery.json` is bench/delivery.mjs's report (issue 15: webhooks with no endpoint and with
// one, whose figures are given as the median of the runs of each, and the metered counts).
//
// A target's rounds are added up: req/s is all requests over all measured seconds, CPU per
// request all ticks over all requests, errors the sum, and p50/p90/p99 the mean of the rounds'
// (the load reports carry percentiles, not their samples). Each round is also kept, and the
// ratios are given per round as well, because two runs of one build differ by up to ±10 %.
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import os from "node:os";

const LATENCY_FIELDS = ["p50_ms", "p90_ms", "p99_ms"];

function readJson(path) {
  return JSON.parse(readFileSync(path, "utf8"));
}

function scenarios(resultsDir) {
  const runs = {};
  for (const file of readdirSync(resultsDir).sort()) {
    const match = /^(.+)\.(switchboard|peer_ts)(\.\d+)?\.json$/.exec(file);
    if (!match) continue;
    const [, scenario, target, round = ""] = match;
    const report = readJson(join(resultsDir, file));
    const ticks = cpuTicks(join(resultsDir, `${scenario}.${target}${round}.cpu`));
    runs[scenario] ??= {};
    (runs[scenario][target] ??= []).push({ report, ticks, round: Number(round.slice(1)) });
  }
  const scenarios = {};
  for (const [scenario, targets] of Object.entries(runs)) {
    scenarios[scenario] = {};
    for (const [target, rounds] of Object.entries(targets)) {
      rounds.sort((a, b) => a.round - b.round);
      scenarios[scenario][target] = combine(rounds);
    }
  }
  return scenarios;
}

/// One target's figures for a scenario, from its rounds (see the top of this file).
function combine(rounds) {
  const sum = (value) => rounds.reduce((total, run) => total + value(run), 0);
  const requests = sum((run) => run.report.requests);
  const mean = (field) => round(sum((run) => run.report[field]) / rounds.length);
  const cpuPerRequest = (part) => round(sum((run) => run.ticks[part]) / Math.max(requests, 1));
  const figures = {
    rps: round(requests / sum((run) => run.report.duration_s)),
    ...Object.fromEntries(LATENCY_FIELDS.map((field) => [field, mean(field)])),
    errors: sum((run) => run.report.errors),
    requests,
    cpu_ms_per_request: { workerd: cpuPerRequest("workerd"), wrangler: cpuPerRequest("wrangler") },
  };
  if (rounds.length > 1) {
    figures.rounds = rounds.map(({ report }) => ({ rps: report.rps, p99_ms: report.p99_ms }));
  }
  return figures;
}

/// Nearest-rank percentile of sorted `values`.
function percentile(values, p) {
  return values[Math.max(Math.ceil((p / 100) * values.length) - 1, 0)];
}

function latencyFigures(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { n: sorted.length, p50_ms: round(percentile(sorted, 50)), p99_ms: round(percentile(sorted, 99)), max_ms: round(sorted.at(-1)) };
}

/// Issue 14: per socket count, each round's acknowledgement percentiles and those of all rounds'
/// latencies together; the event frames the sockets received, and workerd's CPU per webhook.
function live(resultsDir) {
  const runs = {};
  for (const file of readdirSync(resultsDir)) {
    const match = /^live\.sockets-(\d+)\.(\d+)\.json$/.exec(file);
    if (match) (runs[match[1]] ??= []).push({ round: Number(match[2]), ...readJson(join(resultsDir, file)) });
  }
  if (Object.keys(runs).length === 0) return undefined;
  const bySockets = {};
  for (const [sockets, rounds] of Object.entries(runs).sort(([a], [b]) => a - b)) {
    rounds.sort((a, b) => a.round - b.round);
    const sum = (value) => rounds.reduce((total, run) => total + value(run), 0);
    const requests = sum((run) => run.latencies_ms.length);
    bySockets[sockets] = {
      ...latencyFigures(rounds.flatMap((run) => run.latencies_ms)),
      errors: sum((run) => run.errors),
      frames_expected: sum((run) => run.frames_expected),
      frames_received: sum((run) => run.frames_received),
      cpu_ms_per_request: {
        worker: round(sum((run) => run.workerd_cpu_ms.worker) / requests),
        proxy: round(sum((run) => run.workerd_cpu_ms.proxy) / requests),
      },
      rounds: rounds.map((run) => ({ round: run.round, ...latencyFigures(run.latencies_ms) })),
    };
  }
  const [first] = Object.values(runs)[0];
  return { provider: "telnyx", events_per_run: first.events, warmup_per_run: first.warmup, sockets: bySockets };
}

/// The median of `values` (the mean of the middle two for an even count).
function median(values) {
  const sorted = values.filter((value) => value !== null && value !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/// Issue 15: per load (`load`: CONNECTIONS connections, `sequential`: one) and mode (`off`: no
/// endpoint, `on`: one), the median of its runs' figures and each run's; the deliveries received
/// against the events accepted; the metered counts as measured.
function delivery(resultsDir, file = "delivery.json") {
  let report;
  try {
    report = readJson(join(resultsDir, file));
  } catch {
    return undefined;
  }
  const summary = (runs) => {
    const middle = (value) => round(median(runs.map(value)));
    const sum = (value) => runs.reduce((total, run) => total + value(run), 0);
    return {
      runs: runs.length,
      rps: middle((run) => run.rps),
      p50_ms: middle((run) => run.p50_ms),
      p90_ms: middle((run) => run.p90_ms),
      p99_ms: middle((run) => run.p99_ms),
      errors: sum((run) => run.errors),
      cpu_ms_per_webhook: Object.fromEntries(
        ["worker", "proxy", "wrangler", "load_generator", "receiver"].map((part) => [part, middle((run) => run.cpu_ms_per_webhook[part])]),
      ),
      events_accepted: sum((run) => run.events_accepted),
      deliveries_received: sum((run) => run.deliveries_received),
      deliveries_missing: sum((run) => run.deliveries_missing),
      deliveries_duplicate: sum((run) => run.deliveries_duplicate),
      deliveries_refused: sum((run) => run.deliveries_refused),
      lag_p50_ms: middle((run) => run.lag_p50_ms),
      lag_p99_ms: middle((run) => run.lag_p99_ms),
      drain_after_load_ms: middle((run) => run.drain_after_load_ms),
      by_run: runs.map((run) => ({
        round: run.round,
        rps: run.rps,
        p50_ms: run.p50_ms,
        p99_ms: run.p99_ms,
        worker_cpu_ms: run.cpu_ms_per_webhook.worker,
      })),
    };
  };
  const loads = {};
  for (const [load, connections] of [["load", report.connections], ["sequential", 1]]) {
    const runs = report.runs.filter((run) => run.connections === connections);
    if (runs.length === 0) continue;
    loads[load] = {};
    for (const mode of ["off", "on"]) {
      loads[load][mode] = summary(runs.filter((run) => run.mode === mode).sort((a, b) => a.round - b.round));
    }
  }
  const { runs, ...settings } = report;
  return { ...settings, order: runs.map((run) => `${run.mode}/${run.connections}`), loads };
}

/// CPU ms used during one run by workerd and by wrangler's own processes (node, esbuild), which
/// relay the worker's logs and subrequests to the terminal under `wrangler dev`.
function cpuTicks(path) {
  const [toolingBefore, workerdBefore, toolingAfter, workerdAfter, ticksPerSecond] = readFileSync(path, "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  const ms = (ticks) => (ticks * 1000) / ticksPerSecond;
  return { workerd: ms(workerdAfter - workerdBefore), wrangler: ms(toolingAfter - toolingBefore) };
}

/// Switchboard ÷ peer where both ran: throughput (higher is better) and p99 (lower is better),
/// over all rounds and, with several, round by round.
function ratios(scenarios) {
  const ratios = {};
  for (const [name, { switchboard, peer_ts }] of Object.entries(scenarios)) {
    if (!switchboard || !peer_ts) continue;
    ratios[name] = {
      rps: round(switchboard.rps / peer_ts.rps),
      p99: round(switchboard.p99_ms / peer_ts.p99_ms),
    };
    if (switchboard.rounds && peer_ts.rounds) {
      ratios[name].rounds = switchboard.rounds.map((ours, index) => ({
        rps: round(ours.rps / peer_ts.rounds[index].rps),
        p99: round(ours.p99_ms / peer_ts.rounds[index].p99_ms),
      }));
    }
  }
  return ratios;
}

function sizes(files) {
  const bytes = files.reduce((sum, file) => sum + readFileSync(file).length, 0);
  const gzip = files.reduce((sum, file) => sum + gzipSync(readFileSync(file), { level: 9 }).length, 0);
  return [bytes, gzip];
}

/// The deployed bundle: the wasm module(s) and the JavaScript around them.
function bundle(deployDir) {
  const files = readdirSync(deployDir, { recursive: true }).map((file) => join(deployDir, String(file)));
  const [wasmBytes, wasmGzip] = sizes(files.filter((file) => file.endsWith(".wasm")));
  const [jsBytes, jsGzip] = sizes(files.filter((file) => file.endsWith(".js") || file.endsWith(".mjs")));
  return { wasm_bytes: wasmBytes, wasm_gzip_bytes: wasmGzip, js_bytes: jsBytes, js_gzip_bytes: jsGzip };
}

function round(value) {
  return Math.round(value * 100) / 100;
}

function assemble([resultsDir, deployDir, connections, seconds]) {
  const measured = scenarios(resultsDir);
  return {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? "unknown",
      memory_gib: round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    load: { connections: Number(connections), seconds: Number(seconds) },
    scenarios: measured,
    switchboard_over_peer: ratios(measured),
    cpu_us: readJson(join(resultsDir, "cpu.json")),
    bundle: bundle(deployDir),
    live: live(resultsDir),
    delivery: delivery(resultsDir),
  };
}

function table(results) {
  const lines = [];
  const cell = (figures, field) => (figures ? String(figures[field]) : "—");
  lines.push("| scenario | target | req/s | p50 ms | p90 ms | p99 ms | errors | CPU ms/req workerd | CPU ms/req wrangler |");
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const [name, targets] of Object.entries(results.scenarios)) {
    for (const target of ["switchboard", "peer_ts"]) {
      const figures = targets[target];
      if (!figures) continue;
      const load = ["rps", "p50_ms", "p90_ms", "p99_ms", "errors"].map((field) => cell(figures, field));
      const cpu = [figures.cpu_ms_per_request.workerd, figures.cpu_ms_per_request.wrangler];
      lines.push(`| ${name} | ${target} | ${[...load, ...cpu].join(" | ")} |`);
    }
  }
  lines.push("");
  lines.push("| scenario | Switchboard ÷ peer req/s | Switchboard ÷ peer p99 | req/s by round | p99 by round |");
  lines.push("|---|---:|---:|---:|---:|");
  for (const [name, ratio] of Object.entries(results.switchboard_over_peer)) {
    const byRound = (field) => (ratio.rounds ?? []).map((round) => round[field]).join(", ") || "—";
    lines.push(`| ${name} | ${ratio.rps} | ${ratio.p99} | ${byRound("rps")} | ${byRound("p99")} |`);
  }
  lines.push("");
  lines.push("| provider | wasm µs | native µs | wasm ÷ native |");
  lines.push("|---|---:|---:|---:|");
  for (const [provider, figures] of Object.entries(results.cpu_us)) {
    lines.push(`| ${provider} | ${figures.wasm} | ${figures.native} | ${figures.ratio ?? round(figures.wasm / figures.native)} |`);
  }
  lines.push("");
  if (results.live) {
    lines.push("| sockets | ack p50 ms | ack p99 ms | max ms | n | errors | frames received | CPU ms/req worker | CPU ms/req proxy | p50 by round | p99 by round |");
    lines.push("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const [sockets, figures] of Object.entries(results.live.sockets)) {
      const byRound = (field) => figures.rounds.map((round) => round[field]).join(", ");
      const frames = `${figures.frames_received} of ${figures.frames_expected}`;
      const cpu = [figures.cpu_ms_per_request.worker, figures.cpu_ms_per_request.proxy];
      lines.push(`| ${sockets} | ${figures.p50_ms} | ${figures.p99_ms} | ${figures.max_ms} | ${figures.n} | ${figures.errors} | ${frames} | ${cpu.join(" | ")} | ${byRound("p50_ms")} | ${byRound("p99_ms")} |`);
    }
    lines.push("");
  }
  if (results.delivery) {
    lines.push(...deliveryTable(results.delivery));
    lines.push("");
  }
  const { bundle } = results;
  lines.push(`bundle: wasm ${bundle.wasm_bytes} B (gzip -9 ${bundle.wasm_gzip_bytes} B), JS ${bundle.js_bytes} B (gzip -9 ${bundle.js_gzip_bytes} B)`);
  return lines.join("\n");
}

function deliveryTable(delivery) {
  const lines = [];
  const name = { off: "none", on: "one" };
  lines.push(
    `Delivery (Telnyx calls of ${delivery.events_per_call} new events): ${delivery.rounds} runs of each, ${delivery.seconds} s at ` +
      `${delivery.connections} connections and ${delivery.sequential_seconds} s at 1, order ${delivery.order.join(", ")}; medians of the runs:`,
  );
  lines.push("");
  lines.push("| connections | endpoints | req/s | ack p50 ms | ack p90 ms | ack p99 ms | errors | CPU ms/webhook worker | proxy | wrangler | receiver | req/s by run | p50 by run | p99 by run |");
  lines.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  const deliveries = [];
  for (const [load, modes] of Object.entries(delivery.loads)) {
    const connections = load === "load" ? delivery.connections : 1;
    for (const [mode, figures] of Object.entries(modes)) {
      const byRun = (field) => figures.by_run.map((run) => run[field]).join(", ");
      const cpu = figures.cpu_ms_per_webhook;
      lines.push(
        `| ${connections} | ${name[mode]} | ${figures.rps} | ${figures.p50_ms} | ${figures.p90_ms} | ${figures.p99_ms} | ${figures.errors} | ` +
          `${cpu.worker} | ${cpu.proxy} | ${cpu.wrangler} | ${cpu.receiver ?? "—"} | ${byRun("rps")} | ${byRun("p50_ms")} | ${byRun("p99_ms")} |`,
      );
    }
    const on = modes.on;
    deliveries.push(
      `deliveries at ${connections} connection${connections === 1 ? "" : "s"}: ${on.deliveries_received} received of ${on.events_accepted} ` +
        `events accepted (${on.deliveries_missing} missing, ${on.deliveries_duplicate} duplicates, ${on.deliveries_refused} refused); ` +
        `lag from ack to receipt p50 ${on.lag_p50_ms} ms, p99 ${on.lag_p99_ms} ms; last delivery ${on.drain_after_load_ms} ms after ` +
        "the last ack (medians of the runs)",
    );
  }
  lines.push("");
  lines.push(...deliveries);
  if (delivery.meter) {
    lines.push("");
    lines.push("| shape | endpoints | appends | alarms | rows written | rows read | setAlarm | KV writes | deliveries | alarm wall ms | database bytes |");
    lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const [shape, modes] of Object.entries(delivery.meter)) {
      for (const [mode, figures] of Object.entries(modes)) {
        const written = round(figures.append.rows_written + figures.alarm.rows_written + figures.other.rows_written);
        const read = round(figures.append.rows_read + figures.alarm.rows_read + figures.other.rows_read);
        const setAlarm = round(figures.append.set_alarm + figures.alarm.set_alarm + figures.other.set_alarm);
        const kv = round(figures.alarm.kv_put + figures.alarm.kv_delete);
        lines.push(
          `| ${shape} | ${name[mode]} | ${figures.append.invocations} | ${figures.alarm.invocations} | ${written} | ${read} | ` +
            `${setAlarm} | ${kv} | ${figures.fetches} | ${figures.alarm.wall_ms} | ${figures.database_bytes} |`,
        );
      }
    }
    lines.push("");
    const body = delivery.meter.burst?.on?.delivery_body_bytes;
    lines.push(
      "(metered pass, per webhook, each a new event; SQL rows as workerd's cursors count them, `setAlarm` calls apart; " +
        `database bytes: growth of the objects' \`databaseSize\`; a delivery's body ${body} bytes)`,
    );
  }
  return lines;
}

const args = process.argv.slice(2);
if (args[0] === "--table") {
  console.log(table(readJson(args[1])));
} else if (args[0] === "--delivery-table") {
  console.log(deliveryTable(delivery(dirname(resolve(args[1])), basename(args[1]))).join("\n"));
} else if (args.length === 4) {
  console.log(JSON.stringify(assemble(args), null, 2));
} else {
  console.error("usage: node bench/report.mjs RESULTS_DIR DEPLOY_DIR CONNECTIONS SECONDS | --table FILE | --delivery-table FILE");
  process.exit(2);
}
