//! Voice events: scheme selection, JWT rules, normalization, signing.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384};
use switchboard_core::model::{AnsweredBy, Direction};
use switchboard_core::providers::vonage::{is_known_word, voice};
use switchboard_core::secret::Secret;
use switchboard_core::{
    CapturedRequest, Event, Kind, Provider, Signer, Status, SubjectState, WebhookError,
};

use crate::support::{
    at, now, receive_signed, time, voice_post, vonage, vonage_with, NOW, SECRET, URL,
};

const LEG: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";
const CONVERSATION: &str = "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab";

/// A realistic outbound call, shaped like the examples of the webhook reference
/// (`Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
/// _documentation/en/voice/voice-api/webhook-reference.md`).
const STARTED: &str = r#"{"from":"442079460000","to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"started","direction":"outbound","timestamp":"2020-01-01T12:00:00.000Z"}"#;
const RINGING: &str = r#"{"from":"442079460000","to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"ringing","direction":"outbound","timestamp":"2020-01-01T12:00:01.000Z"}"#;
const ANSWERED: &str = r#"{"start_time":"","rate":"","from":"442079460000","to":"447700900000","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"answered","direction":"outbound","network":"","timestamp":"2020-01-01T12:00:05.000Z"}"#;
const HUMAN: &str = r#"{"call_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"human","sub_state":"beep_start","timestamp":"2020-01-01T12:00:06.000Z"}"#;
const COMPLETED: &str = r#"{"end_time":"2020-01-01T12:00:47.000Z","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","network":"GB-FIXED","duration":"42","start_time":"2020-01-01T12:00:05.000Z","rate":"0.00450000","price":"0.00315000","from":"442079460000","to":"447700900000","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"completed","direction":"outbound","timestamp":"2020-01-01T12:00:47.000Z"}"#;
/// `COMPLETED` with its numbers as JSON numbers, as the Java SDK's tests send them.
const COMPLETED_WITH_NUMBERS: &str = r#"{"end_time":"2020-01-01T12:00:47.000Z","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","network":"GB-FIXED","duration":42,"start_time":"2020-01-01T12:00:05.000Z","rate":0.00450000,"price":0.00315000,"from":"442079460000","to":"447700900000","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"completed","direction":"outbound","timestamp":"2020-01-01T12:00:47.000Z"}"#;

/// Signs `request` as Vonage would at `NOW`, then receives it.
fn sign_and_receive(request: &CapturedRequest) -> Result<Event, WebhookError> {
    receive_signed(&vonage(), request, now())
}

fn receive_body(body: &str) -> Event {
    sign_and_receive(&voice_post(body)).expect("a valid voice event")
}

#[test]
fn a_full_call_lifecycle_normalizes_and_folds_to_completed() {
    let started = receive_body(STARTED);
    assert_eq!(started.kind, Kind::Call);
    assert_eq!(started.subject_id, LEG);
    assert_eq!(started.status, Some(Status::Initiated));
    assert_eq!(started.provider_status, "started");
    assert_eq!(started.occurred_at, Some(time("2020-01-01T12:00:00.000Z")));
    assert_eq!(started.received_at, now());
    assert_eq!(started.direction, Some(Direction::Outbound));
    assert_eq!(started.from.as_deref(), Some("442079460000"));
    assert_eq!(started.to.as_deref(), Some("447700900000"));
    assert_eq!(started.session_id.as_deref(), Some(CONVERSATION));
    assert!(started.event_id.starts_with("vonage:"));

    assert_eq!(receive_body(RINGING).status, Some(Status::Ringing));

    let answered = receive_body(ANSWERED);
    assert_eq!(answered.status, Some(Status::InProgress));
    // `answered` carries `start_time`, `rate` and `network` empty: they are absent, not "".
    assert_eq!(answered.details.started_at, None);
    assert!(answered.details.extra.is_empty());

    let human = receive_body(HUMAN);
    let completed = receive_body(COMPLETED);
    assert_eq!(completed.status, Some(Status::Completed));
    assert_eq!(completed.details.duration_seconds, Some(42));
    assert_eq!(completed.details.price.as_deref(), Some("0.00315000"));
    assert_eq!(completed.details.currency.as_deref(), Some("EUR"));
    assert_eq!(
        completed.details.started_at,
        Some(time("2020-01-01T12:00:05.000Z"))
    );
    assert_eq!(
        completed.details.ended_at,
        Some(time("2020-01-01T12:00:47.000Z"))
    );
    assert_eq!(completed.details.extra["rate"], "0.00450000");
    assert_eq!(completed.details.extra["network"], "GB-FIXED");

    let events = [started, receive_body(RINGING), answered, human, completed];
    let ids: std::collections::BTreeSet<_> = events.iter().map(|event| &event.event_id).collect();
    assert_eq!(ids.len(), events.len(), "distinct events have distinct ids");

    // Folded in reverse arrival order, the state is still the full call.
    let mut state = SubjectState::new(switchboard_core::ProviderId::Vonage, Kind::Call, LEG);
    for event in events.iter().rev() {
        state.apply(event);
    }
    let summary = state.summary(events.len() as u64);
    assert_eq!(summary.status, Some(Status::Completed));
    assert_eq!(summary.answered_by, Some(AnsweredBy::Human));
    assert_eq!(summary.duration_seconds, Some(42));
    assert_eq!(summary.ringing_at, Some(time("2020-01-01T12:00:01.000Z")));
    assert_eq!(summary.answered_at, Some(time("2020-01-01T12:00:05.000Z")));
    assert_eq!(summary.ended_at, Some(time("2020-01-01T12:00:47.000Z")));
}

#[test]
fn human_events_use_call_uuid_and_only_annotate() {
    let human = receive_body(HUMAN);
    assert_eq!(human.subject_id, LEG);
    assert_eq!(human.status, None);
    assert_eq!(human.provider_status, "human");
    assert_eq!(human.details.answered_by, Some(AnsweredBy::Human));
    assert_eq!(human.details.extra["sub_state"], "beep_start");

    let machine = receive_body(&HUMAN.replace("\"human\"", "\"machine\""));
    assert_eq!(machine.details.answered_by, Some(AnsweredBy::Machine));
    assert_eq!(machine.status, None);
}

#[test]
fn numbers_may_be_strings_or_numbers() {
    let strings = receive_body(COMPLETED);
    let numbers = receive_body(COMPLETED_WITH_NUMBERS);
    assert_eq!(numbers.details, strings.details);
    assert_eq!(numbers.details.price.as_deref(), Some("0.00315000"));
    assert_ne!(numbers.event_id, strings.event_id, "different bodies");
}

#[test]
fn a_retry_of_the_same_body_has_the_same_event_id() {
    let first = receive_body(COMPLETED);
    let provider = vonage();
    let later = at(NOW + 60);
    let retry = provider
        .sign(&voice_post(COMPLETED), later)
        .expect("signed");
    let events = provider.receive(&retry, later).expect("valid");
    assert_eq!(events[0].event_id, first.event_id);
    assert_eq!(events[0].received_at, later);
}

#[test]
fn failure_details_and_unknown_words_are_kept() {
    let failed = receive_body(
        r#"{"uuid":"u1","conversation_uuid":"CON-1","status":"unanswered","detail":"carrier_timeout","sip_code":480,"timestamp":"2020-01-01T12:00:00.000Z"}"#,
    );
    assert_eq!(failed.status, Some(Status::NoAnswer));
    assert_eq!(failed.details.detail.as_deref(), Some("carrier_timeout"));
    assert_eq!(failed.details.extra["sip_code"], "480");

    for (word, status) in [
        ("timeout", Some(Status::NoAnswer)),
        ("busy", Some(Status::Busy)),
        ("cancelled", Some(Status::Canceled)),
        ("rejected", Some(Status::Rejected)),
        ("failed", Some(Status::Failed)),
        ("record", None),
        ("input", None),
        ("transfer", None),
        ("disconnected", None),
    ] {
        let event = receive_body(&format!(r#"{{"uuid":"u1","status":"{word}"}}"#));
        assert_eq!(event.status, status, "{word}");
        assert!(is_known_word(Kind::Call, word), "{word}");
    }

    let unknown = receive_body(
        r#"{"uuid":"u1","status":"teleported","timestamp":"2020-01-01T12:00:00.000Z"}"#,
    );
    assert_eq!(unknown.status, None);
    assert_eq!(unknown.provider_status, "teleported");
    assert!(!is_known_word(Kind::Call, "teleported"));
}

#[test]
fn input_and_record_results_without_a_status_join_the_timeline() {
    let input = receive_body(
        r#"{"uuid":"u1","conversation_uuid":"CON-1","dtmf":{"digits":"42","timed_out":false},"timestamp":"2020-01-01T12:00:00.000Z"}"#,
    );
    assert_eq!(input.provider_status, "input");
    assert_eq!(input.status, None);
    let record = receive_body(
        r#"{"uuid":"u1","recording_url":"https://api.nexmo.com/v1/files/r1","timestamp":"2020-01-01T12:00:01.000Z"}"#,
    );
    assert_eq!(record.provider_status, "record");
    assert_eq!(record.status, None);
}

/// Signs `body` as Vonage would at `NOW`, then receives it, with every event it gives.
fn receive_all(body: &str) -> Result<Vec<Event>, WebhookError> {
    let provider = vonage();
    let signed = provider.sign(&voice_post(body), now())?;
    provider.receive(&signed, now())
}

#[test]
fn a_transfer_without_a_status_joins_the_timeline() {
    let transfer = receive_body(
        r#"{"type":"transfer","uuid":"u1","conversation_uuid_from":"CON-1","conversation_uuid_to":"CON-2","timestamp":"2020-01-01T12:00:02.000Z"}"#,
    );
    assert_eq!(transfer.subject_id, "u1");
    assert_eq!(transfer.provider_status, "transfer");
    assert_eq!(transfer.status, None);
    assert_eq!(transfer.occurred_at, Some(time("2020-01-01T12:00:02.000Z")));
    assert_eq!(transfer.details.extra["conversation_uuid_from"], "CON-1");
    assert_eq!(transfer.details.extra["conversation_uuid_to"], "CON-2");
    let typed_only = receive_body(r#"{"type":"transfer","uuid":"u1"}"#);
    assert_eq!(typed_only.provider_status, "transfer");
}

#[test]
fn record_results_and_errors_that_name_no_leg_are_acknowledged_without_an_event() {
    for body in [
        r#"{"start_time":"2020-01-01T12:00:10Z","recording_url":"https://api.nexmo.com/v1/files/r1","size":12222,"recording_uuid":"r1","end_time":"2020-01-01T12:00:20Z","conversation_uuid":"CON-1","timestamp":"2020-01-01T12:00:21.000Z"}"#,
        r#"{"recording_uuid":"r1","conversation_uuid":"CON-1"}"#,
        r#"{"reason":"Syntax error in NCCO","conversation_uuid":"CON-1","timestamp":"2020-01-01T12:00:00.000Z"}"#,
    ] {
        assert_eq!(receive_all(body), Ok(Vec::new()), "{body}");
    }
}

#[test]
fn an_event_without_a_call_id_or_status_is_refused() {
    assert_eq!(
        receive_all(r#"{"conversation_uuid":"CON-1","status":"answered"}"#).err(),
        Some(WebhookError::MissingField("uuid"))
    );
    assert_eq!(
        receive_all(r#"{"conversation_uuid":"CON-1","reason":"x","status":"failed"}"#).err(),
        Some(WebhookError::MissingField("uuid"))
    );
    assert_eq!(
        sign_and_receive(&voice_post(r#"{"uuid":"u1"}"#)).err(),
        Some(WebhookError::MissingField("status"))
    );
}

#[test]
fn get_events_are_read_from_the_query_and_keyed_by_sorted_parameters() {
    let get = CapturedRequest::new(
        "GET",
        &format!("{URL}?uuid=u1&conversation_uuid=CON-1&status=answered&direction=inbound&from=447700900001&timestamp=2020-01-01T12%3A00%3A05.000Z"),
    );
    let event = sign_and_receive(&get).expect("valid");
    assert_eq!(event.subject_id, "u1");
    assert_eq!(event.status, Some(Status::InProgress));
    assert_eq!(event.direction, Some(Direction::Inbound));
    assert_eq!(event.occurred_at, Some(time("2020-01-01T12:00:05.000Z")));
    assert_eq!(event.session_id.as_deref(), Some("CON-1"));

    let reordered = CapturedRequest::new(
        "GET",
        &format!("{URL}?timestamp=2020-01-01T12%3A00%3A05.000Z&from=447700900001&direction=inbound&status=answered&conversation_uuid=CON-1&uuid=u1"),
    );
    assert_eq!(
        sign_and_receive(&reordered).expect("valid").event_id,
        event.event_id
    );
}

#[test]
fn unsigned_requests_are_told_apart() {
    let provider = vonage();
    let voice_json = voice_post(STARTED);
    assert_eq!(
        provider.verify(&voice_json, now()).err(),
        Some(WebhookError::UnsignedCallback)
    );
    let human = voice_post(HUMAN);
    assert_eq!(
        provider.verify(&human, now()).err(),
        Some(WebhookError::UnsignedCallback)
    );
    let voice_get = CapturedRequest::new("GET", &format!("{URL}?conversation_uuid=CON-1&status=x"));
    assert_eq!(
        provider.verify(&voice_get, now()).err(),
        Some(WebhookError::UnsignedCallback)
    );
    // A voice event with nested values is still recognised.
    let input = voice_post(r#"{"uuid":"u1","dtmf":{"digits":"1"}}"#);
    assert_eq!(
        provider.verify(&input, now()).err(),
        Some(WebhookError::UnsignedCallback)
    );

    let receipt = CapturedRequest::new(
        "GET",
        &format!("{URL}?messageId=M1&status=delivered&timestamp={NOW}"),
    );
    assert!(matches!(
        provider.verify(&receipt, now()),
        Err(WebhookError::MissingSignature(_))
    ));
    let empty = CapturedRequest::new("POST", URL);
    assert!(matches!(
        provider.verify(&empty, now()),
        Err(WebhookError::MissingSignature(_))
    ));
    let basic = voice_post(STARTED).with_header("authorization", "Basic dXNlcjpwYXNz");
    assert_eq!(
        provider.verify(&basic, now()).err(),
        Some(WebhookError::UnsignedCallback)
    );
    let text = CapturedRequest::new("POST", URL)
        .with_header("content-type", "text/plain")
        .with_body("uuid=u1");
    assert_eq!(
        provider.verify(&text, now()).err(),
        Some(WebhookError::UnsupportedContentType("text/plain".into()))
    );
}

#[test]
fn a_bearer_token_selects_the_voice_scheme_even_with_a_sig() {
    let provider = vonage();
    let receipt = CapturedRequest::new(
        "GET",
        &format!("{URL}?messageId=M1&status=delivered&timestamp={NOW}"),
    );
    let signed_receipt = provider.sign(&receipt, now()).expect("signed");
    assert!(provider.verify(&signed_receipt, now()).is_ok());
    let with_bearer = signed_receipt.with_header("authorization", "Bearer a.b.c");
    assert!(matches!(
        provider.verify(&with_bearer, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
    // Signing it again as an SMS drops the header, as Vonage sends none.
    let re_signed = provider.sign(&with_bearer, now()).expect("signed");
    assert_eq!(re_signed.header("authorization"), None);
    assert!(provider.verify(&re_signed, now()).is_ok());
}

fn encode_json(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with the given header, the claims of a valid `STARTED` event, and an HMAC signature
/// made with `mac` (whatever the header says).
fn crafted_token(header: serde_json::Value, signature: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let claims = serde_json::json!({
        "iat": NOW,
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": hex::encode(<Sha256 as sha2::Digest>::digest(STARTED)),
    });
    let signing_input = format!("{}.{}", encode_json(&header), encode_json(&claims));
    let signature = URL_SAFE_NO_PAD.encode(signature(signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

fn hs256(input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

fn hs384(input: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha384>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

fn with_token(token: &str) -> CapturedRequest {
    voice_post(STARTED).with_header("authorization", &format!("Bearer {token}"))
}

#[test]
fn only_hs256_is_accepted() {
    let provider = vonage();
    let valid = crafted_token(serde_json::json!({"alg": "HS256", "typ": "JWT"}), hs256);
    assert!(provider.verify(&with_token(&valid), now()).is_ok());

    let refused = [
        (
            "none",
            crafted_token(serde_json::json!({"alg": "none", "typ": "JWT"}), |_| {
                Vec::new()
            }),
        ),
        (
            "RS256",
            crafted_token(serde_json::json!({"alg": "RS256", "typ": "JWT"}), hs256),
        ),
        (
            "HS384",
            crafted_token(serde_json::json!({"alg": "HS384", "typ": "JWT"}), hs384),
        ),
        (
            "HS512",
            crafted_token(serde_json::json!({"alg": "HS512", "typ": "JWT"}), hs256),
        ),
        (
            "hs256",
            crafted_token(serde_json::json!({"alg": "hs256", "typ": "JWT"}), hs256),
        ),
    ];
    for (alg, token) in refused {
        assert_eq!(
            provider.verify(&with_token(&token), now()).err(),
            Some(WebhookError::UnsupportedAlgorithm(alg.into())),
            "{alg}"
        );
    }
    let missing = crafted_token(serde_json::json!({"typ": "JWT"}), hs256);
    assert!(matches!(
        provider.verify(&with_token(&missing), now()),
        Err(WebhookError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn padded_base64url_parts_are_accepted() {
    let header = URL_SAFE.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE.encode(
        serde_json::json!({"iat": NOW, "payload_hash": hex::encode(<Sha256 as sha2::Digest>::digest(STARTED))})
            .to_string(),
    );
    assert!(
        header.ends_with('=') || claims.ends_with('='),
        "the example must carry padding"
    );
    let signing_input = format!("{header}.{claims}");
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE.encode(hs256(signing_input.as_bytes()))
    );
    assert!(vonage().verify(&with_token(&token), now()).is_ok());
}

#[test]
fn claims_rules_payload_hash_and_iat() {
    let provider = vonage();
    let sign = |claims: serde_json::Value| {
        let signing_input = format!(
            "{}.{}",
            encode_json(&serde_json::json!({"alg": "HS256", "typ": "JWT"})),
            encode_json(&claims)
        );
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(hs256(signing_input.as_bytes()))
        )
    };
    let hash = hex::encode(<Sha256 as sha2::Digest>::digest(STARTED));

    let upper_case_hash =
        sign(serde_json::json!({"iat": NOW, "payload_hash": hash.to_ascii_uppercase()}));
    assert!(provider
        .verify(&with_token(&upper_case_hash), now())
        .is_ok());

    let no_iat = sign(serde_json::json!({"payload_hash": hash}));
    assert_eq!(
        provider.verify(&with_token(&no_iat), now()).err(),
        Some(WebhookError::MissingSignedField("iat"))
    );
    let fractional_iat = sign(serde_json::json!({"iat": NOW as f64 + 0.5, "payload_hash": hash}));
    assert!(provider.verify(&with_token(&fractional_iat), now()).is_ok());
    for iat in [
        serde_json::json!(i64::MIN),
        serde_json::json!(i64::MAX),
        serde_json::json!(1e300),
        serde_json::json!(-1e300),
    ] {
        let huge_iat = sign(serde_json::json!({"iat": iat, "payload_hash": hash}));
        assert!(
            matches!(
                provider.verify(&with_token(&huge_iat), now()),
                Err(WebhookError::TimestampOutOfTolerance(_))
            ),
            "{iat}"
        );
    }

    let no_hash = sign(serde_json::json!({"iat": NOW}));
    assert_eq!(
        provider.verify(&with_token(&no_hash), now()).err(),
        Some(WebhookError::MissingSignedField("payload_hash"))
    );
    let not_hex = sign(serde_json::json!({"iat": NOW, "payload_hash": "zz"}));
    assert_eq!(
        provider.verify(&with_token(&not_hex), now()).err(),
        Some(WebhookError::PayloadHashMismatch)
    );
    let string_iat = sign(serde_json::json!({"iat": NOW.to_string(), "payload_hash": hash}));
    assert!(matches!(
        provider.verify(&with_token(&string_iat), now()),
        Err(WebhookError::InvalidSignature(_))
    ));
}

#[test]
fn signing_round_trips_for_post_and_get_with_rotation() {
    let provider = vonage_with(&["new", "old"], None);
    for request in [
        voice_post(COMPLETED),
        CapturedRequest::new("GET", &format!("{URL}?uuid=u1&status=ringing")),
    ] {
        let signed = provider.sign(&request, now()).expect("signed");
        let token = signed.bearer_token().expect("a bearer token");
        let claims =
            voice::verify_jwt_signature(token, &[Secret::new("new")]).expect("first secret signs");
        assert_eq!(claims.issued_at, Some(NOW));
        assert!(provider.receive(&signed, now()).is_ok());
        // A receiver that still has only the old secret refuses it; one rotated to `old,new` accepts.
        assert!(vonage_with(&["old"], None).verify(&signed, now()).is_err());
        assert!(vonage_with(&["old", "new"], None)
            .verify(&signed, now())
            .is_ok());
    }
}

#[test]
fn a_body_with_a_byte_order_mark_is_read_as_without_it() {
    let signed = vonage()
        .sign(&voice_post(&format!("\u{feff}{STARTED}")), now())
        .expect("signed");
    assert!(signed.body.starts_with(b"\xEF\xBB\xBF"), "kept as received");
    let with_mark = vonage().receive(&signed, now()).expect("accepted");
    let without = receive_body(STARTED);
    assert_eq!(with_mark.len(), 1);
    assert_eq!(with_mark[0].subject_id, without.subject_id);
    assert_eq!(with_mark[0].status, without.status);
    assert_eq!(with_mark[0].occurred_at, without.occurred_at);
    assert_eq!(with_mark[0].session_id, without.session_id);
}
