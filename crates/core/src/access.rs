//! Who may read what through the status API.
//!
//! A request carries either a status API token, which may do everything ([`Access::Full`]), or a
//! browser token, which may read what its scopes name ([`Access::Browser`]). A browser token is
//! a JWT signed with HS256 under `BROWSER_TOKEN_SECRET` (comma-separated while rotating: [`mint`]
//! signs with the first, [`verify`] accepts any). Its claims are `scope`, an array of [`Scope`]
//! strings, and `iat` and `exp`, whole seconds since the epoch with `exp` at most
//! [`MAX_TTL_SECONDS`] after `iat`; an `nbf`, if present, is honoured; other claims are ignored.
//! So an app backend may mint its own with any JWT library instead of calling `POST /v1/tokens`.
//!
//! A browser token reads a subject, its timeline and its live socket within its scopes
//! ([`Access::may_read`]), a list only with a `calls` or `messages` scope
//! ([`Access::may_list`]), and never exports a raw request nor mints a token. Whether a path
//! names a subject in scope can depend on the subject's aliases and session, so a first answer
//! from the path alone may be [`Decision::NeedsSubject`].
//!
//! Time is an argument: nothing here reads a clock.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::error::{echo, ErrorCode};
use crate::jwt::{self, Algorithm, JwtError, NonStringAlg, Profile};
use crate::model::{Kind, ProviderId};
use crate::secret::Secret;
use crate::state::Summary;
use crate::time::Timestamp;

/// The longest a browser token lives: the most `ttl_seconds` a mint request may ask for, and
/// the most `exp` may be after `iat` in any token, however it was minted.
pub const MAX_TTL_SECONDS: u32 = 86_400;

/// The lifetime of a minted token when the request names none.
pub const DEFAULT_TTL_SECONDS: u32 = 900;

/// How far ahead of `now` a token's `iat` or `nbf` may be: the clocks of an app backend that
/// mints its own tokens and of the worker may be a little apart.
pub const CLOCK_LEEWAY_SECONDS: i64 = 60;

/// The most scopes one token holds, and ([`MAX_SCOPE_BYTES`]) the longest scope string.
///
/// A browser token travels where the browser cannot set an `Authorization` header: in a URL
/// query (`EventSource`, links) or the `Sec-WebSocket-Protocol` header, both of which servers
/// and proxies cap at a few kilobytes to a few tens of kilobytes. These caps bound the token:
/// at most 50 × 256 bytes of scope text, about 17.5 KB once encoded, while 50 typical scopes
/// (`calls/vonage/` and a UUID) make a token of about 3.5 KB.
pub const MAX_SCOPES: usize = 50;

/// See [`MAX_SCOPES`].
pub const MAX_SCOPE_BYTES: usize = 256;

/// What a browser token may read. The string forms are those of the token's `scope` claim.
///
/// In `calls/{provider}/{id}`, `messages/{provider}/{id}` and `sessions/{provider}/{session_id}`
/// the id is everything after the second `/`: it may itself contain `/`, and is never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `calls` or `messages`: every subject of that kind, and their list.
    Kind(Kind),
    /// `calls/{provider}/{id}` or `messages/{provider}/{id}`: one subject, named by its id or
    /// by any of its aliases.
    Subject {
        kind: Kind,
        provider: ProviderId,
        id: String,
    },
    /// `sessions/{provider}/{session_id}`: every call of that session (never a message).
    Session {
        provider: ProviderId,
        session_id: String,
    },
}

/// A string that is not a [`Scope`]. Its message suits a 400 body: it repeats the scope cut
/// short ([`echo`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope `{scope}` {problem}")]
pub struct InvalidScope {
    /// The refused string, cut short.
    pub scope: String,
    pub problem: &'static str,
}

impl FromStr for Scope {
    type Err = InvalidScope;

    fn from_str(text: &str) -> Result<Self, InvalidScope> {
        let invalid = |problem| InvalidScope {
            scope: echo(text),
            problem,
        };
        if text.len() > MAX_SCOPE_BYTES {
            return Err(invalid("is longer than 256 bytes"));
        }
        let mut segments = text.splitn(3, '/');
        let kind = match segments.next() {
            Some("sessions") => None,
            Some(collection) => {
                Some(Kind::of_collection(collection).ok_or_else(|| invalid(UNRECOGNIZED))?)
            }
            None => return Err(invalid(UNRECOGNIZED)),
        };
        let (provider, id) = match (kind, segments.next(), segments.next()) {
            (Some(kind), None, None) => return Ok(Scope::Kind(kind)),
            (_, Some(provider), Some(id)) => (provider, id),
            _ => return Err(invalid(UNRECOGNIZED)),
        };
        let provider = provider
            .parse()
            .map_err(|_| invalid("names an unknown provider"))?;
        if id.is_empty() {
            return Err(invalid("has an empty id"));
        }
        let id = id.to_owned();
        Ok(match kind {
            Some(kind) => Scope::Subject { kind, provider, id },
            None => Scope::Session {
                provider,
                session_id: id,
            },
        })
    }
}

const UNRECOGNIZED: &str = "is not `calls`, `messages`, `calls/{provider}/{id}`, \
                            `messages/{provider}/{id}` or `sessions/{provider}/{session_id}`";

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Kind(kind) => f.write_str(kind.collection()),
            Scope::Subject { kind, provider, id } => {
                write!(f, "{}/{provider}/{id}", kind.collection())
            }
            Scope::Session {
                provider,
                session_id,
            } => write!(f, "sessions/{provider}/{session_id}"),
        }
    }
}

impl Scope {
    /// Whether the scope allows the subject at `/{kind}/{provider}/{path_id}` whatever it is.
    fn allows_path(&self, kind: Kind, provider: ProviderId, path_id: &str) -> bool {
        match self {
            Scope::Kind(granted) => *granted == kind,
            Scope::Subject {
                kind: granted,
                provider: of,
                id,
            } => *granted == kind && *of == provider && id == path_id,
            Scope::Session { .. } => false,
        }
    }

    /// Whether the scope could allow some subject of `kind` from `provider`, depending on
    /// which subject it is.
    fn may_cover(&self, kind: Kind, provider: ProviderId) -> bool {
        match self {
            Scope::Kind(granted) => *granted == kind,
            Scope::Subject {
                kind: granted,
                provider: of,
                ..
            } => *granted == kind && *of == provider,
            Scope::Session { provider: of, .. } => kind == Kind::Call && *of == provider,
        }
    }

    /// Whether the scope allows `subject`: by its kind, its id or an alias, or (calls only) its
    /// session.
    fn covers(&self, subject: &SubjectNames) -> bool {
        match self {
            Scope::Kind(granted) => *granted == subject.kind,
            Scope::Subject { kind, provider, id } => {
                *kind == subject.kind
                    && *provider == subject.provider
                    && (*id == subject.id || subject.aliases.contains(id))
            }
            Scope::Session {
                provider,
                session_id,
            } => {
                subject.kind == Kind::Call
                    && *provider == subject.provider
                    && subject.session_id.as_deref() == Some(session_id.as_str())
            }
        }
    }
}

/// What a scope can name a subject by: its kind, provider and id, its aliases, and its session.
/// Deserialized from a [`Summary`]'s JSON (its other members are ignored), so that deciding a
/// read needs no reader of the whole summary: the worker's wasm carries this one instead.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubjectNames {
    pub provider: ProviderId,
    pub kind: Kind,
    pub id: String,
    pub session_id: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl From<&Summary> for SubjectNames {
    fn from(summary: &Summary) -> Self {
        Self {
            provider: summary.provider,
            kind: summary.kind,
            id: summary.id.clone(),
            session_id: summary.session_id.clone(),
            aliases: summary.aliases.clone(),
        }
    }
}

/// What a verified browser token allows, until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Never empty, at most [`MAX_SCOPES`].
    pub scopes: Vec<Scope>,
    /// The token's `exp`: it is refused from this instant on (a live socket should close).
    pub expires_at: Timestamp,
}

/// The credential a status API request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// The status API token: every route.
    Full,
    /// A verified browser token: reads within its scopes.
    Browser(Grant),
}

/// Whether a single-subject read may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// The path alone does not decide: look the subject up, then ask
    /// [`Access::may_read_subject`].
    NeedsSubject,
    /// 403 `out_of_scope`.
    Denied,
}

impl Access {
    /// `GET /v1/{calls|messages}`: the status API token, or a `calls` / `messages` scope.
    pub fn may_list(&self, kind: Kind) -> bool {
        match self {
            Access::Full => true,
            Access::Browser(grant) => grant.scopes.contains(&Scope::Kind(kind)),
        }
    }

    /// The raw request export: the status API token only.
    pub fn may_export(&self) -> bool {
        matches!(self, Access::Full)
    }

    /// `POST /v1/tokens`: the status API token only (a browser token never mints another).
    pub fn may_mint(&self) -> bool {
        matches!(self, Access::Full)
    }

    /// A subject, its timeline or its live socket at `/{kind}/{provider}/{path_id}`, decided
    /// from the path alone: allowed by a kind scope or a subject scope naming `path_id`,
    /// [`Decision::NeedsSubject`] when another scope could still cover the subject (`path_id`
    /// may be an alias, or the scope may name an alias or a session), denied otherwise.
    pub fn may_read(&self, kind: Kind, provider: ProviderId, path_id: &str) -> Decision {
        match self {
            Access::Full => Decision::Allowed,
            Access::Browser(grant) if grant.allows_path(kind, provider, path_id) => {
                Decision::Allowed
            }
            Access::Browser(grant)
                if grant
                    .scopes
                    .iter()
                    .any(|scope| scope.may_cover(kind, provider)) =>
            {
                Decision::NeedsSubject
            }
            Access::Browser(_) => Decision::Denied,
        }
    }

    /// The final answer for `/{kind}/{provider}/{path_id}` once the subject was looked up:
    /// `found` is what names it (from its summary), `None` when there is none. A missing subject is allowed only
    /// when the path alone allows it, so that a browser token cannot tell a subject outside its
    /// scope from one that does not exist. A summary of another kind or provider than the
    /// path's is never covered.
    pub fn may_read_subject(
        &self,
        kind: Kind,
        provider: ProviderId,
        path_id: &str,
        found: Option<&SubjectNames>,
    ) -> bool {
        match self {
            Access::Full => true,
            Access::Browser(grant) => {
                grant.allows_path(kind, provider, path_id)
                    || found.is_some_and(|subject| {
                        subject.kind == kind
                            && subject.provider == provider
                            && grant.scopes.iter().any(|scope| scope.covers(subject))
                    })
            }
        }
    }
}

impl Grant {
    fn allows_path(&self, kind: Kind, provider: ProviderId, path_id: &str) -> bool {
        self.scopes
            .iter()
            .any(|scope| scope.allows_path(kind, provider, path_id))
    }
}

/// Why a browser token, or a request to mint one, was refused. No message repeats a token or a
/// secret.
///
/// Verifying refuses with the first six variants (the worker answers 401); parsing a mint
/// request with the last three (400); minting with [`NotConfigured`](Self::NotConfigured) only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// `BROWSER_TOKEN_SECRET` is not set: browser tokens are neither accepted nor minted.
    #[error("browser tokens are not enabled: BROWSER_TOKEN_SECRET is not set")]
    NotConfigured,

    /// Not a browser token: its parts, header or claims are not as [the model](self) says.
    #[error("malformed browser token: {0}")]
    Malformed(String),

    /// An `alg` other than `HS256` (cut short), `(none given)` when missing or not a string.
    #[error("browser token algorithm `{0}` is not accepted: they are HS256")]
    UnsupportedAlgorithm(String),

    #[error("browser token signature matches no configured BROWSER_TOKEN_SECRET")]
    InvalidSignature,

    #[error("browser token has expired")]
    Expired,

    /// `iat` or `nbf` later than now by more than [`CLOCK_LEEWAY_SECONDS`].
    #[error("browser token is not valid yet")]
    NotYetValid,

    #[error("{0}")]
    InvalidScope(String),

    #[error("`ttl_seconds` must be a whole number from 1 to {MAX_TTL_SECONDS}")]
    InvalidTtl,

    #[error("invalid body: {0}")]
    InvalidBody(String),
}

impl AccessError {
    /// The code (and so the status) the worker answers.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotConfigured => ErrorCode::BrowserTokensNotConfigured,
            Self::Malformed(_) => ErrorCode::MalformedToken,
            Self::UnsupportedAlgorithm(_) => ErrorCode::UnsupportedTokenAlgorithm,
            Self::InvalidSignature => ErrorCode::InvalidTokenSignature,
            Self::Expired => ErrorCode::TokenExpired,
            Self::NotYetValid => ErrorCode::TokenNotYetValid,
            Self::InvalidScope(_) => ErrorCode::InvalidScope,
            Self::InvalidTtl => ErrorCode::InvalidTtl,
            Self::InvalidBody(_) => ErrorCode::InvalidBody,
        }
    }
}

/// The body of `POST /v1/tokens`, checked: `{"scope": [...], "ttl_seconds": n}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintRequest {
    /// Never empty, at most [`MAX_SCOPES`].
    pub scopes: Vec<Scope>,
    /// From 1 to [`MAX_TTL_SECONDS`]; [`DEFAULT_TTL_SECONDS`] when the body names none.
    pub ttl_seconds: u32,
}

/// Reads a mint request. Members other than `scope` and `ttl_seconds` are refused, so that a
/// misspelt `ttl` is not silently replaced by the default.
pub fn parse_mint_request(body: &[u8]) -> Result<MintRequest, AccessError> {
    let body = match serde_json::from_slice(body) {
        Ok(Json::Object(body)) => body,
        Ok(_) => return Err(AccessError::InvalidBody("not a JSON object".into())),
        Err(_) => return Err(AccessError::InvalidBody("not JSON".into())),
    };
    if let Some(name) = body
        .keys()
        .find(|name| !["scope", "ttl_seconds"].contains(&name.as_str()))
    {
        return Err(AccessError::InvalidBody(format!(
            "unknown member `{}`: the members are `scope` and `ttl_seconds`",
            echo(name)
        )));
    }
    let scopes = scope_list(body.get("scope")).map_err(AccessError::InvalidScope)?;
    let ttl_seconds = match body.get("ttl_seconds") {
        None => DEFAULT_TTL_SECONDS,
        Some(ttl) => ttl
            .as_u64()
            .and_then(|ttl| u32::try_from(ttl).ok())
            .filter(|ttl| (1..=MAX_TTL_SECONDS).contains(ttl))
            .ok_or(AccessError::InvalidTtl)?,
    };
    Ok(MintRequest {
        scopes,
        ttl_seconds,
    })
}

/// The scopes of a mint request or a token: 1 to [`MAX_SCOPES`] scope strings, or why not.
fn scope_list(value: Option<&Json>) -> Result<Vec<Scope>, String> {
    let not_a_list = || "`scope` must be an array of scope strings".to_owned();
    let items = value.and_then(Json::as_array).ok_or_else(not_a_list)?;
    if items.is_empty() {
        return Err("`scope` is empty: a token must allow something".into());
    }
    if items.len() > MAX_SCOPES {
        return Err(format!("`scope` holds more than {MAX_SCOPES} scopes"));
    }
    items
        .iter()
        .map(|item| {
            let text = item.as_str().ok_or_else(not_a_list)?;
            text.parse()
                .map_err(|error: InvalidScope| error.to_string())
        })
        .collect()
}

/// A minted browser token, serialized as the response of `POST /v1/tokens`:
/// `{"token": "...", "expires_at": "<RFC 3339>"}`. `Debug` never shows the token.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct MintedToken {
    pub token: String,
    pub expires_at: Timestamp,
}

impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Mints a token for `request`, issued at `now` (in whole seconds, rounded down), signed with
/// the first of `secrets`. `request` should be as [`parse_mint_request`] answers it: more
/// scopes, longer ones or a longer lifetime make a token that [`verify`] refuses.
pub fn mint(
    secrets: &[Secret],
    request: &MintRequest,
    now: Timestamp,
) -> Result<MintedToken, AccessError> {
    let secret = secrets.first().ok_or(AccessError::NotConfigured)?;
    let issued_at = now.unix_seconds();
    let expires = issued_at.saturating_add(i64::from(request.ttl_seconds));
    let scopes: Vec<String> = request.scopes.iter().map(Scope::to_string).collect();
    let claims = json!({"scope": scopes, "iat": issued_at, "exp": expires});
    Ok(MintedToken {
        token: jwt::sign(Algorithm::Hs256, &claims, secret),
        expires_at: Timestamp::from_unix_seconds(expires),
    })
}

/// HS256 only: a token whose header names `none`, another HMAC or a public-key algorithm is
/// refused before its signature is looked at.
const PROFILE: Profile = Profile {
    algorithms: &[Algorithm::Hs256],
    secret_name: "BROWSER_TOKEN_SECRET",
    non_string_alg: NonStringAlg::NoneGiven,
    refuse_critical: true,
};

/// The key list cursors are tagged under for a browser token (`crate::index::encode_cursor`):
/// the token itself is in the browser, so a key made from it alone would let the page forge a
/// cursor; this one is an HMAC of the token under the first of `secrets`, which stays on the
/// server (hex). A status API token, which never leaves it, is its own key.
pub fn cursor_key(secrets: &[Secret], token: &str) -> Secret {
    let secret = secrets
        .first()
        .map_or(&[][..], |secret| secret.expose().as_bytes());
    let key = crate::crypto::hmac::<hmac::Hmac<sha2::Sha256>>(secret, token.as_bytes());
    Secret::new(hex::encode(key))
}

/// Verifies a browser token at `now` against every one of `secrets` (rotation; each compared
/// in constant time), then its claims: `iat` and `exp` whole numbers with
/// `iat < exp <= iat + MAX_TTL_SECONDS`, `iat` (and `nbf`, if present) at most
/// [`CLOCK_LEEWAY_SECONDS`] ahead of `now`, `now` before `exp`, and a `scope` of 1 to
/// [`MAX_SCOPES`] valid scopes.
///
/// A scope string this version does not know refuses the whole token rather than being
/// skipped: a token is never read as allowing less, or other, than its minter wrote.
pub fn verify(token: &str, secrets: &[Secret], now: Timestamp) -> Result<Grant, AccessError> {
    if secrets.is_empty() {
        return Err(AccessError::NotConfigured);
    }
    let claims = jwt::verify(token, secrets, &PROFILE)
        .map_err(|error| match error {
            JwtError::Malformed(reason) => AccessError::Malformed(reason),
            JwtError::UnsupportedAlgorithm(alg) => AccessError::UnsupportedAlgorithm(alg),
            JwtError::NoMatchingSecret(_) => AccessError::InvalidSignature,
        })?
        .claims;
    let issued_at = seconds_claim(&claims, "iat")?.ok_or_else(|| missing("iat"))?;
    let expires = seconds_claim(&claims, "exp")?.ok_or_else(|| missing("exp"))?;
    let not_before = seconds_claim(&claims, "nbf")?;
    let lifetime = expires.saturating_sub(issued_at);
    if lifetime <= 0 || lifetime > i64::from(MAX_TTL_SECONDS) {
        return Err(AccessError::Malformed(format!(
            "`exp` must be after `iat`, by at most {MAX_TTL_SECONDS} seconds"
        )));
    }
    let scopes = scope_list(claims.get("scope")).map_err(AccessError::Malformed)?;
    let latest_start = Timestamp::from_millis(
        now.millis()
            .saturating_add(CLOCK_LEEWAY_SECONDS.saturating_mul(1000)),
    );
    if [Some(issued_at), not_before]
        .into_iter()
        .flatten()
        .any(|start| Timestamp::from_unix_seconds(start) > latest_start)
    {
        return Err(AccessError::NotYetValid);
    }
    let expires_at = Timestamp::from_unix_seconds(expires);
    if now >= expires_at {
        return Err(AccessError::Expired);
    }
    Ok(Grant { scopes, expires_at })
}

/// The claim `name` as whole seconds since the epoch, `None` when absent.
fn seconds_claim(claims: &Map<String, Json>, name: &str) -> Result<Option<i64>, AccessError> {
    claims
        .get(name)
        .map(|value| {
            value.as_i64().ok_or_else(|| {
                AccessError::Malformed(format!("`{name}` must be a whole number of seconds"))
            })
        })
        .transpose()
}

fn missing(name: &str) -> AccessError {
    AccessError::Malformed(format!("`{name}` is required"))
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use hmac::Hmac;
    use proptest::prelude::*;
    use sha2::Sha256;

    use super::*;
    use crate::crypto::hmac;
    use crate::state::SubjectState;

    const NEW: &str = "new-browser-token-secret-0123456789";
    const OLD: &str = "old-browser-token-secret-0123456789";

    /// 2023-11-14T22:13:20Z.
    const ISSUED: i64 = 1_700_000_000;

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().copied().map(Secret::new).collect()
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    fn scopes(texts: &[&str]) -> Vec<Scope> {
        texts.iter().map(|text| text.parse().unwrap()).collect()
    }

    fn request(texts: &[&str], ttl_seconds: u32) -> MintRequest {
        MintRequest {
            scopes: scopes(texts),
            ttl_seconds,
        }
    }

    /// A token with `header` and `claims` as given, signed with HMAC-SHA256 under `secret`.
    fn hand_made(header: &Json, claims: &Json, secret: &str) -> String {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let tag = hmac::<Hmac<Sha256>>(secret.as_bytes(), signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// A correctly signed HS256 token with `claims`, as an app backend would mint it.
    fn with_claims(claims: &Json) -> String {
        hand_made(&json!({"alg": "HS256", "typ": "JWT"}), claims, NEW)
    }

    fn valid_claims() -> Json {
        json!({"scope": ["calls"], "iat": ISSUED, "exp": ISSUED + 900})
    }

    fn verify_now(token: &str) -> Result<Grant, AccessError> {
        verify(token, &secrets(&[NEW]), at(ISSUED + 1))
    }

    fn malformed(result: Result<Grant, AccessError>) -> String {
        match result {
            Err(AccessError::Malformed(reason)) => reason,
            other => panic!("expected a malformed token, got {other:?}"),
        }
    }

    fn call(provider: ProviderId, id: &str) -> SubjectNames {
        names(Kind::Call, provider, id)
    }

    fn names(kind: Kind, provider: ProviderId, id: &str) -> SubjectNames {
        SubjectNames::from(&SubjectState::new(provider, kind, id).summary(1))
    }

    fn browser(texts: &[&str]) -> Access {
        Access::Browser(Grant {
            scopes: scopes(texts),
            expires_at: at(ISSUED + 900),
        })
    }

    #[test]
    fn scope_strings_parse_and_display_as_written() {
        let cases = [
            ("calls", Scope::Kind(Kind::Call)),
            ("messages", Scope::Kind(Kind::Message)),
            (
                "calls/vonage/abc",
                Scope::Subject {
                    kind: Kind::Call,
                    provider: ProviderId::Vonage,
                    id: "abc".into(),
                },
            ),
            (
                "messages/messagebird/a/b/",
                Scope::Subject {
                    kind: Kind::Message,
                    provider: ProviderId::MessageBird,
                    id: "a/b/".into(),
                },
            ),
            (
                "sessions/vonage-business/s 1",
                Scope::Session {
                    provider: ProviderId::VonageBusiness,
                    session_id: "s 1".into(),
                },
            ),
        ];
        for (text, scope) in cases {
            assert_eq!(text.parse::<Scope>(), Ok(scope.clone()), "{text}");
            assert_eq!(scope.to_string(), text);
        }
        let longest = format!("calls/telnyx/{}", "x".repeat(MAX_SCOPE_BYTES - 13));
        assert_eq!(longest.len(), MAX_SCOPE_BYTES);
        assert!(longest.parse::<Scope>().is_ok());
    }

    #[test]
    fn other_strings_are_not_scopes_and_errors_echo_them_cut_short() {
        let cases = [
            ("", UNRECOGNIZED),
            ("call", UNRECOGNIZED),
            ("Calls", UNRECOGNIZED),
            (" calls", UNRECOGNIZED),
            ("calls ", UNRECOGNIZED),
            ("calls/", UNRECOGNIZED),
            ("calls/vonage", UNRECOGNIZED),
            ("sessions", UNRECOGNIZED),
            ("events/vonage/x", UNRECOGNIZED),
            ("calls/vonage/", "has an empty id"),
            ("sessions/telnyx/", "has an empty id"),
            ("calls/acme/x", "names an unknown provider"),
            ("calls//x", "names an unknown provider"),
            ("messages/Vonage/x", "names an unknown provider"),
        ];
        for (text, problem) in cases {
            let error = text.parse::<Scope>().unwrap_err();
            assert_eq!(
                error,
                InvalidScope {
                    scope: text.into(),
                    problem
                },
                "{text}"
            );
        }
        let long = format!("calls/telnyx/{}", "x".repeat(MAX_SCOPE_BYTES));
        let error = long.parse::<Scope>().unwrap_err();
        assert_eq!(error.problem, "is longer than 256 bytes");
        assert_eq!(error.scope, echo(&long));
        assert!(error.to_string().len() < 100, "{error}");
    }

    #[test]
    fn mint_requests_are_read_with_a_default_lifetime() {
        let parsed = parse_mint_request(br#"{"scope": ["calls", "sessions/vonage/s"]}"#).unwrap();
        assert_eq!(parsed, request(&["calls", "sessions/vonage/s"], 900));
        for ttl in [1, 86_400] {
            let body = format!(r#"{{"scope": ["messages"], "ttl_seconds": {ttl}}}"#);
            assert_eq!(
                parse_mint_request(body.as_bytes()),
                Ok(request(&["messages"], ttl))
            );
        }
    }

    #[test]
    fn bad_mint_requests_say_why() {
        let invalid_body = |body: &str| match parse_mint_request(body.as_bytes()) {
            Err(AccessError::InvalidBody(reason)) => reason,
            other => panic!("{body}: expected an invalid body, got {other:?}"),
        };
        assert_eq!(invalid_body("scope=calls"), "not JSON");
        assert_eq!(invalid_body(r#"["calls"]"#), "not a JSON object");
        assert_eq!(
            invalid_body(r#"{"scope": ["calls"], "ttl": 60}"#),
            "unknown member `ttl`: the members are `scope` and `ttl_seconds`"
        );

        for ttl in ["0", "86401", "-1", "1.5", "\"900\"", "null", "4294968196"] {
            let body = format!(r#"{{"scope": ["calls"], "ttl_seconds": {ttl}}}"#);
            assert_eq!(
                parse_mint_request(body.as_bytes()),
                Err(AccessError::InvalidTtl),
                "{ttl}"
            );
        }

        let many = vec!["calls"; MAX_SCOPES + 1];
        let cases = [
            (json!({}), "`scope` must be an array of scope strings"),
            (
                json!({"scope": "calls"}),
                "`scope` must be an array of scope strings",
            ),
            (
                json!({"scope": ["calls", 1]}),
                "`scope` must be an array of scope strings",
            ),
            (
                json!({"scope": []}),
                "`scope` is empty: a token must allow something",
            ),
            (json!({"scope": many}), "`scope` holds more than 50 scopes"),
            (
                json!({"scope": ["calls", "calls/acme/x"]}),
                "scope `calls/acme/x` names an unknown provider",
            ),
        ];
        for (body, reason) in cases {
            assert_eq!(
                parse_mint_request(body.to_string().as_bytes()),
                Err(AccessError::InvalidScope(reason.into())),
                "{body}"
            );
        }
        let at_most = json!({"scope": vec!["calls"; MAX_SCOPES]});
        assert!(parse_mint_request(at_most.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let wanted = request(&["calls/vonage/a", "sessions/telnyx/s"], 900);
        let now = Timestamp::from_millis(ISSUED * 1000 + 999);
        let minted = mint(&secrets(&[NEW]), &wanted, now).unwrap();
        assert_eq!(minted.expires_at, at(ISSUED + 900));
        let expected = Grant {
            scopes: wanted.scopes.clone(),
            expires_at: at(ISSUED + 900),
        };
        let keys = secrets(&[NEW]);
        assert_eq!(verify(&minted.token, &keys, now), Ok(expected.clone()));
        let last = Timestamp::from_millis(ISSUED * 1000 + 900_000 - 1);
        assert_eq!(verify(&minted.token, &keys, last), Ok(expected));
        for later in [at(ISSUED + 900), at(ISSUED + 901), at(i64::MAX)] {
            assert_eq!(
                verify(&minted.token, &keys, later),
                Err(AccessError::Expired)
            );
        }
    }

    #[test]
    fn a_minted_token_answers_as_json_and_never_shows_in_debug() {
        let minted = mint(&secrets(&[NEW]), &request(&["calls"], 60), at(ISSUED)).unwrap();
        let body = serde_json::to_value(&minted).unwrap();
        assert_eq!(
            body,
            json!({"token": minted.token, "expires_at": "2023-11-14T22:14:20.000Z"})
        );
        let debug = format!("{minted:?}");
        assert!(!debug.contains(&minted.token), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn without_a_secret_nothing_is_minted_or_accepted() {
        assert_eq!(
            mint(&[], &request(&["calls"], 60), at(ISSUED)),
            Err(AccessError::NotConfigured)
        );
        let token = with_claims(&valid_claims());
        assert_eq!(
            verify(&token, &[], at(ISSUED + 1)),
            Err(AccessError::NotConfigured)
        );
    }

    #[test]
    fn rotation_mints_with_the_first_secret_and_accepts_any() {
        let wanted = request(&["calls"], 900);
        let old_token = mint(&secrets(&[OLD]), &wanted, at(ISSUED)).unwrap().token;
        let now = at(ISSUED + 1);
        assert!(verify(&old_token, &secrets(&[NEW, OLD]), now).is_ok());
        assert_eq!(
            verify(&old_token, &secrets(&[NEW]), now),
            Err(AccessError::InvalidSignature)
        );
        let new_token = mint(&secrets(&[NEW, OLD]), &wanted, at(ISSUED))
            .unwrap()
            .token;
        assert!(verify(&new_token, &secrets(&[NEW]), now).is_ok());
        assert_eq!(
            verify(&new_token, &secrets(&[OLD]), now),
            Err(AccessError::InvalidSignature)
        );
    }

    #[test]
    fn a_token_made_elsewhere_verifies_whatever_its_other_claims() {
        let claims = json!({"sub": "user-1", "jti": "x", "scope": ["messages"], "exp": ISSUED + 60, "iat": ISSUED});
        let token = with_claims(&claims);
        assert_eq!(
            verify_now(&token),
            Ok(Grant {
                scopes: vec![Scope::Kind(Kind::Message)],
                expires_at: at(ISSUED + 60),
            })
        );
    }

    /// Made with PyJWT 2.15.1 (`jwt.encode({"scope": [...], "iat": ISSUED, "exp": ISSUED + 900},
    /// NEW, algorithm="HS256")`), the way the README shows an app's backend minting one.
    const PYJWT_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzY29wZSI6WyJjYWxscy90d2lsaW8vQ0ExMjMiLCJzZXNzaW9ucy90ZWxueXgvcy0xIl0sImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAwOTAwfQ.ecvhigRk9M1CaXwsLEbqrkU2S35dHP6xf57D7GFspDM";

    #[test]
    fn a_token_minted_by_pyjwt_verifies() {
        assert_eq!(
            verify(PYJWT_TOKEN, &secrets(&[NEW]), at(ISSUED + 10)),
            Ok(Grant {
                scopes: scopes(&["calls/twilio/CA123", "sessions/telnyx/s-1"]),
                expires_at: at(ISSUED + 900),
            })
        );
        assert_eq!(
            verify(PYJWT_TOKEN, &secrets(&[NEW]), at(ISSUED + 900)),
            Err(AccessError::Expired)
        );
        assert_eq!(
            verify(PYJWT_TOKEN, &secrets(&[OLD]), at(ISSUED + 10)),
            Err(AccessError::InvalidSignature)
        );
    }

    #[test]
    fn a_cursor_key_is_bound_to_the_token_and_the_server_secret() {
        let key =
            |values: &[&str], token: &str| cursor_key(&secrets(values), token).expose().to_owned();
        let bound = key(&[NEW, OLD], PYJWT_TOKEN);
        assert_eq!(bound.len(), 64);
        assert_ne!(bound, PYJWT_TOKEN);
        assert_eq!(bound, key(&[NEW], PYJWT_TOKEN));
        assert_ne!(bound, key(&[OLD, NEW], PYJWT_TOKEN));
        assert_ne!(bound, key(&[NEW], "another.token.here"));
    }

    #[test]
    fn a_header_with_critical_extensions_is_refused() {
        let claims = valid_claims();
        let plain = hand_made(&json!({"alg": "HS256", "typ": "JWT"}), &claims, NEW);
        assert!(verify_now(&plain).is_ok());
        let critical = hand_made(
            &json!({"alg": "HS256", "typ": "JWT", "crit": ["exp"], "exp": 0}),
            &claims,
            NEW,
        );
        assert!(matches!(
            verify_now(&critical),
            Err(AccessError::Malformed(reason)) if reason.contains("crit")
        ));
    }

    #[test]
    fn only_hs256_is_accepted() {
        let claims = valid_claims();
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        assert_eq!(
            verify_now(&unsigned),
            Err(AccessError::UnsupportedAlgorithm("none".into()))
        );
        for algorithm in [Algorithm::Hs384, Algorithm::Hs512] {
            let token = jwt::sign(algorithm, &claims, &Secret::new(NEW));
            assert_eq!(
                verify_now(&token),
                Err(AccessError::UnsupportedAlgorithm(algorithm.name().into()))
            );
        }
        let headers = [
            (json!({"alg": "none"}), "none"),
            (json!({"alg": "hs256"}), "hs256"),
            (json!({"alg": "RS256"}), "RS256"),
            (json!({"typ": "JWT"}), "(none given)"),
            (json!({"alg": 256}), "(none given)"),
            (json!({"alg": ["HS256"]}), "(none given)"),
            (json!({"alg": null}), "(none given)"),
        ];
        for (header, refused) in headers {
            let token = hand_made(&header, &claims, NEW);
            assert_eq!(
                verify_now(&token),
                Err(AccessError::UnsupportedAlgorithm(refused.into())),
                "{header}"
            );
        }
    }

    #[test]
    fn forged_and_broken_tokens_are_refused() {
        let token = with_claims(&valid_claims());
        let forged = hand_made(&json!({"alg": "HS256"}), &valid_claims(), "guess");
        assert_eq!(verify_now(&forged), Err(AccessError::InvalidSignature));
        let (signing_input, _) = token.rsplit_once('.').unwrap();
        let widened = with_claims(
            &json!({"scope": ["calls", "messages"], "iat": ISSUED, "exp": ISSUED + 900}),
        );
        let (_, other_signature) = widened.rsplit_once('.').unwrap();
        let spliced = format!("{signing_input}.{other_signature}");
        assert_eq!(verify_now(&spliced), Err(AccessError::InvalidSignature));
        for broken in ["", "abc", "a.b", "a.b.c.d"] {
            assert_eq!(
                malformed(verify_now(broken)),
                "a JWT has three parts",
                "{broken}"
            );
        }
        let error = verify_now(&format!("{token}x")).unwrap_err();
        assert!(!error.to_string().contains(&token), "{error}");
    }

    #[test]
    fn times_must_be_whole_seconds_and_the_lifetime_at_most_a_day() {
        let cases = [
            (
                json!({"scope": ["calls"], "exp": ISSUED + 900}),
                "`iat` is required",
            ),
            (
                json!({"scope": ["calls"], "iat": ISSUED}),
                "`exp` is required",
            ),
            (
                json!({"scope": ["calls"], "iat": ISSUED, "exp": "1700000900"}),
                "`exp` must be a whole number of seconds",
            ),
            (
                json!({"scope": ["calls"], "iat": ISSUED as f64 + 0.5, "exp": ISSUED + 900}),
                "`iat` must be a whole number of seconds",
            ),
            (
                json!({"scope": ["calls"], "iat": null, "exp": ISSUED + 900}),
                "`iat` must be a whole number of seconds",
            ),
            (
                json!({"scope": ["calls"], "iat": ISSUED, "exp": ISSUED + 900, "nbf": "now"}),
                "`nbf` must be a whole number of seconds",
            ),
            (
                json!({"scope": ["calls"], "iat": ISSUED, "exp": u64::MAX}),
                "`exp` must be a whole number of seconds",
            ),
        ];
        for (claims, reason) in cases {
            assert_eq!(
                malformed(verify_now(&with_claims(&claims))),
                reason,
                "{claims}"
            );
        }
        let lifetime = |iat: i64, exp: i64| {
            verify_now(&with_claims(
                &json!({"scope": ["calls"], "iat": iat, "exp": exp}),
            ))
        };
        assert!(lifetime(ISSUED, ISSUED + 86_400).is_ok());
        for (iat, exp) in [
            (ISSUED, ISSUED + 86_401),
            (ISSUED, ISSUED),
            (ISSUED, ISSUED - 1),
            (i64::MIN, i64::MAX),
        ] {
            assert_eq!(
                malformed(lifetime(iat, exp)),
                "`exp` must be after `iat`, by at most 86400 seconds",
                "{iat} {exp}"
            );
        }
    }

    #[test]
    fn a_token_from_the_future_is_refused_beyond_the_leeway() {
        let now = at(ISSUED);
        let starting = |iat: i64, nbf: Option<i64>| {
            let mut claims = json!({"scope": ["calls"], "iat": iat, "exp": iat + 900});
            if let Some(nbf) = nbf {
                claims["nbf"] = json!(nbf);
            }
            verify(&with_claims(&claims), &secrets(&[NEW]), now)
        };
        assert!(starting(ISSUED + CLOCK_LEEWAY_SECONDS, None).is_ok());
        assert_eq!(
            starting(ISSUED + CLOCK_LEEWAY_SECONDS + 1, None),
            Err(AccessError::NotYetValid)
        );
        assert!(starting(ISSUED, Some(ISSUED + CLOCK_LEEWAY_SECONDS)).is_ok());
        assert_eq!(
            starting(ISSUED, Some(ISSUED + CLOCK_LEEWAY_SECONDS + 1)),
            Err(AccessError::NotYetValid)
        );
    }

    #[test]
    fn a_token_with_a_scope_this_version_does_not_know_is_refused_whole() {
        let cases = [
            (json!(["calls", "recordings"]), "scope `recordings` is not"),
            (
                json!(["calls", "calls/acme/1"]),
                "scope `calls/acme/1` names",
            ),
            (json!("calls"), "`scope` must be an array"),
            (json!([]), "`scope` is empty"),
            (json!(vec!["calls"; MAX_SCOPES + 1]), "`scope` holds more"),
        ];
        for (scope, reason) in cases {
            let claims = json!({"scope": scope, "iat": ISSUED, "exp": ISSUED + 900});
            let refused = malformed(verify_now(&with_claims(&claims)));
            assert!(refused.starts_with(reason), "{refused}");
        }
        let unscoped = with_claims(&json!({"iat": ISSUED, "exp": ISSUED + 900}));
        assert_eq!(
            malformed(verify_now(&unscoped)),
            "`scope` must be an array of scope strings"
        );
    }

    #[test]
    fn the_largest_token_stays_within_the_documented_size() {
        let scope = format!("calls/vonage-business/{}", "x".repeat(MAX_SCOPE_BYTES - 22));
        assert_eq!(scope.len(), MAX_SCOPE_BYTES);
        let largest = MintRequest {
            scopes: vec![scope.parse().unwrap(); MAX_SCOPES],
            ttl_seconds: MAX_TTL_SECONDS,
        };
        let token = mint(&secrets(&[NEW]), &largest, at(ISSUED)).unwrap().token;
        assert!((17_000..=18_000).contains(&token.len()), "{}", token.len());
        let id = "0b6f3a4e-5c1d-4f2a-9e8b-7c6d5e4f3a2b";
        let typical = MintRequest {
            scopes: vec![format!("calls/vonage/{id}").parse().unwrap(); MAX_SCOPES],
            ttl_seconds: MAX_TTL_SECONDS,
        };
        let token = mint(&secrets(&[NEW]), &typical, at(ISSUED)).unwrap().token;
        assert!((3_000..=4_000).contains(&token.len()), "{}", token.len());
    }

    #[test]
    fn the_status_api_token_may_do_everything() {
        let full = Access::Full;
        for kind in [Kind::Call, Kind::Message] {
            assert!(full.may_list(kind));
            assert_eq!(
                full.may_read(kind, ProviderId::Plivo, "x"),
                Decision::Allowed
            );
            assert!(full.may_read_subject(kind, ProviderId::Plivo, "x", None));
        }
        assert!(full.may_export());
        assert!(full.may_mint());
    }

    #[test]
    fn a_kind_scope_reads_and_lists_that_kind_only() {
        let calls = browser(&["calls"]);
        assert!(calls.may_list(Kind::Call));
        assert!(!calls.may_list(Kind::Message));
        assert_eq!(
            calls.may_read(Kind::Call, ProviderId::Twilio, "CA1"),
            Decision::Allowed
        );
        assert!(calls.may_read_subject(Kind::Call, ProviderId::Twilio, "CA1", None));
        assert_eq!(
            calls.may_read(Kind::Message, ProviderId::Twilio, "SM1"),
            Decision::Denied
        );
        assert!(!calls.may_export());
        assert!(!calls.may_mint());
    }

    #[test]
    fn a_subject_scope_reads_its_id_and_aliases_but_lists_nothing() {
        let access = browser(&["calls/vonage/leg-1"]);
        assert!(!access.may_list(Kind::Call));
        assert!(!access.may_export());
        assert!(!access.may_mint());
        assert_eq!(
            access.may_read(Kind::Call, ProviderId::Vonage, "leg-1"),
            Decision::Allowed
        );
        // Named literally, a subject that does not exist is the caller's 404, not a 403.
        assert!(access.may_read_subject(Kind::Call, ProviderId::Vonage, "leg-1", None));
        assert_eq!(
            access.may_read(Kind::Call, ProviderId::Vonage, "alias-1"),
            Decision::NeedsSubject
        );
        let mut subject = call(ProviderId::Vonage, "leg-1");
        subject.aliases = vec!["alias-1".into()];
        assert!(access.may_read_subject(Kind::Call, ProviderId::Vonage, "alias-1", Some(&subject)));
        assert!(!access.may_read_subject(Kind::Call, ProviderId::Vonage, "alias-1", None));

        let by_alias = browser(&["calls/vonage/alias-1"]);
        assert_eq!(
            by_alias.may_read(Kind::Call, ProviderId::Vonage, "leg-1"),
            Decision::NeedsSubject
        );
        assert!(by_alias.may_read_subject(Kind::Call, ProviderId::Vonage, "leg-1", Some(&subject)));
        let other = call(ProviderId::Vonage, "leg-2");
        assert!(!by_alias.may_read_subject(Kind::Call, ProviderId::Vonage, "leg-2", Some(&other)));

        assert_eq!(
            access.may_read(Kind::Call, ProviderId::Telnyx, "leg-1"),
            Decision::Denied
        );
        assert_eq!(
            access.may_read(Kind::Message, ProviderId::Vonage, "leg-1"),
            Decision::Denied
        );
    }

    #[test]
    fn a_summary_of_another_provider_or_kind_than_the_path_is_never_covered() {
        let access = browser(&["calls/vonage/alias-1"]);
        let mut subject = call(ProviderId::Vonage, "leg-1");
        subject.aliases = vec!["alias-1".into()];
        assert!(!access.may_read_subject(
            Kind::Message,
            ProviderId::Vonage,
            "leg-1",
            Some(&subject)
        ));
        assert!(!access.may_read_subject(Kind::Call, ProviderId::Telnyx, "leg-1", Some(&subject)));
        let kind_scope = browser(&["messages"]);
        assert!(!kind_scope.may_read_subject(
            Kind::Call,
            ProviderId::Vonage,
            "leg-1",
            Some(&subject)
        ));
    }

    #[test]
    fn a_session_scope_reads_the_calls_of_that_session_only() {
        let access = browser(&["sessions/vonage/conv-1"]);
        assert!(!access.may_list(Kind::Call));
        assert_eq!(
            access.may_read(Kind::Call, ProviderId::Vonage, "leg-1"),
            Decision::NeedsSubject
        );
        let mut leg = call(ProviderId::Vonage, "leg-1");
        assert!(!access.may_read_subject(Kind::Call, ProviderId::Vonage, "leg-1", Some(&leg)));
        leg.session_id = Some("conv-2".into());
        assert!(!access.may_read_subject(Kind::Call, ProviderId::Vonage, "leg-1", Some(&leg)));
        leg.session_id = Some("conv-1".into());
        assert!(access.may_read_subject(Kind::Call, ProviderId::Vonage, "leg-1", Some(&leg)));
        assert!(!access.may_read_subject(Kind::Call, ProviderId::Vonage, "leg-1", None));
        // The session id itself is not a call's path.
        assert!(!access.may_read_subject(Kind::Call, ProviderId::Vonage, "conv-1", None));
        assert_eq!(
            access.may_read(Kind::Call, ProviderId::Telnyx, "leg-1"),
            Decision::Denied
        );
    }

    #[test]
    fn messages_never_match_a_session_scope() {
        let access = browser(&["sessions/vonage/conv-1"]);
        assert_eq!(
            access.may_read(Kind::Message, ProviderId::Vonage, "msg-1"),
            Decision::Denied
        );
        let mut message = names(Kind::Message, ProviderId::Vonage, "msg-1");
        message.session_id = Some("conv-1".into());
        assert!(!access.may_read_subject(
            Kind::Message,
            ProviderId::Vonage,
            "msg-1",
            Some(&message)
        ));
    }

    #[test]
    fn a_calls_scope_does_not_reach_messages_nor_a_message_scope_calls() {
        let calls = browser(&["calls", "messages/vonage/m-1"]);
        assert_eq!(
            calls.may_read(Kind::Message, ProviderId::Vonage, "m-2"),
            Decision::NeedsSubject
        );
        let other = names(Kind::Message, ProviderId::Vonage, "m-2");
        assert!(!calls.may_read_subject(Kind::Message, ProviderId::Vonage, "m-2", Some(&other)));
        assert!(!calls.may_list(Kind::Message));
        let message = browser(&["messages/vonage/x"]);
        assert_eq!(
            message.may_read(Kind::Call, ProviderId::Vonage, "x"),
            Decision::Denied
        );
    }

    #[test]
    fn error_codes_are_stable() {
        let cases = [
            (
                AccessError::NotConfigured,
                "browser_tokens_not_configured",
                503,
            ),
            (AccessError::Malformed("x".into()), "malformed_token", 401),
            (
                AccessError::UnsupportedAlgorithm("none".into()),
                "unsupported_token_algorithm",
                401,
            ),
            (
                AccessError::InvalidSignature,
                "invalid_token_signature",
                401,
            ),
            (AccessError::Expired, "token_expired", 401),
            (AccessError::NotYetValid, "token_not_yet_valid", 401),
            (AccessError::InvalidScope("x".into()), "invalid_scope", 400),
            (AccessError::InvalidTtl, "invalid_ttl", 400),
            (AccessError::InvalidBody("x".into()), "invalid_body", 400),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.code().as_str(), code);
            assert_eq!(error.code().status(), status, "{code}");
        }
    }

    fn provider() -> impl Strategy<Value = ProviderId> {
        proptest::sample::select(ProviderId::ALL.to_vec())
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![Just(Kind::Call), Just(Kind::Message)]
    }

    /// Any non-empty id short enough for its scope, `/` and control characters included.
    fn id() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 1..48)
            .prop_map(String::from_iter)
            .prop_filter("fits in a scope", |id| id.len() <= MAX_SCOPE_BYTES - 30)
    }

    fn scope() -> impl Strategy<Value = Scope> {
        prop_oneof![
            kind().prop_map(Scope::Kind),
            (kind(), provider(), id()).prop_map(|(kind, provider, id)| Scope::Subject {
                kind,
                provider,
                id
            }),
            (provider(), id()).prop_map(|(provider, session_id)| Scope::Session {
                provider,
                session_id
            }),
        ]
    }

    proptest! {
        #[test]
        fn scopes_read_back_from_their_text(scope in scope()) {
            prop_assert_eq!(scope.to_string().parse::<Scope>(), Ok(scope));
        }

        #[test]
        fn text_that_reads_as_a_scope_is_written_back_unchanged(
            text in "(calls|messages|sessions|x)(/(vonage|telnyx|plivo|acme|)(/.{0,12})?)?",
        ) {
            if let Ok(scope) = text.parse::<Scope>() {
                prop_assert_eq!(scope.to_string(), text);
            }
        }

        #[test]
        fn minted_tokens_verify_to_their_scopes_until_they_expire(
            scopes in proptest::collection::vec(scope(), 1..8),
            ttl_seconds in 1..=MAX_TTL_SECONDS,
            issued_millis in 0..4_000_000_000_000_i64,
            elapsed in 0.0..1.0_f64,
        ) {
            let wanted = MintRequest { scopes, ttl_seconds };
            let issued_at = Timestamp::from_millis(issued_millis);
            let minted = mint(&secrets(&[NEW]), &wanted, issued_at).unwrap();
            let lifetime = minted.expires_at.millis() - issued_millis;
            prop_assert!(lifetime > 0 && lifetime <= i64::from(ttl_seconds) * 1000);
            // Truncation towards zero keeps the offset below the lifetime.
            let now = Timestamp::from_millis(issued_millis + (lifetime as f64 * elapsed) as i64);
            let grant = verify(&minted.token, &secrets(&[OLD, NEW]), now).unwrap();
            prop_assert_eq!(grant.scopes, wanted.scopes);
            prop_assert_eq!(grant.expires_at, minted.expires_at);
            prop_assert_eq!(
                verify(&minted.token, &secrets(&[NEW]), minted.expires_at),
                Err(AccessError::Expired)
            );
        }

        #[test]
        fn any_one_byte_change_is_refused(
            scopes in proptest::collection::vec(scope(), 1..3),
            position in any::<proptest::sample::Index>(),
            replacement in b' '..=b'~',
        ) {
            let wanted = MintRequest { scopes, ttl_seconds: 900 };
            let token = mint(&secrets(&[NEW]), &wanted, at(ISSUED)).unwrap().token;
            let mut changed = token.clone().into_bytes();
            let index = position.index(changed.len());
            prop_assume!(changed[index] != replacement);
            changed[index] = replacement;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert!(verify(&changed, &secrets(&[NEW]), at(ISSUED + 1)).is_err());
        }
    }

    #[test]
    fn subject_names_read_from_a_summary_s_json() {
        let mut summary = SubjectState::new(ProviderId::Vonage, Kind::Call, "leg-1").summary(3);
        summary.aliases = vec!["alias-1".into(), "alias-2".into()];
        summary.session_id = Some("conv-1".into());
        summary.from = Some("447700900000".into());
        summary.duration_seconds = Some(45);
        let json = serde_json::to_string(&summary).unwrap();
        let names: SubjectNames = serde_json::from_str(&json).unwrap();
        assert_eq!(names, SubjectNames::from(&summary));
        assert_eq!(names.aliases, ["alias-1", "alias-2"]);
        assert_eq!(names.session_id.as_deref(), Some("conv-1"));

        let mut without_aliases: Json = serde_json::from_str(&json).unwrap();
        without_aliases.as_object_mut().unwrap().remove("aliases");
        let names: SubjectNames = serde_json::from_value(without_aliases).unwrap();
        assert!(names.aliases.is_empty());
    }
}
