// The worker's entry module (wrangler.toml `main`, copied into build/ by build-worker.sh):
// worker-build's build/index.js, with each Durable Object that is called over RPC wrapped in a
// class that extends `DurableObject`: workerd offers RPC only on such a class, and the class
// that workers-rs 0.8's `#[durable_object]` exports is not one.
//
// Rendered from crates/core/src/protocol.rs (`ENTRY`); `cargo test -p switchboard-core --test
// entry_module` fails while the two differ (SWITCHBOARD_WRITE_ENTRY=1 rewrites this file).
import { DurableObject } from "cloudflare:workers";
import worker, { Subject as WasmSubject } from "./index.js";

export default worker;
// Called with `fetch` only, so exported as workers-rs builds them.
export { TokenGuard, Source } from "./index.js";

export class Subject extends DurableObject {
  #inner;

  constructor(ctx, env) {
    super(ctx, env);
    this.#inner = new WasmSubject(ctx, env);
  }

  fetch(request) {
    return this.#inner.fetch(request);
  }

  alarm() {
    return this.#inner.alarm();
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
    return this.ctx.storage.transactionSync(() => this.#inner.append(body));
  }

  /** `body`: an erase request as JSON text. Answers whether the subject was erased. */
  erase(body) {
    return this.ctx.storage.transactionSync(() => this.#inner.erase(body));
  }
}
