//! Accuracy metrics over many forecasts. Steps whose actual value is missing (NaN) are left
//! out everywhere.

use serde::Serialize;

use crate::Forecast;

/// Running sums over forecasts; [`Accuracy::report`] turns them into metrics.
#[derive(Debug, Clone, Default)]
pub struct Accuracy {
    n: usize,
    abs: f64,
    sq: f64,
    ape: f64,
    ape_n: usize,
    scaled: f64,
    scaled_n: usize,
    pinball: f64,
    covered: usize,
}

/// Metrics over all forecasts of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Report {
    /// Steps evaluated.
    pub steps: usize,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error, %, over steps with an actual value > 0.
    pub mape: f64,
    /// Mean absolute scaled error: each forecast's absolute errors over its window's
    /// in-sample one-day seasonal-naive MAE, averaged over all steps.
    pub mase: f64,
    /// Mean pinball loss of P10, P50 and P90.
    pub pinball: f64,
    /// Share of actual values within [P10, P90] (80 % when calibrated).
    pub coverage_p10_p90: f64,
}

/// In-sample MAE of the seasonal-naive forecast with `period` over `history` (the MASE
/// scale); `None` if there are no pairs.
#[must_use]
pub fn seasonal_naive_mae(history: &[f64], period: usize) -> Option<f64> {
    let mut sum = 0.0;
    let mut n = 0usize;
    for i in period..history.len() {
        let d = history[i] - history[i - period];
        if d.is_finite() {
            sum += d.abs();
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

fn pinball(q: f64, actual: f64, predicted: f64) -> f64 {
    let d = actual - predicted;
    if d >= 0.0 { q * d } else { (q - 1.0) * d }
}

impl Accuracy {
    /// Adds one forecast against `actual`, with `scale` the MASE denominator of its window.
    pub fn add(&mut self, forecast: &Forecast, actual: &[f64], scale: Option<f64>) {
        for (i, &a) in actual.iter().enumerate() {
            let Some(&p) = forecast.point.get(i) else {
                break;
            };
            if !a.is_finite() || !p.is_finite() {
                continue;
            }
            let e = a - p;
            self.n += 1;
            self.abs += e.abs();
            self.sq += e * e;
            if a > 0.0 {
                self.ape += (e / a).abs();
                self.ape_n += 1;
            }
            if let Some(s) = scale.filter(|s| *s > 0.0) {
                self.scaled += e.abs() / s;
                self.scaled_n += 1;
            }
            let (q10, q50, q90) = (forecast.p10[i], forecast.p50[i], forecast.p90[i]);
            self.pinball +=
                (pinball(0.1, a, q10) + pinball(0.5, a, q50) + pinball(0.9, a, q90)) / 3.0;
            if q10 <= a && a <= q90 {
                self.covered += 1;
            }
        }
    }

    /// The metrics so far.
    #[must_use]
    pub fn report(&self) -> Report {
        let n = self.n.max(1) as f64;
        Report {
            steps: self.n,
            mae: self.abs / n,
            rmse: (self.sq / n).sqrt(),
            mape: 100.0 * self.ape / self.ape_n.max(1) as f64,
            mase: self.scaled / self.scaled_n.max(1) as f64,
            pinball: self.pinball / n,
            coverage_p10_p90: self.covered as f64 / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[f64]) -> Forecast {
        Forecast {
            point: v.to_vec(),
            p10: v.iter().map(|x| x - 1.0).collect(),
            p50: v.to_vec(),
            p90: v.iter().map(|x| x + 1.0).collect(),
        }
    }

    #[test]
    fn metrics_match_hand_computation() {
        let mut acc = Accuracy::default();
        acc.add(&f(&[10.0, 20.0]), &[11.0, 18.0], Some(2.0));
        let r = acc.report();
        assert_eq!(r.steps, 2);
        assert!((r.mae - 1.5).abs() < 1e-12);
        assert!((r.rmse - (2.5f64).sqrt()).abs() < 1e-12);
        assert!((r.mape - 100.0 * (1.0 / 11.0 + 2.0 / 18.0) / 2.0).abs() < 1e-9);
        assert!((r.mase - 0.75).abs() < 1e-12);
        assert_eq!(r.coverage_p10_p90, 0.5);
    }

    #[test]
    fn gaps_and_non_positive_actuals_are_left_out_where_they_must_be() {
        let mut acc = Accuracy::default();
        acc.add(&f(&[1.0, 1.0, 1.0]), &[f64::NAN, 0.0, 2.0], None);
        let r = acc.report();
        assert_eq!(r.steps, 2);
        assert!((r.mape - 50.0).abs() < 1e-12, "0 is excluded from MAPE");
    }

    #[test]
    fn the_mase_scale_is_the_in_sample_seasonal_naive_error() {
        let h = [1.0, 2.0, 4.0, 7.0];
        assert_eq!(seasonal_naive_mae(&h, 1), Some(2.0));
        assert_eq!(seasonal_naive_mae(&h, 2), Some(4.0));
        assert_eq!(seasonal_naive_mae(&h, 4), None);
    }
}
