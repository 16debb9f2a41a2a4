//! Twilio provider: official vectors, tampering, signing round trips, normalization, robustness.

mod differential;
mod lifecycle;
mod robustness;
mod support;
mod vectors;
