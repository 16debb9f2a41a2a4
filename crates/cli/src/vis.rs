//! `switchboard vis register`: registers a worker's VIS endpoint with the VIS API, with a fresh
//! signing key, so that the keeper (docs/providers/vonage-business.md) can keep it alive.

use std::time::Duration;

use switchboard_core::config::Settings as CoreSettings;
use switchboard_core::providers::vonage_business::keeper::{
    own_registration, AccessToken, KeeperConfig, Registration,
};
use switchboard_core::Timestamp;
use ureq::Agent;

use crate::clock;
use crate::failure::Failure;
use crate::settings::Settings;

/// What a registration gave: its id, when it expires, and the key VIS signs with.
pub struct Registered {
    pub registration: Registration,
    pub signing_key: String,
}

/// Registers `url` with the credentials in `settings`, unless a registration of that URL
/// exists already (its key cannot be read back).
pub fn register(settings: &Settings, url: &str, timeout: Duration) -> Result<Registered, Failure> {
    let lookup = |name: &str| settings.get(name);
    let keeper = KeeperConfig::from_settings(&CoreSettings::new(&lookup, 0))
        .map_err(|error| Failure::usage(error.to_string()))?
        .ok_or_else(|| {
            Failure::usage(
                "set VONAGE_BUSINESS_CLIENT_ID, _CLIENT_SECRET, _USERNAME and _PASSWORD \
                 (environment or .dev.vars)",
            )
        })?;
    crate::http_base_url("VONAGE_BUSINESS_API_URL", &keeper.api_url)?;
    let agent: Agent = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let token = token(&agent, &keeper, clock::now())?;
    let bearer = format!("Bearer {}", token.token.expose());

    let listed = call(
        agent
            .get(keeper.webhooks_url())
            .header("authorization", &bearer)
            .call(),
        "the webhook list",
    )?;
    let registrations = Registration::parse_list(&listed).map_err(refused)?;
    if let Some(existing) = own_registration(&registrations, url) {
        return Err(Failure::refused(format!(
            "{url} is registered already (id {}): its signing key cannot be read back; delete \
             it with the VIS API to register again",
            existing.id
        )));
    }

    let signing_key = signing_key()?;
    let body = KeeperConfig::registration_request(url, &signing_key);
    let created = call(
        agent
            .post(keeper.webhooks_url())
            .header("authorization", &bearer)
            .header("content-type", "application/json")
            .send(body.as_bytes()),
        "the registration",
    )
    .and_then(|created| Registration::parse_one(&created).map_err(refused));
    match created {
        Ok(registration) => Ok(Registered {
            registration,
            signing_key,
        }),
        // VIS may have made it all the same, and a key cannot be read back.
        Err(failure) => Err(Failure::refused(format!(
            "{failure}; if VIS registered {url} all the same, its signing key is {signing_key}: \
             printf '%s' '{signing_key}' | npx wrangler secret put VONAGE_BUSINESS_SIGNING_KEY"
        ))),
    }
}

fn token(agent: &Agent, keeper: &KeeperConfig, now: Timestamp) -> Result<AccessToken, Failure> {
    let answer = agent
        .post(keeper.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .send(keeper.token_request(None).as_bytes());
    let body = call(answer, "the token endpoint")?;
    AccessToken::parse(&body, now).map_err(refused)
}

/// The body of a 2xx answer; anything else is refused, named `what`.
fn call(
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    what: &str,
) -> Result<Vec<u8>, Failure> {
    let mut answer = answer.map_err(|error| Failure::refused(format!("{what}: {error}")))?;
    let status = answer.status().as_u16();
    let body = answer
        .body_mut()
        .read_to_vec()
        .map_err(|error| Failure::refused(format!("{what}: {error}")))?;
    if !(200..300).contains(&status) {
        return Err(Failure::refused(format!("{what} answered {status}")));
    }
    Ok(body)
}

fn refused(error: impl std::fmt::Display) -> Failure {
    Failure::refused(error.to_string())
}

/// 32 random bytes as hex: VIS takes the key as a string and signs with its UTF-8 bytes.
fn signing_key() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|error| Failure::usage(format!("no randomness for a signing key: {error}")))?;
    Ok(hex::encode(bytes))
}
