//! Requests the worker makes to others (deliveries, the VIS API), each abandoned after a time.

use std::time::Duration;

use futures_util::future::{select, Either};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::{wasm_bindgen, wasm_bindgen_futures, web_sys, Delay};

/// Fetches `url` as `init` says, abandoning the request (aborted) after `timeout`: `Err` says
/// why there is no answer. The timer is a `Delay` raced with the fetch: dropped once the answer
/// comes, it clears its timeout, which would otherwise keep a Durable Object from hibernating
/// until it fires (`AbortSignal.timeout` keeps its timer running).
pub async fn fetch_within(
    url: &str,
    init: &web_sys::RequestInit,
    timeout: Duration,
) -> Result<web_sys::Response, String> {
    let controller = web_sys::AbortController::new().map_err(describe)?;
    init.set_signal(Some(&controller.signal()));
    let request = web_sys::Request::new_with_str_and_init(url, init).map_err(describe)?;
    let global: web_sys::WorkerGlobalScope = worker::js_sys::global().unchecked_into();
    let sent = JsFuture::from(global.fetch_with_request(&request));
    match select(sent, Delay::from(timeout)).await {
        Either::Left((Ok(response), _)) => Ok(response.unchecked_into()),
        Either::Left((Err(error), _)) => Err(describe(error)),
        Either::Right(((), _)) => {
            controller.abort();
            Err(format!("no answer within {} s", timeout.as_secs()))
        }
    }
}

fn describe(error: wasm_bindgen::JsValue) -> String {
    worker::Error::from(error).to_string()
}
