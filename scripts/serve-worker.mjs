// Serves the built worker (build/, made by `make build`) in workerd through Miniflare, the
// runtime `wrangler dev` itself drives, for the end-to-end and soak tests:
//
//   node scripts/serve-worker.mjs CONFIG PORT STATE_DIR
//
// CONFIG is a wrangler.toml (bindings, migrations, compatibility date; `main` is the entry) with
// a `.dev.vars` beside it for the vars and secrets; state (Durable Objects, KV) persists in
// STATE_DIR, so a restart on the same directory keeps it. Prints `ready on URL` once serving.
// With INSPECTOR_PORT set, workerd's inspector listens there (CPU profiles: bench/profile.mjs).
//
// Why not `wrangler dev`: it puts its own proxy worker in front of the worker, and that proxy
// reports a client that closes mid-body ("Network connection lost") to wrangler as a fatal
// error, and wrangler exits: one malformed request stops the dev server (wrangler 4.86,
// templates/startDevWorker/ProxyWorker.ts). The fuzzer sends such requests by design, and the
// edge never forwards them to a deployed worker. Miniflare runs the same workerd, the same
// bindings and storage, without that layer.
import { dirname, resolve } from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";

const [configPath, port, stateDir] = process.argv.slice(2);
if (!configPath || !port || !stateDir) {
  console.error("usage: node scripts/serve-worker.mjs CONFIG PORT STATE_DIR");
  process.exit(2);
}

const config = unstable_readConfig({ config: configPath });
const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
const entry = resolve(config.main);
const miniflare = new Miniflare({
  ...workerOptions,
  name: config.name,
  modules: true,
  // The entry (build/entry.mjs) imports worker-build's build/index.js, an ES module: wrangler
  // bundles both into one module, Miniflare loads them as they are.
  modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, ...workerOptions.modulesRules],
  scriptPath: entry,
  // Module paths are relative to this; the default (the working directory) may not hold them.
  modulesRoot: dirname(entry),
  // Offline: the placeholder `request.cf`, never a download of the real one.
  cf: false,
  host: "127.0.0.1",
  port: Number(port),
  defaultPersistRoot: resolve(stateDir),
  log: new Log(LogLevel.INFO),
  ...(process.env.INSPECTOR_PORT ? { inspectorPort: Number(process.env.INSPECTOR_PORT) } : {}),
});

const url = await miniflare.ready;
console.log(`ready on ${url}`);

async function stop() {
  await miniflare.dispose();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
