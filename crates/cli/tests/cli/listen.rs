//! `switchboard listen`, the local endpoint for the worker's deliveries (docs/delivery.md): the
//! built binary on a free port, sent deliveries signed with the core's `signature_header` and
//! with the independent `standardwebhooks` crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, ChildStderr};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use switchboard_core::delivery::{signature_header, SigningSecret, VerifyError};
use ureq::Agent;

use crate::support::Switchboard;

/// The Standard Webhooks specification's example secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The secret that replaces it in the rotation tests.
const NEXT_SECRET: &str = "whsec_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
/// A well-formed secret that no listener here accepts.
const STRANGER_SECRET: &str = "whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// A delivery's body, compact as the worker sends it (docs/delivery.md).
const BODY: &str = r#"{"type":"call.completed","timestamp":"2026-12-05T20:15:00.123Z","data":{"event":{"provider":"twilio","kind":"call","subject_id":"CA123","status":"completed"},"state":{"provider":"twilio","kind":"call","id":"CA123","status":"completed"}}}"#;

/// `BODY` as `listen` prints it: pretty, in the sender's key order.
const PRINTED_BODY: &str = r#"{
  "type": "call.completed",
  "timestamp": "2026-12-05T20:15:00.123Z",
  "data": {
    "event": {
      "provider": "twilio",
      "kind": "call",
      "subject_id": "CA123",
      "status": "completed"
    },
    "state": {
      "provider": "twilio",
      "kind": "call",
      "id": "CA123",
      "status": "completed"
    }
  }
}"#;

/// How long a line the listener owes may take to arrive before the test fails (rather than
/// hangs).
const LINE_TIMEOUT: Duration = Duration::from_secs(10);

type Headers = Vec<(&'static str, String)>;

fn unix_now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

fn headers(webhook_id: &str, timestamp: i64, signature: String) -> Headers {
    vec![
        ("webhook-id", webhook_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

/// The headers of `body` delivered as `webhook_id` at `timestamp`, signed by each of `secrets`
/// with the core's `signature_header`, as the worker signs.
fn signed(secrets: &[&str], webhook_id: &str, timestamp: i64, body: &str) -> Headers {
    let secrets: Vec<SigningSecret> = secrets
        .iter()
        .map(|secret| SigningSecret::parse(secret).unwrap())
        .collect();
    let signature = signature_header(&secrets, webhook_id, timestamp, body.as_bytes());
    headers(webhook_id, timestamp, signature)
}

/// `headers` with the value of `name` replaced.
fn with(headers: Headers, name: &str, value: &str) -> Headers {
    headers
        .into_iter()
        .map(|(header, old)| {
            let kept = if header == name {
                value.to_owned()
            } else {
                old
            };
            (header, kept)
        })
        .collect()
}

fn without(mut headers: Headers, name: &str) -> Headers {
    headers.retain(|(header, _)| *header != name);
    headers
}

/// The 401 body and the printed line of a refused delivery.
fn refusal(shown_id: &str, reason: &VerifyError) -> (Value, String) {
    (
        json!({"error": "invalid_signature", "message": reason.to_string()}),
        format!("refused {shown_id} : {reason}"),
    )
}

/// A running `switchboard listen --port 0`, its stdout read line by line.
struct Listening {
    child: Child,
    url: String,
    printed: Receiver<String>,
    stderr: BufReader<ChildStderr>,
    agent: Agent,
}

impl Listening {
    /// Starts `listen --port 0 ARGS` and waits for the address it announces on stderr.
    fn start(test: &str, args: &str) -> Self {
        let line = format!("listen --port 0 {args}");
        let args: Vec<&str> = line.split_whitespace().collect();
        let mut child = Switchboard::new(test).spawn(&args);
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut announced = String::new();
        stderr.read_line(&mut announced).unwrap();
        let url = announced
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address announced: {announced:?}"))
            .to_owned();
        let stdout = child.stdout.take().unwrap();
        let (sender, printed) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(LINE_TIMEOUT))
            .build()
            .into();
        Self {
            child,
            url,
            printed,
            stderr,
            agent,
        }
    }

    /// POSTs `body` with `headers`; returns the status and the answer's body.
    fn post(&self, headers: &[(&str, String)], body: &str) -> (u16, String) {
        let mut request = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.send(body).unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    }

    /// Writes `raw` on a new connection, ends the writing half, and returns all that is answered.
    fn exchange(&self, raw: &[u8]) -> String {
        let address = self.url.trim_start_matches("http://").trim_end_matches('/');
        let mut connection = TcpStream::connect(address).unwrap();
        connection.set_read_timeout(Some(LINE_TIMEOUT)).unwrap();
        connection.write_all(raw).unwrap();
        connection.shutdown(Shutdown::Write).unwrap();
        let mut answers = String::new();
        connection.read_to_string(&mut answers).unwrap();
        answers
    }

    /// POSTs a delivery that must be refused, and checks the answer and the printed line.
    fn expect_refused(&self, headers: &[(&str, String)], body: &str, refusal: (Value, String)) {
        let (expected_answer, expected_line) = refusal;
        let (status, answer) = self.post(headers, body);
        assert_eq!(status, 401, "{expected_line}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer, expected_answer);
        self.expect_printed(&expected_line);
    }

    /// The next lines printed are `expected`'s.
    fn expect_printed(&self, expected: &str) {
        let printed: Vec<String> = expected.lines().map(|_| self.next_line()).collect();
        assert_eq!(printed.join("\n"), expected);
    }

    fn next_line(&self) -> String {
        self.printed
            .recv_timeout(LINE_TIMEOUT)
            .unwrap_or_else(|error| panic!("waiting for a line: {error}"))
    }

    /// Stops the listener: it printed nothing more, and no secret anywhere.
    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let unread: Vec<String> = self.printed.iter().collect();
        assert_eq!(unread, Vec::<String>::new(), "printed more than expected");
        let mut stderr = String::new();
        self.stderr.read_to_string(&mut stderr).unwrap();
        assert!(!stderr.contains("whsec_"), "{stderr}");
    }
}

impl Drop for Listening {
    /// Ends the listener of a test that failed before `stop`.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn signed_deliveries_are_answered_204_and_printed() {
    let listening = Listening::start("listen_signed", &format!("--secret {SECRET}"));
    let now = unix_now();
    let id = "msg_0123456789abcdef0123456789abcdef";
    assert_eq!(
        listening.post(&signed(&[SECRET], id, now, BODY), BODY),
        (204, String::new())
    );
    listening.expect_printed(&format!("delivered {id} call.completed\n{PRINTED_BODY}"));

    let text = "not JSON";
    assert_eq!(
        listening.post(&signed(&[SECRET], "msg_text", now, text), text),
        (204, String::new())
    );
    listening.expect_printed("delivered msg_text -\nnot JSON");
    listening.stop();
}

#[test]
fn deliveries_signed_by_the_standardwebhooks_crate_verify() {
    let listening = Listening::start("listen_standardwebhooks", &format!("--secret {SECRET}"));
    let webhook = standardwebhooks::Webhook::new(SECRET).unwrap();
    let now = unix_now();
    let signature = webhook.sign("msg_sw", now, BODY.as_bytes()).unwrap();
    assert_eq!(
        listening.post(&headers("msg_sw", now, signature), BODY),
        (204, String::new())
    );
    listening.expect_printed(&format!("delivered msg_sw call.completed\n{PRINTED_BODY}"));

    let stranger = standardwebhooks::Webhook::new(STRANGER_SECRET).unwrap();
    let signature = stranger.sign("msg_sw", now, BODY.as_bytes()).unwrap();
    listening.expect_refused(
        &headers("msg_sw", now, signature),
        BODY,
        refusal("msg_sw", &VerifyError::NoMatch),
    );
    listening.stop();
}

#[test]
fn unverified_deliveries_are_answered_401_and_printed_as_refused() {
    let listening = Listening::start("listen_refused", &format!("--secret {SECRET}"));
    let now = unix_now();
    let id = "msg_refused";
    let valid = signed(&[SECRET], id, now, BODY);
    let tampered = BODY.replace("completed", "failed");
    let no_match = refusal(id, &VerifyError::NoMatch);
    let stale = refusal(id, &VerifyError::StaleTimestamp(300));
    let cases: [(&str, Headers, &str, (Value, String)); 9] = [
        ("tampered body", valid.clone(), &tampered, no_match.clone()),
        (
            "another id",
            with(signed(&[SECRET], "msg_other", now, BODY), "webhook-id", id),
            BODY,
            no_match.clone(),
        ),
        (
            "wrong secret",
            signed(&[STRANGER_SECRET], id, now, BODY),
            BODY,
            no_match,
        ),
        (
            "stale",
            signed(&[SECRET], id, now - 301, BODY),
            BODY,
            stale.clone(),
        ),
        (
            "from the future",
            signed(&[SECRET], id, now + 600, BODY),
            BODY,
            stale,
        ),
        (
            "timestamp not in seconds",
            with(valid.clone(), "webhook-timestamp", "soon"),
            BODY,
            refusal(id, &VerifyError::InvalidTimestamp),
        ),
        (
            "no webhook-id",
            without(valid.clone(), "webhook-id"),
            BODY,
            refusal("-", &VerifyError::MissingHeader("webhook-id")),
        ),
        (
            "no webhook-timestamp",
            without(valid.clone(), "webhook-timestamp"),
            BODY,
            refusal(id, &VerifyError::MissingHeader("webhook-timestamp")),
        ),
        (
            "no webhook-signature",
            without(valid.clone(), "webhook-signature"),
            BODY,
            refusal(id, &VerifyError::MissingHeader("webhook-signature")),
        ),
    ];
    for (case, headers, body, expected) in cases {
        eprintln!("case: {case}");
        listening.expect_refused(&headers, body, expected);
    }
    // Refusals do not stop the listener.
    assert_eq!(listening.post(&valid, BODY), (204, String::new()));
    listening.expect_printed(&format!("delivered {id} call.completed\n{PRINTED_BODY}"));
    listening.stop();
}

#[test]
fn every_secret_of_a_rotation_is_accepted() {
    let repeated = format!("--secret {NEXT_SECRET} --secret {SECRET}");
    let comma_separated = format!("--secret {NEXT_SECRET},{SECRET}");
    for (test, args) in [
        ("listen_rotation_repeated", repeated),
        ("listen_rotation_commas", comma_separated),
    ] {
        let listening = Listening::start(test, &args);
        let now = unix_now();
        for (id, secrets) in [
            ("msg_old", vec![SECRET]),
            ("msg_new", vec![NEXT_SECRET]),
            ("msg_both", vec![NEXT_SECRET, SECRET]),
            ("msg_stranger_first", vec![STRANGER_SECRET, SECRET]),
        ] {
            assert_eq!(
                listening.post(&signed(&secrets, id, now, BODY), BODY),
                (204, String::new()),
                "{test} {id}"
            );
            listening.expect_printed(&format!("delivered {id} call.completed\n{PRINTED_BODY}"));
        }
        listening.expect_refused(
            &signed(&[STRANGER_SECRET], "msg_stranger", now, BODY),
            BODY,
            refusal("msg_stranger", &VerifyError::NoMatch),
        );
        listening.stop();
    }
}

#[test]
fn tolerance_and_status_can_be_set() {
    let listening = Listening::start(
        "listen_tolerance_status",
        &format!("--secret {SECRET} --tolerance-seconds 3600 --status 503"),
    );
    let now = unix_now();
    assert_eq!(
        listening.post(&signed(&[SECRET], "msg_late", now - 1_000, BODY), BODY),
        (503, String::new())
    );
    listening.expect_printed(&format!(
        "verified msg_late call.completed, answered 503\n{PRINTED_BODY}"
    ));
    listening.expect_refused(
        &signed(&[SECRET], "msg_stale", now - 3_601, BODY),
        BODY,
        refusal("msg_stale", &VerifyError::StaleTimestamp(3600)),
    );
    listening.stop();
}

#[test]
fn other_methods_are_answered_405_and_not_printed() {
    let listening = Listening::start("listen_methods", &format!("--secret {SECRET}"));
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(&listening.url)
            .body(())
            .unwrap();
        let mut response = listening.agent.run(request).unwrap();
        assert_eq!(response.status().as_u16(), 405, "{method}");
        assert_eq!(response.headers()["allow"], "POST");
        let answer: Value =
            serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(answer["error"], "method_not_allowed", "{method}");
    }

    // A chunked body of a refused method is read all the same, so the request after it on the
    // same connection is answered as itself.
    let answers = listening.exchange(
        b"PUT / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n\
          GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    // Each answer starts with its status line; the first's body has no line end.
    let statuses: Vec<&str> = answers
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|answer| &answer[..3])
        .collect();
    assert_eq!(statuses, ["405", "405"], "{answers}");
    listening.stop();
}

#[test]
fn an_unreadable_body_is_answered_400() {
    let listening = Listening::start("listen_unreadable", &format!("--secret {SECRET}"));
    let answers = listening.exchange(
        b"POST / HTTP/1.1\r\nhost: x\r\nwebhook-id: msg_chunks\r\n\
          transfer-encoding: chunked\r\nconnection: close\r\n\r\nnot a chunk size\r\n",
    );
    let (head, body) = answers.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 400 "), "{answers}");
    let body: Value = serde_json::Deserializer::from_str(body)
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(body["error"], "invalid_body", "{answers}");
    let line = listening.next_line();
    assert!(
        line.starts_with("refused msg_chunks : cannot read the body: "),
        "{line}"
    );
    listening.stop();
}

#[test]
fn bad_secrets_are_usage_errors_that_do_not_quote_them() {
    let switchboard = Switchboard::new("listen_bad_secrets");
    let missing = switchboard.run_line("listen --port 0", &[]).expect(2);
    assert!(missing.stderr.contains("--secret"), "{}", missing.stderr);

    let short = "whsec_c2hvcnQ=";
    let run = switchboard
        .run_line(&format!("listen --port 0 --secret {short}"), &[])
        .expect(2);
    assert_eq!(
        run.stderr.trim(),
        "error: --secret #1: a secret must encode 24 to 64 bytes"
    );

    let unprefixed = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let run = switchboard
        .run_line(
            &format!("listen --port 0 --secret {SECRET},{unprefixed}"),
            &[],
        )
        .expect(2);
    assert_eq!(
        run.stderr.trim(),
        "error: --secret #2: a secret must start with whsec_"
    );

    let run = switchboard
        .run_line("listen --port 0 --secret ,", &[])
        .expect(2);
    assert_eq!(
        run.stderr.trim(),
        "error: --secret: give at least one whsec_ secret"
    );
}

#[test]
fn a_port_in_use_is_a_usage_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let run = Switchboard::new("listen_port_in_use")
        .run(&["listen", "--port", &port, "--secret", SECRET])
        .expect(2);
    assert!(
        run.stderr
            .starts_with(&format!("error: cannot listen on 127.0.0.1:{port}: ")),
        "{}",
        run.stderr
    );
}
