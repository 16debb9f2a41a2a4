//! Plivo provider: official vectors, tampering, signing round trips, normalization, robustness.

mod differential;
mod inbound;
mod lifecycle;
#[path = "../common/recuts.rs"]
mod recuts;
mod robustness;
mod support;
mod vectors;
