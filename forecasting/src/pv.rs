//! PV: a clear-sky reference shape times a forecast of the day's clear-sky index.
//!
//! - The reference is the first exogenous column when one is given: an irradiance (clear-sky,
//!   extraterrestrial or forecast) or a PV forecast from a weather service. Without one, it is
//!   the empirical clear-sky envelope of recent production: per time-of-day slot, a high
//!   quantile of the window's values (the output of the clearest days).
//! - Each day's clear-sky index is its production over its reference energy. The next day's
//!   index comes from an AR(1) fitted on the window's daily indices (persistence where
//!   weather persists, the window mean where it does not).
//! - Within the day (an issue time in daylight), the index of the last two hours starts the
//!   forecast and hands over to the day's index with a half-life of two hours ("smart
//!   persistence"): a cloudy morning lowers the afternoon, a clearing raises it. Issued at
//!   night, the forecast is the day's index alone.
//! - Quantiles: the window's per-step deviations of output / reference from the day's forecast
//!   index (day-to-day error and passing clouds alike), added to the index: a multiplicative
//!   band, zero at night and widest at noon; values never go below zero.
//!
//! Missing values (gaps; PV logs are often blank at night) are left out of the sums.

use crate::{Forecast, ForecastError, Forecaster, Problem, quantile};

/// The clear-sky-ratio PV forecaster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClearSkyRatio {
    /// Quantile of the per-slot values that makes the empirical envelope.
    pub envelope_quantile: f64,
}

impl Default for ClearSkyRatio {
    fn default() -> Self {
        Self {
            envelope_quantile: 0.9,
        }
    }
}

/// Fewest whole days of history.
const MIN_DAYS: usize = 7;

/// Least-squares `y = a + b x`; `None` without spread in `x`.
fn line(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    (sxx > 1e-12).then(|| {
        let b = (sxy / sxx).clamp(0.0, 1.0);
        (my - b * mx, b)
    })
}

impl Forecaster for ClearSkyRatio {
    fn name(&self) -> &'static str {
        "pv-clear-sky-ratio"
    }

    fn forecast(&self, p: &Problem<'_>) -> Result<Forecast, ForecastError> {
        let spd = p.steps_per_day.max(1);
        let n = p.history.len();
        let days = n / spd;
        if days < MIN_DAYS || !n.is_multiple_of(spd) {
            return Err(ForecastError::ShortHistory {
                have: n,
                need: MIN_DAYS * spd,
            });
        }
        // Reference over history and horizon: the exogenous column where it has a value, the
        // envelope elsewhere.
        let envelope: Vec<f64> = (0..spd)
            .map(|s| {
                let slot: Vec<f64> = (0..days).map(|d| p.history[d * spd + s]).collect();
                quantile(&slot, self.envelope_quantile)
                    .unwrap_or(0.0)
                    .max(0.0)
            })
            .collect();
        let given = |i: usize| {
            let x = if i < n {
                p.exog_history.first().and_then(|c| c.get(i))
            } else {
                p.exog_future.first().and_then(|c| c.get(i - n))
            };
            x.copied().filter(|x| x.is_finite())
        };
        let reference: Vec<f64> = (0..n + p.horizon)
            .map(|i| given(i).map_or(envelope[i % spd], |x| x.max(0.0)))
            .collect();
        // Daily clear-sky indices over the window.
        let index: Vec<Option<f64>> = (0..days)
            .map(|d| {
                let (mut num, mut den) = (0.0, 0.0);
                let days_values = &p.history[d * spd..(d + 1) * spd];
                for (v, r) in days_values.iter().zip(&reference[d * spd..]) {
                    if v.is_finite() && r.is_finite() {
                        num += v.max(0.0);
                        den += r;
                    }
                }
                (den > 0.0).then(|| num / den)
            })
            .collect();
        let pairs: Vec<(f64, f64)> = index
            .windows(2)
            .filter_map(|w| Some((w[0]?, w[1]?)))
            .collect();
        let (x, y): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
        let known: Vec<f64> = index.iter().flatten().copied().collect();
        let mean = known.iter().sum::<f64>() / known.len().max(1) as f64;
        let (a, b) = line(&x, &y).unwrap_or((mean, 0.0));
        // Per-step deviations of the index from its one-day-ahead forecast (daylight steps,
        // where the reference is at least a tenth of the day's peak): they hold the day-to-day
        // error of the index and the clouds passing within a day.
        let mut residuals = Vec::new();
        let mut ratio_max: f64 = 0.0;
        for d in 1..days {
            let Some(prev) = index[d - 1] else { continue };
            let k_hat = a + b * prev;
            let refs = &reference[d * spd..(d + 1) * spd];
            let peak = refs
                .iter()
                .copied()
                .filter(|x| x.is_finite())
                .fold(0.0, f64::max);
            for (i, r) in (d * spd..).zip(refs) {
                if *r > 0.1 * peak && p.history[i].is_finite() {
                    let ratio = p.history[i].max(0.0) / r;
                    ratio_max = ratio_max.max(ratio);
                    residuals.push(ratio - k_hat);
                }
            }
        }
        let last = index.iter().rev().flatten().next().copied().unwrap_or(mean);
        let shift = |q| quantile(&residuals, q).unwrap_or(0.0);
        let shifts = [shift(0.1), shift(0.5), shift(0.9)];
        // Intraday: the index of the last two hours when the issue time is in daylight.
        let recent = {
            let peak = reference[n.saturating_sub(spd)..n]
                .iter()
                .copied()
                .fold(0.0, f64::max);
            let daylight = |i: usize| reference[i] > 0.1 * peak;
            let span = (spd / 12).max(1);
            let (mut num, mut den) = (0.0, 0.0);
            let from = n.saturating_sub(span);
            for (i, v) in (from..n).zip(&p.history[from..]) {
                if daylight(i) && v.is_finite() {
                    num += v.max(0.0);
                    den += reference[i];
                }
            }
            (daylight(n - 1) && den > 0.0).then(|| num / den)
        };
        let fade = 0.5_f64.powf(1.0 / (spd / 12).max(1) as f64);
        // Day by day: the AR(1) steps once per forecast day.
        let mut k = last;
        let (mut point, mut p10, mut p50, mut p90) = (vec![], vec![], vec![], vec![]);
        for h in 0..p.horizon {
            if h % spd == 0 {
                k = a + b * k;
            }
            let r = reference[n + h];
            let k = match recent {
                Some(kr) => k + (kr - k) * fade.powi(h as i32 + 1),
                None => k,
            };
            let at = |shift: f64| r * (k + shift).clamp(0.0, ratio_max.max(k));
            point.push(r * k.max(0.0));
            p10.push(at(shifts[0]));
            p50.push(at(shifts[1]));
            p90.push(at(shifts[2]));
        }
        Ok(Forecast {
            point,
            p10,
            p50,
            p90,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bell-shaped clear day of `spd` slots scaled by `k`.
    fn day(spd: usize, k: f64) -> Vec<f64> {
        (0..spd)
            .map(|s| {
                let x = s as f64 / spd as f64;
                k * (std::f64::consts::PI * (x - 0.25) * 2.0).sin().max(0.0) * 1000.0
            })
            .collect()
    }

    #[test]
    fn cloudy_spells_persist_and_the_envelope_is_the_clear_day() {
        let spd = 24;
        // Alternating spells: 3 clear days, 3 cloudy days (index 0.3).
        let ks: Vec<f64> = (0..28)
            .map(|d| if (d / 3) % 2 == 0 { 1.0 } else { 0.3 })
            .collect();
        let history: Vec<f64> = ks.iter().flat_map(|k| day(spd, *k)).collect();
        let p = Problem {
            history: &history,
            exog_history: vec![],
            exog_future: vec![],
            steps_per_day: spd,
            horizon: spd,
            first_weekday: 0,
        };
        let f = ClearSkyRatio::default().forecast(&p).unwrap();
        // Day 27 is in a cloudy spell (27/3 = 9, odd): tomorrow is forecast cloudy-ish.
        let noon = spd / 2;
        assert!(f.point[noon] < 0.8 * 1000.0, "{}", f.point[noon]);
        assert!(f.point[noon] > 0.2 * 1000.0);
        for h in 0..spd {
            assert!(f.p10[h] >= 0.0 && f.p10[h] <= f.p50[h] && f.p50[h] <= f.p90[h]);
            assert!(f.p90[h] <= 1000.0 + 1e-9, "never above the clearest day");
        }
        // Night stays zero.
        assert_eq!(f.point[0], 0.0);
    }

    #[test]
    fn a_cloudy_morning_lowers_the_afternoon_and_tomorrow_returns_to_the_days_index() {
        let spd = 24;
        let clear = day(spd, 1.0);
        // 28 clear days, then a cloudy morning (index 0.3); issued at noon.
        let mut series: Vec<f64> = (0..28).flat_map(|_| clear.clone()).collect();
        series.extend(day(spd, 0.3));
        let noon = spd / 2;
        let history = &series[noon..28 * spd + noon];
        let p = Problem {
            history,
            exog_history: vec![],
            exog_future: vec![],
            steps_per_day: spd,
            horizon: spd,
            first_weekday: 0,
        };
        let f = ClearSkyRatio::default().forecast(&p).unwrap();
        // This afternoon: far below the clear day.
        assert!(
            f.point[0] < 0.6 * clear[noon],
            "{} vs {}",
            f.point[0],
            clear[noon]
        );
        // Tomorrow morning (h = spd − 1 is 11:00): back to the day's index.
        let h = spd - 1;
        assert!(f.point[h] > 0.8 * clear[h - noon], "{}", f.point[h]);

        // Issued at midnight the same history gives the day's index alone (no intraday term).
        let night = &series[..28 * spd];
        let p = Problem {
            history: night,
            ..p
        };
        let f = ClearSkyRatio::default().forecast(&p).unwrap();
        assert!(f.point[noon] > 0.9 * clear[noon], "{}", f.point[noon]);
    }

    #[test]
    fn an_irradiance_column_sets_the_shape_and_the_ratio_the_size() {
        let spd = 24;
        let days = 14;
        // Irradiance varies by day; the plant makes 0.2 × irradiance.
        let irr: Vec<f64> = (0..=days)
            .flat_map(|d| day(spd, 0.4 + 0.6 * ((d * 7) % 5) as f64 / 4.0))
            .collect();
        let pv: Vec<f64> = irr[..days * spd].iter().map(|x| 0.2 * x).collect();
        let p = Problem {
            history: &pv,
            exog_history: vec![&irr[..days * spd]],
            exog_future: vec![&irr[days * spd..]],
            steps_per_day: spd,
            horizon: spd,
            first_weekday: 0,
        };
        let f = ClearSkyRatio::default().forecast(&p).unwrap();
        for h in 0..spd {
            let truth = 0.2 * irr[days * spd + h];
            assert!((f.point[h] - truth).abs() < 1e-6 * truth.max(1.0), "{h}");
        }
    }
}
