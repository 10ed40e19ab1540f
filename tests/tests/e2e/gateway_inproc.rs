//! The gateway against a simulated fleet on real Modbus TCP sockets, over the in-process bus:
//! discovery, registration, telemetry with the simulator's values (site meters included),
//! setpoints to registers, clamping, rejection, offline devices and reset bursts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use vpp_battery_sim::FaultKind;
use vpp_domain::{AssetPath, Kilowatts};
use vpp_telemetry::inproc::InProcessBus;
use vpp_telemetry::wire::{AckOutcome, AssetKind, EventKind, Message, TelemetryMsg};

use crate::rig::{Rig, next_msg, setpoint, until};

async fn rig(sites: usize, per_site: u8) -> Rig {
    crate::rig::rig(sites, per_site, Arc::new(InProcessBus::new(65_536))).await
}

#[tokio::test]
async fn every_device_registers_and_reports_the_simulators_values() {
    let mut r = rig(2, 3).await;
    let fleet = Arc::clone(r.running.fleet());
    let assets: BTreeSet<AssetPath> = fleet.devices().map(|d| d.asset().clone()).collect();

    let mut registered = BTreeMap::new();
    while registered.len() < assets.len() {
        if let Message::Event(e) = next_msg(&mut r.events).await
            && let EventKind::Registration { device } = e.kind
        {
            registered.insert(e.asset.unwrap(), device);
        }
    }
    for (asset, desc) in &registered {
        let b = fleet.device(asset).unwrap().lock();
        let spec = b.spec();
        assert_eq!(desc.capacity_kwh, Some(spec.capacity().get()), "{asset}");
        assert_eq!(desc.max_discharge_kw, Some(spec.max_discharge().get()));
        assert_eq!(desc.max_charge_kw, Some(spec.max_charge().get()));
        assert_eq!(desc.serial.as_deref(), Some(b.identity().serial.as_str()));
        assert_eq!(desc.soc_reserve, Some(spec.soc_reserve().get()));
    }

    let mut seen: BTreeMap<AssetPath, TelemetryMsg> = BTreeMap::new();
    let mut meters: BTreeMap<AssetPath, TelemetryMsg> = BTreeMap::new();
    while seen.len() < assets.len() || meters.len() < fleet.sites().len() {
        if let Message::Telemetry(t) = next_msg(&mut r.telemetry).await {
            match t.kind {
                AssetKind::Battery => seen.insert(t.sample.asset().clone(), t),
                AssetKind::SiteMeter => meters.insert(t.sample.asset().clone(), t),
            };
        }
    }
    // Every site's meter, under `<site>/<site token>-meter`, with the site's import (the
    // clock is paused: nothing moves between the read and this check).
    for site in fleet.sites() {
        let meter = vpp_telemetry::wire::site_meter_asset(&site.name().parse().unwrap()).unwrap();
        let t = &meters[&meter];
        let power = t.sample.readings().power.unwrap().get();
        assert!(
            (power - site.import().get()).abs() < 1e-3,
            "{meter}: {power}"
        );
        assert_eq!(t.sample.readings().soc, None);
        assert!(!t.stale);
    }
    for (asset, t) in &seen {
        let b = fleet.device(asset).unwrap().lock();
        let r = t.sample.readings();
        assert_eq!(r.power.map(|p| p.get()), Some(b.state().power.get()));
        let soc = r.soc.unwrap().get();
        assert!(
            (soc - b.state().soc(b.spec()).get()).abs() <= 5e-5,
            "{asset}: {soc}"
        );
        assert!(!t.stale);
    }
}

#[tokio::test]
async fn a_setpoint_on_the_bus_reaches_the_registers_and_moves_the_power() {
    let mut r = rig(1, 2).await;
    let fleet = Arc::clone(r.running.fleet());
    let asset = fleet.sites()[0].device(2).unwrap().asset().clone();
    // Wait for the device to be online.
    until(&mut r.events, |m| match m {
        Message::Event(e) if e.asset.as_ref() == Some(&asset) && e.kind == EventKind::Connect => {
            Some(())
        }
        _ => None,
    })
    .await;
    r.bus.publish(setpoint(&asset, -1.5, "sp-1")).await.unwrap();
    let ack = until(&mut r.acks, |m| match m {
        Message::Ack(a) if a.correlation_id.as_str() == "sp-1" => Some(a),
        _ => None,
    })
    .await;
    match ack.outcome {
        AckOutcome::Written {
            power_kw,
            revert_after_s,
            clamped,
        } => {
            assert_eq!(power_kw.get(), -1.5);
            assert!((59..=60).contains(&revert_after_s), "{revert_after_s}");
            assert!(!clamped);
        }
        other => panic!("not written: {other:?}"),
    }
    fleet.advance(Duration::from_secs(1));
    let b = fleet.device(&asset).unwrap().lock();
    assert_eq!(b.state().power.get(), -1.5);
    assert!(b.controls().revert_after_s >= 59);
}

#[tokio::test]
async fn out_of_range_setpoints_are_clamped_and_unknown_assets_rejected() {
    let mut r = rig(1, 1).await;
    let fleet = Arc::clone(r.running.fleet());
    let asset = fleet.sites()[0].device(1).unwrap().asset().clone();
    let max = fleet
        .device(&asset)
        .unwrap()
        .lock()
        .spec()
        .max_discharge()
        .get();
    until(&mut r.events, |m| match m {
        Message::Event(e) if e.kind == EventKind::Connect => Some(()),
        _ => None,
    })
    .await;

    r.bus
        .publish(setpoint(&asset, max * 10.0, "big"))
        .await
        .unwrap();
    let ack = until(&mut r.acks, |m| match m {
        Message::Ack(a) if a.correlation_id.as_str() == "big" => Some(a),
        _ => None,
    })
    .await;
    assert_eq!(
        ack.outcome,
        AckOutcome::Written {
            power_kw: Kilowatts::new(max).unwrap(),
            revert_after_s: match ack.outcome {
                AckOutcome::Written { revert_after_s, .. } => revert_after_s,
                _ => 0,
            },
            clamped: true
        }
    );
    let applied = until(&mut r.events, |m| match m {
        Message::Event(e) => match e.kind {
            EventKind::SetpointClamped { applied_kw, .. } => Some(applied_kw),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(applied.get(), max);
    fleet.advance(Duration::from_secs(2));
    assert_eq!(
        fleet.device(&asset).unwrap().lock().state().power.get(),
        max
    );

    // Same site, asset the gateway does not serve.
    let ghost: AssetPath = format!("{}/ghost", fleet.sites()[0].name())
        .parse()
        .unwrap();
    r.bus.publish(setpoint(&ghost, 1.0, "ghost")).await.unwrap();
    let ack = until(&mut r.acks, |m| match m {
        Message::Ack(a) if a.correlation_id.as_str() == "ghost" => Some(a),
        _ => None,
    })
    .await;
    assert!(
        matches!(ack.outcome, AckOutcome::Rejected { ref reason } if reason.contains("unknown asset"))
    );
}

#[tokio::test]
async fn an_offline_device_gives_a_disconnect_event_and_no_fabricated_values() {
    let mut r = rig(1, 2).await;
    let fleet = Arc::clone(r.running.fleet());
    let dead = fleet.sites()[0].device(1).unwrap().asset().clone();
    let alive = fleet.sites()[0].device(2).unwrap().asset().clone();
    until(&mut r.telemetry, |m| match m {
        Message::Telemetry(t) if t.sample.asset() == &dead => Some(()),
        _ => None,
    })
    .await;
    fleet
        .device(&dead)
        .unwrap()
        .lock()
        .set_fault(FaultKind::Offline, Duration::ZERO);
    until(&mut r.events, |m| match m {
        Message::Event(e)
            if e.asset.as_ref() == Some(&dead)
                && matches!(e.kind, EventKind::Disconnect { .. }) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;
    // Drain what was published before the disconnect, then watch a while: the neighbour keeps
    // reporting, the dead device says nothing.
    while r.telemetry.try_next().is_some() {}
    let mut from_alive = 0;
    let mut batteries = 0;
    while batteries < 10 {
        if let Message::Telemetry(t) = next_msg(&mut r.telemetry).await
            && t.kind == AssetKind::Battery
        {
            assert_ne!(t.sample.asset(), &dead, "no values for an offline device");
            from_alive += usize::from(t.sample.asset() == &alive);
            batteries += 1;
        }
    }
    assert!(from_alive >= 5);
    // Its retries back off (each may hold the endpoint for the 200 ms request timeout): from
    // 200 ms, doubling, to 1.6 s; over 3 s at most five failures where a retry every 200 ms
    // would make seven or eight. A slow machine makes fewer.
    let errors = || {
        r.gateway
            .stats()
            .poll_errors
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    let before = errors();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let failed = errors() - before;
    assert!((1..=5).contains(&failed), "{failed} failed polls in 3 s");

    // Back online: a connect event, then telemetry again.
    fleet
        .device(&dead)
        .unwrap()
        .lock()
        .set_fault(FaultKind::Healthy, Duration::ZERO);
    until(&mut r.events, |m| match m {
        Message::Event(e) if e.asset.as_ref() == Some(&dead) && e.kind == EventKind::Connect => {
            Some(())
        }
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn a_reset_burst_reports_missing_values_and_stale_devices_are_flagged() {
    let mut r = rig(1, 1).await;
    let fleet = Arc::clone(r.running.fleet());
    let asset = fleet.sites()[0].device(1).unwrap().asset().clone();
    until(&mut r.telemetry, |m| {
        matches!(m, Message::Telemetry(_)).then_some(())
    })
    .await;

    fleet
        .device(&asset)
        .unwrap()
        .lock()
        .set_fault(FaultKind::ResetBurst, Duration::from_secs(3600));
    while r.telemetry.try_next().is_some() {}
    until(&mut r.telemetry, |m| match m {
        Message::Telemetry(t) if t.sample.readings().power.is_none() => {
            assert_eq!(
                t.sample.readings().soc,
                None,
                "no value is invented during a burst"
            );
            Some(())
        }
        _ => None,
    })
    .await;

    // Stale: frozen values and heartbeat while the clock runs.
    fleet
        .device(&asset)
        .unwrap()
        .lock()
        .set_fault(FaultKind::Stale, Duration::ZERO);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let ticker = {
        let fleet = Arc::clone(&fleet);
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                fleet.advance(Duration::from_secs(1));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    while r.telemetry.try_next().is_some() {}
    until(&mut r.telemetry, |m| match m {
        Message::Telemetry(t) if t.stale && t.sample.readings().power.is_some() => Some(()),
        _ => None,
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    ticker.await.unwrap();
}

#[tokio::test]
async fn a_device_answering_exceptions_gives_fault_events_and_no_values() {
    // A gateway config that names a unit the site does not have: the site answers every
    // request for it with exception 0x0B.
    let mut r = rig(1, 1).await;
    let fleet = Arc::clone(r.running.fleet());
    let info = &r.running.devices()[0];
    let ghost: AssetPath = format!("{}/bat099", fleet.sites()[0].name())
        .parse()
        .unwrap();
    let config = vpp_telemetry::gateway::GatewayConfig {
        poll_interval_ms: 50,
        request_timeout_ms: 200,
        offline_retry_ms: 100,
        ..vpp_telemetry::gateway::GatewayConfig::new(vec![vpp_telemetry::gateway::DeviceConfig {
            asset: ghost.clone(),
            host: info.host,
            port: info.port,
            unit_id: 99,
        }])
    };
    let _second = vpp_telemetry::gateway::Gateway::spawn(
        config,
        Arc::clone(&r.bus),
        Arc::new(vpp_telemetry::gateway::SystemClock),
    )
    .await
    .unwrap();
    let reason = until(&mut r.events, |m| match m {
        Message::Event(e) if e.asset.as_ref() == Some(&ghost) => match e.kind {
            EventKind::Fault { reason } => Some(reason),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert!(reason.contains("GatewayTargetDevice"), "{reason}");
    // Telemetry keeps coming for the real device, never for the ghost.
    crate::rig::assert_no_telemetry_from(&mut r.telemetry, &ghost, 10).await;
}

/// A setpoint carrying a site import cap, valid for 60 s from now.
fn capped(asset: &AssetPath, kw: f64, cap: f64, id: &str) -> Message {
    match setpoint(asset, kw, id) {
        Message::Setpoint(mut sp) => {
            sp.site_import_cap_kw = Some(cap);
            Message::Setpoint(sp)
        }
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn the_site_guard_holds_the_cap_over_the_setpoints_and_lets_go_when_the_load_falls() {
    let bus = Arc::new(InProcessBus::new(65_536));
    let mut r = crate::rig::rig_with(1, 2, bus, |gw, fleet| {
        gw.fallback.push(vpp_telemetry::gateway::SiteFallback {
            site: fleet.sites()[0].name().parse().unwrap(),
            import_limit_kw: 100.0,
            meter_unit: vpp_battery_sim::fleet::METER_UNIT,
            guard_endurance_h: vpp_telemetry::gateway::default_guard_endurance_h(),
        });
    })
    .await;
    let fleet = Arc::clone(r.running.fleet());
    let site = Arc::clone(&fleet.sites()[0]);
    let assets: Vec<AssetPath> = site.devices().iter().map(|d| d.asset().clone()).collect();
    let stats = Arc::clone(r.gateway.stats());
    // Simulated time at 10× (the setpoints' 60 s validity is the devices' revert time).
    let ticker = {
        let fleet = Arc::clone(&fleet);
        tokio::spawn(async move {
            loop {
                fleet.advance(Duration::from_millis(200));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let mut connected = BTreeSet::new();
    while connected.len() < assets.len() {
        if let Message::Event(e) = crate::rig::next_msg(&mut r.events).await
            && e.kind == EventKind::Connect
        {
            connected.insert(e.asset.unwrap());
        }
    }
    // A light load, both batteries charging at 0.5 kW: 1.5 kW import, under the 2 kW cap.
    site.set_load(Kilowatts::new(0.5).unwrap());
    let cap = 2.0;
    for (k, a) in assets.iter().enumerate() {
        let m = capped(a, -0.5, cap, &format!("g-{k}"));
        r.bus.publish(m).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        (site.import().get() - 1.5).abs() < 0.05,
        "{}",
        site.import()
    );
    assert_eq!(
        stats
            .guard_writes
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );

    // A spike the plan did not know: the guard stops the charging and discharges.
    site.set_load(Kilowatts::new(6.0).unwrap());
    let engaged = until(&mut r.events, |m| match m {
        Message::Event(e) => match e.kind {
            EventKind::GuardEngaged { cap_kw, .. } => Some(cap_kw),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(engaged, cap);
    let mut held = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if site.import().get() <= cap + 0.05 {
            held = true;
            break;
        }
    }
    assert!(held, "import {} not brought under {cap} kW", site.import());
    for d in site.devices() {
        let b = d.lock();
        assert!(b.spec().allows(b.state().power), "within ratings");
        assert!(b.state().power.get() > 0.0, "discharging over its setpoint");
    }

    // The spike ends: back on the setpoints.
    site.set_load(Kilowatts::new(0.5).unwrap());
    until(&mut r.events, |m| match m {
        Message::Event(e) if matches!(e.kind, EventKind::GuardReleased { .. }) => Some(()),
        _ => None,
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for d in site.devices() {
        let p = d.lock().state().power.get();
        assert!((p + 0.5).abs() < 1e-6, "back on its setpoint: {p}");
    }
    assert!(
        stats
            .guard_writes
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 4
    );

    // A cap that is not a number >= 0 is refused, and nothing is written.
    let m = capped(&assets[0], 1.0, -1.0, "bad-cap");
    r.bus.publish(m).await.unwrap();
    let ack = until(&mut r.acks, |m| match m {
        Message::Ack(a) if a.correlation_id.as_str() == "bad-cap" => Some(a),
        _ => None,
    })
    .await;
    match ack.outcome {
        AckOutcome::Rejected { reason } => {
            assert!(reason.contains("site_import_cap_kw"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    ticker.abort();
}
