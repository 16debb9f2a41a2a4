//! Load and faults against the real built worker in workerd (see `tests/e2e/worker.rs`), with
//! figures.
//!
//! Connections (std threads) send correctly signed webhooks for a mix of providers, each about
//! calls and messages only that connection uses, for the whole run, while the worker is taken
//! through a secret rotation and a crash. The webhooks are the lifecycles of the CLI's
//! scenarios (`crates/cli/src/scenario/`, as `switchboard load` sends them, a duplicate and a
//! late event included):
//!
//! 1. worker with Vonage secret `A`, sender signs with `A`;
//! 2. restart with `A,B`, then the sender switches to `B`;
//! 3. SIGKILL of the server's whole process group (node, workerd), restart on the same
//!    persisted state;
//! 4. once no `A`-signed request is in flight, restart with `B` alone.
//!
//! Each webhook is signed once and, on a connection error (a restart or the crash), resent byte
//! for byte as a provider would, until it gets an answer. Every acknowledgement (2xx) is
//! recorded; afterwards every acknowledged event must be in its subject's timeline
//! (`GET /v1/{calls|messages}/{provider}/{id}/events`), and no answer may be 4xx or 5xx.
//!
//! Default: bounded for `make test` (8 connections, 4 phases of 2 s). `SWITCHBOARD_SOAK=full`
//! (`make soak`): 32 connections, 4 phases of 10 s. Prints the figures as aligned lines and as
//! one line of JSON, then checks them as three libtest trials (libtest's report is last).

#[allow(dead_code)]
#[path = "../e2e/http.rs"]
mod http;
#[path = "../e2e/openapi.rs"]
mod openapi;
#[allow(dead_code)]
#[path = "../e2e/support.rs"]
mod support;
#[allow(dead_code)]
#[path = "../e2e/worker.rs"]
mod worker;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{json, Value};
use switchboard_cli::clock::{self, IdSource};
use switchboard_cli::scenario;
use switchboard_core::{
    configured_signer, registry, CapturedRequest, Config, Kind, ProviderId, Signer,
};

use crate::http::Client;
use crate::support::now;
use crate::worker::{run_dir, Worker};

/// Status API token of the soak worker (`support.rs` reads it as `crate::TOKEN`).
pub const TOKEN: &str = "soak-status-token";
/// The Vonage secrets of the rotation.
const SECRET_A: &str = "soak-vonage-secret-a";
const SECRET_B: &str = "soak-vonage-secret-b";
/// What providers "call": URL-signed schemes sign this, so a restart on another port changes
/// nothing for the signatures.
const PUBLIC_BASE_URL: &str = "https://hooks.example.com";
/// Every other setting of the worker but the providers' (see [`settings`]).
const SETTINGS: [(&str, &str); 2] = [
    ("STATUS_API_TOKEN", TOKEN),
    ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
];
/// The providers of the mix, in the order each connection cycles through them.
const MIX: [ProviderId; 5] = [
    ProviderId::Vonage,
    ProviderId::Twilio,
    ProviderId::Telnyx,
    ProviderId::Bird,
    ProviderId::MessageBird,
];
/// How long a webhook is resent after connection errors before it is given up (counted).
const GIVE_UP: Duration = Duration::from_secs(50);

struct Mode {
    name: &'static str,
    connections: usize,
    /// Load time of each of the four phases, measured from when the phase's worker is ready.
    phase: Duration,
}

impl Mode {
    fn from_env() -> Self {
        match std::env::var("SWITCHBOARD_SOAK").as_deref() {
            Ok("full") => Self {
                name: "full",
                connections: 32,
                phase: Duration::from_secs(10),
            },
            _ => Self {
                name: "bounded",
                connections: 8,
                phase: Duration::from_secs(2),
            },
        }
    }
}

/// Every setting of the worker but Vonage's: [`SETTINGS`], and the development values of the
/// registry (`.dev.vars.example`) for the other providers of the mix.
fn settings() -> Vec<(&'static str, &'static str)> {
    let providers = MIX
        .iter()
        .filter(|id| **id != ProviderId::Vonage)
        .flat_map(|id| registry::entry(*id).dev_settings());
    SETTINGS.into_iter().chain(providers).collect()
}

/// The worker's vars with these Vonage secrets.
fn worker_vars(vonage: &str) -> Vec<(&str, &str)> {
    let mut vars = vec![("VONAGE_SIGNATURE_SECRET", vonage)];
    vars.extend(settings());
    vars
}

/// What the connections share with the conductor.
struct Shared {
    base_url: RwLock<String>,
    /// The secret the Vonage sender signs new webhooks with.
    sender_secret: RwLock<&'static str>,
    /// `A`-signed webhooks not yet answered: `A` is removed only when this is 0.
    outstanding_a: AtomicUsize,
    /// The rotation phase the running worker is in: 1 (`A`), 2 (`A,B`), 3 (`B`).
    rotation_phase: AtomicUsize,
    started: Instant,
    /// The conductor is stopping or starting the worker.
    restarting: AtomicBool,
    stop: AtomicBool,
    /// The worker could not be restarted: give up at once.
    abort: AtomicBool,
}

/// One acknowledged event, as the worker's answer names it.
struct Ack {
    provider: ProviderId,
    kind: Kind,
    subject: String,
    event_id: String,
    at: Instant,
}

#[derive(Default)]
struct Tally {
    webhooks: u64,
    /// HTTP attempts: answered ones plus connection errors.
    requests: u64,
    ok: u64,
    client_errors: u64,
    unauthorized: u64,
    server_errors: u64,
    storage_unavailable: u64,
    connection_errors: u64,
    /// Webhooks never answered (the worker stayed unreachable for [`GIVE_UP`]).
    abandoned: u64,
    /// 2xx answers that did not name the expected subject.
    odd_acks: u64,
    /// Acknowledged Vonage webhooks per signing secret.
    acked_with_a: u64,
    acked_with_b: u64,
    /// Acknowledged `B`-signed webhooks after `A` was removed.
    acked_b_only: u64,
    acks: Vec<Ack>,
    /// The first few refusals, for the failure messages.
    samples: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.webhooks += other.webhooks;
        self.requests += other.requests;
        self.ok += other.ok;
        self.client_errors += other.client_errors;
        self.unauthorized += other.unauthorized;
        self.server_errors += other.server_errors;
        self.storage_unavailable += other.storage_unavailable;
        self.connection_errors += other.connection_errors;
        self.abandoned += other.abandoned;
        self.odd_acks += other.odd_acks;
        self.acked_with_a += other.acked_with_a;
        self.acked_with_b += other.acked_with_b;
        self.acked_b_only += other.acked_b_only;
        self.acks.extend(other.acks);
        for sample in other.samples {
            if self.samples.len() < 10 {
                self.samples.push(sample);
            }
        }
    }
}

fn provider_with(lookup: impl Fn(&str) -> Option<String>, id: ProviderId) -> Box<dyn Signer> {
    let config = Config::from_lookup(lookup).expect("soak settings are valid");
    configured_signer(&config, id).expect("configured")
}

fn settings_provider(id: ProviderId) -> Box<dyn Signer> {
    provider_with(
        |name| {
            settings()
                .into_iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        },
        id,
    )
}

fn vonage_provider(secret: &str) -> Box<dyn Signer> {
    provider_with(
        |name| (name == "VONAGE_SIGNATURE_SECRET").then(|| secret.to_owned()),
        ProviderId::Vonage,
    )
}

/// A fresh lifecycle of one of `provider`'s scenarios (`switchboard load` builds the same),
/// ending now: its subject, kind and unsigned webhooks in delivery order (a duplicate and a
/// late event included).
fn lifecycle(provider: ProviderId, ids: &mut IdSource) -> (String, Kind, Vec<CapturedRequest>) {
    let names = scenario::available(provider);
    let name = names[(ids.next_u64() % names.len() as u64) as usize];
    let fresh = scenario::fresh_ids(provider, name.kind(), ids);
    let url = format!("{PUBLIC_BASE_URL}/webhooks/{provider}");
    let built = scenario::build_ending_at(provider, name, &url, &fresh, clock::now())
        .expect("every available scenario builds");
    let webhooks = built
        .deliveries
        .iter()
        .map(|&event| built.events[event].request.clone())
        .collect();
    (built.subject_id.clone(), built.kind(), webhooks)
}

/// One connection: webhooks about its own subjects until told to stop.
fn connection(seed: u64, shared: &Shared) -> Tally {
    let mut tally = Tally::default();
    let others: BTreeMap<ProviderId, Box<dyn Signer>> = MIX
        .iter()
        .filter(|id| **id != ProviderId::Vonage)
        .map(|id| (*id, settings_provider(*id)))
        .collect();
    let vonage_a = vonage_provider(SECRET_A);
    let vonage_b = vonage_provider(SECRET_B);
    let mut base_url = String::new();
    let mut client = Client::new("http://127.0.0.1:1");
    let mut ids = IdSource::from_seed(seed);
    // Each provider's current lifecycle: its subject, kind and the webhooks still to send.
    let mut current: BTreeMap<ProviderId, (String, Kind, VecDeque<CapturedRequest>)> =
        BTreeMap::new();
    let mut number = 0usize;
    while !shared.stop.load(Ordering::SeqCst) {
        let provider = MIX[number % MIX.len()];
        number += 1;
        if current
            .get(&provider)
            .is_none_or(|(_, _, webhooks)| webhooks.is_empty())
        {
            let (subject, kind, webhooks) = lifecycle(provider, &mut ids);
            current.insert(provider, (subject, kind, webhooks.into()));
        }
        let (subject, kind, webhooks) = current.get_mut(&provider).expect("filled above");
        let (subject, kind) = (subject.clone(), *kind);
        let unsigned = webhooks
            .pop_front()
            .expect("a fresh lifecycle has webhooks");
        // The secret is read and the request counted as outstanding together, so the conductor
        // never removes `A` between the two.
        let secret = if provider == ProviderId::Vonage {
            let secret = shared.sender_secret.read().expect("lock");
            if *secret == SECRET_A {
                shared.outstanding_a.fetch_add(1, Ordering::SeqCst);
            }
            Some(*secret)
        } else {
            None
        };
        let signer = match secret {
            Some(SECRET_A) => &vonage_a,
            Some(_) => &vonage_b,
            None => &others[&provider],
        };
        let signed = signer.sign(&unsigned, now()).expect("sign");
        tally.webhooks += 1;
        let outcome = deliver(shared, &mut base_url, &mut client, &signed, &mut tally);
        if secret == Some(SECRET_A) {
            shared.outstanding_a.fetch_sub(1, Ordering::SeqCst);
        }
        let Some(response) = outcome else {
            tally.abandoned += 1;
            continue;
        };
        let status = response.status;
        if (200..300).contains(&status) {
            tally.ok += 1;
            let accepted = response.json()["accepted"].as_array().cloned();
            let accepted = accepted.unwrap_or_default();
            let expected_kind = kind.as_str();
            if accepted.is_empty()
                || accepted.iter().any(|item| {
                    item["id"] != json!(subject) || item["kind"] != json!(expected_kind)
                })
            {
                tally.odd_acks += 1;
                sample(&mut tally, format!("{provider}: odd ack {}", response.body));
            }
            for item in &accepted {
                tally.acks.push(Ack {
                    provider,
                    kind,
                    subject: subject.clone(),
                    event_id: item["event_id"].as_str().unwrap_or_default().to_owned(),
                    at: Instant::now(),
                });
            }
            match secret {
                Some(SECRET_A) => tally.acked_with_a += 1,
                Some(_) => {
                    tally.acked_with_b += 1;
                    if shared.rotation_phase.load(Ordering::SeqCst) == 3 {
                        tally.acked_b_only += 1;
                    }
                }
                None => {}
            }
        } else {
            if status == 401 {
                tally.unauthorized += 1;
            }
            if (400..500).contains(&status) {
                tally.client_errors += 1;
            } else if status >= 500 {
                tally.server_errors += 1;
                if response.error_code() == "storage_unavailable" {
                    tally.storage_unavailable += 1;
                }
            }
            sample(
                &mut tally,
                format!(
                    "{provider} {} (secret {secret:?}) at {:.1} s, rotation phase {}, restarting {}: HTTP {status} {}",
                    signed.method,
                    shared.started.elapsed().as_secs_f64(),
                    shared.rotation_phase.load(Ordering::SeqCst),
                    shared.restarting.load(Ordering::SeqCst),
                    response.body.lines().next().unwrap_or_default()
                ),
            );
        }
    }
    tally
}

fn sample(tally: &mut Tally, text: String) {
    if tally.samples.len() < 10 {
        tally.samples.push(text);
    }
}

/// Sends `signed` to the current worker, resending after connection errors (as a provider
/// would) until it is answered; `None` if it never is.
fn deliver(
    shared: &Shared,
    base_url: &mut String,
    client: &mut Client,
    signed: &CapturedRequest,
    tally: &mut Tally,
) -> Option<http::Response> {
    let started = Instant::now();
    loop {
        let current = shared.base_url.read().expect("lock").clone();
        if current != *base_url {
            *client = Client::new(&current);
            *base_url = current;
        }
        tally.requests += 1;
        match client.replay(signed) {
            Ok(response) => return Some(response),
            Err(_) => tally.connection_errors += 1,
        }
        if shared.abort.load(Ordering::SeqCst) || started.elapsed() > GIVE_UP {
            return None;
        }
        sleep(Duration::from_millis(50));
    }
}

/// Restarts survived, and when the crash happened.
struct Faults {
    restarts: u64,
    kills: u64,
    kill_at: Option<Instant>,
    /// Rotation phases the worker reached: 1 (`A`), 2 (`A,B`), 3 (`B`).
    rotation_phase: u64,
    error: Option<String>,
}

/// Drives the worker through the phases while the connections send.
fn conduct(worker: &mut Worker, shared: &Shared, phase: Duration) -> Faults {
    let mut faults = Faults {
        restarts: 0,
        kills: 0,
        kill_at: None,
        rotation_phase: 1,
        error: None,
    };
    let publish =
        |worker: &Worker| *shared.base_url.write().expect("lock") = worker.base_url.clone();
    let result = (|| -> Result<(), String> {
        // 1. `A` only, sender `A`.
        sleep(phase);
        // 2. `A,B`, then the sender switches to `B`.
        let both = format!("{SECRET_A},{SECRET_B}");
        shared.restarting.store(true, Ordering::SeqCst);
        worker.restart_with(&worker_vars(&both))?;
        publish(worker);
        shared.restarting.store(false, Ordering::SeqCst);
        *shared.sender_secret.write().expect("lock") = SECRET_B;
        faults.restarts += 1;
        faults.rotation_phase = 2;
        shared.rotation_phase.store(2, Ordering::SeqCst);
        sleep(phase);
        // 3. A crash in the middle of the load, then the same worker on the same state.
        shared.restarting.store(true, Ordering::SeqCst);
        faults.kill_at = Some(Instant::now());
        println!(
            "soak: kill at {:.1} s",
            shared.started.elapsed().as_secs_f64()
        );
        worker.kill();
        worker.restart()?;
        publish(worker);
        shared.restarting.store(false, Ordering::SeqCst);
        faults.kills += 1;
        faults.restarts += 1;
        sleep(phase);
        // 4. `A` is removed once no `A`-signed webhook is in flight.
        let deadline = Instant::now() + GIVE_UP;
        while shared.outstanding_a.load(Ordering::SeqCst) > 0 {
            if Instant::now() > deadline {
                return Err("A-signed webhooks still in flight".into());
            }
            sleep(Duration::from_millis(20));
        }
        shared.restarting.store(true, Ordering::SeqCst);
        worker.restart_with(&worker_vars(SECRET_B))?;
        publish(worker);
        shared.restarting.store(false, Ordering::SeqCst);
        faults.restarts += 1;
        faults.rotation_phase = 3;
        shared.rotation_phase.store(3, Ordering::SeqCst);
        sleep(phase);
        Ok(())
    })();
    if let Err(error) = result {
        shared.abort.store(true, Ordering::SeqCst);
        faults.error = Some(error);
    }
    shared.stop.store(true, Ordering::SeqCst);
    faults
}

/// What the timelines hold for the acknowledged events.
#[derive(Default)]
struct Stored {
    subjects: u64,
    /// Distinct acknowledged events.
    acked: u64,
    /// Events in the timelines of the subjects sent about.
    stored: u64,
    /// Acknowledged events missing from their timeline.
    lost: u64,
    /// Of those, acknowledged before the crash.
    lost_before_kill: u64,
    acked_before_kill: u64,
    acked_after_restart: u64,
    /// Events stored that were never acknowledged (a request in flight at the crash).
    unacknowledged: u64,
    errors: Vec<String>,
}

type SubjectKey = (ProviderId, Kind, String);

fn verify(client: &Client, acks: &[Ack], kill_at: Option<Instant>) -> Stored {
    let mut by_subject: BTreeMap<SubjectKey, BTreeMap<String, Instant>> = BTreeMap::new();
    for ack in acks {
        let events = by_subject
            .entry((ack.provider, ack.kind, ack.subject.clone()))
            .or_default();
        // The first acknowledgement of an event counts.
        events.entry(ack.event_id.clone()).or_insert(ack.at);
    }
    let mut stored = Stored {
        subjects: by_subject.len() as u64,
        ..Stored::default()
    };
    let subjects: Vec<_> = by_subject.into_iter().collect();
    let chunks: Vec<_> = subjects.chunks(subjects.len().div_ceil(8).max(1)).collect();
    let results: Vec<Stored> = thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let base = client.url("");
                scope.spawn(move || {
                    let client = Client::new(&base);
                    let mut part = Stored::default();
                    for ((provider, kind, subject), acked) in chunk {
                        check_subject(
                            &client, *provider, *kind, subject, acked, kill_at, &mut part,
                        );
                    }
                    part
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("verifier"))
            .collect()
    });
    for part in results {
        stored.acked += part.acked;
        stored.stored += part.stored;
        stored.lost += part.lost;
        stored.lost_before_kill += part.lost_before_kill;
        stored.acked_before_kill += part.acked_before_kill;
        stored.acked_after_restart += part.acked_after_restart;
        stored.unacknowledged += part.unacknowledged;
        stored.errors.extend(part.errors);
    }
    stored
}

fn check_subject(
    client: &Client,
    provider: ProviderId,
    kind: Kind,
    subject: &str,
    acked: &BTreeMap<String, Instant>,
    kill_at: Option<Instant>,
    part: &mut Stored,
) {
    let collection = match kind {
        Kind::Call => "calls",
        Kind::Message => "messages",
    };
    let path = format!("/v1/{collection}/{provider}/{subject}/events");
    let present: BTreeSet<String> = match client.api(&path, TOKEN) {
        Ok(response) if response.status == 200 => response.json()["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|event| event["event_id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        Ok(response) => {
            part.errors.push(format!(
                "{path}: HTTP {} {}",
                response.status, response.body
            ));
            BTreeSet::new()
        }
        Err(error) => {
            part.errors.push(format!("{path}: {error}"));
            BTreeSet::new()
        }
    };
    part.stored += present.len() as u64;
    part.unacknowledged += present.iter().filter(|id| !acked.contains_key(*id)).count() as u64;
    for (event_id, at) in acked {
        part.acked += 1;
        let before_kill = kill_at.is_some_and(|kill| *at < kill);
        if before_kill {
            part.acked_before_kill += 1;
        } else if kill_at.is_some() {
            part.acked_after_restart += 1;
        }
        if !present.contains(event_id) {
            part.lost += 1;
            if before_kill {
                part.lost_before_kill += 1;
            }
            if part.errors.len() < 10 {
                part.errors.push(format!(
                    "lost: {provider} {collection} {subject} {event_id}"
                ));
            }
        }
    }
}

struct Report {
    mode: &'static str,
    connections: usize,
    load_seconds: f64,
    wall_seconds: f64,
    tally: Tally,
    faults: Faults,
    stored: Stored,
}

impl Report {
    /// The figures, in the order they are printed.
    fn figures(&self) -> Vec<(&'static str, Value)> {
        let tally = &self.tally;
        let stored = &self.stored;
        vec![
            ("requests_sent", json!(tally.requests)),
            ("webhooks", json!(tally.webhooks)),
            ("2xx", json!(tally.ok)),
            ("4xx", json!(tally.client_errors)),
            ("401", json!(tally.unauthorized)),
            ("5xx", json!(tally.server_errors)),
            ("503_storage_unavailable", json!(tally.storage_unavailable)),
            ("connection_errors", json!(tally.connection_errors)),
            ("abandoned", json!(tally.abandoned)),
            ("subjects", json!(stored.subjects)),
            ("events_acked", json!(stored.acked)),
            ("events_stored", json!(stored.stored)),
            ("events_lost", json!(stored.lost)),
            ("events_stored_unacked", json!(stored.unacknowledged)),
            ("acked_before_kill", json!(stored.acked_before_kill)),
            ("lost_before_kill", json!(stored.lost_before_kill)),
            ("acked_after_restart", json!(stored.acked_after_restart)),
            ("restarts_survived", json!(self.faults.restarts)),
            ("kills", json!(self.faults.kills)),
            ("vonage_acked_secret_a", json!(tally.acked_with_a)),
            ("vonage_acked_secret_b", json!(tally.acked_with_b)),
            ("vonage_acked_b_only", json!(tally.acked_b_only)),
        ]
    }

    fn print(&self) {
        let figures = self.figures();
        println!(
            "\nsoak ({}): {} connections, {:.1} s of load, {:.1} s wall",
            self.mode, self.connections, self.load_seconds, self.wall_seconds
        );
        for (name, value) in &figures {
            println!("  {:<24} {:>8}", name.replace('_', " "), value.to_string());
        }
        let mut json = serde_json::Map::new();
        json.insert("soak".into(), json!(self.mode));
        json.insert("connections".into(), json!(self.connections));
        json.insert(
            "load_seconds".into(),
            json!((self.load_seconds * 10.0).round() / 10.0),
        );
        json.insert(
            "wall_seconds".into(),
            json!((self.wall_seconds * 10.0).round() / 10.0),
        );
        for (name, value) in figures {
            json.insert(name.into(), value);
        }
        println!("{}", Value::Object(json));
        for sample in &self.tally.samples {
            println!("  refused: {sample}");
        }
        for error in self.stored.errors.iter().take(10) {
            println!("  verify: {error}");
        }
        if let Some(error) = &self.faults.error {
            println!("  conductor: {error}");
        }
    }
}

fn run(mode: &Mode) -> Result<Report, String> {
    let wall = Instant::now();
    let state = run_dir().join("state").join("soak");
    let mut worker = Worker::start("soak", &worker_vars(SECRET_A), &state)?;
    let shared = Arc::new(Shared {
        base_url: RwLock::new(worker.base_url.clone()),
        sender_secret: RwLock::new(SECRET_A),
        outstanding_a: AtomicUsize::new(0),
        rotation_phase: AtomicUsize::new(1),
        restarting: AtomicBool::new(false),
        started: Instant::now(),
        stop: AtomicBool::new(false),
        abort: AtomicBool::new(false),
    });
    // Each connection its own ids, different in every run.
    let mut seeds = IdSource::from_clock_and_pid();
    let load = Instant::now();
    let handles: Vec<_> = (0..mode.connections)
        .map(|_| {
            let shared = Arc::clone(&shared);
            let seed = seeds.next_u64();
            thread::spawn(move || connection(seed, &shared))
        })
        .collect();
    let faults = conduct(&mut worker, &shared, mode.phase);
    let mut tally = Tally::default();
    for handle in handles {
        tally.merge(
            handle
                .join()
                .map_err(|_| "a connection panicked".to_owned())?,
        );
    }
    let load_seconds = load.elapsed().as_secs_f64();
    let stored = if faults.error.is_none() {
        verify(&worker.client(), &tally.acks, faults.kill_at)
    } else {
        Stored::default()
    };
    drop(worker);
    Ok(Report {
        mode: mode.name,
        connections: mode.connections,
        load_seconds,
        wall_seconds: wall.elapsed().as_secs_f64(),
        tally,
        faults,
        stored,
    })
}

fn check(conditions: &[(bool, String)]) -> Result<(), Failed> {
    let failures: Vec<&str> = conditions
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, text)| text.as_str())
        .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; ").into())
    }
}

fn trials(report: &Arc<Report>) -> Vec<Trial> {
    let load = Arc::clone(report);
    let kill = Arc::clone(report);
    let rotation = Arc::clone(report);
    vec![
        Trial::test("load_acked_events_are_stored", move || {
            let (t, s) = (&load.tally, &load.stored);
            check(&[
                (
                    load.faults.error.is_none(),
                    format!("conductor: {:?}", load.faults.error),
                ),
                (t.ok > 0 && s.acked > 0, "nothing was acknowledged".into()),
                (s.lost == 0, format!("{} acknowledged events lost", s.lost)),
                (
                    s.errors.is_empty(),
                    format!("verify: {:?}", s.errors.first()),
                ),
                (
                    t.server_errors == 0,
                    format!("{} answers were 5xx", t.server_errors),
                ),
                (
                    t.client_errors == 0,
                    format!("{} answers were 4xx", t.client_errors),
                ),
                (
                    t.odd_acks == 0,
                    format!("{} odd acknowledgements", t.odd_acks),
                ),
                (
                    t.abandoned == 0,
                    format!("{} webhooks never answered", t.abandoned),
                ),
            ])
        }),
        Trial::test("kill_and_restart_loses_nothing", move || {
            let s = &kill.stored;
            check(&[
                (
                    kill.faults.kills == 1,
                    "the worker was not killed and restarted".into(),
                ),
                (
                    s.acked_before_kill > 0,
                    "nothing acknowledged before the kill".into(),
                ),
                (
                    s.acked_after_restart > 0,
                    "nothing acknowledged after the restart".into(),
                ),
                (
                    s.lost_before_kill == 0,
                    format!(
                        "{} events acknowledged before the kill lost",
                        s.lost_before_kill
                    ),
                ),
            ])
        }),
        Trial::test("secret_rotation_rejects_nothing", move || {
            let t = &rotation.tally;
            check(&[
                (
                    rotation.faults.rotation_phase == 3,
                    "the rotation did not finish".into(),
                ),
                (
                    t.unauthorized == 0,
                    format!(
                        "{} webhooks signed by a configured secret got 401",
                        t.unauthorized
                    ),
                ),
                (
                    t.acked_with_a > 0,
                    "nothing acknowledged with the first secret".into(),
                ),
                (
                    t.acked_b_only > 0,
                    "nothing acknowledged with the second secret alone".into(),
                ),
            ])
        }),
    ]
}

fn main() {
    let arguments = Arguments::from_args();
    let names = [
        "load_acked_events_are_stored",
        "kill_and_restart_loses_nothing",
        "secret_rotation_rejects_nothing",
    ];
    if arguments.list {
        let trials = names
            .iter()
            .map(|name| Trial::test(*name, || Ok(())))
            .collect();
        libtest_mimic::run(&arguments, trials).exit();
    }
    let mode = Mode::from_env();
    let report = match run(&mode) {
        Ok(report) => Arc::new(report),
        Err(error) => {
            eprintln!("soak: {error}");
            std::process::exit(1);
        }
    };
    report.print();
    let conclusion = libtest_mimic::run(&arguments, trials(&report));
    if !conclusion.has_failed() {
        // Keep the worker's log and state only when something failed.
        let _ = std::fs::remove_dir_all(run_dir());
    }
    conclusion.exit();
}
