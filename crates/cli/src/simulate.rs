//! Plays a [`Scenario`] against a running worker over HTTP and reads back the final state.

use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;
use switchboard_core::{CapturedRequest, Provider, Summary};
use ureq::http;
use ureq::Agent;

use crate::clock;
use crate::failure::Failure;
use crate::scenario::Scenario;

/// How often, and how far apart, the status read is retried while it answers 404.
const STATUS_ATTEMPTS: u32 = 5;
const STATUS_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Headers that describe one connection or body framing; the HTTP client sets its own.
const CONNECTION_HEADERS: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

pub struct Target {
    /// Base URL of the worker, without a trailing `/`.
    pub base_url: String,
    pub status_token: String,
    pub timeout: Duration,
}

/// Signs the scenario's webhooks, delivers them in its delivery order, and returns the final
/// state from the status API. Progress goes to stderr.
pub fn run(
    provider: &dyn Provider,
    scenario: &Scenario,
    target: &Target,
) -> Result<Summary, Failure> {
    let agent: Agent = Agent::config_builder()
        .timeout_global(Some(target.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    // Each event is signed once, so that its duplicate is resent byte for byte.
    let now = clock::now();
    let signed = scenario
        .events
        .iter()
        .map(|event| {
            provider.sign(&event.request, now).map_err(|error| {
                Failure::refused(format!(
                    "cannot sign `{}`: {}: {error}",
                    event.label,
                    error.code()
                ))
            })
        })
        .collect::<Result<Vec<CapturedRequest>, Failure>>()?;
    let total = scenario.deliveries.len();
    for (position, &index) in scenario.deliveries.iter().enumerate() {
        let request = &signed[index];
        let path = request.url.split('?').next().unwrap_or_default();
        let step = format!(
            "webhook {}/{total} `{}` ({} {path})",
            position + 1,
            scenario.events[index].label,
            request.method,
        );
        let (status, body) =
            send(&agent, request).map_err(|error| Failure::refused(format!("{step}: {error}")))?;
        if !(200..300).contains(&status) {
            return Err(Failure::refused(format!(
                "{step} was refused: HTTP {status}: {body}"
            )));
        }
        eprintln!("{step}: HTTP {status} {}", describe_ack(&body));
    }

    let url = format!(
        "{}/v1/{}s/{}/{}",
        target.base_url,
        scenario.kind().as_str(),
        scenario.provider,
        scenario.subject_id
    );
    let status_request = CapturedRequest::new("GET", &url)
        .with_header("authorization", &format!("Bearer {}", target.status_token));
    let mut attempt = 1;
    let body = loop {
        let (status, body) = send(&agent, &status_request)
            .map_err(|error| Failure::refused(format!("status read GET {url}: {error}")))?;
        match status {
            200..=299 => break body,
            404 if attempt < STATUS_ATTEMPTS => {
                attempt += 1;
                sleep(STATUS_RETRY_PAUSE);
            }
            _ => {
                return Err(Failure::refused(format!(
                    "status read GET {url}: HTTP {status}: {body}"
                )))
            }
        }
    };
    serde_json::from_str(&body).map_err(|error| {
        Failure::refused(format!(
            "status read GET {url}: not a status summary ({error}): {body}"
        ))
    })
}

/// Sends `request` as captured and returns the response status and body.
fn send(agent: &Agent, request: &CapturedRequest) -> Result<(u16, String), String> {
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(&request.url);
    for (name, value) in &request.headers {
        if !CONNECTION_HEADERS.contains(&name.as_str()) {
            builder = builder.header(name, value);
        }
    }
    let response = if request.body.is_empty() {
        builder
            .body(())
            .map_err(|error| error.to_string())
            .and_then(|request| agent.run(request).map_err(describe_error))
    } else {
        builder
            .body(request.body.as_slice())
            .map_err(|error| error.to_string())
            .and_then(|request| agent.run(request).map_err(describe_error))
    };
    let mut response = response?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(describe_error)?;
    Ok((status, body))
}

fn describe_error(error: ureq::Error) -> String {
    match error {
        ureq::Error::Timeout(_) => format!("no answer in time ({error})"),
        ureq::Error::Io(io) => format!("connection failed: {io}"),
        other => other.to_string(),
    }
}

/// A one-line summary of a webhook acknowledgement: `{"accepted": [{"kind", "id", "event_id",
/// "duplicate"}]}`, or the raw body if it has another shape.
fn describe_ack(body: &str) -> String {
    let accepted = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value.get("accepted").and_then(Value::as_array).cloned());
    match accepted {
        Some(accepted) => accepted
            .iter()
            .map(|entry| {
                let field = |name| entry.get(name).and_then(Value::as_str).unwrap_or("?");
                let duplicate = entry
                    .get("duplicate")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                format!(
                    "{} {} event {}{}",
                    field("kind"),
                    field("id"),
                    field("event_id"),
                    if duplicate { " (duplicate)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_are_summarized_one_line() {
        let body = r#"{"accepted":[{"kind":"call","id":"c1","event_id":"e1","duplicate":true}]}"#;
        assert_eq!(describe_ack(body), "call c1 event e1 (duplicate)");
        assert_eq!(describe_ack("plain"), "plain");
    }
}
