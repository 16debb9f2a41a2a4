//! Changes anyone can make to a signed request without the secret, for the differential property
//! tests (`differential.rs` of the provider test crates that include this file): a mutated
//! request must be refused, or give the very same events as the original.

use proptest::prelude::*;
use proptest::sample::{select, Index};
use switchboard_core::{CapturedRequest, Provider, Timestamp};

/// One change to a signed request.
#[derive(Debug, Clone)]
pub enum Mutation {
    Method(&'static str),
    /// Moves the query into the body, as a form.
    QueryToBody,
    /// Moves the body into the query.
    BodyToQuery,
    /// Appends a raw pair to the query.
    AddQuery(String),
    /// Appends a raw pair to the body (`&`-joined).
    AddBody(String),
    RemoveBody,
    /// Sets `Content-Type`, or removes it.
    ContentType(Option<&'static str>),
    /// Sets a header the schemes do not sign, or removes it.
    Header(&'static str, Option<String>),
    /// Gives one of the request's headers twice, as the Fetch API joins a repeated header.
    RepeatHeader(Index),
    /// Adds a header whose name looks like one of the request's headers.
    LookalikeHeader(Index, Lookalike),
    Url(UrlChange),
    /// Rewrites a JSON object body with the same members.
    Json(JsonChange),
}

#[derive(Debug, Clone, Copy)]
pub enum Lookalike {
    Prefixed,
    Underscored,
    Suffixed,
}

#[derive(Debug, Clone, Copy)]
pub enum UrlChange {
    OtherHost,
    Port,
    TrailingSlash,
    EncodedSlash,
    UpperHost,
    UpperPath,
    Fragment,
}

#[derive(Debug, Clone, Copy)]
pub enum JsonChange {
    Pretty,
    Padded,
    DuplicateMember,
    Reversed,
}

const CONTENT_TYPES: [Option<&str>; 8] = [
    None,
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("APPLICATION/JSON"),
    Some("application/vnd.api+json"),
    Some("application/x-www-form-urlencoded"),
    Some("application/x-www-form-urlencoded; charset=UTF-8"),
    Some("text/plain"),
];

const UNSIGNED_HEADERS: [&str; 8] = [
    "user-agent",
    "accept",
    "authorization",
    "content-length",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-request-id",
    "messagebird-request-id",
];

/// Values of added parameters: plain, empty, encoded, and a status word.
const VALUES: [&str; 6] = ["FORGED", "", "a+b", "%41", "delivered", "completed"];

/// A raw `name=value` pair in one of the forms a parser may read differently from a signer:
/// plain, with `;`, with a malformed `%` escape, with `=` and `&` encoded, without `=`, twice.
pub fn raw_pair(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    (select(names), select(&VALUES[..]), 0..8_u8).prop_map(|(name, value, form)| match form {
        0 => format!("{name}={value}"),
        1 => format!("{name}={value};"),
        2 => format!("{name};x={value}"),
        3 => format!("{name}=%zz{value}"),
        4 => format!("{name}={value}%4"),
        5 => format!("{name}%3D{value}=%26{value}"),
        6 => name.to_owned(),
        _ => format!("{name}={value}&{name}={value}"),
    })
}

/// Method, `Content-Type` and other headers: nothing any scheme here signs but its own headers.
pub fn metadata() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        select(vec!["GET", "POST", "PUT"]).prop_map(Mutation::Method),
        select(&CONTENT_TYPES[..]).prop_map(Mutation::ContentType),
        (
            select(&UNSIGNED_HEADERS[..]),
            prop::option::of("[ -~]{0,16}")
        )
            .prop_map(|(name, value)| Mutation::Header(name, value)),
        any::<Index>().prop_map(Mutation::RepeatHeader),
        (
            any::<Index>(),
            select(vec![
                Lookalike::Prefixed,
                Lookalike::Underscored,
                Lookalike::Suffixed
            ])
        )
            .prop_map(|(index, kind)| Mutation::LookalikeHeader(index, kind)),
    ]
}

/// Parameters moved between query and body, added (named from `names`), or the body removed;
/// with the method and `Content-Type` that go with them.
pub fn parameters(names: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => Just(Mutation::QueryToBody),
        1 => Just(Mutation::BodyToQuery),
        3 => raw_pair(names).prop_map(Mutation::AddQuery),
        2 => raw_pair(names).prop_map(Mutation::AddBody),
        1 => Just(Mutation::RemoveBody),
        1 => select(vec!["GET", "POST"]).prop_map(Mutation::Method),
        1 => select(&CONTENT_TYPES[..]).prop_map(Mutation::ContentType),
    ]
}

/// URL variants, query additions and JSON rewrites.
pub fn rewrites(names: &'static [&'static str]) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        select(vec![
            UrlChange::OtherHost,
            UrlChange::Port,
            UrlChange::TrailingSlash,
            UrlChange::EncodedSlash,
            UrlChange::UpperHost,
            UrlChange::UpperPath,
            UrlChange::Fragment,
        ])
        .prop_map(Mutation::Url),
        raw_pair(names).prop_map(Mutation::AddQuery),
        select(vec![
            JsonChange::Pretty,
            JsonChange::Padded,
            JsonChange::DuplicateMember,
            JsonChange::Reversed,
        ])
        .prop_map(Mutation::Json),
    ]
}

/// One to three mutations drawn from `strategy`, applied in turn.
pub fn mutated(strategy: impl Strategy<Value = Mutation>) -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(strategy, 1..4)
}

/// The property: `original` is accepted, and the request `mutations` make of it is refused or
/// gives the same events, both received at `now`.
pub fn check(
    provider: &impl Provider,
    original: &CapturedRequest,
    mutations: &[Mutation],
    now: Timestamp,
) -> Result<(), TestCaseError> {
    let expected = provider.receive(original, now);
    prop_assert!(expected.is_ok(), "the original is refused: {:?}", expected);
    let mutated = mutations.iter().fold(original.clone(), apply);
    if let Ok(events) = provider.receive(&mutated, now) {
        prop_assert_eq!(
            Ok(events),
            expected,
            "the mutated request {:?} gives other events",
            mutated
        );
    }
    Ok(())
}

fn apply(mut request: CapturedRequest, mutation: &Mutation) -> CapturedRequest {
    match mutation {
        Mutation::Method(method) => request.method = (*method).to_owned(),
        Mutation::QueryToBody => {
            if let Some((base, query)) = request.url.clone().split_once('?') {
                request.url = base.to_owned();
                append_pair(&mut request.body, query.as_bytes());
                request.set_header("content-type", "application/x-www-form-urlencoded");
            }
        }
        Mutation::BodyToQuery => {
            if !request.body.is_empty() {
                let body = String::from_utf8_lossy(&request.body).into_owned();
                add_query(&mut request.url, &body);
                request.body.clear();
            }
        }
        Mutation::AddQuery(pair) => add_query(&mut request.url, pair),
        Mutation::AddBody(pair) => append_pair(&mut request.body, pair.as_bytes()),
        Mutation::RemoveBody => request.body.clear(),
        Mutation::ContentType(Some(value)) => request.set_header("content-type", value),
        Mutation::ContentType(None) => {
            request.headers.remove("content-type");
        }
        Mutation::Header(name, Some(value)) => request.set_header(name, value),
        Mutation::Header(name, None) => {
            request.headers.remove(*name);
        }
        Mutation::RepeatHeader(index) => {
            if let Some((name, value)) = pick(&request, *index) {
                request.set_header(&name, &format!("{value}, {value}"));
            }
        }
        Mutation::LookalikeHeader(index, kind) => {
            if let Some((name, value)) = pick(&request, *index) {
                let lookalike = match kind {
                    Lookalike::Prefixed => format!("x-{name}"),
                    Lookalike::Underscored => name.replace('-', "_"),
                    Lookalike::Suffixed => format!("{name}-2"),
                };
                request.set_header(&lookalike, &format!("{value}x"));
            }
        }
        Mutation::Url(change) => request.url = changed_url(&request.url, *change),
        Mutation::Json(change) => {
            if let Some(body) = rewritten_json(&request.body, *change) {
                request.body = body;
            }
        }
    }
    request
}

fn pick(request: &CapturedRequest, index: Index) -> Option<(String, String)> {
    if request.headers.is_empty() {
        return None;
    }
    let position = index.index(request.headers.len());
    request
        .headers
        .iter()
        .nth(position)
        .map(|(name, value)| (name.clone(), value.clone()))
}

fn append_pair(body: &mut Vec<u8>, pair: &[u8]) {
    if !body.is_empty() {
        body.push(b'&');
    }
    body.extend_from_slice(pair);
}

fn add_query(url: &mut String, pair: &str) {
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(pair);
}

/// `url` split as scheme with `://`, host (with port), path, and the rest (query, fragment).
fn url_parts(url: &str) -> (&str, &str, &str, &str) {
    let host_start = url.find("://").map_or(0, |index| index + 3);
    let path_start = url[host_start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |index| host_start + index);
    let rest_start = url[path_start..]
        .find(['?', '#'])
        .map_or(url.len(), |index| path_start + index);
    (
        &url[..host_start],
        &url[host_start..path_start],
        &url[path_start..rest_start],
        &url[rest_start..],
    )
}

fn changed_url(url: &str, change: UrlChange) -> String {
    let (scheme, host, path, rest) = url_parts(url);
    match change {
        UrlChange::OtherHost => format!("{scheme}elsewhere.example{path}{rest}"),
        UrlChange::Port => format!("{scheme}{host}:8443{path}{rest}"),
        UrlChange::TrailingSlash => format!("{scheme}{host}{path}/{rest}"),
        UrlChange::EncodedSlash => {
            let path = match path.rfind('/') {
                Some(0) | None => path.to_owned(),
                Some(index) => format!("{}%2F{}", &path[..index], &path[index + 1..]),
            };
            format!("{scheme}{host}{path}{rest}")
        }
        UrlChange::UpperHost => format!("{scheme}{}{path}{rest}", host.to_ascii_uppercase()),
        UrlChange::UpperPath => format!("{scheme}{host}{}{rest}", path.to_ascii_uppercase()),
        UrlChange::Fragment => format!("{url}#f"),
    }
}

/// A JSON object body with the same members written otherwise; `None` for another body.
fn rewritten_json(body: &[u8], change: JsonChange) -> Option<Vec<u8>> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    let member = |(key, value): (&String, &serde_json::Value)| {
        format!("{}:{value}", serde_json::Value::String(key.clone()))
    };
    let members: Vec<String> = object.iter().map(member).collect();
    Some(match change {
        JsonChange::Pretty => serde_json::to_vec_pretty(&object).ok()?,
        JsonChange::Padded => [b" ", body, b"\n"].concat(),
        JsonChange::DuplicateMember => {
            let first = members.first()?;
            format!("{{{first},{}}}", members.join(",")).into_bytes()
        }
        JsonChange::Reversed => {
            let reversed: Vec<&str> = members.iter().rev().map(String::as_str).collect();
            format!("{{{}}}", reversed.join(",")).into_bytes()
        }
    })
}
