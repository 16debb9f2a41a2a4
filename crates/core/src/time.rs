//! Instants as milliseconds since the Unix epoch.
//!
//! The core never reads a clock (`SystemTime` panics on `wasm32-unknown-unknown`): the worker
//! passes `Date.now()` and the CLI passes the host clock or `--now`.
//!
//! RFC 3339 and RFC 2822 are parsed by `time`; the fixed layouts below are read by hand, and
//! [`Timestamp`]'s text is written by hand. `time`'s format descriptions would do both, but they
//! bring its whole format-description parser and formatter, about 40 KB, into the worker's wasm.
//! The tests compare each hand-written reader and writer with the `time` format description it
//! replaces, on generated input.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

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

    /// Parses `YYYY-MM-DD hh:mm:ss` as UTC, e.g. Vonage's DLR `message-timestamp`
    /// (`2018-10-25 12:10:29`): what `time`'s `[year]-[month]-[day] [hour]:[minute]:[second]`
    /// accepts.
    pub fn parse_utc_date_time(text: &str) -> Option<Self> {
        let mut reader = Reader(text.trim().as_bytes());
        let date = reader.date()?;
        reader.byte(b' ')?;
        let time = reader.time()?;
        reader.end()?;
        Self::from_datetime(PrimitiveDateTime::new(date, time).assume_utc())
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fraction]±hhmm`, ISO 8601 with a basic-format offset as
    /// Vonage Business sends it (`2018-02-15T18:58:56.194+0000`): what `time`'s
    /// `[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]`
    /// `[offset_hour sign:mandatory][offset_minute]` accepts.
    pub fn parse_basic_offset(text: &str) -> Option<Self> {
        let mut reader = Reader(text.trim().as_bytes());
        let date = reader.date()?;
        reader.byte(b'T')?;
        let time = reader.time()?;
        let time = match reader.fraction() {
            Some(nanosecond) => time.replace_nanosecond(nanosecond).ok()?,
            None => time,
        };
        let negative = reader.sign()?;
        let hours = i8::try_from(reader.digits(2)?).ok()?;
        let minutes = i8::try_from(reader.digits(2)?).ok()?;
        reader.end()?;
        let offset = if negative {
            UtcOffset::from_hms(-hours, -minutes, 0)
        } else {
            UtcOffset::from_hms(hours, minutes, 0)
        };
        Self::from_datetime(PrimitiveDateTime::new(date, time).assume_offset(offset.ok()?))
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

/// `2020-01-01T12:00:00.000Z`, as `time`'s
/// `[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z` writes it (a year
/// before 1 as `-0001`); `@{millis}ms` outside the years −9999 to 9999.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = i128::from(self.0) * 1_000_000;
        let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
            return write!(f, "@{}ms", self.0);
        };
        if at.year() < 0 {
            f.write_str("-")?;
        }
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year().unsigned_abs(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.millisecond()
        )
    }
}

/// Reads the fixed layouts above, one `time` component at a time (each method says which).
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    /// The byte `expected`.
    fn byte(&mut self, expected: u8) -> Option<()> {
        let (&first, rest) = self.0.split_first()?;
        (first == expected).then(|| self.0 = rest)
    }

    /// `+` or `-`: whether the sign is negative.
    fn sign(&mut self) -> Option<bool> {
        let negative = match self.0.first()? {
            b'+' => false,
            b'-' => true,
            _ => return None,
        };
        self.0 = &self.0[1..];
        Some(negative)
    }

    /// Exactly `count` ASCII digits, as a number.
    fn digits(&mut self, count: usize) -> Option<u32> {
        let digits = self.0.get(..count)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.0 = &self.0[count..];
        Some(
            digits
                .iter()
                .fold(0, |value, digit| value * 10 + u32::from(digit - b'0')),
        )
    }

    /// `[year]-[month]-[day]`. `[year]` is four digits, signed or not.
    fn date(&mut self) -> Option<Date> {
        let negative = self.sign() == Some(true);
        let digits = i32::try_from(self.digits(4)?).ok()?;
        let year = if negative { -digits } else { digits };
        self.byte(b'-')?;
        let month = Month::try_from(u8::try_from(self.digits(2)?).ok()?).ok()?;
        self.byte(b'-')?;
        let day = u8::try_from(self.digits(2)?).ok()?;
        Date::from_calendar_date(year, month, day).ok()
    }

    /// `[hour]:[minute]:[second]`.
    fn time(&mut self) -> Option<Time> {
        let hour = u8::try_from(self.digits(2)?).ok()?;
        self.byte(b':')?;
        let minute = u8::try_from(self.digits(2)?).ok()?;
        self.byte(b':')?;
        let second = u8::try_from(self.digits(2)?).ok()?;
        Time::from_hms(hour, minute, second).ok()
    }

    /// `[optional [.[subsecond]]]` as nanoseconds, `None` (nothing read) without a `.` and a
    /// digit. `[subsecond]` reads up to 32 digits and keeps the first nine.
    fn fraction(&mut self) -> Option<u32> {
        if self.0.first() != Some(&b'.') || !self.0.get(1)?.is_ascii_digit() {
            return None;
        }
        self.0 = &self.0[1..];
        let mut nanosecond = 0;
        let mut scale = 100_000_000;
        let count = self
            .0
            .iter()
            .take(32)
            .take_while(|byte| byte.is_ascii_digit())
            .count();
        for digit in &self.0[..count] {
            nanosecond += u32::from(digit - b'0') * scale;
            scale /= 10;
        }
        self.0 = &self.0[count..];
        Some(nanosecond)
    }

    /// Nothing left.
    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads what [`Display`](fmt::Display) writes, every instant included (a year before 1, and
/// `@{millis}ms`), and any other RFC 3339 time. Events are stored as JSON and read back to fold
/// a subject's state, so an instant that serialized and did not read back (Vonage's DLR
/// `message-timestamp=-2018-10-25 12:10:29`, found by the fuzzer) made its subject unreadable.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_written(&text)
            .or_else(|| Self::parse_rfc3339(&text))
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {text:?}")))
    }
}

impl Timestamp {
    /// The layouts of [`Display`](fmt::Display): `[sign]YYYY-MM-DDThh:mm:ss.mmmZ` or
    /// `@{millis}ms`.
    fn parse_written(text: &str) -> Option<Self> {
        if let Some(millis) = text
            .strip_prefix('@')
            .and_then(|rest| rest.strip_suffix("ms"))
        {
            return millis.parse().ok().map(Self);
        }
        let mut reader = Reader(text.as_bytes());
        let date = reader.date()?;
        reader.byte(b'T')?;
        let time = reader.time()?.replace_nanosecond(reader.fraction()?).ok()?;
        reader.byte(b'Z')?;
        reader.end()?;
        Self::from_datetime(PrimitiveDateTime::new(date, time).assume_utc())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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

    proptest! {
        #[test]
        fn every_instant_reads_back_from_its_json(millis in any::<i64>()) {
            let at = Timestamp::from_millis(millis);
            let json = serde_json::to_string(&at).unwrap();
            prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), at, "{}", json);
        }
    }

    #[test]
    fn instants_before_year_one_and_beyond_year_9999_read_back() {
        for text in [
            "-2018-10-25T12:10:29.000Z",
            "-0001-01-01T00:00:00.000Z",
            "0000-01-01T00:00:00.000Z",
            "@9223372036854775807ms",
            "@-9223372036854775808ms",
        ] {
            let json = format!("{text:?}");
            let at: Timestamp = serde_json::from_str(&json).unwrap();
            assert_eq!(at.to_string(), text);
        }
        let dlr = Timestamp::parse_utc_date_time("-2018-10-25 12:10:29").unwrap();
        let json = serde_json::to_string(&dlr).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), dlr);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_none());
        assert!(Timestamp::parse_rfc3339("").is_none());
    }

    #[test]
    fn reads_the_fixed_layouts() {
        assert_eq!(
            Timestamp::parse_utc_date_time(" 2018-10-25 12:10:29 "),
            Timestamp::parse_rfc3339("2018-10-25T12:10:29Z")
        );
        assert_eq!(
            Timestamp::parse_basic_offset("2018-02-15T18:58:56.194+0000"),
            Timestamp::parse_rfc3339("2018-02-15T18:58:56.194Z")
        );
        assert_eq!(
            Timestamp::parse_basic_offset("2020-10-01T16:10:06-0230"),
            Timestamp::parse_rfc3339("2020-10-01T18:40:06Z")
        );
        assert_eq!(
            Timestamp::parse_utc_date_time("+2018-10-25 12:10:29"),
            Timestamp::parse_rfc3339("2018-10-25T12:10:29Z")
        );
        for bad in [
            "+00000-01-01 00:00:00",
            "2018-10-25 12:10:60",
            "2018-02-29 00:00:00",
            "2018-10-25T12:10:29",
        ] {
            assert_eq!(Timestamp::parse_utc_date_time(bad), None, "{bad}");
        }
        assert_eq!(
            Timestamp::from_millis(-62_198_755_200_000).to_string(),
            "-0001-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::from_millis(i64::MAX).to_string(),
            "@9223372036854775807ms"
        );
    }

    /// What `time`'s format descriptions give, which the hand-written layouts replace.
    mod reference {
        use time::macros::format_description;
        use time::{OffsetDateTime, PrimitiveDateTime};

        use super::Timestamp;

        fn millis(at: OffsetDateTime) -> Option<Timestamp> {
            i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
                .ok()
                .map(Timestamp::from_millis)
        }

        pub fn utc_date_time(text: &str) -> Option<Timestamp> {
            let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
            millis(
                PrimitiveDateTime::parse(text.trim(), format)
                    .ok()?
                    .assume_utc(),
            )
        }

        pub fn basic_offset(text: &str) -> Option<Timestamp> {
            let format = format_description!(
                version = 2,
                "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory][offset_minute]"
            );
            millis(OffsetDateTime::parse(text.trim(), &format).ok()?)
        }

        pub fn display(at: Timestamp) -> String {
            let format = format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            );
            match OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000) {
                Ok(datetime) => datetime
                    .format(&format)
                    .unwrap_or_else(|_| format!("@{}ms", at.millis())),
                Err(_) => format!("@{}ms", at.millis()),
            }
        }
    }

    /// Dates mostly in range (leap days, month ends), or with extra or missing digits.
    fn date() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[+-]?(19|20|00|99)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])",
            1 => "[+-]?[0-9]{3,6}-([0-9]{1,3})-([0-9]{1,3})",
        ]
    }

    /// Times of day mostly in range (`24` and `60` included), or with extra or missing digits.
    fn clock() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "([01][0-9]|2[0-4]):[0-5][0-9]:([0-5][0-9]|60)",
            1 => "[0-9]{1,3}:[0-9]{1,3}:[0-9]{1,3}",
        ]
    }

    /// An offset as `±hhmm`, mostly in range (`25` hours included), or malformed.
    fn offset() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[+-]([01][0-9]|2[0-6])[0-5][0-9]",
            1 => "[+-]?[0-9]{1,5}|Z",
        ]
    }

    proptest! {
        #[test]
        fn utc_date_time_reads_what_time_reads(
            text in (" ?", date(), "[ T]", clock(), "[ Z]?")
                .prop_map(|(a, b, c, d, e)| format!("{a}{b}{c}{d}{e}")),
            noise in "[-+ :.T0-9Z]{0,24}",
        ) {
            prop_assert_eq!(
                Timestamp::parse_utc_date_time(&text),
                reference::utc_date_time(&text)
            );
            prop_assert_eq!(
                Timestamp::parse_utc_date_time(&noise),
                reference::utc_date_time(&noise)
            );
        }

        #[test]
        fn basic_offset_reads_what_time_reads(
            text in (date(), "T", clock(), "(\\.[0-9]{0,34})?", offset(), " ?")
                .prop_map(|(a, b, c, d, e, f)| format!("{a}{b}{c}{d}{e}{f}")),
            noise in "[-+ :.T0-9Z]{0,32}",
        ) {
            prop_assert_eq!(
                Timestamp::parse_basic_offset(&text),
                reference::basic_offset(&text)
            );
            prop_assert_eq!(
                Timestamp::parse_basic_offset(&noise),
                reference::basic_offset(&noise)
            );
        }

        #[test]
        fn display_writes_what_time_writes(
            millis in prop_oneof![
                -400_000_000_000_000_i64..400_000_000_000_000,
                proptest::num::i64::ANY,
            ]
        ) {
            let at = Timestamp::from_millis(millis);
            prop_assert_eq!(at.to_string(), reference::display(at));
        }
    }
}
