//! The telemetry pipeline over a real `nats-server` (spawned on a free port by each test):
//! telemetry from every device, setpoints to registers, bad input, streams and bucket, and a
//! server killed mid-run without losing what the gateway buffered.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use vpp_domain::AssetPath;
use vpp_telemetry::nats::{NatsBus, NatsSettings, TELEMETRY_STREAM};
use vpp_telemetry::wire::{self, AckOutcome, AssetKind, EventKind, Message, TelemetryMsg};
use vpp_tests::NatsServer;

use crate::rig::{next_msg, rig, rig_with, setpoint, until};

async fn bus(server: &NatsServer) -> Arc<NatsBus> {
    Arc::new(
        NatsBus::connect(&server.url(), NatsSettings::default())
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn streams_and_bucket_are_created_idempotently() {
    let server = NatsServer::start();
    let a = bus(&server).await;
    let b = bus(&server).await; // a second start-up updates, it does not fail
    b.ensure_streams().await.unwrap();
    let js = a.jetstream();
    for (name, subject) in [
        ("TELEMETRY", "vpp.v1.telemetry.>"),
        ("COMMANDS", "vpp.v1.setpoint.>"),
        ("EVENTS", "vpp.v1.event.>"),
    ] {
        let mut s = js.get_stream(name).await.unwrap();
        let info = s.info().await.unwrap();
        assert!(info.config.subjects.iter().any(|x| x == subject), "{name}");
        assert!(
            info.config.max_age > Duration::ZERO,
            "{name} has a retention limit"
        );
    }
    js.get_key_value("registry").await.unwrap();
}

#[tokio::test]
async fn a_subscriber_sees_telemetry_from_every_device_with_the_simulators_values() {
    let server = NatsServer::start();
    let mut r = rig(3, 4, bus(&server).await).await;
    let fleet = Arc::clone(r.running.fleet());
    let mut seen: BTreeMap<AssetPath, TelemetryMsg> = BTreeMap::new();
    while seen.len() < 12 {
        if let Message::Telemetry(t) = next_msg(&mut r.telemetry).await
            && t.kind == AssetKind::Battery
        {
            seen.insert(t.sample.asset().clone(), t);
        }
    }
    for (asset, t) in &seen {
        let b = fleet.device(asset).unwrap().lock();
        assert_eq!(
            t.sample.readings().power.map(|p| p.get()),
            Some(b.state().power.get())
        );
        let soc = t.sample.readings().soc.unwrap().get();
        assert!((soc - b.state().soc(b.spec()).get()).abs() <= 5e-5);
    }
}

#[tokio::test]
async fn a_setpoint_published_on_nats_changes_the_measured_power() {
    let server = NatsServer::start();
    let mut r = rig(1, 2, bus(&server).await).await;
    let fleet = Arc::clone(r.running.fleet());
    let asset = fleet.sites()[0].device(1).unwrap().asset().clone();
    until(&mut r.events, |m| match m {
        Message::Event(e) if e.asset.as_ref() == Some(&asset) && e.kind == EventKind::Connect => {
            Some(())
        }
        _ => None,
    })
    .await;
    r.bus
        .publish(setpoint(&asset, 2.0, "nats-1"))
        .await
        .unwrap();
    let ack = until(&mut r.acks, |m| match m {
        Message::Ack(a) if a.correlation_id.as_str() == "nats-1" => Some(a),
        _ => None,
    })
    .await;
    assert!(
        matches!(ack.outcome, AckOutcome::Written { clamped: false, .. }),
        "{ack:?}"
    );
    fleet.advance(Duration::from_secs(1));
    let power = fleet.device(&asset).unwrap().lock().state().power.get();
    assert_eq!(power, 2.0);
    // The next poll reports it.
    until(&mut r.telemetry, |m| match m {
        Message::Telemetry(t) if t.sample.asset() == &asset => {
            (t.sample.readings().power.map(|p| p.get()) == Some(2.0)).then_some(())
        }
        _ => None,
    })
    .await;
}

#[tokio::test]
async fn bad_setpoints_give_typed_events_and_never_reach_a_device() {
    let server = NatsServer::start();
    let nats = bus(&server).await;
    let raw = nats.client().clone();
    let mut r = rig(1, 1, nats).await;
    let fleet = Arc::clone(r.running.fleet());
    let asset = fleet.sites()[0].device(1).unwrap().asset().clone();
    until(&mut r.events, |m| match m {
        Message::Event(e) if e.kind == EventKind::Connect => Some(()),
        _ => None,
    })
    .await;
    let subject = vpp_telemetry::subjects::setpoint(&asset);

    // Malformed JSON.
    raw.publish(subject.clone(), "{not json".into())
        .await
        .unwrap();
    let reason = until(&mut r.events, |m| match m {
        Message::Event(e) => match e.kind {
            EventKind::SetpointRejected {
                reason, subject: s, ..
            } if s == subject => Some(reason),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert!(reason.contains("malformed setpoint"), "{reason}");

    // Valid JSON with an invalid value (SoC-like garbage in power, a NaN-ish string).
    let bad = r#"{"v":1,"asset":"X","power_kw":"lots","issued_at":"2026-01-01T00:00:00Z","valid_until":"2026-01-01T00:01:00Z","correlation_id":"c"}"#;
    raw.publish(subject.clone(), bad.into()).await.unwrap();
    until(&mut r.events, |m| match m {
        Message::Event(e) => matches!(e.kind, EventKind::SetpointRejected { .. }).then_some(()),
        _ => None,
    })
    .await;

    // Unsupported version.
    raw.publish(subject.clone(), r#"{"v":2}"#.into())
        .await
        .unwrap();
    let reason = until(&mut r.events, |m| match m {
        Message::Event(e) => match e.kind {
            EventKind::SetpointRejected { reason, .. } => Some(reason),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert!(reason.contains("version 2"), "{reason}");

    // Unknown asset of a known site.
    let ghost: AssetPath = format!("{}/ghost", fleet.sites()[0].name())
        .parse()
        .unwrap();
    r.bus.publish(setpoint(&ghost, 1.0, "ghost")).await.unwrap();
    let ack = until(&mut r.acks, |m| match m {
        Message::Ack(a) if a.correlation_id.as_str() == "ghost" => Some(a),
        _ => None,
    })
    .await;
    assert!(matches!(ack.outcome, AckOutcome::Rejected { .. }));

    // Out of range: clamped to the rating, never beyond.
    let max = fleet
        .device(&asset)
        .unwrap()
        .lock()
        .spec()
        .max_charge()
        .get();
    r.bus
        .publish(setpoint(&asset, -max - 100.0, "huge"))
        .await
        .unwrap();
    let ack = until(&mut r.acks, |m| match m {
        Message::Ack(a) if a.correlation_id.as_str() == "huge" => Some(a),
        _ => None,
    })
    .await;
    match ack.outcome {
        AckOutcome::Written {
            power_kw, clamped, ..
        } => {
            assert!(clamped);
            assert_eq!(power_kw.get(), -max);
        }
        other => panic!("{other:?}"),
    }
    // None of the bad ones wrote anything: the only write is the clamped one.
    let b = fleet.device(&asset).unwrap().lock();
    assert_eq!(b.controls().w_set, -(max * 1000.0) as i32);
    assert_eq!(
        r.gateway.stats().setpoints_written.load(Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn killing_nats_mid_run_loses_no_buffered_telemetry() {
    let mut server = NatsServer::start();
    let nats = bus(&server).await;
    let js = nats.jetstream().clone();
    let r = rig(2, 3, nats).await;
    let stats = Arc::clone(r.gateway.stats());

    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = stats.published.load(Ordering::Relaxed);
    assert!(before > 0);
    server.kill();
    // The gateway keeps polling and buffers.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let polls_during = stats.polls.load(Ordering::Relaxed);
    assert!(
        stats.buffered.load(Ordering::Relaxed) > 0,
        "samples are buffered during the outage"
    );
    server.restart();
    // Wait (bounded) for the buffer to drain.
    for _ in 0..200 {
        if stats.buffered.load(Ordering::Relaxed) == 0
            && stats.published.load(Ordering::Relaxed) > before
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Stop producing, let the last batch land.
    let produced_by = stats.polls.load(Ordering::Relaxed);
    assert!(produced_by > polls_during, "polling went on");
    drop(r);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);

    // Read the whole TELEMETRY stream back.
    let stream = js.get_stream(TELEMETRY_STREAM).await.unwrap();
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut per_asset: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut ids = HashSet::new();
    let mut duplicates = 0;
    loop {
        match tokio::time::timeout(Duration::from_millis(1000), messages.next()).await {
            Ok(Some(Ok(m))) => {
                let t: TelemetryMsg = wire::decode("telemetry", &m.payload).unwrap();
                let key = (t.sample.asset().to_string(), t.sample.seq());
                if ids.insert(key.clone()) {
                    per_asset.entry(key.0).or_default().push(key.1);
                } else {
                    duplicates += 1;
                }
            }
            Ok(other) => panic!("stream read failed: {other:?}"),
            Err(_) => break,
        }
    }
    // JetStream de-duplicated by Nats-Msg-Id; we count what might have slipped through anyway.
    assert_eq!(duplicates, 0, "duplicates in the stream");
    // Every sample the gateway took from a device or a site meter is in the stream.
    let stored: usize = per_asset.values().map(Vec::len).sum();
    let produced = (stats.polls.load(Ordering::Relaxed)
        + stats.meter_samples.load(Ordering::Relaxed)) as usize;
    assert_eq!(stored, produced, "stored {stored} of {produced} samples");
    // In order: per asset, measurement ids only grow along the stream.
    for (asset, seqs) in &per_asset {
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{asset} out of order");
    }
    // Six batteries and two site meters.
    assert_eq!(per_asset.len(), 8);
}

#[tokio::test]
async fn a_python_client_reads_telemetry_and_sends_a_setpoint_from_the_wire_doc() {
    let server = NatsServer::start();
    let mut r = rig(1, 1, bus(&server).await).await;
    let fleet = Arc::clone(r.running.fleet());
    let asset = fleet.sites()[0].device(1).unwrap().asset().clone();
    // The site imports, and its meter has counted some of it.
    let site = Arc::clone(&fleet.sites()[0]);
    site.set_load(vpp_domain::Kilowatts::new(2.0).unwrap());
    fleet.advance(Duration::from_secs(600));
    until(&mut r.events, |m| match m {
        Message::Event(e) if e.kind == EventKind::Connect => Some(()),
        _ => None,
    })
    .await;
    let script = vpp_tests::workspace_root().join("tests/python/nats_client.py");
    let out = tokio::process::Command::new(vpp_tests::python())
        .arg(script)
        .args([server.url(), asset.to_string(), "-1.25".into()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "nats-py client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["telemetry"]["v"], 1);
    assert_eq!(v["telemetry"]["asset"], asset.to_string());
    assert!(v["telemetry"]["readings"]["soc"].as_f64().is_some());
    assert_eq!(v["subject"], vpp_telemetry::subjects::telemetry(&asset));
    assert_eq!(v["ack"]["status"], "written", "{v}");
    assert_eq!(v["ack"]["power_kw"], -1.25);
    // The site meter's telemetry, as the client read it (and checked it) from the wire doc.
    let meter = wire::site_meter_asset(&site.name().parse().unwrap()).unwrap();
    assert_eq!(v["meter"]["kind"], "site_meter", "{v}");
    assert_eq!(v["meter"]["asset"], meter.to_string());
    assert_eq!(
        v["meter_subject"],
        vpp_telemetry::subjects::telemetry(&meter)
    );
    assert_eq!(v["meter"]["readings"]["power"], 2.0);
    assert!(v["meter"]["readings"]["soc"].is_null());
    let imported = v["meter"]["readings"]["energy_absorbed"].as_f64().unwrap();
    let truth = site.meter_energy().imported.get();
    assert!(
        imported <= truth && truth - imported < 0.01,
        "{imported} of {truth} kWh"
    );
    assert!(
        v["meter"]["readings"]["energy_injected"].is_null(),
        "nothing exported"
    );
    fleet.advance(Duration::from_secs(1));
    assert_eq!(
        fleet.device(&asset).unwrap().lock().state().power.get(),
        -1.25
    );
}

#[tokio::test]
async fn the_local_fallback_holds_the_site_import_while_nats_is_down() {
    let mut server = NatsServer::start();
    let limit = 4.0;
    let r = rig_with(1, 3, bus(&server).await, |gw, fleet| {
        gw.fallback.push(vpp_telemetry::gateway::SiteFallback {
            site: fleet.sites()[0].name().parse().unwrap(),
            import_limit_kw: limit,
            meter_unit: vpp_battery_sim::fleet::METER_UNIT,
            guard_endurance_h: vpp_telemetry::gateway::default_guard_endurance_h(),
        });
    })
    .await;
    let fleet = Arc::clone(r.running.fleet());
    let site = Arc::clone(&fleet.sites()[0]);
    site.set_load(vpp_domain::Kilowatts::new(12.0).unwrap());
    let stats = Arc::clone(r.gateway.stats());
    // Simulated time runs (20 ms of real time per simulated second).
    let ticker = {
        let fleet = Arc::clone(&fleet);
        tokio::spawn(async move {
            loop {
                fleet.advance(Duration::from_secs(1));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    // While the bus is up, the fallback stays out of the way.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stats.fallback_writes.load(Ordering::Relaxed), 0);
    assert!(site.import().get() > 11.9, "{}", site.import());

    server.kill();
    let mut held = false;
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if site.import().get() <= limit + 0.05 {
            held = true;
            break;
        }
    }
    assert!(
        held,
        "import {} not brought under {limit} kW",
        site.import()
    );
    // It stays there, and no battery goes beyond its rating.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            site.import().get() <= limit + 0.05,
            "import {}",
            site.import()
        );
        for d in site.devices() {
            let b = d.lock();
            assert!(b.spec().allows(b.state().power));
        }
    }
    assert!(stats.fallback_writes.load(Ordering::Relaxed) > 0);
    ticker.abort();
}

#[tokio::test]
async fn an_offline_device_gives_a_disconnect_event_on_nats_and_no_values() {
    let server = NatsServer::start();
    let mut r = rig(1, 2, bus(&server).await).await;
    let fleet = Arc::clone(r.running.fleet());
    let dead = fleet.sites()[0].device(2).unwrap().asset().clone();
    until(&mut r.telemetry, |m| match m {
        Message::Telemetry(t) if t.sample.asset() == &dead => Some(()),
        _ => None,
    })
    .await;
    fleet
        .device(&dead)
        .unwrap()
        .lock()
        .set_fault(vpp_battery_sim::FaultKind::Offline, Duration::ZERO);
    let reason = until(&mut r.events, |m| match m {
        Message::Event(e) if e.asset.as_ref() == Some(&dead) => match e.kind {
            EventKind::Disconnect { reason } => Some(reason),
            _ => None,
        },
        _ => None,
    })
    .await;
    assert!(reason.contains("no answer"), "{reason}");
    crate::rig::assert_no_telemetry_from(&mut r.telemetry, &dead, 10).await;
}

#[tokio::test]
async fn the_registry_is_kept_in_the_kv_bucket_across_restarts() {
    use vpp_api::fleet::{FleetService, RegistryStore};
    let server = NatsServer::start();
    let nats = bus(&server).await;
    let kv = || async {
        RegistryStore::Kv(Box::new(
            nats.jetstream().get_key_value("registry").await.unwrap(),
        ))
    };
    let clock = Arc::new(vpp_telemetry::gateway::SystemClock);
    // The control plane first, so that it sees the registrations.
    let first = Arc::new(
        FleetService::with_store(clock.clone(), Default::default(), kv().await)
            .await
            .unwrap(),
    )
    .follow(nats.as_ref())
    .await
    .unwrap();
    let mut r = rig(1, 2, Arc::clone(&nats) as _).await;
    // Both registrations reach the service over NATS.
    let mut seen = 0;
    while seen < 2 {
        if let Message::Event(e) = next_msg(&mut r.events).await
            && matches!(e.kind, EventKind::Registration { .. })
        {
            seen += 1;
        }
    }
    for _ in 0..100 {
        if first.registry_as_of(chrono::Utc::now()).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.save_registry().await;

    // A new control plane loads the same registry from the bucket.
    let second = FleetService::with_store(clock, Default::default(), kv().await)
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let a = first.registry_as_of(now);
    let b = second.registry_as_of(now);
    assert_eq!(a.len(), 2);
    assert_eq!(a, b);
    assert!(
        b.iter()
            .all(|(_, serial)| serial.as_deref().is_some_and(|s| s.starts_with("SIM")))
    );
}
