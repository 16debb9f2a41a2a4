//! Vonage Business (VIS) provider: the documentation vector and its mutations, canonical JSON,
//! header and body signatures, call lifecycles, robustness.

mod calls;
#[path = "../common/support.rs"]
mod common;
mod differential;
#[path = "../common/mutations.rs"]
mod mutations;
mod robustness;
mod support;
mod vectors;
