//! The status API: what frontends read. JSON, with a bearer credential: a status API token (every
//! read, and minting browser tokens with `POST /v1/tokens`) or a browser token (the reads its
//! scope covers; see `switchboard_core::access`).
//!
//! Single-subject reads go to the subject's Durable Object and are always current; lists come
//! from the KV index and may lag by about a second (see `index.rs`).

use std::borrow::Cow;

use futures_util::future::join_all;
use serde::Deserialize;
use switchboard_core::access::{self, Access, Decision, SubjectNames};
use switchboard_core::error::echo;
use switchboard_core::index::{decode_cursor, number_digest, parse_number_key, Filter, Position};
use switchboard_core::protocol::subject::{object_name, Erase, ErasureReason, Read, StoredRequest};
use switchboard_core::request::{bearer_credential, query_params};
use switchboard_core::secret::{matches_any, Secret};
use switchboard_core::{Config, Kind, ProviderId, Status, Timestamp};
use worker::{Date, Env, Request, Response};

use crate::error::AppError;
use crate::{index, protocol};

/// Entries per page of a list, unless `limit` says otherwise (1 to [`MAX_PAGE_SIZE`]).
pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// A list's `limit` parameter: a whole number from 1 to [`MAX_PAGE_SIZE`].
pub fn page_limit(value: &str) -> Result<usize, AppError> {
    value
        .parse()
        .ok()
        .filter(|limit| (1..=MAX_PAGE_SIZE).contains(limit))
        .ok_or_else(|| {
            AppError::InvalidParameter(format!(
                "limit: `{}` is not a whole number from 1 to {MAX_PAGE_SIZE}",
                echo(value)
            ))
        })
}

/// Largest `POST /v1/tokens` body read: a token request is a few scopes.
pub const MAX_TOKEN_REQUEST_BYTES: usize = 16 * 1024;

/// Who is asking: what the credential allows, and the key its list cursors are tagged under
/// (bound to the credential, and secret from its holder: `switchboard_core::access::cursor_key`).
pub struct Caller {
    pub access: Access,
    cursor_key: Secret,
}

impl Caller {
    /// The key this caller's list cursors are tagged under.
    pub fn cursor_key(&self) -> &[u8] {
        self.cursor_key.expose().as_bytes()
    }

    /// Only the status API token passes; a browser token is 403 `out_of_scope`, saying `need`.
    pub fn require_full(&self, need: &str) -> Result<(), AppError> {
        match self.access {
            Access::Full => Ok(()),
            Access::Browser(_) => Err(AppError::OutOfScope(need.into())),
        }
    }

    /// When the credential expires (unix milliseconds); `None` for a status API token.
    pub fn expires_ms(&self) -> Option<i64> {
        match &self.access {
            Access::Full => None,
            Access::Browser(grant) => Some(grant.expires_at.millis()),
        }
    }
}

/// The caller of a request with `Authorization: Bearer <credential>`.
pub fn authorize_request(request: &Request, config: &Config) -> Result<Caller, AppError> {
    let header = request.headers().get("authorization")?.unwrap_or_default();
    authorize(bearer_credential(&header).unwrap_or(""), config)
}

/// One of `STATUS_API_TOKEN(S)`, compared in constant time, is full access; otherwise a browser
/// token verified with `BROWSER_TOKEN_SECRET`. Anything else is refused, and with nothing
/// configured every credential is (fail closed).
pub fn authorize(presented: &str, config: &Config) -> Result<Caller, AppError> {
    if presented.is_empty() {
        return Err(AppError::Unauthorized);
    }
    if matches_any(presented, &config.status_api_tokens) {
        return Ok(Caller {
            access: Access::Full,
            cursor_key: Secret::new(presented),
        });
    }
    // Only what has a JWT's form is worth checking as one: a mistyped status API token is
    // refused as such.
    if config.browser_token_secrets.is_empty() || presented.matches('.').count() != 2 {
        return Err(AppError::Unauthorized);
    }
    let grant = access::verify(presented, &config.browser_token_secrets, now())
        .map_err(AppError::Access)?;
    Ok(Caller {
        access: Access::Browser(grant),
        cursor_key: access::cursor_key(&config.browser_token_secrets, presented),
    })
}

fn now() -> Timestamp {
    Timestamp::from_millis(i64::try_from(Date::now().as_millis()).unwrap_or(i64::MAX))
}

/// `GET /v1/config`: what is configured, never a secret (`Config::overview`), for the status API
/// token.
pub fn config_overview(config: &Config, caller: &Caller) -> Result<Response, AppError> {
    caller.require_full("the configuration needs the status API token")?;
    Ok(Response::from_json(&config.overview())?)
}

/// `…/events/{event_id}/request`: the raw request of one event, for the status API token only.
pub async fn export(
    env: &Env,
    config: &Config,
    caller: &Caller,
    kind: Kind,
    provider: &str,
    id: &str,
    event_id: &str,
) -> Result<Response, AppError> {
    if !caller.access.may_export() {
        return Err(AppError::OutOfScope(
            "a raw request needs the status API token".into(),
        ));
    }
    let read = Read::Request {
        event_id: Cow::Borrowed(event_id),
    };
    let provider = crate::parse_provider(provider)?;
    let response = ask(env, kind, provider, id, &read, "event").await?;
    export_request(response, config).await
}

/// `POST /v1/tokens` with `body` (read up to [`MAX_TOKEN_REQUEST_BYTES`]): mints a browser
/// token with the first `BROWSER_TOKEN_SECRET` (503 while none is set).
pub fn mint(body: &[u8], config: &Config, caller: &Caller) -> Result<Response, AppError> {
    if !caller.access.may_mint() {
        return Err(AppError::OutOfScope(
            "minting a token needs the status API token".into(),
        ));
    }
    let minted = access::parse_mint_request(body)
        .and_then(|mint| access::mint(&config.browser_token_secrets, &mint, now()))
        .map_err(AppError::Access)?;
    Ok(Response::from_json(&minted)?.with_status(201))
}

/// The subject a path names, found: its object, and what a scope can name it by (read from its
/// summary).
pub struct Located {
    pub name: String,
    pub names: SubjectNames,
}

/// Finds the subject `id` names: its own, or the one it is an alias of; `None` if neither has
/// an event.
pub async fn locate(
    env: &Env,
    kind: Kind,
    provider: ProviderId,
    id: &str,
) -> Result<Option<Located>, AppError> {
    let mut name = object_name(provider, kind, id);
    let mut summary = protocol::read(env, &name, &Read::Summary).await?;
    if summary.is_none() {
        let kv = env.kv(index::BINDING).map_err(AppError::storage)?;
        let Some(target) = index::resolve_alias(&kv, kind, provider, id).await? else {
            return Ok(None);
        };
        name = object_name(provider, kind, &target);
        summary = protocol::read(env, &name, &Read::Summary).await?;
    }
    match summary {
        Some(mut response) => Ok(Some(Located {
            name,
            names: response.json().await?,
        })),
        None => Ok(None),
    }
}

/// Refuses (403 `out_of_scope`) a caller whose scope does not cover the subject `id` names.
/// Answers the subject if finding it was needed to decide (a scope naming one of its other ids,
/// or its session), `None` if the path alone decided.
pub async fn locate_in_scope(
    env: &Env,
    caller: &Caller,
    kind: Kind,
    provider: ProviderId,
    id: &str,
) -> Result<Option<Located>, AppError> {
    let out_of_scope = || {
        AppError::OutOfScope(format!(
            "`{}/{provider}/…`, its session, or `{}`",
            kind.collection(),
            kind.collection()
        ))
    };
    match caller.access.may_read(kind, provider, id) {
        Decision::Allowed => Ok(None),
        Decision::Denied => Err(out_of_scope()),
        Decision::NeedsSubject => {
            let located = locate(env, kind, provider, id).await?;
            let names = located.as_ref().map(|located| &located.names);
            if caller.access.may_read_subject(kind, provider, id, names) {
                Ok(located)
            } else {
                Err(out_of_scope())
            }
        }
    }
}

/// A read of one subject (its summary or its events) within the caller's scope.
pub async fn read(
    env: &Env,
    caller: &Caller,
    kind: Kind,
    provider: &str,
    id: &str,
    read: &Read<'_>,
) -> Result<Response, AppError> {
    let what = kind.as_str();
    let provider = crate::parse_provider(provider)?;
    match locate_in_scope(env, caller, kind, provider, id).await? {
        Some(located) => protocol::read(env, &located.name, read)
            .await?
            .ok_or(AppError::NotFound(what)),
        None => ask(env, kind, provider, id, read, what).await,
    }
}

/// Asks the Durable Object of the subject `id` for `read`, or, if it has nothing, that of the
/// subject whose alias `id` is (the KV alias index is read only then, so current ids cost no KV
/// read). Nothing found is our 404, naming `what` was not found.
async fn ask(
    env: &Env,
    kind: Kind,
    provider: ProviderId,
    id: &str,
    read: &Read<'_>,
    what: &'static str,
) -> Result<Response, AppError> {
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

/// `DELETE /v1/{calls|messages}/{provider}/{id}`, for the status API token only: erases the
/// subject `id` names (its own, or the one it is an alias of) now: 204, or 404 when neither
/// has events. Its storage is gone when this answers; its KV keys follow within a second or
/// so (`src/erasure.rs`), so a list may show it until KV has caught up, a read never.
pub async fn erase(
    env: &Env,
    caller: &Caller,
    kind: Kind,
    provider: &str,
    id: &str,
) -> Result<Response, AppError> {
    caller.require_full("erasing needs the status API token")?;
    let provider = crate::parse_provider(provider)?;
    let by_id = Erase {
        reason: ErasureReason::Request,
        number_digest: None,
        alias: None,
    };
    if protocol::erase(env, &object_name(provider, kind, id), &by_id).await? {
        return Ok(Response::empty()?.with_status(204));
    }
    let kv = env.kv(index::BINDING).map_err(AppError::storage)?;
    if let Some(target) = index::resolve_alias(&kv, kind, provider, id).await? {
        let by_alias = Erase {
            alias: Some(id.to_owned()),
            ..by_id
        };
        if protocol::erase(env, &object_name(provider, kind, &target), &by_alias).await? {
            return Ok(Response::empty()?.with_status(204));
        }
    }
    Err(AppError::NotFound(kind.as_str()))
}

/// Largest `POST /v1/erase` body read: one phone number.
pub const MAX_ERASE_REQUEST_BYTES: usize = 1024;

/// The most subjects one `POST /v1/erase` erases: each is a call to its object, and a
/// stale number key a KV delete besides, within the 50 subrequests of a Free-plan invocation.
const MAX_ERASED_PER_REQUEST: usize = 20;

/// `POST /v1/erase` with `{"phone_number": "+15550001111"}`, for the status API token only:
/// erases the subjects whose `from` or `to` is that number (however it is written, see
/// `switchboard_core::index::number_digest`), found through the number keys of the KV index,
/// at most [`MAX_ERASED_PER_REQUEST`] per request. Answers `{"erased": n, "more": bool}`;
/// while `more`, the caller asks again. A number key whose subject no longer has that number
/// is deleted. A subject that cannot be reached fails the request (503): the erasures made
/// stay made, and asking again finds the rest.
pub async fn erase_number(body: &[u8], env: &Env, caller: &Caller) -> Result<Response, AppError> {
    caller.require_full("erasing needs the status API token")?;
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        phone_number: String,
    }
    let Body { phone_number } = serde_json::from_slice(body).map_err(|error| {
        AppError::InvalidBody(format!(
            "expected {{\"phone_number\": \"+15550001111\"}}: {}",
            echo(&error.to_string())
        ))
    })?;
    let digest = number_digest(&phone_number)
        .ok_or_else(|| AppError::InvalidParameter("phone_number: empty".into()))?;
    let kv = env.kv(index::BINDING).map_err(AppError::storage)?;
    let (keys, more) = index::list_numbers(&kv, &digest, MAX_ERASED_PER_REQUEST).await?;
    let erase = Erase {
        reason: ErasureReason::PhoneNumber,
        number_digest: Some(digest),
        alias: None,
    };
    let erasures = keys.iter().map(|key| {
        let erase = &erase;
        async move {
            match parse_number_key(key) {
                Some((kind, provider, id)) => {
                    protocol::erase(env, &object_name(provider, kind, id), erase).await
                }
                None => Ok(false),
            }
        }
    });
    let mut erased = 0;
    let mut stale = Vec::new();
    for (key, answer) in keys.iter().zip(join_all(erasures).await) {
        if answer? {
            erased += 1;
        } else {
            stale.push(key.as_str());
        }
    }
    // Best effort: a key left is found, and found stale, again by the next request.
    if let Err(error) = index::delete_keys(env, &stale).await {
        let line = serde_json::json!({
            "event": "stale_number_keys_kept",
            "keys": stale.len(),
            "detail": error.to_string(),
        });
        worker::console_error!("{line}");
    }
    Ok(Response::from_json(
        &serde_json::json!({ "erased": erased, "more": more }),
    )?)
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

/// One page of a list. Its cursor is tagged under the caller's cursor key (see
/// `switchboard_core::index::encode_cursor`): only a cursor this API issued to that caller is
/// read, so KV never sees one it did not issue, and a KV error is an outage (503).
pub async fn list(
    request: &Request,
    env: &Env,
    config: &Config,
    caller: &Caller,
    kind: Kind,
) -> Result<Response, AppError> {
    if !caller.access.may_list(kind) {
        return Err(AppError::OutOfScope(format!(
            "the `{}` scope",
            kind.collection()
        )));
    }
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
            "limit" => limit = page_limit(&value)?,
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
    let key = caller.cursor_key.expose().as_bytes();
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
