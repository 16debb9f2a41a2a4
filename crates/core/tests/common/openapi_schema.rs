//! A JSON Schema 2020-12 validator for one schema of `public/openapi.json`, shared by the
//! document's own test (`crates/core/tests/openapi.rs`) and the end-to-end tests, which check
//! every answer of the running worker with it (`tests/e2e/openapi.rs`).

use jsonschema::{Draft, Validator};
use serde_json::{json, Value};

/// A validator of `schema`, which may `$ref` the component schemas of `document`; `what` names
/// the schema should it not be one.
pub fn validator(document: &Value, schema: &Value, what: &str) -> Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": document["components"]["schemas"],
        "allOf": [schema],
    });
    let root: Value = serde_json::from_str(
        &root
            .to_string()
            .replace("#/components/schemas/", "#/$defs/"),
    )
    .expect("JSON");
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|error| panic!("{what} is not a valid schema: {error}"))
}
