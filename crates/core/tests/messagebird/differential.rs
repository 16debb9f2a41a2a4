//! Differential property over both schemes: a status report signed with the JWT scheme or the
//! legacy HMAC scheme, then changed without the key (method, `Content-Type`, unsigned headers,
//! parameters moved or added, URL variants, JSON rewrites), is refused or gives the very same
//! events.

use proptest::prelude::*;
use proptest::sample::select;
use switchboard_core::providers::messagebird::legacy_hmac;
use switchboard_core::secret::Secret;
use switchboard_core::{CapturedRequest, ErrorClass, Provider, Signer, WebhookError};

use crate::mutations::{self, check, mutated};
use crate::support::{messagebird, now, proptest_config, NOW, SECRET, URL};

/// The names the status report mapping reads, and one it does not.
const NAMES: &[&str] = &[
    "id",
    "status",
    "recipient",
    "originator",
    "statusReason",
    "statusErrorCode",
    "statusDatetime",
    "price[amount]",
    "mccmnc",
    "x",
];

#[derive(Debug, Clone, Copy)]
enum Scheme {
    Jwt,
    Legacy,
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Query,
    Json,
    Form,
}

/// A status report: fixed recipient and time, the rest drawn; `statusReason` and
/// `statusErrorCode` only sometimes, so that an added one is not a duplicate.
fn report() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    (
        "[0-9a-f]{8}",
        select(vec![
            "sent",
            "buffered",
            "delivered",
            "delivery_failed",
            "new",
        ]),
        "\\PC{0,8}",
        prop::option::of("[a-z ]{1,12}"),
        prop::option::of("[0-9]{1,3}"),
    )
        .prop_map(|(id, status, reference, reason, error_code)| {
            let mut fields = vec![
                ("id", id),
                ("status", status.to_owned()),
                ("reference", reference),
                ("recipient", "31612345678".to_owned()),
                ("statusDatetime", "2020-01-01T12:00:05+00:00".to_owned()),
            ];
            fields.extend(reason.map(|reason| ("statusReason", reason)));
            fields.extend(error_code.map(|code| ("statusErrorCode", code)));
            fields
        })
}

fn form(fields: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The report sent by `transport` (the body ones to a URL that may carry a query of its own),
/// signed with `scheme` at `NOW`.
fn signed(
    scheme: Scheme,
    transport: Transport,
    fields: &[(&str, String)],
    url_query: Option<&str>,
) -> CapturedRequest {
    let body_url = match url_query {
        Some(query) => format!("{URL}?{query}"),
        None => URL.to_owned(),
    };
    let request = match transport {
        Transport::Query => CapturedRequest::new("GET", &format!("{URL}?{}", form(fields))),
        Transport::Json => {
            let object: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .map(|(key, value)| ((*key).to_owned(), value.clone().into()))
                .collect();
            CapturedRequest::new("POST", &body_url)
                .with_header("content-type", "application/json")
                .with_body(serde_json::Value::Object(object).to_string())
        }
        Transport::Form => CapturedRequest::new("POST", &body_url)
            .with_header("content-type", "application/x-www-form-urlencoded")
            .with_body(form(fields)),
    };
    match scheme {
        Scheme::Jwt => messagebird().sign(&request, now()).expect("signed"),
        Scheme::Legacy => {
            let timestamp = NOW.to_string();
            let signature = legacy_hmac::signature(
                &Secret::new(SECRET),
                &timestamp,
                request.raw_query(),
                &request.body,
            );
            request
                .with_header(legacy_hmac::TIMESTAMP_HEADER, &timestamp)
                .with_header(legacy_hmac::SIGNATURE_HEADER, &signature)
        }
    }
}

fn original() -> impl Strategy<Value = CapturedRequest> {
    (
        select(vec![Scheme::Jwt, Scheme::Legacy]),
        select(vec![Transport::Query, Transport::Json, Transport::Form]),
        report(),
        select(vec![
            None,
            Some("route=sms"),
            Some("id=0&status=delivered&recipient=1"),
        ]),
    )
        .prop_map(|(scheme, transport, fields, url_query)| {
            signed(scheme, transport, &fields, url_query)
        })
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn unsigned_method_and_headers_change_nothing(
        original in original(),
        mutations in mutated(mutations::metadata()),
    ) {
        check(&messagebird(), &original, &mutations, now())?;
    }

    #[test]
    fn moved_or_added_parameters_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::parameters(NAMES)),
    ) {
        check(&messagebird(), &original, &mutations, now())?;
    }

    #[test]
    fn url_variants_and_json_rewrites_are_refused_or_change_nothing(
        original in original(),
        mutations in mutated(mutations::rewrites(NAMES)),
    ) {
        check(&messagebird(), &original, &mutations, now())?;
    }
}

fn plain_report() -> Vec<(&'static str, String)> {
    vec![
        ("id", "efa6405d".to_owned()),
        ("status", "delivered".to_owned()),
        ("recipient", "31612345678".to_owned()),
    ]
}

#[test]
fn a_legacy_query_pair_left_out_of_the_signed_string_is_refused() {
    let signed = signed(Scheme::Legacy, Transport::Query, &plain_report(), None);
    let event = messagebird().receive(&signed, now()).expect("valid");
    assert_eq!(event[0].details.detail, None);
    for pair in [
        "statusReason=FORGED;",
        "statusReason=%zzFORGED",
        "statusReason=FORGED%4",
        "statusReason=%+1",
    ] {
        let mut forged = signed.clone();
        forged.url = format!("{}&{pair}", signed.url);
        let error = messagebird().receive(&forged, now()).unwrap_err();
        assert!(
            matches!(error, WebhookError::UnsignedContent(_)),
            "{pair}: {error:?}"
        );
        assert_eq!(error.class(), ErrorClass::Unauthorized);
        assert_eq!(error.code(), "unsigned_content");
    }
}

#[test]
fn the_unsigned_method_does_not_choose_between_body_and_query() {
    for scheme in [Scheme::Jwt, Scheme::Legacy] {
        let signed = signed(
            scheme,
            Transport::Json,
            &plain_report(),
            Some("id=0&status=sent&recipient=1"),
        );
        let expected = messagebird().receive(&signed, now()).expect("valid");
        assert_eq!(expected[0].subject_id, "efa6405d");
        for method in ["GET", "PUT"] {
            let mut other = signed.clone();
            other.method = method.to_owned();
            assert_eq!(
                messagebird().receive(&other, now()).as_ref(),
                Ok(&expected),
                "{scheme:?} {method}"
            );
        }
        let as_form = signed.with_header("content-type", "application/x-www-form-urlencoded");
        assert!(
            messagebird().receive(&as_form, now()).is_err(),
            "{scheme:?}"
        );
    }
}
