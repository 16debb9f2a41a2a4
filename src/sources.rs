//! Source health: what each webhook came to is counted in the isolate
//! (`switchboard_core::sources::Batch`) once it has been answered, and the batch goes to each
//! provider's `Source` object (`src/source.rs`) [`FLUSH_EVERY_MS`] after its first request,
//! through `waitUntil`: nothing is written before a webhook's acknowledgement, and no object
//! takes a request per webhook. `GET /v1/sources` reads the seven objects.
//!
//! The flush is best effort: a provider's part that its object does not take is put back and
//! tried again ([`FLUSH_TRIES`] times in one `waitUntil`, then with the next flush; counted
//! twice if the object stored it but its answer was lost), and the counts of an isolate evicted
//! before its flush are lost. Events never depend on it.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use futures_util::future::join_all;
use serde::Serialize;
use switchboard_core::protocol::source::{self, HEALTH_URL, MAINTAIN_URL, RECORD_URL};
use switchboard_core::providers::vonage_business::keeper::KeeperState;
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
    /// When the flush of the current batch was scheduled (`waitUntil`), unix milliseconds.
    static FLUSH_SCHEDULED_AT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A flush scheduled this long ago that has not started was dropped with its request (a
/// `waitUntil` is best effort): the next request schedules another.
const FLUSH_OVERDUE_MS: u64 = 6 * FLUSH_EVERY_MS as u64;

/// How many times a flush is tried within one `waitUntil` while a provider's part is put back
/// ([`FLUSH_EVERY_MS`] apart: within the 30 s a `waitUntil` may run after the answer).
const FLUSH_TRIES: u32 = 3;

/// Counts one answered webhook request, and schedules the batch's flush if none is.
pub fn record(
    context: &Context,
    env: &Env,
    provider: ProviderId,
    outcome: Outcome,
    sample: impl FnOnce() -> RefusalSample,
) {
    let now = worker::Date::now().as_millis();
    let at = Timestamp::from_millis(now as i64);
    BATCH.with(|batch| batch.borrow_mut().record(provider, at, outcome, sample));
    let pending = FLUSH_SCHEDULED_AT.get();
    if pending.is_some_and(|scheduled| now.saturating_sub(scheduled) < FLUSH_OVERDUE_MS) {
        return;
    }
    FLUSH_SCHEDULED_AT.set(Some(now));
    let env = env.clone();
    context.wait_until(async move {
        for _ in 0..FLUSH_TRIES {
            Delay::from(Duration::from_millis(FLUSH_EVERY_MS as u64)).await;
            if flush(&env).await {
                break;
            }
        }
    });
}

/// Sends this isolate's batch to the providers' objects, and answers whether every part was
/// taken. A part an object did not take is logged and put back for the next flush.
async fn flush(env: &Env) -> bool {
    FLUSH_SCHEDULED_AT.set(None);
    let batches = BATCH.with(|batch| batch.borrow_mut().take());
    let sent = batches.into_iter().map(|(provider, part)| async move {
        let result = send(env, provider, &part).await;
        (provider, part, result)
    });
    let mut all_taken = true;
    for (provider, part, result) in join_all(sent).await {
        if let Err(error) = result {
            all_taken = false;
            let line = serde_json::json!({
                "event": "source_flush_failed",
                "provider": provider,
                "detail": error.log_detail(),
            });
            worker::console_error!("{line}");
            BATCH.with(|batch| batch.borrow_mut().restore(provider, part));
        }
    }
    all_taken
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
        status => Err(AppError::Storage(format!(
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

/// `POST /v1/sources/vonage-business/maintain`: runs the VIS keeper now, for the status API
/// token, and answers what it recorded.
pub async fn maintain(env: &Env, caller: &Caller) -> Result<Response, AppError> {
    caller.require_full("running the VIS keeper needs the status API token")?;
    let state = run_keeper(env).await?;
    Ok(Response::from_json(&state)?)
}

/// Asks the `vonage-business` object to run the keeper, and answers the state it recorded.
pub async fn run_keeper(env: &Env) -> Result<KeeperState, AppError> {
    let request = Request::new(MAINTAIN_URL, worker::Method::Post)?;
    let mut response = stub(env, ProviderId::VonageBusiness)?
        .fetch_with_request(request)
        .await
        .map_err(|error| AppError::Storage(format!("source vonage-business: {error}")))?;
    match response.status_code() {
        200 => Ok(response.json().await?),
        409 => Err(AppError::MaintenanceRunning),
        503 => Err(AppError::VisKeeperNotConfigured),
        status => Err(AppError::Internal(format!(
            "source vonage-business answered {status} to maintain"
        ))),
    }
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
/// batch is flushed first, so that what it counted is in (a part that fails is logged and
/// waits for the next flush; the read goes on).
pub async fn list(env: &Env, config: &Config, caller: &Caller) -> Result<Response, AppError> {
    caller.require_full("source health needs the status API token")?;
    flush(env).await;
    let reads = ProviderId::ALL.into_iter().map(|provider| async move {
        let mut response = stub(env, provider)?
            .fetch_with_str(HEALTH_URL)
            .await
            .map_err(|error| AppError::Storage(format!("source {provider}: {error}")))?;
        if response.status_code() != 200 {
            return Err(AppError::Storage(format!(
                "source {provider} answered {} to a health read",
                response.status_code()
            )));
        }
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
