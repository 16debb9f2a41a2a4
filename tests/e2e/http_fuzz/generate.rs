//! Generation of the fuzzer's cases: the random building blocks (methods, paths, queries,
//! bodies, headers, framing), the HTTP/1.1 message they make, and two kinds of case built from
//! them alone: random requests to every route and near miss, and status API requests.

use std::fmt::Write as _;

use switchboard_core::ProviderId;

use super::{Case, Expect, MAX_BODY_BYTES};
use crate::concurrency::Rng;
use crate::{ALLOWED_ORIGIN, TOKEN};

const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "MKCOL",
];
/// Methods workerd's HTTP server does not implement (it answers them itself).
const FOREIGN_METHODS: [&str; 6] = ["FOO", "BREW", "QUERY", "X-ANYTHING", "get", "Post"];

pub(super) const CONTENT_TYPES: [&str; 16] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded; charset=ISO-8859-1",
    "text/plain",
    "text/html",
    "multipart/form-data; boundary=----fuzz",
    "application/xml",
    "application/octet-stream",
    "application/json, application/x-www-form-urlencoded",
    "",
    "json",
    "application/",
    ";;;",
    "application/json; boundary=\"\\\"",
];

/// Byte strings that are not UTF-8.
pub(super) const INVALID_UTF8: [&[u8]; 8] = [
    b"\xff",
    b"\xfe\xff",
    b"\xc3",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
    b"\x80\x80\x80",
];

const HEADER_NAMES: [&str; 19] = [
    "authorization",
    "content-type",
    "x-twilio-signature",
    "x-plivo-signature-v3",
    "x-plivo-signature-v3-nonce",
    "x-plivo-signature-ma-v3",
    "telnyx-signature-ed25519",
    "telnyx-timestamp",
    "messagebird-signature",
    "messagebird-request-timestamp",
    "messagebird-signature-jwt",
    "x-von-signature",
    "cf-ray",
    "cf-connecting-ip",
    "x-forwarded-proto",
    "accept",
    "user-agent",
    "x-fuzz",
    "origin",
];

pub(super) fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[rng.below(items.len())]
}

pub(super) fn pick_owned(rng: &mut Rng, items: &[String]) -> String {
    items[rng.below(items.len())].clone()
}

pub(super) fn chance(rng: &mut Rng, percent: usize) -> bool {
    rng.below(100) < percent
}

pub(super) fn random_bytes(rng: &mut Rng, length: usize) -> Vec<u8> {
    (0..length).map(|_| rng.next_u64() as u8).collect()
}

/// Printable ASCII, without space.
pub(super) fn random_token(rng: &mut Rng, length: usize) -> String {
    (0..length)
        .map(|_| char::from(b'!' + (rng.below(94) as u8)))
        .collect()
}

/// Each byte as `%XX`.
fn percent_all(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("%{byte:02X}")).collect()
}

/// A path segment: ordinary, empty, long, percent-encoded bytes (invalid UTF-8, NUL, `/`), …
fn random_segment(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => String::new(),
        1 => ".".into(),
        2 => "..".into(),
        3 => "x".repeat(1 + rng.below(3_000)),
        4 => {
            let length = 1 + rng.below(40);
            percent_all(&random_bytes(rng, length))
        }
        5 => percent_all(pick(rng, &INVALID_UTF8)),
        6 => "%00".into(),
        7 => "%2F%2e%2E%5c".into(),
        8 => "%".into(),
        9 => "%zz%4".into(),
        10 => "caf%C3%A9-%F0%9F%93%9E".into(),
        _ => {
            let length = 1 + rng.below(24);
            random_token(rng, length).replace(['?', '#', '/', '%'], "_")
        }
    }
}

fn random_id(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => random_segment(rng),
        1 => "y".repeat(190 + rng.below(900)),
        2 => format!("CA{}", "0".repeat(32)),
        _ => crate::support::unique_id("fuzz"),
    }
}

fn random_provider(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => random_segment(rng),
        1 => "Twilio".into(),
        2 => "twilio%20".into(),
        _ => pick(rng, &ProviderId::ALL).as_str().into(),
    }
}

/// Every route, and near misses of every route.
pub(super) fn random_path(rng: &mut Rng) -> String {
    match rng.below(16) {
        0 => "/healthz".into(),
        1 => pick(
            rng,
            &["/", "/healthz/", "/HEALTHZ", "//healthz", "/healthz%00"],
        )
        .into(),
        2..=5 => format!("/webhooks/{}", random_provider(rng)),
        6 => pick(
            rng,
            &[
                "/webhooks",
                "/webhooks/",
                "/webhooks//twilio",
                "/webhooks/twilio/",
            ],
        )
        .into(),
        7 => format!(
            "/webhooks/{}/{}",
            pick(rng, &ProviderId::ALL),
            random_segment(rng)
        ),
        8 => pick(
            rng,
            &[
                "/v1",
                "/v1/",
                "/v1/calls",
                "/v1/messages",
                "/v1/calls/",
                "/v1/tokens",
                "/v1/tokens/",
                "/openapi.json",
                "/client/switchboard.js",
                "/client/",
                "/",
                "/dashboard",
                "/dashboard/",
                "/dashboard/app.js",
            ],
        )
        .into(),
        9 | 10 => format!(
            "/v1/{}/{}/{}",
            pick(rng, &["calls", "messages"]),
            random_provider(rng),
            random_id(rng)
        ),
        11 => format!(
            "/v1/calls/{}/{}/{}",
            random_provider(rng),
            random_id(rng),
            pick(rng, &["events", "live"])
        ),
        12 => format!(
            "/v1/messages/{}/{}/events/{}/request",
            random_provider(rng),
            random_id(rng),
            random_segment(rng)
        ),
        13 => format!("/v1/{}/{}", random_segment(rng), random_segment(rng)),
        14 => pick(
            rng,
            &[
                "/../webhooks/twilio",
                "/webhooks/./twilio",
                "/%2e%2e/healthz",
            ],
        )
        .into(),
        _ => {
            let mut path = String::new();
            for _ in 0..1 + rng.below(6) {
                path.push('/');
                path.push_str(&random_segment(rng));
            }
            path
        }
    }
}

/// A query string (without `?`), often empty.
pub(super) fn random_query(rng: &mut Rng) -> String {
    match rng.below(14) {
        0..=5 => String::new(),
        6 => format!(
            "limit={}&cursor={}&status={}&provider={}",
            pick(
                rng,
                &[
                    "0",
                    "1",
                    "100",
                    "101",
                    "-1",
                    "1e3",
                    "",
                    "%FF",
                    "99999999999999999999"
                ]
            ),
            pick(rng, &["", "abc", "%FF%FE", "eyJ4Ijoi", "AAAA", "!!!!"]),
            pick(
                rng,
                &["", "completed", "delivered", "COMPLETED", "nope", "%00"]
            ),
            pick(rng, &["", "twilio", "nope", "%C3"]),
        ),
        7 => {
            let length = rng.below(200);
            percent_all(&random_bytes(rng, length))
        }
        8 => {
            // Huge: up to 48 KiB of parameters.
            let mut query = String::new();
            for index in 0..rng.below(2_000) {
                let _ = write!(query, "p{index}={}&", "v".repeat(rng.below(20)));
            }
            query
        }
        9 => "sig=00&timestamp=1&messageId=1&status=delivered".into(),
        10 => "a=1&a=2&&=&==&%=%&a%00=b%00".into(),
        11 => "q=".to_owned() + &"z".repeat(1 + rng.below(30_000)),
        12 => format!("event_id={}", random_segment(rng)),
        _ => {
            let length = 1 + rng.below(60);
            random_token(rng, length).replace(['#', ' '], "_")
        }
    }
}

/// A body: random bytes, text, JSON and form shapes, broken ones, large ones.
fn random_body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(18) {
        0..=2 => Vec::new(),
        3 => {
            let length = rng.below(4_096);
            random_bytes(rng, length)
        }
        4 => {
            let length = rng.below(512);
            random_token(rng, length).into_bytes()
        }
        5 => b"{}".to_vec(),
        6 => b"[]".to_vec(),
        7 => b"null".to_vec(),
        8 => "[".repeat(1 + rng.below(20_000)).into_bytes(),
        9 => br#"{"uuid": 1e400, "status": ["x"], "timestamp": {}}"#.to_vec(),
        10 => {
            let mut body = br#"{"uuid":"a","status":"answered","x":""#.to_vec();
            body.extend_from_slice(pick(rng, &INVALID_UTF8));
            body.extend_from_slice(br#""}"#);
            body
        }
        11 => b"CallSid=%ZZ&CallStatus=%&=&&%FF=%FE".to_vec(),
        12 => {
            let mut body = String::new();
            for index in 0..rng.below(5_000) {
                let _ = write!(body, "k{index}=v&");
            }
            body.into_bytes()
        }
        13 => br#"{"data":{"event_type":"call.hangup","payload":null}}"#.to_vec(),
        14 => br#"{"event":{"id":"\ud800","state":"RINGING","type":"CALL"}}"#.to_vec(),
        15 => {
            // One byte over the limit, once in a while.
            if chance(rng, 20) {
                vec![b'a'; MAX_BODY_BYTES + 1]
            } else {
                vec![b'{'; 1 + rng.below(20_000)]
            }
        }
        16 => b"\0\0\0\0".to_vec(),
        _ => br#"{"uuid":"u","conversation_uuid":"c","status":"started","timestamp":"2026-01-01T00:00:00.000Z"}"#
            .to_vec(),
    }
}

/// How a well-formed body is framed.
#[derive(Clone, Copy)]
pub(super) enum Framing {
    Length,
    /// Valid chunked encoding with chunks of at most this many bytes.
    Chunked(usize),
    /// No body and no framing header.
    Bare,
}

/// A well-formed HTTP/1.1 request. `headers` must not contain framing headers.
pub(super) fn message(
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, Vec<u8>)],
    body: &[u8],
    framing: Framing,
) -> Vec<u8> {
    let mut bytes = format!("{method} {target} HTTP/1.1\r\nhost: {host}\r\n").into_bytes();
    for (name, value) in headers {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"connection: close\r\n");
    match framing {
        Framing::Bare if body.is_empty() => bytes.extend_from_slice(b"\r\n"),
        Framing::Length | Framing::Bare => {
            bytes.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
            bytes.extend_from_slice(body);
        }
        Framing::Chunked(size) => {
            bytes.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
            for chunk in body.chunks(size.max(1)) {
                bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                bytes.extend_from_slice(chunk);
                bytes.extend_from_slice(b"\r\n");
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
        }
    }
    bytes
}

pub(super) fn random_framing(rng: &mut Rng) -> Framing {
    match rng.below(10) {
        0..=5 => Framing::Length,
        6 | 7 => Framing::Chunked(1 + rng.below(2_000)),
        8 => Framing::Chunked(1),
        _ => Framing::Bare,
    }
}

/// Random headers: content types, bogus signatures and tokens, duplicates, large values.
fn random_headers(rng: &mut Rng) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    if chance(rng, 75) {
        headers.push(("content-type".into(), pick(rng, &CONTENT_TYPES).into()));
    }
    for _ in 0..rng.below(5) {
        let name = pick(rng, &HEADER_NAMES);
        let value: Vec<u8> = match rng.below(9) {
            0 => format!("Bearer {TOKEN}").into_bytes(),
            1 => b"Bearer ".to_vec(),
            2 => format!("Bearer {}", random_token(rng, 40)).into_bytes(),
            3 => b"Basic Zm9vOmJhcg==".to_vec(),
            4 => "A".repeat(1 + rng.below(8_000)).into_bytes(),
            5 => pick(rng, &[b"1700000000".as_slice(), ALLOWED_ORIGIN.as_bytes()]).to_vec(),
            6 => pick(rng, &CONTENT_TYPES).into(),
            // obs-text: bytes 0x80-0xff are allowed in a field value.
            7 => vec![b'v', 0xe9, 0xff, b'x'],
            _ => {
                let length = rng.below(100);
                random_token(rng, length).into_bytes()
            }
        };
        headers.push((name.into(), value.clone()));
        if chance(rng, 30) {
            // The same header again, with another value.
            headers.push((name.to_ascii_uppercase(), b"second".to_vec()));
        }
    }
    if chance(rng, 5) {
        for index in 0..rng.below(120) {
            headers.push((format!("x-many-{index}"), b"1".to_vec()));
        }
    }
    if chance(rng, 3) {
        headers.push(("expect".into(), b"100-continue".to_vec()));
    }
    headers
}

/// Headers beyond what workerd accepts in total: the request may be refused before the worker.
const HEADER_BUDGET: usize = 60 * 1024;

pub(super) fn expect_for(target: &str, headers: &[(String, Vec<u8>)]) -> Expect {
    // Control bytes other than tab are not allowed in a field value (mutated signatures).
    let control = |byte: &u8| (*byte < 0x20 && *byte != b'\t') || *byte == 0x7f;
    if headers.iter().any(|(_, value)| value.iter().any(control)) {
        return Expect::MaybeRefused("control bytes in a header value");
    }
    let size: usize = target.len()
        + headers
            .iter()
            .map(|(name, value)| name.len() + value.len() + 4)
            .sum::<usize>();
    if size > HEADER_BUDGET {
        Expect::MaybeRefused("request line and headers beyond workerd's limits")
    } else {
        Expect::Worker
    }
}

pub(super) fn random_request(rng: &mut Rng, host: &str) -> Case {
    let method = if chance(rng, 3) {
        pick(rng, &FOREIGN_METHODS)
    } else {
        pick(rng, &METHODS)
    };
    let path = random_path(rng);
    let query = random_query(rng);
    let target = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let headers = random_headers(rng);
    let body = random_body(rng);
    let framing = random_framing(rng);
    let mut expect = expect_for(&target, &headers);
    if FOREIGN_METHODS.contains(&method) {
        expect = Expect::MaybeRefused("a method workerd does not implement");
    }
    let label = format!(
        "random {method} {}, {} headers, {} body bytes",
        cut(&target, 80),
        headers.len(),
        body.len()
    );
    Case {
        label,
        target: 0,
        method: method.into(),
        bytes: message(method, &target, host, &headers, &body, framing),
        expect,
        half_close: false,
    }
}

/// The status API with the right token: odd ids (long, percent-encoded, invalid UTF-8), odd
/// providers, odd list parameters. Only 200, 400, 404 and 425 make sense here.
pub(super) fn status_api(rng: &mut Rng, host: &str) -> Case {
    let path = match rng.below(5) {
        0 => pick(rng, &["/v1/calls", "/v1/messages"]).to_owned(),
        1 => format!("/v1/calls/{}/{}", random_provider(rng), random_id(rng)),
        2 => format!(
            "/v1/messages/{}/{}/events",
            random_provider(rng),
            random_id(rng)
        ),
        3 => format!(
            "/v1/calls/{}/{}/events/{}/request",
            random_provider(rng),
            random_id(rng),
            random_segment(rng)
        ),
        _ => format!("/v1/calls/telnyx/v3:{}", random_id(rng)),
    };
    let query = if chance(rng, 40) {
        random_query(rng)
    } else {
        String::new()
    };
    let target = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let headers = vec![(
        "authorization".to_owned(),
        format!("Bearer {TOKEN}").into_bytes(),
    )];
    let method = pick(rng, &["GET", "GET", "GET", "HEAD", "POST"]);
    Case {
        label: format!("status API {method} {}", cut(&target, 120)),
        target: 0,
        method: method.into(),
        bytes: message(method, &target, host, &headers, b"", Framing::Bare),
        expect: expect_for(&target, &headers),
        half_close: false,
    }
}

pub(super) fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
