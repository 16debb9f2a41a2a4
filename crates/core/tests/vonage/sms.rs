//! SMS delivery receipts: transports, normalization, signing.

use switchboard_core::model::Direction;
use switchboard_core::providers::vonage::{is_known_word, sms, SmsMethod};
use switchboard_core::secret::Secret;
use switchboard_core::{
    CapturedRequest, Event, Kind, Provider, Signer, Status, Timestamp, WebhookError,
};

use crate::support::{
    at, now, pairs, receive_signed, request, vonage, vonage_with, Transport, NOW, SECRET,
    TRANSPORTS, URL,
};

const METHODS: [SmsMethod; 5] = [
    SmsMethod::Md5Hash,
    SmsMethod::Md5,
    SmsMethod::Sha1,
    SmsMethod::Sha256,
    SmsMethod::Sha512,
];

/// The delivery receipt of the delivery-receipts guide (`Nexmo/nexmo-developer@4da2b396b208864739f65703f2e82b1681049276:
/// _documentation/en/messaging/sms/guides/delivery-receipts.md`), with a client reference that
/// holds the characters the scheme replaces.
fn receipt() -> Vec<(String, String)> {
    pairs(&[
        ("err-code", "0"),
        ("message-timestamp", "2018-10-25 12:10:29"),
        ("messageId", "0B00000127FDBC63"),
        ("msisdn", "447547232824"),
        ("network-code", "23410"),
        ("price", "0.03330000"),
        ("scts", "1810251310"),
        ("status", "delivered"),
        ("to", "Vonage"),
        ("api-key", "a1b2c3d"),
        ("client-ref", "order=17&retry"),
    ])
}

fn with_param(mut params: Vec<(String, String)>, key: &str, value: &str) -> Vec<(String, String)> {
    params.retain(|(name, _)| name != key);
    params.push((key.to_owned(), value.to_owned()));
    params
}

#[test]
fn a_delivery_receipt_normalizes_with_the_to_msisdn_swap_and_error_meaning() {
    let event =
        receive_signed(&vonage(), &request(Transport::Query, &receipt()), now()).expect("valid");
    assert_eq!(event.kind, Kind::Message);
    assert_eq!(event.subject_id, "0B00000127FDBC63");
    assert_eq!(event.status, Some(Status::Delivered));
    assert_eq!(event.provider_status, "delivered");
    assert_eq!(
        event.occurred_at,
        Timestamp::parse_rfc3339("2018-10-25T12:10:29Z")
    );
    assert_eq!(event.received_at, now());
    assert_eq!(event.direction, Some(Direction::Outbound));
    // `to` is our sender id, `msisdn` the handset.
    assert_eq!(event.from.as_deref(), Some("Vonage"));
    assert_eq!(event.to.as_deref(), Some("447547232824"));
    assert_eq!(event.details.price.as_deref(), Some("0.03330000"));
    assert_eq!(event.details.currency, None);
    // `err-code` 0 means no error.
    assert_eq!(event.details.error_code, None);
    assert_eq!(event.details.error_message, None);
    assert_eq!(event.details.extra["network-code"], "23410");
    assert_eq!(event.details.extra["scts"], "1810251310");
    // The signed string holds `&` and `=` of values as `_`: the event keeps what was signed.
    assert_eq!(event.details.extra["client-ref"], "order_17_retry");
    assert!(!event.details.extra.contains_key("api-key"));
    assert!(event.event_id.starts_with("vonage:"));
}

#[test]
fn receipts_with_err_code_zero_report_no_error() {
    for status in ["accepted", "buffered", "delivered"] {
        let params = with_param(receipt(), "status", status);
        let event =
            receive_signed(&vonage(), &request(Transport::Form, &params), now()).expect("valid");
        assert_eq!(event.provider_status, status);
        assert_eq!(event.details.error_code, None, "{status}");
        assert_eq!(event.details.error_message, None, "{status}");
    }
}

#[test]
fn failed_receipts_carry_the_documented_error_meaning() {
    let failed = with_param(with_param(receipt(), "status", "failed"), "err-code", "6");
    let event =
        receive_signed(&vonage(), &request(Transport::Form, &failed), now()).expect("valid");
    assert_eq!(event.status, Some(Status::Failed));
    assert_eq!(event.details.error_code.as_deref(), Some("6"));
    assert_eq!(
        event.details.error_message.as_deref(),
        Some("Anti-Spam Rejection")
    );

    let undocumented = with_param(receipt(), "err-code", "42");
    let event =
        receive_signed(&vonage(), &request(Transport::Form, &undocumented), now()).expect("valid");
    assert_eq!(event.details.error_code.as_deref(), Some("42"));
    assert_eq!(event.details.error_message, None);
}

#[test]
fn status_words_map_per_the_table_and_unknown_words_are_kept() {
    for (word, status) in [
        ("accepted", Some(Status::Accepted)),
        ("buffered", Some(Status::Queued)),
        ("delivered", Some(Status::Delivered)),
        ("expired", Some(Status::Expired)),
        ("failed", Some(Status::Failed)),
        ("rejected", Some(Status::Rejected)),
        ("unknown", Some(Status::Unknown)),
        ("teleported", None),
    ] {
        let params = with_param(receipt(), "status", word);
        let event =
            receive_signed(&vonage(), &request(Transport::Query, &params), now()).expect("valid");
        assert_eq!(event.status, status, "{word}");
        assert_eq!(event.provider_status, word);
        assert_eq!(
            is_known_word(Kind::Message, word),
            status.is_some(),
            "{word}"
        );
    }
}

#[test]
fn query_form_and_json_transports_give_the_same_event() {
    let events: Vec<Event> = TRANSPORTS
        .into_iter()
        .map(|transport| {
            receive_signed(&vonage(), &request(transport, &receipt()), now()).expect("valid")
        })
        .collect();
    assert_eq!(events[0], events[1]);
    assert_eq!(events[0], events[2]);

    // Numbers and booleans in a JSON body are signed and stored as their text.
    let numbers = CapturedRequest::new("POST", URL)
        .with_header("content-type", "application/json; charset=utf-8")
        .with_body(
            r#"{"err-code":0,"message-timestamp":"2018-10-25 12:10:29","messageId":"0B00000127FDBC63","msisdn":447547232824,"network-code":"23410","price":0.03330000,"scts":"1810251310","status":"delivered","to":"Vonage","api-key":"a1b2c3d","client-ref":"order=17&retry","unused":null}"#,
        );
    let event = receive_signed(&vonage(), &numbers, now()).expect("valid");
    assert_eq!(event, events[0]);
}

#[test]
fn a_re_signed_retry_has_the_same_event_id() {
    let provider = vonage();
    let first =
        receive_signed(&provider, &request(Transport::Query, &receipt()), now()).expect("valid");
    let later = at(NOW + 3_600);
    let retried = with_param(receipt(), "nonce", "929d6744-bd28-42c8-b6cf-31d5b4f43732");
    let retry =
        receive_signed(&provider, &request(Transport::Json, &retried), later).expect("valid");
    assert_eq!(retry.event_id, first.event_id);

    let other_status = with_param(receipt(), "status", "expired");
    let other =
        receive_signed(&provider, &request(Transport::Query, &other_status), now()).expect("valid");
    assert_ne!(other.event_id, first.event_id);
}

#[test]
fn ampersands_and_equals_signs_are_replaced_before_hashing() {
    let params = with_param(receipt(), "sig", "ignored");
    let string = sms::signed_string(&params);
    assert!(string.contains("&client-ref=order_17_retry&"), "{string}");
    assert!(
        string.starts_with("&api-key=a1b2c3d&client-ref="),
        "{string}"
    );
    // `message-timestamp` sorts before `messageId` (`-` is 0x2D, `I` 0x49).
    let dash = string.find("&message-timestamp=").expect("present");
    let id = string.find("&messageId=").expect("present");
    assert!(dash < id);

    // So a value that differs only in `&` versus `=` versus `_` has the same signature: the
    // scheme's own collision, which the vectors `vonage-sms-replace-*` pin down.
    let provider = vonage();
    let signed = provider
        .sign(&request(Transport::Query, &receipt()), now())
        .expect("signed");
    let swapped = CapturedRequest {
        url: signed.url.replace("order%3D17%26retry", "order_17_retry"),
        ..signed.clone()
    };
    assert_ne!(swapped.url, signed.url);
    assert!(provider.verify(&swapped, now()).is_ok());
}

#[test]
fn signing_round_trips_for_every_method_and_transport() {
    for method in METHODS {
        for transport in TRANSPORTS {
            let configured = vonage_with(&[SECRET, "older"], Some(method));
            let signed = configured
                .sign(&request(transport, &receipt()), now())
                .expect("signed");
            let params = sms::request_params(&signed).expect("flat params");
            let sig = &params.iter().find(|(key, _)| key == "sig").expect("sig").1;
            let secret = [Secret::new(SECRET)];
            assert_eq!(
                sms::verify_signature(&params, &secret, Some(method)),
                Ok(())
            );
            assert_eq!(
                params
                    .iter()
                    .find(|(key, _)| key == "timestamp")
                    .map(|(_, value)| value.as_str()),
                Some(NOW.to_string().as_str())
            );
            let context = format!("{method:?} via {transport:?}");
            assert!(configured.receive(&signed, now()).is_ok(), "{context}");
            // Without a configured method, the length of `sig` tells it.
            assert!(vonage().receive(&signed, now()).is_ok(), "{context}");
            // Another configured method refuses it.
            let other = METHODS
                .into_iter()
                .find(|other| *other != method)
                .expect("another");
            assert!(
                matches!(
                    vonage_with(&[SECRET], Some(other)).verify(&signed, now()),
                    Err(WebhookError::InvalidSignature(_))
                ),
                "{context}: {sig} under {other:?}"
            );
        }
    }
}

#[test]
fn default_signing_method_is_md5hash() {
    let signed = vonage()
        .sign(&request(Transport::Query, &receipt()), now())
        .expect("signed");
    let params = sms::request_params(&signed).expect("params");
    let sig = &params.iter().find(|(key, _)| key == "sig").expect("sig").1;
    assert_eq!(
        sig,
        &sms::compute(SmsMethod::Md5Hash, SECRET, &sms::signed_string(&params))
    );
}

#[test]
fn the_timestamp_is_required_signed_and_fresh() {
    let provider = vonage();
    let signed = provider
        .sign(&request(Transport::Query, &receipt()), now())
        .expect("signed");
    assert!(provider.verify(&signed, at(NOW + 300)).is_ok());
    assert_eq!(
        provider.verify(&signed, at(NOW + 301)).err(),
        Some(WebhookError::TimestampOutOfTolerance(NOW.to_string()))
    );

    let params = sms::request_params(&signed).expect("params");
    let without_timestamp: Vec<_> = params
        .iter()
        .filter(|(key, _)| key != "timestamp")
        .cloned()
        .collect();
    assert_eq!(
        provider
            .verify(&request(Transport::Query, &without_timestamp), now())
            .err(),
        Some(WebhookError::MissingSignedField("timestamp"))
    );
    let moved = with_param(params.clone(), "timestamp", &(NOW + 1).to_string());
    assert!(matches!(
        provider.verify(&request(Transport::Query, &moved), now()),
        Err(WebhookError::InvalidSignature(_))
    ));

    // A non-numeric timestamp, correctly signed, is malformed.
    let mut garbage = with_param(receipt(), "timestamp", "yesterday");
    let sig = sms::compute(SmsMethod::Md5Hash, SECRET, &sms::signed_string(&garbage));
    garbage.push(("sig".into(), sig));
    assert!(matches!(
        provider.verify(&request(Transport::Query, &garbage), now()),
        Err(WebhookError::Malformed(_))
    ));
}

#[test]
fn malformed_or_unsupported_bodies_are_refused() {
    let provider = vonage();
    let nested = CapturedRequest::new("POST", URL)
        .with_header("content-type", "application/json")
        .with_body(r#"{"messageId":"M1","status":"delivered","usage":{"price":"1"},"sig":"00"}"#);
    assert!(matches!(
        provider.verify(&nested, now()),
        Err(WebhookError::Malformed(_))
    ));

    let not_json = nested.clone().with_body("{not json");
    assert!(matches!(
        provider.verify(&not_json, now()),
        Err(WebhookError::Malformed(_))
    ));

    let xml = nested
        .clone()
        .with_header("content-type", "application/xml")
        .with_body("<sig/>");
    assert_eq!(
        provider.verify(&xml, now()).err(),
        Some(WebhookError::UnsupportedContentType(
            "application/xml".into()
        ))
    );

    let odd_length = with_param(receipt(), "sig", "abc");
    assert!(matches!(
        provider.verify(
            &request(
                Transport::Query,
                &with_param(odd_length, "timestamp", &NOW.to_string())
            ),
            now()
        ),
        Err(WebhookError::InvalidSignature(_))
    ));
}

#[test]
fn an_inbound_sms_is_stored_as_delivered_and_inbound() {
    // Fields of an inbound SMS (inbound-sms.md, docs/providers/vonage.md).
    let inbound = pairs(&[
        ("msisdn", "447700900001"),
        ("to", "447700900000"),
        ("messageId", "0A0000000123ABCD1"),
        ("text", "Hello & goodbye"),
        ("type", "text"),
        ("keyword", "HELLO"),
        ("api-key", "a1b2c3d"),
        ("message-timestamp", "2020-01-01 12:00:00"),
    ]);
    for transport in [Transport::Query, Transport::Form, Transport::Json] {
        let event =
            receive_signed(&vonage(), &request(transport, &inbound), now()).expect("accepted");
        assert_eq!(event.kind, Kind::Message);
        assert_eq!(event.subject_id, "0A0000000123ABCD1");
        assert_eq!(event.status, Some(Status::Delivered));
        assert_eq!(event.provider_status, "inbound");
        assert!(is_known_word(Kind::Message, "inbound"));
        assert_eq!(event.direction, Some(Direction::Inbound));
        // `msisdn` is the sender, `to` the number that received it.
        assert_eq!(event.from.as_deref(), Some("447700900001"));
        assert_eq!(event.to.as_deref(), Some("447700900000"));
        assert_eq!(
            event.occurred_at,
            Timestamp::parse_rfc3339("2020-01-01T12:00:00Z")
        );
        assert_eq!(event.details.extra["type"], "text");
        assert_eq!(event.details.extra["keyword"], "HELLO");
        assert!(!event.details.extra.contains_key("text"));
    }
}

#[test]
fn a_receipt_without_message_id_or_status_is_refused_after_verification() {
    let provider = vonage();
    let mut no_status = receipt();
    no_status.retain(|(key, _)| key != "status");
    assert_eq!(
        receive_signed(&provider, &request(Transport::Query, &no_status), now()).err(),
        Some(WebhookError::MissingField("status"))
    );

    // Without `messageId` the request is signed as a voice event; sign it as an SMS by hand.
    let mut no_id: Vec<_> = receipt()
        .into_iter()
        .filter(|(key, _)| key != "messageId")
        .collect();
    no_id.push(("timestamp".into(), NOW.to_string()));
    let sig = sms::compute(SmsMethod::Sha256, SECRET, &sms::signed_string(&no_id));
    no_id.push(("sig".into(), sig));
    assert_eq!(
        provider
            .receive(&request(Transport::Form, &no_id), now())
            .err(),
        Some(WebhookError::MissingField("messageId"))
    );
}

#[test]
fn blank_values_are_accepted_with_or_without_them_in_the_string() {
    let params = with_param(
        with_param(receipt(), "client-ref", "  "),
        "timestamp",
        &NOW.to_string(),
    );
    let provider = vonage();
    for string in [
        sms::signed_string(&params),
        sms::signed_string_skipping_blank(&params),
    ] {
        let signed = with_param(
            params.clone(),
            "sig",
            &sms::compute(SmsMethod::Sha1, SECRET, &string),
        );
        assert!(
            provider
                .verify(&request(Transport::Form, &signed), now())
                .is_ok(),
            "{string}"
        );
    }
}

/// A genuine receipt, signed now, and its parameters as sent.
fn signed_receipt(provider: &impl Signer) -> (CapturedRequest, Vec<(String, String)>) {
    let signed = provider
        .sign(&request(Transport::Query, &receipt()), now())
        .expect("signed");
    let params = sms::request_params(&signed).expect("params");
    (signed, params)
}

#[test]
fn a_name_that_merges_two_signed_parameters_is_refused() {
    let provider = vonage();
    let (_, params) = signed_receipt(&provider);
    // `err-code=0` and `message-timestamp=…` sent as one name: the signed string is unchanged,
    // but the receipt would lose its error code and time and get a new event id.
    let mut merged: Vec<_> = params
        .iter()
        .filter(|(key, _)| key != "err-code" && key != "message-timestamp")
        .cloned()
        .collect();
    merged.push((
        "err-code=0&message-timestamp".into(),
        "2018-10-25 12:10:29".into(),
    ));
    assert_eq!(sms::signed_string(&merged), sms::signed_string(&params));
    for transport in TRANSPORTS {
        let refused = provider.receive(&request(transport, &merged), now()).err();
        assert!(
            matches!(refused, Some(WebhookError::Malformed(_))),
            "{transport:?}: {refused:?}"
        );
    }

    let secrets = [Secret::new(SECRET)];
    for name in ["a&b", "a=b", "=", "&"] {
        let odd = with_param(params.clone(), name, "1");
        assert!(
            matches!(
                sms::verify_signature(&odd, &secrets, None),
                Err(WebhookError::Malformed(_))
            ),
            "{name}"
        );
        let unsigned = with_param(receipt(), name, "1");
        assert!(
            matches!(
                provider.sign(&request(Transport::Form, &unsigned), now()),
                Err(WebhookError::Malformed(_))
            ),
            "{name}"
        );
    }
}

#[test]
fn blank_parameters_never_make_a_new_event() {
    let provider = vonage();
    let (signed, params) = signed_receipt(&provider);
    let original = provider.receive(&signed, now()).expect("valid");
    // The Java SDK's string skips blank values, so adding one keeps the signature valid: the
    // event must stay the same one.
    for (name, blank) in [("zz", ""), ("zz", "  "), ("nonce", ""), ("a", "\t")] {
        let padded = with_param(params.clone(), name, blank);
        for transport in TRANSPORTS {
            let events = provider.receive(&request(transport, &padded), now());
            assert_eq!(
                events.as_ref(),
                Ok(&original),
                "{name}={blank:?} via {transport:?}"
            );
        }
    }

    // Signed the Java way, with a blank value: removing it keeps the signature valid too.
    let mut java = with_param(
        with_param(receipt(), "client-ref", ""),
        "timestamp",
        &NOW.to_string(),
    );
    let sig = sms::compute(
        SmsMethod::Md5Hash,
        SECRET,
        &sms::signed_string_skipping_blank(&java),
    );
    java.push(("sig".into(), sig));
    let with_blank = provider
        .receive(&request(Transport::Form, &java), now())
        .expect("valid");
    java.retain(|(key, _)| key != "client-ref");
    let without_blank = provider
        .receive(&request(Transport::Form, &java), now())
        .expect("valid");
    assert_eq!(with_blank, without_blank);
}

#[test]
fn a_saturating_timestamp_is_outside_the_window() {
    let provider = vonage();
    for timestamp in [i64::MAX, i64::MIN] {
        let mut params = with_param(receipt(), "timestamp", &timestamp.to_string());
        let sig = sms::compute(SmsMethod::Sha256, SECRET, &sms::signed_string(&params));
        params.push(("sig".into(), sig));
        assert_eq!(
            provider
                .verify(&request(Transport::Query, &params), now())
                .err(),
            Some(WebhookError::TimestampOutOfTolerance(timestamp.to_string()))
        );
    }
}

#[test]
fn separator_changes_the_signature_cannot_see_keep_the_event_id() {
    let provider = vonage();
    let signed_with = |client_ref: &str| {
        let mut params = with_param(
            with_param(receipt(), "client-ref", client_ref),
            "timestamp",
            &NOW.to_string(),
        );
        let sig = sms::compute(SmsMethod::Md5Hash, SECRET, &sms::signed_string(&params));
        params.push(("sig".into(), sig));
        provider
            .receive(&request(Transport::Form, &params), now())
            .expect("valid")
    };
    // `a_b` and `a=b` sign the same (`&`/`=` fold to `_`), so a retry altered that way must not
    // count as a new event.
    assert_eq!(
        signed_with("a_b")[0].event_id,
        signed_with("a=b")[0].event_id
    );
    assert_ne!(
        signed_with("a_b")[0].event_id,
        signed_with("a_c")[0].event_id
    );
}
