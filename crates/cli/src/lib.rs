//! What the `switchboard` command shares with the worker's load test (`tests/soak/`): the host
//! clock and fresh ids, and the providers' simulated lifecycles.

pub mod clock;
pub mod scenario;
