//! Requests and providers shared by the Twilio tests.

use switchboard_core::providers::twilio::{Twilio, TwilioConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Event, Provider, Signer, Timestamp};

pub use crate::common::{
    assert_every_order_reaches, assert_invalid_signature, at, change_one_byte, fold, form_encode,
    form_post, get, pairs, proptest_config,
};

pub const TOKEN: &str = "12345";
pub const URL: &str = "https://hooks.example.com/webhooks/twilio";

pub fn now() -> Timestamp {
    at(1_673_367_845)
}

pub fn twilio_with(tokens: &[&str]) -> Twilio {
    Twilio::new(TwilioConfig {
        secrets: tokens.iter().map(|token| Secret::new(*token)).collect(),
    })
}

pub fn twilio() -> Twilio {
    twilio_with(&[TOKEN])
}

/// A callback signed with [`TOKEN`], sent as a form `POST`.
pub fn signed_post(params: &[(&str, &str)]) -> CapturedRequest {
    twilio()
        .sign(&form_post(URL, &pairs(params)), now())
        .expect("signable")
}

/// Verifies and normalizes, expecting exactly one event.
pub fn receive_one(request: &CapturedRequest) -> Event {
    let mut events = twilio().receive(request, now()).expect("accepted");
    assert_eq!(events.len(), 1);
    events.remove(0)
}
