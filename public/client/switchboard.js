// Switchboard live client: watches one call or message over a WebSocket, for browsers and
// Node ≥ 20 (Node 20 needs `--experimental-websocket`). An ES module without dependencies.
//
//   import { watch } from "https://<your worker>/client/switchboard.js";
//
//   const live = watch({
//     base: "https://<your worker>",           // the worker's origin (http:// → ws://, https:// → wss://)
//     path: "/v1/calls/twilio/CA123",          // the call or message, as in the status API
//     token: () => fetchTokenFromYourBackend(), // a string, or a (async) function called on each connect
//     onState: (state) => render(state),       // every snapshot, and after every event (null: no event yet)
//     onEvent: (event, state) => log(event),   // optional: every newly committed event, in commit order
//     // Optional: a connection ended (4001: `expired`); `delayMs` until the next attempt, or null.
//     onClose: ({ code, reason, expired, reconnecting, delayMs }) => {},
//     onError: (error) => {},                  // optional: the token function failed, a frame was unreadable
//     // Optional: WebSocket (a WebSocket class; default: the global one), pingIntervalMs (30000).
//   });
//   live.close(); // stops for good
//
// The client reconnects by itself, with backoff (0.5 s doubling to 30 s, jittered; reset by a
// snapshot), and each new connection starts with a snapshot that replaces the state. A token is
// offered as the subprotocol `bearer.<token>` beside `switchboard.v1`, never in the URL. When
// the server closes with 4001 (the token expired), a token function is called for a fresh one
// and the client reconnects at once; a token string cannot be refreshed, so the client stops
// (`onClose` with `reconnecting: false`). `ping` is sent every 30 s to keep intermediaries from
// dropping an idle connection; the server answers `pong`, which is ignored.

const SUBPROTOCOL = "switchboard.v1";
const CLOSE_TOKEN_EXPIRED = 4001;
const PING_INTERVAL_MS = 30_000;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
const SUBJECT_PATH = /^\/v1\/(calls|messages)\/[^/?#]+\/[^/?#]+$/;
// A subprotocol is an HTTP token (RFC 7230 §3.2.6).
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Watches the call or message at `path` on the worker at `base`; returns `{ close() }`.
 * Throws a TypeError for a missing or malformed argument.
 */
export function watch(options) {
  const { base, path, token, onState, onEvent, onClose, onError } = options ?? {};
  const url = liveUrl(base, path);
  if (typeof token === "string") {
    checkToken(token);
  } else if (typeof token !== "function") {
    throw new TypeError("watch: `token` must be a string or a function returning one");
  }
  requireFunction("onState", onState, true);
  for (const [name, callback] of Object.entries({ onEvent, onClose, onError })) {
    requireFunction(name, callback, false);
  }
  const WebSocketClass = options.WebSocket ?? globalThis.WebSocket;
  if (typeof WebSocketClass !== "function") {
    throw new TypeError(
      "watch: no WebSocket here (Node 20: run with --experimental-websocket, or pass `WebSocket`)",
    );
  }
  const pingIntervalMs = options.pingIntervalMs ?? PING_INTERVAL_MS;
  if (!(Number.isFinite(pingIntervalMs) && pingIntervalMs > 0)) {
    throw new TypeError("watch: `pingIntervalMs` must be a positive number");
  }

  let stopped = false;
  let socket = null;
  let pinger = null;
  let retryTimer = null;
  // Connections in a row that ended without a snapshot.
  let failures = 0;

  const report = (error) => onError?.(error instanceof Error ? error : new Error(String(error)));

  async function connect() {
    retryTimer = null;
    let ws;
    try {
      const current = typeof token === "function" ? await token() : token;
      checkToken(current);
      if (stopped) return;
      ws = new WebSocketClass(url, [SUBPROTOCOL, `bearer.${current}`]);
    } catch (error) {
      if (stopped) return;
      report(error);
      failures += 1;
      retryLater(backoff(failures));
      return;
    }
    socket = ws;
    let snapshotSeen = false;
    let ended = false;
    ws.onopen = () => {
      if (ws !== socket) return;
      pinger = setInterval(() => ws.readyState === 1 && ws.send("ping"), pingIntervalMs);
    };
    ws.onmessage = ({ data }) => {
      if (ws !== socket || data === "pong") return;
      let frame;
      try {
        frame = JSON.parse(data);
      } catch {
        report(new Error("watch: a frame that is not JSON"));
        return;
      }
      if (frame.type === "snapshot") {
        snapshotSeen = true;
        failures = 0;
        onState(frame.state);
      } else if (frame.type === "event") {
        onEvent?.(frame.event, frame.state);
        onState(frame.state);
      }
    };
    // A refused handshake fires `error` (and, in browsers, `close` with 1006; Node 20 fires
    // only `error`): whichever comes first ends the connection.
    const end = (code, reason) => {
      if (ended || ws !== socket) return;
      ended = true;
      socket = null;
      clearInterval(pinger);
      if (stopped) return;
      const expired = code === CLOSE_TOKEN_EXPIRED;
      const reconnecting = !expired || typeof token === "function";
      let delayMs = null;
      if (reconnecting) {
        failures = snapshotSeen ? 0 : failures + 1;
        delayMs = expired ? 0 : backoff(failures);
      } else {
        stopped = true;
      }
      onClose?.({ code, reason, expired, reconnecting, delayMs });
      if (reconnecting && !stopped) retryLater(delayMs);
    };
    ws.onclose = ({ code, reason }) => end(code, reason);
    ws.onerror = () => end(1006, "connection failed");
  }

  function retryLater(delayMs) {
    if (!stopped) retryTimer = setTimeout(connect, delayMs);
  }

  connect();
  return {
    /** Closes the connection and stops reconnecting; no callback is called after it. */
    close() {
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(pinger);
      const ws = socket;
      socket = null;
      ws?.close(1000);
    },
  };
}

/** The `ws:`/`wss:` URL of the live route of `path` on the worker at `base`. */
function liveUrl(base, path) {
  if (typeof base !== "string") {
    throw new TypeError("watch: `base` must be the worker's origin, e.g. https://switchboard.example.com");
  }
  let url;
  try {
    url = new URL(base);
  } catch {
    throw new TypeError(`watch: \`base\` is not a URL: ${base}`);
  }
  const schemes = { "https:": "wss:", "http:": "ws:", "wss:": "wss:", "ws:": "ws:" };
  if (!(url.protocol in schemes)) {
    throw new TypeError(`watch: \`base\` must be an http(s) URL, not ${url.protocol}`);
  }
  if (typeof path !== "string" || !SUBJECT_PATH.test(path)) {
    throw new TypeError("watch: `path` must look like /v1/calls/{provider}/{id} or /v1/messages/{provider}/{id}");
  }
  return `${schemes[url.protocol]}//${url.host}${path}/live`;
}

function checkToken(token) {
  if (typeof token !== "string" || !HTTP_TOKEN.test(token)) {
    throw new TypeError("watch: a token must be a non-empty string of URL-safe characters");
  }
}

function requireFunction(name, value, required) {
  if ((required || value !== undefined) && typeof value !== "function") {
    throw new TypeError(`watch: \`${name}\` must be a function`);
  }
}

/** The delay before the next attempt after `failures` failures in a row, with jitter. */
function backoff(failures) {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
