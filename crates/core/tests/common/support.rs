//! Form requests and state folding shared by the support modules of the Twilio and Plivo test
//! crates (each includes this file by `#[path]`).

use switchboard_core::{CapturedRequest, Event, Kind, SubjectState};

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

/// An unsigned form `POST`, as the providers send status callbacks.
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

/// Folds events into a fresh state for their subject.
pub fn fold(kind: Kind, events: &[Event]) -> SubjectState {
    let mut state = SubjectState::new(events[0].provider, kind, events[0].subject_id.clone());
    for event in events {
        state.apply(event);
    }
    state
}
