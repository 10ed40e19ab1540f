//! Rolling-origin backtests: for each origin, fit on the `window` steps before it and forecast
//! `horizon` steps from it, never looking past the origin.

use crate::metrics::{Accuracy, Report, seasonal_naive_mae};
use crate::{Forecast, ForecastError, Forecaster, Problem};

/// Why a backtest could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BacktestError {
    /// An origin too close to the start (no full window) or the end (no full horizon).
    #[error(
        "origin at step {origin} needs {window} steps before and {horizon} after; the series has {len}"
    )]
    Origin {
        /// The origin.
        origin: usize,
        /// Window length.
        window: usize,
        /// Horizon.
        horizon: usize,
        /// Series length.
        len: usize,
    },
    /// The forecaster failed.
    #[error("forecast from step {origin} failed: {source}")]
    Forecast {
        /// The origin.
        origin: usize,
        /// Why.
        source: ForecastError,
    },
}

/// A whole series: target and exogenous columns of equal length at a fixed step.
#[derive(Debug, Clone, Copy)]
pub struct Data<'a> {
    /// Target.
    pub target: &'a [f64],
    /// Exogenous columns.
    pub exog: &'a [Vec<f64>],
    /// Steps per day.
    pub steps_per_day: usize,
}

/// One origin's forecasting problem and what happened after it.
#[derive(Debug, Clone)]
pub struct Split<'a> {
    /// What the forecaster may see: nothing of the target at or after the origin.
    pub problem: Problem<'a>,
    /// The target over the horizon.
    pub actual: &'a [f64],
    /// The MASE scale: the window's in-sample one-day seasonal-naive MAE.
    pub mase_scale: Option<f64>,
}

/// The problem at `origin` with a `window`-step history and a `horizon`.
pub fn split<'a>(
    data: &Data<'a>,
    origin: usize,
    window: usize,
    horizon: usize,
    first_weekday: u8,
) -> Result<Split<'a>, BacktestError> {
    let len = data.target.len();
    if origin < window || origin + horizon > len {
        return Err(BacktestError::Origin {
            origin,
            window,
            horizon,
            len,
        });
    }
    let history = &data.target[origin - window..origin];
    Ok(Split {
        problem: Problem {
            history,
            exog_history: data
                .exog
                .iter()
                .map(|c| &c[origin - window..origin])
                .collect(),
            exog_future: data
                .exog
                .iter()
                .map(|c| &c[origin..origin + horizon])
                .collect(),
            steps_per_day: data.steps_per_day,
            horizon,
            first_weekday,
        },
        actual: &data.target[origin..origin + horizon],
        mase_scale: seasonal_naive_mae(history, data.steps_per_day),
    })
}

/// Forecasts one split and adds it to `acc`.
pub fn evaluate(
    forecaster: &dyn Forecaster,
    split: &Split<'_>,
    origin: usize,
    acc: &mut Accuracy,
) -> Result<Forecast, BacktestError> {
    let f = forecaster
        .forecast(&split.problem)
        .map_err(|source| BacktestError::Forecast { origin, source })?;
    acc.add(&f, split.actual, split.mase_scale);
    Ok(f)
}

/// Runs a whole backtest over `origins` (each with its first weekday) and reports.
pub fn run(
    forecaster: &dyn Forecaster,
    data: &Data<'_>,
    origins: &[(usize, u8)],
    window: usize,
    horizon: usize,
) -> Result<Report, BacktestError> {
    let mut acc = Accuracy::default();
    for &(origin, weekday) in origins {
        let s = split(data, origin, window, horizon, weekday)?;
        evaluate(forecaster, &s, origin, &mut acc)?;
    }
    Ok(acc.report())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naive::SeasonalNaive;

    /// A forecaster that returns the largest value it can see: if any target value from the
    /// origin on leaked into the problem, its forecast would change when they change.
    struct Peeker;

    impl Forecaster for Peeker {
        fn name(&self) -> &'static str {
            "peeker"
        }
        fn forecast(&self, p: &Problem<'_>) -> Result<Forecast, ForecastError> {
            let m = p.history.iter().copied().fold(f64::MIN, f64::max);
            let v = vec![m; p.horizon];
            Ok(Forecast {
                point: v.clone(),
                p10: v.clone(),
                p50: v.clone(),
                p90: v,
            })
        }
    }

    #[test]
    fn no_value_at_or_after_the_origin_reaches_the_forecaster() {
        let target: Vec<f64> = (0..100).map(f64::from).collect();
        let exog = vec![(0..100).map(|i| f64::from(i) * 10.0).collect::<Vec<_>>()];
        let data = Data {
            target: &target,
            exog: &exog,
            steps_per_day: 10,
        };
        let s = split(&data, 50, 30, 10, 0).unwrap();
        assert_eq!(s.problem.history.len(), 30);
        assert_eq!(*s.problem.history.last().unwrap(), 49.0);
        assert_eq!(
            s.problem.exog_future[0][0], 500.0,
            "exogenous values of the horizon are known"
        );
        assert_eq!(s.actual[0], 50.0);
        let before = Peeker.forecast(&s.problem).unwrap();
        // Change everything from the origin on: the forecast must not move.
        let mut changed = target.clone();
        for v in &mut changed[50..] {
            *v = 1e9;
        }
        let data2 = Data {
            target: &changed,
            ..data
        };
        let s2 = split(&data2, 50, 30, 10, 0).unwrap();
        assert_eq!(Peeker.forecast(&s2.problem).unwrap(), before);
    }

    #[test]
    fn origins_need_a_full_window_and_horizon() {
        let target = vec![1.0; 20];
        let data = Data {
            target: &target,
            exog: &[],
            steps_per_day: 2,
        };
        assert!(matches!(
            split(&data, 5, 10, 2, 0),
            Err(BacktestError::Origin { .. })
        ));
        assert!(matches!(
            split(&data, 19, 10, 2, 0),
            Err(BacktestError::Origin { .. })
        ));
        assert!(split(&data, 18, 10, 2, 0).is_ok());
    }

    #[test]
    fn a_perfectly_periodic_series_is_forecast_exactly_by_seasonal_naive() {
        let target: Vec<f64> = (0..200).map(|i| f64::from(i % 10) + 1.0).collect();
        let data = Data {
            target: &target,
            exog: &[],
            steps_per_day: 10,
        };
        let r = run(
            &SeasonalNaive { days: 1 },
            &data,
            &[(100, 0), (150, 0)],
            50,
            20,
        )
        .unwrap();
        assert_eq!(r.steps, 40);
        assert_eq!(r.mae, 0.0);
        assert_eq!(r.coverage_p10_p90, 1.0);
    }
}
