//! Bounded time-series history: recent raw samples plus 1-minute, 15-minute and 1-hour
//! rollups (min / mean / max / last), queried by time range and step.
//!
//! Memory per series is fixed by [`HistoryLimits`] whatever the sample rate: the raw ring
//! keeps the newest samples, each rollup ring the newest buckets. A query picks the finest
//! resolution that still covers the start of the range and whose bucket is no longer than the
//! step, then merges buckets into steps.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// How much each series keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Raw samples.
    pub raw: usize,
    /// 1-minute buckets.
    pub minute: usize,
    /// 15-minute buckets.
    pub quarter: usize,
    /// 1-hour buckets.
    pub hour: usize,
}

impl Default for HistoryLimits {
    /// 10 minutes of 1 s samples, 6 h of minutes, 4 days of quarters, 30 days of hours:
    /// about 47 KiB per series.
    fn default() -> Self {
        Self {
            raw: 600,
            minute: 360,
            quarter: 384,
            hour: 720,
        }
    }
}

/// One bucket (or one step of a query answer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bucket {
    /// Start of the bucket.
    pub start: DateTime<Utc>,
    /// Smallest value.
    pub min: f64,
    /// Mean of the samples.
    pub mean: f64,
    /// Largest value.
    pub max: f64,
    /// Newest value.
    pub last: f64,
    /// Samples in the bucket.
    pub count: u64,
}

impl Bucket {
    fn new(start: DateTime<Utc>, v: f64) -> Self {
        Self {
            start,
            min: v,
            mean: v,
            max: v,
            last: v,
            count: 1,
        }
    }

    fn merge(&mut self, o: &Self) {
        let n = self.count + o.count;
        self.mean = (self.mean * self.count as f64 + o.mean * o.count as f64) / n as f64;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.last = o.last;
        self.count = n;
    }
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `to` is not after `from`.
    #[error("time range is empty: to must be after from")]
    EmptyRange,
    /// `step` is not positive.
    #[error("step must be positive")]
    BadStep,
    /// The answer would have too many points.
    #[error("range / step gives {0} points; at most 10000 are served")]
    TooManyPoints(i64),
}

/// One ring of buckets of a fixed width.
#[derive(Debug, Clone)]
struct Ring {
    width: TimeDelta,
    cap: usize,
    buckets: VecDeque<Bucket>,
}

impl Ring {
    fn new(width: TimeDelta, cap: usize) -> Self {
        Self {
            width,
            cap: cap.max(1),
            buckets: VecDeque::new(),
        }
    }

    fn align(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let w = self.width.num_seconds().max(1);
        let s = t.timestamp().div_euclid(w) * w;
        DateTime::from_timestamp(s, 0).unwrap_or(t)
    }

    fn push(&mut self, t: DateTime<Utc>, v: f64) {
        let start = self.align(t);
        match self.buckets.back_mut() {
            Some(b) if b.start == start => b.merge(&Bucket::new(start, v)),
            _ => {
                if self.buckets.len() == self.cap {
                    self.buckets.pop_front();
                }
                self.buckets.push_back(Bucket::new(start, v));
            }
        }
    }

    fn covers(&self, from: DateTime<Utc>) -> bool {
        self.buckets.front().is_some_and(|b| b.start <= from)
    }
}

/// The history of one quantity.
#[derive(Debug, Clone)]
pub struct Series {
    raw: VecDeque<(DateTime<Utc>, f64)>,
    raw_cap: usize,
    rings: [Ring; 3],
}

impl Series {
    /// An empty series.
    #[must_use]
    pub fn new(limits: HistoryLimits) -> Self {
        Self {
            raw: VecDeque::new(),
            raw_cap: limits.raw.max(1),
            rings: [
                Ring::new(TimeDelta::minutes(1), limits.minute),
                Ring::new(TimeDelta::minutes(15), limits.quarter),
                Ring::new(TimeDelta::hours(1), limits.hour),
            ],
        }
    }

    /// Adds a sample; one older than the newest held, or not finite, is ignored (returns
    /// `false`).
    pub fn push(&mut self, t: DateTime<Utc>, v: f64) -> bool {
        if !v.is_finite() || self.raw.back().is_some_and(|(last, _)| t < *last) {
            return false;
        }
        if self.raw.len() == self.raw_cap {
            self.raw.pop_front();
        }
        self.raw.push_back((t, v));
        for r in &mut self.rings {
            r.push(t, v);
        }
        true
    }

    /// Buckets of `step` covering `[from, to)`, from the finest resolution that covers `from`
    /// with buckets no longer than `step` (else the coarsest that has data). Empty steps are
    /// left out.
    pub fn query(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        step: TimeDelta,
    ) -> Result<Vec<Bucket>, QueryError> {
        if to <= from {
            return Err(QueryError::EmptyRange);
        }
        if step <= TimeDelta::zero() {
            return Err(QueryError::BadStep);
        }
        let points = (to - from).num_milliseconds() / step.num_milliseconds().max(1);
        if points > 10_000 {
            return Err(QueryError::TooManyPoints(points));
        }
        let raw_covers = self.raw.front().is_some_and(|(t, _)| *t <= from);
        let source: Vec<Bucket> = if raw_covers || self.rings.iter().all(|r| r.buckets.is_empty()) {
            self.raw.iter().map(|(t, v)| Bucket::new(*t, *v)).collect()
        } else {
            let ring = self
                .rings
                .iter()
                .find(|r| r.width <= step && r.covers(from))
                .or_else(|| self.rings.iter().rev().find(|r| r.covers(from)))
                .unwrap_or(&self.rings[2]);
            ring.buckets.iter().copied().collect()
        };
        let mut out: Vec<Bucket> = Vec::new();
        let step_ms = step.num_milliseconds().max(1);
        for b in source
            .into_iter()
            .filter(|b| b.start >= from && b.start < to)
        {
            let k = (b.start - from).num_milliseconds() / step_ms;
            let start = from + TimeDelta::milliseconds(k * step_ms);
            match out.last_mut() {
                Some(last) if last.start == start => last.merge(&b),
                _ => out.push(Bucket { start, ..b }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() + TimeDelta::seconds(s)
    }

    #[test]
    fn raw_samples_answer_recent_queries_with_min_mean_max_last() {
        let mut s = Series::new(HistoryLimits::default());
        for i in 0..120 {
            assert!(s.push(t(i), i as f64));
        }
        let q = s.query(t(0), t(120), TimeDelta::minutes(1)).unwrap();
        assert_eq!(q.len(), 2);
        assert_eq!(
            (q[0].min, q[0].max, q[0].last, q[0].count),
            (0.0, 59.0, 59.0, 60)
        );
        assert!((q[0].mean - 29.5).abs() < 1e-12);
        assert_eq!(q[1].start, t(60));
    }

    #[test]
    fn memory_is_bounded_and_old_ranges_come_from_rollups() {
        let limits = HistoryLimits {
            raw: 100,
            minute: 30,
            quarter: 8,
            hour: 24,
        };
        let mut s = Series::new(limits);
        for i in 0..(6 * 3600) {
            s.push(t(i), (i % 60) as f64);
        }
        assert_eq!(s.raw.len(), 100);
        assert_eq!(s.rings[0].buckets.len(), 30);
        assert_eq!(s.rings[1].buckets.len(), 8);
        assert_eq!(s.rings[2].buckets.len(), 6);
        // Four hours ago is only in the hourly ring.
        let q = s.query(t(3600), t(7200), TimeDelta::minutes(15)).unwrap();
        assert_eq!(q.len(), 1, "hour buckets cannot be split into quarters");
        assert_eq!((q[0].min, q[0].max, q[0].count), (0.0, 59.0, 3600));
        // The last two hours come from quarters.
        let q = s
            .query(t(4 * 3600), t(6 * 3600), TimeDelta::minutes(15))
            .unwrap();
        assert_eq!(q.len(), 8);
        assert!(q.iter().all(|b| b.count == 900));
    }

    #[test]
    fn bad_queries_and_samples_are_refused() {
        let mut s = Series::new(HistoryLimits::default());
        s.push(t(10), 1.0);
        assert!(!s.push(t(5), 2.0), "older than the newest");
        assert!(!s.push(t(11), f64::NAN));
        assert_eq!(
            s.query(t(5), t(5), TimeDelta::seconds(1)),
            Err(QueryError::EmptyRange)
        );
        assert_eq!(
            s.query(t(0), t(5), TimeDelta::zero()),
            Err(QueryError::BadStep)
        );
        assert!(matches!(
            s.query(t(0), t(100_000), TimeDelta::seconds(1)),
            Err(QueryError::TooManyPoints(_))
        ));
    }
}
