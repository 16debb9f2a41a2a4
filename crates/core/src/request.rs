//! The raw webhook request, exactly as received, and the helpers that read it.
//!
//! [`CapturedRequest`] is also the file format of the CLI (`switchboard verify FILE`) and of the
//! worker's raw-request export, so a request stored in production can be re-verified offline:
//!
//! ```json
//! {"method": "POST", "url": "https://hooks.example.com/webhooks/vonage?x=1",
//!  "headers": {"content-type": "application/json"}, "body": "{...}"}
//! ```
//!
//! `body_base64` replaces `body` when the bytes are not UTF-8.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{echo, WebhookError};

/// An HTTP request as the provider sent it. Signatures are checked on these exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedRequest {
    /// Upper-case method (`GET`, `POST`).
    pub method: String,
    /// The full URL the provider called, including the raw (still percent-encoded) query.
    pub url: String,
    /// Header names lower-cased; repeated headers joined with `", "` as the Fetch API does.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// How a request body is encoded, from its `Content-Type` (parameters such as `charset` ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// No body bytes, whatever the content type says.
    Empty,
    Json,
    Form,
    /// Any other media type (or none) with a non-empty body, lower-cased and cut as errors
    /// repeat request text ([`echo`]).
    Other(String),
}

impl CapturedRequest {
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: BTreeMap::new(),
            body: Vec::new(),
        }
    }

    /// Sets a header, lower-casing its name.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.set_header(name, value);
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers
            .insert(name.to_ascii_lowercase(), value.to_owned());
    }

    /// A header's value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// The raw query string after `?` (before any `#`), still percent-encoded; `""` if none.
    pub fn raw_query(&self) -> &str {
        raw_query(&self.url)
    }

    /// The query's parameters, percent-decoded (`+` is a space), in order.
    pub fn query_params(&self) -> Vec<(String, String)> {
        query_params(&self.url)
    }

    pub fn body_kind(&self) -> BodyKind {
        if self.body.is_empty() {
            return BodyKind::Empty;
        }
        let media_type = self
            .header("content-type")
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media_type.as_str() {
            "application/json" => BodyKind::Json,
            "application/x-www-form-urlencoded" => BodyKind::Form,
            _ if media_type.ends_with("+json") => BodyKind::Json,
            _ => BodyKind::Other(echo(&media_type)),
        }
    }

    /// The `Bearer` credential of the `Authorization` header (see [`bearer_credential`]).
    pub fn bearer_token(&self) -> Option<&str> {
        bearer_credential(self.header("authorization")?)
    }

    /// Reads a captured-request file (see the module docs).
    pub fn from_json(text: &str) -> Result<Self, WebhookError> {
        serde_json::from_str(text)
            .map_err(|error| WebhookError::Malformed(format!("captured request: {error}")))
    }
}

/// The credential of an `Authorization` header value that uses the `Bearer` scheme
/// (`Bearer <token>`, RFC 6750 §2.1; the scheme name is case-insensitive, RFC 9110 §11.1),
/// without surrounding spaces. `None` for another scheme or an empty credential.
pub fn bearer_credential(authorization_header_value: &str) -> Option<&str> {
    let (scheme, token) = authorization_header_value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// The raw query string of `url` after `?` (before any `#`), still percent-encoded; `""` if
/// none.
pub fn raw_query(url: &str) -> &str {
    let without_fragment = url.split('#').next().unwrap_or("");
    without_fragment
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or("")
}

/// The query parameters of `url`, percent-decoded (`+` is a space), in order: what
/// `url::Url::query_pairs` gives, without parsing the rest of the URL. The worker reads its
/// queries with this rather than `worker::Request::url`, whose `url` crate parser would bring
/// about 150 KB of IDNA and Unicode normalization tables into the wasm.
pub fn query_params(url: &str) -> Vec<(String, String)> {
    parse_form(raw_query(url).as_bytes())
}

/// `url` with its scheme and authority (host and port) replaced by those of `public_base`
/// (e.g. `https://hooks.example.com`); path and query are kept byte for byte.
///
/// URL-signed schemes (Twilio, Plivo, Bird, MessageBird) sign the URL the provider called. Behind
/// a proxy, tunnel or custom route the worker sees another host, and every signature fails;
/// `PUBLIC_BASE_URL` is the fix. `public_base` is validated by the configuration.
pub fn rebase_url(url: &str, public_base: &str) -> String {
    format!(
        "{}{}",
        public_base.trim_end_matches('/'),
        &url[after_authority(url)..]
    )
}

/// The path of an absolute URL, still percent-encoded, without query and fragment:
/// `/webhooks/twilio` for `https://h.example/webhooks/twilio?a=1`, and `/` when it has none.
pub fn url_path(url: &str) -> &str {
    let rest = &url[after_authority(url)..];
    match &rest[..rest.find(['?', '#']).unwrap_or(rest.len())] {
        "" => "/",
        path => path,
    }
}

/// The origin of an absolute URL, `scheme://authority`, as a browser's `Origin` header spells
/// it: `https://h.example:8443` for `https://h.example:8443/v1/calls?a=1`.
pub fn url_origin(url: &str) -> &str {
    &url[..after_authority(url)]
}

/// Where the path (or, without one, the query or fragment) of an absolute URL starts: after
/// `scheme://authority`.
fn after_authority(url: &str) -> usize {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |index| after_scheme + index)
}

/// Parses `application/x-www-form-urlencoded` bytes (also a raw query string): `+` is a space,
/// `%XX` a byte, and bytes that are not UTF-8 after decoding become U+FFFD.
///
/// Decoding is many-to-one: `%41` and `A`, `+` and `%20`, or two different invalid byte
/// sequences give the same text. Signatures are checked over the decoded values, as the
/// providers define them (Vonage signs parameter values, not the raw query), so every encoding
/// of the same values verifies alike. That is harmless: the decoded values are all that is read
/// afterwards, and they are exactly what was signed.
pub fn parse_form(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

/// Headers that carry a credential rather than a signature: the `Cookie`s and proxy
/// credentials a client adds, API keys, and any `Authorization` that is not a `Bearer` token
/// (Twilio sends `Basic` credentials when the callback URL embeds them, docs/providers/twilio.md). Only a
/// `Bearer` `Authorization` is a provider's signature here (Vonage's voice JWT).
const CREDENTIAL_HEADERS: [&str; 5] = [
    "cookie",
    "proxy-authorization",
    "x-api-key",
    "x-auth-token",
    "x-amz-security-token",
];

/// Signatures that do not cover their request's content (Plivo V2 signs the URL and a nonce,
/// not the parameters, docs/providers/plivo.md): with any body, they would verify forever.
const UNBOUND_SIGNATURE_HEADERS: [&str; 2] = ["x-plivo-signature-v2", "x-plivo-signature-ma-v2"];

/// What a stored request holds in place of a withheld header value.
pub const REDACTED: &str = "[redacted]";

/// Whether a header's value is withheld from stored requests (see [`CapturedRequest::redacted`]).
fn is_withheld(name: &str, value: &str) -> bool {
    CREDENTIAL_HEADERS.contains(&name)
        || UNBOUND_SIGNATURE_HEADERS.contains(&name)
        || (name == "authorization" && bearer_credential(value).is_none())
}

/// A request as it is stored and exported (see [`CapturedRequest::redacted`]).
pub struct Redacted<'a>(&'a CapturedRequest);

impl Serialize for Redacted<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.file(true).serialize(serializer)
    }
}

impl CapturedRequest {
    /// The request as it is stored and exported: the same file format, with the value of every
    /// header that is a credential, or a signature that covers none of the content, replaced by
    /// [`REDACTED`]. Every signature that binds its request's content stays, so an exported
    /// request can still be verified offline (`switchboard verify`).
    pub fn redacted(&self) -> Redacted<'_> {
        Redacted(self)
    }

    fn file(&self, redact: bool) -> CapturedRequestOut<'_> {
        let (body, body_base64) = match std::str::from_utf8(&self.body) {
            Ok(text) => (Some(text), None),
            Err(_) => (None, Some(BASE64.encode(&self.body))),
        };
        CapturedRequestOut {
            method: &self.method,
            url: &self.url,
            headers: self
                .headers
                .iter()
                .map(|(name, value)| {
                    let value = if redact && is_withheld(name, value) {
                        REDACTED
                    } else {
                        value.as_str()
                    };
                    (name.as_str(), value)
                })
                .collect(),
            body,
            body_base64,
        }
    }
}

/// The serialized shape, written without copying the request.
#[derive(Serialize)]
struct CapturedRequestOut<'a> {
    method: &'a str,
    url: &'a str,
    headers: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

/// The serialized shape: `body` when the bytes are UTF-8, else `body_base64`.
#[derive(Deserialize)]
struct CapturedRequestFile {
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
}

impl Serialize for CapturedRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.file(false).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CapturedRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let file = CapturedRequestFile::deserialize(deserializer)?;
        let body = match (file.body, file.body_base64) {
            (Some(_), Some(_)) => {
                return Err(serde::de::Error::custom(
                    "give either `body` or `body_base64`, not both",
                ))
            }
            (Some(text), None) => text.into_bytes(),
            (None, Some(encoded)) => BASE64
                .decode(encoded.trim())
                .map_err(|error| serde::de::Error::custom(format!("body_base64: {error}")))?,
            (None, None) => Vec::new(),
        };
        if file.method.trim().is_empty() {
            return Err(serde::de::Error::custom("`method` is empty"));
        }
        Ok(Self {
            method: file.method.trim().to_ascii_uppercase(),
            url: file.url,
            headers: file
                .headers
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_utf8_and_binary_bodies() {
        let text = CapturedRequest::new("post", "https://h.example/webhooks/vonage?a=1")
            .with_header("Content-Type", "application/json")
            .with_body(b"{\"a\":1}".to_vec());
        let json = serde_json::to_string(&text).unwrap();
        assert!(json.contains("\"body\":\"{\\\"a\\\":1}\""));
        assert_eq!(CapturedRequest::from_json(&json).unwrap(), text);

        let binary = CapturedRequest::new("POST", "https://h.example/").with_body(vec![0xff, 0x00]);
        let json = serde_json::to_string(&binary).unwrap();
        assert!(json.contains("body_base64"));
        assert_eq!(CapturedRequest::from_json(&json).unwrap(), binary);
    }

    #[test]
    fn a_stored_request_withholds_credentials_and_unbound_signatures() {
        let request = CapturedRequest::new("POST", "https://h.example/webhooks/twilio")
            .with_header("Authorization", "Basic dXNlcjpwYXNz")
            .with_header("Cookie", "session=1")
            .with_header("Proxy-Authorization", "Basic eA==")
            .with_header("X-Plivo-Signature-V2", "c2ln")
            .with_header("X-Twilio-Signature", "dHdpbGlv")
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body("CallSid=CA1");
        let stored = serde_json::to_value(request.redacted()).unwrap();
        for name in [
            "authorization",
            "cookie",
            "proxy-authorization",
            "x-plivo-signature-v2",
        ] {
            assert_eq!(stored["headers"][name], REDACTED, "{name}");
        }
        assert_eq!(stored["headers"]["x-twilio-signature"], "dHdpbGlv");
        assert_eq!(stored["body"], "CallSid=CA1");
        assert_eq!(stored["url"], "https://h.example/webhooks/twilio");

        let vonage = CapturedRequest::new("GET", "u").with_header("authorization", "Bearer a.b.c");
        let stored = serde_json::to_value(vonage.redacted()).unwrap();
        assert_eq!(stored["headers"]["authorization"], "Bearer a.b.c");
        assert_eq!(
            serde_json::to_string(&vonage.redacted()).unwrap(),
            serde_json::to_string(&vonage).unwrap()
        );
    }

    #[test]
    fn rejects_both_body_fields() {
        let err = CapturedRequest::from_json(
            r#"{"method":"POST","url":"u","body":"a","body_base64":"YQ=="}"#,
        )
        .unwrap_err();
        assert_eq!(err.code(), "malformed_request");
    }

    #[test]
    fn reads_query_headers_and_body_kind() {
        let request = CapturedRequest::new("GET", "https://h.example/p?b=2&a=x+y%26#frag")
            .with_header("Authorization", "Bearer abc.def.ghi");
        assert_eq!(request.raw_query(), "b=2&a=x+y%26");
        assert_eq!(
            request.query_params(),
            vec![("b".into(), "2".into()), ("a".into(), "x y&".into())]
        );
        assert_eq!(request.bearer_token(), Some("abc.def.ghi"));
        assert_eq!(request.body_kind(), BodyKind::Empty);

        let form = CapturedRequest::new("POST", "https://h.example/")
            .with_header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .with_body("a=1");
        assert_eq!(form.body_kind(), BodyKind::Form);
        let other = form.clone().with_header("content-type", "text/plain");
        assert_eq!(other.body_kind(), BodyKind::Other("text/plain".into()));
    }

    #[test]
    fn query_params_of_a_url_stop_at_the_fragment() {
        assert_eq!(
            query_params("https://subject/request?event_id=a%2Fb+c&x#y=1"),
            vec![
                ("event_id".into(), "a/b c".into()),
                ("x".into(), String::new())
            ]
        );
        assert!(query_params("https://h.example/p#frag?a=1").is_empty());
        assert!(query_params("https://h.example/p?").is_empty());
        assert!(query_params("https://h.example/p").is_empty());
    }

    #[test]
    fn rebasing_keeps_path_and_raw_query() {
        assert_eq!(
            rebase_url(
                "http://127.0.0.1:8787/webhooks/twilio?a=%20b&c=d+e",
                "https://hooks.example.com"
            ),
            "https://hooks.example.com/webhooks/twilio?a=%20b&c=d+e"
        );
        assert_eq!(
            rebase_url("http://localhost/x", "https://h.example:8443/"),
            "https://h.example:8443/x"
        );
        assert_eq!(
            rebase_url("http://localhost", "https://h.example"),
            "https://h.example"
        );
        assert_eq!(rebase_url("http://h?q=1", "https://p"), "https://p?q=1");
    }

    #[test]
    fn the_path_is_cut_from_authority_query_and_fragment() {
        assert_eq!(
            url_path("http://127.0.0.1:8787/webhooks/twilio?a=/b#c"),
            "/webhooks/twilio"
        );
        assert_eq!(
            url_path("https://h.example/v1/calls/x%2Fy"),
            "/v1/calls/x%2Fy"
        );
        assert_eq!(url_path("https://h.example/a#f/g"), "/a");
        assert_eq!(url_path("https://h.example"), "/");
        assert_eq!(url_path("https://h.example?q=/x"), "/");
        assert_eq!(url_path("https://user@h.example:8443/p/"), "/p/");
    }

    #[test]
    fn the_origin_is_scheme_and_authority() {
        assert_eq!(
            url_origin("http://127.0.0.1:8787/v1/calls/twilio/CA1/live?x=/"),
            "http://127.0.0.1:8787"
        );
        assert_eq!(url_origin("https://h.example?q=/x"), "https://h.example");
        assert_eq!(url_origin("https://h.example"), "https://h.example");
    }

    #[test]
    fn bearer_requires_the_scheme_and_a_token() {
        let basic = CapturedRequest::new("GET", "u").with_header("authorization", "Basic abc");
        assert_eq!(basic.bearer_token(), None);
        let empty = CapturedRequest::new("GET", "u").with_header("authorization", "Bearer ");
        assert_eq!(empty.bearer_token(), None);
        assert_eq!(CapturedRequest::new("GET", "u").bearer_token(), None);
    }

    #[test]
    fn bearer_credential_reads_any_case_of_the_scheme_and_a_non_empty_token() {
        for (value, expected) in [
            ("Bearer abc.def", Some("abc.def")),
            ("bearer abc", Some("abc")),
            ("BEARER abc", Some("abc")),
            ("  Bearer   abc  ", Some("abc")),
            ("Bearer a b", Some("a b")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Bearer    ", None),
            ("Bearerabc", None),
            ("Basic abc", None),
            ("Token Bearer", None),
            ("", None),
        ] {
            assert_eq!(bearer_credential(value), expected, "{value:?}");
        }
    }

    #[test]
    fn an_unsupported_media_type_is_cut_short() {
        let long = format!("text/{}", "x".repeat(500));
        let request = CapturedRequest::new("POST", "u")
            .with_header("content-type", &format!("{long}; charset=utf-8"))
            .with_body("a");
        assert_eq!(request.body_kind(), BodyKind::Other(echo(&long)));
        let multibyte = CapturedRequest::new("POST", "u")
            .with_header("content-type", &"é".repeat(100))
            .with_body("a");
        assert_eq!(
            multibyte.body_kind(),
            BodyKind::Other(format!("{}…", "é".repeat(32)))
        );
    }
}
