//! Legacy MessageBird provider: the 43 reference cases, the legacy HMAC vectors, normalization
//! of SMS status reports, signing, robustness.

#[path = "../common/support.rs"]
mod common;
mod differential;
mod legacy_hmac;
#[path = "../common/mutations.rs"]
mod mutations;
mod reference;
mod robustness;
mod sms;
mod support;
