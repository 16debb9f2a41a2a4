//! Bird (new platform) voice webhooks: providers.md §5.
