//! `GET /v1/{calls|messages}/{provider}/{id}/live`: a WebSocket that watches one subject.
//!
//! The worker checks the upgrade, the origin and the credential, finds the subject's Durable
//! Object, and hands the request to it; the object accepts the socket and sends the frames
//! (`src/subject.rs`, `switchboard_core::live`). Browsers cannot set headers on a WebSocket, so
//! the token may also come as the subprotocol `bearer.<token>` or as `?access_token=`; it is
//! never logged.

use switchboard_core::live::OfferedProtocols;
use switchboard_core::protocol::subject::{object_name, Watch};
use switchboard_core::request::{bearer_credential, query_params, url_origin};
use switchboard_core::{Config, Kind, ProviderId};
use worker::{Env, Request, Response};

use crate::api;
use crate::error::AppError;
use crate::protocol;

/// Accepts the socket for the subject `id` (or the subject it is an alias of). A subject with
/// no event yet can be watched by its id: its snapshot is `null` until the first event.
pub async fn upgrade(
    request: &Request,
    env: &Env,
    config: &Config,
    kind: Kind,
    provider: ProviderId,
    id: &str,
) -> Result<Response, AppError> {
    let headers = request.headers();
    let upgrade = headers.get("upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(AppError::UpgradeRequired);
    }
    // Browsers always send their page's origin with a WebSocket, and no preflight protects it.
    // The worker's own pages (the dashboard) are allowed, as is any listed origin.
    if let Some(origin) = headers.get("origin")? {
        let url = request.inner().url();
        let own = origin == url_origin(&url) || config.public_base_url.as_ref() == Some(&origin);
        if !own && !config.cors_allow_origins.contains(&origin) {
            return Err(AppError::OriginNotAllowed);
        }
    }
    let protocols = headers.get("sec-websocket-protocol")?.unwrap_or_default();
    let offered = OfferedProtocols::parse(&protocols);
    if offered.any && !offered.switchboard {
        return Err(AppError::InvalidParameter(
            "Sec-WebSocket-Protocol: offer `switchboard.v1` beside any other".into(),
        ));
    }
    let authorization = headers.get("authorization")?.unwrap_or_default();
    let query_token = query_params(&request.inner().url())
        .into_iter()
        .find(|(name, _)| name == "access_token")
        .map(|(_, value)| value);
    let credential = bearer_credential(&authorization)
        .or(offered.bearer)
        .or(query_token.as_deref())
        .unwrap_or("");
    let caller = api::authorize(credential, config)?;
    // The path may name the subject by an alias: the socket belongs to the subject's object.
    let located = match api::locate_in_scope(env, &caller, kind, provider, id).await? {
        Some(located) => Some(located),
        None => api::locate(env, kind, provider, id).await?,
    };
    let name = located.map_or_else(|| object_name(provider, kind, id), |located| located.name);
    let watch = Watch {
        expires_ms: caller.expires_ms(),
        answer_subprotocol: offered.any,
    };
    protocol::watch(env, &name, &watch).await
}
