//! Configuration, parsed once from the worker's vars and secrets into typed values.
//!
//! The parser takes a lookup function, so the worker passes its `Env` and tests pass a map.
//! A provider whose secret is missing is `None` here: the worker answers its endpoint with 503
//! `source_not_configured` and never skips verification.

use std::borrow::Cow;

use serde::Serialize;

use crate::delivery::{DeliveryConfig, EndpointOverview};
use crate::providers::vonage_business::keeper::KeeperConfig;
use crate::registry::{configured_provider, ProviderConfigs};
use crate::retention::{Retention, RetentionDays};
use crate::secret::Secret;
use crate::ProviderId;

pub use crate::registry::secret_setting;

pub const DEFAULT_TOLERANCE_SECONDS: u32 = 300;
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// The shortest browser token secret: HS256 wants a key at least as long as its 32-byte hash,
/// as a shorter one is easier to guess than the tag is to forge.
pub const MIN_BROWSER_TOKEN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration `{name}`: {problem}")]
pub struct ConfigError {
    pub name: Cow<'static, str>,
    pub problem: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Bearer tokens accepted by the status API: `STATUS_API_TOKEN` and `STATUS_API_TOKENS`
    /// (each comma-separated; e.g. one token per frontend). Empty: every request is refused.
    pub status_api_tokens: Vec<Secret>,
    /// `BROWSER_TOKEN_SECRET` (comma-separated while rotating): the HS256 keys of browser
    /// tokens ([`access`](crate::access)); the first signs, any one verifies. Each is at least
    /// [`MIN_BROWSER_TOKEN_SECRET_BYTES`] long. Empty: browser tokens are neither accepted nor
    /// minted.
    pub browser_token_secrets: Vec<Secret>,
    /// `CORS_ALLOW_ORIGINS`: the exact origins (`https://app.example.com`) whose browsers may
    /// read the status API. Empty: no CORS headers at all.
    pub cors_allow_origins: Vec<String>,
    /// `SIGNATURE_TOLERANCE_SECONDS`: how far a signed timestamp may be from now, either way.
    pub tolerance_seconds: u32,
    /// `MAX_BODY_BYTES`: larger webhook bodies get 413.
    pub max_body_bytes: usize,
    /// `PUBLIC_BASE_URL`: the scheme and host (and port) providers call, e.g.
    /// `https://hooks.example.com`. When set, it replaces those of the request URL before
    /// verification (see [`rebase_url`](crate::request::rebase_url)).
    pub public_base_url: Option<String>,
    /// Each provider's configuration, `None` while its secret is not set.
    pub providers: ProviderConfigs,
    /// `DELIVERY_*`: where committed events are delivered (`crate::delivery`).
    pub delivery: DeliveryConfig,
    /// `VONAGE_BUSINESS_CLIENT_ID` and the rest: the VIS keeper's credentials, `None` while it
    /// is off (`crate::providers::vonage_business::keeper`).
    pub vis_keeper: Option<KeeperConfig>,
    /// `RETENTION_DAYS`, `RAW_REQUEST_DAYS`: how long subjects and raw requests are kept.
    pub retention: Retention,
}

impl Config {
    /// Reads every setting through `lookup` (which returns `None` for unset names).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let tolerance_seconds = parse_number(&lookup, "SIGNATURE_TOLERANCE_SECONDS")?
            .unwrap_or(DEFAULT_TOLERANCE_SECONDS);
        let max_body_bytes =
            parse_number(&lookup, "MAX_BODY_BYTES")?.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        if max_body_bytes == 0 {
            return Err(ConfigError {
                name: "MAX_BODY_BYTES".into(),
                problem: "must be at least 1".into(),
            });
        }

        let public_base_url = lookup("PUBLIC_BASE_URL")
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .map(|value| parse_origin(&value, "PUBLIC_BASE_URL"))
            .transpose()?;
        let settings = Settings {
            lookup: &lookup,
            tolerance_seconds,
        };
        let providers = ProviderConfigs::from_settings(&settings)?;
        let delivery = DeliveryConfig::from_settings(&settings)?;
        let vis_keeper = KeeperConfig::from_settings(&settings)?;
        let retention = Retention::from_settings(&settings)?;
        if vis_keeper.is_some() && public_base_url.is_none() {
            return Err(ConfigError {
                name: "PUBLIC_BASE_URL".into(),
                problem: "must be set for the VIS keeper: its registration's URL is \
                          PUBLIC_BASE_URL/webhooks/vonage-business"
                    .into(),
            });
        }

        let secrets = |name| settings.secrets(name);
        let mut status_api_tokens = secrets("STATUS_API_TOKEN");
        status_api_tokens.extend(secrets("STATUS_API_TOKENS"));
        let browser_token_secrets = secrets("BROWSER_TOKEN_SECRET");
        if browser_token_secrets
            .iter()
            .any(|secret| secret.expose().len() < MIN_BROWSER_TOKEN_SECRET_BYTES)
        {
            return Err(ConfigError {
                name: "BROWSER_TOKEN_SECRET".into(),
                problem: "each secret must be at least 32 bytes long".into(),
            });
        }
        let cors_allow_origins = lookup("CORS_ALLOW_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(|origin| parse_origin(origin, "CORS_ALLOW_ORIGINS"))
            .collect::<Result<Vec<_>, _>>()?;

        Ok(Self {
            status_api_tokens,
            browser_token_secrets,
            cors_allow_origins,
            tolerance_seconds,
            max_body_bytes,
            public_base_url,
            providers,
            delivery,
            vis_keeper,
            retention,
        })
    }
}

/// `GET /v1/config`: what is configured, for the dashboard and for people checking a deploy.
/// Never a secret, a token or a key; secrets are counted where rotation makes the count useful.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigOverview {
    /// Every provider, in registry order.
    pub providers: Vec<ProviderOverview>,
    pub delivery: DeliveryOverview,
    /// How many status API tokens are accepted.
    pub status_api_tokens: usize,
    /// Whether browser tokens are accepted and minted (`BROWSER_TOKEN_SECRET` is set).
    pub browser_tokens: bool,
    pub cors_allow_origins: Vec<String>,
    pub public_base_url: Option<String>,
    pub signature_tolerance_seconds: u32,
    pub max_body_bytes: usize,
    /// Whether the VIS keeper's credentials are set.
    pub vis_keeper: bool,
    /// How long subjects and their raw requests are kept.
    pub retention: RetentionDays,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderOverview {
    pub provider: ProviderId,
    /// Its secret is set: its webhooks are verified and stored (else 503).
    pub configured: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryOverview {
    pub endpoints: Vec<EndpointOverview>,
    pub retry_schedule_seconds: Vec<u32>,
}

impl Config {
    pub fn overview(&self) -> ConfigOverview {
        ConfigOverview {
            providers: ProviderId::ALL
                .into_iter()
                .map(|provider| ProviderOverview {
                    provider,
                    configured: configured_provider(self, provider).is_some(),
                })
                .collect(),
            delivery: DeliveryOverview {
                endpoints: self
                    .delivery
                    .endpoints
                    .iter()
                    .map(|e| e.overview())
                    .collect(),
                retry_schedule_seconds: self.delivery.retry_schedule.clone(),
            },
            status_api_tokens: self.status_api_tokens.len(),
            browser_tokens: !self.browser_token_secrets.is_empty(),
            cors_allow_origins: self.cors_allow_origins.clone(),
            public_base_url: self.public_base_url.clone(),
            signature_tolerance_seconds: self.tolerance_seconds,
            max_body_bytes: self.max_body_bytes,
            vis_keeper: self.vis_keeper.is_some(),
            retention: self.retention.days(),
        }
    }
}

/// The settings a provider's configuration is read from (its `from_settings`, called by the
/// [registry](crate::registry)).
pub struct Settings<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// `SIGNATURE_TOLERANCE_SECONDS`, for the schemes that sign a timestamp.
    pub tolerance_seconds: u32,
}

impl<'a> Settings<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>, tolerance_seconds: u32) -> Self {
        Self {
            lookup,
            tolerance_seconds,
        }
    }

    /// The value of `name`, `None` if unset or blank.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// The comma-separated secrets of `name` (rotation); empty if unset or blank.
    pub fn secrets(&self, name: &str) -> Vec<Secret> {
        (self.lookup)(name)
            .map(|value| Secret::parse_list(&value))
            .unwrap_or_default()
    }

    /// A `true`/`false` setting (either case); unset or blank is `None`.
    pub fn flag(&self, name: &'static str) -> Result<Option<bool>, ConfigError> {
        parse_flag(&self.lookup, name)
    }
}

/// Accepts an origin, `http(s)://host[:port]`, with nothing after the authority but an
/// optional `/` (which is dropped).
fn parse_origin(value: &str, name: &'static str) -> Result<String, ConfigError> {
    let invalid = |problem: &str| ConfigError {
        name: name.into(),
        problem: format!("`{value}` {problem}"),
    };
    let authority = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with https:// or http://"))?
        .trim_end_matches('/');
    if authority.is_empty() || authority.contains(['/', '?', '#', ' ']) {
        return Err(invalid(
            "must be a scheme and host only, like https://hooks.example.com",
        ));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

/// A `true`/`false` setting (either case); unset or blank is `None`.
fn parse_flag(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<bool>, ConfigError> {
    match lookup(name).filter(|value| !value.trim().is_empty()) {
        None => Ok(None),
        Some(value) => match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(ConfigError {
                name: name.into(),
                problem: format!("`{}` is not true or false", value.trim()),
            }),
        },
    }
}

fn parse_number<T: std::str::FromStr>(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError> {
    match lookup(name).filter(|value| !value.trim().is_empty()) {
        None => Ok(None),
        Some(value) => value.trim().parse().map(Some).map_err(|_| ConfigError {
            name: name.into(),
            problem: format!("`{}` is not a whole number", value.trim()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::providers::vonage::SmsMethod;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_apply_and_missing_secret_disables_the_provider() {
        let config = config(&[]).unwrap();
        assert_eq!(config.tolerance_seconds, 300);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert!(config.providers.vonage.is_none());
        assert!(config.status_api_tokens.is_empty());
        assert!(config.browser_token_secrets.is_empty());
    }

    #[test]
    fn browser_token_secrets_rotate_and_are_long_enough() {
        let old = "o".repeat(MIN_BROWSER_TOKEN_SECRET_BYTES);
        let new = "n".repeat(MIN_BROWSER_TOKEN_SECRET_BYTES + 8);
        let parsed = config(&[("BROWSER_TOKEN_SECRET", &format!(" {new} , {old} ,"))]).unwrap();
        assert_eq!(
            parsed.browser_token_secrets,
            [Secret::new(new.as_str()), Secret::new(old.as_str())]
        );
        assert!(config(&[("BROWSER_TOKEN_SECRET", " , ")])
            .unwrap()
            .browser_token_secrets
            .is_empty());
        let short = "s".repeat(MIN_BROWSER_TOKEN_SECRET_BYTES - 1);
        let error = config(&[("BROWSER_TOKEN_SECRET", &format!("{new},{short}"))]).unwrap_err();
        assert_eq!(error.name, "BROWSER_TOKEN_SECRET");
        assert!(!error.problem.contains(&short) && !error.problem.contains(&new));
    }

    #[test]
    fn parses_rotation_lists_method_and_numbers() {
        let config = config(&[
            ("VONAGE_SIGNATURE_SECRET", "old, new"),
            ("VONAGE_SIGNATURE_METHOD", "sha256"),
            ("SIGNATURE_TOLERANCE_SECONDS", "60"),
            ("STATUS_API_TOKEN", "t1,t2"),
        ])
        .unwrap();
        let vonage = config.providers.vonage.unwrap();
        assert_eq!(vonage.secrets.len(), 2);
        assert_eq!(vonage.sms_method, Some(SmsMethod::Sha256));
        assert_eq!(vonage.tolerance_seconds, 60);
        assert_eq!(config.status_api_tokens.len(), 2);
    }

    #[test]
    fn the_overview_names_what_is_configured_and_no_secret() {
        let secrets = [
            ("STATUS_API_TOKEN", "status-token-one,status-token-two"),
            (
                "BROWSER_TOKEN_SECRET",
                "browser-secret-0123456789abcdef0123456789",
            ),
            ("TWILIO_AUTH_TOKEN", "twilio-auth-token"),
            ("DELIVERY_ENDPOINTS", "crm"),
            ("DELIVERY_CRM_URL", "https://crm.example.com/in?key=app-key"),
            (
                "DELIVERY_CRM_SECRET",
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            ),
        ];
        let overview = config(&secrets).unwrap().overview();
        let configured: Vec<ProviderId> = overview
            .providers
            .iter()
            .filter(|row| row.configured)
            .map(|row| row.provider)
            .collect();
        assert_eq!(configured, [ProviderId::Twilio]);
        assert_eq!(overview.providers.len(), ProviderId::ALL.len());
        assert_eq!(overview.status_api_tokens, 2);
        assert!(overview.browser_tokens);
        assert_eq!(
            overview.delivery.endpoints[0].url,
            "https://crm.example.com/…"
        );
        let text = serde_json::to_string(&overview).unwrap();
        for (_, value) in &secrets[..3] {
            for secret in value.split(',') {
                assert!(!text.contains(secret), "{secret} shown");
            }
        }
        assert!(!text.contains("app-key") && !text.contains("MfKQ9r8"));

        let bare = config(&[]).unwrap().overview();
        assert!(bare.providers.iter().all(|row| !row.configured));
        assert!(!bare.browser_tokens && bare.delivery.endpoints.is_empty());
    }

    #[test]
    fn the_vis_keeper_needs_the_public_base_url_its_registration_names() {
        let credentials = [
            ("VONAGE_BUSINESS_CLIENT_ID", "id"),
            ("VONAGE_BUSINESS_CLIENT_SECRET", "secret"),
            ("VONAGE_BUSINESS_USERNAME", "ops"),
            ("VONAGE_BUSINESS_PASSWORD", "password"),
        ];
        let error = config(&credentials).unwrap_err();
        assert_eq!(error.name, "PUBLIC_BASE_URL");
        let mut complete = credentials.to_vec();
        complete.push(("PUBLIC_BASE_URL", "https://hooks.example.com"));
        let parsed = config(&complete).unwrap();
        assert!(parsed.vis_keeper.is_some() && parsed.overview().vis_keeper);
        assert!(config(&[]).unwrap().vis_keeper.is_none());
        let error = config(&credentials[..3]).unwrap_err();
        assert_eq!(error.name, "VONAGE_BUSINESS_PASSWORD");
    }

    #[test]
    fn public_base_url_is_a_scheme_and_host() {
        let parsed = config(&[("PUBLIC_BASE_URL", "https://hooks.example.com:8443/")]).unwrap();
        assert_eq!(
            parsed.public_base_url.as_deref(),
            Some("https://hooks.example.com:8443")
        );
        assert!(config(&[]).unwrap().public_base_url.is_none());
        for bad in [
            "hooks.example.com",
            "https://",
            "https://h.example/path",
            "ftp://h",
        ] {
            let error = config(&[("PUBLIC_BASE_URL", bad)]).unwrap_err();
            assert_eq!(error.name, "PUBLIC_BASE_URL", "{bad}");
        }
    }

    #[test]
    fn telnyx_keys_are_parsed_and_bad_ones_named() {
        let public = "t1uFehr4HyWHsygFksqSa8GQxdyE6SqW/X80t5zr4yw=";
        let seed = "QQ4zVZwaOjqYl5yNOE8msy4rKd/R77yMkSuH/9i0K8M=";
        let telnyx = config(&[
            ("TELNYX_PUBLIC_KEY", public),
            ("TELNYX_SIGNING_PRIVATE_KEY", seed),
        ])
        .unwrap()
        .providers
        .telnyx
        .unwrap();
        assert_eq!(telnyx.public_keys.len(), 1);
        assert!(telnyx.signing_key.is_some());
        assert!(config(&[]).unwrap().providers.telnyx.is_none());
        let error = config(&[("TELNYX_PUBLIC_KEY", "not-a-key")]).unwrap_err();
        assert_eq!(error.name, "TELNYX_PUBLIC_KEY");
        assert!(!error.problem.contains("not-a-key"));
        let error = config(&[
            ("TELNYX_PUBLIC_KEY", public),
            ("TELNYX_SIGNING_PRIVATE_KEY", "c2hvcnQ="),
        ])
        .unwrap_err();
        assert_eq!(error.name, "TELNYX_SIGNING_PRIVATE_KEY");
    }

    #[test]
    fn status_tokens_merge_both_settings_and_cors_origins_are_exact() {
        let parsed = config(&[
            ("STATUS_API_TOKEN", "a"),
            ("STATUS_API_TOKENS", "b, c"),
            (
                "CORS_ALLOW_ORIGINS",
                "https://app.example.com, http://localhost:5173/",
            ),
        ])
        .unwrap();
        assert_eq!(parsed.status_api_tokens.len(), 3);
        assert_eq!(
            parsed.cors_allow_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        let error = config(&[("CORS_ALLOW_ORIGINS", "*")]).unwrap_err();
        assert_eq!(error.name, "CORS_ALLOW_ORIGINS");
    }

    #[test]
    fn plivo_v2_is_off_unless_enabled() {
        let plivo = |pairs: &[(&str, &str)]| {
            let mut all = vec![("PLIVO_AUTH_TOKEN", "t")];
            all.extend_from_slice(pairs);
            config(&all).map(|config| config.providers.plivo.unwrap().accept_v2)
        };
        assert_eq!(plivo(&[]), Ok(false));
        assert_eq!(plivo(&[("PLIVO_ACCEPT_V2", " ")]), Ok(false));
        assert_eq!(plivo(&[("PLIVO_ACCEPT_V2", "false")]), Ok(false));
        assert_eq!(plivo(&[("PLIVO_ACCEPT_V2", "true")]), Ok(true));
        assert_eq!(plivo(&[("PLIVO_ACCEPT_V2", " TRUE ")]), Ok(true));
        for bad in ["yes", "1", "on"] {
            let error = plivo(&[("PLIVO_ACCEPT_V2", bad)]).unwrap_err();
            assert_eq!(error.name, "PLIVO_ACCEPT_V2", "{bad}");
        }
        let error = config(&[("PLIVO_ACCEPT_V2", "maybe")]).unwrap_err();
        assert_eq!(error.name, "PLIVO_ACCEPT_V2");
    }

    #[test]
    fn blank_secret_is_the_same_as_missing() {
        assert!(config(&[("VONAGE_SIGNATURE_SECRET", " , ")])
            .unwrap()
            .providers
            .vonage
            .is_none());
    }

    #[test]
    fn bad_values_name_the_setting() {
        let error = config(&[("VONAGE_SIGNATURE_METHOD", "crc32")]).unwrap_err();
        assert_eq!(error.name, "VONAGE_SIGNATURE_METHOD");
        let error = config(&[("SIGNATURE_TOLERANCE_SECONDS", "-5")]).unwrap_err();
        assert_eq!(error.name, "SIGNATURE_TOLERANCE_SECONDS");
        let error = config(&[("MAX_BODY_BYTES", "0")]).unwrap_err();
        assert_eq!(error.name, "MAX_BODY_BYTES");
    }
}
