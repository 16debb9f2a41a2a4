//! Plivo provider: official vectors, tampering, signing round trips, normalization, robustness.

#[path = "../common/support.rs"]
mod common;
mod differential;
mod inbound;
mod lifecycle;
#[path = "../common/recuts.rs"]
mod recuts;
mod robustness;
mod support;
mod vectors;
