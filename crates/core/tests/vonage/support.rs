//! Requests and providers shared by the Vonage tests.

use switchboard_core::providers::vonage::{SmsMethod, Vonage, VonageConfig};
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, Timestamp};

pub use crate::common::{
    any_content_type, assert_invalid_signature, assert_malformed, at, change_one_byte, form_encode,
    pairs, proptest_config, receive_signed, time,
};
use crate::common::{form_post, get, json_fields_post, json_post};

pub const SECRET: &str = "ZYtdTtGV3BCFN7tWmOWr1md66XsquMggr4W2cTtXtcPgfnI0Xw";
pub const TOLERANCE_SECONDS: u32 = 300;
/// 2020-01-01T12:00:00Z, the time of the voice lifecycle fixtures.
pub const NOW: i64 = 1_577_880_000;
pub const URL: &str = "https://hooks.example.com/webhooks/vonage";

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

/// A voice event as Vonage POSTs it (unsigned).
pub fn voice_post(body: &str) -> CapturedRequest {
    json_post(URL, body)
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
        Transport::Query => get(URL, params),
        Transport::Form => form_post(URL, params),
        Transport::Json => json_fields_post(URL, params),
    }
}
