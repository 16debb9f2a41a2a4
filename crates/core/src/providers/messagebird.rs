//! Legacy MessageBird `MessageBird-Signature-JWT` webhooks: providers.md §5.
