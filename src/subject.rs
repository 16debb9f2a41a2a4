//! `Subject`: the Durable Object that owns one call or one message.
//!
//! Named `{provider}:{kind}:{id}` (see [`object_name`]), so every event about a subject reaches
//! the same single-threaded object, and objects scale with the number of calls, not with the
//! traffic of one hot object.
//!
//! Storage (SQLite): `events`, one row per distinct event id (primary key → exact dedup) with the
//! normalized event and the raw request exactly as received, and `indexed_statuses` (below).
//! The event log is the truth: the merged [`SubjectState`] is derived from it (the merge is
//! order-independent, see `switchboard_core::state`), folded once when an instance first needs
//! it and then kept in memory, so an append is a single `INSERT OR IGNORE`. Stored events must
//! therefore stay readable by later versions of `Event`. The worker acknowledges the webhook
//! only after this object has answered, i.e. after the row is committed. A failed write breaks
//! the instance (the runtime resets it), so the state in memory never runs ahead of storage.
//!
//! The worker appends over RPC (`subject::APPEND`, declared in `src/protocol.rs`, exposed by
//! `scripts/worker-entry.mjs`); the status API reads with `fetch` (`subject::Read`). The routes,
//! methods and messages are `switchboard_core::protocol`'s.
//!
//! The KV index is written by [`Subject::alarm`], at most once per [`FLUSH_DELAY_MS`] per
//! subject: a burst of events (`started` + `ringing`) costs one KV write per key, within KV's
//! one-write-per-second-per-key limit, and no KV work delays the acknowledgement. The statuses
//! whose status key may exist are the rows of `indexed_statuses` (created with `events`), so a
//! later flush deletes the keys of a status the subject has left.
//!
//! Frontends watch the subject through the sockets the object holds (`src/sockets.rs`): each
//! newly committed event is sent to them as it commits, and the one alarm also closes the
//! sockets whose token has expired.
//!
//! The application's endpoints receive each new event through the object's outbox
//! (`src/outbox.rs`): its deliveries are recorded with the event, in the same transaction, and
//! the alarm makes the attempts.
//!
//! Retention (`switchboard_core::retention`) runs from the same alarm: a subject whose last
//! event is older than `RETENTION_DAYS` erases itself (its pending deliveries failed as
//! `expired` first), and raw requests older than `RAW_REQUEST_DAYS` are replaced by
//! [`DROPPED_RAW`]. An erasure, by age or on request (`subject::ERASE`), drops the tables and
//! records what it owes KV in one transaction (`src/erasure.rs`); the alarm makes those KV
//! changes and then deletes the object's storage. A later event for the same id starts a new
//! subject. Every index key written carries the subject's expiry as its own
//! (`expirationTtl`), so lists forget an expired subject even if its object never runs again.
//!
//! The one alarm is thus the subject's scheduler: it runs whatever is due (retention, index
//! flush, delivery attempts, socket expiry) and sets itself for the earliest work left.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use serde::Deserialize;
use switchboard_core::delivery::failed_keys;
use switchboard_core::index::{
    fixed_keys, flush_retry_delay_ms, number_digest as index_number_digest, subject_keys,
    FLUSH_DELAY_MS,
};
use switchboard_core::live::{
    event_frame, snapshot_frame, CLOSE_SUBJECT_ERASED, MAX_SOCKETS_PER_SUBJECT,
};
use switchboard_core::protocol::subject::{
    object_name, AppendBody, Deliveries, Erase, ErasureReason, Read, Retried, Retry, StoredRequest,
    Timeline, Watch, WatchAnswer,
};
use switchboard_core::protocol::ReadAnswer;
use switchboard_core::retention::{ttl_seconds, Retention};
use switchboard_core::{Event, Status, SubjectState, Summary, Timestamp};
use wasm_bindgen::prelude::JsValue;
use worker::js_sys::{Date, Object, TypeError};
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State, Storage,
    WebSocket, WebSocketIncomingMessage,
};

use crate::erasure::{self, Owed};
use crate::index::{self, KeyChange};
use crate::outbox::{Committed, Outbox, Progress, SubjectKey, MAX_FAILED_CHANGES_PER_FLUSH};
use crate::sockets::Sockets;

/// What an instance knows of its subject: the state folded from the committed events.
struct Folded {
    state: SubjectState,
    event_count: u64,
    /// When the first event was received: fixes the subject's place in the index lists.
    created_ms: i64,
    /// When the latest event was received: the subject expires `RETENTION_DAYS` after it.
    last_received_ms: i64,
}

impl Folded {
    /// Merges one stored event, in storage order; the first one starts the state.
    fn add(folded: &mut Option<Self>, event: &Event) {
        let folded = folded.get_or_insert_with(|| Self {
            state: SubjectState::new(event.provider, event.kind, event.subject_id.clone()),
            event_count: 0,
            created_ms: event.received_at.millis(),
            last_received_ms: event.received_at.millis(),
        });
        folded.last_received_ms = folded.last_received_ms.max(event.received_at.millis());
        folded.state.apply(event);
        folded.event_count += 1;
    }
}

/// When the subject's KV index entries (its list entries, its failed deliveries) are to be
/// written next.
#[derive(Clone, Copy)]
enum IndexFlush {
    /// They hold what this instance committed.
    Done,
    /// A new instance cannot know: its first alarm flushes.
    Unknown,
    /// At this time (unix milliseconds): [`FLUSH_DELAY_MS`] after the first change since the
    /// last flush, so a burst of events costs one write per key; or when a failed flush is
    /// tried again.
    DueAt(f64),
}

impl IndexFlush {
    fn due(self) -> Option<f64> {
        match self {
            Self::Done => None,
            Self::Unknown => Some(0.0),
            Self::DueAt(at) => Some(at),
        }
    }
}

/// What this instance knows of the object's alarm.
#[derive(Clone, Copy)]
enum Alarm {
    /// A new instance cannot know whether an earlier one set it.
    Unknown,
    Unset,
    /// Set for this time (unix milliseconds).
    At(f64),
}

#[durable_object]
pub struct Subject {
    env: Env,
    storage: Storage,
    sockets: Sockets,
    outbox: Outbox,
    sql: SqlStorage,
    /// The events table is known to exist.
    schema_ready: Cell<bool>,
    /// The committed state, once folded by this instance; `None` before that and for a subject
    /// with no events.
    folded: RefCell<Option<Folded>>,
    /// The statuses whose status key may exist in the KV index, once known to this instance.
    indexed_statuses: RefCell<Option<Vec<Status>>>,
    /// Index flushes that failed in a row.
    flush_failures: Cell<u32>,
    /// Alarms in a row whose delivery work failed.
    delivery_failures: Cell<u32>,
    /// The aliases and number keys ([`fixed_keys`]) this instance wrote to the index: later
    /// flushes skip them until they are due again. A new instance writes them once more (the
    /// same value).
    fixed_keys_written: RefCell<BTreeSet<String>>,
    index_flush: Cell<IndexFlush>,
    /// The one alarm serves every kind of due work: the index flush, delivery attempts, socket
    /// expiry, and retention (dropping raw requests, erasing the subject and its index keys).
    alarm: Cell<Alarm>,
    /// Retention steps that failed in a row.
    retention_failures: Cell<u32>,
    /// An erasure's KV steps that failed in a row.
    erasure_failures: Cell<u32>,
    /// When the fixed keys this instance wrote expire (`Retention::fixed_key_expires_at`): they
    /// are written again once the subject would outlive them.
    fixed_keys_until: Cell<Option<i64>>,
    /// When the oldest raw request kept was received (`None` inside: none is), once this
    /// instance knows.
    oldest_raw_ms: Cell<Option<Option<i64>>>,
    /// This instance has made sure the alarm is set for the work it found due (local workerd
    /// may lose an alarm across a restart: the first read after one resumes it).
    due_work_resumed: Cell<bool>,
}

impl DurableObject for Subject {
    fn new(state: State, env: Env) -> Self {
        let storage = state.storage();
        Self {
            sql: storage.sql(),
            outbox: Outbox::new(storage.sql()),
            storage,
            sockets: Sockets::new(state),
            env,
            schema_ready: Cell::new(false),
            folded: RefCell::new(None),
            indexed_statuses: RefCell::new(None),
            flush_failures: Cell::new(0),
            delivery_failures: Cell::new(0),
            fixed_keys_written: RefCell::new(BTreeSet::new()),
            index_flush: Cell::new(IndexFlush::Unknown),
            alarm: Cell::new(Alarm::Unknown),
            due_work_resumed: Cell::new(false),
            oldest_raw_ms: Cell::new(None),
            retention_failures: Cell::new(0),
            erasure_failures: Cell::new(0),
            fixed_keys_until: Cell::new(None),
        }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        self.resume_due_work().await?;
        let method = request.method();
        let url = request.inner().url();
        if let Some(watch) = Watch::parse(method.as_ref(), &url) {
            return self.watch(watch).await;
        }
        if Retry::matches(method.as_ref(), &url) {
            let retry: Retry = serde_json::from_str(&request.text().await?)?;
            return self.retry(&retry);
        }
        match Read::parse(method.as_ref(), &url) {
            Some(Read::Summary) => match self.summary()? {
                Some(summary) => Response::from_json(&summary),
                None => not_found(),
            },
            Some(Read::Events) => self.events(),
            Some(Read::Request { event_id }) => self.raw_request(&event_id),
            Some(Read::Deliveries) => match self.has_schema()? {
                true => Response::from_json(&Deliveries {
                    deliveries: self.outbox.list()?,
                }),
                false => not_found(),
            },
            None => not_found(),
        }
    }

    /// Runs the subject's due work and sets the alarm for the earliest work left: retention
    /// (before anything waits, so that no event commits between its decision and its writes),
    /// an erasure's KV changes, closing the sockets whose token has expired, refreshing the
    /// subject's KV index entries when due, and the delivery attempts that are due
    /// (`src/outbox.rs`). An event committed while this runs makes the index due again and sets
    /// the alarm itself. Failed work is logged and tried again later ([`flush_retry_delay_ms`]),
    /// for as long as it fails: the runtime's own alarm retries stop after a few, and a subject
    /// with no further event would then stay stale in the lists.
    async fn alarm(&self) -> Result<Response> {
        self.alarm.set(Alarm::Unset);
        let retention = config(&self.env).map(|config| config.retention).ok();
        let mut retention_retry = None;
        if let Some(retention) = &retention {
            match self.apply_retention(retention) {
                Ok(()) => self.retention_failures.set(0),
                Err(error) => {
                    // What it wrote is read again: it may have dropped some tables.
                    self.forget_storage();
                    retention_retry = Some(self.failed_again(
                        &self.retention_failures,
                        "retention_failed",
                        &error,
                    ));
                }
            }
        }
        let next_expiry = self.sockets.close_expired(Date::now());
        // An erasure's KV changes run alone: a later subject of the same id writes keys of the
        // same names (its aliases, its numbers) only once they are deleted, and one alarm stays
        // within an invocation's subrequests.
        if let ErasureStep::Ran { again_at } = self.finish_erasure().await {
            // Everything else waits for the erasure's next step (its backoff, while KV fails).
            for at in [next_expiry, again_at].into_iter().flatten() {
                self.arm_by(at)?;
            }
            return Response::empty();
        }
        self.flush_if_due().await;
        let progress = self.deliver_due().await;
        if progress.failed_index_stale {
            self.index_changed();
        }
        // A failed retention step is tried again after its backoff, not at its (past) due time.
        let retention_due = match (&retention, retention_retry) {
            (_, Some(retry_at)) => Some(retry_at),
            (Some(retention), None) => self.retention_due(retention).unwrap_or_else(|error| {
                Some(self.failed_again(&self.retention_failures, "retention_failed", &error))
            }),
            (None, None) => None,
        };
        for at in [
            next_expiry,
            progress.next_due_ms,
            self.index_flush.get().due(),
            retention_due,
        ]
        .into_iter()
        .flatten()
        {
            self.arm_by(at)?;
        }
        Response::empty()
    }

    /// Frames from a client carry nothing the object needs (`ping` is answered by the runtime).
    async fn websocket_message(&self, _: WebSocket, _: WebSocketIncomingMessage) -> Result<()> {
        Ok(())
    }

    /// Completes the closing handshake the client started.
    async fn websocket_close(
        &self,
        ws: WebSocket,
        code: usize,
        reason: String,
        _was_clean: bool,
    ) -> Result<()> {
        // 1005 and 1006 describe a close without a code; they may not be sent (RFC 6455 §7.4.1).
        let code = u16::try_from(code)
            .ok()
            .filter(|code| !matches!(code, 1005 | 1006))
            .unwrap_or(1000);
        // The socket may be gone already: nothing is left to close then.
        let _ = ws.close(Some(code), Some(reason));
        Ok(())
    }

    /// A socket that failed is closed by the runtime; nothing of it is kept.
    async fn websocket_error(&self, _: WebSocket, _: worker::Error) -> Result<()> {
        Ok(())
    }
}

/// Both tables, created on the first write (one `exec`: the statements run in turn).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS events (
        event_id TEXT PRIMARY KEY,
        received_at INTEGER NOT NULL,
        event TEXT NOT NULL,
        raw TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS indexed_statuses (status TEXT PRIMARY KEY)";

impl Subject {
    /// Commits one event (an `AppendRequest` as JSON text) and answers whether it was a
    /// duplicate: the RPC method `subject::APPEND` (see `src/protocol.rs`). RPC, not `fetch`: no
    /// `Request` and `Response` to build and read per event. The text is parsed by serde_json,
    /// never by JavaScript, where numbers are doubles: a u64 above 2^53 (a Twilio
    /// `SequenceNumber` of 18446744073709551615, found by the fuzzer) would not survive.
    ///
    /// Synchronous: nothing here waits, so the runtime needs no promise and no task per event
    /// (see [`Subject::arm_by`] on why the alarm is not awaited).
    pub(crate) fn append_json(&self, body: &str) -> std::result::Result<bool, JsValue> {
        let append: AppendBody = serde_json::from_str(body).map_err(|error| {
            JsValue::from(TypeError::new(&format!("not an append request: {error}")))
        })?;
        self.commit(append).map_err(JsValue::from)
    }

    /// Erases the subject now (an `Erase` as JSON text) and answers whether it did: the RPC
    /// method `subject::ERASE`, in one storage transaction like [`Subject::append_json`].
    pub(crate) fn erase_json(&self, body: &str) -> std::result::Result<bool, JsValue> {
        let erase: Erase = serde_json::from_str(body).map_err(|error| {
            JsValue::from(TypeError::new(&format!("not an erase request: {error}")))
        })?;
        let erased = self.erase_now(erase.reason, &erase);
        if erased.is_err() {
            self.forget_storage();
        }
        erased.map_err(JsValue::from)
    }
}

impl Subject {
    /// Whether the events table exists. Reads never create storage for an unknown subject.
    fn has_schema(&self) -> Result<bool> {
        if self.schema_ready.get() {
            return Ok(true);
        }
        let exists = table_exists(&self.sql, "events")?;
        self.schema_ready.set(exists);
        Ok(exists)
    }

    /// The committed events in storage order, or `None` for a subject without storage.
    fn stored_events(&self) -> Result<Option<Vec<Event>>> {
        if !self.has_schema()? {
            return Ok(None);
        }
        #[derive(Deserialize)]
        struct EventRow {
            event: String,
        }
        let rows: Vec<EventRow> = self
            .sql
            .exec("SELECT event FROM events ORDER BY rowid", None)?
            .to_array()?;
        let events = rows
            .iter()
            .map(|row| serde_json::from_str(&row.event))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Some(events))
    }

    /// Folds the committed events into the state, once per instance. A subject without storage
    /// stays unfolded.
    fn fold(&self) -> Result<()> {
        if self.folded.borrow().is_some() {
            return Ok(());
        }
        let mut folded: Option<Folded> = None;
        for event in self.stored_events()?.unwrap_or_default() {
            Folded::add(&mut folded, &event);
        }
        self.folded.replace(folded);
        Ok(())
    }

    /// Sets the alarm for `at` (unix milliseconds) unless it is known to be set no later; the
    /// alarm then sets itself for the work still due. Not awaited: like every storage write,
    /// `setAlarm` is held by the object's output gate, so what the object answers next leaves
    /// only once the alarm is committed, and a failed write breaks the object instead
    /// (<https://developers.cloudflare.com/durable-objects/api/alarms/>: "alarm operations
    /// follow the same rules as other storage operations").
    ///
    /// A new instance does not know the alarm an earlier one set, so it may move an earlier
    /// alarm back to `at`: from an append, by at most [`FLUSH_DELAY_MS`]; a watch asks the
    /// runtime first ([`Subject::arm_checked`]).
    fn arm_by(&self, at: f64) -> Result<()> {
        if let Alarm::At(set) = self.alarm.get() {
            if set <= at {
                return Ok(());
            }
        }
        let _ = self
            .storage
            .as_raw()
            .set_alarm(Date::new(&at.into()), Object::new())?;
        self.alarm.set(Alarm::At(at));
        Ok(())
    }

    /// Makes sure the alarm runs by `at`, without moving an earlier alarm later: a new instance
    /// asks the runtime when it is set first.
    async fn arm_checked(&self, at: f64) -> Result<()> {
        if let Alarm::Unknown = self.alarm.get() {
            self.alarm.set(match self.storage.get_alarm().await? {
                Some(at) => Alarm::At(at as f64),
                None => Alarm::Unset,
            });
        }
        self.arm_by(at)
    }

    /// Sets the alarm for the work found due (deliveries pending, retention, an erasure's KV
    /// changes), once per instance (see `due_work_resumed`).
    async fn resume_due_work(&self) -> Result<()> {
        if self.due_work_resumed.get() {
            return Ok(());
        }
        let config = config(&self.env)?;
        let erasure_owed = erasure::owed(&self.sql)?.then(Date::now);
        let due = [
            self.outbox.next_due(&config.delivery)?,
            self.retention_due(&config.retention)?,
            erasure_owed,
        ]
        .into_iter()
        .flatten()
        .reduce(f64::min);
        if let Some(due) = due {
            self.arm_checked(due).await?;
        }
        self.due_work_resumed.set(true);
        Ok(())
    }

    /// Refreshes the index entries if due; a failed flush is tried again later.
    async fn flush_if_due(&self) {
        let due = self.index_flush.get().due();
        if !due.is_some_and(|due| due <= Date::now()) {
            return;
        }
        self.index_flush.set(IndexFlush::Done);
        match self.flush_index().await {
            Ok(()) => self.flush_failures.set(0),
            Err(error) => {
                let retry_at =
                    self.failed_again(&self.flush_failures, "index_flush_failed", &error);
                self.index_flush.set(IndexFlush::DueAt(retry_at));
            }
        }
    }

    /// The delivery attempts that are due (`Outbox::deliver_due`). A failure (the storage, the
    /// configuration) is logged and the attempts are tried again later, like a failed flush, so
    /// that it never keeps the alarm from being set for the other work.
    async fn deliver_due(&self) -> Progress {
        let attempted = match config(&self.env) {
            Ok(config) => self.outbox.deliver_due(&config.delivery).await,
            Err(error) => Err(error),
        };
        match attempted {
            Ok(progress) => {
                self.delivery_failures.set(0);
                progress
            }
            Err(error) => Progress {
                next_due_ms: Some(self.failed_again(
                    &self.delivery_failures,
                    "delivery_failed_to_run",
                    &error,
                )),
                failed_index_stale: false,
            },
        }
    }

    /// Counts one more failure in a row of some due work in `failures`, logs it as `event`,
    /// and answers when to try again: the index flush's backoff ([`flush_retry_delay_ms`]), for
    /// as long as it fails (the runtime's own alarm retries stop after a few).
    fn failed_again(&self, failures: &Cell<u32>, event: &str, error: &worker::Error) -> f64 {
        let count = failures.get().saturating_add(1);
        failures.set(count);
        let retry_in_ms = flush_retry_delay_ms(count);
        let line = serde_json::json!({
            "event": event,
            "subject": self.name(),
            "failures": count,
            "retry_in_ms": retry_in_ms,
            "detail": error.to_string(),
        });
        worker::console_error!("{line}");
        Date::now() + retry_in_ms as f64
    }

    /// The index entries no longer hold what is committed: they are written
    /// [`FLUSH_DELAY_MS`] after the first such change.
    fn index_changed(&self) -> f64 {
        let due = match self.index_flush.get() {
            IndexFlush::DueAt(at) => at,
            IndexFlush::Done | IndexFlush::Unknown => Date::now() + FLUSH_DELAY_MS as f64,
        };
        self.index_flush.set(IndexFlush::DueAt(due));
        due
    }

    /// The object's name, once it has an event (for logs).
    fn name(&self) -> Option<String> {
        self.with_folded(|folded| {
            object_name(
                folded.state.provider(),
                folded.state.kind(),
                folded.state.subject_id(),
            )
        })
    }

    /// Accepts a socket that watches this subject and sends it the snapshot; the alarm is set
    /// to close it when its token expires.
    async fn watch(&self, watch: Watch) -> Result<Response> {
        if self.sockets.count() >= MAX_SOCKETS_PER_SUBJECT {
            return Ok(Response::empty()?.with_status(WatchAnswer::TooManySockets.status()));
        }
        // The alarm first: a socket is never accepted without the alarm that will close it.
        if let Some(expiry) = watch.expires_ms {
            self.arm_checked(expiry as f64).await?;
        }
        self.sockets
            .accept(&watch, &snapshot_frame(self.summary()?.as_ref()))
    }

    fn with_folded<T>(&self, read: impl FnOnce(&Folded) -> T) -> Option<T> {
        self.folded.borrow().as_ref().map(read)
    }

    fn summary(&self) -> Result<Option<Summary>> {
        self.fold()?;
        Ok(self.with_folded(|folded| folded.state.summary(folded.event_count)))
    }

    /// Writes the subject's index entries, deletes its status keys of other statuses, and only
    /// then forgets those statuses: a status key is recorded before it is written, so a flush
    /// that fails halfway leaves no key that a later flush would not delete.
    async fn flush_index(&self) -> Result<()> {
        self.fold()?;
        let Some((summary, created_ms)) = self
            .with_folded(|folded| (folded.state.summary(folded.event_count), folded.created_ms))
        else {
            return Ok(());
        };
        let mut statuses = self.indexed_statuses()?;
        if let Some(status) = summary.status.filter(|status| !statuses.contains(status)) {
            self.sql.exec(
                "INSERT OR IGNORE INTO indexed_statuses (status) VALUES (?)",
                vec![status.as_str().into()],
            )?;
            statuses.push(status);
            self.indexed_statuses.replace(Some(statuses.clone()));
        }
        let stale: Vec<Status> = statuses
            .iter()
            .copied()
            .filter(|status| Some(*status) != summary.status)
            .collect();
        let retention = config(&self.env)?.retention;
        let now = Timestamp::from_millis(Date::now() as i64);
        let last_received = Timestamp::from_millis(
            self.with_folded(|folded| folded.last_received_ms)
                .unwrap_or(created_ms),
        );
        // The fixed keys are written again, all of them, once the subject would outlive them.
        let fixed_until = retention.fixed_key_expires_at(last_received);
        let outlived = match (
            self.fixed_keys_until.get(),
            retention.subject_expires_at(last_received),
        ) {
            (Some(until), Some(expires)) => until < expires.millis(),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if outlived {
            self.fixed_keys_written.borrow_mut().clear();
        }
        let written = self.fixed_keys_written.borrow().clone();
        let until = if outlived {
            fixed_until.map(Timestamp::millis)
        } else {
            self.fixed_keys_until.get()
        };
        let fixed = index::FixedKeys {
            skip: &written,
            ttl_seconds: until.map(|until| ttl_seconds(Timestamp::from_millis(until), now)),
        };
        let ttl = retention.index_ttl_seconds(last_received, now);
        let erasures = self.outbox.erasures();
        index::write(&self.env, &summary, created_ms, &stale, ttl, fixed).await?;
        if self.outbox.erasures() != erasures {
            // Erased meanwhile: its erasure deletes what was just written.
            return Ok(());
        }
        self.fixed_keys_written
            .borrow_mut()
            .extend(fixed_keys(&summary).into_iter().map(|(key, _)| key));
        self.fixed_keys_until.set(until);
        if !stale.is_empty() {
            self.sql.exec(
                "DELETE FROM indexed_statuses WHERE status IS NOT ?",
                vec![summary.status.map(Status::as_str).into()],
            )?;
            self.indexed_statuses
                .replace(Some(summary.status.into_iter().collect()));
        }
        let subject = SubjectKey {
            kind: summary.kind,
            provider: summary.provider,
            id: summary.id,
        };
        let changes = self
            .outbox
            .failed_index_changes(&subject, MAX_FAILED_CHANGES_PER_FLUSH)?;
        index::write_failed(&self.env, &changes, &retention, now).await?;
        if self.outbox.erasures() != erasures {
            // Erased meanwhile, without these keys: they are its erasure's to delete too.
            let written: Vec<KeyChange> = changes
                .iter()
                .filter_map(|change| change.write.as_ref())
                .flat_map(|entry| {
                    failed_keys(&entry.endpoint, entry.failed_at.millis(), &entry.webhook_id)
                })
                .map(KeyChange::delete)
                .collect();
            erasure::record(&self.sql, &written)?;
            self.arm_by(Date::now())?;
            return Ok(());
        }
        for change in &changes {
            self.outbox.mark_indexed(change)?;
        }
        if changes.len() == MAX_FAILED_CHANGES_PER_FLUSH {
            // More may be left: the next flush, a second on (KV's one write per key per second).
            self.index_changed();
        }
        Ok(())
    }

    /// The statuses whose status key may exist in the index.
    fn indexed_statuses(&self) -> Result<Vec<Status>> {
        if let Some(known) = self.indexed_statuses.borrow().as_ref() {
            return Ok(known.clone());
        }
        #[derive(Deserialize)]
        struct Row {
            status: String,
        }
        let sql = &self.sql;
        // Storage written before `indexed_statuses` existed has no such table yet.
        sql.exec(SCHEMA, None)?;
        let rows: Vec<Row> = sql
            .exec("SELECT status FROM indexed_statuses", None)?
            .to_array()?;
        let statuses: Vec<Status> = rows
            .iter()
            .filter_map(|row| row.status.parse().ok())
            .collect();
        self.indexed_statuses.replace(Some(statuses.clone()));
        Ok(statuses)
    }

    /// Stores the event (once per event id), records its deliveries to the endpoints that want
    /// it, and merges it into the state. Answers whether the event was a duplicate: its first
    /// copy is already in the state, so a duplicate changes nothing but the alarm (set again if
    /// an earlier append failed before setting it). Runs inside `transactionSync` (the entry
    /// module), so the event and its deliveries commit together; the answer, and with it the
    /// webhook's 200, leaves once they and the alarm are committed (see [`Subject::arm_by`]). A
    /// new event goes to the sockets as it commits (see `src/sockets.rs`).
    fn commit(&self, append: AppendBody) -> Result<bool> {
        let committed = self.commit_event(&append);
        if committed.is_err() {
            self.forget_storage();
        }
        committed
    }

    /// The transaction is rolled back, tables created or dropped in it included: what this
    /// instance knows of its storage is read again.
    fn forget_storage(&self) {
        self.oldest_raw_ms.set(None);
        self.folded.replace(None);
        self.schema_ready.set(false);
        self.indexed_statuses.replace(None);
        self.outbox.forget_schema();
        self.alarm.set(Alarm::Unknown);
    }

    fn commit_event(&self, append: &AppendBody) -> Result<bool> {
        let event: Event = serde_json::from_str(append.event.get())?;
        let sql = &self.sql;
        if self.has_schema()? {
            self.fold()?;
        } else {
            sql.exec(SCHEMA, None)?;
            self.schema_ready.set(true);
            self.indexed_statuses.replace(Some(Vec::new()));
        }
        #[derive(Deserialize)]
        struct Inserted {
            seq: i64,
        }
        // `RETURNING` yields the new row only: nothing for a duplicate.
        let inserted: Option<Inserted> = sql
            .exec(
                "INSERT OR IGNORE INTO events (event_id, received_at, event, raw) VALUES (?, ?, ?, ?)
                 RETURNING rowid AS seq",
                vec![
                    event.event_id.as_str().into(),
                    event.received_at.millis().into(),
                    append.event.get().into(),
                    append.raw.get().into(),
                ],
            )?
            .to_array()?
            .into_iter()
            .next();
        let summary = || self.with_folded(|folded| folded.state.summary(folded.event_count));
        let mut deliveries_due = false;
        if let Some(Inserted { seq }) = inserted {
            Folded::add(&mut self.folded.borrow_mut(), &event);
            if let Some(oldest) = self.oldest_raw_ms.get() {
                let received = event.received_at.millis();
                let oldest = oldest.map_or(received, |oldest| oldest.min(received));
                self.oldest_raw_ms.set(Some(Some(oldest)));
            }
            let config = config(&self.env)?;
            let endpoints = Outbox::wanting(&config.delivery, &event);
            if !endpoints.is_empty() {
                let state_json = serde_json::to_string(&summary())?;
                self.outbox.record(
                    &object_name(event.provider, event.kind, &event.subject_id),
                    &endpoints,
                    &Committed {
                        seq,
                        event: &event,
                        event_json: append.event.get(),
                        state_json: &state_json,
                    },
                )?;
                deliveries_due = true;
            }
        }
        let flush_at = self.index_changed();
        self.arm_by(if deliveries_due {
            Date::now()
        } else {
            flush_at
        })?;
        // Last: nothing after it can fail and roll the event back.
        if inserted.is_some() {
            self.sockets.broadcast(|| {
                summary()
                    .map(|summary| event_frame(&append.event, &summary))
                    .unwrap_or_default()
            });
        }
        Ok(inserted.is_none())
    }

    /// Makes deliveries pending again (see `Outbox::retry`) and sets the alarm for them.
    fn retry(&self, retry: &Retry) -> Result<Response> {
        if !self.has_schema()? {
            return not_found();
        }
        let config = config(&self.env)?;
        let name = self.stored_name()?;
        let events = if retry.all {
            self.replay()?
        } else {
            Vec::new()
        };
        let committed: Vec<Committed> = events
            .iter()
            .map(|(seq, event, event_json, state_json)| Committed {
                seq: *seq,
                event,
                event_json,
                state_json,
            })
            .collect();
        let retried = self
            .outbox
            .retry(&name, &config.delivery, retry, &committed)?;
        if retried > 0 {
            self.index_changed();
            self.arm_by(Date::now())?;
        }
        Response::from_json(&Retried { retried })
    }

    /// The object's name, from its state.
    fn stored_name(&self) -> Result<String> {
        self.fold()?;
        self.name()
            .ok_or_else(|| worker::Error::RustError("a subject with events has a state".into()))
    }

    /// Every stored event in commit order, each with its place in that order, its stored JSON
    /// and the state right after it as JSON (what its delivery's body was made of).
    fn replay(&self) -> Result<Vec<(i64, Event, String, String)>> {
        #[derive(Deserialize)]
        struct Row {
            seq: i64,
            event: String,
        }
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT rowid AS seq, event FROM events ORDER BY rowid",
                None,
            )?
            .to_array()?;
        let mut folded: Option<Folded> = None;
        let mut replayed = Vec::with_capacity(rows.len());
        for row in rows {
            let event: Event = serde_json::from_str(&row.event)?;
            Folded::add(&mut folded, &event);
            let state_json = folded
                .as_ref()
                .map(|folded| serde_json::to_string(&folded.state.summary(folded.event_count)))
                .transpose()?
                .unwrap_or_default();
            replayed.push((row.seq, event, row.event, state_json));
        }
        Ok(replayed)
    }

    /// The timeline in provider order (see `EventOrder`), not arrival order.
    fn events(&self) -> Result<Response> {
        let Some(mut events) = self.stored_events()? else {
            return not_found();
        };
        events.sort_by_key(Event::order);
        Response::from_json(&Timeline { events })
    }

    /// `{"received_at": ms, "request": <captured request>}` for one stored event.
    fn raw_request(&self, event_id: &str) -> Result<Response> {
        let sql = &self.sql;
        if !self.has_schema()? {
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
            Some(row) if row.raw == DROPPED_RAW => {
                Ok(Response::empty()?.with_status(ReadAnswer::Gone.status()))
            }
            Some(row) => {
                let body = StoredRequest::encode(row.received_at, &row.raw);
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

/// What a raw request is replaced with once dropped (`RAW_REQUEST_DAYS`): not JSON, so never a
/// stored request.
const DROPPED_RAW: &str = "";

impl Subject {
    /// Retention's due work, without waiting on anything (so no event can commit in between): a
    /// subject whose last event is older than `RETENTION_DAYS` is erased; raw requests older
    /// than `RAW_REQUEST_DAYS` are dropped.
    fn apply_retention(&self, retention: &Retention) -> Result<()> {
        if !self.has_schema()? {
            return Ok(());
        }
        self.fold()?;
        let now = Timestamp::from_millis(Date::now() as i64);
        let expired = self
            .with_folded(|folded| {
                retention.subject_expired(Timestamp::from_millis(folded.last_received_ms), now)
            })
            .unwrap_or(false);
        if expired {
            self.erase_now(ErasureReason::Expired, &Erase::expired())?;
            return Ok(());
        }
        let Some(cutoff) = retention.raw_request_cutoff(now) else {
            return Ok(());
        };
        if self
            .oldest_raw()?
            .is_some_and(|oldest| oldest <= cutoff.millis())
        {
            self.sql.exec(
                "UPDATE events SET raw = ? WHERE raw <> ? AND received_at <= ?",
                vec![
                    DROPPED_RAW.into(),
                    DROPPED_RAW.into(),
                    cutoff.millis().into(),
                ],
            )?;
            self.oldest_raw_ms.set(None);
        }
        Ok(())
    }

    /// When the oldest raw request still kept was received, read once per instance and then
    /// kept up to date (an alarm of a busy subject reads nothing for it).
    fn oldest_raw(&self) -> Result<Option<i64>> {
        if let Some(known) = self.oldest_raw_ms.get() {
            return Ok(known);
        }
        #[derive(Deserialize)]
        struct Oldest {
            oldest: Option<i64>,
        }
        let rows: Vec<Oldest> = self
            .sql
            .exec(
                "SELECT MIN(received_at) AS oldest FROM events WHERE raw <> ?",
                vec![DROPPED_RAW.into()],
            )?
            .to_array()?;
        let oldest = rows.first().and_then(|row| row.oldest);
        self.oldest_raw_ms.set(Some(oldest));
        Ok(oldest)
    }

    /// When retention next has work here (unix milliseconds): the subject's expiry, or the
    /// oldest raw request's.
    fn retention_due(&self, retention: &Retention) -> Result<Option<f64>> {
        if !self.has_schema()? {
            return Ok(None);
        }
        self.fold()?;
        let expiry = self
            .with_folded(|folded| {
                retention.subject_expires_at(Timestamp::from_millis(folded.last_received_ms))
            })
            .flatten();
        let raw_expiry = self.oldest_raw()?.and_then(|received| {
            retention.raw_request_expires_at(Timestamp::from_millis(received))
        });
        Ok([expiry, raw_expiry]
            .into_iter()
            .flatten()
            .map(|at| at.millis() as f64)
            .reduce(f64::min))
    }

    /// Erases the subject, without waiting on anything: drops its tables (events, index
    /// bookkeeping, deliveries) and records what that owes the KV index (`src/erasure.rs`): its
    /// keys to delete and, when it `Expired`, its pending deliveries failed as `expired` to list.
    /// Over RPC this runs in one transaction; from the alarm, a failure part-way is tried again
    /// and ends the same. Sets the alarm, which makes the KV changes and then deletes the
    /// object's storage, and only then, once nothing can fail, closes the subject's sockets and
    /// forgets it in memory. Answers `false`, erasing nothing, for a subject without events, or
    /// that does not have the number or the alias `check` names.
    fn erase_now(&self, reason: ErasureReason, check: &Erase) -> Result<bool> {
        if !self.has_schema()? {
            return Ok(false);
        }
        self.fold()?;
        let Some((summary, created_ms)) = self
            .with_folded(|folded| (folded.state.summary(folded.event_count), folded.created_ms))
        else {
            return Ok(false);
        };
        if let Some(digest) = &check.number_digest {
            let has_number = [&summary.from, &summary.to]
                .into_iter()
                .flatten()
                .any(|number| index_number_digest(number).as_ref() == Some(digest));
            if !has_number {
                return Ok(false);
            }
        }
        if let Some(alias) = &check.alias {
            if !summary.aliases.contains(alias) {
                return Ok(false);
            }
        }
        let statuses = self.indexed_statuses()?;
        let mut changes: Vec<KeyChange> = subject_keys(&summary, created_ms, &statuses)
            .into_iter()
            .map(KeyChange::delete)
            .collect();
        if reason == ErasureReason::Expired {
            let now = Date::now() as i64;
            self.outbox.expire_pending(now)?;
            let subject = SubjectKey {
                kind: summary.kind,
                provider: summary.provider,
                id: summary.id.clone(),
            };
            let failed = self.outbox.failed_index_changes(&subject, usize::MAX)?;
            let retention = config(&self.env)?.retention;
            changes.extend(index::failed_key_changes(
                &failed,
                &retention,
                Timestamp::from_millis(now),
            )?);
        } else {
            let keys = self.outbox.indexed_failed_keys()?;
            changes.extend(keys.into_iter().map(KeyChange::delete));
        }
        erasure::record(&self.sql, &changes)?;
        self.sql.exec(
            "DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS indexed_statuses;
             DROP TABLE IF EXISTS deliveries",
            None,
        )?;
        self.arm_by(Date::now())?;
        self.folded.replace(None);
        self.schema_ready.set(false);
        self.indexed_statuses.replace(Some(Vec::new()));
        self.outbox.erased();
        self.fixed_keys_written.borrow_mut().clear();
        self.fixed_keys_until.set(None);
        self.oldest_raw_ms.set(Some(None));
        self.index_flush.set(IndexFlush::Done);
        self.sockets.close_all(CLOSE_SUBJECT_ERASED, "erased");
        let line = serde_json::json!({
            "event": "subject_erased",
            "subject": object_name(summary.provider, summary.kind, &summary.id),
            "reason": reason,
        });
        worker::console_log!("{line}");
        Ok(true)
    }

    /// Makes the KV changes an erasure owes, and once they are all made and no new event has
    /// come since, deletes the object's storage. A failure is logged and tried again later.
    async fn finish_erasure(&self) -> ErasureStep {
        let ran = match erasure::run(&self.env, &self.sql).await {
            Ok(Owed::Nothing) => return ErasureStep::NothingOwed,
            Ok(Owed::More) => Ok(true),
            Ok(Owed::Done) => self.delete_storage().await,
            Err(error) => Err(error),
        };
        let again_at = match ran {
            Ok(more) => {
                self.erasure_failures.set(0);
                more.then(Date::now)
            }
            Err(error) => Some(self.failed_again(&self.erasure_failures, "erasure_failed", &error)),
        };
        ErasureStep::Ran { again_at }
    }

    /// Deletes all of the object's storage, its alarm included (this runs in the alarm, which
    /// sets itself again for what is left), unless a new event has come since the erasure;
    /// answers whether one has, whose work is then due.
    async fn delete_storage(&self) -> Result<bool> {
        if self.has_schema()? {
            return Ok(true);
        }
        self.storage.delete_all().await?;
        self.storage.delete_alarm().await?;
        self.alarm.set(Alarm::Unset);
        Ok(false)
    }
}

/// What the alarm's erasure step did.
enum ErasureStep {
    /// No erasure owed anything: the alarm's other work runs.
    NothingOwed,
    /// It made KV changes (or failed to): the alarm's other work waits for `again_at` (`None`:
    /// the object's storage is deleted, nothing is left).
    Ran { again_at: Option<f64> },
}

/// Whether the object's storage has the table `name`.
pub fn table_exists(sql: &SqlStorage, name: &str) -> Result<bool> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let counts: Vec<Count> = sql
        .exec(
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
            vec![name.into()],
        )?
        .to_array()?;
    Ok(counts.first().is_some_and(|count| count.n > 0))
}

/// The worker's configuration (the same as the routes', parsed once per isolate).
fn config(env: &Env) -> Result<std::rc::Rc<switchboard_core::Config>> {
    crate::load_config(env).map_err(|error| worker::Error::RustError(error.log_detail()))
}

fn not_found() -> Result<Response> {
    Ok(Response::empty()?.with_status(ReadAnswer::NotFound.status()))
}
