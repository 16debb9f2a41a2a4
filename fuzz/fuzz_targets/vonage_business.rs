//! `Provider::receive` of VonageBusiness on arbitrary requests, and on arbitrary requests it signed itself
//! (see `switchboard_fuzz::provider`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_core::ProviderId;

fuzz_target!(|data: &[u8]| switchboard_fuzz::provider(ProviderId::VonageBusiness, data));
