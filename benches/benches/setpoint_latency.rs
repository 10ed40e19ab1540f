//! Setpoint latency at 1,000 devices: from publishing a setpoint on the bus to the gateway's
//! acknowledgement, which it sends after the SunSpec 704 write has completed (so this is an
//! upper bound of publish → register write). Prints p50, p99 and max for the in-process bus
//! and for NATS. Goal (issue 3): p99 at most 20 ms.
//!
//! Run: `cargo bench -p vpp-benches --bench setpoint_latency`. Needs `nats-server` (installed
//! into `.venv` by `./scripts/test.sh`).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use vpp_battery_sim::fleet::{ClockConfig, Fleet, FleetConfig, RunningFleet};
use vpp_benches::NatsServer;
use vpp_domain::{CorrelationId, Kilowatts, Setpoint};
use vpp_telemetry::bus::{Bus, Delivery, Topic};
use vpp_telemetry::gateway::{Gateway, GatewayConfig, SystemClock};
use vpp_telemetry::inproc::InProcessBus;
use vpp_telemetry::nats::{NatsBus, NatsSettings};
use vpp_telemetry::wire::{Message, SetpointMsg, WIRE_VERSION};

const SITES: usize = 100;
const PER_SITE: u8 = 10;
const SAMPLES: usize = 2000;

async fn measure(name: &str, bus: Arc<dyn Bus>) {
    let fleet =
        Arc::new(Fleet::build(&FleetConfig::new(SITES, PER_SITE, Utc::now())).expect("fleet"));
    let clock = ClockConfig {
        speed: 1.0,
        step: Duration::from_secs(1),
    };
    let running = RunningFleet::start(
        Arc::clone(&fleet),
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        0,
        clock,
    )
    .await
    .expect("fleet starts");
    let devices = vpp_api::gateway_devices(&running);
    let assets: Vec<_> = devices.iter().map(|d| d.asset.clone()).collect();
    let mut acks = bus.subscribe(Topic::Acks).await.expect("subscribe");
    let gateway = Gateway::spawn(
        GatewayConfig::new(devices),
        Arc::clone(&bus),
        Arc::new(SystemClock),
    )
    .await
    .expect("gateway");
    // Let every device be discovered and polled once.
    let stats = Arc::clone(gateway.stats());
    while stats.polls.load(std::sync::atomic::Ordering::Relaxed) < assets.len() as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut sent: HashMap<String, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let asset = &assets[(i * 7919) % assets.len()];
        let id = format!("lat-{i}");
        let now = Utc::now();
        let sp = Setpoint::new(
            asset.clone(),
            Kilowatts::new(if i % 2 == 0 { 1.0 } else { -1.0 }).expect("finite"),
            now,
            now + TimeDelta::seconds(60),
            CorrelationId::new(id.clone()).expect("valid id"),
            None,
        )
        .expect("valid setpoint");
        sent.insert(id.clone(), Instant::now());
        bus.publish(Message::Setpoint(SetpointMsg {
            v: WIRE_VERSION,
            setpoint: sp,
            site_import_cap_kw: None,
        }))
        .await
        .expect("publish");
        // One at a time, paced (5 ms apart) so each measures latency, not queueing.
        loop {
            match tokio::time::timeout(Duration::from_secs(5), acks.next()).await {
                Ok(Some(Delivery::Message(Message::Ack(a)))) => {
                    if let Some(t0) = sent.remove(a.correlation_id.as_str()) {
                        latencies.push(t0.elapsed());
                        break;
                    }
                }
                Ok(Some(_)) => {}
                other => panic!("no ack: {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "setpoint publish -> ack (after the register write), {name}, {} devices, {SAMPLES} setpoints: p50 {:.2?}  p99 {:.2?}  max {:.2?}",
        assets.len(),
        pct(0.5),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
    drop(gateway);
    drop(running);
}

fn main() {
    // Only `cargo bench` (which passes `--bench`) measures; test runners that execute bench
    // targets (`cargo test --all-targets`, nextest's `--list`) get a no-op.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        measure("in-process bus", Arc::new(InProcessBus::default())).await;
        let server = NatsServer::start();
        let nats = NatsBus::connect(&server.url, NatsSettings::default())
            .await
            .expect("nats bus");
        measure("NATS (JetStream publish, core subscribe)", Arc::new(nats)).await;
        drop(server);
    });
}
