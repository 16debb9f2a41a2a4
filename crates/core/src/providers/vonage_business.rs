//! Vonage Business Communications (VIS) webhooks: providers.md §3.
