//! Call Control v2 events: normalization, hangup causes, answering-machine results, lifecycles
//! folded in every order.

use switchboard_core::model::{AnsweredBy, Direction};
use switchboard_core::providers::telnyx::{hangup_status, is_known_word};
use switchboard_core::{Event, Kind, Provider, Signer, Status, WebhookError};

use crate::support::{assert_order_independent, json_post, now, receive, telnyx, time};

const LEG: &str = "428c31b6-7af4-4bcb-b7f5-5013ef9657c1";
const CONTROL: &str = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
const SESSION: &str = "b3c2a1d0-7af4-4bcb-b7f5-5013ef9657c1";

/// A Call Control v2 webhook as Telnyx sends it (envelope and fields of docs/providers/telnyx.md).
fn call_body(event_type: &str, id: &str, at: &str, extra: &str) -> String {
    format!(
        r#"{{
  "data": {{
    "record_type": "event",
    "event_type": "{event_type}",
    "id": "{id}",
    "occurred_at": "{at}",
    "payload": {{
      "call_control_id": "{CONTROL}",
      "call_leg_id": "{LEG}",
      "call_session_id": "{SESSION}",
      "client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d",
      "connection_id": "7267xxxxxxxxxxxxxx",
      "from": "+13125550100",
      "to": "+13125550111",
      "direction": "outgoing"{extra}
    }}
  }},
  "meta": {{"attempt": 1, "delivered_to": "https://hooks.example.com/webhooks/telnyx"}}
}}"#
    )
}

fn call_event(event_type: &str, id: &str, at: &str, extra: &str) -> Event {
    receive(&json_post(&call_body(event_type, id, at, extra)))
}

fn initiated() -> Event {
    call_event(
        "call.initiated",
        "e1",
        "2020-01-01T12:00:00.000000Z",
        r#", "state": "bridging", "start_time": "2020-01-01T12:00:00.000000Z""#,
    )
}

fn answered() -> Event {
    call_event("call.answered", "e2", "2020-01-01T12:00:05.000000Z", "")
}

fn hangup(cause: &str, id: &str, at: &str) -> Event {
    call_event(
        "call.hangup",
        id,
        at,
        &format!(
            r#", "state": "hangup", "hangup_cause": "{cause}", "hangup_source": "callee", "sip_hangup_cause": "200""#
        ),
    )
}

#[test]
fn an_event_keeps_leg_control_id_and_session() {
    let event = initiated();
    assert_eq!(event.kind, Kind::Call);
    assert_eq!(event.subject_id, LEG);
    assert_eq!(event.aliases, [CONTROL]);
    assert_eq!(event.session_id.as_deref(), Some(SESSION));
    assert_eq!(event.event_id, "telnyx:e1");
    assert_eq!(event.status, Some(Status::Initiated));
    assert_eq!(event.provider_status, "call.initiated");
    assert_eq!(event.direction, Some(Direction::Outbound));
    assert_eq!(event.from.as_deref(), Some("+13125550100"));
    assert_eq!(event.to.as_deref(), Some("+13125550111"));
    assert_eq!(event.occurred_at, Some(time("2020-01-01T12:00:00Z")));
    assert_eq!(event.received_at, now());
    assert_eq!(event.details.extra["state"], "bridging");
    assert_eq!(event.details.extra["connection_id"], "7267xxxxxxxxxxxxxx");
    // `start_time` is when the call began, not when it was answered.
    assert_eq!(event.details.started_at, None);

    let incoming = receive(&json_post(
        &call_body("call.initiated", "e9", "2020-01-01T12:00:00Z", "")
            .replace("outgoing", "incoming"),
    ));
    assert_eq!(incoming.direction, Some(Direction::Inbound));
}

#[test]
fn hangup_causes_decide_the_terminal_status() {
    for (cause, status) in [
        ("normal_clearing", Status::Completed),
        ("user_busy", Status::Busy),
        ("timeout", Status::NoAnswer),
        ("no_answer", Status::NoAnswer),
        ("call_rejected", Status::Rejected),
        ("originator_cancel", Status::Canceled),
        ("time_limit", Status::Completed),
        ("not_found", Status::Failed),
        ("unspecified", Status::Failed),
        ("a_cause_nobody_knows", Status::Failed),
    ] {
        assert_eq!(hangup_status(cause), status, "{cause}");
        let event = hangup(cause, "h", "2020-01-01T12:00:30Z");
        assert_eq!(event.status, Some(status), "{cause}");
        assert_eq!(event.provider_status, "call.hangup");
        assert_eq!(event.details.detail.as_deref(), Some(cause));
        assert_eq!(event.details.extra["hangup_source"], "callee");
    }
    // A hangup without a cause is still terminal.
    let bare = call_event("call.hangup", "h2", "2020-01-01T12:00:30Z", "");
    assert_eq!(bare.status, Some(Status::Failed));
}

#[test]
fn an_answered_call_cut_at_its_time_limit_folds_to_completed() {
    let events = [
        initiated(),
        answered(),
        hangup("time_limit", "e3", "2020-01-01T12:10:05.000000Z"),
    ];
    let summary = assert_order_independent(Kind::Call, LEG, &events).summary(3);
    assert_eq!(summary.status, Some(Status::Completed));
    assert_eq!(summary.detail.as_deref(), Some("time_limit"));
}

#[test]
fn other_call_events_join_the_timeline_and_unknown_ones_are_flagged() {
    for event_type in [
        "call.bridged",
        "call.dtmf.received",
        "call.playback.ended",
        "call.recording.saved",
        "call.hold",
        "call.cost",
    ] {
        let event = call_event(event_type, "x", "2020-01-01T12:00:10Z", "");
        assert_eq!(event.status, None, "{event_type}");
        assert_eq!(event.provider_status, event_type);
        assert!(is_known_word(Kind::Call, event_type), "{event_type}");
    }
    let unknown = call_event("call.teleported", "x", "2020-01-01T12:00:10Z", "");
    assert_eq!(unknown.status, None);
    assert_eq!(unknown.provider_status, "call.teleported");
    assert!(!is_known_word(Kind::Call, "call.teleported"));
    assert!(telnyx().is_known_word(Kind::Call, "call.hangup"));
    assert!(!telnyx().is_known_word(Kind::Message, "call.hangup"));

    // A non-`call.*` event about a leg joins its timeline.
    let conference = call_event(
        "conference.participant.joined",
        "c",
        "2020-01-01T12:00:10Z",
        "",
    );
    assert_eq!(conference.subject_id, LEG);
    assert_eq!(conference.status, None);
    assert!(!is_known_word(Kind::Call, "conference.participant.joined"));
}

#[test]
fn machine_detection_sets_answered_by_only() {
    for (result, expected) in [
        ("human", Some(AnsweredBy::Human)),
        ("machine", Some(AnsweredBy::Machine)),
        ("not_sure", None),
    ] {
        let event = call_event(
            "call.machine.detection.ended",
            "m",
            "2020-01-01T12:00:06Z",
            &format!(r#", "result": "{result}""#),
        );
        assert_eq!(event.status, None);
        assert_eq!(event.details.answered_by, expected, "{result}");
        assert_eq!(event.details.extra["result"], result);
    }
    let premium = call_event(
        "call.machine.premium.detection.ended",
        "p",
        "2020-01-01T12:00:06Z",
        r#", "result": "human_business""#,
    );
    assert_eq!(premium.details.answered_by, Some(AnsweredBy::Human));
}

#[test]
fn an_answered_call_folds_to_completed_in_any_order() {
    let machine = call_event(
        "call.machine.detection.ended",
        "e3",
        "2020-01-01T12:00:06.000000Z",
        r#", "result": "human""#,
    );
    let events = [
        initiated(),
        answered(),
        machine,
        call_event("call.bridged", "e4", "2020-01-01T12:00:07Z", ""),
        hangup("normal_clearing", "e5", "2020-01-01T12:00:47.000000Z"),
    ];
    let summary = assert_order_independent(Kind::Call, LEG, &events).summary(5);
    assert_eq!(summary.status, Some(Status::Completed));
    assert!(summary.terminal);
    assert_eq!(summary.provider_status.as_deref(), Some("call.hangup"));
    assert_eq!(summary.detail.as_deref(), Some("normal_clearing"));
    assert_eq!(summary.answered_by, Some(AnsweredBy::Human));
    assert_eq!(summary.answered_at, Some(time("2020-01-01T12:00:05Z")));
    assert_eq!(summary.ended_at, Some(time("2020-01-01T12:00:47Z")));
    assert_eq!(summary.duration_seconds, Some(42));
    assert_eq!(summary.aliases, [CONTROL]);
    assert_eq!(summary.session_id.as_deref(), Some(SESSION));
    assert_eq!(summary.created_at, Some(time("2020-01-01T12:00:00Z")));
}

#[test]
fn busy_and_unanswered_calls_fold_to_their_outcome_in_any_order() {
    let busy = [
        initiated(),
        hangup("user_busy", "b2", "2020-01-01T12:00:03Z"),
    ];
    let state = assert_order_independent(Kind::Call, LEG, &busy);
    assert_eq!(state.status(), Some(Status::Busy));

    let unanswered = [initiated(), hangup("timeout", "n2", "2020-01-01T12:00:30Z")];
    let summary = assert_order_independent(Kind::Call, LEG, &unanswered).summary(2);
    assert_eq!(summary.status, Some(Status::NoAnswer));
    assert_eq!(summary.answered_at, None);
    assert_eq!(summary.duration_seconds, None);

    // A late `call.answered` never undoes the terminal status.
    let late = [
        hangup("normal_clearing", "l1", "2020-01-01T12:00:47Z"),
        answered(),
    ];
    let state = assert_order_independent(Kind::Call, LEG, &late);
    assert_eq!(state.status(), Some(Status::Completed));
}

#[test]
fn a_retry_has_the_same_event_id_whatever_meta_says() {
    let first = receive(&json_post(&call_body(
        "call.answered",
        "same",
        "2020-01-01T12:00:05Z",
        "",
    )));
    let retry = receive(&json_post(
        &call_body("call.answered", "same", "2020-01-01T12:00:05Z", "")
            .replace(r#""attempt": 1"#, r#""attempt": 2"#),
    ));
    assert_eq!(first.event_id, retry.event_id);
}

#[test]
fn events_without_what_they_need_are_refused() {
    let provider = telnyx();
    let receive = |body: &str| {
        let signed = provider.sign(&json_post(body), now()).expect("signed");
        provider.receive(&signed, now())
    };
    assert_eq!(
        receive(r#"{"event_type":"call.answered"}"#).unwrap_err(),
        WebhookError::MissingField("data")
    );
    assert_eq!(
        receive(r#"{"data":{"id":"x","payload":{}}}"#).unwrap_err(),
        WebhookError::MissingField("data.event_type")
    );
    assert_eq!(
        receive(r#"{"data":{"event_type":"call.answered","payload":{}}}"#).unwrap_err(),
        WebhookError::MissingField("data.id")
    );
    assert_eq!(
        receive(r#"{"data":{"event_type":"call.answered","id":"x"}}"#).unwrap_err(),
        WebhookError::MissingField("data.payload")
    );
    assert_eq!(
        receive(
            r#"{"data":{"event_type":"call.answered","id":"x","payload":{"call_control_id":"c"}}}"#
        )
        .unwrap_err(),
        WebhookError::MissingField("payload.call_leg_id")
    );
    // Verified, but about no call or message (e.g. fax): no event, so the worker acknowledges it
    // and Telnyx does not retry and fail over.
    let fax =
        receive(r#"{"data":{"event_type":"fax.delivered","id":"x","payload":{"fax_id":"f"}}}"#);
    assert_eq!(fax, Ok(Vec::new()));
    let error = receive(r#"{"data": [1, 2"#).unwrap_err();
    assert_eq!(error.code(), "malformed_request");
}

#[test]
fn unsupported_bodies_are_refused_after_verification() {
    let provider = telnyx();
    let text = json_post("hello").with_header("content-type", "text/plain");
    let signed = provider.sign(&text, now()).unwrap();
    assert_eq!(
        provider.receive(&signed, now()).unwrap_err(),
        WebhookError::UnsupportedContentType("text/plain".into())
    );
    let empty = provider.sign(&json_post(""), now()).unwrap();
    assert_eq!(
        provider.receive(&empty, now()).unwrap_err().code(),
        "malformed_request"
    );
}
