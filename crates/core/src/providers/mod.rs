//! One module per provider, each implementing [`Provider`](crate::provider::Provider).

pub mod bird;
pub mod messagebird;
pub mod plivo;
pub mod telnyx;
pub mod twilio;
pub mod vonage;
pub mod vonage_business;
