//! `public/openapi.json` stays true to the code: its paths and methods are exactly the route
//! table's (`switchboard_core::route`) and the static assets; its `Error` schema lists every
//! code the worker can answer, each error response only codes of its status; its enums are the
//! model's; and the core's own values (summaries, events, captured requests, deliveries and
//! their payloads and headers) validate against its schemas, which refuse a wrong shape. The
//! end-to-end tests validate every answer of the running worker against it
//! (tests/e2e/openapi.rs). The outgoing delivery (docs/delivery.md) is its top-level `webhooks`
//! entry, not a path: no route serves it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use jsonschema::Validator;
use serde_json::{json, Value};
use switchboard_core::config::Settings;
use switchboard_core::delivery::{
    self, AttemptOutcome, DeliveryConfig, DeliveryState, EventType, FailedDelivery, SigningSecret,
};
use switchboard_core::model::{AnsweredBy, Details, Direction, Provenance};
use switchboard_core::protocol::subject::object_name;
use switchboard_core::route::{Route, ASSET_PATHS, DASHBOARD_FILES, TEMPLATES};
use switchboard_core::{
    CapturedRequest, Config, ErrorCode, Event, Kind, ProviderId, Status, SubjectState, Summary,
    Timestamp, WebhookError,
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
    assert_eq!(
        strings(&schemas["DeliveryState"]["enum"]),
        set(delivery_states().map(DeliveryState::as_str))
    );
    for state in delivery_states() {
        assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
    }
}

/// Every delivery state: the `match` stops compiling when one is added, until it is listed.
fn delivery_states() -> [DeliveryState; 3] {
    let states = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ];
    for state in states {
        match state {
            DeliveryState::Pending | DeliveryState::Delivered | DeliveryState::Failed => {}
        }
    }
    states
}

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + seconds * 1000)
}

fn full_event() -> Event {
    Event {
        provenance: Provenance::Backfill,
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
        provenance: Provenance::Webhook,
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

/// `good` with `change` made to it.
fn broken(good: &Value, change: impl Fn(&mut Value)) -> Value {
    let mut value = good.clone();
    change(&mut value);
    value
}

fn remove(value: &mut Value, member: &str) {
    value.as_object_mut().expect("an object").remove(member);
}

/// Every event type the model makes: each kind's statuses, and `{kind}.updated` for an event
/// without one (docs/delivery.md).
fn event_types() -> Vec<EventType> {
    [
        (Kind::Call, &Status::CALL[..]),
        (Kind::Message, &Status::MESSAGE[..]),
    ]
    .into_iter()
    .flat_map(|(kind, statuses)| {
        statuses
            .iter()
            .copied()
            .map(Some)
            .chain([None])
            .map(move |status| EventType { kind, status })
    })
    .collect()
}

/// The secret of the `switchboard listen` example in docs/delivery.md.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn delivery_webhook_id(event: &Event, endpoint: &str) -> String {
    let subject = object_name(event.provider, event.kind, &event.subject_id);
    delivery::webhook_id(&subject, endpoint, &event.event_id)
}

/// The body of the delivery of the last of `events`, with the state they lead to.
fn delivery_payload(events: &[Event]) -> String {
    let event = events.last().expect("an event");
    delivery::payload(
        EventType::of(event),
        event.received_at,
        &serde_json::to_string(event).unwrap(),
        &serde_json::to_string(&summary_of(events)).unwrap(),
    )
}

#[test]
fn event_types_webhook_ids_and_endpoint_names_match_their_schemas() {
    let event_type = component("EventType");
    for made in event_types() {
        assert_valid(&event_type, &json!(made.to_string()));
    }
    for wrong in [
        "call",
        "calls.completed",
        "sms.sent",
        "call.In_progress",
        "call.in-progress",
        "call.",
        "",
    ] {
        assert!(!event_type.is_valid(&json!(wrong)), "accepted {wrong}");
    }

    let webhook_id = component("WebhookId");
    for event in [full_event(), bare_event()] {
        assert_valid(&webhook_id, &json!(delivery_webhook_id(&event, "crm")));
    }
    for wrong in [
        "msg_0123",
        "msg_0123456789ABCDEF0123456789ABCDEF",
        "0123456789abcdef0123456789abcdef",
        "msg_0123456789abcdef0123456789abcdef0",
    ] {
        assert!(!webhook_id.is_valid(&json!(wrong)), "accepted {wrong}");
    }

    // A name is what `DELIVERY_ENDPOINTS` accepts (docs/delivery.md, Configuration).
    let endpoint_name = component("EndpointName");
    let configured = |name: &str| {
        let upper = name.to_ascii_uppercase();
        let settings: HashMap<String, String> = [
            ("DELIVERY_ENDPOINTS".to_owned(), name.to_owned()),
            (format!("DELIVERY_{upper}_URL"), "https://a.example/".into()),
            (format!("DELIVERY_{upper}_SECRET"), SECRET.into()),
        ]
        .into();
        let lookup = |setting: &str| settings.get(setting).cloned();
        DeliveryConfig::from_settings(&Settings::new(&lookup, 300))
            .is_ok_and(|config| config.endpoint(name).is_some())
    };
    let longest = "e".repeat(32);
    let too_long = "e".repeat(33);
    for name in [
        "crm",
        "Alerts_2",
        "_",
        longest.as_str(),
        too_long.as_str(),
        "c-r-m",
        "crm!",
        "crm.x",
        "ünï",
    ] {
        assert_eq!(
            endpoint_name.is_valid(&json!(name)),
            configured(name),
            "{name}"
        );
    }
    assert!(configured("crm") && !configured("c-r-m"));
    assert!(!endpoint_name.is_valid(&json!("")));
}

#[test]
fn delivery_payloads_validate_and_wrong_shapes_do_not() {
    let schema = component("DeliveryPayload");
    let late_ringing = Event {
        event_id: "ev-3".into(),
        status: Some(Status::Ringing),
        received_at: time(9),
        ..full_event()
    };
    for events in [
        vec![full_event()],
        vec![bare_event()],
        vec![full_event(), late_ringing],
    ] {
        let body = delivery_payload(&events);
        let payload: Value = serde_json::from_str(&body).expect("a payload is JSON");
        assert_valid(&schema, &payload);
        let event = events.last().unwrap();
        assert_eq!(payload["type"], EventType::of(event).to_string());
        assert_eq!(
            payload["data"]["event"],
            serde_json::to_value(event).unwrap()
        );
    }

    let good: Value = serde_json::from_str(&delivery_payload(&[full_event()])).unwrap();
    for wrong in [
        broken(&good, |value| value["type"] = json!("call")),
        broken(&good, |value| value["type"] = json!("calls.in_progress")),
        broken(&good, |value| value["timestamp"] = json!("yesterday")),
        broken(&good, |value| value["timestamp"] = json!(1_700_000_002)),
        broken(&good, |value| value["data"]["state"] = Value::Null),
        broken(&good, |value| value["data"]["event"]["surprise"] = json!(1)),
        broken(&good, |value| value["data"]["surprise"] = json!(1)),
        broken(&good, |value| value["surprise"] = json!(1)),
        broken(&good, |value| remove(&mut value["data"], "event")),
        broken(&good, |value| remove(value, "timestamp")),
        broken(&good, |value| value["data"] = json!([])),
    ] {
        assert!(!schema.is_valid(&wrong), "accepted {wrong}");
    }
}

/// A failed delivery of [`full_event`] to `crm` whose last attempt ended with `last`.
fn failed_delivery(last: &AttemptOutcome) -> FailedDelivery {
    let event = full_event();
    FailedDelivery {
        endpoint: "crm".into(),
        kind: event.kind,
        provider: event.provider,
        subject_id: event.subject_id.clone(),
        event_id: event.event_id.clone(),
        webhook_id: delivery_webhook_id(&event, "crm"),
        event_type: EventType::of(&event).to_string(),
        failed_at: time(86_400),
        attempts: 10,
        last_status: last.status(),
        last_error: last.error(),
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn failed_deliveries_validate_as_serialized_and_wrong_shapes_do_not() {
    let document = document();
    let schema = component("FailedDelivery");
    let answered = AttemptOutcome::Answered {
        status: 503,
        retry_after_s: Some(60),
    };
    let timed_out = AttemptOutcome::NoAnswer {
        reason: "timed out".into(),
    };
    let values: Vec<Value> = [&answered, &timed_out]
        .map(|last| serde_json::to_value(failed_delivery(last)).unwrap())
        .into();
    // Every member the core writes is documented and required, and nothing else is.
    let documented = &document["components"]["schemas"]["FailedDelivery"];
    for value in &values {
        assert_valid(&schema, value);
        assert_eq!(keys(value), strings(&documented["required"]));
        assert_eq!(keys(value), keys(&documented["properties"]));
        let read: FailedDelivery = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(read).unwrap(), *value);
    }
    assert_eq!(values[1]["last_status"], Value::Null);

    let good = &values[0];
    for wrong in [
        broken(good, |value| value["kind"] = json!("calls")),
        broken(good, |value| value["provider"] = json!("nexmo")),
        broken(good, |value| value["failed_at"] = json!("yesterday")),
        broken(good, |value| value["attempts"] = json!(-1)),
        broken(good, |value| value["last_status"] = json!("503")),
        broken(good, |value| value["last_status"] = json!(42)),
        broken(good, |value| value["webhook_id"] = json!("msg_1")),
        broken(good, |value| value["type"] = json!("completed")),
        broken(good, |value| value["endpoint"] = json!("c-r-m")),
        broken(good, |value| value["surprise"] = json!(1)),
        broken(good, |value| remove(value, "last_error")),
    ] {
        assert!(!schema.is_valid(&wrong), "accepted {wrong}");
    }

    let page = component("FailedDeliveryPage");
    let cursor = delivery::encode_failed_cursor(Some("crm"), "kv-cursor", b"cursor key");
    assert_valid(&page, &json!({ "deliveries": values, "cursor": cursor }));
    assert_valid(&page, &json!({ "deliveries": [], "cursor": null }));
    let too_many = vec![good.clone(); 101];
    for wrong in [
        json!({ "deliveries": values }),
        json!({ "deliveries": too_many, "cursor": null }),
        json!({ "cursor": cursor }),
    ] {
        assert!(!page.is_valid(&wrong), "accepted {wrong}");
    }
}

/// A delivery of [`full_event`] to `crm` in `state`, its last attempt (if any) ending with
/// `last`, with the core's own values for each member.
fn delivery_entry(
    state: DeliveryState,
    last: Option<&AttemptOutcome>,
    next_attempt_at: Option<Timestamp>,
) -> Value {
    let event = full_event();
    json!({
        "endpoint": "crm",
        "event_id": event.event_id,
        "webhook_id": delivery_webhook_id(&event, "crm"),
        "type": EventType::of(&event).to_string(),
        "state": state,
        "attempts": u32::from(last.is_some()),
        "last_status": last.and_then(AttemptOutcome::status),
        "last_error": last.and_then(AttemptOutcome::error),
        "last_attempt_at": last.map(|_| time(3)),
        "next_attempt_at": next_attempt_at,
    })
}

#[test]
fn deliveries_validate_and_wrong_shapes_do_not() {
    let (schema, list) = (component("Delivery"), component("DeliveryList"));
    let answered = |status| AttemptOutcome::Answered {
        status,
        retry_after_s: None,
    };
    let timed_out = AttemptOutcome::NoAnswer {
        reason: "timed out".into(),
    };
    let entries = [
        delivery_entry(DeliveryState::Pending, None, Some(time(2))),
        delivery_entry(DeliveryState::Pending, Some(&answered(503)), Some(time(8))),
        delivery_entry(DeliveryState::Delivered, Some(&answered(204)), None),
        delivery_entry(DeliveryState::Failed, Some(&timed_out), None),
    ];
    for entry in &entries {
        assert_valid(&schema, entry);
    }
    assert_valid(&list, &json!({ "deliveries": entries }));
    assert_valid(&list, &json!({ "deliveries": [] }));

    let good = &entries[1];
    for wrong in [
        broken(good, |value| value["state"] = json!("lost")),
        broken(good, |value| value["attempts"] = json!(-1)),
        broken(good, |value| value["next_attempt_at"] = json!("soon")),
        broken(good, |value| value["last_status"] = json!(1000)),
        broken(good, |value| value["webhook_id"] = json!("msg_1")),
        broken(good, |value| value["kind"] = json!("call")),
        broken(good, |value| remove(value, "next_attempt_at")),
    ] {
        assert!(!schema.is_valid(&wrong), "accepted {wrong}");
    }
    assert!(!list.is_valid(&json!({ "deliveries": {} })));
    assert!(!list.is_valid(&json!([good])));
}

#[test]
fn retry_requests_and_answers_are_as_docs_delivery_md_says() {
    let (subject, failed) = (component("RetryRequest"), component("FailedRetryRequest"));
    for body in [
        json!({}),
        json!({ "endpoint": "crm" }),
        json!({ "all": true }),
        json!({ "endpoint": "crm", "all": false }),
    ] {
        assert_valid(&subject, &body);
    }
    for body in [
        json!({}),
        json!({ "endpoint": "crm" }),
        json!({ "endpoint": "crm", "since": "2026-12-05T00:00:00Z" }),
        json!({ "since": "2026-12-05T01:00:00+01:00" }),
    ] {
        assert_valid(&failed, &body);
    }
    for wrong in [
        json!({ "all": "yes" }),
        json!({ "endpoint": 1 }),
        json!({ "since": "2026-12-05T00:00:00Z" }),
        json!(["crm"]),
        json!("crm"),
    ] {
        assert!(!subject.is_valid(&wrong), "accepted {wrong}");
    }
    for wrong in [
        json!({ "since": "yesterday" }),
        json!({ "all": true }),
        json!({ "endpoint": null }),
        json!([]),
    ] {
        assert!(!failed.is_valid(&wrong), "accepted {wrong}");
    }

    let (retried, retried_failed) = (component("RetryResult"), component("FailedRetryResult"));
    assert_valid(&retried, &json!({ "retried": 2 }));
    for wrong in [
        json!({ "retried": -1 }),
        json!({}),
        json!({ "retried": 2, "all": true }),
    ] {
        assert!(!retried.is_valid(&wrong), "accepted {wrong}");
    }
    let cursor = delivery::encode_failed_cursor(None, "kv-cursor", b"cursor key");
    assert_valid(
        &retried_failed,
        &json!({ "retried": 40, "subjects": 3, "complete": false, "cursor": cursor }),
    );
    assert_valid(
        &retried_failed,
        &json!({ "retried": 0, "subjects": 0, "complete": true, "cursor": null }),
    );
    for wrong in [
        json!({ "retried": 41, "subjects": 3, "complete": false, "cursor": cursor }),
        json!({ "retried": 1, "subjects": 1, "complete": "true", "cursor": null }),
        json!({ "retried": 1, "subjects": 1, "complete": true }),
    ] {
        assert!(!retried_failed.is_valid(&wrong), "accepted {wrong}");
    }
}

#[test]
fn the_delivery_webhook_is_the_cores_request() {
    let document = document();
    let webhooks = document["webhooks"].as_object().expect("webhooks");
    assert_eq!(keys(&document["webhooks"]), set(["delivery"]));
    assert_eq!(keys(&webhooks["delivery"]), set(["post"]));
    let operation = &webhooks["delivery"]["post"];
    assert_eq!(operation["security"], json!([]));
    assert_eq!(
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/DeliveryPayload"
    );
    assert!(operation["responses"]["2XX"].is_object());

    let headers: BTreeMap<&str, &Value> = operation["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .map(|parameter| follow(&document, parameter))
        .filter(|parameter| parameter["in"] == "header")
        .map(|parameter| {
            assert_eq!(parameter["required"], true, "{parameter}");
            (parameter["name"].as_str().expect("a name"), parameter)
        })
        .collect();
    assert_eq!(
        set(headers.keys().copied()),
        set(["webhook-id", "webhook-timestamp", "webhook-signature"])
    );
    let header = |name: &str| validator(&document, &headers[name]["schema"]);

    let events = [full_event()];
    let webhook_id = delivery_webhook_id(&events[0], "crm");
    let body = delivery_payload(&events);
    let timestamp = time(4).millis() / 1000;
    let secrets = [
        SigningSecret::parse(SECRET).unwrap(),
        SigningSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
    ];
    assert_valid(&header("webhook-id"), &json!(webhook_id));
    assert_valid(&header("webhook-timestamp"), &json!(timestamp));
    let signature = header("webhook-signature");
    for count in 1..=secrets.len() {
        let signed =
            delivery::signature_header(&secrets[..count], &webhook_id, timestamp, body.as_bytes());
        assert_valid(&signature, &json!(signed));
    }
    let one = delivery::signature_header(&secrets[..1], &webhook_id, timestamp, body.as_bytes());
    for wrong in [
        one.replace("v1,", "v2,"),
        one.replace("v1,", ""),
        format!("{one},{one}"),
        format!("{one} "),
        "v1,abc=".to_owned(),
        String::new(),
    ] {
        assert!(!signature.is_valid(&json!(wrong)), "accepted {wrong:?}");
    }
}

#[test]
fn operation_ids_are_unique() {
    let document = document();
    let webhooks = document["webhooks"].as_object().expect("webhooks");
    let ids: Vec<&str> = operations(&document)
        .into_iter()
        .map(|(_, _, operation)| operation)
        .chain(
            webhooks
                .values()
                .flat_map(|item| METHODS.iter().filter_map(move |method| item.get(*method))),
        )
        .map(|operation| operation["operationId"].as_str().expect("an operationId"))
        .collect();
    assert_eq!(ids.len(), set(ids.iter().copied()).len(), "{ids:?}");
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
    let listed = set(ASSET_PATHS.iter().chain(DASHBOARD_FILES).copied());
    let unlisted: Vec<_> = files.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "public/ serves {unlisted:?}, not in ASSET_PATHS or DASHBOARD_FILES"
    );
    assert!(files.contains("/openapi.json"));
}

#[test]
fn every_documented_asset_is_served() {
    for asset in ASSET_PATHS.iter().chain(DASHBOARD_FILES) {
        let file = repo_path(&format!("public{asset}"));
        assert!(file.is_file(), "{} is missing", file.display());
    }
}

#[test]
fn the_config_overview_validates_as_serialized() {
    let settings = [
        ("STATUS_API_TOKEN", "status-token"),
        ("TWILIO_AUTH_TOKEN", "twilio-auth-token"),
        ("PUBLIC_BASE_URL", "https://hooks.example.com"),
        ("DELIVERY_ENDPOINTS", "crm,alerts"),
        ("DELIVERY_CRM_URL", "https://crm.example.com/in?key=1"),
        (
            "DELIVERY_CRM_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ("DELIVERY_ALERTS_URL", "http://127.0.0.1:9000/"),
        (
            "DELIVERY_ALERTS_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        ("DELIVERY_ALERTS_EVENTS", "call.*"),
        ("DELIVERY_ALERTS_PROVIDERS", "twilio"),
    ];
    let lookup = |name: &str| {
        settings
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let schema = component("ConfigOverview");
    let overview = serde_json::to_value(Config::from_lookup(lookup).unwrap().overview()).unwrap();
    assert_valid(&schema, &overview);
    let bare = Config::from_lookup(|_| None).unwrap().overview();
    assert_valid(&schema, &serde_json::to_value(bare).unwrap());
    for wrong in [
        broken(&overview, |value| {
            value["providers"][0]["provider"] = json!("nexmo")
        }),
        broken(&overview, |value| {
            value["delivery"]["endpoints"][0]["secrets"] = json!(0)
        }),
        broken(&overview, |value| value["surprise"] = json!(1)),
        broken(&overview, |value| remove(value, "public_base_url")),
    ] {
        assert!(!schema.is_valid(&wrong), "accepted {wrong}");
    }
}
