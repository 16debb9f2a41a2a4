//! Source health (`GET /v1/sources`): per provider, how many webhooks were accepted, how many
//! were duplicates, how many were refused and why, over the last hour and the last day, and the
//! last refused requests. Pure: the worker counts in the isolate ([`Batch`]), flushes a batch
//! [`FLUSH_EVERY_MS`] after its first request into each provider's own Durable Object, after
//! the webhooks are answered, and that object keeps minute [`Counts`] and [`RefusalSample`]s.
//!
//! Nothing global sits on the webhook path: a request only adds to the isolate's batch. Under a
//! flood of forged requests every refusal is counted, but a batch keeps at most
//! [`MAX_SAMPLES_PER_BATCH`] samples per provider, so the stored samples do not become a write
//! per request.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::echo;
use crate::providers::vonage_business::keeper::KeeperState;
use crate::{ProviderId, Timestamp};

/// Counts are kept per minute.
pub const BUCKET_MS: i64 = 60_000;
/// The windows `GET /v1/sources` answers, in buckets.
pub const HOUR_BUCKETS: i64 = 60;
pub const DAY_BUCKETS: i64 = 24 * 60;
/// How long after its first request an isolate's batch is flushed: a burst of webhooks is one
/// flush.
pub const FLUSH_EVERY_MS: i64 = 5_000;
/// The refused requests a provider's object keeps, newest first.
pub const MAX_SAMPLES: usize = 20;
/// The refused requests one batch keeps per provider (the latest ones).
pub const MAX_SAMPLES_PER_BATCH: usize = 5;

/// What one webhook request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and committed: its new events and its duplicates.
    Accepted { events: u64, duplicates: u64 },
    /// Refused with this code (`WebhookError::code`).
    Refused { code: &'static str },
}

/// How many requests of one provider were accepted, were duplicates, or were refused (by
/// code), over some time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub accepted: u64,
    pub duplicates: u64,
    pub refused: BTreeMap<String, u64>,
}

impl Counts {
    fn add_outcome(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Accepted { events, duplicates } => {
                // A request whose every event was stored already is a duplicate; one with a new
                // event, or with none to store (a provider's event that is no status), is
                // accepted.
                if events > 0 && duplicates >= events {
                    self.duplicates += 1;
                } else {
                    self.accepted += 1;
                }
            }
            Outcome::Refused { code } => *self.refused.entry(code.to_owned()).or_default() += 1,
        }
    }

    /// Adds `other` to these counts.
    pub fn merge(&mut self, other: &Counts) {
        self.accepted += other.accepted;
        self.duplicates += other.duplicates;
        for (code, count) in &other.refused {
            *self.refused.entry(code.clone()).or_default() += count;
        }
    }
}

/// One refused request as the health view shows it: when, why, and which check failed. Never a
/// secret, a signature, a token or a body: the check is the refusal's message, which by
/// `WebhookError`'s rule holds none, cut short like every echo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalSample {
    pub at: Timestamp,
    pub code: String,
    pub method: String,
    pub path: String,
    pub check: String,
}

impl RefusalSample {
    pub fn new(at: Timestamp, code: &str, method: &str, path: &str, check: &str) -> Self {
        Self {
            at,
            code: code.to_owned(),
            method: echo(method),
            path: echo(path),
            check: echo(check),
        }
    }
}

/// The minute a time falls in (its bucket's start, unix milliseconds).
pub fn bucket_of(at: Timestamp) -> i64 {
    at.millis().div_euclid(BUCKET_MS) * BUCKET_MS
}

/// One provider's part of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderBatch {
    /// Counts by minute bucket.
    pub buckets: BTreeMap<i64, Counts>,
    /// The latest refused requests, oldest first, at most [`MAX_SAMPLES_PER_BATCH`].
    pub samples: Vec<RefusalSample>,
}

/// What an isolate has counted since its last flush.
#[derive(Debug, Default)]
pub struct Batch {
    providers: BTreeMap<ProviderId, ProviderBatch>,
}

impl Batch {
    /// Counts one request. `sample` is called for a refusal only, to describe it.
    pub fn record(
        &mut self,
        provider: ProviderId,
        at: Timestamp,
        outcome: Outcome,
        sample: impl FnOnce() -> RefusalSample,
    ) {
        let batch = self.providers.entry(provider).or_default();
        batch
            .buckets
            .entry(bucket_of(at))
            .or_default()
            .add_outcome(outcome);
        if let Outcome::Refused { .. } = outcome {
            if batch.samples.len() == MAX_SAMPLES_PER_BATCH {
                batch.samples.remove(0);
            }
            batch.samples.push(sample());
        }
    }

    /// Takes what was counted, one part per provider, and starts a new batch.
    pub fn take(&mut self) -> Vec<(ProviderId, ProviderBatch)> {
        std::mem::take(&mut self.providers).into_iter().collect()
    }

    /// Puts back a part [`Batch::take`] took and could not store, for the next flush: its counts
    /// are added, and its samples, older than any recorded since, go before those.
    pub fn restore(&mut self, provider: ProviderId, taken: ProviderBatch) {
        let batch = self.providers.entry(provider).or_default();
        for (bucket, counts) in &taken.buckets {
            batch.buckets.entry(*bucket).or_default().merge(counts);
        }
        let newer = std::mem::replace(&mut batch.samples, taken.samples);
        batch.samples.extend(newer);
        let excess = batch.samples.len().saturating_sub(MAX_SAMPLES_PER_BATCH);
        batch.samples.drain(..excess);
    }
}

/// A provider's health as `GET /v1/sources` answers it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub last_hour: Counts,
    pub last_day: Counts,
    /// Newest first, at most [`MAX_SAMPLES`].
    pub refusals: Vec<RefusalSample>,
    /// What the VIS keeper last saw and did (`vonage-business` only, once it has run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keeper: Option<KeeperState>,
}

impl Health {
    /// Sums the minute buckets into the two windows ending at `now` (buckets older than a day
    /// are left out), and keeps the newest samples.
    pub fn from_stored(
        buckets: &[(i64, Counts)],
        samples: &[RefusalSample],
        now: Timestamp,
    ) -> Self {
        let current = bucket_of(now);
        let mut health = Health::default();
        for (bucket, counts) in buckets {
            let age = (current - bucket).div_euclid(BUCKET_MS);
            if !(0..DAY_BUCKETS).contains(&age) {
                continue;
            }
            health.last_day.merge(counts);
            if age < HOUR_BUCKETS {
                health.last_hour.merge(counts);
            }
        }
        let mut refusals = samples.to_vec();
        refusals.sort_by_key(|sample| std::cmp::Reverse(sample.at));
        refusals.truncate(MAX_SAMPLES);
        health.refusals = refusals;
        health
    }
}

/// The oldest bucket a provider's object still needs at `now`: older ones can be deleted.
pub fn oldest_kept_bucket(now: Timestamp) -> i64 {
    bucket_of(now) - (DAY_BUCKETS - 1) * BUCKET_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn refusal(ms: i64, code: &str) -> RefusalSample {
        RefusalSample::new(
            at(ms),
            code,
            "POST",
            "/webhooks/twilio",
            "the signature differs",
        )
    }

    #[test]
    fn requests_are_counted_by_minute_and_outcome() {
        let mut batch = Batch::default();
        let minute = 1_700_000_040_000;
        let accepted = Outcome::Accepted {
            events: 2,
            duplicates: 1,
        };
        let duplicate = Outcome::Accepted {
            events: 1,
            duplicates: 1,
        };
        let forged = Outcome::Refused {
            code: "invalid_signature",
        };
        batch.record(ProviderId::Twilio, at(minute), accepted, || unreachable!());
        batch.record(
            ProviderId::Twilio,
            at(minute + 59_999),
            duplicate,
            || unreachable!(),
        );
        batch.record(ProviderId::Twilio, at(minute + 60_000), forged, || {
            refusal(minute + 60_000, "invalid_signature")
        });
        batch.record(ProviderId::Plivo, at(minute), forged, || {
            refusal(minute, "invalid_signature")
        });
        let taken = batch.take();
        assert_eq!(taken.len(), 2);
        let providers: Vec<ProviderId> = taken.iter().map(|(provider, _)| *provider).collect();
        assert_eq!(providers, [ProviderId::Twilio, ProviderId::Plivo]);
        let twilio = &taken[0].1;
        assert_eq!(
            twilio.buckets[&minute],
            Counts {
                accepted: 1,
                duplicates: 1,
                refused: BTreeMap::new(),
            }
        );
        assert_eq!(
            twilio.buckets[&(minute + 60_000)].refused["invalid_signature"],
            1
        );
        assert_eq!(twilio.samples.len(), 1);
        assert!(batch.take().is_empty());
    }

    #[test]
    fn a_request_without_a_status_event_is_accepted_not_a_duplicate() {
        let mut batch = Batch::default();
        let minute = 1_700_000_040_000;
        for (events, duplicates) in [(0, 0), (3, 2), (2, 2)] {
            let outcome = Outcome::Accepted { events, duplicates };
            batch.record(ProviderId::Telnyx, at(minute), outcome, || unreachable!());
        }
        let counts = &batch.take()[0].1.buckets[&minute];
        assert_eq!((counts.accepted, counts.duplicates), (2, 1));
    }

    #[test]
    fn a_part_put_back_is_counted_again_with_its_samples_first() {
        let mut batch = Batch::default();
        let forged = Outcome::Refused {
            code: "invalid_signature",
        };
        for ms in 0..4 {
            batch.record(ProviderId::Twilio, at(ms), forged, || {
                refusal(ms, "invalid_signature")
            });
        }
        let (provider, failed) = batch.take().remove(0);
        for ms in 4..7 {
            batch.record(ProviderId::Twilio, at(ms), forged, || {
                refusal(ms, "invalid_signature")
            });
        }
        batch.restore(provider, failed);
        let restored = &batch.take()[0].1;
        assert_eq!(restored.buckets[&0].refused["invalid_signature"], 7);
        let kept: Vec<i64> = restored.samples.iter().map(|s| s.at.millis()).collect();
        assert_eq!(kept, [2, 3, 4, 5, 6]);
    }

    #[test]
    fn a_flood_is_counted_whole_but_sampled() {
        let mut batch = Batch::default();
        let forged = Outcome::Refused {
            code: "invalid_signature",
        };
        for ms in 0..10_000 {
            batch.record(ProviderId::Telnyx, at(ms), forged, || {
                refusal(ms, "invalid_signature")
            });
        }
        let taken = batch.take();
        let telnyx = &taken[0].1;
        let counted: u64 = telnyx
            .buckets
            .values()
            .map(|counts| counts.refused["invalid_signature"])
            .sum();
        assert_eq!(counted, 10_000);
        assert_eq!(telnyx.samples.len(), MAX_SAMPLES_PER_BATCH);
        assert_eq!(
            telnyx.samples.last().map(|sample| sample.at),
            Some(at(9_999))
        );
    }

    #[test]
    fn health_sums_the_last_hour_and_day_and_keeps_the_newest_samples() {
        let now = at(10 * DAY_BUCKETS * BUCKET_MS + 30_000);
        let current = bucket_of(now);
        let counts = |accepted| Counts {
            accepted,
            duplicates: 0,
            refused: BTreeMap::from([("stale_timestamp".to_owned(), 1)]),
        };
        let buckets = [
            (current, counts(1)),
            (current - (HOUR_BUCKETS - 1) * BUCKET_MS, counts(10)),
            (current - HOUR_BUCKETS * BUCKET_MS, counts(100)),
            (current - (DAY_BUCKETS - 1) * BUCKET_MS, counts(1_000)),
            (current - DAY_BUCKETS * BUCKET_MS, counts(10_000)),
            (current + BUCKET_MS, counts(100_000)),
        ];
        let samples: Vec<RefusalSample> = (0..30)
            .map(|second| refusal(current - second * 1_000, "stale_timestamp"))
            .collect();
        let health = Health::from_stored(&buckets, &samples, now);
        assert_eq!(health.last_hour.accepted, 11);
        assert_eq!(health.last_hour.refused["stale_timestamp"], 2);
        assert_eq!(health.last_day.accepted, 1_111);
        assert_eq!(health.last_day.refused["stale_timestamp"], 4);
        assert_eq!(health.refusals.len(), MAX_SAMPLES);
        assert_eq!(health.refusals[0].at, at(current));
        assert!(health
            .refusals
            .windows(2)
            .all(|pair| pair[0].at >= pair[1].at));
        assert_eq!(
            oldest_kept_bucket(now),
            current - (DAY_BUCKETS - 1) * BUCKET_MS
        );
    }

    #[test]
    fn samples_repeat_request_text_cut_short() {
        let sample = RefusalSample::new(
            at(0),
            "invalid_signature",
            "POST",
            &format!("/webhooks/twilio?{}", "x".repeat(500)),
            &"y".repeat(500),
        );
        assert!(sample.path.chars().count() <= crate::error::MAX_ECHO_CHARS + 1);
        assert!(sample.check.chars().count() <= crate::error::MAX_ECHO_CHARS + 1);
    }
}
