//! A small blocking HTTP client for the tests: every status is a result, every body is read.

use std::time::Duration;

use serde_json::Value;
use switchboard_core::CapturedRequest;

pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON; `Value::Null` if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `error` code of an error body.
    pub fn error_code(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

/// Headers of a stored request that describe its original transport, not its content.
const TRANSPORT_HEADERS: [&str; 6] = [
    "content-length",
    "host",
    "accept-encoding",
    "connection",
    "transfer-encoding",
    "cf-connecting-ip",
];

pub struct Client {
    base_url: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base_url: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base_url: base_url.to_owned(),
            agent,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
        let mut request = self.agent.get(&self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        read(request.call())
    }

    /// Sends a request with any method and body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, String> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.to_vec())
            .map_err(|error| error.to_string())?;
        read(self.agent.run(request))
    }

    /// Sends a `POST` with `Transfer-Encoding: chunked` (no `Content-Length`).
    pub fn send_chunked(
        &self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<Response, String> {
        let mut reader = body;
        read(
            self.agent
                .post(&self.url(path))
                .header("content-type", content_type)
                .send(ureq::SendBody::from_reader(&mut reader)),
        )
    }

    /// Sends a captured request (as signed by the core) to its path and query on this worker.
    pub fn replay(&self, captured: &CapturedRequest) -> Result<Response, String> {
        let path_and_query = path_and_query(&captured.url);
        let headers: Vec<(&str, &str)> = captured
            .headers
            .iter()
            .filter(|(name, _)| !TRANSPORT_HEADERS.contains(&name.as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        self.send(&captured.method, &path_and_query, &headers, &captured.body)
    }

    /// `GET` with the status API token.
    pub fn api(&self, path: &str, token: &str) -> Result<Response, String> {
        let authorization = format!("Bearer {token}");
        self.get(path, &[("authorization", &authorization)])
    }
}

fn path_and_query(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(index) => after_scheme[index..].to_owned(),
        None => "/".to_owned(),
    }
}

fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Response, String> {
    let mut response = result.map_err(|error| error.to_string())?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|error| error.to_string())?;
    Ok(Response {
        status,
        headers,
        body,
    })
}
