//! Requests that are not valid HTTP/1.1 (request line, header bytes, framing, chunked encoding,
//! sizes beyond workerd's limits), and a few valid ones that only look strange.

use super::generate::{cut, pick, random_bytes, random_path, random_token};
use super::{Case, Expect, MAX_BODY_BYTES};
use crate::concurrency::Rng;

/// Requests that are not valid HTTP/1.1, and a few valid ones that only look strange.
pub(super) fn malformed_http(rng: &mut Rng, host: &str) -> Case {
    let path = random_path(rng);
    let plain = |method: &str, extra: &str, body: &[u8]| {
        let mut bytes =
            format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n{extra}\r\n")
                .into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };
    let invalid = |reason| Expect::MaybeRefused(reason);
    let (label, method, bytes, expect, half_close): (&str, &str, Vec<u8>, Expect, bool) = match rng
        .below(24)
    {
        0 => {
            let length = 1 + rng.below(2_000);
            (
                "random bytes",
                "",
                random_bytes(rng, length),
                invalid("not HTTP"),
                true,
            )
        }
        1 => (
            "garbage request line",
            "",
            format!("{}\r\n\r\n", random_token(rng, 30)).into_bytes(),
            invalid("bad request line"),
            true,
        ),
        2 => (
            "HTTP/0.9 request line",
            "GET",
            format!("GET {path}\r\n\r\n").into_bytes(),
            invalid("bad request line"),
            true,
        ),
        3 => {
            let version = pick(
                rng,
                &[
                    "HTTP/2.0",
                    "HTTP/1.2",
                    "HTTP/9.9",
                    "http/1.1",
                    "HTTP/1.1x",
                    "HTTP/",
                ],
            );
            (
                "odd HTTP version",
                "GET",
                format!("GET {path} {version}\r\nhost: {host}\r\n\r\n").into_bytes(),
                invalid("bad HTTP version"),
                true,
            )
        }
        4 => (
            "space in a header name",
            "POST",
            plain("POST", "bad name: 1\r\ncontent-length: 0\r\n", b""),
            invalid("invalid header name"),
            true,
        ),
        5 => {
            let byte = pick(rng, &[0u8, 0x7f, b'\r', 0x01, 0x1b]);
            let mut extra = b"x-fuzz: a".to_vec();
            extra.push(byte);
            extra.extend_from_slice(b"b\r\ncontent-length: 0\r\n");
            (
                "control byte in a header value",
                "GET",
                plain("GET", &String::from_utf8_lossy(&extra), b""),
                invalid("invalid header value"),
                true,
            )
        }
        6 => (
            "non-ASCII header name",
            "GET",
            plain("GET", "x-f\u{e9}zz: 1\r\n", b""),
            invalid("invalid header name"),
            true,
        ),
        7 => (
            "header line without a colon",
            "GET",
            plain("GET", "no-colon-here\r\n", b""),
            invalid("header without colon"),
            true,
        ),
        8 => (
            "obs-fold continuation line",
            "GET",
            plain("GET", "x-fuzz: a\r\n  continued\r\n", b""),
            invalid("obsolete line folding"),
            true,
        ),
        9 => {
            let declared = 10 + rng.below(5_000);
            let length = rng.below(declared);
            let body = random_bytes(rng, length);
            (
                "Content-Length larger than the body, then EOF",
                "POST",
                plain(
                    "POST",
                    &format!("content-type: application/json\r\ncontent-length: {declared}\r\n"),
                    &body,
                ),
                invalid("body shorter than its Content-Length"),
                true,
            )
        }
        10 => {
            // The first request is valid; the surplus would be the next (ignored) request.
            let length = 20 + rng.below(200);
            let body = random_bytes(rng, length);
            let declared = rng.below(body.len());
            (
                "Content-Length smaller than the body",
                "POST",
                plain(
                    "POST",
                    &format!("content-type: application/json\r\ncontent-length: {declared}\r\n"),
                    &body,
                ),
                Expect::Worker,
                true,
            )
        }
        11 => {
            let value = pick(
                rng,
                &[
                    "-1",
                    "abc",
                    "1.5",
                    "0x10",
                    " ",
                    "99999999999999999999999",
                    "1, 2",
                ],
            );
            (
                "invalid Content-Length",
                "POST",
                plain("POST", &format!("content-length: {value}\r\n"), b"xx"),
                invalid("invalid Content-Length"),
                true,
            )
        }
        12 => (
            "two different Content-Length headers",
            "POST",
            plain("POST", "content-length: 2\r\ncontent-length: 3\r\n", b"abc"),
            invalid("conflicting Content-Length"),
            true,
        ),
        13 => (
            "Content-Length and chunked",
            "POST",
            plain(
                "POST",
                "content-length: 3\r\ntransfer-encoding: chunked\r\n",
                b"3\r\nabc\r\n0\r\n\r\n",
            ),
            invalid("Content-Length with Transfer-Encoding"),
            true,
        ),
        14 => {
            let body = pick(
                rng,
                &[
                    b"zz\r\nabc\r\n0\r\n\r\n".as_slice(),
                    b"5\r\nab".as_slice(),
                    b"3\r\nabcdef\r\n0\r\n\r\n".as_slice(),
                    b"3\r\nabc".as_slice(),
                    b"-1\r\n\r\n".as_slice(),
                    b"ffffffffffffffffff\r\nabc\r\n".as_slice(),
                    b"3;ext=\x01\r\nabc\r\n0\r\n\r\n".as_slice(),
                    b"".as_slice(),
                ],
            );
            (
                "broken chunked body",
                "POST",
                plain(
                    "POST",
                    "content-type: application/json\r\ntransfer-encoding: chunked\r\n",
                    body,
                ),
                invalid("broken chunked encoding"),
                true,
            )
        }
        15 => (
            "unknown transfer coding",
            "POST",
            plain("POST", "transfer-encoding: gzip\r\n", b"abc"),
            invalid("unknown Transfer-Encoding"),
            true,
        ),
        16 => (
            "bare LF line endings",
            "GET",
            format!("GET {path} HTTP/1.1\nhost: {host}\nconnection: close\n\n").into_bytes(),
            invalid("bare LF"),
            true,
        ),
        17 => (
            "two Host headers",
            "GET",
            plain("GET", "host: other.example\r\n", b""),
            invalid("duplicate Host"),
            true,
        ),
        18 => (
            "no Host header",
            "GET",
            format!("GET {path} HTTP/1.1\r\nconnection: close\r\n\r\n").into_bytes(),
            invalid("HTTP/1.1 without Host"),
            true,
        ),
        19 => {
            let length = 70_000 + rng.below(100_000);
            (
                "request line beyond limits",
                "GET",
                format!(
                    "GET {path}?{} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n",
                    "q".repeat(length)
                )
                .into_bytes(),
                invalid("request line beyond workerd's limits"),
                true,
            )
        }
        20 => (
            "header beyond limits",
            "GET",
            plain(
                "GET",
                &format!("x-fuzz: {}\r\n", "h".repeat(70_000 + rng.below(100_000))),
                b"",
            ),
            invalid("header beyond workerd's limits"),
            true,
        ),
        21 => (
            // Refused with 413 from the declared length, before any body byte is read.
            "declared body over the limit, never sent",
            "POST",
            plain(
                "POST",
                &format!(
                    "content-type: application/json\r\ncontent-length: {}\r\n",
                    MAX_BODY_BYTES + 1 + rng.below(1 << 30)
                ),
                b"{",
            ),
            invalid("body shorter than its Content-Length"),
            // Half-closed, so that a server that waits for the body sees its end.
            true,
        ),
        22 => (
            "absolute-form target",
            "GET",
            format!(
                "GET http://{host}{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
            )
            .into_bytes(),
            invalid("absolute-form target, which workerd's HTTP server cannot route"),
            true,
        ),
        _ => (
            "HTTP/1.0 without Host",
            "GET",
            format!("GET {path} HTTP/1.0\r\n\r\n").into_bytes(),
            invalid("no Host header"),
            true,
        ),
    };
    Case {
        label: format!("malformed: {label} ({})", cut(&path, 60)),
        target: 0,
        method: method.into(),
        bytes,
        expect,
        half_close,
    }
}
