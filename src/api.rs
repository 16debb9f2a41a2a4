//! The status API: what frontends read. Bearer token, GET only, JSON.
//!
//! Single-subject reads go to the subject's Durable Object and are always current; lists come
//! from the KV index and may lag by about a second (see `index.rs`).

use std::borrow::Cow;

use switchboard_core::error::echo;
use switchboard_core::index::{decode_cursor, Filter, Position};
use switchboard_core::protocol::subject::{object_name, Read, StoredRequest};
use switchboard_core::request::{bearer_credential, query_params};
use switchboard_core::secret::{matches_any, Secret};
use switchboard_core::{Config, Kind, ProviderId, Status};
use worker::{Date, Env, Request, Response};

use crate::error::AppError;
use crate::{index, protocol};

const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 100;

/// Accepts the request only with `Authorization: Bearer <one of STATUS_API_TOKEN>`, compared in
/// constant time, and answers the token presented. With no token configured every request is
/// refused (fail closed).
pub fn authorize(request: &Request, config: &Config) -> Result<Secret, AppError> {
    let header = request.headers().get("authorization")?.unwrap_or_default();
    let presented = bearer_credential(&header).unwrap_or("");
    if !presented.is_empty() && matches_any(presented, &config.status_api_tokens) {
        Ok(Secret::new(presented))
    } else {
        Err(AppError::Unauthorized)
    }
}

/// Serves an authorized request; `token` is the one it presented.
pub async fn handle(
    request: &Request,
    env: &Env,
    config: &Config,
    token: &Secret,
    collection: &str,
    rest: &[&str],
) -> Result<Response, AppError> {
    let kind = match collection {
        "calls" => Kind::Call,
        "messages" => Kind::Message,
        _ => return Err(AppError::NotFound("route")),
    };
    match rest {
        [] => list(request, env, config, token, kind).await,
        [provider, id] => ask(env, kind, provider, id, &Read::Summary, kind.as_str()).await,
        [provider, id, "events"] => {
            ask(env, kind, provider, id, &Read::Events, kind.as_str()).await
        }
        [provider, id, "events", event_id, "request"] => {
            let read = Read::Request {
                event_id: Cow::Borrowed(event_id),
            };
            let response = ask(env, kind, provider, id, &read, "event").await?;
            export_request(response, config).await
        }
        _ => Err(AppError::NotFound("route")),
    }
}

/// Asks the Durable Object of the subject `id` for `read`, or, if it has nothing, that of the
/// subject whose alias `id` is (the KV alias index is read only then, so current ids cost no KV
/// read). Nothing found is our 404, naming `what` was not found.
async fn ask(
    env: &Env,
    kind: Kind,
    provider: &str,
    id: &str,
    read: &Read<'_>,
    what: &'static str,
) -> Result<Response, AppError> {
    let provider: ProviderId = provider
        .parse()
        .map_err(|_| AppError::UnknownProvider(echo(provider)))?;
    if let Some(response) = protocol::read(env, &object_name(provider, kind, id), read).await? {
        return Ok(response);
    }
    let kv = env.kv(index::BINDING).map_err(AppError::storage)?;
    match index::resolve_alias(&kv, kind, provider, id).await? {
        Some(target) => protocol::read(env, &object_name(provider, kind, &target), read)
            .await?
            .ok_or(AppError::NotFound(what)),
        None => Err(AppError::NotFound(what)),
    }
}

/// The raw request of one event, in the CLI's captured-request format.
///
/// It carries the provider's signature, which a holder could replay while the signed time is
/// still accepted. So it is only handed out once that window has certainly passed: the signed
/// time may be up to the tolerance after receipt, and is accepted up to the tolerance after
/// that. Earlier requests get 425 with `Retry-After`.
async fn export_request(mut response: Response, config: &Config) -> Result<Response, AppError> {
    let stored: StoredRequest = response.json().await?;
    let replayable_ms = 2 * i64::from(config.tolerance_seconds) * 1000;
    let now = i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX);
    let wait_ms = stored.received_at.saturating_add(replayable_ms) - now;
    if wait_ms > 0 {
        return Err(AppError::TooEarly {
            retry_after_seconds: wait_ms.div_euclid(1000) + 1,
        });
    }
    let mut response = Response::ok(stored.request.get())?;
    response
        .headers_mut()
        .set("content-type", "application/json")?;
    Ok(response)
}

/// One page of a list. Its cursor is tagged under the caller's `token` (see
/// `switchboard_core::index::encode_cursor`): only a cursor this API issued to that token is
/// read, so KV never sees one it did not issue, and a KV error is an outage (503).
async fn list(
    request: &Request,
    env: &Env,
    config: &Config,
    token: &Secret,
    kind: Kind,
) -> Result<Response, AppError> {
    let mut filter = Filter {
        kind,
        provider: None,
        status: None,
    };
    let mut limit = DEFAULT_PAGE_SIZE;
    let mut cursor = None;
    for (name, value) in query_params(&request.inner().url()) {
        match name.as_str() {
            "provider" if !value.is_empty() => {
                filter.provider = Some(value.parse().map_err(|_| {
                    AppError::InvalidParameter(format!(
                        "provider: no provider named `{}`",
                        echo(&value)
                    ))
                })?);
            }
            "status" if !value.is_empty() => {
                let status: Status = value
                    .parse()
                    .ok()
                    .filter(|status: &Status| status.rank(kind).is_some())
                    .ok_or_else(|| {
                        AppError::InvalidParameter(format!(
                            "status: `{}` is not a {} status",
                            echo(&value),
                            kind.as_str()
                        ))
                    })?;
                filter.status = Some(status);
            }
            "limit" => {
                limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE_SIZE).contains(limit))
                    .ok_or_else(|| {
                        AppError::InvalidParameter(format!(
                            "limit: `{}` is not a whole number from 1 to {MAX_PAGE_SIZE}",
                            echo(&value)
                        ))
                    })?;
            }
            "cursor" if !value.is_empty() => cursor = Some(value),
            _ => {}
        }
    }
    // A list across providers covers those configured now: a provider whose secret is removed
    // is still listed with `provider=`.
    let providers: Vec<ProviderId> = match filter.provider {
        Some(provider) => vec![provider],
        None => ProviderId::ALL
            .into_iter()
            .filter(|&provider| switchboard_core::configured_provider(config, provider).is_some())
            .collect(),
    };
    let key = token.expose().as_bytes();
    let positions = match cursor {
        Some(cursor) => decode_cursor(&cursor, &filter, &providers, key).ok_or_else(|| {
            AppError::InvalidParameter(
                "cursor: not a cursor this list returned for this token".into(),
            )
        })?,
        None => providers.into_iter().map(Position::start).collect(),
    };
    let kv = env.kv(index::BINDING).map_err(AppError::storage)?;
    let page = index::list(&kv, filter, limit, positions, key).await?;
    Ok(Response::from_json(&page)?)
}
