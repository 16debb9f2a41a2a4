//! TeXML status callbacks: form bodies signed like every Telnyx webhook, mapped like Twilio.

use switchboard_core::model::{AnsweredBy, Direction};
use switchboard_core::providers::telnyx::is_known_word;
use switchboard_core::{Kind, Provider, Signer, Status, WebhookError};

use crate::support::{assert_order_independent, form_post, now, receive, telnyx, time};

const CALL: &str = "v3:texml-call-0001";

/// A TeXML callback (Twilio-style parameters, docs/providers/telnyx.md, docs/providers/twilio.md).
fn callback(status: &str, sequence: u32, at: &str, extra: &str) -> String {
    format!(
        "AccountSid=b3c2a1d0&CallSid={}&CallSessionId=s-1&CallStatus={status}&Direction=outbound-api&From=%2B13125550100&To=%2B13125550111&SequenceNumber={sequence}&Timestamp={}{extra}",
        CALL.replace(':', "%3A"),
        form_urlencoded::byte_serialize(at.as_bytes()).collect::<String>(),
    )
}

#[test]
fn a_callback_maps_like_twilio() {
    let event = receive(&form_post(&callback(
        "ringing",
        1,
        "Wed, 01 Jan 2020 12:00:01 +0000",
        "",
    )));
    assert_eq!(event.kind, Kind::Call);
    assert_eq!(event.subject_id, CALL);
    assert_eq!(event.status, Some(Status::Ringing));
    assert_eq!(event.provider_status, "ringing");
    assert_eq!(event.sequence, Some(1));
    assert_eq!(event.occurred_at, Some(time("2020-01-01T12:00:01Z")));
    assert_eq!(event.direction, Some(Direction::Outbound));
    assert_eq!(event.from.as_deref(), Some("+13125550100"));
    assert_eq!(event.session_id.as_deref(), Some("s-1"));
    assert!(event.event_id.starts_with("telnyx:form:"));
    assert_eq!(event.details.extra["AccountSid"], "b3c2a1d0");

    for (word, status) in [
        ("queued", Some(Status::Initiated)),
        ("initiated", Some(Status::Initiated)),
        ("in-progress", Some(Status::InProgress)),
        ("completed", Some(Status::Completed)),
        ("busy", Some(Status::Busy)),
        ("no-answer", Some(Status::NoAnswer)),
        ("canceled", Some(Status::Canceled)),
        ("failed", Some(Status::Failed)),
        ("teleported", None),
    ] {
        let event = receive(&form_post(&callback(word, 2, "2020-01-01T12:00:02Z", "")));
        assert_eq!(event.status, status, "{word}");
        assert_eq!(is_known_word(Kind::Call, word), status.is_some(), "{word}");
    }
}

#[test]
fn the_event_id_ignores_parameter_order_but_not_values() {
    let body = callback("ringing", 1, "2020-01-01T12:00:01Z", "");
    let mut pairs: Vec<&str> = body.split('&').collect();
    pairs.reverse();
    let reordered = receive(&form_post(&pairs.join("&")));
    let original = receive(&form_post(&body));
    assert_eq!(reordered.event_id, original.event_id);
    let other = receive(&form_post(&callback(
        "ringing",
        2,
        "2020-01-01T12:00:01Z",
        "",
    )));
    assert_ne!(other.event_id, original.event_id);
}

#[test]
fn an_answered_texml_call_folds_to_completed_in_any_order() {
    let events = [
        receive(&form_post(&callback(
            "initiated",
            0,
            "2020-01-01T12:00:00Z",
            "",
        ))),
        receive(&form_post(&callback(
            "ringing",
            1,
            "2020-01-01T12:00:01Z",
            "",
        ))),
        receive(&form_post(&callback(
            "in-progress",
            2,
            "2020-01-01T12:00:05Z",
            "&AnsweredBy=machine_end_beep",
        ))),
        receive(&form_post(&callback(
            "completed",
            3,
            "2020-01-01T12:00:47Z",
            "&CallDuration=42",
        ))),
    ];
    let summary = assert_order_independent(Kind::Call, CALL, &events).summary(4);
    assert_eq!(summary.status, Some(Status::Completed));
    assert_eq!(summary.duration_seconds, Some(42));
    assert_eq!(summary.answered_by, Some(AnsweredBy::Machine));
    assert_eq!(summary.ringing_at, Some(time("2020-01-01T12:00:01Z")));
}

#[test]
fn busy_and_unanswered_texml_calls_fold_to_their_outcome() {
    for (word, status) in [("busy", Status::Busy), ("no-answer", Status::NoAnswer)] {
        let events = [
            receive(&form_post(&callback(
                "initiated",
                0,
                "2020-01-01T12:00:00Z",
                "",
            ))),
            receive(&form_post(&callback(
                "ringing",
                1,
                "2020-01-01T12:00:01Z",
                "",
            ))),
            receive(&form_post(&callback(word, 2, "2020-01-01T12:00:30Z", ""))),
        ];
        let state = assert_order_independent(Kind::Call, CALL, &events);
        assert_eq!(state.status(), Some(status), "{word}");
    }
}

#[test]
fn the_form_body_is_signed_and_its_gaps_refused() {
    let provider = telnyx();
    let signed = provider
        .sign(
            &form_post(&callback("ringing", 1, "2020-01-01T12:00:01Z", "")),
            now(),
        )
        .unwrap();
    let mut tampered = signed.clone();
    let body = String::from_utf8(tampered.body.clone()).unwrap();
    tampered.body = body.replace("ringing", "busy").into_bytes();
    assert!(matches!(
        provider.verify(&tampered, now()),
        Err(WebhookError::InvalidSignature(_))
    ));

    let receive = |body: &str| {
        let signed = provider.sign(&form_post(body), now()).unwrap();
        provider.receive(&signed, now())
    };
    assert_eq!(
        receive("CallStatus=ringing").unwrap_err(),
        WebhookError::MissingField("CallSid")
    );
    assert_eq!(
        receive("CallSid=c").unwrap_err(),
        WebhookError::MissingField("CallStatus")
    );
    assert_eq!(
        receive("CallSid=c&CallStatus=ringing&CallStatus=busy")
            .unwrap_err()
            .code(),
        "malformed_request"
    );
}

#[test]
fn an_answering_machine_callback_without_call_status_is_an_annotation() {
    // The documented `TexmlCallAmdWebhook` example (texml-call-amd), form-encoded.
    let body = "AccountSid=f5586561-8ff0-4291-a51b-c7dfe4139ff9&AnsweredBy={word}&CallSid=v3%3A9X2vxPDFY2RHSJ1EdMS0RHRksMTg7ldNxdjWbVr9zBjbGjGsSe-aiQ&CallSidLegacy=v3%3A9X2vxPDFY2RHSJ1EdMS0RHRksMTg7ldNxdjWbVr9zBjbGjGsSe-aiQ&ConnectionId=1234567890&MachineDetectionDuration=2500";
    for (word, answered_by) in [
        ("human", Some(AnsweredBy::Human)),
        ("machine_start", Some(AnsweredBy::Machine)),
        ("machine_end_beep", Some(AnsweredBy::Machine)),
        ("machine_end_silence", Some(AnsweredBy::Machine)),
        ("machine_end_other", Some(AnsweredBy::Machine)),
        ("fax", None),
        ("unknown", None),
    ] {
        let event = receive(&form_post(&body.replace("{word}", word)));
        assert_eq!(event.kind, Kind::Call);
        assert_eq!(
            event.subject_id,
            "v3:9X2vxPDFY2RHSJ1EdMS0RHRksMTg7ldNxdjWbVr9zBjbGjGsSe-aiQ"
        );
        assert_eq!(event.status, None, "{word}");
        assert_eq!(event.provider_status, word);
        assert_eq!(event.details.answered_by, answered_by, "{word}");
        assert_eq!(event.details.extra["MachineDetectionDuration"], "2500");
        assert!(is_known_word(Kind::Call, word), "{word}");
    }
    let ringing = receive(&form_post(&callback(
        "ringing",
        1,
        "Wed, 01 Jan 2020 12:00:01 +0000",
        "",
    )));
    let amd = receive(&form_post(&callback(
        "in-progress",
        2,
        "Wed, 01 Jan 2020 12:00:05 +0000",
        "&AnsweredBy=machine_start",
    )));
    assert_eq!(amd.status, Some(Status::InProgress));
    assert_eq!(amd.details.answered_by, Some(AnsweredBy::Machine));
    assert_ne!(ringing.event_id, amd.event_id);
}
