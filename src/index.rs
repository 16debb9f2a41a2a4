//! The KV index behind `GET /v1/calls` and `GET /v1/messages`.
//!
//! KV is an eventually consistent *index*, never the truth: the Durable Object of each subject
//! holds the state, and its alarm rewrites the subject's entries here (see `subject.rs`). A list
//! may therefore lag a webhook by about a second locally (up to a minute across Cloudflare's
//! edge), and the single-subject endpoints are always current.
//!
//! Each subject has one key per filter combination, so every list query is a single prefix scan
//! with native KV cursors (no scan-and-filter pages):
//!
//! ```text
//! {kind}/all/{newest-first}/{provider}/{id}
//! {kind}/provider/{provider}/{newest-first}/{id}
//! {kind}/status/{status}/{newest-first}/{provider}/{id}
//! {kind}/provider-status/{provider}/{status}/{newest-first}/{id}
//! ```
//!
//! `{newest-first}` is `9999999999999 − created_ms`, zero-padded, so lexicographic order is most
//! recent first. `created_ms` is when the subject's first event was received, which never
//! changes, so only the status keys move (old ones are deleted when the status changes).
//! The entry itself is the key's metadata, so a page costs one KV call.
//!
//! Aliases (other ids of a subject, e.g. Telnyx `call_control_id`) are keys
//! `{kind}/alias/{provider}/{alias}` whose value is the subject's id, for the status API's
//! fallback lookup; like the lists, they appear about a second after the event.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use switchboard_core::model::Direction;
use switchboard_core::{Kind, ProviderId, Status, Summary, Timestamp};
use worker::kv::KvStore;

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

/// Which subjects a list returns.
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub kind: Kind,
    pub provider: Option<ProviderId>,
    pub status: Option<Status>,
}

impl Filter {
    fn prefix(&self) -> String {
        let kind = self.kind.as_str();
        match (self.provider, self.status) {
            (None, None) => format!("{kind}/all/"),
            (Some(provider), None) => format!("{kind}/provider/{provider}/"),
            (None, Some(status)) => format!("{kind}/status/{status}/"),
            (Some(provider), Some(status)) => {
                format!("{kind}/provider-status/{provider}/{status}/")
            }
        }
    }
}

fn newest_first(created_ms: i64) -> String {
    format!(
        "{:013}",
        9_999_999_999_999_i64.saturating_sub(created_ms).max(0)
    )
}

fn status_keys(
    kind: Kind,
    provider: ProviderId,
    status: Status,
    order: &str,
    id: &str,
) -> [String; 2] {
    let kind = kind.as_str();
    [
        format!("{kind}/status/{status}/{order}/{provider}/{id}"),
        format!("{kind}/provider-status/{provider}/{status}/{order}/{id}"),
    ]
}

/// Writes a subject's entries and deletes the status keys of `previous_status` if it changed.
pub async fn write(
    kv: &KvStore,
    summary: &Summary,
    created_ms: i64,
    previous_status: Option<Status>,
) -> Result<(), worker::KvError> {
    let entry = IndexEntry::from_summary(summary);
    let order = newest_first(created_ms);
    let (kind, provider, id) = (summary.kind, summary.provider, summary.id.as_str());
    let mut keys = vec![
        format!("{}/all/{order}/{provider}/{id}", kind.as_str()),
        format!("{}/provider/{provider}/{order}/{id}", kind.as_str()),
    ];
    if let Some(status) = summary.status {
        keys.extend(status_keys(kind, provider, status, &order, id));
    }
    for key in &keys {
        kv.put(key, "")?.metadata(&entry)?.execute().await?;
    }
    // Before the fix an over-long alias failed this put, and with it every later write of the
    // alarm (old status keys were never deleted), on every retry.
    for key in summary
        .aliases
        .iter()
        .filter_map(|alias| alias_key(kind, provider, alias))
    {
        kv.put(&key, id)?.execute().await?;
    }
    if let Some(previous) = previous_status.filter(|previous| Some(*previous) != summary.status) {
        for key in status_keys(kind, provider, previous, &order, id) {
            kv.delete(&key).await?;
        }
    }
    Ok(())
}

/// List cursors are KV's, wrapped so that a cursor this API did not issue is recognized (400)
/// instead of being passed to KV: `v1.` + base64url(KV cursor).
const CURSOR_PREFIX: &str = "v1.";

fn encode_cursor(kv_cursor: &str) -> String {
    format!("{CURSOR_PREFIX}{}", BASE64URL.encode(kv_cursor))
}

/// The KV cursor inside one of our cursors, or `None` if `cursor` is not one.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let encoded = cursor.strip_prefix(CURSOR_PREFIX)?;
    let bytes = BASE64URL.decode(encoded).ok()?;
    String::from_utf8(bytes)
        .ok()
        .filter(|kv_cursor| !kv_cursor.is_empty())
}

/// KV refuses longer keys (UTF-8 bytes).
const MAX_KEY_BYTES: usize = 512;

/// The alias index key, or `None` if `alias` is too long for a KV key: such an alias is never
/// indexed (its subject stays reachable by its own id, which is at most 200 bytes).
fn alias_key(kind: Kind, provider: ProviderId, alias: &str) -> Option<String> {
    let key = format!("{}/alias/{provider}/{alias}", kind.as_str());
    (key.len() <= MAX_KEY_BYTES).then_some(key)
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

/// One page; `kv_cursor` is the output of [`decode_cursor`].
pub async fn list(
    kv: &KvStore,
    filter: Filter,
    limit: u64,
    kv_cursor: Option<String>,
) -> Result<Page, worker::KvError> {
    let mut request = kv.list().prefix(filter.prefix()).limit(limit);
    if let Some(kv_cursor) = kv_cursor {
        request = request.cursor(kv_cursor);
    }
    let response = request.execute().await?;
    let items = response
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<IndexEntry>(key.metadata?).ok())
        // A status key deleted a moment ago may still be listed: the entry knows better.
        .filter(|entry| {
            filter
                .status
                .is_none_or(|status| entry.status == Some(status))
        })
        .collect();
    Ok(Page {
        items,
        cursor: (!response.list_complete)
            .then_some(response.cursor)
            .flatten()
            .map(|kv_cursor| encode_cursor(&kv_cursor)),
    })
}
