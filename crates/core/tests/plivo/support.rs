//! Requests and providers shared by the Plivo tests.

use switchboard_core::providers::plivo::{Plivo, PlivoConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Event, Kind, Provider, Signer, SubjectState, Timestamp};

pub const TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
pub const URL: &str = "https://hooks.example.com/webhooks/plivo";

pub fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_586_345_673)
}

pub fn plivo_with(tokens: &[&str]) -> Plivo {
    Plivo::new(PlivoConfig {
        secrets: tokens.iter().map(|token| Secret::new(*token)).collect(),
        accept_v2: false,
    })
}

/// A provider that also accepts V2 signatures (`PLIVO_ACCEPT_V2=true`).
pub fn plivo_accepting_v2(tokens: &[&str]) -> Plivo {
    Plivo::new(PlivoConfig {
        secrets: tokens.iter().map(|token| Secret::new(*token)).collect(),
        accept_v2: true,
    })
}

pub fn plivo() -> Plivo {
    plivo_with(&[TOKEN])
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

/// An unsigned form `POST`.
pub fn form_post(url: &str, params: &[(String, String)]) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form_encode(params))
}

/// An unsigned `GET` with the parameters appended to the URL's query.
pub fn get(url: &str, params: &[(String, String)]) -> CapturedRequest {
    let separator = if url.contains('?') { '&' } else { '?' };
    CapturedRequest::new("GET", &format!("{url}{separator}{}", form_encode(params)))
}

/// A callback signed with [`TOKEN`] (V3), sent as a form `POST`.
pub fn signed_post(params: &[(&str, &str)]) -> CapturedRequest {
    plivo()
        .sign(&form_post(URL, &pairs(params)), now())
        .expect("signable")
}

/// Verifies and normalizes, expecting exactly one event.
pub fn receive_one(request: &CapturedRequest) -> Event {
    let mut events = plivo().receive(request, now()).expect("accepted");
    assert_eq!(events.len(), 1);
    events.remove(0)
}

/// Folds events into a fresh state for their subject.
pub fn fold(kind: Kind, events: &[Event]) -> SubjectState {
    let mut state = SubjectState::new(events[0].provider, kind, events[0].subject_id.clone());
    for event in events {
        state.apply(event);
    }
    state
}
