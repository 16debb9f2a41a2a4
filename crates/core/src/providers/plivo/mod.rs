//! Plivo: call callbacks (answer, hangup, ring, action URLs) and message status callbacks
//! (providers.md §7).
//!
//! One endpoint receives both; a request carries `CallUUID` (a call) or `MessageUUID` (a
//! message), never both. Plivo sends a form `POST` or a `GET` with the parameters in the query
//! (§7); any other body is [`WebhookError::UnsupportedContentType`] (JSON included: Plivo does
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
//! 2. **V2**, only when no V3 header is present (messaging/verify docs, §7): HMAC-SHA256 over the
//!    URL without its query and the nonce. **V2 does not cover the parameters**: whoever holds one
//!    genuine V2 header pair for this URL can send any parameters with it. It is accepted because
//!    §7 names it the scheme of some Plivo products; it is as strong as the secrecy of past
//!    requests' headers.
//! 3. **V1** (`X-Plivo-Signature`, HMAC-SHA1) is legacy and **not accepted**: §7 lists it only as
//!    legacy, and current Plivo requests carry V2/V3. A request signed only with V1 is
//!    [`WebhookError::MissingSignature`].
//!
//! A parameter name that appears twice (in the query, or in the body) is refused as
//! [`WebhookError::Malformed`]: the SDKs disagree on what such a request signs.
//!
//! **Replays.** No version signs a time; the nonce is random but nothing says how long Plivo
//! avoids reusing one ("replay protection only by remembering nonces", §7). Replays are absorbed
//! by the exact dedup of the store: the event id ([`normalize`]) is a hash of the provider's
//! natural key, so a replayed callback is the same event, stored once, and cannot move a state
//! it has already moved.

pub mod normalize;
pub mod signature;

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId};
use crate::provider::{Provider, Signer, Verified};
use crate::request::{parse_form, BodyKind, CapturedRequest};
use crate::secret::Secret;
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct PlivoConfig {
    /// Auth Tokens (Console → Overview → *Auth Token*; a subaccount's own token for its
    /// callbacks, the main account's for `-Ma-` signatures); any one may match (rotation).
    /// Never empty.
    pub secrets: Vec<Secret>,
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
    pub(crate) fn callback(&self) -> &[(String, String)] {
        if self.is_get || self.body.is_empty() {
            &self.query
        } else {
            &self.body
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

fn nonce<'a>(
    request: &'a CapturedRequest,
    header: &'static str,
    name: &'static str,
) -> Result<&'a str, WebhookError> {
    request
        .header(header)
        .map(str::trim)
        .filter(|nonce| !nonce.is_empty())
        .ok_or(WebhookError::MissingSignedField(name))
}

/// Whether `word` is a documented Plivo word for `kind` (see [`normalize`]).
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    match kind {
        Kind::Call => normalize::call_status(word).is_some(),
        Kind::Message => normalize::message_status(word).is_some(),
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

impl Provider for Plivo {
    fn id(&self) -> ProviderId {
        ProviderId::Plivo
    }

    fn verify<'a>(
        &self,
        request: &'a CapturedRequest,
        _now: Timestamp,
    ) -> Result<Verified<'a>, WebhookError> {
        let secrets = &self.config.secrets;
        let v3 = signatures(
            request,
            &[signature::V3_HEADER, signature::V3_MAIN_ACCOUNT_HEADER],
        );
        if !v3.is_empty() {
            let nonce = nonce(
                request,
                signature::V3_NONCE_HEADER,
                "X-Plivo-Signature-V3-Nonce",
            )?;
            let params = Params::from_request(request)?;
            signature::verify_v3(&v3, &params.v3_base(&request.url), nonce, secrets)?;
            return Ok(Verified::new(request));
        }
        let v2 = signatures(
            request,
            &[signature::V2_HEADER, signature::V2_MAIN_ACCOUNT_HEADER],
        );
        if !v2.is_empty() {
            let nonce = nonce(
                request,
                signature::V2_NONCE_HEADER,
                "X-Plivo-Signature-V2-Nonce",
            )?;
            // The parameters are not signed, but must still be readable as Plivo sends them.
            Params::from_request(request)?;
            signature::verify_v2(&v2, &request.url, nonce, secrets)?;
            return Ok(Verified::new(request));
        }
        if request.header(signature::V1_HEADER).is_some() {
            return Err(WebhookError::MissingSignature(
                "only the legacy `X-Plivo-Signature` (V1), which is not accepted",
            ));
        }
        Err(WebhookError::MissingSignature(
            "no `X-Plivo-Signature-V3` or `X-Plivo-Signature-V2` header",
        ))
    }

    fn normalize(
        &self,
        request: Verified<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        let params = Params::from_request(request.request())?;
        Ok(vec![normalize::event(params.callback(), received_at)?])
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
