//! Differential property: a VIS call event signed with the registration's key (header or body
//! policy), then changed without it (method, `Content-Type`, unsigned headers and `metadata`,
//! parameters moved or added, URL variants, JSON rewrites inside and outside `event`), is
//! refused or gives the very same events.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};
use switchboard_core::providers::vonage_business::canonical::{canonical_json, HexCase};
use switchboard_core::providers::vonage_business::{compute, SIGNATURE_HEADER};
use switchboard_core::{CapturedRequest, Provider, Signer};

use crate::mutations::{self, check, mutated, Mutation};
use crate::support::{now, post, proptest_config, provider, KEY};

/// Event fields the mapping reads, and one it does not.
const NAMES: &[&str] = &["id", "state", "direction", "phoneNumber", "duration", "x"];

/// How the original carries its signature and its `event`.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// `X-VON-Signature` (policy `HEADER`), compact JSON.
    Header,
    /// `metadata.signature` (policy `BODY`), compact JSON.
    Body,
    /// `X-VON-Signature` over an `event` written with whitespace and its keys unsorted.
    Spaced,
}

fn call(id: &str, state: &str, duration: u32, note: &str) -> Value {
    json!({
        "id": id, "type": "CALL", "state": state, "direction": "OUTBOUND",
        "phoneNumber": "+15551230000", "duration": duration, "note": note,
        "startTime": "2020-10-01T16:10:06.000+0000", "endTime": "2020-10-01T16:10:47.000+0000",
        "accountId": 1001, "legs": [{"id": "leg-1", "state": state}],
    })
}

fn original() -> impl Strategy<Value = CapturedRequest> {
    (
        "[a-f0-9]{12}",
        select(vec![
            "INITIALIZING",
            "RINGING",
            "ACTIVE",
            "ANSWERED",
            "MISSED",
        ]),
        0..90_000_u32,
        "\\PC{0,8}",
        select(vec![Shape::Header, Shape::Body, Shape::Spaced]),
    )
        .prop_map(|(id, state, duration, note, shape)| {
            let event = call(&id, state, duration, &note);
            let metadata = json!({"deliveryId": "d-1", "attempt": 1});
            match shape {
                Shape::Header => provider()
                    .sign(
                        &post(&json!({"event": event, "metadata": metadata}).to_string()),
                        now(),
                    )
                    .expect("signed"),
                Shape::Body => {
                    let canonical =
                        canonical_json(&event.to_string(), HexCase::Lower).expect("canonical");
                    let mut metadata = metadata;
                    metadata["signature"] = Value::String(compute(KEY, &canonical));
                    post(&json!({"event": event, "metadata": metadata}).to_string())
                }
                Shape::Spaced => {
                    let spaced = serde_json::to_string_pretty(&event).expect("json");
                    let canonical = canonical_json(&spaced, HexCase::Lower).expect("canonical");
                    post(&format!(
                        r#"{{ "metadata": {metadata}, "event": {spaced} }}"#
                    ))
                    .with_header(SIGNATURE_HEADER, &compute(KEY, &canonical))
                }
            }
        })
}

/// Changes to what VIS does not sign: `metadata`, and the signature's place.
fn unsigned_parts() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Json(mutations::JsonChange::Pretty)),
        Just(Mutation::Json(mutations::JsonChange::Reversed)),
        mutations::metadata(),
    ]
}

/// The original with `edit` applied to its body's JSON (a rewrite an attacker can make).
fn edited(original: &CapturedRequest, edit: impl FnOnce(&mut Value)) -> CapturedRequest {
    let mut body: Value = serde_json::from_slice(&original.body).expect("a JSON body");
    edit(&mut body);
    original.clone().with_body(body.to_string())
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn unsigned_method_headers_and_metadata_change_nothing(
        original in original(),
        mutations in mutated(unsigned_parts()),
    ) {
        check(&provider(), &original, &mutations, now())?;
    }

    #[test]
    fn moved_or_added_parameters_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::parameters(NAMES)),
    ) {
        check(&provider(), &original, &mutations, now())?;
    }

    #[test]
    fn url_variants_and_json_rewrites_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::rewrites(NAMES)),
    ) {
        check(&provider(), &original, &mutations, now())?;
    }

    /// `metadata` (`deliveryId`, `attempt`) is not signed, nor is where the signature sits:
    /// the same signed `event` with other metadata, or its signature moved between the header
    /// and the body, is the very same event.
    #[test]
    fn metadata_and_the_signatures_place_change_nothing(
        original in original(),
        delivery in "\\PC{0,12}",
        attempt in 0..6_u32,
    ) {
        let provider = provider();
        let expected = provider.receive(&original, now()).expect("the original is accepted");
        let signature = original
            .header(SIGNATURE_HEADER)
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let body: Value = serde_json::from_slice(&original.body).expect("json");
                body["metadata"]["signature"].as_str().expect("a body signature").to_owned()
            });
        let mut moved = edited(&original, |body| {
            body["metadata"] = json!({"deliveryId": delivery, "attempt": attempt,
                "signature": signature});
        });
        moved.headers.remove(SIGNATURE_HEADER);
        prop_assert_eq!(provider.receive(&moved, now()), Ok(expected.clone()));
        let in_header = edited(&original, |body| {
            body["metadata"] = json!({"deliveryId": delivery});
        })
        .with_header(SIGNATURE_HEADER, &signature);
        prop_assert_eq!(provider.receive(&in_header, now()), Ok(expected));
    }

    /// Any change to a value inside `event`, even one that keeps it equal as a number
    /// (`42` → `42.0`), is refused: the canonical form keeps numbers as received.
    #[test]
    fn a_changed_event_value_is_refused(
        original in original(),
        field in select(vec!["id", "state", "duration", "note", "phoneNumber"]),
    ) {
        let changed = edited(&original, |body| {
            let value = &mut body["event"][field];
            *value = match value.take() {
                Value::Number(number) => json!(number.as_f64().unwrap_or(0.0) + 0.5),
                Value::String(text) => Value::String(format!("{text}x")),
                other => other,
            };
        });
        prop_assert!(provider().receive(&changed, now()).is_err());
    }
}
