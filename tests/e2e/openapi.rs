//! Every answer the tests' [`Client`](crate::http::Client) receives is checked against
//! `public/openapi.json`: the operation is found by parsing the request path with the core's
//! route table (`switchboard_core::route`), its status must be one the operation documents, and
//! its body must validate against the documented schema (JSON Schema 2020-12). A path no route
//! has must answer the document's `NotFound`, a method its path does not answer
//! `MethodNotAllowed`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::Validator;
use serde_json::Value;
use switchboard_core::route::{path_segments, static_file, Route, ASSET_PATHS};

#[path = "../../crates/core/tests/common/openapi_schema.rs"]
mod openapi_schema;

use crate::http::Response;
use crate::worker::project_root;

pub const DOCUMENT_PATH: &str = "public/openapi.json";

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let text = std::fs::read_to_string(project_root().join(DOCUMENT_PATH))
        .unwrap_or_else(|error| panic!("reading {DOCUMENT_PATH}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{DOCUMENT_PATH}: {error}"))
});

/// Validators by the JSON pointer of their schema in the document, built once.
static VALIDATORS: LazyLock<Mutex<HashMap<String, Arc<Validator>>>> = LazyLock::new(Mutex::default);

/// Panics, failing the test, unless `response` is one the document allows for `method` on
/// `path_and_query`.
pub fn check(method: &str, path_and_query: &str, response: &Response) {
    if let Err(problem) = conformance(method, path_and_query, response) {
        panic!(
            "{method} {path_and_query} answered {} {}: {problem} ({DOCUMENT_PATH})",
            response.status, response.body
        );
    }
}

fn conformance(method: &str, path_and_query: &str, response: &Response) -> Result<(), String> {
    let path = path_and_query.split(['?', '#']).next().unwrap_or_default();
    // The dashboard's page and files, and `/` that leads to it, are for people: not in the API's
    // document (tests/e2e/dashboard.rs checks them).
    let dashboard = static_file(path).is_some_and(|file| !ASSET_PATHS.contains(&file));
    if dashboard || path == "/" {
        return Ok(());
    }
    let Some(template) = template_of(path) else {
        return matches_response("/components/responses/NotFound", response);
    };
    let operation_pointer = format!(
        "/paths/{}/{}",
        escape(template),
        method.to_ascii_lowercase()
    );
    if DOCUMENT.pointer(&operation_pointer).is_none() {
        return matches_response("/components/responses/MethodNotAllowed", response);
    }
    let status = response.status.to_string();
    let response_pointer = format!("{operation_pointer}/responses/{status}");
    if DOCUMENT.pointer(&response_pointer).is_none() {
        return Err(format!(
            "{method} {template} does not document status {status}"
        ));
    }
    matches_response(&response_pointer, response)
}

/// The documented path `path` is an instance of: an asset's own, or its route's template.
fn template_of(path: &str) -> Option<&'static str> {
    if let Some(asset) = ASSET_PATHS.iter().find(|asset| **asset == path) {
        return Some(asset);
    }
    let segments = path_segments(path);
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    Route::parse(&segments).map(|route| route.template().path)
}

/// A path as one JSON pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// `pointer`, or where the `$ref` there points.
fn follow(pointer: &str) -> String {
    match DOCUMENT
        .pointer(pointer)
        .and_then(|value| value["$ref"].as_str())
    {
        Some(reference) => reference.trim_start_matches('#').to_owned(),
        None => pointer.to_owned(),
    }
}

/// Whether `response` is the documented response at `pointer`: its status, and its body valid
/// against the JSON schema there, or empty if none is documented.
fn matches_response(pointer: &str, response: &Response) -> Result<(), String> {
    let pointer = follow(pointer);
    let documented = DOCUMENT.pointer(&pointer).expect("a documented response");
    let schema_pointer = format!("{pointer}/content/application~1json/schema");
    let Some(schema) = DOCUMENT.pointer(&schema_pointer) else {
        return match &documented["content"] {
            Value::Object(_) => Ok(()),
            _ if response.body.is_empty() => Ok(()),
            _ => Err(format!("{pointer} documents no body")),
        };
    };
    if let Some(status) = error_status(&pointer) {
        if status != response.status {
            return Err(format!("{pointer} is a {status}"));
        }
    }
    let content_type = response.header("content-type").unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(format!("content-type {content_type:?}, not JSON"));
    }
    let body: Value = serde_json::from_str(&response.body)
        .map_err(|error| format!("the body is not JSON: {error}"))?;
    let validator = validator(&schema_pointer, schema);
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|error| format!("{error} at `{}`", error.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "invalid against {schema_pointer}: {}",
            errors.join("; ")
        ))
    }
}

/// The status of a shared error response (`NotFound` 404, `MethodNotAllowed` 405), which is
/// not fixed by an operation's `responses` key.
fn error_status(pointer: &str) -> Option<u16> {
    match pointer {
        "/components/responses/NotFound" => Some(404),
        "/components/responses/MethodNotAllowed" => Some(405),
        _ => None,
    }
}

fn validator(pointer: &str, schema: &Value) -> Arc<Validator> {
    let mut validators = VALIDATORS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let validator = validators
        .entry(pointer.to_owned())
        .or_insert_with(|| Arc::new(openapi_schema::validator(&DOCUMENT, schema, pointer)));
    Arc::clone(validator)
}
