//! Requests and providers shared by the Plivo tests.

use switchboard_core::providers::plivo::{Plivo, PlivoConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Event, Provider, Signer, Timestamp};

pub use crate::common::{
    assert_every_order_reaches, assert_invalid_signature, at, change_one_byte, fold, form_encode,
    form_post, get, pairs, proptest_config,
};

pub const TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
pub const URL: &str = "https://hooks.example.com/webhooks/plivo";

pub fn now() -> Timestamp {
    at(1_586_345_673)
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
