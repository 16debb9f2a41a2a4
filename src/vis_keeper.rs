//! The VIS keeper's run (`switchboard_core::providers::vonage_business::keeper` decides, this
//! makes the requests): get a token, find this worker's registration, renew it when the plan
//! says so, list the events it may have missed and append each through the same path as a
//! webhook. Run by the `vonage-business` `Source` object (`src/source.rs`), from the Cron
//! Trigger or `POST /v1/sources/vonage-business/maintain`, one run at a time. A failure is
//! logged and recorded with its reason and tried again at the next run; receiving never waits
//! for any of it.

use std::cell::RefCell;
use std::time::Duration;

use switchboard_core::providers::vonage_business::keeper::{
    listed_events, own_registration, plan, AccessToken, BackfillRecord, KeeperConfig, KeeperError,
    KeeperState, Registration, RenewalRecord, RunRecord, EVENTS_PAGE_SIZE, PAGES_PER_RUN,
};
use switchboard_core::{CapturedRequest, Config, Timestamp};
use worker::{wasm_bindgen, web_sys, Env};

use crate::fetch::fetch_body_within;
use crate::webhook::{append, MAX_SUBJECT_ID_BYTES};

/// How long one request to the VIS API may take.
const API_TIMEOUT: Duration = Duration::from_secs(15);
/// The path VIS delivers to, below `PUBLIC_BASE_URL`.
pub const WEBHOOK_PATH: &str = "/webhooks/vonage-business";

/// One run at `now`, updating `state`. `last_accepted_minute` is the last minute source health
/// counted an accepted VIS webhook in.
pub async fn run(
    env: &Env,
    config: &Config,
    keeper: &KeeperConfig,
    token: &RefCell<Option<AccessToken>>,
    state: &mut KeeperState,
    last_accepted_minute: Option<i64>,
    now: Timestamp,
) {
    let mut client = Client { keeper, token };
    let outcome = steps(env, config, &mut client, state, last_accepted_minute, now).await;
    if let Err(error) = &outcome {
        let line = serde_json::json!({ "event": "vis_keeper_failed", "detail": error.to_string() });
        worker::console_error!("{line}");
    }
    state.last_run = Some(RunRecord {
        at: now,
        error: outcome.err().map(|error| error.to_string()),
    });
}

async fn steps(
    env: &Env,
    config: &Config,
    client: &mut Client<'_>,
    state: &mut KeeperState,
    last_accepted_minute: Option<i64>,
    now: Timestamp,
) -> Result<(), KeeperError> {
    let own_url = format!(
        "{}{WEBHOOK_PATH}",
        config.public_base_url.as_deref().unwrap_or_default()
    );
    let listed = client
        .call(
            "GET",
            &client.keeper.webhooks_url(),
            "the webhook list",
            now,
        )
        .await?;
    let registrations = Registration::parse_list(&listed)?;
    let registration = own_registration(&registrations, &own_url)
        .cloned()
        .ok_or_else(|| KeeperError::NotRegistered(own_url.clone()))?;
    let decided = plan(&registration, now, state.last_stored(last_accepted_minute));
    state.registration = Some(registration.clone());
    // Owed before the renewal, so that a renewal that fails, or succeeds unseen, loses nothing.
    if let Some(from) = decided.backfill_from {
        state.owe_backfill(from, now);
    }
    let mut renewal_error = None;
    if let Some(reason) = decided.renew {
        let renewed = client
            .call(
                "PUT",
                &client.keeper.renew_url(&registration.id),
                "the renewal",
                now,
            )
            .await
            .and_then(|body| Registration::parse_one(&body));
        state.last_renewal = Some(RenewalRecord {
            at: now,
            reason,
            error: renewed.as_ref().err().map(ToString::to_string),
        });
        match renewed {
            Ok(renewed) => state.registration = Some(renewed),
            Err(error) => renewal_error = Some(error),
        }
    }
    if let Some(record) = state
        .last_backfill
        .as_mut()
        .filter(|b| b.resume_page.is_some())
    {
        backfill(env, client, record, now).await;
    }
    state.stored_until = state.last_stored(last_accepted_minute);
    if let Some(error) = renewal_error {
        return Err(error);
    }
    match state.last_backfill.as_ref().and_then(|b| b.error.clone()) {
        Some(error) if state.pending_backfill().is_some() => Err(KeeperError::Backfill(error)),
        _ => Ok(()),
    }
}

/// Lists the call events of `record`'s window from its resume page on, [`PAGES_PER_RUN`] pages
/// at the most, and appends each; `record` keeps the counts and where to go on from.
async fn backfill(env: &Env, client: &mut Client<'_>, record: &mut BackfillRecord, now: Timestamp) {
    let Some(first_page) = record.resume_page else {
        return;
    };
    record.at = now;
    record.error = None;
    for page in first_page..first_page + PAGES_PER_RUN {
        record.resume_page = Some(page);
        let url = client.keeper.events_url(record.from, record.to, page);
        let listed = match client.call("GET", &url, "the event list", now).await {
            Ok(body) => listed_events(&body, now),
            Err(error) => Err(error),
        };
        let listed = match listed {
            Ok(listed) => listed,
            Err(error) => {
                record.error = Some(error.to_string());
                return;
            }
        };
        record.skipped += listed.skipped;
        for (event, item) in listed.events {
            record.listed += 1;
            if event.subject_id.len() > MAX_SUBJECT_ID_BYTES {
                record.skipped += 1;
                continue;
            }
            let raw = CapturedRequest::new("GET", &url)
                .with_header("content-type", "application/json")
                .with_body(item);
            match append(env, &event, &raw).await {
                Ok(true) => record.duplicates += 1,
                Ok(false) => record.appended += 1,
                Err(error) => {
                    record.error = Some(format!("appending an event: {}", error.log_detail()));
                    return;
                }
            }
        }
        if listed.items < EVENTS_PAGE_SIZE as usize {
            record.resume_page = None;
            return;
        }
    }
    record.resume_page = Some(first_page + PAGES_PER_RUN);
}

/// The VIS API with a bearer token, got (or refreshed) when missing or about to expire, and got
/// anew once when a call is refused with 401.
struct Client<'a> {
    keeper: &'a KeeperConfig,
    token: &'a RefCell<Option<AccessToken>>,
}

impl Client<'_> {
    /// `what` names the call in an error.
    async fn call(
        &mut self,
        method: &str,
        url: &str,
        what: &'static str,
        now: Timestamp,
    ) -> Result<Vec<u8>, KeeperError> {
        for attempt in 0..2 {
            let bearer = self.bearer(now).await?;
            let (status, body) = request(method, url, Some(&bearer), None).await?;
            match status {
                200..=299 => return Ok(body),
                401 if attempt == 0 => {
                    self.token.replace(None);
                }
                status => return Err(KeeperError::Status { what, status }),
            }
        }
        Err(KeeperError::Status { what, status: 401 })
    }

    async fn bearer(&mut self, now: Timestamp) -> Result<String, KeeperError> {
        let current = self.token.borrow().clone();
        if let Some(token) = current.as_ref().filter(|token| token.usable(now)) {
            return Ok(token.token.expose().to_owned());
        }
        let refresh = current.and_then(|token| token.refresh);
        let mut answer = self.grant(refresh.as_ref(), now).await;
        if answer.is_err() && refresh.is_some() {
            answer = self.grant(None, now).await;
        }
        let token = answer?;
        let bearer = token.token.expose().to_owned();
        self.token.replace(Some(token));
        Ok(bearer)
    }

    async fn grant(
        &self,
        refresh: Option<&switchboard_core::secret::Secret>,
        now: Timestamp,
    ) -> Result<AccessToken, KeeperError> {
        let form = self.keeper.token_request(refresh);
        let (status, body) = request("POST", &self.keeper.token_url(), None, Some(&form)).await?;
        match status {
            200 => AccessToken::parse(&body, now),
            400 | 401 | 403 => Err(KeeperError::TokenRefused(status)),
            status => Err(KeeperError::Status {
                what: "the token endpoint",
                status,
            }),
        }
    }
}

/// One request: `Authorization: Bearer` when `bearer` is given, a form body when `form` is.
/// Answers the status and the body.
async fn request(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    form: Option<&str>,
) -> Result<(u16, Vec<u8>), KeeperError> {
    let failed = |error: wasm_bindgen::JsValue| {
        KeeperError::Unreachable(worker::Error::from(error).to_string())
    };
    let headers = web_sys::Headers::new().map_err(failed)?;
    headers.set("accept", "application/json").map_err(failed)?;
    headers.set("user-agent", "Switchboard").map_err(failed)?;
    if let Some(bearer) = bearer {
        headers
            .set("authorization", &format!("Bearer {bearer}"))
            .map_err(failed)?;
    }
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_redirect(web_sys::RequestRedirect::Manual);
    if let Some(form) = form {
        headers
            .set("content-type", "application/x-www-form-urlencoded")
            .map_err(failed)?;
        init.set_body(&form.into());
    }
    init.set_headers(&headers);
    fetch_body_within(url, &init, API_TIMEOUT)
        .await
        .map_err(KeeperError::Unreachable)
}
