//! The contract every provider module implements.
//!
//! A provider turns the exact bytes of a webhook into normalized [`Event`]s in two steps that
//! cannot be swapped or mixed ([`Scheme`]): [`Scheme::check`] verifies the signature with the
//! provider's own scheme and answers what the signature covers, parsed once
//! ([`Scheme::Signed`]); [`Scheme::events`] reads the events from that parse alone, never from
//! the request again. So what is stored is what was signed: a value the check did not see, or
//! saw through another parse (another method, media type or decoder), cannot reach an event
//! (docs/security.md, "What is read is what was signed"). [`Provider`] is the object-safe face
//! every scheme gets; [`Signer::sign`] does the provider's side, for the CLI and tests.
//!
//! Adding a provider is one module under `providers/` implementing [`Scheme`] and [`Signer`],
//! its fixtures and one row in the [registry](crate::registry).

use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId};
use crate::request::CapturedRequest;
use crate::time::Timestamp;

/// A provider's signature scheme, in the two steps [`Provider`] runs in order.
pub trait Scheme {
    /// What the signature covers, as the check parsed it: everything [`Scheme::events`] may
    /// read.
    type Signed<'a>;

    fn id(&self) -> ProviderId;

    /// Checks the request's signature (and signed timestamp, where the scheme has one) against
    /// every configured secret, and answers the signed content. `now` is the current time; the
    /// core never reads a clock.
    fn check<'a>(
        &self,
        request: &'a CapturedRequest,
        now: Timestamp,
    ) -> Result<Self::Signed<'a>, WebhookError>;

    /// Maps the signed content to normalized events (usually one).
    fn events(
        &self,
        signed: Self::Signed<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError>;

    /// See [`Provider::is_known_word`].
    fn is_known_word(&self, kind: Kind, word: &str) -> bool;

    /// See [`Provider::single_use_token`].
    fn single_use_token(&self, _request: &CapturedRequest) -> Option<SingleUseToken> {
        None
    }
}

pub trait Provider {
    fn id(&self) -> ProviderId;

    /// Checks the request's signature (and signed timestamp, where the scheme has one) against
    /// every configured secret, as [`receive`](Provider::receive) does first.
    fn verify(&self, request: &CapturedRequest, now: Timestamp) -> Result<(), WebhookError>;

    /// Verifies, then maps what the signature covers to normalized events (usually one).
    fn receive(
        &self,
        request: &CapturedRequest,
        now: Timestamp,
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
    fn single_use_token(&self, request: &CapturedRequest) -> Option<SingleUseToken>;
}

impl<S: Scheme> Provider for S {
    fn id(&self) -> ProviderId {
        Scheme::id(self)
    }

    fn verify(&self, request: &CapturedRequest, now: Timestamp) -> Result<(), WebhookError> {
        self.check(request, now).map(|_| ())
    }

    fn receive(
        &self,
        request: &CapturedRequest,
        now: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        let signed = self.check(request, now)?;
        self.events(signed, now)
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        Scheme::is_known_word(self, kind, word)
    }

    fn single_use_token(&self, request: &CapturedRequest) -> Option<SingleUseToken> {
        Scheme::single_use_token(self, request)
    }
}

/// A signed token that may authorize one event only (see [`Provider::single_use_token`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleUseToken {
    /// Unique per token and provider (`vonage-jti:` and a digest of the JWT's `jti`).
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
