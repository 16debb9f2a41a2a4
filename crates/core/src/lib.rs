//! Switchboard's pure core: everything that decides whether a telephony webhook is genuine and
//! what it means, with no I/O, no clock and no dependency on the Workers runtime.
//!
//! * [`request`]: the raw request as received (also the CLI's captured-request file format);
//! * [`provider`]: the trait each provider module implements (verify → normalize; sign);
//! * [`providers`]: the provider modules, and [`registry`]: the one list of them;
//! * [`model`]: the normalized event and the status vocabulary;
//! * [`state`]: the order-independent per-call / per-message state machine;
//! * [`live`]: the frames and subprotocols of the live sockets;
//! * [`protocol`]: the routes, RPC methods and messages between the worker and its Durable
//!   Objects;
//! * [`delivery`]: the endpoints events are delivered to, their payload, signature and retries;
//! * [`access`]: who may read what through the status API (status API and browser tokens);
//! * [`route`]: the routes the worker serves, for its router and its OpenAPI document;
//! * [`config`], [`secret`]: typed configuration and constant-time comparison;
//! * [`crypto`]: the primitives the providers share (HMAC, constant-time tag checks, SHA-256 hex).
//!
//! All cryptography lives in this crate. Time is always an argument ([`time::Timestamp`]).

#![forbid(unsafe_code)]

pub mod access;
pub mod config;
pub mod crypto;
pub mod delivery;
pub mod error;
pub mod index;
mod jwt;
pub mod live;
pub mod model;
pub mod protocol;
pub mod provider;
pub mod providers;
pub mod registry;
pub mod request;
pub mod retention;
pub mod route;
pub mod secret;
pub mod sources;
pub mod state;
pub mod time;

pub use config::Config;
pub use error::{ErrorClass, ErrorCode, WebhookError};
pub use model::{Event, Kind, ProviderId, Status};
pub use provider::{Provider, Scheme, Signer, SingleUseToken};
pub use registry::{configured_provider, configured_signer, PROVIDERS};
pub use request::CapturedRequest;
pub use state::{SubjectState, Summary};
pub use time::Timestamp;
