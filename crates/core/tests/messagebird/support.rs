//! Requests and providers shared by the MessageBird tests.

use switchboard_core::providers::messagebird::{MessageBird, MessageBirdConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Timestamp};

pub const SECRET: &str = "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb";
pub const TOLERANCE_SECONDS: u32 = 300;
/// 2020-01-01T12:00:00Z.
pub const NOW: i64 = 1_577_880_000;
pub const URL: &str = "https://hooks.example.com/webhooks/messagebird";

pub fn at(unix_seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix_seconds)
}

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
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    CapturedRequest::new("GET", &format!("{URL}?{query}"))
}

/// The same fields as a JSON body.
pub fn report_json(fields: &[(&str, &str)]) -> CapturedRequest {
    let object: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(key, value)| {
            (
                (*key).to_owned(),
                serde_json::Value::String((*value).to_owned()),
            )
        })
        .collect();
    CapturedRequest::new("POST", URL)
        .with_header("content-type", "application/json")
        .with_body(serde_json::Value::Object(object).to_string())
}
