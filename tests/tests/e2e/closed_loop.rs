//! The closed loop over one real day in accelerated time: a simulated SunSpec fleet on Modbus
//! TCP whose sites follow the real home load and PV of `scenarios/data` (from
//! `../shared/data/emhass_home_load_pv_30min.csv`), the gateway with its site guard and site
//! meters, the in-process bus, the twins, forecasts of each site's net load from its metered
//! past (the meter data service's history, then the live meters), the optimiser and the
//! dispatcher, with an operator's peak target on the feeder. The dispatcher knows the sites
//! only through meters and twins; ground truth for the assertions comes from the simulator.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use vpp_api::dispatch_service::{DispatchConfig, DispatchService};
use vpp_api::fleet::FleetService;
use vpp_api::world::{self, SiteLoads};
use vpp_battery_sim::FaultKind;
use vpp_battery_sim::fleet::{ClockConfig, Fleet, FleetConfig, RunningFleet};
use vpp_dispatch::dispatch_loop::LoopConfig;
use vpp_dispatch::ports::NetLoadOracle;
use vpp_domain::{Clock, Level, NodePath};
use vpp_fleet::aggregate::AggregationConfig;
use vpp_fleet::twin::Thresholds;
use vpp_scenarios::embedded::{self as scenario, Block, PerfectForesight, Scenario};
use vpp_telemetry::bus::Bus;
use vpp_telemetry::gateway::{Gateway, GatewayConfig};
use vpp_telemetry::inproc::InProcessBus;

/// A battery of the threshold rule: capacity, max charge, max discharge, state-of-charge floor,
/// state-of-charge ceiling, state of charge.
type RuleBattery = (f64, f64, f64, f64, f64, f64);

/// Highest 15-minute average of a per-minute series (how demand peaks are billed), from
/// minute `from` on.
fn peak_15(per_minute: &[f64], from: usize) -> f64 {
    per_minute[from..]
        .chunks(15)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Import per minute over the day per site and for the feeder under a simple threshold rule:
/// each site's batteries discharge whatever the site imports above its average import and
/// charge from its PV surplus, within their ratings and state-of-charge limits. Battery
/// `lost` (site, index) stops at noon, as in the closed loop.
fn threshold_rule(
    scenario: &Scenario,
    start: DateTime<Utc>,
    sites: &[(Block, Vec<RuleBattery>)],
    lost: (usize, usize),
) -> (Vec<Vec<f64>>, Vec<f64>) {
    let minutes = 24 * 60;
    let mut feeder = vec![0.0; minutes];
    let mut out = Vec::new();
    for (site, (block, batteries)) in sites.iter().enumerate() {
        let load: Vec<f64> = (0..minutes)
            .map(|m| {
                scenario.block_net_load(
                    start + TimeDelta::minutes(m as i64),
                    block.first,
                    block.homes,
                )
            })
            .collect();
        let threshold = load.iter().map(|l| l.max(0.0)).sum::<f64>() / minutes as f64;
        let mut state: Vec<RuleBattery> = batteries.clone();
        let mut imports = Vec::with_capacity(minutes);
        for (m, l) in load.iter().enumerate() {
            let mut battery = 0.0;
            let mut need = l - threshold;
            let mut surplus = -l;
            for (k, (cap, ch, dis, lo, hi, soc)) in state.iter_mut().enumerate() {
                if (site, k) == lost && m >= 12 * 60 {
                    continue;
                }
                let dt = 1.0 / 60.0;
                if need > 0.0 {
                    let p = need.min(*dis).min((*soc - *lo).max(0.0) * *cap / dt * 0.95);
                    *soc -= p * dt / 0.95 / *cap;
                    battery += p;
                    need -= p;
                } else if surplus > 0.0 {
                    let p = surplus
                        .min(*ch)
                        .min((*hi - *soc).max(0.0) * *cap / dt / 0.95);
                    *soc += p * dt * 0.95 / *cap;
                    battery -= p;
                    surplus -= p;
                }
            }
            let import = l - battery;
            imports.push(import);
            feeder[m] += import;
        }
        out.push(imports);
    }
    (out, feeder)
}

/// The running parts of the loop.
struct Loop {
    _running: RunningFleet,
    fleet: Arc<Fleet>,
    clock: Arc<dyn Clock>,
    bus: Arc<dyn Bus>,
    twins: Arc<FleetService>,
    _gateway: Gateway,
    scenario: Arc<Scenario>,
    _driver: tokio::task::JoinHandle<()>,
}

/// A fleet of 4 sites × 2 batteries from `start` at `speed`, on Modbus TCP, with a gateway
/// polling every `poll_ms` of real time, the in-process bus, twins, and the scenario driving the sites' loads.
async fn start_loop(start: DateTime<Utc>, speed: f64, poll_ms: u64) -> Loop {
    let mut cfg = FleetConfig::new(4, 2, start);
    cfg.seed = 7;
    let fleet = Arc::new(Fleet::build(&cfg).unwrap());
    let clock_cfg = ClockConfig {
        speed,
        step: Duration::from_secs(5),
    };
    let running = RunningFleet::start(fleet, IpAddr::V4(Ipv4Addr::LOCALHOST), 0, clock_cfg)
        .await
        .unwrap();
    let fleet = Arc::clone(running.fleet());
    let clock: Arc<dyn Clock> = Arc::clone(&fleet) as _;
    let bus: Arc<dyn Bus> = Arc::new(InProcessBus::new(100_000));
    // Twin thresholds in simulated time, to match the polls.
    let poll_sim = TimeDelta::milliseconds((poll_ms as f64 * speed) as i64);
    let aggregation = AggregationConfig {
        thresholds: Thresholds {
            stale_after: TimeDelta::minutes(2).max(poll_sim * 4),
            offline_after: TimeDelta::minutes(4).max(poll_sim * 8),
            ..Thresholds::default()
        },
        half_life: TimeDelta::minutes(1),
    };
    let twins = Arc::new(FleetService::new(Arc::clone(&clock), aggregation))
        .follow(bus.as_ref())
        .await
        .unwrap();
    let mut gw = GatewayConfig::new(vpp_api::gateway_devices(&running));
    gw.poll_interval_ms = poll_ms;
    gw.request_timeout_ms = 200;
    gw.offline_retry_ms = 200;
    gw.fallback = vpp_api::site_meters(&running, 5.0);
    let gateway = Gateway::spawn(gw, Arc::clone(&bus), Arc::clone(&clock))
        .await
        .unwrap();
    let scenario = Arc::new(Scenario::embedded().unwrap());
    let driver = world::drive(
        Arc::clone(&fleet),
        SiteLoads::Scenario(Arc::clone(&scenario)),
        Duration::from_millis(5),
    );
    Loop {
        _running: running,
        fleet,
        clock,
        bus,
        twins,
        _gateway: gateway,
        scenario,
        _driver: driver,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_day_in_closed_loop_shaves_site_and_feeder_peaks_and_routes_around_a_lost_battery() {
    // Monday 2024-06-03, 00:00 at UTC+2: the scenario's first day.
    let start: DateTime<Utc> = "2024-06-02T22:00:00Z".parse().unwrap();
    // A day in about 96 s.
    // Polls every 10 ms: 9 s simulated, so the site guard sees a spike within seconds.
    let l = start_loop(start, 900.0, 10).await;
    let (fleet, clock, bus, twins, scenario) = (
        Arc::clone(&l.fleet),
        Arc::clone(&l.clock),
        Arc::clone(&l.bus),
        Arc::clone(&l.twins),
        Arc::clone(&l.scenario),
    );
    let sites = scenario::sites(&fleet);
    let feeder: NodePath = fleet
        .devices()
        .next()
        .unwrap()
        .asset()
        .ancestor(Level::Feeder);

    // Baseline without batteries, from the scenario at 1-minute resolution.
    let minutes = 24 * 60;
    let at = |m: usize| start + TimeDelta::minutes(m as i64);
    let base_site_minutes: Vec<Vec<f64>> = sites
        .iter()
        .map(|b| {
            (0..minutes)
                .map(|m| scenario.block_net_load(at(m), b.first, b.homes))
                .collect()
        })
        .collect();
    let base_feeder_minutes: Vec<f64> = (0..minutes)
        .map(|m| base_site_minutes.iter().map(|v| v[m]).sum())
        .collect();
    let specs: Vec<(Block, Vec<RuleBattery>)> = fleet
        .sites()
        .iter()
        .zip(&sites)
        .map(|(s, block)| {
            let bs = s
                .devices()
                .iter()
                .map(|d| {
                    let b = d.lock();
                    let sp = b.spec();
                    (
                        sp.capacity().get(),
                        sp.max_charge().get(),
                        sp.max_discharge().get(),
                        sp.soc_min().get().max(sp.soc_reserve().get()),
                        sp.soc_max().get(),
                        b.state().soc(sp).get(),
                    )
                })
                .collect();
            (block.clone(), bs)
        })
        .collect();
    // The battery that goes silent at noon: the first of the second site.
    let lost = fleet.sites()[1].devices()[0].asset().clone();
    let (rule_sites, rule_feeder_minutes) = threshold_rule(&scenario, start, &specs, (1, 0));

    // Prices: the scenario's published tariff. Net loads: forecasts from the sites' metered
    // past only (no oracle).
    let dispatch = DispatchService::new(
        Arc::clone(&twins),
        Arc::clone(&bus),
        Arc::clone(&clock),
        Arc::clone(&scenario) as _,
        None,
        DispatchConfig {
            plan: LoopConfig {
                step: TimeDelta::minutes(15),
                horizon_steps: 48,
                window_days: 28,
                ..LoopConfig::default()
            },
            tick: Duration::from_millis(10),
        },
    );
    // The operator caps the feeder at 80 % of its day's peak without batteries.
    let target = 0.8 * peak_15(&base_feeder_minutes, 0);
    dispatch.set_target(feeder.clone(), Some(target)).unwrap();
    let _tasks = dispatch.spawn().await.unwrap();
    // The meter data service tells the control plane the sites' last 28 days.
    world::publish_meter_history(
        bus.as_ref(),
        clock.as_ref(),
        &scenario,
        &sites,
        TimeDelta::minutes(15),
        28,
    )
    .await
    .unwrap();

    let end = start + TimeDelta::hours(24);
    let mut fault_at: Option<DateTime<Utc>> = None;
    let mut rerouted_at: Option<DateTime<Utc>> = None;
    // Measured import per simulated minute: (sum, count) per site.
    let mut site_minutes = vec![vec![(0.0, 0_u32); minutes]; sites.len()];
    let mut violations = Vec::new();
    let mut samples = 0;
    let mut assumed: BTreeMap<DateTime<Utc>, f64> = BTreeMap::new();
    let mut first_plan: Option<DateTime<Utc>> = None;
    let mut plan_errors: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    while clock.now() < end {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = clock.now();
        samples += 1;
        let minute = ((now - start).num_seconds() / 60).clamp(0, minutes as i64 - 1) as usize;
        for (k, s) in fleet.sites().iter().enumerate() {
            let import = s.import().get();
            site_minutes[k][minute].0 += import;
            site_minutes[k][minute].1 += 1;
            for d in s.devices() {
                let b = d.lock();
                let p = b.state().power.get();
                let sp = b.spec();
                if p > sp.max_discharge().get() + 1e-9 || -p > sp.max_charge().get() + 1e-9 {
                    violations.push((d.asset().to_string(), p));
                }
            }
        }

        // Noon: one battery goes silent on Modbus.
        if fault_at.is_none() && now >= start + TimeDelta::hours(12) {
            fleet
                .device(&lost)
                .unwrap()
                .lock()
                .set_fault(FaultKind::Offline, Duration::ZERO);
            fault_at = Some(now);
        }
        if let Some(e) = dispatch.last_error() {
            plan_errors.entry(e).or_insert(now);
        }
        // What each plan assumed of the first site's net load in its first interval.
        if let Some(plan) = dispatch.node_plan(&NodePath::root())
            && let Some(v) = plan.site_net_load_kw.get(&sites[0].node.to_string())
        {
            assert_eq!(plan.foresight, "forecast");
            assumed.insert(plan.start, v[0]);
            first_plan.get_or_insert(plan.issued_at);
        }
        if let (Some(f), None) = (fault_at, rerouted_at)
            && let Some(plan) = dispatch.node_plan(&NodePath::root())
            && plan.issued_at > f
            && !plan.setpoints.contains_key(lost.as_str())
            && !plan.battery_power_kw.contains_key(lost.as_str())
        {
            rerouted_at = Some(plan.issued_at);
        }
    }
    assert!(samples > 1000, "sampled {samples} times");
    // A failed plan leaves the batteries on their last setpoints, then idle, for a second of
    // real time: fifteen simulated minutes.
    assert!(plan_errors.is_empty(), "planning failed: {plan_errors:?}");
    // The plans forecast: they did not see the future (the first site's load is off by more
    // than 0.5 kW in some interval) yet follow it on the whole.
    let errors: Vec<f64> = assumed
        .iter()
        .map(|(at, kw)| {
            let real = scenario.load_horizon(
                *at,
                TimeDelta::minutes(15),
                1,
                sites[0].first,
                sites[0].homes,
            )[0];
            (kw - real).abs()
        })
        .collect();
    let mae = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
    eprintln!(
        "site 0 forecast: {} intervals, MAE {mae:.2} kW, worst {:.2} kW",
        errors.len(),
        errors.iter().copied().fold(0.0, f64::max)
    );
    assert!(errors.len() > 80, "{} plans seen", errors.len());
    assert!(
        errors.iter().any(|e| *e > 0.5),
        "a forecast that never misses is foresight"
    );
    // A site meter measures net load only: the plans forecast load − PV as one series (no
    // separate PV model with its intraday update), which misses more than the load and PV
    // models did on the scenario's own split series.
    // FIXME: the net-load forecast misses more than the separate load and PV models did (the
    // figures are in README); the forecasting issue owns a model for net series.
    assert!(mae < 2.5, "forecast MAE {mae} kW");
    // Minutes without a sample (a busy machine) take the previous minute's average.
    let mut measured: Vec<Vec<f64>> = Vec::new();
    for site in &site_minutes {
        let mut last = 0.0;
        measured.push(
            site.iter()
                .map(|(sum, n)| {
                    if *n > 0 {
                        last = sum / f64::from(*n);
                    }
                    last
                })
                .collect(),
        );
    }
    // Peaks are compared from the first whole interval with the dispatcher's setpoints in
    // force, and not before 00:30 (twins fill, first plans): until its first plan, which
    // comes a few simulated minutes into the day or more on a busy machine (a real second is
    // fifteen minutes here), the batteries idle.
    let first_plan = first_plan.expect("a plan");
    // The first whole interval after the first plan (the billing period's first, too).
    let counted = (((first_plan - start).num_minutes() / 15 + 1) * 15) as usize;
    let from = counted.max(30);
    eprintln!("first plan at {first_plan}: peaks compared from minute {from}");
    let base_site: Vec<f64> = base_site_minutes.iter().map(|v| peak_15(v, from)).collect();
    let base_feeder = peak_15(&base_feeder_minutes, from);
    let rule_site: Vec<f64> = rule_sites.iter().map(|v| peak_15(v, from)).collect();
    let rule_feeder = peak_15(&rule_feeder_minutes, from);
    let site_peak: Vec<f64> = measured.iter().map(|v| peak_15(v, from)).collect();
    // The peaks so far the last plan was billed on are the sites' metered peaks: each site's
    // highest quarter-hour import from the first whole interval after the first plan to the
    // last plan's start.
    let last = dispatch.node_plan(&NodePath::root()).expect("a plan");
    let until = ((last.start - start).num_minutes() as usize).min(minutes);
    for (k, b) in sites.iter().enumerate() {
        let metered = peak_15(&measured[k][..until], counted).max(0.0);
        let billed = last.site_peak_so_far_kw.get(&b.node.to_string()).copied();
        eprintln!("site {k}: billed on {billed:?} kW, metered {metered:.3} kW");
        let billed = billed.expect("every site has a peak so far");
        assert!(
            (billed - metered).abs() <= 0.05 + 0.02 * metered,
            "site {k}: billed on {billed} kW, metered {metered} kW"
        );
    }
    let feeder_minutes: Vec<f64> = (0..minutes)
        .map(|m| measured.iter().map(|v| v[m]).sum())
        .collect();
    let feeder_peak = peak_15(&feeder_minutes, from);
    assert!(
        violations.is_empty(),
        "device limits exceeded: {violations:?}"
    );

    let delay = rerouted_at.expect("a plan without the lost battery") - fault_at.unwrap();
    assert!(
        delay <= TimeDelta::minutes(15),
        "re-dispatched {delay} after the loss (one interval is 15 min)"
    );

    let when = |v: &[f64]| {
        let (k, _) = v[from..]
            .chunks(15)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .enumerate()
            .fold(
                (0, f64::NEG_INFINITY),
                |a, (k, x)| if x > a.1 { (k, x) } else { a },
            );
        let m = from + 15 * k;
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    eprintln!(
        "peaks at (minutes of the day): sites {:?}, rule {:?}; batteries {specs:?}",
        measured.iter().map(|v| when(v)).collect::<Vec<_>>(),
        rule_sites.iter().map(|v| when(v)).collect::<Vec<_>>()
    );
    eprintln!(
        "feeder peak {feeder_peak:.2} kW (target {target:.2}, no batteries {base_feeder:.2}, threshold rule {rule_feeder:.2}); sites {site_peak:.2?} (no batteries {base_site:.2?}, rule {rule_site:.2?})"
    );
    assert!(
        feeder_peak < base_feeder,
        "feeder {feeder_peak} vs baseline {base_feeder}"
    );
    assert!(
        feeder_peak < rule_feeder,
        "feeder {feeder_peak} vs rule {rule_feeder}"
    );
    // Every site over the whole day, the one that loses a battery at noon included (the silent
    // battery keeps its last setpoint until its revert time; the rule's copy simply stops).
    for k in 0..sites.len() {
        assert!(
            site_peak[k] < base_site[k],
            "site {k}: {} vs baseline {}",
            site_peak[k],
            base_site[k]
        );
        // Site 0 meets the night's 7.2 kW spike, which nothing in its 28 days of history
        // announces, and an evening spike of 6.3 kW: the rule meets the second with the
        // batteries the first emptied; the plans recharge them during the day, up to the peak
        // the night already set (the billing period's), which costs nothing more.
        let (ours, rule) = (site_peak[k], rule_site[k]);
        assert!(ours < rule, "site {k}: {ours} vs rule {rule}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_battery_that_acks_but_does_not_follow_is_planned_around() {
    // 21:00 local, the home's evening load.
    let start: DateTime<Utc> = "2024-06-03T19:00:00Z".parse().unwrap();
    // Polls every 100 ms: 6 s simulated, more than the simulator's 5 s step (faster polls of
    // an idle battery read identical values and flag it stale).
    let l = start_loop(start, 60.0, 100).await;
    let stuck = l.fleet.sites()[0].devices()[0].asset().clone();
    // It accepts every write and keeps the power it had (idle).
    l.fleet
        .device(&stuck)
        .unwrap()
        .lock()
        .set_fault(FaultKind::Stuck, Duration::ZERO);
    // What is tested is the response watch, not the forecast: plan on the real load.
    let oracle: Arc<dyn NetLoadOracle> = Arc::new(PerfectForesight::new(
        Arc::clone(&l.scenario),
        scenario::sites(&l.fleet),
    ));
    let dispatch = DispatchService::new(
        Arc::clone(&l.twins),
        Arc::clone(&l.bus),
        Arc::clone(&l.clock),
        Arc::clone(&l.scenario) as _,
        Some(oracle),
        DispatchConfig {
            tick: Duration::from_millis(10),
            ..DispatchConfig::default()
        },
    );
    let _tasks = dispatch.spawn().await.unwrap();
    // Within an hour of simulated time (one minute real): the dispatcher has asked it for power,
    // seen it not follow, and planned without it.
    let deadline = start + TimeDelta::hours(1);
    let mut asked = false;
    let mut planned_around = false;
    while l.clock.now() < deadline && !planned_around {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Some(plan) = dispatch.node_plan(&NodePath::root()) {
            asked |= plan
                .setpoints
                .get(stuck.as_str())
                .is_some_and(|p| p.abs() > 1.0);
            planned_around = plan.unresponsive.contains_key(stuck.as_str())
                && !plan.setpoints.contains_key(stuck.as_str());
        }
    }
    assert!(
        asked,
        "the stuck battery was asked for more than 1 kW at some point"
    );
    let last = dispatch.node_plan(&NodePath::root()).map(|p| {
        (
            p.setpoints.get(stuck.as_str()).copied(),
            p.unresponsive.clone(),
        )
    });
    let measured = l.fleet.device(&stuck).unwrap().lock().state().power.get();
    assert!(
        planned_around,
        "the stuck battery was planned around within an hour (last plan: {last:?}, measured {measured})"
    );
}
