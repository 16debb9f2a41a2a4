//! One module per provider, each implementing [`Provider`](crate::provider::Provider), and
//! [`shared`]: the helpers several of them use (event ids, status tables, JSON members).

pub mod bird;
pub mod messagebird;
pub mod plivo;
mod shared;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod vonage_business;
