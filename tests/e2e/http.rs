//! A small blocking HTTP client for the tests: every status is a result, every body is read,
//! and every answer is checked against the OpenAPI document (`openapi.rs`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

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
        header(&self.headers, name)
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
        // A connection per request: a pooled one that workerd closes (after an answer sent before
        // the body was read, or when idle) could be reused in the same instant and reset.
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .max_idle_connections(0)
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

    /// `host:port`, for requests written by hand ([`exchange`]).
    pub fn address(&self) -> &str {
        self.base_url
            .strip_prefix("http://")
            .expect("an http:// base url")
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
        let mut request = self.agent.get(&self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = read(request.call())?;
        crate::openapi::check("GET", path, &response);
        Ok(response)
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
        let response = read(self.agent.run(request))?;
        crate::openapi::check(method, path, &response);
        Ok(response)
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

/// An answer read by [`exchange`]: header names as sent, the body as bytes.
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// As a [`Response`]: names lower-cased, the body as text.
    pub fn into_response(self) -> Response {
        Response {
            status: self.status,
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect(),
            body: String::from_utf8_lossy(&self.body).into_owned(),
        }
    }
}

/// What [`exchange`] does with the connection once every byte of the request is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterSending {
    /// Half-closes it, so that a server waiting for more body bytes sees the end.
    HalfClose,
    /// Leaves it open: an answer then shows that the server did not wait for the end of the body.
    KeepOpen,
}

/// Sends `bytes` on a fresh connection to `address` (`host:port`) and reads one answer (skipping
/// interim 1xx), within `timeout`; `head_request` says that the answer has no body.
///
/// A second thread writes the request while this one reads the answer. A server may answer
/// before it has read the whole request (413 from `Content-Length` or once a chunked body passes
/// the limit, 405, …) and close the connection: the bytes it never read make its kernel reset the
/// connection, and a client that reads only after writing everything, as ureq does, then fails
/// with `Connection reset by peer` or reads the answer depending on which comes first. Here a
/// failed write never ends the exchange and reading starts at once, so the answer is the outcome
/// whatever the timing (bytes received before a reset stay readable).
pub fn exchange(
    address: &str,
    bytes: &[u8],
    after: AfterSending,
    head_request: bool,
    timeout: Duration,
) -> Result<RawResponse, String> {
    let stream = TcpStream::connect(address).map_err(|error| format!("connect: {error}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| error.to_string())?;
    let mut writer = stream.try_clone().map_err(|error| error.to_string())?;
    let deadline = Instant::now() + timeout;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let written = writer.write_all(bytes);
            if after == AfterSending::HalfClose || written.is_err() {
                let _ = writer.shutdown(Shutdown::Write);
            }
        });
        let mut reader = Reader {
            stream,
            buffer: Vec::new(),
            deadline,
        };
        let answer = read_answer(&mut reader, head_request);
        // Wakes the writer should it still be blocked on a server that stopped reading.
        let _ = reader.stream.shutdown(Shutdown::Both);
        answer
    })
}

fn read_answer(reader: &mut Reader, head_request: bool) -> Result<RawResponse, String> {
    loop {
        let head = reader.until(b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if (100..200).contains(&status) {
            continue;
        }
        if head_request || status == 204 || status == 304 {
            return Ok(response);
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
        let length = response
            .header("content-length")
            .and_then(|value| value.parse::<usize>().ok());
        response.body = if chunked {
            let mut body = Vec::new();
            loop {
                let line = reader.until(b"\r\n")?;
                let size = String::from_utf8_lossy(&line);
                let size = size.split(';').next().unwrap_or_default().trim();
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| format!("bad chunk size {size:?}"))?;
                if size == 0 {
                    break;
                }
                body.extend(reader.exactly(size)?);
                reader.exactly(2)?;
            }
            body
        } else if let Some(length) = length {
            reader.exactly(length)?
        } else {
            reader.read_to_end()?
        };
        return Ok(response);
    }
}

struct Reader {
    stream: TcpStream,
    buffer: Vec<u8>,
    deadline: Instant,
}

impl Reader {
    /// Reads more; `Ok(false)` at the end of the stream.
    fn fill(&mut self) -> Result<bool, String> {
        if Instant::now() > self.deadline {
            return Err("timed out".into());
        }
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(false),
            Ok(count) => {
                self.buffer.extend_from_slice(&chunk[..count]);
                Ok(true)
            }
            Err(error) => Err(format!("read: {error}")),
        }
    }

    /// Everything before `delimiter`, consumed with it.
    fn until(&mut self, delimiter: &[u8]) -> Result<Vec<u8>, String> {
        loop {
            if let Some(position) = self
                .buffer
                .windows(delimiter.len())
                .position(|window| window == delimiter)
            {
                let found = self.buffer[..position].to_vec();
                self.buffer.drain(..position + delimiter.len());
                return Ok(found);
            }
            if !self.fill()? {
                return Err(format!(
                    "connection closed (after {} bytes)",
                    self.buffer.len()
                ));
            }
        }
    }

    fn exactly(&mut self, count: usize) -> Result<Vec<u8>, String> {
        while self.buffer.len() < count {
            if !self.fill()? {
                return Err("connection closed inside the body".into());
            }
        }
        Ok(self.buffer.drain(..count).collect())
    }

    fn read_to_end(&mut self) -> Result<Vec<u8>, String> {
        while self.fill()? {}
        Ok(std::mem::take(&mut self.buffer))
    }
}

/// The first value of header `name` (lower-case) among `headers` (names lower-cased).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
