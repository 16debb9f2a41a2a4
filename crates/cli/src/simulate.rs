//! Plays a [`Scenario`] against a running worker over HTTP and reads back the final state.

use std::thread::sleep;
use std::time::Duration;

use serde_json::Value;
use switchboard_core::request::rebase_url;
use switchboard_core::{CapturedRequest, Signer, Summary, Timestamp, WebhookError};
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
    /// `PUBLIC_BASE_URL`: what the provider would call, and so what it signs.
    pub public_base_url: Option<String>,
    pub status_token: String,
    pub timeout: Duration,
}

/// Signs the scenario's webhooks, delivers them in its delivery order, and returns the final
/// state from the status API. Progress goes to stderr.
pub fn run(
    provider: &dyn Signer,
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
            let public_base_url = target.public_base_url.as_deref();
            sign_as_received(provider, &event.request, now, public_base_url).map_err(|error| {
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

/// Signs `request` (as the worker receives it) the way the provider signs it: for the URL it
/// calls, which is `public_base_url` + path and query when set (the worker rebases the URL the
/// same way before verifying). The result keeps the request's own scheme and host.
pub fn sign_as_received(
    provider: &dyn Signer,
    request: &CapturedRequest,
    now: Timestamp,
    public_base_url: Option<&str>,
) -> Result<CapturedRequest, WebhookError> {
    let Some(public_base_url) = public_base_url else {
        return provider.sign(request, now);
    };
    let mut public = request.clone();
    public.url = rebase_url(&request.url, public_base_url);
    let mut signed = provider.sign(&public, now)?;
    signed.url = rebase_url(&signed.url, origin(&request.url));
    Ok(signed)
}

/// The scheme and authority of `url` (`http://127.0.0.1:8787`).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |index| after_scheme + index);
    &url[..end]
}

/// Sends `request` as captured and returns the response status and body.
pub fn send(agent: &Agent, request: &CapturedRequest) -> Result<(u16, String), String> {
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
    fn origins_are_scheme_and_authority() {
        assert_eq!(
            origin("http://127.0.0.1:8787/webhooks/x?a=1"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(origin("https://h.example?q"), "https://h.example");
        assert_eq!(origin("https://h.example"), "https://h.example");
    }

    #[test]
    fn signing_behind_a_public_url_signs_that_url_and_keeps_the_local_one() {
        use switchboard_core::providers::bird::{Bird, BirdConfig};
        use switchboard_core::secret::Secret;
        use switchboard_core::Provider;

        let bird = Bird::new(BirdConfig {
            secrets: vec![Secret::new("s")],
            tolerance_seconds: 300,
        });
        let now = Timestamp::from_unix_seconds(1_767_225_600);
        let local = CapturedRequest::new("POST", "http://127.0.0.1:8787/webhooks/bird?a=1")
            .with_header("content-type", "application/json")
            .with_body(r#"{"id":"c","status":"ringing"}"#);
        let public = "https://hooks.example.com";
        let signed = sign_as_received(&bird, &local, now, Some(public)).unwrap();
        assert_eq!(signed.url, local.url);
        assert!(
            bird.verify(&signed, now).is_err(),
            "signed for the public URL"
        );
        let mut rebased = signed.clone();
        rebased.url = rebase_url(&signed.url, public);
        assert_eq!(rebased.url, "https://hooks.example.com/webhooks/bird?a=1");
        assert!(bird.verify(&rebased, now).is_ok());
        let plain = sign_as_received(&bird, &local, now, None).unwrap();
        assert!(bird.verify(&plain, now).is_ok());
    }

    #[test]
    fn acks_are_summarized_one_line() {
        let body = r#"{"accepted":[{"kind":"call","id":"c1","event_id":"e1","duplicate":true}]}"#;
        assert_eq!(describe_ack(body), "call c1 event e1 (duplicate)");
        assert_eq!(describe_ack("plain"), "plain");
    }
}
