//! CORS for the status API, for the origins in `CORS_ALLOW_ORIGINS` only.
//!
//! Browsers of a listed origin may `GET` `/v1/*` with an `Authorization` header; every other
//! origin gets no CORS headers, so browsers keep its pages from reading the responses. Webhook
//! routes never answer CORS: providers are servers.

use switchboard_core::Config;
use worker::{Request, Response, Result};

use crate::error::AppError;

/// How long browsers may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE_SECONDS: &str = "600";

/// The status API's CORS headers on `response`: `Vary: Origin` whichever origin asked (or
/// none), since a cache must not hand one origin's answer to another, and the
/// `Access-Control-Allow-Origin` of `allowed_origin` (already checked against the list). The
/// headers are a copy: a Durable Object's answer passed through has immutable ones.
pub fn apply(response: Response, allowed_origin: Option<&str>) -> Result<Response> {
    let headers = response.headers().clone();
    headers.append("vary", "Origin")?;
    if let Some(origin) = allowed_origin {
        headers.set("access-control-allow-origin", origin)?;
    }
    Ok(response.with_headers(headers))
}

/// Answers `OPTIONS /v1/*`: 204 for a listed origin (its CORS headers are added by the caller,
/// as for every status API response), 403 `origin_not_allowed` otherwise.
pub fn preflight(request: &Request, config: &Config) -> std::result::Result<Response, AppError> {
    let origin = request.headers().get("origin")?.unwrap_or_default();
    if !config.cors_allow_origins.contains(&origin) {
        return Err(AppError::OriginNotAllowed);
    }
    let mut response = Response::empty()?.with_status(204);
    let headers = response.headers_mut();
    headers.set("access-control-allow-methods", "GET")?;
    headers.set("access-control-allow-headers", "Authorization")?;
    headers.set("access-control-max-age", PREFLIGHT_MAX_AGE_SECONDS)?;
    Ok(response)
}
