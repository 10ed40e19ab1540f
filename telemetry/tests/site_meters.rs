//! Site meters on the bus: the gateway against a simulated fleet on real Modbus TCP sockets,
//! over the in-process bus, publishes every site meter's reading as telemetry (kind
//! `site_meter`) whose power is the site's import and whose counters follow it; an endpoint
//! without a meter, or whose meter has no valid asset path, publishes its batteries only and
//! keeps polling them at full pace.

// Test code: a failure is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use vpp_battery_sim::FaultKind;
use vpp_battery_sim::fleet::{BaseChoice, ClockConfig, Fleet, FleetConfig, RunningFleet};
use vpp_domain::{AssetPath, Clock, Kilowatts, Level};
use vpp_telemetry::bus::{Bus, Delivery, Subscription, Topic};
use vpp_telemetry::gateway::{DeviceConfig, Gateway, GatewayConfig};
use vpp_telemetry::inproc::InProcessBus;
use vpp_telemetry::wire::{AssetKind, Message, TelemetryMsg, site_meter_asset};

/// A paused fleet served on loopback sockets (its clock moves only when a test advances it).
async fn fleet(sites: usize, per_site: u8) -> RunningFleet {
    let mut cfg = FleetConfig::new(
        sites,
        per_site,
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
    );
    cfg.base = BaseChoice::Mixed;
    cfg.seed = 21;
    cfg.ramp_full_scale_s = None;
    let fleet = Arc::new(Fleet::build(&cfg).unwrap());
    let clock = ClockConfig {
        speed: 0.0,
        step: Duration::from_secs(1),
    };
    RunningFleet::start(fleet, IpAddr::V4(Ipv4Addr::LOCALHOST), 0, clock)
        .await
        .unwrap()
}

fn devices(running: &RunningFleet) -> Vec<DeviceConfig> {
    running
        .devices()
        .into_iter()
        .map(|d| DeviceConfig {
            asset: d.asset,
            host: d.host,
            port: d.port,
            unit_id: d.unit_id,
        })
        .collect()
}

/// A gateway polling every 50 ms with the simulated clock as its clock, and its telemetry.
async fn gateway(running: &RunningFleet, config: GatewayConfig) -> (Gateway, Subscription) {
    let bus = Arc::new(InProcessBus::new(65_536));
    let telemetry = bus.subscribe(Topic::Telemetry).await.unwrap();
    let config = GatewayConfig {
        poll_interval_ms: 50,
        request_timeout_ms: 200,
        offline_retry_ms: 200,
        ..config
    };
    let clock: Arc<dyn Clock> = Arc::clone(running.fleet()) as _;
    let gw = Gateway::spawn(config, bus, clock).await.unwrap();
    (gw, telemetry)
}

async fn next_telemetry(sub: &mut Subscription) -> TelemetryMsg {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
            Ok(Some(Delivery::Message(Message::Telemetry(t)))) => return t,
            Ok(Some(_)) => {}
            other => panic!("expected telemetry within 10 s, got {other:?}"),
        }
    }
}

/// The first sample of each of `meters` measured at or after `t`.
async fn meter_samples_at(
    sub: &mut Subscription,
    meters: &[AssetPath],
    t: DateTime<Utc>,
) -> BTreeMap<AssetPath, TelemetryMsg> {
    let mut seen = BTreeMap::new();
    while seen.len() < meters.len() {
        let m = next_telemetry(sub).await;
        let asset = m.sample.asset().clone();
        if meters.contains(&asset) && m.sample.measured_at() >= t {
            seen.entry(asset).or_insert(m);
        }
    }
    seen
}

fn meter_of(site: &str) -> AssetPath {
    site_meter_asset(&site.parse().unwrap()).unwrap()
}

fn kw(v: f64) -> Kilowatts {
    Kilowatts::new(v).unwrap()
}

#[tokio::test]
async fn every_site_meter_reports_the_sites_import_as_site_meter_telemetry() {
    let running = fleet(3, 2).await;
    let sim = Arc::clone(running.fleet());
    let loads = [2.5, -1.75, 0.0];
    for (site, load) in sim.sites().iter().zip(loads) {
        site.set_load(kw(load));
    }
    let (gw, mut telemetry) = gateway(&running, GatewayConfig::new(devices(&running))).await;
    let meters: Vec<AssetPath> = sim.sites().iter().map(|s| meter_of(s.name())).collect();
    assert_eq!(
        meters[0].to_string(),
        "r01/sub001/f0001/site00001/site00001-meter"
    );

    let seen = meter_samples_at(&mut telemetry, &meters, sim.now()).await;
    for (site, meter) in sim.sites().iter().zip(&meters) {
        let t = &seen[meter];
        assert_eq!(t.kind, AssetKind::SiteMeter, "{meter}");
        assert!(!t.stale);
        assert_eq!(meter.ancestor(Level::Site).to_string(), site.name());
        let r = t.sample.readings();
        let power = r.power.unwrap().get();
        assert!(
            (power - site.import().get()).abs() < 1e-3,
            "{meter}: {power} for {}",
            site.import()
        );
        assert_eq!(r.soc, None);
        // Nothing counted yet: SunSpec's "not accumulated", never a number.
        assert_eq!((r.energy_absorbed, r.energy_injected), (None, None));
    }
    // Batteries keep their kind, and every meter reading grows its measurement id.
    let mut last: BTreeMap<AssetPath, u64> = BTreeMap::new();
    for _ in 0..60 {
        let t = next_telemetry(&mut telemetry).await;
        let asset = t.sample.asset().clone();
        if meters.contains(&asset) {
            if let Some(prev) = last.insert(asset, t.sample.seq()) {
                assert!(t.sample.seq() > prev, "seq grows");
            }
        } else {
            assert_eq!(t.kind, AssetKind::Battery);
            assert!(sim.device(&asset).is_some(), "{asset}");
        }
    }
    assert_eq!(last.len(), meters.len(), "every meter, every round");
    assert!(
        gw.stats()
            .meter_samples
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 6
    );
}

#[tokio::test]
async fn meter_counters_grow_with_the_import_over_simulated_time() {
    let running = fleet(2, 2).await;
    let sim = Arc::clone(running.fleet());
    let sites = sim.sites().to_vec();
    let (_gw, mut telemetry) = gateway(&running, GatewayConfig::new(devices(&running))).await;
    let meters: Vec<AssetPath> = sites.iter().map(|s| meter_of(s.name())).collect();

    // A first stretch the other way round, so both counters of both sites hold a count.
    sites[0].set_load(kw(-2.0));
    sites[1].set_load(kw(1.5));
    for _ in 0..10 {
        sim.advance(Duration::from_secs(60));
    }
    // Then a constant load each: the first site imports, the second exports.
    let import = [3.0, -2.5];
    for (site, load) in sites.iter().zip(import) {
        site.set_load(kw(load));
    }
    sim.advance(Duration::from_secs(60));
    let t1 = sim.now();
    let first = meter_samples_at(&mut telemetry, &meters, t1).await;
    for _ in 0..60 {
        sim.advance(Duration::from_secs(60));
    }
    let t2 = sim.now();
    let second = meter_samples_at(&mut telemetry, &meters, t2).await;

    let hours = (t2 - t1).as_seconds_f64() / 3600.0;
    for (k, (site, meter)) in sites.iter().zip(&meters).enumerate() {
        assert_eq!(site.import().get(), import[k], "idle batteries");
        let (a, b) = (
            first[meter].sample.readings(),
            second[meter].sample.readings(),
        );
        assert_eq!(a.power.unwrap().get(), import[k]);
        let kwh = |r: &vpp_domain::Readings| {
            (
                r.energy_absorbed.unwrap().get(),
                r.energy_injected.unwrap().get(),
            )
        };
        let ((imp1, exp1), (imp2, exp2)) = (kwh(a), kwh(b));
        let mean = ((imp2 - imp1) - (exp2 - exp1)) / hours;
        assert!(
            (mean - import[k]).abs() <= 0.02 * import[k].abs(),
            "{meter}: {mean} kW from the counters, {} kW imported",
            import[k]
        );
        // What the meter served is the simulator's count, to the counter's resolution.
        let unit_kwh = 10f64.powi(i32::from(site.meter_wh_sf())) / 1000.0;
        let truth = site.meter_energy();
        assert!(imp2 <= truth.imported.get() && truth.imported.get() - imp2 < unit_kwh);
        assert!(exp2 <= truth.exported.get() && truth.exported.get() - exp2 < unit_kwh);
    }
}

#[tokio::test]
async fn endpoints_without_a_meter_or_a_meter_path_publish_their_batteries_at_full_pace() {
    let running = fleet(2, 3).await;
    let sim = Arc::clone(running.fleet());
    let mut devices = devices(&running);
    // The first site's meter unit is a battery that does not answer: each look for the meter
    // there waits out three request timeouts. The gateway polls the first site's units 1 and 2.
    devices.retain(|d| d.unit_id != 3);
    sim.sites()[0]
        .device(3)
        .unwrap()
        .lock()
        .set_fault(FaultKind::Offline, Duration::ZERO);
    // The second site's batteries under a site token too long for a meter's leaf.
    let long_site = "s".repeat(60);
    for d in devices.iter_mut().filter(|d| d.asset.site() == "site00002") {
        let leaf = d.asset.asset().to_owned();
        d.asset = format!("r01/sub001/f0001/{long_site}/{leaf}")
            .parse()
            .unwrap();
    }
    let config = GatewayConfig {
        meter_unit: 3,
        ..GatewayConfig::new(devices.clone())
    };
    let (gw, mut telemetry) = gateway(&running, config).await;

    let watched = devices[0].asset.clone();
    let mut per_asset: BTreeMap<AssetPath, usize> = BTreeMap::new();
    // Past the first look for the meter, then two seconds of 50 ms rounds.
    while per_asset.get(&watched).copied().unwrap_or(0) < 2 {
        let t = next_telemetry(&mut telemetry).await;
        *per_asset.entry(t.sample.asset().clone()).or_default() += 1;
    }
    while telemetry.try_next().is_some() {}
    per_asset.clear();
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < until {
        if let Ok(Some(Delivery::Message(Message::Telemetry(t)))) =
            tokio::time::timeout(Duration::from_millis(100), telemetry.next()).await
        {
            assert_eq!(t.kind, AssetKind::Battery, "no meter telemetry");
            *per_asset.entry(t.sample.asset().clone()).or_default() += 1;
        }
    }
    assert_eq!(per_asset.len(), devices.len(), "{per_asset:?}");
    // A look for the meter every round would leave a few polls in two seconds.
    let polls = per_asset[&watched];
    assert!(polls >= 12, "{polls} polls of {watched} in 2 s");
    assert_eq!(
        gw.stats()
            .meter_samples
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn site_meters_can_be_switched_off() {
    let running = fleet(1, 1).await;
    let config = GatewayConfig {
        site_meters: false,
        ..GatewayConfig::new(devices(&running))
    };
    let (gw, mut telemetry) = gateway(&running, config).await;
    for _ in 0..10 {
        assert_eq!(
            next_telemetry(&mut telemetry).await.kind,
            AssetKind::Battery
        );
    }
    assert_eq!(
        gw.stats()
            .meter_samples
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}
