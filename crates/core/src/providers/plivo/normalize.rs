//! Plivo callbacks → normalized events (providers.md §7, §8).
//!
//! **Calls** are keyed by `CallUUID` (one leg; `ALegUUID`, the A leg, is kept in `extra`).
//! `CallStatus` maps by [`CALL_STATUSES`]; `Duration` (seconds) is the duration; `HangupCause`
//! the detail. A callback without `CallStatus` but with `Event` joins the timeline with the
//! `Event` word and no status. Plivo's call callbacks carry no event time or sequence.
//!
//! **Messages** are keyed by `MessageUUID`; `Status` maps by [`MESSAGE_STATUSES`]; `Sequence`
//! ("track the sequence in which callbacks for this SMS were generated") is the event's
//! sequence; `ErrorCode` is kept; `TotalAmount` is the price (the currency is not sent). The
//! times (`MessageTime`, `SentTime`, `DeliveryReportTime`, …) carry no time zone and are kept as
//! text in `extra`, never read as instants; the timeline orders by `Sequence`.
//!
//! **Event ids** (providers.md §8, implication 2: "Plivo (`CallUUID`,`Event`,`CallStatus`) /
//! (`MessageUUID`,`Status`,`Sequence`)"): `plivo:` + the first 32 hex digits of the SHA-256 of
//! the form-encoded key. A retry or replay of a callback has the same key and collapses in the
//! store; the hangup (`Event=Hangup`) and an action callback with the same `CallStatus` differ
//! by `Event` and stay apart.

use std::collections::BTreeMap;

use crate::error::WebhookError;
use crate::model::{Details, Direction, Event, Kind, ProviderId, Status};
use crate::providers::shared::{extra_fields, form_event_id, lookup};
use crate::time::Timestamp;

/// `CallStatus` words. Source: https://www.plivo.com/docs/account/api/application/ and
/// https://www.plivo.com/docs/voice/xml/request/ (providers.md §7: `ringing`, `in-progress`,
/// `completed`; for outbound calls also `busy`, `failed`, `timeout`, `no-answer`). `cancel`
/// appears among Plivo's hangup causes but is UNVERIFIED as a `CallStatus`: it is not in this
/// table, so it would be kept with no status (and logged as unknown).
pub const CALL_STATUSES: [(&str, Status); 7] = [
    ("ringing", Status::Ringing),
    ("in-progress", Status::InProgress),
    ("completed", Status::Completed),
    ("busy", Status::Busy),
    ("failed", Status::Failed),
    // Ringing exceeded the call's `ring_timeout`.
    ("timeout", Status::NoAnswer),
    ("no-answer", Status::NoAnswer),
];

/// Message `Status` words. Source: https://plivo.com/docs/messaging/api/message/message-status-callbacks
/// (providers.md §7: `queued`, `sent`, `failed`, `delivered`, `undelivered`, `read` for
/// WhatsApp; older docs also `rejected`).
pub const MESSAGE_STATUSES: [(&str, Status); 7] = [
    ("queued", Status::Queued),
    // In the US and Canada no delivery receipts exist: `sent` may be final (§7).
    ("sent", Status::Sent),
    ("delivered", Status::Delivered),
    ("undelivered", Status::Undelivered),
    ("failed", Status::Failed),
    ("read", Status::Read),
    ("rejected", Status::Rejected),
];

/// Call parameters kept in [`Details::extra`] (the parameter list of providers.md §7).
const CALL_EXTRA: [&str; 10] = [
    "ALegUUID",
    "ALegRequestUUID",
    "RequestUUID",
    "Event",
    "HangupCauseCode",
    "HangupSource",
    "BillDuration",
    "BillRate",
    "SessionStart",
    "ParentAuthID",
];

/// Message parameters kept in [`Details::extra`] (providers.md §7).
const MESSAGE_EXTRA: [&str; 12] = [
    "Type",
    "Units",
    "TotalRate",
    "MCC",
    "MNC",
    "ParentMessageUUID",
    "PartInfo",
    "PowerpackUUID",
    "MessageTime",
    "QueuedTime",
    "SentTime",
    "DeliveryReportTime",
];

pub(crate) fn call_status(word: &str) -> Option<Status> {
    lookup(&CALL_STATUSES, word)
}

pub(crate) fn message_status(word: &str) -> Option<Status> {
    lookup(&MESSAGE_STATUSES, word)
}

/// `Direction`: `inbound` | `outbound` (providers.md §7).
fn direction(word: &str) -> Option<Direction> {
    match word {
        "inbound" => Some(Direction::Inbound),
        "outbound" => Some(Direction::Outbound),
        _ => None,
    }
}

/// `plivo:` + 32 hex digits of the SHA-256 of the form-encoded key parts.
fn event_id(parts: &[(&str, &str)]) -> String {
    form_event_id("plivo", parts)
}

/// Named, non-blank parameter values (names are unique: repeated names were refused).
struct Values<'a>(BTreeMap<&'a str, &'a str>);

impl<'a> Values<'a> {
    /// Inserted one by one, not collected (see [`extra_fields`]).
    fn new(params: &'a [(String, String)]) -> Self {
        let mut values = BTreeMap::new();
        for (key, value) in params.iter().filter(|(_, value)| !value.trim().is_empty()) {
            values.insert(key.as_str(), value.as_str());
        }
        Self(values)
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.0.get(key).copied()
    }

    fn owned(&self, key: &str) -> Option<String> {
        self.get(key).map(str::to_owned)
    }

    fn extra(&self, fields: &[&str]) -> BTreeMap<String, String> {
        extra_fields(fields, |field| self.owned(field))
    }
}

/// The one event of a verified callback.
pub(crate) fn event(
    params: &[(String, String)],
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let values = Values::new(params);
    match (values.get("CallUUID"), values.get("MessageUUID")) {
        (Some(call_uuid), None) => call_event(&values, call_uuid, received_at),
        (None, Some(message_uuid)) => message_event(&values, message_uuid, received_at),
        (None, None) => Err(WebhookError::MissingField("CallUUID")),
        (Some(_), Some(_)) => Err(WebhookError::Malformed(
            "both `CallUUID` and `MessageUUID` are present".into(),
        )),
    }
}

fn call_event(
    values: &Values<'_>,
    call_uuid: &str,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let event_word = values.get("Event");
    let call_status = values.get("CallStatus");
    let provider_status = call_status
        .or(event_word)
        .ok_or(WebhookError::MissingField("CallStatus"))?;
    Ok(Event {
        provider: ProviderId::Plivo,
        kind: Kind::Call,
        subject_id: call_uuid.to_owned(),
        event_id: event_id(&[
            ("kind", "call"),
            ("CallUUID", call_uuid),
            ("Event", event_word.unwrap_or("")),
            ("CallStatus", call_status.unwrap_or("")),
        ]),
        status: call_status.and_then(self::call_status),
        provider_status: provider_status.to_owned(),
        occurred_at: None,
        received_at,
        sequence: None,
        direction: values.get("Direction").and_then(direction),
        from: values.owned("From"),
        to: values.owned("To"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            duration_seconds: values
                .get("Duration")
                .and_then(|text| text.trim().parse().ok()),
            detail: values.owned("HangupCause"),
            extra: values.extra(&CALL_EXTRA),
            ..Details::default()
        },
    })
}

fn message_event(
    values: &Values<'_>,
    message_uuid: &str,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let provider_status = values
        .get("Status")
        .ok_or(WebhookError::MissingField("Status"))?;
    let sequence_text = values.get("Sequence");
    Ok(Event {
        provider: ProviderId::Plivo,
        kind: Kind::Message,
        subject_id: message_uuid.to_owned(),
        event_id: event_id(&[
            ("kind", "message"),
            ("MessageUUID", message_uuid),
            ("Status", provider_status),
            ("Sequence", sequence_text.unwrap_or("")),
        ]),
        status: message_status(provider_status),
        provider_status: provider_status.to_owned(),
        occurred_at: None,
        received_at,
        sequence: sequence_text.and_then(|text| text.trim().parse().ok()),
        // Status callbacks report messages the account sent.
        direction: Some(Direction::Outbound),
        from: values.owned("From"),
        to: values.owned("To"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            price: values.owned("TotalAmount"),
            error_code: values.owned("ErrorCode"),
            extra: values.extra(&MESSAGE_EXTRA),
            ..Details::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_statuses_belong_to_their_kind() {
        for (word, status) in CALL_STATUSES {
            assert!(status.rank(Kind::Call).is_some(), "{word}");
        }
        for (word, status) in MESSAGE_STATUSES {
            assert!(status.rank(Kind::Message).is_some(), "{word}");
        }
    }

    #[test]
    fn event_ids_keep_key_parts_apart() {
        assert_ne!(
            event_id(&[("a", "1&b=2")]),
            event_id(&[("a", "1"), ("b", "2")])
        );
        assert_eq!(event_id(&[("a", "1")]).len(), "plivo:".len() + 32);
    }
}
