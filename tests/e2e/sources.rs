//! Source health (`GET /v1/sources`): what each provider's webhooks came to, counted in the
//! isolate and kept by each provider's `Source` object.

use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_core::{CapturedRequest, ProviderId, Timestamp};

use crate::concurrency::twilio_status;
use crate::http::Client;
use crate::support::{assert_error, deliver, now, summary, unique_id};
use crate::tokens::minted;
use crate::{Suite, Test, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        source_health_counts_accepted_and_refused_webhooks_with_samples,
        source_health_is_for_the_status_api_token,
    ]
}

/// The `sources` entry of `provider`.
fn source(client: &Client, provider: &str) -> Value {
    let answer = summary(client, "/v1/sources");
    let sources = answer["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), ProviderId::ALL.len(), "{answer}");
    sources
        .iter()
        .find(|source| source["provider"] == provider)
        .cloned()
        .unwrap_or_else(|| panic!("{provider} in {answer}"))
}

fn count(source: &Value, window: &str, outcome: &str) -> u64 {
    source[window][outcome].as_u64().unwrap_or_default()
}

fn refused(source: &Value, window: &str, code: &str) -> u64 {
    source[window]["refused"][code].as_u64().unwrap_or_default()
}

/// A Twilio status callback for a new call, signed.
fn twilio_callback(client: &Client) -> CapturedRequest {
    twilio_status(client, &unique_id("CA"), "ringing", 1)
}

/// A signed callback, its duplicate and a forged one move the counts of the hour and the day,
/// and the forged one is a sample with its reason and path (never its signature). On the
/// `delivering` worker, which the HTTP fuzzer leaves alone: its forged requests would crowd this
/// one out of a batch's few samples. Other tests send Twilio webhooks to it meanwhile: counts are
/// compared as at least.
fn source_health_counts_accepted_and_refused_webhooks_with_samples(suite: &Suite) {
    let client = suite.delivering.client();
    let before = source(&client, "twilio");
    assert_eq!(before["configured"], Value::Bool(true));
    let sent = now();

    let signed = twilio_callback(&client);
    assert_eq!(deliver(&client, &signed).status, 200);
    assert_eq!(deliver(&client, &signed).status, 200);
    let mut forged = twilio_callback(&client);
    forged.set_header("x-twilio-signature", "Zm9yZ2VkIHNpZ25hdHVyZSBmb3JnZWQ=");
    assert_error(&deliver(&client, &forged), 401, "invalid_signature");

    // This isolate's batch is flushed by the read itself; give another isolate its few seconds.
    let deadline = Instant::now() + Duration::from_secs(20);
    let after = loop {
        let after = source(&client, "twilio");
        let moved = ["last_hour", "last_day"].iter().all(|window| {
            count(&after, window, "accepted") > count(&before, window, "accepted")
                && count(&after, window, "duplicates") > count(&before, window, "duplicates")
                && refused(&after, window, "invalid_signature")
                    > refused(&before, window, "invalid_signature")
        });
        if moved {
            break after;
        }
        assert!(
            Instant::now() < deadline,
            "counts did not move: {before} → {after}"
        );
        sleep(Duration::from_millis(250));
    };
    let samples = after["refusals"].as_array().expect("refusals");
    let ours = samples
        .iter()
        .find(|sample| {
            sample["code"] == "invalid_signature"
                && sample["path"] == "/webhooks/twilio"
                && sample["method"] == "POST"
                && sample["at"]
                    .as_str()
                    .and_then(Timestamp::parse_rfc3339)
                    .is_some_and(|at| at.millis() + 1_000 >= sent.millis())
        })
        .unwrap_or_else(|| panic!("no sample of the forged request in {after}"));
    let text = ours.to_string();
    assert!(
        !text.contains("Zm9yZ2Vk"),
        "a sample holds the signature: {text}"
    );
    assert!(
        ours["check"]
            .as_str()
            .is_some_and(|check| !check.is_empty()),
        "{ours}"
    );
    assert!(samples.len() <= 20, "{after}");

    let unconfigured = source(&suite.unconfigured.client(), "twilio");
    assert_eq!(unconfigured["configured"], Value::Bool(false));
}

fn source_health_is_for_the_status_api_token(suite: &Suite) {
    let client = suite.configured.client();
    let browser = minted(&client, &["calls"]);
    let response = client
        .get(
            "/v1/sources",
            &[("authorization", &format!("Bearer {browser}"))],
        )
        .expect("worker reachable");
    assert_error(&response, 403, "out_of_scope");
    let response = client
        .get("/v1/sources", &[("authorization", "Bearer wrong")])
        .expect("worker reachable");
    assert_error(&response, 401, "unauthorized");
    let response = client
        .get(
            "/v1/sources",
            &[("authorization", &format!("Bearer {TOKEN}"))],
        )
        .expect("worker reachable");
    assert_eq!(response.status, 200, "{}", response.body);
}
