//! Small helpers that several provider modules use the same way: content-derived event ids,
//! status-word tables, `extra` fields and a JSON object reader that keeps duplicate members.
//!
//! Cryptographic primitives (HMAC, constant-time tag checks, SHA-256 hex) are in
//! [`crate::crypto`].

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::crypto::sha256_hex;
use crate::error::WebhookError;

/// Refuses a form body that is a JSON object, before it is read as a form.
///
/// `Content-Type` is not signed by the schemes that choose the body's parse by it (MessageBird,
/// Telnyx). Changed to a form, it would give a signed JSON body a second reading whose
/// parameters come from inside its string values (`{"text":"&a=1&"}` reads as `a=1`), and the
/// text of a message is the sender's. None of these providers sends a form that is a JSON object.
pub(crate) fn refuse_json_object_as_form(body: &[u8]) -> Result<(), WebhookError> {
    match serde_json::from_slice::<Members>(body) {
        Ok(_) => Err(WebhookError::Malformed(
            "a form body that is a JSON object".into(),
        )),
        Err(_) => Ok(()),
    }
}

/// `"{prefix}:"` and the first 32 hex digits (lower case) of the SHA-256 of `bytes`: the event
/// id derived from an event's content (or a canonical form of it).
pub(crate) fn content_event_id(prefix: &str, bytes: &[u8]) -> String {
    format!("{prefix}:{}", &sha256_hex(bytes)[..32])
}

/// [`content_event_id`] of `pairs` form-encoded in the order given (`a=1&b=2`), which keeps
/// `&` and `=` inside values apart from the separators.
pub(crate) fn form_event_id<K: AsRef<str>, V: AsRef<str>>(
    prefix: &str,
    pairs: &[(K, V)],
) -> String {
    let canonical = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    content_event_id(prefix, canonical.as_bytes())
}

/// The value `word` maps to in `table` (exact match), `None` for a word the table does not have.
pub(crate) fn lookup<T: Copy>(table: &[(&str, T)], word: &str) -> Option<T> {
    table
        .iter()
        .find(|(known, _)| *known == word)
        .map(|(_, value)| *value)
}

/// `Details::extra`: every name in `fields` for which `value` has a value.
///
/// Inserted one by one, not collected: `collect()` into a `BTreeMap` sorts its input first, and
/// each call site would carry its own copy of the standard library's sort (about 4 KB of wasm).
pub(crate) fn extra_fields(
    fields: &[&str],
    value: impl Fn(&str) -> Option<String>,
) -> BTreeMap<String, String> {
    let mut extra = BTreeMap::new();
    for field in fields {
        if let Some(value) = value(field) {
            extra.insert((*field).to_owned(), value);
        }
    }
    extra
}

/// A JSON object's members as `(key, raw value)` pairs, in order, duplicates included.
pub(crate) struct Members(pub(crate) Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}
