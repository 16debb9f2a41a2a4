//! `switchboard load`: a closed-loop load generator for benchmarks. Each connection plays whole
//! simulated lifecycles (the same ones `simulate` sends, with their duplicate and late event),
//! freshly signed, one request at a time, and records the latency of every webhook.
//!
//! Only the HTTP exchange is timed: building and signing a lifecycle happens before its first
//! request is sent, so the generator's own crypto is not counted against the worker.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use switchboard_core::{configured_signer, CapturedRequest, Config, ProviderId, Signer};
use ureq::Agent;

use crate::clock::{self, IdSource};
use crate::failure::Failure;
use crate::scenario::{self, ScenarioName};
use crate::simulate::{send, sign_as_received};

/// What to send, where, and for how long.
pub struct Plan {
    /// Base URL of the worker, without a trailing `/`.
    pub base_url: String,
    /// The settings the providers sign with (every one in `providers` configured, with its
    /// signing key where it needs one), and `PUBLIC_BASE_URL`, as for `simulate`.
    pub config: Config,
    /// The providers whose lifecycles are played, taken in turn by each connection.
    pub providers: Vec<ProviderId>,
    pub connections: usize,
    pub duration: Duration,
    pub timeout: Duration,
}

/// The figures of one run.
#[derive(Debug, Serialize)]
pub struct Report {
    pub providers: Vec<String>,
    pub connections: usize,
    pub duration_s: f64,
    pub requests: usize,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Requests not answered with a 2xx, including those with no answer at all.
    pub errors: usize,
    /// Answers by HTTP status; `"none"` counts requests that got no answer.
    pub statuses: BTreeMap<String, usize>,
    /// The first few error answers, to tell why a run had errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
}

/// How many error answers a report quotes.
const ERROR_SAMPLES: usize = 5;

/// What one connection saw.
#[derive(Default)]
struct Tally {
    latencies_micros: Vec<u64>,
    statuses: BTreeMap<String, usize>,
    errors: usize,
    error_samples: Vec<String>,
}

impl Tally {
    fn record(&mut self, latency: Duration, outcome: Result<(u16, String), String>) {
        self.latencies_micros
            .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
        let (status, sample) = match outcome {
            Ok((status, _)) if (200..300).contains(&status) => (status.to_string(), None),
            Ok((status, body)) => (status.to_string(), Some(format!("HTTP {status}: {body}"))),
            Err(error) => ("none".to_owned(), Some(error)),
        };
        *self.statuses.entry(status).or_default() += 1;
        if let Some(sample) = sample {
            self.errors += 1;
            if self.error_samples.len() < ERROR_SAMPLES {
                self.error_samples.push(sample.chars().take(300).collect());
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_micros.extend(other.latencies_micros);
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.errors += other.errors;
        let room = ERROR_SAMPLES.saturating_sub(self.error_samples.len());
        self.error_samples
            .extend(other.error_samples.into_iter().take(room));
    }
}

/// Runs the plan and reports. Fails only if a lifecycle cannot be built or signed.
pub fn run(plan: &Plan) -> Result<Report, Failure> {
    let started = Instant::now();
    let deadline = started + plan.duration;
    let seeds: Vec<u64> = {
        let mut source = IdSource::from_clock_and_pid();
        (0..plan.connections).map(|_| source.next_u64()).collect()
    };
    let tallies: Vec<Result<Tally, Failure>> = thread::scope(|scope| {
        let handles: Vec<_> = seeds
            .iter()
            .enumerate()
            .map(|(connection, &seed)| scope.spawn(move || play(plan, connection, seed, deadline)))
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(Failure::usage("a load connection panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut total = Tally::default();
    for tally in tallies {
        total.merge(tally?);
    }
    Ok(report(plan, total, elapsed))
}

/// One connection: lifecycles back to back until the deadline, providers in turn (each
/// connection starts at another one, so every provider is under load from the start).
fn play(plan: &Plan, connection: usize, seed: u64, deadline: Instant) -> Result<Tally, Failure> {
    let agent: Agent = Agent::config_builder()
        .timeout_global(Some(plan.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let providers = plan
        .providers
        .iter()
        .map(|&id| {
            configured_signer(&plan.config, id)
                .map(|provider| (id, provider))
                .ok_or_else(|| Failure::usage(format!("{id} is not configured")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut ids = IdSource::from_seed(seed);
    let mut tally = Tally::default();
    for turn in connection.. {
        if Instant::now() >= deadline {
            break;
        }
        let (provider_id, provider) = &providers[turn % providers.len()];
        let webhooks = signed_lifecycle(plan, *provider_id, provider.as_ref(), &mut ids)?;
        for request in &webhooks {
            if Instant::now() >= deadline {
                break;
            }
            let sent = Instant::now();
            let outcome = send(&agent, request);
            tally.record(sent.elapsed(), outcome);
        }
    }
    Ok(tally)
}

/// A fresh lifecycle of one of the provider's scenarios, signed now, in delivery order.
fn signed_lifecycle(
    plan: &Plan,
    provider_id: ProviderId,
    provider: &dyn Signer,
    source: &mut IdSource,
) -> Result<Vec<CapturedRequest>, Failure> {
    let scenarios = scenario::available(provider_id);
    let name: ScenarioName = scenarios[(source.next_u64() % scenarios.len() as u64) as usize];
    let ids = scenario::fresh_ids(provider_id, name.kind(), source);
    let url = format!("{}/webhooks/{provider_id}", plan.base_url);
    let now = clock::now();
    let lifecycle = scenario::build_ending_at(provider_id, name, &url, &ids, now)
        .ok_or_else(|| Failure::usage(format!("{provider_id} has no `{}`", name.as_str())))?;
    let signed: Vec<CapturedRequest> = lifecycle
        .events
        .iter()
        .map(|event| {
            sign_as_received(
                provider,
                &event.request,
                now,
                plan.config.public_base_url.as_deref(),
            )
            .map_err(|error| {
                Failure::usage(format!(
                    "cannot sign {provider_id} `{}`: {error}",
                    event.label
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(lifecycle
        .deliveries
        .iter()
        .map(|&index| signed[index].clone())
        .collect())
}

fn report(plan: &Plan, mut tally: Tally, elapsed: Duration) -> Report {
    tally.latencies_micros.sort_unstable();
    let requests = tally.latencies_micros.len();
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    Report {
        providers: plan
            .providers
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect(),
        connections: plan.connections,
        duration_s: round(seconds),
        requests,
        rps: round(requests as f64 / seconds),
        p50_ms: percentile_ms(&tally.latencies_micros, 50),
        p90_ms: percentile_ms(&tally.latencies_micros, 90),
        p99_ms: percentile_ms(&tally.latencies_micros, 99),
        max_ms: tally
            .latencies_micros
            .last()
            .map_or(0.0, |&micros| round(micros as f64 / 1000.0)),
        errors: tally.errors,
        statuses: tally.statuses,
        error_samples: tally.error_samples,
    }
}

/// The nearest-rank `percent`th percentile of sorted `micros`, in milliseconds; 0 if empty.
fn percentile_ms(sorted_micros: &[u64], percent: usize) -> f64 {
    if sorted_micros.is_empty() {
        return 0.0;
    }
    let rank = (sorted_micros.len() * percent).div_ceil(100).max(1);
    round(sorted_micros[rank - 1] as f64 / 1000.0)
}

/// Two decimals, for reports.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let micros: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&micros, 50), 50.0);
        assert_eq!(percentile_ms(&micros, 90), 90.0);
        assert_eq!(percentile_ms(&micros, 99), 99.0);
        assert_eq!(percentile_ms(&[1500], 99), 1.5);
        assert_eq!(percentile_ms(&[], 50), 0.0);
    }

    #[test]
    fn tallies_count_non_2xx_and_unanswered_as_errors() {
        let mut tally = Tally::default();
        tally.record(Duration::from_millis(1), Ok((200, "{}".into())));
        tally.record(Duration::from_millis(2), Ok((401, "bad".into())));
        let mut other = Tally::default();
        other.record(Duration::from_millis(3), Err("connection failed".into()));
        tally.merge(other);
        assert_eq!(tally.errors, 2);
        assert_eq!(tally.latencies_micros, [1000, 2000, 3000]);
        assert_eq!(tally.statuses["200"], 1);
        assert_eq!(tally.statuses["401"], 1);
        assert_eq!(tally.statuses["none"], 1);
        assert_eq!(tally.error_samples, ["HTTP 401: bad", "connection failed"]);
    }
}
