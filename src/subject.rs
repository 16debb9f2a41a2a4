//! `Subject`: the Durable Object that owns one call or one message.
//!
//! Named `{provider}:{kind}:{id}` (see [`object_name`]), so every event about a subject reaches
//! the same single-threaded object, and objects scale with the number of calls, not with the
//! traffic of one hot object.
//!
//! Storage (SQLite):
//! * `events`: one row per distinct event id (primary key → exact dedup), the normalized event
//!   and the raw request exactly as received;
//! * `subject`: the merged [`SubjectState`], when the first event was received, and the status
//!   last written to the KV index.
//!
//! An append is `INSERT OR IGNORE` on `events` plus the state update, issued without an `await`
//! between them, so the runtime commits them together; the worker acknowledges the webhook only
//! after this object has answered, i.e. after the commit. Should the state update fail after the
//! event row was written, the webhook is not acknowledged, and the provider's retry (a duplicate)
//! merges the stored event again (see [`Subject::append`]). The worker appends over RPC (the
//! `append` method that `scripts/worker-entry.mjs` exposes); the status API reads with `fetch`.
//!
//! The KV index is written by [`Subject::alarm`], at most once per [`INDEX_FLUSH_DELAY_MS`] per
//! subject: a burst of events (`started` + `ringing`) costs one KV write per key, within KV's
//! one-write-per-second-per-key limit, and no KV work delays the acknowledgement.

use std::cell::{Cell, RefCell};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use switchboard_core::request::query_params;
use switchboard_core::{CapturedRequest, Event, Kind, ProviderId, Status, SubjectState, Summary};
use wasm_bindgen::prelude::{wasm_bindgen, JsValue};
use worker::{
    durable_object, DurableObject, Env, Method, Request, Response, Result, SqlStorage, State,
};

use crate::index;

/// How long after an event the index is refreshed; events in between are coalesced.
pub const INDEX_FLUSH_DELAY_MS: i64 = 1_000;

/// The object name for a subject; also the namespace key of the KV index entries.
pub fn object_name(provider: ProviderId, kind: Kind, id: &str) -> String {
    format!("{provider}:{}:{id}", kind.as_str())
}

/// The URL of `GET /request` for the event `event_id`, form-encoded as `Url::parse_with_params`
/// writes it (built by hand, and read with `query_params`, to keep the `url` crate out of the
/// wasm: see [`query_params`]).
pub fn request_url(event_id: &str) -> String {
    let event_id: String = form_urlencoded::byte_serialize(event_id.as_bytes()).collect();
    format!("https://subject/request?event_id={event_id}")
}

/// An event to append, as the worker sends it.
#[derive(Serialize)]
pub struct AppendRequest<'a> {
    pub event: &'a Event,
    pub raw: &'a CapturedRequest,
}

/// An event to append, as the object reads it: both members are stored as the JSON text
/// they arrive in, so only the event is parsed (to merge it), and nothing is encoded again.
#[derive(Deserialize)]
struct AppendBody {
    event: Box<RawValue>,
    raw: Box<RawValue>,
}

#[derive(Deserialize)]
struct SubjectRow {
    state: String,
    created_ms: i64,
    indexed_status: Option<String>,
}

#[durable_object]
pub struct Subject {
    state: State,
    env: Env,
    schema_ready: Cell<bool>,
    /// The committed state, once read or written by this instance: appends skip reading and
    /// parsing the row. Set only after a successful write; empty after a failed one, so the
    /// next append reads what is committed.
    merged: RefCell<Option<SubjectState>>,
    /// An index alarm is known to be set: appends skip asking storage until it has run.
    alarm_pending: Cell<bool>,
}

impl DurableObject for Subject {
    fn new(state: State, env: Env) -> Self {
        Self {
            state,
            env,
            schema_ready: Cell::new(false),
            merged: RefCell::new(None),
            alarm_pending: Cell::new(false),
        }
    }

    async fn fetch(&self, request: Request) -> Result<Response> {
        let path = request.path();
        match (request.method(), path.as_str()) {
            (Method::Get, "/summary") => match self.read_row()? {
                Some(row) => Response::from_json(&self.summary_of(&row)?),
                None => not_found(),
            },
            (Method::Get, "/events") => self.events(),
            (Method::Get, "/request") => {
                let event_id = query_params(&request.inner().url())
                    .into_iter()
                    .find(|(name, _)| name == "event_id")
                    .map(|(_, value)| value)
                    .unwrap_or_default();
                self.raw_request(&event_id)
            }
            _ => not_found(),
        }
    }

    /// Refreshes this subject's KV index entries from the committed state. A failure returns an
    /// error, and the runtime retries the alarm.
    async fn alarm(&self) -> Result<Response> {
        self.alarm_pending.set(false);
        let Some(row) = self.read_row()? else {
            return Response::empty();
        };
        let summary = self.summary_of(&row)?;
        let kv = self.env.kv(index::BINDING)?;
        let previous = row
            .indexed_status
            .as_deref()
            .and_then(|status| status.parse::<Status>().ok());
        index::write(&kv, &summary, row.created_ms, previous).await?;
        self.sql().exec(
            "UPDATE subject SET indexed_status = ? WHERE id = 1",
            vec![summary.status.map(Status::as_str).into()],
        )?;
        // An event may have been merged while the KV writes were in flight, and seen this
        // alarm as still pending: index it in a later run.
        let changed = self
            .read_row()?
            .is_some_and(|current| current.state != row.state);
        let storage = self.state.storage();
        if changed && storage.get_alarm().await?.is_none() {
            storage.set_alarm(INDEX_FLUSH_DELAY_MS).await?;
            self.alarm_pending.set(true);
        }
        Response::empty()
    }
}

/// The object's RPC methods, exposed by `scripts/worker-entry.mjs` (workerd offers RPC only on a
/// class that extends `DurableObject`, which the `#[durable_object]` class is not). RPC, not
/// `fetch`: no `Request` and `Response` to build and read per event.
#[wasm_bindgen(
    wasm_bindgen = worker::wasm_bindgen,
    wasm_bindgen_futures = worker::wasm_bindgen_futures,
    js_sys = worker::js_sys
)]
impl Subject {
    /// Commits one event (an [`AppendRequest`] as JSON text) and answers whether it was a
    /// duplicate. The text is parsed by serde_json, never by JavaScript, where numbers are
    /// doubles: a u64 above 2^53 (a Twilio `SequenceNumber` of 18446744073709551615, found by
    /// the fuzzer) would not survive.
    #[wasm_bindgen(js_name = append)]
    pub async fn append_rpc(&self, body: String) -> std::result::Result<bool, JsValue> {
        let append: AppendBody = serde_json::from_str(&body)
            .map_err(|error| JsValue::from(worker::Error::from(error)))?;
        self.append(append).await.map_err(JsValue::from)
    }
}

impl Subject {
    fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Creates the tables on first write. Reads never create storage for an unknown subject.
    fn ensure_schema(&self, sql: &SqlStorage) -> Result<()> {
        if !self.schema_ready.get() {
            sql.exec(
                "CREATE TABLE IF NOT EXISTS events (
                    event_id TEXT PRIMARY KEY,
                    received_at INTEGER NOT NULL,
                    event TEXT NOT NULL,
                    raw TEXT NOT NULL
                )",
                None,
            )?;
            sql.exec(
                "CREATE TABLE IF NOT EXISTS subject (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    state TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    indexed_status TEXT
                )",
                None,
            )?;
            self.schema_ready.set(true);
        }
        Ok(())
    }

    fn has_schema(&self, sql: &SqlStorage) -> Result<bool> {
        if self.schema_ready.get() {
            return Ok(true);
        }
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let counts: Vec<Count> = sql
            .exec(
                "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'subject'",
                None,
            )?
            .to_array()?;
        Ok(counts.first().is_some_and(|count| count.n > 0))
    }

    fn read_row(&self) -> Result<Option<SubjectRow>> {
        let sql = self.sql();
        if !self.has_schema(&sql)? {
            return Ok(None);
        }
        let rows: Vec<SubjectRow> = sql
            .exec(
                "SELECT state, created_ms, indexed_status FROM subject WHERE id = 1",
                None,
            )?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    /// Stores the event (once per event id) and merges it into the state.
    ///
    /// On a duplicate the stored copy is merged again: the merge is idempotent, so this is a
    /// no-op normally, and it repairs the state if an earlier append stored the event row but
    /// failed before its state update or alarm were written (the provider's retry lands here).
    /// Answers whether the event was a duplicate.
    async fn append(&self, append: AppendBody) -> Result<bool> {
        let event: Event = serde_json::from_str(append.event.get())?;
        let sql = self.sql();
        self.ensure_schema(&sql)?;
        let cached = self.merged.take();
        let mut state = match cached {
            Some(state) => state,
            None => match self.read_row()? {
                Some(row) => parse_state(&row.state)?,
                None => SubjectState::new(event.provider, event.kind, event.subject_id.clone()),
            },
        };
        let inserted = sql
            .exec(
                "INSERT OR IGNORE INTO events (event_id, received_at, event, raw) VALUES (?, ?, ?, ?)",
                vec![
                    event.event_id.as_str().into(),
                    event.received_at.millis().into(),
                    append.event.get().into(),
                    append.raw.get().into(),
                ],
            )?
            .rows_written()
            > 0;
        let merged = if inserted {
            event
        } else {
            self.stored_event(&event.event_id)?.unwrap_or(event)
        };
        state.apply(&merged);
        sql.exec(
            "INSERT INTO subject (id, state, created_ms) VALUES (1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            vec![
                serde_json::to_string(&state)?.into(),
                merged.received_at.millis().into(),
            ],
        )?;
        self.merged.replace(Some(state));

        if !self.alarm_pending.get() {
            let storage = self.state.storage();
            if storage.get_alarm().await?.is_none() {
                storage.set_alarm(INDEX_FLUSH_DELAY_MS).await?;
            }
            self.alarm_pending.set(true);
        }
        Ok(!inserted)
    }

    fn stored_event(&self, event_id: &str) -> Result<Option<Event>> {
        #[derive(Deserialize)]
        struct EventRow {
            event: String,
        }
        let rows: Vec<EventRow> = self
            .sql()
            .exec(
                "SELECT event FROM events WHERE event_id = ?",
                vec![event_id.into()],
            )?
            .to_array()?;
        rows.first()
            .map(|row| serde_json::from_str(&row.event).map_err(worker::Error::from))
            .transpose()
    }

    fn summary_of(&self, row: &SubjectRow) -> Result<Summary> {
        Ok(parse_state(&row.state)?.summary(self.event_count()?))
    }

    fn event_count(&self) -> Result<u64> {
        #[derive(Deserialize)]
        struct Count {
            n: i64,
        }
        let counts: Vec<Count> = self
            .sql()
            .exec("SELECT COUNT(*) AS n FROM events", None)?
            .to_array()?;
        Ok(counts
            .first()
            .and_then(|count| u64::try_from(count.n).ok())
            .unwrap_or(0))
    }

    /// The timeline in provider order (see `EventOrder`), not arrival order.
    fn events(&self) -> Result<Response> {
        let sql = self.sql();
        if !self.has_schema(&sql)? {
            return not_found();
        }
        #[derive(Deserialize)]
        struct EventRow {
            event: String,
        }
        let rows: Vec<EventRow> = sql.exec("SELECT event FROM events", None)?.to_array()?;
        let mut events = rows
            .iter()
            .map(|row| serde_json::from_str::<Event>(&row.event))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        events.sort_by_key(Event::order);
        #[derive(Serialize)]
        struct Timeline {
            events: Vec<Event>,
        }
        Response::from_json(&Timeline { events })
    }

    /// `{"received_at": ms, "request": <captured request>}` for one stored event.
    fn raw_request(&self, event_id: &str) -> Result<Response> {
        let sql = self.sql();
        if !self.has_schema(&sql)? {
            return not_found();
        }
        #[derive(Deserialize)]
        struct RawRow {
            received_at: i64,
            raw: String,
        }
        let rows: Vec<RawRow> = sql
            .exec(
                "SELECT received_at, raw FROM events WHERE event_id = ?",
                vec![event_id.into()],
            )?
            .to_array()?;
        match rows.into_iter().next() {
            Some(row) => {
                let body = format!(
                    "{{\"received_at\":{},\"request\":{}}}",
                    row.received_at, row.raw
                );
                let mut response = Response::ok(body)?;
                response
                    .headers_mut()
                    .set("content-type", "application/json")?;
                Ok(response)
            }
            None => not_found(),
        }
    }
}

fn parse_state(json: &str) -> Result<SubjectState> {
    Ok(serde_json::from_str(json)?)
}

fn not_found() -> Result<Response> {
    Ok(Response::empty()?.with_status(404))
}
