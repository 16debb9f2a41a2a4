//! Source health: what each webhook came to is counted in the isolate
//! (`switchboard_core::sources::Batch`) once it has been answered, and the batch goes to each
//! provider's `Source` object (`src/source.rs`) [`FLUSH_EVERY_MS`] after its first request,
//! through `waitUntil`: nothing is written before a webhook's acknowledgement, and no object
//! takes a request per webhook. `GET /v1/sources` reads the seven objects.
//!
//! The flush is best effort: counts of an isolate that is evicted before its flush are lost.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;
use switchboard_core::protocol::source::{self, HEALTH_URL, RECORD_URL};
use switchboard_core::sources::{
    Batch, Health, Outcome, ProviderBatch, RefusalSample, FLUSH_EVERY_MS,
};
use switchboard_core::{configured_provider, Config, ProviderId, Timestamp};
use worker::{web_sys, Context, Delay, Env, Headers, Request, Response};

use crate::api::Caller;
use crate::error::AppError;

thread_local! {
    /// What this isolate has counted since its last flush.
    static BATCH: RefCell<Batch> = RefCell::new(Batch::default());
    /// A flush is scheduled (`waitUntil`) for the current batch.
    static FLUSH_SCHEDULED: Cell<bool> = const { Cell::new(false) };
}

/// Counts one answered webhook request, and schedules the batch's flush if none is.
pub fn record(
    context: &Context,
    env: &Env,
    provider: ProviderId,
    outcome: Outcome,
    sample: impl FnOnce() -> RefusalSample,
) {
    let at = Timestamp::from_millis(worker::Date::now().as_millis() as i64);
    BATCH.with(|batch| batch.borrow_mut().record(provider, at, outcome, sample));
    if !FLUSH_SCHEDULED.with(|scheduled| scheduled.replace(true)) {
        let env = env.clone();
        context.wait_until(async move {
            Delay::from(Duration::from_millis(FLUSH_EVERY_MS as u64)).await;
            if let Err(error) = flush(&env).await {
                let line = serde_json::json!({
                    "event": "source_flush_failed",
                    "detail": error.log_detail(),
                });
                worker::console_error!("{line}");
            }
        });
    }
}

/// Sends this isolate's batch to the providers' objects.
async fn flush(env: &Env) -> Result<(), AppError> {
    FLUSH_SCHEDULED.with(|scheduled| scheduled.set(false));
    let batches = BATCH.with(|batch| batch.borrow_mut().take());
    let sent = batches
        .iter()
        .map(|(provider, batch)| send(env, *provider, batch));
    for result in join_all(sent).await {
        result?;
    }
    Ok(())
}

async fn send(env: &Env, provider: ProviderId, batch: &ProviderBatch) -> Result<(), AppError> {
    let body = serde_json::to_string(batch).map_err(worker::Error::from)?;
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers.0);
    init.set_body(&body.into());
    let request = web_sys::Request::new_with_str_and_init(RECORD_URL, &init)
        .map(Request::from)
        .map_err(worker::Error::from)?;
    let response = stub(env, provider)?
        .fetch_with_request(request)
        .await
        .map_err(|error| AppError::Storage(format!("source {provider}: {error}")))?;
    match response.status_code() {
        204 => Ok(()),
        status => Err(AppError::Internal(format!(
            "source {provider} answered {status} to a batch"
        ))),
    }
}

fn stub(env: &Env, provider: ProviderId) -> Result<worker::Stub, AppError> {
    let stub = || {
        env.durable_object(source::CLASS.binding)?
            .id_from_name(provider.as_str())?
            .get_stub()
    };
    stub().map_err(|error| AppError::Storage(format!("source stub: {error}")))
}

/// One provider in `GET /v1/sources`.
#[derive(Serialize)]
struct Source {
    provider: ProviderId,
    configured: bool,
    #[serde(flatten)]
    health: Health,
}

/// `GET /v1/sources`: every provider's health, for the status API token. This isolate's own
/// batch is flushed first, so that what it counted is in.
pub async fn list(env: &Env, config: &Config, caller: &Caller) -> Result<Response, AppError> {
    caller.require_full("source health needs the status API token")?;
    flush(env).await?;
    let reads = ProviderId::ALL.into_iter().map(|provider| async move {
        let mut response = stub(env, provider)?
            .fetch_with_str(HEALTH_URL)
            .await
            .map_err(|error| AppError::Storage(format!("source {provider}: {error}")))?;
        let health: Health = response.json().await?;
        Ok::<_, AppError>(Source {
            provider,
            configured: configured_provider(config, provider).is_some(),
            health,
        })
    });
    let sources = join_all(reads)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    #[derive(Serialize)]
    struct Answer {
        sources: Vec<Source>,
    }
    Ok(Response::from_json(&Answer { sources })?)
}
