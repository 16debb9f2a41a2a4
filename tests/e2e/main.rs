//! End-to-end tests: the release build of the worker, in workerd (see `worker.rs`), driven over
//! HTTP on loopback exactly as a provider and a frontend would.
//!
//! A custom harness (libtest-mimic) starts the shared workers once, runs every test against
//! them, stops them, and prints libtest's usual report. Run with `make e2e` after `make build`.

/// `(name, function)` pairs for the harness, the name taken from the function itself.
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        vec![$((stringify!($test), $test as crate::Test)),*]
    };
}

mod assets;
mod client;
mod concurrency;
mod dashboard;
mod delivery;
mod http;
mod http_fuzz;
mod live;
mod openapi;
mod providers;
mod receiver;
mod retention;
mod security;
mod sources;
mod support;
mod tokens;
mod vis_api;
mod vis_keeper;
mod vonage;
mod worker;

use std::sync::{Arc, LazyLock};

use libtest_mimic::{Arguments, Trial};
use switchboard_core::registry::{ProviderEntry, PROVIDERS};
use switchboard_core::ProviderId;

use crate::receiver::Receiver;
use crate::vis_api::VisApi;
use crate::worker::{run_dir, Worker};

/// Settings of the main worker under test. Two Vonage secrets: rotation means either verifies.
pub const TOKEN: &str = "e2e-status-token";
/// A second status API token (`STATUS_API_TOKENS`), e.g. for a second frontend.
pub const SECOND_TOKEN: &str = "e2e-second-status-token";
/// The one origin the configured worker allows to read the status API from a browser.
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";
pub const SECRET: &str = "e2e-vonage-secret";
pub const OLD_SECRET: &str = "e2e-vonage-old-secret";
/// `BROWSER_TOKEN_SECRET` of the configured worker, while rotating: tokens signed with either
/// verify, and the worker mints with the first.
pub const BROWSER_SECRET: &str = "e2e-browser-token-secret-0123456789abcdef";
pub const OLD_BROWSER_SECRET: &str = "e2e-old-browser-token-secret-0123456789ab";
/// The origin providers "call" in the proxied worker's `PUBLIC_BASE_URL`.
pub const PUBLIC_BASE_URL: &str = "https://hooks.example.com";

/// Every other provider's settings, shared by the workers and the CLI's `.dev.vars`: the
/// development values of the registry (`.dev.vars.example`).
pub static PROVIDER_SECRETS: LazyLock<Vec<(&str, &str)>> = LazyLock::new(|| {
    PROVIDERS
        .iter()
        .filter(|row| row.id != ProviderId::Vonage)
        .flat_map(ProviderEntry::dev_settings)
        .collect()
});

/// The workers every test can use.
pub struct Suite {
    /// Vonage configured (two secrets, method inferred from the `sig` length).
    pub configured: Worker,
    /// Only the status API token: Vonage is disabled.
    pub unconfigured: Worker,
    /// Every provider configured, behind a "proxy": `PUBLIC_BASE_URL` is set, and the signature
    /// window is 2 seconds, so that stored requests become exportable within a test; its VIS
    /// keeper talks to `vis_api`.
    pub proxied: Worker,
    /// The `configured` worker's settings plus delivery to two endpoints of `receiver`
    /// ([`delivering_vars`]).
    pub delivering: Worker,
    /// The `configured` worker's settings, keeping subjects for seconds
    /// ([`retaining_vars`]), delivering to `receiver`'s `/retained`.
    pub retaining: Worker,
    /// The endpoints `delivering` delivers to (`/main`, `/filtered`), and `retaining` to
    /// `/retained`.
    pub receiver: Receiver,
    /// The VIS API the `proxied` worker's keeper talks to.
    pub vis_api: VisApi,
}

/// How long after receipt the proxied worker withholds a stored request: twice its 2 s
/// signature window (`SIGNATURE_TOLERANCE_SECONDS`).
pub const EXPORT_WINDOW: std::time::Duration = std::time::Duration::from_secs(4);

type Test = fn(&Suite);

fn main() {
    let arguments = Arguments::from_args();
    let mut tests = vonage::tests();
    tests.extend(providers::tests());
    tests.extend(security::tests());
    tests.extend(concurrency::tests());
    tests.extend(http_fuzz::tests());
    tests.extend(live::tests());
    tests.extend(tokens::tests());
    tests.extend(assets::tests());
    tests.extend(client::tests());
    tests.extend(sources::tests());
    tests.extend(delivery::tests());
    tests.extend(dashboard::tests());
    tests.extend(vis_keeper::tests());
    tests.extend(retention::tests());
    if arguments.list {
        let trials = tests
            .into_iter()
            .map(|(name, _)| Trial::test(name, || Ok(())))
            .collect();
        libtest_mimic::run(&arguments, trials).exit();
    }

    let suite = match start_suite() {
        Ok(suite) => Arc::new(suite),
        Err(error) => {
            eprintln!("e2e: could not start the workers: {error}");
            std::process::exit(1);
        }
    };
    let trials = tests
        .into_iter()
        .map(|(name, test): (&str, Test)| {
            let suite = Arc::clone(&suite);
            Trial::test(name, move || {
                test(&suite);
                Ok(())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    // `exit` skips destructors: stop the workers first.
    drop(suite);
    if !conclusion.has_failed() {
        // Keep the workers' logs and state only when something failed.
        let _ = std::fs::remove_dir_all(run_dir());
    }
    conclusion.exit();
}

/// The settings of the `configured` worker.
pub fn configured_vars() -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("STATUS_API_TOKEN", TOKEN.to_owned()),
        ("STATUS_API_TOKENS", SECOND_TOKEN.to_owned()),
        ("CORS_ALLOW_ORIGINS", ALLOWED_ORIGIN.to_owned()),
        (
            "BROWSER_TOKEN_SECRET",
            format!("{BROWSER_SECRET},{OLD_BROWSER_SECRET}"),
        ),
        ("VONAGE_SIGNATURE_SECRET", format!("{SECRET},{OLD_SECRET}")),
    ];
    vars.extend(
        PROVIDER_SECRETS
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned())),
    );
    vars
}

/// The `delivering` worker's endpoints (docs/delivery.md): `main` gets every event, signed with
/// two secrets (a rotation: each verifies alone); `filtered` only completed calls and messages
/// of two providers. Secrets: `whsec_` and the base64 of 32 bytes.
pub const MAIN_SECRETS: [&str; 2] = [
    "whsec_+HX5ENURzN55B8ocD0bT4jAiQjgUASAJEdQe6ynpLDI=",
    "whsec_ZzMdsgyCXVM76JLYMTJWHzHxwrAnIA62TzZzhFhJtM0=",
];
pub const FILTERED_SECRET: &str = "whsec_JL1IsW+4+U1p9VJcHuQkE3xlFMuZqFlVUwhAf9BroMk=";
pub const FILTERED_EVENTS: &str = "call.completed,message.*";
pub const FILTERED_PROVIDERS: &str = "twilio,telnyx";
/// Two retries a second apart (±10 % jitter): three attempts over about 2 s.
pub const RETRY_SCHEDULE: &str = "1,1";

/// The `configured` worker's settings, delivering to `receiver`'s `/main` and `/filtered`.
pub fn delivering_vars(receiver: &Receiver) -> Vec<(&'static str, String)> {
    let mut vars = configured_vars();
    vars.extend([
        ("DELIVERY_ENDPOINTS", "main,filtered".to_owned()),
        ("DELIVERY_MAIN_URL", receiver.url("/main")),
        ("DELIVERY_MAIN_SECRET", MAIN_SECRETS.join(",")),
        ("DELIVERY_FILTERED_URL", receiver.url("/filtered")),
        ("DELIVERY_FILTERED_SECRET", FILTERED_SECRET.to_owned()),
        ("DELIVERY_FILTERED_EVENTS", FILTERED_EVENTS.to_owned()),
        ("DELIVERY_FILTERED_PROVIDERS", FILTERED_PROVIDERS.to_owned()),
        ("DELIVERY_RETRY_SCHEDULE", RETRY_SCHEDULE.to_owned()),
    ]);
    vars
}

/// `RETENTION_DAYS` of the `retaining` worker: 25.92 s.
pub const RETENTION_DAYS: &str = "0.0003";
pub const RETENTION: std::time::Duration = std::time::Duration::from_millis(25_920);
/// `RAW_REQUEST_DAYS` of the `retaining` worker: 12.96 s.
pub const RAW_REQUEST_DAYS: &str = "0.00015";
pub const RAW_REQUEST_RETENTION: std::time::Duration = std::time::Duration::from_millis(12_960);

/// The `configured` worker's settings, keeping subjects [`RETENTION`] after their last event
/// and raw requests [`RAW_REQUEST_RETENTION`], with a 2 s signature window (raw requests are
/// exportable after 4 s), delivering every event to `receiver`'s `/retained`, retried once
/// after 10 minutes (a failed attempt leaves the delivery pending until its subject expires).
pub fn retaining_vars(receiver: &Receiver) -> Vec<(&'static str, String)> {
    let mut vars = configured_vars();
    vars.extend([
        ("RETENTION_DAYS", RETENTION_DAYS.to_owned()),
        ("RAW_REQUEST_DAYS", RAW_REQUEST_DAYS.to_owned()),
        ("SIGNATURE_TOLERANCE_SECONDS", "2".to_owned()),
        ("DELIVERY_ENDPOINTS", "main".to_owned()),
        ("DELIVERY_MAIN_URL", receiver.url("/retained")),
        ("DELIVERY_MAIN_SECRET", MAIN_SECRETS[0].to_owned()),
        ("DELIVERY_RETRY_SCHEDULE", "600".to_owned()),
    ]);
    vars
}

/// A worker of its own with the `configured` worker's settings, for a test that restarts it.
pub fn start_configured(name: &str) -> Worker {
    let vars = configured_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Worker::start(name, &vars, &run_dir().join("state").join(name)).expect("worker starts")
}

fn start_suite() -> Result<Suite, String> {
    let state = run_dir().join("state");
    let receiver = Receiver::start()?;
    let vis_api = VisApi::start()?;
    vis_api.reset();
    // The delivering and retaining workers start beside the others (much of a start is
    // waiting), and are always joined, so that no worker outlives a failed start.
    let start_beside = |name: &'static str, vars: Vec<(&'static str, String)>| {
        let state = state.join(name);
        std::thread::spawn(move || {
            let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Worker::start(name, &vars, &state)
        })
    };
    let delivering = start_beside("delivering", delivering_vars(&receiver));
    let retaining = start_beside("retaining", retaining_vars(&receiver));
    let others = start_others(&state, &vis_api.url());
    let delivering = delivering
        .join()
        .map_err(|_| "starting `delivering` panicked".to_owned())?;
    let retaining = retaining
        .join()
        .map_err(|_| "starting `retaining` panicked".to_owned())?;
    let (configured, unconfigured, proxied) = others?;
    Ok(Suite {
        configured,
        unconfigured,
        proxied,
        delivering: delivering?,
        retaining: retaining?,
        receiver,
        vis_api,
    })
}

/// The `configured`, `unconfigured` and `proxied` workers.
fn start_others(
    state: &std::path::Path,
    vis_api: &str,
) -> Result<(Worker, Worker, Worker), String> {
    let configured_vars = configured_vars();
    let configured_vars: Vec<(&str, &str)> = configured_vars
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let configured = Worker::start("configured", &configured_vars, &state.join("configured"))?;
    let unconfigured = Worker::start(
        "unconfigured",
        &[("STATUS_API_TOKEN", TOKEN)],
        &state.join("unconfigured"),
    )?;
    let mut proxied_vars = vec![
        ("STATUS_API_TOKEN", TOKEN),
        ("VONAGE_SIGNATURE_SECRET", SECRET),
        ("SIGNATURE_TOLERANCE_SECONDS", "2"),
        ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
        ("VONAGE_BUSINESS_API_URL", vis_api),
        ("VONAGE_BUSINESS_CLIENT_ID", vis_api::CLIENT_ID),
        ("VONAGE_BUSINESS_CLIENT_SECRET", vis_api::CLIENT_SECRET),
        ("VONAGE_BUSINESS_USERNAME", vis_api::USERNAME),
        ("VONAGE_BUSINESS_PASSWORD", vis_api::PASSWORD),
    ];
    proxied_vars.extend(PROVIDER_SECRETS.iter().copied());
    let proxied = Worker::start("proxied", &proxied_vars, &state.join("proxied"))?;
    Ok((configured, unconfigured, proxied))
}
