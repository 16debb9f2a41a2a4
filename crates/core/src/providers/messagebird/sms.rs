//! Legacy MessageBird SMS status reports (delivery reports).
//!
//! **Assumed shape (UNVERIFIED: docs/providers/messagebird.md documents the signatures only).** From the
//! legacy MessageBird SMS API documentation ("Handle a status report"), a status report is a
//! `GET` to the message's `reportUrl` with query parameters `id`, `reference`, `recipient`,
//! `status`, `statusReason`, `statusErrorCode`, `statusDatetime` (RFC 3339), `mccmnc`, `ported`,
//! `price[amount]`, `price[currency]`, `messagePartCount`. The same names are read from a form
//! body or a JSON body (a nested `price` object reads as `price[amount]`), so either transport
//! works.

use std::collections::BTreeMap;

use crate::error::WebhookError;
use crate::model::{Details, Event, Kind, Provenance, ProviderId, Status};
use crate::providers::shared::{extra_fields, lookup};
use crate::time::Timestamp;

/// SMS `status` words (legacy MessageBird SMS API, "Messages" object `recipients.items[].status`
/// and status reports: `scheduled`, `sent`, `buffered`, `delivered`, `expired`,
/// `delivery_failed`; UNVERIFIED, docs/providers/messagebird.md; see the module docs).
const MESSAGE_STATUSES: [(&str, Status); 6] = [
    // Waiting for its scheduled send time.
    ("scheduled", Status::Queued),
    // Handed to the carrier.
    ("sent", Status::Sent),
    // Held by the carrier (handset off or out of coverage).
    ("buffered", Status::Queued),
    ("delivered", Status::Delivered),
    // Validity period passed before delivery.
    ("expired", Status::Expired),
    ("delivery_failed", Status::Failed),
];

/// Fields kept in [`Details::extra`].
const EXTRA_FIELDS: [&str; 5] = [
    "reference",
    "mccmnc",
    "ported",
    "messagePartCount",
    "messageLength",
];

pub(crate) fn message_status(word: &str) -> Option<Status> {
    lookup(&MESSAGE_STATUSES, word)
}

/// Whether the fields look like a status report: only a report has `recipient` or
/// `statusDatetime`.
pub(crate) fn is_status_report(fields: &BTreeMap<String, String>) -> bool {
    fields.contains_key("recipient") || fields.contains_key("statusDatetime")
}

/// Maps a verified status report. `event_id` is chosen by the caller (from the signature).
pub(crate) fn normalize(
    fields: &BTreeMap<String, String>,
    event_id: String,
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let text = |key: &str| {
        fields
            .get(key)
            .filter(|value| !value.trim().is_empty())
            .cloned()
    };
    let subject_id = text("id").ok_or(WebhookError::MissingField("id"))?;
    let provider_status = text("status").ok_or(WebhookError::MissingField("status"))?;
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::MessageBird,
        kind: Kind::Message,
        subject_id,
        event_id,
        status: message_status(&provider_status),
        occurred_at: text("statusDatetime").and_then(|time| Timestamp::parse_rfc3339(&time)),
        received_at,
        sequence: None,
        direction: None,
        from: text("originator"),
        to: text("recipient"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            price: text("price[amount]"),
            currency: text("price[currency]"),
            detail: text("statusReason"),
            error_code: text("statusErrorCode").filter(|code| code.trim() != "0"),
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
    fn every_mapped_word_is_a_message_status() {
        for (word, status) in MESSAGE_STATUSES {
            assert!(status.rank(Kind::Message).is_some(), "{word}");
        }
        assert_eq!(message_status("delivery_failed"), Some(Status::Failed));
        assert_eq!(message_status("teleported"), None);
    }
}
