//! Half-open time intervals `[start, end)` in UTC.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A non-empty half-open interval `[start, end)` in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawInterval", into = "RawInterval")]
pub struct Interval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct RawInterval {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Interval {
    /// Checked constructor: `end` must be strictly after `start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, DomainError> {
        if end > start {
            Ok(Self { start, end })
        } else {
            Err(DomainError::EmptyInterval {
                start: start.to_rfc3339(),
                end: end.to_rfc3339(),
            })
        }
    }

    /// First instant inside the interval.
    #[must_use]
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// First instant after the interval.
    #[must_use]
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Length of the interval.
    #[must_use]
    pub fn duration(&self) -> TimeDelta {
        self.end - self.start
    }

    /// Whether `t` lies in `[start, end)`.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// Whether the two intervals share at least one instant.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        self.start < other.end && other.start < self.end
    }
}

impl TryFrom<RawInterval> for Interval {
    type Error = DomainError;
    fn try_from(raw: RawInterval) -> Result<Self, DomainError> {
        Self::new(raw.start, raw.end)
    }
}

impl From<Interval> for RawInterval {
    fn from(i: Interval) -> Self {
        Self {
            start: i.start,
            end: i.end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn intervals_are_half_open() {
        let i = Interval::new(t(1), t(2)).unwrap();
        assert!(i.contains(t(1)));
        assert!(!i.contains(t(2)));
        assert_eq!(i.duration(), TimeDelta::hours(1));
        assert!(!i.overlaps(&Interval::new(t(2), t(3)).unwrap()));
        assert!(i.overlaps(&Interval::new(t(0), t(3)).unwrap()));
    }

    #[test]
    fn empty_or_reversed_intervals_are_rejected() {
        assert!(Interval::new(t(1), t(1)).is_err());
        assert!(Interval::new(t(2), t(1)).is_err());
        let bad = r#"{"start":"2026-01-01T02:00:00Z","end":"2026-01-01T01:00:00Z"}"#;
        assert!(serde_json::from_str::<Interval>(bad).is_err());
    }
}
