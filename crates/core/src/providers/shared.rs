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
    match serde_json::from_slice::<Members>(json_text(body)) {
        Ok(_) => Err(WebhookError::Malformed(
            "a form body that is a JSON object".into(),
        )),
        Err(_) => Ok(()),
    }
}

/// The UTF-8 byte-order mark.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// A JSON body as every provider parses it: without a leading UTF-8 byte-order mark, which
/// RFC 8259 §8.1 lets a parser ignore ("MAY ignore the presence of a byte order mark rather
/// than treating it as an error"). Only the parse skips it: signatures are checked on the
/// bytes as received.
pub(crate) fn json_text(body: &[u8]) -> &[u8] {
    body.strip_prefix(BYTE_ORDER_MARK).unwrap_or(body)
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

/// The longest parameter name a concatenated signed string may hold (see [`Vocabulary`]).
const MAX_NAME_CHARS: usize = 128;

/// The parameter names of a provider that signs `name + value` pairs concatenated without
/// separators (Twilio form bodies, docs/providers/twilio.md; Plivo V3 `POST` bodies, docs/providers/plivo.md), as
/// [`check_concatenation`] needs them.
pub(crate) struct Vocabulary<'a> {
    /// The names the normalizer reads for the request's kind, including the names that decide
    /// the kind (`CallSid`, `MessageSid`, …).
    pub(crate) read: &'a [&'a str],
    /// Other names the provider documents, sorted (they are looked up by binary search).
    pub(crate) documented: &'a [&'a str],
    /// Documented names that are not plain names (e.g. Plivo's `requester_ip`).
    pub(crate) exceptions: &'a [&'a str],
    /// Documented names whose values are the sender's free text and are never read (Plivo's
    /// inbound `Text` and `Body`): a read name inside such a value is allowed when it sorts
    /// before the value's own name (rule 2 below).
    pub(crate) free_text: &'a [&'a str],
}

impl Vocabulary<'_> {
    fn is_documented(&self, name: &str) -> bool {
        self.documented.binary_search(&name).is_ok()
            || self.read.contains(&name)
            || self.exceptions.contains(&name)
    }

    /// Whether a pair could be named `name`: a documented name, or a plain name (an ASCII
    /// capital, then ASCII letters, digits, `_` and `-`, at most [`MAX_NAME_CHARS`], with a
    /// lower-case letter somewhere: CamelCase, as both providers name their parameters) that is
    /// not a proper prefix of a read name (`SequenceNumbe` of `SequenceNumber`). The lower-case
    /// letter keeps the tail of an upper-case identifier (Plivo's `MANWVLYTK4ZWU1YTY4QA`) from
    /// passing for a name.
    fn admits(&self, name: &str) -> bool {
        let bytes = name.as_bytes();
        let name_shaped = bytes.len() <= MAX_NAME_CHARS
            && bytes.first().is_some_and(u8::is_ascii_uppercase)
            && bytes.iter().copied().all(is_name_byte);
        name_shaped && self.admits_name_shaped(name, bytes.iter().any(u8::is_ascii_lowercase))
            || self.is_documented(name)
    }

    /// [`Vocabulary::admits`] of a name already known to start with a capital and to hold
    /// name bytes only, at most [`MAX_NAME_CHARS`]: what the scan of a value's runs of name
    /// bytes asks of every prefix of a run, without reading the prefix again.
    fn admits_name_shaped(&self, name: &str, has_lower_case: bool) -> bool {
        has_lower_case
            && !self
                .read
                .iter()
                .any(|read| read.len() > name.len() && read.starts_with(name))
            || self.is_documented(name)
    }
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// Refuses a concatenated signed string whose cut into `pairs` could have been made elsewhere
/// with other values for the names the normalizer reads.
///
/// `name + value` pairs sorted by name and concatenated without separators do not fix where one
/// pair ends and the next begins: `SequenceNumber` `1` and `SequenceNumbe` `r1`, or `CallStatus`
/// `completed` followed by `Called` `+1` and `CallStatus` `completedCalled+1`, sign alike. Only
/// the sort order constrains a cut, so a re-cut is accepted only where it reads the same. The
/// rule, over `before` (the signed text ahead of the pairs: the URL, or Plivo's query part)
/// followed by the concatenation of `pairs` (sorted, as signed):
///
/// 1. every name is documented, or a plain CamelCase name (`[A-Z][A-Za-z0-9_-]*` with a
///    lower-case letter) that is not a proper prefix of a read name: a boundary moved into a
///    name leaves a lower-case or digit start (`ompleted`, `1`), a cut-short name, or the
///    all-capital tail of an identifier;
/// 2. a documented name that no pair has must not occur in the signed text except inside a
///    documented name (`Duration` inside `CallDuration`), nor, if the normalizer reads it,
///    inside a value: a pair absorbed into a neighbouring value, a name extended into a value
///    (`CallStatusc`), cut across a boundary, or a read pair moved into the URL leaves its name
///    there. Except inside the value of a free-text name that sorts after it (`Status` in a
///    Plivo `Text`): a pair absorbed into a value follows that value's name in sorted order
///    unless that name was itself made from text inside another value, so such a name would
///    have to be cut out of a value the provider generated, and the vocabulary's free-text
///    names are chosen to be absent from those;
/// 3. the value of a read name must not hold, after its first character, a place where another
///    pair could have started in sorted order: a capital starting an admissible name `n` with
///    `owner < n <= next` (the next name that starts after `n`), that does not cut or swallow a
///    documented name (rule 2 would refuse that cut). This is where a value that absorbed the
///    following pairs, or a value that gave its tail to the next name, shows.
///
/// **Limits.** Values are arbitrary text, so a complete rule would refuse genuine requests.
/// What remains: (a) a genuine request is refused when a value holds the exact name of a read
/// parameter the request lacks (rule 2; e.g. a Twilio inbound SMS `Body` containing
/// `ErrorCode`, or a Plivo `Body` containing `Status`, which sorts after `Body`),
/// when a read value holds CamelCase text that sorts right after its own name (rule 3; e.g. a
/// last `To` of `client:Zed`), or when it has an undocumented all-capital name; (b) a re-cut is
/// still accepted when it moves a boundary only through name-shaped text of an ignored
/// parameter's value (a `Body` holding `ErrorCode5` before a real `ErrorCode` of `7` can become
/// a `Body` ending before that text and an `ErrorCode` of `5ErrorCode7`), through undocumented
/// pairs next to a read value that rule 3 does not see, or when it cuts a read value that
/// starts with a capital down to blank (`Event` `Ring` as the last pair becomes an `Event`
/// with no value and a pair `Ring`). The event id is a hash of the whole signed concatenation,
/// so any accepted re-cut of a request already stored is a duplicate of it; only a re-cut
/// delivered before the original could be stored instead of it.
pub(crate) fn check_concatenation(
    before: &str,
    pairs: &[(&str, &str)],
    vocabulary: &Vocabulary<'_>,
) -> Result<(), WebhookError> {
    if !pairs.iter().all(|(name, _)| vocabulary.admits(name)) {
        return Err(WebhookError::AmbiguousSignedString(
            "a parameter name that is not a plain name or cuts a read name short",
        ));
    }
    // `(name start, value start, end)` of each pair in `text`.
    let mut text = String::from(before);
    let mut spans = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        let start = text.len();
        text.push_str(name);
        let value_start = text.len();
        text.push_str(value);
        spans.push((start, value_start, text.len()));
    }
    let named = |wanted: &str| pairs.iter().any(|(name, _)| *name == wanted);
    let inside_documented_name = |from: usize, to: usize| {
        pairs
            .iter()
            .zip(&spans)
            .any(|((name, _), (start, value_start, _))| {
                *start <= from && to <= *value_start && vocabulary.is_documented(name)
            })
    };
    let inside_value = |from: usize, to: usize| {
        to <= before.len()
            || spans
                .iter()
                .any(|(_, value_start, end)| *value_start <= from && to <= *end)
    };
    let inside_later_free_text = |name: &str, from: usize, to: usize| {
        pairs
            .iter()
            .zip(&spans)
            .any(|((owner, _), (_, value_start, end))| {
                vocabulary.free_text.contains(owner)
                    && name < *owner
                    && *value_start <= from
                    && to <= *end
            })
    };
    for known in [
        vocabulary.read,
        vocabulary.documented,
        vocabulary.exceptions,
    ] {
        for name in known.iter().filter(|name| !named(name)) {
            let is_read = vocabulary.read.contains(name);
            for (at, _) in text.match_indices(name) {
                let to = at + name.len();
                let refused = if is_read {
                    !inside_later_free_text(name, at, to)
                } else {
                    !inside_value(at, to)
                };
                if !inside_documented_name(at, to) && refused {
                    return Err(WebhookError::AmbiguousSignedString(
                        "a documented name is in the signed string but not a parameter",
                    ));
                }
            }
        }
    }
    let bytes = text.as_bytes();
    for (index, ((owner, _), (_, value_start, end))) in pairs.iter().zip(&spans).enumerate() {
        if !vocabulary.read.contains(owner) {
            continue;
        }
        // From the second byte: a cut at the value's start would leave it blank, which the
        // normalizers read as absent (see the limits above).
        for at in (*value_start + 1..*end).filter(|at| bytes[*at].is_ascii_uppercase()) {
            let run = bytes[at..]
                .iter()
                .take(MAX_NAME_CHARS)
                .take_while(|byte| is_name_byte(**byte))
                .count();
            let mut has_lower_case = false;
            for length in 1..=run {
                // ASCII from `at` to `at + length`, so both are character boundaries.
                let candidate = &text[at..at + length];
                has_lower_case |= bytes[at + length - 1].is_ascii_lowercase();
                if candidate <= *owner || !vocabulary.admits_name_shaped(candidate, has_lower_case)
                {
                    continue;
                }
                // A name the candidate would cut or swallow leaves its text outside a
                // documented name (refused by the rule above), unless it is not documented or
                // the candidate is a documented name that holds it whole.
                let overlapped = pairs[index + 1..].iter().zip(&spans[index + 1..]).any(
                    |((name, _), (start, value_start, _))| {
                        *start < at + length
                            && vocabulary.is_documented(name)
                            && !(vocabulary.is_documented(candidate) && *value_start <= at + length)
                    },
                );
                if overlapped {
                    continue;
                }
                let next = spans[index + 1..]
                    .iter()
                    .position(|(start, _, _)| *start >= at + length)
                    .map(|offset| pairs[index + 1 + offset].0);
                if next.is_none_or(|next| candidate <= next) {
                    return Err(WebhookError::AmbiguousSignedString(
                        "a value the reader uses could hold another parameter",
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCABULARY: Vocabulary<'static> = Vocabulary {
        read: &["CallSid", "CallStatus", "Direction", "SequenceNumber", "To"],
        documented: &["AccountSid", "Called", "Caller", "ParentCallSid", "ToCity"],
        exceptions: &["requester_ip"],
        free_text: &["Text"],
    };

    fn check(pairs: &[(&str, &str)]) -> Result<(), WebhookError> {
        let mut sorted = pairs.to_vec();
        sorted.sort_unstable();
        check_concatenation("https://h.example/p", &sorted, &VOCABULARY)
    }

    const GENUINE: [(&str, &str); 6] = [
        ("AccountSid", "AC1"),
        ("CallSid", "CA1234567890ABCDE"),
        ("CallStatus", "completed"),
        ("Called", "+1415"),
        ("SequenceNumber", "1"),
        ("To", "client:alice"),
    ];

    #[test]
    fn genuine_cuts_pass() {
        assert_eq!(check(&GENUINE), Ok(()));
        assert_eq!(check(&[("requester_ip", "1.2.3.4"), ("To", "+1")]), Ok(()));
        assert_eq!(
            check(&[("ParentCallSid", "CA2"), ("CallSid", "CA1"), ("To", "+1")]),
            Ok(())
        );
    }

    #[test]
    fn re_cuts_that_would_read_differently_are_refused() {
        let refused = [
            // A boundary moved into a read name, or a read name extended into its value.
            vec![("CallSid", "CA1"), ("SequenceNumbe", "r1"), ("To", "+1")],
            vec![
                ("CallSid", "CA1"),
                ("CallStatusc", "ompleted"),
                ("To", "+1"),
            ],
            // A pair merged into the previous value: a read name, or into a read value.
            vec![("CallSid", "CA1CallStatuscompleted"), ("To", "+1")],
            vec![
                ("CallSid", "CA1"),
                ("CallStatus", "completedCalled+1415"),
                ("To", "+1"),
            ],
            // A read name cut across a boundary.
            vec![("AccountSid", "AC1Call"), ("Sid", "CA1"), ("To", "+1")],
            // A read pair moved into the URL (`before`).
            vec![("CallStatus", "x"), ("To", "+1")],
        ];
        for pairs in refused {
            let mut sorted = pairs.clone();
            sorted.sort_unstable();
            let before = if pairs[0].0 == "CallStatus" {
                "https://h.example/p?a=CallSidCA1"
            } else {
                "https://h.example/p"
            };
            assert!(
                matches!(
                    check_concatenation(before, &sorted, &VOCABULARY),
                    Err(WebhookError::AmbiguousSignedString(_))
                ),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn a_read_name_inside_a_later_free_text_value_is_allowed() {
        for text in [
            "what is the CallStatus?",
            "Direction please",
            "ok SequenceNumber",
        ] {
            assert_eq!(
                check(&[("CallSid", "CA1"), ("Text", text), ("To", "+1")]),
                Ok(()),
                "{text}"
            );
        }
        // `To` sorts after `Text`: a `To` pair could have been absorbed into the value.
        assert!(matches!(
            check(&[("CallSid", "CA1"), ("Text", "a To b")]),
            Err(WebhookError::AmbiguousSignedString(_))
        ));
        // Outside a free-text value the rule is unchanged.
        assert!(matches!(
            check(&[
                ("AccountSid", "CallStatus"),
                ("CallSid", "CA1"),
                ("To", "+1")
            ]),
            Err(WebhookError::AmbiguousSignedString(_))
        ));
    }

    #[test]
    fn names_must_be_camel_case_or_documented() {
        for name in ["", "ompleted", "1", "QA", "A B", "Call"] {
            assert!(!VOCABULARY.admits(name), "{name}");
        }
        for name in [
            "SipHeader_X-Foo",
            "SIP-H-To",
            "Extra",
            "ToCity",
            "requester_ip",
        ] {
            assert!(VOCABULARY.admits(name), "{name}");
        }
        let long = format!("A{}", "a".repeat(MAX_NAME_CHARS));
        assert!(!VOCABULARY.admits(&long));
    }
}
