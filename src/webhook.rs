//! `GET|POST /webhooks/{provider}`: the ingress path.
//!
//! Order matters: size limits before reading, verification before parsing meaning, and the
//! 200 only after every event is committed by its subject's Durable Object. Any storage failure
//! answers 503, and a bug 500, so the provider retries and nothing acknowledged is ever lost.

use std::borrow::Cow;

use serde::Serialize;
use switchboard_core::config::secret_setting;
use switchboard_core::error::echo;
use switchboard_core::protocol::subject::{object_name, AppendRequest};
use switchboard_core::protocol::token_guard::{Claim, ClaimAnswer};
use switchboard_core::request::rebase_url;
use switchboard_core::{
    CapturedRequest, Config, Event, Kind, ProviderId, SingleUseToken, Timestamp, WebhookError,
};
use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::js_sys::{self, Object, Promise, Reflect, Uint8Array};
use worker::web_sys::{ReadableStream, Request};
use worker::{wasm_bindgen_futures, Date, Env, Headers, Response};

use crate::error::AppError;
use crate::{protocol, RequestLog};

/// Longest provider id accepted for a call or message: it becomes part of KV keys (≤ 512 bytes).
pub(crate) const MAX_SUBJECT_ID_BYTES: usize = 200;

#[derive(Serialize)]
struct Accepted {
    kind: Kind,
    id: String,
    event_id: String,
    duplicate: bool,
}

#[derive(Serialize)]
struct Acknowledgement {
    accepted: Vec<Accepted>,
}

/// `url` and `headers` are the request's, read once by the router.
pub async fn receive(
    request: &Request,
    url: &str,
    headers: &Headers,
    env: &Env,
    config: &Config,
    provider_id: ProviderId,
    log: &mut RequestLog,
) -> Result<Response, AppError> {
    let provider = switchboard_core::configured_provider(config, provider_id)
        .ok_or(AppError::SourceNotConfigured(secret_setting(provider_id)))?;

    let body = read_body(request, headers, config.max_body_bytes).await?;
    let captured = capture(
        &log.method,
        url,
        headers,
        body,
        config.public_base_url.as_deref(),
    );
    let now = Timestamp::from_millis(i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX));
    let events = provider.receive(&captured, now)?;
    log.unknown_words = events
        .iter()
        .filter(|event| !provider.is_known_word(event.kind, &event.provider_status))
        .map(|event| echo(&event.provider_status))
        .collect();
    if let Some(event) = events
        .iter()
        .find(|event| event.subject_id.len() > MAX_SUBJECT_ID_BYTES)
    {
        return Err(AppError::Webhook(WebhookError::Malformed(format!(
            "{} id longer than {MAX_SUBJECT_ID_BYTES} bytes",
            event.kind.as_str()
        ))));
    }

    if let Some(token) = provider.single_use_token(&captured) {
        claim(env, &token, &events).await?;
    }

    let mut accepted = Vec::with_capacity(events.len());
    for event in events {
        let duplicate = append(env, &event, &captured).await?;
        accepted.push(Accepted {
            kind: event.kind,
            id: event.subject_id,
            event_id: event.event_id,
            duplicate,
        });
    }
    log.events = Some(accepted.len());
    log.duplicates = Some(accepted.iter().filter(|item| item.duplicate).count());
    Ok(Response::from_json(&Acknowledgement { accepted })?)
}

/// Reads the body, refusing it with 413 as soon as it exceeds `limit` bytes: from
/// `Content-Length` before reading when the header is present (the runtime then reads exactly
/// that many bytes, natively, in one call), else while reading, so an oversized chunked body is
/// never buffered whole (also when a request names both a length and a transfer encoding).
pub async fn read_body(
    request: &Request,
    headers: &Headers,
    limit: usize,
) -> Result<Vec<u8>, AppError> {
    let declared_length = headers
        .get("content-length")?
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit as u64) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    let chunked = headers.get("transfer-encoding")?.is_some();
    if declared_length == Some(0) && !chunked {
        return Ok(Vec::new());
    }
    let Some(stream) = request.body() else {
        return Ok(Vec::new());
    };
    if declared_length.is_some() && !chunked {
        let buffer = JsFuture::from(request.array_buffer().map_err(unreadable_body)?)
            .await
            .map_err(unreadable_body)?;
        let body = Uint8Array::new(&buffer);
        // The runtime frames the body by its length; should it ever deliver more, it is still
        // refused.
        if body.length() as usize > limit {
            return Err(AppError::PayloadTooLarge { limit });
        }
        return Ok(body.to_vec());
    }
    let reader = byob_reader(&stream).map_err(unreadable_body)?;
    let mut body = Vec::new();
    loop {
        let view = Uint8Array::new_with_length(READ_BYTES);
        let result = JsFuture::from(reader.read_at_least(READ_BYTES, view))
            .await
            .map_err(unreadable_body)?;
        let field = |name: &str| Reflect::get(&result, &JsValue::from_str(name));
        let chunk = field("value").map_err(unreadable_body)?;
        if let Some(chunk) = chunk.dyn_ref::<Uint8Array>() {
            if body.len() + chunk.length() as usize > limit {
                return Err(AppError::PayloadTooLarge { limit });
            }
            body.extend(chunk.to_vec());
        }
        if field("done").map_err(unreadable_body)?.is_truthy() {
            return Ok(body);
        }
    }
}

/// How much one read of the body asks for.
const READ_BYTES: u32 = 64 * 1024;

#[wasm_bindgen]
extern "C" {
    /// workerd's BYOB reader of a byte stream. Its non-standard `readAtLeast` fills the buffer
    /// natively however the sender chunked the body: a body sent in 1-byte HTTP chunks is a
    /// few reads, not one wasm round trip per byte (the fuzzer's 1 MiB of 1-byte chunks took
    /// 16 s of CPU read chunk by chunk).
    type ByobReader;

    #[wasm_bindgen(method, js_name = readAtLeast)]
    fn read_at_least(this: &ByobReader, min_bytes: u32, view: Uint8Array) -> Promise;

    /// A `ReadableStream`, for its `getReader` with options (not bound by web-sys here).
    type ByteStream;

    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &ByteStream, options: &Object) -> Result<ByobReader, JsValue>;
}

fn byob_reader(stream: &ReadableStream) -> Result<ByobReader, JsValue> {
    let options = Object::new();
    Reflect::set(
        &options,
        &JsValue::from_str("mode"),
        &JsValue::from_str("byob"),
    )?;
    stream.unchecked_ref::<ByteStream>().get_reader(&options)
}

/// A body that cannot be read to its end was cut short or mis-framed by the sender (the
/// connection closed before `Content-Length` bytes, a broken chunk): the request is malformed,
/// not a storage failure, and nothing was stored.
fn unreadable_body(error: JsValue) -> AppError {
    let reason = error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_default();
    AppError::Webhook(WebhookError::Malformed(format!(
        "the request body could not be read to its end: {reason}"
    )))
}

/// The request exactly as received: method, URL (the runtime's, with scheme and host replaced by
/// `PUBLIC_BASE_URL` when set), headers, body bytes.
fn capture(
    method: &str,
    url: &str,
    headers: &Headers,
    body: Vec<u8>,
    public_base_url: Option<&str>,
) -> CapturedRequest {
    let rebased = public_base_url.map(|base| rebase_url(url, base));
    let mut captured = CapturedRequest::new(method, rebased.as_deref().unwrap_or(url));
    for (name, value) in headers.entries() {
        captured.set_header(&name, &value);
    }
    captured.body = body;
    captured
}

/// Holds a single-use token to these events in its own `TokenGuard` object: a second request
/// under the same token is refused unless it carries the very same events (a retry).
async fn claim(env: &Env, token: &SingleUseToken, events: &[Event]) -> Result<(), AppError> {
    let event_ids: Vec<&str> = events.iter().map(|event| event.event_id.as_str()).collect();
    let events = event_ids.join("\n");
    let claim = Claim {
        events: Cow::Borrowed(&events),
        expires_ms: token.expires_at.millis(),
    };
    match protocol::claim(env, &token.id, &claim).await? {
        ClaimAnswer::Held => Ok(()),
        ClaimAnswer::Replayed => Err(AppError::Webhook(WebhookError::ReplayedToken)),
        ClaimAnswer::Invalid => Err(AppError::Internal(
            "token guard refused the claim as invalid".into(),
        )),
    }
}

/// Commits one event in its subject's Durable Object, over RPC; answers whether it was a
/// duplicate.
pub(crate) async fn append(
    env: &Env,
    event: &Event,
    raw: &CapturedRequest,
) -> Result<bool, AppError> {
    let name = object_name(event.provider, event.kind, &event.subject_id);
    let body = serde_json::to_string(&AppendRequest {
        event,
        raw: raw.redacted(),
    })
    .map_err(|error| AppError::Internal(format!("encode append: {error}")))?;
    protocol::append(env, &name, &body).await
}
