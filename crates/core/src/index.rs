//! The layout and the paging of the list index (KV in the worker), its tagged cursors, and when
//! a subject rewrites its entries, with no I/O.
//!
//! Keys are provider-major, two per subject, so a flush of one subject writes two keys (plus
//! one per alias) and a list filtered by provider is one prefix scan:
//!
//! ```text
//! {kind}/{provider}/all/{newest-first}/{id}
//! {kind}/{provider}/status/{status}/{newest-first}/{id}
//! {kind}/{provider}/alias/{alias}                          value: the subject's id
//! numbers/{number digest}/{kind}/{provider}/{id}             (erasure by phone number)
//! ```
//!
//! The number keys find every subject a phone number took part in (`POST /v1/erase`): one per
//! subject and number (its `from`, its `to`), named by the number's digest ([`number_digest`]),
//! so that no key names a number.
//!
//! `{newest-first}` is `9999999999999 − created_ms`, zero-padded, so lexicographic order is most
//! recent first; `created_ms` never changes, so only the status key moves. A list across
//! providers merges one scan per provider ([`merge`]) by `({newest-first}, provider, id)`; its
//! cursor records where each provider's scan continues ([`Position`]). KV cursors exist only
//! between the batches KV returned, so a position is a batch's cursor plus the last key of that
//! batch already returned.

use std::collections::VecDeque;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use base64::Engine as _;
use hmac::Hmac;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::crypto::hmac;
use crate::secret::constant_time_eq;
use crate::{Kind, ProviderId, Status, Summary};

/// The most keys one KV list call returns.
pub const MAX_BATCH: usize = 1000;

/// KV refuses longer keys (UTF-8 bytes).
pub const MAX_KEY_BYTES: usize = 512;

/// How long after an event a subject's entries are rewritten; events in between are coalesced,
/// so a subject writes each of its keys at most once per this delay (KV accepts one write per
/// second per key).
pub const FLUSH_DELAY_MS: i64 = 1_000;

/// The longest wait between two tries of a failing flush.
pub const MAX_FLUSH_RETRY_MS: i64 = 5 * 60 * 1000;

/// When to try a flush again after it failed `failures` times in a row: twice the wait of the
/// try before, from 2 s up to [`MAX_FLUSH_RETRY_MS`], for as long as it fails.
pub fn flush_retry_delay_ms(failures: u32) -> i64 {
    (FLUSH_DELAY_MS << failures.min(16)).min(MAX_FLUSH_RETRY_MS)
}

/// Which subjects a list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub kind: Kind,
    pub provider: Option<ProviderId>,
    pub status: Option<Status>,
}

impl Filter {
    /// The prefix scanned for `provider` (one of the providers this filter lists).
    pub fn prefix(&self, provider: ProviderId) -> String {
        list_prefix(self.kind, provider, self.status)
    }

    /// What a cursor must have been issued for: the kind and the status (the provider filter is
    /// checked through the positions' providers).
    fn scope(&self) -> String {
        format!(
            "{}/{}",
            self.kind.as_str(),
            self.status.map_or("*", Status::as_str)
        )
    }
}

/// The prefix of one provider's list of `kind`, of one status or of all: the keys below are
/// written, and the lists scanned, from this one layout.
fn list_prefix(kind: Kind, provider: ProviderId, status: Option<Status>) -> String {
    let kind = kind.as_str();
    match status {
        None => format!("{kind}/{provider}/all/"),
        Some(status) => format!("{kind}/{provider}/status/{status}/"),
    }
}

/// `9999999999999 − created_ms`, zero-padded: lexicographic order is most recent first.
pub fn newest_first(created_ms: i64) -> String {
    format!(
        "{:013}",
        9_999_999_999_999_i64.saturating_sub(created_ms).max(0)
    )
}

/// The list key of a subject.
pub fn all_key(kind: Kind, provider: ProviderId, created_ms: i64, id: &str) -> String {
    list_key(list_prefix(kind, provider, None), created_ms, id)
}

/// The key of a subject in the list of its status.
pub fn status_key(
    kind: Kind,
    provider: ProviderId,
    status: Status,
    created_ms: i64,
    id: &str,
) -> String {
    list_key(list_prefix(kind, provider, Some(status)), created_ms, id)
}

fn list_key(prefix: String, created_ms: i64, id: &str) -> String {
    format!("{prefix}{}/{id}", newest_first(created_ms))
}

/// The alias key, or `None` if `alias` is too long for a KV key: such an alias is never
/// indexed (its subject stays reachable by its own id, which is at most 200 bytes).
pub fn alias_key(kind: Kind, provider: ProviderId, alias: &str) -> Option<String> {
    let key = format!("{}/{provider}/alias/{alias}", kind.as_str());
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

/// What a phone number is indexed and erased by: SHA-256 (hex) of its digits when it is
/// written as a number, whatever its punctuation and `+` (`+1 555-000-1111` and `15550001111`
/// are one number: Vonage writes E.164 without `+`, docs/providers/vonage.md §5), or of the
/// text itself, lowercased, when it is not (a SIP address, a client name, an alphanumeric
/// sender id). `None` for empty text.
pub fn number_digest(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let rest = text.strip_prefix('+').unwrap_or(text);
    let written_as_number = rest.bytes().any(|byte| byte.is_ascii_digit())
        && rest
            .bytes()
            .all(|byte| byte.is_ascii_digit() || b" -().".contains(&byte));
    let canonical = if written_as_number {
        rest.chars().filter(char::is_ascii_digit).collect()
    } else {
        text.to_lowercase()
    };
    Some(crate::crypto::sha256_hex(canonical.as_bytes()))
}

/// The prefix of the number keys of the number whose digest is `digest`.
pub fn number_prefix(digest: &str) -> String {
    format!("numbers/{digest}/")
}

/// The key that finds a subject by one of its numbers (`None` if too long for a KV key).
pub fn number_key(digest: &str, kind: Kind, provider: ProviderId, id: &str) -> Option<String> {
    let key = format!("{}{}/{provider}/{id}", number_prefix(digest), kind.as_str());
    (key.len() <= MAX_KEY_BYTES).then_some(key)
}

/// The subject a number key names: its kind, provider and id.
pub fn parse_number_key(key: &str) -> Option<(Kind, ProviderId, &str)> {
    let rest = key.strip_prefix("numbers/")?;
    let (_digest, rest) = rest.split_once('/')?;
    let (kind, rest) = rest.split_once('/')?;
    let (provider, id) = rest.split_once('/')?;
    Some((kind.parse().ok()?, provider.parse().ok()?, id))
}

/// The keys a subject writes with a value that never changes: its aliases (the value is the
/// subject's id: an alias never changes its subject) and its number keys (empty), each with
/// its value.
pub fn fixed_keys(summary: &Summary) -> Vec<(String, String)> {
    let (kind, provider, id) = (summary.kind, summary.provider, summary.id.as_str());
    let aliases = summary
        .aliases
        .iter()
        .filter_map(|alias| alias_key(kind, provider, alias))
        .map(|key| (key, id.to_owned()));
    let numbers = [&summary.from, &summary.to]
        .into_iter()
        .flatten()
        .filter_map(|number| number_digest(number))
        .filter_map(|digest| number_key(&digest, kind, provider, id))
        .map(|key| (key, String::new()));
    let mut keys: Vec<(String, String)> = aliases.chain(numbers).collect();
    // One put per key: `from` and `to` may be one number (KV takes one write per key a second).
    keys.sort();
    keys.dedup();
    keys
}

/// Every key a subject may have in the index, for its erasure: its list key, its status keys
/// (of `statuses`, the ones it may have written), its aliases and its number keys.
pub fn subject_keys(summary: &Summary, created_ms: i64, statuses: &[Status]) -> Vec<String> {
    let (kind, provider, id) = (summary.kind, summary.provider, summary.id.as_str());
    let mut keys = vec![all_key(kind, provider, created_ms, id)];
    keys.extend(
        statuses
            .iter()
            .chain(summary.status.as_ref())
            .map(|&status| status_key(kind, provider, status, created_ms, id)),
    );
    keys.extend(fixed_keys(summary).into_iter().map(|(key, _)| key));
    keys.sort();
    keys.dedup();
    keys
}

/// Where one provider's scan continues: in the batch that KV returns for `cursor` (`None`: the
/// start of the list), after the key `after` (what follows the prefix), which was the
/// `skip`-th key of that batch when the page was made.
///
/// `after`, not only the count, decides where the page goes on: keys inserted or deleted in
/// the part of the batch already returned (a subject moving into or out of a status, a new
/// subject at the top) neither repeat nor hide an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub provider: ProviderId,
    pub cursor: Option<String>,
    pub after: Option<String>,
    pub skip: usize,
}

impl Position {
    pub fn start(provider: ProviderId) -> Self {
        Self {
            provider,
            cursor: None,
            after: None,
            skip: 0,
        }
    }

    /// How many keys to ask KV for, from `cursor`, to have `limit` after the returned ones
    /// (fewer once that passes [`MAX_BATCH`]: the page may then end early).
    pub fn batch_size(&self, limit: usize) -> usize {
        (self.skip + limit).clamp(1, MAX_BATCH)
    }
}

/// What KV returned for one [`Position`]: its keys with what follows the scanned prefix
/// (`{newest-first}/{id}`), in KV's order.
#[derive(Debug, Clone)]
pub struct Batch<T> {
    pub keys: Vec<(String, T)>,
    /// The cursor after this batch, if the list goes on.
    pub cursor: Option<String>,
}

/// Merges one batch per position (each asked for with [`Position::batch_size`]) into at most
/// `limit` items, most recent first, keeping those `keep` accepts (a status key deleted a
/// moment ago may still be listed; the entry knows better). Answers the items and the positions
/// the next page starts from, none once every scan is at its end.
///
/// A provider whose batch is used up before its list ends could have the next most recent
/// entry, so the page stops there: it may be shorter than `limit`, never out of order.
pub fn merge<T>(
    positions: Vec<Position>,
    batches: Vec<Batch<T>>,
    limit: usize,
    keep: impl Fn(&T) -> bool,
) -> (Vec<T>, Vec<Position>) {
    struct Source<T> {
        position: Position,
        keys: VecDeque<(String, T)>,
        /// Keys of the batch passed over: already returned, or returned now.
        consumed: usize,
        next_cursor: Option<String>,
    }
    impl<T> Source<T> {
        /// Where the next key goes in the merged list: by what follows the prefix, then provider.
        fn order(&self) -> (Option<&str>, &str) {
            let suffix = self.keys.front().map(|(suffix, _)| suffix.as_str());
            (suffix, self.position.provider.as_str())
        }
    }
    let mut sources: Vec<Source<T>> = positions
        .into_iter()
        .zip(batches)
        .map(|(position, batch)| {
            let mut keys = VecDeque::from(batch.keys);
            let mut consumed = 0;
            while keys.front().is_some_and(|(suffix, _)| {
                position.after.as_ref().is_some_and(|after| suffix <= after)
            }) {
                keys.pop_front();
                consumed += 1;
            }
            Source {
                position,
                keys,
                consumed,
                next_cursor: batch.cursor,
            }
        })
        .collect();

    let mut items = Vec::new();
    while items.len() < limit {
        if sources
            .iter()
            .any(|source| source.keys.is_empty() && source.next_cursor.is_some())
        {
            break;
        }
        let Some(source) = sources
            .iter_mut()
            .filter(|source| !source.keys.is_empty())
            .min_by(|left, right| left.order().cmp(&right.order()))
        else {
            break;
        };
        if let Some((suffix, item)) = source.keys.pop_front() {
            source.consumed += 1;
            source.position.after = Some(suffix);
            if keep(&item) {
                items.push(item);
            }
        }
    }

    let positions = sources
        .into_iter()
        .filter_map(|source| {
            if source.keys.is_empty() {
                // Keys inserted before `after` since the last page may fill the next batch too:
                // `after` still marks what was returned.
                source.next_cursor.map(|cursor| Position {
                    provider: source.position.provider,
                    cursor: Some(cursor),
                    after: source.position.after,
                    skip: 0,
                })
            } else {
                Some(Position {
                    skip: source.consumed,
                    ..source.position
                })
            }
        })
        .collect();
    (items, positions)
}

/// List cursors wrap the positions and carry a tag, so that a cursor this API did not issue, or
/// issued for another list, is refused (400) and never reaches KV; a KV error on a page is then
/// an outage (503), not the caller's mistake. `v3.` + base64url(JSON) + `.` + base64url(tag),
/// the tag being the first [`CURSOR_TAG_BYTES`] of HMAC-SHA256, under the key the caller of
/// [`encode_cursor`] chooses, of everything before the last `.`.
const CURSOR_PREFIX: &str = "v3.";

/// 128 bits: a forged cursor is refused with certainty, not with a lucky guess.
const CURSOR_TAG_BYTES: usize = 16;

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// The kind and the status filter of the list ([`Filter::scope`]).
    list: String,
    positions: Vec<Position>,
}

fn cursor_tag(key: &[u8], signed: &str) -> Vec<u8> {
    let mut tag = hmac::<Hmac<Sha256>>(key, signed.as_bytes());
    tag.truncate(CURSOR_TAG_BYTES);
    tag
}

/// `{prefix}{base64url(json)}.{tag}`: a cursor that only the holder of `key` can make.
pub fn seal_cursor(prefix: &str, json: &[u8], key: &[u8]) -> String {
    let signed = format!("{prefix}{}", BASE64URL.encode(json));
    let tag = BASE64URL.encode(cursor_tag(key, &signed));
    format!("{signed}.{tag}")
}

/// The JSON inside a cursor that [`seal_cursor`] made with this `prefix` and `key`; `None` for
/// anything else. The tag is compared in constant time before anything inside is read.
pub fn open_cursor(cursor: &str, prefix: &str, key: &[u8]) -> Option<Vec<u8>> {
    // base64url has no `.`: the last one ends what the tag covers.
    let (signed, tag) = cursor.rsplit_once('.')?;
    let tag = BASE64URL.decode(tag).ok()?;
    if !constant_time_eq(&tag, &cursor_tag(key, signed)) {
        return None;
    }
    BASE64URL.decode(signed.strip_prefix(prefix)?).ok()
}

/// A cursor for `positions` of the list `filter`, tagged under `key` (the worker's: the caller's
/// `crate::access::cursor_key`, so a cursor is good only with the token that listed it, and a
/// browser cannot tag one itself).
pub fn encode_cursor(filter: &Filter, positions: &[Position], key: &[u8]) -> String {
    let cursor = Cursor {
        list: filter.scope(),
        positions: positions.to_vec(),
    };
    let json = serde_json::to_vec(&cursor).unwrap_or_default();
    seal_cursor(CURSOR_PREFIX, &json, key)
}

/// The positions inside one of our cursors, or `None` if `cursor` is not one, tagged under
/// `key`, for this list of `providers`: issued for the same kind and status, each position
/// naming one of the providers, at most once, inside a batch. The tag is compared in constant
/// time before anything inside is read.
pub fn decode_cursor(
    cursor: &str,
    filter: &Filter,
    providers: &[ProviderId],
    key: &[u8],
) -> Option<Vec<Position>> {
    let json = open_cursor(cursor, CURSOR_PREFIX, key)?;
    let Cursor { list, positions } = serde_json::from_slice(&json).ok()?;
    let valid = list == filter.scope()
        && !positions.is_empty()
        && positions.iter().enumerate().all(|(index, position)| {
            providers.contains(&position.provider)
                && position.skip < MAX_BATCH
                && position
                    .cursor
                    .as_ref()
                    .is_none_or(|cursor| !cursor.is_empty())
                && position
                    .after
                    .as_ref()
                    .is_none_or(|after| !after.is_empty() && after.len() <= MAX_KEY_BYTES)
                && positions[..index]
                    .iter()
                    .all(|earlier| earlier.provider != position.provider)
        });
    valid.then_some(positions)
}

#[cfg(test)]
mod number_tests {
    use super::*;

    fn summary(from: &str, to: &str, aliases: &[&str]) -> Summary {
        let state = crate::SubjectState::new(ProviderId::Telnyx, Kind::Call, "leg/1");
        let mut summary = state.summary(1);
        summary.from = Some(from.into());
        summary.to = Some(to.into());
        summary.aliases = aliases.iter().map(|alias| (*alias).to_owned()).collect();
        summary.status = Some(Status::Ringing);
        summary
    }

    #[test]
    fn a_subject_writes_each_fixed_key_once_and_its_erasure_deletes_them_all() {
        let calling_itself = summary("+15550001111", "15550001111", &["control-1"]);
        let keys = fixed_keys(&calling_itself);
        let digest = number_digest("+15550001111").unwrap();
        assert_eq!(
            keys,
            vec![
                ("call/telnyx/alias/control-1".to_owned(), "leg/1".to_owned()),
                (
                    number_key(&digest, Kind::Call, ProviderId::Telnyx, "leg/1").unwrap(),
                    String::new()
                ),
            ],
            "one number key for a call from a number to itself"
        );
        let erased = subject_keys(&calling_itself, 5, &[Status::Initiated]);
        for key in keys.iter().map(|(key, _)| key) {
            assert!(erased.contains(key), "{key}");
        }
        assert!(erased.contains(&all_key(Kind::Call, ProviderId::Telnyx, 5, "leg/1")));
        for status in [Status::Initiated, Status::Ringing] {
            assert!(erased.contains(&status_key(
                Kind::Call,
                ProviderId::Telnyx,
                status,
                5,
                "leg/1"
            )));
        }
        assert_eq!(erased.len(), 5);
    }

    #[test]
    fn a_number_is_one_digest_however_it_is_written() {
        let twilio = number_digest("+15550001111").unwrap();
        for written in ["15550001111", " +1 (555) 000-1111 ", "1.555.000.1111"] {
            assert_eq!(
                number_digest(written).as_deref(),
                Some(twilio.as_str()),
                "{written}"
            );
        }
        assert_ne!(number_digest("+15550001112"), Some(twilio.clone()));
        assert_eq!(
            number_digest("sip:Alice@Example.com"),
            number_digest("sip:alice@example.com")
        );
        assert_ne!(number_digest("ACME"), number_digest("acme1"));
        assert_eq!(number_digest("  "), None);
        assert_eq!(twilio.len(), 64);
        assert!(!twilio.contains("5550001111"));
    }

    #[test]
    fn a_number_key_names_its_subject_whatever_its_id() {
        let digest = number_digest("+15550001111").unwrap();
        let key = number_key(
            &digest,
            Kind::Message,
            ProviderId::Vonage,
            "id/with/slashes",
        )
        .unwrap();
        assert!(key.starts_with(&number_prefix(&digest)));
        assert_eq!(
            parse_number_key(&key),
            Some((Kind::Message, ProviderId::Vonage, "id/with/slashes"))
        );
        assert_eq!(parse_number_key("numbers/x/call/nobody/1"), None);
        assert_eq!(
            number_key(&digest, Kind::Call, ProviderId::Twilio, &"x".repeat(600)),
            None
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The key cursors are tagged under in these tests.
    const KEY: &[u8] = b"status-api-token";

    /// A provider's list as KV holds it: suffixes in key order, served in batches of at most
    /// `batch` keys, as KV would for a cursor (the cursor is the index of the next key).
    struct FakeList {
        suffixes: Vec<String>,
        batch: usize,
    }

    impl FakeList {
        fn new(created: &[i64], provider: &str, batch: usize) -> Self {
            let mut suffixes: Vec<String> = created
                .iter()
                .map(|ms| format!("{}/{provider}-{ms}", newest_first(*ms)))
                .collect();
            suffixes.sort();
            Self { suffixes, batch }
        }

        fn list(&self, position: &Position, limit: usize) -> Batch<String> {
            let start: usize = position.cursor.as_deref().map_or(0, |c| c.parse().unwrap());
            let end = (start + limit.min(self.batch)).min(self.suffixes.len());
            Batch {
                keys: self.suffixes[start..end]
                    .iter()
                    .map(|suffix| (suffix.clone(), suffix.clone()))
                    .collect(),
                cursor: (end < self.suffixes.len()).then(|| end.to_string()),
            }
        }
    }

    /// Pages through `lists` with pages of `limit`, as the status API does; panics if a page
    /// is empty while a cursor is returned more than `lists.len()` times in a row.
    fn page_through(lists: &[(ProviderId, FakeList)], limit: usize) -> Vec<Vec<String>> {
        let mut positions: Vec<Position> = lists.iter().map(|(p, _)| Position::start(*p)).collect();
        let mut pages = Vec::new();
        let mut empty_in_a_row = 0;
        loop {
            let batches = positions
                .iter()
                .map(|position| {
                    let (_, list) = lists.iter().find(|(p, _)| *p == position.provider).unwrap();
                    list.list(position, position.batch_size(limit))
                })
                .collect();
            let (items, next) = merge(positions, batches, limit, |_| true);
            assert!(items.len() <= limit);
            empty_in_a_row = if items.is_empty() {
                empty_in_a_row + 1
            } else {
                0
            };
            assert!(empty_in_a_row <= lists.len(), "no progress");
            pages.push(items);
            if next.is_empty() {
                return pages;
            }
            let filter = Filter {
                kind: Kind::Call,
                provider: None,
                status: None,
            };
            let cursor = encode_cursor(&filter, &next, KEY);
            let providers: Vec<ProviderId> = lists.iter().map(|(p, _)| *p).collect();
            positions = decode_cursor(&cursor, &filter, &providers, KEY).expect("our own cursor");
        }
    }

    fn all_sorted(lists: &[(ProviderId, FakeList)]) -> Vec<String> {
        let mut all: Vec<(String, &str, String)> = lists
            .iter()
            .flat_map(|(provider, list)| {
                list.suffixes
                    .iter()
                    .map(move |suffix| (suffix.clone(), provider.as_str(), suffix.clone()))
            })
            .collect();
        all.sort();
        all.into_iter().map(|(_, _, item)| item).collect()
    }

    #[test]
    fn one_provider_pages_in_key_order_with_full_pages() {
        let lists = [(
            ProviderId::Twilio,
            FakeList::new(&[5, 1, 9, 3, 7, 2, 8], "twilio", 1000),
        )];
        let pages = page_through(&lists, 3);
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 1]);
        assert_eq!(pages.concat(), all_sorted(&lists));
        assert_eq!(pages[0][0], format!("{}/twilio-9", newest_first(9)));
    }

    #[test]
    fn providers_are_merged_most_recent_first_without_loss_or_repeat() {
        let lists = [
            (
                ProviderId::Telnyx,
                FakeList::new(&[100, 90, 80, 10, 5], "telnyx", 1000),
            ),
            (
                ProviderId::Twilio,
                FakeList::new(&[95, 85, 20, 15, 1, 0], "twilio", 1000),
            ),
            (ProviderId::Plivo, FakeList::new(&[], "plivo", 1000)),
        ];
        for limit in 1..=12 {
            let pages = page_through(&lists, limit);
            assert_eq!(pages.concat(), all_sorted(&lists), "limit {limit}");
            let short = pages.iter().rev().skip(1).filter(|page| page.len() < limit);
            assert_eq!(
                short.count(),
                0,
                "limit {limit}: only the last page is short"
            );
        }
    }

    #[test]
    fn short_kv_batches_end_pages_early_but_keep_the_order() {
        let created: Vec<i64> = (0..40).collect();
        let odd: Vec<i64> = created.iter().copied().filter(|ms| ms % 2 == 1).collect();
        let even: Vec<i64> = created.iter().copied().filter(|ms| ms % 2 == 0).collect();
        let lists = [
            (ProviderId::Telnyx, FakeList::new(&odd, "telnyx", 3)),
            (ProviderId::Twilio, FakeList::new(&even, "twilio", 7)),
        ];
        let pages = page_through(&lists, 5);
        assert_eq!(pages.concat(), all_sorted(&lists));
    }

    #[test]
    fn entries_the_filter_rejects_are_consumed_not_returned() {
        let lists = [(
            ProviderId::Bird,
            FakeList::new(&[1, 2, 3, 4, 5, 6], "bird", 1000),
        )];
        let positions = vec![Position::start(ProviderId::Bird)];
        let batch = lists[0].1.list(&positions[0], positions[0].batch_size(2));
        let (items, next) = merge(positions, vec![batch], 2, |item| !item.ends_with("-6"));
        assert_eq!(items, [format!("{}/bird-5", newest_first(5))]);
        assert_eq!(
            next[0].skip, 0,
            "batch of 2 used up: continue at its cursor"
        );
        assert_eq!(next[0].cursor.as_deref(), Some("2"));
    }

    #[test]
    fn keys_added_or_removed_before_the_position_neither_repeat_nor_hide_entries() {
        let mut list = FakeList::new(&[1, 2, 3, 4, 5, 6], "plivo", 1000);
        let start = vec![Position::start(ProviderId::Plivo)];
        let batch = list.list(&start[0], start[0].batch_size(3));
        let (first, next) = merge(start, vec![batch], 3, |_| true);
        assert_eq!(first.len(), 3);
        // The most recent subject left this list, and a newer one arrived.
        list.suffixes.remove(0);
        list.suffixes
            .insert(0, format!("{}/plivo-7", newest_first(7)));
        let batch = list.list(&next[0], next[0].batch_size(3));
        let (second, next) = merge(next, vec![batch], 3, |_| true);
        let expected: Vec<String> = [3, 2, 1]
            .iter()
            .map(|ms| format!("{}/plivo-{ms}", newest_first(*ms)))
            .collect();
        assert_eq!(second, expected);
        assert!(next.is_empty());
    }

    #[test]
    fn a_batch_filled_by_keys_inserted_before_the_position_is_not_returned_again() {
        let mut telnyx = FakeList::new(&[10, 8, 6, 4], "telnyx", 2);
        let twilio = FakeList::new(&[9, 7, 5, 3], "twilio", 2);
        let fetch = |lists: [&FakeList; 2], positions: &[Position]| -> Vec<Batch<String>> {
            positions
                .iter()
                .map(|position| {
                    let list = if position.provider == ProviderId::Telnyx {
                        lists[0]
                    } else {
                        lists[1]
                    };
                    list.list(position, position.batch_size(2))
                })
                .collect()
        };
        let start = vec![
            Position::start(ProviderId::Telnyx),
            Position::start(ProviderId::Twilio),
        ];
        let batches = fetch([&telnyx, &twilio], &start);
        let (mut returned, mut positions) = merge(start, batches, 2, |_| true);
        // Three newer telnyx calls arrive before the next page is read.
        for ms in [13, 12, 11] {
            telnyx
                .suffixes
                .insert(0, format!("{}/telnyx-{ms}", newest_first(ms)));
        }
        for _ in 0..20 {
            if positions.is_empty() {
                break;
            }
            let batches = fetch([&telnyx, &twilio], &positions);
            let (items, next) = merge(positions, batches, 2, |_| true);
            returned.extend(items);
            positions = next;
        }
        assert!(positions.is_empty(), "the list never ended");
        let expected: Vec<String> = [(10, "telnyx"), (9, "twilio"), (8, "telnyx"), (7, "twilio")]
            .into_iter()
            .chain([(6, "telnyx"), (5, "twilio"), (4, "telnyx"), (3, "twilio")])
            .map(|(ms, provider)| format!("{}/{provider}-{ms}", newest_first(ms)))
            .collect();
        assert_eq!(returned, expected, "each entry once, most recent first");
    }

    #[test]
    fn cursors_that_are_not_ours_or_not_for_this_list_are_refused() {
        let providers = [ProviderId::Telnyx, ProviderId::Twilio];
        let ringing_calls = Filter {
            kind: Kind::Call,
            provider: None,
            status: Some(Status::Ringing),
        };
        let ours = encode_cursor(
            &ringing_calls,
            &[Position {
                provider: ProviderId::Telnyx,
                cursor: Some("kv-cursor".into()),
                after: Some("9999999999990/leg".into()),
                skip: 4,
            }],
            KEY,
        );
        let decode = |cursor: &str, filter: &Filter, providers: &[ProviderId]| {
            decode_cursor(cursor, filter, providers, KEY)
        };
        assert!(decode(&ours, &ringing_calls, &providers).is_some());
        assert!(decode(&ours, &ringing_calls, &[ProviderId::Twilio]).is_none());
        let other_lists = [
            Filter {
                status: Some(Status::Completed),
                ..ringing_calls
            },
            Filter {
                status: None,
                ..ringing_calls
            },
            Filter {
                kind: Kind::Message,
                ..ringing_calls
            },
        ];
        for other in other_lists {
            assert!(decode(&ours, &other, &providers).is_none(), "{other:?}");
        }

        // Tagged under our key, but not what this API issues.
        let ours_with = |positions: &[Position]| encode_cursor(&ringing_calls, positions, KEY);
        let tagged = |json: &str| {
            let signed = format!("v3.{}", BASE64URL.encode(json));
            let tag = BASE64URL.encode(cursor_tag(KEY, &signed));
            format!("{signed}.{tag}")
        };
        let (signed, tag) = ours.rsplit_once('.').expect("a tagged cursor");
        let mut altered = BASE64URL.decode(&signed[3..]).expect("base64url");
        let skip = altered
            .iter()
            .rposition(|&byte| byte == b'4')
            .expect("skip 4");
        altered[skip] = b'5';
        let refused = [
            "not-a-cursor".to_owned(),
            "v3.%%%".to_owned(),
            // Unsigned, as the cursors of earlier versions were.
            signed.replace("v3.", "v2."),
            signed.to_owned(),
            // Issued under another key (another status API token).
            encode_cursor(
                &ringing_calls,
                &[Position::start(ProviderId::Telnyx)],
                b"other",
            ),
            // A tag that is cut, or moved onto other positions.
            format!("{signed}.{}", &tag[..tag.len() - 2]),
            format!("v3.{}.{tag}", BASE64URL.encode(&altered)),
            tagged("[]"),
            tagged(r#"{"list":"call/ringing"}"#),
            ours_with(&[]),
            ours_with(&[Position {
                skip: MAX_BATCH,
                ..Position::start(ProviderId::Telnyx)
            }]),
            ours_with(&[
                Position::start(ProviderId::Telnyx),
                Position::start(ProviderId::Telnyx),
            ]),
            ours_with(&[Position {
                cursor: Some(String::new()),
                ..Position::start(ProviderId::Telnyx)
            }]),
            ours_with(&[Position {
                after: Some("k".repeat(MAX_KEY_BYTES + 1)),
                ..Position::start(ProviderId::Telnyx)
            }]),
        ];
        for cursor in refused {
            assert!(
                decode(&cursor, &ringing_calls, &providers).is_none(),
                "{cursor}"
            );
        }
    }

    #[test]
    fn a_failing_flush_is_retried_ever_later_up_to_five_minutes() {
        let waits: Vec<i64> = (1..=10).map(flush_retry_delay_ms).collect();
        assert_eq!(
            waits,
            [2, 4, 8, 16, 32, 64, 128, 256, 300, 300].map(|seconds| seconds * 1000)
        );
        assert_eq!(flush_retry_delay_ms(u32::MAX), MAX_FLUSH_RETRY_MS);
    }

    #[test]
    fn keys_are_provider_major_and_newest_first() {
        assert_eq!(
            all_key(Kind::Call, ProviderId::Telnyx, 1_000, "leg"),
            "call/telnyx/all/9999999998999/leg"
        );
        assert_eq!(
            status_key(
                Kind::Message,
                ProviderId::Twilio,
                Status::Delivered,
                0,
                "SM1"
            ),
            "message/twilio/status/delivered/9999999999999/SM1"
        );
        let filter = Filter {
            kind: Kind::Call,
            provider: None,
            status: Some(Status::Ringing),
        };
        assert!(
            status_key(Kind::Call, ProviderId::Plivo, Status::Ringing, 7, "x")
                .starts_with(&filter.prefix(ProviderId::Plivo))
        );
        assert!(newest_first(2_000) < newest_first(1_000));
        assert_eq!(
            alias_key(Kind::Call, ProviderId::Telnyx, &"a".repeat(600)),
            None
        );
        assert_eq!(
            alias_key(Kind::Call, ProviderId::Telnyx, "v3:ctl").as_deref(),
            Some("call/telnyx/alias/v3:ctl")
        );
    }
}
