//! The status API: what frontends read. Bearer token, GET only, JSON.
//!
//! Single-subject reads go to the subject's Durable Object and are always current; lists come
//! from the KV index and may lag by about a second (see `index.rs`).

use switchboard_core::secret::matches_any;
use switchboard_core::{Config, Kind, ProviderId, Status};
use worker::{Env, Request, Response, Url};

use crate::error::AppError;
use crate::index::{self, Filter};
use crate::subject::object_name;
use crate::SUBJECTS_BINDING;

const DEFAULT_PAGE_SIZE: u64 = 20;
const MAX_PAGE_SIZE: u64 = 100;

/// Accepts the request only with `Authorization: Bearer <one of STATUS_API_TOKEN>`, compared in
/// constant time. With no token configured every request is refused (fail closed).
pub fn authorize(request: &Request, config: &Config) -> Result<(), AppError> {
    let header = request.headers().get("authorization")?.unwrap_or_default();
    let presented = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .unwrap_or("");
    if !presented.is_empty() && matches_any(presented, &config.status_api_tokens) {
        Ok(())
    } else {
        Err(AppError::Unauthorized)
    }
}

pub async fn handle(
    request: &Request,
    env: &Env,
    collection: &str,
    rest: &[&str],
) -> Result<Response, AppError> {
    let kind = match collection {
        "calls" => Kind::Call,
        "messages" => Kind::Message,
        _ => return Err(AppError::NotFound("route")),
    };
    match rest {
        [] => list(request, env, kind).await,
        [provider, id] => forward(env, kind, provider, id, "https://subject/summary".into()).await,
        [provider, id, "events"] => {
            forward(env, kind, provider, id, "https://subject/events".into()).await
        }
        [provider, id, "events", event_id, "request"] => {
            let url = Url::parse_with_params("https://subject/request", [("event_id", event_id)])
                .map_err(|error| AppError::Internal(error.to_string()))?;
            forward(env, kind, provider, id, url.to_string()).await
        }
        _ => Err(AppError::NotFound("route")),
    }
}

fn subject_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Call => "call",
        Kind::Message => "message",
    }
}

/// Asks the subject's Durable Object; its 404 (no event ever stored) becomes ours.
async fn forward(
    env: &Env,
    kind: Kind,
    provider: &str,
    id: &str,
    url: String,
) -> Result<Response, AppError> {
    let provider: ProviderId = provider
        .parse()
        .map_err(|_| AppError::UnknownProvider(provider.to_owned()))?;
    let stub = env
        .durable_object(SUBJECTS_BINDING)?
        .id_from_name(&object_name(provider, kind, id))?
        .get_stub()?;
    let response = stub.fetch_with_str(&url).await?;
    match response.status_code() {
        200 => Ok(response),
        404 => Err(AppError::NotFound(subject_label(kind))),
        status => Err(AppError::Internal(format!("subject answered {status}"))),
    }
}

async fn list(request: &Request, env: &Env, kind: Kind) -> Result<Response, AppError> {
    let mut filter = Filter {
        kind,
        provider: None,
        status: None,
    };
    let mut limit = DEFAULT_PAGE_SIZE;
    let mut cursor = None;
    for (name, value) in request.url()?.query_pairs() {
        match name.as_ref() {
            "provider" if !value.is_empty() => {
                filter.provider = Some(value.parse().map_err(|_| {
                    AppError::InvalidParameter(format!("provider: no provider named `{value}`"))
                })?);
            }
            "status" if !value.is_empty() => {
                let status: Status = value
                    .parse()
                    .ok()
                    .filter(|status: &Status| status.rank(kind).is_some())
                    .ok_or_else(|| {
                        AppError::InvalidParameter(format!(
                            "status: `{value}` is not a {} status",
                            subject_label(kind)
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
                            "limit: `{value}` is not a whole number from 1 to {MAX_PAGE_SIZE}"
                        ))
                    })?;
            }
            "cursor" if !value.is_empty() => cursor = Some(value.into_owned()),
            _ => {}
        }
    }
    let kv = env.kv(index::BINDING)?;
    let page = index::list(&kv, filter, limit, cursor).await?;
    Ok(Response::from_json(&page)?)
}
