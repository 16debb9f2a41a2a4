//! The protocol between the worker and its Durable Objects, in one place: the classes the entry
//! module exports, their bindings, the routes each object serves, the RPC methods it offers,
//! and the request and answer types of each. The object (`src/subject.rs`,
//! `src/token_guard.rs`) and its callers (`src/api.rs`, `src/webhook.rs`, through
//! `src/protocol.rs`) both use these, so a route or a method is named once.
//!
//! Pure and serializable, so it is tested natively: the round trips below, and
//! `tests/entry_module.rs`, which checks that `scripts/worker-entry.mjs` is exactly what
//! [`entry_module`] renders from [`ENTRY`]. The worker checks at compile time that the RPC
//! methods it exports and calls are the ones named here (`src/protocol.rs`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::request::{query_params, url_path, Redacted};
use crate::{Event, Kind, ProviderId};

/// A method of an exported class: its JavaScript name and parameters, and what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    pub params: &'static [&'static str],
    /// One line for the entry module; empty for none.
    pub doc: &'static str,
}

/// How the entry module exports a Durable Object class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// As worker-build builds it: called with `fetch` only.
    AsBuilt,
    /// Wrapped in a class that extends `DurableObject` (workerd offers RPC only on such a
    /// class, and the class workers-rs 0.8's `#[durable_object]` exports is not one); every
    /// method forwards to the wasm object's method of the same name.
    Wrapped {
        /// The handlers the runtime calls (`fetch`, `alarm`).
        handlers: &'static [Method],
        /// The methods callers call over RPC. Each runs in one storage transaction
        /// (`ctx.storage.transactionSync`): its writes commit together or, if it throws, not at
        /// all (an event and its deliveries, see `src/outbox.rs`).
        rpc: &'static [Method],
    },
}

/// One Durable Object class of the entry module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    /// The class name: `class_name` in wrangler.toml, and the wasm export's name.
    pub name: &'static str,
    /// The namespace binding the worker reaches it through (wrangler.toml).
    pub binding: &'static str,
    pub export: Export,
}

/// The Durable Object classes of the worker, in the order the entry module exports them.
pub const ENTRY: &[Class] = &[token_guard::CLASS, source::CLASS, subject::CLASS];

const FETCH: Method = Method {
    name: "fetch",
    params: &["request"],
    doc: "",
};

const ALARM: Method = Method {
    name: "alarm",
    params: &[],
    doc: "",
};

/// The handlers of the WebSocket Hibernation API, which the runtime calls on the class it was
/// handed: sockets accepted by `acceptWebSocket` are served by these, not by the wasm object.
const WEBSOCKET_HANDLERS: [Method; 3] = [
    Method {
        name: "webSocketMessage",
        params: &["ws", "message"],
        doc: "",
    },
    Method {
        name: "webSocketClose",
        params: &["ws", "code", "reason", "wasClean"],
        doc: "",
    },
    Method {
        name: "webSocketError",
        params: &["ws", "error"],
        doc: "",
    },
];

/// A Durable Object's answer to a read, by its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadAnswer {
    /// 200, with the answer as JSON.
    Found,
    /// 404: the object has nothing by that name.
    NotFound,
    /// 410: the object had it and has dropped it (a raw request past `RAW_REQUEST_DAYS`).
    Gone,
}

impl ReadAnswer {
    pub const fn status(self) -> u16 {
        match self {
            Self::Found => 200,
            Self::NotFound => 404,
            Self::Gone => 410,
        }
    }

    /// `None` for a status the protocol does not allow (a bug on one side).
    pub fn from_status(status: u16) -> Option<Self> {
        [Self::Found, Self::NotFound, Self::Gone]
            .into_iter()
            .find(|answer| answer.status() == status)
    }
}

/// `Subject`: the Durable Object that owns one call or one message.
pub mod subject {
    use super::*;

    pub const CLASS: Class = Class {
        name: "Subject",
        binding: "SUBJECTS",
        export: Export::Wrapped {
            handlers: &[
                FETCH,
                ALARM,
                WEBSOCKET_HANDLERS[0],
                WEBSOCKET_HANDLERS[1],
                WEBSOCKET_HANDLERS[2],
            ],
            rpc: RPC,
        },
    };

    /// Commits one event: `body` is an [`AppendRequest`] as JSON text; answers a boolean,
    /// whether the event was a duplicate. Throws a `TypeError` for a body that is not an
    /// append request (a bug on one side: workerd throws one too for a method the object does
    /// not have, and keeps the type of a standard error across RPC), and another error when
    /// the object or its storage failed.
    pub const APPEND: Method = Method {
        name: "append",
        params: &["body"],
        doc: "`body`: an append request as JSON text. Answers whether the event was a duplicate.",
    };

    /// Erases the subject now: `body` is an [`Erase`] as JSON text; answers whether it had
    /// events (and, for an erasure by number, that number) and is erased. Like an append, in
    /// one storage transaction: the subject's tables go, and what erasure still owes KV is
    /// recorded, together.
    pub const ERASE: Method = Method {
        name: "erase",
        params: &["body"],
        doc: "`body`: an erase request as JSON text. Answers whether the subject was erased.",
    };

    /// The methods called over RPC.
    pub const RPC: &[Method] = &[APPEND, ERASE];

    /// Why a subject is erased: its log line says this and the subject's name, never its data.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum ErasureReason {
        /// Its last event is older than `RETENTION_DAYS` (the object's alarm).
        Expired,
        /// `DELETE /v1/{calls|messages}/{provider}/{id}`.
        Request,
        /// `POST /v1/erase` with one of its numbers.
        PhoneNumber,
    }

    /// An erasure asked of a subject ([`ERASE`]).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Erase {
        pub reason: ErasureReason,
        /// Only if its `from` or `to` is the number of this digest
        /// (`crate::index::number_digest`): a number key may be older than the subject it
        /// names now.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub number_digest: Option<String>,
        /// Only if this is one of its aliases: the alias index may name a subject erased since
        /// (KV is eventually consistent) while a later subject has its id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub alias: Option<String>,
    }

    impl Erase {
        /// The erasure of a subject whose retention has run out.
        pub fn expired() -> Self {
            Self {
                reason: ErasureReason::Expired,
                number_digest: None,
                alias: None,
            }
        }
    }

    /// The object name for a subject; also the namespace key of the KV index entries.
    pub fn object_name(provider: ProviderId, kind: Kind, id: &str) -> String {
        format!("{provider}:{}:{id}", kind.as_str())
    }

    /// A read the status API asks of a subject, with `GET` (the `fetch` handler).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Read<'a> {
        /// `/summary`: a [`crate::Summary`].
        Summary,
        /// `/events`: a [`Timeline`].
        Events,
        /// `/request?event_id=`: a [`StoredRequest`].
        Request { event_id: Cow<'a, str> },
        /// `/deliveries`: a [`Deliveries`].
        Deliveries,
    }

    impl Read<'_> {
        /// The URL to fetch. The query is form-encoded as `Url::parse_with_params` writes it
        /// (built by hand, and read with `query_params`, to keep the `url` crate out of the
        /// wasm: see [`query_params`]).
        pub fn url(&self) -> Cow<'static, str> {
            match self {
                Self::Summary => Cow::Borrowed("https://subject/summary"),
                Self::Events => Cow::Borrowed("https://subject/events"),
                Self::Deliveries => Cow::Borrowed("https://subject/deliveries"),
                Self::Request { event_id } => {
                    let event_id: String =
                        form_urlencoded::byte_serialize(event_id.as_bytes()).collect();
                    Cow::Owned(format!("https://subject/request?event_id={event_id}"))
                }
            }
        }

        /// The read a request to the object asks for; `None` for anything else (404).
        pub fn parse(method: &str, url: &str) -> Option<Read<'static>> {
            if method != "GET" {
                return None;
            }
            match url_path(url) {
                "/summary" => Some(Read::Summary),
                "/events" => Some(Read::Events),
                "/deliveries" => Some(Read::Deliveries),
                "/request" => {
                    let event_id = query_params(url)
                        .into_iter()
                        .find(|(name, _)| name == "event_id")
                        .map(|(_, value)| value)
                        .unwrap_or_default();
                    Some(Read::Request {
                        event_id: Cow::Owned(event_id),
                    })
                }
                _ => None,
            }
        }
    }

    /// `GET /live` with `Upgrade: websocket` (the `fetch` handler): accept a socket that watches
    /// the subject (see [`crate::live`]).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Watch {
        /// When the socket's token expires (unix milliseconds); `None` for a token that does
        /// not expire (a status API token).
        pub expires_ms: Option<i64>,
        /// The client offered subprotocols: the answer names [`crate::live::SUBPROTOCOL`].
        pub answer_subprotocol: bool,
    }

    impl Watch {
        pub fn url(&self) -> String {
            let expires_ms = self.expires_ms.map(|ms| ms.to_string()).unwrap_or_default();
            format!(
                "https://subject/live?expires_ms={expires_ms}&subprotocol={}",
                u8::from(self.answer_subprotocol)
            )
        }

        /// The watch a request to the object asks for; `None` if it is none.
        pub fn parse(method: &str, url: &str) -> Option<Watch> {
            if method != "GET" || url_path(url) != "/live" {
                return None;
            }
            let params = query_params(url);
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_str())
            };
            let expires_ms = match param("expires_ms")? {
                "" => None,
                ms => Some(ms.parse().ok()?),
            };
            let answer_subprotocol = match param("subprotocol")? {
                "0" => false,
                "1" => true,
                _ => return None,
            };
            Some(Watch {
                expires_ms,
                answer_subprotocol,
            })
        }
    }

    /// The object's answer to a [`Watch`], by its HTTP status.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum WatchAnswer {
        /// 101: the socket is accepted (the answer carries the client's end).
        Accepted,
        /// 429: the subject holds [`crate::live::MAX_SOCKETS_PER_SUBJECT`] sockets already.
        TooManySockets,
    }

    impl WatchAnswer {
        pub const fn status(self) -> u16 {
            match self {
                Self::Accepted => 101,
                Self::TooManySockets => 429,
            }
        }

        /// `None` for a status the protocol does not allow (a bug on one side).
        pub fn from_status(status: u16) -> Option<Self> {
            [Self::Accepted, Self::TooManySockets]
                .into_iter()
                .find(|answer| answer.status() == status)
        }
    }

    /// An event to append, as the worker sends it: the raw request as it is stored, without
    /// credentials (`CapturedRequest::redacted`).
    #[derive(Serialize)]
    pub struct AppendRequest<'a> {
        pub event: &'a Event,
        pub raw: Redacted<'a>,
    }

    /// An event to append, as the object reads it: both members are stored as the JSON text
    /// they arrive in, so only the event is parsed (to merge it), and nothing is encoded again.
    #[derive(Deserialize)]
    pub struct AppendBody {
        pub event: Box<RawValue>,
        pub raw: Box<RawValue>,
    }

    /// `POST /deliveries/retry` (the `fetch` handler), with this as its JSON body: sends some of
    /// the subject's deliveries again. Answered with a [`Retried`], or 404 for a subject
    /// without events.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Retry {
        /// Only this endpoint's deliveries; `None`: every endpoint's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub endpoint: Option<String>,
        /// Every event again (delivered ones too, and events committed before an endpoint was
        /// configured), not only the failed deliveries.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub all: bool,
        /// Only the failed deliveries with these `webhook-id`s (the cross-subject retry).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub webhook_ids: Option<Vec<String>>,
    }

    impl Retry {
        pub const URL: &'static str = "https://subject/deliveries/retry";

        /// Whether a request to the object is a retry (its body is then a [`Retry`]).
        pub fn matches(method: &str, url: &str) -> bool {
            method == "POST" && url_path(url) == "/deliveries/retry"
        }
    }

    /// The answer to a [`Retry`]: how many deliveries were made pending again.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Retried {
        pub retried: u64,
    }

    /// The answer to [`Read::Deliveries`]: the subject's deliveries in commit order.
    #[derive(Debug, Serialize, Deserialize)]
    pub struct Deliveries {
        pub deliveries: Vec<DeliveryView>,
    }

    /// One delivery of one event to one endpoint, as the status API shows it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct DeliveryView {
        pub endpoint: String,
        pub event_id: String,
        pub webhook_id: String,
        #[serde(rename = "type")]
        pub event_type: String,
        pub state: crate::delivery::DeliveryState,
        pub attempts: u32,
        pub last_status: Option<u16>,
        pub last_error: Option<String>,
        pub last_attempt_at: Option<crate::Timestamp>,
        pub next_attempt_at: Option<crate::Timestamp>,
    }

    /// The answer to [`Read::Events`]: the timeline in provider order.
    #[derive(Serialize, Deserialize)]
    pub struct Timeline {
        pub events: Vec<Event>,
    }

    /// The answer to [`Read::Request`]: when the event was received, and the request exactly
    /// as stored (the CLI's captured-request format).
    #[derive(Deserialize)]
    pub struct StoredRequest {
        pub received_at: i64,
        pub request: Box<RawValue>,
    }

    impl StoredRequest {
        /// The answer's JSON text from a stored row, whose `raw` is JSON text already.
        pub fn encode(received_at: i64, raw: &str) -> String {
            format!("{{\"received_at\":{received_at},\"request\":{raw}}}")
        }
    }
}

/// `TokenGuard`: the Durable Object that holds one single-use token to the events it
/// authorized.
pub mod token_guard {
    use super::*;

    pub const CLASS: Class = Class {
        name: "TokenGuard",
        binding: "TOKEN_GUARDS",
        export: Export::AsBuilt,
    };

    /// `GET /claim?events=&expires_ms=`: holds the token to `events`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Claim<'a> {
        /// The authorized event ids, joined by newlines.
        pub events: Cow<'a, str>,
        /// The token's expiry (unix milliseconds).
        pub expires_ms: i64,
    }

    impl Claim<'_> {
        pub fn url(&self) -> String {
            let events: String = form_urlencoded::byte_serialize(self.events.as_bytes()).collect();
            format!(
                "https://token/claim?events={events}&expires_ms={}",
                self.expires_ms
            )
        }

        /// The claim a request to the object makes; `None` if it is none.
        pub fn parse(method: &str, url: &str) -> Option<Claim<'static>> {
            if method != "GET" || url_path(url) != "/claim" {
                return None;
            }
            let params = query_params(url);
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.as_str())
            };
            Some(Claim {
                events: Cow::Owned(param("events")?.to_owned()),
                expires_ms: param("expires_ms")?.parse().ok()?,
            })
        }
    }

    /// The object's answer to a claim, by its HTTP status.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum ClaimAnswer {
        /// 200: the token is new, or already holds exactly these events.
        Held,
        /// 409: the token authorized other events.
        Replayed,
        /// 400: not a claim.
        Invalid,
    }

    impl ClaimAnswer {
        pub const fn status(self) -> u16 {
            match self {
                Self::Held => 200,
                Self::Replayed => 409,
                Self::Invalid => 400,
            }
        }

        /// `None` for a status the protocol does not allow (a bug on one side).
        pub fn from_status(status: u16) -> Option<Self> {
            [Self::Held, Self::Replayed, Self::Invalid]
                .into_iter()
                .find(|answer| answer.status() == status)
        }
    }
}

/// `Source`: the Durable Object that keeps one provider's health (`crate::sources`), named by
/// the provider. Isolates send it their batches at most every few seconds, after the webhooks
/// they counted were answered; the status API reads its health.
pub mod source {
    use super::*;

    pub const CLASS: Class = Class {
        name: "Source",
        binding: "SOURCES",
        export: Export::AsBuilt,
    };

    /// `POST /record` with a [`crate::sources::ProviderBatch`] as JSON: adds it (204).
    pub const RECORD_URL: &str = "https://source/record";
    /// `GET /health`: the provider's [`crate::sources::Health`] (200).
    pub const HEALTH_URL: &str = "https://source/health";
    /// `POST /maintain`, to the `vonage-business` object: runs the VIS keeper now and answers its
    /// [`crate::providers::vonage_business::keeper::KeeperState`] (200).
    pub const MAINTAIN_URL: &str = "https://source/maintain";

    /// What a request to the object asks for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Request {
        Record,
        Health,
        Maintain,
    }

    impl Request {
        /// `None` for anything else (404).
        pub fn parse(method: &str, url: &str) -> Option<Self> {
            match (method, url_path(url)) {
                ("POST", "/record") => Some(Self::Record),
                ("GET", "/health") => Some(Self::Health),
                ("POST", "/maintain") => Some(Self::Maintain),
                _ => None,
            }
        }
    }
}

/// The entry module (`scripts/worker-entry.mjs`, wrangler.toml's `main` once build-worker.sh has
/// copied it into build/) that exports [`ENTRY`]: worker-build's `index.js`, with every
/// [`Export::Wrapped`] class wrapped.
pub fn entry_module() -> String {
    let mut out = String::new();
    out.push_str(
        "// The worker's entry module (wrangler.toml `main`, copied into build/ by build-worker.sh):\n\
         // worker-build's build/index.js, with each Durable Object that is called over RPC wrapped in a\n\
         // class that extends `DurableObject`: workerd offers RPC only on such a class, and the class\n\
         // that workers-rs 0.8's `#[durable_object]` exports is not one.\n\
         //\n\
         // Rendered from crates/core/src/protocol.rs (`ENTRY`); `cargo test -p switchboard-core --test\n\
         // entry_module` fails while the two differ (SWITCHBOARD_WRITE_ENTRY=1 rewrites this file).\n",
    );
    let wrapped: Vec<&Class> = ENTRY
        .iter()
        .filter(|class| matches!(class.export, Export::Wrapped { .. }))
        .collect();
    let as_built: Vec<&str> = ENTRY
        .iter()
        .filter(|class| class.export == Export::AsBuilt)
        .map(|class| class.name)
        .collect();
    out.push_str("import { DurableObject } from \"cloudflare:workers\";\n");
    let imports: Vec<String> = wrapped
        .iter()
        .map(|class| format!("{} as Wasm{}", class.name, class.name))
        .collect();
    out.push_str(&format!(
        "import worker, {{ {} }} from \"./index.js\";\n\nexport default worker;\n",
        imports.join(", ")
    ));
    if !as_built.is_empty() {
        out.push_str(&format!(
            "// Called with `fetch` only, so exported as workers-rs builds them.\nexport {{ {} }} from \"./index.js\";\n",
            as_built.join(", ")
        ));
    }
    for class in wrapped {
        let Export::Wrapped { handlers, rpc } = class.export else {
            continue;
        };
        out.push_str(&format!(
            "\nexport class {name} extends DurableObject {{\n  #inner;\n\n  constructor(ctx, env) {{\n    super(ctx, env);\n    this.#inner = new Wasm{name}(ctx, env);\n  }}\n",
            name = class.name
        ));
        for (method, transaction) in handlers
            .iter()
            .map(|method| (method, false))
            .chain(rpc.iter().map(|method| (method, true)))
        {
            let params = method.params.join(", ");
            out.push('\n');
            if !method.doc.is_empty() {
                out.push_str(&format!("  /** {} */\n", method.doc));
            }
            let call = format!("this.#inner.{}({params})", method.name);
            let call = if transaction {
                format!("this.ctx.storage.transactionSync(() => {call})")
            } else {
                call
            };
            out.push_str(&format!(
                "  {name}({params}) {{\n    return {call};\n  }}\n",
                name = method.name
            ));
        }
        out.push_str("}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::subject::{
        AppendBody, AppendRequest, Erase, ErasureReason, Read, Retry, StoredRequest, Timeline,
        Watch, WatchAnswer,
    };
    use super::token_guard::{Claim, ClaimAnswer};
    use super::*;
    use crate::{CapturedRequest, Timestamp};

    #[test]
    fn every_read_parses_back_from_its_url() {
        let reads = [
            Read::Summary,
            Read::Events,
            Read::Deliveries,
            Read::Request {
                event_id: Cow::Borrowed("twilio:SM1:delivered/é &x=1#?"),
            },
            Read::Request {
                event_id: Cow::Borrowed(""),
            },
        ];
        for read in reads {
            assert_eq!(Read::parse("GET", &read.url()), Some(read.clone()));
            assert_eq!(Read::parse("POST", &read.url()), None);
        }
        assert_eq!(Read::parse("GET", "https://subject/other"), None);
    }

    #[test]
    fn a_watch_parses_back_from_its_url() {
        for watch in [
            Watch {
                expires_ms: Some(1_800_000_000_000),
                answer_subprotocol: true,
            },
            Watch {
                expires_ms: None,
                answer_subprotocol: false,
            },
        ] {
            assert_eq!(Watch::parse("GET", &watch.url()), Some(watch.clone()));
            assert_eq!(Watch::parse("POST", &watch.url()), None);
            assert_eq!(Read::parse("GET", &watch.url()), None);
        }
        for url in [
            "https://subject/live?expires_ms=x&subprotocol=1",
            "https://subject/live?expires_ms=1",
            "https://subject/live?expires_ms=1&subprotocol=yes",
            "https://subject/summary?expires_ms=1&subprotocol=1",
        ] {
            assert_eq!(Watch::parse("GET", url), None, "{url}");
        }
        for answer in [WatchAnswer::Accepted, WatchAnswer::TooManySockets] {
            assert_eq!(WatchAnswer::from_status(answer.status()), Some(answer));
        }
        assert_eq!(WatchAnswer::from_status(200), None);
    }

    #[test]
    fn a_retry_is_read_as_written_and_nothing_else_is_one() {
        for retry in [
            Retry::default(),
            Retry {
                endpoint: Some("crm".into()),
                all: true,
                webhook_ids: None,
            },
            Retry {
                endpoint: None,
                all: false,
                webhook_ids: Some(vec!["msg_1".into(), "msg_2".into()]),
            },
        ] {
            let text = serde_json::to_string(&retry).unwrap();
            assert_eq!(serde_json::from_str::<Retry>(&text).unwrap(), retry);
        }
        assert_eq!(serde_json::to_string(&Retry::default()).unwrap(), "{}");
        assert!(serde_json::from_str::<Retry>(r#"{"everything": true}"#).is_err());
        assert!(Retry::matches("POST", Retry::URL));
        assert!(!Retry::matches("GET", Retry::URL));
        assert!(!Retry::matches("POST", &Read::Deliveries.url()));
        assert_eq!(Read::parse("POST", Retry::URL), None);
    }

    #[test]
    fn a_claim_parses_back_from_its_url() {
        let claim = Claim {
            events: Cow::Borrowed("vonage:a\nvonage:b&expires_ms=1"),
            expires_ms: 1_800_000_000_000,
        };
        assert_eq!(Claim::parse("GET", &claim.url()), Some(claim.clone()));
        assert_eq!(Claim::parse("GET", "https://token/claim?events=a"), None);
        assert_eq!(
            Claim::parse("GET", "https://token/claim?events=a&expires_ms=x"),
            None
        );
        assert_eq!(
            Claim::parse("GET", "https://token/other?events=a&expires_ms=1"),
            None
        );
    }

    #[test]
    fn answers_are_read_back_from_their_status() {
        for answer in [ReadAnswer::Found, ReadAnswer::NotFound, ReadAnswer::Gone] {
            assert_eq!(ReadAnswer::from_status(answer.status()), Some(answer));
        }
        for answer in [
            ClaimAnswer::Held,
            ClaimAnswer::Replayed,
            ClaimAnswer::Invalid,
        ] {
            assert_eq!(ClaimAnswer::from_status(answer.status()), Some(answer));
        }
        assert_eq!(ReadAnswer::from_status(500), None);
        assert_eq!(ClaimAnswer::from_status(404), None);
    }

    fn event() -> Event {
        let json = serde_json::json!({
            "provider": "telnyx",
            "kind": "call",
            "subject_id": "call-1",
            "event_id": "telnyx:e1",
            "provider_status": "call.answered",
            "status": "in_progress",
            "received_at": Timestamp::from_millis(1_700_000_000_000),
            "sequence": u64::MAX,
        });
        serde_json::from_value(json).unwrap_or_else(|error| panic!("event: {error}"))
    }

    #[test]
    fn an_append_request_is_read_as_an_append_body() {
        let event = event();
        let mut raw = CapturedRequest::new("POST", "https://example.com/webhooks/telnyx");
        raw.set_header("content-type", "application/json");
        raw.body = br#"{"n": 18446744073709551615}"#.to_vec();
        let text = serde_json::to_string(&AppendRequest {
            event: &event,
            raw: raw.redacted(),
        })
        .unwrap();
        let body: AppendBody = serde_json::from_str(&text).unwrap();
        let read: Event = serde_json::from_str(body.event.get()).unwrap();
        assert_eq!(read, event);
        assert_eq!(
            body.raw.get(),
            serde_json::to_string(&raw.redacted()).unwrap()
        );
    }

    #[test]
    fn an_erase_request_is_read_as_written_and_nothing_else_is_one() {
        let erase = Erase {
            reason: ErasureReason::PhoneNumber,
            number_digest: Some("ab".repeat(32)),
            alias: None,
        };
        let text = serde_json::to_string(&erase).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"reason":"phone_number","number_digest":"{}"}}"#,
                "ab".repeat(32)
            )
        );
        assert_eq!(serde_json::from_str::<Erase>(&text).unwrap(), erase);
        assert_eq!(
            serde_json::from_str::<Erase>(r#"{"reason":"expired"}"#).unwrap(),
            Erase::expired()
        );
        for other in [
            r#"{"reason":"later"}"#,
            r#"{"reason":"request","all":true}"#,
            "{}",
        ] {
            assert!(serde_json::from_str::<Erase>(other).is_err(), "{other}");
        }
    }

    #[test]
    fn answers_are_read_as_written() {
        let raw = r#"{"method":"POST","url":"https://example.com/"}"#;
        let stored: StoredRequest =
            serde_json::from_str(&StoredRequest::encode(1_700_000_000_123, raw)).unwrap();
        assert_eq!(stored.received_at, 1_700_000_000_123);
        assert_eq!(stored.request.get(), raw);

        let timeline = Timeline {
            events: vec![event()],
        };
        let read: Timeline =
            serde_json::from_str(&serde_json::to_string(&timeline).unwrap()).unwrap();
        assert_eq!(read.events, timeline.events);
    }

    #[test]
    fn class_and_method_names_are_distinct() {
        let mut names: Vec<&str> = ENTRY.iter().map(|class| class.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ENTRY.len());
        for class in ENTRY {
            if let Export::Wrapped { handlers, rpc } = class.export {
                let mut methods: Vec<&str> = handlers.iter().chain(rpc).map(|m| m.name).collect();
                let count = methods.len();
                methods.sort_unstable();
                methods.dedup();
                assert_eq!(methods.len(), count, "{}", class.name);
                assert!(!methods.contains(&"constructor"));
            }
        }
    }
}
