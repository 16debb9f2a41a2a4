//! Twilio callbacks → normalized events (docs/providers/twilio.md).
//!
//! **Calls** are keyed by `CallSid` (one leg; `ParentCallSid`, the parent leg, is kept in
//! `extra`). `CallStatus` maps by [`CALL_STATUSES`]; `SequenceNumber` ("per call, from 0") is the
//! event's sequence; `Timestamp` (RFC 2822) its time; `CallDuration` (seconds, on `completed`)
//! its duration; `AnsweredBy` (answering-machine detection) sets `answered_by`. An asynchronous
//! AMD callback carries `AnsweredBy` and no `CallStatus`: it joins the timeline as an annotation
//! whose word is the `AnsweredBy` value.
//!
//! **Messages** are keyed by `MessageSid` (legacy duplicate `SmsSid`); `MessageStatus` (legacy
//! `SmsStatus`) maps by [`MESSAGE_STATUSES`]; `ErrorCode` is kept.
//!
//! **Event ids** are a hash of what the signature covers, not of a natural key: for a form body,
//! the signed concatenation of the sorted `name + value` pairs (see `Params::event_id` in
//! [`super`]). docs/providers/twilio.md suggests (`CallSid`,`CallStatus`,`SequenceNumber`), but nothing in
//! Twilio's signature fixes where one concatenated pair ends and the next begins: a captured
//! request re-cut as `SequenceNumbe=r1` would verify and carry another natural key, a new event
//! forever. A hash of the signed string is the same for every re-cut, so a replay or a re-cut of
//! a stored callback is a duplicate of it, and two callbacks that differ in anything Twilio
//! signed are two events (a retry is byte-identical, the same id).

use time::format_description::well_known::Rfc2822;
use time::OffsetDateTime;

use super::Params;
use crate::error::WebhookError;
use crate::model::{AnsweredBy, Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::providers::shared::{extra_fields, lookup};
use crate::time::Timestamp;

/// `CallStatus` words. Source: the Call resource's `Status` enum, `twilio/twilio-python@306691e793f417b6974640d1ef88785e9de03b2a:
/// twilio/rest/api/v2010/account/call/__init__.py` (`CallInstance.Status`), and docs/providers/twilio.md
/// for `initiated`.
pub const CALL_STATUSES: [(&str, Status); 9] = [
    // `CallInstance.Status.QUEUED`.
    ("queued", Status::Initiated),
    // Reported by the `initiated` status-callback event (UNVERIFIED: not in the resource enum,
    // docs/providers/twilio.md).
    ("initiated", Status::Initiated),
    ("ringing", Status::Ringing),
    // Reported by the `answered` status-callback event.
    ("in-progress", Status::InProgress),
    ("completed", Status::Completed),
    ("busy", Status::Busy),
    ("no-answer", Status::NoAnswer),
    // One "l" (`CallInstance.Status.CANCELED`).
    ("canceled", Status::Canceled),
    ("failed", Status::Failed),
];

/// `AnsweredBy` values of answering-machine detection. Source: Twilio AMD docs,
/// https://www.twilio.com/docs/voice/answering-machine-detection (`human`, `machine_start`,
/// `machine_end_beep`, `machine_end_silence`, `machine_end_other`, `fax`, `unknown`);
/// docs/providers/twilio.md lists `AnsweredBy` among the callback parameters.
pub const ANSWERED_BY: [(&str, Option<AnsweredBy>); 7] = [
    ("human", Some(AnsweredBy::Human)),
    ("machine_start", Some(AnsweredBy::Machine)),
    ("machine_end_beep", Some(AnsweredBy::Machine)),
    ("machine_end_silence", Some(AnsweredBy::Machine)),
    ("machine_end_other", Some(AnsweredBy::Machine)),
    // A fax machine answered: neither a person nor a voicemail.
    ("fax", None),
    ("unknown", None),
];

/// `MessageStatus` words. `None`: documented, but no normalized status says it (the event joins
/// the timeline). Source: the Message resource's `Status` enum, `twilio/twilio-python@306691e793f417b6974640d1ef88785e9de03b2a:
/// twilio/rest/api/v2010/account/message/__init__.py` (`MessageInstance.Status`), and
/// https://twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks (docs/providers/twilio.md).
pub const MESSAGE_STATUSES: [(&str, Option<Status>); 13] = [
    // Accepted by a Messaging Service, not yet queued.
    ("accepted", Some(Status::Accepted)),
    // Scheduled for a later send: waiting, like `queued`.
    ("scheduled", Some(Status::Queued)),
    ("queued", Some(Status::Queued)),
    // Being handed to the carrier.
    ("sending", Some(Status::Sent)),
    // The carrier accepted it; may be final where no delivery receipt exists (docs/providers/twilio.md).
    ("sent", Some(Status::Sent)),
    ("delivered", Some(Status::Delivered)),
    ("undelivered", Some(Status::Undelivered)),
    ("failed", Some(Status::Failed)),
    ("canceled", Some(Status::Canceled)),
    // OTT channels (WhatsApp): may follow `delivered`.
    ("read", Some(Status::Read)),
    // Inbound: Twilio is receiving the message (multi-part) for your number.
    ("receiving", Some(Status::Sent)),
    // Inbound: the message reached your number, i.e. it was delivered to its recipient (you).
    ("received", Some(Status::Delivered)),
    // A Messaging Service group send with mixed outcomes: no single status says it.
    ("partially_delivered", None),
];

/// Inbound message words: the message is addressed to the account's number.
const INBOUND_MESSAGE_WORDS: [&str; 2] = ["receiving", "received"];

/// Call parameters kept in [`Details::extra`] (docs/providers/twilio.md lists them). `Duration` is kept
/// here rather than read as seconds: Twilio documents `CallDuration` as the call's seconds and
/// the meaning of a bare `Duration` on status callbacks is UNVERIFIED.
const CALL_EXTRA: [&str; 6] = [
    "ParentCallSid",
    "CallbackSource",
    "SipResponseCode",
    "Duration",
    "StatusCallbackEvent",
    "ApiVersion",
];

/// Message parameters kept in [`Details::extra`]. `RawDlrDoneDate` (`YYMMDDhhmm`, no time zone,
/// docs/providers/twilio.md) is kept as text, never read as a time.
const MESSAGE_EXTRA: [&str; 4] = [
    "RawDlrDoneDate",
    "MessagingServiceSid",
    "NumSegments",
    "ApiVersion",
];

pub(crate) fn call_status(word: &str) -> Option<Status> {
    lookup(&CALL_STATUSES, word)
}

pub(crate) fn is_known_call_word(word: &str) -> bool {
    call_status(word).is_some() || lookup(&ANSWERED_BY, word).is_some()
}

/// `Some(status)` for a documented word (`Some(None)`: documented, no normalized status).
pub(crate) fn message_status(word: &str) -> Option<Option<Status>> {
    lookup(&MESSAGE_STATUSES, word)
}

fn answered_by(word: &str) -> Option<AnsweredBy> {
    lookup(&ANSWERED_BY, word).flatten()
}

/// Call `Direction`: `inbound`, or one of the outbound words (`outbound-api`, `outbound-dial`;
/// `CallInstance` docs in the python SDK above).
fn direction(word: &str) -> Option<Direction> {
    match word {
        "inbound" => Some(Direction::Inbound),
        "outbound" | "outbound-api" | "outbound-dial" => Some(Direction::Outbound),
        _ => None,
    }
}

/// Parses Twilio's `Timestamp` (RFC 2822, e.g. `Tue, 10 Jan 2023 16:24:05 +0000`).
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let parsed = OffsetDateTime::parse(text.trim(), &Rfc2822).ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(Timestamp::from_millis)
}

/// Every name [`event`] reads for a call, the names that decide the kind included. The
/// concatenation check of form bodies (`providers::shared::check_concatenation`) keeps
/// these names' values as signed.
pub(crate) const CALL_READS: [&str; 17] = [
    "CallSid",
    "MessageSid",
    "SmsSid",
    "AnsweredBy",
    "CallStatus",
    "SequenceNumber",
    "Timestamp",
    "Direction",
    "From",
    "To",
    "CallDuration",
    CALL_EXTRA[0],
    CALL_EXTRA[1],
    CALL_EXTRA[2],
    CALL_EXTRA[3],
    CALL_EXTRA[4],
    CALL_EXTRA[5],
];

/// Every name [`event`] reads for a message, the names that decide the kind included.
pub(crate) const MESSAGE_READS: [&str; 12] = [
    "CallSid",
    "MessageSid",
    "SmsSid",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "From",
    "To",
    MESSAGE_EXTRA[0],
    MESSAGE_EXTRA[1],
    MESSAGE_EXTRA[2],
    MESSAGE_EXTRA[3],
];

/// Every documented callback parameter (docs/providers/twilio.md; Twilio's voice and messaging webhook
/// request docs), read or not: a read name inside one of these (`Duration` in `CallDuration`) is
/// not a re-cut, and none of these is a cut-short read name.
pub(crate) const DOCUMENTED: [&str; 51] = [
    "AccountSid",
    "AddOns",
    "AnsweredBy",
    "ApiVersion",
    "Body",
    "CallDuration",
    "CallSid",
    "CallStatus",
    "CallToken",
    "CallbackSource",
    "Called",
    "CalledCity",
    "CalledCountry",
    "CalledState",
    "CalledZip",
    "Caller",
    "CallerCity",
    "CallerCountry",
    "CallerName",
    "CallerState",
    "CallerZip",
    "Direction",
    "Duration",
    "ErrorCode",
    "ForwardedFrom",
    "From",
    "FromCity",
    "FromCountry",
    "FromState",
    "FromZip",
    "MachineDetectionDuration",
    "MessageSid",
    "MessageStatus",
    "MessagingServiceSid",
    "NumMedia",
    "NumSegments",
    "ParentCallSid",
    "RawDlrDoneDate",
    "SequenceNumber",
    "SipResponseCode",
    "SmsMessageSid",
    "SmsSid",
    "SmsStatus",
    "StatusCallbackEvent",
    "StirVerstat",
    "Timestamp",
    "To",
    "ToCity",
    "ToCountry",
    "ToState",
    "ToZip",
];

/// The one event of a verified callback, with the id its signed content gives.
pub(crate) fn event(
    params: &Params,
    event_id: String,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let call_sid = params.text("CallSid")?;
    let message_sid = match params.text("MessageSid")? {
        Some(sid) => Some(sid),
        None => params.text("SmsSid")?,
    };
    match (call_sid, message_sid) {
        (Some(call_sid), None) => call_event(params, call_sid, event_id, received_at),
        (None, Some(message_sid)) => message_event(params, message_sid, event_id, received_at),
        (None, None) => Err(WebhookError::MissingField("CallSid")),
        (Some(_), Some(_)) => Err(WebhookError::Malformed(
            "both `CallSid` and `MessageSid` are present".into(),
        )),
    }
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

fn extra(params: &Params, fields: &[&str]) -> std::collections::BTreeMap<String, String> {
    let values = params.first_values();
    extra_fields(fields, |field| {
        values.get(field).map(|value| (*value).to_owned())
    })
}

fn call_event(
    params: &Params,
    call_sid: &str,
    event_id: String,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let answered = params.text("AnsweredBy")?;
    let provider_status = match (params.text("CallStatus")?, answered) {
        (Some(word), _) => word,
        // An asynchronous AMD callback: no `CallStatus`.
        (None, Some(word)) => word,
        (None, None) => return Err(WebhookError::MissingField("CallStatus")),
    };
    let sequence_text = params.text("SequenceNumber")?;
    let sequence = sequence_text.and_then(|text| text.trim().parse::<u64>().ok());
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Twilio,
        kind: Kind::Call,
        subject_id: call_sid.to_owned(),
        event_id,
        status: call_status(provider_status),
        provider_status: provider_status.to_owned(),
        occurred_at: params.text("Timestamp")?.and_then(parse_timestamp),
        received_at,
        sequence,
        direction: params.text("Direction")?.and_then(direction),
        from: owned(params.text("From")?),
        to: owned(params.text("To")?),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            duration_seconds: params
                .text("CallDuration")?
                .and_then(|text| text.trim().parse().ok()),
            answered_by: answered.and_then(answered_by),
            extra: extra(params, &CALL_EXTRA),
            ..Details::default()
        },
    })
}

fn message_event(
    params: &Params,
    message_sid: &str,
    event_id: String,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let provider_status = match params.text("MessageStatus")? {
        Some(word) => word,
        None => params
            .text("SmsStatus")?
            .ok_or(WebhookError::MissingField("MessageStatus"))?,
    };
    let error_code = params.text("ErrorCode")?;
    let inbound = INBOUND_MESSAGE_WORDS.contains(&provider_status);
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Twilio,
        kind: Kind::Message,
        subject_id: message_sid.to_owned(),
        event_id,
        status: message_status(provider_status).flatten(),
        provider_status: provider_status.to_owned(),
        occurred_at: None,
        received_at,
        sequence: None,
        direction: Some(if inbound {
            Direction::Inbound
        } else {
            Direction::Outbound
        }),
        from: owned(params.text("From")?),
        to: owned(params.text("To")?),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            error_code: owned(error_code),
            extra: extra(params, &MESSAGE_EXTRA),
            ..Details::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_names_are_sorted_for_binary_search() {
        assert!(DOCUMENTED.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn parses_rfc_2822_timestamps() {
        assert_eq!(
            parse_timestamp("Tue, 10 Jan 2023 16:24:05 +0000"),
            Some(Timestamp::from_unix_seconds(1_673_367_845))
        );
        assert_eq!(
            parse_timestamp("Tue, 10 Jan 2023 17:24:05 +0100"),
            Some(Timestamp::from_unix_seconds(1_673_367_845))
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn every_table_word_is_distinct() {
        let mut words: Vec<&str> = CALL_STATUSES.iter().map(|(word, _)| *word).collect();
        words.extend(ANSWERED_BY.iter().map(|(word, _)| *word));
        let count = words.len();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), count);
        let mut messages: Vec<&str> = MESSAGE_STATUSES.iter().map(|(word, _)| *word).collect();
        messages.sort_unstable();
        messages.dedup();
        assert_eq!(messages.len(), MESSAGE_STATUSES.len());
    }

    #[test]
    fn mapped_statuses_belong_to_their_kind() {
        for (word, status) in CALL_STATUSES {
            assert!(status.rank(Kind::Call).is_some(), "{word}");
        }
        for (word, status) in MESSAGE_STATUSES {
            if let Some(status) = status {
                assert!(status.rank(Kind::Message).is_some(), "{word}");
            }
        }
    }

    #[test]
    fn read_names_include_the_kind_names_and_are_distinct() {
        for reads in [&CALL_READS[..], &MESSAGE_READS[..]] {
            for key in ["CallSid", "MessageSid", "SmsSid", "From", "To"] {
                assert!(reads.contains(&key), "{key}");
            }
            let mut sorted = reads.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), reads.len());
        }
    }
}
