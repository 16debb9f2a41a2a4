//! Properties every provider's scenarios share, and helpers for the provider modules' tests.

use std::collections::BTreeSet;

use switchboard_core::{Signer, SubjectState};

use super::*;

pub const URL: &str = "http://127.0.0.1:8787/webhooks/test";
/// RFC 8032 §7.1 TEST 1 seed, base64: a development Telnyx signing key.
pub const TELNYX_SEED: &str = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
pub const START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

/// Fixed ids of the provider's shape.
pub fn ids(provider: ProviderId, kind: Kind) -> ScenarioIds {
    fresh_ids(provider, kind, &mut IdSource::from_seed(42))
}

/// Scenario `name` of `provider` starting at [`START`]; panics if the provider has none.
pub fn scenario(provider: ProviderId, name: ScenarioName) -> Scenario {
    build(provider, name, URL, &ids(provider, name.kind()), START)
        .unwrap_or_else(|| panic!("{provider} has no {name:?} scenario"))
}

/// The event delivered twice, if exactly one is.
fn duplicated(deliveries: &[usize]) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    deliveries
        .iter()
        .copied()
        .filter(|&event| !seen.insert(event))
        .collect()
}

/// Events whose first delivery comes after the delivery of an event that happened later.
fn late(deliveries: &[usize]) -> Vec<usize> {
    let mut first = Vec::new();
    for &event in deliveries {
        if !first.contains(&event) {
            first.push(event);
        }
    }
    first
        .iter()
        .enumerate()
        .filter(|&(position, &event)| first[..position].iter().any(|&earlier| earlier > event))
        .map(|(_, &event)| event)
        .collect()
}

/// Signs every event once at the scenario's end with `provider`, then verifies, normalizes and
/// merges them in delivery order: the state must end in the expected status, every event must
/// be about the scenario's subject, and the duplicate must keep its event id.
pub fn assert_core_reaches_expected_status(provider: &dyn Signer, scenario: &Scenario) {
    let name = scenario.name;
    let now = at(START, scenario.span_millis());
    let signed: Vec<CapturedRequest> = scenario
        .events
        .iter()
        .map(|event| {
            provider
                .sign(&event.request, now)
                .unwrap_or_else(|error| panic!("{name:?} sign `{}`: {error}", event.label))
        })
        .collect();
    let mut state = SubjectState::new(provider.id(), name.kind(), &scenario.subject_id);
    let mut event_ids = BTreeSet::new();
    for &index in &scenario.deliveries {
        let events = provider
            .receive(&signed[index], now)
            .unwrap_or_else(|error| {
                panic!(
                    "{} {name:?} event {index} `{}`: {}: {error}",
                    provider.id(),
                    scenario.events[index].label,
                    error.code()
                )
            });
        assert!(!events.is_empty(), "{name:?} event {index}");
        for event in &events {
            assert_eq!(event.subject_id, scenario.subject_id, "{name:?} {index}");
            assert_eq!(event.kind, name.kind(), "{name:?} {index}");
            state.apply(event);
        }
        event_ids.insert(
            events
                .iter()
                .map(|event| event.event_id.clone())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        state.status(),
        Some(scenario.expected_status()),
        "{} {name:?}",
        provider.id()
    );
    assert_eq!(
        event_ids.len(),
        scenario.events.len(),
        "{} {name:?}: every event has its own id and the duplicate keeps its own",
        provider.id()
    );
    assert_any_arrival_gives_the_same_state(provider, scenario, &signed, now, &state);
}

/// How many random arrivals (permutations with duplicates) each scenario is folded in.
const ARRIVALS: usize = 1_000;

/// The provider's real normalized events of `scenario`, folded in [`ARRIVALS`] random orders with
/// random duplicates, always give `expected`: the final state depends neither on arrival order
/// nor on retries. Seeded, so a failure reproduces.
fn assert_any_arrival_gives_the_same_state(
    provider: &dyn Signer,
    scenario: &Scenario,
    signed: &[CapturedRequest],
    now: Timestamp,
    expected: &SubjectState,
) {
    let events: Vec<_> = signed
        .iter()
        .flat_map(|request| provider.receive(request, now).expect("received above"))
        .collect();
    let mut random = XorShift(0x9E37_79B9_7F4A_7C15 ^ events.len() as u64);
    for arrival in 0..ARRIVALS {
        let mut order: Vec<usize> = (0..events.len()).collect();
        for _ in 0..random.below(4) {
            order.push(random.below(events.len()));
        }
        for index in (1..order.len()).rev() {
            order.swap(index, random.below(index + 1));
        }
        let mut state =
            SubjectState::new(provider.id(), scenario.name.kind(), &scenario.subject_id);
        for &index in &order {
            state.apply(&events[index]);
        }
        assert_eq!(
            &state,
            expected,
            "{} {:?}: arrival {arrival} in order {order:?}",
            provider.id(),
            scenario.name
        );
    }
}

/// A tiny deterministic PRNG (xorshift64), enough to shuffle test arrivals.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

#[test]
fn expected_final_statuses() {
    let expected: Vec<_> = ScenarioName::value_variants()
        .iter()
        .map(|name| {
            let typed = name.to_possible_value().unwrap().get_name().to_owned();
            assert_eq!(typed, name.as_str());
            (typed, name.expected_status())
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
fn a_plan_delivers_every_event_once_except_one_twice_and_one_late() {
    let plan = Plan {
        late: 1,
        late_after: 3,
        duplicate: 2,
        duplicate_after: 2,
    };
    assert_eq!(plan.deliveries(4), [0, 2, 2, 3, 1]);
    let plan = Plan {
        late: 0,
        late_after: 1,
        duplicate: 1,
        duplicate_after: 0,
    };
    assert_eq!(plan.deliveries(2), [1, 0, 1]);
    assert_eq!(duplicated(&[1, 0, 1]), [1]);
    assert_eq!(late(&[1, 0, 1]), [0]);
    assert_eq!(late(&[0, 2, 2, 1, 3]), [1]);
}

#[test]
#[should_panic(expected = "the late event must happen before")]
fn a_plan_cannot_make_an_event_late_after_an_earlier_one() {
    Plan {
        late: 2,
        late_after: 1,
        duplicate: 0,
        duplicate_after: 0,
    }
    .deliveries(3);
}

#[test]
fn every_scenario_has_exactly_one_duplicate_and_one_late_delivery() {
    for provider in ProviderId::ALL {
        for name in available(provider) {
            let scenario = scenario(provider, name);
            let all: BTreeSet<usize> = (0..scenario.events.len()).collect();
            let delivered: BTreeSet<usize> = scenario.deliveries.iter().copied().collect();
            assert_eq!(delivered, all, "{provider} {name:?}");
            assert_eq!(
                duplicated(&scenario.deliveries).len(),
                1,
                "{provider} {name:?}: {:?}",
                scenario.deliveries
            );
            assert_eq!(
                late(&scenario.deliveries).len(),
                1,
                "{provider} {name:?}: {:?}",
                scenario.deliveries
            );
        }
    }
}

#[test]
fn times_increase_from_the_start_and_can_end_at_a_given_time() {
    for provider in ProviderId::ALL {
        for name in available(provider) {
            let scenario = scenario(provider, name);
            let times: Vec<i64> = scenario
                .events
                .iter()
                .map(|event| event.occurred_at.millis())
                .collect();
            assert!(
                times.windows(2).all(|pair| pair[0] < pair[1]),
                "{provider} {name:?}: {times:?}"
            );
            assert_eq!(scenario.events[0].occurred_at, START);
            assert_eq!(scenario.span_millis(), times[times.len() - 1] - times[0]);

            let ending =
                build_ending_at(provider, name, URL, &ids(provider, name.kind()), START).unwrap();
            assert_eq!(ending.events.last().unwrap().occurred_at, START);
            assert_eq!(
                ending.events[0].occurred_at,
                at(START, -scenario.span_millis())
            );
        }
    }
}

/// The scenario matrix: every call outcome a provider can report, and SMS where it has SMS.
#[test]
fn each_provider_has_its_scenarios() {
    use ScenarioName::{Answered, Busy, NoAnswer, SmsDelivered, SmsFailed};
    for (provider, expected) in [
        (
            ProviderId::Vonage,
            &[Answered, Busy, NoAnswer, SmsDelivered, SmsFailed][..],
        ),
        // VIS has no busy state, and no SMS.
        (ProviderId::VonageBusiness, &[Answered, NoAnswer]),
        (
            ProviderId::Telnyx,
            &[Answered, Busy, NoAnswer, SmsDelivered, SmsFailed],
        ),
        (ProviderId::Bird, &[Answered, Busy, NoAnswer]),
        // Legacy MessageBird: SMS status reports only.
        (ProviderId::MessageBird, &[SmsDelivered, SmsFailed]),
        (
            ProviderId::Twilio,
            &[Answered, Busy, NoAnswer, SmsDelivered, SmsFailed],
        ),
        (
            ProviderId::Plivo,
            &[Answered, Busy, NoAnswer, SmsDelivered, SmsFailed],
        ),
    ] {
        assert_eq!(available(provider), expected, "{provider}");
    }
}

#[test]
fn every_request_goes_to_the_webhook_url() {
    for provider in ProviderId::ALL {
        for name in available(provider) {
            for event in scenario(provider, name).events {
                let url = &event.request.url;
                assert!(
                    url == URL || url.starts_with(&format!("{URL}?")),
                    "{provider} {name:?}: {url}"
                );
            }
        }
    }
}

#[test]
fn fresh_ids_differ_by_seed() {
    for provider in ProviderId::ALL {
        for kind in [Kind::Call, Kind::Message] {
            let first = fresh_ids(provider, kind, &mut IdSource::from_seed(1));
            let second = fresh_ids(provider, kind, &mut IdSource::from_seed(2));
            assert_ne!(first.subject_id, second.subject_id, "{provider}");
            assert_ne!(first.seed, second.seed, "{provider}");
        }
    }
}
