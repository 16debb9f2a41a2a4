//! Starts the real built worker (`build/`, made by `make build`) in workerd, through Miniflare
//! (`scripts/serve-worker.mjs`: the runtime `wrangler dev` drives, without the dev proxy that
//! exits on a client closing mid-body), and stops it.
//!
//! Each instance gets its own directory under `target/e2e/` holding a copy of the project's
//! `wrangler.toml` (`main` and the static assets' directory made absolute, the build step removed
//! so that nothing is rebuilt) and its own `.dev.vars`, so tests never depend on a developer's
//! `.dev.vars`. State persists in a directory the caller chooses, so a restart can reuse it. The
//! server runs in its own process group, and [`Drop`] stops the whole group (node and workerd).

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::http::Client;

/// How long a cold start may take to answer `/healthz`.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory for this test run's files, fresh for each run.
pub fn run_dir() -> PathBuf {
    project_root()
        .join("target")
        .join("e2e")
        .join(format!("run-{}", std::process::id()))
}

pub struct Worker {
    pub name: String,
    pub base_url: String,
    pub vars: Vec<(String, String)>,
    dir: PathBuf,
    state_dir: PathBuf,
    child: Option<Child>,
}

impl Worker {
    /// Starts a worker with these vars/secrets and state in `state_dir`, and waits until it
    /// answers `/healthz`.
    pub fn start(name: &str, vars: &[(&str, &str)], state_dir: &Path) -> Result<Self, String> {
        let root = project_root();
        let entry = root.join("build").join("entry.mjs");
        if !entry.exists() {
            return Err(format!(
                "{} is missing: run `make build` first (make test does)",
                entry.display()
            ));
        }
        let dir = run_dir().join(name);
        fs::create_dir_all(&dir).map_err(|error| format!("create {}: {error}", dir.display()))?;
        let config = test_config(&root, &entry)?;
        fs::write(dir.join("wrangler.toml"), config).map_err(|error| error.to_string())?;

        let mut worker = Self {
            name: name.to_owned(),
            base_url: String::new(),
            vars: Vec::new(),
            dir,
            state_dir: state_dir.to_owned(),
            child: None,
        };
        worker.write_vars(vars)?;
        worker.launch()?;
        Ok(worker)
    }

    /// Writes this instance's `.dev.vars`, read by the server when it starts.
    fn write_vars(&mut self, vars: &[(&str, &str)]) -> Result<(), String> {
        let dev_vars: String = vars
            .iter()
            .map(|(name, value)| format!("{name}={value:?}\n"))
            .collect();
        fs::write(self.dir.join(".dev.vars"), dev_vars).map_err(|error| error.to_string())?;
        self.vars = vars
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Ok(())
    }

    /// Starts the server on a free port and waits until it serves there.
    ///
    /// A port found free may be taken by another process before the server binds it (other
    /// test runs share the machine): the server then exits with `ERR_ADDRESS_IN_USE`, and it is
    /// started again on another port. The server is ready only once it has printed `ready on`
    /// with its own port: a `/healthz` answer alone could come from whoever holds the port.
    fn launch(&mut self) -> Result<(), String> {
        const ATTEMPTS: usize = 5;
        let mut attempt = 1;
        loop {
            match self.launch_once(free_port()?) {
                Err(Launch::AddressInUse(port)) if attempt < ATTEMPTS => {
                    eprintln!("worker `{}`: port {port} taken, another port", self.name);
                    attempt += 1;
                }
                Err(Launch::AddressInUse(port)) => {
                    return Err(format!(
                        "worker `{}`: port {port} taken {ATTEMPTS} times",
                        self.name
                    ))
                }
                Err(Launch::Failed(error)) => return Err(error),
                Ok(()) => return Ok(()),
            }
        }
    }

    fn launch_once(&mut self, port: u16) -> Result<(), Launch> {
        use std::os::unix::process::CommandExt;

        let root = project_root();
        let log_path = self.dir.join("server.log");
        // Appended to, so that the log of a worker killed or restarted by a test is kept; this
        // launch's lines start here.
        let log_start = fs::metadata(&log_path).map_or(0, |metadata| metadata.len());
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Launch::Failed(e.to_string()))?;
        let child = Command::new("node")
            .arg(root.join("scripts/serve-worker.mjs"))
            .arg(self.dir.join("wrangler.toml"))
            .arg(port.to_string())
            .arg(&self.state_dir)
            .current_dir(&self.dir)
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("XDG_CONFIG_HOME", self.dir.join(".config"))
            .env("CI", "true")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| Launch::Failed(e.to_string()))?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|error| {
                Launch::Failed(format!("start the worker: {error} (run `make setup`)"))
            })?;
        self.child = Some(child);
        self.base_url = format!("http://127.0.0.1:{port}");
        let ready_line = format!("ready on {}", self.base_url);

        let client = Client::new(&self.base_url);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut ready = false;
        loop {
            let output = launch_output(&log_path, log_start);
            ready = ready
                || output
                    .lines()
                    .any(|line| line.trim_end().trim_end_matches('/').ends_with(&ready_line));
            if ready {
                if let Ok(response) = client.get("/healthz", &[]) {
                    if response.status == 200 {
                        return Ok(());
                    }
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(exit)) = child.try_wait() {
                    self.child = None;
                    if output.contains("ERR_ADDRESS_IN_USE") {
                        return Err(Launch::AddressInUse(port));
                    }
                    return Err(Launch::Failed(format!(
                        "the worker's server exited with {exit}:\n{}",
                        self.log_tail()
                    )));
                }
            }
            if Instant::now() > deadline {
                return Err(Launch::Failed(format!(
                    "worker `{}` not ready after {STARTUP_TIMEOUT:?}:\n{}",
                    self.name,
                    self.log_tail()
                )));
            }
            sleep(Duration::from_millis(200));
        }
    }

    pub fn client(&self) -> Client {
        Client::new(&self.base_url)
    }

    pub fn var(&self, name: &str) -> &str {
        self.vars
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or("")
    }

    /// Stops and starts the same worker on the same persisted state (a new port).
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.launch()
    }

    /// Starts a worker [`Worker::stop`]ped before again, on its persisted state and on its
    /// port, so that a client holding its URL can reconnect. The port was this worker's: it is
    /// retried for a while if the system has not released it yet.
    pub fn start_again(&mut self) -> Result<(), String> {
        const ATTEMPTS: usize = 20;
        let port = self.port();
        for _ in 0..ATTEMPTS {
            match self.launch_once(port) {
                Err(Launch::AddressInUse(_)) => sleep(Duration::from_millis(500)),
                Err(Launch::Failed(error)) => return Err(error),
                Ok(()) => return Ok(()),
            }
        }
        Err(format!(
            "worker `{}`: port {port} still taken after {ATTEMPTS} attempts",
            self.name
        ))
    }

    /// The port the worker listens on.
    pub fn port(&self) -> u16 {
        self.base_url
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a base URL with a port")
    }

    /// Stops the worker, replaces its vars/secrets (e.g. a rotated secret) and starts it again on
    /// the same persisted state (a new port).
    pub fn restart_with(&mut self, vars: &[(&str, &str)]) -> Result<(), String> {
        self.stop();
        self.write_vars(vars)?;
        self.launch()
    }

    /// A crash: SIGKILL to the server's whole process group (node, workerd) at once,
    /// no TERM first. [`Worker::restart`] then starts it again on the same persisted state.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = child.wait();
    }

    /// The server's output so far, with the worker's log lines.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// The last lines of the server's output (and the worker's log lines), for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Stops the server's whole process group: TERM, then KILL if it lingers.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        // `--` is required: without it procps kill takes `-PID` for an option and does nothing.
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The project's `wrangler.toml` with `main` pointing at the built entry, the static assets'
/// directory made absolute (wrangler reads it relative to the copy), and no `[build]`.
fn test_config(root: &Path, entry: &Path) -> Result<String, String> {
    let original = fs::read_to_string(root.join("wrangler.toml")).map_err(|e| e.to_string())?;
    let mut output = String::new();
    let mut table = "";
    for line in original.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            table = trimmed;
        }
        if table == "[build]" {
            continue;
        }
        let assets_directory = trimmed
            .strip_prefix("directory =")
            .filter(|_| table == "[assets]")
            .map(|value| value.trim().trim_matches('"'));
        if trimmed.starts_with("main =") {
            output.push_str(&format!("main = {:?}\n", entry.display().to_string()));
        } else if let Some(directory) = assets_directory {
            let directory = root.join(directory).display().to_string();
            output.push_str(&format!("directory = {directory:?}\n"));
        } else {
            output.push_str(line);
            output.push('\n');
        }
    }
    Ok(output)
}

/// Why a launch failed.
enum Launch {
    /// Another process bound the port first.
    AddressInUse(u16),
    Failed(String),
}

/// What the server wrote to its log since `start` (a byte offset).
fn launch_output(log_path: &Path, start: u64) -> String {
    let log = fs::read(log_path).unwrap_or_default();
    let start = usize::try_from(start).unwrap_or(usize::MAX).min(log.len());
    String::from_utf8_lossy(&log[start..]).into_owned()
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("find a free port: {error}"))
}
