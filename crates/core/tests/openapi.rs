//! `public/openapi.json` stays true to the code: its paths and methods are exactly the route
//! table's (`switchboard_core::route`) and the static assets; its `Error` schema lists every
//! code the worker can answer, each error response only codes of its status; its enums are the
//! model's; and the core's own values (summaries, events, captured requests) validate against
//! its schemas, which refuse a wrong shape. The end-to-end tests validate every answer of the
//! running worker against it (tests/e2e/openapi.rs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use jsonschema::Validator;
use serde_json::{json, Value};
use switchboard_core::model::{AnsweredBy, Details, Direction};
use switchboard_core::route::{Route, ASSET_PATHS, TEMPLATES};
use switchboard_core::{
    CapturedRequest, ErrorCode, Event, Kind, ProviderId, Status, SubjectState, Summary, Timestamp,
    WebhookError,
};

#[path = "common/openapi_schema.rs"]
mod openapi_schema;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn repo_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn document() -> Value {
    let text = std::fs::read_to_string(repo_path("public/openapi.json"))
        .expect("public/openapi.json is readable");
    serde_json::from_str(&text).expect("public/openapi.json is JSON")
}

/// What `reference` (`#/a/b`) points at in `document`.
fn resolve<'a>(document: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference
        .strip_prefix('#')
        .unwrap_or_else(|| panic!("{reference} is not local"));
    document
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{reference} points at nothing"))
}

/// `value`, or what it refers to when it is a `$ref`.
fn follow<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => resolve(document, reference),
        None => value,
    }
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is not an array"))
        .iter()
        .map(|item| item.as_str().expect("a string").to_owned())
        .collect()
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// Every operation: `(path, method, operation)`.
fn operations(document: &Value) -> Vec<(&str, &str, &Value)> {
    let paths = document["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |method| {
                item.get(*method)
                    .map(|operation| (path.as_str(), *method, operation))
            })
        })
        .collect()
}

/// A validator of `schema` (which may `$ref` the document's component schemas).
fn validator(document: &Value, schema: &Value) -> Validator {
    openapi_schema::validator(document, schema, &schema.to_string())
}

fn component(name: &str) -> Validator {
    let document = document();
    validator(
        &document,
        &json!({ "$ref": format!("#/components/schemas/{name}") }),
    )
}

fn assert_valid(validator: &Validator, instance: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|error| format!("{error} at {}", error.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{instance}: {errors:?}");
}

#[test]
fn it_is_openapi_3_1() {
    let document = document();
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["info"]["title"].is_string());
    assert!(document["info"]["version"].is_string());
}

#[test]
fn its_paths_and_methods_are_the_route_table_and_the_assets() {
    let document = document();
    let documented: BTreeSet<(String, String)> = operations(&document)
        .into_iter()
        .map(|(path, method, _)| (path.to_owned(), method.to_owned()))
        .collect();
    let mut served = BTreeSet::new();
    for template in TEMPLATES {
        for method in template.methods {
            served.insert((template.path.to_owned(), method.to_ascii_lowercase()));
        }
        if template.answers_preflight() {
            served.insert((template.path.to_owned(), "options".to_owned()));
        }
    }
    for asset in ASSET_PATHS {
        served.insert(((*asset).to_owned(), "get".to_owned()));
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && not_served.is_empty(),
        "served but not documented: {undocumented:?}; documented but not served: {not_served:?}"
    );
}

#[test]
fn path_parameters_are_the_templates() {
    let document = document();
    for template in TEMPLATES {
        let item = &document["paths"][template.path];
        let mut declared = BTreeSet::new();
        let parameters = item["parameters"].as_array().into_iter().flatten();
        for parameter in parameters.map(|parameter| follow(&document, parameter)) {
            if parameter["in"] == "path" {
                assert_eq!(parameter["required"], true, "{}", template.path);
                declared.insert(parameter["name"].as_str().expect("a name").to_owned());
            }
        }
        let in_template: BTreeSet<String> = template
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, in_template, "{}", template.path);
    }
}

#[test]
fn the_collection_parameter_is_every_kind() {
    let document = document();
    let item = &document["paths"]["/v1/{collection}"];
    let collection = item["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|parameter| parameter["name"] == "collection")
        .expect("a collection parameter");
    let kinds: BTreeSet<Kind> = strings(&collection["schema"]["enum"])
        .iter()
        .map(|name| match Route::parse(&["v1", name]) {
            Some(Route::List { kind }) => kind,
            other => panic!("{name} is not a collection: {other:?}"),
        })
        .collect();
    assert_eq!(kinds, BTreeSet::from([Kind::Call, Kind::Message]));
}

#[test]
fn every_operation_says_who_may_call_it() {
    let document = document();
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes["statusApiToken"]["scheme"], "bearer");
    assert_eq!(schemes["browserToken"]["scheme"], "bearer");
    assert_eq!(schemes["browserToken"]["bearerFormat"], "JWT");
    for (path, method, operation) in operations(&document) {
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has no `security`"));
        for requirement in security {
            for scheme in requirement.as_object().expect("an object").keys() {
                assert!(schemes.contains_key(scheme), "{method} {path}: {scheme}");
            }
        }
        assert!(
            operation["responses"]
                .as_object()
                .is_some_and(|responses| !responses.is_empty()),
            "{method} {path} has no responses"
        );
    }
}

/// The status of every code the worker can answer.
fn code_statuses() -> Vec<(&'static str, u16)> {
    ErrorCode::ALL
        .iter()
        .map(|code| (code.as_str(), code.status()))
        .chain(
            WebhookError::CODES
                .iter()
                .map(|(code, class)| (*code, class.status())),
        )
        .collect()
}

#[test]
fn the_error_schema_lists_every_code() {
    let document = document();
    let listed =
        strings(&document["components"]["schemas"]["Error"]["properties"]["error"]["enum"]);
    let codes = set(code_statuses().into_iter().map(|(code, _)| code));
    assert_eq!(listed, codes);
}

/// The codes an error response allows: those of its `allOf` narrowing `error`.
fn response_codes(document: &Value, response: &Value) -> BTreeSet<String> {
    let schema = &follow(document, response)["content"]["application/json"]["schema"];
    let narrowing = schema["allOf"]
        .as_array()
        .and_then(|parts| {
            parts
                .iter()
                .find(|part| part["properties"]["error"].is_object())
        })
        .unwrap_or_else(|| panic!("{response} does not narrow `error`"));
    assert_eq!(schema["allOf"][0]["$ref"], "#/components/schemas/Error");
    strings(&narrowing["properties"]["error"]["enum"])
}

#[test]
fn error_responses_allow_only_codes_of_their_status_and_every_code_is_answered() {
    let document = document();
    let statuses = code_statuses();
    let status_of = |code: &str| {
        statuses
            .iter()
            .find(|(known, _)| *known == code)
            .unwrap_or_else(|| panic!("{code} is no error code"))
            .1
    };
    let mut answered = BTreeSet::new();
    for (path, method, operation) in operations(&document) {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let status: u16 = status.parse().expect("a numeric status");
            if status < 400 {
                continue;
            }
            for code in response_codes(&document, response) {
                assert_eq!(status_of(&code), status, "{method} {path}: {code}");
                answered.insert(code);
            }
        }
    }
    // Unknown paths and methods are documented once, as components.
    for name in ["NotFound", "MethodNotAllowed"] {
        let response = &document["components"]["responses"][name];
        answered.extend(response_codes(&document, response));
    }
    let codes = set(statuses.iter().map(|(code, _)| *code));
    let unanswered: Vec<_> = codes.difference(&answered).collect();
    assert!(unanswered.is_empty(), "no response answers {unanswered:?}");
}

#[test]
fn every_reference_resolves() {
    fn walk(document: &Value, value: &Value) {
        match value {
            Value::Object(members) => {
                if let Some(reference) = members.get("$ref").and_then(Value::as_str) {
                    resolve(document, reference);
                }
                members.values().for_each(|member| walk(document, member));
            }
            Value::Array(items) => items.iter().for_each(|item| walk(document, item)),
            _ => {}
        }
    }
    let document = document();
    walk(&document, &document);
}

#[test]
fn enums_are_the_models() {
    let document = document();
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        strings(&schemas["Provider"]["enum"]),
        set(ProviderId::ALL.map(ProviderId::as_str))
    );
    assert_eq!(
        strings(&schemas["Kind"]["enum"]),
        set([Kind::Call, Kind::Message].map(Kind::as_str))
    );
    assert_eq!(
        strings(&schemas["Status"]["enum"]),
        set(Status::CALL
            .into_iter()
            .chain(Status::MESSAGE)
            .map(Status::as_str))
    );
}

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + seconds * 1000)
}

fn full_event() -> Event {
    Event {
        provider: ProviderId::VonageBusiness,
        kind: Kind::Call,
        subject_id: "CA123".into(),
        event_id: "ev-1".into(),
        status: Some(Status::InProgress),
        provider_status: "answered".into(),
        occurred_at: Some(time(1)),
        received_at: time(2),
        sequence: Some(3),
        direction: Some(Direction::Outbound),
        from: Some("+15550001".into()),
        to: Some("+15550002".into()),
        session_id: Some("conversation".into()),
        aliases: vec!["control-id".into()],
        details: Details {
            duration_seconds: Some(4),
            price: Some("0.0042".into()),
            currency: Some("EUR".into()),
            detail: Some("ok".into()),
            error_code: Some("31000".into()),
            error_message: Some("meaning".into()),
            answered_by: Some(AnsweredBy::Human),
            started_at: Some(time(1)),
            ended_at: Some(time(5)),
            extra: [("network".to_owned(), "23410".to_owned())].into(),
        },
    }
}

fn bare_event() -> Event {
    Event {
        provider: ProviderId::Twilio,
        kind: Kind::Message,
        subject_id: "SM1".into(),
        event_id: "ev-2".into(),
        status: None,
        provider_status: "whatever".into(),
        occurred_at: None,
        received_at: time(0),
        sequence: None,
        direction: None,
        from: None,
        to: None,
        session_id: None,
        aliases: Vec::new(),
        details: Details::default(),
    }
}

fn summary_of(events: &[Event]) -> Summary {
    let first = &events[0];
    let mut state = SubjectState::new(first.provider, first.kind, first.subject_id.clone());
    for event in events {
        state.apply(event);
    }
    state.summary(events.len() as u64)
}

#[test]
fn summaries_and_events_validate_and_wrong_shapes_do_not() {
    let (summary, event, timeline) = (
        component("Summary"),
        component("Event"),
        component("Timeline"),
    );
    for events in [vec![full_event()], vec![bare_event()]] {
        assert_valid(
            &summary,
            &serde_json::to_value(summary_of(&events)).unwrap(),
        );
        assert_valid(&event, &serde_json::to_value(&events[0]).unwrap());
    }
    let both = json!({ "events": [full_event(), bare_event()] });
    assert_valid(&timeline, &both);

    let good = serde_json::to_value(summary_of(&[full_event()])).unwrap();
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut value = good.clone();
        change(&mut value);
        value
    };
    for wrong in [
        broken(&|value| value["status"] = json!("answered")),
        broken(&|value| value["provider"] = json!("nexmo")),
        broken(&|value| value["kind"] = json!("calls")),
        broken(&|value| value["terminal"] = json!("false")),
        broken(&|value| value["event_count"] = json!(-1)),
        broken(&|value| value["created_at"] = json!("yesterday")),
        broken(&|value| value["surprise"] = json!(1)),
        broken(&|value| {
            value.as_object_mut().unwrap().remove("terminal");
        }),
    ] {
        assert!(!summary.is_valid(&wrong), "accepted {wrong}");
    }
    let mut wrong_extra = serde_json::to_value(full_event()).unwrap();
    wrong_extra["details"]["extra"]["network"] = json!(23410);
    let mut surprise = serde_json::to_value(full_event()).unwrap();
    surprise["surprise"] = json!(1);
    for wrong in [wrong_extra, surprise] {
        assert!(!event.is_valid(&wrong), "accepted {wrong}");
    }
    assert!(!timeline.is_valid(&json!({ "events": {} })));
}

#[test]
fn captured_requests_validate_as_exported() {
    let export = component("CapturedRequest");
    let text = CapturedRequest::new("post", "https://hooks.example.com/webhooks/vonage?a=1")
        .with_header("Content-Type", "application/json")
        .with_header("Authorization", "Basic secret")
        .with_body("{}");
    let binary = CapturedRequest::new("get", "https://hooks.example.com/webhooks/twilio")
        .with_body(vec![0xff, 0xfe]);
    for request in [&text, &binary] {
        assert_valid(&export, &serde_json::to_value(request.redacted()).unwrap());
    }
    let mut both = serde_json::to_value(text.redacted()).unwrap();
    both["body_base64"] = json!("AA==");
    assert!(!export.is_valid(&both));
}

#[test]
fn live_frames_validate() {
    let (snapshot, event) = (component("LiveSnapshot"), component("LiveEvent"));
    let state = summary_of(&[full_event()]);
    assert_valid(&snapshot, &json!({ "type": "snapshot", "state": null }));
    assert_valid(&snapshot, &json!({ "type": "snapshot", "state": state }));
    assert_valid(
        &event,
        &json!({ "type": "event", "event": full_event(), "state": state }),
    );
    assert!(!event.is_valid(&json!({ "type": "snapshot", "event": full_event(), "state": state })));
    assert!(!event.is_valid(&json!({ "type": "event", "event": full_event(), "state": null })));
}

#[test]
fn token_requests_are_held_to_the_scopes_and_ttl() {
    let request = component("TokenRequest");
    let scope = [
        "calls/twilio/CA123",
        "sessions/telnyx/abc",
        "calls",
        "messages",
        "messages/vonage/x",
    ];
    assert_valid(&request, &json!({ "scope": scope, "ttl_seconds": 900 }));
    assert_valid(&request, &json!({ "scope": ["calls"] }));
    for wrong in [
        json!({ "scope": ["calls/nexmo/x"] }),
        json!({ "scope": ["sessions"] }),
        json!({ "scope": ["calls/twilio"] }),
        json!({ "scope": [] }),
        json!({ "scope": ["calls"], "ttl_seconds": 0 }),
        json!({ "scope": ["calls"], "ttl_seconds": 86_401 }),
        json!({ "ttl_seconds": 900 }),
    ] {
        assert!(!request.is_valid(&wrong), "accepted {wrong}");
    }
    let response = component("TokenResponse");
    assert_valid(
        &response,
        &json!({ "token": "eyJh.eyJz.c2ln", "expires_at": "2026-01-01T00:00:00Z" }),
    );
    assert!(
        !response.is_valid(&json!({ "token": "not a jwt", "expires_at": "2026-01-01T00:00:00Z" }))
    );
}

/// Every file in `dir`, as a path below `root` starting with `/`.
fn files_below(root: &Path, dir: &Path, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("a readable directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            files_below(root, &path, found);
        } else {
            let relative = path.strip_prefix(root).expect("below root");
            found.insert(format!("/{}", relative.display()));
        }
    }
}

#[test]
fn every_static_asset_is_documented() {
    let public = repo_path("public");
    let mut files = BTreeSet::new();
    files_below(&public, &public, &mut files);
    // Workers static assets read `_headers` as configuration and do not serve it.
    assert!(files.remove("/_headers"), "public/_headers is missing");
    let listed = set(ASSET_PATHS.iter().copied());
    let unlisted: Vec<_> = files.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "public/ serves {unlisted:?}, not in ASSET_PATHS"
    );
    assert!(files.contains("/openapi.json"));
}

#[test]
fn every_documented_asset_is_served() {
    for asset in ASSET_PATHS {
        let file = repo_path(&format!("public{asset}"));
        assert!(file.is_file(), "{} is missing", file.display());
    }
}
