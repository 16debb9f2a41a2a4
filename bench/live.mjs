// `make bench`'s live-sockets scenario (issue 14): the acknowledgement latency of webhooks that
// each commit a new event of one call, while SOCKETS WebSockets watch that call.
//
//   node bench/live.mjs --target URL --dev-vars FILE --sockets N [--events N] [--warmup N]
//     [--workerd-pids "PID…"] > run.json
//
// One run: a fresh Telnyx call; SOCKETS sockets opened on its `/live` route by a child process
// (so that parsing their frames does not delay this process reading the acknowledgements); then
// WARMUP unmeasured and EVENTS measured `call.answered` webhooks with distinct `data.id`s, signed
// with the development Ed25519 key, sent one at a time over one keep-alive connection. Each
// latency is from writing the request to reading the whole answer. Every socket must receive one
// event frame per webhook (counted; the run fails otherwise), so the broadcast really happened.
// With --workerd-pids, the CPU those processes used over the measured webhooks is reported too.
//
// Prints `{sockets, events, warmup, latencies_ms, errors, frames_expected, frames_received,
// workerd_cpu_ms}`; bench/report.mjs turns the runs into percentiles. Tokens are never printed.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";

import { devVars, ed25519Key, telnyxCallIds, telnyxCallPayload, telnyxTime, telnyxWebhook } from "./telnyx.mjs";

const SUBPROTOCOL = "switchboard.v1";
const FRAME_TIMEOUT_MS = 30_000;

if (process.argv[2] === "--sockets-child") {
  socketsChild();
} else {
  main().catch((error) => {
    console.error(`bench/live.mjs: ${error.message}`);
    process.exit(1);
  });
}

function options(argv) {
  const values = { events: "1000", warmup: "20", "workerd-pids": "" };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    values[argv[i].slice(2)] = argv[i + 1];
  }
  for (const name of ["target", "dev-vars", "sockets"]) {
    if (values[name] === undefined) throw new Error(`--${name} is required`);
  }
  return values;
}

/// Sends one request; resolves to its latency in ms, or `null` for a non-2xx answer.
function post(agent, url, { body, headers }) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const request = http.request(url, { method: "POST", agent, headers }, (response) => {
      response.resume();
      response.on("end", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        resolve(response.statusCode >= 200 && response.statusCode < 300 ? ms : null);
      });
    });
    request.on("error", reject);
    request.end(body);
  });
}

/// CPU ms (user + system) the workerd processes `pids` used so far: `proxy`, the one serving
/// `port` (wrangler's proxy worker, which relays requests and socket frames), and `worker`.
function cpuMs(pids, port) {
  const ms = { worker: 0, proxy: 0 };
  for (const pid of pids) {
    // Fields after the `(comm)`: 14 utime and 15 stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    const role = readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`entry=127.0.0.1:${port}\0`) ? "proxy" : "worker";
    ms[role] += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100
  }
  return ms;
}

async function main() {
  const args = options(process.argv.slice(2));
  const vars = devVars(args["dev-vars"]);
  const token = vars.STATUS_API_TOKEN.split(",")[0].trim();
  const key = ed25519Key(vars.TELNYX_SIGNING_PRIVATE_KEY);
  const sockets = Number(args.sockets);
  const [warmup, events] = [Number(args.warmup), Number(args.events)];
  const pids = args["workerd-pids"].split(/\s+/).filter(Boolean);
  const url = `${args.target}/webhooks/telnyx`;
  const call = telnyxCallIds();

  const child = sockets > 0 ? await openSockets(args.target, call.callLegId, token, sockets) : null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const latencies = [];
  let errors = 0;
  const port = new URL(args.target).port;
  let cpuBefore = null;
  for (let index = 0; index < warmup + events; index += 1) {
    if (index === warmup) cpuBefore = cpuMs(pids, port);
    const answered = {
      eventType: "call.answered",
      occurredAt: telnyxTime(call.start + index * 10),
      payload: { ...telnyxCallPayload(call), start_time: telnyxTime(call.start) },
    };
    const ms = await post(agent, url, telnyxWebhook(key, url, answered));
    if (ms === null) errors += 1;
    else if (index >= warmup) latencies.push(Math.round(ms * 1000) / 1000);
  }
  const framesExpected = sockets * (warmup + events - errors);
  const framesReceived = child ? await request(child, { type: "wait", frames: warmup + events - errors }) : 0;
  const cpuAfter = cpuMs(pids, port);
  const workerdCpuMs = pids.length
    ? { worker: cpuAfter.worker - cpuBefore.worker, proxy: cpuAfter.proxy - cpuBefore.proxy }
    : null;
  agent.destroy();
  if (child) {
    await request(child, { type: "close" });
    child.disconnect();
  }
  console.log(
    JSON.stringify({
      sockets,
      events,
      warmup,
      errors,
      frames_expected: framesExpected,
      frames_received: framesReceived,
      workerd_cpu_ms: workerdCpuMs,
      latencies_ms: latencies,
    }),
  );
  if (framesReceived !== framesExpected) {
    throw new Error(`the sockets received ${framesReceived} event frames, expected ${framesExpected}`);
  }
}

/// Starts the child that holds the sockets and waits until each has its snapshot.
async function openSockets(target, callLegId, token, count) {
  const child = fork(fileURLToPath(import.meta.url), ["--sockets-child"], {
    execArgv: ["--experimental-websocket", "--no-warnings"],
  });
  const live = `${target.replace(/^http/, "ws")}/v1/calls/telnyx/${callLegId}/live`;
  await request(child, { type: "open", url: live, token, count });
  return child;
}

/// Sends `message` to the child and resolves to its answer's value.
function request(child, message) {
  return new Promise((resolve, reject) => {
    child.once("message", (answer) => (answer.error ? reject(new Error(answer.error)) : resolve(answer.value)));
    child.send(message);
  });
}

/// The child: opens the sockets, counts each one's event frames, answers the parent.
function socketsChild() {
  const sockets = [];
  const counts = [];
  const fail = (error) => process.send({ error });
  process.on("message", async (message) => {
    if (message.type === "open") {
      const opened = [];
      for (let i = 0; i < message.count; i += 1) {
        const ws = new WebSocket(message.url, [SUBPROTOCOL, `bearer.${message.token}`]);
        const index = sockets.push(ws) - 1;
        counts.push(0);
        opened.push(
          new Promise((resolve, reject) => {
            ws.addEventListener("error", () => reject(new Error(`socket ${index} failed to open`)));
            ws.addEventListener("message", ({ data }) => {
              // The frame's tag comes first: no need to parse it to count it.
              if (data.startsWith('{"type":"event"')) counts[index] += 1;
              else if (data.startsWith('{"type":"snapshot"')) resolve();
            });
          }),
        );
      }
      Promise.all(opened).then(() => process.send({ value: sockets.length }), (error) => fail(error.message));
    } else if (message.type === "wait") {
      const deadline = Date.now() + FRAME_TIMEOUT_MS;
      while (counts.some((count) => count < message.frames) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      process.send({ value: counts.reduce((sum, count) => sum + count, 0) });
    } else if (message.type === "close") {
      await Promise.all(
        sockets.map(
          (ws) =>
            new Promise((resolve) => {
              ws.addEventListener("close", resolve);
              ws.close(1000);
            }),
        ),
      );
      process.send({ value: 0 });
    }
  });
}
