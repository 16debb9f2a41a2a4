//! The worker's side of `switchboard_core::protocol`: the calls to the Durable Objects, and the
//! `Subject`'s RPC methods, each named once in [`subject_rpc!`] and checked at compile time
//! against the protocol's names (which `crates/core/tests/entry_module.rs` checks the entry
//! module against).
//!
//! Every failure to reach an object, or an object's failure, is `AppError::Storage`; an answer
//! the protocol does not allow (a status, a value, a `TypeError` from an RPC method) is a bug on
//! one side, `AppError::Internal`.

use switchboard_core::protocol::subject::{self, Erase, Read, Retried, Retry, Watch, WatchAnswer};
use switchboard_core::protocol::token_guard::{self, Claim, ClaimAnswer};
use switchboard_core::protocol::{Class, ReadAnswer};
use wasm_bindgen::prelude::{wasm_bindgen, JsValue};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::js_sys::{Promise, TypeError};
use worker::{wasm_bindgen_futures, web_sys, Env, Headers, Request, Response, Stub};

use crate::error::AppError;
use crate::subject::Subject;

/// Whether two names are equal, at compile time.
const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares the `Subject`'s RPC methods, each from one identifier: the object's export (a
/// method of the wasm `Subject`, which the entry module's wrapper forwards to), the callers'
/// binding on [`SubjectStub`], and a compile-time check that the identifier is the protocol's
/// name and that every method of `subject::RPC` is declared. Each takes a JSON text and
/// answers a boolean; `$object` is the `Subject` method that serves it.
macro_rules! subject_rpc {
    ($($name:ident = $method:path => $object:ident;)*) => {
        $(
            const _: () = assert!(
                same_name(stringify!($name), $method.name),
                "an RPC method's name differs from switchboard_core::protocol"
            );
        )*
        const _: () = assert!(
            subject::RPC.len() == [$(stringify!($name)),*].len(),
            "switchboard_core::protocol::subject::RPC has methods not declared here"
        );

        #[wasm_bindgen(
            wasm_bindgen = worker::wasm_bindgen,
            wasm_bindgen_futures = worker::wasm_bindgen_futures,
            js_sys = worker::js_sys
        )]
        impl Subject {
            $(
                #[wasm_bindgen(js_name = $name)]
                pub fn $name(&self, body: String) -> std::result::Result<bool, JsValue> {
                    self.$object(&body)
                }
            )*
        }

        #[wasm_bindgen]
        extern "C" {
            /// A `Subject` stub, called over RPC.
            pub type SubjectStub;

            $(
                #[wasm_bindgen(method, catch, js_name = $name)]
                fn $name(this: &SubjectStub, body: &str) -> std::result::Result<Promise, JsValue>;
            )*
        }
    };
}

subject_rpc! {
    append = subject::APPEND => append_json;
    erase = subject::ERASE => erase_json;
}

fn stub(env: &Env, class: &Class, name: &str) -> Result<Stub, AppError> {
    let stub = || {
        env.durable_object(class.binding)?
            .id_from_name(name)?
            .get_stub()
    };
    stub().map_err(|error| AppError::Storage(format!("{} stub: {error}", class.name)))
}

/// Asks the subject `name` for `read`: its answer if it has one, `None` if it has nothing.
pub async fn read(env: &Env, name: &str, read: &Read<'_>) -> Result<Option<Response>, AppError> {
    let response = stub(env, &subject::CLASS, name)?
        .fetch_with_str(&read.url())
        .await
        .map_err(|error| AppError::Storage(format!("subject {name}: {error}")))?;
    match ReadAnswer::from_status(response.status_code()) {
        Some(ReadAnswer::Found) => Ok(Some(response)),
        Some(ReadAnswer::NotFound) => Ok(None),
        Some(ReadAnswer::Gone) => Err(AppError::Expired("this raw request")),
        None => Err(AppError::Internal(format!(
            "subject {name} answered {} to {read:?}",
            response.status_code()
        ))),
    }
}

/// Hands a socket to the subject `name` to watch it: the object's 101 answer, with the client's
/// end, to pass on.
pub async fn watch(env: &Env, name: &str, watch: &Watch) -> Result<Response, AppError> {
    let headers = Headers::new();
    headers.set("upgrade", "websocket")?;
    // The runtime's own `RequestInit`, not `worker::RequestInit`: converting that one brings
    // its `cf` properties' serde_wasm_bindgen serializers into the wasm, for a request that
    // sets none.
    let init = web_sys::RequestInit::new();
    init.set_headers(&headers.0);
    let request = web_sys::Request::new_with_str_and_init(&watch.url(), &init)
        .map(Request::from)
        .map_err(worker::Error::from)?;
    let response = stub(env, &subject::CLASS, name)?
        .fetch_with_request(request)
        .await
        .map_err(|error| AppError::Storage(format!("subject {name}: {error}")))?;
    match WatchAnswer::from_status(response.status_code()) {
        Some(WatchAnswer::Accepted) => Ok(response),
        Some(WatchAnswer::TooManySockets) => Err(AppError::TooManySockets),
        None => Err(AppError::Internal(format!(
            "subject {name} answered {} to a watch",
            response.status_code()
        ))),
    }
}

/// Asks the subject `name` to send deliveries again: how many it made pending, `None` if it has
/// no events.
pub async fn retry(env: &Env, name: &str, retry: &Retry) -> Result<Option<Retried>, AppError> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers.0);
    let body = serde_json::to_string(retry).map_err(worker::Error::from)?;
    init.set_body(&body.into());
    let request = web_sys::Request::new_with_str_and_init(Retry::URL, &init)
        .map(Request::from)
        .map_err(worker::Error::from)?;
    let mut response = stub(env, &subject::CLASS, name)?
        .fetch_with_request(request)
        .await
        .map_err(|error| AppError::Storage(format!("subject {name}: {error}")))?;
    match ReadAnswer::from_status(response.status_code()) {
        Some(ReadAnswer::Found) => Ok(Some(response.json().await?)),
        Some(ReadAnswer::NotFound) => Ok(None),
        Some(ReadAnswer::Gone) | None => Err(AppError::Internal(format!(
            "subject {name} answered {} to a retry",
            response.status_code()
        ))),
    }
}

/// Commits one event (`body`: a `subject::AppendRequest` as JSON text) in the subject `name`;
/// answers whether it was a duplicate.
pub async fn append(env: &Env, name: &str, body: &str) -> Result<bool, AppError> {
    let subject: SubjectStub = stub(env, &subject::CLASS, name)?.into_rpc();
    call_rpc(name, "append", |failure| {
        subject.append(body).map_err(failure)
    })
    .await
}

/// Erases the subject `name` (see `subject::ERASE`); answers whether it did.
pub async fn erase(env: &Env, name: &str, erase: &Erase) -> Result<bool, AppError> {
    let body = serde_json::to_string(erase).map_err(worker::Error::from)?;
    let subject: SubjectStub = stub(env, &subject::CLASS, name)?.into_rpc();
    call_rpc(name, "erase", |failure| {
        subject.erase(&body).map_err(failure)
    })
    .await
}

/// Calls an RPC method of the subject `name` (`method`, for errors) and reads its boolean
/// answer. A `TypeError` is a bug on one side; any other failure is the object's or its
/// storage's.
async fn call_rpc(
    name: &str,
    method: &str,
    call: impl FnOnce(&dyn Fn(JsValue) -> AppError) -> Result<Promise, AppError>,
) -> Result<bool, AppError> {
    let rpc_failure = |error: JsValue| {
        let bug = error.is_instance_of::<TypeError>();
        let detail = format!("subject {name}: {}", worker::Error::from(error));
        if bug {
            AppError::Internal(detail)
        } else {
            AppError::Storage(detail)
        }
    };
    let answer = JsFuture::from(call(&rpc_failure)?)
        .await
        .map_err(rpc_failure)?;
    answer.as_bool().ok_or_else(|| {
        AppError::Internal(format!("subject {name} answered {answer:?} to {method}"))
    })
}

/// Holds the single-use token `token_id` to the claim's events in its `TokenGuard`.
pub async fn claim(env: &Env, token_id: &str, claim: &Claim<'_>) -> Result<ClaimAnswer, AppError> {
    let response = stub(env, &token_guard::CLASS, token_id)?
        .fetch_with_str(&claim.url())
        .await
        .map_err(|error| AppError::Storage(format!("token guard: {error}")))?;
    ClaimAnswer::from_status(response.status_code()).ok_or_else(|| {
        AppError::Internal(format!(
            "token guard answered {} to a claim",
            response.status_code()
        ))
    })
}
