//! Every provider besides Vonage through the real worker: whole simulated lifecycles (shuffled,
//! with a duplicate), forged signatures, `PUBLIC_BASE_URL`, Telnyx's window and alias lookup.

use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_core::{configured_signer, CapturedRequest, Config, ProviderId, Signer, Timestamp};

use crate::support::{
    accepted, assert_error, cli_binary, deliver, list_all, now, summary, unique_id,
};
use crate::worker::{run_dir, Worker};
use crate::{Suite, Test, PROVIDER_SECRETS, PUBLIC_BASE_URL, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        every_provider_simulates_its_lifecycles,
        forged_signatures_are_401_for_every_provider,
        public_base_url_lets_url_signed_requests_verify_behind_a_proxy,
        telnyx_outside_the_window_is_401,
        telnyx_calls_are_found_by_call_control_id,
        telnyx_untracked_event_types_are_acknowledged,
        lists_merge_the_providers_and_follow_status_changes,
    ]
}

/// The scenarios each provider's webhooks can express (VIS has no busy state; legacy MessageBird
/// status reports are SMS only) and the status each must end in.
const SCENARIOS: [(&str, &[(&str, &str)]); 6] = [
    (
        "vonage-business",
        &[("answered", "completed"), ("no-answer", "no_answer")],
    ),
    (
        "telnyx",
        &[
            ("answered", "completed"),
            ("busy", "busy"),
            ("no-answer", "no_answer"),
            ("sms-delivered", "delivered"),
            ("sms-failed", "failed"),
        ],
    ),
    (
        "bird",
        &[
            ("answered", "completed"),
            ("busy", "busy"),
            ("no-answer", "no_answer"),
        ],
    ),
    (
        "messagebird",
        &[("sms-delivered", "delivered"), ("sms-failed", "failed")],
    ),
    (
        "twilio",
        &[
            ("answered", "completed"),
            ("busy", "busy"),
            ("no-answer", "no_answer"),
            ("sms-delivered", "delivered"),
            ("sms-failed", "failed"),
        ],
    ),
    (
        "plivo",
        &[
            ("answered", "completed"),
            ("busy", "busy"),
            ("no-answer", "no_answer"),
            ("sms-delivered", "delivered"),
            ("sms-failed", "failed"),
        ],
    ),
];

/// A `.dev.vars` for the CLI with the workers' settings, optionally overriding some.
fn dev_vars(name: &str, overrides: &[(&str, &str)]) -> std::path::PathBuf {
    let path = run_dir().join(format!("{name}.dev.vars"));
    let mut text = format!("STATUS_API_TOKEN={TOKEN}\n");
    for (key, value) in PROVIDER_SECRETS.iter().copied() {
        let value = overrides
            .iter()
            .find(|(name, _)| *name == key)
            .map_or(value, |(_, value)| *value);
        text.push_str(&format!("{key}={value}\n"));
    }
    std::fs::write(&path, text).expect("write dev vars");
    path
}

fn simulate(worker: &Worker, provider: &str, scenario: &str, dev_vars: &std::path::Path) -> Output {
    Command::new(cli_binary())
        .args([
            "simulate",
            "--provider",
            provider,
            "--scenario",
            scenario,
            "--target",
        ])
        .arg(&worker.base_url)
        .arg("--dev-vars")
        .arg(dev_vars)
        .output()
        .expect("run switchboard")
}

fn every_provider_simulates_its_lifecycles(suite: &Suite) {
    let vars = dev_vars("providers", &[]);
    for (provider, scenarios) in SCENARIOS {
        for (scenario, expected) in scenarios {
            let output = simulate(&suite.configured, provider, scenario, &vars);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "{provider} {scenario}: {stderr}");
            let state: Value = serde_json::from_slice(&output.stdout).expect("summary json");
            assert_eq!(state["status"], json!(expected), "{provider} {scenario}");
            assert_eq!(state["provider"], json!(provider));
            assert!(
                stderr.contains("(duplicate)"),
                "{provider} {scenario}: no duplicate acknowledged"
            );
        }
    }
}

fn forged_signatures_are_401_for_every_provider(suite: &Suite) {
    // Every secret wrong, and Telnyx signed with another key pair's private half.
    let forged: Vec<(&str, &str)> = PROVIDER_SECRETS
        .iter()
        .map(|(name, _)| match *name {
            "TELNYX_SIGNING_PRIVATE_KEY" => (*name, "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="),
            "TELNYX_PUBLIC_KEY" => (*name, "t1uFehr4HyWHsygFksqSa8GQxdyE6SqW/X80t5zr4yw="),
            _ => (*name, "forged-secret"),
        })
        .collect();
    let vars = dev_vars("forged", &forged);
    for (provider, scenarios) in SCENARIOS {
        let (scenario, _) = scenarios[0];
        let output = simulate(&suite.configured, provider, scenario, &vars);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{provider}: {stderr}");
        assert!(stderr.contains("401"), "{provider}: {stderr}");
        assert!(stderr.contains("invalid_signature"), "{provider}: {stderr}");
    }
}

/// The core provider configured with the e2e settings.
fn provider(id: ProviderId) -> Box<dyn Signer> {
    let config = Config::from_lookup(|name| {
        PROVIDER_SECRETS
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("e2e settings are valid");
    configured_signer(&config, id).expect("configured")
}

fn twilio_call(url: &str, call: &str) -> CapturedRequest {
    twilio_call_status(url, call, "ringing", 1)
}

fn twilio_call_status(url: &str, call: &str, status: &str, sequence: u32) -> CapturedRequest {
    let sequence = sequence.to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("CallSid", call),
            ("CallStatus", status),
            ("Direction", "outbound-api"),
            ("From", "+15005550006"),
            ("To", "+15005550001"),
            ("SequenceNumber", &sequence),
        ])
        .finish();
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(body)
}

fn bird_call(url: &str, call: &str) -> CapturedRequest {
    let body = json!({
        "service": "channels",
        "event": "voice.outbound",
        "payload": {"id": call, "status": "ringing", "direction": "outgoing",
                    "createdAt": "2026-01-01T00:00:00.000Z", "ringingAt": "2026-01-01T00:00:01.000Z"},
    });
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/json")
        .with_body(body.to_string())
}

fn public_base_url_lets_url_signed_requests_verify_behind_a_proxy(suite: &Suite) {
    type Build = fn(&str, &str) -> CapturedRequest;
    let cases: [(ProviderId, Build); 2] = [
        (ProviderId::Twilio, twilio_call),
        (ProviderId::Bird, bird_call),
    ];
    for (id, build) in cases {
        let call = unique_id(&format!("{id}-proxied"));
        // Signed for the public URL the provider was given, delivered to the worker's own address.
        let public_url = format!("{PUBLIC_BASE_URL}/webhooks/{id}?tenant=acme");
        // Signed just before each delivery: the proxied worker's window is 2 s.
        let signed_now = || {
            provider(id)
                .sign(&build(&public_url, &call), now())
                .expect("sign")
        };

        let without_setting = deliver(&suite.configured.client(), &signed_now());
        assert_error(&without_setting, 401, "invalid_signature");

        let proxied = suite.proxied.client();
        assert_eq!(
            accepted(&deliver(&proxied, &signed_now()))["id"],
            json!(call),
            "{id}"
        );
        let state = summary(&proxied, &format!("/v1/calls/{id}/{call}"));
        assert_eq!(state["status"], json!("ringing"), "{id}");

        let mut other_path = signed_now();
        other_path.url = format!("{PUBLIC_BASE_URL}/webhooks/{id}?tenant=other");
        assert_error(&deliver(&proxied, &other_path), 401, "invalid_signature");
    }
}

pub fn telnyx_call(
    url: &str,
    leg: &str,
    control: &str,
    event_type: &str,
    at: Timestamp,
) -> CapturedRequest {
    let body = json!({
        "data": {
            "event_type": event_type,
            "id": unique_id("telnyx-event"),
            "occurred_at": at.to_string(),
            "record_type": "event",
            "payload": {
                "call_leg_id": leg,
                "call_control_id": control,
                "call_session_id": format!("session-{leg}"),
                "connection_id": "1234567890",
                "direction": "outgoing",
                "from": "+15005550006",
                "to": "+15005550001",
                "state": "bridging",
            },
        },
        "meta": {"attempt": 1, "delivered_to": url},
    });
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/json")
        .with_body(body.to_string())
}

fn telnyx_outside_the_window_is_401(suite: &Suite) {
    let client = suite.configured.client();
    let url = client.url("/webhooks/telnyx");
    let leg = unique_id("leg-window");
    let telnyx = provider(ProviderId::Telnyx);
    for offset_ms in [-600_000, 600_000] {
        let at = Timestamp::from_millis(now().millis() + offset_ms);
        let request = telnyx
            .sign(
                &telnyx_call(&url, &leg, "control", "call.initiated", at),
                at,
            )
            .expect("sign");
        assert_error(
            &deliver(&client, &request),
            401,
            "timestamp_out_of_tolerance",
        );
    }
    let fresh = telnyx
        .sign(
            &telnyx_call(&url, &leg, "control", "call.initiated", now()),
            now(),
        )
        .expect("sign");
    assert_eq!(accepted(&deliver(&client, &fresh))["id"], json!(leg));
}

fn telnyx_calls_are_found_by_call_control_id(suite: &Suite) {
    let client = suite.configured.client();
    let url = client.url("/webhooks/telnyx");
    let leg = unique_id("leg");
    let control = unique_id("v3:control");
    let telnyx = provider(ProviderId::Telnyx);
    let request = telnyx
        .sign(
            &telnyx_call(&url, &leg, &control, "call.initiated", now()),
            now(),
        )
        .expect("sign");
    accepted(&deliver(&client, &request));

    let by_leg = summary(&client, &format!("/v1/calls/telnyx/{leg}"));
    assert_eq!(by_leg["aliases"], json!([control]));
    // The alias index is written with the call's index entries, about a second later.
    let deadline = Instant::now() + Duration::from_secs(20);
    let by_control = loop {
        let response = client
            .api(&format!("/v1/calls/telnyx/{control}"), TOKEN)
            .unwrap();
        if response.status == 200 {
            break response.json();
        }
        assert!(
            Instant::now() < deadline,
            "alias never resolved: {}",
            response.body
        );
        sleep(Duration::from_millis(250));
    };
    assert_eq!(by_control["id"], json!(leg));
    let events = summary(&client, &format!("/v1/calls/telnyx/{control}/events"));
    assert_eq!(events["events"][0]["subject_id"], json!(leg));
}

fn telnyx_untracked_event_types_are_acknowledged(suite: &Suite) {
    let client = suite.configured.client();
    let body = json!({"data": {"event_type": "fax.delivered", "id": unique_id("fax"),
                               "occurred_at": now().to_string(), "payload": {"fax_id": "f-1"}}});
    let request = CapturedRequest::new("POST", &client.url("/webhooks/telnyx"))
        .with_header("content-type", "application/json")
        .with_body(body.to_string());
    let signed = provider(ProviderId::Telnyx)
        .sign(&request, now())
        .expect("sign");
    let response = deliver(&client, &signed);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json(), json!({"accepted": []}));
    let mut forged = signed.clone();
    forged.body.push(b' ');
    assert_error(&deliver(&client, &forged), 401, "invalid_signature");
}

/// The lists cover every configured provider in one order, page after page, and a subject
/// leaves the list of a status it has left (the next flush deletes the old status key).
fn lists_merge_the_providers_and_follow_status_changes(suite: &Suite) {
    let client = suite.configured.client();
    let twilio = provider(ProviderId::Twilio);
    let telnyx = provider(ProviderId::Telnyx);
    let twilio_url = client.url("/webhooks/twilio");
    let telnyx_url = client.url("/webhooks/telnyx");
    let call = format!("CA{}", unique_id("listed"));
    let legs = [unique_id("leg-listed"), unique_id("leg-listed")];
    let sign =
        |signer: &dyn Signer, request: CapturedRequest| signer.sign(&request, now()).expect("sign");
    accepted(&deliver(
        &client,
        &sign(
            twilio.as_ref(),
            twilio_call_status(&twilio_url, &call, "ringing", 1),
        ),
    ));
    for leg in &legs {
        let request = telnyx_call(
            &telnyx_url,
            leg,
            &format!("v3:{leg}"),
            "call.initiated",
            now(),
        );
        accepted(&deliver(&client, &sign(telnyx.as_ref(), request)));
    }
    let twilio_entry = ("twilio".to_owned(), call.clone());
    let telnyx_entries = legs.map(|leg| ("telnyx".to_owned(), leg));

    let deadline = Instant::now() + Duration::from_secs(20);
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            sleep(Duration::from_millis(250));
        }
    };
    wait_for(
        "the calls never appeared in the lists of their providers",
        &|| {
            let telnyx_listed = list_all(&client, "provider=telnyx", 20);
            list_all(&client, "provider=twilio&status=ringing", 20).contains(&twilio_entry)
                && telnyx_entries
                    .iter()
                    .all(|entry| telnyx_listed.contains(entry))
        },
    );

    // Across providers: both providers' calls, none twice, page after page.
    let merged = list_all(&client, "", 50);
    assert!(merged.contains(&twilio_entry), "twilio call not merged in");
    assert!(telnyx_entries.iter().all(|entry| merged.contains(entry)));
    let mut distinct = merged.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), merged.len(), "an entry was listed twice");

    // A cursor belongs to its list: one from the telnyx list is no cursor for twilio's.
    let page = summary(&client, "/v1/calls?provider=telnyx&limit=1");
    let cursor = page["cursor"].as_str().expect("two telnyx calls: a cursor");
    assert_error(
        &client
            .api(&format!("/v1/calls?provider=twilio&cursor={cursor}"), TOKEN)
            .unwrap(),
        400,
        "invalid_parameter",
    );

    accepted(&deliver(
        &client,
        &sign(
            twilio.as_ref(),
            twilio_call_status(&twilio_url, &call, "completed", 2),
        ),
    ));
    wait_for("the call never moved from ringing to completed", &|| {
        list_all(&client, "provider=twilio&status=completed", 20).contains(&twilio_entry)
            && !list_all(&client, "provider=twilio&status=ringing", 20).contains(&twilio_entry)
            && !list_all(&client, "status=ringing", 20).contains(&twilio_entry)
    });
}
