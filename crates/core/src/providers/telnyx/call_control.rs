//! Telnyx Call Control v2 and Messaging events (JSON): docs/providers/telnyx.md.
//!
//! Envelope: `{"data": {"record_type": "event", "event_type", "id", "occurred_at", "payload": {…}},
//! "meta": {"attempt", "delivered_to"}}`. `data.id` is the event's unique id and the dedup key
//! (event id `telnyx:<data.id>`); `meta` changes between attempts and is not read.
//!
//! * `call.*`: the call is keyed by `payload.call_leg_id`; `call_control_id` is an alias (the
//!   call can be looked up by it) and `call_session_id`, which groups the legs of one call, is
//!   the session. The provider word is the event type; `call.hangup`'s status comes from
//!   `hangup_cause`, kept in `detail`.
//! * `message.*`: the message is keyed by `payload.id`; the provider word is the first
//!   recipient's `payload.to[].status` (a message to several recipients lists every status in
//!   `extra.recipient_statuses`).
//! * Any other event type (`conference.*`, `streaming.*`, …) that names a `call_leg_id` joins
//!   that call's timeline. One that names none (`fax.*`, …) is about nothing Switchboard tracks:
//!   it gives no event, and the worker acknowledges it (a refusal would make Telnyx retry it and
//!   then fail over to the backup URL, for an event nobody wants).

use serde_json::{Map, Value as Json};

use crate::error::WebhookError;
use crate::model::{AnsweredBy, Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::providers::shared::{extra_fields, json_text, lookup};
use crate::time::Timestamp;

/// `call.*` event types. `None`: the event joins the timeline without moving the status.
///
/// Source: the `call.*` members of the webhook event union of
/// `team-telnyx/telnyx-node@b9b12ca781db2dd9fba6ff189d1de2e35c04cd1f:src/resources/webhooks.ts`
/// (docs/providers/telnyx.md), whose minimal lifecycle is `call.initiated → (call.answered) → call.hangup`;
/// `call.hangup` is the only terminal event and is mapped by [`HANGUP_CAUSES`].
const CALL_EVENT_TYPES: [(&str, Option<Status>); 37] = [
    ("call.initiated", Some(Status::Initiated)),
    ("call.answered", Some(Status::InProgress)),
    // Placeholder: the status comes from `hangup_cause` (see `HANGUP_CAUSES`).
    ("call.hangup", Some(Status::Failed)),
    // Bridging needs no answer of this leg by itself: it only joins the timeline.
    ("call.bridged", None),
    ("call.dtmf.received", None),
    ("call.gather.ended", None),
    // Sets `answered_by` from `payload.result`.
    ("call.machine.detection.ended", None),
    ("call.machine.greeting.ended", None),
    ("call.machine.premium.detection.ended", None),
    ("call.machine.premium.greeting.ended", None),
    ("call.playback.started", None),
    ("call.playback.ended", None),
    ("call.speak.started", None),
    ("call.speak.ended", None),
    ("call.recording.saved", None),
    ("call.recording.error", None),
    ("call.recording.transcription.saved", None),
    ("call.fork.started", None),
    ("call.fork.stopped", None),
    ("call.enqueued", None),
    ("call.dequeued", None),
    ("call.hold", None),
    ("call.unhold", None),
    ("call.refer.started", None),
    ("call.refer.completed", None),
    ("call.refer.failed", None),
    ("call.transcription", None),
    ("call.cost", None),
    ("call.conversation.ended", None),
    ("call.conversation_insights.generated", None),
    ("call.ai_gather.ended", None),
    ("call.ai_gather.partial_results", None),
    ("call.ai_gather.message_history_updated", None),
    ("call.payment.progress", None),
    ("call.payment.completed", None),
    ("call.deepfake_detection.result", None),
    ("call.deepfake_detection.error", None),
];

/// `call.hangup` `hangup_cause` → terminal status. Source: the `hangup_cause` enum of
/// https://developers.telnyx.com/api-reference/callbacks/call-hangup (docs/providers/telnyx.md). Every other
/// cause (`not_found`, `unspecified`, words this version does not know) is `failed`.
///
/// `normal_clearing` is `completed`: the hangup does not say whether the leg was answered, and
/// the state machine lets a specific outcome reported elsewhere win over `completed`.
const HANGUP_CAUSES: [(&str, Status); 7] = [
    ("normal_clearing", Status::Completed),
    // The answered leg reached the dial's `time_limit_secs` and Telnyx ended it: a call that
    // took place, cut at its limit (https://developers.telnyx.com/api-reference/call-commands/dial,
    // `time_limit_secs`).
    ("time_limit", Status::Completed),
    ("user_busy", Status::Busy),
    ("timeout", Status::NoAnswer),
    ("no_answer", Status::NoAnswer),
    ("call_rejected", Status::Rejected),
    ("originator_cancel", Status::Canceled),
];

/// Per-recipient `payload.to[].status` → message status. Source: docs/providers/telnyx.md from
/// `team-telnyx/telnyx-node@b9b12ca781db2dd9fba6ff189d1de2e35c04cd1f:src/resources/messages/messages.ts`
/// (recipient statuses and the outbound message object's `scheduled`, `cancelled`, `expired`).
const MESSAGE_STATUSES: [(&str, Status); 12] = [
    ("scheduled", Status::Queued),
    ("queued", Status::Queued),
    // Handed to the carrier, no receipt yet.
    ("sending", Status::Sent),
    ("sent", Status::Sent),
    ("delivered", Status::Delivered),
    // Telnyx could not send it.
    ("sending_failed", Status::Failed),
    // The carrier reported that it was not delivered.
    ("delivery_failed", Status::Failed),
    // Sent, but no receipt came: not terminal, a later report may resolve it.
    ("delivery_unconfirmed", Status::Unknown),
    // Inbound (`message.received`): delivered to this webhook.
    ("webhook_delivered", Status::Delivered),
    // A read receipt (RCS): "delivery receipts, inbound messages, read receipts"
    // (https://developers.telnyx.com/docs/messaging/messages/receiving-rcs-webhooks).
    ("read", Status::Read),
    ("cancelled", Status::Canceled),
    ("expired", Status::Expired),
];

/// Messaging event types (docs/providers/telnyx.md): used as the provider word when a message event has
/// no recipient status.
pub(super) const MESSAGE_EVENT_TYPES: [&str; 3] =
    ["message.received", "message.sent", "message.finalized"];

/// Call payload fields kept in [`Details::extra`] (docs/providers/telnyx.md, "Call payload fields").
const CALL_EXTRA_FIELDS: [&str; 7] = [
    "hangup_source",
    "sip_hangup_cause",
    "state",
    "start_time",
    "connection_id",
    "caller_id_name",
    "result",
];

/// Message payload fields kept in [`Details::extra`] (docs/providers/telnyx.md, "Messaging").
const MESSAGE_EXTRA_FIELDS: [&str; 4] = ["type", "parts", "sent_at", "completed_at"];

/// The status of a `call.*` event type: `None` for a type this version does not know,
/// `Some(None)` for a known type that does not move the status.
pub(super) fn call_event_status(event_type: &str) -> Option<Option<Status>> {
    CALL_EVENT_TYPES
        .iter()
        .find(|(known, _)| *known == event_type)
        .map(|(_, status)| *status)
}

/// The terminal status of a `hangup_cause` (unknown causes are `failed`).
pub fn hangup_status(cause: &str) -> Status {
    HANGUP_CAUSES
        .iter()
        .find(|(known, _)| *known == cause)
        .map_or(Status::Failed, |(_, status)| *status)
}

/// The status of a recipient status word, `None` for a word this version does not know.
pub(super) fn message_status(word: &str) -> Option<Status> {
    lookup(&MESSAGE_STATUSES, word)
}

/// A scalar JSON value as text: strings as they are, numbers and booleans in their JSON form.
/// `None` for absent, `null`, blank, objects and arrays.
fn scalar(value: Option<&Json>) -> Option<String> {
    match value? {
        Json::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        Json::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn object(value: Option<&Json>) -> Option<&Map<String, Json>> {
    value.and_then(Json::as_object)
}

/// Telnyx `direction`: `incoming`/`outgoing` on calls, `inbound`/`outbound` on messages.
fn direction(value: Option<&Json>) -> Option<Direction> {
    match value.and_then(Json::as_str) {
        Some("incoming" | "inbound") => Some(Direction::Inbound),
        Some("outgoing" | "outbound") => Some(Direction::Outbound),
        _ => None,
    }
}

/// Maps a verified JSON body to its event; `None` for event types about no call or message.
pub(super) fn normalize(
    body: &[u8],
    received_at: Timestamp,
) -> Result<Option<Event>, WebhookError> {
    let document: Json = serde_json::from_slice(json_text(body)).map_err(|error| {
        WebhookError::Malformed(format!(
            "JSON body is not valid at line {}, column {}",
            error.line(),
            error.column()
        ))
    })?;
    let data = object(document.get("data")).ok_or(WebhookError::MissingField("data"))?;
    let event_type =
        scalar(data.get("event_type")).ok_or(WebhookError::MissingField("data.event_type"))?;
    let event_id = scalar(data.get("id")).ok_or(WebhookError::MissingField("data.id"))?;
    let payload = object(data.get("payload")).ok_or(WebhookError::MissingField("data.payload"))?;
    let envelope = Envelope {
        event_type,
        event_id: format!("telnyx:{event_id}"),
        occurred_at: scalar(data.get("occurred_at"))
            .and_then(|text| Timestamp::parse_rfc3339(&text)),
        received_at,
    };
    if envelope.event_type.starts_with("message.") {
        message_event(envelope, payload).map(Some)
    } else if envelope.event_type.starts_with("call.") || payload.contains_key("call_leg_id") {
        call_event(envelope, payload).map(Some)
    } else {
        Ok(None)
    }
}

struct Envelope {
    event_type: String,
    event_id: String,
    occurred_at: Option<Timestamp>,
    received_at: Timestamp,
}

fn call_event(envelope: Envelope, payload: &Map<String, Json>) -> Result<Event, WebhookError> {
    let text = |key: &str| scalar(payload.get(key));
    let subject_id =
        text("call_leg_id").ok_or(WebhookError::MissingField("payload.call_leg_id"))?;
    let hangup_cause = text("hangup_cause");
    let status = if envelope.event_type == "call.hangup" {
        Some(hangup_status(hangup_cause.as_deref().unwrap_or("")))
    } else {
        call_event_status(&envelope.event_type).flatten()
    };
    let answered_by = if envelope.event_type.starts_with("call.machine.") {
        text("result").and_then(|result| answered_by(&result))
    } else {
        None
    };
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Telnyx,
        kind: Kind::Call,
        subject_id,
        event_id: envelope.event_id,
        status,
        provider_status: envelope.event_type,
        occurred_at: envelope.occurred_at,
        received_at: envelope.received_at,
        sequence: None,
        direction: direction(payload.get("direction")),
        from: text("from"),
        to: text("to"),
        session_id: text("call_session_id"),
        aliases: text("call_control_id").into_iter().collect(),
        details: Details {
            detail: hangup_cause,
            answered_by,
            extra: extra_fields(&CALL_EXTRA_FIELDS, text),
            ..Details::default()
        },
    })
}

/// Answering-machine detection `result`: `human` and `machine` (`call.machine.detection.ended`),
/// and the premium detector's `human_residence`, `human_business`, `machine` (the others,
/// `not_sure`, `silence`, `fax_detected`, say nothing about who answered).
fn answered_by(result: &str) -> Option<AnsweredBy> {
    if result == "human" || result.starts_with("human_") {
        Some(AnsweredBy::Human)
    } else if result == "machine" || result.starts_with("machine_") {
        Some(AnsweredBy::Machine)
    } else {
        None
    }
}

fn message_event(envelope: Envelope, payload: &Map<String, Json>) -> Result<Event, WebhookError> {
    let text = |key: &str| scalar(payload.get(key));
    let subject_id = text("id").ok_or(WebhookError::MissingField("payload.id"))?;
    let recipients: Vec<&Map<String, Json>> = payload
        .get("to")
        .and_then(Json::as_array)
        .map(|list| list.iter().filter_map(Json::as_object).collect())
        .unwrap_or_default();
    let first = recipients.first();
    let word = first.and_then(|recipient| scalar(recipient.get("status")));
    let status = word.as_deref().and_then(message_status);
    let mut extra = extra_fields(&MESSAGE_EXTRA_FIELDS, text);
    extra.insert("event_type".into(), envelope.event_type.clone());
    if recipients.len() > 1 {
        let statuses: Vec<String> = recipients
            .iter()
            .map(|recipient| {
                format!(
                    "{}:{}",
                    scalar(recipient.get("phone_number")).unwrap_or_default(),
                    scalar(recipient.get("status")).unwrap_or_default()
                )
            })
            .collect();
        extra.insert("recipient_statuses".into(), statuses.join(","));
    }
    let cost = object(payload.get("cost"));
    let error = payload
        .get("errors")
        .and_then(Json::as_array)
        .and_then(|errors| errors.first())
        .and_then(Json::as_object);
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Telnyx,
        kind: Kind::Message,
        subject_id,
        event_id: envelope.event_id,
        status,
        provider_status: word.unwrap_or(envelope.event_type),
        occurred_at: envelope.occurred_at,
        received_at: envelope.received_at,
        sequence: None,
        direction: direction(payload.get("direction")),
        from: object(payload.get("from")).and_then(|from| scalar(from.get("phone_number"))),
        to: first.and_then(|recipient| scalar(recipient.get("phone_number"))),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            price: cost.and_then(|cost| scalar(cost.get("amount"))),
            currency: cost.and_then(|cost| scalar(cost.get("currency"))),
            error_code: error.and_then(|error| scalar(error.get("code"))),
            error_message: error.and_then(|error| {
                scalar(error.get("title")).or_else(|| scalar(error.get("detail")))
            }),
            extra,
            ..Details::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_map_onto_the_right_vocabulary() {
        for (word, status) in CALL_EVENT_TYPES {
            if let Some(status) = status {
                assert!(status.rank(Kind::Call).is_some(), "{word}");
            }
        }
        for (word, status) in HANGUP_CAUSES {
            assert!(status.is_terminal(Kind::Call), "{word}");
        }
        for (word, status) in MESSAGE_STATUSES {
            assert!(status.rank(Kind::Message).is_some(), "{word}");
        }
        assert_eq!(hangup_status("time_limit"), Status::Completed);
        assert_eq!(hangup_status(""), Status::Failed);
        assert_eq!(call_event_status("call.teleported"), None);
        assert_eq!(call_event_status("call.bridged"), Some(None));
    }

    #[test]
    fn answering_machine_results() {
        assert_eq!(answered_by("human"), Some(AnsweredBy::Human));
        assert_eq!(answered_by("human_business"), Some(AnsweredBy::Human));
        assert_eq!(answered_by("machine"), Some(AnsweredBy::Machine));
        assert_eq!(answered_by("not_sure"), None);
        assert_eq!(answered_by("fax_detected"), None);
    }
}
