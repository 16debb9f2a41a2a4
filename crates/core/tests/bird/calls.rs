//! Voice call events: envelopes, status table, unknown words, lifecycles in any order, signing.

use proptest::prelude::*;
use switchboard_core::model::Direction;
use switchboard_core::providers::bird;
use switchboard_core::{
    CapturedRequest, Event, Kind, Provider, ProviderId, Signer, Status, SubjectState, WebhookError,
};

use crate::support::{now, post, proptest_config, provider, receive_signed, time, KEY, NOW, URL};

const CALL: &str = "0b5b6a3e-2c39-4d0f-9a53-6f3f2f6a1a11";

/// A call object shaped like get-a-call, for `status`, with the times that status has reached.
fn call(status: &str) -> String {
    let mut fields = vec![
        format!(r#""id":"{CALL}""#),
        r#""channelId":"b827924e-9789-4c2f-a4d5-b352175354f6""#.to_owned(),
        r#""from":"+31201234567""#.to_owned(),
        r#""to":"+31612345678""#.to_owned(),
        r#""direction":"outgoing""#.to_owned(),
        format!(r#""status":"{status}""#),
        r#""createdAt":"2024-07-01T08:00:00Z""#.to_owned(),
    ];
    if matches!(status, "ringing" | "ongoing" | "completed") {
        fields.push(r#""ringingAt":"2024-07-01T08:00:02Z""#.to_owned());
    }
    if matches!(status, "ongoing" | "completed") {
        fields.push(r#""answeredAt":"2024-07-01T08:00:05Z""#.to_owned());
    }
    if matches!(status, "completed" | "busy" | "no-answer" | "failed") {
        fields.push(r#""endedAt":"2024-07-01T08:00:47Z""#.to_owned());
        fields.push(r#""hangupSource":"callee""#.to_owned());
    }
    if status == "completed" {
        fields.push(r#""duration":42"#.to_owned());
    }
    format!("{{{}}}", fields.join(","))
}

fn wrapped(status: &str) -> String {
    format!(
        r#"{{"service":"channels","event":"voice.outbound","payload":{}}}"#,
        call(status)
    )
}

fn receive(request: &CapturedRequest) -> Result<Event, WebhookError> {
    receive_signed(&provider(&[KEY]), request, now())
}

#[test]
fn the_call_object_is_read_under_payload_or_at_the_top_level() {
    let nested = receive(&post(&wrapped("completed"))).expect("valid");
    let top = receive(&post(&call("completed"))).expect("valid");
    for event in [&nested, &top] {
        assert_eq!(event.provider, ProviderId::Bird);
        assert_eq!(event.kind, Kind::Call);
        assert_eq!(event.subject_id, CALL);
        assert_eq!(event.status, Some(Status::Completed));
        assert_eq!(event.direction, Some(Direction::Outbound));
        assert_eq!(event.from.as_deref(), Some("+31201234567"));
        assert_eq!(event.to.as_deref(), Some("+31612345678"));
        assert_eq!(event.occurred_at, Some(time("2024-07-01T08:00:47Z")));
        assert_eq!(event.details.duration_seconds, Some(42));
        assert_eq!(event.details.started_at, Some(time("2024-07-01T08:00:05Z")));
        assert_eq!(event.details.ended_at, Some(time("2024-07-01T08:00:47Z")));
        assert_eq!(event.details.extra["hangupSource"], "callee");
    }
    assert_ne!(nested.event_id, top.event_id, "different bodies");
}

#[test]
fn parties_may_be_originator_and_receiver_objects_and_parent_id_is_kept() {
    let body = format!(
        r#"{{"id":"{CALL}","status":"ringing","direction":"incoming","parentId":"p-1","originator":{{"number":{{"number":"+3120"}}}},"receiver":{{"contact":{{"identifierValue":"+3161"}}}}}}"#
    );
    let event = receive(&post(&body)).expect("valid");
    assert_eq!(event.from.as_deref(), Some("+3120"));
    assert_eq!(event.to.as_deref(), Some("+3161"));
    assert_eq!(event.direction, Some(Direction::Inbound));
    assert_eq!(event.details.extra["parentId"], "p-1");
}

#[test]
fn the_status_table_and_unknown_words() {
    for (word, status) in [
        ("accepted", Some(Status::Initiated)),
        ("starting", Some(Status::Initiated)),
        ("ringing", Some(Status::Ringing)),
        ("ongoing", Some(Status::InProgress)),
        ("completed", Some(Status::Completed)),
        ("no-answer", Some(Status::NoAnswer)),
        ("busy", Some(Status::Busy)),
        ("failed", Some(Status::Failed)),
        ("cancelled", Some(Status::Canceled)),
        ("transferring", None),
    ] {
        let event = receive(&post(&wrapped(word))).expect("valid");
        assert_eq!(event.status, status, "{word}");
        assert_eq!(event.provider_status, word);
        assert_eq!(
            provider(&[KEY]).is_known_word(Kind::Call, word),
            status.is_some(),
            "{word}"
        );
    }
    assert!(!bird::is_known_word(Kind::Message, "completed"));
}

#[test]
fn the_event_id_is_the_signed_body_hash_whatever_the_unsigned_request_id() {
    let a = receive(&post(&wrapped("ringing"))).expect("valid");
    let with_id =
        receive(&post(&wrapped("ringing")).with_header("messagebird-request-id", "req-123"))
            .expect("valid");
    assert_eq!(a.event_id, with_id.event_id);
    assert!(a.event_id.starts_with("bird:"));
    assert_eq!(a.event_id.len(), "bird:".len() + 32);
    let other = receive(&post(&wrapped("ongoing"))).expect("valid");
    assert_ne!(a.event_id, other.event_id);
}

fn lifecycle(final_status: &str) -> Vec<Event> {
    let mut steps = vec!["accepted", "starting", "ringing"];
    if final_status == "completed" {
        steps.push("ongoing");
    }
    steps.push(final_status);
    steps
        .iter()
        .map(|status| receive(&post(&wrapped(status))).expect("valid"))
        .collect()
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn lifecycles_fold_to_their_final_state_in_any_order_with_duplicates(
        which in 0usize..3,
        order in Just((0usize..5).collect::<Vec<_>>()).prop_shuffle(),
        duplicate in 0usize..5,
    ) {
        let (final_word, expected) = [("completed", Status::Completed), ("busy", Status::Busy), ("no-answer", Status::NoAnswer)][which];
        let events = lifecycle(final_word);
        let mut state = SubjectState::new(ProviderId::Bird, Kind::Call, CALL);
        for index in order.iter().filter(|&&index| index < events.len()).chain([duplicate % events.len()].iter()) {
            state.apply(&events[*index]);
        }
        let summary = state.summary(events.len() as u64);
        prop_assert_eq!(summary.status, Some(expected));
        prop_assert!(summary.terminal);
        prop_assert_eq!(summary.ended_at, Some(time("2024-07-01T08:00:47Z")));
        if expected == Status::Completed {
            prop_assert_eq!(summary.answered_at, Some(time("2024-07-01T08:00:05Z")));
            prop_assert_eq!(summary.ringing_at, Some(time("2024-07-01T08:00:02Z")));
            prop_assert_eq!(summary.duration_seconds, Some(42));
        }
    }

    #[test]
    fn arbitrary_requests_never_panic(
        signature in prop::option::of("[A-Za-z0-9+/=]{0,60}"),
        timestamp in prop::option::of(prop_oneof!["[0-9]{0,20}", any::<String>()]),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut request = CapturedRequest::new("POST", URL).with_body(body);
        if let Some(signature) = signature { request.set_header("messagebird-signature", &signature); }
        if let Some(timestamp) = timestamp { request.set_header("messagebird-request-timestamp", &timestamp); }
        let bird = provider(&[KEY]);
        let _ = bird.receive(&request, now());
        let signed = bird.sign(&request, now()).expect("a key is configured");
        prop_assert!(bird.verify(&signed, now()).is_ok());
        let _ = bird.receive(&signed, now());
    }
}

#[test]
fn signed_events_that_are_not_voice_events_are_acknowledged_without_an_event() {
    let bird = provider(&[KEY]);
    for body in [
        r#"{"service":"channels","event":"sms.outbound","payload":{"id":"x","status":"sent"}}"#,
        r#"{"service":"channels","event":"whatsapp.inbound","payload":{"id":"y"}}"#,
        r#"{"service":"numbers","event":"number.updated","payload":{}}"#,
    ] {
        let signed = bird.sign(&post(body), now()).expect("a key is configured");
        assert_eq!(bird.receive(&signed, now()), Ok(Vec::new()), "{body}");
    }
    let forged = post(r#"{"event":"sms.outbound"}"#)
        .with_header("messagebird-request-timestamp", &NOW.to_string())
        .with_header("messagebird-signature", "AAAA");
    assert!(matches!(
        bird.receive(&forged, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
}

#[test]
fn bodies_without_id_or_status_are_malformed() {
    assert_eq!(
        receive(&post(r#"{"status":"ringing"}"#)).err(),
        Some(WebhookError::MissingField("id"))
    );
    assert_eq!(
        receive(&post(r#"{"id":"x"}"#)).err(),
        Some(WebhookError::MissingField("status"))
    );
    assert!(matches!(
        receive(&post("[]")),
        Err(WebhookError::Malformed(_))
    ));
}

#[test]
fn a_body_with_a_byte_order_mark_is_read_as_without_it() {
    let with_mark = receive(&post(&format!("\u{feff}{}", call("completed")))).expect("valid");
    let without = receive(&post(&call("completed"))).expect("valid");
    assert_eq!(with_mark.subject_id, without.subject_id);
    assert_eq!(with_mark.status, without.status);
    assert_eq!(with_mark.details, without.details);
}
