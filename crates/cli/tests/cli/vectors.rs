//! Every signature vector of the project fixtures (`crates/core/tests/fixtures/`: the
//! `providers.json` entries copied there and the 43 MessageBird `MessageBird-Signature-JWT`
//! reference cases) through `switchboard verify`, with `--now` at the vector's time.
//!
//! Each vector becomes the request its core test builds from it (`crates/core/tests/<provider>/`),
//! written as a captured-request file. The CLI must give the vector's verdict, and must answer
//! exactly what the core API answers for the same request and settings (a provider built through
//! `Config::from_lookup` + `configured_provider`), so the two paths cannot drift.
//!
//! `verify` verifies, then normalizes. Several official vectors sign bodies that are no status
//! callback (an inbound SMS, `{"a key":"some value"}`, an empty body): for those a valid
//! signature shows as exit 1 with the normalization error (`missing_field`, ...), never a
//! signature refusal, while `Provider::verify` accepts the request. The totals below pin how many
//! vectors end each way.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use switchboard_core::config::secret_setting;
use switchboard_core::{configured_provider, CapturedRequest, Config, ProviderId, Timestamp};

use crate::support::{Run, Switchboard};

/// The signature-refusal codes `verify` may name on stderr.
const REFUSAL_CODES: [&str; 7] = [
    "missing_signature",
    "invalid_signature",
    "unsupported_algorithm",
    "payload_hash_mismatch",
    "timestamp_out_of_tolerance",
    "missing_signed_field",
    "unsigned_callback",
];

fn fixture(path: &str) -> Json {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures")
        .join(path);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn entries(path: &str, list: &str) -> Vec<Json> {
    match fixture(path)[list].take() {
        Json::Array(entries) => entries,
        other => panic!("{path}: no `{list}` list: {other}"),
    }
}

fn text(entry: &Json, pointer: &str) -> String {
    entry
        .pointer(pointer)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("{}: no string at {pointer}", entry["id"]))
        .to_owned()
}

/// A JSON object's members as text pairs (numbers in their JSON text), in fixture order.
fn text_pairs(object: &Json) -> Vec<(String, String)> {
    object
        .as_object()
        .map(|object| {
            object
                .iter()
                .map(|(key, value)| {
                    let value = match value {
                        Json::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (key.clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn form_encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

fn form_post(url: &str, params: &[(String, String)]) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/x-www-form-urlencoded")
        .with_body(form_encode(params))
}

fn get(url: &str, params: &[(String, String)]) -> CapturedRequest {
    let separator = if url.contains('?') { '&' } else { '?' };
    CapturedRequest::new("GET", &format!("{url}{separator}{}", form_encode(params)))
}

fn json_post(url: &str, body: &str) -> CapturedRequest {
    CapturedRequest::new("POST", url)
        .with_header("content-type", "application/json")
        .with_body(body)
}

/// The claims of a JWT (base64url without padding), to read its `iat`.
fn jwt_claims(token: &str) -> Json {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let part = token.split('.').nth(1).expect("a JWT has a payload part");
    let mut bytes = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for symbol in part.bytes().filter(|&symbol| symbol != b'=') {
        let value = ALPHABET
            .iter()
            .position(|&letter| letter == symbol)
            .expect("base64url") as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// What the vector says `verify` must answer for this request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// The signature holds: events (exit 0), or, for a body that is no status callback, the
    /// normalization error (exit 1) with `Provider::verify` accepting the request.
    Valid,
    /// Refused with this code (exit 1).
    Refused(&'static str),
    /// The secret cannot be configured (an empty one is "not set"): a usage error (exit 2).
    NotConfigured,
}

/// How `verify` ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Events,
    /// Signature valid; the body is no event of the provider (the normalization error's code).
    NotAnEvent(&'static str),
    Refused(&'static str),
    NotConfigured,
}

/// One run of `switchboard verify`: a vector (some vectors give two or more runs).
struct Case {
    provider: ProviderId,
    vector: String,
    /// What this run shows, when a vector gives several.
    variant: &'static str,
    secret: String,
    /// `--method` (Vonage SMS vectors that name their algorithm).
    method: Option<String>,
    now: i64,
    request: CapturedRequest,
    expected: Expected,
}

impl Case {
    fn new(
        provider: ProviderId,
        vector: &str,
        secret: &str,
        now: i64,
        request: CapturedRequest,
        expected: Expected,
    ) -> Self {
        Self {
            provider,
            vector: vector.to_owned(),
            variant: "",
            secret: secret.to_owned(),
            method: None,
            now,
            request,
            expected,
        }
    }

    fn variant(mut self, variant: &'static str) -> Self {
        self.variant = variant;
        self
    }

    fn method(mut self, method: Option<String>) -> Self {
        self.method = method;
        self
    }

    fn name(&self) -> String {
        if self.variant.is_empty() {
            self.vector.clone()
        } else {
            format!("{} ({})", self.vector, self.variant)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Vectors to requests, as crates/core/tests/<provider>/ builds them.

/// crates/core/tests/vonage/vectors.rs: SMS vectors as a `GET` with the parameters in the query.
fn vonage_sms_cases() -> Vec<Case> {
    const URL: &str = "https://hooks.example.com/webhooks/vonage";
    let all = entries("vonage/sms-signature-vectors.json", "vectors");
    let mut cases = Vec::new();
    for entry in &all {
        let id = text(entry, "/id");
        let secret = text(entry, "/inputs/signature_secret");
        let all_params = text_pairs(&entry["inputs"]["params"]);
        let sig = all_params
            .iter()
            .find(|(key, _)| key == "sig")
            .map(|(_, value)| value.clone())
            .or_else(|| entry["expected"]["sig"].as_str().map(str::to_owned));
        let params: Vec<(String, String)> = all_params
            .into_iter()
            .filter(|(key, _)| key != "sig")
            .collect();
        let timestamp = params
            .iter()
            .find(|(key, _)| key == "timestamp")
            .map(|(_, value)| value.parse::<i64>().expect("numeric timestamp"));
        let method = entry["algorithm"]
            .as_str()
            .map(|name| name.trim_end_matches(" (HMAC)").to_owned());
        let verdict = entry["expected"]["result"]
            .as_str()
            .or(entry["expected"].as_str());
        let signed = |sig: &str| {
            let mut params = params.clone();
            params.push(("sig".into(), sig.to_owned()));
            get(URL, &params)
        };
        let case = |now, request, expected| {
            Case::new(ProviderId::Vonage, &id, &secret, now, request, expected)
                .method(method.clone())
        };
        match (verdict, sig.as_deref(), timestamp) {
            // An empty signature secret cannot be configured (the list parser drops it): the
            // core test checks this vector at the signature level only.
            (Some("valid"), Some(sig), _) if secret.is_empty() => {
                cases.push(case(
                    timestamp.unwrap_or(0),
                    signed(sig),
                    Expected::NotConfigured,
                ));
            }
            (Some("valid"), Some(sig), Some(timestamp)) => {
                cases.push(case(timestamp, signed(sig), Expected::Valid));
            }
            // `vonage-sms-replace-*`: signature-level vectors without `timestamp`. Their `sig`
            // holds, but the webhook check requires the signed timestamp: refused for that.
            (Some("valid"), Some(sig), None) => {
                cases.push(case(
                    0,
                    signed(sig),
                    Expected::Refused("missing_signed_field"),
                ));
            }
            (Some("invalid"), Some(sig), Some(timestamp)) => {
                cases.push(case(
                    timestamp,
                    signed(sig),
                    Expected::Refused("invalid_signature"),
                ));
            }
            // `vonage-sms-java-timestamp-window`: states no signature; its inputs are those of
            // `vonage-sms-java-md5`, whose signature it must have. Valid within ±300 s of its
            // timestamp, refused outside, as the core test checks.
            (_, None, Some(timestamp)) if id == "vonage-sms-java-timestamp-window" => {
                let twin = all
                    .iter()
                    .find(|other| other["id"] == "vonage-sms-java-md5")
                    .expect("the vector whose inputs it shares");
                assert_eq!(
                    twin["inputs"]["params"], entry["inputs"]["params"],
                    "{id}: same inputs as vonage-sms-java-md5"
                );
                let sig = text(twin, "/expected/sig");
                assert_eq!(sig, "e0afe267aefd6dd18a848c1681517a19");
                for (now, expected, variant) in [
                    (timestamp, Expected::Valid, "now = timestamp"),
                    (timestamp + 300, Expected::Valid, "now = timestamp + 300"),
                    (timestamp - 300, Expected::Valid, "now = timestamp - 300"),
                    (
                        timestamp + 301,
                        Expected::Refused("timestamp_out_of_tolerance"),
                        "now = timestamp + 301",
                    ),
                    (
                        timestamp - 301,
                        Expected::Refused("timestamp_out_of_tolerance"),
                        "now = timestamp - 301",
                    ),
                ] {
                    cases.push(case(now, signed(&sig), expected).variant(variant));
                }
            }
            other => panic!("{id}: unexpected vector shape {other:?}"),
        }
    }
    assert_eq!(all.len(), 22, "vonage SMS vectors");
    cases
}

/// crates/core/tests/vonage/vectors.rs: the JWT vectors.
fn vonage_jwt_cases() -> Vec<Case> {
    let all = entries("vonage/jwt-vectors.json", "vectors");
    let mut cases = Vec::new();
    for entry in &all {
        let id = text(entry, "/id");
        let secret = text(entry, "/inputs/signature_secret");
        let case = |now, request, expected| {
            Case::new(ProviderId::Vonage, &id, &secret, now, request, expected)
        };
        match id.as_str() {
            // A signature-level vector: the real body is unknown, and the token binds one
            // (`payload_hash`), so any body we send is refused for the hash.
            "vonage-jwt-valid-secret" => {
                let iat = entry["decoded_claims"]["iat"].as_i64().expect("iat");
                let request = json_post(
                    "https://h.example/webhooks/vonage",
                    r#"{"uuid":"x","status":"completed"}"#,
                )
                .with_header("authorization", &text(entry, "/inputs/authorization"));
                cases.push(case(
                    iat,
                    request,
                    Expected::Refused("payload_hash_mismatch"),
                ));
            }
            // A generic HS256 token without `payload_hash` or `jti`: refused for a bodiless GET
            // event (no `jti` to hold it to one event), and (no `payload_hash`) for a body it
            // does not cover.
            "vonage-jwt-python-valid" => {
                let token = text(entry, "/inputs/token");
                let iat = jwt_claims(&token)["iat"].as_i64().expect("iat");
                let authorization = format!("Bearer {token}");
                let get = CapturedRequest::new(
                    "GET",
                    "https://h.example/webhooks/vonage?uuid=u&status=ringing",
                )
                .with_header("authorization", &authorization);
                cases.push(
                    case(iat, get, Expected::Refused("missing_signed_field")).variant("GET event"),
                );
                let post = json_post(
                    "https://h.example/webhooks/vonage",
                    r#"{"uuid":"u","status":"ringing"}"#,
                )
                .with_header("authorization", &authorization);
                cases.push(
                    case(iat, post, Expected::Refused("missing_signed_field"))
                        .variant("POST with a body"),
                );
            }
            "vonage-jwt-derived-with-payload-hash" => {
                let request = json_post(
                    "https://hooks.example.com/webhooks/vonage",
                    &text(entry, "/inputs/raw_body"),
                )
                .with_header("authorization", &text(entry, "/inputs/authorization"));
                let now = entry["inputs"]["now_unix"].as_i64().expect("now_unix");
                cases.push(case(now, request, Expected::Valid));
            }
            other => panic!("no request for the Vonage JWT vector {other}"),
        }
    }
    assert_eq!(all.len(), 3, "vonage JWT vectors");
    cases
}

/// crates/core/tests/vonage_business/vectors.rs: `{"event": ...}` with `X-VON-Signature`.
fn vonage_business_cases() -> Vec<Case> {
    entries("vonage_business/signature-vectors.json", "vectors")
        .iter()
        .map(|entry| {
            let id = text(entry, "/id");
            assert_eq!(id, "vis-doc-example-2020-07");
            let body = format!(r#"{{"event":{}}}"#, entry["inputs"]["event"]);
            let request = json_post("https://hooks.example.com/webhooks/vonage-business", &body)
                .with_header("X-VON-Signature", &text(entry, "/expected/signature"));
            Case::new(
                ProviderId::VonageBusiness,
                &id,
                &text(entry, "/inputs/signingKey"),
                1_577_880_000,
                request,
                Expected::Valid,
            )
        })
        .collect()
}

/// crates/core/tests/telnyx/vectors.rs.
fn telnyx_cases() -> Vec<Case> {
    entries("telnyx/signature-vectors.json", "vectors")
        .iter()
        .map(|entry| {
            let id = text(entry, "/id");
            assert_eq!(entry["expected"], "valid", "{id}");
            let request = json_post(
                "https://hooks.example.com/webhooks/telnyx",
                &text(entry, "/inputs/raw_body"),
            )
            .with_header(
                "Telnyx-Timestamp",
                &text(entry, "/inputs/headers/telnyx-timestamp"),
            )
            .with_header(
                "Telnyx-Signature-Ed25519",
                &text(entry, "/inputs/headers/telnyx-signature-ed25519"),
            );
            Case::new(
                ProviderId::Telnyx,
                &id,
                &text(entry, "/inputs/public_key_base64"),
                entry["inputs"]["now_unix"].as_i64().expect("now_unix"),
                request,
                Expected::Valid,
            )
        })
        .collect()
}

/// crates/core/tests/bird/vectors.rs: now is the signed timestamp.
fn bird_cases() -> Vec<Case> {
    entries("bird/signature-vectors.json", "vectors")
        .iter()
        .map(|entry| {
            let id = text(entry, "/id");
            assert_eq!(entry["expected"], "valid", "{id}");
            let timestamp = text(entry, "/inputs/headers/messagebird-request-timestamp");
            let request = json_post(
                &text(entry, "/inputs/request_url"),
                &text(entry, "/inputs/raw_body"),
            )
            .with_header("messagebird-request-timestamp", &timestamp)
            .with_header(
                "messagebird-signature",
                &text(entry, "/inputs/headers/messagebird-signature"),
            );
            Case::new(
                ProviderId::Bird,
                &id,
                &text(entry, "/inputs/signingKey"),
                timestamp.parse().expect("unix seconds"),
                request,
                Expected::Valid,
            )
        })
        .collect()
}

/// crates/core/tests/messagebird/legacy_hmac.rs: a `POST` (no content type) to the endpoint with
/// the vector's query; now is the signed timestamp.
fn messagebird_legacy_cases() -> Vec<Case> {
    const BASE: &str = "https://hooks.example.com/webhooks/messagebird";
    entries("messagebird/legacy-hmac-vectors.json", "vectors")
        .iter()
        .map(|entry| {
            let id = text(entry, "/id");
            assert!(
                text(entry, "/expected").starts_with("valid"),
                "{id}: {}",
                entry["expected"]
            );
            let query = text(entry, "/inputs/query_string");
            let url = if query.is_empty() {
                BASE.to_owned()
            } else {
                format!("{BASE}?{query}")
            };
            let timestamp = text(entry, "/inputs/headers/MessageBird-Request-Timestamp");
            let request = CapturedRequest::new("POST", &url)
                .with_header("MessageBird-Request-Timestamp", &timestamp)
                .with_header(
                    "MessageBird-Signature",
                    &text(entry, "/inputs/headers/MessageBird-Signature"),
                )
                .with_body(text(entry, "/inputs/body"));
            Case::new(
                ProviderId::MessageBird,
                &id,
                &text(entry, "/inputs/signing_key"),
                timestamp.parse().expect("unix seconds"),
                request,
                Expected::Valid,
            )
        })
        .collect()
}

/// The refusal code for each of the MessageBird reference implementation's reasons
/// (crates/core/tests/messagebird/reference.rs maps them to errors).
fn messagebird_reason_code(reason: &str) -> &'static str {
    match reason.trim_start_matches("invalid jwt: ") {
        "claim nbf is in the future" | "claim exp is in the past" => "timestamp_out_of_tolerance",
        "claim url_hash is invalid" | "signature is invalid" => "invalid_signature",
        "claim payload_hash is invalid"
        | "claim payload_hash is set but actual payload is missing" => "payload_hash_mismatch",
        "claim payload_hash is not set but payload is present" => "missing_signed_field",
        "signing method none is invalid" => "unsupported_algorithm",
        other => panic!("unexpected reason {other:?}"),
    }
}

/// crates/core/tests/messagebird/reference.rs: the case's method and URL, the token in
/// `MessageBird-Signature-JWT`, the payload as the body; now is the case's `timestamp`.
fn messagebird_reference_cases() -> Vec<Case> {
    let document = fixture("messagebird/signature-jwt-reference.json");
    assert_eq!(
        document["source"]["commit"],
        "e0a41ed5af761d3bf62a0cafb918cd90b5834d02"
    );
    let all = entries("messagebird/signature-jwt-reference.json", "cases");
    assert_eq!(all.len(), 43, "MessageBird reference cases");
    all.iter()
        .map(|case| {
            let name = text(case, "/name");
            let now = Timestamp::parse_rfc3339(&text(case, "/timestamp")).expect("RFC 3339");
            assert_eq!(now.millis() % 1000, 0, "{name}: whole seconds for --now");
            let request = CapturedRequest::new(&text(case, "/method"), &text(case, "/url"))
                .with_header("MessageBird-Signature-JWT", &text(case, "/token"))
                .with_body(case["payload"].as_str().unwrap_or_default());
            let expected = if case["valid"].as_bool().expect("valid") {
                Expected::Valid
            } else {
                Expected::Refused(messagebird_reason_code(&text(case, "/reason")))
            };
            // The `none alg` case has no secret, and an empty one cannot be configured: any key
            // will do, the token is refused for its algorithm before any key is used.
            let secret = case["secret"]
                .as_str()
                .filter(|secret| !secret.is_empty())
                .unwrap_or("any-signing-key");
            Case::new(
                ProviderId::MessageBird,
                &name,
                secret,
                now.unix_seconds(),
                request,
                expected,
            )
        })
        .collect()
}

/// crates/core/tests/twilio/vectors.rs: a JSON body as a `POST`, parameters as a form `POST`.
fn twilio_cases() -> Vec<Case> {
    entries("twilio/signature-vectors.json", "vectors")
        .iter()
        .map(|entry| {
            let id = text(entry, "/id");
            let url = text(entry, "/inputs/url");
            let params: Option<Vec<(String, String)>> =
                entry["inputs"]["params"].as_object().map(|object| {
                    object
                        .iter()
                        .flat_map(|(key, value)| match value {
                            Json::Array(values) => values
                                .iter()
                                .map(|value| (key.clone(), value.as_str().expect("text").into()))
                                .collect::<Vec<_>>(),
                            other => vec![(key.clone(), other.as_str().expect("text").into())],
                        })
                        .collect()
                });
            let request = match (&params, entry["inputs"]["body"].as_str()) {
                (_, Some(body)) => json_post(&url, body),
                (Some(params), None) => form_post(&url, params),
                (None, None) => CapturedRequest::new("GET", &url),
            }
            .with_header(
                "X-Twilio-Signature",
                &text(entry, "/inputs/header/X-Twilio-Signature"),
            );
            let expected = match (text(entry, "/expected").as_str(), id.as_str()) {
                ("valid", _) => Expected::Valid,
                ("invalid", "twilio-wrong-signature") => Expected::Refused("invalid_signature"),
                ("invalid", "twilio-body-without-bodySHA256") => {
                    Expected::Refused("missing_signed_field")
                }
                other => panic!("no expectation for {other:?}"),
            };
            Case::new(
                ProviderId::Twilio,
                &id,
                &text(entry, "/inputs/auth_token"),
                1_673_367_845,
                request,
                expected,
            )
        })
        .collect()
}

/// crates/core/tests/plivo/vectors.rs.
fn plivo_cases() -> Vec<Case> {
    entries("plivo/signature-vectors.json", "vectors")
        .iter()
        .map(|entry| {
            let id = text(entry, "/id");
            let url = text(entry, "/inputs/url");
            let params = text_pairs(&entry["inputs"]["params"]);
            let (request, expected) = match id.as_str() {
                // V3: a form `POST` to the URL, or a `GET` with the parameters appended.
                "plivo-v3-pass1-post" | "plivo-v3-pass2-get" => {
                    let request = match text(entry, "/inputs/method").as_str() {
                        "POST" => form_post(&url, &params),
                        "GET" => get(&url, &params),
                        other => panic!("{id}: method {other}"),
                    };
                    let request = request
                        .with_header(
                            "X-Plivo-Signature-V3",
                            &text(entry, "/inputs/header/X-Plivo-Signature-V3"),
                        )
                        .with_header(
                            "X-Plivo-Signature-V3-Nonce",
                            &text(entry, "/inputs/header/X-Plivo-Signature-V3-Nonce"),
                        );
                    (request, Expected::Valid)
                }
                // V2 signs only URL and nonce: the core test sends a message callback. V2 is
                // off unless `PLIVO_ACCEPT_V2=true` (unset here), so the valid vector is refused
                // as unsigned by the CLI and the core alike.
                "plivo-v2-valid" => {
                    let request = form_post(
                        &url,
                        &[
                            ("MessageUUID".into(), "m-1".into()),
                            ("Status".into(), "sent".into()),
                        ],
                    )
                    .with_header(
                        "X-Plivo-Signature-V2",
                        &text(entry, "/inputs/header/X-Plivo-Signature-V2"),
                    )
                    .with_header(
                        "X-Plivo-Signature-V2-Nonce",
                        &text(entry, "/inputs/header/X-Plivo-Signature-V2-Nonce"),
                    );
                    (request, Expected::Refused("missing_signature"))
                }
                // V1 vectors state the signature the legacy scheme computes; Switchboard does
                // not accept V1 (no nonce, SHA-1), so the webhook is refused as unsigned.
                "plivo-v1-legacy" | "plivo-v1-legacy-space" => {
                    let request = form_post(&url, &params)
                        .with_header("X-Plivo-Signature", &text(entry, "/expected/signature"));
                    (request, Expected::Refused("missing_signature"))
                }
                other => panic!("no request for the Plivo vector {other}"),
            };
            Case::new(
                ProviderId::Plivo,
                &id,
                &text(entry, "/inputs/auth_token"),
                1_586_345_673,
                request,
                expected,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running one case through the CLI and the core.

fn run_cli(switchboard: &Switchboard, index: usize, case: &Case, signature_only: bool) -> Run {
    let request = serde_json::to_string_pretty(&case.request).expect("serializable");
    let file = switchboard.write(&format!("{index:03}.json"), &request);
    let mut args = vec![
        "verify".to_owned(),
        "--provider".to_owned(),
        case.provider.to_string(),
        format!("--secret={}", case.secret),
        format!("--now={}", case.now),
    ];
    if let Some(method) = &case.method {
        args.push(format!("--method={method}"));
    }
    if signature_only {
        args.push("--signature-only".to_owned());
    }
    args.push(file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    switchboard.run(&args)
}

fn code_of(stderr: &str) -> Option<&'static str> {
    let code = stderr.split_once(':')?.0;
    [
        "malformed_request",
        "missing_field",
        "unsupported_content_type",
    ]
    .into_iter()
    .chain(REFUSAL_CODES)
    .find(|known| *known == code)
}

/// Runs `case` through the CLI and the core, and checks that they agree and give the vector's
/// verdict.
fn check(switchboard: &Switchboard, index: usize, case: &Case) -> Result<Outcome, String> {
    let run = run_cli(switchboard, index, case, false);
    let shown = format!(
        "exit {}\n--- stdout\n{}\n--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );

    // The core, configured from the same settings as the CLI with these arguments.
    let secret_name = secret_setting(case.provider);
    let config = Config::from_lookup(|name| {
        if name == secret_name {
            Some(case.secret.clone())
        } else if name == "VONAGE_SIGNATURE_METHOD" {
            case.method.clone()
        } else {
            None
        }
    })
    .map_err(|error| format!("core configuration: {error}"))?;
    let Some(provider) = configured_provider(&config, case.provider) else {
        if case.expected != Expected::NotConfigured {
            return Err(format!(
                "the core has no provider for this secret; CLI: {shown}"
            ));
        }
        if run.code != 2 || !run.stderr.contains("no signature secret") {
            return Err(format!("expected a usage error (no secret), got {shown}"));
        }
        return Ok(Outcome::NotConfigured);
    };
    let now = Timestamp::from_unix_seconds(case.now);
    let verified = provider.verify(&case.request, now).map(|_| ());
    let received = provider.receive(&case.request, now);

    // The CLI answers exactly what the core answers.
    match &received {
        Ok(events) => {
            let expected = serde_json::to_value(events).expect("events serialize");
            let printed: Option<Json> = serde_json::from_str(&run.stdout).ok();
            if run.code != 0 || printed.as_ref() != Some(&expected) || !run.stderr.is_empty() {
                return Err(format!("the core gives events {expected}; CLI: {shown}"));
            }
        }
        Err(error) => {
            let line = format!("{}: {error}", error.code());
            if run.code != 1 || run.stderr.trim_end() != line || !run.stdout.is_empty() {
                return Err(format!("the core refuses with `{line}`; CLI: {shown}"));
            }
        }
    }

    // `--signature-only` answers exactly the core's signature verdict; every valid vector passes
    // it, whether or not its body is a status event.
    let signature_run = run_cli(switchboard, index, case, true);
    match &verified {
        Ok(()) => {
            if signature_run.code != 0
                || signature_run.stdout.trim() != "{\n  \"verified\": true\n}"
            {
                return Err(format!(
                    "--signature-only: the core verifies; CLI exit {}: {}{}",
                    signature_run.code, signature_run.stdout, signature_run.stderr
                ));
            }
        }
        Err(error) => {
            let line = format!("{}: {error}", error.code());
            if signature_run.code != 1 || signature_run.stderr.trim_end() != line {
                return Err(format!(
                    "--signature-only: the core refuses with `{line}`; CLI exit {}: {}",
                    signature_run.code, signature_run.stderr
                ));
            }
        }
    }
    if case.expected == Expected::Valid && verified.is_err() {
        return Err("a valid vector fails --signature-only".to_owned());
    }

    // The vector's verdict.
    let outcome = match (&received, &verified) {
        (Ok(_), _) => Outcome::Events,
        (Err(_), Ok(())) => Outcome::NotAnEvent(code_of(&run.stderr).ok_or("unknown code")?),
        (Err(_), Err(_)) => Outcome::Refused(code_of(&run.stderr).ok_or("unknown code")?),
    };
    match (case.expected, &outcome) {
        (Expected::Valid, Outcome::Events) => {}
        (Expected::Valid, Outcome::NotAnEvent(code))
            if !REFUSAL_CODES.contains(code) && verified.is_ok() => {}
        (Expected::Refused(expected), Outcome::Refused(code)) if expected == *code => {}
        (expected, _) => {
            return Err(format!(
                "expected {expected:?}, got {outcome:?} (core verify: {verified:?}); CLI: {shown}"
            ))
        }
    }
    Ok(outcome)
}

impl Outcome {
    fn label(&self) -> String {
        match self {
            Outcome::Events => "events".to_owned(),
            Outcome::NotAnEvent(code) => format!("valid signature, not an event: {code}"),
            Outcome::Refused(code) => format!("refused: {code}"),
            Outcome::NotConfigured => "secret cannot be configured".to_owned(),
        }
    }
}

/// Per fixture: how many distinct vectors, and how many runs ended each way.
type Totals = BTreeMap<&'static str, (usize, BTreeMap<String, usize>)>;

#[test]
fn every_fixture_vector_gives_its_verdict_through_switchboard_verify_as_through_the_core() {
    let groups: [(&'static str, Vec<Case>); 9] = [
        ("vonage sms", vonage_sms_cases()),
        ("vonage jwt", vonage_jwt_cases()),
        ("vonage-business", vonage_business_cases()),
        ("telnyx", telnyx_cases()),
        ("bird", bird_cases()),
        ("messagebird legacy", messagebird_legacy_cases()),
        ("messagebird jwt reference", messagebird_reference_cases()),
        ("twilio", twilio_cases()),
        ("plivo", plivo_cases()),
    ];
    let switchboard = Switchboard::new("vectors_through_verify");
    let mut failures = Vec::new();
    let mut totals = Totals::new();
    let mut index = 0;
    for (group, cases) in &groups {
        let (vectors, outcomes) = totals.entry(group).or_default();
        let mut seen: Vec<&str> = Vec::new();
        for case in cases {
            index += 1;
            if !seen.contains(&case.vector.as_str()) {
                seen.push(&case.vector);
                *vectors += 1;
            }
            match check(&switchboard, index, case) {
                Ok(outcome) => *outcomes.entry(outcome.label()).or_default() += 1,
                Err(problem) => failures.push(format!("{}: {problem}", case.name())),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {index} runs failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );

    // Every vector loaded, and how each ended. "valid signature, not an event": the vector's
    // signature holds (`Provider::verify` accepts the request) but its body is no status
    // callback, so `verify` exits 1 with the normalization error.
    let expected: Totals = [
        (
            "vonage sms",
            22,
            &[
                // The vonage-sms-inbound-* vectors: inbound SMS, stored as delivered.
                ("events", 7),
                ("valid signature, not an event: missing_field", 13),
                // vonage-sms-replace-underscore, vonage-sms-replace-equals: no `timestamp`.
                ("refused: missing_signed_field", 2),
                ("refused: invalid_signature", 1),
                // vonage-sms-java-timestamp-window at timestamp ± 301.
                ("refused: timestamp_out_of_tolerance", 2),
                // vonage-sms-inbound-md5hash-empty-secret.
                ("secret cannot be configured", 1),
            ][..],
        ),
        (
            "vonage jwt",
            3,
            &[
                ("events", 1),
                // vonage-jwt-valid-secret (its body is unknown).
                ("refused: payload_hash_mismatch", 1),
                // vonage-jwt-python-valid: a GET without `jti`, and a body its token does not
                // cover.
                ("refused: missing_signed_field", 2),
            ][..],
        ),
        ("vonage-business", 1, &[("events", 1)][..]),
        ("telnyx", 1, &[("events", 1)][..]),
        ("bird", 1, &[("events", 1)][..]),
        (
            "messagebird legacy",
            3,
            &[
                // Signed payloads that are not status reports are acknowledged (no events).
                ("events", 2),
                ("valid signature, not an event: unsupported_content_type", 1),
            ][..],
        ),
        (
            "messagebird jwt reference",
            43,
            &[
                // Signed payloads that are not status reports are acknowledged (no events). A
                // signed body is read whatever the method, so a GET's body without a media type
                // is unsupported rather than its query not a report.
                ("events", 13),
                (
                    "valid signature, not an event: unsupported_content_type",
                    10,
                ),
                ("refused: invalid_signature", 2),
                ("refused: missing_signed_field", 5),
                ("refused: payload_hash_mismatch", 10),
                ("refused: timestamp_out_of_tolerance", 2),
                ("refused: unsupported_algorithm", 1),
            ][..],
        ),
        (
            "twilio",
            11,
            &[
                ("valid signature, not an event: missing_field", 9),
                ("refused: invalid_signature", 1),
                ("refused: missing_signed_field", 1),
            ][..],
        ),
        (
            "plivo",
            5,
            &[
                ("events", 2),
                // plivo-v1-legacy, plivo-v1-legacy-space: V1 is not accepted; plivo-v2-valid:
                // V2 is off without `PLIVO_ACCEPT_V2=true`.
                ("refused: missing_signature", 3),
            ][..],
        ),
    ]
    .into_iter()
    .map(|(group, vectors, outcomes)| {
        let outcomes = outcomes
            .iter()
            .map(|(label, count)| ((*label).to_owned(), *count))
            .collect();
        (group, (vectors, outcomes))
    })
    .collect();
    assert_eq!(totals, expected, "vectors and outcomes per fixture");
}
