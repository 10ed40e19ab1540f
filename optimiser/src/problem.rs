//! The dispatch problem: the `problem.json` contract (docs/optimiser.md) and its validation.
//!
//! Sign convention: `net_load_kw` is load minus PV, positive meaning consumption; flows are
//! positive when importing. Every series has `horizon_steps` values. Validation names the
//! offending field with its path (`sites[2].batteries[0].soc_min`), so that a broken file is
//! fixed in one go.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// A dispatch problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchProblem {
    /// Interval length, minutes.
    pub step_minutes: f64,
    /// Number of intervals.
    pub horizon_steps: usize,
    /// Price of imported energy per interval, €/kWh.
    pub import_price_eur_per_kwh: Vec<f64>,
    /// Price of exported energy per interval, €/kWh (at most the import price).
    pub export_price_eur_per_kwh: Vec<f64>,
    /// Charge on the highest root import over the horizon, €/kW.
    #[serde(default)]
    pub peak_charge_eur_per_kw: f64,
    /// Charge on each site's highest import over the horizon (a connection's demand charge),
    /// €/kW.
    #[serde(default)]
    pub site_peak_charge_eur_per_kw: f64,
    /// Where a site gives `peak_so_far_kw`: the share of the site peak charge billed on the
    /// billing period's peak (only import above the peak so far pays it); the rest stays on the
    /// horizon's own peak. In [0, 1]; 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_peak_period_share: Option<f64>,
    /// Wear cost per kWh of battery throughput (grid side, charge plus discharge), €/kWh.
    #[serde(default)]
    pub wear_cost_eur_per_kwh: f64,
    /// Price of violating a limit or a terminal target, € per kWh of violation (default: 10
    /// €/kWh, raised to ten times the dearest price if that is higher).
    #[serde(default)]
    pub slack_price_eur_per_kwh: Option<f64>,
    /// Price of missing a terminal state-of-charge target, € per kWh (default: the slack
    /// price). Lower it to let grid limits win over terminal targets.
    #[serde(default)]
    pub terminal_price_eur_per_kwh: Option<f64>,
    /// Root (fleet) import limit, kW.
    #[serde(default)]
    pub root_import_limit_kw: Option<f64>,
    /// Root (fleet) export limit, kW.
    #[serde(default)]
    pub root_export_limit_kw: Option<f64>,
    /// Feeders with flow limits.
    #[serde(default)]
    pub feeders: Vec<Feeder>,
    /// Sites.
    pub sites: Vec<Site>,
}

/// A feeder: the sites that name it share its limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feeder {
    /// Identifier.
    pub id: String,
    /// Import limit, kW.
    #[serde(default)]
    pub import_limit_kw: Option<f64>,
    /// Export limit, kW.
    #[serde(default)]
    pub export_limit_kw: Option<f64>,
}

/// A site behind one connection point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Identifier.
    pub id: String,
    /// The feeder it hangs off, if any.
    #[serde(default)]
    pub feeder: Option<String>,
    /// Load minus PV per interval, kW (positive: consumption).
    pub net_load_kw: Vec<f64>,
    /// Site import limit, kW (soft).
    #[serde(default)]
    pub import_limit_kw: Option<f64>,
    /// Site export limit, kW (soft).
    #[serde(default)]
    pub export_limit_kw: Option<f64>,
    /// The highest import already billed in the period, kW: the site peak charge applies to
    /// the import above it only (a demand charge bills the period's peak once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_so_far_kw: Option<f64>,
    /// Batteries behind the connection point.
    #[serde(default)]
    pub batteries: Vec<Battery>,
}

/// A battery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Battery {
    /// Identifier, unique in the problem.
    pub id: String,
    /// Capacity, kWh.
    pub capacity_kwh: f64,
    /// Power rating, kW (stored side: charge `η_c c` and discharge `d / η_d` each at most this).
    pub max_power_kw: f64,
    /// Charge efficiency, (0, 1].
    pub charge_efficiency: f64,
    /// Discharge efficiency, (0, 1].
    pub discharge_efficiency: f64,
    /// Lowest state of charge, fraction.
    pub soc_min: f64,
    /// Highest state of charge, fraction.
    pub soc_max: f64,
    /// State of charge at the start, fraction.
    pub soc_initial: f64,
    /// State of charge at the end (null or absent: free), fraction.
    #[serde(default)]
    pub soc_final: Option<f64>,
}

impl Battery {
    /// Grid-side charge limit, kW.
    #[must_use]
    pub fn max_charge_kw(&self) -> f64 {
        self.max_power_kw / self.charge_efficiency
    }

    /// Grid-side discharge limit, kW.
    #[must_use]
    pub fn max_discharge_kw(&self) -> f64 {
        self.max_power_kw * self.discharge_efficiency
    }

    /// Energy bounds, kWh.
    #[must_use]
    pub fn energy_bounds(&self) -> (f64, f64) {
        (
            self.soc_min * self.capacity_kwh,
            self.soc_max * self.capacity_kwh,
        )
    }
}

/// A problem that does not make sense, with the field that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ProblemError {
    /// Path of the field, e.g. `sites[2].batteries[0].soc_min`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> ProblemError {
    ProblemError {
        field: field.into(),
        message: message.into(),
    }
}

fn finite(field: &str, x: f64) -> Result<(), ProblemError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(err(field, format!("{x} is not a finite number")))
    }
}

/// `field` names the series; it is formatted only for an error (100,000 batteries are
/// checked on every plan).
fn series(field: impl Fn() -> String, v: &[f64], len: usize) -> Result<(), ProblemError> {
    if v.len() != len {
        return Err(err(
            field(),
            format!("has {} values, horizon_steps is {len}", v.len()),
        ));
    }
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => finite(&format!("{}[{i}]", field()), v[i]),
        None => Ok(()),
    }
}

/// A site's path in messages (`sites[3]`), formatted only when a message is made: validation
/// runs on every plan, and 100,000 batteries make many paths.
struct SitePath(usize);

impl std::fmt::Display for SitePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sites[{}]", self.0)
    }
}

/// A battery's path in messages (`sites[3].batteries[1]`).
struct BatteryPath(usize, usize);

impl std::fmt::Display for BatteryPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sites[{}].batteries[{}]", self.0, self.1)
    }
}

fn limit(field: impl Fn() -> String, x: Option<f64>) -> Result<(), ProblemError> {
    match x {
        Some(x) if !(x.is_finite() && x >= 0.0) => {
            Err(err(field(), format!("{x} is not a limit (a number ≥ 0)")))
        }
        _ => Ok(()),
    }
}

impl DispatchProblem {
    /// Interval length, hours.
    #[must_use]
    pub fn dt_hours(&self) -> f64 {
        self.step_minutes / 60.0
    }

    /// The price of a unit of slack, € per kWh of violation.
    #[must_use]
    pub fn slack_price(&self) -> f64 {
        let dearest = self
            .import_price_eur_per_kwh
            .iter()
            .chain(&self.export_price_eur_per_kwh)
            .fold(0.0_f64, |m, p| m.max(p.abs()));
        let base = self.slack_price_eur_per_kwh.unwrap_or(10.0);
        base.max(10.0 * (dearest + self.peak_charge_eur_per_kw))
    }

    /// The price of missing a terminal target, € per kWh.
    #[must_use]
    pub fn terminal_price(&self) -> f64 {
        self.terminal_price_eur_per_kwh
            .unwrap_or_else(|| self.slack_price())
    }

    /// Every battery with its site index.
    pub fn batteries(&self) -> impl Iterator<Item = (usize, &Battery)> {
        self.sites
            .iter()
            .enumerate()
            .flat_map(|(s, site)| site.batteries.iter().map(move |b| (s, b)))
    }

    /// Index of each site's feeder in `feeders`.
    #[must_use]
    pub fn site_feeders(&self) -> Vec<Option<usize>> {
        let index = self.feeder_index();
        self.sites
            .iter()
            .map(|s| {
                s.feeder
                    .as_ref()
                    .and_then(|f| index.get(f.as_str()).copied())
            })
            .collect()
    }

    /// Each feeder's index in `feeders` by id (the first, should one repeat).
    fn feeder_index(&self) -> HashMap<&str, usize> {
        let mut index = HashMap::with_capacity(self.feeders.len());
        for (i, f) in self.feeders.iter().enumerate() {
            index.entry(f.id.as_str()).or_insert(i);
        }
        index
    }

    /// Checks every field; the first problem found is returned with its path.
    pub fn validate(&self) -> Result<(), ProblemError> {
        let t = self.horizon_steps;
        if !(self.step_minutes.is_finite() && self.step_minutes > 0.0) {
            return Err(err("step_minutes", "must be a positive number"));
        }
        if t == 0 {
            return Err(err("horizon_steps", "must be at least 1"));
        }
        series(
            || "import_price_eur_per_kwh".into(),
            &self.import_price_eur_per_kwh,
            t,
        )?;
        series(
            || "export_price_eur_per_kwh".into(),
            &self.export_price_eur_per_kwh,
            t,
        )?;
        for (i, (imp, exp)) in self
            .import_price_eur_per_kwh
            .iter()
            .zip(&self.export_price_eur_per_kwh)
            .enumerate()
        {
            if exp > imp {
                return Err(err(
                    format!("export_price_eur_per_kwh[{i}]"),
                    format!(
                        "{exp} exceeds the import price {imp}: a linear model would import and \
                         export at once"
                    ),
                ));
            }
        }
        finite("peak_charge_eur_per_kw", self.peak_charge_eur_per_kw)?;
        if self.peak_charge_eur_per_kw < 0.0 {
            return Err(err("peak_charge_eur_per_kw", "must not be negative"));
        }
        if !(self.site_peak_charge_eur_per_kw.is_finite()
            && self.site_peak_charge_eur_per_kw >= 0.0)
        {
            return Err(err("site_peak_charge_eur_per_kw", "must be a number ≥ 0"));
        }
        if let Some(share) = self.site_peak_period_share
            && !(0.0..=1.0).contains(&share)
        {
            return Err(err("site_peak_period_share", "must be in [0, 1]"));
        }
        if !(self.wear_cost_eur_per_kwh.is_finite() && self.wear_cost_eur_per_kwh >= 0.0) {
            return Err(err("wear_cost_eur_per_kwh", "must be a number ≥ 0"));
        }
        if let Some(p) = self.slack_price_eur_per_kwh
            && !(p.is_finite() && p > 0.0)
        {
            return Err(err("slack_price_eur_per_kwh", "must be a positive number"));
        }
        if let Some(p) = self.terminal_price_eur_per_kwh
            && !(p.is_finite() && p >= 0.0)
        {
            return Err(err("terminal_price_eur_per_kwh", "must be a number ≥ 0"));
        }
        limit(|| "root_import_limit_kw".into(), self.root_import_limit_kw)?;
        limit(|| "root_export_limit_kw".into(), self.root_export_limit_kw)?;
        let index = self.feeder_index();
        for (i, f) in self.feeders.iter().enumerate() {
            if index[f.id.as_str()] != i {
                return Err(err(
                    format!("feeders[{i}].id"),
                    format!("{:?} repeats", f.id),
                ));
            }
            limit(
                || format!("feeders[{i}].import_limit_kw"),
                f.import_limit_kw,
            )?;
            limit(
                || format!("feeders[{i}].export_limit_kw"),
                f.export_limit_kw,
            )?;
        }
        if self.sites.is_empty() {
            return Err(err("sites", "must name at least one site"));
        }
        let mut ids = std::collections::HashSet::new();
        for (s, site) in self.sites.iter().enumerate() {
            let at = SitePath(s);
            if let Some(f) = &site.feeder
                && !index.contains_key(f.as_str())
            {
                return Err(err(
                    format!("{at}.feeder"),
                    format!("{f:?} is not in feeders"),
                ));
            }
            series(|| format!("{at}.net_load_kw"), &site.net_load_kw, t)?;
            limit(|| format!("{at}.import_limit_kw"), site.import_limit_kw)?;
            limit(|| format!("{at}.export_limit_kw"), site.export_limit_kw)?;
            limit(|| format!("{at}.peak_so_far_kw"), site.peak_so_far_kw)?;
            for (k, b) in site.batteries.iter().enumerate() {
                let at = BatteryPath(s, k);
                if !ids.insert(b.id.as_str()) {
                    return Err(err(format!("{at}.id"), format!("{:?} repeats", b.id)));
                }
                b.validate(&at)?;
            }
        }
        Ok(())
    }
}

impl Battery {
    fn validate(&self, at: &BatteryPath) -> Result<(), ProblemError> {
        let positive = |name: &str, x: f64| {
            if x.is_finite() && x > 0.0 {
                Ok(())
            } else {
                Err(err(format!("{at}.{name}"), format!("{x} must be > 0")))
            }
        };
        positive("capacity_kwh", self.capacity_kwh)?;
        positive("max_power_kw", self.max_power_kw)?;
        for (name, x) in [
            ("charge_efficiency", self.charge_efficiency),
            ("discharge_efficiency", self.discharge_efficiency),
        ] {
            if !(x.is_finite() && x > 0.0 && x <= 1.0) {
                return Err(err(format!("{at}.{name}"), format!("{x} is not in (0, 1]")));
            }
        }
        let fraction = |name: &str, x: f64| {
            if x.is_finite() && (0.0..=1.0).contains(&x) {
                Ok(())
            } else {
                Err(err(format!("{at}.{name}"), format!("{x} is not in [0, 1]")))
            }
        };
        fraction("soc_min", self.soc_min)?;
        fraction("soc_max", self.soc_max)?;
        fraction("soc_initial", self.soc_initial)?;
        if self.soc_min > self.soc_max {
            return Err(err(
                format!("{at}.soc_min"),
                format!("{} is above soc_max {}", self.soc_min, self.soc_max),
            ));
        }
        if !(self.soc_min..=self.soc_max).contains(&self.soc_initial) {
            return Err(err(
                format!("{at}.soc_initial"),
                format!(
                    "{} is outside [soc_min, soc_max] = [{}, {}]",
                    self.soc_initial, self.soc_min, self.soc_max
                ),
            ));
        }
        if let Some(f) = self.soc_final {
            fraction("soc_final", f)?;
            if !(self.soc_min..=self.soc_max).contains(&f) {
                return Err(err(
                    format!("{at}.soc_final"),
                    format!(
                        "{f} is outside [soc_min, soc_max] = [{}, {}]",
                        self.soc_min, self.soc_max
                    ),
                ));
            }
        }
        Ok(())
    }
}
