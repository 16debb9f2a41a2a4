//! Vonage Messages API webhooks: message status callbacks and inbound messages, JWT-signed like
//! voice events (docs/providers/vonage.md [M1]: https://developer.vonage.com/en/messages/concepts/messages-status-callbacks;
//! [M2]: the Messages API reference's inbound message webhook, UNVERIFIED).
//!
//! An inbound message carries `message_uuid`, `message_type` (`text`, `image`, …) and no
//! `status`: like every provider's inbound message it is stored as `delivered`, direction
//! `inbound`, word `inbound`, without its text or media.
//!
//! A status callback is a JSON body keyed by `message_uuid`, with `to`, `from`, `timestamp`
//! (ISO 8601), `status`, `channel`, `client_ref`, and the nested `usage` (`currency`, `price`)
//! and, for `rejected` and `undeliverable`, `error` (`type`, `title`: the code, `detail`). The
//! body is what the JWT's `payload_hash` covers; the nested members are read from it, the
//! scalars from the same parse as the check's ([`Params`]).

use serde_json::{Map, Value as Json};

use super::params::{params_event_id, Params};
use super::sms::INBOUND;
use crate::error::WebhookError;
use crate::model::{Details, Direction, Event, Kind, Provenance, ProviderId, Status};
use crate::providers::shared::{content_event_id, extra_fields, json_text, lookup};
use crate::time::Timestamp;

/// Messages API `status` words ([M1], "Callback Statuses").
const MESSAGE_STATUSES: [(&str, Status); 5] = [
    // "Messages API has passed a message on to a messaging provider".
    ("submitted", Status::Sent),
    ("delivered", Status::Delivered),
    // The end user has read the message (OTT channels, RCS).
    ("read", Status::Read),
    // Refused by Vonage or the provider, or its TTL expired; an `error` object says why.
    ("rejected", Status::Rejected),
    // "Messages API was unable to connect to the messaging provider": never handed on.
    ("undeliverable", Status::Failed),
];

/// Fields kept in [`Details::extra`] ([M1], [M2]).
const EXTRA_FIELDS: [&str; 3] = ["channel", "client_ref", "message_type"];

pub(crate) fn message_status(word: &str) -> Option<Status> {
    lookup(&MESSAGE_STATUSES, word)
}

/// Whether a JWT-signed request is a Messages API webhook: it names a message, not a leg.
pub(crate) fn is_message(params: &Params) -> bool {
    params.text("message_uuid").is_some()
        && params.text("uuid").is_none()
        && params.text("call_uuid").is_none()
}

/// A nested object's scalar member as text (a string, or a number's JSON text).
fn nested_text(body: &Map<String, Json>, object: &str, member: &str) -> Option<String> {
    match body.get(object)?.as_object()?.get(member)? {
        Json::String(text) if !text.trim().is_empty() => Some(text.clone()),
        Json::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Maps a verified Messages API status callback or inbound message to its event.
///
/// Event id: the SHA-256 of the raw body (or of the sorted query parameters of a bodyless
/// request), as for voice events, so that a retry of the same callback has the same id.
pub(crate) fn normalize(
    params: &Params,
    body: &[u8],
    received_at: Timestamp,
) -> Result<Event, WebhookError> {
    let text = |key: &str| params.text(key).map(str::to_owned);
    let subject_id = text("message_uuid").ok_or(WebhookError::MissingField("message_uuid"))?;
    let inbound = params.text("status").is_none() && params.text("message_type").is_some();
    let provider_status = if inbound {
        INBOUND.to_owned()
    } else {
        text("status").ok_or(WebhookError::MissingField("status"))?
    };
    let nested = match serde_json::from_slice::<Json>(json_text(body)) {
        Ok(Json::Object(object)) => object,
        _ => Map::new(),
    };
    let error_code = nested_text(&nested, "error", "title");
    Ok(Event {
        provenance: Provenance::Webhook,
        provider: ProviderId::Vonage,
        kind: Kind::Message,
        subject_id,
        event_id: if body.is_empty() {
            params_event_id(params.scalars())
        } else {
            content_event_id("vonage", body)
        },
        status: if inbound {
            Some(Status::Delivered)
        } else {
            message_status(&provider_status)
        },
        occurred_at: params.text("timestamp").and_then(Timestamp::parse_rfc3339),
        received_at,
        sequence: None,
        direction: Some(if inbound {
            Direction::Inbound
        } else {
            Direction::Outbound
        }),
        from: text("from"),
        to: text("to"),
        session_id: None,
        aliases: Vec::new(),
        details: Details {
            price: nested_text(&nested, "usage", "price"),
            currency: nested_text(&nested, "usage", "currency"),
            error_message: error_code
                .as_ref()
                .and_then(|_| nested_text(&nested, "error", "detail")),
            error_code,
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
        assert_eq!(message_status("undeliverable"), Some(Status::Failed));
        assert_eq!(message_status("teleported"), None);
    }
}
