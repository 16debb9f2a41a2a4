//! Runs the built `switchboard` binary in an empty directory with none of the worker's settings
//! in its environment, so that only the arguments (and files a test writes) count.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use switchboard_core::registry::{ProviderEntry, PROVIDERS};

/// The worker's settings that are not a provider's signing secret (those are in the registry).
const COMMON_SETTINGS: [&str; 9] = [
    "PUBLIC_BASE_URL",
    "SIGNATURE_TOLERANCE_SECONDS",
    "STATUS_API_TOKEN",
    "MAX_BODY_BYTES",
    "VONAGE_BUSINESS_API_URL",
    "VONAGE_BUSINESS_CLIENT_ID",
    "VONAGE_BUSINESS_CLIENT_SECRET",
    "VONAGE_BUSINESS_USERNAME",
    "VONAGE_BUSINESS_PASSWORD",
];

pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

/// A fresh, empty directory for one test.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().expect("exited normally"),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", self.stdout))
    }

    /// Asserts the exit code, showing both streams if it differs.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

pub struct Switchboard {
    dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Switchboard {
    /// Runs in a fresh scratch directory named after the test.
    pub fn new(test: &str) -> Self {
        Self {
            dir: scratch_dir(test),
            env: Vec::new(),
        }
    }

    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes a file into the scratch directory and returns its path.
    pub fn write(&self, name: &str, contents: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path.display().to_string()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        command.args(args).current_dir(&self.dir);
        let provider_settings = PROVIDERS.iter().flat_map(ProviderEntry::settings);
        for name in provider_settings.chain(COMMON_SETTINGS) {
            command.env_remove(name);
        }
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().unwrap())
    }

    /// Runs with the whitespace-separated words of `line`, then `tail` as is (paths, URLs).
    pub fn run_line(&self, line: &str, tail: &[&str]) -> Run {
        let args: Vec<&str> = line
            .split_whitespace()
            .chain(tail.iter().copied())
            .collect();
        self.run(&args)
    }

    /// Starts the command with its stdout and stderr piped, for a test to read as it runs.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        Run::from(child.wait_with_output().unwrap())
    }
}
