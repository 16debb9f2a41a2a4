//! Simulated lifecycles: the unsigned webhooks a provider would send for one call or message,
//! and the order they are delivered in, which includes a duplicate (the same request delivered
//! twice) and a late event (delivered after an event that happened after it).
//!
//! Each provider's webhooks are built in its own module (`vonage.rs`, `twilio.rs`, …); the
//! delivery order comes from one shared [`Plan`]. Adding a provider is one module plus its two
//! arms in [`lifecycle`] and [`fresh_ids`].

mod bird;
mod messagebird;
mod plivo;
mod telnyx;
mod twilio;
mod vonage;
mod vonage_business;

use clap::ValueEnum;
use switchboard_core::{CapturedRequest, Kind, ProviderId, Status, Timestamp};
use time::format_description::BorrowedFormatItem;
use time::OffsetDateTime;

use crate::clock::IdSource;

/// The lifecycles `switchboard simulate --scenario` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScenarioName {
    /// A call that is answered and then hung up.
    Answered,
    /// A call to a busy line.
    Busy,
    /// A call nobody picks up.
    NoAnswer,
    /// An SMS the handset receives.
    SmsDelivered,
    /// An SMS the network cannot deliver.
    SmsFailed,
}

impl ScenarioName {
    pub fn kind(self) -> Kind {
        match self {
            Self::Answered | Self::Busy | Self::NoAnswer => Kind::Call,
            Self::SmsDelivered | Self::SmsFailed => Kind::Message,
        }
    }

    /// The status the subject must end in, whatever the delivery order.
    pub fn expected_status(self) -> Status {
        match self {
            Self::Answered => Status::Completed,
            Self::Busy => Status::Busy,
            Self::NoAnswer => Status::NoAnswer,
            Self::SmsDelivered => Status::Delivered,
            Self::SmsFailed => Status::Failed,
        }
    }

    /// The name as typed on the command line (`no-answer`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::SmsDelivered => "sms-delivered",
            Self::SmsFailed => "sms-failed",
        }
    }
}

/// One webhook of a lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioEvent {
    /// The provider's status word, for progress output.
    pub label: String,
    pub occurred_at: Timestamp,
    /// Unsigned: the simulator signs it (once, so that a duplicate is resent byte for byte).
    pub request: CapturedRequest,
}

/// Which event is delivered late and which twice; every other event is delivered once, in the
/// order it happened. Indices are into the lifecycle's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The event delivered late…
    pub late: usize,
    /// …right after this later event.
    pub late_after: usize,
    /// The event delivered a second time (byte for byte)…
    pub duplicate: usize,
    /// …right after (the first delivery of) this event, which is delivered no earlier than
    /// the duplicated one.
    pub duplicate_after: usize,
}

impl Plan {
    /// The delivery order of `count` events, as indices.
    pub fn deliveries(&self, count: usize) -> Vec<usize> {
        assert!(
            self.late < self.late_after && self.late_after < count,
            "{self:?}: the late event must happen before the one it follows"
        );
        assert!(
            self.duplicate < count && self.duplicate_after < count,
            "{self:?}"
        );
        let mut order: Vec<usize> = (0..count).filter(|&event| event != self.late).collect();
        let position = |order: &[usize], event| {
            order
                .iter()
                .position(|&delivered| delivered == event)
                .expect("every event is delivered")
        };
        let after = position(&order, self.late_after);
        order.insert(after + 1, self.late);
        let original = position(&order, self.duplicate);
        let after = position(&order, self.duplicate_after);
        assert!(
            original <= after,
            "{self:?}: the copy would arrive before the original"
        );
        order.insert(after + 1, self.duplicate);
        order
    }
}

/// What a provider module builds for one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// In the order they happened, with strictly increasing times.
    pub events: Vec<ScenarioEvent>,
    pub plan: Plan,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub name: ScenarioName,
    pub provider: ProviderId,
    pub subject_id: String,
    /// In the order they happened.
    pub events: Vec<ScenarioEvent>,
    /// Delivery order, as indices into `events`.
    pub deliveries: Vec<usize>,
}

impl Scenario {
    pub fn kind(&self) -> Kind {
        self.name.kind()
    }

    pub fn expected_status(&self) -> Status {
        self.name.expected_status()
    }

    /// How long the lifecycle lasts, first event to last.
    pub fn span_millis(&self) -> i64 {
        match (self.events.first(), self.events.last()) {
            (Some(first), Some(last)) => last.occurred_at.millis() - first.occurred_at.millis(),
            _ => 0,
        }
    }
}

/// The ids a scenario is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioIds {
    /// The call (leg) or message id: the `{id}` of the status API.
    pub subject_id: String,
    /// The provider's grouping of call legs (Vonage `conversation_uuid`, Telnyx
    /// `call_session_id`), where it has one.
    pub session_id: String,
    /// Seeds the other ids a lifecycle needs (event ids, delivery ids, …), so that they are
    /// fresh for every run yet reproducible in tests.
    pub seed: u64,
}

impl ScenarioIds {
    /// The other ids of the lifecycle, derived from `seed`: call it once per lifecycle and draw
    /// them in a fixed order.
    pub fn source(&self) -> IdSource {
        IdSource::from_seed(self.seed)
    }
}

/// Where and when a lifecycle happens.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The webhook URL (e.g. `http://127.0.0.1:8787/webhooks/vonage`).
    pub url: &'a str,
    pub ids: &'a ScenarioIds,
    /// When the first event happens.
    pub start: Timestamp,
}

impl Context<'_> {
    /// `offset_millis` after the start.
    pub fn at(&self, offset_millis: i64) -> Timestamp {
        at(self.start, offset_millis)
    }
}

/// The provider's webhooks for scenario `name`, or `None` if it has no such scenario.
fn lifecycle(provider: ProviderId, name: ScenarioName, context: &Context<'_>) -> Option<Lifecycle> {
    match provider {
        ProviderId::Vonage => Some(vonage::lifecycle(name, context)),
        ProviderId::VonageBusiness => vonage_business::lifecycle(name, context),
        ProviderId::Telnyx => Some(telnyx::lifecycle(name, context)),
        ProviderId::Bird => bird::lifecycle(name, context),
        ProviderId::MessageBird => messagebird::lifecycle(name, context),
        ProviderId::Twilio => Some(twilio::lifecycle(name, context)),
        ProviderId::Plivo => Some(plivo::lifecycle(name, context)),
    }
}

/// Fresh ids shaped like the provider's for a `kind` subject.
pub fn fresh_ids(provider: ProviderId, kind: Kind, source: &mut IdSource) -> ScenarioIds {
    match provider {
        ProviderId::Vonage => vonage::fresh_ids(kind, source),
        ProviderId::VonageBusiness => vonage_business::fresh_ids(kind, source),
        ProviderId::Telnyx => telnyx::fresh_ids(kind, source),
        ProviderId::Bird => bird::fresh_ids(kind, source),
        ProviderId::MessageBird => messagebird::fresh_ids(kind, source),
        ProviderId::Twilio => twilio::fresh_ids(kind, source),
        ProviderId::Plivo => plivo::fresh_ids(kind, source),
    }
}

/// The scenarios `provider` has.
pub fn available(provider: ProviderId) -> Vec<ScenarioName> {
    let ids = ScenarioIds {
        subject_id: "id".to_owned(),
        session_id: "session".to_owned(),
        seed: 0,
    };
    let context = Context {
        url: "http://127.0.0.1/",
        ids: &ids,
        start: Timestamp::from_millis(0),
    };
    ScenarioName::value_variants()
        .iter()
        .copied()
        .filter(|&name| lifecycle(provider, name, &context).is_some())
        .collect()
}

/// Builds scenario `name` for `provider`, whose first event happens at `start`. Requests go to
/// `webhook_url` (e.g. `http://127.0.0.1:8787/webhooks/vonage`). `None`: the provider has no
/// such scenario.
pub fn build(
    provider: ProviderId,
    name: ScenarioName,
    webhook_url: &str,
    ids: &ScenarioIds,
    start: Timestamp,
) -> Option<Scenario> {
    let context = Context {
        url: webhook_url,
        ids,
        start,
    };
    let Lifecycle { events, plan } = lifecycle(provider, name, &context)?;
    let deliveries = plan.deliveries(events.len());
    Some(Scenario {
        name,
        provider,
        subject_id: ids.subject_id.clone(),
        events,
        deliveries,
    })
}

/// [`build`], with the lifecycle placed so that its last event happens at `end`.
pub fn build_ending_at(
    provider: ProviderId,
    name: ScenarioName,
    webhook_url: &str,
    ids: &ScenarioIds,
    end: Timestamp,
) -> Option<Scenario> {
    let span = build(provider, name, webhook_url, ids, end)?.span_millis();
    build(provider, name, webhook_url, ids, at(end, -span))
}

fn at(start: Timestamp, offset_millis: i64) -> Timestamp {
    Timestamp::from_millis(start.millis() + offset_millis)
}

fn utc(at: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `application/x-www-form-urlencoded` text of `pairs`, in order.
fn form<K: AsRef<str>, V: AsRef<str>>(pairs: impl IntoIterator<Item = (K, V)>) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A `POST` of `pairs` as a form, the way Twilio and Plivo call back.
fn form_post<K: AsRef<str>, V: AsRef<str>>(
    url: &str,
    pairs: impl IntoIterator<Item = (K, V)>,
) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form(pairs))
}

/// A `POST` of `body` as JSON text.
fn json_post(url: &str, body: String) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/json")
        .with_body(body)
}

/// `at` in UTC in a `time` format description.
fn formatted(at: Timestamp, format: &[BorrowedFormatItem<'_>]) -> String {
    utc(at).format(format).unwrap_or_default()
}

impl ScenarioEvent {
    fn new(label: &str, occurred_at: Timestamp, request: CapturedRequest) -> Self {
        Self {
            label: label.to_owned(),
            occurred_at,
            request,
        }
    }
}

#[cfg(test)]
mod tests;
