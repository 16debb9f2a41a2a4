//! `switchboard vis register` against a fake VIS API: the password grant, the registration it
//! sends, what it prints, and that it never registers a URL twice.

use serde_json::{json, Value};

use crate::fake_worker::{FakeWorker, Received};
use crate::support::Switchboard;

const URL: &str = "https://hooks.example.com/webhooks/vonage-business";
const WEBHOOKS: &str = "/t/vbc.prod/vis/v1/self/webhooks";

/// A VIS API that grants a token to the credentials below and lists `existing`.
fn vis_api(existing: Value) -> FakeWorker {
    FakeWorker::start(move |request: &Received, _| {
        match (request.method.as_str(), request.path()) {
            ("POST", "/token") => {
                let form: Vec<(String, String)> = form_urlencoded::parse(request.body.as_bytes())
                    .into_owned()
                    .collect();
                let granted = form.contains(&("username".into(), "ops@vbc.prod".into()))
                    && form.contains(&("password".into(), "pass".into()))
                    && form.contains(&("client_id".into(), "id".into()))
                    && form.contains(&("client_secret".into(), "secret".into()));
                if granted {
                    let token =
                        json!({"access_token": "a-1", "refresh_token": "r-1", "expires_in": 86400});
                    (200, token.to_string())
                } else {
                    (401, r#"{"error":"invalid_grant"}"#.to_owned())
                }
            }
            (_, WEBHOOKS)
                if request.headers.get("authorization").map(String::as_str)
                    != Some("Bearer a-1") =>
            {
                (401, "{}".to_owned())
            }
            ("GET", WEBHOOKS) => (200, existing.to_string()),
            ("POST", WEBHOOKS) => {
                let asked: Value = serde_json::from_str(&request.body).unwrap_or_default();
                let created = json!({
                    "id": "w-7", "url": asked["url"], "status": "ACTIVE",
                    "expireAt": "2026-12-16T00:00:00.000Z", "statistics": {"failed": false},
                });
                (201, created.to_string())
            }
            _ => (404, "{}".to_owned()),
        }
    })
}

fn switchboard(test: &str, api: &FakeWorker, password: &str) -> Switchboard {
    Switchboard::new(test)
        .env("VONAGE_BUSINESS_API_URL", &api.url)
        .env("VONAGE_BUSINESS_CLIENT_ID", "id")
        .env("VONAGE_BUSINESS_CLIENT_SECRET", "secret")
        .env("VONAGE_BUSINESS_USERNAME", "ops")
        .env("VONAGE_BUSINESS_PASSWORD", password)
}

/// Without TLS in the build, an https API is refused before any credential is sent.
#[cfg(not(feature = "https"))]
#[test]
fn register_needs_an_https_build_for_an_https_api() {
    let run = Switchboard::new("vis_register_https")
        .env("VONAGE_BUSINESS_API_URL", "https://api.vonage.com")
        .env("VONAGE_BUSINESS_CLIENT_ID", "id")
        .env("VONAGE_BUSINESS_CLIENT_SECRET", "secret")
        .env("VONAGE_BUSINESS_USERNAME", "ops")
        .env("VONAGE_BUSINESS_PASSWORD", "pass")
        .run(&[
            "vis",
            "register",
            "--url",
            "https://hooks.example.com/webhooks/vonage-business",
        ])
        .expect(2);
    assert!(
        run.stderr
            .contains("VONAGE_BUSINESS_API_URL: https needs a build with `--features https`"),
        "{}",
        run.stderr
    );
}

#[test]
fn register_creates_a_signed_registration_and_prints_the_secret_command() {
    let api = vis_api(json!([{"id": "w-1", "url": "https://other.example.com/hook"}]));
    let run = switchboard("vis_register", &api, "pass")
        .run(&["vis", "register", "--url", URL])
        .expect(0);
    assert!(
        run.stdout
            .contains("registered w-7 for https://hooks.example.com/webhooks/vonage-business"),
        "{}",
        run.stdout
    );
    let created = api
        .received()
        .into_iter()
        .find(|request| request.method == "POST" && request.path() == WEBHOOKS)
        .expect("a registration");
    let asked: Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(asked["url"], URL);
    assert_eq!(
        (
            asked["signingAlgo"].clone(),
            asked["metadataPolicy"].clone()
        ),
        (json!("HMAC_SHA256"), json!("HEADER"))
    );
    let key = asked["signingKey"].as_str().expect("a signing key");
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert!(
        run.stdout.contains(&format!(
            "printf '%s' '{key}' | npx wrangler secret put VONAGE_BUSINESS_SIGNING_KEY"
        )),
        "{}",
        run.stdout
    );

    let again = vis_api(json!([]));
    let second = switchboard("vis_register_again", &again, "pass")
        .run(&["vis", "register", "--url", URL])
        .expect(0);
    let key_again = again
        .received()
        .into_iter()
        .find(|request| request.method == "POST" && request.path() == WEBHOOKS)
        .map(|request| serde_json::from_str::<Value>(&request.body).unwrap()["signingKey"].clone())
        .expect("a registration");
    assert_ne!(key_again, json!(key), "{}", second.stdout);
}

#[test]
fn register_never_registers_a_url_twice_nor_with_refused_credentials() {
    let api = vis_api(json!([{"id": "w-3", "url": URL}]));
    let run = switchboard("vis_register_twice", &api, "pass")
        .run(&["vis", "register", "--url", URL])
        .expect(1);
    assert!(
        run.stderr.contains("registered already (id w-3)"),
        "{}",
        run.stderr
    );
    assert!(!api
        .received()
        .iter()
        .any(|request| request.method == "POST" && request.path() == WEBHOOKS));

    let refused = vis_api(json!([]));
    let run = switchboard("vis_register_refused", &refused, "wrong")
        .run(&["vis", "register", "--url", URL])
        .expect(1);
    assert!(
        run.stderr.contains("the token endpoint answered 401"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("wrong"), "{}", run.stderr);
}

#[test]
fn register_needs_the_four_credentials_and_the_workers_endpoint() {
    let api = vis_api(json!([]));
    let run = Switchboard::new("vis_register_no_credentials")
        .env("VONAGE_BUSINESS_API_URL", &api.url)
        .run(&["vis", "register", "--url", URL])
        .expect(2);
    assert!(
        run.stderr.contains("VONAGE_BUSINESS_CLIENT_ID"),
        "{}",
        run.stderr
    );
    let run = switchboard("vis_register_bad_url", &api, "pass")
        .run(&[
            "vis",
            "register",
            "--url",
            "http://hooks.example.com/elsewhere",
        ])
        .expect(2);
    assert!(
        run.stderr.contains("/webhooks/vonage-business"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty());
}
