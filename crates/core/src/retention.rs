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

/// 90 days.
pub const DEFAULT_RETENTION_MS: i64 = 90 * DAY_MS;
/// 7 days.
pub const DEFAULT_RAW_REQUEST_MS: i64 = 7 * DAY_MS;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// The longest setting, in days.
const MAX_DAYS: i64 = 36_500;
/// KV's shortest expiration (`expirationTtl` of at least 60 s).
pub const MIN_KV_TTL_SECONDS: i64 = 60;

/// How long subjects and their raw requests are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `None`: kept forever (`RETENTION_DAYS=0`).
    subject_ms: Option<i64>,
    /// `None`: raw requests kept as long as their subject.
    raw_request_ms: Option<i64>,
}

/// `RETENTION_DAYS` and `RAW_REQUEST_DAYS` as in effect (`GET /v1/config`): `0` keeps forever,
/// and raw requests as long as their subject.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetentionDays {
    pub retention_days: f64,
    pub raw_request_days: f64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            subject_ms: Some(DEFAULT_RETENTION_MS),
            raw_request_ms: Some(DEFAULT_RAW_REQUEST_MS),
        }
    }
}

/// A number of days (`90`, `0.5`, `0.0002`) as milliseconds, rounded to the nearest; `None`
/// for anything else or more than [`MAX_DAYS`]. By hand: `f64::from_str` brings 16 KB of
/// tables and code into the worker's wasm for two settings, and is not exact besides.
fn parse_days_ms(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 12 {
        return None;
    }
    let whole: i64 = whole.parse().ok().filter(|days| *days <= MAX_DAYS)?;
    if whole == MAX_DAYS && fraction.bytes().any(|digit| digit != b'0') {
        return None;
    }
    let scale = 10_i128.pow(fraction.len() as u32);
    let fraction = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<i128>().ok()?
    };
    let fraction_ms = (fraction * i128::from(DAY_MS) + scale / 2) / scale;
    let ms = whole * DAY_MS + i64::try_from(fraction_ms).ok()?;
    // A positive setting keeps at least a millisecond: never "forever" by rounding.
    let ms = if ms == 0 && (whole > 0 || fraction > 0) {
        1
    } else {
        ms
    };
    (ms <= MAX_DAYS * DAY_MS).then_some(ms)
}

fn ms_days(ms: Option<i64>) -> f64 {
    ms.map_or(0.0, |ms| ms as f64 / DAY_MS as f64)
}

impl Retention {
    /// `RETENTION_DAYS` (default 90; `0` keeps forever) and `RAW_REQUEST_DAYS` (default 7, or
    /// `RETENTION_DAYS` if shorter; set, at most `RETENTION_DAYS`; `0` keeps them as long as
    /// their subject). Fractions of a day are allowed (`0.001` is 86.4 s), so that a deployment,
    /// or a test, can keep data for minutes.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let setting = |name: &'static str, default: i64| -> Result<i64, ConfigError> {
            let Some(text) = settings.get(name) else {
                return Ok(default);
            };
            parse_days_ms(text.trim()).ok_or_else(|| ConfigError {
                name: name.into(),
                problem: format!(
                    "`{}` is not a number of days from 0 to {MAX_DAYS}",
                    crate::error::echo(text.trim())
                ),
            })
        };
        let subject_ms =
            Some(setting("RETENTION_DAYS", DEFAULT_RETENTION_MS)?).filter(|ms| *ms > 0);
        // Unset, the raw requests' window is 7 days, or the retention if that is shorter.
        let raw_default = subject_ms.map_or(DEFAULT_RAW_REQUEST_MS, |keep| {
            keep.min(DEFAULT_RAW_REQUEST_MS)
        });
        let raw_request_ms = Some(setting("RAW_REQUEST_DAYS", raw_default)?).filter(|ms| *ms > 0);
        if let (Some(keep), Some(raw)) = (subject_ms, raw_request_ms) {
            if raw > keep {
                return Err(ConfigError {
                    name: "RAW_REQUEST_DAYS".into(),
                    problem: "must be at most RETENTION_DAYS".into(),
                });
            }
        }
        Ok(Self {
            subject_ms,
            raw_request_ms,
        })
    }

    /// The settings in effect, in days.
    pub fn days(&self) -> RetentionDays {
        RetentionDays {
            retention_days: ms_days(self.subject_ms),
            raw_request_days: ms_days(self.raw_request_ms),
        }
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

    /// When a raw request received at `received` is dropped; `None`: it is kept as long as its
    /// subject.
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

    /// The `expirationTtl` (seconds) for a KV index key written at `now` about a subject whose
    /// last event was received at `last_event`: the key lives as long as the subject, and at
    /// least KV's minimum. `None`: no expiration.
    pub fn index_ttl_seconds(&self, last_event: Timestamp, now: Timestamp) -> Option<i64> {
        Some(ttl_seconds(self.subject_expires_at(last_event)?, now))
    }

    /// When a key a subject writes with a value that never changes (an alias, a number key)
    /// expires, if written about a subject whose last event was received at `last_event`: the
    /// subject's expiry plus a slack (a tenth of the retention, from a minute to a day), so that
    /// it is written again only once later events have moved the expiry past it, not at every
    /// flush. The subject's erasure deletes it at the subject's expiry. `None`: no expiration.
    pub fn fixed_key_expires_at(&self, last_event: Timestamp) -> Option<Timestamp> {
        let keep = self.subject_ms?;
        let slack = (keep / 10).clamp(60_000, DAY_MS);
        Some(Timestamp::from_millis(
            last_event
                .millis()
                .saturating_add(keep)
                .saturating_add(slack),
        ))
    }
}

/// The `expirationTtl` (seconds) of a key written at `now` to expire at `expires`: at least
/// KV's minimum, and never before `expires`.
pub fn ttl_seconds(expires: Timestamp, now: Timestamp) -> i64 {
    let left_ms = expires.millis().saturating_sub(now.millis());
    (left_ms.div_euclid(1000) + 1).max(MIN_KV_TTL_SECONDS)
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
        let days = kept.days();
        assert_eq!((days.retention_days, days.raw_request_days), (90.0, 7.0));
    }

    #[test]
    fn zero_keeps_forever_and_fractions_keep_minutes() {
        let forever = retention(&[("RETENTION_DAYS", "0")]).unwrap();
        let last = Timestamp::from_millis(0);
        assert!(!forever.subject_expired(last, Timestamp::from_millis(i64::MAX / 2)));
        assert_eq!(forever.index_ttl_seconds(last, last), None);
        assert_eq!(forever.fixed_key_expires_at(last), None);
        assert_eq!(
            forever.raw_request_expires_at(last),
            Some(Timestamp::from_millis(7 * DAY)),
            "raw requests still 7 days"
        );

        let minutes =
            retention(&[("RETENTION_DAYS", "0.0002"), ("RAW_REQUEST_DAYS", "0.0001")]).unwrap();
        assert_eq!(
            minutes.subject_expires_at(last),
            Some(Timestamp::from_millis(17_280))
        );
        assert_eq!(
            minutes.raw_request_expires_at(last),
            Some(Timestamp::from_millis(8_640))
        );
        assert_eq!(minutes.days().retention_days, 0.0002);
    }

    #[test]
    fn raw_requests_set_to_zero_are_kept_as_long_as_their_subject() {
        let kept = retention(&[("RETENTION_DAYS", "30"), ("RAW_REQUEST_DAYS", "0")]).unwrap();
        let received = Timestamp::from_millis(0);
        assert_eq!(kept.raw_request_expires_at(received), None);
        assert_eq!(
            kept.raw_request_cutoff(Timestamp::from_millis(400 * DAY)),
            None
        );
        assert_eq!(kept.days().raw_request_days, 0.0);
        let short = retention(&[("RETENTION_DAYS", "2")]).unwrap();
        assert_eq!(
            short.raw_request_expires_at(received),
            Some(Timestamp::from_millis(2 * DAY)),
            "unset: the retention when it is shorter than 7 days"
        );
    }

    #[test]
    fn days_are_read_exactly() {
        for (text, ms) in [
            ("90", 90 * DAY),
            ("0", 0),
            ("0.5", DAY / 2),
            ("1.", DAY),
            ("0.001", 86_400),
            ("0.0000000001", 1),
            ("0.000000006", 1),
            ("36500", 36_500 * DAY),
        ] {
            assert_eq!(parse_days_ms(text), Some(ms), "{text}");
        }
        for text in [
            "",
            ".5",
            "-1",
            "+1",
            "1e3",
            "ninety",
            "NaN",
            "inf",
            "36500.1",
            "36501",
            "1.2.3",
            "0.1234567890123",
            "36500.000000000001",
        ] {
            assert_eq!(parse_days_ms(text), None, "{text}");
        }
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
        assert!(retention(&[("RETENTION_DAYS", "0"), ("RAW_REQUEST_DAYS", "400")]).is_ok());
    }

    #[test]
    fn index_keys_live_as_long_as_their_subject_and_at_least_a_minute() {
        let kept = retention(&[("RETENTION_DAYS", "1")]).unwrap();
        let last = Timestamp::from_millis(10 * DAY);
        assert_eq!(kept.index_ttl_seconds(last, last), Some(86_401));
        let almost = Timestamp::from_millis(11 * DAY - 5_000);
        assert_eq!(
            kept.index_ttl_seconds(last, almost),
            Some(MIN_KV_TTL_SECONDS)
        );
        assert_eq!(
            kept.fixed_key_expires_at(last),
            Some(Timestamp::from_millis(11 * DAY + DAY / 10)),
            "a tenth of the retention later"
        );
    }

    proptest! {
        /// Nothing younger than the setting is ever erased: whatever the setting and the ages,
        /// a subject is due only once its last event is at least the retention old, and its
        /// raw requests only once they are at least their window old; and no index key expires
        /// before its subject.
        #[test]
        fn nothing_younger_than_the_setting_is_erased(
            retention_ms in 1i64..(400 * DAY),
            raw_fraction in 0.0f64..=1.0,
            last_event in 0i64..4_000_000_000_000,
            age in 0i64..(500 * DAY),
        ) {
            let raw_ms = (retention_ms as f64 * raw_fraction) as i64;
            let days = |ms: i64| format!("{}.{:09}", ms / DAY, (ms % DAY) * 1_000_000_000 / DAY);
            let kept = retention(&[
                ("RETENTION_DAYS", &days(retention_ms)),
                ("RAW_REQUEST_DAYS", &days(raw_ms)),
            ])
            .unwrap();
            let keep_ms = kept.subject_expires_at(Timestamp::from_millis(0)).unwrap().millis();
            prop_assert!((keep_ms - retention_ms).abs() <= 1, "read as {keep_ms} ms");
            let last = Timestamp::from_millis(last_event);
            let now = Timestamp::from_millis(last_event + age);
            prop_assert_eq!(kept.subject_expired(last, now), age >= keep_ms);
            match kept.raw_request_cutoff(now) {
                Some(cutoff) => {
                    let raw_expires = kept.raw_request_expires_at(last).unwrap();
                    prop_assert_eq!(last <= cutoff, now >= raw_expires);
                    prop_assert!(raw_expires <= kept.subject_expires_at(last).unwrap());
                    if last <= cutoff {
                        prop_assert!((age - raw_ms) >= -1, "dropped at {age} ms, kept {raw_ms} ms");
                    }
                }
                None => prop_assert!(kept.raw_request_expires_at(last).is_none()),
            }
            if let Some(ttl) = kept.index_ttl_seconds(last, now) {
                let key_expires = now.millis() + ttl * 1000;
                prop_assert!(key_expires >= last_event + keep_ms, "an index key outlived by its subject");
            }
            let fixed = kept.fixed_key_expires_at(last).unwrap();
            prop_assert!(fixed.millis() >= last_event + keep_ms);
        }
    }
}
