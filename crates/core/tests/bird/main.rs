//! Bird provider: the `bird-derived-1` vector and its mutations, normalization of voice call
//! events, signing, robustness.

mod calls;
#[path = "../common/support.rs"]
mod common;
mod differential;
#[path = "../common/mutations.rs"]
mod mutations;
mod support;
mod vectors;
