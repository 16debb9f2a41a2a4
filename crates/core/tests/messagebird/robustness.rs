//! No input makes the provider panic, and signing then verifying agrees on arbitrary requests.

use proptest::prelude::*;
use switchboard_core::{CapturedRequest, Provider, Signer};

use crate::support::{messagebird, now, proptest_config};

fn any_header() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof!["[A-Za-z0-9_=.+/-]{0,120}", any::<String>(),])
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn arbitrary_requests_never_panic(
        method in prop::sample::select(vec!["GET", "POST", "PUT"]),
        query in "[a-zA-Z0-9%&=+;~*]{0,40}",
        jwt in any_header(),
        signature in any_header(),
        timestamp in any_header(),
        content_type in prop::option::of(prop::sample::select(vec!["application/json", "application/x-www-form-urlencoded", "text/plain"])),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut request = CapturedRequest::new(method, &format!("https://h.example/webhooks/messagebird?{query}")).with_body(body);
        for (name, value) in [("MessageBird-Signature-JWT", jwt), ("MessageBird-Signature", signature), ("MessageBird-Request-Timestamp", timestamp), ("content-type", content_type.map(str::to_owned))] {
            if let Some(value) = value {
                request.set_header(name, &value);
            }
        }
        let _ = messagebird().receive(&request, now());
        // Signed, it always verifies; normalize maps it or refuses it without panicking.
        let provider = messagebird();
        let signed = provider.sign(&request, now()).expect("signing never fails with a key");
        prop_assert!(provider.verify(&signed, now()).is_ok());
        let _ = provider.receive(&signed, now());
    }
}
