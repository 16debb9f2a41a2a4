//! Requests the worker makes to others (deliveries, the VIS API), each abandoned after a time.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{select, Either};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::js_sys::Uint8Array;
use worker::{wasm_bindgen, wasm_bindgen_futures, web_sys, Delay};

/// Fetches `url` as `init` says, abandoning the request (aborted) after `timeout`: `Err` says
/// why there is no answer. The answer's body is the caller's to read or cancel.
pub async fn fetch_within(
    url: &str,
    init: &web_sys::RequestInit,
    timeout: Duration,
) -> Result<web_sys::Response, String> {
    within(url, init, timeout, |response| async move { Ok(response) }).await
}

/// As [`fetch_within`], with the whole body read within the same `timeout`: the status and the
/// body.
pub async fn fetch_body_within(
    url: &str,
    init: &web_sys::RequestInit,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    within(url, init, timeout, |response| async move {
        let buffer = JsFuture::from(response.array_buffer()?).await?;
        Ok((response.status(), Uint8Array::new(&buffer).to_vec()))
    })
    .await
}

/// Fetches and then does `then` with the answer, all abandoned (the request aborted) after
/// `timeout`. The timer is a `Delay` raced with the work: dropped once the work is done, it
/// clears its timeout, which would otherwise keep a Durable Object from hibernating until it
/// fires (`AbortSignal.timeout` keeps its timer running).
async fn within<T, F, Then>(
    url: &str,
    init: &web_sys::RequestInit,
    timeout: Duration,
    then: Then,
) -> Result<T, String>
where
    Then: FnOnce(web_sys::Response) -> F,
    F: Future<Output = Result<T, JsValue>>,
{
    let controller = web_sys::AbortController::new().map_err(describe)?;
    init.set_signal(Some(&controller.signal()));
    let request = web_sys::Request::new_with_str_and_init(url, init).map_err(describe)?;
    let global: web_sys::WorkerGlobalScope = worker::js_sys::global().unchecked_into();
    let work = Box::pin(async move {
        let response = JsFuture::from(global.fetch_with_request(&request)).await?;
        then(response.unchecked_into()).await
    });
    match select(work, Delay::from(timeout)).await {
        Either::Left((outcome, _)) => outcome.map_err(describe),
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("no answer within {} s", timeout.as_secs()))
        }
    }
}

fn describe(error: JsValue) -> String {
    worker::Error::from(error).to_string()
}
