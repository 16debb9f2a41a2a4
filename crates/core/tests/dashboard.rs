//! The dashboard (public/dashboard/app.js) names the providers and statuses its filters offer:
//! they must be the core's, in the core's order.

use std::path::Path;

use switchboard_core::{ProviderId, Status};

/// The string array `const {name} = [...];` of the dashboard's script.
fn constant(source: &str, name: &str) -> Vec<String> {
    let start = source
        .find(&format!("const {name} = ["))
        .unwrap_or_else(|| panic!("app.js defines {name}"));
    let array = &source[start + name.len() + 9..];
    let array = &array[..=array.find(']').expect("the array ends")];
    serde_json::from_str(array).unwrap_or_else(|error| panic!("{name}: {error}"))
}

#[test]
fn the_dashboards_filters_are_the_cores_providers_and_statuses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../public/dashboard/app.js");
    let source = std::fs::read_to_string(path).expect("public/dashboard/app.js is readable");
    let names = |statuses: &[Status]| -> Vec<String> {
        statuses
            .iter()
            .map(|status| status.as_str().to_owned())
            .collect()
    };
    assert_eq!(
        constant(&source, "PROVIDERS"),
        ProviderId::ALL.map(|provider| provider.as_str().to_owned())
    );
    assert_eq!(constant(&source, "CALL_STATUSES"), names(&Status::CALL));
    assert_eq!(
        constant(&source, "MESSAGE_STATUSES"),
        names(&Status::MESSAGE)
    );
}
