//! The dispatcher as a state machine: when to re-plan, what to plan with, which setpoints to
//! send. A shell (`api::dispatch_service`, or a scenario's virtual clock) feeds it events and
//! ticks; it answers with commands. It reads no clock: "now" comes with every call, so the
//! same sequence of calls gives the same commands.
//!
//! - [`DispatchLoop::on_tick`]: looks at the fleet (twins and site meters, a [`FleetView`]),
//!   turns meter readings into interval averages, and plans when it is due: a new interval, a
//!   changed target, a change in which batteries answer, a refused setpoint, or a battery off
//!   its setpoint by more than 1 kW and 30 % half an interval after it was sent.
//! - [`DispatchLoop::on_ack`], [`DispatchLoop::on_guard`], [`DispatchLoop::set_target`],
//!   [`DispatchLoop::on_meter_history`]: what the bus and the operators say.
//!
//! What a site imports is what its meter says: each site's billing-period peak and the
//! observations its net-load forecast is fitted on (metered import plus its batteries'
//! metered power, interval by interval) come from meters and battery twins only. A site
//! without a meter is planned with a net load of zero (its batteries trade on prices alone,
//! no peak is billed for it) and listed as unmetered in the plan. A battery that does not
//! respond is planned around at its measured power for as long as its energy lasts; one that
//! stopped answering counts at zero once its last setpoint has reverted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vpp_domain::{AssetPath, Kilowatts, Level, NodePath};
use vpp_fleet::twin::Status;
use vpp_forecasting::source::{ForecastSource, Observations, Quantity, SeriesKey};
use vpp_optimiser::SlackUse;
use vpp_optimiser::lp::LpSolver;

use crate::dispatcher::{self, DispatchError, Dispatchable, Situation, StepPlan, Unresponsive};
use crate::metering::Integrator;
use crate::ports::{BatteryView, FleetView, NetLoadOracle, PriceFeed, SetpointCommand};

/// How the loop plans.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Interval.
    pub step: TimeDelta,
    /// Intervals planned.
    pub horizon_steps: usize,
    /// Peak charge on the fleet import, €/kW.
    pub peak_charge: f64,
    /// Peak charge on each site's import, €/kW.
    pub site_peak_charge: f64,
    /// Share of it billed on the billing period's peak (the highest metered interval import
    /// since the first plan): importing up to that peak again costs only the rest.
    pub site_peak_period_share: f64,
    /// Days of metered history the net-load forecasts are fitted on.
    pub window_days: usize,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            step: TimeDelta::minutes(15),
            horizon_steps: 32,
            peak_charge: 2.0,
            // Peak shaving first: a site's peak costs more than a day's arbitrage earns.
            site_peak_charge: 10.0,
            // A demand charge bills the period's peak: importing up to a peak already metered
            // (to recharge for the next spike, say) costs nothing more.
            site_peak_period_share: 1.0,
            window_days: 28,
        }
    }
}

/// A series per site, kW per interval.
pub type SiteSeries = BTreeMap<NodePath, Vec<f64>>;

/// The plan seen from one node, as `GET /api/v1/nodes/{path}/plan` serves it.
#[derive(Debug, Clone, Serialize)]
pub struct NodePlan {
    /// The node.
    pub node: String,
    /// Its peak target, kW.
    pub peak_target_kw: Option<f64>,
    /// When the plan was made.
    pub issued_at: DateTime<Utc>,
    /// Start of its first interval.
    pub start: DateTime<Utc>,
    /// Interval, seconds.
    pub step_s: i64,
    /// Plans made so far.
    pub plans: u64,
    /// Setpoints in force under the node (kW, positive = discharge).
    pub setpoints: BTreeMap<String, f64>,
    /// What the plan knew of the future: `forecast` (from each site's metered past) or
    /// `perfect` (a reference run's oracle).
    pub foresight: &'static str,
    /// The net load (load − PV, without batteries) the plan assumed per site under the node,
    /// kW per interval.
    pub site_net_load_kw: BTreeMap<String, Vec<f64>>,
    /// Sites under the node with batteries but no site meter: planned with a net load of zero
    /// and no peak billed.
    pub unmetered_sites: Vec<String>,
    /// Planned import per site under the node, kW per interval.
    pub site_import_kw: BTreeMap<String, Vec<f64>>,
    /// Each site's highest metered interval import in the billing period so far (from the
    /// first whole interval after the first plan to the plan's start; zero for a site that
    /// only exported), kW: the site peak charge's period share bills import above it only.
    pub site_peak_so_far_kw: BTreeMap<String, f64>,
    /// Planned flow per feeder under (or containing) the node, kW per interval.
    pub feeder_flow_kw: BTreeMap<String, Vec<f64>>,
    /// Planned battery schedules under the node: discharge minus charge, kW per interval.
    pub battery_power_kw: BTreeMap<String, Vec<f64>>,
    /// Batteries planned around (not responding), with their measured power.
    pub unresponsive: BTreeMap<String, f64>,
    /// Slacks the plan needs under the node (limits it cannot meet).
    pub slacks: Vec<SlackUse>,
    /// The fleet objective of the whole plan, €.
    pub objective_eur: f64,
}

/// Each site's billing-period peak, from its meter.
#[derive(Debug, Default)]
struct Peaks {
    /// The first counted interval: the first whole one after the first plan (the one the
    /// service starts in began before any setpoint was in force).
    from: Option<DateTime<Utc>>,
    /// Per site: intervals before this one are counted.
    until: BTreeMap<NodePath, DateTime<Utc>>,
    kw: BTreeMap<NodePath, f64>,
}

/// The receding-horizon dispatcher.
pub struct DispatchLoop {
    config: LoopConfig,
    prices: Arc<dyn PriceFeed>,
    oracle: Option<Arc<dyn NetLoadOracle>>,
    solver: Arc<dyn LpSolver>,
    targets: BTreeMap<NodePath, f64>,
    plan: Option<Arc<StepPlan>>,
    /// The sites' net load the plan assumed.
    assumed: Option<Arc<SiteSeries>>,
    unmetered: BTreeSet<NodePath>,
    /// Batteries planned around until the given time, with their measured power.
    unresponsive: BTreeMap<AssetPath, (DateTime<Utc>, f64)>,
    /// Setpoints in force: power and when sent.
    sent: BTreeMap<AssetPath, (f64, DateTime<Utc>)>,
    /// When each battery's last setpoint reverts: after it, a battery that no longer answers
    /// has gone back to idle on its own.
    reverts_at: BTreeMap<AssetPath, DateTime<Utc>>,
    /// The batteries the plan was made with.
    planned_with: BTreeSet<AssetPath>,
    /// Sites whose guard holds the import (`None`), or let go at the given time.
    guarded: BTreeMap<String, Option<DateTime<Utc>>>,
    /// Each battery's newest measured power, kW.
    power: BTreeMap<AssetPath, f64>,
    replan: bool,
    plans: u64,
    last_error: Option<DispatchError>,
    meters: BTreeMap<NodePath, Integrator>,
    batteries: BTreeMap<AssetPath, Integrator>,
    observations: Observations,
    /// Per site: the grid its observations start on, and intervals before this one recorded.
    recorded: BTreeMap<NodePath, DateTime<Utc>>,
    /// Each site's newest recorded interval net load, kW: the forecast where the model has
    /// nothing to go on (persistence).
    last_net: BTreeMap<NodePath, f64>,
    /// Net-load forecasts by the interval they were made for.
    forecast_cache: Option<(DateTime<Utc>, Arc<SiteSeries>)>,
    peaks: Peaks,
}

impl std::fmt::Debug for DispatchLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchLoop")
            .field("config", &self.config)
            .field("plans", &self.plans)
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// Start of the interval of `step` containing `t`.
#[must_use]
pub fn interval_start(t: DateTime<Utc>, step: TimeDelta) -> DateTime<Utc> {
    let s = step.num_seconds().max(1);
    DateTime::from_timestamp(t.timestamp().div_euclid(s) * s, 0).unwrap_or(t)
}

impl DispatchLoop {
    /// A loop planning on `prices` with `solver`; with an `oracle`, on its future net loads
    /// instead of forecasts (reference runs only).
    #[must_use]
    pub fn new(
        config: LoopConfig,
        prices: Arc<dyn PriceFeed>,
        oracle: Option<Arc<dyn NetLoadOracle>>,
        solver: Arc<dyn LpSolver>,
    ) -> Self {
        Self {
            observations: Observations::new(config.window_days),
            config,
            prices,
            oracle,
            solver,
            targets: BTreeMap::new(),
            plan: None,
            assumed: None,
            unmetered: BTreeSet::new(),
            unresponsive: BTreeMap::new(),
            sent: BTreeMap::new(),
            reverts_at: BTreeMap::new(),
            planned_with: BTreeSet::new(),
            guarded: BTreeMap::new(),
            power: BTreeMap::new(),
            replan: true,
            plans: 0,
            last_error: None,
            meters: BTreeMap::new(),
            batteries: BTreeMap::new(),
            recorded: BTreeMap::new(),
            last_net: BTreeMap::new(),
            forecast_cache: None,
            peaks: Peaks::default(),
        }
    }

    /// Sets (or, with `None`, clears) the import cap of `node`; the next tick re-plans.
    pub fn set_target(&mut self, node: NodePath, kw: Option<f64>) -> Result<(), DispatchError> {
        dispatcher::check_target(&node)?;
        if let Some(kw) = kw
            && !kw.is_finite()
        {
            return Err(DispatchError::TargetValue(kw));
        }
        match kw {
            Some(kw) => self.targets.insert(node, kw),
            None => self.targets.remove(&node),
        };
        self.replan = true;
        Ok(())
    }

    /// A gateway's answer to a setpoint: one it did not write (refused, rejected, expired)
    /// puts the battery aside until the end of the interval.
    pub fn on_ack(&mut self, asset: &AssetPath, written: bool, now: DateTime<Utc>) {
        if !written {
            let power = self.power.get(asset).copied().unwrap_or(0.0);
            self.mark_unresponsive(asset, power, now);
        }
    }

    /// A site's guard engaged (`true`) or let go (`false`) at `at`.
    pub fn on_guard(&mut self, site: &str, engaged: bool, at: DateTime<Utc>) {
        self.guarded
            .insert(site.to_owned(), if engaged { None } else { Some(at) });
    }

    /// A site meter's interval data from before this process watched it (a meter data
    /// service's history): average import per interval of `step` from `start`, kW (`None`:
    /// missing). Before the VPP dispatched, the site's batteries did not run, so these are the
    /// site's net loads; they feed its forecasts, not its billing-period peak.
    pub fn on_meter_history(
        &mut self,
        site: &NodePath,
        start: DateTime<Utc>,
        step: TimeDelta,
        import_kw: &[Option<f64>],
    ) -> Result<(), DispatchError> {
        if step != self.config.step {
            return Err(DispatchError::Forecaster(format!(
                "meter history of {site} is at {} s, the dispatcher plans at {} s",
                step.num_seconds(),
                self.config.step.num_seconds()
            )));
        }
        let key = self.declare(site, start)?;
        for (k, v) in import_kw.iter().enumerate() {
            let t = start + step * k as i32;
            self.observations
                .record(&key, t, v.unwrap_or(f64::NAN))
                .map_err(forecast_error)?;
        }
        if let Some(v) = import_kw
            .iter()
            .rev()
            .find_map(|v| v.filter(|x| x.is_finite()))
        {
            self.last_net.insert(site.clone(), v);
        }
        self.forecast_cache = None;
        self.replan = true;
        Ok(())
    }

    /// Declares `site`'s net-load series on a grid from `from` (once).
    fn declare(
        &mut self,
        site: &NodePath,
        from: DateTime<Utc>,
    ) -> Result<SeriesKey, DispatchError> {
        let key = SeriesKey::new(Quantity::Load, site.to_string());
        if !self.recorded.contains_key(site) {
            let from = interval_start(from, self.config.step);
            self.observations
                .declare(key.clone(), from, self.config.step, 0)
                .map_err(forecast_error)?;
            self.recorded.insert(site.clone(), from);
        }
        Ok(key)
    }

    /// One tick: reads the fleet, and plans when due. The commands to send (none when no plan
    /// was due); an error when a due plan failed (the loop tries again on the next tick).
    pub fn on_tick(
        &mut self,
        now: DateTime<Utc>,
        view: &FleetView,
    ) -> Result<Vec<SetpointCommand>, DispatchError> {
        self.observe(view);
        if !self.due(now, view) {
            return Ok(Vec::new());
        }
        match self.plan_now(now, view) {
            Ok(commands) => {
                self.last_error = None;
                Ok(commands)
            }
            Err(e) => {
                self.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Takes the newest readings into the meters' and batteries' integrators.
    fn observe(&mut self, view: &FleetView) {
        let (step, gap) = (self.config.step, self.config.step);
        for m in &view.meters {
            let Some(at) = m.measured_at else { continue };
            // SunSpec serves 0 for a counter that has counted nothing, which arrives as null:
            // with one counter known, the other is zero.
            let counter = match (m.imported_kwh, m.exported_kwh) {
                (None, None) => None,
                (i, e) => Some(i.unwrap_or(0.0) - e.unwrap_or(0.0)),
            };
            self.meters
                .entry(m.site.clone())
                .or_insert_with(|| Integrator::new(step, gap))
                .push(at, counter, m.import_kw);
        }
        for b in &view.batteries {
            if let Some(p) = b.power_kw {
                self.power.insert(b.asset.clone(), p);
            }
            let Some(at) = b.measured_at else { continue };
            let counter = match (b.energy_injected_kwh, b.energy_absorbed_kwh) {
                (Some(i), Some(a)) => Some(i - a),
                _ => None,
            };
            self.batteries
                .entry(b.asset.clone())
                .or_insert_with(|| Integrator::new(step, gap))
                .push(at, counter, b.power_kw);
        }
    }

    /// The batteries that can be dispatched now.
    fn online(view: &FleetView) -> Vec<Dispatchable> {
        view.batteries
            .iter()
            .filter(|b| b.status == Status::Online)
            .filter_map(|b| {
                let r = b.ratings?;
                Some(Dispatchable {
                    asset: b.asset.clone(),
                    capacity_kwh: r.capacity_kwh,
                    max_charge_kw: r.max_charge_kw,
                    max_discharge_kw: r.max_discharge_kw,
                    soc_min: r.soc_floor,
                    soc_max: r.soc_ceiling,
                    soc: b.soc?,
                    efficiency: 0.95,
                })
            })
            .collect()
    }

    fn mark_unresponsive(&mut self, asset: &AssetPath, power: f64, now: DateTime<Utc>) {
        let until = interval_start(now, self.config.step) + self.config.step;
        self.unresponsive.insert(asset.clone(), (until, power));
        self.sent.remove(asset);
        self.replan = true;
    }

    /// Whether to plan now: a new interval, an event, a change in who is online, or a battery
    /// that does not follow.
    fn due(&mut self, now: DateTime<Utc>, view: &FleetView) -> bool {
        self.unresponsive.retain(|_, (until, _)| *until > now);
        if self.replan {
            return true;
        }
        let Some(plan) = &self.plan else {
            return true;
        };
        if now >= plan.start + TimeDelta::seconds(plan.step_s) {
            return true;
        }
        let available: BTreeSet<AssetPath> = Self::online(view)
            .into_iter()
            .map(|d| d.asset)
            .filter(|a| !self.unresponsive.contains_key(a))
            .collect();
        if available != self.planned_with {
            return true;
        }
        // Response: half an interval after a setpoint, the measured power should follow it (a
        // guard that holds the site's import, or let go less than two minutes ago, may have
        // raised it).
        let half = self.config.step / 2;
        let guarded = |a: &AssetPath| {
            self.guarded
                .get(&a.ancestor(Level::Site).to_string())
                .is_some_and(|g| g.is_none_or(|at| now - at < TimeDelta::minutes(2)))
        };
        let laggards: Vec<(AssetPath, f64)> = self
            .sent
            .iter()
            .filter(|(_, (_, at))| now - *at > half)
            .filter_map(|(a, (sp, _))| {
                let p = *self.power.get(a)?;
                let off = p - sp;
                // More discharge than asked at a guarded site is the guard's doing.
                let lagging = off.abs() > 1.0_f64.max(0.3 * sp.abs()) && !(off > 0.0 && guarded(a));
                lagging.then(|| (a.clone(), p))
            })
            .collect();
        for (a, p) in &laggards {
            self.mark_unresponsive(a, *p, now);
        }
        !laggards.is_empty()
    }

    /// A battery's energy above its floor and room below its ceiling, kWh.
    fn energy_room(b: &BatteryView) -> Option<(f64, f64)> {
        let r = b.ratings?;
        let soc = b.soc?;
        Some((
            ((soc - r.soc_floor) * r.capacity_kwh).max(0.0),
            ((r.soc_ceiling - soc) * r.capacity_kwh).max(0.0),
        ))
    }

    /// Plans from what is known now; the setpoints to send.
    fn plan_now(
        &mut self,
        now: DateTime<Utc>,
        view: &FleetView,
    ) -> Result<Vec<SetpointCommand>, DispatchError> {
        self.replan = false;
        let online = Self::online(view);
        let answering: BTreeSet<AssetPath> = online.iter().map(|d| d.asset.clone()).collect();
        let batteries: Vec<Dispatchable> = online
            .into_iter()
            .filter(|d| !self.unresponsive.contains_key(&d.asset))
            .collect();
        let available: BTreeSet<AssetPath> = batteries.iter().map(|d| d.asset.clone()).collect();
        // Everyone else counts at their measured power while their energy lasts; one that no
        // longer answers counts at zero once the last setpoint sent to it has reverted.
        let unresponsive: Vec<Unresponsive> = view
            .batteries
            .iter()
            .filter(|b| !available.contains(&b.asset))
            .map(|b| {
                let measured = self
                    .unresponsive
                    .get(&b.asset)
                    .map(|(_, p)| *p)
                    .or(b.power_kw)
                    .unwrap_or(0.0);
                let reverted = !answering.contains(&b.asset)
                    && self.reverts_at.get(&b.asset).is_some_and(|at| now >= *at);
                let power_kw = if reverted { 0.0 } else { measured };
                Unresponsive {
                    asset: b.asset.clone(),
                    power_kw,
                    energy_kwh: Self::energy_room(b)
                        .map(|(above, below)| if power_kw >= 0.0 { above } else { below }),
                }
            })
            .collect();
        let step = self.config.step;
        let start = interval_start(now, step);
        let steps = self.config.horizon_steps;
        let metered: BTreeSet<NodePath> = view.meters.iter().map(|m| m.site.clone()).collect();
        let mut sites: BTreeSet<NodePath> = metered.clone();
        sites.extend(view.batteries.iter().map(|b| b.asset.ancestor(Level::Site)));
        self.unmetered = sites.difference(&metered).cloned().collect();
        self.peaks.from.get_or_insert(start + step);
        self.record(start, now, view, &metered)?;
        let site_load = self.site_load(now, start, steps, &sites, &metered, view)?;
        let prices = self
            .prices
            .horizon(start, step, steps)
            .ok_or(DispatchError::Prices(start))?;
        let peaks: BTreeMap<NodePath, f64> = self
            .peaks
            .kw
            .iter()
            .filter(|(s, _)| metered.contains(*s))
            .map(|(s, kw)| (s.clone(), *kw))
            .collect();
        let situation = Situation {
            now,
            step,
            horizon_steps: steps,
            batteries: &batteries,
            unresponsive: &unresponsive,
            site_load_kw: site_load.as_ref(),
            import_price: &prices.import_eur_per_kwh,
            export_price: &prices.export_eur_per_kwh,
            peak_charge: self.config.peak_charge,
            site_peak_charge: self.config.site_peak_charge,
            site_peak_period_share: self.config.site_peak_period_share,
            peak_targets: &self.targets,
            site_peak_so_far: &peaks,
        };
        let plan = dispatcher::step(&situation, self.solver.as_ref())?;
        // Validity: to the end of the next interval's first half, so a device falls back on
        // its own when nobody re-plans.
        let valid_until = (start + step * 3 / 2).max(now + TimeDelta::seconds(1));
        let mut commands = Vec::with_capacity(plan.setpoints.len());
        for s in &plan.setpoints {
            // Each site's cap: the import its plan gives this interval (load the forecast
            // missed is the guard's to cover), not the horizon's highest planned import.
            let site = s.asset.ancestor(Level::Site);
            let site_cap = if metered.contains(&site) {
                plan.site_import_kw
                    .get(&site.to_string())
                    .and_then(|v| v.first().copied())
                    .and_then(|kw| Kilowatts::new(kw.max(0.0)).ok())
            } else {
                None
            };
            let Ok(power) = Kilowatts::new(s.power_kw) else {
                continue;
            };
            commands.push(SetpointCommand {
                asset: s.asset.clone(),
                power,
                valid_until,
                site_cap,
            });
        }
        for c in &commands {
            self.reverts_at.insert(c.asset.clone(), c.valid_until);
            self.sent.insert(c.asset.clone(), (c.power.get(), now));
        }
        self.plan = Some(Arc::new(plan));
        self.assumed = Some(site_load);
        self.planned_with = available;
        self.plans += 1;
        Ok(commands)
    }

    /// Records every ended interval's metered import (billing-period peaks) and net load
    /// (forecast observations) up to `start`.
    fn record(
        &mut self,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        view: &FleetView,
        metered: &BTreeSet<NodePath>,
    ) -> Result<(), DispatchError> {
        let step = self.config.step;
        let window = TimeDelta::days(self.config.window_days as i64);
        let mut by_site: BTreeMap<NodePath, Vec<&AssetPath>> = BTreeMap::new();
        for b in &view.batteries {
            by_site
                .entry(b.asset.ancestor(Level::Site))
                .or_default()
                .push(&b.asset);
        }
        let peaks_from = self.peaks.from.unwrap_or(start + step);
        for site in metered {
            if !self.meters.contains_key(site) {
                continue;
            }
            let key = self.declare(site, start - window)?;
            let Some(meter) = self.meters.get(site) else {
                continue;
            };
            let from = self.recorded.get(site).copied().unwrap_or(start);
            // Resume after the last interval recorded from live readings.
            let mut t = self
                .peaks
                .until
                .get(site)
                .copied()
                .unwrap_or_else(|| from.max(start - window));
            while t + step <= start {
                let Some(import) = meter.mean_kw(t) else {
                    // Its end may still come with the next reading; after an interval it is
                    // a gap.
                    if now - (t + step) < step {
                        break;
                    }
                    t += step;
                    continue;
                };
                if t >= peaks_from {
                    let peak = self.peaks.kw.entry(site.clone()).or_insert(import);
                    *peak = peak.max(import);
                }
                // Net load: what the site would have imported without its batteries.
                let mut net = import;
                for a in by_site.get(site).into_iter().flatten() {
                    match self.batteries.get(*a).and_then(|i| i.mean_kw(t)) {
                        Some(p) => net += p,
                        None => net = f64::NAN,
                    }
                }
                self.observations
                    .record(&key, t, net)
                    .map_err(forecast_error)?;
                if net.is_finite() {
                    self.last_net.insert(site.clone(), net);
                }
                t += step;
            }
            self.peaks.until.insert(site.clone(), t);
        }
        Ok(())
    }

    /// Every site's net load per interval from `start`: forecast from its metered past (zero
    /// for a site without a meter), or the oracle's.
    fn site_load(
        &mut self,
        now: DateTime<Utc>,
        start: DateTime<Utc>,
        steps: usize,
        sites: &BTreeSet<NodePath>,
        metered: &BTreeSet<NodePath>,
        view: &FleetView,
    ) -> Result<Arc<SiteSeries>, DispatchError> {
        let step = self.config.step;
        if let Some(oracle) = &self.oracle {
            let mut out = BTreeMap::new();
            for site in sites {
                let load = oracle
                    .net_load(site, start, step, steps)
                    .ok_or_else(|| DispatchError::Forecast(site.to_string(), steps))?;
                out.insert(site.clone(), load);
            }
            return Ok(Arc::new(out));
        }
        if let Some((at, cached)) = &self.forecast_cache
            && *at == start
            && cached.len() == sites.len()
            && cached.keys().zip(sites).all(|(a, b)| a == b)
        {
            return Ok(Arc::clone(cached));
        }
        let mut out = BTreeMap::new();
        for site in sites {
            let load = if metered.contains(site) && self.recorded.contains_key(site) {
                let key = SeriesKey::new(Quantity::Load, site.to_string());
                let f = self
                    .observations
                    .forecast(&key, now, steps)
                    .map_err(forecast_error)?;
                // Where the model has nothing to go on (a site watched for less than a day),
                // persistence: the newest interval's net load, else the meter's reading now
                // plus its batteries' power.
                let fallback = self
                    .last_net
                    .get(site)
                    .copied()
                    .or_else(|| Self::live_net_load(site, view))
                    .unwrap_or(0.0);
                f.forecast
                    .p50
                    .iter()
                    .map(|x| if x.is_finite() { *x } else { fallback })
                    .collect()
            } else {
                vec![0.0; steps]
            };
            out.insert(site.clone(), load);
        }
        let out = Arc::new(out);
        self.forecast_cache = Some((start, Arc::clone(&out)));
        Ok(out)
    }

    /// A site's net load now: its meter's import plus its batteries' power (`None` without a
    /// reading of each).
    fn live_net_load(site: &NodePath, view: &FleetView) -> Option<f64> {
        let import = view.meters.iter().find(|m| &m.site == site)?.import_kw?;
        view.batteries
            .iter()
            .filter(|b| &b.asset.ancestor(Level::Site) == site)
            .try_fold(import, |acc, b| Some(acc + b.power_kw?))
    }

    /// The last planning error, if the last due plan failed.
    #[must_use]
    pub fn last_error(&self) -> Option<&DispatchError> {
        self.last_error.as_ref()
    }

    /// Plans made so far.
    #[must_use]
    pub fn plans(&self) -> u64 {
        self.plans
    }

    /// The current plan seen from `node`, if there is one.
    #[must_use]
    pub fn node_plan(&self, node: &NodePath) -> Option<NodePlan> {
        let plan = self.plan.clone()?;
        let under = |path: &str| {
            path.parse::<NodePath>()
                .is_ok_and(|p| node.contains(&p) || p.contains(node))
        };
        let strictly_under = |path: &str| path.parse::<NodePath>().is_ok_and(|p| node.contains(&p));
        Some(NodePlan {
            node: node.to_string(),
            peak_target_kw: self.targets.get(node).copied(),
            issued_at: plan.issued_at,
            start: plan.start,
            step_s: plan.step_s,
            plans: self.plans,
            foresight: if self.oracle.is_some() {
                "perfect"
            } else {
                "forecast"
            },
            site_net_load_kw: self
                .assumed
                .iter()
                .flat_map(|a| a.iter())
                .filter(|(s, _)| node.contains(s))
                .map(|(s, v)| (s.to_string(), v.clone()))
                .collect(),
            unmetered_sites: self
                .unmetered
                .iter()
                .filter(|s| node.contains(s))
                .map(ToString::to_string)
                .collect(),
            setpoints: self
                .sent
                .iter()
                .filter(|(a, _)| a.is_under(node))
                .map(|(a, (p, _))| (a.to_string(), *p))
                .collect(),
            site_import_kw: plan
                .site_import_kw
                .iter()
                .filter(|(s, _)| strictly_under(s))
                .map(|(s, v)| (s.clone(), v.clone()))
                .collect(),
            site_peak_so_far_kw: plan
                .site_peak_so_far_kw
                .iter()
                .filter(|(s, _)| strictly_under(s))
                .map(|(s, kw)| (s.clone(), *kw))
                .collect(),
            feeder_flow_kw: plan
                .feeder_flow_kw
                .iter()
                .filter(|(f, _)| under(f))
                .map(|(f, v)| (f.clone(), v.clone()))
                .collect(),
            battery_power_kw: plan
                .plan
                .batteries
                .iter()
                .filter(|(a, _)| strictly_under(a))
                .map(|(a, s)| {
                    let p = s
                        .discharge_kw
                        .iter()
                        .zip(&s.charge_kw)
                        .map(|(d, c)| d - c)
                        .collect();
                    (a.clone(), p)
                })
                .collect(),
            unresponsive: self
                .unresponsive
                .iter()
                .filter(|(a, _)| a.is_under(node))
                .map(|(a, (_, p))| (a.to_string(), *p))
                .collect(),
            slacks: plan.plan.slacks.clone(),
            objective_eur: plan.plan.objective_eur,
        })
    }
}

fn forecast_error(e: vpp_forecasting::source::SourceError) -> DispatchError {
    DispatchError::Forecaster(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{FlatTariff, MeterView, Ratings};
    use vpp_optimiser::lp::Structured;

    /// Seconds from a quarter-hour boundary (1_750_000_500 is one).
    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_500 + s, 0).unwrap()
    }

    fn asset(site: &str, name: &str) -> AssetPath {
        format!("r1/s1/f1/{site}/{name}").parse().unwrap()
    }

    fn site(name: &str) -> NodePath {
        format!("r1/s1/f1/{name}").parse().unwrap()
    }

    fn battery(a: AssetPath, status: Status, at: DateTime<Utc>, power: f64) -> BatteryView {
        BatteryView {
            asset: a,
            status,
            measured_at: Some(at),
            power_kw: Some(power),
            soc: Some(0.6),
            energy_injected_kwh: None,
            energy_absorbed_kwh: None,
            ratings: Some(Ratings {
                capacity_kwh: 10.0,
                max_charge_kw: 5.0,
                max_discharge_kw: 5.0,
                soc_floor: 0.1,
                soc_ceiling: 0.9,
            }),
        }
    }

    fn meter(name: &str, at: DateTime<Utc>, import: f64, counter: f64) -> MeterView {
        MeterView {
            site: site(name),
            status: Status::Online,
            measured_at: Some(at),
            import_kw: Some(import),
            imported_kwh: Some(counter.max(0.0)),
            exported_kwh: Some((-counter).max(0.0)),
        }
    }

    /// Two sites of 4 kW of load with one battery each; their meters read the load less the
    /// battery's power (no counters: the loop integrates the readings).
    fn view(at: DateTime<Utc>, powers: [f64; 2], statuses: [Status; 2]) -> FleetView {
        let reading = |name: &str, p: f64| MeterView {
            import_kw: Some(4.0 - p),
            imported_kwh: None,
            exported_kwh: None,
            ..meter(name, at, 0.0, 0.0)
        };
        FleetView {
            batteries: vec![
                battery(asset("a", "x"), statuses[0], at, powers[0]),
                battery(asset("b", "y"), statuses[1], at, powers[1]),
            ],
            meters: vec![reading("a", powers[0]), reading("b", powers[1])],
        }
    }

    fn new_loop() -> DispatchLoop {
        DispatchLoop::new(
            LoopConfig {
                horizon_steps: 8,
                window_days: 2,
                ..LoopConfig::default()
            },
            Arc::new(FlatTariff {
                import_eur_per_kwh: 0.3,
                export_eur_per_kwh: 0.05,
            }),
            None,
            Arc::new(Structured),
        )
    }

    const ON: [Status; 2] = [Status::Online, Status::Online];

    #[test]
    fn it_plans_at_start_then_once_per_interval() {
        let mut l = new_loop();
        let first = l.on_tick(t(10), &view(t(10), [0.0; 2], ON)).unwrap();
        assert_eq!(first.len(), 2, "the first tick plans");
        assert!(first.iter().all(|c| c.valid_until == t(900 + 450)));
        // Same interval, nothing changed: no plan. Follow the setpoints.
        let p = [first[0].power.get(), first[1].power.get()];
        assert!(l.on_tick(t(300), &view(t(300), p, ON)).unwrap().is_empty());
        assert_eq!(l.plans(), 1);
        // The next interval: a plan.
        assert_eq!(l.on_tick(t(905), &view(t(905), p, ON)).unwrap().len(), 2);
        assert_eq!(l.plans(), 2);
    }

    #[test]
    fn a_target_change_replans_at_once_and_bad_targets_are_refused() {
        let mut l = new_loop();
        let c = l.on_tick(t(10), &view(t(10), [0.0; 2], ON)).unwrap();
        let p = [c[0].power.get(), c[1].power.get()];
        l.set_target(site("a"), Some(1.0)).unwrap();
        let after = l.on_tick(t(20), &view(t(20), p, ON)).unwrap();
        assert_eq!(l.plans(), 2);
        // Site a's 4 kW under a 1 kW cap: its battery discharges more than 2 kW (its 5 kWh
        // above the floor over the two-hour horizon).
        let x = after.iter().find(|c| c.asset == asset("a", "x")).unwrap();
        assert!(x.power.get() > 2.0, "{}", x.power.get());
        // The guard's cap is the import the plan gives the site this interval.
        let cap = x.site_cap.unwrap().get();
        assert!((cap - (4.0 - x.power.get())).abs() < 1e-3, "{cap}");
        assert!(matches!(
            l.set_target("r1".parse().unwrap(), Some(1.0)),
            Err(DispatchError::TargetLevel(_))
        ));
        assert!(matches!(
            l.set_target(site("a"), Some(f64::NAN)),
            Err(DispatchError::TargetValue(_))
        ));
    }

    #[test]
    fn a_lost_battery_replans_and_counts_idle_once_its_setpoint_reverted() {
        let mut l = new_loop();
        l.set_target(site("b"), Some(1.0)).unwrap();
        let c = l.on_tick(t(10), &view(t(10), [0.0; 2], ON)).unwrap();
        let y = c
            .iter()
            .find(|c| c.asset == asset("b", "y"))
            .unwrap()
            .clone();
        assert!(y.power.get() > 2.0);
        // y stops answering: planned around at its measured power at once.
        let off = [Status::Online, Status::Offline];
        let p = [c[0].power.get(), y.power.get()];
        let again = l.on_tick(t(60), &view(t(60), p, off)).unwrap();
        assert_eq!(l.plans(), 2);
        assert!(again.iter().all(|c| c.asset != asset("b", "y")));
        let plan = l.node_plan(&NodePath::root()).unwrap();
        assert!(!plan.battery_power_kw.contains_key(y.asset.as_str()));
        // While its last setpoint holds, it is counted discharging: site b's assumed import
        // is under its cap without it.
        let import_b = plan.site_import_kw[&site("b").to_string()][0];
        assert!(import_b < 4.0 - 2.0, "{import_b}");
        // After its revert time it counts as idle: site b imports its whole load.
        let late = y.valid_until + TimeDelta::seconds(1);
        l.set_target(site("a"), None).unwrap();
        l.on_tick(late, &view(late, p, off)).unwrap();
        let plan = l.node_plan(&NodePath::root()).unwrap();
        let import_b = plan.site_import_kw[&site("b").to_string()][0];
        assert!((import_b - 4.0).abs() < 1e-3, "{import_b}");
    }

    #[test]
    fn a_battery_that_does_not_follow_is_planned_around() {
        let mut l = new_loop();
        l.set_target(site("a"), Some(1.0)).unwrap();
        let c = l.on_tick(t(10), &view(t(10), [0.0; 2], ON)).unwrap();
        let x = c
            .iter()
            .find(|c| c.asset == asset("a", "x"))
            .unwrap()
            .power
            .get();
        let y = c
            .iter()
            .find(|c| c.asset == asset("b", "y"))
            .unwrap()
            .power
            .get();
        assert!(x > 2.0);
        // x answers but stays at 0 kW; before half an interval it is given time.
        assert!(
            l.on_tick(t(300), &view(t(300), [0.0, y], ON))
                .unwrap()
                .is_empty()
        );
        // After half an interval it is planned around, at its measured power.
        let again = l.on_tick(t(500), &view(t(500), [0.0, y], ON)).unwrap();
        assert_eq!(l.plans(), 2);
        assert!(again.iter().all(|c| c.asset != asset("a", "x")));
        let plan = l.node_plan(&NodePath::root()).unwrap();
        assert_eq!(plan.unresponsive.get(asset("a", "x").as_str()), Some(&0.0));
        // A refused setpoint does the same for y.
        l.on_ack(&asset("b", "y"), false, t(510));
        let third = l.on_tick(t(520), &view(t(520), [0.0, y], ON)).unwrap();
        assert!(third.is_empty(), "nobody left to dispatch: {third:?}");
        assert_eq!(l.plans(), 3);
    }

    #[test]
    fn peaks_so_far_come_from_the_meters_and_unmetered_sites_are_named() {
        let mut l = new_loop();
        let mut v = view(t(10), [0.0; 2], ON);
        // Site b loses its meter: planned with a zero net load and no peak.
        v.meters.truncate(1);
        l.on_tick(t(10), &v).unwrap();
        // Site a's meter over the next intervals: 6 kW over [900, 1800), read every minute.
        let mut counter = 100.0;
        let mut last = t(10);
        for s in (60..=1900).step_by(60) {
            let at = t(s);
            let kw = if (900..1800).contains(&s) { 6.0 } else { 2.0 };
            counter += kw * (at - last).num_seconds() as f64 / 3600.0;
            last = at;
            let mut v = view(at, [0.0; 2], ON);
            v.meters = vec![meter("a", at, kw, counter)];
            l.on_tick(at, &v).unwrap();
        }
        let plan = l.node_plan(&NodePath::root()).unwrap();
        assert_eq!(plan.unmetered_sites, vec![site("b").to_string()]);
        let peak = plan.site_peak_so_far_kw[&site("a").to_string()];
        // The first counted interval is [900, 1800): its mean is 6 kW within a minute's
        // interpolation (the boundary readings straddle the step).
        assert!((peak - 6.0).abs() < 0.3, "{peak}");
        assert!(
            !plan
                .site_peak_so_far_kw
                .contains_key(&site("b").to_string())
        );
    }

    #[test]
    fn the_same_inputs_give_byte_identical_commands() {
        let run = || {
            let mut l = new_loop();
            let mut out = Vec::new();
            l.set_target(site("a"), Some(2.0)).unwrap();
            for s in (10..3600).step_by(120) {
                let v = view(t(s), [1.0, -1.0], ON);
                out.extend(l.on_tick(t(s), &v).unwrap());
                if s == 1210 {
                    l.on_ack(&asset("b", "y"), false, t(s));
                }
            }
            format!("{out:?}")
        };
        let (a, b) = (run(), run());
        assert!(a.len() > 100);
        assert_eq!(a, b);
    }

    #[test]
    fn meter_history_feeds_the_forecast() {
        let mut l = new_loop();
        // Two days of site a at 3 kW, then the live tick.
        let start = t(0) - TimeDelta::days(2);
        l.on_meter_history(&site("a"), start, TimeDelta::minutes(15), &[Some(3.0); 192])
            .unwrap();
        l.on_tick(t(10), &view(t(10), [0.0; 2], ON)).unwrap();
        let plan = l.node_plan(&NodePath::root()).unwrap();
        let assumed = &plan.site_net_load_kw[&site("a").to_string()];
        assert!(
            assumed.iter().all(|x| (x - 3.0).abs() < 1e-6),
            "{assumed:?}"
        );
        assert!(
            l.on_meter_history(&site("a"), start, TimeDelta::minutes(5), &[Some(1.0)])
                .is_err()
        );
    }
}
