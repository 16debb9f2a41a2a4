//! Vonage provider: official and derived vectors, normalization, signing, robustness.

#[path = "../common/support.rs"]
mod common;
mod differential;
mod messages;
mod robustness;
mod sms;
mod support;
mod vectors;
mod voice;
