//! The dispatcher's core: one receding-horizon step. From what is known now (the batteries that
//! respond, with their state of charge and ratings; the others' measured power; site load
//! forecasts; prices; the operators' peak targets) it builds a dispatch problem, plans it, and
//! turns the plan's first interval into setpoints.
//!
//! The adapter (`api::dispatch_service`) calls [`step`] every interval and on events (an asset
//! lost, a target changed, a setpoint refused or not followed), sends the setpoints with a
//! validity equal to the devices' revert time, and watches acks and measured response.
//!
//! Safety: a setpoint never exceeds its battery's ratings. The planner's ratings are chosen so
//! that both grid-side limits hold (`max_power = min(charge · η_c, discharge / η_d)`), and
//! every setpoint is clamped to `[−max_charge, max_discharge]` again before it leaves.
//!
//! Peak targets are import caps on a node: the fleet root (soft root import limit), a feeder
//! (feeder import limit) or a site (site import limit). Targets on regions and substations are
//! refused (the problem format has no such level).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vpp_domain::{AssetPath, Level, NodePath};

use vpp_optimiser::lp::LpSolver;
use vpp_optimiser::problem::{Battery, DispatchProblem, Feeder, Site};
use vpp_optimiser::{self as plan, Plan, PlanError};

/// A battery that can be dispatched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dispatchable {
    /// The asset.
    pub asset: AssetPath,
    /// Rated energy, kWh.
    pub capacity_kwh: f64,
    /// Grid-side charge rating, kW.
    pub max_charge_kw: f64,
    /// Grid-side discharge rating, kW.
    pub max_discharge_kw: f64,
    /// Lowest state of charge to plan with (the reserve, if higher than the minimum).
    pub soc_min: f64,
    /// Highest state of charge.
    pub soc_max: f64,
    /// Measured state of charge.
    pub soc: f64,
    /// One-way efficiency assumed for charge and discharge.
    pub efficiency: f64,
}

/// An asset that does not respond (offline, refusing, not following). It counts at its site
/// at its last measured power for as long as its stored energy could sustain that power (the
/// energy above its floor when it discharges, the room below its ceiling when it charges),
/// then as idle: a battery's power is not extrapolated beyond what it holds. Over the whole
/// horizon when its energy is unknown.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresponsive {
    /// The asset.
    pub asset: AssetPath,
    /// Last measured power, kW (positive = discharge).
    pub power_kw: f64,
    /// Energy it can still deliver (discharging) or take (charging), kWh; `None`: unknown.
    pub energy_kwh: Option<f64>,
}

impl Unresponsive {
    /// Its power in each of `t_len` intervals of `dt_h` hours.
    #[must_use]
    pub fn powers(&self, t_len: usize, dt_h: f64) -> Vec<f64> {
        let mut left = self.energy_kwh.map(|e| e.max(0.0));
        (0..t_len)
            .map(|_| match left.as_mut() {
                None => self.power_kw,
                Some(e) => {
                    let kw = (*e / dt_h).min(self.power_kw.abs());
                    *e -= kw * dt_h;
                    kw.copysign(self.power_kw)
                }
            })
            .collect()
    }
}

/// What the dispatcher knows at one step.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    /// Now (the plan's issue time).
    pub now: DateTime<Utc>,
    /// Interval length.
    pub step: TimeDelta,
    /// Intervals planned.
    pub horizon_steps: usize,
    /// Batteries that respond.
    pub batteries: &'a [Dispatchable],
    /// Assets that do not respond (offline, refusing, not following): they count as load at
    /// their site.
    pub unresponsive: &'a [Unresponsive],
    /// Forecast load minus PV per site over the horizon, kW, without any battery.
    pub site_load_kw: &'a BTreeMap<NodePath, Vec<f64>>,
    /// Import price per interval, €/kWh.
    pub import_price: &'a [f64],
    /// Export price per interval, €/kWh.
    pub export_price: &'a [f64],
    /// Peak charge on the root import, €/kW.
    pub peak_charge: f64,
    /// Peak charge on each site's import, €/kW.
    pub site_peak_charge: f64,
    /// Share of it billed on the billing period's peak (above [`Self::site_peak_so_far`]); the
    /// rest on each horizon's own peak.
    pub site_peak_period_share: f64,
    /// Import caps per node, kW.
    pub peak_targets: &'a BTreeMap<NodePath, f64>,
    /// Each site's highest metered net import in the billing period so far, kW (negative where
    /// it only exported, planned as zero): the site peak charge applies above it only.
    pub site_peak_so_far: &'a BTreeMap<NodePath, f64>,
}

/// One setpoint of the current interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedSetpoint {
    /// The asset.
    pub asset: AssetPath,
    /// Power, kW (positive = discharge), within the battery's ratings.
    pub power_kw: f64,
}

/// A receding-horizon step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepPlan {
    /// When it was made.
    pub issued_at: DateTime<Utc>,
    /// Start of its first interval.
    pub start: DateTime<Utc>,
    /// Interval length, seconds.
    pub step_s: i64,
    /// Setpoints for the first interval.
    pub setpoints: Vec<PlannedSetpoint>,
    /// Planned import per site over the horizon, kW.
    pub site_import_kw: BTreeMap<String, Vec<f64>>,
    /// Planned flow per feeder over the horizon, kW.
    pub feeder_flow_kw: BTreeMap<String, Vec<f64>>,
    /// Each site's peak so far in the billing period the plan was billed on, kW (zero for a
    /// site that only exported).
    pub site_peak_so_far_kw: BTreeMap<String, f64>,
    /// The whole plan (schedules keyed by asset path).
    pub plan: Plan,
}

/// Why a step could not be planned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DispatchError {
    /// A target on a level the planner has no limit for.
    #[error("peak targets can be set on the fleet, a feeder or a site, not on {0:?}")]
    TargetLevel(String),
    /// A peak target that is not a number.
    #[error("a peak target must be a finite number of kW, got {0}")]
    TargetValue(f64),
    /// The price feed knows no prices for the horizon.
    #[error("no prices for the horizon starting at {0}")]
    Prices(DateTime<Utc>),
    /// A site without a load forecast of the horizon's length.
    #[error("site {0} has no load forecast of {1} intervals")]
    Forecast(String, usize),
    /// No forecast could be made.
    #[error("no forecast: {0}")]
    Forecaster(String),
    /// The planner failed.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Whether `node` can carry a peak target.
pub fn check_target(node: &NodePath) -> Result<(), DispatchError> {
    match node.level() {
        Level::Fleet | Level::Feeder | Level::Site => Ok(()),
        _ => Err(DispatchError::TargetLevel(node.to_string())),
    }
}

/// The battery of the problem for `d`: ratings chosen so that the grid-side limits hold.
fn battery(d: &Dispatchable) -> Battery {
    let eff = d.efficiency.clamp(0.5, 1.0);
    let soc_min = d.soc_min.clamp(0.0, 1.0);
    let soc_max = d.soc_max.clamp(soc_min, 1.0);
    let soc = d.soc.clamp(soc_min, soc_max);
    Battery {
        id: d.asset.as_str().to_owned(),
        capacity_kwh: d.capacity_kwh.max(1e-3),
        max_power_kw: (d.max_charge_kw * eff)
            .min(d.max_discharge_kw / eff)
            .max(1e-6),
        charge_efficiency: eff,
        discharge_efficiency: eff,
        soc_min,
        soc_max,
        soc_initial: soc,
        // Back to the middle by the end of the horizon: the plan leaves energy for the next.
        soc_final: Some(0.5 * (soc_min + soc_max)),
    }
}

/// Builds the problem of a situation.
pub fn problem(s: &Situation<'_>) -> Result<DispatchProblem, DispatchError> {
    let t_len = s.horizon_steps;
    for node in s.peak_targets.keys() {
        check_target(node)?;
    }
    // Sites: every site with a forecast or a battery.
    let mut sites: BTreeMap<NodePath, Site> = BTreeMap::new();
    let site_of = |a: &AssetPath| a.ancestor(Level::Site);
    let ensure =
        |node: &NodePath, sites: &mut BTreeMap<NodePath, Site>| -> Result<(), DispatchError> {
            if !sites.contains_key(node) {
                let load = s
                    .site_load_kw
                    .get(node)
                    .cloned()
                    .unwrap_or_else(|| vec![0.0; t_len]);
                if load.len() < t_len {
                    return Err(DispatchError::Forecast(node.to_string(), t_len));
                }
                let feeder = node.parent().map(|f| f.to_string());
                sites.insert(
                    node.clone(),
                    Site {
                        id: node.to_string(),
                        feeder,
                        net_load_kw: load[..t_len].to_vec(),
                        import_limit_kw: s.peak_targets.get(node).copied(),
                        export_limit_kw: None,
                        // A site that only exported so far has imported nothing: its peak
                        // so far is zero, not negative (which the problem refuses).
                        peak_so_far_kw: s.site_peak_so_far.get(node).map(|kw| kw.max(0.0)),
                        batteries: vec![],
                    },
                );
            }
            Ok(())
        };
    for node in s.site_load_kw.keys() {
        if node.level() == Level::Site {
            ensure(node, &mut sites)?;
        }
    }
    for d in s.batteries {
        let node = site_of(&d.asset);
        ensure(&node, &mut sites)?;
        if let Some(site) = sites.get_mut(&node) {
            site.batteries.push(battery(d));
        }
    }
    let dt_h = s.step.num_seconds() as f64 / 3600.0;
    for u in s.unresponsive {
        let node = site_of(&u.asset);
        ensure(&node, &mut sites)?;
        if let Some(site) = sites.get_mut(&node) {
            for (x, p) in site.net_load_kw.iter_mut().zip(u.powers(t_len, dt_h)) {
                *x -= p;
            }
        }
    }
    let feeders: BTreeMap<String, Feeder> = sites
        .values()
        .filter_map(|site| site.feeder.clone())
        .map(|id| {
            let limit = id
                .parse::<NodePath>()
                .ok()
                .and_then(|n| s.peak_targets.get(&n).copied());
            (
                id.clone(),
                Feeder {
                    id,
                    import_limit_kw: limit,
                    export_limit_kw: None,
                },
            )
        })
        .collect();
    let take = |v: &[f64]| {
        let mut out: Vec<f64> = v.iter().take(t_len).copied().collect();
        out.resize(t_len, out.last().copied().unwrap_or(0.0));
        out
    };
    let import = take(s.import_price);
    let export: Vec<f64> = take(s.export_price)
        .iter()
        .zip(&import)
        .map(|(e, i)| e.min(*i))
        .collect();
    let dearest = import.iter().fold(0.0_f64, |m, p| m.max(*p));
    Ok(DispatchProblem {
        step_minutes: s.step.num_seconds() as f64 / 60.0,
        horizon_steps: t_len,
        import_price_eur_per_kwh: import,
        export_price_eur_per_kwh: export,
        peak_charge_eur_per_kw: s.peak_charge,
        site_peak_charge_eur_per_kw: s.site_peak_charge,
        site_peak_period_share: Some(s.site_peak_period_share),
        wear_cost_eur_per_kwh: 0.005,
        slack_price_eur_per_kwh: None,
        // Energy left at the end is worth twice the dearest import: grid limits win over it.
        terminal_price_eur_per_kwh: Some(2.0 * dearest),
        root_import_limit_kw: s.peak_targets.get(&NodePath::root()).copied(),
        root_export_limit_kw: None,
        feeders: feeders.into_values().collect(),
        sites: sites.into_values().collect(),
    })
}

/// Plans a situation and gives the setpoints of its first interval.
pub fn step(s: &Situation<'_>, solver: &dyn LpSolver) -> Result<StepPlan, DispatchError> {
    let p = problem(s)?;
    let plan = if p.batteries().count() > 200 {
        plan::hierarchy::solve(&p, solver)?
    } else {
        plan::monolithic(&p, solver)?
    };
    let setpoints = s
        .batteries
        .iter()
        .filter_map(|d| {
            let sch = plan.batteries.get(d.asset.as_str())?;
            let power = sch.discharge_kw[0] - sch.charge_kw[0];
            Some(PlannedSetpoint {
                asset: d.asset.clone(),
                power_kw: power.clamp(-d.max_charge_kw, d.max_discharge_kw),
            })
        })
        .collect();
    let flows = plan::flows(&p, &plan.batteries);
    let site_import_kw = p
        .sites
        .iter()
        .map(|site| site.id.clone())
        .zip(flows.site)
        .collect();
    let feeder_flow_kw = p
        .feeders
        .iter()
        .map(|f| f.id.clone())
        .zip(flows.feeder)
        .collect();
    let site_peak_so_far_kw = p
        .sites
        .iter()
        .filter_map(|site| Some((site.id.clone(), site.peak_so_far_kw?)))
        .collect();
    let step_s = s.step.num_seconds().max(1);
    let start =
        DateTime::from_timestamp(s.now.timestamp().div_euclid(step_s) * step_s, 0).unwrap_or(s.now);
    Ok(StepPlan {
        issued_at: s.now,
        start,
        step_s,
        setpoints,
        site_import_kw,
        feeder_flow_kw,
        site_peak_so_far_kw,
        plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpp_optimiser::lp::Clarabel;

    fn asset(site: &str, name: &str) -> AssetPath {
        format!("r1/s1/f1/{site}/{name}").parse().unwrap()
    }

    fn battery_at(a: AssetPath, soc: f64) -> Dispatchable {
        Dispatchable {
            asset: a,
            capacity_kwh: 10.0,
            max_charge_kw: 5.0,
            max_discharge_kw: 5.0,
            soc_min: 0.1,
            soc_max: 0.9,
            soc,
            efficiency: 0.95,
        }
    }

    fn situation<'a>(
        batteries: &'a [Dispatchable],
        unresponsive: &'a [Unresponsive],
        loads: &'a BTreeMap<NodePath, Vec<f64>>,
        prices: &'a [f64],
        targets: &'a BTreeMap<NodePath, f64>,
    ) -> Situation<'a> {
        Situation {
            now: DateTime::from_timestamp(1_750_000_000, 0).unwrap(),
            step: TimeDelta::minutes(15),
            horizon_steps: 4,
            batteries,
            unresponsive,
            site_load_kw: loads,
            import_price: prices,
            export_price: prices,
            peak_charge: 0.0,
            site_peak_charge: 0.0,
            site_peak_period_share: 1.0,
            peak_targets: targets,
            site_peak_so_far: &NO_PEAKS,
        }
    }

    static NO_PEAKS: BTreeMap<NodePath, f64> = BTreeMap::new();

    #[test]
    fn a_site_that_only_exported_so_far_is_planned_with_a_zero_peak() {
        // Regression: the metered peak of a site that exported over every interval so far is
        // negative; the problem refused it and the service planned nothing for 15 simulated
        // minutes of the closed loop.
        let site: NodePath = "r1/s1/f1/a".parse().unwrap();
        let loads = BTreeMap::from([(site.clone(), vec![1.0; 4])]);
        let prices = [0.2; 4];
        let all = [battery_at(asset("a", "x"), 0.5)];
        let peaks = BTreeMap::from([(site.clone(), -0.4)]);
        let targets = BTreeMap::new();
        let mut s = situation(&all, &[], &loads, &prices, &targets);
        s.site_peak_charge = 10.0;
        s.site_peak_so_far = &peaks;
        let p = problem(&s).unwrap();
        assert_eq!(p.sites[0].peak_so_far_kw, Some(0.0));
        let plan = step(&s, &Clarabel).unwrap();
        assert_eq!(plan.setpoints.len(), 1);
        assert_eq!(plan.site_peak_so_far_kw.get(&site.to_string()), Some(&0.0));
    }

    #[test]
    fn a_feeder_target_is_met_by_discharging_within_ratings_and_a_lost_battery_is_covered() {
        let site_a: NodePath = "r1/s1/f1/a".parse().unwrap();
        let site_b: NodePath = "r1/s1/f1/b".parse().unwrap();
        let feeder: NodePath = "r1/s1/f1".parse().unwrap();
        let loads = BTreeMap::from([(site_a, vec![6.0; 8]), (site_b, vec![6.0; 8])]);
        let targets = BTreeMap::from([(feeder, 6.0)]);
        let prices = [0.2; 8];
        let all = [
            battery_at(asset("a", "x"), 0.8),
            battery_at(asset("b", "y"), 0.8),
        ];
        let plan = step(&situation(&all, &[], &loads, &prices, &targets), &Clarabel).unwrap();
        let total: f64 = plan.setpoints.iter().map(|s| s.power_kw).sum();
        assert!(
            total >= 6.0 - 1e-6,
            "12 kW of load under a 6 kW cap: {total}"
        );
        assert!(plan.setpoints.iter().all(|s| s.power_kw <= 5.0 + 1e-9));
        // y stops responding (it now sits at 0 kW): x takes what it can, up to its rating.
        let lost = [Unresponsive {
            asset: asset("b", "y"),
            power_kw: 0.0,
            energy_kwh: None,
        }];
        let plan = step(
            &situation(&all[..1], &lost, &loads, &prices, &targets),
            &Clarabel,
        )
        .unwrap();
        assert_eq!(plan.setpoints.len(), 1);
        let x = plan.setpoints[0].power_kw;
        assert!(x > 4.0 && x <= 5.0 + 1e-9, "{x}");
        assert!(
            plan.plan
                .slacks
                .iter()
                .any(|s| s.limit.starts_with("feeder"))
        );
    }

    /// An unresponsive battery counts at its measured power while its energy lasts, then as
    /// idle; over the whole horizon when its energy is unknown.
    #[test]
    fn an_unresponsive_battery_counts_only_while_its_energy_lasts() {
        let site: NodePath = "r1/s1/f1/a".parse().unwrap();
        let loads = BTreeMap::from([(site, vec![6.0; 4])]);
        let targets = BTreeMap::new();
        let prices = [0.2; 4];
        let load_of = |u: Unresponsive| {
            let lost = [u];
            let p = problem(&situation(&[], &lost, &loads, &prices, &targets)).unwrap();
            p.sites[0].net_load_kw.clone()
        };
        // 4 kW of discharge and 1.5 kWh above its floor, quarter-hours: 1 kWh, then 0.5 kWh.
        let discharging = Unresponsive {
            asset: asset("a", "x"),
            power_kw: 4.0,
            energy_kwh: Some(1.5),
        };
        assert_eq!(load_of(discharging.clone()), vec![2.0, 4.0, 6.0, 6.0]);
        // Charging at 2 kW with room for 10 kWh: the whole horizon.
        let charging = Unresponsive {
            power_kw: -2.0,
            energy_kwh: Some(10.0),
            ..discharging.clone()
        };
        assert_eq!(load_of(charging), vec![8.0; 4]);
        let unknown = Unresponsive {
            energy_kwh: None,
            ..discharging
        };
        assert_eq!(load_of(unknown), vec![2.0; 4]);
    }

    #[test]
    fn targets_on_regions_are_refused() {
        let loads = BTreeMap::new();
        let targets = BTreeMap::from([("r1".parse::<NodePath>().unwrap(), 6.0)]);
        let e = problem(&situation(&[], &[], &loads, &[0.1; 8], &targets)).unwrap_err();
        assert!(matches!(e, DispatchError::TargetLevel(_)));
    }
}
