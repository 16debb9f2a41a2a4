//! Plivo call and message callbacks: providers.md §7.
