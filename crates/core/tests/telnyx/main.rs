//! Telnyx provider: the derived RFC 8032 vector and its mutations, the tolerance window, Call
//! Control and Messaging lifecycles, TeXML callbacks, signing, robustness.

mod calls;
#[path = "../common/support.rs"]
mod common;
mod differential;
mod messages;
#[path = "../common/mutations.rs"]
mod mutations;
mod robustness;
mod support;
mod texml;
mod vectors;
