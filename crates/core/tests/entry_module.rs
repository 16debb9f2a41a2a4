//! The JavaScript side of the Durable Object protocol matches `switchboard_core::protocol`:
//! `scripts/worker-entry.mjs` is exactly what `protocol::entry_module` renders from
//! `protocol::ENTRY` (every exported class, every method the runtime or a caller calls, each
//! forwarding to the wasm object's method of the same name, and nothing else), and
//! wrangler.toml binds each class under its protocol binding. The worker's Rust side (the
//! object's RPC exports and the callers' bindings) is checked against the same names when it
//! compiles (`src/protocol.rs`).
//!
//! `SWITCHBOARD_WRITE_ENTRY=1 cargo test -p switchboard-core --test entry_module` rewrites the
//! entry module from the protocol.

use std::path::PathBuf;

use switchboard_core::protocol::{entry_module, ENTRY};

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path))
        .unwrap_or_else(|error| panic!("reading {path}: {error}"))
}

#[test]
fn the_entry_module_is_the_one_the_protocol_renders() {
    let path = "scripts/worker-entry.mjs";
    let expected = entry_module();
    if std::env::var_os("SWITCHBOARD_WRITE_ENTRY").is_some() {
        std::fs::write(repo_file(path), &expected)
            .unwrap_or_else(|error| panic!("writing {path}: {error}"));
        return;
    }
    let actual = read(path);
    if actual != expected {
        let first_difference = actual
            .lines()
            .zip(expected.lines())
            .position(|(actual, expected)| actual != expected)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "{path} differs from crates/core/src/protocol.rs `ENTRY` from line {}: it has\n  {:?}\nwhere the protocol renders\n  {:?}\n\
             Change the protocol (and rewrite the file with SWITCHBOARD_WRITE_ENTRY=1), not the file. \
             The protocol renders:\n{expected}",
            first_difference + 1,
            actual.lines().nth(first_difference).unwrap_or("(end of file)"),
            expected.lines().nth(first_difference).unwrap_or("(end of file)"),
        );
    }
}

/// The `(name, class_name)` of every `[[durable_objects.bindings]]` table, read line by line
/// (the file keeps both keys on their own lines, as wrangler writes them).
fn wrangler_bindings(toml: &str) -> Vec<(String, String)> {
    let value = |line: &str, key: &str| {
        let (name, value) = line.split_once('=')?;
        (name.trim() == key).then(|| value.trim().trim_matches('"').to_owned())
    };
    let mut bindings = Vec::new();
    let mut table = "";
    let mut name = None;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            table = line;
            name = None;
        } else if table == "[[durable_objects.bindings]]" {
            if let Some(binding) = value(line, "name") {
                name = Some(binding);
            } else if let (Some(class), Some(binding)) = (value(line, "class_name"), name.take()) {
                bindings.push((binding, class));
            }
        }
    }
    bindings
}

#[test]
fn wrangler_binds_every_class_under_its_protocol_binding() {
    let mut bound = wrangler_bindings(&read("wrangler.toml"));
    let mut expected: Vec<(String, String)> = ENTRY
        .iter()
        .map(|class| (class.binding.to_owned(), class.name.to_owned()))
        .collect();
    bound.sort();
    expected.sort();
    assert_eq!(
        bound, expected,
        "wrangler.toml [[durable_objects.bindings]]"
    );
}

#[test]
fn the_rendered_module_forwards_every_method_by_its_own_name() {
    use switchboard_core::protocol::Export;
    let module = entry_module();
    for class in ENTRY {
        match class.export {
            Export::AsBuilt => assert!(
                module.lines().any(|line| line
                    .strip_prefix("export { ")
                    .and_then(|rest| rest.strip_suffix(" } from \"./index.js\";"))
                    .is_some_and(|names| names.split(", ").any(|name| name == class.name))),
                "{} is exported as built",
                class.name
            ),
            Export::Wrapped { handlers, rpc } => {
                assert!(module.contains(&format!(
                    "export class {} extends DurableObject {{",
                    class.name
                )));
                for method in handlers {
                    let params = method.params.join(", ");
                    assert!(module.contains(&format!(
                        "  {name}({params}) {{\n    return this.#inner.{name}({params});\n  }}\n",
                        name = method.name
                    )));
                }
                // An RPC method's writes commit together (an event and its deliveries).
                for method in rpc {
                    let params = method.params.join(", ");
                    assert!(module.contains(&format!(
                        "  {name}({params}) {{\n    return this.ctx.storage.transactionSync(() => this.#inner.{name}({params}));\n  }}\n",
                        name = method.name
                    )));
                }
            }
        }
    }
}
