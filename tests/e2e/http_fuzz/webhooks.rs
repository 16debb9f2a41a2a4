//! Webhook cases: a valid webhook of a random provider, validly signed and then damaged
//! (mostly 401s), or damaged and then validly signed, so that it reaches the parser.

use serde_json::{json, Value};
use switchboard_core::{CapturedRequest, ProviderId};

use super::generate::{
    chance, expect_for, message, pick, pick_owned, random_bytes, random_framing, random_query,
    random_token, Framing, CONTENT_TYPES, INVALID_UTF8,
};
use super::Case;
use crate::concurrency::{lifecycle, provider, Rng};
use crate::support::now;

/// The path and query of a captured request's URL.
fn path_and_query(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or_else(|| "/".to_owned(), |index| after_scheme[index..].to_owned())
}

/// Headers of a captured request as raw pairs, without those `message` writes itself.
fn captured_headers(request: &CapturedRequest) -> Vec<(String, Vec<u8>)> {
    request
        .headers
        .iter()
        .filter(|(name, _)| {
            !["content-length", "host", "connection", "transfer-encoding"].contains(&name.as_str())
        })
        .map(|(name, value)| (name.clone(), value.clone().into_bytes()))
        .collect()
}

/// A valid webhook of a random provider: one event of a fresh lifecycle, unsigned.
fn random_webhook(rng: &mut Rng, base_url: &str) -> (ProviderId, CapturedRequest) {
    let id = pick(rng, &ProviderId::ALL);
    let life = lifecycle(id, base_url);
    let event = life.events[rng.below(life.events.len())].clone();
    (id, event)
}

/// Damages `bytes` in one random way; returns what it did.
fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) -> &'static str {
    let position = if bytes.is_empty() {
        0
    } else {
        rng.below(bytes.len() + 1)
    };
    match rng.below(10) {
        0 if !bytes.is_empty() => {
            let index = position.min(bytes.len() - 1);
            bytes[index] ^= 1 + (rng.next_u64() % 255) as u8;
            "flipped a byte"
        }
        1 => {
            bytes.truncate(position);
            "truncated"
        }
        2 => {
            let length = 1 + rng.below(64);
            bytes.extend(random_bytes(rng, length));
            "appended random bytes"
        }
        3 | 4 => {
            let sequence = pick(rng, &INVALID_UTF8);
            bytes.splice(position..position, sequence.iter().copied());
            "inserted invalid UTF-8"
        }
        5 => {
            let end = (position + 1 + rng.below(32)).min(bytes.len());
            bytes.drain(position.min(end)..end);
            "deleted a range"
        }
        6 => {
            let copy = bytes.clone();
            bytes.extend(copy);
            "doubled"
        }
        7 => {
            bytes.insert(position, 0);
            "inserted NUL"
        }
        8 => {
            let text = pick(rng, &["é", "\u{2028}", "📞", "\u{feff}", "\\u0000", "\""]);
            bytes.splice(position..position, text.bytes());
            "inserted unicode or an escape"
        }
        _ => {
            let length = rng.below(300);
            *bytes = random_bytes(rng, length);
            "replaced with random bytes"
        }
    }
}

/// A validly signed webhook, then damaged: body, signature headers, content type, URL, method,
/// framing. Mostly 401s; whatever survives verification must parse or be a 400.
pub(super) fn signed_then_mutated(rng: &mut Rng, host: &str, base_url: &str) -> Case {
    let (id, unsigned) = random_webhook(rng, base_url);
    let mut request = provider(id).sign(&unsigned, now()).expect("sign");
    let signature_headers: Vec<String> = request
        .headers
        .keys()
        .filter(|name| unsigned.header(name).is_none())
        .cloned()
        .collect();
    let mut did: Vec<&str> = Vec::new();
    let mut framing = Framing::Length;
    for _ in 0..1 + rng.below(3) {
        match rng.below(12) {
            0..=3 => did.push(mutate_bytes(rng, &mut request.body)),
            4 if !signature_headers.is_empty() => {
                let name = pick_owned(rng, &signature_headers);
                let mut value = request
                    .header(&name)
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec();
                did.push(mutate_bytes(rng, &mut value));
                request.set_header(&name, &String::from_utf8_lossy(&value));
                did.push("damaged a signature header");
            }
            5 if !signature_headers.is_empty() => {
                let name = pick_owned(rng, &signature_headers);
                request.headers.remove(&name);
                did.push("dropped a signature header");
            }
            6 => {
                request.set_header("content-type", pick(rng, &CONTENT_TYPES));
                did.push("changed the content type");
            }
            7 => {
                request.headers.remove("content-type");
                did.push("dropped the content type");
            }
            8 => {
                let separator = if request.url.contains('?') { '&' } else { '?' };
                request.url.push(separator);
                request.url.push_str(&random_query(rng));
                did.push("extended the query");
            }
            9 => {
                request.method = pick(rng, &["GET", "POST", "PUT", "DELETE"]).into();
                did.push("changed the method");
            }
            10 => {
                framing = Framing::Chunked(1 + rng.below(64));
                did.push("sent chunked");
            }
            _ => did.push("unchanged"),
        }
    }
    let mut headers = captured_headers(&request);
    if chance(rng, 15) && !signature_headers.is_empty() {
        // The signature header twice: once right, once wrong.
        let name = signature_headers[0].clone();
        headers.push((name, b"AAAA".to_vec()));
        did.push("duplicated a signature header");
    }
    let target = path_and_query(&request.url);
    let expect = expect_for(&target, &headers);
    Case {
        label: format!("signed {id} then {}", did.join(", ")),
        target: 0,
        method: request.method.clone(),
        bytes: message(
            &request.method,
            &target,
            host,
            &headers,
            &request.body,
            framing,
        ),
        expect,
        half_close: false,
    }
}

/// A random JSON value of a wrong or extreme kind.
fn wild_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(1.7976931348623157e308),
        4 => json!(u64::MAX),
        5 => json!("y".repeat(201)),
        6 => json!("z".repeat(1 + rng.below(20_000))),
        7 => json!([]),
        8 => json!({"nested": {"deeper": [1, "x", null]}}),
        9 => json!(pick(
            rng,
            &["", " ", "\u{0}", "é📞", "9999-99-99T99:99:99Z", "-1", "NaN"]
        )),
        10 => json!(pick(
            rng,
            &[
                "completed",
                "ringing",
                "answered",
                "busy",
                "delivered",
                "failed",
                "unknown-word",
                "call.hangup",
                "message.finalized",
                "ANSWERED",
                "MISSED"
            ]
        )),
        _ => json!(random_token(rng, 12)),
    }
}

/// Replaces, adds or removes one member somewhere in `value`.
fn mutate_json(rng: &mut Rng, value: &mut Value, depth: usize) {
    match value {
        Value::Object(object) if !object.is_empty() => {
            let keys: Vec<String> = object.keys().cloned().collect();
            let key = keys[rng.below(keys.len())].clone();
            match rng.below(6) {
                0 => {
                    object.remove(&key);
                }
                1 => {
                    object.insert(random_token(rng, 6), wild_value(rng));
                }
                2 | 3 if depth < 6 => {
                    mutate_json(rng, object.get_mut(&key).expect("key"), depth + 1)
                }
                _ => {
                    object.insert(key, wild_value(rng));
                }
            }
        }
        Value::Array(items) if !items.is_empty() && depth < 6 => {
            let index = rng.below(items.len());
            mutate_json(rng, &mut items[index], depth + 1);
        }
        other => *other = wild_value(rng),
    }
}

/// Replaces, adds, repeats or removes one form parameter.
fn mutate_pairs(rng: &mut Rng, pairs: &mut Vec<(String, String)>) {
    let index = if pairs.is_empty() {
        0
    } else {
        rng.below(pairs.len())
    };
    match rng.below(6) {
        0 if !pairs.is_empty() => {
            pairs.remove(index);
        }
        1 if !pairs.is_empty() => {
            let key = pairs[index].0.clone();
            pairs.push((key, random_token(rng, 8)));
        }
        2 if !pairs.is_empty() => pairs[index].1 = "w".repeat(1 + rng.below(5_000)),
        3 if !pairs.is_empty() => {
            let value = String::from_utf8_lossy(&random_bytes(rng, 16)).into_owned();
            pairs[index].1 = value;
        }
        4 => pairs.push((random_token(rng, 5), random_token(rng, 5))),
        _ if !pairs.is_empty() => pairs[index].1 = wild_value(rng).to_string(),
        _ => {}
    }
}

pub(super) fn form(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A webhook whose content is damaged and then validly signed, so that it passes verification
/// and reaches the parser: wrong types, missing and extra fields, huge and odd ids, raw garbage.
/// Every answer must be a 2xx or a 4xx.
pub(super) fn mutated_then_signed(rng: &mut Rng, host: &str, base_url: &str) -> Case {
    let (id, mut request) = random_webhook(rng, base_url);
    let mut did: Vec<&str> = Vec::new();
    for _ in 0..1 + rng.below(3) {
        match rng.below(4) {
            0 => did.push(mutate_bytes(rng, &mut request.body)),
            _ => {
                if let Ok(mut value) = serde_json::from_slice::<Value>(&request.body) {
                    mutate_json(rng, &mut value, 0);
                    request.body = value.to_string().into_bytes();
                    did.push("changed a JSON member");
                } else if request.method == "GET" {
                    let (path, query) = request.url.split_once('?').unwrap_or((&request.url, ""));
                    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                        .into_owned()
                        .collect();
                    mutate_pairs(rng, &mut pairs);
                    request.url = format!("{path}?{}", form(&pairs));
                    did.push("changed a query parameter");
                } else {
                    let mut pairs: Vec<(String, String)> =
                        form_urlencoded::parse(&request.body).into_owned().collect();
                    mutate_pairs(rng, &mut pairs);
                    request.body = form(&pairs).into_bytes();
                    did.push("changed a form parameter");
                }
            }
        }
    }
    // Signing may refuse what it cannot sign (e.g. VIS without an `event`): send it unsigned.
    let signed = provider(id).sign(&request, now());
    let label = format!(
        "{} {id}, then {}",
        did.join(", "),
        if signed.is_ok() { "signed" } else { "unsigned" }
    );
    let request = signed.unwrap_or(request);
    let headers = captured_headers(&request);
    let target = path_and_query(&request.url);
    let expect = expect_for(&target, &headers);
    Case {
        label,
        target: 0,
        method: request.method.clone(),
        bytes: message(
            &request.method,
            &target,
            host,
            &headers,
            &request.body,
            random_framing(rng),
        ),
        expect,
        half_close: false,
    }
}
