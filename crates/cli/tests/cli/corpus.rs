//! The fixture corpus (`tests/fixtures/corpus/<provider>/*.json`): one case per row of the
//! event/status tables in `docs/providers/<provider>.md` §3, each asserted to the outcome that
//! row documents, through the core and through `switchboard verify`.
//!
//! A case is `{"source", "row", "request", "expect"}`: `request` is an unsigned captured request,
//! signed here with the provider's own signer and the development settings; `row` is
//! `<table heading> | <first cell>` of a docs row; `expect` is `{"events": [...]}` (each event
//! object lists only the fields that matter, `null` meaning absent) or `{"refused": "<code>"}`.
//! The docs tables are read at test time, so a row without a case (other than those listed in
//! [`UNCOVERED`]) or a case naming no row fails the test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use switchboard_core::registry::{secret_setting, ProviderEntry, PROVIDERS};
use switchboard_core::{
    configured_provider, configured_signer, CapturedRequest, Config, ProviderId, Timestamp,
};

use crate::support::Switchboard;

const NOW: i64 = 1_767_225_600;

/// Every provider has at least this many cases.
const MIN_CASES: usize = 7;

/// Docs rows without a case, and why.
const UNCOVERED: [(&str, &str, &str); 1] = [(
    "vonage",
    "Webhooks Vonage documents that this endpoint does not normalize | Answer webhook (`answer_url`)",
    "not sent to Switchboard (it must return an NCCO); no outcome documented",
)];

/// Development settings of every provider, as in `.dev.vars.example`.
fn dev_setting(name: &str) -> Option<String> {
    PROVIDERS
        .iter()
        .flat_map(ProviderEntry::dev_settings)
        .chain([("VONAGE_SIGNATURE_METHOD", "sha256")])
        .find(|(setting, _)| *setting == name)
        .map(|(_, value)| value.to_owned())
}

fn repo_path(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `<heading> | <first cell>` of every data row of the tables in §3 of a provider's docs.
fn docs_rows(provider: &str) -> Vec<String> {
    let path = repo_path(&format!("../../docs/providers/{provider}.md"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut rows = Vec::new();
    let mut heading = String::new();
    let mut in_section = false;
    let mut table_line = 0;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_section = line.starts_with("## 3.");
        }
        if !in_section {
            continue;
        }
        if line.starts_with('#') {
            heading = strip_citation(line.trim_start_matches('#').trim()).to_owned();
        }
        if !line.starts_with('|') {
            table_line = 0;
            continue;
        }
        table_line += 1;
        // Line 1 is the header, line 2 the separator.
        if table_line > 2 {
            rows.push(format!("{heading} | {}", first_cell(line)));
        }
    }
    rows
}

/// A heading without its trailing `[S1, S2]` source references.
fn strip_citation(heading: &str) -> &str {
    match heading
        .strip_suffix(']')
        .and_then(|rest| rest.rsplit_once(" ["))
    {
        Some((before, _)) => before.trim_end(),
        None => heading,
    }
}

/// The first cell of a table line; `|` inside backticks does not end a cell.
fn first_cell(line: &str) -> String {
    let mut in_code = false;
    let mut cell = String::new();
    for character in line.trim().trim_start_matches('|').chars() {
        match character {
            '`' => in_code = !in_code,
            '|' if !in_code => break,
            _ => {}
        }
        cell.push(character);
    }
    cell.trim().to_owned()
}

struct Case {
    file: String,
    row: String,
    request: CapturedRequest,
    expect: Json,
}

fn cases(provider: &str) -> Vec<Case> {
    let dir = repo_path(&format!("tests/fixtures/corpus/{provider}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let file = format!("{provider}/{}", path.file_name().unwrap().to_string_lossy());
            let text = std::fs::read_to_string(path).unwrap();
            let mut case: Json =
                serde_json::from_str(&text).unwrap_or_else(|error| panic!("{file}: {error}"));
            assert!(
                case["source"]
                    .as_str()
                    .is_some_and(|source| !source.is_empty()),
                "{file}: no source"
            );
            let request = serde_json::from_value(case["request"].take())
                .unwrap_or_else(|error| panic!("{file}: request: {error}"));
            Case {
                row: case["row"].as_str().unwrap_or_default().to_owned(),
                expect: case["expect"].take(),
                file,
                request,
            }
        })
        .collect()
}

/// Whether `actual` has every member `expected` names, recursively; `null` matches an absent
/// member.
fn matches(expected: &Json, actual: &Json) -> bool {
    match expected {
        Json::Object(members) => members
            .iter()
            .all(|(name, value)| matches(value, actual.get(name).unwrap_or(&Json::Null))),
        other => other == actual,
    }
}

/// Checks the core's outcome against the case, then the CLI's against the core's.
fn check(
    switchboard: &Switchboard,
    index: usize,
    provider: ProviderId,
    config: &Config,
    case: &Case,
) -> Result<(), String> {
    let now = Timestamp::from_unix_seconds(NOW);
    let signer = configured_signer(config, provider).expect("development settings");
    let signed = signer
        .sign(&case.request, now)
        .map_err(|error| format!("signing: {error}"))?;
    let core = configured_provider(config, provider).expect("development settings");
    let received = core.receive(&signed, now);

    let outcome = match &received {
        Ok(events) => serde_json::json!({
            "events": serde_json::to_value(events).expect("events serialize")
        }),
        Err(error) => serde_json::json!({"refused": error.code()}),
    };
    let documented = match (&case.expect["events"], &case.expect["refused"]) {
        (Json::Array(expected), Json::Null) => outcome["events"].as_array().is_some_and(|events| {
            events.len() == expected.len()
                && expected
                    .iter()
                    .zip(events)
                    .all(|(expected, event)| matches(expected, event))
        }),
        (Json::Null, refused @ Json::String(_)) => &outcome["refused"] == refused,
        _ => return Err(format!("malformed expect: {}", case.expect)),
    };
    if !documented {
        return Err(format!(
            "the core gives {outcome:#}\nthe case expects {:#}",
            case.expect
        ));
    }

    let file = switchboard.write(
        &format!("{index:03}.json"),
        &serde_json::to_string_pretty(&signed).expect("serializable"),
    );
    let secret = dev_setting(secret_setting(provider)).expect("a development secret");
    let mut args = vec![
        "verify".to_owned(),
        "--provider".to_owned(),
        provider.to_string(),
        format!("--secret={secret}"),
        format!("--now={NOW}"),
    ];
    if provider == ProviderId::Vonage {
        args.push(format!(
            "--method={}",
            dev_setting("VONAGE_SIGNATURE_METHOD").unwrap()
        ));
    }
    args.push(file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = switchboard.run(&args);
    let shown = format!(
        "exit {}\n--- stdout\n{}\n--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
    match &received {
        Ok(_) => {
            let printed: Option<Json> = serde_json::from_str(&run.stdout).ok();
            if run.code != 0
                || printed.as_ref() != Some(&outcome["events"])
                || !run.stderr.is_empty()
            {
                return Err(format!(
                    "the core gives {}; CLI: {shown}",
                    outcome["events"]
                ));
            }
        }
        Err(error) => {
            let line = format!("{}: {error}", error.code());
            if run.code != 1 || run.stderr.trim_end() != line || !run.stdout.is_empty() {
                return Err(format!("the core refuses with `{line}`; CLI: {shown}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_docs_row_has_a_case_that_gives_its_documented_outcome_through_the_core_and_verify() {
    let config = Config::from_lookup(dev_setting).expect("development settings");
    let switchboard = Switchboard::new("corpus_through_verify");
    let mut failures = Vec::new();
    let mut index = 0;
    for provider in [
        ProviderId::Vonage,
        ProviderId::VonageBusiness,
        ProviderId::Telnyx,
        ProviderId::Bird,
        ProviderId::MessageBird,
        ProviderId::Twilio,
        ProviderId::Plivo,
    ] {
        let name = provider.to_string();
        let rows = docs_rows(&name);
        let cases = cases(&name);
        if cases.len() < MIN_CASES {
            failures.push(format!(
                "{name}: {} cases, fewer than {MIN_CASES}",
                cases.len()
            ));
        }
        let mut covered = BTreeSet::new();
        for case in &cases {
            index += 1;
            if !rows.contains(&case.row) {
                failures.push(format!("{}: no docs row `{}`", case.file, case.row));
            }
            covered.insert(case.row.as_str());
            if let Err(problem) = check(&switchboard, index, provider, &config, case) {
                failures.push(format!("{} ({}):\n{problem}", case.file, case.row));
            }
        }
        let uncovered: Vec<&str> = rows
            .iter()
            .map(String::as_str)
            .filter(|row| !covered.contains(row))
            .collect();
        let allowed: Vec<&str> = UNCOVERED
            .iter()
            .filter(|(listed, _, _)| *listed == name)
            .map(|(_, row, _)| *row)
            .collect();
        if uncovered != allowed {
            failures.push(format!(
                "{name}: rows without a case {uncovered:#?}, expected {allowed:#?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems in {index} cases:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
