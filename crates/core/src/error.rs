//! Why a webhook was refused.
//!
//! Every variant has a stable machine-readable [`code`](WebhookError::code) (part of the public
//! API: the worker returns it as `{"error": code}` and logs it) and a [`class`](WebhookError::class)
//! that the worker maps to an HTTP status. Messages never contain a secret, a signature or a body.
//! The worker's own codes are [`ErrorCode`]s: [`ErrorCode::ALL`] and [`WebhookError::CODES`] are
//! every `error` the worker can answer, which its OpenAPI document's `Error` schema lists
//! (`crates/core/tests/openapi.rs`).

/// The most characters of request text that an error message or a log line repeats: enough to
/// recognize a word, too few to carry a payload back or flood a log.
pub const MAX_ECHO_CHARS: usize = 32;

/// `text` as an error or a log line may repeat it: its first [`MAX_ECHO_CHARS`] characters,
/// with `…` when it was longer.
pub fn echo(text: &str) -> String {
    let mut chars = text.chars();
    let mut shown: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        shown.push('…');
    }
    shown
}

/// What kind of failure an error is; the worker maps each class to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request cannot be parsed or lacks a required field (400).
    Malformed,
    /// No acceptable signature (401).
    Unauthorized,
    /// The body's media type is not one the provider sends (415).
    UnsupportedMediaType,
    /// The provider should retry later; nothing was stored (503).
    RetryLater,
}

impl ErrorClass {
    /// The HTTP status the worker answers.
    pub fn status(self) -> u16 {
        match self {
            Self::Malformed => 400,
            Self::Unauthorized => 401,
            Self::UnsupportedMediaType => 415,
            Self::RetryLater => 503,
        }
    }
}

/// The `error` codes the worker answers for reasons of its own (a refused webhook answers its
/// [`WebhookError::code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    NotFound,
    UnknownProvider,
    MethodNotAllowed,
    PayloadTooLarge,
    TooEarly,
    /// A raw request dropped after `RAW_REQUEST_DAYS` (410).
    Expired,
    InvalidParameter,
    Unauthorized,
    OriginNotAllowed,
    /// A browser token asked for what it does not cover (the raw-request export, new tokens,
    /// another subject).
    OutOfScope,
    /// A WebSocket route was called without `Upgrade: websocket`.
    UpgradeRequired,
    TooManySockets,
    /// A request to mint a browser token named a scope Switchboard does not know.
    InvalidScope,
    InvalidTtl,
    /// A request to mint a browser token that is not `{"scope": [...], "ttl_seconds": n}`.
    InvalidBody,
    /// Browser tokens (`crate::access`) refused: their codes name what failed, so that a client
    /// knows to fetch a fresh token.
    MalformedToken,
    UnsupportedTokenAlgorithm,
    InvalidTokenSignature,
    TokenExpired,
    TokenNotYetValid,
    /// Minting while `BROWSER_TOKEN_SECRET` is unset.
    BrowserTokensNotConfigured,
    /// `POST /v1/sources/vonage-business/maintain` while the keeper's credentials are unset.
    VisKeeperNotConfigured,
    /// `POST /v1/sources/vonage-business/maintain` while a run is under way.
    MaintenanceRunning,
    SourceNotConfigured,
    ConfigInvalid,
    StorageUnavailable,
    InternalError,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 27] = [
        Self::NotFound,
        Self::UnknownProvider,
        Self::MethodNotAllowed,
        Self::PayloadTooLarge,
        Self::TooEarly,
        Self::Expired,
        Self::InvalidParameter,
        Self::Unauthorized,
        Self::OriginNotAllowed,
        Self::OutOfScope,
        Self::UpgradeRequired,
        Self::TooManySockets,
        Self::InvalidScope,
        Self::InvalidTtl,
        Self::InvalidBody,
        Self::MalformedToken,
        Self::UnsupportedTokenAlgorithm,
        Self::InvalidTokenSignature,
        Self::TokenExpired,
        Self::TokenNotYetValid,
        Self::BrowserTokensNotConfigured,
        Self::VisKeeperNotConfigured,
        Self::MaintenanceRunning,
        Self::SourceNotConfigured,
        Self::ConfigInvalid,
        Self::StorageUnavailable,
        Self::InternalError,
    ];

    /// The stable code returned in the `error` field of the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::UnknownProvider => "unknown_provider",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::TooEarly => "too_early",
            Self::Expired => "expired",
            Self::InvalidParameter => "invalid_parameter",
            Self::Unauthorized => "unauthorized",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::OutOfScope => "out_of_scope",
            Self::UpgradeRequired => "upgrade_required",
            Self::TooManySockets => "too_many_sockets",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTtl => "invalid_ttl",
            Self::InvalidBody => "invalid_body",
            Self::MalformedToken => "malformed_token",
            Self::UnsupportedTokenAlgorithm => "unsupported_token_algorithm",
            Self::InvalidTokenSignature => "invalid_token_signature",
            Self::TokenExpired => "token_expired",
            Self::TokenNotYetValid => "token_not_yet_valid",
            Self::BrowserTokensNotConfigured => "browser_tokens_not_configured",
            Self::VisKeeperNotConfigured => "vis_keeper_not_configured",
            Self::MaintenanceRunning => "maintenance_running",
            Self::SourceNotConfigured => "source_not_configured",
            Self::ConfigInvalid => "config_invalid",
            Self::StorageUnavailable => "storage_unavailable",
            Self::InternalError => "internal_error",
        }
    }

    /// The HTTP status it is answered with.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidParameter | Self::InvalidScope | Self::InvalidTtl | Self::InvalidBody => {
                400
            }
            Self::Unauthorized
            | Self::MalformedToken
            | Self::UnsupportedTokenAlgorithm
            | Self::InvalidTokenSignature
            | Self::TokenExpired
            | Self::TokenNotYetValid => 401,
            Self::OriginNotAllowed | Self::OutOfScope => 403,
            Self::NotFound | Self::UnknownProvider => 404,
            Self::MethodNotAllowed => 405,
            Self::PayloadTooLarge => 413,
            Self::TooEarly => 425,
            Self::Expired => 410,
            Self::UpgradeRequired => 426,
            Self::MaintenanceRunning => 409,
            Self::TooManySockets => 429,
            Self::InternalError => 500,
            Self::SourceNotConfigured
            | Self::ConfigInvalid
            | Self::StorageUnavailable
            | Self::BrowserTokensNotConfigured
            | Self::VisKeeperNotConfigured => 503,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("malformed request: {0}")]
    Malformed(String),

    #[error("required field `{0}` is missing or empty")]
    MissingField(&'static str),

    #[error("unsupported content type `{0}`")]
    UnsupportedContentType(String),

    #[error("no signature: {0}")]
    MissingSignature(&'static str),

    #[error("signature does not match: {0}")]
    InvalidSignature(String),

    #[error("signing algorithm `{0}` is not accepted")]
    UnsupportedAlgorithm(String),

    #[error("the signed body hash does not match the body received")]
    PayloadHashMismatch,

    #[error("signed timestamp {0} is outside the accepted window")]
    TimestampOutOfTolerance(String),

    #[error("signed request lacks `{0}`")]
    MissingSignedField(&'static str),

    /// The provider documents rare unsigned callbacks that it retries on 5xx (Vonage voice).
    #[error("unsigned callback refused so that the provider retries it signed")]
    UnsignedCallback,

    /// The request carries content its signature does not cover in a place it would be read
    /// from (a `GET` body, a JWT's body hash on a query, parameters left out of the signed
    /// string): refused rather than read unsigned.
    #[error("the signature does not cover {0}")]
    UnsignedContent(&'static str),

    /// The signed string can be cut into parameters in more than one way here, so what was
    /// signed is not what would be read.
    #[error("the signed string is ambiguous: {0}")]
    AmbiguousSignedString(&'static str),

    /// A token that authorizes one request only was presented again.
    #[error("this signed token was already used")]
    ReplayedToken,
}

impl WebhookError {
    /// Every [`code`](Self::code) with its [`class`](Self::class).
    pub const CODES: [(&'static str, ErrorClass); 13] = [
        ("malformed_request", ErrorClass::Malformed),
        ("missing_field", ErrorClass::Malformed),
        ("unsupported_content_type", ErrorClass::UnsupportedMediaType),
        ("missing_signature", ErrorClass::Unauthorized),
        ("invalid_signature", ErrorClass::Unauthorized),
        ("unsupported_algorithm", ErrorClass::Unauthorized),
        ("payload_hash_mismatch", ErrorClass::Unauthorized),
        ("timestamp_out_of_tolerance", ErrorClass::Unauthorized),
        ("missing_signed_field", ErrorClass::Unauthorized),
        ("unsigned_callback", ErrorClass::RetryLater),
        ("unsigned_content", ErrorClass::Unauthorized),
        ("ambiguous_signed_string", ErrorClass::Unauthorized),
        ("replayed_token", ErrorClass::Unauthorized),
    ];

    /// The stable code returned in the `error` field of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_request",
            Self::MissingField(_) => "missing_field",
            Self::UnsupportedContentType(_) => "unsupported_content_type",
            Self::MissingSignature(_) => "missing_signature",
            Self::InvalidSignature(_) => "invalid_signature",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            Self::PayloadHashMismatch => "payload_hash_mismatch",
            Self::TimestampOutOfTolerance(_) => "timestamp_out_of_tolerance",
            Self::MissingSignedField(_) => "missing_signed_field",
            Self::UnsignedCallback => "unsigned_callback",
            Self::UnsignedContent(_) => "unsigned_content",
            Self::AmbiguousSignedString(_) => "ambiguous_signed_string",
            Self::ReplayedToken => "replayed_token",
        }
    }

    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Malformed(_) | Self::MissingField(_) => ErrorClass::Malformed,
            Self::UnsupportedContentType(_) => ErrorClass::UnsupportedMediaType,
            Self::MissingSignature(_)
            | Self::InvalidSignature(_)
            | Self::UnsupportedAlgorithm(_)
            | Self::PayloadHashMismatch
            | Self::TimestampOutOfTolerance(_)
            | Self::MissingSignedField(_)
            | Self::UnsignedContent(_)
            | Self::AmbiguousSignedString(_)
            | Self::ReplayedToken => ErrorClass::Unauthorized,
            Self::UnsignedCallback => ErrorClass::RetryLater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_are_cut_short() {
        assert_eq!(echo("completed"), "completed");
        assert_eq!(
            echo(&"x".repeat(MAX_ECHO_CHARS)),
            "x".repeat(MAX_ECHO_CHARS)
        );
        assert_eq!(
            echo(&"é".repeat(3000)),
            format!("{}…", "é".repeat(MAX_ECHO_CHARS))
        );
    }

    fn variant_index(error: &WebhookError) -> usize {
        match error {
            WebhookError::Malformed(_) => 0,
            WebhookError::MissingField(_) => 1,
            WebhookError::UnsupportedContentType(_) => 2,
            WebhookError::MissingSignature(_) => 3,
            WebhookError::InvalidSignature(_) => 4,
            WebhookError::UnsupportedAlgorithm(_) => 5,
            WebhookError::PayloadHashMismatch => 6,
            WebhookError::TimestampOutOfTolerance(_) => 7,
            WebhookError::MissingSignedField(_) => 8,
            WebhookError::UnsignedCallback => 9,
            WebhookError::UnsignedContent(_) => 10,
            WebhookError::AmbiguousSignedString(_) => 11,
            WebhookError::ReplayedToken => 12,
        }
    }

    #[test]
    fn codes_are_stable_and_classes_match() {
        let cases = [
            (
                WebhookError::Malformed("x".into()),
                "malformed_request",
                ErrorClass::Malformed,
            ),
            (
                WebhookError::MissingField("uuid"),
                "missing_field",
                ErrorClass::Malformed,
            ),
            (
                WebhookError::UnsupportedContentType("text/plain".into()),
                "unsupported_content_type",
                ErrorClass::UnsupportedMediaType,
            ),
            (
                WebhookError::MissingSignature("sig"),
                "missing_signature",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::InvalidSignature("x".into()),
                "invalid_signature",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::UnsupportedAlgorithm("RS256".into()),
                "unsupported_algorithm",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::PayloadHashMismatch,
                "payload_hash_mismatch",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::TimestampOutOfTolerance("0".into()),
                "timestamp_out_of_tolerance",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::MissingSignedField("iat"),
                "missing_signed_field",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::UnsignedCallback,
                "unsigned_callback",
                ErrorClass::RetryLater,
            ),
            (
                WebhookError::UnsignedContent("the query"),
                "unsigned_content",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::AmbiguousSignedString("a value holds `&`"),
                "ambiguous_signed_string",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::ReplayedToken,
                "replayed_token",
                ErrorClass::Unauthorized,
            ),
        ];
        for (error, code, class) in &cases {
            assert_eq!(error.code(), *code);
            assert_eq!(error.class(), *class);
        }
        // One case per variant, in declaration order (a new variant does not compile in
        // `variant_index` until it has its case), and `CODES` is exactly theirs.
        for (index, (error, _, _)) in cases.iter().enumerate() {
            assert_eq!(variant_index(error), index, "{error:?}");
        }
        let listed: Vec<_> = cases
            .iter()
            .map(|(_, code, class)| (*code, *class))
            .collect();
        assert_eq!(listed, WebhookError::CODES);
    }

    #[test]
    fn error_codes_are_distinct_and_statuses_are_errors() {
        let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        codes.extend(WebhookError::CODES.iter().map(|(code, _)| *code));
        let count = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), count, "a code is listed twice");
        for code in ErrorCode::ALL {
            assert!((400..600).contains(&code.status()), "{code:?}");
        }
    }
}
