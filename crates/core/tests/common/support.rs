//! Helpers shared by the provider test crates, each of which includes this file by `#[path]` as
//! `mod common` and re-exports what it uses from its own `support` module: times, unsigned
//! requests, signing then receiving, folding events in every order, and the one configuration
//! of the property tests.
//! What a provider alone has (its secret, URL, provider constructor, payloads) stays in its own
//! `support.rs`.

// Each crate includes the whole file and uses only the helpers its provider needs.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use switchboard_core::{
    CapturedRequest, Event, Kind, ProviderId, Signer, Status, SubjectState, Timestamp, WebhookError,
};

/// The seed of every property test, unless `PROPTEST_RNG_SEED` gives another.
pub const PROPTEST_SEED: u64 = 0x5eed_5b0a;

/// The configuration of every property test: `cases` cases drawn from one fixed seed,
/// [`PROPTEST_SEED`], so that each run tries the same cases and a failure reproduces as it is.
///
/// `PROPTEST_RNG_SEED=<u64> cargo test -p switchboard-core` draws from another seed (proptest
/// reads the variable into its default configuration; any value set there is kept), to explore
/// beyond the fixed cases. No failure-persistence files are written: the seed reproduces.
pub fn proptest_config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    if matches!(config.rng_seed, RngSeed::Random) {
        config.rng_seed = RngSeed::Fixed(PROPTEST_SEED);
    }
    config
}

/// No `Content-Type`, JSON, a form, or `text/plain`.
pub fn any_content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        None,
        Some("application/json"),
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
    ])
}

pub fn at(unix_seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix_seconds)
}

pub fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("RFC 3339")
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

pub fn form_encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// An unsigned form `POST` of an encoded `body`.
pub fn form_body_post(url: &str, body: &str) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body)
}

/// An unsigned form `POST`, as the providers send status callbacks.
pub fn form_post(url: &str, params: &[(String, String)]) -> CapturedRequest {
    form_body_post(url, &form_encode(params))
}

/// An unsigned `GET` with the parameters appended to the URL's query.
pub fn get(url: &str, params: &[(String, String)]) -> CapturedRequest {
    let separator = if url.contains('?') { '&' } else { '?' };
    CapturedRequest::new("GET", &format!("{url}{separator}{}", form_encode(params)))
}

/// An unsigned JSON `POST` of `body`.
pub fn json_post(url: &str, body: &str) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/json")
        .with_body(body)
}

/// An unsigned JSON `POST` of a flat object of these string fields.
pub fn json_fields_post(url: &str, params: &[(String, String)]) -> CapturedRequest {
    let object: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
        .collect();
    json_post(url, &serde_json::Value::Object(object).to_string())
}

/// `value` with its first character replaced by `X` (or `Y` where it already is `X`): one
/// changed byte, for tampering with a signature or parameter.
pub fn change_one_byte(value: &str) -> String {
    let replacement = if value.starts_with('X') { "Y" } else { "X" };
    match value.char_indices().nth(1) {
        Some((second, _)) => format!("{replacement}{}", &value[second..]),
        None => replacement.to_owned(),
    }
}

pub fn assert_invalid_signature(result: Result<(), WebhookError>, context: &str) {
    assert!(
        matches!(result, Err(WebhookError::InvalidSignature(_))),
        "{context}: {result:?}"
    );
}

pub fn assert_malformed(result: Result<(), WebhookError>, context: &str) {
    assert!(
        matches!(result, Err(WebhookError::Malformed(_))),
        "{context}: {result:?}"
    );
}

/// Signs `unsigned` with `provider` at `at_time`, then receives it there, expecting one event.
pub fn receive_signed(
    provider: &impl Signer,
    unsigned: &CapturedRequest,
    at_time: Timestamp,
) -> Result<Event, WebhookError> {
    let signed = provider.sign(unsigned, at_time)?;
    let mut events = provider.receive(&signed, at_time)?;
    assert_eq!(events.len(), 1);
    Ok(events.remove(0))
}

/// Folds events into a fresh state for their subject.
pub fn fold(kind: Kind, events: &[Event]) -> SubjectState {
    let mut state = SubjectState::new(events[0].provider, kind, events[0].subject_id.clone());
    for event in events {
        state.apply(event);
    }
    state
}

/// Every permutation of `events`, and each with every event duplicated, reaches `expected`.
pub fn assert_every_order_reaches(kind: Kind, events: &[Event], expected: Status) {
    let mut permutations = vec![Vec::new()];
    for event in events {
        permutations = permutations
            .into_iter()
            .flat_map(|done: Vec<Event>| {
                (0..=done.len()).map(move |index| {
                    let mut next = done.clone();
                    next.insert(index, event.clone());
                    next
                })
            })
            .collect();
    }
    let reference = fold(kind, events).summary(events.len() as u64);
    for order in permutations {
        let mut doubled = order.clone();
        doubled.extend(order.iter().rev().cloned());
        for sequence in [&order, &doubled] {
            let summary = fold(kind, sequence).summary(events.len() as u64);
            assert_eq!(summary.status, Some(expected));
            assert_eq!(summary, reference);
        }
    }
}

/// Folds `events`, each about `subject_id`, into a fresh state for that subject.
pub fn fold_subject(
    provider: ProviderId,
    kind: Kind,
    subject_id: &str,
    events: &[Event],
) -> SubjectState {
    let mut state = SubjectState::new(provider, kind, subject_id);
    for event in events {
        assert_eq!(event.subject_id, subject_id);
        state.apply(event);
    }
    state
}

/// Every order of `events` (all permutations: keep to a handful of events), each with the first
/// event delivered twice, folds to the same state as the given order, which it returns.
pub fn assert_order_independent(
    provider: ProviderId,
    kind: Kind,
    subject_id: &str,
    events: &[Event],
) -> SubjectState {
    let expected = fold_subject(provider, kind, subject_id, events);
    let mut indices: Vec<usize> = (0..events.len()).collect();
    permute(&mut indices, 0, &mut |order| {
        let mut arrival: Vec<Event> = order.iter().map(|&index| events[index].clone()).collect();
        arrival.push(events[order[0]].clone());
        assert_eq!(
            fold_subject(provider, kind, subject_id, &arrival),
            expected,
            "order {order:?}"
        );
    });
    expected
}

fn permute(items: &mut Vec<usize>, start: usize, visit: &mut impl FnMut(&[usize])) {
    if start == items.len() {
        visit(items);
        return;
    }
    for index in start..items.len() {
        items.swap(start, index);
        permute(items, start + 1, visit);
        items.swap(start, index);
    }
}
