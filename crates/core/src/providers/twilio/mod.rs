//! Twilio: Voice status callbacks and Messaging status callbacks (docs/providers/twilio.md).
//!
//! One endpoint receives both; a request carries `CallSid` (a call) or `MessageSid`/`SmsSid` (a
//! message), never both.
//!
//! **Verification** ([`signature`]): `X-Twilio-Signature` = base64 HMAC-SHA1 with the account's
//! Auth Token over the URL plus the sorted form parameters (form `POST`), the URL alone (`GET`),
//! or the URL carrying `bodySHA256` (JSON body, whose SHA-256 must match). The URL is the
//! request's `url` exactly as given (the worker substitutes `PUBLIC_BASE_URL` first), tried with
//! and without its port and in the query spellings the official validators accept. Every
//! configured token is tried (rotation), each comparison in constant time.
//!
//! **Replays and re-cuts.** Nothing in the signature binds a time ("No timestamp ⇒ no replay
//! protection", docs/providers/twilio.md), so a captured request verifies forever. Worse, a form body is
//! signed as its sorted `name + value` pairs concatenated without separators, so a captured
//! body can be re-cut (`SequenceNumbe=r1` for `SequenceNumber=1`, two pairs merged into one
//! value) and still verify. Two defences:
//!
//! * the event id (`Params::event_id`) is a hash of what the signature covers, without the
//!   URL: for a form body the signed concatenation itself, so every re-cut and every replay of a
//!   stored callback is a duplicate of it in the store's exact dedup, and cannot move a state;
//! * a form body is read only if no other cut of its signed string could read differently, as
//!   far as `providers::shared::check_concatenation` can tell (its docs give the rule and its
//!   limits); otherwise it is refused with [`WebhookError::AmbiguousSignedString`]. The
//!   verifier and the normalizer read the parameters through one parse (`Params::from_request`).
//!
//! What remains: an attacker who holds a callback *before* Twilio delivers it could deliver a
//! re-cut the rule cannot tell from a genuine request first (see `check_concatenation`); after
//! delivery, any re-cut is a duplicate.
//!
//! **Bodies.** Twilio's callbacks are form `POST` or `GET` ("Twilio's normal format", docs/providers/twilio.md); JSON
//! bodies are accepted only with `bodySHA256` (otherwise [`WebhookError::MissingSignedField`]).
//! Any other media type is [`WebhookError::UnsupportedContentType`].

pub mod normalize;
pub mod signature;

use std::collections::BTreeMap;

use crate::config::{secret_setting, ConfigError, Settings};
use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId};
use crate::provider::{Scheme, Signer};
use crate::providers::shared::{check_concatenation, content_event_id, json_text, Vocabulary};
use crate::request::{parse_form, BodyKind, CapturedRequest};
use crate::secret::Secret;
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Auth Tokens (Console → Account → API keys & tokens → *Auth Token*); any one may match
    /// (rotation: primary and secondary during a token change). Never empty.
    pub secrets: Vec<Secret>,
}

impl TwilioConfig {
    /// Reads the auth token(s).
    pub fn from_settings(settings: &Settings<'_>) -> Result<Option<Self>, ConfigError> {
        let secrets = settings.secrets(secret_setting(ProviderId::Twilio));
        Ok((!secrets.is_empty()).then_some(Self { secrets }))
    }
}

pub struct Twilio {
    config: TwilioConfig,
}

impl Twilio {
    pub fn new(config: TwilioConfig) -> Self {
        Self { config }
    }
}

/// How a request carries its parameters, which decides what is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `GET`, or a request without a body: parameters in the query, signature over the URL.
    Query,
    /// Form `POST`: signature over the URL plus the body's parameters.
    Form,
    /// JSON body: signature over the URL (with `bodySHA256`), plus the body hash.
    Json,
}

impl Transport {
    /// The transport of a request, from its method and media type; the body is not parsed (a
    /// JSON body is checked against `bodySHA256` before anything reads it).
    pub(crate) fn of(request: &CapturedRequest) -> Result<Self, WebhookError> {
        if request.method == "GET" {
            return Ok(Self::Query);
        }
        match request.body_kind() {
            BodyKind::Empty => Ok(Self::Query),
            BodyKind::Form => Ok(Self::Form),
            BodyKind::Json => Ok(Self::Json),
            BodyKind::Other(media_type) => Err(WebhookError::UnsupportedContentType(media_type)),
        }
    }
}

/// A request's parameters as Twilio sent them, read by the one parse that both the verifier
/// (which signs them) and the normalizer (which reads them) use.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub(crate) transport: Transport,
    /// Every `(name, value)` pair, repeated names included, in order.
    pub(crate) pairs: Vec<(String, String)>,
}

impl Params {
    /// Reads the parameters: the query for `GET` or a bodyless request, else the form body, else
    /// (JSON) the top-level scalar members of the body object.
    pub(crate) fn from_request(request: &CapturedRequest) -> Result<Self, WebhookError> {
        let transport = Transport::of(request)?;
        let pairs = match transport {
            Transport::Query => request.query_params(),
            Transport::Form => parse_form(&request.body),
            Transport::Json => json_pairs(&request.body)?,
        };
        Ok(Self { transport, pairs })
    }

    /// The form pairs as the signature covers them: sorted, distinct pairs once
    /// ([`signature::signed_string`]).
    fn signed_pairs(&self) -> Vec<(&str, &str)> {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// The event id: a hash of what the signature covers, in a canonical form that leaves out
    /// the URL (whose spellings the verifier tries, see [`signature::url_variants`]). A form
    /// body gives the signed concatenation itself, so every re-cut of it that verifies has the
    /// same id; a query gives its decoded pairs, sorted and form-encoded (the URL fixes their
    /// boundaries, and every spelling the verifier accepts decodes alike); a JSON body, whose
    /// bytes `bodySHA256` covers, gives those bytes.
    pub(crate) fn event_id(&self, request: &CapturedRequest) -> String {
        let mut canonical = Vec::new();
        match self.transport {
            Transport::Form => {
                canonical.extend_from_slice(b"form\n");
                for (name, value) in self.signed_pairs() {
                    canonical.extend_from_slice(name.as_bytes());
                    canonical.extend_from_slice(value.as_bytes());
                }
            }
            Transport::Query => {
                let mut pairs = self.pairs.clone();
                pairs.sort_unstable();
                canonical.extend_from_slice(b"query\n");
                canonical.extend_from_slice(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&pairs)
                        .finish()
                        .as_bytes(),
                );
            }
            Transport::Json => {
                canonical.extend_from_slice(b"json\n");
                canonical.extend_from_slice(&request.body);
            }
        }
        content_event_id("twilio", &canonical)
    }

    /// The parameter's value, `None` when absent or blank. A name sent with two different
    /// values is ambiguous for the fields read from it: [`WebhookError::Malformed`].
    pub(crate) fn text(&self, key: &'static str) -> Result<Option<&str>, WebhookError> {
        let mut values = self
            .pairs
            .iter()
            .filter(|(name, value)| name == key && !value.trim().is_empty())
            .map(|(_, value)| value.as_str());
        let first = values.next();
        if let Some(first) = first {
            if values.any(|other| other != first) {
                return Err(WebhookError::Malformed(format!(
                    "`{key}` is sent with two different values"
                )));
            }
        }
        Ok(first)
    }

    /// The parameters as a map of distinct names to their first non-blank value.
    pub(crate) fn first_values(&self) -> BTreeMap<&str, &str> {
        let mut map = BTreeMap::new();
        for (name, value) in &self.pairs {
            if !value.trim().is_empty() {
                map.entry(name.as_str()).or_insert(value.as_str());
            }
        }
        map
    }
}

/// The top-level members of a JSON object whose values are strings, numbers or booleans, as
/// text; other members (objects, arrays, `null`) are skipped. Errors never quote the body.
fn json_pairs(body: &[u8]) -> Result<Vec<(String, String)>, WebhookError> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(json_text(body)).map_err(|error| {
            WebhookError::Malformed(format!(
                "JSON body is not an object (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?;
    Ok(object
        .into_iter()
        .filter_map(|(key, value)| match value {
            serde_json::Value::String(text) => Some((key, text)),
            serde_json::Value::Number(number) => Some((key, number.to_string())),
            serde_json::Value::Bool(flag) => Some((key, flag.to_string())),
            _ => None,
        })
        .collect())
}

/// The `bodySHA256` value of the URL's query, if any; more than one is malformed.
fn body_hash_param(request: &CapturedRequest) -> Result<Option<String>, WebhookError> {
    let mut values = request
        .query_params()
        .into_iter()
        .filter(|(key, _)| key == signature::BODY_HASH_PARAM)
        .map(|(_, value)| value);
    let first = values.next();
    if values.next().is_some() {
        return Err(WebhookError::Malformed(
            "`bodySHA256` appears more than once".into(),
        ));
    }
    Ok(first)
}

/// Whether `word` is a documented Twilio word for `kind` (see [`normalize`]).
pub fn is_known_word(kind: Kind, word: &str) -> bool {
    match kind {
        Kind::Call => normalize::is_known_call_word(word),
        Kind::Message => normalize::message_status(word).is_some(),
    }
}

/// What a Twilio signature covers, as the check read it ([`Scheme::Signed`]): the parameters
/// it was computed over and the event id derived from them.
pub struct Signed {
    params: Params,
    event_id: String,
}

impl Scheme for Twilio {
    type Signed<'a> = Signed;

    fn id(&self) -> ProviderId {
        ProviderId::Twilio
    }

    fn check(&self, request: &CapturedRequest, _now: Timestamp) -> Result<Signed, WebhookError> {
        let presented = request
            .header(signature::SIGNATURE_HEADER)
            .filter(|value| !value.trim().is_empty())
            .ok_or(WebhookError::MissingSignature(
                "no `X-Twilio-Signature` header",
            ))?;
        let params = match Transport::of(request)? {
            Transport::Query => {
                signature::verify(presented, &request.url, &[], &self.config.secrets)?;
                Params::from_request(request)?
            }
            Transport::Form => {
                let params = Params::from_request(request)?;
                signature::verify(presented, &request.url, &params.pairs, &self.config.secrets)?;
                let signed = params.signed_pairs();
                let is_call = signed.iter().any(|(name, _)| *name == "CallSid");
                let vocabulary = Vocabulary {
                    read: if is_call {
                        &normalize::CALL_READS
                    } else {
                        &normalize::MESSAGE_READS
                    },
                    documented: &normalize::DOCUMENTED,
                    exceptions: &[],
                    free_text: &[],
                };
                check_concatenation(&request.url, &signed, &vocabulary)?;
                params
            }
            Transport::Json => {
                // twilio-node: "should fail validation if given body but no bodySHA256 param".
                let claimed = body_hash_param(request)?
                    .ok_or(WebhookError::MissingSignedField("bodySHA256"))?;
                signature::verify(presented, &request.url, &[], &self.config.secrets)?;
                signature::verify_body_hash(&claimed, &request.body)?;
                Params::from_request(request)?
            }
        };
        Ok(Signed {
            event_id: params.event_id(request),
            params,
        })
    }

    fn events(&self, signed: Signed, received_at: Timestamp) -> Result<Vec<Event>, WebhookError> {
        Ok(vec![normalize::event(
            &signed.params,
            signed.event_id,
            received_at,
        )?])
    }

    fn is_known_word(&self, kind: Kind, word: &str) -> bool {
        is_known_word(kind, word)
    }
}

impl Signer for Twilio {
    /// Signs as Twilio does with the first Auth Token: a form `POST` over the URL and its body
    /// parameters; a `GET` or bodyless request over the URL; a JSON body by setting `bodySHA256`
    /// in the URL's query (replacing any) and signing the URL.
    fn sign(
        &self,
        request: &CapturedRequest,
        _now: Timestamp,
    ) -> Result<CapturedRequest, WebhookError> {
        let secret = self
            .config
            .secrets
            .first()
            .ok_or(WebhookError::MissingSignature(
                "no auth token is configured",
            ))?;
        let mut signed = request.clone();
        let data = match Transport::of(request)? {
            Transport::Query => signature::signed_string(&request.url, &[]),
            Transport::Form => signature::signed_string(&request.url, &parse_form(&request.body)),
            Transport::Json => {
                signed.url = with_body_hash(&request.url, &signature::body_hash(&request.body));
                signature::signed_string(&signed.url, &[])
            }
        };
        signed.set_header(
            signature::SIGNATURE_HEADER,
            &signature::compute(secret.expose(), &data),
        );
        Ok(signed)
    }
}

/// `url` with `bodySHA256=<hash>` as the last query parameter, any earlier one removed.
fn with_body_hash(url: &str, hash: &str) -> String {
    let (without_fragment, fragment) = match url.find('#') {
        Some(hash_mark) => url.split_at(hash_mark),
        None => (url, ""),
    };
    let (base, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let prefix = format!("{}=", signature::BODY_HASH_PARAM);
    let mut parts: Vec<&str> = query
        .split('&')
        .filter(|part| !part.is_empty() && !part.starts_with(&prefix))
        .collect();
    let param = format!("{prefix}{hash}");
    parts.push(&param);
    format!("{base}?{}{fragment}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hash_replaces_an_earlier_one_and_keeps_the_query() {
        assert_eq!(
            with_body_hash("https://h/p", "ab"),
            "https://h/p?bodySHA256=ab"
        );
        assert_eq!(
            with_body_hash("https://h/p?a=1&bodySHA256=x&b=2", "ab"),
            "https://h/p?a=1&b=2&bodySHA256=ab"
        );
    }

    #[test]
    fn a_value_read_from_a_repeated_name_must_be_unambiguous() {
        let params = Params {
            transport: Transport::Form,
            pairs: vec![
                ("CallSid".into(), "CA1".into()),
                ("CallSid".into(), "CA1".into()),
                ("Digits".into(), "1".into()),
                ("Digits".into(), "2".into()),
            ],
        };
        assert_eq!(params.text("CallSid"), Ok(Some("CA1")));
        assert!(matches!(
            params.text("Digits"),
            Err(WebhookError::Malformed(_))
        ));
        assert_eq!(params.text("To"), Ok(None));
    }

    #[test]
    fn known_words_are_per_kind() {
        assert!(is_known_word(Kind::Call, "no-answer"));
        assert!(is_known_word(Kind::Call, "machine_end_beep"));
        assert!(is_known_word(Kind::Message, "undelivered"));
        assert!(!is_known_word(Kind::Call, "delivered"));
        assert!(!is_known_word(Kind::Message, "teleported"));
    }
}
