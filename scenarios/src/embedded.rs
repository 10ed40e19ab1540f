//! The scenario `vpp run` plays by default: a real home's year of load and PV
//! (`scenarios/data/home_year_30min.csv`) and a real week of prices
//! (`scenarios/data/site_week_30min.csv`; see `scenarios/data/README.md`). Each simulated site is a block of homes, one per battery, that
//! all live the real home's timeline shifted by as many days as homes came before the block
//! (so neighbouring sites differ and a site's own past is its real past: a forecaster sees
//! nothing of its future). Simulated time maps onto the data year by whole weeks; prices
//! repeat weekly. A driver task (in `api`) sets every simulated site's load from it as the
//! simulated clock runs; the prices reach the control plane as a
//! [`PriceFeed`](vpp_dispatch::ports::PriceFeed), the published tariff.

use chrono::{DateTime, Datelike, NaiveDateTime, TimeDelta, Timelike, Utc};
use std::sync::Arc;
use vpp_battery_sim::fleet::Fleet;

use vpp_dispatch::ports::{NetLoadOracle, PriceFeed, Prices};
use vpp_domain::{Level, NodePath};

/// The embedded year of one home.
const HOME_YEAR: &str = include_str!("../data/home_year_30min.csv");
/// The embedded week of prices (and the same home's load).
const PRICE_WEEK: &str = include_str!("../data/site_week_30min.csv");

/// Rows per day (30-minute steps).
const PER_DAY: usize = 48;
/// Row length.
const ROW: TimeDelta = TimeDelta::minutes(30);

/// Why scenario data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// A line of a data file is wrong.
    #[error("{file} line {line}: {problem}")]
    Line {
        /// Which file: `home` or `price`.
        file: &'static str,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The data as a whole has the wrong shape.
    #[error("{0}")]
    Shape(&'static str),
}

/// A home's load and PV over whole weeks, and a week of prices; all at 30 minutes.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Time of the first home row.
    home_start: DateTime<Utc>,
    load_kw: Vec<f64>,
    pv_kw: Vec<f64>,
    /// Prices, Monday 00:00 first, local time at UTC+2.
    import_price: Vec<f64>,
    export_price: Vec<f64>,
}

impl Scenario {
    /// The embedded year and week.
    pub fn embedded() -> Result<Self, ScenarioError> {
        Self::parse(HOME_YEAR, PRICE_WEEK)
    }

    /// Parses a home's `timestamp_utc,load_w,pv_w` rows (a regular 30-minute grid of at least
    /// a week; a blank load takes the value of the same time a day earlier, a blank PV is 0)
    /// and a week of `timestamp,load_w,pv_w,price_da_eur_mwh,import_eur_kwh,export_eur_kwh`
    /// rows, Monday first.
    pub fn parse(home: &str, week: &str) -> Result<Self, ScenarioError> {
        let mut s = Self {
            home_start: DateTime::<Utc>::UNIX_EPOCH,
            load_kw: vec![],
            pv_kw: vec![],
            import_price: vec![],
            export_price: vec![],
        };
        for (i, line) in home.lines().enumerate().skip(1) {
            let bad = |problem: String| ScenarioError::Line {
                file: "home",
                line: i + 1,
                problem,
            };
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() < 3 {
                return Err(bad("expected 3 columns".into()));
            }
            let at = NaiveDateTime::parse_from_str(cells[0].trim(), "%Y-%m-%dT%H:%MZ")
                .map_err(|e| bad(format!("timestamp {:?}: {e}", cells[0])))?
                .and_utc();
            if s.load_kw.is_empty() {
                s.home_start = at;
            }
            let expected = s.home_start + ROW * s.load_kw.len() as i32;
            if at != expected {
                return Err(bad(format!(
                    "{at} is off the 30-minute grid (expected {expected})"
                )));
            }
            let num = |c: usize| -> Result<Option<f64>, ScenarioError> {
                let cell = cells[c].trim();
                if cell.is_empty() {
                    return Ok(None);
                }
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v / 1000.0)),
                    _ => Err(bad(format!("column {}: {cell:?} is not a number", c + 1))),
                }
            };
            let load = match num(1)? {
                Some(v) => v,
                None => s.load_kw.len().checked_sub(PER_DAY).map_or_else(
                    || s.load_kw.last().copied().unwrap_or(0.0),
                    |j| s.load_kw[j],
                ),
            };
            s.load_kw.push(load);
            s.pv_kw.push(num(2)?.unwrap_or(0.0));
        }
        let weeks = s.load_kw.len() / (7 * PER_DAY);
        if weeks == 0 {
            return Err(ScenarioError::Shape(
                "the home data must hold at least a week",
            ));
        }
        s.load_kw.truncate(weeks * 7 * PER_DAY);
        s.pv_kw.truncate(weeks * 7 * PER_DAY);
        for (i, line) in week.lines().enumerate().skip(1) {
            let bad = |problem: String| ScenarioError::Line {
                file: "price",
                line: i + 1,
                problem,
            };
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() < 6 {
                return Err(bad("expected 6 columns".into()));
            }
            let num = |c: usize| -> Result<f64, ScenarioError> {
                let cell = cells[c].trim();
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(v),
                    _ => Err(bad(format!("column {}: {cell:?} is not a number", c + 1))),
                }
            };
            s.import_price.push(num(4)?);
            s.export_price.push(num(5)?);
        }
        if s.import_price.len() != 7 * PER_DAY {
            return Err(ScenarioError::Shape(
                "the prices must be one week of 30-minute rows",
            ));
        }
        Ok(s)
    }

    /// Home row of `t` for a home living the timeline shifted by `days` (whole weeks of the
    /// data repeat).
    fn home_row(&self, t: DateTime<Utc>, days: usize) -> usize {
        let n = self.load_kw.len() as i64;
        let r = (t - self.home_start)
            .num_seconds()
            .div_euclid(ROW.num_seconds());
        (r + (days * PER_DAY) as i64).rem_euclid(n) as usize
    }

    /// Price row of `t` (local time UTC+2, Monday first, the week repeating).
    fn price_row(&self, t: DateTime<Utc>) -> usize {
        let local = t + TimeDelta::hours(2);
        let day = local.weekday().num_days_from_monday() as usize;
        let slot = local.num_seconds_from_midnight() as usize / 1800;
        day * PER_DAY + slot
    }

    /// Load and PV at `t` of a block of `homes` homes living the timeline shifted by `first`
    /// days, kW.
    #[must_use]
    pub fn block_load_pv(&self, t: DateTime<Utc>, first: usize, homes: usize) -> (f64, f64) {
        let r = self.home_row(t, first);
        let n = homes.max(1) as f64;
        (n * self.load_kw[r], n * self.pv_kw[r])
    }

    /// Net load (load − PV) at `t` of a block of homes (as in [`Self::block_load_pv`]), kW.
    #[must_use]
    pub fn block_net_load(&self, t: DateTime<Utc>, first: usize, homes: usize) -> f64 {
        let (load, pv) = self.block_load_pv(t, first, homes);
        load - pv
    }

    /// Import and export prices at `t`, €/kWh.
    #[must_use]
    pub fn prices(&self, t: DateTime<Utc>) -> (f64, f64) {
        let r = self.price_row(t);
        (self.import_price[r], self.export_price[r])
    }

    /// Per-interval averages of the `N` series `f` gives, over `steps` intervals of `step` from
    /// `start`, sampled every minute (each sample read once).
    fn averages<const N: usize>(
        start: DateTime<Utc>,
        step: TimeDelta,
        steps: usize,
        f: impl Fn(DateTime<Utc>) -> [f64; N],
    ) -> [Vec<f64>; N] {
        let minutes = step.num_minutes().max(1);
        let mut out: [Vec<f64>; N] = std::array::from_fn(|_| Vec::with_capacity(steps));
        for k in 0..steps {
            let t0 = start + step * k as i32;
            let mut sums = [0.0; N];
            for m in 0..minutes {
                for (sum, x) in sums.iter_mut().zip(f(t0 + TimeDelta::minutes(m))) {
                    *sum += x;
                }
            }
            for (series, sum) in out.iter_mut().zip(sums) {
                series.push(sum / minutes as f64);
            }
        }
        out
    }

    /// Net load of a block of homes (as in [`Self::block_net_load`]) per interval: averages
    /// over `steps` intervals of `step` from `start`.
    #[must_use]
    pub fn load_horizon(
        &self,
        start: DateTime<Utc>,
        step: TimeDelta,
        steps: usize,
        first: usize,
        homes: usize,
    ) -> Vec<f64> {
        let [net] = Self::averages(start, step, steps, |t| {
            [self.block_net_load(t, first, homes)]
        });
        net
    }

    /// Load and PV of a block of homes per interval (averages, as in [`Self::load_horizon`]).
    #[must_use]
    pub fn load_pv_horizon(
        &self,
        start: DateTime<Utc>,
        step: TimeDelta,
        steps: usize,
        first: usize,
        homes: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let [load, pv] = Self::averages(start, step, steps, |t| {
            let (load, pv) = self.block_load_pv(t, first, homes);
            [load, pv]
        });
        (load, pv)
    }

    /// Import and export prices per interval, €/kWh: averages over `steps` intervals of
    /// `step` from `start`.
    #[must_use]
    pub fn price_horizon(
        &self,
        start: DateTime<Utc>,
        step: TimeDelta,
        steps: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let [import, export] = Self::averages(start, step, steps, |t| {
            let (import, export) = self.prices(t);
            [import, export]
        });
        (import, export)
    }
}

/// A simulated site as the scenario sees it: a block of homes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The site node.
    pub node: NodePath,
    /// Its first home.
    pub first: usize,
    /// Homes (one per battery).
    pub homes: usize,
}

/// The block of each simulated site, homes numbered across the fleet.
#[must_use]
pub fn sites(fleet: &Fleet) -> Vec<Block> {
    let mut first = 0;
    fleet
        .sites()
        .iter()
        .filter_map(|s| {
            let device = s.devices().first()?;
            let block = Block {
                node: device.asset().ancestor(Level::Site),
                first,
                homes: s.devices().len(),
            };
            first += block.homes;
            Some(block)
        })
        .collect()
}

/// Each simulated site's net load (load − PV) at `t`, kW, in the order of `blocks`: what a
/// driver sets the simulated sites to as the simulated clock runs.
#[must_use]
pub fn site_loads(scenario: &Scenario, blocks: &[Block], t: DateTime<Utc>) -> Vec<f64> {
    blocks
        .iter()
        .map(|b| scenario.block_net_load(t, b.first, b.homes))
        .collect()
}

/// Each site's metered import over the `days` days before `now`, interval by interval, as a
/// meter data service would deliver it: the batteries did not run before the VPP took the
/// site over, so it is the site's net load. Per site: the first interval's start and the
/// averages, kW.
#[must_use]
pub fn meter_history(
    scenario: &Scenario,
    blocks: &[Block],
    now: DateTime<Utc>,
    step: TimeDelta,
    days: usize,
) -> Vec<(NodePath, DateTime<Utc>, Vec<f64>)> {
    let step_s = step.num_seconds().max(1);
    let end =
        DateTime::from_timestamp(now.timestamp().div_euclid(step_s) * step_s, 0).unwrap_or(now);
    let start = end - TimeDelta::days(days as i64);
    let steps = usize::try_from((end - start).num_seconds() / step_s).unwrap_or(0);
    blocks
        .iter()
        .map(|b| {
            (
                b.node.clone(),
                start,
                scenario.load_horizon(start, step, steps, b.first, b.homes),
            )
        })
        .collect()
}

/// The scenario's future as a [`NetLoadOracle`]: "perfect foresight", a reference to compare
/// forecasts with, never what a deployment has.
#[derive(Debug, Clone)]
pub struct PerfectForesight {
    scenario: Arc<Scenario>,
    blocks: Vec<Block>,
}

impl PerfectForesight {
    /// The oracle of `scenario` for the sites of `blocks`.
    #[must_use]
    pub fn new(scenario: Arc<Scenario>, blocks: Vec<Block>) -> Self {
        Self { scenario, blocks }
    }
}

impl NetLoadOracle for PerfectForesight {
    fn net_load(
        &self,
        site: &NodePath,
        start: DateTime<Utc>,
        step: TimeDelta,
        steps: usize,
    ) -> Option<Vec<f64>> {
        let b = self.blocks.iter().find(|b| &b.node == site)?;
        Some(
            self.scenario
                .load_horizon(start, step, steps, b.first, b.homes),
        )
    }
}

/// The scenario's week of prices is the tariff the control plane is told: published ahead,
/// known for any horizon.
impl PriceFeed for Scenario {
    fn horizon(&self, start: DateTime<Utc>, step: TimeDelta, steps: usize) -> Option<Prices> {
        let (import, export) = self.price_horizon(start, step, steps);
        Some(Prices {
            import_eur_per_kwh: import,
            export_eur_per_kwh: export,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_embedded_year_is_the_same_home_as_the_price_week() {
        let s = Scenario::embedded().unwrap();
        // 2024-06-03 14:30 at UTC+2: 212.0763 W load, 533.6303 W PV in the week's file.
        let (load, pv) = s.block_load_pv(at("2024-06-03T12:30:00Z"), 0, 1);
        assert!((load - 0.212_076).abs() < 1e-6 && (pv - 0.533_630).abs() < 1e-6);
        assert_eq!(s.prices(at("2024-06-03T12:30:00Z")), (0.1231, 0.0231));
        // A block of two homes shifted by two days: twice the home two days later.
        let (l2, _) = s.block_load_pv(at("2024-06-03T22:00:00Z"), 2, 2);
        assert!((l2 - 2.0 * 0.134_447).abs() < 1e-6, "{l2}");
        // Outside the data, time maps on by whole weeks: same weekday, same prices.
        let later = at("2024-06-03T12:30:00Z") + TimeDelta::weeks(300);
        assert_eq!(s.prices(later), s.prices(at("2024-06-03T12:30:00Z")));
        assert!(s.block_net_load(later, 0, 1).is_finite());
    }

    fn week_of_prices() -> String {
        let mut w = String::from("timestamp,load_w,pv_w,da,import,export\n");
        for _ in 0..7 * PER_DAY {
            w.push_str("x,0,0,0,0.2,0.1\n");
        }
        w
    }

    fn home_rows(n: usize, blank_load_at: Option<usize>) -> String {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut h = String::from("timestamp_utc,load_w,pv_w\n");
        for i in 0..n {
            let t = (t0 + ROW * i as i32).format("%Y-%m-%dT%H:%MZ");
            let load = if Some(i) == blank_load_at {
                String::new()
            } else {
                format!("{}", 1000 + i)
            };
            h.push_str(&format!("{t},{load},\n"));
        }
        h
    }

    #[test]
    fn gaps_are_filled_from_the_day_before_and_bad_files_are_named() {
        let s = Scenario::parse(
            &home_rows(8 * PER_DAY, Some(PER_DAY + 5)),
            &week_of_prices(),
        )
        .unwrap();
        // Whole weeks only; the blank load is the same slot a day earlier; blank PV is 0.
        assert_eq!(s.load_kw.len(), 7 * PER_DAY);
        assert!((s.load_kw[PER_DAY + 5] - s.load_kw[5]).abs() < 1e-12);
        assert_eq!(s.pv_kw[3], 0.0);

        let mut off = home_rows(8 * PER_DAY, None);
        off = off.replacen("2024-01-01T01:00Z", "2024-01-01T01:10Z", 1);
        let e = Scenario::parse(&off, &week_of_prices()).unwrap_err();
        assert!(format!("{e:#}").contains("home line 4"), "{e:#}");
        let e = Scenario::parse(&home_rows(3 * PER_DAY, None), &week_of_prices()).unwrap_err();
        assert!(format!("{e:#}").contains("at least a week"), "{e:#}");
        let bad = home_rows(8 * PER_DAY, None).replacen(",1002,", ",12kW,", 1);
        let e = Scenario::parse(&bad, &week_of_prices()).unwrap_err();
        assert!(format!("{e:#}").contains("home line 4: column 2"), "{e:#}");
        let e = Scenario::parse(&home_rows(8 * PER_DAY, None), "header\nx,0,0,0,0.2,0.1\n")
            .unwrap_err();
        assert!(format!("{e:#}").contains("one week"), "{e:#}");
    }
}
