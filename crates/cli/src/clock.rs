//! The host clock, and fresh provider-style ids derived from it.

use std::time::{SystemTime, UNIX_EPOCH};

use switchboard_core::Timestamp;

/// Now, from the host clock (a clock before 1970 reads as the epoch).
pub fn now() -> Timestamp {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    Timestamp::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// Ids that differ between runs: a SplitMix64 sequence seeded from the clock's nanoseconds and
/// the process id. Unique, not secret.
#[derive(Debug, Clone)]
pub struct IdSource {
    state: u64,
}

impl IdSource {
    pub fn from_clock_and_pid() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        // Folding the high half in keeps every bit of the nanosecond count.
        let clock = (nanos as u64) ^ ((nanos >> 64) as u64);
        Self::from_seed(clock ^ u64::from(std::process::id()).rotate_left(40))
    }

    pub fn from_seed(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A lower-case 8-4-4-4-12 hex id, the shape of a Vonage call `uuid`.
    pub fn uuid(&mut self) -> String {
        let (high, low) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xffff,
            low >> 48,
            low & 0xffff_ffff_ffff,
        )
    }

    /// 16 upper-case hex digits, the shape of a Vonage SMS `messageId`.
    pub fn message_id(&mut self) -> String {
        format!("{:016X}", self.next_u64())
    }

    /// `digits` lower-case hex digits (Twilio SIDs after their prefix, VIS event ids, …).
    pub fn hex(&mut self, digits: usize) -> String {
        let mut text = String::with_capacity(digits + 16);
        while text.len() < digits {
            text.push_str(&format!("{:016x}", self.next_u64()));
        }
        text.truncate(digits);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_vonage_shapes() {
        let mut ids = IdSource::from_seed(7);
        let uuid = ids.uuid();
        let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
        assert!(uuid
            .chars()
            .all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f')));
        let message_id = ids.message_id();
        assert_eq!(message_id.len(), 16);
        assert!(message_id
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'A'..='F')));
    }

    #[test]
    fn hex_ids_have_the_asked_length() {
        let mut ids = IdSource::from_seed(7);
        for digits in [1, 16, 24, 32] {
            let id = ids.hex(digits);
            assert_eq!(id.len(), digits);
            assert!(id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
        }
    }

    #[test]
    fn ids_do_not_repeat() {
        let mut ids = IdSource::from_clock_and_pid();
        let first = ids.uuid();
        assert_ne!(first, ids.uuid());
        assert_ne!(IdSource::from_seed(1).uuid(), IdSource::from_seed(2).uuid());
    }
}
