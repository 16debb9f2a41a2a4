//! Requests and providers shared by the MessageBird tests.

use switchboard_core::providers::messagebird::{MessageBird, MessageBirdConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Timestamp};

pub use crate::common::{at, proptest_config, receive_signed, time};
use crate::common::{get, json_fields_post, pairs};

pub const SECRET: &str = "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb";
pub const TOLERANCE_SECONDS: u32 = 300;
/// 2020-01-01T12:00:00Z.
pub const NOW: i64 = 1_577_880_000;
pub const URL: &str = "https://hooks.example.com/webhooks/messagebird";

pub fn now() -> Timestamp {
    at(NOW)
}

pub fn messagebird_with(secrets: &[&str]) -> MessageBird {
    MessageBird::new(MessageBirdConfig {
        secrets: secrets.iter().map(|secret| Secret::new(*secret)).collect(),
        tolerance_seconds: TOLERANCE_SECONDS,
    })
}

pub fn messagebird() -> MessageBird {
    messagebird_with(&[SECRET])
}

/// A status report as legacy MessageBird sends it: a `GET` with the fields in the query.
pub fn report_get(fields: &[(&str, &str)]) -> CapturedRequest {
    get(URL, &pairs(fields))
}

/// The same fields as a JSON body.
pub fn report_json(fields: &[(&str, &str)]) -> CapturedRequest {
    json_fields_post(URL, &pairs(fields))
}
