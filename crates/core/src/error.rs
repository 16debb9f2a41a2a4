//! Why a webhook was refused.
//!
//! Every variant has a stable machine-readable [`code`](WebhookError::code) (part of the public
//! API: the worker returns it as `{"error": code}` and logs it) and a [`class`](WebhookError::class)
//! that the worker maps to an HTTP status. Messages never contain a secret, a signature or a body.

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
}

impl WebhookError {
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
            | Self::MissingSignedField(_) => ErrorClass::Unauthorized,
            Self::UnsignedCallback => ErrorClass::RetryLater,
            Self::UnsignedContent(_) | Self::AmbiguousSignedString(_) => ErrorClass::Unauthorized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                WebhookError::PayloadHashMismatch,
                "payload_hash_mismatch",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::UnsignedCallback,
                "unsigned_callback",
                ErrorClass::RetryLater,
            ),
            (
                WebhookError::UnsignedContent("the body"),
                "unsigned_content",
                ErrorClass::Unauthorized,
            ),
            (
                WebhookError::AmbiguousSignedString("x"),
                "ambiguous_signed_string",
                ErrorClass::Unauthorized,
            ),
        ];
        for (error, code, class) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.class(), class);
        }
    }
}
