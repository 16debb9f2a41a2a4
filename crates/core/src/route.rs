//! The routes the worker serves: one table for the router ([`Route::parse`]) and for the OpenAPI
//! document `public/openapi.json` ([`TEMPLATES`], [`ASSET_PATHS`]), which
//! `crates/core/tests/openapi.rs` holds to exactly these paths and methods.

use crate::Kind;

/// One route, with the path parameters as the request spelled them (percent-decoded, not yet
/// checked: an unknown provider is the router's 404 `unknown_provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/healthz`
    Healthz,
    /// `/webhooks/{provider}`
    Webhook { provider: &'a str },
    /// `/v1/{collection}`: one page of calls or messages.
    List { kind: Kind },
    /// `/v1/{collection}/{provider}/{id}`: the current state of one call or message.
    Subject {
        kind: Kind,
        provider: &'a str,
        id: &'a str,
    },
    /// `/v1/{collection}/{provider}/{id}/events`: its timeline.
    Events {
        kind: Kind,
        provider: &'a str,
        id: &'a str,
    },
    /// `/v1/{collection}/{provider}/{id}/events/{event_id}/request`: one event's raw request.
    Request {
        kind: Kind,
        provider: &'a str,
        id: &'a str,
        event_id: &'a str,
    },
    /// `/v1/{collection}/{provider}/{id}/live`: its state and events over a WebSocket.
    Live {
        kind: Kind,
        provider: &'a str,
        id: &'a str,
    },
    /// `/v1/tokens`: issues browser tokens.
    Tokens,
    /// `/v1/{collection}/{provider}/{id}/deliveries`: its deliveries to the endpoints.
    Deliveries {
        kind: Kind,
        provider: &'a str,
        id: &'a str,
    },
    /// `/v1/{collection}/{provider}/{id}/deliveries/retry`: sends its failed deliveries (or
    /// every event) again.
    RetryDeliveries {
        kind: Kind,
        provider: &'a str,
        id: &'a str,
    },
    /// `/v1/deliveries`: failed deliveries across subjects.
    FailedDeliveries,
    /// `/v1/deliveries/retry`: sends failed deliveries across subjects again.
    RetryFailedDeliveries,
    /// `/v1/sources`: each provider's health.
    Sources,
    /// `/v1/config`: what is configured (providers, delivery endpoints), never a secret.
    Config,
    /// `/v1/sources/vonage-business/maintain`: runs the VIS keeper now.
    MaintainVis,
    /// `/v1/erase`: erases every subject a phone number took part in.
    Erase,
}

/// A route's OpenAPI path template and the methods it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate {
    pub path: &'static str,
    /// Upper-case, as received. `OPTIONS` is not listed: see [`RouteTemplate::answers_preflight`].
    pub methods: &'static [&'static str],
}

impl RouteTemplate {
    /// Whether the route also answers a CORS preflight (`OPTIONS`): every `/v1/*` route does.
    pub fn answers_preflight(&self) -> bool {
        self.path.starts_with("/v1/")
    }
}

pub const HEALTHZ: RouteTemplate = RouteTemplate {
    path: "/healthz",
    methods: &["GET", "HEAD"],
};
pub const WEBHOOK: RouteTemplate = RouteTemplate {
    path: "/webhooks/{provider}",
    methods: &["GET", "POST"],
};
pub const LIST: RouteTemplate = RouteTemplate {
    path: "/v1/{collection}",
    methods: &["GET"],
};
pub const SUBJECT: RouteTemplate = RouteTemplate {
    path: "/v1/{collection}/{provider}/{id}",
    methods: &["GET", "DELETE"],
};
pub const EVENTS: RouteTemplate = RouteTemplate {
    path: "/v1/{collection}/{provider}/{id}/events",
    methods: &["GET"],
};
pub const REQUEST: RouteTemplate = RouteTemplate {
    path: "/v1/{collection}/{provider}/{id}/events/{event_id}/request",
    methods: &["GET"],
};
pub const LIVE: RouteTemplate = RouteTemplate {
    path: "/v1/{collection}/{provider}/{id}/live",
    methods: &["GET"],
};
pub const TOKENS: RouteTemplate = RouteTemplate {
    path: "/v1/tokens",
    methods: &["POST"],
};
pub const DELIVERIES: RouteTemplate = RouteTemplate {
    path: "/v1/{collection}/{provider}/{id}/deliveries",
    methods: &["GET"],
};
pub const RETRY_DELIVERIES: RouteTemplate = RouteTemplate {
    path: "/v1/{collection}/{provider}/{id}/deliveries/retry",
    methods: &["POST"],
};
pub const FAILED_DELIVERIES: RouteTemplate = RouteTemplate {
    path: "/v1/deliveries",
    methods: &["GET"],
};
pub const RETRY_FAILED_DELIVERIES: RouteTemplate = RouteTemplate {
    path: "/v1/deliveries/retry",
    methods: &["POST"],
};
pub const SOURCES: RouteTemplate = RouteTemplate {
    path: "/v1/sources",
    methods: &["GET"],
};
pub const CONFIG: RouteTemplate = RouteTemplate {
    path: "/v1/config",
    methods: &["GET"],
};
pub const MAINTAIN_VIS: RouteTemplate = RouteTemplate {
    path: "/v1/sources/vonage-business/maintain",
    methods: &["POST"],
};
pub const ERASE: RouteTemplate = RouteTemplate {
    path: "/v1/erase",
    methods: &["POST"],
};

/// Every route the worker serves, one template per [`Route`] variant.
pub const TEMPLATES: &[RouteTemplate] = &[
    HEALTHZ,
    WEBHOOK,
    LIST,
    SUBJECT,
    EVENTS,
    REQUEST,
    LIVE,
    TOKENS,
    DELIVERIES,
    RETRY_DELIVERIES,
    FAILED_DELIVERIES,
    RETRY_FAILED_DELIVERIES,
    SOURCES,
    CONFIG,
    MAINTAIN_VIS,
    ERASE,
];

/// Paths served as Workers static assets from `public/` (wrangler.toml `[assets]`): the worker
/// fetches them from its assets binding for `GET` and `HEAD`, so no [`Route`] has them.
pub const ASSET_PATHS: &[&str] = &["/openapi.json", "/client/switchboard.js"];

/// The dashboard's address; `/` redirects to it. It is [`DASHBOARD_FILES`]' first file.
pub const DASHBOARD_PATH: &str = "/dashboard";

/// The dashboard's files in `public/`, served as static assets like [`ASSET_PATHS`], but a page
/// for people rather than part of the API document.
pub const DASHBOARD_FILES: &[&str] = &[
    "/dashboard/index.html",
    "/dashboard/app.js",
    "/dashboard/style.css",
    "/dashboard/icon.svg",
];

/// The static file a `GET` of `path` is answered with: an asset path itself, or the dashboard's
/// page for `/dashboard` and `/dashboard/`.
pub fn static_file(path: &str) -> Option<&'static str> {
    if path == DASHBOARD_PATH || path == "/dashboard/" {
        return Some(DASHBOARD_FILES[0]);
    }
    ASSET_PATHS
        .iter()
        .chain(DASHBOARD_FILES)
        .find(|file| **file == path)
        .copied()
}

/// The segments of a URL path after its leading `/`, each percent-decoded (invalid UTF-8 as
/// U+FFFD), as [`Route::parse`] takes them: `/v1/calls/twilio/CA%2F1` is
/// `["v1", "calls", "twilio", "CA/1"]`.
pub fn path_segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

impl<'a> Route<'a> {
    /// The route of a path split at `/` after its leading one, each segment percent-decoded
    /// (`/v1/calls` is `["v1", "calls"]`); `None` for a path the worker does not serve.
    pub fn parse(segments: &[&'a str]) -> Option<Route<'a>> {
        let route = match *segments {
            ["healthz"] => Route::Healthz,
            ["webhooks", provider] => Route::Webhook { provider },
            ["v1", "tokens"] => Route::Tokens,
            ["v1", "deliveries"] => Route::FailedDeliveries,
            ["v1", "deliveries", "retry"] => Route::RetryFailedDeliveries,
            ["v1", "sources"] => Route::Sources,
            ["v1", "config"] => Route::Config,
            ["v1", "sources", "vonage-business", "maintain"] => Route::MaintainVis,
            ["v1", "erase"] => Route::Erase,
            ["v1", collection] => Route::List {
                kind: Kind::of_collection(collection)?,
            },
            ["v1", collection, provider, id] => Route::Subject {
                kind: Kind::of_collection(collection)?,
                provider,
                id,
            },
            ["v1", collection, provider, id, "events"] => Route::Events {
                kind: Kind::of_collection(collection)?,
                provider,
                id,
            },
            ["v1", collection, provider, id, "events", event_id, "request"] => Route::Request {
                kind: Kind::of_collection(collection)?,
                provider,
                id,
                event_id,
            },
            ["v1", collection, provider, id, "live"] => Route::Live {
                kind: Kind::of_collection(collection)?,
                provider,
                id,
            },
            ["v1", collection, provider, id, "deliveries"] => Route::Deliveries {
                kind: Kind::of_collection(collection)?,
                provider,
                id,
            },
            ["v1", collection, provider, id, "deliveries", "retry"] => Route::RetryDeliveries {
                kind: Kind::of_collection(collection)?,
                provider,
                id,
            },
            _ => return None,
        };
        Some(route)
    }

    /// The template this route was parsed from.
    pub fn template(&self) -> &'static RouteTemplate {
        match self {
            Route::Healthz => &HEALTHZ,
            Route::Webhook { .. } => &WEBHOOK,
            Route::List { .. } => &LIST,
            Route::Subject { .. } => &SUBJECT,
            Route::Events { .. } => &EVENTS,
            Route::Request { .. } => &REQUEST,
            Route::Live { .. } => &LIVE,
            Route::Tokens => &TOKENS,
            Route::Deliveries { .. } => &DELIVERIES,
            Route::RetryDeliveries { .. } => &RETRY_DELIVERIES,
            Route::FailedDeliveries => &FAILED_DELIVERIES,
            Route::RetryFailedDeliveries => &RETRY_FAILED_DELIVERIES,
            Route::Sources => &SOURCES,
            Route::Config => &CONFIG,
            Route::MaintainVis => &MAINTAIN_VIS,
            Route::Erase => &ERASE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_percent_decoded_after_the_leading_slash() {
        assert_eq!(
            path_segments("/v1/calls/twilio/CA%2F1"),
            ["v1", "calls", "twilio", "CA/1"]
        );
        assert_eq!(path_segments("/healthz"), ["healthz"]);
        assert_eq!(path_segments("/"), [""]);
        assert_eq!(path_segments("/webhooks/%FF"), ["webhooks", "\u{fffd}"]);
    }

    /// `template` with each `{parameter}` replaced by a sample value.
    fn instantiate(template: &RouteTemplate, collection: &str) -> String {
        template
            .path
            .replace("{collection}", collection)
            .replace("{provider}", "twilio")
            .replace("{id}", "CA123")
            .replace("{event_id}", "ev-1")
    }

    fn segments(path: &str) -> Vec<&str> {
        path.trim_start_matches('/').split('/').collect()
    }

    #[test]
    fn every_template_parses_to_its_own_variant() {
        for template in TEMPLATES {
            for collection in ["calls", "messages"] {
                let path = instantiate(template, collection);
                let route = Route::parse(&segments(&path))
                    .unwrap_or_else(|| panic!("{path} does not parse"));
                assert_eq!(route.template(), template, "{path} parsed as {route:?}");
            }
        }
    }

    #[test]
    fn parameters_are_taken_from_their_segments() {
        assert_eq!(
            Route::parse(&segments("/v1/messages/vonage/m 1/events/e%2F1/request")),
            Some(Route::Request {
                kind: Kind::Message,
                provider: "vonage",
                id: "m 1",
                event_id: "e%2F1",
            })
        );
        assert_eq!(
            Route::parse(&segments("/webhooks/nobody")),
            Some(Route::Webhook { provider: "nobody" })
        );
        assert_eq!(
            Route::parse(&segments("/v1/calls")),
            Some(Route::List { kind: Kind::Call })
        );
    }

    #[test]
    fn templates_are_distinct() {
        for (index, template) in TEMPLATES.iter().enumerate() {
            assert!(
                !TEMPLATES[index + 1..].contains(template),
                "{} listed twice",
                template.path
            );
            assert!(!template.methods.is_empty(), "{}", template.path);
            assert!(!template.methods.contains(&"OPTIONS"), "{}", template.path);
        }
    }

    #[test]
    fn near_misses_are_not_routes() {
        for path in [
            "/",
            "/healthz/x",
            "/webhooks",
            "/webhooks/twilio/extra",
            "/v1",
            "/v1/sessions",
            "/v1/call",
            "/v1/calls/twilio",
            "/v1/sessions/twilio/CA123",
            "/v1/calls/twilio/CA123/extra",
            "/v1/calls/twilio/CA123/events/ev-1",
            "/v1/calls/twilio/CA123/events/ev-1/request/extra",
            "/v1/calls/twilio/CA123/event/ev-1/request",
            "/v1/calls/twilio/CA123/live/extra",
            "/v1/tokens/x",
            "/v1/config/x",
            "/v1/erase/x",
            "/v1/sources/x",
            "/v1/deliveries/x",
            "/v1/deliveries/retry/x",
            "/v1/calls/twilio/CA123/deliveries/x",
            "/v1/calls/twilio/CA123/deliveries/retry/x",
            "/v2/calls",
            "/openapi.json",
            "/client/switchboard.js",
            "/dashboard",
        ] {
            assert_eq!(Route::parse(&segments(path)), None, "{path}");
        }
    }

    #[test]
    fn static_files_are_the_assets_and_the_dashboard_page() {
        assert_eq!(static_file("/dashboard"), Some("/dashboard/index.html"));
        assert_eq!(static_file("/dashboard/"), Some("/dashboard/index.html"));
        for file in ASSET_PATHS.iter().chain(DASHBOARD_FILES) {
            assert_eq!(static_file(file), Some(*file));
        }
        for path in [
            "/",
            "/dashboard/x.js",
            "/dashboard//",
            "/public/openapi.json",
            "/_headers",
        ] {
            assert_eq!(static_file(path), None, "{path}");
        }
    }

    #[test]
    fn every_template_but_healthz_and_webhooks_answers_preflight() {
        let preflight: Vec<&str> = TEMPLATES
            .iter()
            .filter(|template| template.answers_preflight())
            .map(|template| template.path)
            .collect();
        assert_eq!(preflight.len(), TEMPLATES.len() - 2);
        assert!(!preflight.contains(&HEALTHZ.path) && !preflight.contains(&WEBHOOK.path));
    }
}
