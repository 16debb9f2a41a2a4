//! The application's endpoints, as the delivery tests see them: an HTTP server on loopback that
//! records every delivery the worker makes (docs/delivery.md, "What an endpoint receives") and
//! answers each as the test scripted for its subject (`data.event.subject_id` of the body).
//!
//! One thread takes the requests one at a time and answers at once, unless the script says to
//! hold the request: its connection then stays open, unanswered, until [`Receiver::release`] (or
//! the receiver is dropped). Tests wait for deliveries with bounded polling
//! ([`Receiver::wait_for`], [`Receiver::wait_until`]), never with fixed sleeps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use standardwebhooks::Webhook;
use ureq::http::{HeaderMap, HeaderName, HeaderValue};

/// How a scripted request is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// This status, without a body.
    Status(u16),
    /// This status with `Retry-After: {seconds}`.
    RetryAfter(u16, u32),
    /// No answer: the request is kept, its connection open, until released.
    Hold,
    /// This redirect status, to [`REDIRECTED`] on the same receiver.
    Redirect(u16),
}

/// Where [`Answer::Redirect`] points: a request there means the redirect was followed.
pub const REDIRECTED: &str = "/redirected";

/// The answers to a subject's deliveries, counted per endpoint path: `first` in turn, then
/// `then` for every later one.
#[derive(Clone, Debug)]
pub struct Script {
    first: Vec<Answer>,
    then: Answer,
}

impl Script {
    /// The same answer every time.
    pub fn always(answer: Answer) -> Self {
        Self {
            first: Vec::new(),
            then: answer,
        }
    }

    /// `answer` for the first `count` attempts, then 204.
    pub fn first(count: usize, answer: Answer) -> Self {
        Self {
            first: vec![answer; count],
            then: Answer::Status(204),
        }
    }

    fn answer(&self, attempt: usize) -> Answer {
        self.first.get(attempt).copied().unwrap_or(self.then)
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Its place among every request the receiver got, from 0.
    pub sequence: usize,
    /// The path and query it was sent to (`/main`).
    pub path: String,
    /// Header names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub arrived: Instant,
    /// `data.event.subject_id` of the body, if it has one.
    pub subject: Option<String>,
    pub answer: Answer,
}

impl Delivery {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header(&self.headers, name)
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id").unwrap_or_default()
    }

    /// The body as JSON; `Value::Null` if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// `data.event.event_id` of the body.
    pub fn event_id(&self) -> String {
        self.json()["data"]["event"]["event_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Whether the `standardwebhooks` crate (independent of Switchboard's own signing code)
    /// verifies this delivery with `secret` (`whsec_…`).
    pub fn verify(&self, secret: &str) -> Result<(), String> {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.append(name, value);
        }
        Webhook::new(secret)
            .map_err(|error| format!("secret: {error}"))?
            .verify(&self.body, &headers)
            .map_err(|error| error.to_string())
    }

    /// A line for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "#{} {} {} {:?} {:?}: {}",
            self.sequence,
            self.path,
            self.webhook_id(),
            self.subject,
            self.answer,
            String::from_utf8_lossy(&self.body)
        )
    }
}

#[derive(Default)]
struct State {
    deliveries: Vec<Delivery>,
    scripts: HashMap<String, Script>,
    /// Requests per `(path, subject)` so far: the next one's place in its script.
    attempts: HashMap<(String, String), usize>,
    /// Requests held unanswered, with their subject.
    held: Vec<(Option<String>, tiny_http::Request)>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Notified on every recorded delivery.
    recorded: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1.
    pub fn start() -> Result<Self, String> {
        let server = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|error| format!("receiver: listen: {error}"))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|address| address.port())
            .ok_or("receiver: not listening on an IP address")?;
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("receiver".into())
                .spawn(move || serve(&server, &shared, &stop))
                .map_err(|error| format!("receiver: thread: {error}"))?
        };
        Ok(Self {
            port,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// The URL of `path` (e.g. `/main`) on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How deliveries about `subject` are answered from now on (the count of attempts goes on).
    pub fn script(&self, subject: &str, script: Script) {
        self.shared
            .lock()
            .scripts
            .insert(subject.to_owned(), script);
    }

    /// Every request to `path` about `subject` so far, in arrival order.
    pub fn deliveries(&self, path: &str, subject: &str) -> Vec<Delivery> {
        matching(&self.shared.lock(), path, subject)
    }

    /// Every request so far, in arrival order.
    pub fn all(&self) -> Vec<Delivery> {
        self.shared.lock().deliveries.clone()
    }

    /// The requests to `path` about `subject` once there are at least `count`; panics, failing
    /// the test, if that takes longer than `timeout`.
    pub fn wait_for(
        &self,
        path: &str,
        subject: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<Delivery> {
        self.wait_until(
            &format!("{count} deliveries of {subject} to {path}"),
            timeout,
            |deliveries| {
                let found: Vec<Delivery> = deliveries
                    .iter()
                    .filter(|delivery| is_about(delivery, path, subject))
                    .cloned()
                    .collect();
                (found.len() >= count).then_some(found)
            },
        )
    }

    /// The first `Some` that `check` makes of every request so far, called again after each new
    /// one; panics, failing the test, if none comes within `timeout`.
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[Delivery]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(found) = check(&state.deliveries) {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let seen: Vec<String> = state
                    .deliveries
                    .iter()
                    .rev()
                    .take(10)
                    .map(Delivery::describe)
                    .collect();
                panic!(
                    "receiver: no {what} within {timeout:?}; the last requests:\n{}",
                    seen.join("\n")
                );
            }
            state = self
                .shared
                .recorded
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    /// Answers the held requests about `subject` with `status` (their connections may be gone).
    pub fn release(&self, subject: &str, status: u16) {
        let held: Vec<tiny_http::Request> = {
            let mut state = self.shared.lock();
            let (release, keep) = std::mem::take(&mut state.held)
                .into_iter()
                .partition(|(held, _)| held.as_deref() == Some(subject));
            state.held = keep;
            release.into_iter().map(|(_, request)| request).collect()
        };
        for request in held {
            let _ = request.respond(tiny_http::Response::empty(status));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        // Dropping a held request answers it 500.
        self.shared.lock().held.clear();
    }
}

fn is_about(delivery: &Delivery, path: &str, subject: &str) -> bool {
    delivery.path == path && delivery.subject.as_deref() == Some(subject)
}

fn matching(state: &State, path: &str, subject: &str) -> Vec<Delivery> {
    state
        .deliveries
        .iter()
        .filter(|delivery| is_about(delivery, path, subject))
        .cloned()
        .collect()
}

/// Takes requests until `stop`.
fn serve(server: &tiny_http::Server, shared: &Shared, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(request)) => handle(request, shared),
            Ok(None) => {}
            Err(error) => eprintln!("receiver: {error}"),
        }
    }
}

fn handle(mut request: tiny_http::Request, shared: &Shared) {
    let arrived = Instant::now();
    let mut body = Vec::new();
    let read = request.as_reader().read_to_end(&mut body);
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|header| {
            (
                header.field.as_str().as_str().to_ascii_lowercase(),
                header.value.as_str().to_owned(),
            )
        })
        .collect();
    let path = request.url().to_owned();
    let subject = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|json| {
            json["data"]["event"]["subject_id"]
                .as_str()
                .map(str::to_owned)
        });
    let mut guard = shared.lock();
    let state = &mut *guard;
    let answer = match (&subject, read) {
        (_, Err(_)) => Answer::Status(400),
        (None, Ok(_)) => Answer::Status(204),
        (Some(subject), Ok(_)) => {
            let attempt = state
                .attempts
                .entry((path.clone(), subject.clone()))
                .or_insert(0);
            let answer = state
                .scripts
                .get(subject)
                .map_or(Answer::Status(204), |script| script.answer(*attempt));
            *attempt += 1;
            answer
        }
    };
    let sequence = state.deliveries.len();
    state.deliveries.push(Delivery {
        sequence,
        path,
        headers,
        body,
        arrived,
        subject: subject.clone(),
        answer,
    });
    let response = match answer {
        Answer::Status(status) => tiny_http::Response::empty(status),
        Answer::RetryAfter(status, seconds) => {
            let header = tiny_http::Header::from_bytes("retry-after", seconds.to_string())
                .expect("a valid header");
            tiny_http::Response::empty(status).with_header(header)
        }
        Answer::Redirect(status) => {
            let header =
                tiny_http::Header::from_bytes("location", REDIRECTED).expect("a valid header");
            tiny_http::Response::empty(status).with_header(header)
        }
        Answer::Hold => {
            state.held.push((subject, request));
            shared.recorded.notify_all();
            return;
        }
    };
    drop(guard);
    let _ = request.respond(response);
    shared.recorded.notify_all();
}
