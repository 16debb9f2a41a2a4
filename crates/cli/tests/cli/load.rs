//! `switchboard load` against a fake worker: every webhook it sends is correctly signed, every
//! answer is counted, and errors are reported rather than fatal.

use std::collections::BTreeMap;

use switchboard_core::registry::{ProviderEntry, PROVIDERS};
use switchboard_core::{configured_provider, CapturedRequest, Config, ProviderId, Timestamp};

use crate::fake_worker::{FakeWorker, Received};
use crate::support::Switchboard;

/// Development settings of every provider, as in `.dev.vars.example`.
fn dev_vars() -> BTreeMap<&'static str, &'static str> {
    PROVIDERS
        .iter()
        .flat_map(ProviderEntry::dev_settings)
        .chain([("VONAGE_SIGNATURE_METHOD", "sha256")])
        .collect()
}

fn now() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Timestamp::from_unix_seconds(seconds as i64)
}

/// The request as the worker at `base_url` would capture it.
fn captured(base_url: &str, received: &Received) -> CapturedRequest {
    let mut request =
        CapturedRequest::new(&received.method, &format!("{base_url}{}", received.target))
            .with_body(received.body.clone());
    for (name, value) in &received.headers {
        request.set_header(name, value);
    }
    request
}

fn load(switchboard: &Switchboard, worker: &FakeWorker, providers: &[&str]) -> serde_json::Value {
    let text: String = dev_vars()
        .iter()
        .map(|(name, value)| format!("{name}=\"{value}\"\n"))
        .collect();
    let dev_vars = switchboard.write("bench.vars", &text);
    let mut line = format!("load --target {} --connections 2 --duration 1", worker.url);
    for provider in providers {
        line.push_str(&format!(" --provider {provider}"));
    }
    switchboard
        .run_line(&line, &["--dev-vars", &dev_vars])
        .expect(0)
        .json()
}

#[test]
fn every_webhook_sent_is_signed_and_every_answer_counted() {
    let worker = FakeWorker::start(|_, _| (200, r#"{"accepted":[]}"#.to_owned()));
    let switchboard = Switchboard::new("load_signed");
    let report = load(&switchboard, &worker, &["twilio", "telnyx", "vonage"]);

    let received = worker.received();
    assert!(received.len() > 10, "only {} requests", received.len());
    assert_eq!(report["requests"], received.len());
    assert_eq!(report["errors"], 0);
    assert_eq!(report["statuses"]["200"], received.len());
    assert_eq!(report["connections"], 2);
    assert_eq!(
        report["providers"],
        serde_json::json!(["twilio", "telnyx", "vonage"])
    );
    let p50 = report["p50_ms"].as_f64().unwrap();
    let p99 = report["p99_ms"].as_f64().unwrap();
    assert!(0.0 < p50 && p50 <= p99, "{report}");

    let vars = dev_vars();
    let config =
        Config::from_lookup(|name| vars.get(name).map(|value| (*value).to_owned())).unwrap();
    let mut seen = BTreeMap::new();
    for request in &received {
        let name = request.path().trim_start_matches("/webhooks/");
        let id: ProviderId = name
            .parse()
            .unwrap_or_else(|_| panic!("path {}", request.target));
        let provider = configured_provider(&config, id).unwrap();
        let events = provider
            .receive(&captured(&worker.url, request), now())
            .unwrap_or_else(|error| panic!("{name} webhook refused: {error}: {request:?}"));
        assert!(!events.is_empty());
        *seen.entry(name.to_owned()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn refusals_are_counted_as_errors_with_samples() {
    let worker = FakeWorker::start(|_, _| (401, r#"{"error":"signature_invalid"}"#.to_owned()));
    let switchboard = Switchboard::new("load_refused");
    let report = load(&switchboard, &worker, &["plivo"]);
    let requests = report["requests"].as_u64().unwrap();
    assert!(requests > 0);
    assert_eq!(report["errors"], requests);
    assert_eq!(report["statuses"]["401"], requests);
    assert!(report["error_samples"][0]
        .as_str()
        .unwrap()
        .starts_with("HTTP 401: {\"error\":\"signature_invalid\"}"));
}

#[test]
fn a_provider_without_its_secret_is_a_usage_error() {
    let switchboard = Switchboard::new("load_unconfigured");
    let run = switchboard
        .run_line(
            "load --target http://127.0.0.1:9 --duration 1 --provider bird",
            &[],
        )
        .expect(2);
    assert!(run.stderr.contains("BIRD_SIGNING_KEY"), "{}", run.stderr);
    let run = switchboard
        .run_line("load --provider nobody", &[])
        .expect(2);
    assert!(run.stderr.contains("unknown provider"), "{}", run.stderr);
}
