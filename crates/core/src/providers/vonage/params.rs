//! A Vonage request's parameters, read from wherever Vonage put them.
//!
//! Both products send flat key/value data: voice events as a JSON body (or a query with
//! `event_method=GET`), SMS delivery receipts as a query, a form body or a flat JSON body
//! (docs/providers/vonage.md). One reader serves both, so the verifier and the normalizer always see
//! the same values.

use std::collections::BTreeSet;

use serde_json::error::Category;
use serde_json::value::RawValue;

use crate::error::WebhookError;
use crate::providers::shared::{form_event_id, json_text, Members};
use crate::request::{parse_form, BodyKind, CapturedRequest};

/// Where the parameters came from, so that [`sign`](crate::provider::Signer::sign) can put a
/// signature back in the same place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Query,
    Form,
    Json,
}

/// One parameter's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A query or form value, a JSON string, the exact text of a JSON number, or `true`/`false`.
    Text(String),
    /// A JSON object or array: voice events may carry some (`dtmf`, `speech`); a `sig`-signed
    /// request may not.
    Nested,
}

#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub(crate) source: Source,
    entries: Vec<(String, Value)>,
}

impl Params {
    /// A request with a body (other than `GET`) is read from its body, form or JSON; a `GET` or a
    /// bodyless request from its query. Vonage: "Sending both POST and query string data is
    /// unsupported" (`Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
    /// _documentation/en/concepts/guides/signing-messages.md`), so the query of a request with a
    /// body is ignored. A key that appears twice is refused: which of the two values is meant
    /// would be ambiguous.
    pub(crate) fn from_request(request: &CapturedRequest) -> Result<Self, WebhookError> {
        let body_kind = if request.method == "GET" {
            BodyKind::Empty
        } else {
            request.body_kind()
        };
        let (source, entries) = match body_kind {
            BodyKind::Empty => (Source::Query, text_entries(request.query_params())),
            BodyKind::Form => (Source::Form, text_entries(parse_form(&request.body))),
            BodyKind::Json => (Source::Json, json_entries(&request.body)?),
            BodyKind::Other(media_type) => {
                return Err(WebhookError::UnsupportedContentType(media_type))
            }
        };
        let mut seen = BTreeSet::new();
        if !entries.iter().all(|(key, _)| seen.insert(key.as_str())) {
            return Err(WebhookError::Malformed(
                "a parameter appears more than once".into(),
            ));
        }
        Ok(Self { source, entries })
    }

    /// Whether the parameter is present, whatever its value.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.entries.iter().any(|(name, _)| name == key)
    }

    /// A scalar parameter's value, `None` when absent, nested or blank.
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.entries.iter().find_map(|(name, value)| match value {
            Value::Text(text) if name == key && !text.trim().is_empty() => Some(text.as_str()),
            _ => None,
        })
    }

    /// The scalar parameters, in order; nested values are skipped.
    pub(crate) fn scalars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().filter_map(|(name, value)| match value {
            Value::Text(text) => Some((name.as_str(), text.as_str())),
            Value::Nested => None,
        })
    }

    /// The parameters as flat key/value pairs, refusing nested values.
    pub(crate) fn into_flat(self) -> Result<Vec<(String, String)>, WebhookError> {
        self.entries
            .into_iter()
            .map(|(name, value)| match value {
                Value::Text(text) => Ok((name, text)),
                Value::Nested => Err(WebhookError::Malformed(
                    "a signed parameter is a JSON object or array".into(),
                )),
            })
            .collect()
    }
}

fn text_entries(pairs: Vec<(String, String)>) -> Vec<(String, Value)> {
    pairs
        .into_iter()
        .map(|(key, value)| (key, Value::Text(value)))
        .collect()
}

/// Reads a JSON object's members in order, keeping each value's exact text so that a number is
/// signed and stored as sent (`0.03330000`, not a float). `null` members are dropped.
fn json_entries(body: &[u8]) -> Result<Vec<(String, Value)>, WebhookError> {
    let members = serde_json::from_slice::<Members>(json_text(body)).map_err(|error| {
        WebhookError::Malformed(format!("JSON body is not valid: {}", describe(&error)))
    })?;
    members
        .0
        .into_iter()
        .filter(|(_, raw)| raw.get() != "null")
        .map(|(key, raw)| Ok((key, json_value(&raw)?)))
        .collect()
}

fn json_value(raw: &RawValue) -> Result<Value, WebhookError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text)
            .map(Value::Text)
            .map_err(|error| {
                WebhookError::Malformed(format!(
                    "JSON body has a string that is not valid: {}",
                    category(&error)
                ))
            }),
        Some(b'{' | b'[') => Ok(Value::Nested),
        _ => Ok(Value::Text(text.to_owned())),
    }
}

/// Where and what kind of JSON error, never its text: serde_json's messages quote the input
/// (`invalid type: string "…"`), and the message goes into the 400 answer and the logs.
fn describe(error: &serde_json::Error) -> String {
    format!(
        "{} at line {}, column {}",
        category(error),
        error.line(),
        error.column()
    )
}

fn category(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        Category::Io => "read error",
        Category::Syntax => "syntax error",
        Category::Data => "wrong type",
        Category::Eof => "unexpected end of input",
    }
}

/// The event id of a set of parameters: the same whatever their order or transport (query, form
/// or JSON), because they are sorted and form-encoded first (which keeps `&` and `=` in values
/// unambiguous).
pub(crate) fn params_event_id<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut sorted: Vec<_> = params.collect();
    sorted.sort_unstable();
    form_event_id("vonage", &sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_request(body: &str) -> CapturedRequest {
        CapturedRequest::new("POST", "https://h.example/webhooks/vonage?ignored=1")
            .with_header("content-type", "application/json")
            .with_body(body)
    }

    #[test]
    fn json_numbers_keep_their_text_and_nulls_are_dropped() {
        let params = Params::from_request(&json_request(
            r#"{"price":0.03330000,"err-code":0,"ok":true,"gone":null,"s":"a\u0026b","n":{"x":1}}"#,
        ))
        .unwrap();
        assert_eq!(params.source, Source::Json);
        assert_eq!(params.text("price"), Some("0.03330000"));
        assert_eq!(params.text("err-code"), Some("0"));
        assert_eq!(params.text("ok"), Some("true"));
        assert_eq!(params.text("s"), Some("a&b"));
        assert!(!params.contains("gone"));
        assert!(params.contains("n"));
        assert_eq!(params.text("n"), None);
        assert!(!params.contains("ignored"));
        assert!(matches!(
            params.into_flat(),
            Err(WebhookError::Malformed(_))
        ));
    }

    #[test]
    fn reads_the_query_for_get_and_bodyless_requests() {
        let get = CapturedRequest::new("GET", "https://h.example/?a=1&b=x+y")
            .with_header("content-type", "application/json")
            .with_body("{\"c\":1}");
        let params = Params::from_request(&get).unwrap();
        assert_eq!(params.source, Source::Query);
        assert_eq!(
            params.scalars().collect::<Vec<_>>(),
            [("a", "1"), ("b", "x y")]
        );

        let empty_post = CapturedRequest::new("POST", "https://h.example/?a=1");
        assert_eq!(
            Params::from_request(&empty_post).unwrap().text("a"),
            Some("1")
        );
    }

    #[test]
    fn refuses_duplicates_other_media_types_and_non_objects() {
        let duplicate = CapturedRequest::new("GET", "https://h.example/?a=1&a=2");
        assert!(matches!(
            Params::from_request(&duplicate),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            Params::from_request(&json_request(r#"{"a":1,"a":2}"#)),
            Err(WebhookError::Malformed(_))
        ));
        assert!(matches!(
            Params::from_request(&json_request("[1,2]")),
            Err(WebhookError::Malformed(_))
        ));
        let text = CapturedRequest::new("POST", "https://h.example/")
            .with_header("content-type", "text/plain")
            .with_body("a=1");
        assert_eq!(
            Params::from_request(&text).unwrap_err(),
            WebhookError::UnsupportedContentType("text/plain".into())
        );
        let long = text.with_header("content-type", &format!("text/{}", "x".repeat(1000)));
        assert_eq!(
            Params::from_request(&long).unwrap_err(),
            WebhookError::UnsupportedContentType(format!("text/{}…", "x".repeat(27)))
        );
    }

    #[test]
    fn json_errors_say_where_but_never_quote_the_body() {
        for (body, expected) in [
            (
                r#"{"msisdn":"447700900001",x}"#,
                "JSON body is not valid: syntax error at line 1, column 26",
            ),
            (
                "{\"status\":\n\"delivered\"",
                "JSON body is not valid: unexpected end of input at line 2, column 11",
            ),
            (
                r#""447700900001""#,
                "JSON body is not valid: wrong type at line 1, column 14",
            ),
            (
                r#"{"text":"\ud800 447700900001"}"#,
                "JSON body has a string that is not valid: syntax error",
            ),
        ] {
            let error = Params::from_request(&json_request(body)).unwrap_err();
            assert_eq!(error, WebhookError::Malformed(expected.into()), "{body}");
            assert!(!error.to_string().contains("4477"), "{error}");
        }
    }

    #[test]
    fn params_event_id_ignores_order_and_keeps_separators_apart() {
        let forward = params_event_id([("a", "1"), ("b", "2")].into_iter());
        let backward = params_event_id([("b", "2"), ("a", "1")].into_iter());
        assert_eq!(forward, backward);
        assert_eq!(forward.len(), "vonage:".len() + 32);
        assert_ne!(
            params_event_id([("a", "1&b=2")].into_iter()),
            params_event_id([("a", "1"), ("b", "2")].into_iter())
        );
    }
}
