//! Plivo callbacks → normalized events (docs/providers/plivo.md).
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
//! **Inbound messages** (to the application's `message_url`; docs/providers/plivo.md, and Plivo's
//! "Handling incoming messages": `MessageUUID`, `From`, `To`, `Type`, `Text` (SMS), `Body`
//! (MMS, WhatsApp), `Units`, `TotalRate`, `TotalAmount`, `MessageIntent`, `PowerpackUUID`,
//! `MediaCount`, `Media<n>`, `ContentType`: **no `Status`**) are stored as every provider's
//! inbound message is: `delivered`, direction `inbound`, word `inbound`, keyed by `MessageUUID`,
//! without their text (`Text`, `Body`) or media. A status callback with `Status` `received`
//! ("Inbound: `received` → `delivered`/`undelivered`", docs/providers/plivo.md) is an inbound message too.
//!
//! **Event ids** are a hash of what the signature covers (see `v3_event_id` and `v2_event_id`
//! in [`super`]), not of the natural key docs/providers/plivo.md suggests ((`CallUUID`,`Event`,
//! `CallStatus`) / (`MessageUUID`,`Status`,`Sequence`)): V3 concatenates a form body's pairs
//! without separators, so a captured body re-cut as `Sequenc=e4` would verify with another
//! natural key, a new event forever. A hash of the signed string is the same for every cut of it; a retry, identical, has
//! the same id; two callbacks that differ in anything Plivo signed are two events.

use std::collections::BTreeMap;

use crate::error::WebhookError;
use crate::model::{Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::providers::shared::{extra_fields, lookup};
use crate::time::Timestamp;

/// `CallStatus` words. Source: https://www.plivo.com/docs/account/api/application/ and
/// https://www.plivo.com/docs/voice/xml/request/ (docs/providers/plivo.md: `ringing`, `in-progress`,
/// `completed`; for outbound calls also `busy`, `failed`, `timeout`, `no-answer`), and `cancel`,
/// which Plivo's dial status reporting sends for a call the caller canceled before it was
/// answered (docs/providers/plivo.md lists `cancel` among Plivo's hangup words; UNVERIFIED as a
/// documented `CallStatus` value, but a call it reports has ended and must not stay open).
pub const CALL_STATUSES: [(&str, Status); 8] = [
    ("ringing", Status::Ringing),
    ("in-progress", Status::InProgress),
    ("completed", Status::Completed),
    ("busy", Status::Busy),
    ("failed", Status::Failed),
    // Ringing exceeded the call's `ring_timeout`.
    ("timeout", Status::NoAnswer),
    ("no-answer", Status::NoAnswer),
    ("cancel", Status::Canceled),
];

/// Message `Status` words. Source: https://plivo.com/docs/messaging/api/message/message-status-callbacks
/// (docs/providers/plivo.md: `queued`, `sent`, `failed`, `delivered`, `undelivered`, `read` for
/// WhatsApp; older docs also `rejected`; inbound messages `received`).
pub const MESSAGE_STATUSES: [(&str, Status); 8] = [
    // An inbound message was received (then `delivered`/`undelivered`, docs/providers/plivo.md).
    ("received", Status::Delivered),
    ("queued", Status::Queued),
    // In the US and Canada no delivery receipts exist: `sent` may be final (docs/providers/plivo.md).
    ("sent", Status::Sent),
    ("delivered", Status::Delivered),
    ("undelivered", Status::Undelivered),
    ("failed", Status::Failed),
    ("read", Status::Read),
    ("rejected", Status::Rejected),
];

/// Call parameters kept in [`Details::extra`] (the parameter list of docs/providers/plivo.md).
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

/// The word of an inbound message (no `Status`), as for Vonage's and Twilio's.
pub(crate) const INBOUND: &str = "inbound";

/// Inbound message parameters kept in [`Details::extra`] (Plivo's "Handling incoming
/// messages"; `Text`, `Body` and media are never kept).
const INBOUND_EXTRA: [&str; 2] = ["Type", "MessageIntent"];

/// Message parameters kept in [`Details::extra`] (docs/providers/plivo.md).
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

/// `Direction`: `inbound` | `outbound` (docs/providers/plivo.md).
fn direction(word: &str) -> Option<Direction> {
    match word {
        "inbound" => Some(Direction::Inbound),
        "outbound" => Some(Direction::Outbound),
        _ => None,
    }
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

/// Every name [`event`] reads for a call, the names that decide the kind included. The
/// concatenation check of V3 form bodies (`providers::shared::check_concatenation`) keeps these
/// names' values as signed.
pub(crate) const CALL_READS: [&str; 19] = [
    "CallUUID",
    "MessageUUID",
    "Event",
    "CallStatus",
    "Direction",
    "From",
    "To",
    "Duration",
    "HangupCause",
    CALL_EXTRA[0],
    CALL_EXTRA[1],
    CALL_EXTRA[2],
    CALL_EXTRA[3],
    CALL_EXTRA[4],
    CALL_EXTRA[5],
    CALL_EXTRA[6],
    CALL_EXTRA[7],
    CALL_EXTRA[8],
    CALL_EXTRA[9],
];

/// Every name [`event`] reads for a message status callback (a `Status` parameter), the names
/// that decide the kind included: `Text` and `Body` are not stored, but only an inbound message
/// has them, so a status callback cut out of an inbound message's signed string must not have
/// absorbed them.
pub(crate) const MESSAGE_READS: [&str; 22] = [
    "CallUUID",
    "MessageUUID",
    "Status",
    "Text",
    "Body",
    "Sequence",
    "From",
    "To",
    "TotalAmount",
    "ErrorCode",
    MESSAGE_EXTRA[0],
    MESSAGE_EXTRA[1],
    MESSAGE_EXTRA[2],
    MESSAGE_EXTRA[3],
    MESSAGE_EXTRA[4],
    MESSAGE_EXTRA[5],
    MESSAGE_EXTRA[6],
    MESSAGE_EXTRA[7],
    MESSAGE_EXTRA[8],
    MESSAGE_EXTRA[9],
    MESSAGE_EXTRA[10],
    MESSAGE_EXTRA[11],
];

/// Every name [`event`] reads for an inbound message (no `Status` parameter), the names that
/// decide the kind included. Not `Text` or `Body`: a free-text value that is read would be
/// checked for names that could start inside it, which a sender's text holds at will.
pub(crate) const INBOUND_READS: [&str; 8] = [
    "CallUUID",
    "MessageUUID",
    "Status",
    "From",
    "To",
    "TotalAmount",
    INBOUND_EXTRA[0],
    INBOUND_EXTRA[1],
];

/// The sender's free text in an inbound message (`providers::shared::Vocabulary::free_text`):
/// never read, and absent from every callback Plivo generates the values of.
pub(crate) const FREE_TEXT: [&str; 2] = ["Body", "Text"];

/// Every documented callback parameter, read or not (docs/providers/plivo.md's lists, and the
/// `HangupCauseName`, `AnswerTime`, `StartTime`, `EndTime`, `CallerName` and `TotalCost` of
/// Plivo's hangup and message callback docs, and the inbound message parameters of its
/// "Handling incoming messages"): a read name inside one of these (`Duration` in
/// `BillDuration`) is not a re-cut, and none of these is a cut-short read name.
pub(crate) const DOCUMENTED: [&str; 45] = [
    "ALegRequestUUID",
    "ALegUUID",
    "AnswerTime",
    "BillDuration",
    "BillRate",
    "Body",
    "CallStatus",
    "CallUUID",
    "CallerName",
    "ContentType",
    "DeliveryReportTime",
    "Direction",
    "Duration",
    "EndTime",
    "ErrorCode",
    "Event",
    "From",
    "HangupCause",
    "HangupCauseCode",
    "HangupCauseName",
    "HangupSource",
    "MCC",
    "MNC",
    "MediaCount",
    "MessageIntent",
    "MessageTime",
    "MessageUUID",
    "ParentAuthID",
    "ParentMessageUUID",
    "PartInfo",
    "PowerpackUUID",
    "QueuedTime",
    "RequestUUID",
    "SentTime",
    "Sequence",
    "SessionStart",
    "StartTime",
    "Status",
    "Text",
    "To",
    "TotalAmount",
    "TotalCost",
    "TotalRate",
    "Type",
    "Units",
];

/// Documented names outside the plain-name grammar (`requester_ip`, docs/providers/plivo.md).
pub(crate) const DOCUMENTED_EXCEPTIONS: [&str; 1] = ["requester_ip"];

/// The one event of a verified callback, with the id its signed content gives.
pub(crate) fn event(
    params: &[(String, String)],
    event_id: String,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let values = Values::new(params);
    match (values.get("CallUUID"), values.get("MessageUUID")) {
        (Some(call_uuid), None) => call_event(&values, call_uuid, event_id, received_at),
        (None, Some(message_uuid)) => message_event(&values, message_uuid, event_id, received_at),
        (None, None) => Err(WebhookError::MissingField("CallUUID")),
        (Some(_), Some(_)) => Err(WebhookError::Malformed(
            "both `CallUUID` and `MessageUUID` are present".into(),
        )),
    }
}

fn call_event(
    values: &Values<'_>,
    call_uuid: &str,
    event_id: String,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let event_word = values.get("Event");
    let call_status = values.get("CallStatus");
    let provider_status = call_status
        .or(event_word)
        .ok_or(WebhookError::MissingField("CallStatus"))?;
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Plivo,
        kind: Kind::Call,
        subject_id: call_uuid.to_owned(),
        event_id,
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

/// An inbound message: no `Status` (module docs).
fn inbound_event(
    values: &Values<'_>,
    message_uuid: &str,
    event_id: String,
    received_at: Timestamp,
) -> Event {
    Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Plivo,
        kind: Kind::Message,
        subject_id: message_uuid.to_owned(),
        event_id,
        status: Some(Status::Delivered),
        provider_status: INBOUND.to_owned(),
        occurred_at: None,
        received_at,
        sequence: None,
        direction: Some(Direction::Inbound),
        from: values.owned("From"),
        to: values.owned("To"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            price: values.owned("TotalAmount"),
            extra: values.extra(&INBOUND_EXTRA),
            ..Details::default()
        },
    }
}

fn message_event(
    values: &Values<'_>,
    message_uuid: &str,
    event_id: String,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let Some(provider_status) = values.get("Status") else {
        return Ok(inbound_event(values, message_uuid, event_id, received_at));
    };
    let sequence_text = values.get("Sequence");
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Plivo,
        kind: Kind::Message,
        subject_id: message_uuid.to_owned(),
        event_id,
        status: message_status(provider_status),
        provider_status: provider_status.to_owned(),
        occurred_at: None,
        received_at,
        sequence: sequence_text.and_then(|text| text.trim().parse().ok()),
        // Status callbacks report messages the account sent, except `received`.
        direction: Some(if provider_status == "received" {
            Direction::Inbound
        } else {
            Direction::Outbound
        }),
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
    fn read_names_include_the_kind_names_and_are_documented() {
        for reads in [&CALL_READS[..], &MESSAGE_READS[..], &INBOUND_READS[..]] {
            for key in ["CallUUID", "MessageUUID", "From", "To"] {
                assert!(reads.contains(&key), "{key}");
            }
            for name in reads {
                assert!(DOCUMENTED.contains(name), "{name}");
            }
        }
    }

    #[test]
    fn documented_names_are_sorted_for_binary_search() {
        assert!(DOCUMENTED.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
