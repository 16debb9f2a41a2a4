//! Every way a request can fail, mapped to one HTTP status and one stable `error` code.
//!
//! The body is always `{"error": "<code>", "message": "<text>"}`. Client errors say what was
//! wrong; server errors are logged with their cause and answer a fixed message, so nothing
//! internal (a stack, a binding name, a secret) reaches the caller. The codes and their statuses
//! are the core's ([`ErrorCode`], [`WebhookError::CODES`]), which the OpenAPI document lists.

use serde::Serialize;
use switchboard_core::access::AccessError;
use switchboard_core::{ErrorCode, WebhookError};
use worker::{Headers, Response};

#[derive(Debug)]
pub enum AppError {
    /// The provider rejected the webhook (signature, shape, content type).
    Webhook(WebhookError),
    NotFound(&'static str),
    UnknownProvider(String),
    MethodNotAllowed(&'static [&'static str]),
    PayloadTooLarge {
        limit: usize,
    },
    /// The resource exists but may not be handed out yet.
    TooEarly {
        retry_after_seconds: i64,
    },
    /// Kept once and dropped after its retention: what it was.
    Expired(&'static str),
    InvalidParameter(String),
    /// A JSON body that is not the request the route takes.
    InvalidBody(String),
    Unauthorized,
    /// A browser token refused (401: expired, forged, another `alg`), a request to mint one
    /// refused (400), or minting while `BROWSER_TOKEN_SECRET` is unset (503).
    Access(AccessError),
    /// The credential is valid but does not reach this resource: what it would need.
    OutOfScope(String),
    /// A live route asked for without `Upgrade: websocket`.
    UpgradeRequired,
    /// The subject holds as many sockets as it may.
    TooManySockets,
    /// A CORS preflight or a socket from an origin not in `CORS_ALLOW_ORIGINS`.
    OriginNotAllowed,
    /// The provider's secret is not configured: 503 so that the provider retries later.
    SourceNotConfigured(&'static str),
    /// The VIS keeper was asked to run while its credentials are unset.
    VisKeeperNotConfigured,
    /// The VIS keeper was asked to run while a run is under way.
    MaintenanceRunning,
    /// A setting is present but invalid.
    Config(String),
    /// A Durable Object or KV could not be reached or failed: 503 so that the caller retries.
    /// Details are logged, not returned.
    Storage(String),
    /// A bug: something that cannot fail did (an encode, a runtime call), or a Durable Object
    /// answered what the protocol does not allow. 500, which a provider retries as well.
    /// Details are logged, not returned.
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> u16 {
        match self.own_code() {
            Ok(code) => code.status(),
            Err(webhook) => webhook.class().status(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self.own_code() {
            Ok(code) => code.as_str(),
            Err(webhook) => webhook.code(),
        }
    }

    /// The worker's own code for this error, or the refused webhook's reason.
    fn own_code(&self) -> Result<ErrorCode, &WebhookError> {
        let code = match self {
            Self::Webhook(error) => return Err(error),
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::UnknownProvider(_) => ErrorCode::UnknownProvider,
            Self::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::TooEarly { .. } => ErrorCode::TooEarly,
            Self::Expired(_) => ErrorCode::Expired,
            Self::InvalidParameter(_) => ErrorCode::InvalidParameter,
            Self::InvalidBody(_) => ErrorCode::InvalidBody,
            Self::Unauthorized => ErrorCode::Unauthorized,
            Self::Access(error) => error.code(),
            Self::OutOfScope(_) => ErrorCode::OutOfScope,
            Self::UpgradeRequired => ErrorCode::UpgradeRequired,
            Self::TooManySockets => ErrorCode::TooManySockets,
            Self::OriginNotAllowed => ErrorCode::OriginNotAllowed,
            Self::SourceNotConfigured(_) => ErrorCode::SourceNotConfigured,
            Self::VisKeeperNotConfigured => ErrorCode::VisKeeperNotConfigured,
            Self::MaintenanceRunning => ErrorCode::MaintenanceRunning,
            Self::Config(_) => ErrorCode::ConfigInvalid,
            Self::Storage(_) => ErrorCode::StorageUnavailable,
            Self::Internal(_) => ErrorCode::InternalError,
        };
        Ok(code)
    }

    fn message(&self) -> String {
        match self {
            Self::Webhook(error) => error.to_string(),
            Self::NotFound(what) => format!("{what} not found"),
            Self::UnknownProvider(name) => format!("no provider named `{name}`"),
            Self::MethodNotAllowed(allowed) => format!("use {}", allowed.join(" or ")),
            Self::PayloadTooLarge { limit } => format!("body larger than {limit} bytes"),
            Self::TooEarly {
                retry_after_seconds,
            } => format!(
                "its signature could still be replayed; available in {retry_after_seconds} s"
            ),
            Self::Expired(what) => {
                format!("{what} was dropped after its retention (RAW_REQUEST_DAYS)")
            }
            Self::InvalidParameter(problem) | Self::InvalidBody(problem) => problem.clone(),
            Self::Unauthorized => "a valid `Authorization: Bearer <token>` is required".into(),
            Self::Access(error) => error.to_string(),
            Self::OutOfScope(need) => format!("this token's scope does not cover this: {need}"),
            Self::UpgradeRequired => {
                "a WebSocket upgrade (`Upgrade: websocket`) is required".into()
            }
            Self::TooManySockets => format!(
                "this subject has {} sockets open already",
                switchboard_core::live::MAX_SOCKETS_PER_SUBJECT
            ),
            Self::OriginNotAllowed => "this origin is not in CORS_ALLOW_ORIGINS".into(),
            Self::SourceNotConfigured(secret) => {
                format!("this source is disabled until `{secret}` is set; retry later")
            }
            Self::VisKeeperNotConfigured => {
                "the VIS keeper is off until VONAGE_BUSINESS_CLIENT_ID, \
                _CLIENT_SECRET, _USERNAME and _PASSWORD are set"
                    .into()
            }
            Self::MaintenanceRunning => {
                "a run is under way; its outcome is in GET /v1/sources".into()
            }
            Self::Config(_) => "the worker's configuration is invalid; retry later".into(),
            Self::Storage(_) => "storage is unavailable; retry later".into(),
            Self::Internal(_) => "an internal error occurred; retry later".into(),
        }
    }

    /// The cause to log, which for server errors is more than the caller is told.
    pub fn log_detail(&self) -> String {
        match self {
            Self::Config(detail) | Self::Storage(detail) | Self::Internal(detail) => detail.clone(),
            other => other.message(),
        }
    }

    pub fn into_response(self) -> worker::Result<Response> {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            message: String,
        }
        let body = Body {
            error: self.code(),
            message: self.message(),
        };
        let headers = Headers::new();
        headers.set("content-type", "application/json")?;
        match &self {
            Self::MethodNotAllowed(allowed) => headers.set("allow", &allowed.join(", "))?,
            Self::Unauthorized => headers.set("www-authenticate", "Bearer")?,
            Self::Access(_) if self.status() == 401 => headers.set("www-authenticate", "Bearer")?,
            Self::SourceNotConfigured(_)
            | Self::Config(_)
            | Self::Storage(_)
            | Self::Access(AccessError::NotConfigured) => headers.set("retry-after", "60")?,
            Self::TooEarly {
                retry_after_seconds,
            } => headers.set("retry-after", &retry_after_seconds.to_string())?,
            _ => {}
        }
        let json = serde_json::to_vec(&body)?;
        Ok(Response::from_bytes(json)?
            .with_status(self.status())
            .with_headers(headers))
    }
}

impl From<WebhookError> for AppError {
    fn from(error: WebhookError) -> Self {
        Self::Webhook(error)
    }
}

impl AppError {
    /// A failed call to a Durable Object or KV.
    pub fn storage(error: worker::Error) -> Self {
        Self::Storage(error.to_string())
    }
}

/// A runtime call that is not a storage call (those go through `src/protocol.rs` and
/// [`AppError::storage`]) failed: a bug.
impl From<worker::Error> for AppError {
    fn from(error: worker::Error) -> Self {
        Self::Internal(error.to_string())
    }
}

impl From<worker::KvError> for AppError {
    fn from(error: worker::KvError) -> Self {
        Self::Storage(format!("kv: {error:?}"))
    }
}
