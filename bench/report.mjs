// Assembles `make bench`'s figures into bench/results/latest.json, or prints them as tables.
//
//   node bench/report.mjs RESULTS_DIR DEPLOY_DIR CONNECTIONS SECONDS > latest.json
//   node bench/report.mjs --table latest.json
//
// RESULTS_DIR holds `<scenario>.<target>[.<round>].json` (reports of `switchboard load`, target
// `switchboard` or `peer_ts`; a round number where both workers ran the scenario several
// times), `<scenario>.<target>[.<round>].cpu` (CPU ticks of the target's processes before and
// after: `TOOLING WORKERD TOOLING WORKERD CLK_TCK`) and `cpu.json` (bench/cpu/run.sh);
// DEPLOY_DIR is the output of `wrangler deploy --dry-run --outdir`. `live.sockets-<n>.<round>.json`
// are runs of bench/live.mjs (issue 14: acknowledgement latency with n sockets on the call).
//
// A target's rounds are added up: req/s is all requests over all measured seconds, CPU per
// request all ticks over all requests, errors the sum, and p50/p90/p99 the mean of the rounds'
// (the load reports carry percentiles, not their samples). Each round is also kept, and the
// ratios are given per round as well, because two runs of one build differ by up to ±10 %.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
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
  const { bundle } = results;
  lines.push(`bundle: wasm ${bundle.wasm_bytes} B (gzip -9 ${bundle.wasm_gzip_bytes} B), JS ${bundle.js_bytes} B (gzip -9 ${bundle.js_gzip_bytes} B)`);
  return lines.join("\n");
}

const args = process.argv.slice(2);
if (args[0] === "--table") {
  console.log(table(readJson(args[1])));
} else if (args.length === 4) {
  console.log(JSON.stringify(assemble(args), null, 2));
} else {
  console.error("usage: node bench/report.mjs RESULTS_DIR DEPLOY_DIR CONNECTIONS SECONDS | --table FILE");
  process.exit(2);
}
