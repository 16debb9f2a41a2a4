//! Simulated lifecycles: the unsigned webhooks a provider would send for one call or message,
//! and the order they are delivered in, which includes a duplicate (the same request delivered
//! twice) and a late event (delivered after an event that happened after it).

use clap::ValueEnum;
use serde_json::{json, Map, Value};
use switchboard_core::{CapturedRequest, Kind, ProviderId, Status, Timestamp};
use time::{macros::format_description, OffsetDateTime};

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

/// The ids a scenario is about. `session_id` groups call legs (Vonage `conversation_uuid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioIds {
    pub subject_id: String,
    pub session_id: String,
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
    let (events, deliveries) = match provider {
        ProviderId::Vonage => vonage::lifecycle(name, webhook_url, ids, start),
        ProviderId::VonageBusiness
        | ProviderId::Telnyx
        | ProviderId::Bird
        | ProviderId::MessageBird
        | ProviderId::Twilio
        | ProviderId::Plivo => return None,
    };
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

/// Vonage Voice API call events (JSON POST, JWT-signed) and SMS API delivery receipts
/// (GET query or POST form, `sig`-signed). Field names: providers.md §1 and §2.
mod vonage {
    use super::*;

    const CALLER: &str = "447700900000";
    const CALLEE: &str = "447700900001";
    const API_KEY: &str = "a1b2c3d4";

    /// How a delivery receipt is sent (a Dashboard setting).
    #[derive(Clone, Copy)]
    enum Transport {
        Query,
        Form,
    }
    use Transport::{Form, Query};

    pub(super) fn lifecycle(
        name: ScenarioName,
        url: &str,
        ids: &ScenarioIds,
        start: Timestamp,
    ) -> (Vec<ScenarioEvent>, Vec<usize>) {
        let call = |status: &str, offset: i64, extra: &[(&str, &str)]| {
            call_event(url, ids, status, at(start, offset), extra)
        };
        let receipt = |transport: Transport, status: &str, offset: i64, error_code: &str| {
            delivery_receipt(
                transport,
                url,
                &ids.subject_id,
                status,
                at(start, offset),
                error_code,
            )
        };
        match name {
            // Delivered: started, answered, answered again, completed, then the late ringing.
            ScenarioName::Answered => {
                let answered_at = at(start, 3_500).to_string();
                let completed_at = at(start, 5_500).to_string();
                let events = vec![
                    call("started", 0, &[]),
                    call("ringing", 800, &[]),
                    call(
                        "answered",
                        3_500,
                        &[("start_time", ""), ("rate", ""), ("network", "")],
                    ),
                    call(
                        "completed",
                        5_500,
                        &[
                            ("start_time", &answered_at),
                            ("end_time", &completed_at),
                            ("duration", "2"),
                            ("rate", "0.00450000"),
                            ("price", "0.00015000"),
                            ("network", "GB-FIXED"),
                        ],
                    ),
                ];
                (events, vec![0, 2, 2, 3, 1])
            }
            // Delivered: started, busy, the late ringing, busy again.
            ScenarioName::Busy => {
                let events = vec![
                    call("started", 0, &[]),
                    call("ringing", 600, &[]),
                    call("busy", 1_900, &[]),
                ];
                (events, vec![0, 2, 1, 2])
            }
            // Delivered: ringing before started, ringing again, unanswered.
            ScenarioName::NoAnswer => {
                let events = vec![
                    call("started", 0, &[]),
                    call("ringing", 700, &[]),
                    call("unanswered", 30_700, &[("detail", "timeout")]),
                ];
                (events, vec![1, 0, 1, 2])
            }
            // Delivered: accepted, delivered, the late buffered, delivered again.
            ScenarioName::SmsDelivered => {
                let events = vec![
                    receipt(Query, "accepted", 0, "0"),
                    receipt(Form, "buffered", 2_000, "0"),
                    receipt(Form, "delivered", 5_000, "0"),
                ];
                (events, vec![0, 2, 1, 2])
            }
            // Delivered: accepted, failed, failed again, then the late buffered. Error 8 is
            // "Network Error" in the DLR `err-code` table.
            ScenarioName::SmsFailed => {
                let events = vec![
                    receipt(Form, "accepted", 0, "0"),
                    receipt(Query, "buffered", 2_000, "0"),
                    receipt(Query, "failed", 5_000, "8"),
                ];
                (events, vec![0, 2, 2, 1])
            }
        }
    }

    /// A Voice API event: `POST` JSON to the `event_url`.
    fn call_event(
        url: &str,
        ids: &ScenarioIds,
        status: &str,
        occurred_at: Timestamp,
        extra: &[(&str, &str)],
    ) -> ScenarioEvent {
        let mut body = Map::new();
        for (name, value) in [
            ("uuid", ids.subject_id.as_str()),
            ("conversation_uuid", ids.session_id.as_str()),
            ("from", CALLER),
            ("to", CALLEE),
            ("status", status),
            ("direction", "outbound"),
        ] {
            body.insert(name.to_owned(), json!(value));
        }
        body.insert("timestamp".to_owned(), json!(occurred_at.to_string()));
        for (name, value) in extra {
            body.insert((*name).to_owned(), json!(value));
        }
        let request = CapturedRequest::new("POST", url)
            .with_header("content-type", "application/json")
            .with_body(Value::Object(body).to_string());
        ScenarioEvent {
            label: status.to_owned(),
            occurred_at,
            request,
        }
    }

    /// An SMS API delivery receipt, as a `GET` query or a `POST` form.
    fn delivery_receipt(
        transport: Transport,
        url: &str,
        message_id: &str,
        status: &str,
        occurred_at: Timestamp,
        error_code: &str,
    ) -> ScenarioEvent {
        let time = utc(occurred_at);
        let message_timestamp = time
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .unwrap_or_default();
        let carrier_time = time
            .format(format_description!(
                "[year repr:last_two][month][day][hour][minute]"
            ))
            .unwrap_or_default();
        let params = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("msisdn", CALLEE),
                ("to", CALLER),
                ("network-code", "23410"),
                ("messageId", message_id),
                ("price", "0.03330000"),
                ("status", status),
                ("scts", &carrier_time),
                ("err-code", error_code),
                ("message-timestamp", &message_timestamp),
                ("api-key", API_KEY),
            ])
            .finish();
        let request = match transport {
            Query => CapturedRequest::new("GET", &format!("{url}?{params}")),
            Form => CapturedRequest::new("POST", url)
                .with_header("content-type", "application/x-www-form-urlencoded")
                .with_body(params),
        };
        ScenarioEvent {
            label: status.to_owned(),
            occurred_at,
            request,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use switchboard_core::providers::vonage::{SmsMethod, Vonage, VonageConfig};
    use switchboard_core::secret::Secret;
    use switchboard_core::{Provider, SubjectState};

    use super::*;

    const URL: &str = "http://127.0.0.1:8787/webhooks/vonage";
    const START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    fn scenario(name: ScenarioName) -> Scenario {
        let ids = ScenarioIds {
            subject_id: match name.kind() {
                Kind::Call => "aaaaaaaa-bbbb-cccc-dddd-0123456789ab".to_owned(),
                Kind::Message => "0B00000127FDBC63".to_owned(),
            },
            session_id: "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab".to_owned(),
        };
        build(ProviderId::Vonage, name, URL, &ids, START).expect("vonage has every scenario")
    }

    #[test]
    fn expected_final_statuses() {
        let expected: Vec<_> = ScenarioName::value_variants()
            .iter()
            .map(|name| {
                (
                    name.to_possible_value().unwrap().get_name().to_owned(),
                    name.expected_status(),
                )
            })
            .collect();
        assert_eq!(
            expected,
            [
                ("answered".to_owned(), Status::Completed),
                ("busy".to_owned(), Status::Busy),
                ("no-answer".to_owned(), Status::NoAnswer),
                ("sms-delivered".to_owned(), Status::Delivered),
                ("sms-failed".to_owned(), Status::Failed),
            ]
        );
    }

    #[test]
    fn every_event_is_delivered_and_one_is_delivered_twice() {
        for &name in ScenarioName::value_variants() {
            let scenario = scenario(name);
            let delivered: BTreeSet<usize> = scenario.deliveries.iter().copied().collect();
            let all: BTreeSet<usize> = (0..scenario.events.len()).collect();
            assert_eq!(delivered, all, "{name:?}");
            assert_eq!(
                scenario.deliveries.len(),
                scenario.events.len() + 1,
                "{name:?}"
            );
        }
    }

    #[test]
    fn some_event_is_delivered_after_a_later_one() {
        for &name in ScenarioName::value_variants() {
            let scenario = scenario(name);
            let late = scenario
                .deliveries
                .iter()
                .enumerate()
                .any(|(position, &event)| {
                    scenario.deliveries[..position]
                        .iter()
                        .any(|&earlier| earlier > event)
                });
            assert!(late, "{name:?}: {:?}", scenario.deliveries);
        }
    }

    #[test]
    fn the_terminal_event_happens_last_and_times_increase() {
        for &name in ScenarioName::value_variants() {
            let scenario = scenario(name);
            let times: Vec<i64> = scenario
                .events
                .iter()
                .map(|event| event.occurred_at.millis())
                .collect();
            assert!(
                times.windows(2).all(|pair| pair[0] < pair[1]),
                "{name:?}: {times:?}"
            );
            assert_eq!(scenario.events[0].occurred_at, START);
            assert_eq!(scenario.span_millis(), times[times.len() - 1] - times[0]);
            let last = scenario.events.last().unwrap();
            let expected_word = match name {
                ScenarioName::Answered => "completed",
                ScenarioName::Busy => "busy",
                ScenarioName::NoAnswer => "unanswered",
                ScenarioName::SmsDelivered => "delivered",
                ScenarioName::SmsFailed => "failed",
            };
            assert_eq!(last.label, expected_word);
        }
    }

    #[test]
    fn a_lifecycle_can_end_at_a_given_time() {
        let ids = ScenarioIds {
            subject_id: "id".to_owned(),
            session_id: "CON-id".to_owned(),
        };
        for &name in ScenarioName::value_variants() {
            let scenario = build_ending_at(ProviderId::Vonage, name, URL, &ids, START)
                .expect("vonage scenario");
            assert_eq!(
                scenario.events.last().unwrap().occurred_at,
                START,
                "{name:?}"
            );
            assert_eq!(
                scenario.events[0].occurred_at,
                at(START, -scenario.span_millis())
            );
        }
    }

    #[test]
    fn call_events_are_vonage_json_with_rfc3339_timestamps() {
        let scenario = scenario(ScenarioName::Answered);
        for event in &scenario.events {
            assert_eq!(event.request.method, "POST");
            assert_eq!(event.request.url, URL);
            assert_eq!(
                event.request.header("content-type"),
                Some("application/json")
            );
            let body: Value = serde_json::from_slice(&event.request.body).unwrap();
            assert_eq!(body["uuid"], "aaaaaaaa-bbbb-cccc-dddd-0123456789ab");
            assert_eq!(
                body["conversation_uuid"],
                "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
            );
            assert_eq!(body["status"], event.label.as_str());
            assert_eq!(body["timestamp"], event.occurred_at.to_string());
        }
        let completed: Value = serde_json::from_slice(&scenario.events[3].request.body).unwrap();
        assert_eq!(completed["timestamp"], "2026-01-01T00:00:05.500Z");
        assert_eq!(completed["start_time"], "2026-01-01T00:00:03.500Z");
        assert_eq!(completed["end_time"], "2026-01-01T00:00:05.500Z");
        assert_eq!(completed["duration"], "2");
    }

    #[test]
    fn delivery_receipts_mix_get_and_post_with_vonage_fields() {
        for name in [ScenarioName::SmsDelivered, ScenarioName::SmsFailed] {
            let scenario = scenario(name);
            let methods: BTreeSet<&str> = scenario
                .deliveries
                .iter()
                .map(|&index| scenario.events[index].request.method.as_str())
                .collect();
            assert_eq!(methods, BTreeSet::from(["GET", "POST"]), "{name:?}");
            for event in &scenario.events {
                let request = &event.request;
                let params = if request.method == "GET" {
                    assert!(request.body.is_empty());
                    request.query_params()
                } else {
                    assert_eq!(request.raw_query(), "");
                    switchboard_core::request::parse_form(&request.body)
                };
                let names: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
                assert_eq!(
                    names,
                    [
                        "msisdn",
                        "to",
                        "network-code",
                        "messageId",
                        "price",
                        "status",
                        "scts",
                        "err-code",
                        "message-timestamp",
                        "api-key"
                    ]
                );
                let value = |wanted: &str| {
                    params
                        .iter()
                        .find(|(name, _)| name == wanted)
                        .map(|(_, value)| value.as_str())
                };
                assert_eq!(value("messageId"), Some("0B00000127FDBC63"));
                assert_eq!(value("status"), Some(event.label.as_str()));
            }
        }
        let failed = scenario(ScenarioName::SmsFailed);
        let params = failed.events[2].request.query_params();
        assert!(params.contains(&("err-code".to_owned(), "8".to_owned())));
        assert!(params.contains(&(
            "message-timestamp".to_owned(),
            "2026-01-01 00:00:05".to_owned()
        )));
        assert!(params.contains(&("scts".to_owned(), "2601010000".to_owned())));
    }

    /// Signs, verifies and normalizes every delivery with the real Vonage provider, then merges
    /// them in delivery order: the state must end in the expected status, and the duplicate must
    /// normalize to the same event id as the original.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        for method in [SmsMethod::Md5Hash, SmsMethod::Sha256] {
            let vonage = Vonage::new(VonageConfig {
                secrets: vec![Secret::new("simulator-test-secret")],
                sms_method: Some(method),
                tolerance_seconds: 300,
            });
            for &name in ScenarioName::value_variants() {
                let scenario = scenario(name);
                let now = at(START, scenario.span_millis());
                let signed: Vec<CapturedRequest> = scenario
                    .events
                    .iter()
                    .map(|event| vonage.sign(&event.request, now).unwrap())
                    .collect();
                let mut state =
                    SubjectState::new(ProviderId::Vonage, name.kind(), &scenario.subject_id);
                let mut event_ids = Vec::new();
                for &index in &scenario.deliveries {
                    let events = vonage.receive(&signed[index], now).unwrap_or_else(|error| {
                        panic!("{name:?} event {index}: {}: {error}", error.code())
                    });
                    for event in &events {
                        assert_eq!(event.subject_id, scenario.subject_id);
                        state.apply(event);
                    }
                    event_ids.push((
                        index,
                        events
                            .iter()
                            .map(|event| event.event_id.clone())
                            .collect::<Vec<_>>(),
                    ));
                }
                assert_eq!(
                    state.status(),
                    Some(name.expected_status()),
                    "{name:?} with {method:?}"
                );
                let distinct: BTreeSet<&Vec<String>> =
                    event_ids.iter().map(|(_, ids)| ids).collect();
                assert_eq!(
                    distinct.len(),
                    scenario.events.len(),
                    "{name:?}: duplicate got a new event id"
                );
            }
        }
    }
}
