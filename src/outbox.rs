//! A subject's outbox: its deliveries to the application's endpoints (docs/delivery.md).
//!
//! One `deliveries` row per event and endpoint that wants it, written by `Subject::commit` with
//! the event: the append RPC runs inside `transactionSync` (the entry module, rendered from
//! `switchboard_core::protocol`), so both rows commit together or neither does, and the webhook
//! is acknowledged only after. A duplicate event writes no row (its event insert found the
//! event), and `(endpoint, event_id)` is the primary key besides.
//!
//! The subject's alarm makes the attempts ([`Outbox::deliver_due`]): per endpoint, the pending
//! row of the earliest event (`event_seq`, the event's place in commit order) is the head; the
//! next row waits until the head is delivered or failed. Decisions (what is sent, when to try
//! again, when to give up) are `switchboard_core::delivery`'s; this module moves the bytes.
//!
//! A failed delivery is listed across subjects from KV (`GET /v1/deliveries`): its keys are
//! derived from the rows (`failed_at` and `indexed_failed_at`, which the subject's index flush
//! reconciles), so a KV write that fails is tried again by the next flush.

use std::cell::Cell;
use std::time::Duration;

use futures_util::future::join_all;
use serde::Deserialize;
use switchboard_core::delivery::{
    failed_keys, payload, retry_after_seconds, AttemptOutcome, DeliveryConfig, DeliveryState,
    Endpoint, EventType, FailedDelivery, NextStep, ATTEMPT_TIMEOUT_MS,
};
use switchboard_core::protocol::subject::{DeliveryView, Retry};
use switchboard_core::{Event, Timestamp};
use worker::js_sys::{Date, Math};
use worker::{wasm_bindgen, web_sys, Result, SqlStorage, SqlStorageValue};

use crate::fetch::fetch_within;
use crate::subject::table_exists;

/// The `last_error` of a delivery still pending when its subject expired
/// (`RETENTION_DAYS`).
pub const EXPIRED: &str = "expired";

/// The table and its queue index, created with the subject's first event.
pub const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS deliveries (
        endpoint TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_seq INTEGER NOT NULL,
        webhook_id TEXT NOT NULL,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        round_start INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER,
        last_error TEXT,
        last_attempt_at INTEGER,
        next_attempt_at INTEGER,
        failed_at INTEGER,
        indexed_failed_at INTEGER,
        PRIMARY KEY (endpoint, event_id)
    );
    CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries (endpoint, state, event_seq)";

/// The most attempts one alarm makes, all endpoints together; the alarm is then set again at
/// once. Each is a subrequest, and an invocation may make only so many (50 on the Free plan,
/// with the index flush's KV calls: see [`MAX_FAILED_CHANGES_PER_FLUSH`]).
const MAX_ATTEMPTS_PER_ALARM: u32 = 16;

/// How long one alarm starts new attempts: after this, what is left waits for the next alarm
/// (set at once), so that a slow endpoint holds up the others, the index flush and socket
/// expiry by at most one attempt (`ATTEMPT_TIMEOUT_MS`).
const ALARM_BUDGET_MS: f64 = 10_000.0;

/// The most failed deliveries whose KV keys one flush brings in line (up to 4 KV calls each);
/// while more are left, the next flush is due a second later.
pub const MAX_FAILED_CHANGES_PER_FLUSH: usize = 6;

/// Where a subject's deliveries stand, for the alarm: the earliest attempt due, and whether a
/// delivery failed or left `failed` (its KV keys are then stale).
#[derive(Default)]
pub struct Progress {
    pub next_due_ms: Option<f64>,
    pub failed_index_stale: bool,
}

pub struct Outbox {
    sql: SqlStorage,
    /// Whether the table exists, once this instance knows: only this object creates it
    /// ([`Outbox::ensure_schema`]), so a table found absent stays absent until then.
    exists: Cell<Option<bool>>,
    /// Counts the subject's erasures: an attempt, or an index flush, whose subject was erased
    /// while it was under way records nothing (a later subject of the same id may have a row of
    /// that name).
    erasures: Cell<u32>,
}

/// A stored event with the state right after it (JSON text), in commit order: what a
/// delivery's body is made of.
pub struct Committed<'a> {
    pub seq: i64,
    pub event: &'a Event,
    pub event_json: &'a str,
    pub state_json: &'a str,
}

impl Outbox {
    pub fn new(sql: SqlStorage) -> Self {
        Self {
            sql,
            exists: Cell::new(None),
            erasures: Cell::new(0),
        }
    }

    /// The subject is erased (its table dropped with its other tables): what an attempt under
    /// way learns is no longer recorded.
    pub fn erased(&self) {
        self.erasures.set(self.erasures.get().wrapping_add(1));
        self.exists.set(Some(false));
    }

    /// How many erasures this instance has seen: work that waited on something compares it
    /// before and after.
    pub fn erasures(&self) -> u32 {
        self.erasures.get()
    }

    /// Fails every pending delivery as `expired`, at `now`: its subject is erased next.
    pub fn expire_pending(&self, now: i64) -> Result<()> {
        if self.exists()? {
            self.sql.exec(
                "UPDATE deliveries SET state = 'failed', last_error = ?, failed_at = ?, next_attempt_at = NULL
                 WHERE state = 'pending'",
                vec![EXPIRED.into(), now.into()],
            )?;
        }
        Ok(())
    }

    /// The failed-delivery keys the subject has written (its erasure deletes them).
    pub fn indexed_failed_keys(&self) -> Result<Vec<String>> {
        let rows = self.rows("WHERE indexed_failed_at IS NOT NULL", Vec::new())?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let indexed = row.indexed_failed_at?;
                Some(failed_keys(&row.endpoint, indexed, &row.webhook_id))
            })
            .flatten()
            .collect())
    }

    /// Creates the table if this instance has not yet.
    pub fn ensure_schema(&self) -> Result<()> {
        if self.exists.get() != Some(true) {
            self.sql.exec(SCHEMA, None)?;
            self.exists.set(Some(true));
        }
        Ok(())
    }

    /// Forgets that the table exists: the transaction that created it may have been rolled
    /// back.
    pub fn forget_schema(&self) {
        self.exists.set(None);
    }

    /// Whether the table exists (reads never create it).
    fn exists(&self) -> Result<bool> {
        if let Some(exists) = self.exists.get() {
            return Ok(exists);
        }
        let exists = table_exists(&self.sql, "deliveries")?;
        self.exists.set(Some(exists));
        Ok(exists)
    }

    /// The endpoints that want `event`: a new event records one delivery to each.
    pub fn wanting<'c>(config: &'c DeliveryConfig, event: &Event) -> Vec<&'c Endpoint> {
        let event_type = EventType::of(event);
        config
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.wants(event_type, event.provider))
            .collect()
    }

    /// Records one pending delivery of a newly committed event to each of `endpoints`, due now.
    pub fn record(
        &self,
        subject: &str,
        endpoints: &[&Endpoint],
        committed: &Committed,
    ) -> Result<()> {
        if endpoints.is_empty() {
            return Ok(());
        }
        self.ensure_schema()?;
        let event_type = EventType::of(committed.event);
        let body = payload(
            event_type,
            committed.event.received_at,
            committed.event_json,
            committed.state_json,
        );
        let now = now_ms();
        for endpoint in endpoints {
            let webhook_id = switchboard_core::delivery::webhook_id(
                subject,
                &endpoint.name,
                &committed.event.event_id,
            );
            self.sql.exec(
                "INSERT OR IGNORE INTO deliveries (endpoint, event_id, event_seq, webhook_id, type, body, state, next_attempt_at)
                 VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                vec![
                    endpoint.name.as_str().into(),
                    committed.event.event_id.as_str().into(),
                    committed.seq.into(),
                    webhook_id.into(),
                    event_type.to_string().into(),
                    body.as_str().into(),
                    now.into(),
                ],
            )?;
        }
        Ok(())
    }

    /// The subject's deliveries, in commit order and then by endpoint.
    pub fn list(&self) -> Result<Vec<DeliveryView>> {
        let rows = self.rows("ORDER BY event_seq, endpoint", Vec::new())?;
        Ok(rows.into_iter().map(Row::view).collect())
    }

    /// The rows `clause` selects (every column but the body); none if the table does not
    /// exist.
    fn rows(&self, clause: &str, bindings: Vec<SqlStorageValue>) -> Result<Vec<Row>> {
        if !self.exists()? {
            return Ok(Vec::new());
        }
        self.sql
            .exec(
                &format!("SELECT {ROW_COLUMNS} FROM deliveries {clause}"),
                bindings,
            )?
            .to_array()
    }

    /// Makes deliveries pending again, due now, each with a new schedule and its `webhook-id`,
    /// and answers how many: the failed ones to the endpoints of `config` (of `retry.endpoint`,
    /// of `retry.webhook_ids`); or with `retry.all`, one per event in `events` and endpoint that
    /// wants it, whatever its state (recorded now if it never was). Deliveries to an endpoint
    /// no longer configured are left as they are.
    pub fn retry(
        &self,
        subject: &str,
        config: &DeliveryConfig,
        retry: &Retry,
        events: &[Committed],
    ) -> Result<u64> {
        const AGAIN: &str = "UPDATE deliveries SET state = 'pending', round_start = attempts, next_attempt_at = ?, failed_at = NULL
             WHERE endpoint = ?";
        let now = now_ms();
        let chosen = |endpoint: &&Endpoint| {
            retry
                .endpoint
                .as_ref()
                .is_none_or(|name| *name == endpoint.name)
        };
        let mut retried = 0;
        if retry.all {
            self.ensure_schema()?;
            for committed in events {
                let endpoints: Vec<&Endpoint> = Self::wanting(config, committed.event)
                    .into_iter()
                    .filter(chosen)
                    .collect();
                self.record(subject, &endpoints, committed)?;
                for endpoint in endpoints {
                    retried += self.updated(
                        &format!("{AGAIN} AND event_id = ?"),
                        vec![
                            now.into(),
                            endpoint.name.as_str().into(),
                            committed.event.event_id.as_str().into(),
                        ],
                    )?;
                }
            }
            return Ok(retried);
        }
        if !self.exists()? {
            return Ok(0);
        }
        for endpoint in config.endpoints.iter().filter(chosen) {
            let failed = format!("{AGAIN} AND state = 'failed'");
            let name = endpoint.name.as_str();
            match &retry.webhook_ids {
                None => retried += self.updated(&failed, vec![now.into(), name.into()])?,
                Some(ids) => {
                    for id in ids {
                        retried += self.updated(
                            &format!("{failed} AND webhook_id = ?"),
                            vec![now.into(), name.into(), id.as_str().into()],
                        )?;
                    }
                }
            }
        }
        Ok(retried)
    }

    /// How many rows the `UPDATE` `query` changed. Counted from `RETURNING`, since the cursor's
    /// `rows_written` also counts the writes to the queue index.
    fn updated(&self, query: &str, bindings: Vec<SqlStorageValue>) -> Result<u64> {
        #[derive(Deserialize)]
        struct Changed {}
        let changed: Vec<Changed> = self
            .sql
            .exec(&format!("{query} RETURNING 1 AS changed"), bindings)?
            .to_array()?;
        Ok(changed.len() as u64)
    }

    /// When the next attempt to an endpoint of `config` is due (unix milliseconds), if any.
    pub fn next_due(&self, config: &DeliveryConfig) -> Result<Option<f64>> {
        if config.endpoints.is_empty() || !self.exists()? {
            return Ok(None);
        }
        let mut next: Option<f64> = None;
        for endpoint in &config.endpoints {
            if let Some(head) = self.head(&endpoint.name)? {
                let due = head.next_attempt_at.unwrap_or_default() as f64;
                next = Some(next.map_or(due, |next| next.min(due)));
            }
        }
        Ok(next)
    }

    /// The pending delivery an endpoint sends next: the one of the earliest event.
    fn head(&self, endpoint: &str) -> Result<Option<Row>> {
        let rows: Vec<Row> = self
            .sql
            .exec(
                &format!(
                    "SELECT {ROW_COLUMNS}, body FROM deliveries WHERE endpoint = ? AND state = 'pending'
                     ORDER BY event_seq LIMIT 1"
                ),
                vec![endpoint.into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    /// Makes the attempts that are due, the endpoints side by side and each endpoint's in
    /// order, within this alarm's budget ([`MAX_ATTEMPTS_PER_ALARM`], [`ALARM_BUDGET_MS`]), and
    /// answers when the next one is due.
    pub async fn deliver_due(&self, config: &DeliveryConfig) -> Result<Progress> {
        if config.endpoints.is_empty() || !self.exists()? {
            return Ok(Progress::default());
        }
        let budget = Budget {
            attempts_left: Cell::new(MAX_ATTEMPTS_PER_ALARM),
            until: Date::now() + ALARM_BUDGET_MS,
        };
        let queues = config
            .endpoints
            .iter()
            .map(|endpoint| self.deliver_queue(config, endpoint, &budget));
        let mut progress = Progress::default();
        for queue in join_all(queues).await {
            let queue = queue?;
            progress.failed_index_stale |= queue.failed_index_stale;
            if let Some(due) = queue.next_due_ms {
                progress.next_due_ms = Some(progress.next_due_ms.map_or(due, |next| next.min(due)));
            }
        }
        Ok(progress)
    }

    /// One endpoint's due attempts, one at a time in commit order.
    async fn deliver_queue(
        &self,
        config: &DeliveryConfig,
        endpoint: &Endpoint,
        budget: &Budget,
    ) -> Result<Progress> {
        let mut progress = Progress::default();
        loop {
            let Some(head) = self.head(&endpoint.name)? else {
                return Ok(progress);
            };
            let due = head.next_attempt_at.unwrap_or_default() as f64;
            if due > Date::now() {
                progress.next_due_ms = Some(due);
                return Ok(progress);
            }
            if !budget.take() {
                progress.next_due_ms = Some(Date::now());
                return Ok(progress);
            }
            let erasures = self.erasures.get();
            let outcome = attempt(endpoint, &head.webhook_id, &head.body).await;
            if self.erasures.get() != erasures {
                return Ok(Progress::default());
            }
            let now = now_ms();
            let attempt_in_round =
                u32::try_from(head.attempts - head.round_start + 1).unwrap_or(u32::MAX);
            let step = config.after_attempt(
                attempt_in_round,
                &outcome,
                Timestamp::from_millis(now),
                Math::random(),
            );
            let (state, next_attempt_at, failed_at) = match step {
                NextStep::Delivered => (DeliveryState::Delivered, None, None),
                NextStep::RetryAt(at) => (DeliveryState::Pending, Some(at.millis()), None),
                NextStep::Failed => (DeliveryState::Failed, None, Some(now)),
            };
            self.sql.exec(
                "UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = COALESCE(?, last_status), last_error = ?,
                     last_attempt_at = ?, next_attempt_at = ?, failed_at = ?
                 WHERE endpoint = ? AND event_id = ?",
                vec![
                    state.as_str().into(),
                    outcome.status().map(i64::from).into(),
                    outcome.error().into(),
                    now.into(),
                    next_attempt_at.into(),
                    failed_at.into(),
                    endpoint.name.as_str().into(),
                    head.event_id.as_str().into(),
                ],
            )?;
            if !outcome.is_success() {
                let line = serde_json::json!({
                    "event": if state == DeliveryState::Failed { "delivery_failed" } else { "delivery_attempt_failed" },
                    "endpoint": endpoint.name,
                    "webhook_id": head.webhook_id,
                    "attempt": head.attempts + 1,
                    "status": outcome.status(),
                    "detail": outcome.error(),
                    "next_attempt_at": next_attempt_at.map(Timestamp::from_millis),
                });
                worker::console_log!("{line}");
            }
            if let NextStep::RetryAt(at) = step {
                progress.next_due_ms = Some(at.millis() as f64);
                return Ok(progress);
            }
            progress.failed_index_stale |= state == DeliveryState::Failed;
        }
    }

    /// The failed deliveries whose KV keys differ from what the rows say, at most `limit` (the
    /// flush asks for [`MAX_FAILED_CHANGES_PER_FLUSH`], and again while it gets that many): each
    /// with the keys' time to delete (if written) and the entry to write (if failed).
    pub fn failed_index_changes(
        &self,
        subject: &SubjectKey,
        limit: usize,
    ) -> Result<Vec<FailedIndexChange>> {
        let rows = self.rows(
            "WHERE indexed_failed_at IS NOT (CASE WHEN state = 'failed' THEN failed_at END) LIMIT ?",
            vec![i64::try_from(limit).unwrap_or(i64::MAX).into()],
        )?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let write = (row.state == "failed")
                    .then_some(row.failed_at)
                    .flatten()
                    .map(|failed_ms| row.failed_entry(subject, failed_ms));
                FailedIndexChange {
                    endpoint: row.endpoint,
                    event_id: row.event_id,
                    webhook_id: row.webhook_id,
                    delete_ms: row.indexed_failed_at,
                    write,
                }
            })
            .collect())
    }

    /// Records that the KV keys of `change` are written (or deleted).
    pub fn mark_indexed(&self, change: &FailedIndexChange) -> Result<()> {
        let indexed = change.write.as_ref().map(|entry| entry.failed_at.millis());
        self.sql.exec(
            "UPDATE deliveries SET indexed_failed_at = ? WHERE endpoint = ? AND event_id = ?",
            vec![
                indexed.into(),
                change.endpoint.as_str().into(),
                change.event_id.as_str().into(),
            ],
        )?;
        Ok(())
    }
}

/// What one alarm may still spend on attempts.
struct Budget {
    attempts_left: Cell<u32>,
    /// No attempt starts after this (unix milliseconds).
    until: f64,
}

impl Budget {
    /// Whether one more attempt may start now, counting it if so.
    fn take(&self) -> bool {
        let left = self.attempts_left.get();
        if left == 0 || Date::now() >= self.until {
            return false;
        }
        self.attempts_left.set(left - 1);
        true
    }
}

/// The subject a failed-delivery entry names.
pub struct SubjectKey {
    pub kind: switchboard_core::Kind,
    pub provider: switchboard_core::ProviderId,
    pub id: String,
}

/// The KV keys of one delivery to bring in line with its row.
pub struct FailedIndexChange {
    pub endpoint: String,
    event_id: String,
    pub webhook_id: String,
    /// The failure time of the keys written before, to delete.
    pub delete_ms: Option<i64>,
    /// The entry to write, for a delivery that is failed now.
    pub write: Option<FailedDelivery>,
}

/// Every column but the body, which only an attempt reads ([`Outbox::head`]).
const ROW_COLUMNS: &str = "endpoint, event_id, webhook_id, type, state, attempts, round_start, \
     last_status, last_error, last_attempt_at, next_attempt_at, failed_at, indexed_failed_at";

#[derive(Deserialize)]
struct Row {
    endpoint: String,
    event_id: String,
    webhook_id: String,
    #[serde(rename = "type")]
    event_type: String,
    /// Read by [`Outbox::head`] only.
    #[serde(default)]
    body: String,
    state: String,
    attempts: i64,
    round_start: i64,
    last_status: Option<i64>,
    last_error: Option<String>,
    last_attempt_at: Option<i64>,
    next_attempt_at: Option<i64>,
    failed_at: Option<i64>,
    indexed_failed_at: Option<i64>,
}

impl Row {
    fn state(&self) -> DeliveryState {
        DeliveryState::parse(&self.state).unwrap_or(DeliveryState::Pending)
    }

    fn view(self) -> DeliveryView {
        let state = self.state();
        DeliveryView {
            endpoint: self.endpoint,
            event_id: self.event_id,
            webhook_id: self.webhook_id,
            event_type: self.event_type,
            state,
            attempts: u32::try_from(self.attempts).unwrap_or_default(),
            last_status: self
                .last_status
                .and_then(|status| u16::try_from(status).ok()),
            last_error: self.last_error,
            last_attempt_at: self.last_attempt_at.map(Timestamp::from_millis),
            next_attempt_at: self
                .next_attempt_at
                .filter(|_| state == DeliveryState::Pending)
                .map(Timestamp::from_millis),
        }
    }

    fn failed_entry(&self, subject: &SubjectKey, failed_ms: i64) -> FailedDelivery {
        FailedDelivery {
            endpoint: self.endpoint.clone(),
            kind: subject.kind,
            provider: subject.provider,
            subject_id: subject.id.clone(),
            event_id: self.event_id.clone(),
            webhook_id: self.webhook_id.clone(),
            event_type: self.event_type.clone(),
            failed_at: Timestamp::from_millis(failed_ms),
            attempts: u32::try_from(self.attempts).unwrap_or_default(),
            last_status: self
                .last_status
                .and_then(|status| u16::try_from(status).ok()),
            last_error: self.last_error.clone(),
        }
    }
}

fn now_ms() -> i64 {
    Date::now() as i64
}

/// One attempt: a `POST` of `body` to the endpoint, signed for this moment, abandoned (and its
/// request aborted) after [`ATTEMPT_TIMEOUT_MS`].
async fn attempt(endpoint: &Endpoint, webhook_id: &str, body: &str) -> AttemptOutcome {
    let no_answer = |reason: String| AttemptOutcome::NoAnswer { reason };
    let init = match request(endpoint, webhook_id, body) {
        Ok(init) => init,
        Err(error) => return no_answer(worker::Error::from(error).to_string()),
    };
    let timeout = Duration::from_millis(ATTEMPT_TIMEOUT_MS as u64);
    let response = match fetch_within(&endpoint.url, &init, timeout).await {
        Ok(response) => response,
        Err(reason) => return no_answer(reason),
    };
    let retry_after_s = response
        .headers()
        .get("retry-after")
        .ok()
        .flatten()
        .and_then(|value| retry_after_seconds(&value));
    // The answer's body is not read: cancelling it frees the connection.
    if let Some(stream) = response.body() {
        let _ = stream.cancel();
    }
    AttemptOutcome::Answered {
        status: response.status(),
        retry_after_s,
    }
}

/// The delivery's request, signed for this moment.
fn request(
    endpoint: &Endpoint,
    webhook_id: &str,
    body: &str,
) -> std::result::Result<web_sys::RequestInit, wasm_bindgen::JsValue> {
    let timestamp = (Date::now() / 1000.0).floor() as i64;
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "application/json")?;
    headers.set("user-agent", "Switchboard")?;
    headers.set("webhook-id", webhook_id)?;
    headers.set("webhook-timestamp", &timestamp.to_string())?;
    headers.set(
        "webhook-signature",
        &endpoint.signature(webhook_id, timestamp, body.as_bytes()),
    )?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    // A redirect is an answer like any other that is not 2xx: followed, a 301 or 302 would
    // turn into a GET without the body, and a 307 would carry it to another host.
    init.set_redirect(web_sys::RequestRedirect::Manual);
    init.set_headers(&headers);
    init.set_body(&body.into());
    Ok(init)
}
