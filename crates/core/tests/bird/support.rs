//! Keys, requests and providers shared by the Bird tests.

use switchboard_core::providers::bird::{Bird, BirdConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Timestamp};

use crate::common::{self, at};
pub use crate::common::{proptest_config, receive_signed, time};

/// The signing key of the call tests.
pub const KEY: &str = "secureSigningKey";
pub const URL: &str = "https://hooks.example.com/webhooks/bird";
pub const NOW: i64 = 1_719_823_259;

pub fn now() -> Timestamp {
    at(NOW)
}

pub fn provider(secrets: &[&str]) -> Bird {
    Bird::new(BirdConfig {
        secrets: secrets.iter().map(|secret| Secret::new(*secret)).collect(),
        tolerance_seconds: 300,
    })
}

/// A call event as Bird POSTs it (unsigned).
pub fn post(body: &str) -> CapturedRequest {
    common::json_post(URL, body)
}
