// A metered entry module for bench/delivery.mjs (not deployed, not used by `make dev` or the
// tests): the release build (build/index.js) with each `Subject` given a `ctx` and an `env`
// that count what the object asks of the platform, the figures Cloudflare bills a Durable Object
// and KV by:
//
// - SQL statements, with the rows each read and wrote as workerd's own cursor counts them
//   (`cursor.rowsRead` and `cursor.rowsWritten`, the counters behind the SQLite storage billing);
// - `setAlarm` calls (each billed as one row written), alarm invocations and their wall time,
//   append RPCs, objects constructed;
// - KV calls of the index (`put`, `delete`, `get`, `list`), outbound `fetch`es (the deliveries).
//
// - the size of each object's database (`sql.databaseSize`, what SQL stored data is billed by),
//   as last seen after one of its appends or alarms, summed over the objects.
//
// Each count is kept by phase: `append` (the synchronous RPC of a webhook, inside `transactionSync`)
// or `alarm` (the alarm handler, which flushes the index and makes the delivery attempts).
// `GET /__bench/meter` answers the totals as JSON; nothing else changes. The wrapping follows
// scripts/worker-entry.mjs (the real entry): append inside `transactionSync`, the rest passed on.
import { DurableObject } from "cloudflare:workers";
import worker, { Subject as WasmSubject } from "../build/index.js";

export { TokenGuard } from "../build/index.js";

const totals = {
  objects: 0,
  phases: {
    append: emptyPhase(),
    alarm: emptyPhase(),
    other: emptyPhase(),
  },
  // Outbound fetches made through `globalThis.fetch` (only the delivery attempts do).
  fetches: 0,
};

/// Each object's database size as last seen, by its meter.
const databaseBytes = new Map();

function emptyPhase() {
  return {
    invocations: 0,
    wall_ms: 0,
    statements: 0,
    rows_read: 0,
    rows_written: 0,
    set_alarm: 0,
    get_alarm: 0,
    kv: { put: 0, delete: 0, get: 0, list: 0 },
    by_statement: {},
  };
}

const baseFetch = globalThis.fetch;
globalThis.fetch = function meteredFetch(...args) {
  totals.fetches += 1;
  return baseFetch.apply(this, args);
};

/// A statement's first words, to group the counts by statement.
function statementKey(query) {
  return query.replace(/\s+/g, " ").trim().slice(0, 72);
}

/// A proxy of `target` that passes every property through, methods bound to `target`, except
/// the ones in `overrides`.
function wrap(target, overrides) {
  return new Proxy(target, {
    get(object, property) {
      if (Object.hasOwn(overrides, property)) return overrides[property];
      const value = Reflect.get(object, property, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

/// What one object is doing: its cursors are counted when the phase that ran them ends (the
/// wasm reads every cursor to its end before it returns or awaits).
class ObjectMeter {
  phase = "other";
  alarmRunning = false;
  cursors = [];

  current() {
    return totals.phases[this.phase];
  }

  settle() {
    for (const { cursor, phase, key } of this.cursors) {
      const figures = totals.phases[phase];
      const read = cursor.rowsRead;
      const written = cursor.rowsWritten;
      figures.rows_read += read;
      figures.rows_written += written;
      const statement = (figures.by_statement[key] ??= { count: 0, rows_read: 0, rows_written: 0 });
      statement.count += 1;
      statement.rows_read += read;
      statement.rows_written += written;
    }
    this.cursors = [];
  }

  /// Records the object's database size (after its append or alarm).
  measure(sql) {
    databaseBytes.set(this, sql.databaseSize);
  }

  sql(sql) {
    return wrap(sql, {
      exec: (query, ...bindings) => {
        const cursor = sql.exec(query, ...bindings);
        this.current().statements += 1;
        this.cursors.push({ cursor, phase: this.phase, key: statementKey(query) });
        return cursor;
      },
    });
  }

  storage(storage) {
    const sql = this.sql(storage.sql);
    return wrap(storage, {
      sql,
      setAlarm: (...args) => {
        this.current().set_alarm += 1;
        return storage.setAlarm(...args);
      },
      getAlarm: (...args) => {
        this.current().get_alarm += 1;
        return storage.getAlarm(...args);
      },
    });
  }

  kv(namespace) {
    const counted = (name) => (...args) => {
      this.current().kv[name] += 1;
      return namespace[name](...args);
    };
    return wrap(namespace, { put: counted("put"), delete: counted("delete"), get: counted("get"), list: counted("list") });
  }
}

export class Subject extends DurableObject {
  #inner;
  #meter;

  constructor(ctx, env) {
    super(ctx, env);
    totals.objects += 1;
    const meter = new ObjectMeter();
    this.#meter = meter;
    const storage = meter.storage(ctx.storage);
    const meteredCtx = wrap(ctx, { storage });
    const index = meter.kv(env.INDEX);
    const meteredEnv = new Proxy(env, {
      get: (object, property) => (property === "INDEX" ? index : Reflect.get(object, property)),
    });
    this.#inner = new WasmSubject(meteredCtx, meteredEnv);
  }

  fetch(request) {
    return this.#inner.fetch(request);
  }

  async alarm() {
    const meter = this.#meter;
    meter.settle();
    meter.phase = "alarm";
    meter.alarmRunning = true;
    totals.phases.alarm.invocations += 1;
    const started = Date.now();
    try {
      return await this.#inner.alarm();
    } finally {
      totals.phases.alarm.wall_ms += Date.now() - started;
      meter.settle();
      meter.measure(this.ctx.storage.sql);
      meter.alarmRunning = false;
      meter.phase = "other";
    }
  }

  webSocketMessage(ws, message) {
    return this.#inner.webSocketMessage(ws, message);
  }

  webSocketClose(ws, code, reason, wasClean) {
    return this.#inner.webSocketClose(ws, code, reason, wasClean);
  }

  webSocketError(ws, error) {
    return this.#inner.webSocketError(ws, error);
  }

  /** `body`: an append request as JSON text. Answers whether the event was a duplicate. */
  append(body) {
    const meter = this.#meter;
    const before = meter.phase;
    meter.settle();
    meter.phase = "append";
    totals.phases.append.invocations += 1;
    try {
      return this.ctx.storage.transactionSync(() => this.#inner.append(body));
    } finally {
      meter.settle();
      meter.measure(this.ctx.storage.sql);
      // An append can run while the alarm awaits a fetch or KV: the rest of the alarm is the
      // alarm's again.
      meter.phase = meter.alarmRunning ? "alarm" : before;
    }
  }
}

/// The worker, with `GET /__bench/meter`.
export default class extends worker {
  fetch(request) {
    if (new URL(request.url).pathname === "/__bench/meter") {
      let bytes = 0;
      for (const size of databaseBytes.values()) bytes += size;
      return Response.json({ ...totals, database_bytes: bytes });
    }
    return super.fetch(request);
  }
}
