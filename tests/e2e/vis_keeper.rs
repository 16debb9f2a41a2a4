//! The VIS keeper (docs/providers/vonage-business.md, "Keeping the registration alive") against
//! the fake VIS API (`vis_api.rs`), on the `proxied` worker, whose `PUBLIC_BASE_URL` names the
//! registration it keeps. The keeper's state lives in one object and the fake is shared, so
//! these tests take turns.

use std::sync::{Mutex, MutexGuard};

use serde_json::{json, Value};
use switchboard_core::{ProviderId, Timestamp};

use crate::concurrency::{provider, vis};
use crate::dashboard::Browser;
use crate::http::{Client, Response};
use crate::support::{accepted, assert_error, deliver, now, summary, unique_id};
use crate::tokens::minted;
use crate::{Suite, Test, PUBLIC_BASE_URL, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        the_registration_is_renewed_before_it_expires_and_not_otherwise,
        a_failed_registration_is_renewed_and_its_missed_calls_backfilled_once,
        an_expired_token_is_refreshed_and_a_refused_one_never_stops_receiving,
        an_api_that_is_down_is_recorded_and_tried_again,
        a_long_backfill_goes_on_at_the_next_run,
        a_success_the_worker_did_not_store_is_backfilled,
        the_keeper_is_the_status_api_tokens_and_off_without_credentials,
    ]
}

static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

const DAY_MS: i64 = 86_400_000;
const OWN_ID: &str = "own-registration";
const OTHER_ID: &str = "other-application";

fn own_url() -> String {
    format!("{PUBLIC_BASE_URL}/webhooks/vonage-business")
}

fn iso(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

/// A registration as `GET /self/webhooks` lists it.
fn registration(id: &str, url: &str, expires_in_ms: i64, failed: bool) -> Value {
    json!({
        "id": id, "url": url, "status": "ACTIVE", "events": ["CALL"],
        "signingAlgo": "HMAC_SHA256", "metadataPolicy": "HEADER",
        "expireAt": iso(now().millis() + expires_in_ms),
        "statistics": { "totalAttempts": 9, "totalSuccesses": 4, "totalFailures": 5, "failed": failed },
    })
}

/// Asks the worker to run the keeper with `credential`.
fn ask_to_maintain(client: &Client, credential: &str) -> Response {
    client
        .send(
            "POST",
            "/v1/sources/vonage-business/maintain",
            &[("authorization", &format!("Bearer {credential}"))],
            b"",
        )
        .expect("worker reachable")
}

/// Runs the keeper now; its answer, which must be 200.
fn maintain(client: &Client) -> Value {
    let response = ask_to_maintain(client, TOKEN);
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

fn the_registration_is_renewed_before_it_expires_and_not_otherwise(suite: &Suite) {
    let _turn = turn();
    let client = suite.proxied.client();
    suite.vis_api.reset();
    suite.vis_api.state().registrations = vec![
        registration(OTHER_ID, "https://other.example.com/hook", DAY_MS, false),
        registration(OWN_ID, &own_url(), 9 * DAY_MS, false),
    ];
    let state = maintain(&client);
    assert_eq!(state["registration"]["id"], OWN_ID, "{state}");
    assert_eq!(state["last_run"]["error"], Value::Null, "{state}");
    assert!(
        suite.vis_api.state().renewals.is_empty(),
        "renewed 9 days ahead"
    );

    suite.vis_api.state().registrations[1] = registration(OWN_ID, &own_url(), 2 * DAY_MS, false);
    let state = maintain(&client);
    assert_eq!(suite.vis_api.state().renewals, [OWN_ID]);
    assert_eq!(state["last_renewal"]["reason"], "expiring", "{state}");
    let expires = state["registration"]["expireAt"]
        .as_str()
        .and_then(Timestamp::parse_rfc3339)
        .expect("the renewed expiry");
    assert!(expires.millis() > now().millis() + 9 * DAY_MS, "{state}");
    // The other application's registration expires in a day and is never touched.
    let requests = suite.vis_api.state().requests.clone();
    assert!(
        !requests.iter().any(|request| request.contains(OTHER_ID)),
        "{requests:?}"
    );
}

/// A call as the events API lists it: the members typed as vgis.yml types them, without the
/// webhook-only ones.
fn listed(
    id: &str,
    state: &str,
    start_ms: i64,
    answer_ms: Option<i64>,
    end_ms: Option<i64>,
    duration: i64,
) -> Value {
    let mut event = json!({
        "id": id, "type": "CALL", "accountId": 376, "userId": 24785, "uciId": 11,
        "direction": "OUTBOUND", "phoneNumber": "14155550123", "state": state,
        "duration": duration, "externalId": "callhalf-1:0", "startTime": iso(start_ms),
    });
    if let Some(answer) = answer_ms {
        event["answerTime"] = json!(iso(answer));
    }
    if let Some(end) = end_ms {
        event["endTime"] = json!(iso(end));
    }
    event
}

fn a_failed_registration_is_renewed_and_its_missed_calls_backfilled_once(suite: &Suite) {
    let _turn = turn();
    let client = suite.proxied.client();
    suite.vis_api.reset();
    suite.vis_api.state().registrations = vec![registration(OWN_ID, &own_url(), 5 * DAY_MS, true)];
    let call = unique_id("vis-missed");
    // The lifecycle `vis()` sends as webhooks, as the events API lists it.
    let start = Timestamp::from_millis(now().millis() - 60_000);
    let (started, answered, ended) = (
        start.millis(),
        start.millis() + 3_000,
        start.millis() + 15_000,
    );
    suite.vis_api.state().events = vec![
        listed(&call, "RINGING", started, None, None, 0),
        listed(&call, "ACTIVE", started, Some(answered), None, 0),
        listed(
            &call,
            "ANSWERED",
            started,
            Some(answered),
            Some(ended),
            12_000,
        ),
    ];

    let state = maintain(&client);
    assert_eq!(suite.vis_api.state().renewals, [OWN_ID]);
    assert_eq!(state["last_renewal"]["reason"], "failed", "{state}");
    assert_eq!(state["last_backfill"]["appended"], 3, "{state}");
    assert_eq!(state["last_backfill"]["duplicates"], 0, "{state}");
    let path = format!("/v1/calls/vonage-business/{call}");
    assert_eq!(summary(&client, &path)["status"], "completed");
    let timeline = summary(&client, &format!("{path}/events"));
    let events = timeline["events"].as_array().expect("events");
    assert_eq!(events.len(), 3, "{timeline}");
    assert!(
        events.iter().all(|event| event["provenance"] == "backfill"),
        "{timeline}"
    );

    // The same events by webhook, once VIS delivers again: each is a duplicate.
    let signer = provider(ProviderId::VonageBusiness);
    for webhook in vis(&client.url("/webhooks/vonage-business"), &call, start) {
        let signed = signer.sign(&webhook, now()).expect("signed");
        let answer = accepted(&deliver(&client, &signed));
        assert_eq!(answer["duplicate"], true, "{answer}");
    }
    let timeline = summary(&client, &format!("{path}/events"));
    assert_eq!(
        timeline["events"].as_array().map(Vec::len),
        Some(3),
        "{timeline}"
    );

    // Backfilled again (the registration failed once more): nothing new.
    suite.vis_api.state().registrations = vec![registration(OWN_ID, &own_url(), 5 * DAY_MS, true)];
    let state = maintain(&client);
    assert_eq!(state["last_backfill"]["appended"], 0, "{state}");
    assert_eq!(state["last_backfill"]["duplicates"], 3, "{state}");

    // The dashboard's Sources view shows it, and runs the keeper again.
    let mut page = Browser::open(&suite.proxied.base_url);
    page.sign_in(TOKEN);
    page.goto("/dashboard#/sources");
    let keeper = page.wait("[data-provider=vonage-business] .keeper", Some(OWN_ID));
    assert!(
        keeper.contains("0 appended, 3 already stored of 3 listed"),
        "{keeper}"
    );
    assert!(keeper.contains(OWN_ID), "{keeper}");
    page.screenshot("10-vis-keeper");
    let runs = suite.vis_api.state().requests.len();
    page.click("#run-keeper");
    page.wait("#notice", Some("The keeper ran."));
    assert!(
        suite.vis_api.state().requests.len() > runs,
        "the button ran no keeper"
    );
    page.wait("[data-provider=vonage-business] .keeper", Some("active"));
    page.assert_no_problems();
}

fn an_expired_token_is_refreshed_and_a_refused_one_never_stops_receiving(suite: &Suite) {
    let _turn = turn();
    let client = suite.proxied.client();
    suite.vis_api.reset();
    suite.vis_api.state().token_lifetime_s = 1;
    suite.vis_api.state().registrations = vec![registration(OWN_ID, &own_url(), 9 * DAY_MS, false)];
    maintain(&client);
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let state = maintain(&client);
    assert_eq!(state["last_run"]["error"], Value::Null, "{state}");
    assert_eq!(
        suite.vis_api.state().grants.last().map(String::as_str),
        Some("refresh_token")
    );

    suite.vis_api.state().refuse_grants = true;
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let state = maintain(&client);
    let error = state["last_run"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused the credentials"), "{state}");
    let health = summary(&client, "/v1/sources");
    let vis_health = health["sources"]
        .as_array()
        .and_then(|sources| {
            sources
                .iter()
                .find(|source| source["provider"] == "vonage-business")
        })
        .cloned()
        .expect("vonage-business");
    assert_eq!(
        vis_health["keeper"]["last_run"]["error"], error,
        "{vis_health}"
    );
    // Receiving does not depend on the keeper.
    let call = unique_id("vis-receiving");
    let webhook = vis(&client.url("/webhooks/vonage-business"), &call, now()).remove(0);
    let signed = provider(ProviderId::VonageBusiness)
        .sign(&webhook, now())
        .expect("signed");
    assert_eq!(accepted(&deliver(&client, &signed))["duplicate"], false);
}

/// More events than a run may append: the first run stops after its pages, and the next one,
/// with the registration healthy again, goes on from there to the end.
fn a_long_backfill_goes_on_at_the_next_run(suite: &Suite) {
    let _turn = turn();
    let client = suite.proxied.client();
    suite.vis_api.reset();
    suite.vis_api.state().registrations = vec![registration(OWN_ID, &own_url(), 5 * DAY_MS, true)];
    let started = now().millis() - 120_000;
    let calls: Vec<String> = (0..40)
        .map(|n| unique_id(&format!("vis-long-{n}")))
        .collect();
    suite.vis_api.state().events = calls
        .iter()
        .enumerate()
        .map(|(n, call)| listed(call, "RINGING", started + n as i64, None, None, 0))
        .collect();

    let first = maintain(&client);
    assert_eq!(first["last_backfill"]["appended"], 30, "{first}");
    assert_eq!(first["last_backfill"]["resume_page"], 2, "{first}");
    let second = maintain(&client);
    assert_eq!(
        second["last_renewal"]["at"], first["last_renewal"]["at"],
        "renewed once"
    );
    assert_eq!(second["last_backfill"]["appended"], 40, "{second}");
    assert_eq!(
        second["last_backfill"]["resume_page"],
        Value::Null,
        "{second}"
    );
    for call in [&calls[0], &calls[39]] {
        let state = summary(&client, &format!("/v1/calls/vonage-business/{call}"));
        assert_eq!(state["status"], "ringing", "{state}");
    }
}

/// VIS says it delivered after the last event the worker stored: the keeper lists from there.
fn a_success_the_worker_did_not_store_is_backfilled(suite: &Suite) {
    let _turn = turn();
    let client = suite.proxied.client();
    suite.vis_api.reset();
    let mut healthy = registration(OWN_ID, &own_url(), 9 * DAY_MS, false);
    // Later than anything the earlier tests stored, by more than the grace for counting.
    healthy["statistics"]["lastSuccess"] = json!(iso(now().millis() + 10 * 60_000));
    suite.vis_api.state().registrations = vec![healthy];
    let call = unique_id("vis-unseen");
    suite.vis_api.state().events = vec![listed(
        &call,
        "RINGING",
        now().millis() - 5_000,
        None,
        None,
        0,
    )];

    let state = maintain(&client);
    assert_eq!(state["last_backfill"]["appended"], 1, "{state}");
    let path = format!("/v1/calls/vonage-business/{call}");
    assert_eq!(summary(&client, &path)["status"], "ringing");
    assert!(
        suite.vis_api.state().renewals.is_empty(),
        "a healthy registration was renewed"
    );
}

fn an_api_that_is_down_is_recorded_and_tried_again(suite: &Suite) {
    let _turn = turn();
    let client = suite.proxied.client();
    suite.vis_api.reset();
    suite.vis_api.state().registrations = vec![registration(OWN_ID, &own_url(), DAY_MS, false)];
    suite.vis_api.state().down = true;
    let state = maintain(&client);
    let error = state["last_run"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("503"), "{state}");
    assert!(suite.vis_api.state().renewals.is_empty());

    suite.vis_api.state().down = false;
    let state = maintain(&client);
    assert_eq!(state["last_run"]["error"], Value::Null, "{state}");
    assert_eq!(suite.vis_api.state().renewals, [OWN_ID]);
}

fn the_keeper_is_the_status_api_tokens_and_off_without_credentials(suite: &Suite) {
    let refused = ask_to_maintain(&suite.proxied.client(), "not-a-token");
    assert_error(&refused, 401, "unauthorized");
    let configured = suite.configured.client();
    let browser = minted(&configured, &["calls"]);
    assert_error(&ask_to_maintain(&configured, &browser), 403, "out_of_scope");
    let off = ask_to_maintain(&configured, TOKEN);
    assert_error(&off, 503, "vis_keeper_not_configured");
}
