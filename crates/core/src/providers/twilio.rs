//! Twilio voice and SMS status callbacks: providers.md §6.
