//! Realistic Plivo callback lifecycles, normalized and folded through `SubjectState` in every
//! order (with duplicates) to the right final state.

use switchboard_core::model::Direction;
use switchboard_core::{Event, Kind, Provider, Signer, Status};

use crate::support::{
    assert_every_order_reaches, fold, get, pairs, plivo, receive_one, signed_post, URL,
};

const CALL_UUID: &str = "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36";
const MESSAGE_UUID: &str = "db3ce55a-7f1d-11e1-8ea7-1231380bc196";

fn call_callback(status: &str, event: &str, more: &[(&str, &str)]) -> Event {
    let mut params = vec![
        ("ALegRequestUUID", CALL_UUID),
        ("ALegUUID", CALL_UUID),
        ("CallStatus", status),
        ("CallUUID", CALL_UUID),
        ("Direction", "outbound"),
        ("Event", event),
        ("From", "19792014278"),
        ("RequestUUID", CALL_UUID),
        ("SessionStart", "2020-04-08 11:34:33.238707"),
        ("To", "14155550100"),
    ];
    params.extend_from_slice(more);
    receive_one(&signed_post(&params))
}

fn hangup(status: &str, cause: &str, duration: &str) -> Event {
    call_callback(
        status,
        "Hangup",
        &[
            ("BillDuration", duration),
            ("Duration", duration),
            ("HangupCause", cause),
            ("HangupCauseCode", "4000"),
            ("HangupSource", "Callee"),
        ],
    )
}

fn answered_call() -> Vec<Event> {
    vec![
        call_callback("ringing", "Ring", &[]),
        call_callback("in-progress", "StartApp", &[]),
        hangup("completed", "NORMAL_CLEARING", "63"),
    ]
}

fn busy_call() -> Vec<Event> {
    vec![
        call_callback("ringing", "Ring", &[]),
        hangup("busy", "USER_BUSY", "0"),
    ]
}

fn no_answer_call() -> Vec<Event> {
    vec![
        call_callback("ringing", "Ring", &[]),
        hangup("timeout", "NO_ANSWER", "0"),
    ]
}

fn message_callback(status: &str, sequence: &str, more: &[(&str, &str)]) -> Event {
    let mut params = vec![
        ("From", "14155550199"),
        ("MCC", "310"),
        ("MNC", "410"),
        ("MessageTime", "2023-01-10 16:24:00.000000"),
        ("MessageUUID", MESSAGE_UUID),
        ("PartInfo", "1 of 1"),
        ("Sequence", sequence),
        ("Status", status),
        ("To", "14155550100"),
        ("TotalAmount", "0.00500"),
        ("TotalRate", "0.00500"),
        ("Type", "sms"),
        ("Units", "1"),
    ];
    params.extend_from_slice(more);
    receive_one(&signed_post(&params))
}

fn delivered_message() -> Vec<Event> {
    vec![
        message_callback("queued", "1", &[]),
        message_callback("sent", "2", &[]),
        message_callback("delivered", "3", &[]),
    ]
}

fn failed_message() -> Vec<Event> {
    vec![
        message_callback("queued", "1", &[]),
        message_callback("sent", "2", &[]),
        message_callback("undelivered", "3", &[("ErrorCode", "200")]),
    ]
}

#[test]
fn answered_call_completes_with_duration_and_cause() {
    let events = answered_call();
    assert_every_order_reaches(Kind::Call, &events, Status::Completed);
    let summary = fold(Kind::Call, &events).summary(3);
    assert_eq!(summary.id, CALL_UUID);
    assert_eq!(summary.duration_seconds, Some(63));
    assert_eq!(summary.detail.as_deref(), Some("NORMAL_CLEARING"));
    assert_eq!(summary.direction, Some(Direction::Outbound));
    assert_eq!(summary.from.as_deref(), Some("19792014278"));
    assert!(summary.terminal);
    let hangup = &events[2];
    assert_eq!(
        hangup.details.extra.get("ALegUUID").map(String::as_str),
        Some(CALL_UUID)
    );
    assert_eq!(
        hangup.details.extra.get("BillDuration").map(String::as_str),
        Some("63")
    );
}

#[test]
fn busy_and_no_answer_calls_end_so() {
    assert_every_order_reaches(Kind::Call, &busy_call(), Status::Busy);
    assert_every_order_reaches(Kind::Call, &no_answer_call(), Status::NoAnswer);
    let summary = fold(Kind::Call, &no_answer_call()).summary(2);
    assert_eq!(summary.provider_status.as_deref(), Some("timeout"));
}

#[test]
fn delivered_and_failed_messages_end_so() {
    assert_every_order_reaches(Kind::Message, &delivered_message(), Status::Delivered);
    assert_every_order_reaches(Kind::Message, &failed_message(), Status::Undelivered);
    let summary = fold(Kind::Message, &failed_message()).summary(3);
    assert_eq!(summary.error_code.as_deref(), Some("200"));
    assert_eq!(summary.price.as_deref(), Some("0.00500"));
    assert_eq!(summary.currency, None);
    assert_eq!(summary.direction, Some(Direction::Outbound));
}

#[test]
fn sequence_is_mapped_and_orders_the_timeline() {
    let events = delivered_message();
    assert_eq!(
        events
            .iter()
            .map(|event| event.sequence)
            .collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3)]
    );
    let mut orders: Vec<_> = events.iter().rev().map(Event::order).collect();
    orders.sort();
    assert_eq!(orders, events.iter().map(Event::order).collect::<Vec<_>>());
    assert_eq!(events[0].occurred_at, None, "Plivo's times have no zone");
    assert_eq!(
        events[0]
            .details
            .extra
            .get("MessageTime")
            .map(String::as_str),
        Some("2023-01-10 16:24:00.000000")
    );
}

#[test]
fn a_call_canceled_by_the_caller_ends_canceled_in_any_order() {
    let events = vec![
        call_callback("ringing", "Ring", &[]),
        hangup("cancel", "ORIGINATOR_CANCEL", "0"),
    ];
    assert_eq!(events[1].status, Some(Status::Canceled));
    assert_eq!(
        events[1].details.detail.as_deref(),
        Some("ORIGINATOR_CANCEL")
    );
    assert_every_order_reaches(Kind::Call, &events, Status::Canceled);
}

#[test]
fn every_documented_word_maps_as_the_table_says() {
    for (word, expected) in [
        ("ringing", Status::Ringing),
        ("in-progress", Status::InProgress),
        ("completed", Status::Completed),
        ("busy", Status::Busy),
        ("failed", Status::Failed),
        ("timeout", Status::NoAnswer),
        ("no-answer", Status::NoAnswer),
        ("cancel", Status::Canceled),
    ] {
        assert_eq!(
            call_callback(word, "Hangup", &[]).status,
            Some(expected),
            "{word}"
        );
        assert!(plivo().is_known_word(Kind::Call, word));
    }
    for (word, expected) in [
        ("queued", Status::Queued),
        ("sent", Status::Sent),
        ("delivered", Status::Delivered),
        ("undelivered", Status::Undelivered),
        ("failed", Status::Failed),
        ("read", Status::Read),
        ("rejected", Status::Rejected),
    ] {
        assert_eq!(
            message_callback(word, "1", &[]).status,
            Some(expected),
            "{word}"
        );
        assert!(plivo().is_known_word(Kind::Message, word));
    }
}

#[test]
fn unknown_words_are_kept_without_a_status() {
    let call = call_callback("teleported", "Hangup", &[]);
    assert_eq!(
        (call.status, call.provider_status.as_str()),
        (None, "teleported")
    );
    assert!(!plivo().is_known_word(Kind::Call, "teleported"));
    let message = message_callback("evaporated", "9", &[]);
    assert_eq!(message.status, None);
    assert!(!plivo().is_known_word(Kind::Message, "evaporated"));
    let mut events = delivered_message();
    events.push(message);
    assert_eq!(
        fold(Kind::Message, &events).status(),
        Some(Status::Delivered)
    );
    // A callback with only an `Event` joins the timeline under that word.
    let event_only = receive_one(&signed_post(&[
        ("CallUUID", CALL_UUID),
        ("Event", "Redirect"),
    ]));
    assert_eq!(
        (event_only.status, event_only.provider_status.as_str()),
        (None, "Redirect")
    );
}

#[test]
fn event_ids_hash_the_signed_content() {
    let first = message_callback("sent", "2", &[]);
    let retry = message_callback("sent", "2", &[]);
    assert_eq!(first.event_id, retry.event_id);
    assert!(first.event_id.starts_with("plivo:"));
    assert_eq!(first.event_id.len(), "plivo:".len() + 32);
    assert_ne!(first.event_id, message_callback("sent", "3", &[]).event_id);
    let ring = call_callback("ringing", "Ring", &[]);
    assert_eq!(
        ring.event_id,
        call_callback("ringing", "Ring", &[]).event_id
    );
    assert_ne!(
        ring.event_id,
        call_callback("ringing", "Redirect", &[]).event_id
    );
}

#[test]
fn get_callbacks_normalize_from_the_query() {
    let request = plivo()
        .sign(
            &get(
                &format!("{URL}?tenant=a"),
                &pairs(&[
                    ("MessageUUID", MESSAGE_UUID),
                    ("Status", "delivered"),
                    ("Sequence", "4"),
                ]),
            ),
            crate::support::now(),
        )
        .unwrap();
    let event = receive_one(&request);
    assert_eq!(
        (event.status, event.sequence),
        (Some(Status::Delivered), Some(4))
    );
}
