//! VIS call events: state mapping, times, duration in milliseconds, lifecycles in any order.

use switchboard_core::model::Direction;
use switchboard_core::providers::vonage_business::is_known_word;
use switchboard_core::{Event, Kind, Provider, Signer, Status, WebhookError};

use crate::support::{assert_order_independent, now, post, provider, receive, time};

const CALL: &str = "abc1234a806d07a6ff17ba";

/// A VIS CALL event as documented (docs/providers/vonage-business.md), with metadata in the body.
fn event(state: &str, direction: &str, duration: u64, times: &str, delivery: &str) -> Event {
    receive(&format!(
        r#"{{"event":{{"accountId":"-1","direction":"{direction}","duration":{duration},"externalId":"abc1234-288c_123","id":"{CALL}","internal":false,"phoneNumber":"14155550100","startTime":"2020-10-01T16:10:06.000+0000"{times},"state":"{state}","type":"CALL","ucpType":"VBS","userId":"1234"}},
"metadata":{{"attempt":1,"deliveryId":"{delivery}","webhookId":"abc1234-c1ad"}}}}"#
    ))
}

const ANSWER: &str = r#","answerTime":"2020-10-01T16:10:10.000+0000""#;
const ENDED: &str =
    r#","answerTime":"2020-10-01T16:10:10.000+0000","endTime":"2020-10-01T16:10:52.500+0000""#;

#[test]
fn an_event_maps_ids_direction_times_and_milliseconds() {
    let answered = event("ANSWERED", "OUTBOUND", 42_500, ENDED, "d-1");
    assert_eq!(answered.kind, Kind::Call);
    assert_eq!(answered.subject_id, CALL);
    assert!(answered.event_id.starts_with("vonage-business:"));
    assert_eq!(answered.status, Some(Status::Completed));
    assert_eq!(answered.provider_status, "ANSWERED");
    assert_eq!(answered.direction, Some(Direction::Outbound));
    assert_eq!(answered.to.as_deref(), Some("14155550100"));
    assert_eq!(answered.from, None);
    assert_eq!(answered.occurred_at, Some(time("2020-10-01T16:10:52.500Z")));
    assert_eq!(
        answered.details.started_at,
        Some(time("2020-10-01T16:10:10Z"))
    );
    assert_eq!(
        answered.details.ended_at,
        Some(time("2020-10-01T16:10:52.500Z"))
    );
    assert_eq!(answered.details.duration_seconds, Some(42));
    assert_eq!(answered.details.extra["duration_ms"], "42500");
    assert_eq!(answered.details.extra["externalId"], "abc1234-288c_123");
    assert_eq!(answered.details.extra["internal"], "false");
    assert_eq!(answered.received_at, now());

    let inbound = event("RINGING", "INBOUND", 0, "", "d-2");
    assert_eq!(inbound.from.as_deref(), Some("14155550100"));
    assert_eq!(inbound.to, None);
    assert_eq!(inbound.occurred_at, Some(time("2020-10-01T16:10:06Z")));
}

#[test]
fn states_map_onto_call_statuses() {
    for (state, status) in [
        ("INITIALIZING", Some(Status::Initiated)),
        ("RINGING", Some(Status::Ringing)),
        ("ACTIVE", Some(Status::InProgress)),
        ("HELD", Some(Status::InProgress)),
        ("REMOTE_HELD", Some(Status::InProgress)),
        ("ANSWERED", Some(Status::Completed)),
        ("CANCELLED", Some(Status::Canceled)),
        ("MISSED", Some(Status::NoAnswer)),
        ("REJECTED", Some(Status::Rejected)),
        ("DETACHED", None),
    ] {
        let event = event(state, "INBOUND", 0, ANSWER, "d");
        assert_eq!(event.status, status, "{state}");
        assert_eq!(event.details.detail, Some(state.to_ascii_lowercase()));
        assert!(is_known_word(Kind::Call, state), "{state}");
        assert!(provider().is_known_word(Kind::Call, state), "{state}");
    }
    let unknown = event("TELEPORTED", "INBOUND", 0, "", "d");
    assert_eq!(unknown.status, None);
    assert_eq!(unknown.provider_status, "TELEPORTED");
    assert!(!is_known_word(Kind::Call, "TELEPORTED"));
}

#[test]
fn the_event_id_is_the_signed_content_not_the_delivery_id() {
    let first = event("RINGING", "INBOUND", 0, "", "d-1");
    let retry = event("RINGING", "INBOUND", 0, "", "d-1-retry");
    assert_eq!(first.event_id, retry.event_id);
    let other = event("ACTIVE", "INBOUND", 0, ANSWER, "d-1");
    assert_ne!(first.event_id, other.event_id);
}

#[test]
fn an_answered_call_with_a_hold_folds_to_completed_in_any_order() {
    let events = [
        event("INITIALIZING", "INBOUND", 0, "", "1"),
        event("RINGING", "INBOUND", 0, "", "2"),
        event("ACTIVE", "INBOUND", 0, ANSWER, "3"),
        event("HELD", "INBOUND", 0, ANSWER, "4"),
        event("ANSWERED", "INBOUND", 42_500, ENDED, "5"),
    ];
    let summary = assert_order_independent(CALL, &events).summary(5);
    assert_eq!(summary.status, Some(Status::Completed));
    assert!(summary.terminal);
    assert_eq!(summary.detail.as_deref(), Some("answered"));
    assert_eq!(summary.answered_at, Some(time("2020-10-01T16:10:10Z")));
    assert_eq!(summary.ended_at, Some(time("2020-10-01T16:10:52.500Z")));
    assert_eq!(summary.duration_seconds, Some(42));
    assert_eq!(summary.from.as_deref(), Some("14155550100"));
    assert_eq!(summary.direction, Some(Direction::Inbound));
}

#[test]
fn missed_rejected_and_cancelled_calls_fold_to_their_outcome() {
    let end = r#","endTime":"2020-10-01T16:10:36.000+0000""#;
    for (state, direction, status) in [
        ("MISSED", "INBOUND", Status::NoAnswer),
        ("REJECTED", "INBOUND", Status::Rejected),
        ("CANCELLED", "OUTBOUND", Status::Canceled),
    ] {
        let events = [
            event("RINGING", direction, 0, "", "1"),
            event(state, direction, 0, end, "2"),
        ];
        let summary = assert_order_independent(CALL, &events).summary(2);
        assert_eq!(summary.status, Some(status), "{state}");
        assert_eq!(summary.answered_at, None);
        assert_eq!(summary.ended_at, Some(time("2020-10-01T16:10:36Z")));
    }
}

#[test]
fn an_event_without_id_or_state_is_refused() {
    let provider = provider();
    let receive = |body: &str| {
        let signed = provider.sign(&post(body), now()).unwrap();
        provider.receive(&signed, now())
    };
    assert_eq!(
        receive(r#"{"event":{"state":"RINGING"}}"#).unwrap_err(),
        WebhookError::MissingField("event.id")
    );
    assert_eq!(
        receive(r#"{"event":{"id":"x"}}"#).unwrap_err(),
        WebhookError::MissingField("event.state")
    );
    // A numeric id (int64 in the spec) works.
    let event = receive(r#"{"event":{"id":12345678901,"state":"RINGING","type":"CALL"}}"#).unwrap();
    assert_eq!(event[0].subject_id, "12345678901");
}

#[test]
fn events_that_are_not_calls_are_acknowledged_without_an_event() {
    let provider = provider();
    let receive = |body: &str| {
        let signed = provider.sign(&post(body), now()).unwrap();
        provider.receive(&signed, now())
    };
    for body in [
        r#"{"event":{"id":"x","state":"RINGING","type":"SMS"}}"#,
        r#"{"event":{"id":"y","type":"SMS","smsData":{"text":"hi"}}}"#,
        r#"{"event":{"type":"PRESENCE"}}"#,
    ] {
        assert_eq!(receive(body), Ok(Vec::new()), "{body}");
    }
    let call = receive(r#"{"event":{"id":"x","state":"RINGING","type":"CALL"}}"#).unwrap();
    assert_eq!(call[0].status, Some(Status::Ringing));
}

#[test]
fn a_body_with_a_byte_order_mark_is_read_as_without_it() {
    let body = format!(
        r#"{{"event":{{"direction":"OUTBOUND","duration":0,"id":"{CALL}","phoneNumber":"14155550100","startTime":"2020-10-01T16:10:06.000+0000","state":"RINGING","type":"CALL"}}}}"#
    );
    let signed = provider()
        .sign(&post(&format!("\u{feff}{body}")), now())
        .expect("signed");
    assert!(signed.body.starts_with(b"\xEF\xBB\xBF"), "kept as received");
    let events = provider().receive(&signed, now()).expect("accepted");
    assert_eq!(events, vec![receive(&body)]);
}
