//! Telnyx TeXML status callbacks: `application/x-www-form-urlencoded`, Twilio-style parameters
//! (`CallSid`, `CallStatus`, `SequenceNumber`, …), signed like every Telnyx webhook over the raw
//! form body (docs/providers/telnyx.md "TeXML", docs/providers/twilio.md; https://developers.telnyx.com/api-reference/callbacks/texml-call-ringing).
//!
//! An answering-machine detection callback (`AsyncAmdStatusCallback`, documented as
//! `TexmlCallAmdWebhook`: https://developers.telnyx.com/api-reference/callbacks/texml-call-amd)
//! carries `AnsweredBy` and no `CallStatus`: like Twilio's, it joins the timeline as an
//! annotation whose word is the `AnsweredBy` value and sets `answered_by`.
//!
//! The call is keyed by `CallSid`; `SequenceNumber` ("the first callback has the lowest, and the
//! last callback the highest", docs/providers/telnyx.md) orders the timeline. TeXML callbacks carry no
//! event id: the event id is the hash of the sorted, form-encoded parameters
//! (`telnyx:form:<32 hex>`), so a retry of the same callback collapses whatever the order of its
//! parameters.

use std::collections::BTreeSet;

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::OffsetDateTime;

use crate::error::WebhookError;
use crate::model::{AnsweredBy, Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::providers::shared::{extra_fields, form_event_id, lookup};
// TeXML status callbacks are Twilio-compatible (docs/providers/telnyx.md, docs/providers/twilio.md): their `CallStatus` words
// are Twilio's (`twilio/twilio-python@306691e7…:twilio/rest/api/v2010/account/call/__init__.py`),
// so they share its table. `AnsweredBy` words are Twilio's too (the texml-call-amd docs list
// `human`, `machine_start`, `machine_end_beep`, `machine_end_silence`, `machine_end_other`,
// `fax`, `unknown`).
use crate::providers::twilio::normalize::{ANSWERED_BY, CALL_STATUSES};
use crate::request::parse_form;
use crate::time::Timestamp;

/// Parameters kept in [`Details::extra`] (docs/providers/twilio.md, "Other parameters seen in callbacks";
/// `MachineDetectionDuration` of the texml-call-amd docs, docs/providers/telnyx.md [T9]).
const EXTRA_FIELDS: [&str; 6] = [
    "AccountSid",
    "ParentCallSid",
    "CallbackSource",
    "SipResponseCode",
    "ConnectionId",
    "MachineDetectionDuration",
];

/// The status of a `CallStatus` word, `None` for a word this version does not know.
pub(super) fn call_status(word: &str) -> Option<Status> {
    lookup(&CALL_STATUSES, word)
}

/// Whether `word` is a documented `CallStatus` or `AnsweredBy` word.
pub(super) fn is_known_call_word(word: &str) -> bool {
    call_status(word).is_some() || lookup(&ANSWERED_BY, word).is_some()
}

/// `Timestamp`: RFC 2822 as Twilio sends it, or RFC 3339.
fn parse_time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    let parsed = OffsetDateTime::parse(text, &Rfc2822)
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
        .ok()?;
    i64::try_from(parsed.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .map(Timestamp::from_millis)
}

/// `AnsweredBy`: `human`, or `machine_start`/`machine_end_*` (Twilio's answering-machine words);
/// `fax` and `unknown` say neither.
fn answered_by(word: &str) -> Option<AnsweredBy> {
    match word {
        "human" => Some(AnsweredBy::Human),
        _ if word.starts_with("machine") => Some(AnsweredBy::Machine),
        _ => None,
    }
}

/// Maps a verified form body to its event. A repeated parameter is refused: which of its values
/// is meant would be ambiguous.
pub(super) fn normalize(body: &[u8], received_at: Timestamp) -> Result<Event, WebhookError> {
    let mut params = parse_form(body);
    let mut seen = BTreeSet::new();
    if !params.iter().all(|(key, _)| seen.insert(key.as_str())) {
        return Err(WebhookError::Malformed(
            "a parameter appears more than once".into(),
        ));
    }
    params.sort_unstable();
    let event_id = form_event_id("telnyx:form", &params);
    let text = |key: &str| {
        params
            .iter()
            .find(|(name, value)| name == key && !value.trim().is_empty())
            .map(|(_, value)| value.clone())
    };
    let subject_id = text("CallSid").ok_or(WebhookError::MissingField("CallSid"))?;
    let answered = text("AnsweredBy");
    let provider_status = text("CallStatus")
        .or_else(|| answered.clone())
        .ok_or(WebhookError::MissingField("CallStatus"))?;
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Telnyx,
        kind: Kind::Call,
        subject_id,
        event_id,
        status: call_status(&provider_status),
        occurred_at: text("Timestamp").and_then(|value| parse_time(&value)),
        received_at,
        sequence: text("SequenceNumber").and_then(|value| value.trim().parse().ok()),
        direction: text("Direction").and_then(|value| match value.as_str() {
            "inbound" => Some(Direction::Inbound),
            _ if value.starts_with("outbound") => Some(Direction::Outbound),
            _ => None,
        }),
        from: text("From"),
        to: text("To"),
        session_id: text("CallSessionId"),
        aliases: Vec::new(),
        details: Details {
            duration_seconds: text("CallDuration").and_then(|value| value.trim().parse().ok()),
            answered_by: answered.and_then(|value| answered_by(&value)),
            extra: extra_fields(&EXTRA_FIELDS, text),
            ..Details::default()
        },
        provider_status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_call_statuses() {
        for (word, status) in CALL_STATUSES {
            assert!(status.rank(Kind::Call).is_some(), "{word}");
        }
        assert_eq!(call_status("in-progress"), Some(Status::InProgress));
        assert_eq!(call_status("teleported"), None);
    }

    #[test]
    fn reads_rfc2822_and_rfc3339_times() {
        assert_eq!(
            parse_time("Tue, 05 Mar 2024 12:00:00 +0000"),
            Timestamp::parse_rfc3339("2024-03-05T12:00:00Z")
        );
        assert_eq!(
            parse_time("2024-03-05T12:00:00Z"),
            Timestamp::parse_rfc3339("2024-03-05T12:00:00Z")
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
