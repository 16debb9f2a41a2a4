//! Messaging events: per-recipient statuses, cost and errors, lifecycles folded in every order.

use switchboard_core::model::Direction;
use switchboard_core::providers::telnyx::is_known_word;
use switchboard_core::{Event, Kind, Provider, Signer, Status};

use crate::support::{assert_order_independent, json_post, receive, time};

const MESSAGE: &str = "40385f64-5717-4562-b3fc-2c963f66afa6";

/// A Messaging webhook as Telnyx sends it (docs/providers/telnyx.md, "Messaging").
fn message_body(event_type: &str, id: &str, at: &str, status: &str, extra: &str) -> String {
    format!(
        r#"{{"data":{{"event_type":"{event_type}","id":"{id}","occurred_at":"{at}","payload":{{
"id":"{MESSAGE}","record_type":"message","direction":"outbound","type":"SMS","parts":1,
"from":{{"phone_number":"+13125550100","carrier":"Telnyx","line_type":"VoIP"}},
"to":[{{"phone_number":"+13125550111","status":"{status}","carrier":"T-Mobile","line_type":"Wireless"}}],
"cost":{{"amount":"0.0051","currency":"USD"}},"errors":[]{extra}}},"record_type":"event"}},
"meta":{{"attempt":1,"delivered_to":"https://hooks.example.com/webhooks/telnyx"}}}}"#
    )
}

fn message(event_type: &str, id: &str, at: &str, status: &str, extra: &str) -> Event {
    receive(&json_post(&message_body(event_type, id, at, status, extra)))
}

#[test]
fn a_message_event_is_keyed_by_the_message_id() {
    let sent = message("message.sent", "m1", "2020-01-01T12:00:01Z", "sent", "");
    assert_eq!(sent.kind, Kind::Message);
    assert_eq!(sent.subject_id, MESSAGE);
    assert_eq!(sent.event_id, "telnyx:m1");
    assert_eq!(sent.status, Some(Status::Sent));
    assert_eq!(sent.provider_status, "sent");
    assert_eq!(sent.direction, Some(Direction::Outbound));
    assert_eq!(sent.from.as_deref(), Some("+13125550100"));
    assert_eq!(sent.to.as_deref(), Some("+13125550111"));
    assert_eq!(sent.details.price.as_deref(), Some("0.0051"));
    assert_eq!(sent.details.currency.as_deref(), Some("USD"));
    assert_eq!(sent.details.extra["event_type"], "message.sent");
    assert_eq!(sent.details.extra["type"], "SMS");
    assert_eq!(sent.details.extra["parts"], "1");
    assert_eq!(sent.occurred_at, Some(time("2020-01-01T12:00:01Z")));
}

#[test]
fn recipient_statuses_map_onto_message_statuses() {
    for (word, status) in [
        ("queued", Status::Queued),
        ("sending", Status::Sent),
        ("sent", Status::Sent),
        ("delivered", Status::Delivered),
        ("sending_failed", Status::Failed),
        ("delivery_failed", Status::Failed),
        ("delivery_unconfirmed", Status::Unknown),
        ("webhook_delivered", Status::Delivered),
        ("scheduled", Status::Queued),
        ("cancelled", Status::Canceled),
        ("expired", Status::Expired),
    ] {
        let event = message("message.finalized", "f", "2020-01-01T12:00:09Z", word, "");
        assert_eq!(event.status, Some(status), "{word}");
        assert_eq!(event.provider_status, word);
        assert!(is_known_word(Kind::Message, word), "{word}");
    }
    let unknown = message(
        "message.finalized",
        "f",
        "2020-01-01T12:00:09Z",
        "teleported",
        "",
    );
    assert_eq!(unknown.status, None);
    assert_eq!(unknown.provider_status, "teleported");
    assert!(!is_known_word(Kind::Message, "teleported"));
    assert!(!is_known_word(Kind::Call, "delivered"));
}

#[test]
fn errors_and_several_recipients_are_kept() {
    let failed = receive(&json_post(
        &message_body("message.finalized", "f", "2020-01-01T12:00:09Z", "delivery_failed", "")
            .replace(
                r#""errors":[]"#,
                r#""errors":[{"code":"40300","title":"Blocked as spam by carrier","detail":"The carrier blocked it."}]"#,
            ),
    ));
    assert_eq!(failed.status, Some(Status::Failed));
    assert_eq!(failed.details.error_code.as_deref(), Some("40300"));
    assert_eq!(
        failed.details.error_message.as_deref(),
        Some("Blocked as spam by carrier")
    );

    let group = receive(&json_post(&message_body(
        "message.finalized",
        "g",
        "2020-01-01T12:00:09Z",
        "delivered",
        "",
    )
    .replace(
        r#""line_type":"Wireless"}]"#,
        r#""line_type":"Wireless"},{"phone_number":"+13125550122","status":"delivery_failed"}]"#,
    )));
    assert_eq!(group.status, Some(Status::Delivered));
    assert_eq!(
        group.details.extra["recipient_statuses"],
        "+13125550111:delivered,+13125550122:delivery_failed"
    );

    let no_recipients = receive(&json_post(
        &message_body("message.sent", "n", "2020-01-01T12:00:01Z", "sent", "").replace(
            r#"[{"phone_number":"+13125550111","status":"sent","carrier":"T-Mobile","line_type":"Wireless"}]"#,
            "[]",
        ),
    ));
    assert_eq!(no_recipients.status, None);
    assert_eq!(no_recipients.provider_status, "message.sent");
    assert!(is_known_word(Kind::Message, "message.sent"));
}

#[test]
fn inbound_messages_are_delivered() {
    let received = receive(&json_post(
        &message_body(
            "message.received",
            "r",
            "2020-01-01T12:00:01Z",
            "webhook_delivered",
            "",
        )
        .replace("outbound", "inbound"),
    ));
    assert_eq!(received.direction, Some(Direction::Inbound));
    assert_eq!(received.status, Some(Status::Delivered));
}

#[test]
fn a_delivered_message_folds_to_delivered_in_any_order() {
    let events = [
        message("message.sent", "d1", "2020-01-01T12:00:00Z", "queued", ""),
        message("message.sent", "d2", "2020-01-01T12:00:01Z", "sent", ""),
        message(
            "message.finalized",
            "d3",
            "2020-01-01T12:00:05Z",
            "delivered",
            "",
        ),
    ];
    let summary = assert_order_independent(Kind::Message, MESSAGE, &events).summary(3);
    assert_eq!(summary.status, Some(Status::Delivered));
    assert!(summary.terminal);
    assert_eq!(summary.ended_at, Some(time("2020-01-01T12:00:05Z")));
    assert_eq!(summary.price.as_deref(), Some("0.0051"));
}

#[test]
fn a_failed_message_folds_to_failed_in_any_order() {
    let events = [
        message("message.sent", "f1", "2020-01-01T12:00:00Z", "queued", ""),
        message("message.sent", "f2", "2020-01-01T12:00:01Z", "sending", ""),
        message(
            "message.finalized",
            "f3",
            "2020-01-01T12:00:05Z",
            "delivery_unconfirmed",
            "",
        ),
        message(
            "message.finalized",
            "f4",
            "2020-01-01T12:00:09Z",
            "sending_failed",
            "",
        ),
    ];
    let state = assert_order_independent(Kind::Message, MESSAGE, &events);
    assert_eq!(state.status(), Some(Status::Failed));
}

#[test]
fn a_read_receipt_moves_a_delivered_message_to_read_in_any_order() {
    let read = message(
        "message.finalized",
        "r2",
        "2020-01-01T12:00:09Z",
        "read",
        "",
    );
    assert_eq!(read.status, Some(Status::Read));
    assert_eq!(read.provider_status, "read");
    assert!(is_known_word(Kind::Message, "read"));
    let events = [
        message("message.sent", "r0", "2020-01-01T12:00:01Z", "sent", ""),
        message(
            "message.finalized",
            "r1",
            "2020-01-01T12:00:05Z",
            "delivered",
            "",
        ),
        read,
    ];
    let state = assert_order_independent(Kind::Message, MESSAGE, &events);
    assert_eq!(state.status(), Some(Status::Read));
}

#[test]
fn a_body_with_a_byte_order_mark_is_read_as_without_it() {
    let body = message_body("message.sent", "b1", "2020-01-01T12:00:01Z", "sent", "");
    let provider = crate::support::telnyx();
    let signed = provider
        .sign(
            &json_post(&format!("\u{feff}{body}")),
            crate::support::now(),
        )
        .expect("signed");
    assert!(signed.body.starts_with(b"\xEF\xBB\xBF"), "kept as received");
    let events = provider
        .receive(&signed, crate::support::now())
        .expect("accepted");
    assert_eq!(events, vec![receive(&json_post(&body))]);
}
