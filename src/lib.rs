//! Switchboard's worker: routes, configuration, storage and error mapping around the pure
//! `switchboard-core`. Everything that decides what a webhook means lives in the core; this
//! crate only moves bytes between HTTP, the core, the `Subject` Durable Objects and KV.
//!
//! Routes:
//! * `GET|POST /webhooks/{provider}`: verify → normalize → commit in the subject's Durable
//!   Object → 200. Nothing is acknowledged before it is committed.
//! * `GET /v1/{calls|messages}` (list), `GET /v1/{calls|messages}/{provider}/{id}`,
//!   `…/events`, `…/events/{event_id}/request`: the status API (bearer token: a status API
//!   token or a browser token within its scope); `POST /v1/tokens` mints browser tokens.
//! * `GET /v1/{calls|messages}/{provider}/{id}/live`: a WebSocket that watches one subject.
//! * `GET /healthz`.
//!
//! The router dispatches through `switchboard_core::route`'s table, which `public/openapi.json`
//! (a static asset, `GET /openapi.json`) documents; the static assets (that document, the
//! browser client) are fetched from the `ASSETS` binding for `GET` and `HEAD`.

mod api;
mod cors;
mod deliveries;
mod erasure;
mod error;
mod fetch;
mod index;
mod live;
mod outbox;
mod protocol;
mod sockets;
mod source;
mod sources;
mod subject;
mod token_guard;
mod vis_keeper;
mod webhook;

use std::cell::OnceCell;
use std::rc::Rc;

use serde::Serialize;
use switchboard_core::error::echo;
use switchboard_core::protocol::subject::Read;
use switchboard_core::request::{url_origin, url_path};
use switchboard_core::route::{path_segments, static_file, Route, DASHBOARD_PATH};
use switchboard_core::sources::{Outcome, RefusalSample};
use switchboard_core::{Config, ProviderId};
use worker::{
    event, web_sys, Context, Date, Env, Headers, Request, Response, Result, ScheduleContext,
    ScheduledEvent,
};

use crate::error::AppError;

/// Facts about one request for its log line.
#[derive(Default, Serialize)]
struct RequestLog {
    request_id: String,
    method: String,
    route: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<String>,
    outcome: &'static str,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    events: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicates: Option<usize>,
    /// Provider status words this version does not know: stored, and worth a look.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unknown_words: Vec<String>,
    latency_ms: u64,
    /// The request's path, for a refused webhook's sample (not logged: the route says enough).
    #[serde(skip)]
    path: String,
}

/// The Cron Trigger (wrangler.toml `[triggers]`): runs the VIS keeper when it is configured.
/// A failure is the run's own (logged and recorded in source health); nothing else waits on it.
#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _context: ScheduleContext) {
    let configured = load_config(&env).is_ok_and(|config| config.vis_keeper.is_some());
    if configured {
        if let Err(error) = sources::run_keeper(&env).await {
            let line = serde_json::json!({
                "event": "vis_keeper_not_run",
                "detail": error.log_detail(),
            });
            worker::console_error!("{line}");
        }
    }
}

/// The runtime's request as it arrives: a webhook is read from it directly, and only the status
/// API wraps it in a `worker::Request` (which copies the method, the path and `request.cf` out
/// of the runtime, work a webhook does not need).
#[event(fetch)]
async fn fetch(request: web_sys::Request, env: Env, context: Context) -> Result<Response> {
    let started = Date::now().as_millis();
    let headers = Headers(request.headers());
    let mut log = RequestLog {
        request_id: headers
            .get("cf-ray")?
            .unwrap_or_else(|| format!("local-{started}")),
        method: request.method(),
        ..RequestLog::default()
    };

    let mut response = match route(request, &headers, &env, &mut log).await {
        Ok(response) => {
            log.outcome = "ok";
            response
        }
        Err(error) => {
            log.outcome = if error.status() >= 500 {
                "error"
            } else {
                "rejected"
            };
            log.reason = Some(error.code());
            log.detail = Some(error.log_detail());
            error.into_response()?
        }
    };
    // A live socket's 101 carries the object's socket: its headers stay as the object set them.
    if matches!(log.route, "status_api" | "live") && response.status_code() != 101 {
        let origin = allowed_origin(&env, headers.get("origin")?);
        response = cors::apply(response, origin.as_deref())?;
    }
    log.status = response.status_code();
    if log.route == "webhook" {
        count_webhook(&context, &env, &log);
    }
    log.latency_ms = Date::now().as_millis().saturating_sub(started);
    if let Ok(line) = serde_json::to_string(&log) {
        worker::console_log!("{line}");
    }
    Ok(response)
}

async fn route(
    request: web_sys::Request,
    headers: &Headers,
    env: &Env,
    log: &mut RequestLog,
) -> std::result::Result<Response, AppError> {
    let url = request.url();
    log.path = url_path(&url).to_owned();
    let segments = path_segments(&log.path);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();

    let Some(route) = Route::parse(&segments) else {
        let path = url_path(&url);
        if path == "/" {
            log.route = "asset";
            require_method(&log.method, &["GET", "HEAD"])?;
            let mut response = Response::empty()?.with_status(302);
            response.headers_mut().set("location", DASHBOARD_PATH)?;
            return Ok(response);
        }
        if let Some(file) = static_file(path) {
            log.route = "asset";
            require_method(&log.method, &["GET", "HEAD"])?;
            return static_asset(request, &url, file, env).await;
        }
        log.route = "unknown";
        return Err(AppError::NotFound("route"));
    };
    log.route = match route {
        Route::Healthz => "healthz",
        Route::Webhook { .. } => "webhook",
        Route::Live { .. } => "live",
        _ => "status_api",
    };
    if log.method == "OPTIONS" && route.template().answers_preflight() {
        return cors::preflight(&Request::from(request), &*load_config(env)?);
    }
    require_method(&log.method, route.template().methods)?;
    match route {
        Route::Healthz => Ok(Response::from_json(&serde_json::json!({ "status": "ok" }))?),
        Route::Webhook { provider } => {
            log.provider = Some(echo(provider));
            let provider = parse_provider(provider)?;
            let config = load_config(env)?;
            webhook::receive(&request, &url, headers, env, &config, provider, log).await
        }
        Route::Tokens => {
            let (config, caller, body) =
                status_api_post(request, headers, env, api::MAX_TOKEN_REQUEST_BYTES).await?;
            api::mint(&body, &config, &caller)
        }
        Route::Deliveries { kind, provider, id } => {
            let (_, _, caller) = status_api(request, env)?;
            deliveries::list(env, &caller, kind, provider, id).await
        }
        Route::RetryDeliveries { kind, provider, id } => {
            let (config, caller, body) =
                status_api_post(request, headers, env, deliveries::MAX_RETRY_REQUEST_BYTES).await?;
            deliveries::retry(&body, env, &config, &caller, kind, provider, id).await
        }
        Route::FailedDeliveries => {
            let (config, request, caller) = status_api(request, env)?;
            deliveries::list_failed(&request, env, &config, &caller).await
        }
        Route::RetryFailedDeliveries => {
            let (config, caller, body) =
                status_api_post(request, headers, env, deliveries::MAX_RETRY_REQUEST_BYTES).await?;
            deliveries::retry_failed(&body, env, &config, &caller).await
        }
        Route::Sources => {
            let (config, _, caller) = status_api(request, env)?;
            sources::list(env, &config, &caller).await
        }
        Route::Config => {
            let (config, _, caller) = status_api(request, env)?;
            api::config_overview(&config, &caller)
        }
        Route::MaintainVis => {
            let (_, _, caller) = status_api(request, env)?;
            sources::maintain(env, &caller).await
        }
        Route::Live { kind, provider, id } => {
            log.provider = Some(echo(provider));
            let provider = parse_provider(provider)?;
            let config = load_config(env)?;
            live::upgrade(&Request::from(request), env, &config, kind, provider, id).await
        }
        Route::List { kind } => {
            let (config, request, caller) = status_api(request, env)?;
            api::list(&request, env, &config, &caller, kind).await
        }
        Route::Subject { kind, provider, id } => {
            let erase = log.method == "DELETE";
            let (_, _, caller) = status_api(request, env)?;
            if erase {
                api::erase(env, &caller, kind, provider, id).await
            } else {
                api::read(env, &caller, kind, provider, id, &Read::Summary).await
            }
        }
        Route::Erase => {
            let (_, caller, body) =
                status_api_post(request, headers, env, api::MAX_ERASE_REQUEST_BYTES).await?;
            api::erase_number(&body, env, &caller).await
        }
        Route::Events { kind, provider, id } => {
            let (_, _, caller) = status_api(request, env)?;
            api::read(env, &caller, kind, provider, id, &Read::Events).await
        }
        Route::Request {
            kind,
            provider,
            id,
            event_id,
        } => {
            let (config, _, caller) = status_api(request, env)?;
            api::export(env, &config, &caller, kind, provider, id, event_id).await
        }
    }
}

/// The static `file` from the assets binding, for a `GET` or `HEAD` of `url`: the request itself
/// when its path is the file's, else the file at the same origin (the dashboard's page for
/// `/dashboard`).
async fn static_asset(
    request: web_sys::Request,
    url: &str,
    file: &str,
    env: &Env,
) -> std::result::Result<Response, AppError> {
    let request = if url_path(url) == file {
        Request::from(request)
    } else {
        let init = web_sys::RequestInit::new();
        init.set_method(&request.method());
        init.set_headers(&request.headers());
        let file_url = format!("{}{file}", url_origin(url));
        web_sys::Request::new_with_str_and_init(&file_url, &init)
            .map(Request::from)
            .map_err(worker::Error::from)?
    };
    env.assets(ASSETS_BINDING)
        .map_err(AppError::storage)?
        .fetch_request(request)
        .await
        .map_err(AppError::storage)
}

/// Counts an answered webhook for its provider's health (`src/sources.rs`).
fn count_webhook(context: &Context, env: &Env, log: &RequestLog) {
    let Some(provider) = log.provider.as_deref().and_then(|name| name.parse().ok()) else {
        return;
    };
    let outcome = match log.reason {
        None => Outcome::Accepted {
            events: log.events.unwrap_or_default() as u64,
            duplicates: log.duplicates.unwrap_or_default() as u64,
        },
        Some(code) => Outcome::Refused { code },
    };
    sources::record(context, env, provider, outcome, || {
        let at = switchboard_core::Timestamp::from_millis(Date::now().as_millis() as i64);
        // A server error's detail is for the log only.
        let check = match log.status {
            400..=499 => log.detail.as_deref().unwrap_or_default(),
            _ => "",
        };
        RefusalSample::new(
            at,
            log.reason.unwrap_or_default(),
            &log.method,
            &log.path,
            check,
        )
    });
}

/// The configuration, the request, and its authorized caller, for a read of the status API.
fn status_api(
    request: web_sys::Request,
    env: &Env,
) -> std::result::Result<(Rc<Config>, Request, api::Caller), AppError> {
    let config = load_config(env)?;
    let request = Request::from(request);
    let caller = api::authorize_request(&request, &config)?;
    Ok((config, request, caller))
}

/// The configuration, the authorized caller and the body (up to `limit` bytes) of a status API
/// `POST`.
async fn status_api_post(
    request: web_sys::Request,
    headers: &Headers,
    env: &Env,
    limit: usize,
) -> std::result::Result<(Rc<Config>, api::Caller, Vec<u8>), AppError> {
    let (config, request, caller) = status_api(request, env)?;
    let body = webhook::read_body(request.inner(), headers, limit).await?;
    Ok((config, caller, body))
}

/// A provider named in a path: 404 `unknown_provider` when there is none of that name.
fn parse_provider(provider: &str) -> std::result::Result<ProviderId, AppError> {
    provider
        .parse()
        .map_err(|_| AppError::UnknownProvider(echo(provider)))
}

/// Checks the method exactly as received. (`worker::Method` cannot be used for this: it reads
/// every method it does not know, e.g. `PROPFIND` or `MKCOL`, as `GET`.)
fn require_method(
    method: &str,
    allowed: &'static [&'static str],
) -> std::result::Result<(), AppError> {
    if allowed.contains(&method) {
        Ok(())
    } else {
        Err(AppError::MethodNotAllowed(allowed))
    }
}

/// `origin` if the configuration lists it in `CORS_ALLOW_ORIGINS`.
fn allowed_origin(env: &Env, origin: Option<String>) -> Option<String> {
    let origin = origin?;
    let config = load_config(env).ok()?;
    config
        .cors_allow_origins
        .contains(&origin)
        .then_some(origin)
}

/// The static assets' binding (wrangler.toml `[assets]`).
const ASSETS_BINDING: &str = "ASSETS";

thread_local! {
    /// The configuration, parsed once per isolate: vars and secrets do not change while an
    /// isolate lives (a new `wrangler secret put` or deploy starts new isolates).
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

/// The typed configuration from vars and secrets (`.dev.vars` locally). An invalid value is
/// reported on every request until it is fixed, never cached.
pub(crate) fn load_config(env: &Env) -> std::result::Result<Rc<Config>, AppError> {
    if let Some(config) = CONFIG.with(|cell| cell.get().cloned()) {
        return Ok(config);
    }
    let config = Config::from_lookup(|name| env.var(name).ok().map(|value| value.to_string()))
        .map(Rc::new)
        .map_err(|error| AppError::Config(error.to_string()))?;
    CONFIG.with(|cell| cell.set(Rc::clone(&config)).ok());
    Ok(config)
}
