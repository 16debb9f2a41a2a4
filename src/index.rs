//! The KV index behind `GET /v1/calls` and `GET /v1/messages`.
//!
//! KV is an eventually consistent *index*, never the truth: the Durable Object of each subject
//! holds the state, and its alarm rewrites the subject's entries here (see `subject.rs`). A list
//! may therefore lag a webhook by about a second locally (up to a minute across Cloudflare's
//! edge), and the single-subject endpoints are always current.
//!
//! The key layout and the paging across providers are `switchboard_core::index`'s. Each flush
//! writes two keys per subject (its list key and its status key, whose metadata is the list
//! entry, so a page costs one KV call per provider listed) plus its aliases, and deletes the
//! status key it leaves. Aliases (other ids of a subject, e.g. Telnyx `call_control_id`) map to
//! the subject's id, for the status API's fallback lookup; like the lists, they appear about a
//! second after the event.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use switchboard_core::delivery::{failed_keys, failed_prefix, FailedDelivery};
use switchboard_core::index::{
    alias_key, all_key, encode_cursor, fixed_keys, merge, number_prefix, status_key, Batch, Filter,
    Position,
};
use switchboard_core::model::Direction;
use switchboard_core::retention::Retention;
use switchboard_core::{Kind, ProviderId, Status, Summary, Timestamp};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::js_sys::{Array, Object, Promise, Reflect, JSON};
use worker::kv::KvStore;
use worker::{wasm_bindgen, wasm_bindgen_futures, Env};

use crate::outbox::FailedIndexChange;

pub const BINDING: &str = "INDEX";

/// KV metadata is limited to 1024 bytes. Free-text fields are cut to this many bytes, and
/// dropped if the entry is still too large (ids are at most 200 bytes, see `webhook.rs`).
const MAX_FIELD_BYTES: usize = 64;
const MAX_METADATA_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// One row of a list response.
#[derive(Debug, Serialize, Deserialize)]
pub struct IndexEntry {
    pub provider: ProviderId,
    pub kind: Kind,
    pub id: String,
    pub status: Option<Status>,
    pub direction: Option<Direction>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub event_count: u64,
}

impl IndexEntry {
    fn from_summary(summary: &Summary) -> Self {
        let short = |text: &Option<String>| text.as_deref().map(|text| cut(text, MAX_FIELD_BYTES));
        let mut entry = Self {
            provider: summary.provider,
            kind: summary.kind,
            id: summary.id.clone(),
            status: summary.status,
            direction: summary.direction,
            from: short(&summary.from),
            to: short(&summary.to),
            created_at: summary.created_at,
            updated_at: summary.updated_at,
            event_count: summary.event_count,
        };
        let fits = |entry: &Self| {
            serde_json::to_vec(entry).is_ok_and(|json| json.len() <= MAX_METADATA_BYTES)
        };
        if !fits(&entry) {
            entry.from = None;
            entry.to = None;
        }
        entry
    }
}

/// The options of a put: the entry as metadata, and `expirationTtl` (seconds) when the index
/// forgets the key by itself (`RETENTION_DAYS`).
fn put_options(metadata: Option<&str>, ttl_seconds: Option<i64>) -> worker::Result<Object> {
    let options = Object::new();
    if let Some(metadata) = metadata {
        Reflect::set(&options, &"metadata".into(), &JSON::parse(metadata)?)?;
    }
    if let Some(ttl) = ttl_seconds {
        Reflect::set(&options, &"expirationTtl".into(), &(ttl as f64).into())?;
    }
    Ok(options)
}

fn namespace(env: &Env) -> worker::Result<KvNamespace> {
    Ok(Reflect::get(env, &BINDING.into())?.unchecked_into())
}

/// How a flush writes a subject's [`fixed_keys`]: those not in `skip`, expiring after
/// `ttl_seconds` (`Retention::fixed_key_expires_at`).
pub struct FixedKeys<'a> {
    pub skip: &'a BTreeSet<String>,
    pub ttl_seconds: Option<i64>,
}

/// Writes a subject's entries, expiring after `ttl_seconds` with the subject
/// (`Retention::index_ttl_seconds`), and its `fixed` keys, and deletes its status keys of the
/// `stale` statuses.
///
/// Every write is issued at once and awaited together, and the entry is encoded once for all
/// keys: an alarm is one round of KV calls, not one per key. One failed write fails the flush,
/// and the alarm is retried; the others have still been issued (an over-long alias once failed
/// its put and, written in sequence, stopped every later write of the alarm on every retry).
pub async fn write(
    env: &Env,
    summary: &Summary,
    created_ms: i64,
    stale: &[Status],
    ttl_seconds: Option<i64>,
    fixed: FixedKeys<'_>,
) -> worker::Result<()> {
    let entry = serde_json::to_string(&IndexEntry::from_summary(summary))?;
    let options = put_options(Some(&entry), ttl_seconds)?;
    let namespace = namespace(env)?;

    let (kind, provider, id) = (summary.kind, summary.provider, summary.id.as_str());
    let mut keys = vec![all_key(kind, provider, created_ms, id)];
    if let Some(status) = summary.status {
        keys.push(status_key(kind, provider, status, created_ms, id));
    }
    let writes = Array::new();
    for key in &keys {
        writes.push(namespace.put(key, &"".into(), &options)?.as_ref());
    }
    let fixed_options = put_options(None, fixed.ttl_seconds)?;
    for (key, value) in fixed_keys(summary)
        .into_iter()
        .filter(|(key, _)| !fixed.skip.contains(key))
    {
        writes.push(namespace.put(&key, &value.into(), &fixed_options)?.as_ref());
    }
    for &status in stale {
        let key = status_key(kind, provider, status, created_ms, id);
        writes.push(namespace.delete(&key)?.as_ref());
    }
    JsFuture::from(Promise::all(&writes)).await?;
    Ok(())
}

/// One change an erasure owes the index: delete `key`, or, with `entry`, write it with that
/// failed-delivery entry as metadata (a delivery failed as `expired`), expiring after
/// `ttl_seconds`.
pub struct KeyChange {
    pub key: String,
    pub entry: Option<String>,
    pub ttl_seconds: Option<i64>,
}

impl KeyChange {
    pub fn delete(key: String) -> Self {
        Self {
            key,
            entry: None,
            ttl_seconds: None,
        }
    }
}

/// Makes `changes`, all at once, like [`write`].
pub async fn change(env: &Env, changes: &[KeyChange]) -> worker::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let namespace = namespace(env)?;
    let writes = Array::new();
    for change in changes {
        let call = match &change.entry {
            Some(entry) => namespace.put(
                &change.key,
                &"".into(),
                &put_options(Some(entry), change.ttl_seconds)?,
            )?,
            None => namespace.delete(&change.key)?,
        };
        writes.push(call.as_ref());
    }
    JsFuture::from(Promise::all(&writes)).await?;
    Ok(())
}

/// Brings the KV keys of a subject's failed deliveries in line with its outbox: deletes the
/// keys of deliveries no longer failed (or failed again later), writes those of failed ones with
/// the entry as metadata, each listed for `retention` from its failure. All at once, like
/// [`write`].
pub async fn write_failed(
    env: &Env,
    changes: &[FailedIndexChange],
    retention: &Retention,
    now: Timestamp,
) -> worker::Result<()> {
    change(env, &failed_key_changes(changes, retention, now)?).await
}

/// The key changes that bring the failed-delivery list in line with `changes`.
pub fn failed_key_changes(
    changes: &[FailedIndexChange],
    retention: &Retention,
    now: Timestamp,
) -> worker::Result<Vec<KeyChange>> {
    let mut keys = Vec::new();
    for change in changes {
        if let Some(deleted_ms) = change.delete_ms {
            keys.extend(
                failed_keys(&change.endpoint, deleted_ms, &change.webhook_id)
                    .into_iter()
                    .map(KeyChange::delete),
            );
        }
        if let Some(entry) = &change.write {
            let mut entry = entry.clone();
            entry.last_error = entry.last_error.map(|error| cut(&error, MAX_FIELD_BYTES));
            let metadata = serde_json::to_string(&entry)?;
            let ttl_seconds = retention.index_ttl_seconds(entry.failed_at, now);
            for key in failed_keys(&entry.endpoint, entry.failed_at.millis(), &entry.webhook_id) {
                keys.push(KeyChange {
                    key,
                    entry: Some(metadata.clone()),
                    ttl_seconds,
                });
            }
        }
    }
    Ok(keys)
}

/// One page of failed deliveries (of `endpoint`, or of all), most recently failed first, from
/// the KV `cursor` on; and the KV cursor of the next page, if there is one.
pub async fn list_failed(
    kv: &KvStore,
    endpoint: Option<&str>,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<FailedDelivery>, Option<String>), worker::KvError> {
    let mut request = kv
        .list()
        .prefix(failed_prefix(endpoint))
        .limit(limit as u64);
    if let Some(cursor) = cursor {
        request = request.cursor(cursor);
    }
    let response = request.execute().await?;
    let entries = response
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value(key.metadata?).ok())
        .collect();
    let next = (!response.list_complete)
        .then_some(response.cursor)
        .flatten();
    Ok((entries, next))
}

#[wasm_bindgen]
extern "C" {
    /// The KV namespace binding, for the calls the index flush makes (workers-rs' `KvStore`
    /// encodes the options of every put anew through serde-wasm-bindgen).
    type KvNamespace;

    #[wasm_bindgen(method, catch)]
    fn put(
        this: &KvNamespace,
        key: &str,
        value: &JsValue,
        options: &Object,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn delete(this: &KvNamespace, key: &str) -> Result<Promise, JsValue>;
}

/// Deletes `keys`, all at once.
pub async fn delete_keys(env: &Env, keys: &[&str]) -> worker::Result<()> {
    let changes: Vec<KeyChange> = keys
        .iter()
        .map(|key| KeyChange::delete((*key).to_owned()))
        .collect();
    change(env, &changes).await
}

/// The first `limit` number keys of the number whose digest is `digest`, and whether more
/// follow.
pub async fn list_numbers(
    kv: &KvStore,
    digest: &str,
    limit: usize,
) -> Result<(Vec<String>, bool), worker::KvError> {
    let response = kv
        .list()
        .prefix(number_prefix(digest))
        .limit(limit as u64)
        .execute()
        .await?;
    let keys = response.keys.into_iter().map(|key| key.name).collect();
    Ok((keys, !response.list_complete))
}

/// The id of the subject that has `alias` as another id, if the index knows one.
pub async fn resolve_alias(
    kv: &KvStore,
    kind: Kind,
    provider: ProviderId,
    alias: &str,
) -> Result<Option<String>, worker::KvError> {
    match alias_key(kind, provider, alias) {
        Some(key) => kv.get(&key).text().await,
        // Too long to be a key: never indexed, and KV would refuse the read (a 503 before).
        None => Ok(None),
    }
}

/// One page of a list, most recent first.
#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<IndexEntry>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub cursor: Option<String>,
}

/// One page, continuing from `positions` (see `switchboard_core::index::merge`): one KV list
/// call per provider, all issued at once. The next page's cursor is tagged under `cursor_key`.
pub async fn list(
    kv: &KvStore,
    filter: Filter,
    limit: usize,
    positions: Vec<Position>,
    cursor_key: &[u8],
) -> Result<Page, worker::KvError> {
    let batches = positions.iter().map(|position| {
        let prefix = filter.prefix(position.provider);
        let mut request = kv
            .list()
            .prefix(prefix.clone())
            .limit(position.batch_size(limit) as u64);
        if let Some(cursor) = &position.cursor {
            request = request.cursor(cursor.clone());
        }
        async move {
            let response = request.execute().await?;
            let keys = response
                .keys
                .into_iter()
                .filter_map(|key| {
                    let suffix = key.name.strip_prefix(&prefix)?.to_owned();
                    let entry = serde_json::from_value::<IndexEntry>(key.metadata?).ok()?;
                    Some((suffix, entry))
                })
                .collect();
            let cursor = (!response.list_complete)
                .then_some(response.cursor)
                .flatten();
            Ok::<_, worker::KvError>(Batch { keys, cursor })
        }
    });
    let batches = futures_util::future::try_join_all(batches).await?;
    let (items, next) = merge(positions, batches, limit, |entry: &IndexEntry| {
        filter
            .status
            .is_none_or(|status| entry.status == Some(status))
    });
    Ok(Page {
        items,
        cursor: (!next.is_empty()).then(|| encode_cursor(&filter, &next, cursor_key)),
    })
}
