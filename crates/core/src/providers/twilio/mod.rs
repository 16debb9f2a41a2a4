//! Twilio: Voice status callbacks and Messaging status callbacks (providers.md §6).
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
//! **Replays.** Nothing in the signature binds a time ("No timestamp ⇒ no replay protection",
//! providers.md §6), so a captured request verifies forever. Replays are absorbed by the exact
//! dedup of the per-call / per-message store: the event id ([`normalize`]) is a hash of the
//! provider's natural key, so a replayed (or retried) callback is the same event, stored once,
//! and cannot move a state it has already moved. A replay can only re-announce what Twilio
//! already said.
//!
//! **Bodies.** Twilio's callbacks are form `POST` or `GET` ("Twilio's normal format", §6); JSON
//! bodies are accepted only with `bodySHA256` (otherwise [`WebhookError::MissingSignedField`]).
//! Any other media type is [`WebhookError::UnsupportedContentType`].

pub mod normalize;
pub mod signature;

use std::collections::BTreeMap;

use crate::error::WebhookError;
use crate::model::{Event, Kind, ProviderId};
use crate::provider::{Provider, Signer, Verified};
use crate::request::{parse_form, BodyKind, CapturedRequest};
use crate::secret::Secret;
use crate::time::Timestamp;

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Auth Tokens (Console → Account → API keys & tokens → *Auth Token*); any one may match
    /// (rotation: primary and secondary during a token change). Never empty.
    pub secrets: Vec<Secret>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A request's parameters as Twilio sent them.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    /// Every `(name, value)` pair, repeated names included, in order.
    pub(crate) pairs: Vec<(String, String)>,
}

impl Params {
    /// Reads the parameters: the query for `GET` or a bodyless request, else the form body, else
    /// (JSON) the top-level scalar members of the body object.
    pub(crate) fn from_request(request: &CapturedRequest) -> Result<Self, WebhookError> {
        let pairs = match Transport::of(request)? {
            Transport::Query => request.query_params(),
            Transport::Form => parse_form(&request.body),
            Transport::Json => json_pairs(&request.body)?,
        };
        Ok(Self { pairs })
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
        serde_json::from_slice(body).map_err(|error| {
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

impl Provider for Twilio {
    fn id(&self) -> ProviderId {
        ProviderId::Twilio
    }

    fn verify<'a>(
        &self,
        request: &'a CapturedRequest,
        _now: Timestamp,
    ) -> Result<Verified<'a>, WebhookError> {
        let presented = request
            .header(signature::SIGNATURE_HEADER)
            .filter(|value| !value.trim().is_empty())
            .ok_or(WebhookError::MissingSignature(
                "no `X-Twilio-Signature` header",
            ))?;
        match Transport::of(request)? {
            Transport::Query => {
                signature::verify(presented, &request.url, &[], &self.config.secrets)?;
            }
            Transport::Form => {
                let params = parse_form(&request.body);
                signature::verify(presented, &request.url, &params, &self.config.secrets)?;
            }
            Transport::Json => {
                // twilio-node: "should fail validation if given body but no bodySHA256 param".
                let claimed = body_hash_param(request)?
                    .ok_or(WebhookError::MissingSignedField("bodySHA256"))?;
                signature::verify(presented, &request.url, &[], &self.config.secrets)?;
                signature::verify_body_hash(&claimed, &request.body)?;
            }
        }
        Ok(Verified::new(request))
    }

    fn normalize(
        &self,
        request: Verified<'_>,
        received_at: Timestamp,
    ) -> Result<Vec<Event>, WebhookError> {
        let params = Params::from_request(request.request())?;
        Ok(vec![normalize::event(&params, received_at)?])
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
