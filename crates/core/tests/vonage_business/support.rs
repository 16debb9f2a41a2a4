//! Requests and providers shared by the VIS tests.

use switchboard_core::providers::vonage_business::{VonageBusiness, VonageBusinessConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Event, Kind, ProviderId, SubjectState, Timestamp};

use crate::common::{self, at};
pub use crate::common::{proptest_config, time};

pub const KEY: &str = "mysecretkey";
pub const URL: &str = "https://hooks.example.com/webhooks/vonage-business";

pub fn now() -> Timestamp {
    at(1_577_880_000)
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
    common::json_post(URL, body)
}

/// Signs `body` (header policy) and receives it.
pub fn receive(body: &str) -> Event {
    common::receive_signed(&provider(), &post(body), now()).expect("valid")
}

/// Every order of `events`, each with its first event delivered twice, folds to one state.
pub fn assert_order_independent(subject_id: &str, events: &[Event]) -> SubjectState {
    common::assert_order_independent(ProviderId::VonageBusiness, Kind::Call, subject_id, events)
}
