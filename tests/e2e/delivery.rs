//! Delivery through the real worker (docs/delivery.md): every committed event to the endpoints
//! of `DELIVERY_ENDPOINTS` on the test's own receiver (`receiver.rs`), signed as Standard
//! Webhooks says (checked with the independent `standardwebhooks` crate), once per event and
//! endpoint, in commit order per subject, filtered, retried on `DELIVERY_RETRY_SCHEDULE`, kept as
//! `failed` and listed, retried by hand, and sent again after a crash.
//!
//! The `delivering` worker of the [`Suite`] delivers to `/main` (every event, two secrets) and
//! `/filtered` (completed calls and messages of Twilio and Telnyx), retrying after 1 s and 1 s.

use std::collections::{BTreeSet, HashMap};
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_cli::clock::IdSource;
use switchboard_cli::scenario::{self, ScenarioName};
use switchboard_core::delivery::ATTEMPT_TIMEOUT_MS;
use switchboard_core::{CapturedRequest, Kind, ProviderId, Timestamp};

use crate::concurrency::{provider, seed_from_env, Rng};
use crate::http::{Client, Response};
use crate::receiver::{Answer, Delivery, Receiver, Script, REDIRECTED};
use crate::support::{assert_error, deliver, now, summary};
use crate::tokens::minted;
use crate::worker::{run_dir, Worker};
use crate::{
    delivering_vars, Suite, Test, FILTERED_PROVIDERS, FILTERED_SECRET, MAIN_SECRETS, TOKEN,
};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        every_event_gets_one_signed_delivery_in_commit_order,
        delivery_to_a_filtered_endpoint_is_exactly_the_types_and_providers_it_asked_for,
        a_failing_delivery_is_retried_and_holds_back_the_subjects_next_event,
        a_delivery_that_keeps_failing_is_listed_and_retried_by_hand,
        browser_tokens_read_delivery_rows_in_scope_but_never_retry_or_list_failed_ones,
        a_delivery_in_flight_during_a_crash_is_sent_again_after_the_restart,
        a_delivery_the_endpoint_never_answers_times_out_and_is_retried,
        a_delivery_answered_with_a_redirect_is_retried_not_followed,
    ]
}

/// How long a test waits for what must come: deliveries normally arrive within a second or
/// two (the retry schedule is 1 s, 1 s), the failed list about a second after a failure.
const WAIT: Duration = Duration::from_secs(20);
/// Fixed so that a failure reproduces; `SWITCHBOARD_DELIVERY_SEED` explores other orders.
const DEFAULT_SEED: u64 = 0xde11_7e12_2026_0001;
const MAIN: &str = "/main";
const FILTERED: &str = "/filtered";

/// One call or message of a CLI scenario (crates/cli/src/scenario/), addressed to a worker.
struct Subject {
    provider: ProviderId,
    kind: Kind,
    id: String,
    /// Every webhook of the lifecycle in the order its events happened, each signed once, so
    /// that a duplicate is resent byte for byte.
    signed: Vec<CapturedRequest>,
    /// The scenario's own delivery order (a late event and a duplicate included), as indices
    /// into `signed`.
    planned: Vec<usize>,
}

impl Subject {
    /// A fresh lifecycle of scenario `name`, ending now.
    fn new(
        base_url: &str,
        provider_id: ProviderId,
        name: ScenarioName,
        ids: &mut IdSource,
    ) -> Self {
        let fresh = scenario::fresh_ids(provider_id, name.kind(), ids);
        let url = format!("{base_url}/webhooks/{provider_id}");
        let built = scenario::build_ending_at(provider_id, name, &url, &fresh, now())
            .unwrap_or_else(|| panic!("{provider_id} has scenario {}", name.as_str()));
        let signer = provider(provider_id);
        let signed = built
            .events
            .iter()
            .map(|event| signer.sign(&event.request, now()).expect("sign"))
            .collect();
        Self {
            provider: provider_id,
            kind: built.kind(),
            id: built.subject_id.clone(),
            signed,
            planned: built.deliveries.clone(),
        }
    }

    /// The status API path of the subject.
    fn path(&self) -> String {
        let collection = match self.kind {
            Kind::Call => "calls",
            Kind::Message => "messages",
        };
        format!("/v1/{collection}/{}/{}", self.provider, self.id)
    }

    /// Sends webhook `index` and returns the ids of the events it committed (none for a
    /// duplicate).
    fn send(&self, client: &Client, index: usize) -> Vec<String> {
        let response = deliver(client, &self.signed[index]);
        assert_eq!(
            response.status,
            200,
            "{} webhook {index}: {}",
            self.path(),
            response.body
        );
        let accepted = response.json()["accepted"].clone();
        let accepted = accepted.as_array().expect("accepted");
        assert!(!accepted.is_empty(), "{}: nothing accepted", self.path());
        accepted
            .iter()
            .inspect(|entry| {
                assert_eq!(entry["id"], json!(self.id), "{}: {entry}", self.path());
                assert_eq!(entry["kind"], json!(self.kind.as_str()), "{entry}");
            })
            .filter(|entry| entry["duplicate"] == json!(false))
            .map(|entry| entry["event_id"].as_str().expect("event id").to_owned())
            .collect()
    }

    /// Sends `order`'s webhooks one at a time and returns the committed event ids in commit
    /// order: sent sequentially, the commit order is that of the acknowledgements.
    fn send_all(&self, client: &Client, order: &[usize]) -> Vec<String> {
        order
            .iter()
            .flat_map(|&index| self.send(client, index))
            .collect()
    }
}

/// A fresh answered Plivo call (its tests send the first events): Plivo is none of the
/// `filtered` endpoint's providers, so only `main` gets its events.
fn plivo_call(base_url: &str, ids: &mut IdSource) -> Subject {
    Subject::new(base_url, ProviderId::Plivo, ScenarioName::Answered, ids)
}

/// `{kind}.{status}`, or `{kind}.updated` for an event without a status (docs/delivery.md).
fn event_type(event: &Value) -> String {
    let kind = event["kind"].as_str().expect("kind");
    let status = event["status"].as_str().unwrap_or("updated");
    format!("{kind}.{status}")
}

/// Whether the `filtered` endpoint wants `event` (`DELIVERY_FILTERED_EVENTS` and `_PROVIDERS`).
fn filtered_wants(event: &Value) -> bool {
    let event_type = event_type(event);
    let provider = event["provider"].as_str().expect("provider");
    (event_type == "call.completed" || event_type.starts_with("message."))
        && FILTERED_PROVIDERS.split(',').any(|name| name == provider)
}

/// The subject's timeline, by event id.
fn timeline(client: &Client, path: &str) -> HashMap<String, Value> {
    summary(client, &format!("{path}/events"))["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| {
            (
                event["event_id"].as_str().expect("id").to_owned(),
                event.clone(),
            )
        })
        .collect()
}

/// `GET {path}/deliveries`: the subject's deliveries to `endpoint`, in commit order.
fn delivery_rows(client: &Client, path: &str, endpoint: &str) -> Vec<Value> {
    summary(client, &format!("{path}/deliveries"))["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .filter(|row| row["endpoint"] == json!(endpoint))
        .cloned()
        .collect()
}

/// Polls `check` every 100 ms until it gives `Some`; panics with `what` after `timeout`.
pub fn poll<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "{what} within {timeout:?}");
        sleep(Duration::from_millis(100));
    }
}

/// The subject's rows to `endpoint` once there are `count` and all are in `state`.
fn rows_in_state(
    client: &Client,
    path: &str,
    endpoint: &str,
    count: usize,
    state: &str,
) -> Vec<Value> {
    let mut last = Vec::new();
    poll(
        &format!("{path}: {count} deliveries to {endpoint} {state} (last seen {last:?})"),
        WAIT,
        || {
            last = delivery_rows(client, path, endpoint);
            (last.len() == count && last.iter().all(|row| row["state"] == json!(state)))
                .then(|| last.clone())
        },
    )
}

/// A request with the status API token and a JSON body.
pub fn post(client: &Client, path: &str, credential: &str, body: &Value) -> Response {
    let authorization = format!("Bearer {credential}");
    client
        .send(
            "POST",
            path,
            &[
                ("authorization", &authorization),
                ("content-type", "application/json"),
            ],
            body.to_string().as_bytes(),
        )
        .expect("worker reachable")
}

/// Every failed delivery of the list `query` (`/v1/deliveries?…`), page by page.
pub fn failed_list(client: &Client, query: &str) -> Vec<Value> {
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(cursor) => format!("/v1/deliveries?{query}&limit=100&cursor={cursor}"),
            None => format!("/v1/deliveries?{query}&limit=100"),
        };
        let page = summary(client, &path);
        listed.extend(page["deliveries"].as_array().expect("deliveries").clone());
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    listed
}

/// The entries of `webhook_ids` in the failed list `query`, once all are there.
fn listed_as_failed(client: &Client, query: &str, webhook_ids: &[&str]) -> Vec<Value> {
    poll(
        &format!("{webhook_ids:?} listed by /v1/deliveries?{query}"),
        WAIT,
        || {
            let listed = failed_list(client, query);
            let found: Vec<Value> = webhook_ids
                .iter()
                .filter_map(|id| {
                    listed
                        .iter()
                        .find(|entry| entry["webhook_id"] == json!(id))
                        .cloned()
                })
                .collect();
            (found.len() == webhook_ids.len()).then_some(found)
        },
    )
}

/// Asserts that the `standardwebhooks` crate verifies `delivery` with each of `secrets` (one
/// signature per secret while rotating) and with no other secret.
fn assert_signed(delivery: &Delivery, secrets: &[&str]) {
    for secret in secrets {
        if let Err(error) = delivery.verify(secret) {
            panic!("does not verify: {error}: {}", delivery.describe());
        }
    }
    let others = MAIN_SECRETS
        .iter()
        .chain([&FILTERED_SECRET])
        .filter(|secret| !secrets.contains(secret));
    for other in others {
        assert!(
            delivery.verify(other).is_err(),
            "verifies with another endpoint's secret: {}",
            delivery.describe()
        );
    }
    let signatures = delivery.header("webhook-signature").unwrap_or_default();
    assert_eq!(
        signatures.split(' ').count(),
        secrets.len(),
        "one signature per secret: {}",
        delivery.describe()
    );
    let id = delivery.webhook_id();
    assert!(
        id.len() == 36
            && id.starts_with("msg_")
            && id[4..]
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)),
        "webhook-id {id:?} is not msg_ and 32 hex digits"
    );
    assert!(
        delivery
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "{}",
        delivery.describe()
    );
}

fn millis(text: &Value) -> i64 {
    Timestamp::parse_rfc3339(text.as_str().expect("a timestamp"))
        .expect("RFC 3339")
        .millis()
}

/// The event ids of `deliveries`, in arrival order.
fn event_ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(Delivery::event_id).collect()
}

/// Every event of shuffled lifecycles of every scenario of every provider (copies of random
/// webhooks included, subjects interleaved) reaches `main` once, signed, in commit order, with
/// the event as the timeline shows it and the state right after it.
fn every_event_gets_one_signed_delivery_in_commit_order(suite: &Suite) {
    let seed = seed_from_env("SWITCHBOARD_DELIVERY_SEED", DEFAULT_SEED);
    let mut rng = Rng::new(seed);
    let worker = &suite.delivering;
    let client = worker.client();
    let receiver = &suite.receiver;
    let mut ids = IdSource::from_clock_and_pid();
    let subjects: Vec<Subject> = ProviderId::ALL
        .into_iter()
        .flat_map(|id| {
            scenario::available(id)
                .into_iter()
                .map(move |name| (id, name))
        })
        .map(|(id, name)| Subject::new(&worker.base_url, id, name, &mut ids))
        .collect();
    assert_eq!(
        subjects
            .iter()
            .map(|subject| subject.provider)
            .collect::<BTreeSet<_>>()
            .len(),
        ProviderId::ALL.len()
    );

    // Each subject's webhooks in a random order with copies of random ones, the subjects
    // interleaved at random, all sent one at a time.
    let mut queues: Vec<Vec<usize>> = subjects
        .iter()
        .map(|subject| {
            let mut order: Vec<usize> = (0..subject.signed.len()).collect();
            for _ in 0..=rng.below(2) {
                order.push(rng.below(subject.signed.len()));
            }
            rng.shuffle(&mut order);
            order.reverse();
            order
        })
        .collect();
    let mut committed: Vec<Vec<String>> = vec![Vec::new(); subjects.len()];
    let mut sent = 0;
    while queues.iter().any(|queue| !queue.is_empty()) {
        let pending: Vec<usize> = (0..queues.len())
            .filter(|&subject| !queues[subject].is_empty())
            .collect();
        let subject = pending[rng.below(pending.len())];
        let index = queues[subject].pop().expect("not empty");
        committed[subject].extend(subjects[subject].send(&client, index));
        sent += 1;
    }
    let total: usize = committed.iter().map(Vec::len).sum();
    assert!(
        total < sent,
        "no duplicate sent (SWITCHBOARD_DELIVERY_SEED={seed:#x})"
    );

    for (subject, committed) in subjects.iter().zip(&committed) {
        let path = subject.path();
        let what = format!("{path} (SWITCHBOARD_DELIVERY_SEED={seed:#x})");
        // The outbox rows: one per committed event (none for a duplicate), in commit order;
        // once all are delivered, nothing more is sent.
        let rows = rows_in_state(&client, &path, "main", committed.len(), "delivered");
        let row_events: Vec<&str> = rows
            .iter()
            .map(|row| row["event_id"].as_str().expect("event id"))
            .collect();
        assert_eq!(row_events, *committed, "{what}: rows in commit order");
        let deliveries = receiver.wait_for(MAIN, &subject.id, committed.len(), WAIT);
        assert_eq!(
            event_ids(&deliveries),
            *committed,
            "{what}: one delivery per event, in commit order"
        );

        let events = timeline(&client, &path);
        assert_eq!(events.len(), committed.len(), "{what}");
        let mut webhook_ids = BTreeSet::new();
        for (position, (delivery, row)) in deliveries.iter().zip(&rows).enumerate() {
            assert_signed(delivery, &MAIN_SECRETS);
            let body = delivery.json();
            let event = &events[&delivery.event_id()];
            assert_eq!(
                body["data"]["event"], *event,
                "{what}: the timeline's event"
            );
            assert_eq!(body["type"], json!(event_type(event)), "{what}");
            assert_eq!(
                millis(&body["timestamp"]),
                millis(&event["received_at"]),
                "{what}: timestamp is when the event was received"
            );
            let state = &body["data"]["state"];
            assert_eq!(state["id"], json!(subject.id), "{what}");
            assert_eq!(state["provider"], json!(subject.provider.as_str()));
            assert_eq!(
                state["event_count"],
                json!(position + 1),
                "{what}: the state right after event {position}: {state}"
            );
            assert_eq!(row["webhook_id"], json!(delivery.webhook_id()), "{what}");
            assert_eq!(row["type"], body["type"], "{what}");
            assert_eq!(row["attempts"], json!(1), "{what}: {row}");
            assert_eq!(row["last_status"], json!(204), "{what}: {row}");
            assert_eq!(row["next_attempt_at"], Value::Null, "{what}: {row}");
            webhook_ids.insert(delivery.webhook_id().to_owned());
        }
        assert_eq!(webhook_ids.len(), committed.len(), "{what}: distinct ids");
        let last = deliveries.last().expect("at least one event").json();
        assert_eq!(
            last["data"]["state"],
            summary(&client, &path),
            "{what}: the last delivery's state is the subject's"
        );
    }
    // Nothing more came for these subjects while the rest was checked.
    for (subject, committed) in subjects.iter().zip(&committed) {
        assert_eq!(
            receiver.deliveries(MAIN, &subject.id).len(),
            committed.len(),
            "{}: a second delivery",
            subject.path()
        );
    }
}

/// `filtered` wants completed calls and every message, of Twilio and Telnyx only: it gets
/// exactly those, in commit order, signed with its own secret; `main` gets everything.
fn delivery_to_a_filtered_endpoint_is_exactly_the_types_and_providers_it_asked_for(suite: &Suite) {
    let worker = &suite.delivering;
    let client = worker.client();
    let receiver = &suite.receiver;
    let mut ids = IdSource::from_clock_and_pid();
    let cases = [
        (ProviderId::Twilio, ScenarioName::Answered),
        (ProviderId::Twilio, ScenarioName::SmsDelivered),
        (ProviderId::Telnyx, ScenarioName::Busy),
        (ProviderId::Telnyx, ScenarioName::SmsFailed),
        (ProviderId::Bird, ScenarioName::Answered),
        (ProviderId::Plivo, ScenarioName::SmsDelivered),
        (ProviderId::Vonage, ScenarioName::Answered),
    ];
    let subjects: Vec<Subject> = cases
        .into_iter()
        .map(|(id, name)| Subject::new(&worker.base_url, id, name, &mut ids))
        .collect();
    let committed: Vec<Vec<String>> = subjects
        .iter()
        .map(|subject| subject.send_all(&client, &subject.planned))
        .collect();

    let mut wanted_somewhere = 0;
    for (subject, committed) in subjects.iter().zip(&committed) {
        let path = subject.path();
        let events = timeline(&client, &path);
        let wanted: Vec<String> = committed
            .iter()
            .filter(|id| filtered_wants(&events[*id]))
            .cloned()
            .collect();
        wanted_somewhere += wanted.len();
        match (subject.provider, subject.kind) {
            (ProviderId::Twilio, Kind::Call) => {
                assert_eq!(wanted.len(), 1, "{path}: one completed event")
            }
            (ProviderId::Twilio | ProviderId::Telnyx, Kind::Message) => {
                assert_eq!(wanted.len(), committed.len(), "{path}: every message event")
            }
            (ProviderId::Telnyx, Kind::Call) => {
                assert!(wanted.is_empty(), "{path}: a busy call never completes")
            }
            _ => assert!(wanted.is_empty(), "{path}: not a provider of filtered"),
        }
        // The rows are written with the events: exactly the wanted ones, in commit order.
        rows_in_state(&client, &path, "main", committed.len(), "delivered");
        let rows = rows_in_state(&client, &path, "filtered", wanted.len(), "delivered");
        let row_events: Vec<&str> = rows
            .iter()
            .map(|row| row["event_id"].as_str().expect("event id"))
            .collect();
        assert_eq!(row_events, wanted, "{path}: filtered rows");
        let deliveries = receiver.wait_for(FILTERED, &subject.id, wanted.len(), WAIT);
        assert_eq!(
            event_ids(&deliveries),
            wanted,
            "{path}: filtered deliveries"
        );
        for (delivery, row) in deliveries.iter().zip(&rows) {
            assert_signed(delivery, &[FILTERED_SECRET]);
            assert_eq!(row["webhook_id"], json!(delivery.webhook_id()), "{path}");
            assert!(filtered_wants(&delivery.json()["data"]["event"]));
        }
        let main = receiver.wait_for(MAIN, &subject.id, committed.len(), WAIT);
        assert_eq!(
            event_ids(&main),
            *committed,
            "{path}: main gets every event"
        );
        // One id per event and endpoint: the same event has another id at `main`.
        for delivery in &deliveries {
            let at_main = main
                .iter()
                .find(|other| other.event_id() == delivery.event_id())
                .expect("the event at main too");
            assert_ne!(at_main.webhook_id(), delivery.webhook_id(), "{path}");
            assert_eq!(
                at_main.json(),
                delivery.json(),
                "{path}: one payload per event"
            );
        }
    }
    assert!(wanted_somewhere >= 3, "the cases exercise no delivery");
}

/// A 503 twice, then 204: delivered on the third attempt with one `webhook-id`. A subject's
/// next event waits until the one before is delivered. A 429 with a `Retry-After` longer than
/// the schedule's wait is honoured.
fn a_failing_delivery_is_retried_and_holds_back_the_subjects_next_event(suite: &Suite) {
    let worker = &suite.delivering;
    let client = worker.client();
    let receiver = &suite.receiver;
    let mut ids = IdSource::from_clock_and_pid();
    let recovering = plivo_call(&worker.base_url, &mut ids);
    let holding = plivo_call(&worker.base_url, &mut ids);
    let slowed = plivo_call(&worker.base_url, &mut ids);
    receiver.script(&recovering.id, Script::first(2, Answer::Status(503)));
    receiver.script(&holding.id, Script::first(1, Answer::Status(503)));
    const RETRY_AFTER_S: u32 = 3;
    receiver.script(
        &slowed.id,
        Script::first(1, Answer::RetryAfter(429, RETRY_AFTER_S)),
    );
    let recovering_events = recovering.send_all(&client, &[0]);
    let holding_events = holding.send_all(&client, &[0, 1]);
    let slowed_events = slowed.send_all(&client, &[0]);
    assert_eq!(holding_events.len(), 2);

    // Three attempts of one delivery, one webhook-id, each signed.
    let attempts = receiver.wait_for(MAIN, &recovering.id, 3, WAIT);
    assert_eq!(
        attempts
            .iter()
            .map(|attempt| attempt.answer)
            .collect::<Vec<_>>(),
        [
            Answer::Status(503),
            Answer::Status(503),
            Answer::Status(204)
        ]
    );
    for attempt in &attempts {
        assert_signed(attempt, &MAIN_SECRETS);
        assert_eq!(attempt.event_id(), recovering_events[0]);
        assert_eq!(
            attempt.webhook_id(),
            attempts[0].webhook_id(),
            "same id on retry"
        );
        assert_eq!(attempt.body, attempts[0].body, "same body on retry");
    }
    let row = &rows_in_state(&client, &recovering.path(), "main", 1, "delivered")[0];
    assert_eq!(row["attempts"], json!(3), "{row}");
    assert_eq!(row["last_status"], json!(204), "{row}");
    assert_eq!(row["webhook_id"], json!(attempts[0].webhook_id()), "{row}");
    assert_eq!(row["next_attempt_at"], Value::Null, "{row}");

    // The second event goes out only once the first is delivered.
    let attempts = receiver.wait_for(MAIN, &holding.id, 3, WAIT);
    assert_eq!(
        event_ids(&attempts),
        [
            holding_events[0].clone(),
            holding_events[0].clone(),
            holding_events[1].clone()
        ],
        "{:#?}",
        attempts.iter().map(Delivery::describe).collect::<Vec<_>>()
    );
    let rows = rows_in_state(&client, &holding.path(), "main", 2, "delivered");
    assert_eq!(rows[0]["attempts"], json!(2), "{}", rows[0]);
    assert_eq!(rows[1]["attempts"], json!(1), "{}", rows[1]);

    // Retry-After: a lower bound the worker must respect, not a deadline.
    let attempts = receiver.wait_for(MAIN, &slowed.id, 2, WAIT);
    assert_eq!(attempts[1].event_id(), slowed_events[0]);
    let waited = attempts[1].arrived - attempts[0].arrived;
    assert!(
        waited >= Duration::from_millis(u64::from(RETRY_AFTER_S) * 1000 - 500),
        "retried {waited:?} after a 429 asking for {RETRY_AFTER_S} s"
    );
    let row = &rows_in_state(&client, &slowed.path(), "main", 1, "delivered")[0];
    assert_eq!(row["attempts"], json!(2), "{row}");
}

/// An endpoint that holds the connection and never answers: the attempt is abandoned after
/// its 15 s (`ATTEMPT_TIMEOUT_MS`), recorded without a status, and retried on the schedule.
fn a_delivery_the_endpoint_never_answers_times_out_and_is_retried(suite: &Suite) {
    let worker = &suite.delivering;
    let client = worker.client();
    let receiver = &suite.receiver;
    let mut ids = IdSource::from_clock_and_pid();
    let silent = plivo_call(&worker.base_url, &mut ids);
    receiver.script(&silent.id, Script::first(2, Answer::Hold));
    let events = silent.send_all(&client, &[0]);
    let timeout = Duration::from_millis(ATTEMPT_TIMEOUT_MS as u64);

    // While the second attempt is held, the row shows the first one's timeout.
    let held = receiver.wait_for(MAIN, &silent.id, 2, WAIT + timeout);
    let row = &delivery_rows(&client, &silent.path(), "main")[0];
    assert_eq!(row["state"], json!("pending"), "{row}");
    assert_eq!(row["attempts"], json!(1), "{row}");
    assert_eq!(
        row["last_status"],
        Value::Null,
        "no answer, no status: {row}"
    );
    assert_eq!(
        row["last_error"],
        json!(format!("no answer within {} s", timeout.as_secs())),
        "{row}"
    );
    // A lower bound the worker must respect, not a deadline.
    let waited = held[1].arrived - held[0].arrived;
    assert!(
        waited >= timeout - Duration::from_millis(500),
        "the second attempt came {waited:?} after the first, before its {timeout:?} were up"
    );
    assert_eq!(held[1].webhook_id(), held[0].webhook_id());
    assert_eq!(held[0].event_id(), events[0]);

    let third = receiver
        .wait_for(MAIN, &silent.id, 3, WAIT + timeout)
        .remove(2);
    assert_eq!(third.answer, Answer::Status(204));
    assert_eq!(third.webhook_id(), held[0].webhook_id());
    let row = &rows_in_state(&client, &silent.path(), "main", 1, "delivered")[0];
    assert_eq!(row["attempts"], json!(3), "{row}");
    assert_eq!(row["last_status"], json!(204), "{row}");
    receiver.release(&silent.id, 204);
}

/// A redirect is not 2xx: it is retried at the same URL. Followed, a 302 would arrive as a GET
/// without the body (and count as delivered), and a 307 would carry the body elsewhere.
fn a_delivery_answered_with_a_redirect_is_retried_not_followed(suite: &Suite) {
    let worker = &suite.delivering;
    let client = worker.client();
    let receiver = &suite.receiver;
    let mut ids = IdSource::from_clock_and_pid();
    for status in [302, 307] {
        let subject = plivo_call(&worker.base_url, &mut ids);
        receiver.script(&subject.id, Script::first(1, Answer::Redirect(status)));
        let events = subject.send_all(&client, &[0]);
        let attempts = receiver.wait_for(MAIN, &subject.id, 2, WAIT);
        assert_eq!(
            attempts
                .iter()
                .map(|attempt| attempt.answer)
                .collect::<Vec<_>>(),
            [Answer::Redirect(status), Answer::Status(204)]
        );
        assert_eq!(attempts[1].event_id(), events[0]);
        assert_eq!(attempts[1].webhook_id(), attempts[0].webhook_id());
        let row = &rows_in_state(&client, &subject.path(), "main", 1, "delivered")[0];
        assert_eq!(row["attempts"], json!(2), "{row}");
    }
    let followed: Vec<String> = receiver
        .all()
        .iter()
        .filter(|delivery| delivery.path.starts_with(REDIRECTED))
        .map(Delivery::describe)
        .collect();
    assert!(
        followed.is_empty(),
        "a redirect was followed: {followed:#?}"
    );
}

/// An endpoint that always answers 500: after the schedule the delivery is `failed`, listed,
/// and the subject's next event goes out (and fails too). Once the endpoint recovers, a retry
/// by subject, a retry of every event, and a retry across subjects deliver them, each with its
/// first `webhook-id`.
fn a_delivery_that_keeps_failing_is_listed_and_retried_by_hand(suite: &Suite) {
    let worker = &suite.delivering;
    let client = worker.client();
    let receiver = &suite.receiver;
    let mut ids = IdSource::from_clock_and_pid();

    // One subject, two events, both failing for good, one after the other.
    let failing = plivo_call(&worker.base_url, &mut ids);
    let path = failing.path();
    receiver.script(&failing.id, Script::always(Answer::Status(500)));
    let events = failing.send_all(&client, &[0, 1]);
    assert_eq!(events.len(), 2);
    let rows = rows_in_state(&client, &path, "main", 2, "failed");
    for row in &rows {
        assert_eq!(row["attempts"], json!(3), "{row}");
        assert_eq!(row["last_status"], json!(500), "{row}");
        assert!(
            row["last_error"]
                .as_str()
                .is_some_and(|error| !error.is_empty()),
            "{row}"
        );
        assert_eq!(row["next_attempt_at"], Value::Null, "{row}");
    }
    let attempts = receiver.wait_for(MAIN, &failing.id, 6, WAIT);
    assert_eq!(
        event_ids(&attempts),
        [0, 0, 0, 1, 1, 1].map(|event| events[event].clone()),
        "the second event waits until the first has failed for good"
    );
    let webhook_ids: Vec<String> = rows
        .iter()
        .map(|row| row["webhook_id"].as_str().expect("id").to_owned())
        .collect();
    for (attempt, event) in attempts.iter().zip([0, 0, 0, 1, 1, 1]) {
        assert_signed(attempt, &MAIN_SECRETS);
        assert_eq!(attempt.webhook_id(), webhook_ids[event]);
    }

    // The failed list (KV, eventually consistent): both, with their fields, in the list of
    // `main` and of every endpoint, not in `filtered`'s.
    let id_refs: Vec<&str> = webhook_ids.iter().map(String::as_str).collect();
    let listed = listed_as_failed(&client, "state=failed&endpoint=main", &id_refs);
    for (entry, (row, event)) in listed.iter().zip(rows.iter().zip(&events)) {
        assert_eq!(entry["endpoint"], json!("main"), "{entry}");
        assert_eq!(entry["kind"], json!("call"), "{entry}");
        assert_eq!(entry["provider"], json!("plivo"), "{entry}");
        assert_eq!(entry["subject_id"], json!(failing.id), "{entry}");
        assert_eq!(entry["event_id"], json!(event), "{entry}");
        assert_eq!(entry["type"], row["type"], "{entry}");
        assert_eq!(entry["attempts"], json!(3), "{entry}");
        assert_eq!(entry["last_status"], json!(500), "{entry}");
        assert!(entry["failed_at"].is_string(), "{entry}");
    }
    // Most recently failed first.
    assert!(millis(&listed[1]["failed_at"]) >= millis(&listed[0]["failed_at"]));
    // The list of every endpoint has them too, newest first.
    listed_as_failed(&client, "state=failed", &id_refs);
    let everywhere: Vec<String> = failed_list(&client, "state=failed")
        .iter()
        .filter_map(|entry| entry["webhook_id"].as_str().map(str::to_owned))
        .filter(|id| webhook_ids.contains(id))
        .collect();
    assert_eq!(
        everywhere,
        [webhook_ids[1].clone(), webhook_ids[0].clone()],
        "the list of every endpoint, most recently failed first"
    );
    let filtered = failed_list(&client, "endpoint=filtered");
    assert!(
        filtered
            .iter()
            .all(|entry| entry["endpoint"] == json!("filtered")),
        "{filtered:?}"
    );

    // Recovered: the subject's failed deliveries again, in order, with their ids.
    receiver.script(&failing.id, Script::always(Answer::Status(204)));
    let retry_path = format!("{path}/deliveries/retry");
    let response = post(&client, &retry_path, TOKEN, &json!({"endpoint": "main"}));
    assert_eq!(response.status, 202, "{}", response.body);
    let attempts = receiver.wait_for(MAIN, &failing.id, 8, WAIT);
    assert_eq!(event_ids(&attempts[6..]), events, "retried in commit order");
    for (attempt, id) in attempts[6..].iter().zip(&webhook_ids) {
        assert_signed(attempt, &MAIN_SECRETS);
        assert_eq!(attempt.webhook_id(), id, "the same webhook-id");
    }
    let rows = rows_in_state(&client, &path, "main", 2, "delivered");
    for row in &rows {
        assert_eq!(row["last_status"], json!(204), "{row}");
    }
    assert_eq!(
        receiver.deliveries(MAIN, &failing.id).len(),
        8,
        "each failed delivery sent once more"
    );
    assert_eq!(
        response.json(),
        json!({"retried": 2}),
        "two failed deliveries were sent again"
    );
    // Retried, they leave the failed list.
    poll("the retried deliveries leave the failed list", WAIT, || {
        let listed = failed_list(&client, "endpoint=main");
        (!listed
            .iter()
            .any(|entry| id_refs.contains(&entry["webhook_id"].as_str().unwrap_or_default())))
        .then_some(())
    });
    // Nothing failed is left: none retried.
    let response = post(&client, &retry_path, TOKEN, &json!({}));
    assert_eq!(response.status, 202, "{}", response.body);
    assert_eq!(response.json(), json!({"retried": 0}));
    // Every event again, delivered ones included, with the same ids.
    let response = post(&client, &retry_path, TOKEN, &json!({"all": true}));
    assert_eq!(response.status, 202, "{}", response.body);
    let attempts = receiver.wait_for(MAIN, &failing.id, 10, WAIT);
    assert_eq!(event_ids(&attempts[8..]), events, "resent in commit order");
    for (attempt, id) in attempts[8..].iter().zip(&webhook_ids) {
        assert_signed(attempt, &MAIN_SECRETS);
        assert_eq!(attempt.webhook_id(), id, "the same webhook-id");
    }
    rows_in_state(&client, &path, "main", 2, "delivered");
    assert_eq!(
        receiver.deliveries(MAIN, &failing.id).len(),
        10,
        "each event sent once more"
    );
    assert!(
        delivery_rows(&client, &path, "filtered").is_empty(),
        "filtered wants no Plivo event"
    );
    assert_eq!(
        response.json(),
        json!({"retried": 2}),
        "two events, one endpoint wanting them: the receiver got 2 deliveries"
    );

    // Across subjects: two failed after `since` (the earlier ones were retried before it).
    let since = now();
    let subjects = [
        plivo_call(&worker.base_url, &mut ids),
        plivo_call(&worker.base_url, &mut ids),
    ];
    for subject in &subjects {
        receiver.script(&subject.id, Script::always(Answer::Status(500)));
        subject.send_all(&client, &[0]);
    }
    let failed: Vec<String> = subjects
        .iter()
        .map(|subject| {
            let row = &rows_in_state(&client, &subject.path(), "main", 1, "failed")[0];
            row["webhook_id"].as_str().expect("id").to_owned()
        })
        .collect();
    let failed_refs: Vec<&str> = failed.iter().map(String::as_str).collect();
    listed_as_failed(&client, "endpoint=main", &failed_refs);
    for subject in &subjects {
        receiver.script(&subject.id, Script::always(Answer::Status(204)));
    }
    let response = post(
        &client,
        "/v1/deliveries/retry",
        TOKEN,
        &json!({"endpoint": "main", "since": since.to_string()}),
    );
    assert_eq!(response.status, 202, "{}", response.body);
    for (subject, id) in subjects.iter().zip(&failed) {
        let attempts = receiver.wait_for(MAIN, &subject.id, 4, WAIT);
        assert_eq!(attempts[3].answer, Answer::Status(204));
        assert_eq!(attempts[3].webhook_id(), id, "the same webhook-id");
        assert_signed(&attempts[3], &MAIN_SECRETS);
        rows_in_state(&client, &subject.path(), "main", 1, "delivered");
        assert_eq!(receiver.deliveries(MAIN, &subject.id).len(), 4);
    }
    assert_eq!(
        response.json(),
        json!({"retried": 2, "subjects": 2, "complete": true, "cursor": null}),
        "one failed delivery in each of two subjects, each sent once more"
    );
}

/// Reading a subject's deliveries is a read (a browser token in scope may); the failed list
/// and every retry are for the status API token only.
fn browser_tokens_read_delivery_rows_in_scope_but_never_retry_or_list_failed_ones(suite: &Suite) {
    let worker = &suite.delivering;
    let client = worker.client();
    let mut ids = IdSource::from_clock_and_pid();
    let subject = plivo_call(&worker.base_url, &mut ids);
    subject.send_all(&client, &[0]);
    let path = subject.path();
    let browser = minted(&client, &["calls", "messages"]);
    let elsewhere = minted(&client, &["calls/plivo/some-other-call"]);

    let read = client
        .api(&format!("{path}/deliveries"), &browser)
        .expect("worker reachable");
    assert_eq!(read.status, 200, "{}", read.body);
    assert_error(
        &client
            .api(&format!("{path}/deliveries"), &elsewhere)
            .expect("worker reachable"),
        403,
        "out_of_scope",
    );
    for token in [&browser, &elsewhere] {
        assert_error(
            &client
                .api("/v1/deliveries?state=failed", token)
                .expect("worker reachable"),
            403,
            "out_of_scope",
        );
        assert_error(
            &post(&client, "/v1/deliveries/retry", token, &json!({})),
            403,
            "out_of_scope",
        );
        assert_error(
            &post(
                &client,
                &format!("{path}/deliveries/retry"),
                token,
                &json!({}),
            ),
            403,
            "out_of_scope",
        );
    }
    assert_eq!(
        client
            .api("/v1/deliveries?state=failed", TOKEN)
            .expect("worker reachable")
            .status,
        200
    );
}

/// SIGKILL of workerd while the endpoint holds the first delivery unanswered: after the
/// restart on the same state, a status read resumes the subject's deliveries (local workerd
/// loses alarms across a restart, docs/delivery.md), and every acknowledged event is delivered,
/// in commit order, the interrupted one with the `webhook-id` it had before the crash.
fn a_delivery_in_flight_during_a_crash_is_sent_again_after_the_restart(suite: &Suite) {
    let receiver: &Receiver = &suite.receiver;
    let vars = delivering_vars(receiver);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let name = "delivering-crash";
    let mut worker =
        Worker::start(name, &vars, &run_dir().join("state").join(name)).expect("worker starts");
    let client = worker.client();
    let mut ids = IdSource::from_clock_and_pid();
    let subject = plivo_call(&worker.base_url, &mut ids);
    receiver.script(&subject.id, Script::first(1, Answer::Hold));
    let order: Vec<usize> = (0..subject.signed.len()).collect();
    let committed = subject.send_all(&client, &order);
    assert!(committed.len() >= 2, "{committed:?}");

    let held = receiver.wait_for(MAIN, &subject.id, 1, WAIT).remove(0);
    assert_eq!(held.answer, Answer::Hold);
    assert_eq!(held.event_id(), committed[0]);
    assert_signed(&held, &MAIN_SECRETS);
    worker.kill();
    receiver.release(&subject.id, 503);
    let after_crash = receiver.all().len();
    worker.start_again().expect("the worker starts again");
    // A status read touches the subject.
    let state = summary(&client, &subject.path());
    assert_eq!(state["event_count"], json!(committed.len()), "{state}");

    // The first delivery of each event after the restart, in commit order. An attempt the
    // alarm or the crash left in flight may come again (at least once): the first counts.
    // An interrupted attempt may wait out its 15 s timeout before it is made again.
    let resumed = receiver.wait_until(
        "every acknowledged event delivered after the restart",
        WAIT + Duration::from_secs(15),
        |deliveries| {
            let mut first: Vec<Delivery> = Vec::new();
            for delivery in &deliveries[after_crash.min(deliveries.len())..] {
                if delivery.path == MAIN
                    && delivery.subject.as_deref() == Some(subject.id.as_str())
                    && delivery.answer == Answer::Status(204)
                    && !first
                        .iter()
                        .any(|seen| seen.event_id() == delivery.event_id())
                {
                    first.push(delivery.clone());
                }
            }
            (first.len() == committed.len()).then_some(first)
        },
    );
    assert_eq!(event_ids(&resumed), committed, "in commit order");
    assert_eq!(
        resumed[0].webhook_id(),
        held.webhook_id(),
        "the interrupted delivery keeps its webhook-id"
    );
    for delivery in &resumed {
        assert_signed(delivery, &MAIN_SECRETS);
    }
    let rows = rows_in_state(
        &client,
        &subject.path(),
        "main",
        committed.len(),
        "delivered",
    );
    for (row, delivery) in rows.iter().zip(&resumed) {
        assert_eq!(row["webhook_id"], json!(delivery.webhook_id()), "{row}");
    }
}
