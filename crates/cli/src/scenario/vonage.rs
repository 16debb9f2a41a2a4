//! Vonage Voice API call events (JSON POST, JWT-signed) and SMS API delivery receipts (GET
//! query or POST form, `sig`-signed). Field names: docs/providers/vonage.md.

use serde_json::{json, Map, Value};
use switchboard_core::{CapturedRequest, Kind, Timestamp};
use time::macros::format_description;

use super::{form, utc, Context, Lifecycle, Plan, ScenarioEvent, ScenarioIds, ScenarioName};
use crate::clock::IdSource;

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

/// Ids shaped like Vonage's: a call `uuid` and `conversation_uuid` (`CON-` + uuid), or a
/// 16-hex-digit SMS `messageId`.
pub(super) fn fresh_ids(kind: Kind, source: &mut IdSource) -> ScenarioIds {
    ScenarioIds {
        subject_id: match kind {
            Kind::Call => source.uuid(),
            Kind::Message => source.message_id(),
        },
        session_id: format!("CON-{}", source.uuid()),
        seed: source.next_u64(),
    }
}

pub(super) fn lifecycle(name: ScenarioName, context: &Context<'_>) -> Lifecycle {
    let (url, ids) = (context.url, context.ids);
    let call = |status: &str, offset: i64, extra: &[(&str, &str)]| {
        call_event(url, ids, status, context.at(offset), extra)
    };
    let receipt = |transport: Transport, status: &str, offset: i64, error_code: &str| {
        delivery_receipt(
            transport,
            url,
            &ids.subject_id,
            status,
            context.at(offset),
            error_code,
        )
    };
    match name {
        // Delivered: started, answered, answered again, completed, then the late ringing.
        ScenarioName::Answered => {
            let answered_at = context.at(3_500).to_string();
            let completed_at = context.at(5_500).to_string();
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
            Lifecycle {
                events,
                plan: Plan {
                    late: 1,
                    late_after: 3,
                    duplicate: 2,
                    duplicate_after: 2,
                },
            }
        }
        // Delivered: started, busy, the late ringing, busy again.
        ScenarioName::Busy => Lifecycle {
            events: vec![
                call("started", 0, &[]),
                call("ringing", 600, &[]),
                call("busy", 1_900, &[]),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 1,
            },
        },
        // Delivered: ringing before started, ringing again, unanswered.
        ScenarioName::NoAnswer => Lifecycle {
            events: vec![
                call("started", 0, &[]),
                call("ringing", 700, &[]),
                call("unanswered", 30_700, &[("detail", "timeout")]),
            ],
            plan: Plan {
                late: 0,
                late_after: 1,
                duplicate: 1,
                duplicate_after: 0,
            },
        },
        // Delivered: accepted, delivered, the late buffered, delivered again.
        ScenarioName::SmsDelivered => Lifecycle {
            events: vec![
                receipt(Query, "accepted", 0, "0"),
                receipt(Form, "buffered", 2_000, "0"),
                receipt(Form, "delivered", 5_000, "0"),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 1,
            },
        },
        // Delivered: accepted, failed, failed again, then the late buffered. Error 8 is
        // "Network Error" in the DLR `err-code` table.
        ScenarioName::SmsFailed => Lifecycle {
            events: vec![
                receipt(Form, "accepted", 0, "0"),
                receipt(Query, "buffered", 2_000, "0"),
                receipt(Query, "failed", 5_000, "8"),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 2,
            },
        },
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
    let params = form([
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
    ]);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::ValueEnum;
    use switchboard_core::providers::vonage::{SmsMethod, Vonage, VonageConfig};
    use switchboard_core::secret::Secret;
    use switchboard_core::ProviderId;

    use super::super::tests::{assert_core_reaches_expected_status, START};
    use super::super::{build, Scenario};
    use super::*;

    const URL: &str = "http://127.0.0.1:8787/webhooks/vonage";

    fn scenario(name: ScenarioName) -> Scenario {
        let ids = ScenarioIds {
            subject_id: match name.kind() {
                Kind::Call => "aaaaaaaa-bbbb-cccc-dddd-0123456789ab".to_owned(),
                Kind::Message => "0B00000127FDBC63".to_owned(),
            },
            session_id: "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab".to_owned(),
            seed: 0,
        };
        build(ProviderId::Vonage, name, URL, &ids, START).expect("vonage has every scenario")
    }

    #[test]
    fn the_terminal_event_happens_last() {
        for &name in ScenarioName::value_variants() {
            let last = scenario(name).events.last().unwrap().label.clone();
            let expected_word = match name {
                ScenarioName::Answered => "completed",
                ScenarioName::Busy => "busy",
                ScenarioName::NoAnswer => "unanswered",
                ScenarioName::SmsDelivered => "delivered",
                ScenarioName::SmsFailed => "failed",
            };
            assert_eq!(last, expected_word);
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

    /// Every scenario, signed, verified and merged in delivery order by the real provider.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        for method in [SmsMethod::Md5Hash, SmsMethod::Sha256] {
            let vonage = Vonage::new(VonageConfig {
                secrets: vec![Secret::new("simulator-test-secret")],
                sms_method: Some(method),
                tolerance_seconds: 300,
            });
            for &name in ScenarioName::value_variants() {
                assert_core_reaches_expected_status(&vonage, &scenario(name));
            }
        }
    }
}
