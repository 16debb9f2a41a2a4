// Switchboard dashboard: calls and messages, one subject's state, timeline, deliveries and live
// updates, failed deliveries, source health and configuration, read from this worker's status
// API (docs/dashboard.md). No framework and no build step: an ES module served as a static
// asset under a strict Content-Security-Policy (public/_headers), so every element is built
// with the DOM API and every value from the API is set as text, never as HTML.
import { watch } from "/client/switchboard.js";

/** The credential lives in this tab only, never in localStorage or a cookie. */
const TOKEN_KEY = "switchboard.token";
/** The providers and statuses, in the core's order (crates/core/tests/dashboard.rs holds them to it). */
const PROVIDERS = ["vonage", "vonage-business", "telnyx", "bird", "messagebird", "twilio", "plivo"];
const CALL_STATUSES = ["initiated", "ringing", "in_progress", "completed", "busy", "no_answer", "rejected", "canceled", "failed"];
const MESSAGE_STATUSES = ["accepted", "queued", "sent", "delivered", "read", "undelivered", "failed", "expired", "rejected", "canceled", "unknown"];
const PAGE_SIZE = 25;
/** Lists come from the KV index, about a second behind: the first page refreshes itself. */
const LIST_REFRESH_MS = 5_000;
const SOURCES_REFRESH_MS = 10_000;
/** Deliveries are not pushed: a subject's are read again while one is pending. */
const DELIVERIES_REFRESH_MS = 2_000;

const GOOD = new Set(["completed", "delivered", "read", "configured", "active"]);
const BAD = new Set(["failed", "busy", "no_answer", "rejected", "canceled", "undelivered", "expired"]);
const LIVE = new Set(["in_progress"]);

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const session = { token: null, role: null, scope: [] };
/** Bumped on every navigation: a view whose generation is past stops touching the page. */
let generation = 0;
/** Stops the current view's timers and socket. */
let stopView = () => {};
/** The element to give the focus once the next view is shown (a filter that changed), if any. */
let focusAfterRender = null;

// ---------------------------------------------------------------------------------------------
// DOM helpers

/** An element: `attributes` are properties (`class`, `href`, …), `on*` functions are listeners. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name in element && typeof value !== "string") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  // VIS writes offsets without a colon (`+0000`), which not every browser's Date reads.
  const shown = new Date(iso.replace(/([+-]\d{2})(\d{2})$/, "$1:$2")).toLocaleString(undefined, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  return h("time", { datetime: iso, title: iso }, shown);
}

function badge(word) {
  if (word === null || word === undefined) return h("span", { class: "badge" }, "—");
  const tone = GOOD.has(word) ? "good" : BAD.has(word) ? "bad" : LIVE.has(word) ? "live" : "warn";
  return h("span", { class: `badge ${tone}`, "data-status": word }, word.replaceAll("_", " "));
}

function table(headings, rows, empty) {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  const head = h("tr", {}, headings.map(([label, numeric]) => h("th", { scope: "col", class: numeric ? "num" : undefined }, label)));
  return h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, head), h("tbody", {}, rows)));
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function notify(message) {
  const notice = document.getElementById("notice");
  notice.textContent = message;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => (notice.textContent = ""), 6_000);
}

function errorCard(error) {
  const code = error instanceof ApiError ? ` (${error.status} ${error.code})` : "";
  return h("div", { class: "card error", role: "alert" }, `${error.message}${code}`);
}

// ---------------------------------------------------------------------------------------------
// The status API

async function api(path, { method = "GET", body } = {}) {
  const headers = { authorization: `Bearer ${session.token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const raw = await response.text();
  let data = null;
  try {
    data = raw ? JSON.parse(raw) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data?.error ?? "http_error", data?.message ?? `HTTP ${response.status}`);
    // A signed-in session whose token stopped working (expired, rotated out) ends here; a token
    // being tried at sign-in is refused by `signIn` itself.
    if (response.status === 401 && sessionStorage.getItem(TOKEN_KEY)) signOut(`Signed out: ${error.message}`);
    throw error;
  }
  return data;
}

function subjectPath(kind, provider, id) {
  return `/v1/${kind}s/${encodeURIComponent(provider)}/${encodeURIComponent(id)}`;
}

function subjectHash(kind, provider, id) {
  return `#/${kind}s/${encodeURIComponent(provider)}/${encodeURIComponent(id)}`;
}

// ---------------------------------------------------------------------------------------------
// Session

/** A browser token is a JWT (three base64url parts) whose claims hold `scope`. */
function browserClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replaceAll("-", "+").replaceAll("_", "/"));
    const claims = JSON.parse(json);
    return Array.isArray(claims.scope) ? claims : null;
  } catch {
    return null;
  }
}

function startSession(token) {
  const claims = browserClaims(token);
  session.token = token;
  session.role = claims ? "browser" : "full";
  session.scope = claims ? claims.scope.map(String) : [];
  const role = document.getElementById("role");
  role.textContent = session.role === "full" ? "Status API token" : "Browser token";
  role.title = session.role === "full" ? "" : `Scope: ${session.scope.join(", ")}`;
  for (const link of document.querySelectorAll("nav a")) {
    const section = link.dataset.section;
    const listed = section === "calls" || section === "messages" ? mayList(section) : session.role === "full";
    link.hidden = !listed;
  }
  document.getElementById("nav").hidden = false;
  document.getElementById("who").hidden = false;
  document.getElementById("sign-in").hidden = true;
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session.token = null;
  session.role = null;
  stopView();
  stopView = () => {};
  generation += 1;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  document.getElementById("content").replaceChildren();
  document.getElementById("sign-in").hidden = false;
  document.getElementById("token").value = "";
  document.getElementById("token").focus();
  if (message) notify(message);
}

async function signIn(event) {
  event.preventDefault();
  const input = document.getElementById("token");
  const token = input.value.trim();
  if (!token) return;
  startSession(token);
  if (session.role === "full") {
    try {
      await api("/v1/config");
    } catch (error) {
      if (session.token) signOut(`That token was refused: ${error.message}`);
      return;
    }
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  input.value = "";
  if (location.hash === landing()) render();
  else location.hash = landing();
}

/** Whether this session may read the list of `collection` (`calls`, `messages`). */
function mayList(collection) {
  return session.role === "full" || session.scope.includes(collection);
}

/** Where a session starts: the calls, or what a browser token's scope names first. */
function landing() {
  if (session.role === "full") return "#/calls";
  for (const scope of session.scope) {
    const [collection, provider, id] = scope.split("/");
    if (collection !== "calls" && collection !== "messages") continue;
    return provider && id ? `#/${collection}/${encodeURIComponent(provider)}/${encodeURIComponent(id)}` : `#/${collection}`;
  }
  return "#/calls";
}

// ---------------------------------------------------------------------------------------------
// Router

/** The section, its path segments and its query, from the hash; `null` for a malformed one. */
function route() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  try {
    const segments = path.split("/").filter(Boolean).map((segment) => decodeURIComponent(segment));
    return { segments, params: new URLSearchParams(query) };
  } catch {
    return null;
  }
}

async function render(event) {
  const navigated = event?.type === "hashchange";
  stopView();
  stopView = () => {};
  const mine = ++generation;
  if (!session.token) return;
  const { segments, params } = route() ?? { segments: ["malformed"], params: new URLSearchParams() };
  const [section = "calls", provider, id] = segments;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.section === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const content = document.getElementById("content");
  const view = {
    current: () => mine === generation,
    show: (...children) => mine === generation && content.replaceChildren(...children),
    onStop: (stop) => {
      const previous = stopView;
      stopView = () => {
        previous();
        stop();
      };
    },
  };
  view.show(h("p", { class: "muted" }, "Loading…"));
  try {
    if ((section === "calls" || section === "messages") && provider && id) {
      await subjectView(view, section.slice(0, -1), provider, id);
    } else if (section === "calls" || section === "messages") {
      await listView(view, section.slice(0, -1), params);
    } else if (section === "deliveries") {
      await failedDeliveriesView(view, params);
    } else if (section === "sources") {
      await sourcesView(view);
    } else if (section === "config") {
      await configView(view);
    } else {
      view.show(h("div", { class: "card" }, "There is no such page. ", h("a", { href: "#/calls" }, "Calls")));
    }
  } catch (error) {
    if (session.token) view.show(errorCard(error));
  }
  if (!view.current()) return;
  document.title = `${document.querySelector("#content h1")?.textContent ?? "Dashboard"} · Switchboard`;
  // After a navigation, a keyboard or screen reader user goes on from the new content.
  const focus = focusAfterRender && document.getElementById(focusAfterRender);
  focusAfterRender = null;
  if (focus) focus.focus();
  else if (navigated) document.getElementById("view").focus();
}

/** Replaces `holder`'s content, unless the focus is inside it: a keyboard user keeps their place,
 * and the next refresh catches up. */
function refreshInto(holder, ...children) {
  if (holder.contains(document.activeElement)) return;
  holder.replaceChildren(...children);
}

/** Runs `task` every `ms` while the view is current, and never two at once. */
function every(view, ms, task) {
  let running = false;
  const timer = setInterval(async () => {
    if (running || !view.current()) return;
    running = true;
    try {
      await task();
    } catch (error) {
      if (view.current()) notify(error.message);
    } finally {
      running = false;
    }
  }, ms);
  view.onStop(() => clearInterval(timer));
}

// ---------------------------------------------------------------------------------------------
// Views

async function listView(view, kind, params) {
  const statuses = kind === "call" ? CALL_STATUSES : MESSAGE_STATUSES;
  const filter = new URLSearchParams();
  for (const name of ["provider", "status"]) {
    if (params.get(name)) filter.set(name, params.get(name));
  }
  const query = new URLSearchParams(filter);
  query.set("limit", String(PAGE_SIZE));
  if (params.get("cursor")) query.set("cursor", params.get("cursor"));
  const page = await api(`/v1/${kind}s?${query}`);

  const choose = (name, options, label) => {
    const id = `filter-${name}`;
    const select = h(
      "select",
      { id, name, onchange: applyFilter },
      h("option", { value: "" }, `Every ${label.toLowerCase()}`),
      options.map((option) => h("option", { value: option, selected: params.get(name) === option }, option.replaceAll("_", " "))),
    );
    return h("div", {}, h("label", { for: id }, label), select);
  };
  const applyFilter = (event) => {
    focusAfterRender = event.target.id;
    const next = new URLSearchParams();
    for (const name of ["provider", "status"]) {
      const value = document.getElementById(`filter-${name}`).value;
      if (value) next.set(name, value);
    }
    location.hash = `#/${kind}s${next.size ? `?${next}` : ""}`;
  };

  const rows = (items) =>
    items.map((item) =>
      h(
        "tr",
        { "data-id": item.id },
        h("td", {}, time(item.updated_at)),
        h("td", {}, item.provider),
        h("td", { class: "mono" }, h("a", { href: subjectHash(kind, item.provider, item.id) }, item.id)),
        h("td", {}, badge(item.status)),
        h("td", {}, text(item.direction)),
        h("td", {}, text(item.from)),
        h("td", {}, text(item.to)),
        h("td", { class: "num" }, String(item.event_count)),
      ),
    );
  const headings = [["Updated"], ["Provider"], ["Id"], ["Status"], ["Direction"], ["From"], ["To"], ["Events", true]];
  const holder = h("div", { id: "list" }, table(headings, rows(page.items), `No ${kind}s yet.`));
  const paging = h(
    "div",
    { class: "actions" },
    params.get("cursor") ? h("a", { href: `#/${kind}s${filter.size ? `?${filter}` : ""}` }, "← First page") : null,
    page.cursor ? h("a", { href: `#/${kind}s?${new URLSearchParams([...filter, ["cursor", page.cursor]])}`, rel: "next" }, "Next page →") : null,
    h("span", { class: "muted" }, params.get("cursor") ? "" : "Newest first; this page refreshes itself every few seconds."),
  );
  view.show(
    h(
      "section",
      { class: "card" },
      h("h1", {}, kind === "call" ? "Calls" : "Messages"),
      h("form", { class: "filters", role: "search", onsubmit: (event) => event.preventDefault() }, choose("provider", PROVIDERS, "Provider"), choose("status", statuses, "Status")),
      holder,
      paging,
    ),
  );
  if (!params.get("cursor")) {
    every(view, LIST_REFRESH_MS, async () => {
      const fresh = await api(`/v1/${kind}s?${query}`);
      if (view.current()) refreshInto(holder, table(headings, rows(fresh.items), `No ${kind}s yet.`));
    });
  }
}

function stateFacts(state) {
  if (!state) return h("p", { class: "empty" }, "No event yet.");
  const price = state.price ? `${state.price} ${state.currency ?? ""}`.trim() : null;
  return facts([
    ["Status", h("span", {}, badge(state.status), " ", h("span", { class: "muted" }, text(state.provider_status)))],
    ["Direction", text(state.direction)],
    ["From", text(state.from)],
    ["To", text(state.to)],
    ["Created", time(state.created_at)],
    ["Ringing", time(state.ringing_at)],
    ["Answered", time(state.answered_at)],
    ["Ended", time(state.ended_at)],
    ["Duration", state.duration_seconds === null ? "—" : `${state.duration_seconds} s`],
    ["Answered by", text(state.answered_by)],
    ["Price", text(price)],
    ["Detail", text(state.detail)],
    ["Error", text([state.error_code, state.error_message].filter(Boolean).join(": "))],
    ["Session", h("span", { class: "mono" }, text(state.session_id))],
    ["Aliases", h("span", { class: "mono" }, state.aliases?.length ? state.aliases.join(", ") : "—")],
    ["Events", h("span", { "data-field": "event_count" }, String(state.event_count))],
    ["Updated", time(state.updated_at)],
  ]);
}

function timelineList(events, freshIds) {
  if (events.length === 0) return h("p", { class: "empty" }, "No event yet.");
  return h(
    "ol",
    { class: "timeline", "aria-label": "Events in provider order" },
    events.map((event) => {
      const details = Object.entries(event.details ?? {})
        .filter(([name]) => name !== "extra")
        .map(([name, value]) => `${name.replaceAll("_", " ")}: ${value}`)
        .join(" · ");
      return h(
        "li",
        { class: freshIds.has(event.event_id) ? "fresh" : undefined, "data-event-id": event.event_id },
        h("div", {}, badge(event.status), " ", h("span", { class: "mono" }, event.provider_status)),
        h("div", { class: "when" }, event.occurred_at ? ["occurred ", time(event.occurred_at), " · "] : null, "received ", time(event.received_at)),
        details ? h("div", { class: "muted" }, details) : null,
      );
    }),
  );
}

async function subjectView(view, kind, provider, id) {
  const path = subjectPath(kind, provider, id);
  const [state, timeline, deliveries] = await Promise.all([
    api(path).catch((error) => (error.status === 404 ? null : Promise.reject(error))),
    api(`${path}/events`).catch((error) => (error.status === 404 ? { events: [] } : Promise.reject(error))),
    api(`${path}/deliveries`).catch((error) => (error.status === 404 ? { deliveries: [] } : Promise.reject(error))),
  ]);
  if (!view.current()) return;
  const liveBadge = h("span", { class: "badge", id: "live" }, "connecting…");
  const stateHolder = h("div", { id: "state" }, stateFacts(state));
  const timelineHolder = h("div", { id: "timeline" }, timelineList(timeline.events, new Set()));
  const deliveriesHolder = h("div", { id: "deliveries" });
  view.show(
    h("h1", {}, `${kind === "call" ? "Call" : "Message"} `, h("span", { class: "mono" }, id)),
    h("p", { class: "muted" }, provider, " · ", liveBadge, mayList(`${kind}s`) ? [" · ", h("a", { href: `#/${kind}s` }, `All ${kind}s`)] : null),
    h(
      "div",
      { class: "split" },
      h("section", { class: "card", "aria-labelledby": "state-title" }, h("h2", { id: "state-title" }, "State"), stateHolder),
      h("section", { class: "card", "aria-labelledby": "timeline-title" }, h("h2", { id: "timeline-title" }, "Timeline"), timelineHolder),
    ),
    h("section", { class: "card", "aria-labelledby": "deliveries-title" }, h("h2", { id: "deliveries-title" }, "Deliveries"), deliveriesHolder),
    session.role === "full" && state ? eraseCard(kind, path, id) : null,
  );

  const fresh = new Set();
  let shownEvents = timeline.events.length;
  // Reads answered out of order never replace a newer one's answer.
  let timelineReads = 0;
  let deliveryReads = 0;
  const refreshTimeline = async () => {
    const read = ++timelineReads;
    const latest = await api(`${path}/events`);
    if (!view.current() || read !== timelineReads) return;
    shownEvents = latest.events.length;
    timelineHolder.replaceChildren(timelineList(latest.events, fresh));
  };
  const refreshDeliveries = async () => {
    const read = ++deliveryReads;
    const latest = await api(`${path}/deliveries`);
    if (view.current() && read === deliveryReads) showDeliveries(latest.deliveries);
  };
  const showDeliveries = (rows) => {
    refreshInto(deliveriesHolder, deliveriesTable(rows, path, refreshDeliveries));
    deliveriesHolder.dataset.pending = String(rows.some((row) => row.state === "pending"));
  };
  showDeliveries(deliveries.deliveries);
  every(view, DELIVERIES_REFRESH_MS, async () => {
    if (deliveriesHolder.dataset.pending === "true") await refreshDeliveries();
  });

  const live = watch({
    base: location.origin,
    path,
    token: session.token,
    onState: (latest) => {
      if (!view.current()) return;
      stateHolder.replaceChildren(stateFacts(latest));
      liveBadge.className = "badge live";
      liveBadge.textContent = "● live";
      // After an event, or a snapshot (a reconnect) holding events the page has not shown.
      if (latest && latest.event_count !== shownEvents) {
        refreshTimeline().catch((error) => notify(error.message));
        refreshDeliveries().catch((error) => notify(error.message));
      }
    },
    // Called before `onState`, which reads the timeline and deliveries again.
    onEvent: (event) => fresh.add(event.event_id),
    onClose: ({ reconnecting, expired }) => {
      if (!view.current()) return;
      liveBadge.className = "badge warn";
      liveBadge.textContent = reconnecting ? "reconnecting…" : expired ? "token expired: not live" : "not live";
    },
    onError: (error) => view.current() && notify(`Live updates: ${error.message}`),
  });
  view.onStop(() => live.close());
}

/** Erases the subject now (`DELETE`), after a second click; then back to its list. */
function eraseCard(kind, path, id) {
  const noun = kind === "call" ? "call" : "message";
  const erase = async (button) => {
    if (button.dataset.confirm !== "true") {
      button.dataset.confirm = "true";
      button.textContent = `Click again to erase this ${noun}`;
      return;
    }
    button.disabled = true;
    try {
      await api(path, { method: "DELETE" });
      notify(`The ${noun} ${id} is erased.`);
      location.hash = `#/${kind}s`;
    } catch (error) {
      notify(error.message);
      button.disabled = false;
    }
  };
  return h(
    "section",
    { class: "card", "aria-labelledby": "erase-title" },
    h("h2", { id: "erase-title" }, "Erase"),
    h("p", { class: "muted" }, `Erases this ${noun} now: its events, raw requests and deliveries. Deliveries already made stay with your app. A later event for it starts it anew.`),
    h("div", { class: "actions" }, h("button", { type: "button", id: "erase", class: "danger", onclick: (event) => erase(event.currentTarget) }, `Erase ${noun}`)),
  );
}

function deliveriesTable(rows, path, refresh) {
  const failed = rows.filter((row) => row.state === "failed");
  const retry = async (button) => {
    button.disabled = true;
    try {
      const answer = await api(`${path}/deliveries/retry`, { method: "POST", body: {} });
      notify(`${answer.retried} ${answer.retried === 1 ? "delivery goes" : "deliveries go"} out again.`);
      await refresh();
    } catch (error) {
      notify(error.message);
      button.disabled = false;
    }
  };
  const body = rows.map((row) =>
    h(
      "tr",
      { "data-webhook-id": row.webhook_id, "data-state": row.state },
      h("td", { class: "mono" }, row.type),
      h("td", {}, row.endpoint),
      h("td", {}, badge(row.state)),
      h("td", { class: "num" }, String(row.attempts)),
      h("td", { class: "num" }, text(row.last_status)),
      h("td", {}, text(row.last_error)),
      h("td", {}, row.state === "pending" && row.next_attempt_at ? h("span", {}, "next ", time(row.next_attempt_at)) : time(row.last_attempt_at)),
      h("td", { class: "mono muted" }, row.webhook_id),
    ),
  );
  const headings = [["Event"], ["Endpoint"], ["State"], ["Attempts", true], ["Last status", true], ["Last error"], ["When"], ["Webhook id"]];
  const actions =
    session.role === "full" && failed.length > 0
      ? h(
          "div",
          { class: "actions" },
          h("button", { type: "button", id: "retry-failed", onclick: (event) => retry(event.currentTarget) }, `Retry ${failed.length} failed`),
        )
      : null;
  return h("div", {}, table(headings, body, "No delivery: no endpoint is configured for this event, or none wants it."), actions);
}

async function failedDeliveriesView(view, params) {
  const query = new URLSearchParams({ state: "failed", limit: String(PAGE_SIZE) });
  if (params.get("endpoint")) query.set("endpoint", params.get("endpoint"));
  if (params.get("cursor")) query.set("cursor", params.get("cursor"));
  const page = await api(`/v1/deliveries?${query}`);
  const retryAll = async (button) => {
    button.disabled = true;
    let retried = 0;
    let cursor = null;
    try {
      for (let call = 0; call < 25; call += 1) {
        const body = params.get("endpoint") ? { endpoint: params.get("endpoint") } : {};
        if (cursor) body.cursor = cursor;
        const answer = await api("/v1/deliveries/retry", { method: "POST", body });
        retried += answer.retried;
        if (answer.complete) break;
        cursor = answer.cursor;
      }
      notify(`${retried} failed ${retried === 1 ? "delivery goes" : "deliveries go"} out again; the list catches up within a minute.`);
    } catch (error) {
      notify(error.message);
    } finally {
      button.disabled = false;
    }
  };
  const rows = page.deliveries.map((row) =>
    h(
      "tr",
      {},
      h("td", {}, time(row.failed_at)),
      h("td", {}, row.endpoint),
      h("td", { class: "mono" }, row.type),
      h("td", { class: "mono" }, h("a", { href: subjectHash(row.kind, row.provider, row.subject_id) }, `${row.provider}/${row.subject_id}`)),
      h("td", { class: "num" }, String(row.attempts)),
      h("td", { class: "num" }, text(row.last_status)),
      h("td", {}, text(row.last_error)),
    ),
  );
  view.show(
    h(
      "section",
      { class: "card" },
      h("h1", {}, "Failed deliveries"),
      h("p", { class: "muted" }, "Deliveries that ran out of retries, newest first, from the index (up to a minute behind)."),
      table([["Failed"], ["Endpoint"], ["Event"], ["Call or message"], ["Attempts", true], ["Last status", true], ["Last error"]], rows, "No failed delivery."),
      h(
        "div",
        { class: "actions" },
        page.deliveries.length ? h("button", { type: "button", onclick: (event) => retryAll(event.currentTarget) }, "Retry every failed delivery") : null,
        page.cursor ? h("a", { href: `#/deliveries?${new URLSearchParams({ cursor: page.cursor })}`, rel: "next" }, "Next page →") : null,
      ),
    ),
  );
}

function countsRows(source) {
  const codes = new Set([...Object.keys(source.last_hour.refused), ...Object.keys(source.last_day.refused)]);
  const row = (label, hour, day, tone) =>
    h("tr", { "data-count": label }, h("th", { scope: "row", class: tone }, label), h("td", { class: "num" }, String(hour)), h("td", { class: "num" }, String(day)));
  return [
    row("accepted", source.last_hour.accepted, source.last_day.accepted),
    row("duplicates", source.last_hour.duplicates, source.last_day.duplicates),
    ...[...codes].sort().map((code) => row(code, source.last_hour.refused[code] ?? 0, source.last_day.refused[code] ?? 0, "error")),
  ];
}

function sourceCard(source) {
  const samples = source.refusals.map((sample) =>
    h(
      "tr",
      {},
      h("td", {}, time(sample.at)),
      h("td", { class: "mono error" }, sample.code),
      h("td", {}, `${sample.method} ${sample.path}`),
      h("td", {}, text(sample.check)),
    ),
  );
  return h(
    "section",
    { class: "card", "data-provider": source.provider, "aria-labelledby": `source-${source.provider}` },
    h("h2", { id: `source-${source.provider}` }, source.provider, " ", source.configured ? badge("configured") : h("span", { class: "badge" }, "not configured")),
    table([["Requests"], ["Last hour", true], ["Last 24 h", true]], countsRows(source), ""),
    h("h3", {}, "Last refused requests"),
    table([["When"], ["Reason"], ["Request"], ["Check that failed"]], samples, "None."),
    source.keeper ? keeperFacts(source.keeper) : null,
  );
}

/** What the VIS keeper last saw and did (docs/providers/vonage-business.md). */
function keeperFacts(keeper) {
  const registration = keeper.registration;
  const outcome = (record) => (record.error ? h("span", { class: "error" }, record.error) : "ok");
  const run = async (button) => {
    button.disabled = true;
    try {
      const state = await api("/v1/sources/vonage-business/maintain", { method: "POST", body: {} });
      notify(state.last_run?.error ? `The keeper ran: ${state.last_run.error}` : "The keeper ran.");
      render();
    } catch (error) {
      notify(error.message);
      button.disabled = false;
    }
  };
  const backfill = keeper.last_backfill;
  return h(
    "div",
    { class: "keeper" },
    h("h3", {}, "Registration (VIS keeper)"),
    facts([
      ["Id", h("span", { class: "mono" }, text(registration?.id))],
      ["Status", registration ? badge(registration.statistics?.failed ? "failed" : (registration.status ?? "").toLowerCase() || null) : text(null)],
      ["Expires", registration?.expireAt ? time(registration.expireAt) : text(null)],
      ["Last success", registration?.statistics?.lastSuccess ? time(registration.statistics.lastSuccess) : text(null)],
      ["Last run", keeper.last_run ? h("span", {}, time(keeper.last_run.at), " · ", outcome(keeper.last_run)) : text(null)],
      ["Last renewal", keeper.last_renewal ? h("span", {}, time(keeper.last_renewal.at), ` · ${keeper.last_renewal.reason} · `, outcome(keeper.last_renewal)) : text(null)],
      [
        "Last backfill",
        backfill
          ? h("span", {}, time(backfill.at), ` · ${backfill.appended} appended, ${backfill.duplicates} already stored of ${backfill.listed} listed · `, outcome(backfill))
          : text(null),
      ],
    ]),
    h("div", { class: "actions" }, h("button", { type: "button", id: "run-keeper", onclick: (event) => run(event.currentTarget) }, "Run the keeper now")),
  );
}

async function sourcesView(view) {
  const load = async () => (await api("/v1/sources")).sources;
  const holder = h("div", { class: "grid" }, (await load()).map(sourceCard));
  view.show(
    h("h1", {}, "Sources"),
    h("p", { class: "muted" }, "Webhooks per provider: accepted, duplicates and refusals by reason, counted a few seconds behind. Refreshes itself."),
    holder,
  );
  every(view, SOURCES_REFRESH_MS, async () => {
    const sources = await load();
    if (view.current()) refreshInto(holder, ...sources.map(sourceCard));
  });
}

async function configView(view) {
  const config = await api("/v1/config");
  const providers = config.providers.map((row) =>
    h("tr", { "data-provider": row.provider }, h("td", {}, row.provider), h("td", {}, row.configured ? badge("configured") : h("span", { class: "badge" }, "not configured")), h("td", { class: "mono" }, `/webhooks/${row.provider}`)),
  );
  const endpoints = config.delivery.endpoints.map((endpoint) =>
    h(
      "tr",
      { "data-endpoint": endpoint.name },
      h("td", {}, endpoint.name),
      h("td", { class: "mono" }, endpoint.url),
      h("td", {}, endpoint.events.join(", ")),
      h("td", {}, endpoint.providers ? endpoint.providers.join(", ") : "every provider"),
      h("td", { class: "num" }, String(endpoint.secrets)),
    ),
  );
  view.show(
    h("h1", {}, "Configuration"),
    h("p", { class: "muted" }, "What this worker runs with. Secrets are never shown: they are set with ", h("code", {}, "wrangler secret put"), "."),
    h("section", { class: "card" }, h("h2", {}, "Providers"), table([["Provider"], ["State"], ["Webhook path"]], providers, "")),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Delivery endpoints"),
      table([["Name"], ["URL"], ["Events"], ["Providers"], ["Secrets", true]], endpoints, "None: set DELIVERY_ENDPOINTS to deliver events to your app."),
      h("p", { class: "muted" }, `Retries after ${config.delivery.retry_schedule_seconds.map((seconds) => `${seconds} s`).join(", ")}.`),
    ),
    h(
      "section",
      { class: "card" },
      h("h2", {}, "Settings"),
      facts([
        ["Status API tokens", String(config.status_api_tokens)],
        ["Browser tokens", config.browser_tokens ? "on" : "off (BROWSER_TOKEN_SECRET unset)"],
        ["Allowed origins", config.cors_allow_origins.length ? config.cors_allow_origins.join(", ") : "none"],
        ["Public base URL", text(config.public_base_url)],
        ["Signature tolerance", `${config.signature_tolerance_seconds} s`],
        ["Largest webhook body", `${config.max_body_bytes} bytes`],
        ["Subjects kept", days(config.retention.retention_days, "forever", "after their last event")],
        ["Raw requests kept", days(config.retention.raw_request_days, "as long as their subject", "")],
      ]),
    ),
  );
}

/** `RETENTION_DAYS`-style days as text: `never` for 0, else the days (and `after`, if any). */
function days(count, never, after) {
  if (count === 0) return never;
  const shown = count >= 1 ? `${count} days` : `${Math.round(count * 86400)} s`;
  return after ? `${shown} ${after}` : shown;
}

// ---------------------------------------------------------------------------------------------

document.getElementById("sign-in-form").addEventListener("submit", signIn);
document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", render);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) {
  startSession(saved);
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = landing();
  else render();
} else {
  signOut();
}
