//! The normalized event model: one vocabulary for every provider's calls and messages.
//!
//! Providers map their own words onto [`Status`] with a table in their module (each row citing
//! its source); the raw word is always kept in [`Event::provider_status`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::echo;
use crate::registry;
use crate::time::Timestamp;

/// A webhook source. The string form is the path segment of `/webhooks/{provider}`; each has
/// a row in the [registry](crate::registry), in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderId {
    Vonage,
    VonageBusiness,
    Telnyx,
    Bird,
    #[serde(rename = "messagebird")]
    MessageBird,
    Twilio,
    Plivo,
}

impl ProviderId {
    /// The providers whose webhooks this version receives, in registry order.
    pub const ALL: [ProviderId; registry::COUNT] = registry::IDS;

    pub fn as_str(self) -> &'static str {
        registry::name(self)
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderId {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|provider| provider.as_str() == name)
            .ok_or_else(|| UnknownName::new(name))
    }
}

/// A name that is not one of the enum's string forms, cut as errors repeat request text
/// ([`echo`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown name `{0}`")]
pub struct UnknownName(pub String);

impl UnknownName {
    pub fn new(name: &str) -> Self {
        Self(echo(name))
    }
}

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Call,
    Message,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Call, Kind::Message];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Call => "call",
            Kind::Message => "message",
        }
    }

    /// The collection of this kind: its path segment (`/v1/calls`) and the first segment of
    /// its browser-token scopes.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Call => "calls",
            Kind::Message => "messages",
        }
    }

    /// The kind whose collection is `collection`.
    pub fn of_collection(collection: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.collection() == collection)
    }
}

impl FromStr for Kind {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "call" => Ok(Kind::Call),
            "message" => Ok(Kind::Message),
            other => Err(UnknownName::new(other)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Who picked up, from answering-machine detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredBy {
    Human,
    Machine,
}

/// The normalized status vocabulary.
///
/// Calls use `initiated … failed`; messages use `accepted … unknown`. `completed`-style words
/// are shared where the meaning is the same (`rejected`, `canceled`, `failed`). Which words are
/// valid for a kind, their rank and which are terminal is defined by [`Status::rank`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    // Calls.
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    // Both.
    Rejected,
    Canceled,
    Failed,
    // Messages.
    Accepted,
    Queued,
    Sent,
    Delivered,
    Read,
    Undelivered,
    Expired,
    Unknown,
}

/// Where a status sits in a kind's lifecycle: statuses only ever move to a higher rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rank {
    /// Lifecycle stage; terminal statuses share the highest stage of their kind (but `read`,
    /// which may follow `delivered`, is above it).
    pub stage: u8,
    /// Order among statuses of the same stage, so that two different terminal reports resolve
    /// the same way whatever their arrival order. Higher wins.
    pub precedence: u8,
    pub terminal: bool,
}

impl Status {
    pub const CALL: [Status; 9] = [
        Status::Initiated,
        Status::Ringing,
        Status::InProgress,
        Status::Completed,
        Status::Busy,
        Status::NoAnswer,
        Status::Rejected,
        Status::Canceled,
        Status::Failed,
    ];

    pub const MESSAGE: [Status; 11] = [
        Status::Accepted,
        Status::Queued,
        Status::Sent,
        Status::Delivered,
        Status::Read,
        Status::Undelivered,
        Status::Failed,
        Status::Expired,
        Status::Rejected,
        Status::Canceled,
        Status::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Initiated => "initiated",
            Status::Ringing => "ringing",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
            Status::Busy => "busy",
            Status::NoAnswer => "no_answer",
            Status::Rejected => "rejected",
            Status::Canceled => "canceled",
            Status::Failed => "failed",
            Status::Accepted => "accepted",
            Status::Queued => "queued",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Read => "read",
            Status::Undelivered => "undelivered",
            Status::Expired => "expired",
            Status::Unknown => "unknown",
        }
    }

    /// The status's rank for `kind`, or `None` if the word is not part of that kind's vocabulary.
    ///
    /// Calls: `initiated < ringing < in_progress < {terminal}`. Among terminal call statuses the
    /// specific outcome beats the generic one: `completed < failed < canceled < no_answer < busy
    /// < rejected` (a `busy` reported next to a summary `completed` means the call was busy).
    ///
    /// Messages: `accepted < queued < sent < unknown < {terminal} < read`. Among terminal
    /// message statuses positive evidence of delivery wins: `canceled < expired < rejected <
    /// failed < undelivered < delivered`; `read` may follow `delivered` and is ranked above it.
    pub fn rank(self, kind: Kind) -> Option<Rank> {
        let open = |stage| Rank {
            stage,
            precedence: 0,
            terminal: false,
        };
        let terminal = |stage, precedence| Rank {
            stage,
            precedence,
            terminal: true,
        };
        match (kind, self) {
            (Kind::Call, Status::Initiated) => Some(open(1)),
            (Kind::Call, Status::Ringing) => Some(open(2)),
            (Kind::Call, Status::InProgress) => Some(open(3)),
            (Kind::Call, Status::Completed) => Some(terminal(4, 0)),
            (Kind::Call, Status::Failed) => Some(terminal(4, 1)),
            (Kind::Call, Status::Canceled) => Some(terminal(4, 2)),
            (Kind::Call, Status::NoAnswer) => Some(terminal(4, 3)),
            (Kind::Call, Status::Busy) => Some(terminal(4, 4)),
            (Kind::Call, Status::Rejected) => Some(terminal(4, 5)),
            (Kind::Message, Status::Accepted) => Some(open(1)),
            (Kind::Message, Status::Queued) => Some(open(2)),
            (Kind::Message, Status::Sent) => Some(open(3)),
            (Kind::Message, Status::Unknown) => Some(open(4)),
            (Kind::Message, Status::Canceled) => Some(terminal(5, 0)),
            (Kind::Message, Status::Expired) => Some(terminal(5, 1)),
            (Kind::Message, Status::Rejected) => Some(terminal(5, 2)),
            (Kind::Message, Status::Failed) => Some(terminal(5, 3)),
            (Kind::Message, Status::Undelivered) => Some(terminal(5, 4)),
            (Kind::Message, Status::Delivered) => Some(terminal(5, 5)),
            (Kind::Message, Status::Read) => Some(terminal(6, 0)),
            _ => None,
        }
    }

    pub fn is_terminal(self, kind: Kind) -> bool {
        self.rank(kind).is_some_and(|rank| rank.terminal)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = UnknownName;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Status::CALL
            .into_iter()
            .chain(Status::MESSAGE)
            .find(|status| status.as_str() == name)
            .ok_or_else(|| UnknownName::new(name))
    }
}

/// Provider facts that do not change the status but that users ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Details {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// Decimal string exactly as the provider sent it (no float rounding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The provider's reason or sub-status word (Vonage `detail`, hangup causes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The documented meaning of `error_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<AnsweredBy>,
    /// When the call was answered / ended according to the provider's summary fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// Other provider fields worth keeping (network, carrier time, client reference, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
}

/// One normalized webhook event about one call or one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub provider: ProviderId,
    pub kind: Kind,
    /// The provider's id of the call (leg) or message.
    pub subject_id: String,
    /// Dedup key: the provider's event id where it has one, else a hash of the event's signed
    /// content that is equal for a retry of the same event.
    pub event_id: String,
    /// `None` for events that join the timeline without moving the status (annotations such as
    /// answering-machine results, action results, words this version does not know).
    pub status: Option<Status>,
    /// The provider's own word, always kept.
    pub provider_status: String,
    /// When it happened according to the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
    /// When Switchboard received it.
    pub received_at: Timestamp,
    /// The provider's per-subject order counter, where it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The provider's grouping of legs (Vonage `conversation_uuid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Other ids of the same call or message by which it can be looked up (Telnyx
    /// `call_control_id` for a call keyed by `call_leg_id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub details: Details,
    /// How it reached Switchboard; absent for a webhook.
    #[serde(default, skip_serializing_if = "Provenance::is_webhook")]
    pub provenance: Provenance,
}

/// How an event reached Switchboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provenance {
    /// A webhook whose signature verified.
    #[default]
    Webhook,
    /// Listed by the provider's API, which the request authenticated, after its webhook was
    /// missed (a VIS registration marked failed: docs/providers/vonage-business.md).
    Backfill,
}

impl Provenance {
    pub fn is_webhook(&self) -> bool {
        *self == Provenance::Webhook
    }
}

/// The total order of events in a timeline: provider time, then provider sequence, then id.
///
/// Arrival time is deliberately absent: a retried or delayed webhook sorts where it happened.
/// Events without a provider time sort last.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventOrder {
    pub occurred_at_ms: i64,
    pub sequence: u64,
    pub event_id: String,
}

impl Event {
    pub fn order(&self) -> EventOrder {
        EventOrder {
            occurred_at_ms: self.occurred_at.map_or(i64::MAX, Timestamp::millis),
            sequence: self.sequence.unwrap_or(u64::MAX),
            event_id: self.event_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_name() {
        for status in Status::CALL.into_iter().chain(Status::MESSAGE) {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn vocabularies_have_ranks_exactly_for_their_kind() {
        for status in Status::CALL {
            assert!(status.rank(Kind::Call).is_some(), "{status}");
        }
        for status in Status::MESSAGE {
            assert!(status.rank(Kind::Message).is_some(), "{status}");
        }
        assert!(Status::Ringing.rank(Kind::Message).is_none());
        assert!(Status::Delivered.rank(Kind::Call).is_none());
    }

    #[test]
    fn terminal_sets_match_the_contract() {
        let call_terminal: Vec<_> = Status::CALL
            .into_iter()
            .filter(|status| status.is_terminal(Kind::Call))
            .map(Status::as_str)
            .collect();
        assert_eq!(
            call_terminal,
            [
                "completed",
                "busy",
                "no_answer",
                "rejected",
                "canceled",
                "failed"
            ]
        );
        let message_terminal: Vec<_> = Status::MESSAGE
            .into_iter()
            .filter(|status| status.is_terminal(Kind::Message))
            .map(Status::as_str)
            .collect();
        assert_eq!(
            message_terminal,
            [
                "delivered",
                "read",
                "undelivered",
                "failed",
                "expired",
                "rejected",
                "canceled"
            ]
        );
    }

    #[test]
    fn provider_ids_parse_from_their_path_segment() {
        assert_eq!("vonage".parse::<ProviderId>(), Ok(ProviderId::Vonage));
        assert_eq!(ProviderId::ALL.len(), 7, "every provider is routable");
        for provider in ProviderId::ALL {
            assert_eq!(provider.as_str().parse::<ProviderId>(), Ok(provider));
            let json = serde_json::to_string(&provider).unwrap();
            assert_eq!(json, format!("\"{}\"", provider.as_str()));
        }
        assert!("Vonage".parse::<ProviderId>().is_err());
    }

    #[test]
    fn order_puts_provider_time_before_sequence_and_untimed_last() {
        let base = Event {
            provenance: Provenance::Webhook,
            provider: ProviderId::Vonage,
            kind: Kind::Call,
            subject_id: "c".into(),
            event_id: "b".into(),
            status: None,
            provider_status: "x".into(),
            occurred_at: Some(Timestamp::from_millis(2)),
            received_at: Timestamp::from_millis(0),
            sequence: Some(1),
            direction: None,
            from: None,
            to: None,
            session_id: None,
            aliases: Vec::new(),
            details: Details::default(),
        };
        let earlier = Event {
            occurred_at: Some(Timestamp::from_millis(1)),
            sequence: Some(9),
            event_id: "z".into(),
            ..base.clone()
        };
        let untimed = Event {
            occurred_at: None,
            event_id: "a".into(),
            ..base.clone()
        };
        assert!(earlier.order() < base.order());
        assert!(base.order() < untimed.order());
    }
}
