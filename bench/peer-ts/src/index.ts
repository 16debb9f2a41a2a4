// Benchmark peer (see README.md): Telnyx and Twilio webhooks verified with WebCrypto, each event
// stored once in a SQLite Durable Object per call or message, the summary copied to KV.
import { DurableObject } from "cloudflare:workers";

interface Env {
  TELNYX_PUBLIC_KEY: string;
  TWILIO_AUTH_TOKEN: string;
  SUBJECTS: DurableObjectNamespace<Subject>;
  INDEX: KVNamespace;
}

type Provider = "telnyx" | "twilio";
type Kind = "call" | "message";

/** One verified webhook event. */
interface Event {
  provider: Provider;
  kind: Kind;
  /** The call or message id: which Durable Object stores the event. */
  id: string;
  /** The dedup key: a retried webhook has the same one. */
  eventId: string;
  /** `null`: the event is stored but does not move the status. */
  status: string | null;
  raw: string;
}

interface Summary {
  provider: Provider;
  kind: Kind;
  id: string;
  status: string | null;
  events: number;
  updated_at: number;
}

/** How far `telnyx-timestamp` may be from now, either way. */
const TOLERANCE_SECONDS = 300;

/**
 * Status ranks: a status replaces only a lower-ranked one, so a late `ringing` cannot undo
 * `completed`, and the first final status stays. Words not listed never move the status.
 */
const RANKS: Record<Kind, Record<string, number>> = {
  call: {
    queued: 1, initiated: 1, ringing: 2, "in-progress": 3,
    completed: 4, busy: 4, "no-answer": 4, canceled: 4, failed: 4, rejected: 4,
  },
  message: {
    accepted: 1, scheduled: 2, queued: 2, sending: 3, sent: 3, receiving: 3,
    delivery_unconfirmed: 4,
    delivered: 5, received: 5, webhook_delivered: 5, undelivered: 5, failed: 5,
    sending_failed: 5, delivery_failed: 5, canceled: 5, cancelled: 5, expired: 5,
    read: 6,
  },
};

/** Telnyx call event types that move the status; `call.hangup` maps by its `hangup_cause`. */
const TELNYX_CALL_STATUSES: Record<string, string> = {
  "call.initiated": "initiated",
  "call.answered": "in-progress",
};
const TELNYX_HANGUP_CAUSES: Record<string, string> = {
  normal_clearing: "completed",
  user_busy: "busy",
  timeout: "no-answer",
  no_answer: "no-answer",
  call_rejected: "rejected",
  originator_cancel: "canceled",
};

/** `table[key]` for the table's own keys only (never `constructor` and the like). */
function lookup<T>(table: Record<string, T>, key: unknown): T | undefined {
  return typeof key === "string" && Object.hasOwn(table, key) ? table[key] : undefined;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const encoder = new TextEncoder();

function base64Bytes(text: string): Uint8Array | null {
  try {
    return Uint8Array.from(atob(text.trim()), (char) => char.charCodeAt(0));
  } catch {
    return null;
  }
}

/** Imports each entry of a comma-separated secret (rotation: any entry may match). */
function importKeys(
  value: string,
  bytes: (entry: string) => Uint8Array,
  algorithm: string | HmacImportParams,
): Promise<CryptoKey[]> {
  const list = value.split(",").map((entry) => entry.trim()).filter(Boolean);
  return Promise.all(
    list.map((entry) => crypto.subtle.importKey("raw", bytes(entry), algorithm, false, ["verify"])),
  );
}

// Imported once per isolate: the vars do not change while it runs.
let telnyxKeys: Promise<CryptoKey[]> | undefined;
let twilioKeys: Promise<CryptoKey[]> | undefined;

/** Whether `signature` over `data` verifies with any key (WebCrypto compares in constant time). */
async function verifiesWithAny(
  algorithm: string,
  keys: CryptoKey[],
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  const results = await Promise.all(
    keys.map((key) => crypto.subtle.verify(algorithm, key, signature, data)),
  );
  return results.includes(true);
}

/** Telnyx Call Control v2 / Messaging: Ed25519 over `telnyx-timestamp|body`. */
async function telnyx(request: Request, env: Env): Promise<Event | null> {
  const signature = base64Bytes(request.headers.get("telnyx-signature-ed25519") ?? "");
  const timestamp = request.headers.get("telnyx-timestamp");
  if (!timestamp) throw new HttpError(401, "telnyx-timestamp is required");
  if (signature?.length !== 64) {
    throw new HttpError(401, "telnyx-signature-ed25519 is not base64 of a 64-byte signature");
  }
  const body = new Uint8Array(await request.arrayBuffer());
  const prefix = encoder.encode(`${timestamp}|`);
  const message = new Uint8Array(prefix.length + body.length);
  message.set(prefix);
  message.set(body, prefix.length);
  telnyxKeys ??= importKeys(
    env.TELNYX_PUBLIC_KEY,
    (key) => base64Bytes(key) ?? new Uint8Array(),
    "Ed25519",
  );
  if (!(await verifiesWithAny("Ed25519", await telnyxKeys, signature, message))) {
    throw new HttpError(401, "the Ed25519 signature matches no public key");
  }
  const seconds = Number(timestamp);
  if (!Number.isInteger(seconds)) throw new HttpError(400, "telnyx-timestamp is not unix seconds");
  if (Math.abs(Date.now() / 1000 - seconds) > TOLERANCE_SECONDS) {
    throw new HttpError(401, "telnyx-timestamp is too far from now");
  }

  const raw = new TextDecoder().decode(body);
  let data;
  try {
    data = JSON.parse(raw).data;
  } catch {
    throw new HttpError(400, "the body is not JSON");
  }
  const payload = data?.payload;
  if (typeof data?.id !== "string" || typeof data.event_type !== "string" || !payload) {
    throw new HttpError(400, "data.id, data.event_type and data.payload are required");
  }
  const eventType: string = data.event_type;
  const eventId = `telnyx:${data.id}`;
  if (eventType.startsWith("message.")) {
    if (typeof payload.id !== "string") throw new HttpError(400, "payload.id is required");
    const status = payload.to?.[0]?.status ?? null;
    return { provider: "telnyx", kind: "message", id: payload.id, eventId, status, raw };
  }
  if (typeof payload.call_leg_id === "string") {
    const status =
      eventType === "call.hangup"
        ? (lookup(TELNYX_HANGUP_CAUSES, payload.hangup_cause) ?? "failed")
        : (lookup(TELNYX_CALL_STATUSES, eventType) ?? null);
    return { provider: "telnyx", kind: "call", id: payload.call_leg_id, eventId, status, raw };
  }
  if (eventType.startsWith("call.")) throw new HttpError(400, "payload.call_leg_id is required");
  // About no call or message (fax.*, …): acknowledged, so Telnyx does not retry it.
  return null;
}

/** Twilio voice and messaging status callbacks: form POSTs signed with `X-Twilio-Signature`. */
async function twilio(request: Request, env: Env): Promise<Event | null> {
  const signature = base64Bytes(request.headers.get("x-twilio-signature") ?? "");
  if (!signature?.length) throw new HttpError(401, "X-Twilio-Signature is required");
  if (!request.headers.get("content-type")?.startsWith("application/x-www-form-urlencoded")) {
    throw new HttpError(415, "expected a form body");
  }
  const raw = await request.text();
  const params = [...new URLSearchParams(raw)];
  // Twilio signs the URL it called (query included), then each parameter's name and value,
  // sorted by name, with no separators: base64(HMAC-SHA1(auth token, that string)).
  params.sort(([a, aValue], [b, bValue]) => (a === b ? compare(aValue, bValue) : compare(a, b)));
  const signed = request.url + params.map(([name, value]) => name + value).join("");
  twilioKeys ??= importKeys(env.TWILIO_AUTH_TOKEN, (token) => encoder.encode(token), {
    name: "HMAC",
    hash: "SHA-1",
  });
  if (!(await verifiesWithAny("HMAC", await twilioKeys, signature, encoder.encode(signed)))) {
    throw new HttpError(401, "X-Twilio-Signature matches no auth token");
  }

  const form = new Map(params.filter(([, value]) => value !== ""));
  const callSid = form.get("CallSid");
  const messageSid = form.get("MessageSid") ?? form.get("SmsSid");
  if (callSid) {
    const status = form.get("CallStatus");
    if (!status) throw new HttpError(400, "CallStatus is required");
    // A retried callback repeats its SequenceNumber ("per call, from 0").
    const eventId = `twilio:${callSid}:${status}:${form.get("SequenceNumber") ?? ""}`;
    return { provider: "twilio", kind: "call", id: callSid, eventId, status, raw };
  }
  if (messageSid) {
    const status = form.get("MessageStatus") ?? form.get("SmsStatus");
    if (!status) throw new HttpError(400, "MessageStatus is required");
    const eventId = `twilio:${messageSid}:${status}:${form.get("ErrorCode") ?? ""}`;
    return { provider: "twilio", kind: "message", id: messageSid, eventId, status, raw };
  }
  throw new HttpError(400, "CallSid or MessageSid is required");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function subject(env: Env, provider: string, kind: string, id: string) {
  return env.SUBJECTS.get(env.SUBJECTS.idFromName(`${provider}:${kind}:${id}`));
}

/** Commits the event in its Durable Object, then refreshes the KV index after answering. */
async function receive(event: Event | null, env: Env, ctx: ExecutionContext): Promise<Response> {
  if (!event) return Response.json({ accepted: [] });
  const { duplicate, summary } = await subject(env, event.provider, event.kind, event.id).append(
    event,
  );
  if (!duplicate) {
    const key = `${event.kind}:${event.provider}:${event.id}`;
    ctx.waitUntil(env.INDEX.put(key, JSON.stringify(summary)));
  }
  return Response.json({
    accepted: [{ kind: event.kind, id: event.id, event_id: event.eventId, duplicate }],
  });
}

export default {
  // One JSON log line per request, as Switchboard writes (same job: request id, route,
  // provider, outcome, status, latency).
  async fetch(request, env, ctx): Promise<Response> {
    const started = Date.now();
    const { pathname } = new URL(request.url);
    const response = await route(request, pathname, env, ctx);
    console.log(
      JSON.stringify({
        request_id: request.headers.get("cf-ray") ?? `local-${started}`,
        method: request.method,
        route: pathname.startsWith("/webhooks/") ? "webhook" : "status_api",
        provider: pathname.split("/")[2],
        outcome: response.ok ? "ok" : "rejected",
        status: response.status,
        latency_ms: Date.now() - started,
      }),
    );
    return response;
  },
} satisfies ExportedHandler<Env>;

async function route(
  request: Request,
  pathname: string,
  env: Env,
  ctx: ExecutionContext,
): Promise<Response> {
  try {
    if (request.method === "POST" && pathname === "/webhooks/telnyx") {
      return await receive(await telnyx(request, env), env, ctx);
    }
    if (request.method === "POST" && pathname === "/webhooks/twilio") {
      return await receive(await twilio(request, env), env, ctx);
    }
    // `GET /v1/{calls|messages}/{provider}/{id}`: the summary, read from the Durable Object.
    const read = /^\/v1\/(call|message)s\/(telnyx|twilio)\/([^/]+)$/.exec(pathname);
    if (request.method === "GET" && read) {
      const [, kind, provider, id] = read;
      const summary = await subject(env, provider, kind, decodeURIComponent(id)).summary();
      if (summary) return Response.json(summary);
      return Response.json({ error: "not found" }, { status: 404 });
    }
    return Response.json({ error: "not found" }, { status: 404 });
  } catch (error) {
    if (error instanceof HttpError) {
      return Response.json({ error: error.message }, { status: error.status });
    }
    throw error;
  }
}


/** One call or message: its events (deduplicated by event id) and its summary, in SQLite. */
export class Subject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS events(id TEXT PRIMARY KEY, status TEXT, at INTEGER, raw TEXT)",
    );
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS summary(
         one INTEGER PRIMARY KEY CHECK (one = 1),
         provider TEXT, kind TEXT, id TEXT, status TEXT, events INTEGER, updated_at INTEGER)`,
    );
  }

  // No await in here: the runtime commits both writes together.
  append(event: Event): { duplicate: boolean; summary: Summary } {
    const now = Date.now();
    const inserted =
      this.sql.exec(
        "INSERT OR IGNORE INTO events(id, status, at, raw) VALUES (?, ?, ?, ?)",
        event.eventId,
        event.status,
        now,
        event.raw,
      ).rowsWritten > 0;
    const current = this.summary();
    // A duplicate's first copy was committed with the summary, so `current` exists.
    if (!inserted) return { duplicate: true, summary: current! };

    const rank = (status: string | null | undefined) => lookup(RANKS[event.kind], status) ?? 0;
    const summary: Summary = {
      provider: event.provider,
      kind: event.kind,
      id: event.id,
      status: rank(event.status) > rank(current?.status) ? event.status : (current?.status ?? null),
      events: (current?.events ?? 0) + 1,
      updated_at: now,
    };
    this.sql.exec(
      "INSERT OR REPLACE INTO summary VALUES (1, ?, ?, ?, ?, ?, ?)",
      summary.provider,
      summary.kind,
      summary.id,
      summary.status,
      summary.events,
      summary.updated_at,
    );
    return { duplicate: false, summary };
  }

  summary(): Summary | null {
    const rows = this.sql
      .exec("SELECT provider, kind, id, status, events, updated_at FROM summary")
      .toArray();
    return (rows[0] as unknown as Summary | undefined) ?? null;
  }
}
