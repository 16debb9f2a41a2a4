//! Legacy MessageBird SMS status reports: a `GET` to the message's `reportUrl` with the report in
//! the query (`id`, `recipient`, `status`, `statusDatetime`, …), signed with
//! `MessageBird-Signature-JWT`. docs/providers/messagebird.md documents the signature only; the report's
//! fields are those the core module reads (its assumption, from the legacy SMS API docs). SMS
//! only: no legacy voice shape is documented.

use switchboard_core::{Kind, Timestamp};
use time::format_description::well_known::Rfc3339;

use super::{form, utc, Context, Lifecycle, Plan, ScenarioEvent, ScenarioIds, ScenarioName};
use crate::clock::IdSource;
use switchboard_core::CapturedRequest;

const RECIPIENT: &str = "31612345678";

/// A message id: 32 hex digits.
pub(super) fn fresh_ids(_kind: Kind, source: &mut IdSource) -> ScenarioIds {
    ScenarioIds {
        subject_id: source.hex(32),
        session_id: String::new(),
        seed: source.next_u64(),
    }
}

pub(super) fn lifecycle(name: ScenarioName, context: &Context<'_>) -> Option<Lifecycle> {
    let report = |status: &str, offset: i64, reason: &str, error_code: &str| {
        status_report(context, status, offset, reason, error_code)
    };
    Some(match name {
        ScenarioName::Answered | ScenarioName::Busy | ScenarioName::NoAnswer => return None,
        // Delivered: sent, delivered, the late buffered, delivered again.
        ScenarioName::SmsDelivered => Lifecycle {
            events: vec![
                report("sent", 0, "pending DLR", "0"),
                report("buffered", 3_000, "pending DLR", "0"),
                report("delivered", 8_000, "successfully delivered", "0"),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 1,
            },
        },
        // Delivered: sent, failed, failed again, then the late buffered. 27 is the GSM MAP
        // "absent subscriber" error.
        ScenarioName::SmsFailed => Lifecycle {
            events: vec![
                report("sent", 0, "pending DLR", "0"),
                report("buffered", 2_000, "pending DLR", "0"),
                report("delivery_failed", 6_000, "unavailable subscriber", "27"),
            ],
            plan: Plan {
                late: 1,
                late_after: 2,
                duplicate: 2,
                duplicate_after: 2,
            },
        },
    })
}

/// `2026-01-01T00:00:05+00:00`.
fn rfc3339_seconds(at: Timestamp) -> String {
    let whole = Timestamp::from_unix_seconds(at.unix_seconds());
    utc(whole)
        .format(&Rfc3339)
        .unwrap_or_default()
        .replace('Z', "+00:00")
}

fn status_report(
    context: &Context<'_>,
    status: &str,
    offset: i64,
    reason: &str,
    error_code: &str,
) -> ScenarioEvent {
    let occurred_at = context.at(offset);
    let query = form([
        ("id", context.ids.subject_id.as_str()),
        ("reference", "switchboard-simulator"),
        ("recipient", RECIPIENT),
        ("status", status),
        ("statusReason", reason),
        ("statusErrorCode", error_code),
        ("statusDatetime", &rfc3339_seconds(occurred_at)),
        ("mccmnc", "20408"),
        ("ported", "0"),
        ("price[amount]", "0.07"),
        ("price[currency]", "EUR"),
        ("messagePartCount", "1"),
    ]);
    let request = CapturedRequest::new("GET", &format!("{}?{query}", context.url));
    ScenarioEvent::new(status, occurred_at, request)
}

#[cfg(test)]
mod tests {
    use switchboard_core::ProviderId;

    use super::super::tests::scenario;
    use super::*;

    #[test]
    fn reports_are_get_queries_about_one_message() {
        for (name, last) in [
            (ScenarioName::SmsDelivered, "delivered"),
            (ScenarioName::SmsFailed, "delivery_failed"),
        ] {
            let scenario = scenario(ProviderId::MessageBird, name);
            assert_eq!(scenario.subject_id.len(), 32);
            for event in &scenario.events {
                assert_eq!(event.request.method, "GET");
                assert!(event.request.body.is_empty());
                let params = event.request.query_params();
                let value = |name: &str| {
                    params
                        .iter()
                        .find(|(key, _)| key == name)
                        .map(|(_, value)| value.clone())
                };
                assert_eq!(value("id").as_deref(), Some(scenario.subject_id.as_str()));
                assert_eq!(value("status").as_deref(), Some(event.label.as_str()));
                assert_eq!(
                    value("statusDatetime"),
                    Some(rfc3339_seconds(event.occurred_at))
                );
                assert_eq!(value("price[amount]").as_deref(), Some("0.07"));
            }
            assert_eq!(scenario.events.last().unwrap().label, last);
        }
        assert_eq!(
            rfc3339_seconds(Timestamp::from_millis(1_767_225_605_500)),
            "2026-01-01T00:00:05+00:00"
        );
    }

    /// Every scenario, JWT-signed, verified and merged in delivery order by the real provider.
    #[test]
    fn the_core_reaches_the_expected_status_from_the_delivery_order() {
        use switchboard_core::providers::messagebird::{MessageBird, MessageBirdConfig};
        use switchboard_core::secret::Secret;

        use super::super::available;
        use super::super::tests::assert_core_reaches_expected_status;

        let messagebird = MessageBird::new(MessageBirdConfig {
            secrets: vec![Secret::new("simulator-test-signing-key")],
            tolerance_seconds: 300,
        });
        for name in available(ProviderId::MessageBird) {
            let scenario = scenario(ProviderId::MessageBird, name);
            assert_core_reaches_expected_status(&messagebird, &scenario);
        }
    }
}
