//! Plivo: call callbacks (answer, hangup, ring, action URLs) and message status callbacks
//! (docs/providers/plivo.md).
//!
//! One endpoint receives both; a request carries `CallUUID` (a call) or `MessageUUID` (a
//! message), never both. Plivo sends a form `POST` or a `GET` with the parameters in the query
//! (docs/providers/plivo.md); any other body is [`WebhookError::UnsupportedContentType`] (JSON included: Plivo does
//! not send it).
//!
//! **Verification** ([`signature`]), on `request.url` exactly as given (the worker substitutes
//! `PUBLIC_BASE_URL` first), against every configured Auth Token:
//!
//! 1. **V3**, when `X-Plivo-Signature-V3` or `X-Plivo-Signature-Ma-V3` is present (the current
//!    scheme; `Ma` is made with the main account's token, so configure that token to accept it):
//!    HMAC-SHA256 over the URL, the parameters and the nonce. Several comma-separated signatures
//!    may be sent; any one may match. When a V3 header is present, V2 is never consulted (no
//!    downgrade).
//! 2. **V2**, only when no V3 header is present and `PLIVO_ACCEPT_V2=true` (messaging/verify
//!    docs, docs/providers/plivo.md): HMAC-SHA256 over the URL without its query and the nonce. **V2 does not cover
//!    the parameters**: whoever holds one genuine V2 header pair for this URL can send any
//!    parameters with it, forever. It is therefore **off by default**: a request signed only
//!    with V2 is [`WebhookError::MissingSignature`] (saying how to enable it). Enable it only
//!    for Plivo products that sign nothing else; its event id is the nonce's, so a forged body
//!    under a captured header pair is a duplicate of the callback that carried it, if that one
//!    was stored first.
//! 3. **V1** (`X-Plivo-Signature`, HMAC-SHA1) is legacy and **not accepted**: docs/providers/plivo.md lists it only as
//!    legacy, and current Plivo requests carry V2/V3. A request signed only with V1 is
//!    [`WebhookError::MissingSignature`].
//!
//! A parameter name that appears twice (in the query, or in the body) is refused as
//! [`WebhookError::Malformed`]: the SDKs disagree on what such a request signs.
//!
//! **What is signed is what is read.** The V3 string does not fix every boundary, so a V3
//! request is refused with [`WebhookError::AmbiguousSignedString`] where another reading of the
//! same signed string exists:
//!
//! * the nonce must be decimal digits (as Plivo's are): the message is `base + "." + nonce`, and
//!   a nonce `00850.<nonce>` would take the end of a last value `0.00850` out of what is read;
//! * the query is signed as `k=v&k=v` of *decoded* pairs, so a name holding `&` or `=`, or a
//!   value holding `&` (`Event=Hangup%26From%3D…`, one pair that signs like two), is refused;
//!   a value may hold `=` (the first `=` of a pair ends its name, and names hold none; Plivo's
//!   `SIP-H-To` values do);
//! * a form body is signed as its sorted `name + value` pairs concatenated without separators,
//!   which the rule of `providers::shared::check_concatenation` checks (its docs give the rule
//!   and its limits), over the signed text from the URL on.
//!
//! The verifier and the normalizer read the parameters through one parse
//! (`Params::from_request`).
//!
//! **Replays and re-cuts.** No version signs a time; the nonce is random but nothing says how
//! long Plivo avoids reusing one ("replay protection only by remembering nonces", docs/providers/plivo.md). Replays
//! are absorbed by the exact dedup of the store: the event id is a hash of the signed string
//! after the URL's path, without the nonce (`event_id`), so a replay, a retry and every cut of
//! the signed string that verifies are the same event, stored once. What remains: an attacker
//! who holds a callback *before* Plivo delivers it could deliver first a re-cut that the
//! concatenation rule cannot tell from a genuine request.

pub mod normalize;
pub mod signature;

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::config::{secret_setting, ConfigError, Settings};
use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId};
use crate::provider::{Scheme, Signer};
use crate::providers::shared::{check_concatenation, content_event_id, Vocabulary};
use crate::request::{parse_form, BodyKind, CapturedRequest};
use crate::secret::Secret;
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct PlivoConfig {
    /// Auth Tokens (Console → Overview → *Auth Token*; a subaccount's own token for its
    /// callbacks, the main account's for `-Ma-` signatures); any one may match (rotation).
    /// Never empty.
    pub secrets: Vec<Secret>,
    /// `PLIVO_ACCEPT_V2`: whether a request signed only with V2 is accepted (off by default:
    /// V2 does not sign the parameters, see the module docs).
    pub accept_v2: bool,
}

impl PlivoConfig {
    /// Reads the auth token(s) and `PLIVO_ACCEPT_V2` (checked even while no token is set).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        let secrets = settings.secrets(secret_setting(ProviderId::Plivo));
        let accept_v2 = settings.flag("PLIVO_ACCEPT_V2")?.unwrap_or(false);
        Ok((!secrets.is_empty()).then_some(Self { secrets, accept_v2 }))
    }
}

pub struct Plivo {
    config: PlivoConfig,
}

impl Plivo {
    pub fn new(config: PlivoConfig) -> Self {
        Self { config }
    }
}

/// A request's parameters: the URL's query and the form body, each without repeated names.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// `GET` (or no body): every parameter is in the query.
    pub(crate) is_get: bool,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn from_request(request: &CapturedRequest) -> Result<Self, WebhookError> {
        let kind = if request.method == "GET" {
            BodyKind::Empty
        } else {
            request.body_kind()
        };
        let body = match kind {
            BodyKind::Empty => Vec::new(),
            BodyKind::Form => parse_form(&request.body),
            BodyKind::Json => {
                return Err(WebhookError::UnsupportedContentType(
                    "application/json".into(),
                ))
            }
            BodyKind::Other(media_type) => {
                return Err(WebhookError::UnsupportedContentType(media_type))
            }
        };
        let query = request.query_params();
        for list in [&query, &body] {
            let mut seen = BTreeSet::new();
            if !list.iter().all(|(key, _)| seen.insert(key.as_str())) {
                return Err(WebhookError::Malformed(
                    "a parameter appears more than once".into(),
                ));
            }
        }
        Ok(Self {
            is_get: request.method == "GET",
            query,
            body,
        })
    }

    /// The callback's own parameters: the query of a `GET` (or of a request without a body),
    /// else the form body.
    pub(crate) fn into_callback(self) -> Vec<(String, String)> {
        if self.is_get || self.body.is_empty() {
            self.query
        } else {
            self.body
        }
    }

    /// The V3 string before `"." + nonce` for this request.
    fn v3_base(&self, url: &str) -> String {
        if self.is_get {
            signature::v3_get_base(url, &self.query)
        } else {
            signature::v3_post_base(url, &self.query, &self.body)
        }
    }

    /// Refuses a V3 request whose signed string could be cut into other parameters that read
    /// differently (see the module docs): a query that `k=v&k=v` joins ambiguously, or a form
    /// body whose concatenation [`check_concatenation`] cannot fix.
    fn check_v3_cuts(&self, url: &str) -> Result<(), WebhookError> {
        let joined_ambiguously = self
            .query
            .iter()
            .any(|(name, value)| name.contains(['&', '=']) || value.contains('&'));
        if joined_ambiguously {
            return Err(WebhookError::AmbiguousSignedString(
                "a query name holds `&` or `=`, or a query value holds `&`",
            ));
        }
        if self.is_get || self.body.is_empty() {
            return Ok(());
        }
        let mut body: Vec<(&str, &str)> = self
            .body
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        body.sort_unstable();
        let before = signature::v3_post_base(url, &self.query, &[]);
        let before = if self.query.is_empty() {
            format!("{before}?")
        } else {
            format!("{before}.")
        };
        let named = |wanted: &str| body.iter().any(|(name, _)| *name == wanted);
        // Only an inbound message (no `CallUUID`, no `Status`) has the sender's free text.
        let (read, free_text): (&[&str], &[&str]) = if named("CallUUID") {
            (&normalize::CALL_READS, &[])
        } else if named("Status") {
            (&normalize::MESSAGE_READS, &[])
        } else {
            (&normalize::INBOUND_READS, &normalize::FREE_TEXT)
        };
        let vocabulary = Vocabulary {
            read,
            documented: &normalize::DOCUMENTED,
            exceptions: &normalize::DOCUMENTED_EXCEPTIONS,
            free_text,
        };
        check_concatenation(&before, &body, &vocabulary)
    }
}

/// The signatures of the named headers, split at commas, blanks dropped.
fn signatures<'a>(request: &'a CapturedRequest, headers: &[&str]) -> Vec<&'a str> {
    headers
        .iter()
        .filter_map(|name| request.header(name))
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|signature| !signature.is_empty())
        .collect()
}

/// The nonce header's value. Plivo's nonces are decimal digits (the SDK vectors'
/// `31627761595286130198` and `12345`, docs/providers/plivo.md); anything else is refused: V3 signs
/// `base + "." + nonce`, so a nonce such as `00850.<nonce>` would take the end of the signed
/// parameters (a last value `0.00850`) into the nonce and leave the rest to be read.
fn nonce<'a>(
    request: &'a CapturedRequest,
    header: &'static str,
    name: &'static str,
) -> Result<&'a str, WebhookError> {
    let nonce = request
        .header(header)
        .map(str::trim)
        .filter(|nonce| !nonce.is_empty())
        .ok_or(WebhookError::MissingSignedField(name))?;
    if nonce.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(nonce)
    } else {
        Err(WebhookError::AmbiguousSignedString(
            "the nonce is not decimal digits",
        ))
    }
}

/// How a request is signed, from its headers: V3 when a V3 header is present, else V2.
enum Version<'a> {
    V3 { signatures: Vec<&'a str> },
    V2 { signatures: Vec<&'a str> },
    None,
}

impl<'a> Version<'a> {
    fn of(request: &'a CapturedRequest) -> Self {
        let v3 = signatures(
            request,
            &[signature::V3_HEADER, signature::V3_MAIN_ACCOUNT_HEADER],
        );
        if !v3.is_empty() {
            return Self::V3 { signatures: v3 };
        }
        let v2 = signatures(
            request,
            &[signature::V2_HEADER, signature::V2_MAIN_ACCOUNT_HEADER],
        );
        if v2.is_empty() {
            Self::None
        } else {
            Self::V2 { signatures: v2 }
        }
    }
}

/// The event id of a V3 request: a hash of its signed string after the URL's path, without the
/// nonce (`base` is the string before it), so that every re-cut and every retry of the same
/// callback is one event.
fn v3_event_id(url: &str, base: &str) -> String {
    let canonical = format!("v3\n{}", &base[signature::base_url(url).len()..]);
    content_event_id("plivo", canonical.as_bytes())
}

/// The event id of a V2 request: a hash of its nonce, the one signed thing that tells requests
/// to the same URL apart, so a forged body under a captured V2 header pair is a duplicate of
/// the callback that carried it.
fn v2_event_id(nonce: &str) -> String {
    content_event_id("plivo", format!("v2\n{nonce}").as_bytes())
}

/// Whether `word` is a documented Plivo word for `kind` (see [`normalize`]).
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    match kind {
        Kind::Call => normalize::call_status(word).is_some(),
        Kind::Message => normalize::message_status(word).is_some() || word == normalize::INBOUND,
    }
}

/// A nonce derived from the request and `now`, in Plivo's shape (20 decimal digits), so that
/// signing is deterministic.
fn derived_nonce(request: &CapturedRequest, now: Timestamp) -> String {
    let digest = Sha256::new()
        .chain_update(request.url.as_bytes())
        .chain_update([0])
        .chain_update(&request.body)
        .chain_update([0])
        .chain_update(now.millis().to_be_bytes())
        .finalize();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    format!("{:020}", u64::from_be_bytes(first))
}

/// What a Plivo signature covers, as the check read it ([`Scheme::Signed`]): the callback's
/// parameters and the event id derived from what was signed. (V2, accepted only with
/// `PLIVO_ACCEPT_V2`, signs no parameter: its parameters are read unsigned.)
pub struct Signed {
    callback: Vec<(String, String)>,
    event_id: String,
}

impl Scheme for Plivo {
    type Signed<'a> = Signed;

    fn id(&self) -> ProviderId {
        ProviderId::Plivo
    }

    fn check(&self, request: &CapturedRequest, _now: Timestamp) -> Result<Signed, WebhookError> {
        let secrets = &self.config.secrets;
        match Version::of(request) {
            Version::V3 { signatures } => {
                let nonce = nonce(
                    request,
                    signature::V3_NONCE_HEADER,
                    "X-Plivo-Signature-V3-Nonce",
                )?;
                let params = Params::from_request(request)?;
                let base = params.v3_base(&request.url);
                signature::verify_v3(&signatures, &base, nonce, secrets)?;
                params.check_v3_cuts(&request.url)?;
                Ok(Signed {
                    event_id: v3_event_id(&request.url, &base),
                    callback: params.into_callback(),
                })
            }
            Version::V2 { .. } if !self.config.accept_v2 => Err(WebhookError::MissingSignature(
                "only `X-Plivo-Signature-V2`, which does not sign the parameters and is \
                 disabled (set PLIVO_ACCEPT_V2=true to accept it)",
            )),
            Version::V2 { signatures } => {
                let nonce = nonce(
                    request,
                    signature::V2_NONCE_HEADER,
                    "X-Plivo-Signature-V2-Nonce",
                )?;
                // The parameters are not signed, but must still be readable as Plivo sends them.
                let params = Params::from_request(request)?;
                signature::verify_v2(&signatures, &request.url, nonce, secrets)?;
                Ok(Signed {
                    event_id: v2_event_id(nonce),
                    callback: params.into_callback(),
                })
            }
            Version::None if request.header(signature::V1_HEADER).is_some() => {
                Err(WebhookError::MissingSignature(
                    "only the legacy `X-Plivo-Signature` (V1), which is not accepted",
                ))
            }
            Version::None => Err(WebhookError::MissingSignature(
                "no `X-Plivo-Signature-V3` or `X-Plivo-Signature-V2` header",
            )),
        }
    }

    fn events(&self, signed: Signed, received_at: Timestamp) -> Result<Vec<Event>, WebhookError> {
        Ok(vec![normalize::event(
            &signed.callback,
            signed.event_id,
            received_at,
        )?])
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        is_known_word(kind, word)
    }
}

impl Signer for Plivo {
    /// Signs with V3 and the first Auth Token, with a nonce derived from the URL, the body and
    /// `now` (Plivo's nonces are random; this one is deterministic so that tests and the CLI can
    /// reproduce a request). Other Plivo signature headers are removed.
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
                "no auth token is configured",
            ))?;
        let params = Params::from_request(request)?;
        let nonce = derived_nonce(request, now);
        let mut signed = request.clone();
        for header in [
            signature::V3_MAIN_ACCOUNT_HEADER,
            signature::V2_HEADER,
            signature::V2_MAIN_ACCOUNT_HEADER,
            signature::V2_NONCE_HEADER,
            signature::V1_HEADER,
        ] {
            signed.headers.remove(header);
        }
        signed.set_header(
            signature::V3_HEADER,
            &signature::v3(secret.expose(), &params.v3_base(&request.url), &nonce),
        );
        signed.set_header(signature::V3_NONCE_HEADER, &nonce);
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_nonces_have_plivos_shape_and_depend_on_the_inputs() {
        let request = CapturedRequest::new("GET", "https://h/?a=1");
        let nonce = derived_nonce(&request, Timestamp::from_millis(1));
        assert_eq!(nonce.len(), 20);
        assert!(nonce.bytes().all(|byte| byte.is_ascii_digit()));
        assert_eq!(nonce, derived_nonce(&request, Timestamp::from_millis(1)));
        assert_ne!(nonce, derived_nonce(&request, Timestamp::from_millis(2)));
    }

    #[test]
    fn known_words_are_per_kind() {
        assert!(is_known_word(Kind::Call, "timeout"));
        assert!(is_known_word(Kind::Message, "rejected"));
        assert!(!is_known_word(Kind::Call, "delivered"));
        assert!(!is_known_word(Kind::Message, "ringing"));
    }
}
