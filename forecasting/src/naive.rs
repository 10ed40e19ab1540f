//! Seasonal naive: tomorrow looks like today (or like the same day last week). The baseline
//! every other model must beat. Quantiles come from the window's own seasonal differences.

use crate::{Forecast, ForecastError, Forecaster, Problem};

/// Repeats the last `days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeasonalNaive {
    /// Season length in days (1: daily, 7: weekly).
    pub days: usize,
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> &'static str {
        if self.days == 7 {
            "seasonal-naive-week"
        } else {
            "seasonal-naive-day"
        }
    }

    fn forecast(&self, p: &Problem<'_>) -> Result<Forecast, ForecastError> {
        let period = self.days.max(1) * p.steps_per_day.max(1);
        let n = p.history.len();
        if n < period {
            return Err(ForecastError::ShortHistory {
                have: n,
                need: period,
            });
        }
        let point: Vec<f64> = (0..p.horizon)
            .map(|h| p.history[n - period + h % period])
            .collect();
        let residuals: Vec<f64> = (period..n)
            .map(|i| p.history[i] - p.history[i - period])
            .collect();
        Ok(Forecast::with_residual_band(point, &residuals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(history: &[f64], horizon: usize) -> Problem<'_> {
        Problem {
            history,
            exog_history: vec![],
            exog_future: vec![],
            steps_per_day: 2,
            horizon,
            first_weekday: 0,
        }
    }

    #[test]
    fn it_repeats_the_last_season() {
        let h = [1.0, 2.0, 3.0, 4.0];
        let f = SeasonalNaive { days: 1 }.forecast(&problem(&h, 5)).unwrap();
        assert_eq!(f.point, vec![3.0, 4.0, 3.0, 4.0, 3.0]);
        // Seasonal differences are all 2: a band of width 0 around point + 2.
        assert_eq!(f.p10, vec![5.0, 6.0, 5.0, 6.0, 5.0]);
        assert!(SeasonalNaive { days: 7 }.forecast(&problem(&h, 1)).is_err());
    }
}
