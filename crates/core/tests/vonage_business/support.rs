//! Requests and providers shared by the VIS tests.

use switchboard_core::providers::vonage_business::{VonageBusiness, VonageBusinessConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{
    CapturedRequest, Event, Kind, Provider, ProviderId, Signer, SubjectState, Timestamp,
};

pub const KEY: &str = "mysecretkey";
pub const URL: &str = "https://hooks.example.com/webhooks/vonage-business";

pub fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_577_880_000)
}

pub fn provider_with(keys: &[&str]) -> VonageBusiness {
    VonageBusiness::new(VonageBusinessConfig {
        secrets: keys.iter().map(|key| Secret::new(*key)).collect(),
    })
}

pub fn provider() -> VonageBusiness {
    provider_with(&[KEY])
}

pub fn post(body: &str) -> CapturedRequest {
    CapturedRequest::new("POST", URL)
        .with_header("content-type", "application/json")
        .with_body(body)
}

/// Signs `body` (header policy) and receives it.
pub fn receive(body: &str) -> Event {
    let provider = provider();
    let signed = provider.sign(&post(body), now()).expect("signed");
    let mut events = provider.receive(&signed, now()).expect("valid");
    assert_eq!(events.len(), 1);
    events.remove(0)
}

pub fn fold(subject_id: &str, events: &[Event]) -> SubjectState {
    let mut state = SubjectState::new(ProviderId::VonageBusiness, Kind::Call, subject_id);
    for event in events {
        state.apply(event);
    }
    state
}

/// Every order of `events`, each with its first event delivered twice, folds to one state.
pub fn assert_order_independent(subject_id: &str, events: &[Event]) -> SubjectState {
    let expected = fold(subject_id, events);
    let mut indices: Vec<usize> = (0..events.len()).collect();
    permute(&mut indices, 0, &mut |order| {
        let mut arrival: Vec<Event> = order.iter().map(|&index| events[index].clone()).collect();
        arrival.push(events[order[0]].clone());
        assert_eq!(fold(subject_id, &arrival), expected, "order {order:?}");
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
