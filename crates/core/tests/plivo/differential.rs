//! Differential property: a correctly signed Plivo callback, changed in any way an attacker can
//! without the Auth Token, is refused or gives the very same events (ids and fields) as the
//! original.
//!
//! V3 originals (form `POST` or `GET`, with or without a query) are mutated as in the Twilio
//! test: the body's concatenated pairs re-cut (a boundary moved, two pairs merged, one split),
//! parameters moved between query and body or added, the method swapped, `%26`/`%3D` in the
//! query or body, the nonce taking the end of the signed string (`<suffix>.<nonce>`), signature
//! headers swapped, unsigned headers, host and path. V2 originals (with `PLIVO_ACCEPT_V2` on)
//! get the same mutations; V2 does not sign the parameters, so there the property is only that
//! an accepted mutation keeps the original's event id (the nonce's).

use proptest::prelude::*;
use switchboard_core::providers::plivo::signature;
use switchboard_core::request::parse_form;
use switchboard_core::{CapturedRequest, Event, Provider, Signer, WebhookError};

use crate::recuts::{layout, mutation, pairs_at, with_form_body, Mutation};

use crate::support::{
    form_encode, form_post, get, now, plivo, plivo_accepting_v2, proptest_config, TOKEN, URL,
};

const CALL_WORDS: [(&str, &str); 5] = [
    ("ringing", "Ring"),
    ("in-progress", "StartApp"),
    ("completed", "Hangup"),
    ("busy", "Hangup"),
    ("in-progress", "Redirect"),
];
const MESSAGE_WORDS: [&str; 5] = ["queued", "sent", "delivered", "undelivered", "failed"];
/// Words of free text (a custom SIP header): capitals, separators, non-ASCII.
const FREE_WORDS: [&str; 10] = [
    "hello",
    "Bob",
    "x=1",
    "50%",
    "a+b",
    "é",
    "<sip:a@b;tag=1>",
    ".",
    "it's",
    "0.5",
];

fn uuid() -> impl Strategy<Value = String> {
    proptest::collection::vec(0_u8..16, 32).prop_map(|digits| {
        let hex: String = digits.iter().map(|d| format!("{d:x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    })
}

fn party() -> impl Strategy<Value = String> {
    prop_oneof![
        (10_000_000_000_u64..19_999_999_999).prop_map(|n| n.to_string()),
        "[a-z]{1,6}".prop_map(|user| format!("sip:{user}@phone.plivo.com")),
    ]
}

fn free_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(&FREE_WORDS[..]), 1..4)
        .prop_map(|words| words.join(" "))
}

/// A call or message callback's parameters.
fn callback() -> impl Strategy<Value = Vec<(String, String)>> {
    let call = (
        uuid(),
        proptest::sample::select(&CALL_WORDS[..]),
        party(),
        party(),
        proptest::option::of(0_u32..4000),
        proptest::option::of(free_text()),
        proptest::bool::ANY,
    )
        .prop_map(
            |(id, (status, event), from, to, duration, header, parent)| {
                let mut pairs = vec![
                    ("ALegRequestUUID", id.clone()),
                    ("ALegUUID", id.clone()),
                    ("BillRate", "0.002".to_owned()),
                    ("CallStatus", status.to_owned()),
                    ("CallUUID", id.clone()),
                    ("Direction", "outbound".to_owned()),
                    ("Event", event.to_owned()),
                    ("From", from),
                    ("RequestUUID", id),
                    ("SessionStart", "2020-04-08 11:34:33.238707".to_owned()),
                    ("To", to),
                ];
                if let Some(duration) = duration {
                    pairs.push(("Duration", duration.to_string()));
                    pairs.push(("BillDuration", duration.to_string()));
                    pairs.push(("HangupCause", "NORMAL_CLEARING".to_owned()));
                }
                if let Some(header) = header {
                    pairs.push(("SIP-H-To", header));
                }
                if parent {
                    pairs.push(("ParentAuthID", "MANWVLYTK4ZWU1YTY4QA".to_owned()));
                }
                pairs
            },
        );
    let message = (
        uuid(),
        proptest::sample::select(&MESSAGE_WORDS[..]),
        1_u32..6,
        party(),
        party(),
        proptest::option::of(10_u32..500),
    )
        .prop_map(|(id, status, sequence, from, to, error)| {
            let mut pairs = vec![
                ("From", from),
                ("MCC", "310".to_owned()),
                ("MNC", "260".to_owned()),
                ("MessageUUID", id),
                ("Sequence", sequence.to_string()),
                ("Status", status.to_owned()),
                ("To", to),
                ("TotalAmount", "0.00850".to_owned()),
                ("TotalRate", "0.00850".to_owned()),
                ("Type", "sms".to_owned()),
                ("Units", "1".to_owned()),
            ];
            if let Some(error) = error {
                pairs.push(("ErrorCode", error.to_string()));
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

#[derive(Debug, Clone, Copy)]
enum Shape {
    Post,
    PostWithQuery,
    Get,
    GetWithQuery,
}

const SHAPES: [Shape; 4] = [
    Shape::Post,
    Shape::PostWithQuery,
    Shape::Get,
    Shape::GetWithQuery,
];

fn unsigned(shape: Shape, params: &[(String, String)]) -> CapturedRequest {
    let with_query = format!("{URL}?tenant=a.b");
    match shape {
        Shape::Post => form_post(URL, params),
        Shape::PostWithQuery => form_post(&with_query, params),
        Shape::Get => get(URL, params),
        Shape::GetWithQuery => get(&with_query, params),
    }
}

/// Signed with V2, as Plivo's messaging products do, and a fixed nonce.
fn signed_v2(request: &CapturedRequest) -> CapturedRequest {
    let nonce = "27309217384570237410";
    request
        .clone()
        .with_header(
            "X-Plivo-Signature-V2",
            &signature::v2(TOKEN, &request.url, nonce),
        )
        .with_header("X-Plivo-Signature-V2-Nonce", nonce)
}

/// The parameters the signature concatenates or joins: the body of a `POST` with one, else the
/// query, sorted.
fn callback_pairs(request: &CapturedRequest) -> Vec<(String, String)> {
    let mut pairs = if request.method == "POST" && !request.body.is_empty() {
        parse_form(&request.body)
    } else {
        request.query_params()
    };
    pairs.sort();
    pairs
}

/// `request` changed by `mutation`, or `None` when the mutation does not apply to it.
fn mutate(request: &CapturedRequest, mutation: &Mutation) -> Option<CapturedRequest> {
    let is_form = request.method == "POST" && !request.body.is_empty();
    let pairs = callback_pairs(request);
    let (text, cuts) = layout(&pairs);
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
        // The nonce takes the end of the signed string: `base + "." + nonce` is unchanged when
        // the last signed value loses `.rest` and the nonce becomes `rest.nonce`.
        4 => {
            let (name, value) = pairs.last()?.clone();
            let dots: Vec<usize> = value.match_indices('.').map(|(at, _)| at).collect();
            let dot = *dots.get(mutation.first.index(dots.len().max(1)))?;
            let mut shortened = pairs.clone();
            let last = shortened.len() - 1;
            shortened[last] = (name, value[..dot].to_owned());
            let nonce_header = ["x-plivo-signature-v3-nonce", "x-plivo-signature-v2-nonce"]
                .into_iter()
                .find(|header| request.header(header).is_some())?;
            let nonce = request.header(nonce_header)?;
            changed.set_header(nonce_header, &format!("{}.{nonce}", &value[dot + 1..]));
            if is_form {
                changed = with_form_body(&changed, &shortened);
            } else {
                let path = signature::base_url(&request.url).to_owned();
                changed.url = format!("{path}?{}", form_encode(&shortened));
            }
        }
        // A pair repeated.
        5 if is_form => {
            let mut repeated = parse_form(&request.body);
            let pair = repeated[mutation.first.index(repeated.len())].clone();
            repeated.push(pair);
            changed = with_form_body(request, &repeated);
        }
        // Pairs moved from the body to the query, or from the query to the body.
        6 => {
            let mut query = request.query_params();
            let mut body = parse_form(&request.body);
            if is_form && mutation.first.index(2) == 0 {
                let count = 1 + mutation.second.index(body.len());
                query.extend(body.drain(..count));
            } else if !query.is_empty() {
                let count = 1 + mutation.second.index(query.len());
                body.extend(query.drain(..count));
            }
            changed.url = format!(
                "{}?{}",
                signature::base_url(&request.url),
                form_encode(&query)
            );
            changed = with_form_body(&changed, &body);
        }
        // The whole signed tail moved into one query value or one body pair.
        7 => {
            let tail = text.clone();
            if mutation.first.index(2) == 0 {
                changed = with_form_body(request, &[(tail, String::new())]);
                changed.url = signature::base_url(&request.url).to_owned();
            } else {
                changed.method = "GET".into();
                changed.body.clear();
                let (name, value) = tail.split_once('=').unwrap_or((tail.as_str(), ""));
                changed.url = format!(
                    "{}?{}",
                    signature::base_url(&request.url),
                    form_encode(&[(name.to_owned(), value.to_owned())])
                );
            }
        }
        // The method swapped.
        8 => {
            changed.method = if request.method == "GET" {
                "POST"
            } else {
                "GET"
            }
            .into();
        }
        // A parameter added to the query or the body.
        9 => {
            let extra = ["Sequence", "CallStatus", "Event", "Extra"][mutation.first.index(4)];
            if is_form && mutation.second.index(2) == 0 {
                let mut body = parse_form(&request.body);
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
        // Headers the scheme does not sign, and signature headers swapped.
        11 => match mutation.first.index(4) {
            0 => changed.set_header("content-type", "text/plain"),
            1 => {
                changed.set_header(
                    "content-type",
                    "application/x-www-form-urlencoded; charset=x",
                );
                changed.set_header("x-forwarded-for", "203.0.113.9");
            }
            2 => {
                let v3 = changed.headers.remove("x-plivo-signature-v3")?;
                changed.set_header("X-Plivo-Signature-Ma-V3", &v3);
            }
            _ => {
                changed.headers.remove("x-plivo-signature-v3");
                changed.set_header("X-Plivo-Signature-V2", "AAAA");
                changed.set_header("X-Plivo-Signature-V2-Nonce", "1");
            }
        },
        // Host, port and path spellings.
        12 => {
            changed.url = match mutation.first.index(5) {
                0 => request
                    .url
                    .replacen("hooks.example.com", "hooks.example.com:443", 1),
                1 => request.url.replacen("https://", "http://", 1),
                2 => request
                    .url
                    .replacen("/webhooks/plivo", "/webhooks/plivo/", 1),
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
        // The nonce with a leading zero or blanks (digits still).
        14 => {
            let header = ["x-plivo-signature-v3-nonce", "x-plivo-signature-v2-nonce"]
                .into_iter()
                .find(|header| request.header(header).is_some())?;
            let nonce = request.header(header)?.to_owned();
            changed.set_header(header, &format!(" 0{nonce} "));
        }
        // Any re-cut into as many pairs: every boundary at a pseudo-random place.
        15 if is_form => {
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
        _ => return None,
    }
    Some(changed)
}

fn describe(request: &CapturedRequest) -> String {
    format!(
        "{} {} {:?}\n{}",
        request.method,
        request.url,
        request.headers,
        String::from_utf8_lossy(&request.body)
    )
}

proptest! {
    #![proptest_config(proptest_config(384))]

    #[test]
    fn every_v3_mutation_is_refused_or_reads_the_same(
        params in callback(),
        shape in proptest::sample::select(&SHAPES[..]),
        mutations in proptest::collection::vec(mutation(), 8),
    ) {
        let request = plivo().sign(&unsigned(shape, &params), now()).expect("signable");
        let events = plivo().receive(&request, now());
        prop_assert!(events.is_ok(), "original refused: {events:?}\n{}", describe(&request));
        let events: Vec<Event> = events.unwrap_or_default();
        for mutation in &mutations {
            let Some(changed) = mutate(&request, mutation) else { continue };
            // With V2 accepted too, a mutation that reaches V2 must still fail.
            for provider in [plivo(), plivo_accepting_v2(&[TOKEN])] {
                if let Ok(other) = provider.receive(&changed, now()) {
                    prop_assert_eq!(
                        &other,
                        &events,
                        "{:?} accepted with other events: {}",
                        mutation,
                        describe(&changed)
                    );
                }
            }
        }
    }

    #[test]
    fn every_v2_mutation_is_refused_or_keeps_the_event_id(
        params in callback(),
        shape in proptest::sample::select(&SHAPES[..]),
        mutations in proptest::collection::vec(mutation(), 8),
    ) {
        let request = signed_v2(&unsigned(shape, &params));
        let provider = plivo_accepting_v2(&[TOKEN]);
        let events = provider.receive(&request, now());
        prop_assert!(events.is_ok(), "original refused: {events:?}\n{}", describe(&request));
        let events: Vec<Event> = events.unwrap_or_default();
        prop_assert!(matches!(
            plivo().receive(&request, now()),
            Err(WebhookError::MissingSignature(_))
        ));
        for mutation in &mutations {
            let Some(changed) = mutate(&request, mutation) else { continue };
            if let Ok(other) = provider.receive(&changed, now()) {
                prop_assert_eq!(
                    &other[0].event_id,
                    &events[0].event_id,
                    "{:?} accepted with another event id: {}",
                    mutation,
                    describe(&changed)
                );
            }
            prop_assert!(plivo().receive(&changed, now()).is_err());
        }
    }
}
