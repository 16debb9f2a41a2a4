//! Instants as milliseconds since the Unix epoch.
//!
//! The core never reads a clock (`SystemTime` panics on `wasm32-unknown-unknown`): the worker
//! passes `Date.now()` and the CLI passes the host clock or `--now`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{format_description::well_known::Rfc3339, OffsetDateTime, PrimitiveDateTime};

/// An instant, in whole milliseconds since 1970-01-01T00:00:00Z.
///
/// Serialized as an RFC 3339 UTC string with milliseconds (`2020-01-01T12:00:00.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds.saturating_mul(1000))
    }

    pub const fn millis(self) -> i64 {
        self.0
    }

    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// Parses RFC 3339 (`2020-01-01T12:00:00.000Z`, `2018-02-15T18:58:56+00:00`).
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let parsed = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
        Self::from_datetime(parsed)
    }

    /// Parses a UTC wall-clock time in the given `time` format description, e.g. Vonage's
    /// DLR `message-timestamp` (`2018-10-25 12:10:29`).
    pub fn parse_utc(
        text: &str,
        format: &[time::format_description::BorrowedFormatItem<'_>],
    ) -> Option<Self> {
        let parsed = PrimitiveDateTime::parse(text.trim(), format).ok()?;
        Self::from_datetime(parsed.assume_utc())
    }

    fn from_datetime(datetime: OffsetDateTime) -> Option<Self> {
        let millis = datetime.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(millis).ok().map(Self)
    }

    /// Whether `self` lies within `tolerance_seconds` of `now`, in either direction. Never
    /// overflows; with [`from_unix_seconds`](Self::from_unix_seconds) saturating, a claimed time
    /// beyond the representable range is far outside any window around a real `now`.
    pub fn within(self, now: Timestamp, tolerance_seconds: u32) -> bool {
        self.0.abs_diff(now.0) <= u64::from(tolerance_seconds) * 1000
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = i128::from(self.0) * 1_000_000;
        match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
            Ok(datetime) => {
                let format = time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
                );
                match datetime.format(&format) {
                    Ok(text) => f.write_str(&text),
                    Err(_) => write!(f, "@{}ms", self.0),
                }
            }
            Err(_) => write!(f, "@{}ms", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_rfc3339(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_rfc3339_with_milliseconds() {
        let at = Timestamp::parse_rfc3339("2020-01-01T12:00:00.123Z").unwrap();
        assert_eq!(at.millis(), 1_577_880_000_123);
        assert_eq!(at.to_string(), "2020-01-01T12:00:00.123Z");
        let offset = Timestamp::parse_rfc3339("2021-07-05T12:00:00+02:00").unwrap();
        assert_eq!(offset.unix_seconds(), 1_625_479_200);
    }

    #[test]
    fn tolerance_is_symmetric_and_inclusive() {
        let now = Timestamp::from_unix_seconds(1_000);
        assert!(Timestamp::from_unix_seconds(700).within(now, 300));
        assert!(Timestamp::from_unix_seconds(1_300).within(now, 300));
        assert!(!Timestamp::from_unix_seconds(699).within(now, 300));
        assert!(!Timestamp::from_unix_seconds(1_301).within(now, 300));
        assert!(!Timestamp::from_millis(i64::MIN).within(Timestamp::from_millis(i64::MAX), 300));
    }

    #[test]
    fn saturated_seconds_fail_every_window() {
        let now = Timestamp::from_unix_seconds(1_577_880_000);
        for seconds in [i64::MAX, i64::MIN, i64::MAX / 1000 + 1, i64::MIN / 1000 - 1] {
            assert!(
                !Timestamp::from_unix_seconds(seconds).within(now, u32::MAX),
                "{seconds}"
            );
        }
        assert!(!Timestamp::from_unix_seconds(i64::MIN)
            .within(Timestamp::from_millis(i64::MAX), u32::MAX));
        assert!(!Timestamp::from_unix_seconds(i64::MAX)
            .within(Timestamp::from_millis(i64::MIN), u32::MAX));
    }

    #[test]
    fn rejects_garbage() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
        assert!(Timestamp::parse_rfc3339("").is_none());
    }
}
