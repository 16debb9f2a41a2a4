//! Differential property: a correctly signed Twilio callback, changed in any way an attacker can
//! without the Auth Token, is refused or gives the very same events (ids and fields) as the
//! original.
//!
//! The mutations keep the signature valid where they can: they re-cut the concatenation of
//! sorted `name + value` pairs that a form body signs (a boundary moved within a pair or between
//! two, two pairs merged, one split in two, a pair repeated), move text between the URL and the
//! body, change the method, the query, the percent-encoding (`%26`, `%3D`), unsigned headers,
//! host and path. Values are realistic (SIDs, numbers, words, RFC 2822 times) plus a free-text
//! field; the limits of the concatenation rule (`providers::shared::check_concatenation`) concern
//! values holding read parameter names, which the free text here does not.

use proptest::prelude::*;
use switchboard_core::{CapturedRequest, Event, Provider, Signer};

use crate::recuts::{layout, mutation, pairs_at, with_form_body, Mutation};

use crate::support::{form_post, get, now, proptest_config, twilio, URL};

const CALL_WORDS: [&str; 9] = [
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "no-answer",
    "canceled",
    "failed",
];
const MESSAGE_WORDS: [&str; 6] = [
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "received",
    "read",
];
const TIMES: [&str; 3] = [
    "Tue, 10 Jan 2023 16:24:05 +0000",
    "Wed, 11 Jan 2023 09:00:00 +0100",
    "Sun, 01 Dec 2024 23:59:59 -0800",
];
/// Words of free text (`CallerName`, `Body`): capitals, separators the encodings use, non-ASCII.
const FREE_WORDS: [&str; 12] = [
    "hello", "Bob", "OK", "x=1&y=2", "50%", "a+b", "é", "see", "you", "5pm", ".", "it's",
];

fn hex(length: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0_u8..16, length)
        .prop_map(|digits| digits.iter().map(|d| format!("{d:x}")).collect())
}

fn party() -> impl Strategy<Value = String> {
    prop_oneof![
        (1_000_000_000_u64..9_999_999_999).prop_map(|n| format!("+1{n}")),
        "[a-z]{1,8}".prop_map(|name| format!("client:{name}")),
        "[a-z]{1,6}".prop_map(|user| format!("sip:{user}@sip.example.com")),
    ]
}

fn free_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(&FREE_WORDS[..]), 1..5)
        .prop_map(|words| words.join(" "))
}

/// A call or message status callback's parameters, in no particular order.
fn callback() -> impl Strategy<Value = Vec<(String, String)>> {
    let call = (
        hex(32),
        proptest::sample::select(&CALL_WORDS[..]),
        0_u32..12,
        proptest::sample::select(&TIMES[..]),
        party(),
        party(),
        proptest::option::of(0_u32..4000),
        proptest::option::of(proptest::sample::select(&["human", "machine_start"][..])),
        proptest::option::of(free_text()),
    )
        .prop_map(
            |(sid, status, sequence, time, from, to, duration, answered, name)| {
                let mut pairs = vec![
                    (
                        "AccountSid",
                        "AC0123456789abcdef0123456789abcdef".to_owned(),
                    ),
                    ("ApiVersion", "2010-04-01".to_owned()),
                    ("CallSid", format!("CA{sid}")),
                    ("CallStatus", status.to_owned()),
                    ("CallbackSource", "call-progress-events".to_owned()),
                    ("Called", to.clone()),
                    ("Caller", from.clone()),
                    ("Direction", "outbound-api".to_owned()),
                    ("From", from),
                    ("SequenceNumber", sequence.to_string()),
                    ("Timestamp", time.to_owned()),
                    ("To", to),
                ];
                if let Some(duration) = duration {
                    pairs.push(("CallDuration", duration.to_string()));
                }
                if let Some(answered) = answered {
                    pairs.push(("AnsweredBy", answered.to_owned()));
                }
                if let Some(name) = name {
                    pairs.push(("CallerName", name));
                }
                pairs
            },
        );
    let message = (
        hex(32),
        proptest::sample::select(&MESSAGE_WORDS[..]),
        party(),
        party(),
        proptest::option::of(30_001_u32..30_010),
        proptest::option::of(free_text()),
    )
        .prop_map(|(sid, status, from, to, error, body)| {
            let sid = format!("SM{sid}");
            let mut pairs = vec![
                (
                    "AccountSid",
                    "AC0123456789abcdef0123456789abcdef".to_owned(),
                ),
                ("ApiVersion", "2010-04-01".to_owned()),
                ("From", from),
                ("MessageSid", sid.clone()),
                ("MessageStatus", status.to_owned()),
                ("SmsSid", sid),
                ("SmsStatus", status.to_owned()),
                ("To", to),
            ];
            if let Some(error) = error {
                pairs.push(("ErrorCode", error.to_string()));
            }
            if let Some(body) = body {
                pairs.push(("Body", body));
            }
            pairs
        });
    prop_oneof![call, message].prop_map(|pairs| {
        pairs
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    })
}

/// How the original is sent.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Form,
    FormWithQuery,
    Get,
}

fn original(shape: Shape, params: &[(String, String)]) -> CapturedRequest {
    let unsigned = match shape {
        Shape::Form => form_post(URL, params),
        Shape::FormWithQuery => form_post(&format!("{URL}?tenant=a.b"), params),
        Shape::Get => get(URL, params),
    };
    twilio().sign(&unsigned, now()).expect("signable")
}

/// The signed pairs of a form body, sorted and distinct, as the signature concatenates them.
fn signed_pairs(request: &CapturedRequest) -> Vec<(String, String)> {
    let mut pairs = switchboard_core::request::parse_form(&request.body);
    pairs.sort();
    pairs.dedup();
    pairs
}

/// `request` changed by `mutation`, or `None` when the mutation does not apply to it.
fn mutate(request: &CapturedRequest, mutation: &Mutation) -> Option<CapturedRequest> {
    let pairs = signed_pairs(request);
    let (text, cuts) = layout(&pairs);
    let is_form = !request.body.is_empty();
    let mut changed = request.clone();
    match mutation.kind {
        // A boundary (name/value, or value/next name) moved anywhere between its neighbours.
        0 | 1 if is_form && cuts.len() > 1 => {
            let which = 1 + mutation.first.index(cuts.len() - 1);
            let low = cuts[which - 1];
            let high = cuts.get(which + 1).copied().unwrap_or(text.len());
            let mut moved = cuts.clone();
            moved[which] = low + mutation.second.index(high - low + 1);
            changed = with_form_body(request, &pairs_at(&text, &moved)?);
        }
        // Two adjacent pairs merged into the first one's value.
        2 if is_form && pairs.len() > 1 => {
            let pair = mutation.first.index(pairs.len() - 1);
            let mut merged = cuts.clone();
            merged.drain(2 * pair + 2..2 * pair + 4);
            changed = with_form_body(request, &pairs_at(&text, &merged)?);
        }
        // One pair's value split into a value and a new pair.
        3 if is_form => {
            let pair = mutation.first.index(pairs.len());
            let value_start = cuts[2 * pair + 1];
            let end = cuts.get(2 * pair + 2).copied().unwrap_or(text.len());
            let name_at = value_start + mutation.second.index(end - value_start + 1);
            let value_at = name_at + mutation.third.index(end - name_at + 1);
            let mut split = cuts.clone();
            split.splice(2 * pair + 2..2 * pair + 2, [name_at, value_at]);
            changed = with_form_body(request, &pairs_at(&text, &split)?);
        }
        // Any re-cut into as many pairs: every boundary at a random place.
        4 if is_form => {
            let mut random: Vec<usize> = (1..cuts.len())
                .map(|index| {
                    let seed = [&mutation.first, &mutation.second, &mutation.third][index % 3];
                    (seed.index(text.len() + 1) + index * 7) % (text.len() + 1)
                })
                .collect();
            random.sort_unstable();
            random.insert(0, 0);
            changed = with_form_body(request, &pairs_at(&text, &random)?);
        }
        // A pair repeated.
        5 if is_form => {
            let mut repeated = switchboard_core::request::parse_form(&request.body);
            let pair = repeated[mutation.first.index(repeated.len())].clone();
            repeated.push(pair);
            changed = with_form_body(request, &repeated);
        }
        // Text moved from the start of the signed pairs to the end of the URL.
        6 if is_form => {
            let moved = mutation.first.index(text.len().min(40) + 1);
            let shifted: Vec<usize> = cuts.iter().map(|cut| cut.saturating_sub(moved)).collect();
            let rest = pairs_at(text.get(moved..)?, &shifted)?;
            changed.url = format!("{}{}", request.url, &text[..moved]);
            changed = with_form_body(&changed, &rest);
        }
        // Text moved from the end of the URL to the start of the first name.
        7 if is_form => {
            let cut = request.url.len() - mutation.first.index(12.min(request.url.len()));
            let (url, moved) = request.url.split_at(cut);
            let mut body = pairs.clone();
            body[0].0 = format!("{moved}{}", body[0].0);
            changed.url = url.to_owned();
            changed = with_form_body(&changed, &body);
        }
        // The method swapped; a form body moved into the query or the query into a body.
        8 => {
            if is_form {
                changed.method = "GET".into();
                if mutation.first.index(2) == 0 {
                    let raw = String::from_utf8(request.body.clone()).ok()?;
                    let separator = if request.url.contains('?') { '&' } else { '?' };
                    changed.url = format!("{}{separator}{raw}", request.url);
                    changed.body.clear();
                }
            } else {
                let query = request.query_params();
                changed.url = URL.to_owned();
                changed = with_form_body(&changed, &query);
            }
        }
        // A parameter added to the query or the body.
        9 => {
            let extra =
                ["SequenceNumber", "CallStatus", "ErrorCode", "Extra"][mutation.first.index(4)];
            if is_form && mutation.second.index(2) == 0 {
                let mut body = switchboard_core::request::parse_form(&request.body);
                body.push((extra.to_owned(), "9".to_owned()));
                changed = with_form_body(request, &body);
            } else {
                let separator = if request.url.contains('?') { '&' } else { '?' };
                changed.url = format!("{}{separator}{extra}=9", request.url);
            }
        }
        // `&` or `=` of the raw query or body percent-encoded, or `%26`/`%3D` decoded.
        10 => {
            let (from, to) =
                [("&", "%26"), ("=", "%3D"), ("%26", "&"), ("%3D", "=")][mutation.first.index(4)];
            let in_body = is_form && mutation.second.index(2) == 0;
            let source = if in_body {
                String::from_utf8(request.body.clone()).ok()?
            } else {
                request.url.clone()
            };
            let places: Vec<usize> = source.match_indices(from).map(|(at, _)| at).collect();
            if places.is_empty() {
                return None;
            }
            let at = places[mutation.third.index(places.len())];
            let replaced = format!("{}{to}{}", &source[..at], &source[at + from.len()..]);
            if in_body {
                changed.body = replaced.into_bytes();
            } else {
                changed.url = replaced;
            }
        }
        // Headers the scheme does not sign.
        11 => {
            let content_type = [
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded; charset=iso-8859-1",
                "APPLICATION/X-WWW-FORM-URLENCODED",
            ][mutation.first.index(4)];
            changed.set_header("content-type", content_type);
            changed.set_header("x-forwarded-for", "203.0.113.9");
        }
        // Host, port and path spellings.
        12 => {
            changed.url = match mutation.first.index(5) {
                0 => request
                    .url
                    .replacen("hooks.example.com", "hooks.example.com:443", 1),
                1 => request.url.replacen("https://", "http://", 1),
                2 => request
                    .url
                    .replacen("/webhooks/twilio", "/webhooks/twilio/", 1),
                3 => request
                    .url
                    .replacen("hooks.example.com", "evil.example.com", 1),
                _ => format!("{}#fragment", request.url),
            };
        }
        // A body added to a `GET`, or the body removed.
        13 => {
            if is_form {
                changed.body.clear();
            } else {
                changed.body = b"CallStatus=completed".to_vec();
                changed.set_header("content-type", "application/x-www-form-urlencoded");
            }
        }
        // A JSON body with a made-up `bodySHA256`.
        14 => {
            changed.body = br#"{"CallSid":"CA1","CallStatus":"completed"}"#.to_vec();
            changed.set_header("content-type", "application/json");
            changed.url = format!("{}?bodySHA256=00", request.url);
        }
        // The same boundary move on the last pair's value end into the URL-free tail.
        15 if is_form => {
            let mut body = pairs.clone();
            let last = body.len() - 1;
            let value = body[last].1.clone();
            let keep = mutation.first.index(value.len() + 1);
            if !value.is_char_boundary(keep) {
                return None;
            }
            body[last].1 = value[..keep].to_owned();
            body.push((value[keep..].to_owned(), String::new()));
            changed = with_form_body(request, &body);
        }
        _ => return None,
    }
    Some(changed)
}

fn receive(request: &CapturedRequest) -> Result<Vec<Event>, switchboard_core::WebhookError> {
    twilio().receive(request, now())
}

proptest! {
    #![proptest_config(proptest_config(512))]

    #[test]
    fn every_mutation_is_refused_or_reads_the_same(
        params in callback(),
        shape in proptest::sample::select(&[Shape::Form, Shape::FormWithQuery, Shape::Get][..]),
        mutations in proptest::collection::vec(mutation(), 8),
    ) {
        let request = original(shape, &params);
        let events = receive(&request);
        prop_assert!(events.is_ok(), "original refused: {events:?}\n{request:?}");
        let events = events.unwrap_or_default();
        for mutation in &mutations {
            let Some(changed) = mutate(&request, mutation) else { continue };
            if let Ok(other) = receive(&changed) {
                prop_assert_eq!(
                    &other,
                    &events,
                    "{:?} accepted with other events: {} {}\n{}",
                    mutation,
                    changed.method,
                    changed.url,
                    String::from_utf8_lossy(&changed.body)
                );
            }
        }
    }
}
