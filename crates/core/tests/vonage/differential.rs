//! The differential property of issue 12 for Vonage: a signed request, mutated in any way an
//! attacker can without the secret, is refused or gives the very same events. A voice `GET`
//! event is the one exception the scheme leaves (its JWT does not cover the query): a mutation
//! may give other events only under the original's single-use token, which the worker holds to
//! the first event it authorized (`Provider::single_use_token`).

use proptest::prelude::*;
use switchboard_core::{CapturedRequest, Event, Provider, Signer, WebhookError};

use crate::support::{
    any_content_type, now, pairs, proptest_config, request, voice_post, vonage, Transport,
    TRANSPORTS, URL,
};

/// What an attacker can change in a captured request without the secret.
#[derive(Debug, Clone)]
enum Mutation {
    Method(&'static str),
    /// Appends `name=value` to the URL's query.
    AddQuery(&'static str, String),
    /// Moves the event into the query: the body is dropped and its fields become parameters.
    BodyToQuery,
    /// Re-sends the same parameters (or body fields) in another transport.
    Transport(Transport),
    ContentType(Option<&'static str>),
    /// Replaces the `n`-th `_` of the body or query with `&` or `=` (percent-encoded).
    UnderscoreTo(usize, char),
    AddHeader(&'static str, &'static str),
    Url(&'static str),
    /// Sets the query to a whole other event.
    QueryEvent,
}

const NAMES: [&str; 6] = ["uuid", "status", "duration", "call_uuid", "messageId", "zz"];
const HEADERS: [(&str, &str); 4] = [
    ("x-forwarded-host", "evil.example"),
    ("cookie", "session=1"),
    ("content-encoding", "gzip"),
    ("x-vonage-retry", "1"),
];
const URLS: [&str; 4] = [
    "https://evil.example/webhooks/vonage",
    "http://hooks.example.com:8080/webhooks/vonage/",
    "https://hooks.example.com/webhooks/Vonage?uuid=other",
    "https://hooks.example.com/webhooks/vonage#status=failed",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop::sample::select(vec!["GET", "POST", "PUT"]).prop_map(Mutation::Method),
        (prop::sample::select(NAMES.to_vec()), "[a-z0-9_&=]{0,8}")
            .prop_map(|(name, value)| Mutation::AddQuery(name, value)),
        Just(Mutation::BodyToQuery),
        prop::sample::select(TRANSPORTS.to_vec()).prop_map(Mutation::Transport),
        any_content_type().prop_map(Mutation::ContentType),
        (0..4_usize, prop::sample::select(vec!['&', '=']))
            .prop_map(|(index, to)| Mutation::UnderscoreTo(index, to)),
        prop::sample::select(HEADERS.to_vec())
            .prop_map(|(name, value)| Mutation::AddHeader(name, value)),
        prop::sample::select(URLS.to_vec()).prop_map(Mutation::Url),
        Just(Mutation::QueryEvent),
    ]
}

/// The request's fields as flat pairs: its JSON or form body, else its query.
fn fields(request: &CapturedRequest) -> Vec<(String, String)> {
    if request.body.is_empty() {
        return request.query_params();
    }
    match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&request.body) {
        Ok(object) => object
            .into_iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect(),
        Err(_) => form_urlencoded::parse(&request.body).into_owned().collect(),
    }
}

fn with_query(url: &str, query: &str) -> String {
    let base = &url[..url.find('?').unwrap_or(url.len())];
    format!("{base}?{query}")
}

fn replace_nth_underscore(text: &str, index: usize, with: &str) -> String {
    match text.match_indices('_').nth(index) {
        Some((at, _)) => format!("{}{with}{}", &text[..at], &text[at + 1..]),
        None => text.to_owned(),
    }
}

fn apply(request: &CapturedRequest, mutation: &Mutation) -> CapturedRequest {
    let mut mutated = request.clone();
    match mutation {
        Mutation::Method(method) => mutated.method = (*method).to_owned(),
        Mutation::AddQuery(name, value) => {
            let pair = form_urlencoded::Serializer::new(String::new())
                .append_pair(name, value)
                .finish();
            let query = match request.raw_query() {
                "" => pair,
                query => format!("{query}&{pair}"),
            };
            mutated.url = with_query(&request.url, &query);
        }
        Mutation::BodyToQuery => {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(fields(request))
                .finish();
            mutated.url = with_query(&request.url, &query);
            mutated.body.clear();
        }
        Mutation::Transport(transport) => {
            let moved = self::request(*transport, &fields(request));
            mutated.method = moved.method;
            mutated.url = moved.url;
            mutated.body = moved.body;
            mutated.headers.remove("content-type");
            if let Some(content_type) = moved.headers.get("content-type") {
                mutated.set_header("content-type", content_type);
            }
        }
        Mutation::ContentType(None) => {
            mutated.headers.remove("content-type");
        }
        Mutation::ContentType(Some(content_type)) => {
            mutated.set_header("content-type", content_type);
        }
        Mutation::UnderscoreTo(index, to) => {
            if request.body.is_empty() {
                let encoded = if *to == '&' { "%26" } else { "%3D" };
                mutated.url = replace_nth_underscore(&request.url, *index, encoded);
            } else {
                let body = String::from_utf8_lossy(&request.body);
                let form = request
                    .header("content-type")
                    .is_some_and(|value| value.contains("form"));
                let with = match (form, to) {
                    (true, '&') => "%26".to_owned(),
                    (true, _) => "%3D".to_owned(),
                    (false, other) => other.to_string(),
                };
                mutated.body = replace_nth_underscore(&body, *index, &with).into_bytes();
            }
        }
        Mutation::AddHeader(name, value) => mutated.set_header(name, value),
        Mutation::Url(url) => mutated.url = (*url).to_owned(),
        Mutation::QueryEvent => {
            mutated.url = with_query(
                &request.url,
                "uuid=call-b&status=completed&duration=9999&messageId=B&msisdn=1",
            );
        }
    }
    mutated
}

/// The property for one original and its mutation.
fn refused_or_same(
    original: &CapturedRequest,
    mutated: &CapturedRequest,
) -> Result<(), TestCaseError> {
    let provider = vonage();
    let expected: Vec<Event> = provider
        .receive(original, now())
        .map_err(|error| TestCaseError::fail(format!("original refused: {error}")))?;
    let received: Result<Vec<Event>, WebhookError> = provider.receive(mutated, now());
    if let Ok(events) = received {
        if events != expected {
            let token = provider.single_use_token(mutated);
            prop_assert!(
                token.is_some() && token == provider.single_use_token(original),
                "accepted with other events and no shared single-use token:\n{mutated:?}\n{events:?}"
            );
        }
    }
    Ok(())
}

fn voice_body() -> impl Strategy<Value = String> {
    (
        "[a-f0-9]{8}_[a-f0-9]{4}",
        prop::sample::select(vec![
            "started",
            "ringing",
            "answered",
            "completed",
            "failed",
        ]),
        0..600_u32,
    )
        .prop_map(|(uuid, status, duration)| {
            serde_json::json!({
                "uuid": uuid,
                "conversation_uuid": format!("CON_{uuid}"),
                "status": status,
                "duration": duration.to_string(),
                "from": "442079460000",
                "to": "447700900000",
                "direction": "outbound",
                "timestamp": "2020-01-01T12:00:00.000Z",
            })
            .to_string()
        })
}

fn receipt() -> impl Strategy<Value = Vec<(String, String)>> {
    (
        "[A-F0-9]{16}",
        prop::sample::select(vec!["delivered", "failed", "accepted", "buffered"]),
        "[a-z_]{1,12}",
    )
        .prop_map(|(id, status, client_ref)| {
            pairs(&[
                ("messageId", &id),
                ("msisdn", "447547232824"),
                ("to", "Vonage"),
                ("network-code", "23410"),
                ("price", "0.03330000"),
                ("status", status),
                ("scts", "1810251310"),
                ("err-code", "0"),
                ("client-ref", &client_ref),
                ("message-timestamp", "2018-10-25 12:10:29"),
            ])
        })
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn a_mutated_voice_post_is_refused_or_the_same_event(
        body in voice_body(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let signed = vonage().sign(&voice_post(&body), now()).expect("signs");
        let mutated = mutations.iter().fold(signed.clone(), |request, m| apply(&request, m));
        refused_or_same(&signed, &mutated)?;
    }

    #[test]
    fn a_mutated_voice_get_is_refused_the_same_event_or_held_by_its_token(
        body in voice_body(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let fields = fields(&voice_post(&body));
        let get = CapturedRequest::new("GET", &format!(
            "{URL}?{}",
            form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish()
        ));
        let signed = vonage().sign(&get, now()).expect("signs");
        let mutated = mutations.iter().fold(signed.clone(), |request, m| apply(&request, m));
        refused_or_same(&signed, &mutated)?;
    }

    #[test]
    fn a_mutated_delivery_receipt_is_refused_or_the_same_event(
        params in receipt(),
        transport in prop::sample::select(TRANSPORTS.to_vec()),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let signed = vonage().sign(&request(transport, &params), now()).expect("signs");
        let mutated = mutations.iter().fold(signed.clone(), |request, m| apply(&request, m));
        refused_or_same(&signed, &mutated)?;
    }
}

/// Finding 1 of issue 12: the JWT of a signed `POST` for call A, resent with its body as a `GET`
/// whose query names call B, made B `completed`. The token binds the body, not the query.
#[test]
fn a_post_token_does_not_authorize_a_get_query() {
    let provider = vonage();
    let post = provider
        .sign(
            &voice_post(r#"{"uuid":"call-a","status":"ringing","conversation_uuid":"CON-a"}"#),
            now(),
        )
        .expect("signs");
    let mut forged = post.clone();
    forged.method = "GET".into();
    forged.url = format!("{URL}?uuid=call-b&status=completed&duration=9999");
    assert_eq!(
        provider
            .receive(&forged, now())
            .err()
            .map(|error| error.code()),
        Some("unsigned_content")
    );
    forged.body.clear();
    assert_eq!(
        provider.receive(&forged, now()).err(),
        Some(WebhookError::PayloadHashMismatch)
    );
    let mut bodyless_post = forged.clone();
    bodyless_post.method = "POST".into();
    assert_eq!(
        provider.receive(&bodyless_post, now()).err(),
        Some(WebhookError::PayloadHashMismatch)
    );
}

/// A `GET` token is one event's: the same token on another query is the same single-use token,
/// and a `POST` has none (its body is covered).
#[test]
fn a_get_token_is_single_use_and_expires_with_the_tolerance() {
    let provider = vonage();
    let get = provider
        .sign(
            &CapturedRequest::new("GET", &format!("{URL}?uuid=call-a&status=ringing")),
            now(),
        )
        .expect("signs");
    let token = provider
        .single_use_token(&get)
        .expect("a GET token is single-use");
    assert!(token.id.starts_with("vonage-jti:"));
    assert_eq!(
        token.expires_at,
        switchboard_core::Timestamp::from_unix_seconds(crate::support::NOW + 300)
    );
    let mut other_query = get.clone();
    other_query.url = format!("{URL}?uuid=call-b&status=completed");
    let other_events = provider
        .receive(&other_query, now())
        .expect("the JWT verifies");
    assert_eq!(other_events[0].subject_id, "call-b");
    assert_eq!(provider.single_use_token(&other_query), Some(token));

    let post = provider
        .sign(
            &voice_post(r#"{"uuid":"call-a","status":"ringing"}"#),
            now(),
        )
        .expect("signs");
    assert_eq!(provider.single_use_token(&post), None);
}
