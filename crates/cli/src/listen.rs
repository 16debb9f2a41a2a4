//! `switchboard listen`: a local endpoint that receives Switchboard's deliveries during
//! development (docs/delivery.md, "Local development"). Each POST's Standard Webhooks signature
//! is checked with the core's `delivery::verify` against the host clock; the delivery is printed
//! on stdout and answered 204 (or `--status`) if it verifies, refused with 401 if not. Any other
//! method gets 405. One request at a time, until interrupted.

use std::io::{Cursor, Write};

use serde::Deserialize;
use switchboard_cli::clock;
use switchboard_core::delivery::{self, SigningSecret};
use switchboard_core::ErrorCode;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::failure::Failure;

/// What `listen` accepts and answers.
pub struct Listener {
    pub host: String,
    pub port: u16,
    /// At least one: a delivery verifies if any of them signed it.
    pub secrets: Vec<SigningSecret>,
    pub tolerance_seconds: u32,
    /// The status answered to a delivery that verifies.
    pub status: u16,
}

/// Reads the `--secret` values, each of which may hold several separated by commas. A failure
/// names the secret by its position only, so that no secret is ever printed.
pub fn parse_secrets(values: &[String]) -> Result<Vec<SigningSecret>, Failure> {
    let secrets = values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .enumerate()
        .map(|(index, text)| {
            SigningSecret::parse(text)
                .map_err(|reason| Failure::usage(format!("--secret #{}: {reason}", index + 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if secrets.is_empty() {
        return Err(Failure::usage("--secret: give at least one whsec_ secret"));
    }
    Ok(secrets)
}

/// Binds, says where on stderr (`listening on http://ADDRESS/`), then serves until interrupted.
/// Fails if the address cannot be bound or stdout cannot be written.
pub fn run(listener: &Listener) -> Result<(), Failure> {
    let server = Server::http((listener.host.as_str(), listener.port)).map_err(|error| {
        Failure::usage(format!(
            "cannot listen on {}:{}: {error}",
            listener.host, listener.port
        ))
    })?;
    eprintln!(
        "listening on http://{}/ (secrets: {}, tolerance: {} s)",
        server.server_addr(),
        listener.secrets.len(),
        listener.tolerance_seconds
    );
    for request in server.incoming_requests() {
        serve(listener, request)?;
    }
    Ok(())
}

/// Answers one request. Its line (if any) is printed and flushed before the answer is sent, so
/// a sender that has the answer finds the line already written.
fn serve(listener: &Listener, mut request: Request) -> Result<(), Failure> {
    let (line, response) = examine(listener, &mut request);
    if let Some(line) = line {
        print(&line)?;
    }
    // A sender that has gone away does not stop the listener.
    if let Err(error) = request.respond(response) {
        eprintln!("cannot answer: {error}");
    }
    Ok(())
}

type Answer = Response<Cursor<Vec<u8>>>;

/// The line to print about a request, and its answer.
fn examine(listener: &Listener, request: &mut Request) -> (Option<String>, Answer) {
    // Read whatever the method: tiny_http skips an unread body of known length, but an unread
    // chunked one would be taken for the next request on the connection.
    let mut body = Vec::new();
    let read = request.as_reader().read_to_end(&mut body);
    if *request.method() != Method::Post {
        let response = error_response(
            405,
            ErrorCode::MethodNotAllowed.as_str(),
            "deliveries are POST requests",
        )
        .with_header(header("allow", "POST"));
        return (None, response);
    }
    let webhook_id = header_value(request, "webhook-id");
    let shown_id = webhook_id.unwrap_or("-");
    if let Err(error) = read {
        let reason = format!("cannot read the body: {error}");
        let line = format!("refused {shown_id} : {reason}");
        let response = error_response(400, ErrorCode::InvalidBody.as_str(), &reason);
        return (Some(line), response);
    }
    let verified = delivery::verify(
        &listener.secrets,
        webhook_id,
        header_value(request, "webhook-timestamp"),
        header_value(request, "webhook-signature"),
        &body,
        clock::now(),
        listener.tolerance_seconds,
    );
    match verified {
        Ok(()) => {
            let event_type = event_type(&body);
            let status = listener.status;
            let headline = if (200..300).contains(&status) {
                format!("delivered {shown_id} {event_type}")
            } else {
                format!("verified {shown_id} {event_type}, answered {status}")
            };
            let line = format!("{headline}\n{}", render_body(&body));
            (
                Some(line),
                Response::from_data(Vec::new()).with_status_code(status),
            )
        }
        Err(error) => {
            let reason = error.to_string();
            let line = format!("refused {shown_id} : {reason}");
            (
                Some(line),
                error_response(401, "invalid_signature", &reason),
            )
        }
    }
}

/// The first value of the header `name` (any case).
fn header_value<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request
        .headers()
        .iter()
        .find(|header| header.field.equiv(name))
        .map(|header| header.value.as_str())
}

/// The one field of a delivery's body that its headline shows.
#[derive(Deserialize)]
struct Envelope {
    r#type: String,
}

/// The body's `type` (`call.completed`), or `-` if it has none.
fn event_type(body: &[u8]) -> String {
    serde_json::from_slice::<Envelope>(body).map_or_else(|_| "-".to_owned(), |body| body.r#type)
}

/// The body as pretty JSON in the sender's key order, or as text if it is not JSON.
fn render_body(body: &[u8]) -> String {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let mut pretty = Vec::new();
    let transcoded = serde_transcode::transcode(
        &mut deserializer,
        &mut serde_json::Serializer::pretty(&mut pretty),
    );
    match transcoded.and_then(|()| deserializer.end()) {
        Ok(()) => String::from_utf8_lossy(&pretty).into_owned(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    }
}

fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")
        .and_then(|()| stdout.flush())
        .map_err(|error| Failure::usage(format!("cannot write the output: {error}")))
}

/// `{"error": code, "message": message}`, as the worker's own errors are shaped.
fn error_response(status: u16, code: &str, message: &str) -> Answer {
    let body = serde_json::json!({ "error": code, "message": message });
    Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(header("content-type", "application/json"))
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name, value).expect("header names and values are ASCII")
}
