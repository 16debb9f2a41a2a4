//! Telnyx: Call Control v2 and Messaging webhooks (JSON) and TeXML status callbacks (form).
//! Spec: docs/providers/telnyx.md.
//!
//! Scheme, from `team-telnyx/telnyx-node@b9b12ca781db2dd9fba6ff189d1de2e35c04cd1f:src/lib/webhooks.ts`
//! and `team-telnyx/telnyx-python@6d68c8ca0036ba28c3406cca742f3d4939a4e58c:src/telnyx/lib/webhook_verification.py`:
//!
//! * header `telnyx-signature-ed25519`: base64 of the 64-byte Ed25519 signature;
//! * header `telnyx-timestamp`: unix seconds;
//! * signed message: the `telnyx-timestamp` value, `|`, then the raw body bytes;
//! * key: the account's public key (Mission Control → Keys & Credentials), base64 of 32 raw bytes;
//! * the timestamp must lie within the tolerance of now, in **both** directions, as the current
//!   node, python and ruby SDKs require (300 s there; `SIGNATURE_TOLERANCE_SECONDS` here).
//!
//! Signatures are checked with [`VerifyingKey::verify_strict`] (no small-order keys or
//! non-canonical `R`/`S`: one message has exactly one accepted signature per key). TeXML
//! callbacks carry the same headers over their raw form body (docs/providers/telnyx.md, "TeXML").
//!
//! The body is read only after the signature matched; the query string is never read, because
//! the signature does not cover it.

mod call_control;
mod texml;

pub use call_control::hangup_status;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::config::{secret_setting, ConfigError, Settings};
use crate::error::{echo, WebhookError};
use crate::model::{Event, Kind, ProviderId};
use crate::provider::{Scheme, Signer};
use crate::providers::shared::refuse_json_object_as_form;
use crate::registry;
use crate::request::{BodyKind, CapturedRequest};
use crate::time::Timestamp;

/// The signature header (base64 of 64 bytes).
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// The signed timestamp header (unix seconds).
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";

#[derive(Debug, Clone)]
pub struct TelnyxConfig {
    /// The account's public keys; a signature by any one is accepted (rotation). Never empty.
    pub public_keys: Vec<VerifyingKey>,
    /// The private half of a development key pair, used only by [`Signer::sign`] (the CLI
    /// simulator). Telnyx never hands out its signing key: production has `None`.
    pub signing_key: Option<SigningKey>,
    pub tolerance_seconds: u32,
}

impl TelnyxConfig {
    /// Reads the public key(s); the signing key is optional (simulator only).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        // A registry row without the setting fails to compile, not at run time.
        const SIGNING_KEY: &str = match registry::entry(ProviderId::Telnyx).signing_key_setting {
            Some(name) => name,
            None => panic!("Telnyx's registry row names its signing key setting"),
        };
        let name = secret_setting(ProviderId::Telnyx);
        let public_keys = Self::parse_public_keys(&settings.get(name).unwrap_or_default())
            .map_err(|problem| ConfigError {
                name: name.into(),
                problem,
            })?;
        if public_keys.is_empty() {
            return Ok(None);
        }
        let name = SIGNING_KEY;
        let signing_key = settings
            .get(name)
            .map(|value| Self::parse_signing_key(&value))
            .transpose()
            .map_err(|problem| ConfigError {
                name: name.into(),
                problem,
            })?;
        Ok(Some(Self {
            public_keys,
            signing_key,
            tolerance_seconds: settings.tolerance_seconds,
        }))
    }

    /// Parses `TELNYX_PUBLIC_KEY`: comma-separated base64 (standard alphabet, padding optional)
    /// of 32 raw bytes each, as Mission Control shows the key. Blank entries are dropped, so a
    /// blank value gives an empty list ("not configured"). An error names the bad entry by its
    /// position and never quotes it.
    pub fn parse_public_keys(value: &str) -> Result<Vec<VerifyingKey>, String> {
        let entries: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect();
        let count = entries.len();
        entries
            .into_iter()
            .enumerate()
            .map(|(index, entry)| {
                let position = format!("key {} of {count}", index + 1);
                let bytes = decode_32(entry).map_err(|problem| format!("{position} {problem}"))?;
                let key = VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| format!("{position} is not a valid Ed25519 public key"))?;
                if key.is_weak() {
                    return Err(format!(
                        "{position} is a weak (small-order) Ed25519 public key"
                    ));
                }
                Ok(key)
            })
            .collect()
    }

    /// Parses a development signing key: base64 of the 32-byte Ed25519 seed (RFC 8032 §5.1.5).
    /// The error never quotes the value.
    pub fn parse_signing_key(value: &str) -> Result<SigningKey, String> {
        decode_32(value.trim())
            .map(|seed| SigningKey::from_bytes(&seed))
            .map_err(|problem| format!("the signing key {problem}"))
    }
}

/// Base64 (padding optional) of exactly 32 bytes; the error says what is wrong, not the value.
fn decode_32(text: &str) -> Result<[u8; 32], String> {
    let bytes = BASE64
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .map_err(|_| "is not base64".to_owned())?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("is {} bytes, not 32 (base64 of the raw key)", bytes.len()))
}

pub struct Telnyx {
    config: TelnyxConfig,
}

impl Telnyx {
    pub fn new(config: TelnyxConfig) -> Self {
        Self { config }
    }
}

/// The signed message: `timestamp + "|" + body`.
pub fn signed_message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'|');
    message.extend_from_slice(body);
    message
}

/// Checks the signature of `body` at `timestamp` (the header value exactly as received) against
/// every key. The signature alone: the webhook check also requires a fresh timestamp.
pub fn verify_signature(
    timestamp: &str,
    signature: &str,
    body: &[u8],
    keys: &[VerifyingKey],
) -> Result<(), WebhookError> {
    let signature = BASE64
        .decode(signature.trim())
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or_else(|| {
            WebhookError::InvalidSignature(format!(
                "`{SIGNATURE_HEADER}` is not base64 of a 64-byte Ed25519 signature"
            ))
        })?;
    let message = signed_message(timestamp, body);
    let matched = keys.iter().fold(false, |matched, key| {
        matched | key.verify_strict(&message, &signature).is_ok()
    });
    if matched {
        Ok(())
    } else {
        Err(WebhookError::InvalidSignature(
            "Ed25519 signature matches no configured public key".into(),
        ))
    }
}

/// The full check: both headers present, the signature, then `telnyx-timestamp` within
/// `tolerance_seconds` of `now` either way. The window is judged only for a genuine signature,
/// so a forger learns nothing from the error.
pub(crate) fn verify_webhook(
    request: &CapturedRequest,
    config: &TelnyxConfig,
    now: Timestamp,
) -> Result<(), WebhookError> {
    let signature = request
        .header(SIGNATURE_HEADER)
        .filter(|value| !value.trim().is_empty())
        .ok_or(WebhookError::MissingSignature(
            "no `telnyx-signature-ed25519` header",
        ))?;
    let timestamp = request
        .header(TIMESTAMP_HEADER)
        .filter(|value| !value.trim().is_empty())
        .ok_or(WebhookError::MissingSignature(
            "no `telnyx-timestamp` header",
        ))?;
    verify_signature(timestamp, signature, &request.body, &config.public_keys)?;
    let seconds: i64 = timestamp.trim().parse().map_err(|_| {
        WebhookError::Malformed(format!("`{TIMESTAMP_HEADER}` is not unix seconds"))
    })?;
    if Timestamp::from_unix_seconds(seconds).within(now, config.tolerance_seconds) {
        Ok(())
    } else {
        Err(WebhookError::TimestampOutOfTolerance(echo(
            timestamp.trim(),
        )))
    }
}

/// Whether `word` is one this version knows for `kind`: a `call.*` event type or a TeXML
/// `CallStatus` for calls; a per-recipient status or a `message.*` event type for messages.
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    match kind {
        Kind::Call => {
            call_control::call_event_status(word).is_some() || texml::is_known_call_word(word)
        }
        Kind::Message => {
            call_control::message_status(word).is_some()
                || call_control::MESSAGE_EVENT_TYPES.contains(&word)
        }
    }
}

/// What a Telnyx signature covers and an event is read from: the body, with the media type it
/// is read as ([`Scheme::Signed`]).
pub struct Signed<'a> {
    body: &'a [u8],
    kind: BodyKind,
}

impl Scheme for Telnyx {
    type Signed<'a> = Signed<'a>;

    fn id(&self) -> ProviderId {
        ProviderId::Telnyx
    }

    fn check<'a>(
        &self,
        request: &'a CapturedRequest,
        now: Timestamp,
    ) -> Result<Signed<'a>, WebhookError> {
        verify_webhook(request, &self.config, now)?;
        Ok(Signed {
            body: &request.body,
            kind: request.body_kind(),
        })
    }

    /// A JSON body is a Call Control v2 or Messaging event (or an event type about neither: no
    /// event); a form body a TeXML callback. `Content-Type` is not signed: a JSON object sent as
    /// a form is refused ([`refuse_json_object_as_form`]), so a message's text cannot be read as
    /// TeXML parameters.
    fn events(
        &self,
        signed: Signed<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        let event = match signed.kind {
            BodyKind::Json => call_control::normalize(signed.body, received_at)?,
            BodyKind::Form => {
                refuse_json_object_as_form(signed.body)?;
                Some(texml::normalize(signed.body, received_at)?)
            }
            BodyKind::Empty => return Err(WebhookError::Malformed("the body is empty".into())),
            BodyKind::Other(media_type) => {
                return Err(WebhookError::UnsupportedContentType(media_type))
            }
        };
        Ok(event.into_iter().collect())
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        is_known_word(kind, word)
    }
}

impl Signer for Telnyx {
    /// Sets `telnyx-timestamp` to `now` and `telnyx-signature-ed25519` over it and the body, with
    /// the configured development signing key.
    fn sign(
        &self,
        request: &CapturedRequest,
        now: Timestamp,
    ) -> Result<CapturedRequest, WebhookError> {
        let key = self
            .config
            .signing_key
            .as_ref()
            .ok_or(WebhookError::MissingSignature(
                "no Telnyx signing key is configured (development key pairs only)",
            ))?;
        Ok(sign_with(request, key, now))
    }
}

/// `request` with both Telnyx headers set as Telnyx would at `now`, signed by `key`.
pub fn sign_with(request: &CapturedRequest, key: &SigningKey, now: Timestamp) -> CapturedRequest {
    let timestamp = now.unix_seconds().to_string();
    let signature = key.sign(&signed_message(&timestamp, &request.body));
    request
        .clone()
        .with_header(TIMESTAMP_HEADER, &timestamp)
        .with_header(SIGNATURE_HEADER, &BASE64.encode(signature.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8032 §7.1 TEST 1.
    const SEED_HEX: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    const PUBLIC_HEX: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const EMPTY_MESSAGE_SIGNATURE_HEX: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

    fn seed() -> [u8; 32] {
        hex::decode(SEED_HEX).unwrap().try_into().unwrap()
    }

    #[test]
    fn rfc8032_test_1_signs_and_verifies_the_empty_message() {
        let key = SigningKey::from_bytes(&seed());
        assert_eq!(hex::encode(key.verifying_key().as_bytes()), PUBLIC_HEX);
        let signature = key.sign(b"");
        assert_eq!(
            hex::encode(signature.to_bytes()),
            EMPTY_MESSAGE_SIGNATURE_HEX
        );
        assert!(key.verifying_key().verify_strict(b"", &signature).is_ok());
    }

    #[test]
    fn parses_key_lists_and_names_the_bad_entry_without_quoting_it() {
        let public = BASE64.encode(hex::decode(PUBLIC_HEX).unwrap());
        let keys = TelnyxConfig::parse_public_keys(&format!(" {public} , ,{public}")).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(TelnyxConfig::parse_public_keys(" , ").unwrap().is_empty());
        let unpadded = public.trim_end_matches('=');
        assert_eq!(TelnyxConfig::parse_public_keys(unpadded).unwrap().len(), 1);

        let error = TelnyxConfig::parse_public_keys(&format!("{public},not*base64")).unwrap_err();
        assert_eq!(error, "key 2 of 2 is not base64");
        let short = BASE64.encode([7u8; 31]);
        let error = TelnyxConfig::parse_public_keys(&format!("{short},{public}")).unwrap_err();
        assert_eq!(
            error,
            "key 1 of 2 is 31 bytes, not 32 (base64 of the raw key)"
        );
        assert!(!error.contains(&short));
        // The identity point has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let error = TelnyxConfig::parse_public_keys(&BASE64.encode(identity)).unwrap_err();
        assert!(error.contains("weak"), "{error}");
    }

    #[test]
    fn parses_a_signing_seed() {
        let key = TelnyxConfig::parse_signing_key(&BASE64.encode(seed())).unwrap();
        assert_eq!(hex::encode(key.verifying_key().as_bytes()), PUBLIC_HEX);
        let error = TelnyxConfig::parse_signing_key("c2VjcmV0").unwrap_err();
        assert_eq!(
            error,
            "the signing key is 6 bytes, not 32 (base64 of the raw key)"
        );
        assert!(!format!("{key:?}").contains(&SEED_HEX[..8]));
    }

    #[test]
    fn the_signed_message_joins_timestamp_and_body_with_a_bar() {
        assert_eq!(signed_message("1700000000", b"{}"), b"1700000000|{}");
    }
}
