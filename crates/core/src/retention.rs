//! How long Switchboard keeps what it stores (`RETENTION_DAYS`, `RAW_REQUEST_DAYS`): a subject
//! whose last event is older than the retention erases itself, and a subject drops the raw
//! requests older than their own window. Pure: when each is due, from the times stored.
//!
//! The rule every decision here keeps: nothing is erased before the user's setting says so. A
//! subject is erased only once its *last* event is older than the retention, so a later event
//! always extends the life of everything before it.

use serde::Serialize;

use crate::config::{ConfigError, Settings};
use crate::time::Timestamp;

pub const DEFAULT_RETENTION_DAYS: f64 = 90.0;
pub const DEFAULT_RAW_REQUEST_DAYS: f64 = 7.0;
const DAY_MS: f64 = 24.0 * 60.0 * 60.0 * 1000.0;
/// KV's shortest expiration (`expirationTtl` of at least 60 s).
pub const MIN_KV_TTL_SECONDS: i64 = 60;

/// How long subjects and their raw requests are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// The settings as read, for the configuration overview.
    days: RetentionDays,
    /// `None`: kept forever (`RETENTION_DAYS=0`).
    subject_ms: Option<i64>,
    /// `None`: raw requests kept as long as their subject.
    raw_request_ms: Option<i64>,
}

/// `RETENTION_DAYS` and `RAW_REQUEST_DAYS` as in effect (`GET /v1/config`): `0` keeps forever.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetentionDays {
    pub retention_days: f64,
    pub raw_request_days: f64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            days: RetentionDays {
                retention_days: DEFAULT_RETENTION_DAYS,
                raw_request_days: DEFAULT_RAW_REQUEST_DAYS,
            },
            subject_ms: Some(days_ms(DEFAULT_RETENTION_DAYS)),
            raw_request_ms: Some(days_ms(DEFAULT_RAW_REQUEST_DAYS)),
        }
    }
}

fn days_ms(days: f64) -> i64 {
    (days * DAY_MS).round() as i64
}

impl Retention {
    /// `RETENTION_DAYS` (default 90; `0` keeps forever) and `RAW_REQUEST_DAYS` (default 7, or
    /// `RETENTION_DAYS` if shorter; set, at most `RETENTION_DAYS`; `0` keeps them as long as
    /// their subject). Fractions of a day are allowed (`0.001` is 86.4 s), so that a deployment,
    /// or a test, can keep data for minutes.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let days = |name: &'static str, default: f64| -> Result<f64, ConfigError> {
            let Some(text) = settings.get(name) else {
                return Ok(default);
            };
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|days| days.is_finite() && *days >= 0.0 && *days <= 36_500.0)
                .ok_or_else(|| ConfigError {
                    name: name.into(),
                    problem: format!(
                        "`{}` is not a number of days from 0 to 36500",
                        crate::error::echo(text.trim())
                    ),
                })
        };
        let retention = days("RETENTION_DAYS", DEFAULT_RETENTION_DAYS)?;
        // Unset, the raw requests' window is 7 days, or the retention if that is shorter.
        let raw_default = if retention > 0.0 {
            DEFAULT_RAW_REQUEST_DAYS.min(retention)
        } else {
            DEFAULT_RAW_REQUEST_DAYS
        };
        let raw = days("RAW_REQUEST_DAYS", raw_default)?;
        if retention > 0.0 && raw > retention {
            return Err(ConfigError {
                name: "RAW_REQUEST_DAYS".into(),
                problem: "must be at most RETENTION_DAYS".into(),
            });
        }
        let positive = |days: f64| (days > 0.0).then(|| days_ms(days).max(1));
        Ok(Self {
            days: RetentionDays {
                retention_days: retention,
                raw_request_days: raw,
            },
            subject_ms: positive(retention),
            raw_request_ms: positive(raw).or(positive(retention)),
        })
    }

    /// The settings in effect, in days.
    pub fn days(&self) -> RetentionDays {
        self.days
    }

    /// Whether subjects are ever erased.
    pub fn keeps_forever(&self) -> bool {
        self.subject_ms.is_none()
    }

    /// When a subject whose last event was received at `last_event` erases itself; `None`:
    /// never.
    pub fn subject_expires_at(&self, last_event: Timestamp) -> Option<Timestamp> {
        self.subject_ms
            .map(|keep| Timestamp::from_millis(last_event.millis().saturating_add(keep)))
    }

    /// Whether a subject whose last event was received at `last_event` is due for erasure at
    /// `now`.
    pub fn subject_expired(&self, last_event: Timestamp, now: Timestamp) -> bool {
        self.subject_expires_at(last_event)
            .is_some_and(|expires| now >= expires)
    }

    /// When a raw request received at `received` is dropped; `None`: never.
    pub fn raw_request_expires_at(&self, received: Timestamp) -> Option<Timestamp> {
        self.raw_request_ms
            .map(|keep| Timestamp::from_millis(received.millis().saturating_add(keep)))
    }

    /// Raw requests received at or before this are due to be dropped at `now`; `None`: none
    /// ever are.
    pub fn raw_request_cutoff(&self, now: Timestamp) -> Option<Timestamp> {
        self.raw_request_ms
            .map(|keep| Timestamp::from_millis(now.millis().saturating_sub(keep)))
    }

    /// Whether a raw request received at `received` is dropped by `now`.
    pub fn raw_request_expired(&self, received: Timestamp, now: Timestamp) -> bool {
        self.raw_request_expires_at(received)
            .is_some_and(|expires| now >= expires)
    }

    /// The `expirationTtl` (seconds) for a KV index key written at `now` about a subject whose
    /// last event was received at `last_event`: the key lives as long as the subject, and at
    /// least KV's minimum. `None`: no expiration.
    pub fn index_ttl_seconds(&self, last_event: Timestamp, now: Timestamp) -> Option<i64> {
        let expires = self.subject_expires_at(last_event)?;
        let left_ms = expires.millis().saturating_sub(now.millis());
        Some((left_ms.div_euclid(1000) + 1).max(MIN_KV_TTL_SECONDS))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn retention(pairs: &[(&str, &str)]) -> Result<Retention, ConfigError> {
        let lookup = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        };
        Retention::from_settings(&Settings::new(&lookup, 300))
    }

    const DAY: i64 = 86_400_000;

    #[test]
    fn the_defaults_keep_subjects_90_days_and_raw_requests_7() {
        let kept = retention(&[]).unwrap();
        assert_eq!(kept, Retention::default());
        let last = Timestamp::from_millis(1_000 * DAY);
        assert_eq!(
            kept.subject_expires_at(last),
            Some(Timestamp::from_millis(1_090 * DAY))
        );
        assert_eq!(
            kept.raw_request_expires_at(last),
            Some(Timestamp::from_millis(1_007 * DAY))
        );
    }

    #[test]
    fn zero_keeps_forever_and_fractions_keep_minutes() {
        let forever = retention(&[("RETENTION_DAYS", "0")]).unwrap();
        assert!(forever.keeps_forever());
        let last = Timestamp::from_millis(0);
        assert!(!forever.subject_expired(last, Timestamp::from_millis(i64::MAX / 2)));
        assert_eq!(forever.index_ttl_seconds(last, last), None);
        assert!(
            forever.raw_request_expires_at(last).is_some(),
            "raw requests still 7 days"
        );

        let minutes =
            retention(&[("RETENTION_DAYS", "0.002"), ("RAW_REQUEST_DAYS", "0.001")]).unwrap();
        assert_eq!(
            minutes.subject_expires_at(last),
            Some(Timestamp::from_millis(172_800))
        );
        assert_eq!(
            minutes.raw_request_expires_at(last),
            Some(Timestamp::from_millis(86_400))
        );
    }

    #[test]
    fn invalid_settings_are_named() {
        for (name, value) in [
            ("RETENTION_DAYS", "-1"),
            ("RETENTION_DAYS", "ninety"),
            ("RETENTION_DAYS", "NaN"),
            ("RAW_REQUEST_DAYS", "inf"),
        ] {
            assert_eq!(
                retention(&[(name, value)]).unwrap_err().name,
                name,
                "{value}"
            );
        }
        let error = retention(&[("RETENTION_DAYS", "3"), ("RAW_REQUEST_DAYS", "4")]).unwrap_err();
        assert_eq!(error.name, "RAW_REQUEST_DAYS");
    }

    #[test]
    fn index_keys_live_as_long_as_their_subject_and_at_least_a_minute() {
        let kept = retention(&[("RETENTION_DAYS", "1")]).unwrap();
        assert_eq!(
            kept.raw_request_expires_at(Timestamp::from_millis(0)),
            Some(Timestamp::from_millis(DAY)),
            "raw requests for the retention when it is shorter than 7 days"
        );
        let last = Timestamp::from_millis(10 * DAY);
        assert_eq!(kept.index_ttl_seconds(last, last), Some(86_401));
        let almost = Timestamp::from_millis(11 * DAY - 5_000);
        assert_eq!(
            kept.index_ttl_seconds(last, almost),
            Some(MIN_KV_TTL_SECONDS)
        );
    }

    proptest! {
        /// Nothing younger than the setting is ever erased: whatever the setting and the ages,
        /// a subject is due only once its last event is at least the retention old, and its
        /// raw requests only once they are at least their window old.
        #[test]
        fn nothing_younger_than_the_setting_is_erased(
            days in 0.0001f64..400.0,
            raw_fraction in 0.0f64..=1.0,
            last_event in 0i64..4_000_000_000_000,
            age in 0i64..(500 * DAY),
        ) {
            let days_text = format!("{days}");
            let raw_text = format!("{}", days * raw_fraction);
            let kept = retention(&[("RETENTION_DAYS", &days_text), ("RAW_REQUEST_DAYS", &raw_text)]).unwrap();
            let last = Timestamp::from_millis(last_event);
            let now = Timestamp::from_millis(last_event + age);
            let keep_ms = (days * DAY as f64).round() as i64;
            if kept.subject_expired(last, now) {
                prop_assert!(age >= keep_ms, "erased at {age} ms, keeps {keep_ms} ms");
            } else {
                prop_assert!(age < keep_ms.max(1));
            }
            let cutoff = kept.raw_request_cutoff(now);
            prop_assert_eq!(
                cutoff.is_some_and(|cutoff| last <= cutoff),
                kept.raw_request_expired(last, now),
                "the cutoff drops exactly the raw requests due"
            );
            if let Some(raw_expires) = kept.raw_request_expires_at(last) {
                if now >= raw_expires {
                    let raw_ms = (days * raw_fraction * DAY as f64).round() as i64;
                    prop_assert!(age >= raw_ms);
                }
                prop_assert!(raw_expires <= kept.subject_expires_at(last).unwrap());
            }
            if let Some(ttl) = kept.index_ttl_seconds(last, now) {
                let key_expires = now.millis() + ttl * 1000;
                prop_assert!(key_expires >= last_event + keep_ms, "an index key outlived by its subject");
            }
        }
    }
}
