//! Legacy MessageBird provider: the 43 reference cases, the legacy HMAC vectors, normalization
//! of SMS status reports, signing, robustness.

mod legacy_hmac;
mod reference;
mod robustness;
mod sms;
mod support;
