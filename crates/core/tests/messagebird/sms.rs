//! SMS status reports: normalization, signing round trips, lifecycles folded in any order.

use switchboard_core::providers::messagebird::{is_known_word, jwt};
use switchboard_core::secret::Secret;
use switchboard_core::{
    CapturedRequest, ErrorClass, Event, Kind, Provider, ProviderId, Signer, Status, SubjectState,
    WebhookError,
};

use crate::support::{
    at, messagebird, now, receive_signed, report_get, report_json, time, NOW, SECRET, URL,
};

const MESSAGE: &str = "efa6405d518d4c0c88cce11f7db775fb";

/// A report shaped like the legacy SMS API's "Handle a status report" example (UNVERIFIED, see
/// `providers/messagebird/sms.rs`).
fn report(
    status: &str,
    at_time: &str,
    extra: &[(&'static str, &'static str)],
) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("id", MESSAGE.to_owned()),
        ("reference", "order-42".to_owned()),
        ("recipient", "31612345678".to_owned()),
        ("status", status.to_owned()),
        ("statusDatetime", at_time.to_owned()),
    ];
    fields.extend(extra.iter().map(|(key, value)| (*key, (*value).to_owned())));
    fields
}

fn borrowed<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
    fields
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect()
}

fn receive(request: &CapturedRequest) -> Result<Event, WebhookError> {
    receive_signed(&messagebird(), request, now())
}

#[test]
fn a_status_report_normalizes_from_query_or_json() {
    let fields = report(
        "delivery_failed",
        "2020-01-01T12:00:05+00:00",
        &[
            ("statusReason", "unknown subscriber"),
            ("statusErrorCode", "1"),
            ("price[amount]", "0.07"),
            ("price[currency]", "EUR"),
            ("mccmnc", "20408"),
        ],
    );
    let fields = borrowed(&fields);
    for request in [report_get(&fields), report_json(&fields)] {
        let event = receive(&request).expect("valid");
        assert_eq!(event.provider, ProviderId::MessageBird);
        assert_eq!(event.kind, Kind::Message);
        assert_eq!(event.subject_id, MESSAGE);
        assert_eq!(event.status, Some(Status::Failed));
        assert_eq!(event.provider_status, "delivery_failed");
        assert_eq!(event.occurred_at, Some(time("2020-01-01T12:00:05Z")));
        assert_eq!(event.to.as_deref(), Some("31612345678"));
        assert_eq!(event.details.detail.as_deref(), Some("unknown subscriber"));
        assert_eq!(event.details.error_code.as_deref(), Some("1"));
        assert_eq!(event.details.price.as_deref(), Some("0.07"));
        assert_eq!(event.details.currency.as_deref(), Some("EUR"));
        assert_eq!(event.details.extra["reference"], "order-42");
        assert_eq!(event.details.extra["mccmnc"], "20408");
        assert!(event.event_id.starts_with("messagebird:"));
        assert_eq!(
            event.event_id.len(),
            "messagebird:".len() + 36,
            "a UUID jti"
        );
    }
}

#[test]
fn a_nested_json_price_reads_like_the_query_form() {
    let body = format!(
        r#"{{"id":"{MESSAGE}","recipient":31612345678,"status":"delivered","statusDatetime":"2020-01-01T12:00:05+00:00","price":{{"amount":0.07,"currency":"EUR"}}}}"#
    );
    let request = CapturedRequest::new("POST", URL)
        .with_header("content-type", "application/json")
        .with_body(body);
    let event = receive(&request).expect("valid");
    assert_eq!(event.status, Some(Status::Delivered));
    assert_eq!(event.to.as_deref(), Some("31612345678"));
    assert_eq!(event.details.price.as_deref(), Some("0.07"));
    assert_eq!(event.details.currency.as_deref(), Some("EUR"));
}

#[test]
fn the_status_table_and_unknown_words() {
    for (word, status) in [
        ("scheduled", Some(Status::Queued)),
        ("buffered", Some(Status::Queued)),
        ("sent", Some(Status::Sent)),
        ("delivered", Some(Status::Delivered)),
        ("expired", Some(Status::Expired)),
        ("delivery_failed", Some(Status::Failed)),
        ("teleported", None),
    ] {
        let fields = report(word, "2020-01-01T12:00:05+00:00", &[]);
        let event = receive(&report_get(&borrowed(&fields))).expect("valid");
        assert_eq!(event.status, status, "{word}");
        assert_eq!(event.provider_status, word);
        assert_eq!(
            messagebird().is_known_word(Kind::Message, word),
            status.is_some(),
            "{word}"
        );
    }
    assert!(!is_known_word(Kind::Call, "delivered"));
}

#[test]
fn a_lifecycle_folds_to_delivered_in_every_order_with_duplicates() {
    let steps = [
        ("scheduled", "2020-01-01T12:00:00+00:00"),
        ("sent", "2020-01-01T12:00:01+00:00"),
        ("buffered", "2020-01-01T12:00:02+00:00"),
        ("delivered", "2020-01-01T12:00:09+00:00"),
    ];
    let events: Vec<Event> = steps
        .iter()
        .map(|(status, time)| {
            receive(&report_get(&borrowed(&report(status, time, &[])))).expect("valid")
        })
        .collect();
    let ids: std::collections::BTreeSet<_> = events.iter().map(|event| &event.event_id).collect();
    assert_eq!(ids.len(), events.len());
    // Every permutation (4! = 24), each with the first event duplicated at the end.
    let mut order: Vec<usize> = (0..events.len()).collect();
    let mut permutations = 0;
    loop {
        let mut state = SubjectState::new(ProviderId::MessageBird, Kind::Message, MESSAGE);
        for &index in order.iter().chain(order.first()) {
            state.apply(&events[index]);
        }
        let summary = state.summary(events.len() as u64);
        assert_eq!(summary.status, Some(Status::Delivered), "{order:?}");
        assert!(summary.terminal);
        assert_eq!(summary.provider_status.as_deref(), Some("delivered"));
        assert_eq!(summary.to.as_deref(), Some("31612345678"));
        assert_eq!(summary.ended_at, Some(time("2020-01-01T12:00:09Z")));
        permutations += 1;
        if !next_permutation(&mut order) {
            break;
        }
    }
    assert_eq!(permutations, 24);
}

/// Lexicographic next permutation; `false` after the last.
fn next_permutation(items: &mut [usize]) -> bool {
    let Some(pivot) = (1..items.len())
        .rev()
        .find(|&index| items[index - 1] < items[index])
    else {
        return false;
    };
    let swap = (pivot..items.len())
        .rev()
        .find(|&index| items[index] > items[pivot - 1])
        .expect("exists");
    items.swap(pivot - 1, swap);
    items[pivot..].reverse();
    true
}

#[test]
fn a_failure_report_does_not_undo_delivered_nor_a_late_sent() {
    let delivered = receive(&report_get(&borrowed(&report(
        "delivered",
        "2020-01-01T12:00:09+00:00",
        &[],
    ))))
    .expect("valid");
    let expired = receive(&report_get(&borrowed(&report(
        "expired",
        "2020-01-01T12:10:00+00:00",
        &[],
    ))))
    .expect("valid");
    let sent = receive(&report_get(&borrowed(&report(
        "sent",
        "2020-01-01T12:00:01+00:00",
        &[],
    ))))
    .expect("valid");
    for order in [
        [&delivered, &expired, &sent],
        [&sent, &expired, &delivered],
        [&expired, &sent, &delivered],
    ] {
        let mut state = SubjectState::new(ProviderId::MessageBird, Kind::Message, MESSAGE);
        for event in order {
            state.apply(event);
        }
        assert_eq!(state.status(), Some(Status::Delivered));
    }
}

#[test]
fn the_event_id_is_the_jti_and_a_redelivery_of_one_token_is_one_event() {
    let provider = messagebird();
    let request = report_get(&borrowed(&report(
        "delivered",
        "2020-01-01T12:00:09+00:00",
        &[],
    )));
    let signed = provider.sign(&request, now()).expect("signed");
    let token = signed.header("MessageBird-Signature-JWT").expect("header");
    let claims = jwt::verify_token_signature(token, &[Secret::new(SECRET)]).expect("valid");
    let first = provider.receive(&signed, now()).expect("valid");
    let again = provider.receive(&signed, at(NOW + 30)).expect("valid");
    assert_eq!(first, {
        let mut again = again;
        again[0].received_at = now();
        again
    });
    assert_eq!(
        first[0].event_id,
        format!("messagebird:{}", claims.jti.expect("jti"))
    );
}

#[test]
fn the_hmac_fallback_ids_collapse_a_re_signed_retry() {
    use switchboard_core::providers::messagebird::legacy_hmac;
    let provider = messagebird();
    let request = report_get(&borrowed(&report("sent", "2020-01-01T12:00:01+00:00", &[])));
    let signed_at = |seconds: i64| {
        let timestamp = seconds.to_string();
        let signature = legacy_hmac::signature(
            &Secret::new(SECRET),
            &timestamp,
            request.raw_query(),
            &request.body,
        );
        request
            .clone()
            .with_header("MessageBird-Request-Timestamp", &timestamp)
            .with_header("MessageBird-Signature", &signature)
    };
    let first = provider.receive(&signed_at(NOW), now()).expect("valid");
    let retry = provider
        .receive(&signed_at(NOW + 60), at(NOW + 60))
        .expect("valid");
    assert_eq!(first[0].event_id, retry[0].event_id);
    assert_eq!(first[0].status, Some(Status::Sent));
}

#[test]
fn sign_then_verify_round_trips_and_binds_url_and_body() {
    let provider = messagebird();
    let request = report_json(&borrowed(&report("sent", "2020-01-01T12:00:01+00:00", &[])));
    let signed = provider.sign(&request, now()).expect("signed");
    assert!(provider.verify(&signed, now()).is_ok());
    assert!(provider.verify(&signed, at(NOW + 61)).is_ok());
    assert!(matches!(
        provider.verify(&signed, at(NOW + 62)),
        Err(WebhookError::TimestampOutOfTolerance(_))
    ));
    let mut other_body = signed.clone();
    other_body.body[5] ^= 1;
    assert_eq!(
        provider.verify(&other_body, now()).err(),
        Some(WebhookError::PayloadHashMismatch)
    );
    let mut other_url = signed.clone();
    other_url.url.push_str("?x=1");
    assert!(matches!(
        provider.verify(&other_url, now()),
        Err(WebhookError::InvalidSignature(_))
    ));
    // Deterministic: the same request at the same time signs the same.
    assert_eq!(provider.sign(&request, now()), Ok(signed));
}

#[test]
fn signed_payloads_that_are_not_status_reports_are_acknowledged_without_an_event() {
    let provider = messagebird();
    let voice_event = r#"{"type":"call","data":{"id":"f1aa71c0-8f2a-4fe8-b5ef-9a330454ef58","status":"ongoing"}}"#;
    let inbound = "id=e8077d803532c0b5937c639b60216938&originator=31612345678&body=Hello%20there&createdDatetime=2024-07-01T08%3A00%3A00%2B00%3A00";
    for request in [
        CapturedRequest::new("POST", URL)
            .with_header("content-type", "application/json")
            .with_body(voice_event),
        CapturedRequest::new("POST", URL)
            .with_header("content-type", "application/json")
            .with_body(r#"{"id":"x","status":"sent"}"#),
        CapturedRequest::new("POST", URL)
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(inbound),
        CapturedRequest::new("GET", &format!("{URL}?{inbound}")),
    ] {
        let signed = provider.sign(&request, now()).expect("a key is configured");
        assert_eq!(
            provider.receive(&signed, now()),
            Ok(Vec::new()),
            "{request:?}"
        );
        let mut forged = signed.clone();
        forged.body.extend_from_slice(b" ");
        forged.url.push_str(if forged.url.contains('?') {
            "&x=1"
        } else {
            "?x=1"
        });
        assert!(provider.receive(&forged, now()).is_err(), "{request:?}");
    }
}

#[test]
fn malformed_payloads_are_refused_after_verification() {
    for body in ["[]", "not json"] {
        let request = CapturedRequest::new("POST", URL)
            .with_header("content-type", "application/json")
            .with_body(body);
        let error = receive(&request).expect_err(body);
        assert_eq!(error.class(), ErrorClass::Malformed, "{body}: {error:?}");
    }
    let missing_id = report_get(&[("recipient", "316"), ("status", "sent")]);
    assert_eq!(
        receive(&missing_id).err(),
        Some(WebhookError::MissingField("id"))
    );
    let text = CapturedRequest::new("POST", URL)
        .with_header("content-type", "text/plain")
        .with_body("recipient=1");
    assert_eq!(
        receive(&text).err().map(|error| error.class()),
        Some(ErrorClass::UnsupportedMediaType)
    );
}
