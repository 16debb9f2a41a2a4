// What the benchmark scripts share: the worker's development settings (.dev.vars.example) and
// Telnyx Call Control webhooks of a call, signed as Telnyx signs them (Ed25519 over
// `{timestamp}|{body}`; docs/providers/telnyx.md).

import { createPrivateKey, randomUUID, sign } from "node:crypto";
import { readFileSync } from "node:fs";

/// NAME="value" lines of a dotenv file.
export function devVars(path) {
  const vars = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const match = /^([A-Z_]+)="?(.*?)"?$/.exec(line.trim());
    if (match) vars[match[1]] = match[2];
  }
  return vars;
}

/// The Ed25519 key from its base64 32-byte seed (PKCS#8 DER: a fixed prefix, then the seed).
export function ed25519Key(seedBase64) {
  const prefix = Buffer.from("302e020100300506032b657004220420", "hex");
  return createPrivateKey({ key: Buffer.concat([prefix, Buffer.from(seedBase64, "base64")]), format: "der", type: "pkcs8" });
}

/// A time as Telnyx writes it: RFC 3339 with microseconds.
export function telnyxTime(ms) {
  return new Date(ms).toISOString().replace("Z", "000Z");
}

/// A new call's ids, and when it started.
export function telnyxCallIds() {
  return {
    callLegId: randomUUID(),
    sessionId: randomUUID(),
    callControlId: `v3:${randomUUID().replaceAll("-", "")}`,
    start: Date.now(),
  };
}

/// The payload members every event of `call` carries.
export function telnyxCallPayload(call) {
  return {
    call_control_id: call.callControlId,
    call_leg_id: call.callLegId,
    call_session_id: call.sessionId,
    client_state: null,
    connection_id: "1494404757140276705",
    from: "+13125550100",
    to: "+13125550123",
  };
}

/// One Call Control v2 webhook to `url`, signed now with `key`: its event id and the request.
export function telnyxWebhook(key, url, { eventType, occurredAt, payload }) {
  const id = randomUUID();
  const body = JSON.stringify(
    {
      data: { event_type: eventType, id, occurred_at: occurredAt, payload, record_type: "event" },
      meta: { attempt: 1, delivered_to: url },
    },
    null,
    2,
  );
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = sign(null, Buffer.from(`${timestamp}|${body}`), key).toString("base64");
  return {
    eventId: `telnyx:${id}`,
    body,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "telnyx-timestamp": timestamp,
      "telnyx-signature-ed25519": signature,
    },
  };
}
