//! The delivery routes of the status API (docs/delivery.md): a subject's deliveries (from its
//! Durable Object, current), failed deliveries across subjects (from the KV index, eventually
//! consistent), and retries of either. Reads take a browser token in scope; retries and the
//! list across subjects need the status API token.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use switchboard_core::delivery::{
    decode_failed_cursor, encode_failed_cursor, DeliveryState, FailedDelivery,
};
use switchboard_core::error::echo;
use switchboard_core::protocol::subject::{object_name, Read, Retry};
use switchboard_core::request::query_params;
use switchboard_core::{Config, Kind, ProviderId, Timestamp};
use worker::{Env, Request, Response};

use crate::api::{self, Caller};
use crate::error::AppError;
use crate::{index, protocol};

/// Largest retry body read: a name and a time, or a flag.
pub const MAX_RETRY_REQUEST_BYTES: usize = 4 * 1024;

/// The most failed deliveries one `POST /v1/deliveries/retry` retries (so at most as many
/// subjects): each subject is a request to its Durable Object, and a Worker's request may make
/// only so many (50 on the Free plan, with the KV list).
pub const MAX_PER_RETRY: usize = 40;

/// `GET …/deliveries`: the subject's deliveries, within the caller's scope.
pub async fn list(
    env: &Env,
    caller: &Caller,
    kind: Kind,
    provider: &str,
    id: &str,
) -> Result<Response, AppError> {
    api::read(env, caller, kind, provider, id, &Read::Deliveries).await
}

/// `POST …/deliveries/retry`, `{"endpoint"?, "all"?}`: 202 `{"retried": n}`.
pub async fn retry(
    body: &[u8],
    env: &Env,
    config: &Config,
    caller: &Caller,
    kind: Kind,
    provider: &str,
    id: &str,
) -> Result<Response, AppError> {
    caller.require_full(NEEDS_FULL)?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        endpoint: Option<String>,
        #[serde(default)]
        all: bool,
    }
    let Body { endpoint, all } = parse_body(body)?;
    check_endpoint(config, endpoint.as_deref())?;
    let provider = crate::parse_provider(provider)?;
    let located = api::locate(env, kind, provider, id)
        .await?
        .ok_or(AppError::NotFound(kind.as_str()))?;
    let retry = Retry {
        endpoint,
        all,
        webhook_ids: None,
    };
    let retried = protocol::retry(env, &located.name, &retry)
        .await?
        .ok_or(AppError::NotFound(kind.as_str()))?;
    Ok(Response::from_json(&retried)?.with_status(202))
}

/// `GET /v1/deliveries?state=failed&endpoint=&limit=&cursor=`: one page of failed deliveries.
pub async fn list_failed(
    request: &Request,
    env: &Env,
    config: &Config,
    caller: &Caller,
) -> Result<Response, AppError> {
    caller.require_full(NEEDS_FULL)?;
    let mut endpoint = None;
    let mut limit = api::DEFAULT_PAGE_SIZE;
    let mut cursor = None;
    for (name, value) in query_params(&request.inner().url()) {
        match name.as_str() {
            "state"
                if !value.is_empty()
                    && DeliveryState::parse(&value) != Some(DeliveryState::Failed) =>
            {
                return Err(AppError::InvalidParameter(format!(
                    "state: `{}` is not listed across subjects, only `failed`",
                    echo(&value)
                )));
            }
            "endpoint" if !value.is_empty() => endpoint = Some(value),
            "limit" => limit = api::page_limit(&value)?,
            "cursor" if !value.is_empty() => cursor = Some(value),
            _ => {}
        }
    }
    check_endpoint(config, endpoint.as_deref())?;
    let key = caller.cursor_key();
    let kv_cursor = cursor
        .map(|cursor| decode_cursor(&cursor, endpoint.as_deref(), key))
        .transpose()?;
    let kv = env.kv(index::BINDING).map_err(AppError::storage)?;
    let (deliveries, next) = index::list_failed(&kv, endpoint.as_deref(), limit, kv_cursor).await?;
    #[derive(Serialize)]
    struct Page {
        deliveries: Vec<FailedDelivery>,
        /// `null` on the last page, as in the subject lists.
        cursor: Option<String>,
    }
    Ok(Response::from_json(&Page {
        deliveries,
        cursor: next.map(|next| encode_failed_cursor(endpoint.as_deref(), &next, key)),
    })?)
}

/// `POST /v1/deliveries/retry`, `{"endpoint"?, "since"?, "cursor"?}`: retries the failed
/// deliveries of one page of the KV index ([`MAX_PER_RETRY`] entries), most recently failed
/// first, down to `since`. 202 `{"retried", "subjects", "complete", "cursor"}`: while
/// `complete` is false, `cursor` continues where this call stopped (the entries it retried
/// leave the index only once their subjects have flushed, so starting over would find them
/// again).
pub async fn retry_failed(
    body: &[u8],
    env: &Env,
    config: &Config,
    caller: &Caller,
) -> Result<Response, AppError> {
    caller.require_full(NEEDS_FULL)?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        endpoint: Option<String>,
        since: Option<String>,
        cursor: Option<String>,
    }
    let Body {
        endpoint,
        since,
        cursor,
    } = parse_body(body)?;
    check_endpoint(config, endpoint.as_deref())?;
    let since = since
        .map(|since| {
            Timestamp::parse_rfc3339(&since).ok_or_else(|| {
                AppError::InvalidParameter(format!(
                    "since: `{}` is not an RFC 3339 time",
                    echo(&since)
                ))
            })
        })
        .transpose()?;
    let key = caller.cursor_key();
    let kv_cursor = cursor
        .map(|cursor| decode_cursor(&cursor, endpoint.as_deref(), key))
        .transpose()?;
    let kv = env.kv(index::BINDING).map_err(AppError::storage)?;
    let (entries, mut next) =
        index::list_failed(&kv, endpoint.as_deref(), MAX_PER_RETRY, kv_cursor).await?;
    let mut subjects: BTreeMap<(Kind, ProviderId, String), Vec<String>> = BTreeMap::new();
    for entry in entries {
        if since.is_some_and(|since| entry.failed_at < since) {
            // Most recently failed first: the rest failed earlier still.
            next = None;
            break;
        }
        subjects
            .entry((entry.kind, entry.provider, entry.subject_id))
            .or_default()
            .push(entry.webhook_id);
    }
    let retries = subjects.iter().map(|((kind, provider, id), webhook_ids)| {
        let retry = Retry {
            endpoint: endpoint.clone(),
            all: false,
            webhook_ids: Some(webhook_ids.clone()),
        };
        let name = object_name(*provider, *kind, id);
        async move { protocol::retry(env, &name, &retry).await }
    });
    let mut retried = 0;
    for answer in join_all(retries).await {
        retried += answer?.map_or(0, |answer| answer.retried);
    }
    #[derive(Serialize)]
    struct Answer {
        retried: u64,
        subjects: usize,
        complete: bool,
        cursor: Option<String>,
    }
    let answer = Answer {
        retried,
        subjects: subjects.len(),
        complete: next.is_none(),
        cursor: next.map(|next| encode_failed_cursor(endpoint.as_deref(), &next, key)),
    };
    Ok(Response::from_json(&answer)?.with_status(202))
}

/// The KV cursor inside a cursor of the failed list (or of a retry across subjects).
fn decode_cursor(cursor: &str, endpoint: Option<&str>, key: &[u8]) -> Result<String, AppError> {
    decode_failed_cursor(cursor, endpoint, key).ok_or_else(|| {
        AppError::InvalidParameter(
            "cursor: not a cursor this list returned for this token and endpoint".into(),
        )
    })
}

/// Retries and the list across subjects are the status API token's.
const NEEDS_FULL: &str = "deliveries across subjects and retries need the status API token";

/// A JSON object body of these fields; an empty body is the object without any.
fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, AppError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|error| {
        AppError::InvalidBody(format!("not a retry request: {}", echo(&error.to_string())))
    })
}

/// An endpoint named in a request must be one of `DELIVERY_ENDPOINTS`.
fn check_endpoint(config: &Config, endpoint: Option<&str>) -> Result<(), AppError> {
    match endpoint {
        Some(name) if config.delivery.endpoint(name).is_none() => Err(AppError::InvalidParameter(
            format!("endpoint: `{}` is not in DELIVERY_ENDPOINTS", echo(name)),
        )),
        _ => Ok(()),
    }
}
