//! Bird provider: the `bird-derived-1` vector and its mutations, normalization of voice call
//! events, signing, robustness.

mod calls;
mod differential;
#[path = "../common/mutations.rs"]
mod mutations;
mod vectors;
