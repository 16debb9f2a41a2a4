//! An HTTP-level fuzzer against the real worker in workerd: thousands of malformed requests —
//! random bytes, truncated and invalid UTF-8 bodies, wrong and missing content types, duplicate
//! and oversized headers, huge query strings, every method, every route, valid signatures over
//! mutated bodies, mutated bodies validly signed, and requests that are not HTTP at all — then
//! `/healthz` and a valid webhook must still work.
//!
//! Every answer to a well-formed request must be a 2xx (only for GET, HEAD or POST, or a 204
//! CORS preflight) or an error in the worker's JSON shape, `{"error": <stable code>, "message":
//! <text>}`, whose status is the one of its code, and never a 5xx except the two documented
//! retry signals (see [`RETRY_SIGNALS`]).
//!
//! Requests that are not valid HTTP/1.1 (bad request line, invalid header bytes, contradictory
//! or lying framing, broken chunked encoding) never reach the worker when workerd's HTTP parser
//! refuses them: for those alone, workerd's own non-JSON 4xx or a closed connection is accepted.
//! The same holds for requests beyond workerd's size limits on the request line and headers.
//! If the worker does see such a request, its answer is held to the rules above.
//!
//! Deterministic: case `i` is generated from the seed and `i` alone, so a failure prints the
//! seed, the case number and the request, and `SWITCHBOARD_HTTP_FUZZ_SEED` plus
//! `SWITCHBOARD_HTTP_FUZZ_CASE` replay exactly that request. `SWITCHBOARD_HTTP_FUZZ_REQUESTS`
//! sets how many are sent (`make soak` sends more), from case `SWITCHBOARD_HTTP_FUZZ_FIRST` (0).
//!
//! This file holds the runner and the rules an answer is judged by. The cases come from
//! `generate.rs` (the random building blocks, random requests to every route, the status API),
//! `webhooks.rs` (valid webhooks signed then damaged, or damaged then signed) and `malformed.rs`
//! (requests that are not valid HTTP/1.1); `regressions.rs` holds what the fuzzer found, as
//! plain tests.

mod generate;
mod malformed;
mod regressions;
mod webhooks;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_core::route::DASHBOARD_PATH;
use switchboard_core::{ErrorCode, ProviderId, WebhookError};

use self::generate::{chance, random_request, status_api};
use self::malformed::malformed_http;
use self::regressions::{
    a_body_cut_short_of_its_length_is_400_and_the_worker_serves_on,
    an_alias_too_long_for_the_index_does_not_stall_it,
    methods_unknown_to_the_runtime_bindings_are_405, status_api_ids_too_long_for_the_index_are_404,
    the_largest_sequence_number_is_stored_exactly,
};
use self::webhooks::{mutated_then_signed, signed_then_mutated};
use crate::concurrency::{lifecycle, provider, seed_from_env, Rng};
use crate::http::{exchange, AfterSending, RawResponse};
use crate::support::{accepted, now, summary};
use crate::worker::Worker;
use crate::{Suite, Test};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        malformed_requests_never_get_a_5xx_or_a_non_json_error,
        methods_unknown_to_the_runtime_bindings_are_405,
        status_api_ids_too_long_for_the_index_are_404,
        an_alias_too_long_for_the_index_does_not_stall_it,
        a_body_cut_short_of_its_length_is_400_and_the_worker_serves_on,
        the_largest_sequence_number_is_stored_exactly,
    ]
}

const DEFAULT_REQUESTS: usize = 2_000;
const DEFAULT_SEED: u64 = 0x0f00_d5ee_d0f0_2026;
/// Concurrent connections: enough to keep workerd busy on two cores.
const THREADS: usize = 4;
/// A well-formed request must be answered within this.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a request workerd may refuse is waited on before it counts as refused.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(5);
/// The worker's default `MAX_BODY_BYTES`.
const MAX_BODY_BYTES: usize = 1_048_576;

/// The status an error code is always sent with: the worker's own codes
/// (`switchboard_core::ErrorCode`) and a refused webhook's (`WebhookError::CODES`), whose table
/// `crates/core/tests/openapi.rs` holds to the contract; `None` for a code the worker never sends.
fn status_of(code: &str) -> Option<u16> {
    ErrorCode::ALL
        .iter()
        .find(|known| known.as_str() == code)
        .map(|known| known.status())
        .or_else(|| {
            WebhookError::CODES
                .iter()
                .find(|(known, _)| *known == code)
                .map(|(_, class)| class.status())
        })
}

/// The only 5xx answers that are not failures. Both are documented retry signals, answered on
/// purpose so that the provider delivers again later, and neither stores anything:
/// * `unsigned_callback`: Vonage documents rare unsigned voice callbacks and retries them on
///   5xx, so the retry arrives signed (the fuzzer sends Vonage-shaped JSON without a JWT);
/// * `source_not_configured`: the provider's secret is not set (the `unconfigured` worker), so
///   its webhooks are held back, never accepted unverified, until it is.
///
/// `storage_unavailable` and `config_invalid` remain failures: neither should be reachable by
/// any request to a correctly configured worker.
const RETRY_SIGNALS: [&str; 2] = ["unsigned_callback", "source_not_configured"];

/// What a case may be answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Well-formed HTTP/1.1 within workerd's limits: the worker answers, by the rules.
    Worker,
    /// Not valid HTTP/1.1 (or beyond workerd's limits), for this reason: workerd may refuse it
    /// with its own non-JSON 4xx or close the connection before the worker runs.
    MaybeRefused(&'static str),
}

struct Case {
    /// What the generator did, for the failure report.
    label: String,
    /// Index into the fuzzed workers.
    target: usize,
    method: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Half-close after sending, so that a server waiting for more body bytes sees the end.
    half_close: bool,
}

/// A fuzzed worker: where to connect and what its requests must carry.
struct Target {
    name: String,
    address: String,
    base_url: String,
}

impl Target {
    fn of(worker: &Worker) -> Self {
        let address = worker
            .base_url
            .strip_prefix("http://")
            .expect("http base url")
            .to_owned();
        Self {
            name: worker.name.clone(),
            address,
            base_url: worker.base_url.clone(),
        }
    }
}

fn malformed_requests_never_get_a_5xx_or_a_non_json_error(suite: &Suite) {
    let seed = seed_from_env("SWITCHBOARD_HTTP_FUZZ_SEED", DEFAULT_SEED);
    let requests: usize = std::env::var("SWITCHBOARD_HTTP_FUZZ_REQUESTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(DEFAULT_REQUESTS);
    let only: Option<usize> = std::env::var("SWITCHBOARD_HTTP_FUZZ_CASE")
        .ok()
        .and_then(|text| text.parse().ok());
    let first: usize = std::env::var("SWITCHBOARD_HTTP_FUZZ_FIRST")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    // Mostly the configured worker (every provider on); some cases hit the unconfigured one.
    let targets = [
        Target::of(&suite.configured),
        Target::of(&suite.unconfigured),
    ];
    let indices: Vec<usize> = match only {
        Some(index) => vec![index],
        None => (first..first + requests).collect(),
    };

    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let tally: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..THREADS.min(indices.len()) {
            scope.spawn(|| loop {
                let position = next.fetch_add(1, Ordering::Relaxed);
                let Some(&index) = indices.get(position) else {
                    break;
                };
                let case = generate(seed, index, &targets);
                let target = &targets[case.target];
                let timeout = match case.expect {
                    Expect::Worker => ANSWER_TIMEOUT,
                    Expect::MaybeRefused(_) => REFUSAL_TIMEOUT,
                };
                let outcome = send(&target.address, &case, timeout);
                match judge(&case, &outcome) {
                    Ok(verdict) => *tally.lock().unwrap().entry(verdict).or_default() += 1,
                    Err(problem) => {
                        let report = report(seed, index, &case, target, &outcome, &problem);
                        failures.lock().unwrap().push(report);
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let tally = tally.into_inner().unwrap();
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "http fuzz: seed {seed:#x}, {} requests in {:.1} s ({:.0}/s), {} failed; answers: {}",
        indices.len(),
        elapsed.as_secs_f64(),
        indices.len() as f64 / elapsed.as_secs_f64().max(0.001),
        failures.len(),
        tally
            .iter()
            .map(|(verdict, count)| format!("{verdict}×{count}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !failures.is_empty() {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for failure in &failures {
            let kind = failure.lines().next().unwrap_or_default();
            let kind = kind.rsplit_once("): ").map_or(kind, |(_, problem)| problem);
            *kinds.entry(kind).or_default() += 1;
        }
        eprintln!("http fuzz failures by kind: {kinds:#?}");
        let shown: Vec<&String> = failures.iter().take(10).collect();
        panic!(
            "{} of {} fuzzed requests failed (seed {seed:#x}); the first {}:\n\n{}",
            failures.len(),
            indices.len(),
            shown.len(),
            shown
                .iter()
                .map(|text| text.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        );
    }

    // Still alive and still correct afterwards.
    for target in &targets {
        let client = crate::http::Client::new(&target.base_url);
        let health = client.get("/healthz", &[]).expect("healthz reachable");
        assert_eq!(
            health.status, 200,
            "{} healthz: {}",
            target.name, health.body
        );
    }
    let client = suite.configured.client();
    let life = lifecycle(ProviderId::Twilio, &suite.configured.base_url);
    let first = provider(ProviderId::Twilio)
        .sign(&life.events[0], now())
        .expect("sign");
    let entry = accepted(&client.replay(&first).expect("worker reachable"));
    assert_eq!(entry["id"], json!(life.id));
    assert_eq!(summary(&client, &life.path())["event_count"], json!(1));
}

/// Why a case failed, with everything needed to reproduce it.
fn report(
    seed: u64,
    index: usize,
    case: &Case,
    target: &Target,
    outcome: &Result<RawResponse, String>,
    problem: &str,
) -> String {
    let answer = match outcome {
        Ok(response) => format!("{} {:?}", response.status, printable(&response.body, 600)),
        Err(error) => format!("no answer: {error}"),
    };
    format!(
        "case {index} [{}] to `{}` ({:?}): {problem}\n  answer: {answer}\n  request ({} bytes): \
         {}\n  replay: SWITCHBOARD_HTTP_FUZZ_SEED={seed:#x} SWITCHBOARD_HTTP_FUZZ_CASE={index}",
        case.label,
        target.name,
        case.expect,
        case.bytes.len(),
        printable(&case.bytes, 1_500),
    )
}

/// `bytes` as an escaped string, cut to `max` bytes.
fn printable(bytes: &[u8], max: usize) -> String {
    let mut text: String = bytes
        .iter()
        .take(max)
        .flat_map(|&byte| std::ascii::escape_default(byte))
        .map(char::from)
        .collect();
    if bytes.len() > max {
        let _ = write!(text, "… ({} more bytes)", bytes.len() - max);
    }
    text
}

/// Checks one answer against the rules; `Ok` names the kind of answer, for the tally.
fn judge(case: &Case, outcome: &Result<RawResponse, String>) -> Result<String, String> {
    let response = match (outcome, case.expect) {
        (Ok(response), _) => response,
        (Err(_), Expect::MaybeRefused(_)) => return Ok("closed".into()),
        (Err(error), Expect::Worker) => return Err(format!("no answer: {error}")),
    };
    let is_json = response
        .header("content-type")
        .is_some_and(|value| value.starts_with("application/json"));
    if let Expect::MaybeRefused(_) = case.expect {
        // workerd's own answer: never JSON, so never mistaken for the worker's.
        if !is_json && response.status >= 400 {
            return Ok(format!("{}-workerd", response.status));
        }
    }
    let status = response.status;
    match status {
        200..=299 => {
            let method = case.method.to_ascii_uppercase();
            // A CORS preflight from the allowed origin is the one 2xx to an OPTIONS.
            let preflight = method == "OPTIONS" && status == 204;
            if !["GET", "HEAD", "POST"].contains(&method.as_str()) && !preflight {
                return Err(format!("{status} to a {method}"));
            }
            Ok(status.to_string())
        }
        400..=599 => {
            if !is_json {
                return Err(format!(
                    "error without `content-type: application/json` ({:?})",
                    response.header("content-type")
                ));
            }
            if case.method.eq_ignore_ascii_case("HEAD") {
                // No body to read the code from; a HEAD is never answered with a retry signal.
                return if status >= 500 {
                    Err(format!("{status} to a HEAD"))
                } else {
                    Ok(format!("{status}-head"))
                };
            }
            let body: Value = serde_json::from_slice(&response.body)
                .map_err(|error| format!("error body is not JSON: {error}"))?;
            let code = body["error"]
                .as_str()
                .ok_or("error body without a string `error`")?;
            let expected = status_of(code).ok_or_else(|| format!("unknown error code `{code}`"))?;
            if expected != status {
                return Err(format!("`{code}` with {status}, not {expected}"));
            }
            if body["message"].as_str().is_none_or(str::is_empty) {
                return Err("error without a message".into());
            }
            if body.as_object().map(|object| object.len()) != Some(2) {
                return Err("error body has fields besides `error` and `message`".into());
            }
            if status >= 500 && !RETRY_SIGNALS.contains(&code) {
                return Err(format!("5xx `{code}`"));
            }
            Ok(format!("{status}-{code}"))
        }
        // `/` leads to the dashboard, for a `GET` or a `HEAD`.
        302 if ["GET", "HEAD"].contains(&case.method.to_ascii_uppercase().as_str())
            && response.header("location") == Some(DASHBOARD_PATH) =>
        {
            Ok("302-dashboard".into())
        }
        _ => Err(format!("unexpected status {status}")),
    }
}

/// Sends the case on a fresh connection and reads one answer (see [`exchange`]).
fn send(address: &str, case: &Case, timeout: Duration) -> Result<RawResponse, String> {
    let after = if case.half_close {
        AfterSending::HalfClose
    } else {
        AfterSending::KeepOpen
    };
    let head_request = case.method.eq_ignore_ascii_case("HEAD");
    exchange(address, &case.bytes, after, head_request, timeout)
}

/// Case `index` of `seed`: everything in it is drawn from one `Rng` of its own.
fn generate(seed: u64, index: usize, targets: &[Target]) -> Case {
    let mut rng = Rng::new(seed.wrapping_add((index as u64).wrapping_mul(0xa24b_aed4_963e_e407)));
    let target = usize::from(chance(&mut rng, 10));
    let host = &targets[target].address;
    let base_url = &targets[target].base_url;
    let mut case = match rng.below(100) {
        0..=34 => random_request(&mut rng, host),
        35..=54 => signed_then_mutated(&mut rng, host, base_url),
        55..=69 => mutated_then_signed(&mut rng, host, base_url),
        70..=79 => status_api(&mut rng, host),
        _ => malformed_http(&mut rng, host),
    };
    case.target = target;
    case
}
