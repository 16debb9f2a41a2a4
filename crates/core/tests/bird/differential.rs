//! Differential property: a voice call event signed with the subscription's key, then changed
//! without it (method, `Content-Type`, unsigned headers, parameters moved or added, URL variants,
//! JSON rewrites), is refused or gives the very same events.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;
use switchboard_core::{CapturedRequest, Signer};

use crate::mutations::{self, check, mutated};
use crate::support::{now, proptest_config, provider, KEY, URL};

/// Call fields the mapping reads, and one it does not.
const NAMES: &[&str] = &["id", "status", "from", "to", "direction", "x"];

/// A call event under `payload` or at the top level, to a URL with or without a query.
fn original() -> impl Strategy<Value = CapturedRequest> {
    (
        "[a-f0-9]{8}",
        select(vec![
            "starting",
            "ringing",
            "ongoing",
            "completed",
            "busy",
            "new",
        ]),
        "\\PC{0,8}",
        any::<bool>(),
        select(vec!["", "?route=voice"]),
    )
        .prop_map(|(id, status, reason, wrapped, query)| {
            let call = json!({"id": id, "status": status, "reason": reason,
                "from": "+31201234567", "to": "+31612345678", "direction": "outgoing",
                "createdAt": "2024-07-01T08:00:00Z", "endedAt": "2024-07-01T08:00:47Z"});
            let body = if wrapped {
                json!({"service": "channels", "event": "voice.outbound", "payload": call})
            } else {
                call
            };
            let request = CapturedRequest::new("POST", &format!("{URL}{query}"))
                .with_header("content-type", "application/json")
                .with_body(body.to_string());
            provider(&[KEY]).sign(&request, now()).expect("signed")
        })
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn unsigned_method_and_headers_change_nothing(
        original in original(),
        mutations in mutated(mutations::metadata()),
    ) {
        check(&provider(&[KEY]), &original, &mutations, now())?;
    }

    #[test]
    fn moved_or_added_parameters_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::parameters(NAMES)),
    ) {
        check(&provider(&[KEY]), &original, &mutations, now())?;
    }

    #[test]
    fn url_variants_and_json_rewrites_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::rewrites(NAMES)),
    ) {
        check(&provider(&[KEY]), &original, &mutations, now())?;
    }
}
