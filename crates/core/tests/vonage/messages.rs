//! Messages API status callbacks: JWT-signed JSON keyed by `message_uuid` (docs/providers/vonage.md [M1]).

use switchboard_core::model::Direction;
use switchboard_core::providers::vonage::is_known_word;
use switchboard_core::{
    Event, Kind, Provider, ProviderId, Signer, Status, SubjectState, WebhookError,
};

use crate::support::{now, time, voice_post, vonage};

const MESSAGE: &str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab";

/// A status callback shaped like the documented SMS example ([M1]).
fn callback(status: &str, at: &str, error: &str) -> String {
    format!(
        r#"{{"message_uuid":"{MESSAGE}","to":"447700900000","from":"447700900001","timestamp":"{at}","status":"{status}","usage":{{"currency":"EUR","price":"0.0333"}},"client_ref":"abc123","channel":"sms","destination":{{"network_code":"12345"}},"sms":{{"count_total":"2"}}{error}}}"#
    )
}

fn receive(body: &str) -> Result<Vec<Event>, WebhookError> {
    let provider = vonage();
    let signed = provider.sign(&voice_post(body), now())?;
    provider.receive(&signed, now())
}

#[test]
fn status_callbacks_are_stored_as_messages_keyed_by_message_uuid() {
    let events = receive(&callback("submitted", "2020-01-01T11:59:58.000Z", "")).unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.provider, ProviderId::Vonage);
    assert_eq!(event.kind, Kind::Message);
    assert_eq!(event.subject_id, MESSAGE);
    assert_eq!(event.status, Some(Status::Sent));
    assert_eq!(event.provider_status, "submitted");
    assert_eq!(event.direction, Some(Direction::Outbound));
    assert_eq!(event.from.as_deref(), Some("447700900001"));
    assert_eq!(event.to.as_deref(), Some("447700900000"));
    assert_eq!(event.occurred_at, Some(time("2020-01-01T11:59:58Z")));
    assert_eq!(event.details.price.as_deref(), Some("0.0333"));
    assert_eq!(event.details.currency.as_deref(), Some("EUR"));
    assert_eq!(event.details.error_code, None);
    assert_eq!(event.details.extra["channel"], "sms");
    assert_eq!(event.details.extra["client_ref"], "abc123");
    assert!(event.event_id.starts_with("vonage:"));
}

#[test]
fn every_documented_status_maps_onto_a_message_status() {
    for (word, status) in [
        ("submitted", Status::Sent),
        ("delivered", Status::Delivered),
        ("read", Status::Read),
        ("rejected", Status::Rejected),
        ("undeliverable", Status::Failed),
    ] {
        let events = receive(&callback(word, "2020-01-01T12:00:00.000Z", "")).unwrap();
        assert_eq!(events[0].status, Some(status), "{word}");
        assert!(is_known_word(Kind::Message, word), "{word}");
    }
    let unknown = receive(&callback("teleported", "2020-01-01T12:00:00.000Z", "")).unwrap();
    assert_eq!(unknown[0].status, None);
    assert!(!is_known_word(Kind::Message, "teleported"));
}

#[test]
fn a_rejection_keeps_its_error_and_a_lifecycle_folds_in_any_order() {
    let rejected = receive(&callback(
        "rejected",
        "2020-01-01T12:00:05.000Z",
        r#","error":{"type":"https://developer.nexmo.com/api-errors/messages-olympus#1320","title":1320,"detail":"Message failed because the number is blocked","instance":"bf0ca0bf"}"#,
    ))
    .unwrap();
    assert_eq!(rejected[0].details.error_code.as_deref(), Some("1320"));
    assert_eq!(
        rejected[0].details.error_message.as_deref(),
        Some("Message failed because the number is blocked")
    );

    let submitted = receive(&callback("submitted", "2020-01-01T12:00:00.000Z", "")).unwrap();
    let delivered = receive(&callback("delivered", "2020-01-01T12:00:10.000Z", "")).unwrap();
    let read = receive(&callback("read", "2020-01-01T12:00:20.000Z", "")).unwrap();
    let events = [&submitted[0], &delivered[0], &read[0]];
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
        let mut state = SubjectState::new(ProviderId::Vonage, Kind::Message, MESSAGE);
        for index in order {
            state.apply(events[index]);
        }
        assert_eq!(state.summary(3).status, Some(Status::Read), "{order:?}");
    }
}

#[test]
fn a_forged_or_unsigned_status_callback_is_refused() {
    let provider = vonage();
    let signed = provider
        .sign(
            &voice_post(&callback("submitted", "2020-01-01T12:00:00.000Z", "")),
            now(),
        )
        .unwrap();
    let mut forged = signed.clone();
    forged.body = callback("delivered", "2020-01-01T12:00:00.000Z", "").into_bytes();
    assert_eq!(
        provider.receive(&forged, now()).err(),
        Some(WebhookError::PayloadHashMismatch)
    );
    assert_eq!(
        receive(r#"{"message_uuid":"m1","to":"447700900000"}"#).err(),
        Some(WebhookError::MissingField("status"))
    );
}

#[test]
fn an_inbound_message_is_stored_as_delivered_inbound_without_its_text() {
    // The documented inbound SMS shape ([M2]).
    let body = r#"{"channel":"sms","message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","to":"447700900000","from":"447700900001","timestamp":"2025-02-03T12:14:25Z","text":"Hello From Vonage! ErrorCode Status=read","sms":{"num_messages":"1","keyword":"HELLO"},"usage":{"currency":"EUR","price":"0.0012"},"message_type":"text"}"#;
    let events = receive(body).unwrap();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.kind, Kind::Message);
    assert_eq!(event.subject_id, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab");
    assert_eq!(event.status, Some(Status::Delivered));
    assert_eq!(event.provider_status, "inbound");
    assert_eq!(event.direction, Some(Direction::Inbound));
    assert_eq!(event.from.as_deref(), Some("447700900001"));
    assert_eq!(event.to.as_deref(), Some("447700900000"));
    assert_eq!(event.occurred_at, Some(time("2025-02-03T12:14:25Z")));
    assert_eq!(event.details.extra["message_type"], "text");
    let stored = serde_json::to_string(event).unwrap();
    assert!(!stored.contains("Hello From Vonage"), "{stored}");
}
