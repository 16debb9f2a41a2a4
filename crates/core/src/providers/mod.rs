//! One module per provider, each implementing [`Provider`](crate::provider::Provider).

pub mod vonage;
