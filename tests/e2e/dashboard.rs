//! The dashboard (`/dashboard`, public/dashboard/) in a real browser: headless Chromium, driven by
//! `tests/browser/driver.mjs` (playwright-core), against the `delivering` worker. Each step's
//! screenshot is kept in `target/dashboard/` (README, docs/dashboard.md).
//!
//! Also its static serving (redirect, headers, methods) and `GET /v1/config`, over HTTP.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver as Lines, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_core::ProviderId;

use crate::concurrency::twilio_status;
use crate::http::{exchange, AfterSending, Client};
use crate::receiver::{Answer, Script};
use crate::support::{accepted, assert_error, deliver, json_lines, status, summary, unique_id};
use crate::tokens::minted;
use crate::worker::project_root;
use crate::{Suite, Test, MAIN_SECRETS, TOKEN};

pub fn tests() -> Vec<(&'static str, Test)> {
    tests![
        the_dashboard_is_served_at_its_path_under_a_strict_policy,
        the_configuration_is_shown_without_a_secret,
        a_call_appears_in_the_list_and_its_page_follows_it_live,
        a_forged_twilio_request_shows_in_source_health_with_its_reason,
        a_failed_delivery_is_retried_from_the_calls_page,
        a_browser_token_sees_its_call_on_a_phone_screen_without_full_access_links,
    ]
}

/// How long the driver may take for one command: its own waits time out at 30 s first.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One browser at a time: the tests that use one wait for each other, so that a few Chromium
/// processes never starve the workers the other tests are timing.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// `tests/browser/driver.mjs` with its own Chromium.
pub struct Browser {
    /// Held while this browser lives (a failed test's poisoned lock is taken all the same).
    _turn: MutexGuard<'static, ()>,
    child: Child,
    stdin: ChildStdin,
    lines: Lines<Value>,
    /// The commands so far, for failure messages.
    log: Vec<String>,
}

impl Browser {
    pub fn open(base: &str) -> Self {
        let turn = ONE_BROWSER
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut child = Command::new("node")
            .arg(project_root().join("tests/browser/driver.mjs"))
            .args([base, &screenshot_dir().display().to_string()])
            .current_dir(project_root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs (make setup)");
        let lines = json_lines(child.stdout.take().expect("piped stdout"));
        let stdin = child.stdin.take().expect("piped stdin");
        Self {
            _turn: turn,
            child,
            stdin,
            lines,
            log: Vec::new(),
        }
    }

    /// Runs one command; panics, failing the test, if the driver says it failed.
    pub fn run(&mut self, command: Value) -> Value {
        self.log.push(command.to_string());
        writeln!(self.stdin, "{command}").expect("the driver reads stdin");
        let answer = match self.lines.recv_timeout(COMMAND_TIMEOUT) {
            Ok(answer) => answer,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no answer to {command} in {COMMAND_TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!(
                    "the driver ended (is Chromium installed? make setup); commands: {:?}",
                    self.log
                )
            }
        };
        assert_eq!(
            answer["ok"], true,
            "{command} failed: {}; commands so far: {:#?}",
            answer["error"], self.log
        );
        answer
    }

    pub fn goto(&mut self, path: &str) -> String {
        self.run(json!({ "do": "goto", "path": path }))["url"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn click(&mut self, selector: &str) {
        self.run(json!({ "do": "click", "selector": selector }));
    }

    /// The text of the first element that matches `selector` (and holds `text`), once there is one.
    pub fn wait(&mut self, selector: &str, text: Option<&str>) -> String {
        self.wait_count(selector, text, 1)
    }

    /// As [`Browser::wait`], once at least `count` elements match.
    pub fn wait_count(&mut self, selector: &str, text: Option<&str>, count: usize) -> String {
        let answer =
            self.run(json!({ "do": "wait", "selector": selector, "text": text, "count": count }));
        answer["text"].as_str().unwrap_or_default().to_owned()
    }

    pub fn text(&mut self, selector: &str) -> String {
        self.run(json!({ "do": "text", "selector": selector }))["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn screenshot(&mut self, name: &str) {
        self.run(json!({ "do": "screenshot", "name": name }));
    }

    /// Signs in, and waits for the first view to be shown.
    pub fn sign_in(&mut self, token: &str) {
        self.try_sign_in(token);
        self.wait("#content h1", None);
    }

    /// Offers `token` as a person would: the token field has the focus, type, Enter.
    pub fn try_sign_in(&mut self, token: &str) {
        let url = self.goto("/");
        assert!(url.ends_with("/dashboard"), "`/` led to {url}");
        self.wait("#sign-in:not([hidden])", None);
        assert_eq!(self.run(json!({ "do": "focused" }))["id"], "token");
        self.run(json!({ "do": "type", "text": token }));
        self.run(json!({ "do": "press", "key": "Enter" }));
    }

    /// Nothing went wrong in the page: no console error or warning, no uncaught error, no failed
    /// request and no HTTP error answer (a CSP violation is a console error).
    pub fn assert_no_problems(&mut self) {
        let problems = self.run(json!({ "do": "problems" }))["problems"].clone();
        assert_eq!(problems, json!([]), "the page had problems");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go: `target/dashboard/` (kept after the run, for people to look at).
fn screenshot_dir() -> PathBuf {
    crate::support::target_dir().join("dashboard")
}

fn send(client: &Client, call_sid: &str, status: &str, sequence: u32) {
    accepted(&deliver(
        client,
        &twilio_status(client, call_sid, status, sequence),
    ));
}

fn the_dashboard_is_served_at_its_path_under_a_strict_policy(suite: &Suite) {
    let client = suite.configured.client();
    // Written by hand: the HTTP client follows redirects.
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        client.address()
    );
    let root = exchange(
        client.address(),
        request.as_bytes(),
        AfterSending::KeepOpen,
        false,
        Duration::from_secs(30),
    )
    .expect("worker reachable");
    assert_eq!(root.status, 302);
    assert_eq!(root.header("location"), Some("/dashboard"));

    let committed = std::fs::read_to_string(project_root().join("public/dashboard/index.html"))
        .expect("the page's source");
    for path in ["/dashboard", "/dashboard/", "/dashboard/index.html"] {
        let page = client.get(path, &[]).expect("worker reachable");
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_eq!(page.body, committed, "{path}");
        assert!(page
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/html"));
        let policy = page.header("content-security-policy").unwrap_or_default();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe"), "{policy}");
        assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    }
    for (path, kind) in [
        ("/dashboard/app.js", "javascript"),
        ("/dashboard/style.css", "text/css"),
        ("/dashboard/icon.svg", "image/svg+xml"),
    ] {
        let file = client.get(path, &[]).expect("worker reachable");
        assert_eq!(file.status, 200, "{path}");
        assert!(
            file.header("content-type")
                .unwrap_or_default()
                .contains(kind),
            "{path}"
        );
        assert!(file.header("content-security-policy").is_some(), "{path}");
    }
    let posted = client
        .send("POST", "/dashboard", &[], b"")
        .expect("worker reachable");
    assert_error(&posted, 405, "method_not_allowed");
    assert_error(
        &client
            .get("/dashboard/nothing.js", &[])
            .expect("worker reachable"),
        404,
        "not_found",
    );
}

fn the_configuration_is_shown_without_a_secret(suite: &Suite) {
    let client = suite.delivering.client();
    let config = summary(&client, "/v1/config");
    let configured: Vec<&str> = config["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter(|row| row["configured"] == true)
        .filter_map(|row| row["provider"].as_str())
        .collect();
    assert_eq!(configured.len(), ProviderId::ALL.len(), "{config}");
    let endpoints = &config["delivery"]["endpoints"];
    assert_eq!(endpoints[0]["name"], "main", "{config}");
    assert_eq!(endpoints[0]["url"], suite.receiver.url("/…"), "{config}");
    assert_eq!(endpoints[0]["secrets"], 2, "{config}");
    assert_eq!(
        endpoints[1]["events"],
        json!(["call.completed", "message.*"])
    );
    assert_eq!(endpoints[1]["providers"], json!(["twilio", "telnyx"]));
    assert_eq!(config["delivery"]["retry_schedule_seconds"], json!([1, 1]));
    let text = config.to_string();
    for secret in MAIN_SECRETS {
        let key = secret.trim_start_matches("whsec_");
        assert!(!text.contains(key), "a delivery secret in {text}");
    }
    assert!(!text.contains(TOKEN), "{text}");

    let browser = minted(&client, &["calls"]);
    let refused = client
        .api("/v1/config", &browser)
        .expect("worker reachable");
    assert_error(&refused, 403, "out_of_scope");

    let mut page = Browser::open(&suite.delivering.base_url);
    page.try_sign_in("not-a-token");
    page.wait("#notice", Some("That token was refused"));
    page.wait("#sign-in:not([hidden])", None);
    let storage = page.run(json!({ "do": "storage" }));
    assert_eq!(storage["session"], json!({}), "{storage}");
    let problems = page.run(json!({ "do": "problems" }))["problems"].clone();
    let problems = problems.as_array().expect("a list");
    assert!(
        !problems.is_empty()
            && problems
                .iter()
                .all(|problem| problem.as_str().unwrap_or_default().contains("401")),
        "a refused token is a 401 and nothing else: {problems:?}"
    );

    page.sign_in(TOKEN);
    page.goto("/dashboard#/config");
    let receiver_origin = suite.receiver.url("/…");
    page.wait("[data-endpoint=main]", Some(&receiver_origin));
    let shown = page.text("#content");
    for secret in MAIN_SECRETS {
        assert!(
            !shown.contains(secret.trim_start_matches("whsec_")),
            "{shown}"
        );
    }
    page.wait("[data-provider=twilio] .badge.good", Some("configured"));
    page.screenshot("09-configuration");
    page.assert_no_problems();
}

/// Sign in, a call appears in the list, its page shows the timeline, and the next event shows
/// on the page through the socket without a reload.
fn a_call_appears_in_the_list_and_its_page_follows_it_live(suite: &Suite) {
    let client = suite.delivering.client();
    let mut page = Browser::open(&suite.delivering.base_url);
    page.goto("/dashboard");
    page.wait("#sign-in:not([hidden])", None);
    page.screenshot("01-sign-in");
    page.sign_in(TOKEN);
    let storage = page.run(json!({ "do": "storage" }));
    assert_eq!(storage["session"]["switchboard.token"], TOKEN, "{storage}");
    assert_eq!(
        (storage["local"].clone(), storage["cookies"].clone()),
        (json!({}), json!(0))
    );

    let call = unique_id("CAdashboard");
    send(&client, &call, "initiated", 0);
    send(&client, &call, "ringing", 1);
    // The list is the KV index (about a second behind), and the first page refreshes itself.
    let row = format!("#list tr[data-id=\"{call}\"]");
    page.wait(&row, Some("ringing"));
    page.screenshot("02-calls");

    page.click(&format!("{row} a"));
    page.wait("#live.live", None);
    page.wait_count("ol.timeline li", None, 2);
    assert!(
        page.text("#state").contains("ringing"),
        "{}",
        page.text("#state")
    );
    page.screenshot("03-call");

    page.run(json!({ "do": "mark" }));
    send(&client, &call, "in-progress", 2);
    page.wait("#state [data-status=in_progress]", None);
    page.wait_count("ol.timeline li", None, 3);
    page.wait("ol.timeline li.fresh", Some("in-progress"));
    page.wait("#deliveries tr[data-state]", Some("call.in_progress"));
    assert_eq!(
        page.run(json!({ "do": "marked" }))["marked"],
        true,
        "the page was reloaded"
    );
    page.screenshot("04-call-live");

    // Erasing takes a second click, then the call is gone and the page back at the list.
    page.click("#erase");
    page.wait("#erase", Some("Click again"));
    assert_eq!(status(&client, &format!("/v1/calls/twilio/{call}")), 200);
    page.click("#erase");
    page.wait("#notice", Some("is erased"));
    page.wait("#list", None);
    assert_eq!(status(&client, &format!("/v1/calls/twilio/{call}")), 404);
    page.assert_no_problems();

    page.click("#sign-out");
    page.wait("#sign-in:not([hidden])", None);
    let storage = page.run(json!({ "do": "storage" }));
    assert_eq!(storage["session"], json!({}), "{storage}");
}

fn a_forged_twilio_request_shows_in_source_health_with_its_reason(suite: &Suite) {
    let client = suite.delivering.client();
    let mut page = Browser::open(&suite.delivering.base_url);
    page.sign_in(TOKEN);
    let call = unique_id("CAforged");
    let mut forged = twilio_status(&client, &call, "ringing", 0);
    forged.set_header("x-twilio-signature", "Zm9yZ2VkIHNpZ25hdHVyZSBmb3JnZWQ=");
    assert_error(&deliver(&client, &forged), 401, "invalid_signature");

    page.goto("/dashboard#/sources");
    let card = "[data-provider=twilio]";
    let count = page.wait(&format!("{card} tr[data-count=invalid_signature]"), None);
    assert!(count.contains("invalid_signature"), "{count}");
    let sample = page.wait(&format!("{card} tbody tr"), Some("POST /webhooks/twilio"));
    assert!(sample.contains("invalid_signature"), "{sample}");
    assert!(
        !page.text("#content").contains("Zm9yZ2Vk"),
        "a signature on the page"
    );
    page.screenshot("05-sources");
    page.assert_no_problems();
}

/// A delivery the endpoint keeps refusing is `failed` on the call's page; once the endpoint is
/// back, the page's button sends it again and the page shows it delivered.
fn a_failed_delivery_is_retried_from_the_calls_page(suite: &Suite) {
    let client = suite.delivering.client();
    let call = unique_id("CAretry");
    suite
        .receiver
        .script(&call, Script::always(Answer::Status(503)));
    let mut page = Browser::open(&suite.delivering.base_url);
    page.sign_in(TOKEN);
    send(&client, &call, "ringing", 1);

    page.goto(&format!("/dashboard#/calls/twilio/{call}"));
    page.wait("#live.live", None);
    // Three attempts about a second apart (`RETRY_SCHEDULE`), then `failed`; the page reads the
    // deliveries again while one is pending.
    page.wait("#deliveries tr[data-state=failed]", Some("503"));
    let first = suite.receiver.deliveries("/main", &call);
    assert_eq!(first.len(), 3, "attempts before failing");
    page.screenshot("06-delivery-failed");

    suite
        .receiver
        .script(&call, Script::always(Answer::Status(204)));
    page.click("#retry-failed");
    page.wait("#notice", Some("1 delivery goes out again"));
    page.wait("#deliveries tr[data-state=delivered]", Some("204"));
    assert!(page.text("#deliveries").contains("delivered"));
    let all = suite
        .receiver
        .wait_for("/main", &call, 4, Duration::from_secs(30));
    assert_eq!(
        all[3].webhook_id(),
        first[0].webhook_id(),
        "a retry keeps its webhook-id"
    );
    page.screenshot("07-delivery-retried");
    page.assert_no_problems();
}

/// A browser token scoped to one call lands on that call, on a phone-sized screen, without the
/// links only the status API token may follow and without a retry button.
fn a_browser_token_sees_its_call_on_a_phone_screen_without_full_access_links(suite: &Suite) {
    let client = suite.delivering.client();
    let call = unique_id("CAphone");
    suite
        .receiver
        .script(&call, Script::always(Answer::Status(503)));
    send(&client, &call, "ringing", 1);
    let token = minted(&client, &[&format!("calls/twilio/{call}")]);
    let mut page = Browser::open(&suite.delivering.base_url);
    page.run(json!({ "do": "viewport", "width": 390, "height": 844 }));
    page.sign_in(&token);
    page.wait("#live.live", None);
    page.wait("h1", Some(&call));
    for section in ["calls", "messages", "deliveries", "sources", "config"] {
        let shown = page.text(&format!("nav a[data-section={section}]:not([hidden])"));
        assert_eq!(
            shown, "",
            "{section} is offered to a token scoped to one call"
        );
    }
    page.wait("#deliveries tr[data-state=failed]", Some("503"));
    assert_eq!(
        page.text("#retry-failed"),
        "",
        "a retry button for a browser token"
    );
    assert_eq!(
        page.text("#erase"),
        "",
        "an erase button for a browser token"
    );
    send(&client, &call, "in-progress", 2);
    page.wait("#state [data-status=in_progress]", None);
    let widths = page.run(json!({ "do": "widths" }));
    let width = |name: &str| widths[name].as_u64().expect("a width");
    assert!(
        width("page") <= width("window"),
        "the page scrolls sideways: {widths}"
    );
    page.screenshot("08-phone-browser-token");
    page.assert_no_problems();
}
