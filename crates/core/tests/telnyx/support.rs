//! Keys, requests and providers shared by the Telnyx tests.

use switchboard_core::providers::telnyx::{Telnyx, TelnyxConfig};
use switchboard_core::{CapturedRequest, Event, Kind, ProviderId, SubjectState, Timestamp};

use crate::common;
pub use crate::common::{any_content_type, at, proptest_config, time};

/// The development key pair of `.dev.vars.example`: the seed is SHA-256 of
/// `switchboard development Telnyx key - not for production`.
pub const DEV_SEED: &str = "QQ4zVZwaOjqYl5yNOE8msy4rKd/R77yMkSuH/9i0K8M=";
pub const DEV_PUBLIC: &str = "t1uFehr4HyWHsygFksqSa8GQxdyE6SqW/X80t5zr4yw=";
/// RFC 8032 §7.1 TEST 1, the key of the derived vector.
pub const RFC8032_SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
pub const RFC8032_PUBLIC: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

pub const TOLERANCE_SECONDS: u32 = 300;
/// 2020-01-01T12:00:00Z, the time of the lifecycle fixtures.
pub const NOW: i64 = 1_577_880_000;
pub const URL: &str = "https://hooks.example.com/webhooks/telnyx";

pub fn now() -> Timestamp {
    at(NOW)
}

pub fn telnyx_with(public: &[&str], seed: Option<&str>) -> Telnyx {
    Telnyx::new(TelnyxConfig {
        public_keys: TelnyxConfig::parse_public_keys(&public.join(",")).expect("public keys"),
        signing_key: seed.map(|seed| TelnyxConfig::parse_signing_key(seed).expect("seed")),
        tolerance_seconds: TOLERANCE_SECONDS,
    })
}

/// Verifies with the development public key and signs with its seed.
pub fn telnyx() -> Telnyx {
    telnyx_with(&[DEV_PUBLIC], Some(DEV_SEED))
}

pub fn json_post(body: &str) -> CapturedRequest {
    common::json_post(URL, body)
}

pub fn form_post(body: &str) -> CapturedRequest {
    common::form_body_post(URL, body)
}

/// Signs `request` at `NOW` with the development key, then receives it.
pub fn receive(request: &CapturedRequest) -> Event {
    common::receive_signed(&telnyx(), request, now()).expect("a valid event")
}

/// Every order of `events` (up to 6 events: all permutations), each with the first event
/// delivered twice, folds to the same state as the given order.
pub fn assert_order_independent(kind: Kind, subject_id: &str, events: &[Event]) -> SubjectState {
    common::assert_order_independent(ProviderId::Telnyx, kind, subject_id, events)
}
