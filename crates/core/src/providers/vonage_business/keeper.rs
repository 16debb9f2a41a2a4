//! Keeping Switchboard's own VIS registration alive (docs/providers/vonage-business.md, "Keeping
//! the registration alive"): a VIS webhook registration expires about 10 days after it was made
//! or renewed, and one marked failed (five deliveries refused, 10 s apart) receives nothing more
//! until it is renewed; the events it missed can be listed. Pure: what to ask the VIS API, and
//! what to do with its answers. The worker makes the requests.
//!
//! Sources: `Vonage/vbc-developer@5ec7c8df704d62a1796b2af4340e1a4e7f673b2f:_documentation/en/
//! vonage-integration-platform/concepts/webhooks.md` (expiry, failure, renewal, backfill);
//! `Vonage/vbc-developer@02fcca11053e902facac2dec7e76503430036448:_documentation/en/
//! getting-started/create-an-access-token.md` (the password and refresh grants, `@vbc.prod`);
//! `Nexmo/api-specification@68490d0c22f3f2fb674cfe8f4554421400696b8f:definitions/
//! vonage-business-cloud/vgis.yml` (`/self/webhooks`, `/self/webhooks/{id}/renew`,
//! `/self/events`, the `Webhook` and `Event` schemas).

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::{normalize_event, parse_time, scalar};
use crate::config::{ConfigError, Settings};
use crate::model::{Event, Provenance};
use crate::secret::Secret;
use crate::time::Timestamp;

/// Where the VIS API and its token endpoint live unless `VONAGE_BUSINESS_API_URL` says otherwise.
pub const DEFAULT_API_URL: &str = "https://api.vonage.com";
/// The VIS API below the API URL (vgis.yml `servers`).
pub const VIS_PATH: &str = "/t/vbc.prod/vis/v1";
/// A registration that expires within this is renewed.
pub const RENEW_WITHIN_MS: i64 = 3 * DAY_MS;
/// How far before the last stored event a backfill starts listing. If the events API selects
/// by `startTime`, as its `Event` suggests, the end of a call carries the call's start: the
/// margin covers calls that started up to this long before and ended during the gap (longer
/// ones end unseen); what it lists twice is absorbed by dedup.
pub const BACKFILL_MARGIN_MS: i64 = 6 * 60 * 60_000;
/// How much later than the last stored event a success VIS reports must be to mean a missed
/// one: source health counts webhooks a few seconds after they are answered.
pub const SUCCESS_GRACE_MS: i64 = 2 * 60_000;
/// The furthest back a backfill lists, whatever was stored last.
pub const MAX_BACKFILL_MS: i64 = 7 * DAY_MS;
/// Events asked for per page of `GET /self/events`.
pub const EVENTS_PAGE_SIZE: u32 = 15;
/// Pages one run reads. A run makes at most 9 other requests (token grants and their retry, the
/// list, the renewal), then per page one request and an append per event: 9 + 2 × (1 + 15) = 41,
/// within the 50 subrequests of a Free-plan invocation.
pub const PAGES_PER_RUN: u32 = 2;
/// An access token is replaced this long before it expires.
const TOKEN_MARGIN_MS: i64 = 5 * 60_000;
const DAY_MS: i64 = 24 * 60 * 60_000;

/// The four credentials the keeper acts with, all set or none (`VONAGE_BUSINESS_CLIENT_ID`,
/// `…_CLIENT_SECRET`, `…_USERNAME`, `…_PASSWORD`), and where the API is.
#[derive(Debug, Clone)]
pub struct KeeperConfig {
    /// Without a trailing `/`.
    pub api_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The VBC user the API acts for, as the user types it (without `@vbc.prod`).
    pub username: String,
    pub password: Secret,
}

const CREDENTIALS: [&str; 4] = [
    "VONAGE_BUSINESS_CLIENT_ID",
    "VONAGE_BUSINESS_CLIENT_SECRET",
    "VONAGE_BUSINESS_USERNAME",
    "VONAGE_BUSINESS_PASSWORD",
];

impl KeeperConfig {
    /// `None` when none of the four credentials is set (the keeper is off); an error naming the
    /// first missing one when only some are.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, ConfigError> {
        let values = CREDENTIALS.map(|name| settings.get(name));
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        if let Some(missing) = CREDENTIALS.iter().zip(&values).find(|(_, v)| v.is_none()) {
            return Err(ConfigError {
                name: (*missing.0).into(),
                problem:
                    "the VIS keeper needs all four VONAGE_BUSINESS_CLIENT_ID, _CLIENT_SECRET, \
                          _USERNAME and _PASSWORD, or none"
                        .into(),
            });
        }
        let [client_id, client_secret, username, password] =
            values.map(|value| value.unwrap_or_default().trim().to_owned());
        let api_url = match settings.get("VONAGE_BUSINESS_API_URL") {
            None => DEFAULT_API_URL.to_owned(),
            Some(url) => {
                let url = url.trim().trim_end_matches('/');
                let invalid = |problem: &str| ConfigError {
                    name: "VONAGE_BUSINESS_API_URL".into(),
                    problem: problem.into(),
                };
                // The credentials go there: https, or http to this machine (tests).
                crate::delivery::parse_url(url).map_err(invalid)?;
                if url.contains('?') {
                    return Err(invalid("must be a URL without a query"));
                }
                url.to_owned()
            }
        };
        Ok(Some(Self {
            api_url,
            client_id,
            client_secret: Secret::new(client_secret),
            username,
            password: Secret::new(password),
        }))
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.api_url)
    }

    pub fn webhooks_url(&self) -> String {
        format!("{}{VIS_PATH}/self/webhooks", self.api_url)
    }

    pub fn renew_url(&self, registration_id: &str) -> String {
        let id: String = form_urlencoded::byte_serialize(registration_id.as_bytes()).collect();
        format!("{}{VIS_PATH}/self/webhooks/{id}/renew", self.api_url)
    }

    /// Page `page` (from 0) of the call events between `from` and `to`, oldest first. The spec
    /// types `fromDate` and `toDate` as integers without a unit; they are sent as Unix
    /// milliseconds, like every other VIS time the API exchanges as a number.
    pub fn events_url(&self, from: Timestamp, to: Timestamp, page: u32) -> String {
        format!(
            "{}{VIS_PATH}/self/events?types=CALL&fromDate={}&toDate={}&offset={page}&size={EVENTS_PAGE_SIZE}&order=ASC",
            self.api_url,
            from.millis(),
            to.millis()
        )
    }

    /// The body of `POST /self/webhooks` that registers `url` for call events, signed with
    /// `signing_key` (HMAC-SHA256), the signature in the `X-VON-Signature` header: what this
    /// worker verifies (docs/providers/vonage-business.md).
    pub fn registration_request(url: &str, signing_key: &str) -> String {
        serde_json::json!({
            "url": url,
            "events": ["CALL"],
            "signingAlgo": "HMAC_SHA256",
            "signingKey": signing_key,
            "metadataPolicy": "HEADER",
        })
        .to_string()
    }

    /// The form body of a token request: the refresh grant when a refresh token is at hand,
    /// else the password grant, whose username takes `@vbc.prod` (create-an-access-token.md).
    pub fn token_request(&self, refresh: Option<&Secret>) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        match refresh {
            Some(refresh) => form
                .append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", refresh.expose()),
            None => {
                let username = if self.username.contains('@') {
                    self.username.clone()
                } else {
                    format!("{}@vbc.prod", self.username)
                };
                form.append_pair("grant_type", "password")
                    .append_pair("scope", "openid")
                    .append_pair("username", &username)
                    .append_pair("password", self.password.expose())
            }
        };
        form.append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .finish()
    }
}

/// What went wrong talking to the VIS API, for the log and source health: never a token, a
/// password or a body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeeperError {
    #[error("the token endpoint refused the credentials ({0})")]
    TokenRefused(u16),
    #[error("{what} answered {status}")]
    Status { what: &'static str, status: u16 },
    #[error("{0}: the answer is not what the VIS API documents")]
    Unreadable(&'static str),
    #[error("{0}")]
    Unreachable(String),
    #[error("no registration of the VIS API has this worker's URL {0}")]
    NotRegistered(String),
    #[error("backfill: {0}")]
    Backfill(String),
}

/// An access token and when to stop using it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    /// [`TOKEN_MARGIN_MS`] before it expires.
    pub use_until: Timestamp,
    pub refresh: Option<Secret>,
}

impl AccessToken {
    /// Reads a token endpoint's `200` answer, received at `now`.
    pub fn parse(body: &[u8], now: Timestamp) -> Result<Self, KeeperError> {
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            #[serde(default)]
            refresh_token: Option<String>,
            expires_in: i64,
        }
        let answer: Answer = serde_json::from_slice(body)
            .map_err(|_| KeeperError::Unreadable("the token endpoint"))?;
        if answer.access_token.is_empty() || answer.expires_in <= 0 {
            return Err(KeeperError::Unreadable("the token endpoint"));
        }
        let lifetime_ms = answer.expires_in.saturating_mul(1000);
        Ok(Self {
            token: Secret::new(answer.access_token),
            use_until: Timestamp::from_millis(
                now.millis() + (lifetime_ms - TOKEN_MARGIN_MS).max(lifetime_ms / 2),
            ),
            refresh: answer
                .refresh_token
                .filter(|token| !token.is_empty())
                .map(Secret::new),
        })
    }

    pub fn usable(&self, now: Timestamp) -> bool {
        now < self.use_until
    }
}

/// One registration as `GET /self/webhooks` lists it (vgis.yml `Webhook`; `statistics` also
/// as concepts/webhooks.md describes it). Unknown members are ignored.
/// Read leniently: vgis.yml types `id` as a string but shows a number, and `statistics` beyond
/// `failed` is described in prose only (concepts/webhooks.md), so a member of another type reads
/// as absent rather than failing the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    #[serde(deserialize_with = "text")]
    pub id: String,
    pub url: String,
    #[serde(default, deserialize_with = "optional_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "optional_text")]
    pub expire_at: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub statistics: Statistics,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    #[serde(default, deserialize_with = "optional_count")]
    pub total_attempts: Option<u64>,
    #[serde(default, deserialize_with = "optional_count")]
    pub total_successes: Option<u64>,
    #[serde(default, deserialize_with = "optional_count")]
    pub total_failures: Option<u64>,
    /// Marked failed: nothing more is delivered until it is renewed, which clears it [B1]. The
    /// API document names it `failed` [B6], the webhooks page `isFailed` [B1]: either is read.
    #[serde(default, alias = "isFailed", deserialize_with = "lenient")]
    pub failed: bool,
    #[serde(default, deserialize_with = "optional_text")]
    pub last_success: Option<String>,
    #[serde(default, deserialize_with = "optional_text")]
    pub last_failure: Option<String>,
    #[serde(default, deserialize_with = "optional_count")]
    pub last_http_error_code: Option<u64>,
}

/// A string, or a number as its digits (VIS's [`scalar`]).
fn text<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    optional_text(deserializer)?.ok_or_else(|| serde::de::Error::custom("not a string or number"))
}

fn optional_text<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(scalar(Some(&Json::deserialize(deserializer)?)))
}

/// A whole number, also written as a string; anything else is absent.
fn optional_count<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    Ok(match Json::deserialize(deserializer)? {
        Json::Number(number) => number.as_u64(),
        Json::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

/// The value if it reads as `T`, else `T`'s default.
fn lenient<'de, D: serde::Deserializer<'de>, T: Default + serde::de::DeserializeOwned>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(serde_json::from_value(Json::deserialize(deserializer)?).unwrap_or_default())
}

impl Registration {
    /// Reads `GET /self/webhooks` (an array).
    pub fn parse_list(body: &[u8]) -> Result<Vec<Self>, KeeperError> {
        serde_json::from_slice(body).map_err(|_| KeeperError::Unreadable("the webhook list"))
    }

    /// Reads `PUT /self/webhooks/{id}/renew` (the renewed registration).
    pub fn parse_one(body: &[u8]) -> Result<Self, KeeperError> {
        serde_json::from_slice(body).map_err(|_| KeeperError::Unreadable("the renewal"))
    }

    pub fn expires_at(&self) -> Option<Timestamp> {
        parse_time(self.expire_at.as_deref()?)
    }

    pub fn last_success(&self) -> Option<Timestamp> {
        parse_time(self.statistics.last_success.as_deref()?)
    }
}

/// This worker's registration among `registrations`: the one whose `url` is `own_url` (the
/// worker's `PUBLIC_BASE_URL` and `/webhooks/vonage-business`; a trailing `/` aside). Another
/// application's registrations are never touched.
pub fn own_registration<'a>(
    registrations: &'a [Registration],
    own_url: &str,
) -> Option<&'a Registration> {
    let own = own_url.trim_end_matches('/');
    registrations
        .iter()
        .find(|registration| registration.url.trim_end_matches('/') == own)
}

/// Why a registration is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenewReason {
    /// It expires within [`RENEW_WITHIN_MS`] (or says no expiry at all).
    Expiring,
    /// Marked failed: it receives nothing until renewed.
    Failed,
    /// Its status is not `ACTIVE`.
    Paused,
}

/// What one run of the keeper does about its registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub renew: Option<RenewReason>,
    /// List the events from this time on and append the ones not stored.
    pub backfill_from: Option<Timestamp>,
}

/// Decides a run at `now`, for `registration`, when the last VIS event Switchboard stored was
/// received at `last_stored` (`None`: none yet).
///
/// Backfill when events may have been missed: the registration was marked failed (it stopped
/// receiving), or VIS delivered successfully after the last event Switchboard stored (a
/// delivery it counted as a success that Switchboard does not have, or a gap while this worker
/// answered but lost nothing: listing costs only requests, and dedup absorbs what is stored).
/// It starts [`BACKFILL_MARGIN_MS`] before the last stored event, never more than
/// [`MAX_BACKFILL_MS`] ago.
pub fn plan(registration: &Registration, now: Timestamp, last_stored: Option<Timestamp>) -> Plan {
    let renew = if registration.statistics.failed {
        Some(RenewReason::Failed)
    } else if registration
        .status
        .as_deref()
        .is_some_and(|status| status != "ACTIVE")
    {
        Some(RenewReason::Paused)
    } else if registration
        .expires_at()
        .is_none_or(|expires| expires.millis() - now.millis() < RENEW_WITHIN_MS)
    {
        Some(RenewReason::Expiring)
    } else {
        None
    };
    let delivered_since = match (registration.last_success(), last_stored) {
        (Some(success), Some(stored)) => success.millis() > stored.millis() + SUCCESS_GRACE_MS,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let missed = renew == Some(RenewReason::Failed) || delivered_since;
    let earliest = now.millis() - MAX_BACKFILL_MS;
    let backfill_from = missed.then(|| {
        let from = last_stored.map_or(earliest, |stored| stored.millis() - BACKFILL_MARGIN_MS);
        Timestamp::from_millis(from.max(earliest))
    });
    Plan {
        renew,
        backfill_from,
    }
}

/// One page of `GET /self/events`, read at `received_at`.
#[derive(Debug, Default)]
pub struct ListedPage {
    /// Its call events (provenance `backfill`), each with its item as listed (kept as the
    /// event's raw request).
    pub events: Vec<(Event, String)>,
    /// Items that are not an event Switchboard can read (no `id` or `state`): left out, counted.
    pub skipped: u64,
    /// How many items the page held: fewer than [`EVENTS_PAGE_SIZE`] is the last page.
    pub items: usize,
}

/// Reads one page of `GET /self/events`; only an answer that is not a list fails.
pub fn listed_events(body: &[u8], received_at: Timestamp) -> Result<ListedPage, KeeperError> {
    let items: Vec<Json> =
        serde_json::from_slice(body).map_err(|_| KeeperError::Unreadable("the event list"))?;
    let mut page = ListedPage {
        items: items.len(),
        ..ListedPage::default()
    };
    for item in &items {
        let normalized = item
            .as_object()
            .map(|members| normalize_event(members, received_at));
        match normalized {
            Some(Ok(Some(event))) => {
                let event = Event {
                    provenance: Provenance::Backfill,
                    ..event
                };
                page.events.push((event, item.to_string()));
            }
            Some(Ok(None)) => {}
            Some(Err(_)) | None => page.skipped += 1,
        }
    }
    Ok(page)
}

/// What the keeper last saw and did, kept by the `vonage-business` `Source` object and shown in
/// source health (`GET /v1/sources`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeeperState {
    /// This worker's registration as the last run found it (renewed, if it renewed it).
    pub registration: Option<Registration>,
    /// Every VIS event that arrived before this is stored, as far as the keeper knows: the
    /// latest of what source health counted and what backfills completed, kept beyond the day
    /// source health keeps its counts.
    pub stored_until: Option<Timestamp>,
    pub last_run: Option<RunRecord>,
    pub last_renewal: Option<RenewalRecord>,
    pub last_backfill: Option<BackfillRecord>,
}

impl KeeperState {
    /// When the last VIS event Switchboard holds arrived, at the latest: [`Self::stored_until`],
    /// the end of the last minute source health counted an accepted VIS webhook in
    /// (`last_accepted_minute`), or the end of the window of the last backfill that completed.
    pub fn last_stored(&self, last_accepted_minute: Option<i64>) -> Option<Timestamp> {
        let counted = last_accepted_minute.map(|minute| minute + crate::sources::BUCKET_MS);
        let backfilled = self
            .last_backfill
            .as_ref()
            .filter(|backfill| backfill.resume_page.is_none())
            .map(|backfill| backfill.to.millis());
        let kept = self.stored_until.map(Timestamp::millis);
        counted
            .max(backfilled)
            .max(kept)
            .map(Timestamp::from_millis)
    }

    /// The backfill still owed: the window and the page to go on from, kept until a run lists
    /// its last page (also across a run that failed, and across a renewal that did).
    pub fn pending_backfill(&self) -> Option<(Timestamp, Timestamp, u32)> {
        let backfill = self.last_backfill.as_ref()?;
        Some((backfill.from, backfill.to, backfill.resume_page?))
    }

    /// Records a backfill owed from `from` to `now`, before anything else in the run can fail.
    /// A window still owed that starts as early goes on where it is, now ending at `now`: a
    /// later outage is inside it, and its pages stay where they were, since events are listed
    /// oldest first (docs/providers/vonage-business.md §6). One that starts later is widened,
    /// and starts over.
    pub fn owe_backfill(&mut self, from: Timestamp, now: Timestamp) {
        if let Some(pending) = self
            .last_backfill
            .as_mut()
            .filter(|backfill| backfill.resume_page.is_some() && backfill.from <= from)
        {
            pending.to = pending.to.max(now);
            return;
        }
        self.last_backfill = Some(BackfillRecord {
            at: now,
            from,
            to: now,
            listed: 0,
            appended: 0,
            duplicates: 0,
            skipped: 0,
            resume_page: Some(0),
            error: None,
        });
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub at: Timestamp,
    /// Why the run stopped short (token refused, API down, …); `None` when it did everything.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalRecord {
    pub at: Timestamp,
    pub reason: RenewReason,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillRecord {
    pub at: Timestamp,
    /// The window listed.
    pub from: Timestamp,
    pub to: Timestamp,
    /// Call events listed, those appended as new, and those already stored, by the runs of
    /// this window so far; items that could not be read.
    pub listed: u64,
    pub appended: u64,
    pub duplicates: u64,
    pub skipped: u64,
    /// The page the next run goes on from, while the window is not listed to its end (the run
    /// read [`PAGES_PER_RUN`] pages, or failed); `None` once it is.
    pub resume_page: Option<u32>,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<KeeperConfig>, ConfigError> {
        let lookup = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        KeeperConfig::from_settings(&Settings::new(&lookup, 300))
    }

    const ALL: [(&str, &str); 4] = [
        ("VONAGE_BUSINESS_CLIENT_ID", "client-id"),
        ("VONAGE_BUSINESS_CLIENT_SECRET", "client secret&"),
        ("VONAGE_BUSINESS_USERNAME", "ops"),
        ("VONAGE_BUSINESS_PASSWORD", "pass word"),
    ];

    fn at(iso: &str) -> Timestamp {
        Timestamp::parse_rfc3339(iso).unwrap()
    }

    #[test]
    fn the_keeper_needs_all_four_credentials_or_none() {
        assert!(settings(&[]).unwrap().is_none());
        let config = settings(&ALL).unwrap().unwrap();
        assert_eq!(config.api_url, DEFAULT_API_URL);
        assert_eq!(config.token_url(), "https://api.vonage.com/token");
        for missing in 0..4 {
            let mut some = ALL.to_vec();
            let (name, _) = some.remove(missing);
            let error = settings(&some).unwrap_err();
            assert_eq!(error.name, name);
            assert!(!error.problem.contains("pass word"));
        }
        let mut local = ALL.to_vec();
        local.push(("VONAGE_BUSINESS_API_URL", "http://127.0.0.1:9100/"));
        let config = settings(&local).unwrap().unwrap();
        assert_eq!(
            config.webhooks_url(),
            "http://127.0.0.1:9100/t/vbc.prod/vis/v1/self/webhooks"
        );
        assert_eq!(
            config.renew_url("a b/c"),
            "http://127.0.0.1:9100/t/vbc.prod/vis/v1/self/webhooks/a+b%2Fc/renew"
        );
        for url in [
            "api.vonage.com",
            "http://api.example.com",
            "https://api.example.com?x=1",
        ] {
            let mut bad = ALL.to_vec();
            bad.push(("VONAGE_BUSINESS_API_URL", url));
            assert_eq!(
                settings(&bad).unwrap_err().name,
                "VONAGE_BUSINESS_API_URL",
                "{url}"
            );
        }
    }

    #[test]
    fn token_requests_are_the_password_grant_then_the_refresh_grant() {
        let config = settings(&ALL).unwrap().unwrap();
        let pairs = |body: String| -> Vec<(String, String)> {
            form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect()
        };
        let password = pairs(config.token_request(None));
        assert!(password.contains(&("grant_type".into(), "password".into())));
        assert!(password.contains(&("username".into(), "ops@vbc.prod".into())));
        assert!(password.contains(&("password".into(), "pass word".into())));
        assert!(password.contains(&("client_secret".into(), "client secret&".into())));
        let refresh = pairs(config.token_request(Some(&Secret::new("r-1"))));
        assert!(refresh.contains(&("grant_type".into(), "refresh_token".into())));
        assert!(refresh.contains(&("refresh_token".into(), "r-1".into())));
        assert!(!refresh.iter().any(|(name, _)| name == "password"));

        let now = at("2026-12-06T00:00:00Z");
        let token = AccessToken::parse(
            br#"{"access_token":"a-1","refresh_token":"r-2","token_type":"Bearer","expires_in":86400}"#,
            now,
        )
        .unwrap();
        assert_eq!(token.token.expose(), "a-1");
        assert!(token.usable(at("2026-12-06T23:54:00Z")));
        assert!(!token.usable(at("2026-12-06T23:56:00Z")));
        assert_eq!(token.refresh.unwrap().expose(), "r-2");
        for bad in [
            &br#"{"expires_in":10}"#[..],
            br#"{"access_token":"","expires_in":10}"#,
            b"<html>",
        ] {
            assert!(AccessToken::parse(bad, now).is_err());
        }
    }

    fn registration(json: &str) -> Registration {
        Registration::parse_one(json.as_bytes()).unwrap()
    }

    #[test]
    fn only_this_workers_registration_is_kept() {
        let list = Registration::parse_list(
            br#"[{"id":"1","url":"https://other.example.com/hook","status":"ACTIVE"},
                 {"id":"2","url":"https://hooks.example.com/webhooks/vonage-business/","status":"ACTIVE","events":["CALL"]}]"#,
        )
        .unwrap();
        let own = own_registration(&list, "https://hooks.example.com/webhooks/vonage-business");
        assert_eq!(own.map(|found| found.id.as_str()), Some("2"));
        assert!(own_registration(
            &list,
            "https://elsewhere.example.com/webhooks/vonage-business"
        )
        .is_none());
    }

    #[test]
    fn a_registration_is_renewed_before_it_expires_or_once_it_failed() {
        let now = at("2026-12-06T00:00:00Z");
        let healthy = registration(
            r#"{"id":"1","url":"u","status":"ACTIVE","expireAt":"2026-12-13T00:00:00.000Z","statistics":{"failed":false,"lastSuccess":"2026-12-05T23:00:00.000Z"}}"#,
        );
        let stored = Some(at("2026-12-05T23:30:00Z"));
        assert_eq!(
            plan(&healthy, now, stored),
            Plan {
                renew: None,
                backfill_from: None
            }
        );
        let expiring = Registration {
            expire_at: Some("2026-12-08T23:59:00.000Z".into()),
            ..healthy.clone()
        };
        assert_eq!(
            plan(&expiring, now, stored).renew,
            Some(RenewReason::Expiring)
        );
        let undated = Registration {
            expire_at: None,
            ..healthy.clone()
        };
        assert_eq!(
            plan(&undated, now, stored).renew,
            Some(RenewReason::Expiring)
        );
        let paused = Registration {
            status: Some("PAUSED".into()),
            ..healthy.clone()
        };
        assert_eq!(plan(&paused, now, stored).renew, Some(RenewReason::Paused));
        assert_eq!(plan(&paused, now, stored).backfill_from, None);

        let mut failed = healthy.clone();
        failed.statistics.failed = true;
        let failed_plan = plan(&failed, now, stored);
        assert_eq!(failed_plan.renew, Some(RenewReason::Failed));
        assert_eq!(failed_plan.backfill_from, Some(at("2026-12-05T17:30:00Z")));
    }

    #[test]
    fn a_success_after_the_last_stored_event_is_backfilled_from_it() {
        let now = at("2026-12-06T00:00:00Z");
        let registration = registration(
            r#"{"id":"1","url":"u","status":"ACTIVE","expireAt":"2026-12-13T00:00:00.000Z","statistics":{"lastSuccess":"2026-12-05T23:50:00.000+0000"}}"#,
        );
        let stored = at("2026-12-05T23:00:00Z");
        assert_eq!(
            plan(&registration, now, Some(stored)).backfill_from,
            Some(at("2026-12-05T17:00:00Z"))
        );
        // A success just after the last count is that webhook, counted a little later.
        let counted = at("2026-12-05T23:48:30Z");
        assert_eq!(plan(&registration, now, Some(counted)).backfill_from, None);
        assert_eq!(
            plan(&registration, now, None).backfill_from,
            Some(Timestamp::from_millis(now.millis() - MAX_BACKFILL_MS))
        );
        let long_ago = at("2026-10-01T00:00:00Z");
        assert_eq!(
            plan(&registration, now, Some(long_ago)).backfill_from,
            Some(Timestamp::from_millis(now.millis() - MAX_BACKFILL_MS))
        );
    }

    #[test]
    fn listed_events_are_the_calls_of_the_page() {
        let received = at("2026-12-06T00:00:00Z");
        let page = listed_events(
            br#"[{"id":"7","type":"CALL","accountId":1,"userId":2,"uciId":3,"direction":"INBOUND","phoneNumber":"14155550100","state":"RINGING","startTime":"2026-12-05T23:59:00.000+0000"},
                 {"id":"8","type":"SMS","accountId":1,"userId":2,"uciId":3,"direction":"INBOUND","phoneNumber":"1","state":"RINGING","startTime":"2026-12-05T23:59:00.000+0000"},
                 {"type":"CALL","state":"RINGING"}, 42]"#,
            received,
        )
        .unwrap();
        assert_eq!((page.items, page.skipped), (4, 2));
        assert_eq!(page.events.len(), 1);
        let (event, listed) = &page.events[0];
        assert_eq!(event.subject_id, "7");
        assert_eq!(event.status, Some(Status::Ringing));
        assert_eq!(event.from.as_deref(), Some("14155550100"));
        assert_eq!(event.provenance, Provenance::Backfill);
        let shown = serde_json::to_value(event).unwrap();
        assert_eq!(shown["provenance"], "backfill");
        assert!(listed.contains(r#""uciId":3"#), "{listed}");
        assert!(listed_events(b"{}", received).is_err());
    }

    #[test]
    fn the_last_stored_event_is_the_latest_known_and_a_pending_backfill_is_kept() {
        let minute = 1_800_000_000_000;
        let at = Timestamp::from_millis;
        let mut state = KeeperState::default();
        assert_eq!(state.last_stored(None), None);
        assert_eq!(state.last_stored(Some(minute)), Some(at(minute + 60_000)));

        state.owe_backfill(at(minute - 3_600_000), at(minute + 300_000));
        assert_eq!(
            state.pending_backfill(),
            Some((at(minute - 3_600_000), at(minute + 300_000), 0))
        );
        assert_eq!(state.last_stored(Some(minute)), Some(at(minute + 60_000)));
        // A window owed goes on where it is when it starts as early as the new one, now to its
        // end (a second outage is not lost), and is widened and started over when it does not.
        if let Some(backfill) = state.last_backfill.as_mut() {
            backfill.resume_page = Some(1);
            backfill.error = Some("the event list answered 503".into());
        }
        state.owe_backfill(at(minute), at(minute + 600_000));
        assert_eq!(
            state.pending_backfill(),
            Some((at(minute - 3_600_000), at(minute + 600_000), 1))
        );
        state.owe_backfill(at(minute - 7_200_000), at(minute + 600_000));
        assert_eq!(
            state.pending_backfill(),
            Some((at(minute - 7_200_000), at(minute + 600_000), 0))
        );
        // Listed to its end: no longer owed, and what it covered is stored.
        if let Some(backfill) = state.last_backfill.as_mut() {
            backfill.resume_page = None;
        }
        assert_eq!(state.pending_backfill(), None);
        assert_eq!(state.last_stored(Some(minute)), Some(at(minute + 600_000)));
        state.owe_backfill(at(minute), at(minute + 900_000));
        assert_eq!(
            state.pending_backfill(),
            Some((at(minute), at(minute + 900_000), 0))
        );
        // Kept beyond the day of counts.
        state.last_backfill = None;
        state.stored_until = Some(at(minute + 600_000));
        assert_eq!(state.last_stored(None), Some(at(minute + 600_000)));
    }

    #[test]
    fn registrations_are_read_leniently() {
        let list = Registration::parse_list(
            br#"[{"id":123456,"url":"u","status":"ACTIVE","expireAt":null,
                  "statistics":{"failed":true,"totalAttempts":"7","lastSuccess":5,"lastHttpErrorCode":"503"}},
                 {"id":"2","url":"v","statistics":"n/a"}]"#,
        )
        .unwrap();
        assert_eq!(list[0].id, "123456");
        assert!(list[0].statistics.failed);
        assert_eq!(list[0].statistics.total_attempts, Some(7));
        assert_eq!(list[0].statistics.last_http_error_code, Some(503));
        assert_eq!(list[0].expire_at, None);
        assert_eq!(list[1].statistics, Statistics::default());
        assert!(Registration::parse_list(br#"[{"url":"u"}]"#).is_err());
        // The webhooks page's name for the flag [B1].
        let failed =
            Registration::parse_list(br#"[{"id":"3","url":"u","statistics":{"isFailed":true}}]"#)
                .unwrap();
        assert!(failed[0].statistics.failed);
    }

    #[test]
    fn a_registration_asks_for_signed_call_events_with_the_signature_in_a_header() {
        let body: Json = serde_json::from_str(&KeeperConfig::registration_request(
            "https://hooks.example.com/webhooks/vonage-business",
            "k-1",
        ))
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "url": "https://hooks.example.com/webhooks/vonage-business",
                "events": ["CALL"], "signingAlgo": "HMAC_SHA256", "signingKey": "k-1",
                "metadataPolicy": "HEADER",
            })
        );
    }

    #[test]
    fn the_events_url_pages_by_number() {
        let config = settings(&ALL).unwrap().unwrap();
        let url = config.events_url(
            Timestamp::from_millis(1_000),
            Timestamp::from_millis(2_000),
            3,
        );
        assert_eq!(
            url,
            "https://api.vonage.com/t/vbc.prod/vis/v1/self/events?types=CALL&fromDate=1000&toDate=2000&offset=3&size=15&order=ASC"
        );
    }
}
