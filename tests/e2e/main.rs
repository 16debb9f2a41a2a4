//! End-to-end tests: the release build of the worker, in workerd (`wrangler dev`), driven over
//! HTTP on loopback exactly as a provider and a frontend would.
//!
//! A custom harness (libtest-mimic) starts the shared workers once, runs every test against
//! them, stops them, and prints libtest's usual report. Run with `make e2e` after `make build`.

mod http;
mod vonage;
mod worker;

use std::sync::Arc;

use libtest_mimic::{Arguments, Trial};

use crate::worker::{run_dir, Worker};

/// Settings of the main worker under test. Two Vonage secrets: rotation means either verifies.
pub const TOKEN: &str = "e2e-status-token";
pub const SECRET: &str = "e2e-vonage-secret";
pub const OLD_SECRET: &str = "e2e-vonage-old-secret";

/// The workers every test can use.
pub struct Suite {
    /// Vonage configured (two secrets, method inferred from the `sig` length).
    pub configured: Worker,
    /// Only the status API token: Vonage is disabled.
    pub unconfigured: Worker,
    /// Vonage configured with a 2-second signature window, so that stored requests become
    /// exportable within a test.
    pub short_window: Worker,
}

type Test = fn(&Suite);

fn main() {
    let arguments = Arguments::from_args();
    let tests = vonage::tests();
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

fn start_suite() -> Result<Suite, String> {
    let state = run_dir().join("state");
    let configured = Worker::start(
        "configured",
        &[
            ("STATUS_API_TOKEN", TOKEN),
            ("VONAGE_SIGNATURE_SECRET", &format!("{SECRET},{OLD_SECRET}")),
        ],
        &state.join("configured"),
    )?;
    let unconfigured = Worker::start(
        "unconfigured",
        &[("STATUS_API_TOKEN", TOKEN)],
        &state.join("unconfigured"),
    )?;
    let short_window = Worker::start(
        "short-window",
        &[
            ("STATUS_API_TOKEN", TOKEN),
            ("VONAGE_SIGNATURE_SECRET", SECRET),
            ("SIGNATURE_TOLERANCE_SECONDS", "2"),
        ],
        &state.join("short-window"),
    )?;
    Ok(Suite {
        configured,
        unconfigured,
        short_window,
    })
}
