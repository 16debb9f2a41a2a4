//! Requests and providers shared by the Vonage tests.

use switchboard_core::providers::vonage::{SmsMethod, Vonage, VonageConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Timestamp};

pub const SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgfnI0Xw";
pub const TOLERANCE_SECONDS: u32 = 300;
/// 2020-01-01T12:00:00Z, the time of the voice lifecycle fixtures.
pub const NOW: i64 = 1_577_880_000;
pub const URL: &str = "https://hooks.example.com/webhooks/vonage";

pub fn at(unix_seconds: i64) -> Timestamp {
    Timestamp::from_unix_seconds(unix_seconds)
}

pub fn now() -> Timestamp {
    at(NOW)
}

pub fn vonage_with(secrets: &[&str], sms_method: Option<SmsMethod>) -> Vonage {
    Vonage::new(VonageConfig {
        secrets: secrets.iter().map(|secret| Secret::new(*secret)).collect(),
        sms_method,
        tolerance_seconds: TOLERANCE_SECONDS,
    })
}

pub fn vonage() -> Vonage {
    vonage_with(&[SECRET], None)
}

pub fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

fn form_encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// A voice event as Vonage POSTs it (unsigned).
pub fn voice_post(body: &str) -> CapturedRequest {
    CapturedRequest::new("POST", URL)
        .with_header("content-type", "application/json")
        .with_body(body)
}

/// The SMS transports Vonage offers: query (GET), form body (POST), flat JSON body (POST-JSON).
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    Query,
    Form,
    Json,
}

pub const TRANSPORTS: [Transport; 3] = [Transport::Query, Transport::Form, Transport::Json];

pub fn request(transport: Transport, params: &[(String, String)]) -> CapturedRequest {
    match transport {
        Transport::Query => CapturedRequest::new("GET", &format!("{URL}?{}", form_encode(params))),
        Transport::Form => CapturedRequest::new("POST", URL)
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(form_encode(params)),
        Transport::Json => {
            let object: serde_json::Map<String, serde_json::Value> = params
                .iter()
                .map(|(key, value)| (key.clone(), serde_json::Value::String(value.clone())))
                .collect();
            CapturedRequest::new("POST", URL)
                .with_header("content-type", "application/json")
                .with_body(serde_json::Value::Object(object).to_string())
        }
    }
}
