// Drives the browser client (public/client/switchboard.js) in Node for tests/e2e/client.rs:
//
//   node --experimental-websocket tests/client/watch.mjs BASE PATH
//
// Prints one JSON line per callback: {"on":"state","state":…}, {"on":"event","event":…,
// "state":…}, {"on":"close",…}, {"on":"error","message":…}; {"on":"thrown","message":…} (exit 1)
// when `watch` refuses its arguments.
//
// The token: SWITCHBOARD_TOKEN if set (a string token; the process ends once the client stops).
// Otherwise a token function: each call prints {"on":"token"} and waits for the next line on
// stdin; stdin closing closes the client. SWITCHBOARD_PING_MS overrides the ping interval;
// SWITCHBOARD_SHOW_PONGS=1 prints {"on":"pong"} for each `pong` the socket receives, before the
// client sees it.
import { createInterface } from "node:readline";
import { watch } from "../../public/client/switchboard.js";

const [base, path] = process.argv.slice(2);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

let token = process.env.SWITCHBOARD_TOKEN;
let input;
if (token === undefined) {
  input = createInterface({ input: process.stdin });
  const lines = input[Symbol.asyncIterator]();
  token = async () => {
    print({ on: "token" });
    const { value, done } = await lines.next();
    if (done) throw new Error("stdin closed");
    return value;
  };
}

// Its listener is added before the client's `onmessage`, so it runs first.
class ShowingPongs extends WebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", ({ data }) => data === "pong" && print({ on: "pong" }));
  }
}

let handle;
try {
  handle = watch({
    base,
    path,
    token,
    WebSocket: process.env.SWITCHBOARD_SHOW_PONGS === "1" ? ShowingPongs : WebSocket,
    pingIntervalMs: process.env.SWITCHBOARD_PING_MS ? Number(process.env.SWITCHBOARD_PING_MS) : undefined,
    onState: (state) => print({ on: "state", state }),
    onEvent: (event, state) => print({ on: "event", event, state }),
    onClose: (info) => print({ on: "close", ...info }),
    onError: (error) => print({ on: "error", message: error.message }),
  });
} catch (error) {
  print({ on: "thrown", message: error.message });
  process.exit(1);
}
input?.on("close", () => handle.close());
