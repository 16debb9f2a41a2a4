//! Vonage provider: official and derived vectors, normalization, signing, robustness.

mod robustness;
mod sms;
mod support;
mod vectors;
mod voice;
