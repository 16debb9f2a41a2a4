//! Vonage provider: official and derived vectors, normalization, signing, robustness.

mod differential;
mod robustness;
mod sms;
mod support;
mod vectors;
mod voice;
