//! Vonage provider: official and derived vectors, normalization, signing, robustness.

mod differential;
mod messages;
mod robustness;
mod sms;
mod support;
mod vectors;
mod voice;
