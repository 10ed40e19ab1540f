//! Calendar regression: per time-of-day slot, a ridge regression of the value on yesterday's
//! and last week's value at the same slot, the day of the week, and each exogenous column
//! (with its square, for the U-shape of demand against temperature), fitted on the window.
//!
//! Quantiles come from leave-one-out residuals of the same fits (`e_i / (1 − h_ii)` with the
//! ridge hat matrix), so the band reflects out-of-sample error, not the in-sample fit.

use nalgebra::{DMatrix, DVector};

use crate::{Forecast, ForecastError, Forecaster, Problem};

/// The calendar regression forecaster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalendarRegression {
    /// Ridge penalty on standardised features.
    pub lambda: f64,
}

impl Default for CalendarRegression {
    fn default() -> Self {
        Self { lambda: 1.0 }
    }
}

/// Days of lag needed before the first training day.
const MAX_LAG_DAYS: usize = 7;

struct Design {
    rows: Vec<Vec<f64>>,
    y: Vec<f64>,
}

/// Features of (day `d`, slot `s`) given the values `v` (history then forecasts) and exogenous
/// columns over the same index.
fn features(
    v: &[f64],
    exog: &[Vec<f64>],
    spd: usize,
    d: usize,
    s: usize,
    weekday: usize,
) -> Option<Vec<f64>> {
    let i = d * spd + s;
    let lag1 = *v.get(i.checked_sub(spd)?)?;
    let lag7 = *v.get(i.checked_sub(7 * spd)?)?;
    let mut f = Vec::with_capacity(3 + 6 + 2 * exog.len());
    f.push(lag1);
    f.push(lag7);
    for k in 1..7 {
        f.push(f64::from(u8::from(weekday == k)));
    }
    for col in exog {
        let x = *col.get(i)?;
        f.push(x);
        f.push(x * x);
    }
    f.iter().all(|x| x.is_finite()).then_some(f)
}

/// A ridge regression fitted on standardised columns.
struct Ridge {
    mean: Vec<f64>,
    sd: Vec<f64>,
    beta: DVector<f64>,
    y_mean: f64,
}

impl Ridge {
    fn standardise(&self, r: &[f64]) -> Vec<f64> {
        r.iter()
            .zip(self.mean.iter().zip(&self.sd))
            .map(|(x, (m, sd))| if *sd > 1e-12 { (x - m) / sd } else { 0.0 })
            .collect()
    }

    fn predict(&self, r: &[f64]) -> f64 {
        self.y_mean
            + self
                .standardise(r)
                .iter()
                .zip(self.beta.iter())
                .map(|(a, b)| a * b)
                .sum::<f64>()
    }

    /// Fits `design` with penalty `lambda`; returns the model and its leave-one-out residuals.
    fn fit(design: &Design, lambda: f64) -> Option<(Self, Vec<f64>)> {
        let n = design.rows.len();
        let p = design.rows.first()?.len();
        if n < 3 {
            return None;
        }
        let mut mean = vec![0.0; p];
        let mut sd = vec![0.0; p];
        for j in 0..p {
            mean[j] = design.rows.iter().map(|r| r[j]).sum::<f64>() / n as f64;
            let var = design
                .rows
                .iter()
                .map(|r| (r[j] - mean[j]).powi(2))
                .sum::<f64>()
                / n as f64;
            sd[j] = var.sqrt();
        }
        let y_mean = design.y.iter().sum::<f64>() / n as f64;
        let mut model = Self {
            mean,
            sd,
            beta: DVector::zeros(p),
            y_mean,
        };
        let zrows: Vec<Vec<f64>> = design.rows.iter().map(|r| model.standardise(r)).collect();
        let x = DMatrix::from_fn(n, p, |i, j| zrows[i][j]);
        let y = DVector::from_fn(n, |i, _| design.y[i] - y_mean);
        let a_inv = (x.transpose() * &x + DMatrix::identity(p, p) * lambda).try_inverse()?;
        model.beta = &a_inv * x.transpose() * &y;
        let loo = (0..n)
            .map(|i| {
                let xi = x.row(i).transpose();
                let h = (xi.transpose() * &a_inv * &xi)[(0, 0)] + 1.0 / n as f64;
                (y[i] - xi.dot(&model.beta)) / (1.0 - h).max(1e-6)
            })
            .collect();
        Some((model, loo))
    }
}

impl Forecaster for CalendarRegression {
    fn name(&self) -> &'static str {
        "calendar-regression"
    }

    fn forecast(&self, p: &Problem<'_>) -> Result<Forecast, ForecastError> {
        let spd = p.steps_per_day.max(1);
        let n = p.history.len();
        let days = n / spd;
        if days < MAX_LAG_DAYS + 3 || !n.is_multiple_of(spd) {
            return Err(ForecastError::ShortHistory {
                have: n,
                need: (MAX_LAG_DAYS + 3) * spd,
            });
        }
        // Exogenous columns over history and horizon, on one index.
        let exog: Vec<Vec<f64>> = p
            .exog_history
            .iter()
            .zip(&p.exog_future)
            .map(|(h, f)| h.iter().chain(f.iter()).copied().collect())
            .collect();
        // Weekday of day d of the window: the first forecast day is `first_weekday`.
        let weekday = |d: usize| (usize::from(p.first_weekday) + 7 * 1000 + d - days) % 7;
        let mut values: Vec<f64> = p.history.to_vec();
        values.resize(n + p.horizon, f64::NAN);
        let horizon_days = p.horizon.div_ceil(spd);
        let mut point = vec![f64::NAN; p.horizon];
        let mut all_loo = Vec::new();
        let mut predictors = Vec::with_capacity(spd);
        for s in 0..spd {
            let mut design = Design {
                rows: Vec::new(),
                y: Vec::new(),
            };
            for d in MAX_LAG_DAYS..days {
                let y = p.history[d * spd + s];
                if let (Some(f), true) = (
                    features(&values, &exog, spd, d, s, weekday(d)),
                    y.is_finite(),
                ) {
                    design.rows.push(f);
                    design.y.push(y);
                }
            }
            let (model, loo) = Ridge::fit(&design, self.lambda)
                .ok_or_else(|| ForecastError::Fit(format!("slot {s}: too few complete days")))?;
            all_loo.extend(loo);
            predictors.push(model);
        }
        // Day by day, so that a multi-day horizon uses its own forecasts as lags.
        for k in 0..horizon_days {
            let d = days + k;
            for (s, model) in predictors.iter().enumerate() {
                let h = k * spd + s;
                if h >= p.horizon {
                    break;
                }
                let f = features(&values, &exog, spd, d, s, weekday(d));
                let y = f.map_or(f64::NAN, |f| model.predict(&f));
                values[n + h] = y;
                point[h] = y;
            }
        }
        Ok(Forecast::with_residual_band(point, &all_loo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_learns_a_weekly_pattern_with_a_temperature_effect() {
        // 5 weeks of 4 slots a day: weekday level + slot shape + 2 × temperature.
        let spd = 4;
        let days = 35;
        let temp: Vec<f64> = (0..(days + 1) * spd)
            .map(|i| 10.0 + ((i * 7919) % 13) as f64)
            .collect();
        let y: Vec<f64> = (0..days * spd)
            .map(|i| {
                let (d, s) = (i / spd, i % spd);
                100.0 + 20.0 * f64::from(u8::from(d % 7 >= 5)) + 5.0 * s as f64 + 2.0 * temp[i]
            })
            .collect();
        let exog_h = vec![&temp[..days * spd]];
        let exog_f = vec![&temp[days * spd..]];
        let p = Problem {
            history: &y,
            exog_history: exog_h,
            exog_future: exog_f,
            steps_per_day: spd,
            horizon: spd,
            first_weekday: (days % 7) as u8,
        };
        let f = CalendarRegression::default().forecast(&p).unwrap();
        for (s, v) in f.point.iter().enumerate() {
            let i = days * spd + s;
            let truth =
                100.0 + 20.0 * f64::from(u8::from(days % 7 >= 5)) + 5.0 * s as f64 + 2.0 * temp[i];
            assert!((v - truth).abs() < 3.0, "slot {s}: {v} vs {truth}");
        }
        assert!(f.p10.iter().zip(&f.p90).all(|(a, b)| a <= b));
    }
}
