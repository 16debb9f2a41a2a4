//! Vonage: Voice API call events (JWT) and SMS API delivery receipts (`sig`).
//! Spec: docs/providers/vonage.md (voice events and SMS).
//!
//! One endpoint receives both; the scheme is chosen by what the request carries, never guessed:
//!
//! * `Authorization: Bearer <JWT>` → a voice event ([`voice`]), or a Messages API status
//!   callback when it names a `message_uuid` and no leg ([`messages`]);
//! * else a `sig` parameter → an SMS delivery receipt ([`sms`]);
//! * else, if the parameters look like a voice event (`uuid`, `call_uuid` or
//!   `conversation_uuid`) → [`WebhookError::UnsignedCallback`]: Vonage documents rare unsigned
//!   callbacks that it retries signed on a 5xx ("In the rare case of an internal error, it is
//!   possible that the callback service will send an unsigned callback. By returning an HTTP 5xx
//!   response, a retry will be triggered", `Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
//!   _documentation/en/voice/voice-api/guides/signed-webhooks.md`);
//! * otherwise → [`WebhookError::MissingSignature`].

mod messages;
mod params;
pub mod sms;
pub mod voice;

use std::str::FromStr;

use self::params::Params;
use crate::config::{secret_setting, ConfigError, Settings};
use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId, UnknownName};
use crate::provider::{Scheme, Signer, SingleUseToken};
use crate::registry;
use crate::request::CapturedRequest;
use crate::secret::Secret;
use crate::time::Timestamp;

/// The SMS `sig` algorithm chosen in the Vonage Dashboard ("signature method").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsMethod {
    /// `md5(string + secret)`, the Dashboard default.
    Md5Hash,
    /// HMAC variants: `hex(HMAC(secret, string))`.
    Md5,
    Sha1,
    Sha256,
    Sha512,
}

impl FromStr for SmsMethod {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "md5hash" => Ok(Self::Md5Hash),
            "md5" => Ok(Self::Md5),
            "sha1" => Ok(Self::Sha1),
            "sha256" => Ok(Self::Sha256),
            "sha512" => Ok(Self::Sha512),
            _ => Err(UnknownName::new(name)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct VonageConfig {
    /// Signature secrets; any one may match (rotation). Never empty.
    pub secrets: Vec<Secret>,
    /// `None`: infer the SMS algorithm from the length of `sig`.
    pub sms_method: Option<SmsMethod>,
    pub tolerance_seconds: u32,
}

impl VonageConfig {
    /// Reads the signature secret(s) and `VONAGE_SIGNATURE_METHOD` (checked even while no secret
    /// is set).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        // A registry row without the setting fails to compile, not at run time.
        const METHOD: &str = match registry::entry(ProviderId::Vonage).method_setting {
            Some(name) => name,
            None => panic!("Vonage's registry row names its method setting"),
        };
        let name = METHOD;
        let sms_method = match settings.get(name) {
            None => None,
            Some(value) => Some(value.trim().parse::<SmsMethod>().map_err(|_| ConfigError {
                name: name.into(),
                problem: format!(
                    "`{}` is not one of md5hash, md5, sha1, sha256, sha512",
                    value.trim()
                ),
            })?),
        };
        let secrets = settings.secrets(secret_setting(ProviderId::Vonage));
        Ok((!secrets.is_empty()).then_some(Self {
            secrets,
            sms_method,
            tolerance_seconds: settings.tolerance_seconds,
        }))
    }
}

pub struct Vonage {
    config: VonageConfig,
}

impl Vonage {
    pub fn new(config: VonageConfig) -> Self {
        Self { config }
    }
}

/// Whether `word` is a `status` this version knows for `kind`. Events with other words are
/// stored with no normalized status (their word is kept in `provider_status`); the worker logs
/// them with this.
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    match kind {
        Kind::Call => voice::call_status(word).is_some(),
        Kind::Message => {
            sms::message_status(word).is_some()
                || word == sms::INBOUND
                || messages::message_status(word).is_some()
        }
    }
}

/// Fields only a voice event has (docs/providers/vonage.md; `call_uuid` on `human`/`machine` events).
const VOICE_FIELDS: [&str; 3] = ["uuid", "call_uuid", "conversation_uuid"];

/// What a Vonage signature covers, as the check read it ([`Scheme::Signed`]).
pub struct Signed<'a>(Content<'a>);

enum Content<'a> {
    /// A voice event's parameters: from the body the JWT's `payload_hash` covers, or from a
    /// `GET`'s query under a single-use token ([`voice::require_bound_shape`]); and that body.
    Voice { params: Params, body: &'a [u8] },
    /// A delivery receipt's parameters, every one covered by `sig`.
    Receipt(Vec<(String, String)>),
}

impl Scheme for Vonage {
    type Signed<'a> = Signed<'a>;

    fn id(&self) -> ProviderId {
        ProviderId::Vonage
    }

    fn check<'a>(
        &self,
        request: &'a CapturedRequest,
        now: Timestamp,
    ) -> Result<Signed<'a>, WebhookError> {
        let config = &self.config;
        if let Some(token) = request.bearer_token() {
            let claims = voice::verify_webhook(
                token,
                &request.body,
                &config.secrets,
                config.tolerance_seconds,
                now,
            )?;
            voice::require_bound_shape(request, &claims)?;
            return Ok(Signed(Content::Voice {
                params: Params::from_request(request)?,
                body: &request.body,
            }));
        }
        let params = Params::from_request(request)?;
        if params.contains("sig") {
            let params = params.into_flat()?;
            sms::verify_webhook(&params, config, now)?;
            Ok(Signed(Content::Receipt(params)))
        } else if VOICE_FIELDS.iter().any(|field| params.contains(field)) {
            Err(WebhookError::UnsignedCallback)
        } else {
            Err(WebhookError::MissingSignature(
                "neither an `Authorization: Bearer` JWT nor a `sig` parameter",
            ))
        }
    }

    fn events(
        &self,
        signed: Signed<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        let event = match signed.0 {
            Content::Voice { params, body } if messages::is_message(&params) => {
                Some(messages::normalize(&params, body, received_at)?)
            }
            Content::Voice { params, body } => voice::normalize(&params, body, received_at)?,
            Content::Receipt(params) => Some(sms::normalize(params, received_at)?),
        };
        Ok(event.into_iter().collect())
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        is_known_word(kind, word)
    }

    /// A voice `GET` event's JWT: it does not cover the query the event is read from.
    fn single_use_token(&self, request: &CapturedRequest) -> Option<SingleUseToken> {
        if request.method != "GET" {
            return None;
        }
        let claims =
            voice::verify_jwt_signature(request.bearer_token()?, &self.config.secrets).ok()?;
        voice::single_use_token(&claims, self.config.tolerance_seconds)
    }
}

impl Signer for Vonage {
    /// A request whose parameters carry `messageId` is signed as an SMS delivery receipt (with
    /// the configured method, `md5hash` by default); any other as a voice event (JWT).
    fn sign(
        &self,
        request: &CapturedRequest,
        now: Timestamp,
    ) -> Result<CapturedRequest, WebhookError> {
        let secret = self
            .config
            .secrets
            .first()
            .ok_or(WebhookError::MissingSignature(
                "no signature secret is configured",
            ))?;
        match Params::from_request(request) {
            Ok(params) if params.contains("messageId") => sms::sign(
                request,
                params,
                secret,
                self.config.sms_method.unwrap_or(SmsMethod::Md5Hash),
                now,
            ),
            _ => Ok(voice::sign(request, secret, now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_are_per_kind() {
        assert!(is_known_word(Kind::Call, "machine"));
        assert!(is_known_word(Kind::Message, "buffered"));
        assert!(!is_known_word(Kind::Call, "buffered"));
        assert!(!is_known_word(Kind::Message, "teleported"));
    }
}
