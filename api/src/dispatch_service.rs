//! The dispatcher as a running service: the receding-horizon loop around the pure core
//! (`vpp_dispatch::dispatcher`).
//!
//! Every interval, and at once on an event (an operator's peak target changed, an asset lost
//! or back, a setpoint refused, a battery not following its setpoint), it reads the twins
//! (online batteries with their ratings and state of charge), forecasts every site's load and
//! PV, plans, and sends the first interval's
//! setpoints over the bus with a validity of one interval plus a margin: the gateway writes it
//! as the device's revert time, so a device whose control plane disappears falls back on its
//! own. Acks and measured power are watched: a battery that refuses or does not follow (off by
//! more than 1 kW and 30 % half an interval after its setpoint) is planned around, as load at
//! its measured power, until the next interval; one that stopped answering counts at zero once
//! its last setpoint has reverted.
//!
//! Each setpoint carries its site's planned import for the interval as a cap: where the site has a meter,
//! the gateway's site guard discharges more than planned while the import is over it (load
//! the forecast missed). A site under its guard is not taken for one whose batteries do not
//! follow.
//!
//! Forecasts: each site's load and PV are forecast from its metered past only
//! (`vpp_forecasting::source::Observations`: calendar regression for load, clear-sky ratio for
//! PV). The meter feed is the scenario's record of an interval, read once the interval has
//! ended (a utility's interval meter data); at start the window is filled with the site's
//! past. Prices are the published day-ahead prices, known for the horizon planned.
//! `Foresight::Perfect` plans on the scenario's future instead (a reference for comparison).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use vpp_dispatch::dispatcher::{
    self, DispatchError, Dispatchable, Situation, StepPlan, Unresponsive,
};
use vpp_optimiser::lp::Structured;
use vpp_fleet::twin::Status;
use vpp_domain::{AssetPath, Clock, CorrelationId, Kilowatts, Level, NodePath, Setpoint};
use vpp_forecasting::source::{ForecastSource, Observations, Quantity, SeriesKey};
use vpp_telemetry::bus::{Bus, Delivery, Topic};
use vpp_telemetry::wire::{
    AckOutcome, DeviceDescription, EventKind, Message, SetpointMsg, WIRE_VERSION,
};

use crate::fleet::FleetService;
use crate::scenario::{Block, Scenario};

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatchConfig {
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
    /// How often the loop looks at the clock and the events, real time.
    pub tick: Duration,
    /// What the plans know of the sites' future load and PV.
    pub foresight: Foresight,
}

/// What the plans know of the sites' future load and PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foresight {
    /// Forecasts from each site's metered past over a window of this many days.
    Forecast {
        /// Days of history the models are fitted on.
        window_days: usize,
    },
    /// The scenario's future itself (a reference: what a perfect forecaster would give).
    Perfect,
}

impl Default for DispatchConfig {
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
            tick: Duration::from_millis(50),
            foresight: Foresight::Forecast { window_days: 28 },
        }
    }
}

/// What the dispatcher holds between steps.
#[derive(Debug, Default)]
struct State {
    targets: BTreeMap<NodePath, f64>,
    plan: Option<Arc<StepPlan>>,
    /// The sites' net load the plan assumed.
    assumed: Option<Arc<SiteSeries>>,
    /// Batteries planned around until the given time, with their measured power.
    unresponsive: BTreeMap<AssetPath, (DateTime<Utc>, f64)>,
    /// Setpoints in force: power and when sent.
    sent: BTreeMap<AssetPath, (f64, DateTime<Utc>)>,
    /// When each battery's last setpoint ends (its revert time): after it, a battery that no
    /// longer answers has gone back to idle on its own.
    reverts_at: BTreeMap<AssetPath, DateTime<Utc>>,
    /// The online batteries the plan was made with.
    planned_with: BTreeSet<AssetPath>,
    /// Sites whose guard holds the import (`None`), or let go at the given time.
    guarded: BTreeMap<String, Option<DateTime<Utc>>>,
    replan: bool,
    plans: u64,
    last_error: Option<String>,
}

/// The dispatcher service.
pub struct DispatchService {
    twins: Arc<FleetService>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    scenario: Arc<Scenario>,
    sites: Vec<Block>,
    config: DispatchConfig,
    state: Mutex<State>,
    meters: Mutex<Meters>,
    peaks: Mutex<Peaks>,
}

/// Each site's highest metered interval import since the first plan (the billing period
/// here): the period's share of the site peak charge applies above it only, so importing up to
/// it again (to charge before a peak, say) costs only the horizon's share.
#[derive(Debug, Default)]
struct Peaks {
    /// Intervals before this one are counted. The first is the first whole one after the
    /// first plan: the one the service starts in began before any setpoint was in force, and
    /// a peak so far set there would be imported up to again all period long.
    until: Option<DateTime<Utc>>,
    kw: BTreeMap<NodePath, f64>,
}

/// The sites' metered past and the forecasts made from it.
#[derive(Debug)]
struct Meters {
    store: Observations,
    /// Intervals before this one are recorded.
    recorded_until: Option<DateTime<Utc>>,
    /// Net-load forecasts per site, by the interval they were issued in.
    cache: Option<(DateTime<Utc>, Arc<SiteSeries>)>,
}

/// A series per site, kW per interval.
type SiteSeries = BTreeMap<NodePath, Vec<f64>>;

impl std::fmt::Debug for DispatchService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DispatchService")
            .field("sites", &self.sites.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The plan of one node, as `GET /api/v1/nodes/{path}/plan` serves it.
#[derive(Debug, Serialize)]
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
    /// `perfect` (the scenario's future, a reference).
    pub foresight: &'static str,
    /// The net load (load − PV, without batteries) the plan assumed per site under the node,
    /// kW per interval.
    pub site_net_load_kw: BTreeMap<String, Vec<f64>>,
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
    pub slacks: Vec<vpp_optimiser::SlackUse>,
    /// The fleet objective of the whole plan, €.
    pub objective_eur: f64,
}

impl DispatchService {
    /// A dispatcher over `twins`, sending on `bus`, planning with `scenario`'s foresight for
    /// `sites` (blocks of homes).
    #[must_use]
    pub fn new(
        twins: Arc<FleetService>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        scenario: Arc<Scenario>,
        sites: Vec<Block>,
        config: DispatchConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            twins,
            bus,
            clock,
            scenario,
            sites,
            meters: Mutex::new(Meters {
                store: Observations::new(match config.foresight {
                    Foresight::Forecast { window_days } => window_days,
                    Foresight::Perfect => 1,
                }),
                recorded_until: None,
                cache: None,
            }),
            config,
            state: Mutex::new(State::default()),
            peaks: Mutex::new(Peaks::default()),
        })
    }

    /// Updates and returns [`Peaks`] up to the interval that starts at `start`: a site's import
    /// over an ended interval is its metered net load less its batteries' mean power (from the
    /// twins' history).
    fn peaks_so_far(
        &self,
        start: DateTime<Utc>,
        assets: &BTreeMap<AssetPath, f64>,
    ) -> BTreeMap<NodePath, f64> {
        let step = self.config.step;
        let mut peaks = self
            .peaks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut by_site: BTreeMap<NodePath, Vec<&AssetPath>> = BTreeMap::new();
        for asset in assets.keys() {
            by_site
                .entry(asset.ancestor(Level::Site))
                .or_default()
                .push(asset);
        }
        let mut t = *peaks.until.get_or_insert(start + step);
        while t + step <= start {
            for b in &self.sites {
                let (load, pv) = self.scenario.load_pv_horizon(t, step, 1, b.first, b.homes);
                let mut import = load[0] - pv[0];
                for asset in by_site.get(&b.node).into_iter().flatten() {
                    let Ok(h) = self.twins.history(&asset.node(), t, t + step, step) else {
                        continue;
                    };
                    if let Some(bucket) = h.series.get("power_kw").and_then(|v| v.first()) {
                        import -= bucket.mean;
                    }
                }
                let peak = peaks.kw.entry(b.node.clone()).or_insert(import);
                *peak = peak.max(import);
            }
            t += step;
        }
        peaks.until = Some(t);
        peaks.kw.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets (or, with `None`, clears) the import cap of `node`; the next tick re-plans.
    pub fn set_target(&self, node: NodePath, kw: Option<f64>) -> Result<(), DispatchError> {
        dispatcher::check_target(&node)?;
        let mut st = self.lock();
        match kw {
            Some(kw) => st.targets.insert(node, kw),
            None => st.targets.remove(&node),
        };
        st.replan = true;
        Ok(())
    }

    /// The current plan seen from `node`, if there is one.
    #[must_use]
    pub fn node_plan(&self, node: &NodePath) -> Option<NodePlan> {
        let st = self.lock();
        let plan = st.plan.clone()?;
        let under = |path: &str| {
            path.parse::<NodePath>()
                .is_ok_and(|p| node.contains(&p) || p.contains(node))
        };
        let strictly_under = |path: &str| path.parse::<NodePath>().is_ok_and(|p| node.contains(&p));
        Some(NodePlan {
            node: node.to_string(),
            peak_target_kw: st.targets.get(node).copied(),
            issued_at: plan.issued_at,
            start: plan.start,
            step_s: plan.step_s,
            plans: st.plans,
            foresight: match self.config.foresight {
                Foresight::Forecast { .. } => "forecast",
                Foresight::Perfect => "perfect",
            },
            site_net_load_kw: st
                .assumed
                .iter()
                .flat_map(|a| a.iter())
                .filter(|(s, _)| node.contains(s))
                .map(|(s, v)| (s.to_string(), v.clone()))
                .collect(),
            setpoints: st
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
            unresponsive: st
                .unresponsive
                .iter()
                .filter(|(a, _)| a.is_under(node))
                .map(|(a, (_, p))| (a.to_string(), *p))
                .collect(),
            slacks: plan.plan.slacks.clone(),
            objective_eur: plan.plan.objective_eur,
        })
    }

    /// The last planning error, if the last attempt failed.
    #[must_use]
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Starts the loop and the ack watcher; they stop when the returned handle is dropped.
    pub async fn spawn(self: &Arc<Self>) -> anyhow::Result<DispatchHandle> {
        let mut acks = self.bus.subscribe(Topic::Acks).await?;
        let me = Arc::clone(self);
        let watcher = tokio::spawn(async move {
            while let Some(d) = acks.next().await {
                if let Delivery::Message(Message::Ack(ack)) = d
                    && !matches!(ack.outcome, AckOutcome::Written { .. })
                {
                    me.mark_unresponsive(&ack.asset, None);
                }
            }
        });
        let mut events = self.bus.subscribe(Topic::Events).await?;
        let me = Arc::clone(self);
        let guards = tokio::spawn(async move {
            while let Some(d) = events.next().await {
                if let Delivery::Message(Message::Event(e)) = d {
                    let mut st = me.lock();
                    match e.kind {
                        EventKind::GuardEngaged { site, .. } => {
                            st.guarded.insert(site, None);
                        }
                        EventKind::GuardReleased { site } => {
                            st.guarded.insert(site, Some(e.at));
                        }
                        _ => {}
                    }
                }
            }
        });
        let me = Arc::clone(self);
        let looping = tokio::spawn(async move {
            let mut tick = tokio::time::interval(me.config.tick);
            loop {
                tick.tick().await;
                if me.due() {
                    let me2 = Arc::clone(&me);
                    let planned = tokio::task::spawn_blocking(move || me2.plan_now()).await;
                    match planned {
                        Ok(Ok(setpoints)) => me.send(setpoints).await,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "dispatch planning failed; retrying in 1 s");
                            me.lock().last_error = Some(e.to_string());
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "dispatch planning panicked; retrying in 1 s");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            }
        });
        Ok(DispatchHandle {
            tasks: vec![watcher, guards, looping],
        })
    }

    /// Marks `asset` as not responding until the end of the current interval, at its measured
    /// power (the twin's newest when not given).
    fn mark_unresponsive(&self, asset: &AssetPath, measured: Option<f64>) {
        let now = self.clock.now();
        let power = measured.unwrap_or_else(|| {
            self.twins
                .asset(asset)
                .and_then(|a| a.latest)
                .and_then(|o| o.readings.power)
                .map_or(0.0, Kilowatts::get)
        });
        let until = interval_start(now, self.config.step) + self.config.step;
        let mut st = self.lock();
        st.unresponsive.insert(asset.clone(), (until, power));
        st.sent.remove(asset);
        st.replan = true;
        tracing::info!(%asset, "battery not responding: planned around");
    }

    /// The online batteries and everyone's latest power.
    fn fleet_view(&self) -> (Vec<Dispatchable>, BTreeMap<AssetPath, f64>) {
        let mut online = Vec::new();
        let mut power = BTreeMap::new();
        for (asset, status, latest, device) in self.twins.assets() {
            let p = latest
                .as_ref()
                .and_then(|o| o.readings.power)
                .map_or(0.0, Kilowatts::get);
            power.insert(asset.clone(), p);
            let (Some(obs), Some(dev), Status::Online) = (latest, device, status) else {
                continue;
            };
            let (floor, ceiling) = usable_soc(&dev);
            let (Some(cap), Some(ch), Some(dis), Some(soc)) = (
                dev.capacity_kwh,
                dev.max_charge_kw,
                dev.max_discharge_kw,
                obs.readings.soc,
            ) else {
                continue;
            };
            online.push(Dispatchable {
                asset,
                capacity_kwh: cap,
                max_charge_kw: ch,
                max_discharge_kw: dis,
                soc_min: floor,
                soc_max: ceiling,
                soc: soc.get(),
                efficiency: 0.95,
            });
        }
        (online, power)
    }

    /// A battery's energy above its floor and room below its ceiling, kWh, from its twin's
    /// newest state of charge and its registration; `None` where either is unknown.
    fn energy_room(&self, asset: &AssetPath) -> Option<(f64, f64)> {
        let twin = self.twins.asset(asset)?;
        let dev = twin.device?;
        let (cap, soc) = (dev.capacity_kwh?, twin.latest?.readings.soc?.get());
        let (floor, ceiling) = usable_soc(&dev);
        Some((
            ((soc - floor) * cap).max(0.0),
            ((ceiling - soc) * cap).max(0.0),
        ))
    }

    /// Whether to plan now: a new interval, an event, a change in who is online, or a battery
    /// that does not follow.
    fn due(&self) -> bool {
        let now = self.clock.now();
        let (online, power) = self.fleet_view();
        let online: BTreeSet<AssetPath> = online.into_iter().map(|d| d.asset).collect();
        let mut st = self.lock();
        st.unresponsive.retain(|_, (until, _)| *until > now);
        if st.replan {
            return true;
        }
        let Some(plan) = &st.plan else {
            return true;
        };
        if now >= plan.start + TimeDelta::seconds(plan.step_s) {
            return true;
        }
        let available: BTreeSet<AssetPath> = online
            .iter()
            .filter(|a| !st.unresponsive.contains_key(*a))
            .cloned()
            .collect();
        if available != st.planned_with {
            return true;
        }
        // Response: half an interval after a setpoint, the measured power should follow it (a
        // guard that holds the site's import, or let go less than two minutes ago, may have
        // raised it).
        let half = self.config.step / 2;
        let guarded = |a: &AssetPath| {
            st.guarded
                .get(&a.ancestor(Level::Site).to_string())
                .is_some_and(|g| g.is_none_or(|at| now - at < TimeDelta::minutes(2)))
        };
        let laggards: Vec<(AssetPath, f64)> = st
            .sent
            .iter()
            .filter(|(_, (_, at))| now - *at > half)
            .filter_map(|(a, (sp, _))| {
                let p = *power.get(a)?;
                let off = p - sp;
                // More discharge than asked at a guarded site is the guard's doing.
                let lagging = off.abs() > 1.0_f64.max(0.3 * sp.abs()) && !(off > 0.0 && guarded(a));
                lagging.then(|| (a.clone(), p))
            })
            .collect();
        drop(st);
        for (a, p) in &laggards {
            self.mark_unresponsive(a, Some(*p));
        }
        !laggards.is_empty()
    }

    /// Plans from what is known now; the setpoints to send.
    fn plan_now(&self) -> Result<Vec<(AssetPath, f64, Option<f64>)>, DispatchError> {
        let now = self.clock.now();
        let (online, power) = self.fleet_view();
        let (targets, unresponsive_set, reverts_at) = {
            let mut st = self.lock();
            st.replan = false;
            (
                st.targets.clone(),
                st.unresponsive.clone(),
                st.reverts_at.clone(),
            )
        };
        let answering: BTreeSet<AssetPath> = online.iter().map(|d| d.asset.clone()).collect();
        let batteries: Vec<Dispatchable> = online
            .into_iter()
            .filter(|d| !unresponsive_set.contains_key(&d.asset))
            .collect();
        let available: BTreeSet<AssetPath> = batteries.iter().map(|d| d.asset.clone()).collect();
        // Everyone else counts at their measured power while their energy lasts; one that no
        // longer answers counts at zero once the last setpoint we sent it has reverted (it does
        // not keep its last power for ever; one that answers but does not follow is measured as
        // it is).
        let unresponsive: Vec<Unresponsive> = power
            .iter()
            .filter(|(a, _)| !available.contains(*a))
            .map(|(a, p)| {
                let reverted =
                    !answering.contains(a) && reverts_at.get(a).is_some_and(|at| now >= *at);
                let power_kw = if reverted { 0.0 } else { *p };
                Unresponsive {
                    asset: a.clone(),
                    power_kw,
                    energy_kwh: self
                        .energy_room(a)
                        .map(|(above, below)| if power_kw >= 0.0 { above } else { below }),
                }
            })
            .collect();
        let start = interval_start(now, self.config.step);
        let steps = self.config.horizon_steps;
        let site_load = self.site_load(now, start, steps)?;
        let prices = self.scenario.price_horizon(start, self.config.step, steps);
        let peaks = self.peaks_so_far(start, &power);
        let situation = Situation {
            now,
            step: self.config.step,
            horizon_steps: steps,
            batteries: &batteries,
            unresponsive: &unresponsive,
            site_load_kw: site_load.as_ref(),
            import_price: &prices.0,
            export_price: &prices.1,
            peak_charge: self.config.peak_charge,
            site_peak_charge: self.config.site_peak_charge,
            site_peak_period_share: self.config.site_peak_period_share,
            peak_targets: &targets,
            site_peak_so_far: &peaks,
        };
        let plan = dispatcher::step(&situation, &Structured)?;
        // Each site's cap: the import its plan gives this interval (load the forecast missed is
        // the guard's to cover, within its rationing), not the horizon's highest planned import,
        // which may be meant for charging hours away.
        let setpoints = plan
            .setpoints
            .iter()
            .map(|s| {
                let site = s.asset.ancestor(Level::Site);
                let cap = plan
                    .site_import_kw
                    .get(&site.to_string())
                    .and_then(|v| v.first().copied())
                    .map(|kw| kw.max(0.0));
                (s.asset.clone(), s.power_kw, cap)
            })
            .collect();
        let mut st = self.lock();
        st.plan = Some(Arc::new(plan));
        st.assumed = Some(site_load);
        st.planned_with = available;
        st.plans += 1;
        st.last_error = None;
        Ok(setpoints)
    }

    /// Every site's net load per interval from `start`: forecast from the metered past, or the
    /// scenario's future with perfect foresight.
    fn site_load(
        &self,
        now: DateTime<Utc>,
        start: DateTime<Utc>,
        steps: usize,
    ) -> Result<Arc<SiteSeries>, DispatchError> {
        let step = self.config.step;
        let Foresight::Forecast { window_days } = self.config.foresight else {
            return Ok(Arc::new(
                self.sites
                    .iter()
                    .map(|b| {
                        let load = self
                            .scenario
                            .load_horizon(start, step, steps, b.first, b.homes);
                        (b.node.clone(), load)
                    })
                    .collect(),
            ));
        };
        let mut m = self
            .meters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, cached)) = &m.cache
            && *at == start
            && cached.values().all(|v| v.len() == steps)
        {
            return Ok(Arc::clone(cached));
        }
        let forecast_error =
            |e: vpp_forecasting::source::SourceError| DispatchError::Forecaster(e.to_string());
        // Read the meters of every interval that has ended (the window's worth at first).
        let from = match m.recorded_until {
            Some(t) => t,
            None => {
                let from = start - TimeDelta::days(window_days as i64);
                for b in &self.sites {
                    for q in [Quantity::Load, Quantity::Pv] {
                        m.store
                            .declare(SeriesKey::new(q, b.node.to_string()), from, step, 0)
                            .map_err(forecast_error)?;
                    }
                }
                from
            }
        };
        let ended =
            usize::try_from((start - from).num_seconds() / step.num_seconds().max(1)).unwrap_or(0);
        for b in &self.sites {
            let (load, pv) = self
                .scenario
                .load_pv_horizon(from, step, ended, b.first, b.homes);
            for (q, values) in [(Quantity::Load, load), (Quantity::Pv, pv)] {
                let key = SeriesKey::new(q, b.node.to_string());
                for (k, v) in values.into_iter().enumerate() {
                    m.store
                        .record(&key, from + step * k as i32, v)
                        .map_err(forecast_error)?;
                }
            }
        }
        m.recorded_until = Some(from.max(start));
        let mut out = BTreeMap::new();
        for b in &self.sites {
            let node = b.node.to_string();
            let load = m
                .store
                .forecast(&SeriesKey::new(Quantity::Load, node.clone()), now, steps)
                .map_err(forecast_error)?;
            let pv = m
                .store
                .forecast(&SeriesKey::new(Quantity::Pv, node), now, steps)
                .map_err(forecast_error)?;
            let net = load
                .forecast
                .p50
                .iter()
                .zip(&pv.forecast.p50)
                .map(|(l, p)| l - p)
                .collect();
            out.insert(b.node.clone(), net);
        }
        let out = Arc::new(out);
        m.cache = Some((start, Arc::clone(&out)));
        Ok(out)
    }

    /// Sends setpoints valid for one interval plus a margin.
    async fn send(&self, setpoints: Vec<(AssetPath, f64, Option<f64>)>) {
        let now = self.clock.now();
        let valid_until = interval_start(now, self.config.step) + self.config.step * 3 / 2;
        let valid_until = valid_until.max(now + TimeDelta::seconds(1));
        let mut msgs = Vec::with_capacity(setpoints.len());
        for (i, (asset, kw, cap)) in setpoints.iter().enumerate() {
            let id = format!("dispatch-{}-{i}", now.timestamp_millis());
            let (Ok(power), Ok(cid)) = (Kilowatts::new(*kw), CorrelationId::new(id)) else {
                continue;
            };
            match Setpoint::new(asset.clone(), power, now, valid_until, cid, None) {
                Ok(sp) => msgs.push(Message::Setpoint(SetpointMsg {
                    v: WIRE_VERSION,
                    setpoint: sp,
                    site_import_cap_kw: *cap,
                })),
                Err(e) => tracing::warn!(%asset, error = %e, "setpoint not built"),
            }
        }
        if let Err((sent, e)) = self.bus.publish_batch(&msgs).await {
            tracing::warn!(sent, error = %e, "setpoints not all sent");
        }
        let mut st = self.lock();
        for (asset, kw, _) in setpoints {
            st.reverts_at.insert(asset.clone(), valid_until);
            st.sent.insert(asset, (kw, now));
        }
    }
}

/// The state of charge a plan may use: from the reserve, if higher than the minimum, to the
/// maximum.
fn usable_soc(dev: &DeviceDescription) -> (f64, f64) {
    let floor = dev
        .soc_min
        .unwrap_or(0.0)
        .max(dev.soc_reserve.unwrap_or(0.0));
    (floor, dev.soc_max.unwrap_or(1.0))
}

/// Keeps the dispatcher's tasks alive.
#[derive(Debug)]
pub struct DispatchHandle {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for DispatchHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Start of the interval of `step` containing `t`.
fn interval_start(t: DateTime<Utc>, step: TimeDelta) -> DateTime<Utc> {
    let s = step.num_seconds().max(1);
    DateTime::from_timestamp(t.timestamp().div_euclid(s) * s, 0).unwrap_or(t)
}
