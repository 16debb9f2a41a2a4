//! The per-call / per-message state machine.
//!
//! # Invariants
//!
//! [`SubjectState::apply`] is a *join*: commutative, associative and idempotent. Every field is
//! a register that keeps the greater (or lesser) of its current value and the event's value by a
//! total order that depends only on the events' content, never on arrival. Hence:
//!
//! * the final state does not depend on the order events arrive in, nor on duplicates
//!   (proved by the property tests below);
//! * a status never moves back: it only ever takes a higher [`Rank`], so a
//!   late `ringing` cannot undo `completed`, and terminal statuses absorb every later
//!   non-terminal one;
//! * late data still lands: a summary event that arrives after the terminal status (price,
//!   duration) fills its fields without changing the status.
//!
//! The Durable Object additionally dedups by event id before applying, so that event counts are
//! exact; the join does not rely on it.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{AnsweredBy, Direction, Event, EventOrder, Kind, ProviderId, Rank, Status};
use crate::time::Timestamp;

/// A value and the order of the event that supplied it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Register<T> {
    order: EventOrder,
    value: T,
}

/// Keeps the value of the earliest event (by [`EventOrder`]) that has one.
fn keep_earliest<T: Clone>(slot: &mut Option<Register<T>>, order: &EventOrder, value: Option<&T>) {
    if let Some(value) = value {
        if slot.as_ref().is_none_or(|current| *order < current.order) {
            *slot = Some(Register {
                order: order.clone(),
                value: value.clone(),
            });
        }
    }
}

/// Keeps the value of the latest event (by [`EventOrder`]) that has one.
fn keep_latest<T: Clone>(slot: &mut Option<Register<T>>, order: &EventOrder, value: Option<&T>) {
    if let Some(value) = value {
        if slot.as_ref().is_none_or(|current| *order > current.order) {
            *slot = Some(Register {
                order: order.clone(),
                value: value.clone(),
            });
        }
    }
}

fn keep_min(slot: &mut Option<Timestamp>, value: Option<Timestamp>) {
    if let Some(value) = value {
        *slot = Some(slot.map_or(value, |current| current.min(value)));
    }
}

fn keep_max(slot: &mut Option<Timestamp>, value: Option<Timestamp>) {
    if let Some(value) = value {
        *slot = Some(slot.map_or(value, |current| current.max(value)));
    }
}

/// The status with the highest rank so far, and the provider word that reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StatusClaim {
    status: Status,
    provider_status: String,
    order: EventOrder,
}

impl StatusClaim {
    /// Higher rank wins; for the same rank the earliest report wins, so which provider word is
    /// shown is also independent of arrival order.
    fn key(&self, kind: Kind) -> (Option<Rank>, Reverse<&EventOrder>) {
        (self.status.rank(kind), Reverse(&self.order))
    }
}

/// What [`SubjectState::apply`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub status_changed: bool,
}

/// The merged state of one call or one message. Not stored: the Durable Object folds it from the
/// stored events (the merge does not depend on their order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectState {
    provider: ProviderId,
    kind: Kind,
    subject_id: String,
    status: Option<StatusClaim>,
    direction: Option<Register<Direction>>,
    from: Option<Register<String>>,
    to: Option<Register<String>>,
    session_id: Option<Register<String>>,
    aliases: BTreeSet<String>,
    first_occurred_at: Option<Timestamp>,
    ringing_at: Option<Timestamp>,
    answered_at: Option<Timestamp>,
    ended_at: Option<Timestamp>,
    duration_seconds: Option<Register<u64>>,
    answered_by: Option<Register<AnsweredBy>>,
    price: Option<Register<String>>,
    currency: Option<Register<String>>,
    detail: Option<Register<String>>,
    error: Option<Register<(String, Option<String>)>>,
    first_received_at: Option<Timestamp>,
    last_received_at: Option<Timestamp>,
}

impl SubjectState {
    /// The state before any event. Events applied to it must be about this subject: the caller
    /// routes by `(provider, kind, subject_id)`.
    pub fn new(provider: ProviderId, kind: Kind, subject_id: impl Into<String>) -> Self {
        Self {
            provider,
            kind,
            subject_id: subject_id.into(),
            status: None,
            direction: None,
            from: None,
            to: None,
            session_id: None,
            aliases: BTreeSet::new(),
            first_occurred_at: None,
            ringing_at: None,
            answered_at: None,
            ended_at: None,
            duration_seconds: None,
            answered_by: None,
            price: None,
            currency: None,
            detail: None,
            error: None,
            first_received_at: None,
            last_received_at: None,
        }
    }

    /// Merges one event. See the module docs for the invariants.
    pub fn apply(&mut self, event: &Event) -> Applied {
        let order = event.order();
        let kind = self.kind;
        let before = self.status();

        if let Some(status) = event.status.filter(|status| status.rank(kind).is_some()) {
            let claim = StatusClaim {
                status,
                provider_status: event.provider_status.clone(),
                order: order.clone(),
            };
            if self
                .status
                .as_ref()
                .is_none_or(|current| claim.key(kind) > current.key(kind))
            {
                self.status = Some(claim);
            }
            match status {
                Status::Ringing => keep_min(&mut self.ringing_at, event.occurred_at),
                Status::InProgress => keep_min(&mut self.answered_at, event.occurred_at),
                // A call `completed` was answered; its summary carries the answer time.
                Status::Completed => keep_min(&mut self.answered_at, event.details.started_at),
                _ => {}
            }
            if status.is_terminal(kind) {
                keep_min(&mut self.ended_at, event.occurred_at);
                keep_min(&mut self.ended_at, event.details.ended_at);
            }
        }

        keep_earliest(&mut self.direction, &order, event.direction.as_ref());
        keep_earliest(&mut self.from, &order, event.from.as_ref());
        keep_earliest(&mut self.to, &order, event.to.as_ref());
        keep_earliest(&mut self.session_id, &order, event.session_id.as_ref());
        self.aliases.extend(event.aliases.iter().cloned());
        keep_min(&mut self.first_occurred_at, event.occurred_at);

        let details = &event.details;
        keep_latest(
            &mut self.duration_seconds,
            &order,
            details.duration_seconds.as_ref(),
        );
        keep_latest(&mut self.answered_by, &order, details.answered_by.as_ref());
        keep_latest(&mut self.price, &order, details.price.as_ref());
        keep_latest(&mut self.currency, &order, details.currency.as_ref());
        keep_latest(&mut self.detail, &order, details.detail.as_ref());
        let error = details
            .error_code
            .clone()
            .map(|code| (code, details.error_message.clone()));
        keep_latest(&mut self.error, &order, error.as_ref());

        keep_min(&mut self.first_received_at, Some(event.received_at));
        keep_max(&mut self.last_received_at, Some(event.received_at));

        Applied {
            status_changed: self.status() != before,
        }
    }

    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    pub fn subject_id(&self) -> &str {
        &self.subject_id
    }

    pub fn status(&self) -> Option<Status> {
        self.status.as_ref().map(|claim| claim.status)
    }

    /// The read model served by the status API.
    pub fn summary(&self, event_count: u64) -> Summary {
        let value = |register: &Option<Register<String>>| {
            register.as_ref().map(|register| register.value.clone())
        };
        let answered_at = self.answered_at;
        let ended_at = self.ended_at;
        let duration_seconds = self
            .duration_seconds
            .as_ref()
            .map(|register| register.value)
            .or_else(|| match (answered_at, ended_at) {
                (Some(start), Some(end)) if end >= start => {
                    u64::try_from((end.millis() - start.millis()) / 1000).ok()
                }
                _ => None,
            });
        let (error_code, error_message) = match &self.error {
            Some(register) => (Some(register.value.0.clone()), register.value.1.clone()),
            None => (None, None),
        };
        Summary {
            provider: self.provider,
            kind: self.kind,
            id: self.subject_id.clone(),
            status: self.status(),
            provider_status: self
                .status
                .as_ref()
                .map(|claim| claim.provider_status.clone()),
            terminal: self
                .status()
                .is_some_and(|status| status.is_terminal(self.kind)),
            direction: self.direction.as_ref().map(|register| register.value),
            from: value(&self.from),
            to: value(&self.to),
            session_id: value(&self.session_id),
            aliases: self.aliases.iter().cloned().collect(),
            created_at: self.first_occurred_at.or(self.first_received_at),
            ringing_at: self.ringing_at,
            answered_at,
            ended_at,
            duration_seconds,
            answered_by: self.answered_by.as_ref().map(|register| register.value),
            price: value(&self.price),
            currency: value(&self.currency),
            detail: value(&self.detail),
            error_code,
            error_message,
            event_count,
            updated_at: self.last_received_at,
        }
    }
}

/// The current state of one call or message, as the status API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub provider: ProviderId,
    pub kind: Kind,
    pub id: String,
    pub status: Option<Status>,
    pub provider_status: Option<String>,
    pub terminal: bool,
    pub direction: Option<Direction>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub session_id: Option<String>,
    /// Other ids this subject can be looked up by.
    #[serde(default)]
    pub aliases: Vec<String>,
    pub created_at: Option<Timestamp>,
    pub ringing_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub duration_seconds: Option<u64>,
    pub answered_by: Option<AnsweredBy>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub detail: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub event_count: u64,
    /// When the latest event was received.
    pub updated_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::{Details, Provenance};

    fn call_event(id: &str, status: Option<Status>, word: &str, at_seconds: i64) -> Event {
        Event {
            provenance: Provenance::Webhook,
            provider: ProviderId::Vonage,
            kind: Kind::Call,
            subject_id: "call-1".into(),
            event_id: id.into(),
            status,
            provider_status: word.into(),
            occurred_at: Some(Timestamp::from_unix_seconds(at_seconds)),
            received_at: Timestamp::from_unix_seconds(at_seconds + 1),
            sequence: None,
            direction: Some(Direction::Outbound),
            from: Some("447700900000".into()),
            to: Some("447700900001".into()),
            session_id: Some("CON-1".into()),
            aliases: Vec::new(),
            details: Details::default(),
        }
    }

    fn answered_call() -> Vec<Event> {
        let mut completed = call_event("e5", Some(Status::Completed), "completed", 160);
        completed.details.duration_seconds = Some(45);
        completed.details.price = Some("0.00150000".into());
        completed.details.started_at = Some(Timestamp::from_unix_seconds(110));
        completed.details.ended_at = Some(Timestamp::from_unix_seconds(155));
        let mut machine = call_event("e4", None, "human", 112);
        machine.details.answered_by = Some(AnsweredBy::Human);
        vec![
            call_event("e1", Some(Status::Initiated), "started", 100),
            call_event("e2", Some(Status::Ringing), "ringing", 101),
            call_event("e3", Some(Status::InProgress), "answered", 110),
            machine,
            call_event("e6", None, "record", 150),
            completed,
        ]
    }

    fn fold(events: &[Event]) -> SubjectState {
        fold_as(Kind::Call, events)
    }

    #[test]
    fn answered_call_ends_completed_with_times_and_summary_data() {
        let summary = fold(&answered_call()).summary(6);
        assert_eq!(summary.status, Some(Status::Completed));
        assert_eq!(summary.provider_status.as_deref(), Some("completed"));
        assert!(summary.terminal);
        assert_eq!(summary.created_at, Some(Timestamp::from_unix_seconds(100)));
        assert_eq!(summary.ringing_at, Some(Timestamp::from_unix_seconds(101)));
        assert_eq!(summary.answered_at, Some(Timestamp::from_unix_seconds(110)));
        assert_eq!(summary.ended_at, Some(Timestamp::from_unix_seconds(155)));
        assert_eq!(summary.duration_seconds, Some(45));
        assert_eq!(summary.answered_by, Some(AnsweredBy::Human));
        assert_eq!(summary.price.as_deref(), Some("0.00150000"));
        assert_eq!(summary.session_id.as_deref(), Some("CON-1"));
        assert_eq!(summary.event_count, 6);
    }

    #[test]
    fn late_ringing_does_not_undo_completed() {
        let mut state = fold(&answered_call());
        let applied = state.apply(&call_event("late", Some(Status::Ringing), "ringing", 102));
        assert!(!applied.status_changed);
        assert_eq!(state.status(), Some(Status::Completed));
    }

    #[test]
    fn duration_is_derived_when_the_provider_gives_none() {
        let events = [
            call_event("a", Some(Status::InProgress), "answered", 10),
            call_event("b", Some(Status::Completed), "completed", 70),
        ];
        assert_eq!(fold(&events).summary(2).duration_seconds, Some(60));
    }

    #[test]
    fn specific_terminal_outcome_beats_a_generic_completed() {
        let events = [
            call_event("a", Some(Status::Completed), "completed", 20),
            call_event("b", Some(Status::Busy), "busy", 10),
        ];
        assert_eq!(fold(&events).status(), Some(Status::Busy));
        assert_eq!(
            fold(&[events[1].clone(), events[0].clone()]).status(),
            Some(Status::Busy)
        );
    }

    #[test]
    fn read_may_follow_delivered_but_nothing_undoes_delivered() {
        let message = |id: &str, status: Status, at: i64| Event {
            kind: Kind::Message,
            provider_status: status.as_str().into(),
            ..call_event(id, Some(status), "", at)
        };
        let mut state = SubjectState::new(ProviderId::Vonage, Kind::Message, "call-1");
        state.apply(&message("a", Status::Accepted, 1));
        state.apply(&message("b", Status::Delivered, 3));
        state.apply(&message("c", Status::Queued, 2));
        assert_eq!(state.status(), Some(Status::Delivered));
        state.apply(&message("d", Status::Read, 4));
        assert_eq!(state.status(), Some(Status::Read));
    }

    #[test]
    fn statuses_of_the_wrong_kind_are_kept_out_of_the_status() {
        let mut state = SubjectState::new(ProviderId::Vonage, Kind::Call, "call-1");
        state.apply(&call_event("a", Some(Status::Delivered), "delivered", 1));
        assert_eq!(state.status(), None);
    }

    fn fold_as(kind: Kind, events: &[Event]) -> SubjectState {
        let mut state = SubjectState::new(ProviderId::Vonage, kind, "subject-1");
        for event in events {
            state.apply(event);
        }
        state
    }

    fn any_kind() -> impl Strategy<Value = Kind> {
        prop::sample::select(vec![Kind::Call, Kind::Message])
    }

    /// `None` or any status of `kind`'s vocabulary.
    fn any_status(kind: Kind) -> impl Strategy<Value = Option<Status>> {
        let vocabulary = match kind {
            Kind::Call => Status::CALL.to_vec(),
            Kind::Message => Status::MESSAGE.to_vec(),
        };
        prop::sample::select(
            std::iter::once(None)
                .chain(vocabulary.into_iter().map(Some))
                .collect::<Vec<_>>(),
        )
    }

    /// A time among a few seconds, so that events share times often.
    fn any_time() -> impl Strategy<Value = Timestamp> {
        (0i64..20).prop_map(Timestamp::from_unix_seconds)
    }

    fn any_text(choices: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop::sample::select(choices).prop_map(str::to_owned))
    }

    fn any_details() -> impl Strategy<Value = Details> {
        (
            prop::option::of(0u64..500),
            any_text(&["0.00150000", "0.03330000", "1"]),
            any_text(&["EUR", "USD"]),
            any_text(&["unavailable", "declined", "cannot_route"]),
            prop::option::of((
                prop::sample::select(vec!["0", "5", "6", "42"]),
                any_text(&["Delivered", "Portability Error", "Anti-Spam Rejection"]),
            )),
            prop::option::of(prop::sample::select(vec![
                AnsweredBy::Human,
                AnsweredBy::Machine,
            ])),
            prop::option::of(any_time()),
            prop::option::of(any_time()),
        )
            .prop_map(
                |(duration, price, currency, detail, error, answered_by, started, ended)| Details {
                    duration_seconds: duration,
                    price,
                    currency,
                    detail,
                    error_code: error.as_ref().map(|(code, _)| (*code).to_owned()),
                    error_message: error.and_then(|(_, message)| message),
                    answered_by,
                    started_at: started,
                    ended_at: ended,
                    ..Details::default()
                },
            )
    }

    /// An event of `kind` with every field the state reads drawn at random.
    fn any_event(kind: Kind) -> impl Strategy<Value = Event> {
        (
            0u32..40,
            any_status(kind),
            prop::option::of(any_time()),
            any_time(),
            prop::option::of(0u64..4),
            prop::option::of(prop::sample::select(vec![
                Direction::Inbound,
                Direction::Outbound,
            ])),
            any_text(&["447700900000", "447700900001", "Vonage"]),
            any_text(&["447700900000", "447700900001"]),
            any_text(&["CON-1", "CON-2"]),
            any_details(),
        )
            .prop_map(
                move |(
                    id,
                    status,
                    occurred_at,
                    received_at,
                    sequence,
                    direction,
                    from,
                    to,
                    session_id,
                    details,
                )| {
                    Event {
                        provenance: Provenance::Webhook,
                        provider: ProviderId::Vonage,
                        kind,
                        subject_id: "subject-1".into(),
                        event_id: format!("e{id}"),
                        status,
                        provider_status: status.map_or("annotation", Status::as_str).into(),
                        occurred_at,
                        received_at,
                        sequence,
                        direction,
                        from,
                        to,
                        aliases: session_id.iter().map(|id| format!("alias-{id}")).collect(),
                        session_id,
                        details,
                    }
                },
            )
    }

    /// A kind, a set of its distinct events (by id, as the provider would send them) and an
    /// arrival sequence: a permutation of them with some delivered more than once.
    fn lifecycle_and_arrival() -> impl Strategy<Value = (Kind, Vec<Event>, Vec<Event>)> {
        any_kind()
            .prop_flat_map(|kind| (Just(kind), prop::collection::vec(any_event(kind), 1..12)))
            .prop_map(|(kind, events)| {
                let mut seen = std::collections::BTreeSet::new();
                let distinct = events
                    .into_iter()
                    .filter(|event| seen.insert(event.event_id.clone()))
                    .collect::<Vec<_>>();
                (kind, distinct)
            })
            .prop_flat_map(|(kind, events)| {
                let duplicates = prop::collection::vec(0..events.len(), 0..6);
                (Just(kind), Just(events), duplicates)
            })
            .prop_flat_map(|(kind, events, duplicates)| {
                let mut arrival = events.clone();
                arrival.extend(duplicates.into_iter().map(|index| events[index].clone()));
                (Just(kind), Just(events), Just(arrival).prop_shuffle())
            })
    }

    proptest! {
        #[test]
        fn any_permutation_with_duplicates_gives_the_same_state(
            (kind, events, arrival) in lifecycle_and_arrival(),
        ) {
            prop_assert_eq!(fold_as(kind, &arrival), fold_as(kind, &events));
        }

        #[test]
        fn status_rank_never_decreases((kind, _events, arrival) in lifecycle_and_arrival()) {
            let mut state = SubjectState::new(ProviderId::Vonage, kind, "subject-1");
            let mut previous = None;
            for event in &arrival {
                state.apply(event);
                let rank = state.status().and_then(|status| status.rank(kind));
                prop_assert!(rank >= previous);
                previous = rank;
            }
        }
    }
}
