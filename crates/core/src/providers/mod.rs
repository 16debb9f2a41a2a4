//! One module per provider, each implementing [`Provider`](crate::provider::Provider),
//! [`shared`]: the helpers several of them use (event ids, status tables, JSON members), and
//! [`hmac_jwt`]: the HMAC-signed JWTs of Vonage voice and MessageBird, apart from their claims.

pub mod bird;
mod hmac_jwt;
pub mod messagebird;
pub mod plivo;
mod shared;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod vonage_business;
