//! Interval averages from a stream of meter readings, as a utility's interval meter gives them.
//!
//! An [`Integrator`] takes one asset's readings in order: lifetime energy counters where the
//! device serves them, else power samples integrated by the trapezoid rule. At every interval
//! boundary that falls between two readings it records the energy there by linear
//! interpolation; an interval's average power is the energy between its two boundaries over
//! its length. Readings further apart than `max_gap` interpolate nothing: the intervals they
//! span stay unknown, never extrapolated.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

/// How an integrator reads energy: fixed by its first usable reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Lifetime counters (net kWh).
    Counters,
    /// Power samples, integrated.
    Power,
}

/// One asset's energy at interval boundaries.
#[derive(Debug, Clone)]
pub struct Integrator {
    step: TimeDelta,
    max_gap: TimeDelta,
    mode: Option<Mode>,
    /// The newest reading: time, energy so far (kWh), power (kW).
    last: Option<(DateTime<Utc>, f64, f64)>,
    /// Energy at interval boundaries, kWh.
    boundaries: BTreeMap<DateTime<Utc>, f64>,
}

/// How many boundaries an integrator keeps (two days of quarter-hours).
const KEEP: usize = 192;

impl Integrator {
    /// An integrator over intervals of `step`, interpolating across at most `max_gap`.
    #[must_use]
    pub fn new(step: TimeDelta, max_gap: TimeDelta) -> Self {
        Self {
            step,
            max_gap,
            mode: None,
            last: None,
            boundaries: BTreeMap::new(),
        }
    }

    /// Takes a reading at `at`: a net energy counter (kWh, growing with the quantity
    /// integrated) and/or a power (kW). Readings not newer than the last are ignored, as are
    /// readings that lack what the integrator's mode needs.
    pub fn push(&mut self, at: DateTime<Utc>, counter_kwh: Option<f64>, power_kw: Option<f64>) {
        let counter_kwh = counter_kwh.filter(|x| x.is_finite());
        let power_kw = power_kw.filter(|x| x.is_finite());
        let mode = *self.mode.get_or_insert(match (counter_kwh, power_kw) {
            (Some(_), _) => Mode::Counters,
            (None, Some(_)) => Mode::Power,
            (None, None) => return,
        });
        if self.last.is_some_and(|(t, _, _)| at <= t) {
            return;
        }
        let energy = match (mode, self.last) {
            (Mode::Counters, _) => match counter_kwh {
                Some(e) => e,
                None => return,
            },
            (Mode::Power, None) => 0.0,
            (Mode::Power, Some((t, e, p))) => {
                let Some(now_p) = power_kw else { return };
                let h = (at - t).num_milliseconds() as f64 / 3_600_000.0;
                e + 0.5 * (p + now_p) * h
            }
        };
        let power = power_kw.unwrap_or(0.0);
        if let Some((t, e, _)) = self.last
            && at - t <= self.max_gap
        {
            let step_s = self.step.num_seconds().max(1);
            // Boundaries in (t, at].
            let first = t.timestamp().div_euclid(step_s) * step_s + step_s;
            let mut b = first;
            while b <= at.timestamp() {
                if let Some(bt) = DateTime::from_timestamp(b, 0) {
                    let span = (at - t).num_milliseconds() as f64;
                    let frac = if span > 0.0 {
                        (bt - t).num_milliseconds() as f64 / span
                    } else {
                        1.0
                    };
                    self.boundaries.insert(bt, e + frac * (energy - e));
                }
                b += step_s;
            }
            while self.boundaries.len() > KEEP {
                self.boundaries.pop_first();
            }
        }
        self.last = Some((at, energy, power));
    }

    /// Average power over the interval `[from, from + step)`, kW; `None` while either
    /// boundary is unknown.
    #[must_use]
    pub fn mean_kw(&self, from: DateTime<Utc>) -> Option<f64> {
        let a = self.boundaries.get(&from)?;
        let b = self.boundaries.get(&(from + self.step))?;
        let h = self.step.num_seconds() as f64 / 3600.0;
        Some((b - a) / h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000 - 1_750_000_000 % 900 + s, 0).unwrap()
    }

    #[test]
    fn counters_give_exact_interval_means_between_sparse_readings() {
        let mut m = Integrator::new(TimeDelta::minutes(15), TimeDelta::minutes(10));
        // 4 kW for the first quarter-hour, then 2 kW: counters read every 5 minutes.
        let mut e = 0.0;
        let mut t = -300;
        while t < 1800 + 300 {
            let p = if t < 900 { 4.0 } else { 2.0 };
            m.push(at(t), Some(e), Some(p));
            e += p * 300.0 / 3600.0;
            t += 300;
        }
        assert!((m.mean_kw(at(0)).unwrap() - 4.0).abs() < 1e-9);
        assert!((m.mean_kw(at(900)).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(m.mean_kw(at(1800)), None, "its end is not read yet");
    }

    #[test]
    fn power_samples_are_integrated_and_gaps_stay_unknown() {
        let mut m = Integrator::new(TimeDelta::minutes(15), TimeDelta::minutes(5));
        for k in -1..=30 {
            m.push(at(k * 60), None, Some(3.0));
        }
        assert!((m.mean_kw(at(0)).unwrap() - 3.0).abs() < 1e-9);
        // Twenty minutes of silence: the boundary at 2700 s falls in the gap.
        m.push(at(1800 + 1200), None, Some(3.0));
        m.push(at(1800 + 1260), None, Some(3.0));
        assert_eq!(m.mean_kw(at(1800)), None);
        // Older or equal readings change nothing.
        let before = m.mean_kw(at(900));
        m.push(at(100), None, Some(100.0));
        assert_eq!(m.mean_kw(at(900)), before);
    }
}
