//! Realistic Twilio callback lifecycles, normalized and folded through `SubjectState` in every
//! order (with duplicates) to the right final state.

use switchboard_core::model::{AnsweredBy, Direction};
use switchboard_core::{Event, Kind, Provider, Status};

use crate::support::{assert_every_order_reaches, fold, receive_one, signed_post, twilio};

const CALL_SID: &str = "CAe1644a7eed5088b159577c5802d8be38";
const MESSAGE_SID: &str = "SM1f0e8ae6ade43cb3c0ce4525424e404f";

/// A voice status callback as Twilio sends it with `StatusCallbackEvent` set.
fn call_callback(status: &str, sequence: &str, time: &str, more: &[(&str, &str)]) -> Event {
    let mut params = vec![
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", CALL_SID),
        ("CallStatus", status),
        ("CallbackSource", "call-progress-events"),
        ("Called", "+14155550100"),
        ("Caller", "+14155550199"),
        ("Direction", "outbound-api"),
        ("From", "+14155550199"),
        ("SequenceNumber", sequence),
        ("Timestamp", time),
        ("To", "+14155550100"),
    ];
    params.extend_from_slice(more);
    receive_one(&signed_post(&params))
}

fn answered_call() -> Vec<Event> {
    vec![
        call_callback("initiated", "0", "Tue, 10 Jan 2023 16:24:00 +0000", &[]),
        call_callback("ringing", "1", "Tue, 10 Jan 2023 16:24:01 +0000", &[]),
        call_callback(
            "in-progress",
            "2",
            "Tue, 10 Jan 2023 16:24:05 +0000",
            &[("AnsweredBy", "human")],
        ),
        call_callback(
            "completed",
            "3",
            "Tue, 10 Jan 2023 16:25:05 +0000",
            &[("CallDuration", "60"), ("SipResponseCode", "200")],
        ),
    ]
}

fn busy_call() -> Vec<Event> {
    vec![
        call_callback("initiated", "0", "Tue, 10 Jan 2023 16:24:00 +0000", &[]),
        call_callback("ringing", "1", "Tue, 10 Jan 2023 16:24:01 +0000", &[]),
        call_callback(
            "busy",
            "2",
            "Tue, 10 Jan 2023 16:24:03 +0000",
            &[("CallDuration", "0"), ("SipResponseCode", "486")],
        ),
    ]
}

fn no_answer_call() -> Vec<Event> {
    vec![
        call_callback("initiated", "0", "Tue, 10 Jan 2023 16:24:00 +0000", &[]),
        call_callback("ringing", "1", "Tue, 10 Jan 2023 16:24:01 +0000", &[]),
        call_callback(
            "no-answer",
            "2",
            "Tue, 10 Jan 2023 16:24:31 +0000",
            &[("CallDuration", "0"), ("SipResponseCode", "487")],
        ),
    ]
}

fn message_callback(status: &str, more: &[(&str, &str)]) -> Event {
    let mut params = vec![
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("ApiVersion", "2010-04-01"),
        ("From", "+14155550199"),
        ("MessageSid", MESSAGE_SID),
        ("MessageStatus", status),
        ("SmsSid", MESSAGE_SID),
        ("SmsStatus", status),
        ("To", "+14155550100"),
    ];
    params.extend_from_slice(more);
    receive_one(&signed_post(&params))
}

fn delivered_message() -> Vec<Event> {
    vec![
        message_callback("sending", &[]),
        message_callback("sent", &[]),
        message_callback("delivered", &[("RawDlrDoneDate", "2301101624")]),
    ]
}

fn failed_message() -> Vec<Event> {
    vec![
        message_callback("sending", &[]),
        message_callback("sent", &[]),
        message_callback(
            "undelivered",
            &[("ErrorCode", "30003"), ("RawDlrDoneDate", "2301101624")],
        ),
    ]
}

#[test]
fn answered_call_completes_with_duration_times_and_human() {
    let events = answered_call();
    assert_every_order_reaches(Kind::Call, &events, Status::Completed);
    let summary = fold(Kind::Call, &events).summary(4);
    assert_eq!(summary.id, CALL_SID);
    assert_eq!(summary.provider_status.as_deref(), Some("completed"));
    assert_eq!(summary.direction, Some(Direction::Outbound));
    assert_eq!(summary.from.as_deref(), Some("+14155550199"));
    assert_eq!(summary.to.as_deref(), Some("+14155550100"));
    assert_eq!(summary.duration_seconds, Some(60));
    assert_eq!(summary.answered_by, Some(AnsweredBy::Human));
    assert_eq!(
        summary.answered_at.map(|at| at.to_string()).as_deref(),
        Some("2023-01-10T16:24:05.000Z")
    );
    assert_eq!(
        summary.ended_at.map(|at| at.to_string()).as_deref(),
        Some("2023-01-10T16:25:05.000Z")
    );
    assert!(summary.terminal);
}

#[test]
fn busy_and_no_answer_calls_end_so() {
    assert_every_order_reaches(Kind::Call, &busy_call(), Status::Busy);
    assert_every_order_reaches(Kind::Call, &no_answer_call(), Status::NoAnswer);
    let summary = fold(Kind::Call, &no_answer_call()).summary(3);
    assert_eq!(summary.provider_status.as_deref(), Some("no-answer"));
    assert_eq!(summary.answered_at, None);
}

#[test]
fn delivered_and_failed_messages_end_so() {
    assert_every_order_reaches(Kind::Message, &delivered_message(), Status::Delivered);
    assert_every_order_reaches(Kind::Message, &failed_message(), Status::Undelivered);
    let summary = fold(Kind::Message, &failed_message()).summary(3);
    assert_eq!(summary.error_code.as_deref(), Some("30003"));
    assert_eq!(summary.direction, Some(Direction::Outbound));
    let delivered = &delivered_message()[2];
    assert_eq!(
        delivered
            .details
            .extra
            .get("RawDlrDoneDate")
            .map(String::as_str),
        Some("2301101624")
    );
    assert_eq!(
        delivered.occurred_at, None,
        "RawDlrDoneDate has no time zone"
    );
}

#[test]
fn sequence_number_timestamp_and_parent_are_mapped() {
    let event = call_callback(
        "ringing",
        "7",
        "Tue, 10 Jan 2023 16:24:05 +0000",
        &[("ParentCallSid", "CA0000000000000000000000000000parent")],
    );
    assert_eq!(event.sequence, Some(7));
    assert_eq!(
        event.occurred_at.map(|at| at.unix_seconds()),
        Some(1_673_367_845)
    );
    assert_eq!(
        event.details.extra.get("ParentCallSid").map(String::as_str),
        Some("CA0000000000000000000000000000parent")
    );
    assert_eq!(event.status, Some(Status::Ringing));
    assert_eq!(event.kind, Kind::Call);
}

#[test]
fn every_documented_word_maps_as_the_table_says() {
    for (word, expected) in [
        ("queued", Status::Initiated),
        ("initiated", Status::Initiated),
        ("ringing", Status::Ringing),
        ("in-progress", Status::InProgress),
        ("completed", Status::Completed),
        ("busy", Status::Busy),
        ("no-answer", Status::NoAnswer),
        ("canceled", Status::Canceled),
        ("failed", Status::Failed),
    ] {
        let event = call_callback(word, "0", "Tue, 10 Jan 2023 16:24:05 +0000", &[]);
        assert_eq!(event.status, Some(expected), "{word}");
        assert!(twilio().is_known_word(Kind::Call, word), "{word}");
    }
    for (word, expected) in [
        ("accepted", Some(Status::Accepted)),
        ("scheduled", Some(Status::Queued)),
        ("queued", Some(Status::Queued)),
        ("sending", Some(Status::Sent)),
        ("sent", Some(Status::Sent)),
        ("delivered", Some(Status::Delivered)),
        ("undelivered", Some(Status::Undelivered)),
        ("failed", Some(Status::Failed)),
        ("canceled", Some(Status::Canceled)),
        ("read", Some(Status::Read)),
        ("receiving", Some(Status::Sent)),
        ("received", Some(Status::Delivered)),
        ("partially_delivered", None),
    ] {
        let event = message_callback(word, &[]);
        assert_eq!(event.status, expected, "{word}");
        assert!(twilio().is_known_word(Kind::Message, word), "{word}");
    }
    assert_eq!(
        message_callback("received", &[]).direction,
        Some(Direction::Inbound)
    );
}

#[test]
fn unknown_words_are_kept_without_a_status() {
    let call = call_callback("teleported", "4", "Tue, 10 Jan 2023 16:24:05 +0000", &[]);
    assert_eq!(call.status, None);
    assert_eq!(call.provider_status, "teleported");
    assert!(!twilio().is_known_word(Kind::Call, "teleported"));
    let message = message_callback("evaporated", &[]);
    assert_eq!(message.status, None);
    assert_eq!(message.provider_status, "evaporated");
    assert!(!twilio().is_known_word(Kind::Message, "evaporated"));
    // Folded, an unknown word does not move the state.
    let mut events = answered_call();
    events.push(call);
    assert_eq!(fold(Kind::Call, &events).status(), Some(Status::Completed));
}

#[test]
fn machine_detection_sets_answered_by() {
    let event = call_callback(
        "in-progress",
        "2",
        "Tue, 10 Jan 2023 16:24:05 +0000",
        &[("AnsweredBy", "machine_end_beep")],
    );
    assert_eq!(event.details.answered_by, Some(AnsweredBy::Machine));
    // The asynchronous AMD callback has no `CallStatus`: an annotation.
    let amd = receive_one(&signed_post(&[
        ("CallSid", CALL_SID),
        ("AnsweredBy", "machine_start"),
        ("MachineDetectionDuration", "2000"),
    ]));
    assert_eq!(amd.status, None);
    assert_eq!(amd.provider_status, "machine_start");
    assert_eq!(amd.details.answered_by, Some(AnsweredBy::Machine));
    assert!(twilio().is_known_word(Kind::Call, "machine_start"));
}

#[test]
fn event_ids_hash_the_signed_content() {
    let first = call_callback("ringing", "1", "Tue, 10 Jan 2023 16:24:01 +0000", &[]);
    // A retry is the same callback: the same id.
    let retry = call_callback("ringing", "1", "Tue, 10 Jan 2023 16:24:01 +0000", &[]);
    assert_eq!(first.event_id, retry.event_id);
    assert!(first.event_id.starts_with("twilio:"));
    assert_eq!(first.event_id.len(), "twilio:".len() + 32);
    // Another sequence number or status is another event.
    let other_sequence = call_callback("ringing", "2", "Tue, 10 Jan 2023 16:24:01 +0000", &[]);
    let other_status = call_callback("in-progress", "1", "Tue, 10 Jan 2023 16:24:01 +0000", &[]);
    assert_ne!(first.event_id, other_sequence.event_id);
    assert_ne!(first.event_id, other_status.event_id);
    let failed = message_callback("failed", &[("ErrorCode", "30008")]);
    let failed_again = message_callback("failed", &[("ErrorCode", "30008")]);
    let failed_other = message_callback("failed", &[("ErrorCode", "30003")]);
    assert_eq!(failed.event_id, failed_again.event_id);
    assert_ne!(failed.event_id, failed_other.event_id);
    // The URL is not part of the id: a spelling the verifier accepts (the default port) reads
    // the same event.
    let request = signed_post(&[
        ("CallSid", CALL_SID),
        ("CallStatus", "ringing"),
        ("To", "+1"),
    ]);
    let mut with_port = request.clone();
    with_port.url = with_port
        .url
        .replacen("hooks.example.com", "hooks.example.com:443", 1);
    assert_eq!(receive_one(&request), receive_one(&with_port));
}
