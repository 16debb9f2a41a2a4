//! Switchboard's pure core: everything that decides whether a telephony webhook is genuine and
//! what it means, with no I/O, no clock and no dependency on the Workers runtime.
//!
//! * [`request`]: the raw request as received (also the CLI's captured-request file format);
//! * [`provider`]: the trait each provider module implements (verify → normalize; sign);
//! * [`providers`]: the provider modules;
//! * [`model`]: the normalized event and the status vocabulary;
//! * [`state`]: the order-independent per-call / per-message state machine;
//! * [`protocol`]: the routes, RPC methods and messages between the worker and its Durable
//!   Objects;
//! * [`config`], [`secret`]: typed configuration and constant-time comparison;
//! * [`crypto`]: the primitives the providers share (HMAC, constant-time tag checks, SHA-256 hex).
//!
//! All cryptography lives in this crate. Time is always an argument ([`time::Timestamp`]).

#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
pub mod error;
pub mod index;
pub mod model;
pub mod protocol;
pub mod provider;
pub mod providers;
pub mod request;
pub mod secret;
pub mod state;
pub mod time;

pub use config::Config;
pub use error::{ErrorClass, WebhookError};
pub use model::{Event, Kind, ProviderId, Status};
pub use provider::{Provider, Scheme, Signer, SingleUseToken};
pub use request::CapturedRequest;
pub use state::{SubjectState, Summary};
pub use time::Timestamp;

/// The `match` that builds the provider named `$id` from `$config` as a `Box<dyn $role>`, or
/// `None` if its secret is not set: one list of providers for [`configured_provider`] and
/// [`configured_signer`], which stay two functions so that the worker links no signing code.
macro_rules! configured {
    ($config:expr, $id:expr, $role:ident) => {
        match $id {
            ProviderId::Vonage => $config
                .vonage
                .clone()
                .map(|vonage| Box::new(providers::vonage::Vonage::new(vonage)) as Box<dyn $role>),
            ProviderId::Bird => $config
                .bird
                .clone()
                .map(|bird| Box::new(providers::bird::Bird::new(bird)) as Box<dyn $role>),
            ProviderId::MessageBird => $config.messagebird.clone().map(|messagebird| {
                Box::new(providers::messagebird::MessageBird::new(messagebird)) as Box<dyn $role>
            }),
            ProviderId::VonageBusiness => $config.vonage_business.clone().map(|vonage_business| {
                Box::new(providers::vonage_business::VonageBusiness::new(
                    vonage_business,
                )) as Box<dyn $role>
            }),
            ProviderId::Telnyx => $config
                .telnyx
                .clone()
                .map(|telnyx| Box::new(providers::telnyx::Telnyx::new(telnyx)) as Box<dyn $role>),
            ProviderId::Twilio => $config
                .twilio
                .clone()
                .map(|twilio| Box::new(providers::twilio::Twilio::new(twilio)) as Box<dyn $role>),
            ProviderId::Plivo => $config
                .plivo
                .clone()
                .map(|plivo| Box::new(providers::plivo::Plivo::new(plivo)) as Box<dyn $role>),
        }
    };
}

/// Builds the provider named `id` from the configuration, or `None` if its secret is not set.
pub fn configured_provider(config: &Config, id: ProviderId) -> Option<Box<dyn Provider>> {
    configured!(config, id, Provider)
}

/// The same provider as [`configured_provider`], able to sign as well (CLI and tests).
pub fn configured_signer(config: &Config, id: ProviderId) -> Option<Box<dyn Signer>> {
    configured!(config, id, Signer)
}
