//! The contract every provider module implements.
//!
//! A provider turns the exact bytes of a webhook into normalized [`Event`]s in two steps that
//! cannot be swapped: [`Provider::verify`] checks the signature with the provider's own scheme
//! and returns a [`Verified`] token, and only that token can be passed to
//! [`Provider::normalize`]. [`Signer::sign`] does the provider's side, for the CLI and tests.
//!
//! Adding a provider is one module under `providers/` implementing both traits, plus fixtures.

use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId};
use crate::request::CapturedRequest;
use crate::time::Timestamp;

/// A request whose signature has been checked. Only provider modules can create one.
#[derive(Debug, Clone, Copy)]
pub struct Verified<'a> {
    request: &'a CapturedRequest,
}

impl<'a> Verified<'a> {
    pub(crate) fn new(request: &'a CapturedRequest) -> Self {
        Self { request }
    }

    pub fn request(&self) -> &'a CapturedRequest {
        self.request
    }
}

pub trait Provider {
    fn id(&self) -> ProviderId;

    /// Checks the request's signature (and signed timestamp, where the scheme has one) against
    /// every configured secret. `now` is the current time; the core never reads a clock.
    fn verify<'a>(
        &self,
        request: &'a CapturedRequest,
        now: Timestamp,
    ) -> Result<Verified<'a>, WebhookError>;

    /// Maps a verified request to normalized events (usually one).
    fn normalize(
        &self,
        request: Verified<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError>;

    /// Whether `word` is in this provider's documented vocabulary for `kind`. Unknown words are
    /// stored (status unchanged) and the worker logs them, so a new provider word is noticed.
    fn is_known_word(&self, kind: Kind, word: &str) -> bool;

    /// The single-use token that authorizes `request`, when its signature does not cover the
    /// content the event is read from and only remembering the token makes one token worth one
    /// event (a Vonage voice `GET` event: the JWT does not cover the query). The worker keeps
    /// each such token, in an object of its own, until it expires, and refuses a second event
    /// under it ([`WebhookError::ReplayedToken`]). `None` for every other request. Call it only
    /// after [`receive`](Provider::receive) accepted the request.
    fn single_use_token(&self, _request: &CapturedRequest) -> Option<SingleUseToken> {
        None
    }

    /// Verifies, then normalizes.
    fn receive(
        &self,
        request: &CapturedRequest,
        now: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        let verified = self.verify(request, now)?;
        self.normalize(verified, now)
    }
}

/// A signed token that may authorize one event only (see [`Provider::single_use_token`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleUseToken {
    /// Unique per token and provider (`vonage:{jti}`).
    pub id: String,
    /// When the token stops being accepted anyway: until then it must be remembered.
    pub expires_at: Timestamp,
}

/// The provider's side of its scheme, for the CLI simulator and tests. A trait of its own, not a
/// method of [`Provider`]: the worker only verifies, and a `dyn Provider` whose vtable held
/// `sign` would link every provider's signing code into its wasm (Ed25519 signing included).
pub trait Signer: Provider {
    /// Signs `request` as the provider would at `now`, with the first configured secret.
    fn sign(
        &self,
        request: &CapturedRequest,
        now: Timestamp,
    ) -> Result<CapturedRequest, WebhookError>;
}
