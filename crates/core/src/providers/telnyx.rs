//! Telnyx Call Control v2, Messaging and TeXML webhooks: providers.md §4.
